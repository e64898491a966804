/* plugins/table/cxrcsvsource.c: rows of a CSV file as batches.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "cxrcsvsource.h"

/**
 * SECTION:csv-source
 *
 * `csv-source` reads the rows of a CSV file (a header of column names,
 * then one row per sample) and sends them on as batches:
 *
 * - `labels`: the label-vector columns (by default the 14 CheXpert
 *   observations, "Atelectasis" ... "Support Devices", as in MIMIC-CXR's
 *   chexpert CSV), as 14 floats per sample; an empty cell is NaN (blank).
 * - `id`: the `id-column`, or by default the first of the columns id,
 *   dicom_id, study_id, or else the row's line number.
 * - one string field per entry of `columns` (`FIELD=COLUMN`, or `COLUMN`
 *   for a field of the same name).
 *
 * |[
 * [stage labels]
 * type=csv-source
 * path=labels.csv
 * columns=report=Reports
 * batch-size=8
 * ]|
 */

struct _CxrCsvSource {
  CxrStage parent_instance;
  gchar *path;
  guint batch_size;
  gchar **label_columns; /* NULL: the 14 observations; empty: none */
  gchar *id_column;
  gchar **columns;
  guint64 limit;

  /* During a run. */
  CxrCsvReader *reader;
  gint id_index;       /* -1: the line number */
  GArray *label_index; /* gint per label column */
  GPtrArray *field_names;
  GArray *field_index; /* gint per string field */
  guint64 rows_read;
  guint64 sequence;
};

enum {
  PROP_0,
  PROP_PATH,
  PROP_BATCH_SIZE,
  PROP_LABEL_COLUMNS,
  PROP_ID_COLUMN,
  PROP_COLUMNS,
  PROP_LIMIT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (CxrCsvSource, cxr_csv_source, CXR_TYPE_STAGE)

static const gchar *const *
label_columns (CxrCsvSource *self)
{
  return self->label_columns ? (const gchar *const *) self->label_columns
                             : cxr_labels_get_observations ();
}

/* "FIELD=COLUMN" or "COLUMN" -> field name and column name. */
static void
split_column_spec (const gchar *spec, gchar **field, gchar **column)
{
  const gchar *eq = strchr (spec, '=');

  if (eq)
    {
      *field = g_strstrip (g_strndup (spec, eq - spec));
      *column = g_strstrip (g_strdup (eq + 1));
    }
  else
    {
      *field = g_strstrip (g_strdup (spec));
      *column = g_strdup (*field);
    }
}

static gchar **
cxr_csv_source_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  CxrCsvSource *self = CXR_CSV_SOURCE (stage);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  g_strv_builder_add (builder, CXR_FIELD_ID);
  if (label_columns (self)[0] != NULL)
    g_strv_builder_add (builder, CXR_FIELD_LABELS);
  for (guint i = 0; self->columns && self->columns[i]; i++)
    {
      g_autofree gchar *field = NULL, *column = NULL;
      split_column_spec (self->columns[i], &field, &column);
      g_strv_builder_add (builder, field);
    }
  return g_strv_builder_end (builder);
}

static gboolean
find_column (CxrCsvSource *self, const gchar *name, gint *index, GError **error)
{
  *index = cxr_csv_reader_find_column (self->reader, name);
  if (*index < 0)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_MISSING_COLUMN,
                   "%s: the header has no column \"%s\"", self->path, name);
      return FALSE;
    }
  return TRUE;
}

static gboolean
cxr_csv_source_prepare (CxrStage *stage, GError **error)
{
  CxrCsvSource *self = CXR_CSV_SOURCE (stage);
  const gchar *const *labels = label_columns (self);
  g_autoptr (GError) count_error = NULL;
  guint64 rows;

  if (self->path == NULL || *self->path == '\0')
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "no path: set path=FILE.csv");
      return FALSE;
    }
  g_clear_pointer (&self->reader, cxr_csv_reader_free);
  self->reader = cxr_csv_reader_open (self->path, error);
  if (self->reader == NULL)
    return FALSE;

  g_array_set_size (self->label_index, 0);
  for (guint i = 0; labels[i]; i++)
    {
      gint index;
      if (!find_column (self, labels[i], &index, error))
        return FALSE;
      g_array_append_val (self->label_index, index);
    }
  if (self->id_column != NULL)
    {
      if (!find_column (self, self->id_column, &self->id_index, error))
        return FALSE;
    }
  else
    {
      static const gchar *const candidates[] = { "id", "dicom_id", "study_id" };
      self->id_index = -1;
      for (guint i = 0; i < G_N_ELEMENTS (candidates) && self->id_index < 0; i++)
        self->id_index = cxr_csv_reader_find_column (self->reader, candidates[i]);
    }
  g_ptr_array_set_size (self->field_names, 0);
  g_array_set_size (self->field_index, 0);
  for (guint i = 0; self->columns && self->columns[i]; i++)
    {
      g_autofree gchar *field = NULL, *column = NULL;
      gint index;
      split_column_spec (self->columns[i], &field, &column);
      if (!find_column (self, column, &index, error))
        return FALSE;
      g_ptr_array_add (self->field_names, g_steal_pointer (&field));
      g_array_append_val (self->field_index, index);
    }

  rows = cxr_csv_reader_count_rows (self->reader, &count_error);
  if (count_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&count_error));
      return FALSE;
    }
  if (self->limit > 0)
    rows = MIN (rows, self->limit);
  cxr_stage_set_total (stage, (gint64) rows);
  self->rows_read = 0;
  self->sequence = 0;
  return TRUE;
}

static gboolean
parse_label (CxrCsvSource *self, guint column, gfloat *out, GError **error)
{
  g_autofree gchar *text = g_strstrip (g_strdup (cxr_csv_reader_get (self->reader, column)));
  gchar *end = NULL;
  gdouble value;

  if (*text == '\0')
    {
      *out = NAN;
      return TRUE;
    }
  errno = 0;
  value = g_ascii_strtod (text, &end);
  if (end == text || *end != '\0' || errno == ERANGE || !isfinite (value))
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE,
                   "%s:%u: column %s: \"%s\" is not a number", self->path,
                   cxr_csv_reader_get_line (self->reader),
                   cxr_csv_reader_get_column_name (self->reader, column), text);
      return FALSE;
    }
  *out = (gfloat) value;
  return TRUE;
}

static CxrFlowReturn
cxr_csv_source_process (CxrStage *stage, guint port, CxrBatch *unused, GError **error)
{
  CxrCsvSource *self = CXR_CSV_SOURCE (stage);
  guint n_labels = self->label_index->len;
  guint n_fields = self->field_names->len;
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) labels = g_array_new (FALSE, FALSE, sizeof (gfloat));
  g_autoptr (GPtrArray) fields = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  g_autoptr (CxrBatch) batch = NULL;
  g_autoptr (GError) local = NULL;
  guint n = 0;

  for (guint f = 0; f < n_fields; f++)
    g_ptr_array_add (fields, g_ptr_array_new_with_free_func (g_free));
  while (n < self->batch_size && (self->limit == 0 || self->rows_read < self->limit))
    {
      if (!cxr_csv_reader_next (self->reader, &local))
        {
          if (local != NULL)
            {
              g_propagate_error (error, g_steal_pointer (&local));
              return CXR_FLOW_ERROR;
            }
          break;
        }
      for (guint k = 0; k < n_labels; k++)
        {
          gfloat value;
          if (!parse_label (self, g_array_index (self->label_index, gint, k), &value, error))
            return CXR_FLOW_ERROR;
          g_array_append_val (labels, value);
        }
      if (self->id_index >= 0)
        g_ptr_array_add (ids, g_strdup (cxr_csv_reader_get (self->reader, self->id_index)));
      else
        g_ptr_array_add (ids, g_strdup_printf ("%u", cxr_csv_reader_get_line (self->reader)));
      for (guint f = 0; f < n_fields; f++)
        g_ptr_array_add (g_ptr_array_index (fields, f),
                         g_strdup (cxr_csv_reader_get (self->reader,
                                                       g_array_index (self->field_index, gint, f))));
      self->rows_read++;
      n++;
    }
  if (n == 0)
    return CXR_FLOW_EOS;

  batch = cxr_batch_new (n);
  cxr_batch_set_sequence (batch, self->sequence++);
  g_ptr_array_add (ids, NULL);
  cxr_batch_take_strings (batch, CXR_FIELD_ID, (gchar **) g_ptr_array_steal (ids, NULL));
  if (n_labels > 0)
    cxr_batch_set_floats (batch, CXR_FIELD_LABELS, n_labels, (const gfloat *) labels->data,
                          labels->len);
  for (guint f = 0; f < n_fields; f++)
    {
      GPtrArray *values = g_ptr_array_index (fields, f);
      g_ptr_array_add (values, NULL);
      cxr_batch_take_strings (batch, g_ptr_array_index (self->field_names, f),
                              (gchar **) g_ptr_array_steal (values, NULL));
    }
  return cxr_stage_push (stage, batch);
}

static void
cxr_csv_source_stop (CxrStage *stage, gboolean completed)
{
  CxrCsvSource *self = CXR_CSV_SOURCE (stage);
  g_clear_pointer (&self->reader, cxr_csv_reader_free);
}

static void
cxr_csv_source_set_property (GObject *object, guint prop_id, const GValue *value,
                             GParamSpec *pspec)
{
  CxrCsvSource *self = CXR_CSV_SOURCE (object);

  switch (prop_id)
    {
    case PROP_PATH:
      g_free (self->path);
      self->path = g_value_dup_string (value);
      break;
    case PROP_BATCH_SIZE:
      self->batch_size = g_value_get_uint (value);
      break;
    case PROP_LABEL_COLUMNS:
      g_strfreev (self->label_columns);
      self->label_columns = g_value_dup_boxed (value);
      break;
    case PROP_ID_COLUMN:
      g_free (self->id_column);
      self->id_column = g_value_dup_string (value);
      break;
    case PROP_COLUMNS:
      g_strfreev (self->columns);
      self->columns = g_value_dup_boxed (value);
      break;
    case PROP_LIMIT:
      self->limit = g_value_get_uint64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cxr_csv_source_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  CxrCsvSource *self = CXR_CSV_SOURCE (object);

  switch (prop_id)
    {
    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;
    case PROP_BATCH_SIZE:
      g_value_set_uint (value, self->batch_size);
      break;
    case PROP_LABEL_COLUMNS:
      g_value_set_boxed (value, label_columns (self));
      break;
    case PROP_ID_COLUMN:
      g_value_set_string (value, self->id_column);
      break;
    case PROP_COLUMNS:
      g_value_set_boxed (value, self->columns);
      break;
    case PROP_LIMIT:
      g_value_set_uint64 (value, self->limit);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cxr_csv_source_finalize (GObject *object)
{
  CxrCsvSource *self = CXR_CSV_SOURCE (object);

  g_free (self->path);
  g_strfreev (self->label_columns);
  g_free (self->id_column);
  g_strfreev (self->columns);
  g_clear_pointer (&self->reader, cxr_csv_reader_free);
  g_array_unref (self->label_index);
  g_ptr_array_unref (self->field_names);
  g_array_unref (self->field_index);
  G_OBJECT_CLASS (cxr_csv_source_parent_class)->finalize (object);
}

static void
cxr_csv_source_class_init (CxrCsvSourceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_csv_source_set_property;
  object_class->get_property = cxr_csv_source_get_property;
  object_class->finalize = cxr_csv_source_finalize;
  stage_class->prepare = cxr_csv_source_prepare;
  stage_class->process = cxr_csv_source_process;
  stage_class->stop = cxr_csv_source_stop;
  stage_class->get_port_fields = cxr_csv_source_get_port_fields;

  properties[PROP_PATH] =
    g_param_spec_string ("path", "Path", "The CSV file to read", NULL, flags);
  properties[PROP_BATCH_SIZE] =
    g_param_spec_uint ("batch-size", "Batch size", "Rows per batch", 1, 1 << 20, 16, flags);
  properties[PROP_LABEL_COLUMNS] =
    g_param_spec_boxed ("label-columns", "Label columns",
                        "The columns of the label vector, in order (default: the 14 CheXpert "
                        "observations; empty: no label vector)",
                        G_TYPE_STRV, flags);
  properties[PROP_ID_COLUMN] =
    g_param_spec_string ("id-column", "Id column",
                         "The column of sample ids (default: id, dicom_id or study_id, else the "
                         "line number)",
                         NULL, flags);
  properties[PROP_COLUMNS] =
    g_param_spec_boxed ("columns", "Columns",
                        "More columns to send as string fields: FIELD=COLUMN, or COLUMN for a "
                        "field of the same name",
                        G_TYPE_STRV, flags);
  properties[PROP_LIMIT] =
    g_param_spec_uint64 ("limit", "Limit", "Read at most this many rows (0: all)", 0, G_MAXUINT64,
                         0, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  cxr_stage_class_set_metadata (stage_class, "CSV source", "Source/Table",
                                "Reads the rows of a CSV file as batches of label vectors, ids "
                                "and text fields",
                                "The cxrgen developers");
  cxr_stage_class_add_output (stage_class, "out", "id,labels", FALSE,
                              "Batches of rows: id, labels and the mapped columns");
}

static void
cxr_csv_source_init (CxrCsvSource *self)
{
  self->batch_size = 16;
  self->label_index = g_array_new (FALSE, FALSE, sizeof (gint));
  self->field_names = g_ptr_array_new_with_free_func (g_free);
  self->field_index = g_array_new (FALSE, FALSE, sizeof (gint));
}
