/* plugins/mimic-cxr/cxrmimicwriter.c: mimic-cxr-writer.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "cxrmimicwriter.h"

/**
 * SECTION:mimic-cxr-writer
 *
 * `mimic-cxr-writer` writes studies in the layout of MIMIC-CXR-JPG 2.0.0,
 * so that every reader of that dataset reads them:
 *
 * - files/pXX/pSUBJECT/sSTUDY/DICOM_ID.jpg, one image per sample;
 * - files/pXX/pSUBJECT/sSTUDY.txt, the report of each study;
 * - mimic-cxr-2.0.0-metadata.csv, -chexpert.csv and -split.csv.
 *
 * It takes the fields phantom-source and mimic-cxr-source make: id (the
 * DICOM id), subject, study, view, split, labels (in the encoding the
 * batch's "label-encoding" extra names, CheXpert's when it has none),
 * report and image (with the "image-width" and "image-height" extras). Each file is written to a
 * temporary name and renamed when complete; the CSVs are written when the
 * stream ends. Batches pass through.
 *
 * |[
 * [stage dataset]
 * type=mimic-cxr-writer
 * input=phantoms
 * root=${OUT}/phantom-mimic-cxr-jpg
 * ]|
 */

struct _CxrMimicWriter {
  CxrStage parent_instance;
  gchar *root;
  GString *metadata;
  GString *chexpert;
  GString *split;
  guint64 images;
};

enum { P_0, P_ROOT, N_P };
static GParamSpec *props[N_P];

G_DEFINE_FINAL_TYPE (CxrMimicWriter, cxr_mimic_writer, CXR_TYPE_STAGE)

static gboolean
cxr_mimic_writer_prepare (CxrStage *stage, GError **error)
{
  CxrMimicWriter *self = CXR_MIMIC_WRITER (stage);
  const gchar *const *names = cxr_labels_get_observations ();

  if (self->root == NULL || *self->root == '\0')
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "no root: set root=FOLDER");
      return FALSE;
    }
  if (g_mkdir_with_parents (self->root, 0755) != 0)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "%s: cannot create the folder", self->root);
      return FALSE;
    }
  g_string_assign (self->metadata, "dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,"
                                   "Rows,Columns,StudyDate,StudyTime,ProcedureCodeSequence_CodeMeaning,"
                                   "ViewCodeSequence_CodeMeaning,PatientOrientationCodeSequence_CodeMeaning\n");
  g_string_assign (self->chexpert, "subject_id,study_id");
  for (guint k = 0; k < CXR_N_OBSERVATIONS; k++)
    g_string_append_printf (self->chexpert, ",%s", names[k]);
  g_string_append_c (self->chexpert, '\n');
  g_string_assign (self->split, "dicom_id,study_id,subject_id,split\n");
  self->images = 0;
  return TRUE;
}

static gboolean
write_text (const gchar *path, const gchar *text, GError **error)
{
  g_autoptr (CxrAtomicFile) file = cxr_atomic_file_new (path, error);
  return file != NULL && cxr_atomic_file_write (file, text, strlen (text), error) &&
         cxr_atomic_file_commit (file, error);
}

static const gchar *
need (CxrBatch *batch, const gchar *field, guint i, GError **error)
{
  const gchar *v = cxr_batch_get_strings (batch, field) ? cxr_batch_get_string (batch, field, i) : NULL;
  if (v == NULL)
    g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_MISSING_FIELD, "batch %" G_GUINT64_FORMAT
                 " has no text field \"%s\"", cxr_batch_get_sequence (batch), field);
  return v;
}

static gboolean
safe_component (const gchar *s)
{
  if (*s == '\0' || strcmp (s, ".") == 0 || strcmp (s, "..") == 0)
    return FALSE;
  for (const gchar *p = s; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  return TRUE;
}

static CxrFlowReturn
cxr_mimic_writer_process (CxrStage *stage, guint port, CxrBatch *batch, GError **error)
{
  CxrMimicWriter *self = CXR_MIMIC_WRITER (stage);
  guint n = cxr_batch_get_size (batch);
  guint width = 0;
  const gfloat *labels = cxr_batch_get_floats (batch, CXR_FIELD_LABELS, &width, NULL);
  guint image_width = 0;
  const gfloat *images = cxr_batch_get_floats (batch, "image", &image_width, NULL);
  GVariant *ew = cxr_batch_get_extra (batch, "image-width"), *eh = cxr_batch_get_extra (batch, "image-height");
  guint w = ew ? g_variant_get_uint32 (ew) : 0, h = eh ? g_variant_get_uint32 (eh) : 0;
  GVariant *encoding_name = cxr_batch_get_extra (batch, "label-encoding");
  CxrLabelEncoding encoding = encoding_name && g_str_equal (g_variant_get_string (encoding_name, NULL), "reference")
                                ? CXR_LABEL_ENCODING_REFERENCE : CXR_LABEL_ENCODING_CHEXPERT;

  if (labels == NULL || width != CXR_N_OBSERVATIONS || images == NULL || (gsize) w * h != image_width || w == 0)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_BAD_FIELD,
                   "batch %" G_GUINT64_FORMAT ": needs labels (14 floats), and image with its image-width and "
                   "image-height extras", cxr_batch_get_sequence (batch));
      return CXR_FLOW_ERROR;
    }
  for (guint i = 0; i < n; i++)
    {
      const gchar *id = need (batch, CXR_FIELD_ID, i, error), *subject = id ? need (batch, "subject", i, error) : NULL;
      const gchar *study = subject ? need (batch, "study", i, error) : NULL;
      const gchar *view = study ? need (batch, "view", i, error) : NULL;
      const gchar *split = view ? need (batch, "split", i, error) : NULL;
      const gchar *report = split ? need (batch, CXR_FIELD_REPORT, i, error) : NULL;
      g_autofree gchar *folder = NULL, *study_dir = NULL, *image_path = NULL, *report_path = NULL;
      g_autoptr (CxrImage) image = NULL;

      if (report == NULL)
        return CXR_FLOW_ERROR;
      if (!safe_component (id) || !safe_component (subject) || !safe_component (study) || strlen (subject) < 2)
        {
          g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_BAD_FIELD,
                       "sample %s: ids must be letters, digits, '-', '_' and '.' (subject %s, study %s)", id, subject, study);
          return CXR_FLOW_ERROR;
        }
      folder = g_strdup_printf ("p%.2s", subject);
      study_dir = g_strdup_printf ("%s/files/%s/p%s/s%s", self->root, folder, subject, study);
      if (g_mkdir_with_parents (study_dir, 0755) != 0)
        {
          g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "%s: cannot create the folder", study_dir);
          return CXR_FLOW_ERROR;
        }
      image_path = g_strdup_printf ("%s/%s.jpg", study_dir, id);
      report_path = g_strdup_printf ("%s/files/%s/p%s/s%s.txt", self->root, folder, subject, study);
      image = cxr_image_new (w, h, 8);
      memcpy (cxr_image_get_pixels (image), images + (gsize) i * w * h, (gsize) w * h * sizeof (gfloat));
      if (!cxr_image_save (image, image_path, CXR_IMAGE_FORMAT_JPEG, error) || !write_text (report_path, report, error))
        return CXR_FLOW_ERROR;
      g_string_append_printf (self->metadata, "%s,%s,%s,CHEST (%s),%s,%u,%u,21800101,120000.000,CHEST (%s),"
                                              "%s,Erect\n",
                              id, subject, study, view, view, h, w, view,
                              g_str_equal (view, "AP") ? "antero-posterior"
                              : g_str_equal (view, "LATERAL") ? "lateral" : "postero-anterior");
      g_string_append_printf (self->chexpert, "%s,%s", subject, study);
      for (guint k = 0; k < CXR_N_OBSERVATIONS; k++)
        {
          CxrLabelState state = cxr_labels_decode (labels[(gsize) i * CXR_N_OBSERVATIONS + k], encoding);
          const gchar *text[] = { [CXR_LABEL_BLANK] = "", [CXR_LABEL_POSITIVE] = "1.0",
                                  [CXR_LABEL_NEGATIVE] = "0.0", [CXR_LABEL_UNCERTAIN] = "-1.0" };
          g_string_append_c (self->chexpert, ',');
          g_string_append (self->chexpert, text[state]);
        }
      g_string_append_c (self->chexpert, '\n');
      g_string_append_printf (self->split, "%s,%s,%s,%s\n", id, study, subject, split);
      self->images++;
    }
  return cxr_stage_push (stage, batch);
}

static gboolean
cxr_mimic_writer_finish (CxrStage *stage, GError **error)
{
  CxrMimicWriter *self = CXR_MIMIC_WRITER (stage);
  g_autofree gchar *meta = g_build_filename (self->root, "mimic-cxr-2.0.0-metadata.csv", NULL);
  g_autofree gchar *chex = g_build_filename (self->root, "mimic-cxr-2.0.0-chexpert.csv", NULL);
  g_autofree gchar *split = g_build_filename (self->root, "mimic-cxr-2.0.0-split.csv", NULL);

  return write_text (meta, self->metadata->str, error) && write_text (chex, self->chexpert->str, error) &&
         write_text (split, self->split->str, error);
}

static gchar **
cxr_mimic_writer_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  const gchar *fields[] = { CXR_FIELD_ID, "subject", "study", "view", "split", CXR_FIELD_LABELS, CXR_FIELD_REPORT, "image", NULL };
  return direction == CXR_PORT_INPUT ? g_strdupv ((gchar **) fields) : g_new0 (gchar *, 1);
}

static void
cxr_mimic_writer_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrMimicWriter *self = CXR_MIMIC_WRITER (object);
  if (id == P_ROOT)
    {
      g_free (self->root);
      self->root = g_value_dup_string (value);
    }
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
cxr_mimic_writer_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrMimicWriter *self = CXR_MIMIC_WRITER (object);
  if (id == P_ROOT)
    g_value_set_string (value, self->root);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
cxr_mimic_writer_finalize (GObject *object)
{
  CxrMimicWriter *self = CXR_MIMIC_WRITER (object);
  g_free (self->root);
  g_string_free (self->metadata, TRUE);
  g_string_free (self->chexpert, TRUE);
  g_string_free (self->split, TRUE);
  G_OBJECT_CLASS (cxr_mimic_writer_parent_class)->finalize (object);
}

static void
cxr_mimic_writer_class_init (CxrMimicWriterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);

  object_class->set_property = cxr_mimic_writer_set_property;
  object_class->get_property = cxr_mimic_writer_get_property;
  object_class->finalize = cxr_mimic_writer_finalize;
  stage_class->prepare = cxr_mimic_writer_prepare;
  stage_class->process = cxr_mimic_writer_process;
  stage_class->finish = cxr_mimic_writer_finish;
  stage_class->get_port_fields = cxr_mimic_writer_get_port_fields;
  props[P_ROOT] = g_param_spec_string ("root", "Root", "The folder of the dataset (created)", NULL,
                                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_P, props);
  cxr_stage_class_set_metadata (stage_class, "MIMIC-CXR-JPG writer", "Sink/Data",
                                "Writes studies (JPEG images, reports, metadata, CheXpert labels, splits) in the "
                                "MIMIC-CXR-JPG layout", "The cxrgen developers");
  cxr_stage_class_add_input (stage_class, "in", "id,subject,study,view,split,labels,report,image", "Studies");
  cxr_stage_class_add_output (stage_class, "out", NULL, TRUE, "The same batches");
}

static void
cxr_mimic_writer_init (CxrMimicWriter *self)
{
  self->metadata = g_string_new (NULL);
  self->chexpert = g_string_new (NULL);
  self->split = g_string_new (NULL);
}
