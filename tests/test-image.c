/* tests/test-image.c: image codecs: round trips in every format and depth,
 * DCT-scaled JPEG decoding, and an error (never a crash) for every kind of
 * broken file; crop and resize properties.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "test-common.h"

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
  g_test_add_func ("/image/broken-files", test_broken_files);
  g_test_add_func ("/image/crop-and-resize", test_crop_and_resize);
  return g_test_run ();
}
