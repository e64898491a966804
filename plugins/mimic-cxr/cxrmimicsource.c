/* plugins/mimic-cxr/cxrmimicsource.c: mimic-cxr-source.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cxrmimicsource.h"

/**
 * SECTION:mimic-cxr-source
 *
 * `mimic-cxr-source` reads a MIMIC-CXR-JPG 2.0.0 tree (or the phantom
 * dataset, which has the same layout):
 *
 * - mimic-cxr-2.0.0-metadata.csv: one row per image (dicom_id,
 *   subject_id, study_id, ViewPosition), the order samples come in;
 * - mimic-cxr-2.0.0-split.csv: the split of each image;
 * - mimic-cxr-2.0.0-chexpert.csv: the 14 labels of each study;
 * - files/pXX/pSUBJECT/sSTUDY/DICOM_ID.jpg and files/pXX/pSUBJECT/sSTUDY.txt.
 *
 * Each CSV may be gzip-compressed (name.csv.gz), as PhysioNet ships them.
 * The selection is split (train, validate, test or any), view (PA, AP,
 * LATERAL..., a comma list, or any) and subject folders (the paper trains
 * on p10-p18 and tests on p19: `subjects=p10-p18`); then `limit` keeps the
 * first samples, `shuffle` reorders every epoch with `seed`.
 *
 * Every sample carries id (the DICOM id), subject, study, view, split,
 * path (of its image), labels (14 floats in `label-encoding`, also set as
 * the batch's "label-encoding" extra), report (the whole text), findings
 * and impression (those sections, empty when absent), and reference and
 * reference-path: the paper's reference image for the sample's label
 * vector, the first image of the training split (in metadata order, among
 * the selected views) with the same vector, or empty when the training
 * split has none. With image-size > 0 it also carries image: the
 * radiograph as the reference preprocesses it (PIL's bilinear resize to a
 * square), gray in [0, 1], with the "image-width" and "image-height"
 * extras; a batch's images decode in parallel (OpenMP).
 *
 * A malformed CSV fails the run with FILE:LINE. A missing or undecodable
 * image or report fails it too, naming the file, unless `on-error=skip`:
 * then the sample is left out with a warning, and the count of samples
 * skipped is reported when the stream ends.
 *
 * |[
 * [stage train]
 * type=mimic-cxr-source
 * root=${MIMIC}
 * split=train
 * view=PA,AP
 * subjects=p10-p18
 * image-size=256
 * shuffle=true
 * epochs=20
 * ]|
 */

typedef struct {
  gchar *dicom_id, *subject, *study, *view, *split;
  gchar *reference, *reference_path; /* NULL when the training split has none */
  gfloat labels[CXR_N_OBSERVATIONS]; /* CheXpert encoding, NaN blank */
} Sample;

struct _CxrMimicSource {
  CxrStage parent_instance;
  gchar *root, *split, *view, *subjects;
  CxrLabelEncoding encoding;
  guint image_size, epochs, limit, batch_size;
  gchar *on_error;
  gboolean shuffle;
  guint64 seed;

  GArray *samples;    /* Sample */
  guint *order;       /* one epoch's permutation */
  guint epoch, next;  /* position */
  guint64 skipped;
};

enum {
  P_0, P_ROOT, P_SPLIT, P_VIEW, P_SUBJECTS, P_ENCODING, P_IMAGE_SIZE, P_SHUFFLE, P_SEED, P_EPOCHS, P_LIMIT,
  P_BATCH_SIZE, P_ON_ERROR, N_P
};
static GParamSpec *props[N_P];

G_DEFINE_FINAL_TYPE (CxrMimicSource, cxr_mimic_source, CXR_TYPE_STAGE)

static void
sample_clear (gpointer data)
{
  Sample *s = data;
  g_free (s->dicom_id);
  g_free (s->subject);
  g_free (s->study);
  g_free (s->view);
  g_free (s->split);
  g_free (s->reference);
  g_free (s->reference_path);
}

/* ------------------------------------------------------------- reports */

/* A heading: a line that starts with capital letters (and spaces) and a
 * colon, as MIMIC-CXR's reports have them ("FINDINGS:", "IMPRESSION:"). */
static gboolean
heading_at (const gchar *p, const gchar **name_end, const gchar **text_start)
{
  const gchar *q = p;
  while (*q == ' ' || *q == '\t')
    q++;
  p = q;
  while (g_ascii_isupper (*q) || *q == ' ' || *q == '/' || *q == '&' || *q == '-')
    q++;
  if (*q != ':' || q - p < 3 || !g_ascii_isupper (*p))
    return FALSE;
  *name_end = q;
  *text_start = q + 1;
  return TRUE;
}

/**
 * cxr_mimic_report_section:
 * @text: a report
 * @heading: a section's heading without its colon, such as "FINDINGS"
 *
 * Extracts one section of a MIMIC-CXR report: the text after the line
 * that starts with @heading and a colon, up to the next heading, with its
 * whitespace collapsed to single spaces.
 *
 * Returns: (transfer full): the section, "" when the report has none
 */
gchar *
cxr_mimic_report_section (const gchar *text, const gchar *heading)
{
  gsize len = strlen (heading);
  const gchar *line = text, *start = NULL, *end = NULL;
  GString *out;

  while (line != NULL && *line != '\0')
    {
      const gchar *name_end, *text_start, *nl = strchr (line, '\n');
      if (heading_at (line, &name_end, &text_start))
        {
          const gchar *name = line;
          while (*name == ' ' || *name == '\t')
            name++;
          if (start != NULL)
            {
              end = line;
              break;
            }
          if ((gsize) (name_end - name) == len && strncmp (name, heading, len) == 0)
            start = text_start;
        }
      line = nl ? nl + 1 : NULL;
    }
  if (start == NULL)
    return g_strdup ("");
  if (end == NULL)
    end = start + strlen (start);
  out = g_string_new (NULL);
  for (const gchar *p = start; p < end; p++)
    {
      if (g_ascii_isspace (*p))
        {
          if (out->len > 0 && out->str[out->len - 1] != ' ')
            g_string_append_c (out, ' ');
        }
      else
        g_string_append_c (out, *p);
    }
  if (out->len > 0 && out->str[out->len - 1] == ' ')
    g_string_truncate (out, out->len - 1);
  return g_string_free (out, FALSE);
}

/* ----------------------------------------------------------------- CSVs */

/* mimic-cxr-2.0.0-NAME.csv, or its .csv.gz (the CSV reader falls back) */
static CxrCsvReader *
open_table (CxrMimicSource *self, const gchar *name, GError **error)
{
  g_autofree gchar *path = g_strdup_printf ("%s/mimic-cxr-2.0.0-%s.csv", self->root, name);
  return cxr_csv_reader_open (path, error);
}

static gboolean
parse_label (const gchar *text, gfloat *value)
{
  gchar *end;
  gdouble v;

  if (*text == '\0')
    {
      *value = NAN;
      return TRUE;
    }
  v = g_ascii_strtod (text, &end);
  if (*end != '\0' || (v != 1.0 && v != 0.0 && v != -1.0))
    return FALSE;
  *value = (gfloat) v;
  return TRUE;
}

/* study key "SUBJECT/STUDY" -> gfloat[14] */
static GHashTable *
read_labels (CxrMimicSource *self, GError **error)
{
  g_autoptr (CxrCsvReader) csv = open_table (self, "chexpert", error);
  g_autoptr (GHashTable) table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  const gchar *const keys[] = { "subject_id", "study_id", NULL };
  const gchar *const *names = cxr_labels_get_observations ();
  gint key_index[2], label_index[CXR_N_OBSERVATIONS];
  g_autoptr (GError) local = NULL;

  if (csv == NULL || !cxr_csv_reader_find_columns (csv, keys, key_index, error) ||
      !cxr_csv_reader_find_columns (csv, names, label_index, error))
    return NULL;
  while (cxr_csv_reader_next (csv, &local))
    {
      gfloat *labels = g_new (gfloat, CXR_N_OBSERVATIONS);
      for (guint k = 0; k < CXR_N_OBSERVATIONS; k++)
        if (!parse_label (cxr_csv_reader_get (csv, (guint) label_index[k]), &labels[k]))
          {
            g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s:%u: column %s: \"%s\" is not 1.0, 0.0, -1.0 "
                         "or empty", cxr_csv_reader_get_origin (csv), cxr_csv_reader_get_line (csv), names[k],
                         cxr_csv_reader_get (csv, (guint) label_index[k]));
            g_free (labels);
            return NULL;
          }
      g_hash_table_replace (table, g_strdup_printf ("%s/%s", cxr_csv_reader_get (csv, (guint) key_index[0]),
                                                    cxr_csv_reader_get (csv, (guint) key_index[1])), labels);
    }
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  return g_steal_pointer (&table);
}

/* dicom_id -> split */
static GHashTable *
read_splits (CxrMimicSource *self, GError **error)
{
  g_autoptr (CxrCsvReader) csv = open_table (self, "split", error);
  g_autoptr (GHashTable) table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  const gchar *const keys[] = { "dicom_id", "split", NULL };
  gint index[2];
  g_autoptr (GError) local = NULL;

  if (csv == NULL || !cxr_csv_reader_find_columns (csv, keys, index, error))
    return NULL;
  while (cxr_csv_reader_next (csv, &local))
    g_hash_table_replace (table, g_strdup (cxr_csv_reader_get (csv, (guint) index[0])),
                          g_strdup (cxr_csv_reader_get (csv, (guint) index[1])));
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  return g_steal_pointer (&table);
}

/* "p10-p18", "p19", "p10,p12" or "" -> a mask over the folders p00 ... p99 */
static gboolean
parse_subjects (const gchar *text, gboolean mask[100], GError **error)
{
  g_auto (GStrv) parts = NULL;

  for (guint i = 0; i < 100; i++)
    mask[i] = text == NULL || *text == '\0';
  if (text == NULL || *text == '\0')
    return TRUE;
  parts = g_strsplit (text, ",", -1);
  for (guint i = 0; parts[i]; i++)
    {
      guint a, b;
      gchar tail;
      g_strstrip (parts[i]);
      if (sscanf (parts[i], "p%2u-p%2u%c", &a, &b, &tail) == 2 && a <= b && b < 100)
        ;
      else if (sscanf (parts[i], "p%2u%c", &a, &tail) == 1 && a < 100)
        b = a;
      else
        {
          g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED,
                       "subjects: \"%s\" is not a folder such as p19 or a range such as p10-p18", parts[i]);
          return FALSE;
        }
      for (guint f = a; f <= b; f++)
        mask[f] = TRUE;
    }
  return TRUE;
}

/* "PA,AP" -> { "PA", "AP" }; "any" or "" -> NULL, every view */
static GStrv
parse_views (const gchar *views)
{
  GStrv parts;

  if (views == NULL || *views == '\0' || g_ascii_strcasecmp (views, "any") == 0)
    return NULL;
  parts = g_strsplit (views, ",", -1);
  for (guint i = 0; parts[i]; i++)
    g_strstrip (parts[i]);
  return parts;
}

static gboolean
view_selected (const GStrv views, const gchar *view)
{
  if (views == NULL)
    return TRUE;
  for (guint i = 0; views[i]; i++)
    if (g_ascii_strcasecmp (views[i], view) == 0)
      return TRUE;
  return FALSE;
}

static gchar *
label_key (const gfloat *labels)
{
  GString *key = g_string_new (NULL);
  for (guint k = 0; k < CXR_N_OBSERVATIONS; k++)
    g_string_append_c (key, isnan (labels[k]) ? 'b' : labels[k] == 1.0f ? 'p' : labels[k] == 0.0f ? 'n' : 'u');
  return g_string_free (key, FALSE);
}

static gchar *
study_folder (CxrMimicSource *self, const gchar *subject, const gchar *study)
{
  return g_strdup_printf ("%s/files/p%.2s/p%s/s%s", self->root, subject, subject, study);
}

static gboolean
cxr_mimic_source_prepare (CxrStage *stage, GError **error)
{
  CxrMimicSource *self = CXR_MIMIC_SOURCE (stage);
  g_autoptr (GHashTable) labels = NULL, splits = NULL;
  g_autoptr (GHashTable) references = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GHashTable) reference_paths = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (CxrCsvReader) csv = NULL;
  const gchar *const keys[] = { "dicom_id", "subject_id", "study_id", "ViewPosition", NULL };
  gint index[4];
  gboolean folders[100];
  g_auto (GStrv) views = parse_views (self->view);
  g_autoptr (GError) local = NULL;

  if (self->root == NULL || *self->root == '\0')
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "no root: set root=FOLDER (a MIMIC-CXR-JPG tree)");
      return FALSE;
    }
  if (self->split == NULL || !g_strv_contains ((const gchar *const[]) { "train", "validate", "test", "any", NULL },
                                               self->split))
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "split: \"%s\" is not train, validate, test or any",
                   self->split ? self->split : "");
      return FALSE;
    }
  if (self->on_error == NULL || !g_strv_contains ((const gchar *const[]) { "fail", "skip", NULL }, self->on_error))
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "on-error: \"%s\" is not fail or skip",
                   self->on_error ? self->on_error : "");
      return FALSE;
    }
  if (!parse_subjects (self->subjects, folders, error) || (labels = read_labels (self, error)) == NULL ||
      (splits = read_splits (self, error)) == NULL || (csv = open_table (self, "metadata", error)) == NULL ||
      !cxr_csv_reader_find_columns (csv, keys, index, error))
    return FALSE;
  g_array_set_size (self->samples, 0);
  self->skipped = 0;
  while (cxr_csv_reader_next (csv, &local))
    {
      const gchar *dicom = cxr_csv_reader_get (csv, (guint) index[0]);
      const gchar *subject = cxr_csv_reader_get (csv, (guint) index[1]);
      const gchar *study = cxr_csv_reader_get (csv, (guint) index[2]);
      const gchar *view = cxr_csv_reader_get (csv, (guint) index[3]);
      g_autofree gchar *study_key = g_strdup_printf ("%s/%s", subject, study);
      const gfloat *found = g_hash_table_lookup (labels, study_key);
      const gchar *split = g_hash_table_lookup (splits, dicom);
      guint folder;
      Sample s = { 0 };

      if (strlen (subject) < 2 || !g_ascii_isdigit (subject[0]) || !g_ascii_isdigit (subject[1]) ||
          *study == '\0' || *dicom == '\0')
        {
          g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s:%u: a row needs dicom_id, subject_id and "
                       "study_id", cxr_csv_reader_get_origin (csv), cxr_csv_reader_get_line (csv));
          return FALSE;
        }
      if (split == NULL)
        {
          g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s:%u: image %s is not in the split file",
                       cxr_csv_reader_get_origin (csv), cxr_csv_reader_get_line (csv), dicom);
          return FALSE;
        }
      for (guint k = 0; k < CXR_N_OBSERVATIONS; k++)
        s.labels[k] = found ? found[k] : NAN;
      /* the reference index: the training split's first image per label vector */
      if (g_str_equal (split, "train") && view_selected (views, view))
        {
          gchar *key = label_key (s.labels);
          if (!g_hash_table_contains (references, key))
            {
              g_autofree gchar *folder_path = study_folder (self, subject, study);
              g_hash_table_insert (references, key, g_strdup (dicom));
              g_hash_table_insert (reference_paths, g_strdup (dicom), g_strdup_printf ("%s/%s.jpg", folder_path, dicom));
            }
          else
            g_free (key);
        }
      folder = (guint) (subject[0] - '0') * 10 + (guint) (subject[1] - '0');
      if (!folders[folder] || !view_selected (views, view) ||
          (!g_str_equal (self->split, "any") && !g_str_equal (self->split, split)))
        continue;
      if (self->limit > 0 && self->samples->len >= self->limit)
        continue;
      s.dicom_id = g_strdup (dicom);
      s.subject = g_strdup (subject);
      s.study = g_strdup (study);
      s.view = g_strdup (view);
      s.split = g_strdup (split);
      g_array_append_val (self->samples, s);
    }
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  for (guint i = 0; i < self->samples->len; i++)
    {
      Sample *s = &g_array_index (self->samples, Sample, i);
      g_autofree gchar *key = label_key (s->labels);
      const gchar *ref = g_hash_table_lookup (references, key);
      if (ref != NULL)
        {
          s->reference = g_strdup (ref);
          s->reference_path = g_strdup (g_hash_table_lookup (reference_paths, ref));
        }
    }
  g_free (self->order);
  self->order = g_new (guint, MAX (self->samples->len, 1));
  self->epoch = 0;
  self->next = 0;
  cxr_stage_set_total (stage, (gint64) self->samples->len * self->epochs);
  return TRUE;
}

/* One epoch's order: the CSV's, or a Fisher-Yates shuffle seeded by
 * (seed, epoch), so that a run is reproducible and epochs differ. */
static void
start_epoch (CxrMimicSource *self)
{
  guint n = self->samples->len;
  for (guint i = 0; i < n; i++)
    self->order[i] = i;
  if (self->shuffle && n > 1)
    {
      guint32 key[3] = { (guint32) self->seed, (guint32) (self->seed >> 32), self->epoch };
      g_autoptr (GRand) r = g_rand_new_with_seed_array (key, 3);
      for (guint i = n - 1; i > 0; i--)
        {
          guint j = (guint) g_rand_int_range (r, 0, (gint32) i + 1), t = self->order[i];
          self->order[i] = self->order[j];
          self->order[j] = t;
        }
    }
}

typedef struct {
  gchar *report, *path;
  gfloat *image;
  GError *error;
} Loaded;

static void
load_one (CxrMimicSource *self, const Sample *s, Loaded *out)
{
  g_autofree gchar *folder = study_folder (self, s->subject, s->study);
  g_autofree gchar *report_path = g_strdup_printf ("%s.txt", folder);
  gsize length;

  out->path = g_strdup_printf ("%s/%s.jpg", folder, s->dicom_id);
  if (!g_file_get_contents (report_path, &out->report, &length, NULL))
    {
      g_set_error (&out->error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "%s: the report is missing or unreadable",
                   report_path);
      return;
    }
  if (!g_utf8_validate (out->report, (gssize) length, NULL))
    {
      g_set_error (&out->error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: the report is not UTF-8 text", report_path);
      return;
    }
  if (self->image_size > 0)
    {
      g_autoptr (CxrImage) image = cxr_image_load (out->path, self->image_size, &out->error);
      g_autoptr (CxrTensor) pixels = NULL;
      const gfloat *p;
      gsize n = (gsize) self->image_size * self->image_size;

      if (image == NULL)
        return;
      pixels = cxr_image_preprocess (image, self->image_size, 1);
      p = cxr_tensor_get_data (pixels);
      out->image = g_new (gfloat, n);
      for (gsize i = 0; i < n; i++)
        out->image[i] = p[i] * 0.5f + 0.5f; /* back from [-1, 1] */
    }
}

static CxrFlowReturn
cxr_mimic_source_process (CxrStage *stage, guint port, CxrBatch *unused, GError **error)
{
  CxrMimicSource *self = CXR_MIMIC_SOURCE (stage);
  guint n, kept = 0;
  gsize side = self->image_size, pixels = side * side;
  g_autofree Loaded *loaded = NULL;
  g_autoptr (CxrBatch) batch = NULL;
  g_autofree gfloat *labels = NULL, *images = NULL;
  gchar **fields[12];
  const gchar *names[12] = { CXR_FIELD_ID, "subject", "study", "view", "split", "path", CXR_FIELD_REPORT,
                             "findings", "impression", "reference", "reference-path", NULL };
  const Sample **picked;

  if (self->samples->len == 0)
    return CXR_FLOW_EOS;
  if (self->next == 0 && self->epoch < self->epochs)
    start_epoch (self);
  if (self->epoch >= self->epochs)
    return CXR_FLOW_EOS;
  n = MIN (self->batch_size, self->samples->len - self->next);
  picked = g_newa (const Sample *, n);
  for (guint b = 0; b < n; b++)
    picked[b] = &g_array_index (self->samples, Sample, self->order[self->next + b]);
  loaded = g_new0 (Loaded, n);
#pragma omp parallel for schedule(dynamic, 1) if (n > 1 && self->image_size > 0)
  for (guint b = 0; b < n; b++)
    load_one (self, picked[b], &loaded[b]);

  labels = g_new (gfloat, (gsize) n * CXR_N_OBSERVATIONS);
  images = self->image_size > 0 ? g_new (gfloat, (gsize) n * pixels) : NULL;
  for (guint f = 0; names[f]; f++)
    fields[f] = g_new0 (gchar *, n + 1);
  for (guint b = 0; b < n; b++)
    {
      const Sample *s = picked[b];
      Loaded *l = &loaded[b];
      if (l->error != NULL)
        {
          if (!g_str_equal (self->on_error, "skip"))
            {
              g_propagate_error (error, l->error);
              l->error = NULL;
              kept = G_MAXUINT;
              break;
            }
          g_warning ("%s: %s; the sample is skipped (on-error=skip)", cxr_stage_get_name (stage), l->error->message);
          g_clear_error (&l->error);
          self->skipped++;
          continue;
        }
      for (guint k = 0; k < CXR_N_OBSERVATIONS; k++)
        {
          CxrLabelState state = cxr_labels_decode (s->labels[k], CXR_LABEL_ENCODING_CHEXPERT);
          labels[(gsize) kept * CXR_N_OBSERVATIONS + k] = cxr_labels_encode (state, self->encoding);
        }
      if (images != NULL)
        memcpy (images + (gsize) kept * pixels, l->image, pixels * sizeof (gfloat));
      fields[0][kept] = g_strdup (s->dicom_id);
      fields[1][kept] = g_strdup (s->subject);
      fields[2][kept] = g_strdup (s->study);
      fields[3][kept] = g_strdup (s->view);
      fields[4][kept] = g_strdup (s->split);
      fields[5][kept] = g_steal_pointer (&l->path);
      fields[7][kept] = cxr_mimic_report_section (l->report, "FINDINGS");
      fields[8][kept] = cxr_mimic_report_section (l->report, "IMPRESSION");
      fields[6][kept] = g_steal_pointer (&l->report);
      fields[9][kept] = g_strdup (s->reference ? s->reference : "");
      fields[10][kept] = g_strdup (s->reference_path ? s->reference_path : "");
      kept++;
    }
  for (guint b = 0; b < n; b++)
    {
      g_free (loaded[b].report);
      g_free (loaded[b].path);
      g_free (loaded[b].image);
      g_clear_error (&loaded[b].error);
    }
  if (kept == G_MAXUINT)
    {
      for (guint f = 0; names[f]; f++)
        g_strfreev (fields[f]);
      return CXR_FLOW_ERROR;
    }
  self->next += n;
  if (self->next >= self->samples->len)
    {
      self->next = 0;
      self->epoch++;
    }
  batch = cxr_batch_new (kept);
  for (guint f = 0; names[f]; f++)
    cxr_batch_take_strings (batch, names[f], fields[f]);
  cxr_batch_set_floats (batch, CXR_FIELD_LABELS, CXR_N_OBSERVATIONS, labels, (gsize) kept * CXR_N_OBSERVATIONS);
  cxr_batch_set_extra (batch, "label-encoding",
                       g_variant_new_string (self->encoding == CXR_LABEL_ENCODING_CHEXPERT ? "chexpert" : "reference"));
  if (images != NULL)
    {
      cxr_batch_set_floats (batch, "image", (guint) pixels, images, (gsize) kept * pixels);
      cxr_batch_set_extra (batch, "image-width", g_variant_new_uint32 ((guint32) side));
      cxr_batch_set_extra (batch, "image-height", g_variant_new_uint32 ((guint32) side));
    }
  if (kept == 0)
    return CXR_FLOW_OK;
  return cxr_stage_push (stage, batch);
}

static gboolean
cxr_mimic_source_finish (CxrStage *stage, GError **error)
{
  CxrMimicSource *self = CXR_MIMIC_SOURCE (stage);
  if (self->skipped > 0)
    g_warning ("%s: %" G_GUINT64_FORMAT " samples were skipped (see the warnings above)", cxr_stage_get_name (stage),
               self->skipped);
  return TRUE;
}

static gchar **
cxr_mimic_source_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  CxrMimicSource *self = CXR_MIMIC_SOURCE (stage);
  GStrvBuilder *b = g_strv_builder_new ();
  gchar **out;

  if (direction == CXR_PORT_OUTPUT)
    {
      const gchar *fields[] = { CXR_FIELD_ID, "subject", "study", "view", "split", "path", CXR_FIELD_LABELS,
                                CXR_FIELD_REPORT, "findings", "impression", "reference", "reference-path", NULL };
      g_strv_builder_addv (b, fields);
      if (self->image_size > 0)
        g_strv_builder_add (b, "image");
    }
  out = g_strv_builder_end (b);
  g_strv_builder_unref (b);
  return out;
}

static void
cxr_mimic_source_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrMimicSource *self = CXR_MIMIC_SOURCE (object);
  switch (id)
    {
    case P_ROOT: g_free (self->root); self->root = g_value_dup_string (value); break;
    case P_SPLIT: g_free (self->split); self->split = g_value_dup_string (value); break;
    case P_VIEW: g_free (self->view); self->view = g_value_dup_string (value); break;
    case P_SUBJECTS: g_free (self->subjects); self->subjects = g_value_dup_string (value); break;
    case P_ENCODING: self->encoding = g_value_get_enum (value); break;
    case P_IMAGE_SIZE: self->image_size = g_value_get_uint (value); break;
    case P_SHUFFLE: self->shuffle = g_value_get_boolean (value); break;
    case P_SEED: self->seed = g_value_get_uint64 (value); break;
    case P_EPOCHS: self->epochs = g_value_get_uint (value); break;
    case P_LIMIT: self->limit = g_value_get_uint (value); break;
    case P_BATCH_SIZE: self->batch_size = g_value_get_uint (value); break;
    case P_ON_ERROR: g_free (self->on_error); self->on_error = g_value_dup_string (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_mimic_source_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrMimicSource *self = CXR_MIMIC_SOURCE (object);
  switch (id)
    {
    case P_ROOT: g_value_set_string (value, self->root); break;
    case P_SPLIT: g_value_set_string (value, self->split); break;
    case P_VIEW: g_value_set_string (value, self->view); break;
    case P_SUBJECTS: g_value_set_string (value, self->subjects); break;
    case P_ENCODING: g_value_set_enum (value, self->encoding); break;
    case P_IMAGE_SIZE: g_value_set_uint (value, self->image_size); break;
    case P_SHUFFLE: g_value_set_boolean (value, self->shuffle); break;
    case P_SEED: g_value_set_uint64 (value, self->seed); break;
    case P_EPOCHS: g_value_set_uint (value, self->epochs); break;
    case P_LIMIT: g_value_set_uint (value, self->limit); break;
    case P_BATCH_SIZE: g_value_set_uint (value, self->batch_size); break;
    case P_ON_ERROR: g_value_set_string (value, self->on_error); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_mimic_source_finalize (GObject *object)
{
  CxrMimicSource *self = CXR_MIMIC_SOURCE (object);
  g_free (self->root);
  g_free (self->split);
  g_free (self->view);
  g_free (self->subjects);
  g_free (self->on_error);
  g_free (self->order);
  g_array_unref (self->samples);
  G_OBJECT_CLASS (cxr_mimic_source_parent_class)->finalize (object);
}

static void
cxr_mimic_source_class_init (CxrMimicSourceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_mimic_source_set_property;
  object_class->get_property = cxr_mimic_source_get_property;
  object_class->finalize = cxr_mimic_source_finalize;
  stage_class->prepare = cxr_mimic_source_prepare;
  stage_class->process = cxr_mimic_source_process;
  stage_class->finish = cxr_mimic_source_finish;
  stage_class->get_port_fields = cxr_mimic_source_get_port_fields;
  props[P_ROOT] = g_param_spec_string ("root", "Root", "The MIMIC-CXR-JPG folder (with files/ and the CSVs)", NULL,
                                       flags);
  props[P_SPLIT] = g_param_spec_string ("split", "Split", "train, validate, test or any", "train", flags);
  props[P_VIEW] = g_param_spec_string ("view", "View", "The views to read: PA, AP, LATERAL..., a comma list, or any",
                                       "any", flags);
  props[P_SUBJECTS] = g_param_spec_string ("subjects", "Subject folders",
                                           "Subject folders to read, such as p10-p18 or p19 (empty: all)", "", flags);
  props[P_ENCODING] = g_param_spec_enum ("label-encoding", "Label encoding", "The numbers of the label vectors",
                                         CXR_TYPE_LABEL_ENCODING, CXR_LABEL_ENCODING_REFERENCE, flags);
  props[P_IMAGE_SIZE] = g_param_spec_uint ("image-size", "Image size",
                                           "The side of the images, in pixels (0: read no images)", 0, 4096, 256,
                                           flags);
  props[P_SHUFFLE] = g_param_spec_boolean ("shuffle", "Shuffle", "Shuffle the samples every epoch", FALSE, flags);
  props[P_SEED] = g_param_spec_uint64 ("seed", "Seed", "The seed of the shuffle", 0, G_MAXUINT64, 1, flags);
  props[P_EPOCHS] = g_param_spec_uint ("epochs", "Epochs", "Passes over the samples", 1, 100000, 1, flags);
  props[P_LIMIT] = g_param_spec_uint ("limit", "Limit", "Keep the first N samples selected (0: all)", 0, G_MAXUINT,
                                      0, flags);
  props[P_BATCH_SIZE] = g_param_spec_uint ("batch-size", "Batch size", "Samples per batch", 1, 4096, 8, flags);
  props[P_ON_ERROR] = g_param_spec_string ("on-error", "On error",
                                           "fail: a missing or broken image or report stops the run; skip: the "
                                           "sample is left out with a warning", "fail", flags);
  g_object_class_install_properties (object_class, N_P, props);
  cxr_stage_class_set_metadata (stage_class, "MIMIC-CXR-JPG reader", "Source/Data",
                                "Reads images, labels and reports from a MIMIC-CXR-JPG tree, with the paper's "
                                "reference image per label vector", "The cxrgen developers");
  cxr_stage_class_add_output (stage_class, "out",
                              "id,subject,study,view,split,path,labels,report,findings,impression,reference,"
                              "reference-path,image", FALSE, "Batches of samples (image only with image-size > 0)");
}

static void
cxr_mimic_source_init (CxrMimicSource *self)
{
  self->samples = g_array_new (FALSE, TRUE, sizeof (Sample));
  g_array_set_clear_func (self->samples, sample_clear);
}
