/* core/io/cxr-dicom.cc: a small C shim over DCMTK, for DICOM images.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * DCMTK parses the file (dcmdata), decompresses the pixel data with the
 * codecs registered below, and renders it through the modality and VOI
 * transformations (dcmimgle), which is what a radiology viewer shows.
 * Nothing of DCMTK leaks out of this file: cxr-image.c calls
 * cxr_dicom_decode() and gets floats. */
#include "config.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmimgle/dcmimage.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include "cxr-error.h"
#include "cxr-dicom-private.h"

/* The most pixels an image may have, as the other decoders (cxr-image.c). */
static const guint64 max_side = 32768, max_pixels = G_GUINT64_CONSTANT (1) << 26;

static void
register_codecs_once (void)
{
  static gsize done = 0;
  if (g_once_init_enter (&done))
    {
      /* DCMTK logs its warnings to stderr; errors reach the caller as GErrors */
      OFLog::configure (OFLogger::FATAL_LOG_LEVEL);
      DcmRLEDecoderRegistration::registerCodecs ();
      DJDecoderRegistration::registerCodecs ();
      DJLSDecoderRegistration::registerCodecs ();
      g_once_init_leave (&done, 1);
    }
}

extern "C" gfloat *
cxr_dicom_decode (const guint8 *data, gsize length, const gchar *origin, gdouble window_center,
                  gdouble window_width, guint *width, guint *height, guint *bits, GError **error)
{
  DcmInputBufferStream stream;
  DcmFileFormat file;
  DcmDataset *dataset;
  OFString photometric;
  Uint16 bits_stored = 0;
  const void *rendered;
  gfloat *out;
  gsize n;

  register_codecs_once ();
  stream.setBuffer (data, (offile_off_t) length);
  stream.setEos ();
  file.transferInit ();
  OFCondition status = file.read (stream, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
  file.transferEnd ();
  if (status.bad ())
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: not a readable DICOM file: %s", origin, status.text ());
      return NULL;
    }
  dataset = file.getDataset ();
  if (!dataset->tagExistsWithValue (DCM_PixelData))
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: a DICOM file without pixel data (7FE0,0010)", origin);
      return NULL;
    }
  dataset->findAndGetOFString (DCM_PhotometricInterpretation, photometric);
  if (photometric != "MONOCHROME1" && photometric != "MONOCHROME2")
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_UNSUPPORTED,
                   "%s: photometric interpretation \"%s\": a radiograph is MONOCHROME1 or MONOCHROME2", origin,
                   photometric.c_str ());
      return NULL;
    }
  dataset->findAndGetUint16 (DCM_BitsStored, bits_stored);
  {
    Uint16 rows = 0, columns = 0;
    dataset->findAndGetUint16 (DCM_Rows, rows);
    dataset->findAndGetUint16 (DCM_Columns, columns);
    if (rows == 0 || columns == 0 || rows > max_side || columns > max_side ||
        (guint64) rows * columns > max_pixels)
      {
        g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_UNSUPPORTED, "%s: a %ux%u image: cxrgen reads 1 to %u pixels a "
                     "side and %u in all", origin, (guint) columns, (guint) rows, (guint) max_side,
                     (guint) max_pixels);
        return NULL;
      }
  }

  DicomImage image (&file, dataset->getOriginalXfer (), CIF_UsePartialAccessToPixelData, 0, 1);
  if (image.getStatus () != EIS_Normal)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: cannot decode the DICOM image: %s", origin,
                   DicomImage::getString (image.getStatus ()));
      return NULL;
    }
  if (window_width > 0)
    image.setWindow (window_center, window_width);
  else if (image.getWindowCount () > 0)
    image.setWindow (0);
  else if (image.getVoiLutCount () > 0)
    image.setVoiLut (0);
  else
    image.setMinMaxWindow ();
  *bits = bits_stored > 8 ? 16 : 8;
  *width = (guint) image.getWidth ();
  *height = (guint) image.getHeight ();
  rendered = image.getOutputData (*bits, 0, 0);
  if (rendered == NULL)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: cannot render the DICOM image: %s", origin,
                   DicomImage::getString (image.getStatus ()));
      return NULL;
    }
  n = (gsize) *width * *height;
  out = g_new (gfloat, n);
  if (*bits == 16)
    for (gsize i = 0; i < n; i++)
      out[i] = ((const Uint16 *) rendered)[i] / 65535.0f;
  else
    for (gsize i = 0; i < n; i++)
      out[i] = ((const Uint8 *) rendered)[i] / 255.0f;
  return out;
}
