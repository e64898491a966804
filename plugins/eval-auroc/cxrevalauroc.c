/* plugins/eval-auroc/cxrevalauroc.c: eval-auroc.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxrevalauroc.h"

/**
 * SECTION:eval-auroc
 *
 * `eval-auroc` takes a classifier's scores and the labels the images were
 * generated from, over the whole stream, and at its end computes the AUROC
 * per observation and their macro average (#cxr_metrics_auroc: exact, ties
 * averaged, one-class observations undefined), with bootstrap intervals by
 * option, writing them to a JSON file. Batches pass through unchanged.
 *
 * |[
 * [stage auroc]
 * type=eval-auroc
 * input=classified
 * scores-field=scores
 * labels-field=labels
 * bootstrap=1000
 * output=${OUT}/auroc.json
 * ]|
 */

struct _CxrEvalAuroc {
  CxrStage parent_instance;
  gchar *scores_field;
  gchar *labels_field;
  CxrUncertainPolicy uncertain;
  guint bootstrap;
  guint64 seed;
  gchar *output;
  gchar *result;
  GArray *scores;
  GArray *labels;
};

enum { P_0, P_SCORES, P_LABELS, P_UNCERTAIN, P_BOOTSTRAP, P_SEED, P_OUTPUT, P_RESULT, N_P };
static GParamSpec *props[N_P];

G_DEFINE_FINAL_TYPE (CxrEvalAuroc, cxr_eval_auroc, CXR_TYPE_STAGE)

static gboolean
cxr_eval_auroc_prepare (CxrStage *stage, GError **error)
{
  CxrEvalAuroc *self = CXR_EVAL_AUROC (stage);
  g_array_set_size (self->scores, 0);
  g_array_set_size (self->labels, 0);
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
cxr_eval_auroc_process (CxrStage *stage, guint port, CxrBatch *batch, GError **error)
{
  CxrEvalAuroc *self = CXR_EVAL_AUROC (stage);

  if (!take_rows (batch, self->scores_field, self->scores, error) ||
      !take_rows (batch, self->labels_field, self->labels, error))
    return CXR_FLOW_ERROR;
  return cxr_stage_push (stage, batch);
}

static gboolean
cxr_eval_auroc_finish (CxrStage *stage, GError **error)
{
  CxrEvalAuroc *self = CXR_EVAL_AUROC (stage);
  gint64 rows = self->scores->len / CXR_N_OBSERVATIONS;
  gint64 shape[] = { rows, CXR_N_OBSERVATIONS };
  g_autoptr (CxrTensor) s = NULL, l = NULL, table = NULL;
  g_autoptr (GStrvBuilder) names = g_strv_builder_new ();
  g_auto (GStrv) row_names = NULL;
  const gchar *columns[] = { "auroc", "ci_low", "ci_high", NULL };
  g_autofree gchar *json = NULL;

  s = cxr_tensor_new_from_data (CXR_DTYPE_F32, shape, 2, (const guint8 *) self->scores->data,
                                self->scores->len * sizeof (gfloat), error);
  l = s ? cxr_tensor_new_from_data (CXR_DTYPE_F32, shape, 2, (const guint8 *) self->labels->data,
                                    self->labels->len * sizeof (gfloat), error) : NULL;
  table = l ? cxr_metrics_auroc (s, l, self->uncertain, self->bootstrap, self->seed, error) : NULL;
  if (table == NULL)
    return FALSE;
  g_strv_builder_addv (names, (const gchar **) cxr_labels_get_observations ());
  g_strv_builder_add (names, "macro");
  row_names = g_strv_builder_end (names);
  json = cxr_metrics_table_to_json (table, (const gchar *const *) row_names, columns);
  g_free (self->result);
  self->result = g_strdup (json);
  g_object_notify_by_pspec (G_OBJECT (self), props[P_RESULT]);
  g_message ("%s: macro AUROC %.4f over %" G_GINT64_FORMAT " samples", cxr_stage_get_name (stage),
             ((const gdouble *) cxr_tensor_get_data (table))[CXR_N_OBSERVATIONS * 3], rows);
  return self->output == NULL || *self->output == '\0' || cxr_metrics_write_json (self->output, json, error);
}

static gchar **
cxr_eval_auroc_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  CxrEvalAuroc *self = CXR_EVAL_AUROC (stage);
  const gchar *fields[] = { self->scores_field, self->labels_field, NULL };
  return direction == CXR_PORT_INPUT ? g_strdupv ((gchar **) fields) : g_new0 (gchar *, 1);
}

static void
cxr_eval_auroc_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrEvalAuroc *self = CXR_EVAL_AUROC (object);
  switch (id)
    {
    case P_SCORES: g_free (self->scores_field); self->scores_field = g_value_dup_string (value); break;
    case P_LABELS: g_free (self->labels_field); self->labels_field = g_value_dup_string (value); break;
    case P_UNCERTAIN: self->uncertain = g_value_get_enum (value); break;
    case P_BOOTSTRAP: self->bootstrap = g_value_get_uint (value); break;
    case P_SEED: self->seed = g_value_get_uint64 (value); break;
    case P_OUTPUT: g_free (self->output); self->output = g_value_dup_string (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_eval_auroc_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrEvalAuroc *self = CXR_EVAL_AUROC (object);
  switch (id)
    {
    case P_SCORES: g_value_set_string (value, self->scores_field); break;
    case P_LABELS: g_value_set_string (value, self->labels_field); break;
    case P_UNCERTAIN: g_value_set_enum (value, self->uncertain); break;
    case P_BOOTSTRAP: g_value_set_uint (value, self->bootstrap); break;
    case P_SEED: g_value_set_uint64 (value, self->seed); break;
    case P_OUTPUT: g_value_set_string (value, self->output); break;
    case P_RESULT: g_value_set_string (value, self->result); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_eval_auroc_finalize (GObject *object)
{
  CxrEvalAuroc *self = CXR_EVAL_AUROC (object);
  g_free (self->scores_field);
  g_free (self->labels_field);
  g_free (self->output);
  g_free (self->result);
  g_array_unref (self->scores);
  g_array_unref (self->labels);
  G_OBJECT_CLASS (cxr_eval_auroc_parent_class)->finalize (object);
}

static void
cxr_eval_auroc_class_init (CxrEvalAurocClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_eval_auroc_set_property;
  object_class->get_property = cxr_eval_auroc_get_property;
  object_class->finalize = cxr_eval_auroc_finalize;
  stage_class->prepare = cxr_eval_auroc_prepare;
  stage_class->process = cxr_eval_auroc_process;
  stage_class->finish = cxr_eval_auroc_finish;
  stage_class->get_port_fields = cxr_eval_auroc_get_port_fields;
  props[P_SCORES] = g_param_spec_string ("scores-field", "Scores field", "The field of classifier scores (14 per sample)",
                                         "scores", flags);
  props[P_LABELS] = g_param_spec_string ("labels-field", "Labels field", "The field of labels (14 per sample)",
                                         CXR_FIELD_LABELS, flags);
  props[P_UNCERTAIN] = g_param_spec_enum ("uncertain", "Uncertain", "What an uncertain label (-1) counts as",
                                          CXR_TYPE_UNCERTAIN_POLICY, CXR_UNCERTAIN_AS_NEGATIVE, flags);
  props[P_BOOTSTRAP] = g_param_spec_uint ("bootstrap", "Bootstrap", "Resamples for 95% intervals (0: none)", 0,
                                          1000000, 0, flags);
  props[P_SEED] = g_param_spec_uint64 ("seed", "Seed", "The seed of the resampling", 0, G_MAXUINT64, 1234, flags);
  props[P_OUTPUT] = g_param_spec_string ("output", "Output", "A JSON file for the results (written at the end)",
                                         NULL, flags);
  props[P_RESULT] = g_param_spec_string ("result", "Result", "The results as JSON, once the stream has ended", NULL,
                                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_P, props);
  cxr_stage_class_set_metadata (stage_class, "AUROC of scores", "Evaluation",
                                "AUROC of classifier scores against labels, per observation and macro",
                                "The cxrgen developers");
  cxr_stage_class_add_input (stage_class, "in", "scores,labels", "Batches with scores and labels");
  cxr_stage_class_add_output (stage_class, "out", NULL, TRUE, "The same batches");
}

static void
cxr_eval_auroc_init (CxrEvalAuroc *self)
{
  self->scores = g_array_new (FALSE, FALSE, sizeof (gfloat));
  self->labels = g_array_new (FALSE, FALSE, sizeof (gfloat));
}
