/* core/io/cxr-dicom-private.h: the C face of the DCMTK shim (cxr-dicom.cc).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * cxr_dicom_decode:
 * @data, @length: a whole DICOM Part 10 file
 * @origin: its name, for messages
 * @window_center, @window_width: a VOI window in modality units (after
 *   rescale) to use instead of the file's, or a width <= 0 for the file's
 * @width, @height: (out): the image's size
 * @bits: (out): 8 or 16, the precision of @pixels' values
 * @error: return location for a #GError
 *
 * Decodes the first frame of a monochrome DICOM image as it is meant to be
 * seen: the modality LUT (rescale slope and intercept), then the first VOI
 * window (centre and width) or VOI LUT of the file, or the full range of
 * the values when it has neither, and MONOCHROME1 inverted, so that 1 is
 * white. Uncompressed, RLE, JPEG (baseline, extended, lossless) and
 * JPEG-LS transfer syntaxes decode.
 *
 * Returns: (transfer full): width * height values in [0, 1], or %NULL
 *   with @error set (CXR_IO_ERROR_PARSE or _UNSUPPORTED, naming @origin)
 */
gfloat *cxr_dicom_decode (const guint8 *data, gsize length, const gchar *origin, gdouble window_center,
                          gdouble window_width, guint *width, guint *height, guint *bits, GError **error);

/*
 * cxr_dicom_save:
 * @path: the file to write (the caller makes it atomic)
 * @pixels: width * height values in [0, 1]
 * @bits: 8 or 16
 *
 * Writes a DICOM secondary capture of a synthetic image: MONOCHROME2,
 * explicit VR little endian, new UIDs under 2.25, ConversionType SYN and
 * ImageType DERIVED\SECONDARY, no patient data, the full range as window.
 */
gboolean cxr_dicom_save (const gchar *path, const gfloat *pixels, guint width, guint height, guint bits,
                         GError **error);

/*
 * cxr_dicom_save_report:
 * @path: the file to write (the caller makes it atomic)
 * @text: the report
 * @image_path: (nullable): a DICOM image the report is of
 *
 * Writes a DICOM Basic Text SR of a synthetic report: a container
 * "Diagnostic imaging report" (LOINC 18748-4) holding the text as a
 * "Finding" and, with @image_path, an IMAGE item that references it, in
 * the image's study; new UIDs under 2.25, no patient data.
 */
gboolean cxr_dicom_save_report (const gchar *path, const gchar *text, const gchar *image_path, GError **error);

G_END_DECLS
