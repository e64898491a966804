/* plugins/eval-f1/cxrevalf1.c: report-label and eval-f1.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "cxrevalf1.h"

/**
 * SECTION:report-label
 *
 * `report-label` labels each sample's report text with the CheXpert-style
 * labeler (#CxrLabeler) and adds the 14 labels as a float field.
 *
 * |[
 * [stage labelled]
 * type=report-label
 * input=reports
 * ]|
 */

struct _CxrReportLabel {
  CxrStage parent_instance;
  gchar *report_field;
  gchar *labels_field;
  CxrLabeler *labeler;
};

enum { RL_PROP_0, RL_PROP_REPORT_FIELD, RL_PROP_LABELS_FIELD, RL_N_PROPS };
static GParamSpec *rl_properties[RL_N_PROPS];

G_DEFINE_FINAL_TYPE (CxrReportLabel, cxr_report_label, CXR_TYPE_STAGE)

static gboolean
cxr_report_label_prepare (CxrStage *stage, GError **error)
{
  CxrReportLabel *self = CXR_REPORT_LABEL (stage);

  if (self->labeler == NULL)
    self->labeler = cxr_labeler_new (error);
  return self->labeler != NULL;
}

static gboolean
cxr_report_label_transform (CxrStage *stage, CxrBatch *batch, GError **error)
{
  CxrReportLabel *self = CXR_REPORT_LABEL (stage);
  const gchar *const *reports = cxr_batch_get_strings (batch, self->report_field);
  guint n = cxr_batch_get_size (batch);
  g_autofree gfloat *labels = NULL;

  if (reports == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_MISSING_FIELD, "batch %" G_GUINT64_FORMAT
                   " has no text field \"%s\"", cxr_batch_get_sequence (batch), self->report_field);
      return FALSE;
    }
  labels = g_new (gfloat, (gsize) n * CXR_N_OBSERVATIONS);
  for (guint i = 0; i < n; i++)
    if (!cxr_labeler_label_into (self->labeler, reports[i], labels + (gsize) i * CXR_N_OBSERVATIONS, error))
      {
        const gchar *id = cxr_batch_get_strings (batch, CXR_FIELD_ID) ? cxr_batch_get_string (batch, CXR_FIELD_ID, i) : NULL;
        g_prefix_error (error, "sample %s: ", id ? id : "?");
        return FALSE;
      }
  cxr_batch_set_floats (batch, self->labels_field, CXR_N_OBSERVATIONS, labels, (gsize) n * CXR_N_OBSERVATIONS);
  return TRUE;
}

static gchar **
cxr_report_label_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  CxrReportLabel *self = CXR_REPORT_LABEL (stage);
  const gchar *fields[] = { direction == CXR_PORT_INPUT ? self->report_field : self->labels_field, NULL };
  return g_strdupv ((gchar **) fields);
}

static void
cxr_report_label_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrReportLabel *self = CXR_REPORT_LABEL (object);
  switch (id)
    {
    case RL_PROP_REPORT_FIELD: g_free (self->report_field); self->report_field = g_value_dup_string (value); break;
    case RL_PROP_LABELS_FIELD: g_free (self->labels_field); self->labels_field = g_value_dup_string (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_report_label_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrReportLabel *self = CXR_REPORT_LABEL (object);
  switch (id)
    {
    case RL_PROP_REPORT_FIELD: g_value_set_string (value, self->report_field); break;
    case RL_PROP_LABELS_FIELD: g_value_set_string (value, self->labels_field); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_report_label_finalize (GObject *object)
{
  CxrReportLabel *self = CXR_REPORT_LABEL (object);
  g_free (self->report_field);
  g_free (self->labels_field);
  g_clear_object (&self->labeler);
  G_OBJECT_CLASS (cxr_report_label_parent_class)->finalize (object);
}

static void
cxr_report_label_class_init (CxrReportLabelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_report_label_set_property;
  object_class->get_property = cxr_report_label_get_property;
  object_class->finalize = cxr_report_label_finalize;
  stage_class->prepare = cxr_report_label_prepare;
  stage_class->transform = cxr_report_label_transform;
  stage_class->get_port_fields = cxr_report_label_get_port_fields;
  rl_properties[RL_PROP_REPORT_FIELD] =
    g_param_spec_string ("report-field", "Report field", "The text field holding the reports", CXR_FIELD_REPORT, flags);
  rl_properties[RL_PROP_LABELS_FIELD] =
    g_param_spec_string ("labels-field", "Labels field", "The field to write the 14 labels to", "report-labels", flags);
  g_object_class_install_properties (object_class, RL_N_PROPS, rl_properties);
  cxr_stage_class_set_metadata (stage_class, "Report labeler", "Text/Evaluation",
                                "Labels report text with the 14 CheXpert observations (1, 0, -1, blank)",
                                "The cxrgen developers");
  cxr_stage_class_add_input (stage_class, "in", CXR_FIELD_REPORT, "Batches with report text");
  cxr_stage_class_add_output (stage_class, "out", "report-labels", TRUE, "The same batches with labels");
}

static void
cxr_report_label_init (CxrReportLabel *self)
{
}

/**
 * SECTION:eval-f1
 *
 * `eval-f1` compares predicted labels with reference labels over the whole
 * stream (precision, recall and F1 per observation, micro and macro, as
 * #cxr_metrics_f1 computes them) and writes them to a JSON file when the
 * stream ends. Batches pass through unchanged.
 *
 * |[
 * [stage f1]
 * type=eval-f1
 * input=labelled
 * predicted-field=report-labels
 * reference-field=labels
 * output=${OUT}/f1.json
 * ]|
 */

struct _CxrEvalF1 {
  CxrStage parent_instance;
  gchar *predicted_field;
  gchar *reference_field;
  CxrUncertainPolicy uncertain;
  gchar *output;
  gchar *result;
  GArray *predicted;
  GArray *reference;
};

enum { F1_PROP_0, F1_PROP_PREDICTED, F1_PROP_REFERENCE, F1_PROP_UNCERTAIN, F1_PROP_OUTPUT, F1_PROP_RESULT, F1_N_PROPS };
static GParamSpec *f1_properties[F1_N_PROPS];

G_DEFINE_FINAL_TYPE (CxrEvalF1, cxr_eval_f1, CXR_TYPE_STAGE)

static gboolean
cxr_eval_f1_prepare (CxrStage *stage, GError **error)
{
  CxrEvalF1 *self = CXR_EVAL_F1 (stage);
  g_array_set_size (self->predicted, 0);
  g_array_set_size (self->reference, 0);
  return TRUE;
}

static gboolean
take_rows (CxrBatch *batch, const gchar *field, GArray *into, GError **error)
{
  gsize n = 0;
  const gfloat *v = cxr_batch_require_floats (batch, field, CXR_N_OBSERVATIONS, &n, error);

  if (v != NULL)
    g_array_append_vals (into, v, (guint) n);
  return v != NULL;
}

static CxrFlowReturn
cxr_eval_f1_process (CxrStage *stage, guint port, CxrBatch *batch, GError **error)
{
  CxrEvalF1 *self = CXR_EVAL_F1 (stage);

  if (!take_rows (batch, self->predicted_field, self->predicted, error) ||
      !take_rows (batch, self->reference_field, self->reference, error))
    return CXR_FLOW_ERROR;
  return cxr_stage_push (stage, batch);
}

static gboolean
cxr_eval_f1_finish (CxrStage *stage, GError **error)
{
  CxrEvalF1 *self = CXR_EVAL_F1 (stage);
  gint64 rows = self->predicted->len / CXR_N_OBSERVATIONS;
  gint64 shape[] = { rows, CXR_N_OBSERVATIONS };
  g_autoptr (CxrTensor) p = NULL, r = NULL, table = NULL;
  g_autoptr (GStrvBuilder) names = g_strv_builder_new ();
  g_auto (GStrv) rows_names = NULL;
  const gchar *columns[] = { "precision", "recall", "f1", "support", NULL };
  g_autofree gchar *json = NULL;

  p = cxr_tensor_new_from_data (CXR_DTYPE_F32, shape, 2, (const guint8 *) self->predicted->data,
                                self->predicted->len * sizeof (gfloat), error);
  r = p ? cxr_tensor_new_from_data (CXR_DTYPE_F32, shape, 2, (const guint8 *) self->reference->data,
                                    self->reference->len * sizeof (gfloat), error) : NULL;
  table = r ? cxr_metrics_f1 (p, r, self->uncertain, error) : NULL;
  if (table == NULL)
    return FALSE;
  g_strv_builder_addv (names, (const gchar **) cxr_labels_get_observations ());
  g_strv_builder_add (names, "micro");
  g_strv_builder_add (names, "macro");
  rows_names = g_strv_builder_end (names);
  json = cxr_metrics_table_to_json (table, (const gchar *const *) rows_names, columns);
  g_free (self->result);
  self->result = g_strdup (json);
  g_object_notify_by_pspec (G_OBJECT (self), f1_properties[F1_PROP_RESULT]);
  g_message ("%s: micro F1 %.4f, macro F1 %.4f over %" G_GINT64_FORMAT " samples", cxr_stage_get_name (stage),
             ((const gdouble *) cxr_tensor_get_data (table))[CXR_N_OBSERVATIONS * 4 + 2],
             ((const gdouble *) cxr_tensor_get_data (table))[(CXR_N_OBSERVATIONS + 1) * 4 + 2], rows);
  return self->output == NULL || *self->output == '\0' || cxr_metrics_write_json (self->output, json, error);
}

static gchar **
cxr_eval_f1_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  CxrEvalF1 *self = CXR_EVAL_F1 (stage);
  const gchar *fields[] = { self->predicted_field, self->reference_field, NULL };
  return direction == CXR_PORT_INPUT ? g_strdupv ((gchar **) fields) : g_new0 (gchar *, 1);
}

static void
cxr_eval_f1_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrEvalF1 *self = CXR_EVAL_F1 (object);
  switch (id)
    {
    case F1_PROP_PREDICTED: g_free (self->predicted_field); self->predicted_field = g_value_dup_string (value); break;
    case F1_PROP_REFERENCE: g_free (self->reference_field); self->reference_field = g_value_dup_string (value); break;
    case F1_PROP_UNCERTAIN: self->uncertain = g_value_get_enum (value); break;
    case F1_PROP_OUTPUT: g_free (self->output); self->output = g_value_dup_string (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_eval_f1_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrEvalF1 *self = CXR_EVAL_F1 (object);
  switch (id)
    {
    case F1_PROP_PREDICTED: g_value_set_string (value, self->predicted_field); break;
    case F1_PROP_REFERENCE: g_value_set_string (value, self->reference_field); break;
    case F1_PROP_UNCERTAIN: g_value_set_enum (value, self->uncertain); break;
    case F1_PROP_OUTPUT: g_value_set_string (value, self->output); break;
    case F1_PROP_RESULT: g_value_set_string (value, self->result); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_eval_f1_finalize (GObject *object)
{
  CxrEvalF1 *self = CXR_EVAL_F1 (object);
  g_free (self->predicted_field);
  g_free (self->reference_field);
  g_free (self->output);
  g_free (self->result);
  g_array_unref (self->predicted);
  g_array_unref (self->reference);
  G_OBJECT_CLASS (cxr_eval_f1_parent_class)->finalize (object);
}

static void
cxr_eval_f1_class_init (CxrEvalF1Class *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_eval_f1_set_property;
  object_class->get_property = cxr_eval_f1_get_property;
  object_class->finalize = cxr_eval_f1_finalize;
  stage_class->prepare = cxr_eval_f1_prepare;
  stage_class->process = cxr_eval_f1_process;
  stage_class->finish = cxr_eval_f1_finish;
  stage_class->get_port_fields = cxr_eval_f1_get_port_fields;
  f1_properties[F1_PROP_PREDICTED] = g_param_spec_string ("predicted-field", "Predicted field",
                                                          "The field of predicted labels", "report-labels", flags);
  f1_properties[F1_PROP_REFERENCE] = g_param_spec_string ("reference-field", "Reference field",
                                                          "The field of reference labels", CXR_FIELD_LABELS, flags);
  f1_properties[F1_PROP_UNCERTAIN] =
    g_param_spec_enum ("uncertain", "Uncertain", "What an uncertain label (-1) counts as", CXR_TYPE_UNCERTAIN_POLICY,
                       CXR_UNCERTAIN_AS_NEGATIVE, flags);
  f1_properties[F1_PROP_OUTPUT] =
    g_param_spec_string ("output", "Output", "A JSON file for the results (written at the end)", NULL, flags);
  f1_properties[F1_PROP_RESULT] =
    g_param_spec_string ("result", "Result", "The results as JSON, once the stream has ended", NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, F1_N_PROPS, f1_properties);
  cxr_stage_class_set_metadata (stage_class, "F1 of labels", "Evaluation",
                                "Precision, recall and F1 of predicted against reference labels, per observation, "
                                "micro and macro", "The cxrgen developers");
  cxr_stage_class_add_input (stage_class, "in", "report-labels,labels", "Batches with both label fields");
  cxr_stage_class_add_output (stage_class, "out", NULL, TRUE, "The same batches");
}

static void
cxr_eval_f1_init (CxrEvalF1 *self)
{
  self->predicted = g_array_new (FALSE, FALSE, sizeof (gfloat));
  self->reference = g_array_new (FALSE, FALSE, sizeof (gfloat));
}
