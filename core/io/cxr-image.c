/* cxr-image.c: grayscale radiographs: decoding (PNG, JPEG, TIFF),
 * encoding, and the reference preprocessing.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "cxr-dicom-private.h"
#include "cxr-jpeg-private.h"
#include <png.h>
#include <tiffio.h>

#include "cxr.h"

/**
 * CxrImage:
 *
 * A grayscale image as radiographs are: width x height pixels, stored as
 * floats in [0, 1] (the file's value over its largest value, 255 or
 * 65535), with the bit depth and the file it came from.
 *
 * cxr_image_load() reads PNG (8 and 16 bits, palette, gray, RGB), JPEG
 * (libjpeg-turbo, decoded at 1/2, 1/4 or 1/8 size by the DCT when the
 * caller needs fewer pixels) and TIFF (libtiff: 8 and 16 bits, strips and
 * tiles). Colour converts to gray with the ITU-R 601 weights PIL uses.
 * Every failure, including a truncated or corrupt file, is an error naming
 * the file; none crashes.
 */

struct _CxrImage {
  GObject parent_instance;
  guint width, height, bit_depth;
  gfloat *pixels;
  gchar *path;
};

G_DEFINE_FINAL_TYPE (CxrImage, cxr_image, G_TYPE_OBJECT)

static void
cxr_image_finalize (GObject *object)
{
  CxrImage *self = CXR_IMAGE (object);
  g_free (self->pixels);
  g_free (self->path);
  G_OBJECT_CLASS (cxr_image_parent_class)->finalize (object);
}

static void
cxr_image_class_init (CxrImageClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cxr_image_finalize;
}

static void
cxr_image_init (CxrImage *self)
{
}

/**
 * cxr_image_new:
 * @width: the width, at least 1
 * @height: the height, at least 1
 * @bit_depth: 8 or 16: the depth it is saved with
 *
 * Returns: (transfer full): a black image
 */
CxrImage *
cxr_image_new (guint width, guint height, guint bit_depth)
{
  CxrImage *self;

  g_return_val_if_fail (width > 0 && height > 0 && (bit_depth == 8 || bit_depth == 16), NULL);
  g_return_val_if_fail ((guint64) width * height <= G_MAXUINT32, NULL);
  self = g_object_new (CXR_TYPE_IMAGE, NULL);
  self->width = width;
  self->height = height;
  self->bit_depth = bit_depth;
  self->pixels = g_new0 (gfloat, (gsize) width * height);
  return self;
}

static gboolean
check_size (guint64 width, guint64 height, const gchar *origin, GError **error)
{
  if (width == 0 || height == 0 || width > CXR_IMAGE_MAX_SIDE || height > CXR_IMAGE_MAX_SIDE
      || width * height > CXR_IMAGE_MAX_PIXELS)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_UNSUPPORTED,
                   "%s: %" G_GUINT64_FORMAT "x%" G_GUINT64_FORMAT " pixels: not a size cxrgen reads (1 to 32768 a side, "
                   "at most 67 million pixels)", origin, width, height);
      return FALSE;
    }
  return TRUE;
}

static inline gfloat
luma (gfloat r, gfloat g, gfloat b)
{
  /* ITU-R 601-2, as PIL's convert("L") */
  return r * 0.299f + g * 0.587f + b * 0.114f;
}

/* ------------------------------------------------------------------ PNG */

typedef struct {
  const guint8 *data;
  gsize length, pos;
  gchar message[256];
} PngSource;

static void
png_read_bytes (png_structp png, png_bytep out, png_size_t n)
{
  PngSource *src = png_get_io_ptr (png);

  if (n > src->length - src->pos)
    png_error (png, "the file is truncated");
  memcpy (out, src->data + src->pos, n);
  src->pos += n;
}

static void
png_on_error (png_structp png, png_const_charp message)
{
  PngSource *src = png_get_error_ptr (png);
  g_strlcpy (src->message, message, sizeof src->message);
  png_longjmp (png, 1);
}

static void
png_on_warning (png_structp png, png_const_charp message)
{
}

static CxrImage *
decode_png (const guint8 *data, gsize length, const gchar *origin, GError **error)
{
  PngSource src = { data, length, 0, "" };
  png_structp png = png_create_read_struct (PNG_LIBPNG_VER_STRING, &src, png_on_error, png_on_warning);
  png_infop info = png ? png_create_info_struct (png) : NULL;
  CxrImage *volatile image = NULL;
  guint8 *volatile row = NULL;
  png_bytep *volatile rows = NULL;  /* freed by hand: a longjmp skips g_autofree */

  if (info == NULL)
    {
      png_destroy_read_struct (&png, NULL, NULL);
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "%s: out of memory", origin);
      return NULL;
    }
  if (setjmp (png_jmpbuf (png)))
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: not a valid PNG file: %s", origin, src.message);
      g_clear_object (&image);
      g_free (row);
      g_free (rows);
      png_destroy_read_struct (&png, &info, NULL);
      return NULL;
    }
  png_set_read_fn (png, &src, png_read_bytes);
  png_read_info (png, info);
  {
    png_uint_32 w = png_get_image_width (png, info), h = png_get_image_height (png, info);
    gint depth = png_get_bit_depth (png, info), type = png_get_color_type (png, info);
    guint channels, max;
    gsize stride;

    if (!check_size (w, h, origin, error))
      {
        png_destroy_read_struct (&png, &info, NULL);
        return NULL;
      }
    if (type == PNG_COLOR_TYPE_PALETTE)
      png_set_palette_to_rgb (png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
      png_set_expand_gray_1_2_4_to_8 (png);
    if (png_get_valid (png, info, PNG_INFO_tRNS))
      png_set_tRNS_to_alpha (png);
    if (type & PNG_COLOR_MASK_ALPHA || png_get_valid (png, info, PNG_INFO_tRNS))
      png_set_strip_alpha (png);
    if (depth == 16)
      png_set_swap (png); /* big-endian in the file */
    png_set_interlace_handling (png);
    png_read_update_info (png, info);
    channels = png_get_channels (png, info);
    depth = png_get_bit_depth (png, info);
    max = depth == 16 ? 65535 : 255;
    stride = png_get_rowbytes (png, info);
    image = cxr_image_new (w, h, depth == 16 ? 16 : 8);
    row = g_malloc (stride * h);
    rows = g_new (png_bytep, h);
    for (png_uint_32 y = 0; y < h; y++)
      rows[y] = (guint8 *) row + y * stride;
    png_read_image (png, rows);
    for (png_uint_32 y = 0; y < h; y++)
      for (png_uint_32 x = 0; x < w; x++)
        {
          gfloat v[3];
          for (guint c = 0; c < MIN (channels, 3); c++)
            {
              gsize at = y * stride + ((gsize) x * channels + c) * (depth == 16 ? 2 : 1);
              v[c] = depth == 16 ? (gfloat) (row[at] | (row[at + 1] << 8)) : (gfloat) row[at];
            }
          image->pixels[(gsize) y * w + x] = (channels >= 3 ? luma (v[0], v[1], v[2]) : v[0]) / (gfloat) max;
        }
  }
  png_read_end (png, NULL);
  png_destroy_read_struct (&png, &info, NULL);
  g_free (row);
  g_free (rows);
  return image;
}

/* ------------------------------------------------------------------ JPEG */

typedef struct {
  struct jpeg_error_mgr base;
  jmp_buf jump;
  gchar message[JMSG_LENGTH_MAX];
} JpegError;

static void
jpeg_on_error (j_common_ptr cinfo)
{
  JpegError *err = (JpegError *) cinfo->err;
  err->base.format_message (cinfo, err->message);
  longjmp (err->jump, 1);
}

static void
jpeg_on_message (j_common_ptr cinfo, int level)
{
  /* A file that ends before its image does is an error, as PIL makes it
   * ("image file is truncated"): libjpeg would pad it with gray. Other
   * corrupt-data warnings (extraneous bytes...) still decode; keep quiet. */
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF)
    cinfo->err->error_exit (cinfo);
}

/* Whether 1/8 goes through cxrgen's decoder: unless CXRGEN_JPEG=libjpeg
 * (to compare the two, or to rule one out). */
static gboolean
own_eighth_decoder (void)
{
  static gsize decided = 0;
  static gboolean own;

  if (g_once_init_enter (&decided))
    {
      const gchar *choice = g_getenv ("CXRGEN_JPEG");
      own = !(choice != NULL && g_str_equal (choice, "libjpeg"));
      g_once_init_leave (&decided, 1);
    }
  return own;
}

static CxrImage *
decode_jpeg (const guint8 *data, gsize length, const gchar *origin, guint min_size, GError **error)
{
  struct jpeg_decompress_struct cinfo;
  JpegError err;
  CxrImage *volatile image = NULL;
  guint8 *volatile row = NULL;
  guint8 *eighth;
  guint width, height;

  /* A radiograph read at 1/8 of its size: its DC coefficients, from
   * cxrgen's own entropy decoder when the file is a plain one, the same
   * samples as libjpeg's (cxr-jpeg-dc.c) */
  eighth = own_eighth_decoder () ? cxr_jpeg_decode_dc (data, length, min_size, &width, &height) : NULL;
  if (eighth != NULL)
    {
      image = cxr_image_new (width, height, 8);
      for (gsize i = 0; i < (gsize) width * height; i++)
        image->pixels[i] = eighth[i] / 255.0f;
      g_free (eighth);
      return image;
    }

  memset (&cinfo, 0, sizeof cinfo);
  cinfo.err = jpeg_std_error (&err.base);
  err.base.error_exit = jpeg_on_error;
  err.base.emit_message = jpeg_on_message;
  if (setjmp (err.jump))
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: not a valid JPEG file: %s", origin, err.message);
      g_clear_object (&image);
      g_free (row);
      jpeg_destroy_decompress (&cinfo);
      return NULL;
    }
  jpeg_create_decompress (&cinfo);
  jpeg_mem_src (&cinfo, data, (unsigned long) length);
  jpeg_read_header (&cinfo, TRUE);
  if (!check_size (cinfo.image_width, cinfo.image_height, origin, error))
    {
      jpeg_destroy_decompress (&cinfo);
      return NULL;
    }
  cinfo.out_color_space = JCS_GRAYSCALE;
  /* DCT scaling: the smallest 1/2^k that keeps both sides >= min_size */
  cinfo.scale_num = 1;
  cinfo.scale_denom = 1;
  if (min_size > 0)
    while (cinfo.scale_denom < 8 && MIN (cinfo.image_width, cinfo.image_height) / (cinfo.scale_denom * 2) >= min_size)
      cinfo.scale_denom *= 2;
  jpeg_start_decompress (&cinfo);
  image = cxr_image_new (cinfo.output_width, cinfo.output_height, 8);
  row = g_malloc ((gsize) cinfo.output_width * cinfo.output_components);
  while (cinfo.output_scanline < cinfo.output_height)
    {
      JSAMPROW rows[1] = { (JSAMPROW) row };
      guint y = cinfo.output_scanline;
      jpeg_read_scanlines (&cinfo, rows, 1);
      for (guint x = 0; x < cinfo.output_width; x++)
        image->pixels[(gsize) y * cinfo.output_width + x] = row[x] / 255.0f;
    }
  jpeg_finish_decompress (&cinfo);
  jpeg_destroy_decompress (&cinfo);
  g_free (row);
  return image;
}

/* ----------------------------------------------------------------- DICOM */

/* The values DCMTK renders (cxr-dicom.cc), in an image. */
/* Whether every element of a DICOM file that states its length fits in
 * the file: DCMTK allocates an element's value before it reads it, so a
 * length of 3 GB in a file of 1 kB would be asked for. A walk over the
 * elements (PS3.5 7.1): a value of defined length is skipped once it fits,
 * one of undefined length (a sequence, an item, encapsulated pixel data)
 * is walked into. Little-endian syntaxes only; the rest, and what follows
 * a deflated data set, is left to DCMTK. */
static gboolean
dicom_lengths_fit (const guint8 *data, gsize length, const gchar *origin, GError **error)
{
  static const gchar long_vrs[][3] = { "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV" };
  gsize at = length >= 132 && memcmp (data + 128, "DICM", 4) == 0 ? 132 : 0;
  /* with no meta group, a data set in implicit VR starts as one */
  gboolean explicit_vr = at > 0 || (length >= 6 && g_ascii_isupper (data[4]) && g_ascii_isupper (data[5]));

  while (at + 8 <= length)
    {
      guint group = data[at] | data[at + 1] << 8, element = data[at + 2] | data[at + 3] << 8;
      gboolean explicit_here = explicit_vr || group == 0x0002;
      guint64 value_length;
      gsize header = 8;

      if (group == 0xFFFE)  /* items and delimiters: a tag and 4 bytes of length */
        value_length = (guint32) (data[at + 4] | data[at + 5] << 8 | data[at + 6] << 16 | (guint32) data[at + 7] << 24);
      else if (explicit_here && g_ascii_isupper (data[at + 4]) && g_ascii_isupper (data[at + 5]))
        {
          gboolean long_form = FALSE;
          for (guint i = 0; i < G_N_ELEMENTS (long_vrs); i++)
            long_form |= data[at + 4] == long_vrs[i][0] && data[at + 5] == long_vrs[i][1];
          if (long_form)
            {
              if (at + 12 > length)
                break;
              header = 12;
              value_length = (guint32) (data[at + 8] | data[at + 9] << 8 | data[at + 10] << 16 |
                                        (guint32) data[at + 11] << 24);
            }
          else
            value_length = data[at + 6] | data[at + 7] << 8;
        }
      else  /* implicit VR, or no VR where one belongs: DCMTK reads 4 bytes of length then */
        value_length = (guint32) (data[at + 4] | data[at + 5] << 8 | data[at + 6] << 16 | (guint32) data[at + 7] << 24);

      if (value_length == 0xFFFFFFFF)  /* undefined: its contents follow */
        {
          at += header;
          continue;
        }
      if (value_length > length - at - header)
        {
          g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: not a readable DICOM file: element (%04X,%04X) "
                       "at byte %" G_GSIZE_FORMAT " claims %" G_GUINT64_FORMAT " bytes, the file has %" G_GSIZE_FORMAT
                       " after it", origin, group, element, at, value_length, length - at - header);
          return FALSE;
        }
      /* the transfer syntax of what follows the file meta group */
      if (group == 0x0002 && element == 0x0010)
        {
          g_autofree gchar *uid = g_strndup ((const gchar *) data + at + header, value_length);
          g_strstrip (uid);
          if (g_str_equal (uid, "1.2.840.10008.1.2"))
            explicit_vr = FALSE;
          else if (g_str_equal (uid, "1.2.840.10008.1.2.2") || g_str_equal (uid, "1.2.840.10008.1.2.1.99"))
            return TRUE;  /* big endian, deflated */
        }
      at += header + value_length;
    }
  return TRUE;
}

static CxrImage *
decode_dicom (const guint8 *data, gsize length, const gchar *origin, gdouble window_center, gdouble window_width,
              GError **error)
{
  guint width, height, bits;
  g_autofree gfloat *pixels = NULL;
  CxrImage *image;

  if (!dicom_lengths_fit (data, length, origin, error))
    return NULL;
  pixels = cxr_dicom_decode (data, length, origin, window_center, window_width, &width, &height, &bits, error);
  if (pixels == NULL)
    return NULL;
  image = cxr_image_new (width, height, bits);
  memcpy (image->pixels, pixels, (gsize) width * height * sizeof (gfloat));
  return image;
}

/* ------------------------------------------------------------------ TIFF */

typedef struct {
  const guint8 *data;
  gsize length, pos;
} TiffSource;

static GPrivate tiff_message = G_PRIVATE_INIT (g_free);

static void
tiff_on_error (const char *module, const char *format, va_list args)
{
  g_private_replace (&tiff_message, g_strdup_vprintf (format, args));
}

static void
tiff_on_warning (const char *module, const char *format, va_list args)
{
}

static tsize_t
tiff_read (thandle_t h, tdata_t buf, tsize_t size)
{
  TiffSource *src = h;
  gsize n = MIN ((gsize) size, src->length - MIN (src->pos, src->length));
  memcpy (buf, src->data + src->pos, n);
  src->pos += n;
  return (tsize_t) n;
}

static tsize_t
tiff_write (thandle_t h, tdata_t buf, tsize_t size)
{
  return 0;
}

static toff_t
tiff_seek (thandle_t h, toff_t offset, int whence)
{
  TiffSource *src = h;
  gint64 base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (gint64) src->pos : (gint64) src->length;
  gint64 to = base + (gint64) offset;
  if (to < 0)
    return (toff_t) -1;
  src->pos = (gsize) to;
  return (toff_t) to;
}

static int
tiff_close (thandle_t h)
{
  return 0;
}

static toff_t
tiff_size (thandle_t h)
{
  return ((TiffSource *) h)->length;
}

static int
tiff_map (thandle_t h, tdata_t *base, toff_t *size)
{
  return 0;
}

static void
tiff_unmap (thandle_t h, tdata_t base, toff_t size)
{
}

static void
tiff_handlers (void)
{
  static gsize once = 0;
  if (g_once_init_enter (&once))
    {
      TIFFSetErrorHandler (tiff_on_error);
      TIFFSetWarningHandler (tiff_on_warning);
      g_once_init_leave (&once, 1);
    }
}

static gboolean
tiff_fail (GError **error, const gchar *origin, const gchar *what)
{
  const gchar *detail = g_private_get (&tiff_message);
  g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: %s%s%s", origin, what, detail ? ": " : "",
               detail ? detail : "");
  return FALSE;
}

/* Sample (x, y) of channel c from a buffer of rows of @spp samples. */
static inline gfloat
tiff_sample (const guint8 *buf, gsize index, guint16 bits)
{
  if (bits == 16)
    {
      guint16 v;
      memcpy (&v, buf + index * 2, 2);
      return v / 65535.0f;
    }
  return buf[index] / 255.0f;
}

static CxrImage *
decode_tiff (const guint8 *data, gsize length, const gchar *origin, GError **error)
{
  TiffSource src = { data, length, 0 };
  g_autoptr (CxrImage) image = NULL;
  TIFF *tif;
  guint32 w = 0, h = 0;
  guint16 bits = 0, spp = 1, config = PLANARCONFIG_CONTIG, format = SAMPLEFORMAT_UINT, photometric = PHOTOMETRIC_MINISBLACK;
  g_autofree guint8 *buf = NULL;

  tiff_handlers ();
  g_private_replace (&tiff_message, NULL);
  tif = TIFFClientOpen (origin, "rm", &src, tiff_read, tiff_write, tiff_seek, tiff_close, tiff_size, tiff_map, tiff_unmap);
  if (tif == NULL)
    return tiff_fail (error, origin, "not a valid TIFF file"), NULL;
  TIFFGetField (tif, TIFFTAG_IMAGEWIDTH, &w);
  TIFFGetField (tif, TIFFTAG_IMAGELENGTH, &h);
  TIFFGetFieldDefaulted (tif, TIFFTAG_BITSPERSAMPLE, &bits);
  TIFFGetFieldDefaulted (tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted (tif, TIFFTAG_PLANARCONFIG, &config);
  TIFFGetFieldDefaulted (tif, TIFFTAG_SAMPLEFORMAT, &format);
  TIFFGetFieldDefaulted (tif, TIFFTAG_PHOTOMETRIC, &photometric);
  if (!check_size (w, h, origin, error))
    {
      TIFFClose (tif);
      return NULL;
    }
  if ((bits != 8 && bits != 16) || format != SAMPLEFORMAT_UINT || (spp != 1 && spp != 3 && spp != 4) ||
      config != PLANARCONFIG_CONTIG ||
      (photometric != PHOTOMETRIC_MINISBLACK && photometric != PHOTOMETRIC_MINISWHITE && photometric != PHOTOMETRIC_RGB))
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_UNSUPPORTED,
                   "%s: a TIFF of %u-bit %s samples, %u per pixel (photometric %u): cxrgen reads 8 or 16-bit "
                   "unsigned gray or RGB, interleaved", origin, bits, format == SAMPLEFORMAT_UINT ? "unsigned" : "other",
                   spp, photometric);
      TIFFClose (tif);
      return NULL;
    }
  image = cxr_image_new (w, h, bits);
  if (TIFFIsTiled (tif))
    {
      guint32 tw = 0, th = 0;
      gsize tile_size = (gsize) TIFFTileSize (tif);
      TIFFGetField (tif, TIFFTAG_TILEWIDTH, &tw);
      TIFFGetField (tif, TIFFTAG_TILELENGTH, &th);
      if (tw == 0 || th == 0 || tile_size < (gsize) tw * th * spp * (bits / 8))
        {
          TIFFClose (tif);
          return tiff_fail (error, origin, "bad tile size"), NULL;
        }
      buf = g_malloc (tile_size);
      for (guint32 ty = 0; ty < h; ty += th)
        for (guint32 tx = 0; tx < w; tx += tw)
          {
            if (TIFFReadTile (tif, buf, tx, ty, 0, 0) < 0)
              {
                TIFFClose (tif);
                return tiff_fail (error, origin, "a tile cannot be read"), NULL;
              }
            for (guint32 y = ty; y < MIN (h, ty + th); y++)
              for (guint32 x = tx; x < MIN (w, tx + tw); x++)
                {
                  gsize at = ((gsize) (y - ty) * tw + (x - tx)) * spp;
                  gfloat v = spp >= 3 ? luma (tiff_sample (buf, at, bits), tiff_sample (buf, at + 1, bits),
                                              tiff_sample (buf, at + 2, bits))
                                      : tiff_sample (buf, at, bits);
                  image->pixels[(gsize) y * w + x] = v;
                }
          }
    }
  else
    {
      gsize line = (gsize) TIFFScanlineSize (tif);
      if (line < (gsize) w * spp * (bits / 8))
        {
          TIFFClose (tif);
          return tiff_fail (error, origin, "bad scanline size"), NULL;
        }
      buf = g_malloc (line);
      for (guint32 y = 0; y < h; y++)
        {
          if (TIFFReadScanline (tif, buf, y, 0) < 0)
            {
              TIFFClose (tif);
              return tiff_fail (error, origin, "a row cannot be read (truncated or corrupt)"), NULL;
            }
          for (guint32 x = 0; x < w; x++)
            {
              gsize at = (gsize) x * spp;
              gfloat v = spp >= 3 ? luma (tiff_sample (buf, at, bits), tiff_sample (buf, at + 1, bits),
                                          tiff_sample (buf, at + 2, bits))
                                  : tiff_sample (buf, at, bits);
              image->pixels[(gsize) y * w + x] = v;
            }
        }
    }
  if (photometric == PHOTOMETRIC_MINISWHITE)
    for (gsize i = 0; i < (gsize) w * h; i++)
      image->pixels[i] = 1.0f - image->pixels[i];
  TIFFClose (tif);
  return g_steal_pointer (&image);
}

/* --------------------------------------------------------------- loading */

/**
 * cxr_image_format_from_data:
 * @data: (array length=length): the first bytes of a file
 * @length: how many
 *
 * Returns: the format the bytes start with
 */
CxrImageFormat
cxr_image_format_from_data (const guint8 *data, gsize length)
{
  if (length >= 8 && memcmp (data, "\x89PNG\r\n\x1a\n", 8) == 0)
    return CXR_IMAGE_FORMAT_PNG;
  if (length >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
    return CXR_IMAGE_FORMAT_JPEG;
  if (length >= 4 && (memcmp (data, "II*\0", 4) == 0 || memcmp (data, "MM\0*", 4) == 0))
    return CXR_IMAGE_FORMAT_TIFF;
  if (length >= 132 && memcmp (data + 128, "DICM", 4) == 0)
    return CXR_IMAGE_FORMAT_DICOM;
  return CXR_IMAGE_FORMAT_UNKNOWN;
}

/* PS3.3 C.11.2.1.2.1, the linear VOI function, to [0, 1]. */
static gfloat
linear_window (gdouble x, gdouble center, gdouble width)
{
  if (width <= 1.0)
    return x <= center - 0.5 ? 0.0f : 1.0f;
  return (gfloat) CLAMP ((x - (center - 0.5)) / (width - 1.0) + 0.5, 0.0, 1.0);
}

static CxrImage *
load_bytes (GBytes *bytes, const gchar *origin, guint min_size, gdouble window_center, gdouble window_width,
            GError **error)
{
  gsize length = 0;
  const guint8 *data = g_bytes_get_data (bytes, &length);
  CxrImage *image = NULL;
  CxrImageFormat format;

  origin = origin ? origin : "<image>";
  format = cxr_image_format_from_data (data, length);
  switch (format)
    {
    case CXR_IMAGE_FORMAT_PNG:
      image = decode_png (data, length, origin, error);
      break;
    case CXR_IMAGE_FORMAT_JPEG:
      image = decode_jpeg (data, length, origin, window_width > 0 ? 0 : min_size, error);
      break;
    case CXR_IMAGE_FORMAT_TIFF:
      image = decode_tiff (data, length, origin, error);
      break;
    case CXR_IMAGE_FORMAT_DICOM:
      image = decode_dicom (data, length, origin, window_center, window_width, error);
      break;
    default:
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_UNSUPPORTED, "%s: not a PNG, JPEG, TIFF or DICOM file", origin);
      return NULL;
    }
  if (image == NULL)
    return NULL;
  image->path = g_strdup (origin);
  if (window_width > 0 && format != CXR_IMAGE_FORMAT_DICOM)
    {
      gdouble top = image->bit_depth == 16 ? 65535.0 : 255.0;
      for (gsize i = 0; i < (gsize) image->width * image->height; i++)
        image->pixels[i] = linear_window (image->pixels[i] * top, window_center, window_width);
    }
  return image;
}

/**
 * cxr_image_load_from_bytes:
 * @bytes: a whole image file
 * @origin: (nullable): the file name for messages
 * @min_size: the fewest pixels a side needs (JPEG decodes at 1/2, 1/4 or
 *   1/8 size while both sides stay at least this); 0 for full size
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the image, or %NULL with @error set
 */
CxrImage *
cxr_image_load_from_bytes (GBytes *bytes, const gchar *origin, guint min_size, GError **error)
{
  return load_bytes (bytes, origin, min_size, 0.0, 0.0, error);
}

static GBytes *
map_file (const gchar *path, GError **error)
{
  g_autoptr (GMappedFile) mapped = NULL;
  g_autoptr (GError) local = NULL;

  mapped = g_mapped_file_new (path, FALSE, &local);
  if (mapped == NULL)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "%s", local->message);
      return NULL;
    }
  return g_mapped_file_get_bytes (mapped);
}

/**
 * cxr_image_load_windowed:
 * @path: an image file
 * @center: the window's centre
 * @width: the window's width, >= 1
 * @error: return location for a #GError
 *
 * Loads an image at full size through a VOI window of the user's, the
 * linear function of DICOM PS3.3 C.11.2.1.2: values below the window are
 * 0, above it 1. The window is in the file's units: for DICOM, modality
 * units (after the rescale slope and intercept; Hounsfield-like units for
 * those modalities), replacing the file's own window; for PNG, JPEG and
 * TIFF, the stored values (0 to 255, or 65535 at 16 bits).
 *
 * Returns: (transfer full): the image, or %NULL with @error set
 */
CxrImage *
cxr_image_load_windowed (const gchar *path, gdouble center, gdouble width, GError **error)
{
  g_autoptr (GBytes) bytes = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (width >= 1.0, NULL);
  bytes = map_file (path, error);
  return bytes ? load_bytes (bytes, path, 0, center, width, error) : NULL;
}

/**
 * cxr_image_load:
 * @path: an image file
 * @min_size: see cxr_image_load_from_bytes(); 0 for full size
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the image, or %NULL with @error set
 */
CxrImage *
cxr_image_load (const gchar *path, guint min_size, GError **error)
{
  g_autoptr (GBytes) bytes = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  bytes = map_file (path, error);
  return bytes ? load_bytes (bytes, path, min_size, 0.0, 0.0, error) : NULL;
}

/* --------------------------------------------------------------- saving */

static guint
quantize (gfloat v, guint max)
{
  gfloat c;
  if (!(v > 0.0f)) /* and NaN */
    return 0;
  c = MIN (v, 1.0f) * (gfloat) max;
  return (guint) (c + 0.5f);
}

static gboolean
save_png (CxrImage *self, FILE *file, GError **error)
{
  png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct (png) : NULL;
  guint depth = self->bit_depth;
  guint8 *volatile row = NULL;

  if (info == NULL || setjmp (png_jmpbuf (png)))
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "cannot write the PNG data");
      g_free (row);
      png_destroy_write_struct (&png, &info);
      return FALSE;
    }
  png_init_io (png, file);
  png_set_IHDR (png, info, self->width, self->height, (int) depth, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info (png, info);
  row = g_malloc ((gsize) self->width * (depth / 8));
  for (guint y = 0; y < self->height; y++)
    {
      for (guint x = 0; x < self->width; x++)
        {
          guint v = quantize (self->pixels[(gsize) y * self->width + x], depth == 16 ? 65535 : 255);
          if (depth == 16)
            {
              row[2 * x] = (guint8) (v >> 8); /* big-endian in PNG */
              row[2 * x + 1] = (guint8) v;
            }
          else
            row[x] = (guint8) v;
        }
      png_write_row (png, row);
    }
  png_write_end (png, NULL);
  png_destroy_write_struct (&png, &info);
  g_free (row);
  return TRUE;
}

static gboolean
save_jpeg (CxrImage *self, FILE *file, GError **error)
{
  struct jpeg_compress_struct cinfo;
  JpegError err;
  guint8 *volatile row = NULL;

  memset (&cinfo, 0, sizeof cinfo);
  cinfo.err = jpeg_std_error (&err.base);
  err.base.error_exit = jpeg_on_error;
  if (setjmp (err.jump))
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "cannot write the JPEG data: %s", err.message);
      g_free (row);
      jpeg_destroy_compress (&cinfo);
      return FALSE;
    }
  jpeg_create_compress (&cinfo);
  jpeg_stdio_dest (&cinfo, file);
  cinfo.image_width = self->width;
  cinfo.image_height = self->height;
  cinfo.input_components = 1;
  cinfo.in_color_space = JCS_GRAYSCALE;
  jpeg_set_defaults (&cinfo);
  jpeg_set_quality (&cinfo, 95, TRUE);
  jpeg_start_compress (&cinfo, TRUE);
  row = g_malloc (self->width);
  while (cinfo.next_scanline < cinfo.image_height)
    {
      JSAMPROW rows[1] = { (JSAMPROW) row };
      for (guint x = 0; x < self->width; x++)
        row[x] = (guint8) quantize (self->pixels[(gsize) cinfo.next_scanline * self->width + x], 255);
      jpeg_write_scanlines (&cinfo, rows, 1);
    }
  jpeg_finish_compress (&cinfo);
  jpeg_destroy_compress (&cinfo);
  g_free (row);
  return TRUE;
}

static gboolean
save_tiff (CxrImage *self, const gchar *path, GError **error)
{
  TIFF *tif;
  guint depth = self->bit_depth;
  g_autofree guint8 *row = NULL;

  tiff_handlers ();
  g_private_replace (&tiff_message, NULL);
  tif = TIFFOpen (path, "w");
  if (tif == NULL)
    return tiff_fail (error, path, "cannot write");
  TIFFSetField (tif, TIFFTAG_IMAGEWIDTH, self->width);
  TIFFSetField (tif, TIFFTAG_IMAGELENGTH, self->height);
  TIFFSetField (tif, TIFFTAG_BITSPERSAMPLE, depth);
  TIFFSetField (tif, TIFFTAG_SAMPLESPERPIXEL, 1);
  TIFFSetField (tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
  TIFFSetField (tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField (tif, TIFFTAG_COMPRESSION, COMPRESSION_DEFLATE);
  TIFFSetField (tif, TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize (tif, 0));
  row = g_malloc ((gsize) self->width * (depth / 8));
  for (guint y = 0; y < self->height; y++)
    {
      for (guint x = 0; x < self->width; x++)
        {
          guint v = quantize (self->pixels[(gsize) y * self->width + x], depth == 16 ? 65535 : 255);
          if (depth == 16)
            {
              guint16 s = (guint16) v;
              memcpy (row + 2 * x, &s, 2);
            }
          else
            row[x] = (guint8) v;
        }
      if (TIFFWriteScanline (tif, row, y, 0) < 0)
        {
          TIFFClose (tif);
          return tiff_fail (error, path, "cannot write a row");
        }
    }
  TIFFClose (tif);
  return TRUE;
}

/**
 * cxr_image_save:
 * @self: an image
 * @path: the file to write
 * @format: PNG (8 or 16 bits, as the image), JPEG (8 bits, quality 95),
 *   TIFF (8 or 16 bits, deflate), or DICOM (a secondary capture of a
 *   synthetic image, 8 or 16 bits, new UIDs, no patient data)
 * @error: return location for a #GError
 *
 * Writes the image atomically: a failure leaves no file.
 *
 * Returns: %TRUE on success
 */
gboolean
cxr_image_save (CxrImage *self, const gchar *path, CxrImageFormat format, GError **error)
{
  g_autoptr (CxrAtomicFile) file = NULL;
  gboolean ok;

  g_return_val_if_fail (CXR_IS_IMAGE (self), FALSE);
  file = cxr_atomic_file_new (path, error);
  if (file == NULL)
    return FALSE;
  if (format == CXR_IMAGE_FORMAT_TIFF)
    ok = save_tiff (self, cxr_atomic_file_get_temp_path (file), error);
  else if (format == CXR_IMAGE_FORMAT_DICOM)
    ok = cxr_dicom_save (cxr_atomic_file_get_temp_path (file), self->pixels, self->width, self->height,
                         self->bit_depth == 16 ? 16 : 8, error);
  else
    {
      FILE *stream = fopen (cxr_atomic_file_get_temp_path (file), "wb");
      if (stream == NULL)
        {
          g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "%s: cannot write", path);
          return FALSE;
        }
      if (format == CXR_IMAGE_FORMAT_PNG)
        ok = save_png (self, stream, error);
      else if (format == CXR_IMAGE_FORMAT_JPEG)
        ok = save_jpeg (self, stream, error);
      else
        {
          g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_UNSUPPORTED, "%s: cxrgen writes PNG, JPEG, TIFF and DICOM",
                       path);
          ok = FALSE;
        }
      if (fclose (stream) != 0)
        ok = FALSE;
    }
  if (!ok)
    {
      g_prefix_error (error, "%s: ", path);
      return FALSE;
    }
  return cxr_atomic_file_commit (file, error);
}

/* ------------------------------------------------------------- accessors */

/**
 * cxr_image_get_width:
 * @self: an image
 *
 * Returns: the width in pixels
 */
guint
cxr_image_get_width (CxrImage *self)
{
  g_return_val_if_fail (CXR_IS_IMAGE (self), 0);
  return self->width;
}

/**
 * cxr_image_get_height:
 * @self: an image
 *
 * Returns: the height in pixels
 */
guint
cxr_image_get_height (CxrImage *self)
{
  g_return_val_if_fail (CXR_IS_IMAGE (self), 0);
  return self->height;
}

/**
 * cxr_image_get_bit_depth:
 * @self: an image
 *
 * Returns: 8 or 16: the depth of its file
 */
guint
cxr_image_get_bit_depth (CxrImage *self)
{
  g_return_val_if_fail (CXR_IS_IMAGE (self), 0);
  return self->bit_depth;
}

/**
 * cxr_image_get_path:
 * @self: an image
 *
 * Returns: (transfer none) (nullable): the file it was read from
 */
const gchar *
cxr_image_get_path (CxrImage *self)
{
  g_return_val_if_fail (CXR_IS_IMAGE (self), NULL);
  return self->path;
}

/**
 * cxr_image_get_pixels: (skip)
 * @self: an image
 *
 * Returns: the pixels, row after row, in [0, 1]
 */
gfloat *
cxr_image_get_pixels (CxrImage *self)
{
  g_return_val_if_fail (CXR_IS_IMAGE (self), NULL);
  return self->pixels;
}

/**
 * cxr_image_to_tensor:
 * @self: an image
 *
 * Returns: (transfer full): F32 [1, H, W] in [0, 1]
 */
CxrTensor *
cxr_image_to_tensor (CxrImage *self)
{
  g_return_val_if_fail (CXR_IS_IMAGE (self), NULL);
  return cxr_tensor_new_from_data (CXR_DTYPE_F32, (const gint64[]) { 1, self->height, self->width }, 3,
                                   (const guint8 *) self->pixels, (gsize) self->width * self->height * sizeof (gfloat),
                                   NULL);
}

/**
 * cxr_image_new_from_tensor:
 * @tensor: [H, W], [1, H, W] or [C, H, W] values in [0, 1] (the first
 *   channel is taken)
 * @bit_depth: 8 or 16
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the image, or %NULL with @error set
 */
CxrImage *
cxr_image_new_from_tensor (CxrTensor *tensor, guint bit_depth, GError **error)
{
  g_autoptr (CxrTensor) f = NULL;
  guint nd;
  gint64 h, w;
  CxrImage *image;

  g_return_val_if_fail (tensor != NULL, NULL);
  nd = cxr_tensor_get_ndim (tensor);
  if ((nd != 2 && nd != 3) || (bit_depth != 8 && bit_depth != 16))
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE, "an image comes from [H, W] or [C, H, W], 8 or 16 bits");
      return NULL;
    }
  h = cxr_tensor_get_dim (tensor, -2);
  w = cxr_tensor_get_dim (tensor, -1);
  if (!check_size ((guint64) w, (guint64) h, "tensor", error))
    return NULL;
  f = cxr_tensor_to_dtype (tensor, CXR_DTYPE_F32, error);
  if (f == NULL)
    return NULL;
  image = cxr_image_new ((guint) w, (guint) h, bit_depth);
  memcpy (image->pixels, cxr_tensor_get_data (f), (gsize) w * h * sizeof (gfloat));
  return image;
}

/* ---------------------------------------------------------- preprocessing */

/* PIL's resampling filters: the triangle (bilinear) of support 1 and the
 * cubic (bicubic, a = -0.5) of support 2. */
typedef enum { FILTER_BILINEAR, FILTER_BICUBIC } Filter;

static gdouble
filter_weight (Filter filter, gdouble x)
{
  x = fabs (x);
  if (filter == FILTER_BILINEAR)
    return x < 1.0 ? 1.0 - x : 0.0;
  if (x < 1.0)
    return (1.5 * x - 2.5) * x * x + 1.0; /* ((a + 2) x - (a + 3)) x^2 + 1 */
  if (x < 2.0)
    return (((x - 5.0) * x + 8.0) * x - 4.0) * -0.5;
  return 0.0;
}

/* PIL's resampling coefficients, antialiased when shrinking (the support
 * grows with the scale), as torchvision's Resize on a PIL image computes
 * them. */
static void
filter_coefficients (Filter filter, guint in_size, guint out_size, gint *bounds, gdouble *weights, guint *ksize_out)
{
  gdouble scale = (gdouble) in_size / out_size;
  gdouble filterscale = MAX (scale, 1.0);
  gdouble support = (filter == FILTER_BILINEAR ? 1.0 : 2.0) * filterscale;
  guint ksize = (guint) ceil (support) * 2 + 1;

  for (guint xx = 0; xx < out_size; xx++)
    {
      gdouble center = (xx + 0.5) * scale;
      gdouble ww = 0.0, ss = 1.0 / filterscale;
      gint xmin = (gint) (center - support + 0.5);
      gint xmax;
      if (xmin < 0)
        xmin = 0;
      xmax = (gint) (center + support + 0.5);
      if (xmax > (gint) in_size)
        xmax = (gint) in_size;
      xmax -= xmin;
      for (gint x = 0; x < xmax; x++)
        {
          gdouble w = filter_weight (filter, (x + xmin - center + 0.5) * ss);
          weights[xx * ksize + x] = w;
          ww += w;
        }
      for (gint x = 0; x < xmax; x++)
        weights[xx * ksize + x] = ww != 0.0 ? weights[xx * ksize + x] / ww : 0.0;
      for (guint x = (guint) xmax; x < ksize; x++)
        weights[xx * ksize + x] = 0.0;
      bounds[xx * 2] = xmin;
      bounds[xx * 2 + 1] = xmax;
    }
  *ksize_out = ksize;
}

/* One pass's value: on the 1/255 grid and within [0, 1] for an 8-bit
 * image, as PIL's passes end in an 8-bit image. */
static inline gfloat
pass_value (gdouble acc, gfloat quantum)
{
  if (quantum <= 0)
    return (gfloat) acc;
  return CLAMP (roundf ((gfloat) acc * quantum), 0.0f, quantum) / quantum;
}

static CxrImage *
resize_with (CxrImage *self, Filter filter, guint width, guint height)
{
  CxrImage *out;
  g_autofree gfloat *tmp = NULL;
  g_autofree gint *bx = NULL, *by = NULL;
  g_autofree gdouble *wx = NULL, *wy = NULL;
  guint kx, ky;
  gdouble sx, sy, reach = filter == FILTER_BILINEAR ? 1.0 : 2.0;
  gfloat quantum = self->bit_depth == 8 ? 255.0f : 0.0f;

  sx = MAX ((gdouble) self->width / width, 1.0) * reach;
  sy = MAX ((gdouble) self->height / height, 1.0) * reach;
  bx = g_new (gint, 2 * width);
  by = g_new (gint, 2 * height);
  wx = g_new0 (gdouble, (gsize) width * ((guint) ceil (sx) * 2 + 1));
  wy = g_new0 (gdouble, (gsize) height * ((guint) ceil (sy) * 2 + 1));
  filter_coefficients (filter, self->width, width, bx, wx, &kx);
  filter_coefficients (filter, self->height, height, by, wy, &ky);
  out = cxr_image_new (width, height, self->bit_depth);
  out->path = g_strdup (self->path);
  tmp = g_new (gfloat, (gsize) width * self->height);
#pragma omp parallel for schedule(static)
  for (guint y = 0; y < self->height; y++)
    for (guint x = 0; x < width; x++)
      {
        const gfloat *row = self->pixels + (gsize) y * self->width + bx[2 * x];
        gdouble acc = 0;
        for (gint k = 0; k < bx[2 * x + 1]; k++)
          acc += row[k] * wx[x * kx + k];
        tmp[(gsize) y * width + x] = pass_value (acc, quantum);
      }
#pragma omp parallel for schedule(static)
  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      {
        gdouble acc = 0;
        for (gint k = 0; k < by[2 * y + 1]; k++)
          acc += tmp[(gsize) (by[2 * y] + k) * width + x] * wy[y * ky + k];
        out->pixels[(gsize) y * width + x] = pass_value (acc, quantum);
      }
  return out;
}

/**
 * cxr_image_resize:
 * @self: an image
 * @width: the new width
 * @height: the new height
 *
 * Resizes with PIL's bilinear filter (antialiased when shrinking), the
 * reference's torchvision Resize: horizontal pass, then vertical; for an
 * 8-bit image each pass rounds to 8 bits, as PIL's does.
 *
 * Returns: (transfer full): the resized image
 */
CxrImage *
cxr_image_resize (CxrImage *self, guint width, guint height)
{
  g_return_val_if_fail (CXR_IS_IMAGE (self) && width > 0 && height > 0, NULL);
  return resize_with (self, FILTER_BILINEAR, width, height);
}

/**
 * cxr_image_center_crop:
 * @self: an image
 * @width: the crop's width
 * @height: the crop's height
 *
 * Crops the center, as torchvision's CenterCrop (offsets rounded as it
 * rounds them); a crop larger than the image pads with black.
 *
 * Returns: (transfer full): the cropped image
 */
CxrImage *
cxr_image_center_crop (CxrImage *self, guint width, guint height)
{
  CxrImage *out;
  gint top, left;

  g_return_val_if_fail (CXR_IS_IMAGE (self) && width > 0 && height > 0, NULL);
  top = (gint) round (((gint) self->height - (gint) height) / 2.0);
  left = (gint) round (((gint) self->width - (gint) width) / 2.0);
  out = cxr_image_new (width, height, self->bit_depth);
  out->path = g_strdup (self->path);
  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      {
        gint sy = (gint) y + top, sx = (gint) x + left;
        if (sy >= 0 && sy < (gint) self->height && sx >= 0 && sx < (gint) self->width)
          out->pixels[(gsize) y * width + x] = self->pixels[(gsize) sy * self->width + sx];
      }
  return out;
}

/**
 * cxr_image_preprocess:
 * @self: an image
 * @size: the side of the square result (256 for the VAE, 224 for CLIP)
 * @channels: 1, or 3 to replicate the gray into RGB as the reference's
 *   convert("RGB")
 *
 * The reference's transform: Resize((size, size)) with PIL's bilinear
 * filter (the aspect ratio is not kept), CenterCrop(size), ToTensor, and
 * Normalize(0.5, 0.5) to [-1, 1].
 *
 * Returns: (transfer full): F32 [channels, size, size]
 */
CxrTensor *
cxr_image_preprocess (CxrImage *self, guint size, guint channels)
{
  g_autoptr (CxrImage) resized = NULL, cropped = NULL;
  CxrTensor *out;
  gfloat *o;
  gsize n;

  g_return_val_if_fail (CXR_IS_IMAGE (self) && size > 0 && (channels == 1 || channels == 3), NULL);
  resized = cxr_image_resize (self, size, size);
  cropped = cxr_image_center_crop (resized, size, size);
  out = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { channels, size, size }, 3);
  o = cxr_tensor_get_data (out);
  n = (gsize) size * size;
  for (guint c = 0; c < channels; c++)
    for (gsize i = 0; i < n; i++)
      o[c * n + i] = (cropped->pixels[i] - 0.5f) / 0.5f;
  return out;
}

/**
 * cxr_image_preprocess_clip:
 * @self: an image
 * @size: the side of the result (224 for CLIP ViT-L/14)
 *
 * CLIP's image transform, as OpenAI's CLIP code composes it from
 * torchvision: Resize(@size, bicubic) (the shorter side to @size, the
 * aspect ratio kept, with PIL's antialiased bicubic filter), CenterCrop,
 * the gray replicated to RGB, ToTensor, and each
 * channel normalised with CLIP's mean (0.48145466, 0.4578275, 0.40821073)
 * and deviation (0.26862954, 0.26130258, 0.27577711).
 *
 * Returns: (transfer full): F32 [3, size, size]
 */
CxrTensor *
cxr_image_preprocess_clip (CxrImage *self, guint size)
{
  static const gfloat mean[3] = { 0.48145466f, 0.4578275f, 0.40821073f };
  static const gfloat std[3] = { 0.26862954f, 0.26130258f, 0.27577711f };
  g_autoptr (CxrImage) resized = NULL, cropped = NULL;
  guint w, h;
  CxrTensor *out;
  gfloat *o;
  gsize n;

  g_return_val_if_fail (CXR_IS_IMAGE (self) && size > 0, NULL);
  if (self->width <= self->height)
    {
      w = size;
      h = (guint) ((guint64) size * self->height / self->width);
    }
  else
    {
      h = size;
      w = (guint) ((guint64) size * self->width / self->height);
    }
  resized = resize_with (self, FILTER_BICUBIC, MAX (w, 1), MAX (h, 1));
  cropped = cxr_image_center_crop (resized, size, size);
  out = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { 3, size, size }, 3);
  o = cxr_tensor_get_data (out);
  n = (gsize) size * size;
  for (guint c = 0; c < 3; c++)
    for (gsize i = 0; i < n; i++)
      o[c * n + i] = (cropped->pixels[i] - mean[c]) / std[c];
  return out;
}

/**
 * cxr_report_save_dicom_sr:
 * @path: the file to write
 * @text: the report's text
 * @image_path: (nullable): a DICOM image the report is of, to reference
 * @error: return location for a #GError
 *
 * Writes a report as a DICOM Basic Text SR of a synthetic report,
 * atomically: a container "Diagnostic imaging report" (LOINC 18748-4)
 * holding @text as a "Finding" (DCM 121071) and, given @image_path, an
 * IMAGE item that references that image, in the image's study (and in the
 * current requested procedure evidence). New UIDs under 2.25, no patient
 * data.
 *
 * Returns: %TRUE on success
 */
gboolean
cxr_report_save_dicom_sr (const gchar *path, const gchar *text, const gchar *image_path, GError **error)
{
  g_autoptr (CxrAtomicFile) file = NULL;

  g_return_val_if_fail (path != NULL && text != NULL, FALSE);
  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: the report is not UTF-8 text", path);
      return FALSE;
    }
  file = cxr_atomic_file_new (path, error);
  return file != NULL && cxr_dicom_save_report (cxr_atomic_file_get_temp_path (file), text, image_path, error) &&
         cxr_atomic_file_commit (file, error);
}
