/* plugins/sinks/cxrfilesinks.c: image-sink and report-sink, one file per sample.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "cxrsinks.h"

/**
 * SECTION:file-sinks
 *
 * `image-sink` writes each sample's image to FOLDER/NAME.png (8 or 16
 * bits), .tif or .dcm (16 bits by default; DICOM as a secondary capture of
 * a synthetic image: new UIDs, no patient data) or .jpg; `report-sink` writes each
 * sample's report to FOLDER/NAME.txt, or with format=dicom-sr to
 * FOLDER/NAME.dcm as a DICOM Basic Text SR that references the sample's
 * image when image-sink wrote it as DICOM (the image-path field). NAME is the sample's `name-field`
 * (id by default), which must be a plain file name: letters, digits, "-",
 * "_" and "." (no folders, nothing hidden). Every file is written to a
 * temporary name and renamed when complete, so a folder never holds half
 * an image. Each stage adds the path it wrote as a field (image-path,
 * report-path) for pairs-manifest, and passes the batch on.
 *
 * |[
 * [stage images]
 * type=image-sink
 * input=sampler
 * folder=${OUT}/images
 * format=png
 * bits=16
 * ]|
 */

/* The name a sample's file gets, or NULL with @error set. */
static gchar *
sample_path (CxrBatch *batch, guint i, const gchar *folder, const gchar *name_field, const gchar *extension,
             GError **error)
{
  const gchar *name = cxr_batch_get_strings (batch, name_field) ? cxr_batch_get_string (batch, name_field, i) : NULL;

  if (name == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_MISSING_FIELD,
                   "batch %" G_GUINT64_FORMAT " has no text field \"%s\" to name its files",
                   cxr_batch_get_sequence (batch), name_field);
      return NULL;
    }
  if (*name == '\0' || *name == '.' || strlen (name) > 200)
    goto bad;
  for (const gchar *p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      goto bad;
  return g_strdup_printf ("%s/%s.%s", folder, name, extension);
bad:
  g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_BAD_FIELD,
               "batch %" G_GUINT64_FORMAT ", sample %u: %s \"%s\" is not a plain file name (letters, digits, "
               "-, _ and ., not first)", cxr_batch_get_sequence (batch), i, name_field, name);
  return NULL;
}

static gboolean
make_folder (const gchar *folder, GError **error)
{
  if (folder == NULL || *folder == '\0')
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "no folder: set folder=FOLDER");
      return FALSE;
    }
  if (g_mkdir_with_parents (folder, 0755) != 0)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "%s: cannot create the folder: %s", folder,
                   g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

static gchar **
ports (const gchar *input, const gchar *output, CxrPortDirection direction)
{
  return g_strsplit (direction == CXR_PORT_INPUT ? input : output, ",", -1);
}

/* ----------------------------------------------------------- image-sink */

struct _CxrImageSink {
  CxrStage parent_instance;
  gchar *folder, *format, *name_field, *image_field, *path_field;
  guint bits;
  CxrImageFormat file_format;
};

enum { PI_0, PI_FOLDER, PI_FORMAT, PI_BITS, PI_NAME_FIELD, PI_IMAGE_FIELD, PI_PATH_FIELD, N_PI };
static GParamSpec *image_props[N_PI];

G_DEFINE_FINAL_TYPE (CxrImageSink, cxr_image_sink, CXR_TYPE_STAGE)

static gboolean
cxr_image_sink_prepare (CxrStage *stage, GError **error)
{
  CxrImageSink *self = CXR_IMAGE_SINK (stage);

  if (g_strcmp0 (self->format, "png") == 0)
    self->file_format = CXR_IMAGE_FORMAT_PNG;
  else if (g_strcmp0 (self->format, "tiff") == 0)
    self->file_format = CXR_IMAGE_FORMAT_TIFF;
  else if (g_strcmp0 (self->format, "jpeg") == 0)
    self->file_format = CXR_IMAGE_FORMAT_JPEG;
  else if (g_strcmp0 (self->format, "dicom") == 0)
    self->file_format = CXR_IMAGE_FORMAT_DICOM;
  else
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "format: \"%s\" is not png, tiff, jpeg or dicom",
                   self->format ? self->format : "");
      return FALSE;
    }
  if (self->bits != 0 && self->bits != 8 && self->bits != 16)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "bits: %u is not 8 or 16 (or 0, the format's "
                   "default)", self->bits);
      return FALSE;
    }
  if (self->file_format == CXR_IMAGE_FORMAT_JPEG && self->bits == 16)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "bits: JPEG is 8 bits; use png or tiff for 16");
      return FALSE;
    }
  return make_folder (self->folder, error);
}

static gboolean
cxr_image_sink_transform (CxrStage *stage, CxrBatch *batch, GError **error)
{
  CxrImageSink *self = CXR_IMAGE_SINK (stage);
  guint n = cxr_batch_get_size (batch), width = 0;
  const gfloat *images = cxr_batch_get_floats (batch, self->image_field, &width, NULL);
  GVariant *ew = cxr_batch_get_extra (batch, "image-width"), *eh = cxr_batch_get_extra (batch, "image-height");
  guint w = ew ? g_variant_get_uint32 (ew) : 0, h = eh ? g_variant_get_uint32 (eh) : 0;
  guint bits = self->bits ? self->bits
               : self->file_format == CXR_IMAGE_FORMAT_TIFF || self->file_format == CXR_IMAGE_FORMAT_DICOM ? 16 : 8;
  const gchar *extension = self->file_format == CXR_IMAGE_FORMAT_PNG ? "png"
                           : self->file_format == CXR_IMAGE_FORMAT_TIFF ? "tif"
                           : self->file_format == CXR_IMAGE_FORMAT_DICOM ? "dcm" : "jpg";
  g_auto (GStrv) paths = g_new0 (gchar *, n + 1);

  if (images == NULL || w == 0 || (gsize) w * h != width)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_BAD_FIELD,
                   "batch %" G_GUINT64_FORMAT ": needs the float field \"%s\" with the image-width and "
                   "image-height extras", cxr_batch_get_sequence (batch), self->image_field);
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (CxrImage) image = cxr_image_new (w, h, bits);
      gfloat *pixels = cxr_image_get_pixels (image);
      const gfloat *src = images + (gsize) i * width;

      if ((paths[i] = sample_path (batch, i, self->folder, self->name_field, extension, error)) == NULL)
        return FALSE;
      for (gsize k = 0; k < width; k++)
        pixels[k] = src[k] > 0.0f ? MIN (src[k], 1.0f) : 0.0f; /* NaN too */
      if (!cxr_image_save (image, paths[i], self->file_format, error))
        return FALSE;
    }
  cxr_batch_take_strings (batch, self->path_field, g_steal_pointer (&paths));
  return TRUE;
}

static gchar **
cxr_image_sink_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  CxrImageSink *self = CXR_IMAGE_SINK (stage);
  g_autofree gchar *input = g_strdup_printf ("%s,%s", self->name_field, self->image_field);
  return ports (input, self->path_field, direction);
}

static gchar **
image_string (CxrImageSink *self, guint id)
{
  return id == PI_FOLDER ? &self->folder : id == PI_FORMAT ? &self->format
         : id == PI_NAME_FIELD ? &self->name_field : id == PI_IMAGE_FIELD ? &self->image_field
         : id == PI_PATH_FIELD ? &self->path_field : NULL;
}

static void
cxr_image_sink_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrImageSink *self = CXR_IMAGE_SINK (object);
  gchar **target = image_string (self, id);
  if (target != NULL)
    {
      g_free (*target);
      *target = g_value_dup_string (value);
    }
  else if (id == PI_BITS)
    self->bits = g_value_get_uint (value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
cxr_image_sink_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrImageSink *self = CXR_IMAGE_SINK (object);
  gchar **source = image_string (self, id);
  if (source != NULL)
    g_value_set_string (value, *source);
  else if (id == PI_BITS)
    g_value_set_uint (value, self->bits);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
cxr_image_sink_finalize (GObject *object)
{
  CxrImageSink *self = CXR_IMAGE_SINK (object);
  g_free (self->folder);
  g_free (self->format);
  g_free (self->name_field);
  g_free (self->image_field);
  g_free (self->path_field);
  G_OBJECT_CLASS (cxr_image_sink_parent_class)->finalize (object);
}

static void
cxr_image_sink_class_init (CxrImageSinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_image_sink_set_property;
  object_class->get_property = cxr_image_sink_get_property;
  object_class->finalize = cxr_image_sink_finalize;
  stage_class->prepare = cxr_image_sink_prepare;
  stage_class->transform = cxr_image_sink_transform;
  stage_class->get_port_fields = cxr_image_sink_get_port_fields;
  image_props[PI_FOLDER] = g_param_spec_string ("folder", "Folder", "Where the images go (created)", NULL, flags);
  image_props[PI_FORMAT] = g_param_spec_string ("format", "Format", "png, tiff, jpeg or dicom", "png", flags);
  image_props[PI_BITS] = g_param_spec_uint ("bits", "Bits", "8 or 16 bits a pixel (0: PNG and JPEG 8, TIFF and DICOM 16)", 0,
                                            16, 0, flags);
  image_props[PI_NAME_FIELD] = g_param_spec_string ("name-field", "Name field", "The text field naming each file",
                                                    CXR_FIELD_ID, flags);
  image_props[PI_IMAGE_FIELD] = g_param_spec_string ("image-field", "Image field",
                                                     "The float field of the images, gray in [0, 1]", "image", flags);
  image_props[PI_PATH_FIELD] = g_param_spec_string ("path-field", "Path field",
                                                    "The text field to put each file's path in", "image-path", flags);
  g_object_class_install_properties (object_class, N_PI, image_props);
  cxr_stage_class_set_metadata (stage_class, "Image writer", "Sink/Image",
                                "Writes each sample's image to a PNG, TIFF or JPEG file, atomically",
                                "The cxrgen developers");
  cxr_stage_class_add_input (stage_class, "in", "id,image", "Samples with images");
  cxr_stage_class_add_output (stage_class, "out", "image-path", TRUE, "The same batches, with the paths written");
}

static void
cxr_image_sink_init (CxrImageSink *self)
{
}

/* ---------------------------------------------------------- report-sink */

struct _CxrReportSink {
  CxrStage parent_instance;
  gchar *folder, *name_field, *report_field, *path_field, *format;
};

enum { PR_0, PR_FOLDER, PR_NAME_FIELD, PR_REPORT_FIELD, PR_PATH_FIELD, PR_FORMAT, N_PR };
static GParamSpec *report_props[N_PR];

G_DEFINE_FINAL_TYPE (CxrReportSink, cxr_report_sink, CXR_TYPE_STAGE)

static gboolean
cxr_report_sink_prepare (CxrStage *stage, GError **error)
{
  CxrReportSink *self = CXR_REPORT_SINK (stage);
  if (!g_strv_contains ((const gchar *const[]) { "text", "dicom-sr", NULL }, self->format ? self->format : ""))
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "format: \"%s\" is not text or dicom-sr",
                   self->format ? self->format : "");
      return FALSE;
    }
  return make_folder (self->folder, error);
}

static gboolean
cxr_report_sink_transform (CxrStage *stage, CxrBatch *batch, GError **error)
{
  CxrReportSink *self = CXR_REPORT_SINK (stage);
  guint n = cxr_batch_get_size (batch);
  g_auto (GStrv) paths = g_new0 (gchar *, n + 1);

  if (cxr_batch_get_strings (batch, self->report_field) == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_MISSING_FIELD, "batch %" G_GUINT64_FORMAT
                   " has no text field \"%s\"", cxr_batch_get_sequence (batch), self->report_field);
      return FALSE;
    }
  gboolean sr = g_str_equal (self->format, "dicom-sr");
  gboolean images = cxr_batch_get_field_kind (batch, "image-path") == CXR_FIELD_KIND_STRINGS;

  for (guint i = 0; i < n; i++)
    {
      const gchar *report = cxr_batch_get_string (batch, self->report_field, i);
      g_autoptr (CxrAtomicFile) file = NULL;
      g_autofree gchar *text = g_strdup_printf ("%s\n", report ? report : "");

      if ((paths[i] = sample_path (batch, i, self->folder, self->name_field, sr ? "dcm" : "txt", error)) == NULL)
        return FALSE;
      if (sr)
        {
          /* the image, when image-sink wrote it as DICOM */
          const gchar *image = images ? cxr_batch_get_string (batch, "image-path", i) : NULL;
          if (!cxr_report_save_dicom_sr (paths[i], report ? report : "",
                                         image && g_str_has_suffix (image, ".dcm") ? image : NULL, error))
            return FALSE;
          continue;
        }
      file = cxr_atomic_file_new (paths[i], error);
      if (file == NULL || !cxr_atomic_file_write (file, text, strlen (text), error) ||
          !cxr_atomic_file_commit (file, error))
        return FALSE;
    }
  cxr_batch_take_strings (batch, self->path_field, g_steal_pointer (&paths));
  return TRUE;
}

static gchar **
cxr_report_sink_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  CxrReportSink *self = CXR_REPORT_SINK (stage);
  g_autofree gchar *input = g_strdup_printf ("%s,%s", self->name_field, self->report_field);
  return ports (input, self->path_field, direction);
}

static gchar **
report_string (CxrReportSink *self, guint id)
{
  return id == PR_FOLDER ? &self->folder : id == PR_NAME_FIELD ? &self->name_field
         : id == PR_REPORT_FIELD ? &self->report_field : id == PR_PATH_FIELD ? &self->path_field
         : id == PR_FORMAT ? &self->format : NULL;
}

static void
cxr_report_sink_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  gchar **target = report_string (CXR_REPORT_SINK (object), id);
  if (target == NULL)
    {
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
      return;
    }
  g_free (*target);
  *target = g_value_dup_string (value);
}

static void
cxr_report_sink_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  gchar **source = report_string (CXR_REPORT_SINK (object), id);
  if (source == NULL)
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  else
    g_value_set_string (value, *source);
}

static void
cxr_report_sink_finalize (GObject *object)
{
  CxrReportSink *self = CXR_REPORT_SINK (object);
  g_free (self->folder);
  g_free (self->name_field);
  g_free (self->report_field);
  g_free (self->path_field);
  g_free (self->format);
  G_OBJECT_CLASS (cxr_report_sink_parent_class)->finalize (object);
}

static void
cxr_report_sink_class_init (CxrReportSinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_report_sink_set_property;
  object_class->get_property = cxr_report_sink_get_property;
  object_class->finalize = cxr_report_sink_finalize;
  stage_class->prepare = cxr_report_sink_prepare;
  stage_class->transform = cxr_report_sink_transform;
  stage_class->get_port_fields = cxr_report_sink_get_port_fields;
  report_props[PR_FOLDER] = g_param_spec_string ("folder", "Folder", "Where the reports go (created)", NULL, flags);
  report_props[PR_NAME_FIELD] = g_param_spec_string ("name-field", "Name field", "The text field naming each file",
                                                     CXR_FIELD_ID, flags);
  report_props[PR_REPORT_FIELD] = g_param_spec_string ("report-field", "Report field", "The text field of the reports",
                                                       CXR_FIELD_REPORT, flags);
  report_props[PR_PATH_FIELD] = g_param_spec_string ("path-field", "Path field",
                                                     "The text field to put each file's path in", "report-path", flags);
  report_props[PR_FORMAT] = g_param_spec_string ("format", "Format", "text (ID.txt) or dicom-sr (ID.dcm, a Basic Text "
                                                 "SR that references the image when image-path is a DICOM file)",
                                                 "text", flags);
  g_object_class_install_properties (object_class, N_PR, report_props);
  cxr_stage_class_set_metadata (stage_class, "Report writer", "Sink/Text",
                                "Writes each sample's report to a text file, atomically", "The cxrgen developers");
  cxr_stage_class_add_input (stage_class, "in", "id,report", "Samples with reports");
  cxr_stage_class_add_output (stage_class, "out", "report-path", TRUE, "The same batches, with the paths written");
}

static void
cxr_report_sink_init (CxrReportSink *self)
{
}
