/* core/io/cxr-jpeg-private.h: the one-eighth-scale JPEG decoder
 * (cxr-jpeg-dc.c) that cxr-image.c tries before libjpeg.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The largest image any decoder of cxr-image.c takes: pixels a side and
 * pixels in all. */
#define CXR_IMAGE_MAX_SIDE 32768
#define CXR_IMAGE_MAX_PIXELS (1u << 26)

/*
 * cxr_jpeg_decode_dc:
 * @data, @length: a whole JPEG file
 * @min_size: the short side the caller needs: a file whose short side
 *   divided by 8 is less is not decoded
 * @width, @height: (out): the size of the image returned, the file's
 *   width and height divided by 8, rounded up
 *
 * Decodes a JPEG file at one eighth of its size, the DC coefficient of
 * each 8x8 block being the block's mean: the same bytes libjpeg's DCT
 * scaling by 1/8 gives (jpeg_idct_1x1, its range limiting included), from
 * an entropy decoder that only skips the AC coefficients it does not need,
 * a table lookup per coefficient.
 *
 * It takes the common case of a chest X-ray archive and nothing else: a
 * baseline or extended sequential Huffman file (SOF0/SOF1) of 8-bit
 * samples with one component, one scan, restart intervals or none, no
 * corrupt data, within CXR_IMAGE_MAX_SIDE and CXR_IMAGE_MAX_PIXELS. For anything else (progressive, arithmetic, colour, 12-bit,
 * a bad Huffman code, a missing marker, data that ends early) it returns
 * %NULL and decodes nothing more; the caller then asks libjpeg, which says
 * what is wrong with the file, so errors and warnings stay libjpeg's.
 *
 * Returns: (transfer full) (nullable): @width x @height samples, row by
 *   row, or %NULL when the file is not one it takes
 */
guint8 *cxr_jpeg_decode_dc (const guint8 *data, gsize length, guint min_size, guint *width, guint *height);

G_END_DECLS
