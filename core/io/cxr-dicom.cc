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
#include <dcmtk/dcmsr/dsrdoc.h>
#include <dcmtk/oflog/oflog.h>

#include <string.h>

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

/* A new UID under 2.25 (PS3.5 B.2): a random UUID as one decimal integer,
 * so that no organisation's root is borrowed. */
static gchar *
new_uid (void)
{
  guint8 bytes[16];
  gchar digits[48];
  guint n = 0;
  gboolean zero = FALSE;

  for (guint i = 0; i < 16; i += 4)
    {
      guint32 r = g_random_int ();
      memcpy (bytes + i, &r, 4);
    }
  bytes[6] = (bytes[6] & 0x0f) | 0x40; /* a version-4 UUID */
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  while (!zero)
    {
      guint remainder = 0;
      zero = TRUE;
      for (guint i = 0; i < 16; i++)
        {
          guint value = (remainder << 8) | bytes[i];
          bytes[i] = (guint8) (value / 10);
          remainder = value % 10;
          if (bytes[i] != 0)
            zero = FALSE;
        }
      digits[n++] = (gchar) ('0' + remainder);
    }
  GString *uid = g_string_new ("2.25.");
  while (n > 0)
    g_string_append_c (uid, digits[--n]);
  return g_string_free (uid, FALSE);
}

extern "C" gboolean
cxr_dicom_save (const gchar *path, const gfloat *pixels, guint width, guint height, guint bits, GError **error)
{
  DcmFileFormat file;
  DcmDataset *ds = file.getDataset ();
  gsize n = (gsize) width * height;
  g_autofree gchar *study = new_uid (), *series = new_uid (), *instance = new_uid ();
  g_autofree Uint16 *words = NULL;
  g_autofree Uint8 *bytes = NULL;
  OFCondition status;

  register_codecs_once ();
  if (width == 0 || height == 0 || width > 65535 || height > 65535)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_UNSUPPORTED, "%s: a %ux%u image does not fit DICOM", path,
                   width, height);
      return FALSE;
    }
  /* Secondary capture of a synthetic image: new UIDs, nothing about any
   * patient (the type 2 attributes are present and empty). */
  ds->putAndInsertString (DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
  ds->putAndInsertString (DCM_SOPInstanceUID, instance);
  ds->putAndInsertString (DCM_StudyInstanceUID, study);
  ds->putAndInsertString (DCM_SeriesInstanceUID, series);
  ds->putAndInsertString (DCM_Modality, "OT");
  ds->putAndInsertString (DCM_ConversionType, "SYN");
  ds->putAndInsertString (DCM_ImageType, "DERIVED\\SECONDARY");
  ds->putAndInsertString (DCM_BurnedInAnnotation, "NO");
  ds->putAndInsertString (DCM_ImageComments, "Synthetic image made by cxrgen; not of a patient");
  ds->putAndInsertString (DCM_Manufacturer, "cxrgen");
  for (const DcmTagKey &empty : { DCM_PatientName, DCM_PatientID, DCM_PatientBirthDate, DCM_PatientSex,
                                  DCM_StudyDate, DCM_StudyTime, DCM_ReferringPhysicianName, DCM_StudyID,
                                  DCM_AccessionNumber, DCM_SeriesNumber, DCM_InstanceNumber,
                                  DCM_PatientOrientation })
    ds->insertEmptyElement (empty);
  ds->putAndInsertUint16 (DCM_SamplesPerPixel, 1);
  ds->putAndInsertString (DCM_PhotometricInterpretation, "MONOCHROME2");
  ds->putAndInsertUint16 (DCM_Rows, (Uint16) height);
  ds->putAndInsertUint16 (DCM_Columns, (Uint16) width);
  ds->putAndInsertUint16 (DCM_BitsAllocated, bits == 16 ? 16 : 8);
  ds->putAndInsertUint16 (DCM_BitsStored, bits == 16 ? 16 : 8);
  ds->putAndInsertUint16 (DCM_HighBit, bits == 16 ? 15 : 7);
  ds->putAndInsertUint16 (DCM_PixelRepresentation, 0);
  /* the full range as the window, so that viewers (and cxrgen) show the
   * values as they are */
  ds->putAndInsertString (DCM_WindowCenter, bits == 16 ? "32767.5" : "127.5");
  ds->putAndInsertString (DCM_WindowWidth, bits == 16 ? "65536" : "256");
  if (bits == 16)
    {
      words = g_new (Uint16, n);
      for (gsize i = 0; i < n; i++)
        words[i] = (Uint16) (pixels[i] > 0.0f ? MIN (pixels[i], 1.0f) * 65535.0f + 0.5f : 0.0f);
      status = ds->putAndInsertUint16Array (DCM_PixelData, words, (unsigned long) n);
    }
  else
    {
      bytes = g_new (Uint8, n + 1);
      bytes[n] = 0; /* an odd length is padded */
      for (gsize i = 0; i < n; i++)
        bytes[i] = (Uint8) (pixels[i] > 0.0f ? MIN (pixels[i], 1.0f) * 255.0f + 0.5f : 0.0f);
      status = ds->putAndInsertUint8Array (DCM_PixelData, bytes, (unsigned long) (n + (n & 1)));
    }
  if (status.good ())
    status = file.saveFile (path, EXS_LittleEndianExplicit);
  if (status.bad ())
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "%s: cannot write the DICOM file: %s", path,
                   status.text ());
      return FALSE;
    }
  return TRUE;
}

/* The UIDs of an image file, to reference it. */
static gboolean
read_image_uids (const gchar *path, OFString uids[4], GError **error)
{
  DcmFileFormat image;
  OFCondition status = image.loadFile (path);
  DcmDataset *ds = image.getDataset ();
  const DcmTagKey tags[4] = { DCM_StudyInstanceUID, DCM_SeriesInstanceUID, DCM_SOPClassUID, DCM_SOPInstanceUID };

  if (status.bad ())
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: not a readable DICOM file: %s", path, status.text ());
      return FALSE;
    }
  for (guint i = 0; i < 4; i++)
    if (ds->findAndGetOFString (tags[i], uids[i]).bad () || uids[i].empty ())
      {
        g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: no %s to reference", path,
                     DcmTag (tags[i]).getTagName ());
        return FALSE;
      }
  return TRUE;
}

extern "C" gboolean
cxr_dicom_save_report (const gchar *path, const gchar *text, const gchar *image_path, GError **error)
{
  DSRDocument doc (DSRTypes::DT_BasicTextSR);
  DcmFileFormat file;
  OFString image[4]; /* study, series, SOP class, SOP instance */
  g_autofree gchar *study = new_uid (), *series = new_uid (), *instance = new_uid ();
  OFCondition status;

  register_codecs_once ();
  if (image_path != NULL && !read_image_uids (image_path, image, error))
    return FALSE;
  if (image_path != NULL)
    {
      g_free (study);
      study = g_strdup (image[0].c_str ());
    }
  doc.setManufacturer ("cxrgen");
  doc.setSpecificCharacterSetType (DSRTypes::CS_UTF8); /* reports are UTF-8 */
  doc.getTree ().addContentItem (DSRTypes::RT_isRoot, DSRTypes::VT_Container);
  doc.getTree ().getCurrentContentItem ().setConceptName (
    DSRCodedEntryValue ("18748-4", "LN", "Diagnostic imaging report"));
  doc.getTree ().addContentItem (DSRTypes::RT_contains, DSRTypes::VT_Text, DSRTypes::AM_belowCurrent);
  doc.getTree ().getCurrentContentItem ().setConceptName (DSRCodedEntryValue ("121071", "DCM", "Finding"));
  doc.getTree ().getCurrentContentItem ().setStringValue (text, OFFalse);
  if (image_path != NULL)
    {
      doc.getTree ().addContentItem (DSRTypes::RT_contains, DSRTypes::VT_Image, DSRTypes::AM_afterCurrent);
      doc.getTree ().getCurrentContentItem ().setConceptName (DSRCodedEntryValue ("121080", "DCM", "Best illustration of finding"));
      doc.getTree ().getCurrentContentItem ().setImageReference (DSRImageReferenceValue (image[2], image[3]), OFFalse);
      doc.getCurrentRequestedProcedureEvidence ().addItem (image[0], image[1], image[2], image[3], OFFalse);
    }
  status = doc.write (*file.getDataset ());
  if (status.good ())
    {
      /* our UIDs, not the toolkit's own root's; the image's study */
      DcmDataset *ds = file.getDataset ();
      ds->putAndInsertString (DCM_StudyInstanceUID, study);
      ds->putAndInsertString (DCM_SeriesInstanceUID, series);
      ds->putAndInsertString (DCM_SOPInstanceUID, instance);
      ds->putAndInsertString (DCM_ContentDescription, "Synthetic report made by cxrgen; not of a patient");
      status = file.saveFile (path, EXS_LittleEndianExplicit);
    }
  if (status.bad ())
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "%s: cannot write the DICOM report: %s", path,
                   status.text ());
      return FALSE;
    }
  return TRUE;
}
