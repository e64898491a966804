/* tests/test-image.c: image codecs: round trips in every format and depth,
 * DCT-scaled JPEG decoding (cxrgen's own 1/8 decoder against libjpeg's on
 * every kind of file it writes, whole and damaged), and an error (never a
 * crash) for every kind of broken file; crop and resize properties.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "test-common.h"
#include "io/cxr-jpeg-private.h"

static CxrImage *
gradient (guint w, guint h, guint bits)
{
  CxrImage *image = cxr_image_new (w, h, bits);
  gfloat *p = cxr_image_get_pixels (image);
  guint max = bits == 16 ? 65535 : 255;

  for (guint y = 0; y < h; y++)
    for (guint x = 0; x < w; x++)
      p[y * w + x] = (gfloat) (((x * 37 + y * 101) * 97) % (max + 1)) / max;
  return image;
}

static void
round_trip (CxrImageFormat format, const gchar *name, guint bits, gdouble tolerance)
{
  g_autofree gchar *dir = test_mkdtemp ();
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  g_autoptr (CxrImage) image = gradient (37, 23, bits);
  g_autoptr (CxrImage) back = NULL;

  if (format == CXR_IMAGE_FORMAT_JPEG)
    {
      /* JPEG is lossy: a smooth image, as radiographs are */
      for (guint y = 0; y < 23; y++)
        for (guint x = 0; x < 37; x++)
          cxr_image_get_pixels (image)[y * 37 + x] = (gfloat) (x + 2 * y) / (36 + 44);
    }
  g_autoptr (GError) error = NULL;
  gdouble worst = 0;

  g_assert_true (cxr_image_save (image, path, format, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (test_count_files (dir), ==, 1);
  back = cxr_image_load (path, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (cxr_image_get_width (back), ==, 37);
  g_assert_cmpuint (cxr_image_get_height (back), ==, 23);
  g_assert_cmpuint (cxr_image_get_bit_depth (back), ==, format == CXR_IMAGE_FORMAT_JPEG ? 8 : bits);
  g_assert_cmpstr (cxr_image_get_path (back), ==, path);
  for (guint i = 0; i < 37 * 23; i++)
    worst = MAX (worst, fabs (cxr_image_get_pixels (back)[i] - cxr_image_get_pixels (image)[i]));
  if (worst > tolerance)
    g_error ("%s %u-bit round trip: error %g > %g", name, bits, worst, tolerance);
  test_rmdir (dir);
}

static void
test_round_trips (void)
{
  round_trip (CXR_IMAGE_FORMAT_PNG, "a.png", 8, 0);
  round_trip (CXR_IMAGE_FORMAT_PNG, "a.png", 16, 0);
  round_trip (CXR_IMAGE_FORMAT_TIFF, "a.tif", 8, 0);
  round_trip (CXR_IMAGE_FORMAT_TIFF, "a.tif", 16, 0);
  round_trip (CXR_IMAGE_FORMAT_JPEG, "a.jpg", 8, 3.0 / 255);
}

static void
test_jpeg_dct_scaling (void)
{
  g_autofree gchar *dir = test_mkdtemp ();
  g_autofree gchar *path = g_build_filename (dir, "big.jpg", NULL);
  g_autoptr (CxrImage) image = cxr_image_new (1000, 800, 8);
  g_autoptr (CxrImage) full = NULL, half = NULL, eighth = NULL;

  for (guint i = 0; i < 1000 * 800; i++)
    cxr_image_get_pixels (image)[i] = (gfloat) (i % 1000) / 1000.0f;
  g_assert_true (cxr_image_save (image, path, CXR_IMAGE_FORMAT_JPEG, NULL));
  full = cxr_image_load (path, 0, NULL);
  half = cxr_image_load (path, 300, NULL);   /* 1/2: 500x400 >= 300 */
  eighth = cxr_image_load (path, 10, NULL);  /* 1/8: 125x100 */
  g_assert_cmpuint (cxr_image_get_width (full), ==, 1000);
  g_assert_cmpuint (cxr_image_get_width (half), ==, 500);
  g_assert_cmpuint (cxr_image_get_height (half), ==, 400);
  g_assert_cmpuint (cxr_image_get_width (eighth), ==, 125);
  test_rmdir (dir);
}

/* ------------------------------------------------------------------
 * The 1/8 decoder (core/io/cxr-jpeg-dc.c) against libjpeg: files that
 * libjpeg writes in every form it takes (and some it leaves to libjpeg),
 * whole, cut and with bytes flipped, decode to the same samples, or fail
 * as libjpeg does. */

typedef struct {
  struct jpeg_error_mgr base;
  jmp_buf jump;
} Failure;

static void
on_failure (j_common_ptr cinfo)
{
  longjmp (((Failure *) cinfo->err)->jump, 1);
}

static void
on_message (j_common_ptr cinfo, int level)
{
  /* cxrgen's rule: a file that ends early is an error */
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF)
    on_failure (cinfo);
}

static void
quiet (j_common_ptr cinfo, int level)
{
}

typedef enum { PLAIN, OPTIMISED, RESTARTS, COARSE, PROGRESSIVE, COLOUR } JpegKind;

/* A noisy radiograph-like image of w x h in the form named, as bytes. */
static guint8 *
write_jpeg (JpegKind kind, guint w, guint h, guint seed, gsize *length)
{
  struct jpeg_compress_struct cinfo;
  struct jpeg_error_mgr err;
  unsigned char *out = NULL;
  unsigned long size = 0;
  guint components = kind == COLOUR ? 3 : 1;
  g_autofree guint8 *row = g_malloc ((gsize) w * components);
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  guint8 *copy;

  cinfo.err = jpeg_std_error (&err);
  err.emit_message = quiet;  /* COARSE's "too coarse for baseline" */
  jpeg_create_compress (&cinfo);
  jpeg_mem_dest (&cinfo, &out, &size);
  cinfo.image_width = w;
  cinfo.image_height = h;
  cinfo.input_components = (int) components;
  cinfo.in_color_space = kind == COLOUR ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults (&cinfo);
  /* COARSE: quanta past 255, so 16-bit tables and an extended frame */
  jpeg_set_quality (&cinfo, kind == COARSE ? 1 : 95, kind != COARSE);
  if (kind == OPTIMISED)
    cinfo.optimize_coding = TRUE;  /* the file's own tables, long codes */
  if (kind == RESTARTS)
    cinfo.restart_interval = 7;
  if (kind == PROGRESSIVE)
    jpeg_simple_progression (&cinfo);
  jpeg_start_compress (&cinfo, TRUE);
  while (cinfo.next_scanline < h)
    {
      JSAMPROW rows[1] = { row };
      guint y = cinfo.next_scanline;
      for (guint x = 0; x < w * components; x++)
        {
          /* a body, dark corners and a bright band, and noise; the band's
           * edge at 255 and 0 drives the DC to its range limits */
          gdouble v = 128 + 100 * sin (x * 0.02 / components) * cos (y * 0.03) + g_rand_double_range (rand, -30, 30);
          if (y > h / 3 && y < h / 3 + 9)
            v = x % 16 < 8 ? 255 : 0;
          row[x] = (guint8) CLAMP (v, 0, 255);
        }
      jpeg_write_scanlines (&cinfo, rows, 1);
    }
  jpeg_finish_compress (&cinfo);
  jpeg_destroy_compress (&cinfo);
  copy = g_memdup2 (out, size);
  free (out);
  *length = size;
  return copy;
}

/* libjpeg's decode with cxrgen's rules (its DCT scaling for @min_size,
 * up to 1/8; an early end is an error), as values in [0, 1]; NULL where it
 * fails. */
static gfloat *
libjpeg_scaled (const guint8 *data, gsize length, guint min_size, guint *w, guint *h)
{
  struct jpeg_decompress_struct cinfo;
  Failure err;
  gfloat *volatile pixels = NULL;
  guint8 *volatile row = NULL;

  memset (&cinfo, 0, sizeof cinfo);
  cinfo.err = jpeg_std_error (&err.base);
  err.base.error_exit = on_failure;
  err.base.emit_message = on_message;
  if (setjmp (err.jump))
    {
      g_free (pixels);
      g_free (row);
      jpeg_destroy_decompress (&cinfo);
      return NULL;
    }
  jpeg_create_decompress (&cinfo);
  jpeg_mem_src (&cinfo, data, (unsigned long) length);
  jpeg_read_header (&cinfo, TRUE);
  if (cinfo.image_width > CXR_IMAGE_MAX_SIDE || cinfo.image_height > CXR_IMAGE_MAX_SIDE
      || (guint64) cinfo.image_width * cinfo.image_height > CXR_IMAGE_MAX_PIXELS)
    {
      jpeg_destroy_decompress (&cinfo);
      return NULL;
    }
  cinfo.out_color_space = JCS_GRAYSCALE;
  cinfo.scale_num = 1;
  cinfo.scale_denom = 1;
  while (cinfo.scale_denom < 8 && MIN (cinfo.image_width, cinfo.image_height) / (cinfo.scale_denom * 2) >= min_size)
    cinfo.scale_denom *= 2;
  jpeg_start_decompress (&cinfo);
  *w = cinfo.output_width;
  *h = cinfo.output_height;
  pixels = g_new (gfloat, (gsize) *w * *h);
  row = g_malloc (*w);
  while (cinfo.output_scanline < cinfo.output_height)
    {
      JSAMPROW rows[1] = { (JSAMPROW) row };
      guint y = cinfo.output_scanline;
      jpeg_read_scanlines (&cinfo, rows, 1);
      for (guint x = 0; x < *w; x++)
        pixels[(gsize) y * *w + x] = row[x] / 255.0f;
    }
  jpeg_finish_decompress (&cinfo);
  jpeg_destroy_decompress (&cinfo);
  g_free (row);
  return pixels;
}

/* cxrgen's decode of @data at 1/8 matches libjpeg's: the same samples, or
 * an error where libjpeg fails. Returns whether cxrgen's own decoder took
 * the file (rather than leaving it to libjpeg). */
static gboolean
assert_same_eighth (const guint8 *data, gsize length, guint min_size)
{
  guint own_w, own_h;
  g_autofree guint8 *own = cxr_jpeg_decode_dc (data, length, min_size, &own_w, &own_h);
  g_autoptr (GBytes) bytes = g_bytes_new (data, length);
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrImage) ours = cxr_image_load_from_bytes (bytes, "x.jpg", min_size, &error);
  guint w = 0, h = 0;
  g_autofree gfloat *theirs = NULL;

  if (cxr_image_format_from_data (data, length) != CXR_IMAGE_FORMAT_JPEG)
    {
      /* no longer a JPEG file by its first bytes: not one cxrgen reads */
      g_assert_null (ours);
      g_assert_nonnull (error);
      return own != NULL;
    }
  theirs = libjpeg_scaled (data, length, min_size, &w, &h);

  if (theirs == NULL)
    {
      g_assert_null (ours);
      g_assert_true (g_str_has_prefix (error->message, "x.jpg: "));
      g_assert_null (own);
      return FALSE;
    }
  g_assert_no_error (error);
  g_assert_cmpuint (cxr_image_get_width (ours), ==, w);
  g_assert_cmpuint (cxr_image_get_height (ours), ==, h);
  g_assert_cmpmem (cxr_image_get_pixels (ours), (gsize) w * h * sizeof (gfloat), theirs, (gsize) w * h * sizeof (gfloat));
  return own != NULL;
}

static void
test_jpeg_eighth (void)
{
  const JpegKind kinds[] = { PLAIN, OPTIMISED, RESTARTS, COARSE, PROGRESSIVE, COLOUR };

  for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      /* sides that are not whole blocks, and the smallest 1/8 allows */
      guint w = 203 + 8 * k, h = 171, taken = 0;
      gboolean own = kinds[k] != PROGRESSIVE && kinds[k] != COLOUR;
      gsize length;
      g_autofree guint8 *data = write_jpeg (kinds[k], w, h, 7 + k, &length);

      g_assert_true (assert_same_eighth (data, length, 21) == own);
      /* a short side under 8 x min_size is not for 1/8 */
      {
        guint ow, oh;
        g_assert_null (cxr_jpeg_decode_dc (data, length, 22, &ow, &oh));
      }
      /* cut anywhere, every byte of the headers and the start of the data
       * flipped, and bytes flipped through the data */
      for (gsize cut = 1; cut < length; cut += 1 + length / 97)
        assert_same_eighth (data, cut, 21);
      for (gsize at = 0; at < length; at += at < 700 ? 1 : 1 + length / 211)
        for (guint j = 0; j < (at < 700 ? 1 : 2); j++)
          {
            g_autofree guint8 *copy = g_memdup2 (data, length);
            copy[at] ^= j == 0 ? 0xA5 : 0x01;
            taken += assert_same_eighth (copy, length, 21);
          }
      /* most flips in the data still decode, and through cxrgen's decoder */
      if (own)
        g_assert_cmpuint (taken, >, 100);
    }
  /* A Huffman table with more codes of a length than the length holds
   * (three of one bit, the count taken from the longest codes, so the
   * segment still adds up): libjpeg's error, and no write past the table
   * (ASan and UBSan watch in CI) */
  {
    gsize length;
    g_autofree guint8 *data = write_jpeg (PLAIN, 64, 64, 3, &length);
    guint8 *counts = NULL;

    for (gsize at = 2; at + 21 < length && counts == NULL; at++)
      if (data[at] == 0xFF && data[at + 1] == 0xC4)
        counts = data + at + 5;  /* after the marker, the length and the class/id byte */
    g_assert_nonnull (counts);
    for (guint l = 16, moved = 0; l > 1 && moved < 3; l--)
      while (counts[l - 1] > 0 && moved < 3)
        {
          counts[l - 1]--;
          counts[0]++;
          moved++;
        }
    g_assert_cmpuint (counts[0], >=, 3);
    g_assert_false (assert_same_eighth (data, length, 8));
  }
}

static void
test_broken_files (void)
{
  g_autofree gchar *dir = test_mkdtemp ();
  const CxrImageFormat formats[] = { CXR_IMAGE_FORMAT_PNG, CXR_IMAGE_FORMAT_JPEG, CXR_IMAGE_FORMAT_TIFF };
  const gchar *names[] = { "x.png", "x.jpg", "x.tif" };

  for (guint f = 0; f < G_N_ELEMENTS (formats); f++)
    {
      g_autofree gchar *path = g_build_filename (dir, names[f], NULL);
      g_autoptr (CxrImage) image = gradient (64, 48, 8);
      g_autofree gchar *data = NULL;
      gsize length = 0;

      g_assert_true (cxr_image_save (image, path, formats[f], NULL));
      g_assert_true (g_file_get_contents (path, &data, &length, NULL));
      /* truncated at many points, and with bytes overwritten */
      for (gsize cut = 1; cut < length; cut += MAX (1, length / 40))
        {
          g_autoptr (GBytes) bytes = g_bytes_new (data, cut);
          g_autoptr (GError) error = NULL;
          g_autoptr (CxrImage) decoded = cxr_image_load_from_bytes (bytes, names[f], 0, &error);
          /* a truncated JPEG is an error; PNG and TIFF readers may decode
           * what they have: a decode is allowed, a crash is not */
          if (decoded == NULL)
            {
              g_assert_nonnull (error);
              g_assert_true (g_str_has_prefix (error->message, names[f]));
            }
        }
      for (guint k = 0; k < 50; k++)
        {
          g_autofree gchar *copy = g_memdup2 (data, length);
          g_autoptr (GBytes) bytes = NULL;
          g_autoptr (GError) error = NULL;
          g_autoptr (CxrImage) decoded = NULL;
          for (guint j = 0; j < 8; j++)
            copy[(k * 7919 + j * 104729) % length] ^= (gchar) (0x5a + j);
          bytes = g_bytes_new_take (g_steal_pointer (&copy), length);
          decoded = cxr_image_load_from_bytes (bytes, names[f], 0, &error);
          g_assert_true ((decoded == NULL) == (error != NULL));
        }
    }
  /* DICOM (pydicom wrote it): 6x8, 12 bits stored, MONOCHROME1, stored
   * value 80 i, rescale 2 and -100, window 2000/3000 */
  {
    g_autofree gchar *path = test_src_path ("tests/data/dicom/mono1-12bit.dcm");
    g_autoptr (GError) error = NULL;
    g_autoptr (CxrImage) image = cxr_image_load (path, 0, &error);
    g_autofree gchar *data = NULL;
    gsize length = 0;
    const gfloat *p;

    g_assert_no_error (error);
    g_assert_cmpuint (cxr_image_get_width (image), ==, 6);
    g_assert_cmpuint (cxr_image_get_height (image), ==, 8);
    g_assert_cmpuint (cxr_image_get_bit_depth (image), ==, 16);
    p = cxr_image_get_pixels (image);
    for (guint i = 0; i < 48; i++)
      {
        gdouble x = 2.0 * 80 * i - 100, y = CLAMP ((x - 1999.5) / 2999.0 + 0.5, 0.0, 1.0);
        g_assert_cmpfloat_with_epsilon (p[i], 1.0 - y, 1e-3);
      }
    g_assert_true (g_file_get_contents (path, &data, &length, NULL));
    for (gsize cut = 1; cut < length; cut += 7)
      {
        g_autoptr (GBytes) bytes = g_bytes_new (data, cut);
        g_autoptr (CxrImage) decoded = cxr_image_load_from_bytes (bytes, "x.dcm", 0, &error);
        g_assert_true ((decoded == NULL) == (error != NULL));
        if (decoded == NULL)
          g_assert_true (g_str_has_prefix (error->message, "x.dcm"));
        g_clear_error (&error);
      }
    /* an element that claims more bytes than the file has (DCMTK would
     * allocate them first): an error that names it */
    gsize pixel_data = 0;
    for (gsize at = 132; at + 12 <= length && pixel_data == 0; at++)
      if (memcmp (data + at, "\xe0\x7f\x10\x00OW", 6) == 0)
        {
          pixel_data = at;
          g_autofree gchar *copy = g_memdup2 (data, length);
          g_autoptr (GBytes) bytes = NULL;
          g_autoptr (CxrImage) decoded = NULL;

          memcpy (copy + at + 8, "\xf0\xff\xff\x7f", 4);  /* 2 GiB of pixel data */
          bytes = g_bytes_new_take (g_steal_pointer (&copy), length);
          decoded = cxr_image_load_from_bytes (bytes, "x.dcm", 0, &error);
          g_assert_null (decoded);
          g_assert_nonnull (strstr (error->message, "x.dcm: not a readable DICOM file: element (7FE0,0010) at byte"));
          g_assert_nonnull (strstr (error->message, "claims 2147483632 bytes"));
          g_clear_error (&error);
        }
    g_assert_cmpuint (pixel_data, >, 0);
    for (guint k = 0; k < 200; k++)
      {
        g_autofree gchar *copy = g_memdup2 (data, length);
        g_autoptr (GBytes) bytes = NULL;
        g_autoptr (CxrImage) decoded = NULL;
        for (guint j = 0; j < 4; j++)
          copy[132 + (k * 7919 + j * 104729) % (length - 132)] ^= (gchar) (0x5a + j);
        bytes = g_bytes_new_take (g_steal_pointer (&copy), length);
        decoded = cxr_image_load_from_bytes (bytes, "x.dcm", 0, &error);
        g_assert_true ((decoded == NULL) == (error != NULL));
        g_clear_error (&error);
      }
  }
  {
    g_autoptr (GBytes) bytes = g_bytes_new_static ("GIF89a......", 12);
    g_autoptr (GError) error = NULL;
    g_assert_null (cxr_image_load_from_bytes (bytes, "x.gif", 0, &error));
    g_assert_error (error, CXR_IO_ERROR, CXR_IO_ERROR_UNSUPPORTED);
    g_assert_cmpstr (error->message, ==, "x.gif: not a PNG, JPEG, TIFF or DICOM file");
    g_clear_error (&error);
    g_assert_null (cxr_image_load ("/nonexistent/x.png", 0, &error));
    g_assert_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED);
  }
  test_rmdir (dir);
}

static void
test_crop_and_resize (void)
{
  g_autoptr (CxrImage) image = gradient (10, 8, 8);
  g_autoptr (CxrImage) crop = cxr_image_center_crop (image, 4, 4);
  g_autoptr (CxrImage) flat = cxr_image_new (300, 200, 8);
  g_autoptr (CxrImage) small = NULL, same = NULL;
  g_autoptr (CxrTensor) t = NULL;

  /* torchvision: top = round((8 - 4) / 2) = 2, left = round((10 - 4) / 2) = 3 */
  g_assert_cmpfloat (cxr_image_get_pixels (crop)[0], ==, cxr_image_get_pixels (image)[2 * 10 + 3]);
  for (guint i = 0; i < 300 * 200; i++)
    cxr_image_get_pixels (flat)[i] = 64.0f / 255;
  small = cxr_image_resize (flat, 37, 61);
  for (guint i = 0; i < 37 * 61; i++)
    g_assert_cmpfloat (fabsf (cxr_image_get_pixels (small)[i] - 64.0f / 255), <, 1e-6f);
  same = cxr_image_resize (image, 10, 8);
  g_assert_cmpmem (cxr_image_get_pixels (same), 80 * sizeof (gfloat), cxr_image_get_pixels (image), 80 * sizeof (gfloat));
  t = cxr_image_preprocess (flat, 16, 3);
  g_assert_cmpint (cxr_tensor_get_dim (t, 0), ==, 3);
  g_assert_cmpfloat (fabsf (((gfloat *) cxr_tensor_get_data (t))[3 * 256 - 1] - (2 * 64.0f / 255 - 1)), <, 1e-6f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/image/round-trips", test_round_trips);
  g_test_add_func ("/image/jpeg-dct-scaling", test_jpeg_dct_scaling);
  g_test_add_func ("/image/jpeg-eighth", test_jpeg_eighth);
  g_test_add_func ("/image/broken-files", test_broken_files);
  g_test_add_func ("/image/crop-and-resize", test_crop_and_resize);
  return g_test_run ();
}
