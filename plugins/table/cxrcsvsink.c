/* plugins/table/cxrcsvsink.c: batch fields to a CSV file.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "cxrcsvsink.h"

/**
 * SECTION:csv-sink
 *
 * `csv-sink` writes batch fields to a CSV file, one row per sample, and
 * passes the batches on unchanged. The file is written under a temporary
 * name and renamed into place when the run completes; a failed or
 * cancelled run leaves no file.
 *
 * `columns` lists what to write: `COLUMN=FIELD`, or `FIELD` for a column
 * of the same name. A string field is one column; a float field of
 * width 1 is one column; the `labels` field (14 floats) becomes the 14
 * CheXpert observation columns; another field of 14 floats becomes
 * COLUMN.Atelectasis ... COLUMN.Support Devices; another float field of
 * width W becomes COLUMN.0 ... COLUMN.W-1. Floats are written with 9 significant digits,
 * NaN as an empty cell. By default the sink writes `id` (when there is
 * one), the other string fields in name order, then the float fields.
 *
 * |[
 * [stage out]
 * type=csv-sink
 * input=prompt
 * path=${OUT:-out}/prompts.csv
 * columns=id,prompt
 * ]|
 */

typedef struct {
  gchar *column;
  gchar *field;
} Column;

struct _CxrCsvSink {
  CxrStage parent_instance;
  gchar *path;
  gchar **columns;

  /* During a run. */
  CxrAtomicFile *file;
  GArray *layout; /* Column, fixed by the first batch */
  gboolean header_written;
};

enum {
  PROP_0,
  PROP_PATH,
  PROP_COLUMNS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (CxrCsvSink, cxr_csv_sink, CXR_TYPE_STAGE)

static void
column_clear (gpointer data)
{
  Column *column = data;
  g_free (column->column);
  g_free (column->field);
}

static void
parse_columns (CxrCsvSink *self)
{
  g_array_set_size (self->layout, 0);
  for (guint i = 0; self->columns && self->columns[i]; i++)
    {
      const gchar *spec = self->columns[i];
      const gchar *eq = strchr (spec, '=');
      Column column;

      column.column = g_strstrip (eq ? g_strndup (spec, eq - spec) : g_strdup (spec));
      column.field = g_strstrip (g_strdup (eq ? eq + 1 : spec));
      g_array_append_val (self->layout, column);
    }
}

static gchar **
cxr_csv_sink_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  CxrCsvSink *self = CXR_CSV_SINK (stage);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  if (direction == CXR_PORT_INPUT)
    {
      parse_columns (self);
      for (guint i = 0; i < self->layout->len; i++)
        g_strv_builder_add (builder, g_array_index (self->layout, Column, i).field);
    }
  return g_strv_builder_end (builder);
}

static gboolean
cxr_csv_sink_prepare (CxrStage *stage, GError **error)
{
  CxrCsvSink *self = CXR_CSV_SINK (stage);
  g_autofree gchar *dir = NULL;

  if (self->path == NULL || *self->path == '\0')
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "no path: set path=FILE.csv");
      return FALSE;
    }
  dir = g_path_get_dirname (self->path);
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "%s: cannot create the folder %s: %s",
                   self->path, dir, g_strerror (errno));
      return FALSE;
    }
  g_clear_pointer (&self->file, cxr_atomic_file_free);
  self->file = cxr_atomic_file_new (self->path, error);
  if (self->file == NULL)
    return FALSE;
  parse_columns (self);
  self->header_written = FALSE;
  return TRUE;
}

/* The default layout, from the first batch. */
static void
default_layout (CxrCsvSink *self, CxrBatch *batch)
{
  g_auto (GStrv) names = cxr_batch_list_fields (batch);
  Column column;

  if (cxr_batch_get_field_kind (batch, CXR_FIELD_ID) == CXR_FIELD_KIND_STRINGS)
    {
      column.column = g_strdup (CXR_FIELD_ID);
      column.field = g_strdup (CXR_FIELD_ID);
      g_array_append_val (self->layout, column);
    }
  for (guint pass = 0; pass < 2; pass++)
    for (guint i = 0; names[i]; i++)
      {
        CxrFieldKind kind = cxr_batch_get_field_kind (batch, names[i]);
        if (g_str_equal (names[i], CXR_FIELD_ID) ||
            kind != (pass == 0 ? CXR_FIELD_KIND_STRINGS : CXR_FIELD_KIND_FLOATS))
          continue;
        column.column = g_strdup (names[i]);
        column.field = g_strdup (names[i]);
        g_array_append_val (self->layout, column);
      }
}

static gboolean
write_text (CxrCsvSink *self, GString *text, GError **error)
{
  return cxr_atomic_file_write (self->file, text->str, text->len, error);
}

static gboolean
write_header (CxrCsvSink *self, CxrBatch *batch, GError **error)
{
  g_autoptr (GString) line = g_string_new (NULL);

  for (guint i = 0; i < self->layout->len; i++)
    {
      Column *column = &g_array_index (self->layout, Column, i);
      guint width = 0;

      if (i > 0)
        g_string_append_c (line, ',');
      if (cxr_batch_get_floats (batch, column->field, &width, NULL) == NULL || width == 1)
        {
          cxr_csv_append_field (line, column->column);
          continue;
        }
      for (guint k = 0; k < width; k++)
        {
          g_autofree gchar *name = NULL;
          if (k > 0)
            g_string_append_c (line, ',');
          if (g_str_equal (column->field, CXR_FIELD_LABELS) && width == CXR_N_OBSERVATIONS)
            name = g_strdup (cxr_labels_get_observations ()[k]);
          else if (width == CXR_N_OBSERVATIONS)
            name = g_strdup_printf ("%s.%s", column->column, cxr_labels_get_observations ()[k]);
          else
            name = g_strdup_printf ("%s.%u", column->column, k);
          cxr_csv_append_field (line, name);
        }
    }
  g_string_append_c (line, '\n');
  return write_text (self, line, error);
}

static CxrFlowReturn
cxr_csv_sink_process (CxrStage *stage, guint port, CxrBatch *batch, GError **error)
{
  CxrCsvSink *self = CXR_CSV_SINK (stage);
  guint size = cxr_batch_get_size (batch);
  g_autoptr (GString) text = g_string_new (NULL);

  if (!self->header_written)
    {
      if (self->layout->len == 0)
        default_layout (self, batch);
      if (!write_header (self, batch, error))
        return CXR_FLOW_ERROR;
      self->header_written = TRUE;
    }
  for (guint i = 0; i < self->layout->len; i++)
    {
      Column *column = &g_array_index (self->layout, Column, i);
      if (cxr_batch_get_field_kind (batch, column->field) == CXR_FIELD_KIND_NONE)
        {
          g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_MISSING_FIELD,
                       "batch %" G_GUINT64_FORMAT " has no field \"%s\" for column %s",
                       cxr_batch_get_sequence (batch), column->field, column->column);
          return CXR_FLOW_ERROR;
        }
    }
  for (guint row = 0; row < size; row++)
    {
      for (guint i = 0; i < self->layout->len; i++)
        {
          Column *column = &g_array_index (self->layout, Column, i);
          guint width = 0;
          const gfloat *values = cxr_batch_get_floats (batch, column->field, &width, NULL);

          if (i > 0)
            g_string_append_c (text, ',');
          if (values == NULL)
            {
              cxr_csv_append_field (text, cxr_batch_get_string (batch, column->field, row));
              continue;
            }
          for (guint k = 0; k < width; k++)
            {
              gfloat v = values[(gsize) row * width + k];
              gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
              if (k > 0)
                g_string_append_c (text, ',');
              if (!isnan (v))
                g_string_append (text, g_ascii_formatd (buf, sizeof buf, "%.9g", v));
            }
        }
      g_string_append_c (text, '\n');
    }
  if (!write_text (self, text, error))
    return CXR_FLOW_ERROR;
  return cxr_stage_push (stage, batch);
}

static gboolean
cxr_csv_sink_finish (CxrStage *stage, GError **error)
{
  CxrCsvSink *self = CXR_CSV_SINK (stage);

  if (!self->header_written && self->layout->len > 0)
    {
      /* No batches: still write the header the columns name. */
      g_autoptr (GString) line = g_string_new (NULL);
      for (guint i = 0; i < self->layout->len; i++)
        {
          if (i > 0)
            g_string_append_c (line, ',');
          cxr_csv_append_field (line, g_array_index (self->layout, Column, i).column);
        }
      g_string_append_c (line, '\n');
      if (!write_text (self, line, error))
        return FALSE;
    }
  return cxr_atomic_file_commit (self->file, error);
}

static void
cxr_csv_sink_stop (CxrStage *stage, gboolean completed)
{
  CxrCsvSink *self = CXR_CSV_SINK (stage);

  /* Uncommitted: the temporary file goes away with it. */
  g_clear_pointer (&self->file, cxr_atomic_file_free);
}

static void
cxr_csv_sink_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  CxrCsvSink *self = CXR_CSV_SINK (object);

  switch (prop_id)
    {
    case PROP_PATH:
      g_free (self->path);
      self->path = g_value_dup_string (value);
      break;
    case PROP_COLUMNS:
      g_strfreev (self->columns);
      self->columns = g_value_dup_boxed (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cxr_csv_sink_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  CxrCsvSink *self = CXR_CSV_SINK (object);

  switch (prop_id)
    {
    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;
    case PROP_COLUMNS:
      g_value_set_boxed (value, self->columns);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cxr_csv_sink_finalize (GObject *object)
{
  CxrCsvSink *self = CXR_CSV_SINK (object);

  g_free (self->path);
  g_strfreev (self->columns);
  g_clear_pointer (&self->file, cxr_atomic_file_free);
  g_array_unref (self->layout);
  G_OBJECT_CLASS (cxr_csv_sink_parent_class)->finalize (object);
}

static void
cxr_csv_sink_class_init (CxrCsvSinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_csv_sink_set_property;
  object_class->get_property = cxr_csv_sink_get_property;
  object_class->finalize = cxr_csv_sink_finalize;
  stage_class->prepare = cxr_csv_sink_prepare;
  stage_class->process = cxr_csv_sink_process;
  stage_class->finish = cxr_csv_sink_finish;
  stage_class->stop = cxr_csv_sink_stop;
  stage_class->get_port_fields = cxr_csv_sink_get_port_fields;

  properties[PROP_PATH] =
    g_param_spec_string ("path", "Path", "The CSV file to write (its folder is created)", NULL,
                         flags);
  properties[PROP_COLUMNS] =
    g_param_spec_boxed ("columns", "Columns",
                        "What to write: COLUMN=FIELD, or FIELD for a column of the same name "
                        "(default: id, the string fields, then the float fields)",
                        G_TYPE_STRV, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  cxr_stage_class_set_metadata (stage_class, "CSV sink", "Sink/Table",
                                "Writes batch fields to a CSV file, one row per sample, whole or "
                                "not at all",
                                "The cxrgen developers");
  cxr_stage_class_add_input (stage_class, "in", NULL, "Batches to write");
  cxr_stage_class_add_output (stage_class, "out", NULL, TRUE, "The same batches, unchanged");
}

static void
cxr_csv_sink_init (CxrCsvSink *self)
{
  self->layout = g_array_new (FALSE, TRUE, sizeof (Column));
  g_array_set_clear_func (self->layout, column_clear);
}
