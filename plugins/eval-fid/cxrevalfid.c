/* plugins/eval-fid/cxrevalfid.c: eval-fid.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>

#include "cxrevalfid.h"

/**
 * SECTION:eval-fid
 *
 * `eval-fid` takes feature vectors of real images on its "real" input and
 * of generated ones on its "fake" input, keeps running statistics of each
 * (#CxrFeatureStats: constant memory, any number of images), and at the end
 * writes the Frechet distance, and the KID by option, to a JSON file. The
 * features come from an upstream encoder stage (an Inception-v3 or any
 * #CxrImageEncoder) as a float field. Batches pass through on "out".
 *
 * |[
 * [stage fid]
 * type=eval-fid
 * input.real=real-features
 * input.fake=fake-features
 * output=${OUT}/fid.json
 * ]|
 */

struct _CxrEvalFid {
  CxrStage parent_instance;
  gchar *feature_field;
  gchar *output;
  gboolean kid;
  guint kid_subsets;
  guint kid_subset_size;
  gchar *result;
  CxrFeatureStats *stats[2];
  GArray *kept[2]; /* features, for KID */
  guint dim;
};

enum { P_0, P_FEATURE, P_OUTPUT, P_KID, P_KID_SUBSETS, P_KID_SIZE, P_RESULT, N_P };
static GParamSpec *props[N_P];

G_DEFINE_FINAL_TYPE (CxrEvalFid, cxr_eval_fid, CXR_TYPE_STAGE)

static gboolean
cxr_eval_fid_prepare (CxrStage *stage, GError **error)
{
  CxrEvalFid *self = CXR_EVAL_FID (stage);

  for (guint i = 0; i < 2; i++)
    {
      g_clear_object (&self->stats[i]);
      g_array_set_size (self->kept[i], 0);
    }
  self->dim = 0;
  return TRUE;
}

static CxrFlowReturn
cxr_eval_fid_process (CxrStage *stage, guint port, CxrBatch *batch, GError **error)
{
  CxrEvalFid *self = CXR_EVAL_FID (stage);
  guint width = 0;
  gsize n = 0;
  const gfloat *v = cxr_batch_get_floats (batch, self->feature_field, &width, &n);
  g_autoptr (CxrTensor) t = NULL;

  if (v == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_MISSING_FIELD, "batch %" G_GUINT64_FORMAT
                   " on input %s has no float field \"%s\"", cxr_batch_get_sequence (batch),
                   port == 0 ? "real" : "fake", self->feature_field);
      return CXR_FLOW_ERROR;
    }
  if (self->dim == 0)
    self->dim = width;
  if (width != self->dim)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_BAD_FIELD,
                   "features of width %u on input %s, but %u before", width, port == 0 ? "real" : "fake", self->dim);
      return CXR_FLOW_ERROR;
    }
  if (self->stats[port] == NULL)
    self->stats[port] = cxr_feature_stats_new (width);
  t = cxr_tensor_new_from_data (CXR_DTYPE_F32, (const gint64[]) { (gint64) (n / width), width }, 2,
                                (const guint8 *) v, n * sizeof (gfloat), error);
  if (t == NULL || !cxr_feature_stats_update (self->stats[port], t, error))
    return CXR_FLOW_ERROR;
  if (self->kid)
    g_array_append_vals (self->kept[port], v, (guint) n);
  return cxr_stage_push (stage, batch);
}

static gboolean
cxr_eval_fid_finish (CxrStage *stage, GError **error)
{
  CxrEvalFid *self = CXR_EVAL_FID (stage);
  g_autoptr (CxrTensor) m1 = NULL, c1 = NULL, m2 = NULL, c2 = NULL;
  gdouble fid, kid = NAN, kid_std = NAN;
  gchar b1[G_ASCII_DTOSTR_BUF_SIZE], b2[G_ASCII_DTOSTR_BUF_SIZE], b3[G_ASCII_DTOSTR_BUF_SIZE];
  guint64 n1, n2;

  if (self->stats[0] == NULL || self->stats[1] == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "no features came on the %s input",
                   self->stats[0] == NULL ? "real" : "fake");
      return FALSE;
    }
  if (!cxr_feature_stats_finish (self->stats[0], &m1, &c1, error) ||
      !cxr_feature_stats_finish (self->stats[1], &m2, &c2, error))
    return FALSE;
  fid = cxr_metrics_frechet_distance (m1, c1, m2, c2, error);
  if (isnan (fid))
    return FALSE;
  n1 = cxr_feature_stats_get_count (self->stats[0]);
  n2 = cxr_feature_stats_get_count (self->stats[1]);
  if (self->kid)
    {
      g_autoptr (CxrTensor) x = cxr_tensor_new_from_data (CXR_DTYPE_F32, (const gint64[]) { (gint64) n1, self->dim }, 2,
                                                          (const guint8 *) self->kept[0]->data,
                                                          self->kept[0]->len * sizeof (gfloat), error);
      g_autoptr (CxrTensor) y = cxr_tensor_new_from_data (CXR_DTYPE_F32, (const gint64[]) { (gint64) n2, self->dim }, 2,
                                                          (const guint8 *) self->kept[1]->data,
                                                          self->kept[1]->len * sizeof (gfloat), error);
      guint size = (guint) MIN ((guint64) self->kid_subset_size, MIN (n1, n2));
      kid = cxr_metrics_kid (x, y, self->kid_subsets, size, 1234, &kid_std, error);
      if (isnan (kid))
        return FALSE;
    }
  g_free (self->result);
  self->result = g_strdup_printf ("{\"fid\":%s,\"real\":%" G_GUINT64_FORMAT ",\"fake\":%" G_GUINT64_FORMAT
                                  ",\"kid\":%s,\"kid_std\":%s}",
                                  g_ascii_dtostr (b1, sizeof b1, fid), n1, n2,
                                  isnan (kid) ? "null" : g_ascii_dtostr (b2, sizeof b2, kid),
                                  isnan (kid_std) ? "null" : g_ascii_dtostr (b3, sizeof b3, kid_std));
  g_object_notify_by_pspec (G_OBJECT (self), props[P_RESULT]);
  g_message ("%s: FID %.4f (%" G_GUINT64_FORMAT " real, %" G_GUINT64_FORMAT " generated)", cxr_stage_get_name (stage),
             fid, n1, n2);
  return self->output == NULL || *self->output == '\0' || cxr_metrics_write_json (self->output, self->result, error);
}

static gchar **
cxr_eval_fid_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  CxrEvalFid *self = CXR_EVAL_FID (stage);
  const gchar *fields[] = { self->feature_field, NULL };
  return direction == CXR_PORT_INPUT ? g_strdupv ((gchar **) fields) : g_new0 (gchar *, 1);
}

static void
cxr_eval_fid_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrEvalFid *self = CXR_EVAL_FID (object);
  switch (id)
    {
    case P_FEATURE: g_free (self->feature_field); self->feature_field = g_value_dup_string (value); break;
    case P_OUTPUT: g_free (self->output); self->output = g_value_dup_string (value); break;
    case P_KID: self->kid = g_value_get_boolean (value); break;
    case P_KID_SUBSETS: self->kid_subsets = g_value_get_uint (value); break;
    case P_KID_SIZE: self->kid_subset_size = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_eval_fid_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrEvalFid *self = CXR_EVAL_FID (object);
  switch (id)
    {
    case P_FEATURE: g_value_set_string (value, self->feature_field); break;
    case P_OUTPUT: g_value_set_string (value, self->output); break;
    case P_KID: g_value_set_boolean (value, self->kid); break;
    case P_KID_SUBSETS: g_value_set_uint (value, self->kid_subsets); break;
    case P_KID_SIZE: g_value_set_uint (value, self->kid_subset_size); break;
    case P_RESULT: g_value_set_string (value, self->result); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_eval_fid_finalize (GObject *object)
{
  CxrEvalFid *self = CXR_EVAL_FID (object);
  g_free (self->feature_field);
  g_free (self->output);
  g_free (self->result);
  for (guint i = 0; i < 2; i++)
    {
      g_clear_object (&self->stats[i]);
      g_array_unref (self->kept[i]);
    }
  G_OBJECT_CLASS (cxr_eval_fid_parent_class)->finalize (object);
}

static void
cxr_eval_fid_class_init (CxrEvalFidClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_eval_fid_set_property;
  object_class->get_property = cxr_eval_fid_get_property;
  object_class->finalize = cxr_eval_fid_finalize;
  stage_class->prepare = cxr_eval_fid_prepare;
  stage_class->process = cxr_eval_fid_process;
  stage_class->finish = cxr_eval_fid_finish;
  stage_class->get_port_fields = cxr_eval_fid_get_port_fields;
  props[P_FEATURE] = g_param_spec_string ("feature-field", "Feature field", "The float field of feature vectors",
                                          "features", flags);
  props[P_OUTPUT] = g_param_spec_string ("output", "Output", "A JSON file for the results (written at the end)",
                                         NULL, flags);
  props[P_KID] = g_param_spec_boolean ("kid", "KID", "Also the kernel inception distance (keeps the features)",
                                       FALSE, flags);
  props[P_KID_SUBSETS] = g_param_spec_uint ("kid-subsets", "KID subsets", "Subsets averaged for KID", 1, 100000,
                                            100, flags);
  props[P_KID_SIZE] = g_param_spec_uint ("kid-subset-size", "KID subset size",
                                         "Rows per KID subset (capped at the smaller set)", 2, 1000000, 1000, flags);
  props[P_RESULT] = g_param_spec_string ("result", "Result", "The results as JSON, once the streams have ended", NULL,
                                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_P, props);
  cxr_stage_class_set_metadata (stage_class, "FID of features", "Evaluation",
                                "Frechet distance (and KID) between features of real and generated images",
                                "The cxrgen developers");
  cxr_stage_class_add_input (stage_class, "real", "features", "Features of real images");
  cxr_stage_class_add_input (stage_class, "fake", "features", "Features of generated images");
  cxr_stage_class_add_output (stage_class, "out", NULL, TRUE, "The batches of both inputs");
}

static void
cxr_eval_fid_init (CxrEvalFid *self)
{
  self->kept[0] = g_array_new (FALSE, FALSE, sizeof (gfloat));
  self->kept[1] = g_array_new (FALSE, FALSE, sizeof (gfloat));
}
