/* plugins/prior/cxrprior.c: the ViT prior of the language module: an
 * image's VAE latent to its report's embedding.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "cxrprior.h"

/**
 * SECTION:vit-prior
 *
 * `vit-prior` is transformers' ViTModel in the paper's configuration
 * (built in: image size 32, patch 2, 4 channels: SD's VAE latents of
 * 256x256 radiographs; ViT-base width and depth): a patch projection,
 * the CLS token, learned positions, pre-norm layers (self-attention with
 * query/key/value biases, a GELU MLP), the final layer norm and the pooler
 * (dense + tanh on the CLS token), whose output is the predicted report
 * embedding (BART's 768). Names are ViTModel's (embeddings.*,
 * encoder.layer.N.*, layernorm.*, pooler.dense.*), with or without the
 * "vit." of ViTForImageClassification files.
 *
 * To start from ViT-base weights (google/vit-base-patch16-224-in21k), whose
 * patch projection and positions have other shapes, set `partial-load`
 * on the model: tensors that fit load, the others start random, and each
 * is listed among the warnings. Inputs: pixel_values [N, C, S, S];
 * outputs: last_hidden_state, pooler_output.
 */

typedef struct {
  guint hidden, layers, heads, intermediate, image, patch, channels;
  gfloat eps;
  gboolean qkv_bias;
  CxrGeluApproximation gelu;
} VitConfig;

struct _CxrVitPrior {
  CxrModel parent_instance;
  VitConfig c;
};

static void cxr_vit_prior_role_init (CxrPriorInterface *iface) {}
G_DEFINE_FINAL_TYPE_WITH_CODE (CxrVitPrior, cxr_vit_prior, CXR_TYPE_MODEL,
                               G_IMPLEMENT_INTERFACE (CXR_TYPE_PRIOR, cxr_vit_prior_role_init))

static const gchar *const vit_known[] = {
  "hidden_dropout_prob", "attention_probs_dropout_prob", "encoder_stride", "pooler_act", "pooler_output_size",
  NULL
};

static gboolean
add (CxrModel *m, GError **error, const gchar *name, guint ndim, gint64 d0, gint64 d1, gint64 d2, gint64 d3)
{
  const gint64 shape[4] = { d0, d1, d2, d3 };
  return cxr_model_add_parameter (m, name, shape, ndim, error);
}

static gboolean
cxr_vit_prior_configure (CxrModel *model, CxrConfig *config, GError **error)
{
  VitConfig *c = &CXR_VIT_PRIOR (model)->c;
  const gchar *act, *pooler;
  guint grid;

  memset (c, 0, sizeof *c);
  c->hidden = (guint) cxr_config_require_int (config, "hidden_size");
  c->layers = (guint) cxr_config_require_int (config, "num_hidden_layers");
  c->heads = (guint) cxr_config_require_int (config, "num_attention_heads");
  c->intermediate = (guint) cxr_config_require_int (config, "intermediate_size");
  c->image = (guint) cxr_config_require_int (config, "image_size");
  c->patch = (guint) cxr_config_require_int (config, "patch_size");
  c->channels = (guint) cxr_config_get_int (config, "num_channels", 3);
  c->eps = (gfloat) cxr_config_get_double (config, "layer_norm_eps", 1e-12);
  c->qkv_bias = cxr_config_get_boolean (config, "qkv_bias", TRUE);
  act = cxr_config_get_string (config, "hidden_act", "gelu");
  pooler = cxr_config_get_string (config, "pooler_act", "tanh");
  cxr_config_ignore (config, vit_known);
  if (g_strcmp0 (act, "gelu") == 0)
    c->gelu = CXR_GELU_ERF;
  else if (g_strcmp0 (act, "gelu_new") == 0 || g_strcmp0 (act, "gelu_pytorch_tanh") == 0)
    c->gelu = CXR_GELU_TANH;
  else
    cxr_config_fail (config, "hidden_act", "\"%s\": gelu, gelu_new or gelu_pytorch_tanh expected", act);
  if (g_strcmp0 (pooler, "tanh") != 0)
    cxr_config_fail (config, "pooler_act", "\"%s\": only tanh is built", pooler);
  if (c->patch == 0 || c->image % MAX (c->patch, 1) != 0)
    cxr_config_fail (config, "patch_size", "%u does not divide image_size %u", c->patch, c->image);
  if (c->heads == 0 || c->hidden % MAX (c->heads, 1) != 0)
    cxr_config_fail (config, "num_attention_heads", "%u heads do not divide hidden_size %u", c->heads, c->hidden);
  if (!cxr_config_check (config, error))
    return FALSE;
  grid = c->image / c->patch;
  if (!add (model, error, "embeddings.cls_token", 3, 1, 1, c->hidden, 0) ||
      !add (model, error, "embeddings.position_embeddings", 3, 1, grid * grid + 1, c->hidden, 0) ||
      !add (model, error, "embeddings.patch_embeddings.projection.weight", 4, c->hidden, c->channels, c->patch, c->patch) ||
      !add (model, error, "embeddings.patch_embeddings.projection.bias", 1, c->hidden, 0, 0, 0))
    return FALSE;
  for (guint l = 0; l < c->layers; l++)
    {
      const gchar *qkv[] = { "query", "key", "value" };
      g_autofree gchar *base = g_strdup_printf ("encoder.layer.%u", l);
      g_autofree gchar *out = g_strconcat (base, ".attention.output.dense", NULL);
      g_autofree gchar *ln1 = g_strconcat (base, ".layernorm_before", NULL), *ln2 = g_strconcat (base, ".layernorm_after", NULL);
      g_autofree gchar *fc1 = g_strconcat (base, ".intermediate.dense", NULL), *fc2 = g_strconcat (base, ".output.dense", NULL);
      for (guint i = 0; i < 3; i++)
        {
          g_autofree gchar *name = g_strdup_printf ("%s.attention.attention.%s", base, qkv[i]);
          if (!cxr_model_add_linear (model, name, c->hidden, c->hidden, c->qkv_bias, error))
            return FALSE;
        }
      if (!cxr_model_add_linear (model, out, c->hidden, c->hidden, TRUE, error) ||
          !cxr_model_add_linear (model, fc1, c->intermediate, c->hidden, TRUE, error) ||
          !cxr_model_add_linear (model, fc2, c->hidden, c->intermediate, TRUE, error))
        return FALSE;
      if (!cxr_model_add_norm (model, ln1, c->hidden, error) || !cxr_model_add_norm (model, ln2, c->hidden, error))
        return FALSE;
    }
  return cxr_model_add_norm (model, "layernorm", c->hidden, error) &&
         cxr_model_add_linear (model, "pooler.dense", c->hidden, c->hidden, TRUE, error);
}

static CxrTensor *
P (CxrModel *m, const gchar *base, const gchar *part)
{
  g_autofree gchar *name = g_strconcat (base, part, NULL);
  CxrTensor *t = cxr_model_get_parameter (m, name);
  g_assert (t != NULL); /* declared by configure */
  return t;
}

/**
 * cxr_vit_prior_forward:
 * @self: a prepared prior
 * @tape: (nullable): where to record
 * @latents: [N, C, S, S]
 * @last_hidden_state: (out) (optional) (transfer full): the final states
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the predicted report embeddings
 *   (pooler_output) [N, hidden]
 */
CxrTensor *
cxr_vit_prior_forward (CxrVitPrior *self, CxrTape *tape, CxrTensor *latents, CxrTensor **last_hidden_state,
                       GError **error)
{
  CxrModel *m = CXR_MODEL (self);
  VitConfig *c = &self->c;
  gint64 n = cxr_tensor_get_dim (latents, 0), grid = c->image / c->patch;
  g_autoptr (CxrTensor) patches = NULL, flat = NULL, tokens = NULL, cls = NULL, x = NULL, h = NULL, last = NULL;
  g_autoptr (CxrTensor) first = NULL, pooled = NULL;
  g_autoptr (GPtrArray) parts = g_ptr_array_new_with_free_func ((GDestroyNotify) cxr_tensor_unref);

  if ((patches = cxr_op_conv2d (tape, latents, P (m, "embeddings.patch_embeddings.projection", ".weight"),
                                P (m, "embeddings.patch_embeddings.projection", ".bias"), c->patch, 0, error)) == NULL ||
      (flat = cxr_op_reshape (tape, patches, (const gint64[]) { n, c->hidden, grid * grid }, 3, error)) == NULL ||
      (tokens = cxr_op_permute (tape, flat, (const gint[]) { 0, 2, 1 }, 3, error)) == NULL)
    return NULL;
  for (gint64 i = 0; i < n; i++)
    g_ptr_array_add (parts, cxr_tensor_ref (P (m, "embeddings.cls_token", "")));
  if ((cls = cxr_op_concat (tape, (CxrTensor **) parts->pdata, parts->len, 0, error)) == NULL)
    return NULL;
  {
    CxrTensor *pair[2] = { cls, tokens };
    if ((x = cxr_op_concat (tape, pair, 2, 1, error)) == NULL)
      return NULL;
  }
  if ((h = cxr_op_add (tape, x, P (m, "embeddings.position_embeddings", ""), error)) == NULL)
    return NULL;
  for (guint l = 0; l < c->layers && h; l++)
    {
      g_autofree gchar *base = g_strdup_printf ("encoder.layer.%u", l);
      g_autofree gchar *q = g_strconcat (base, ".attention.attention.query", NULL);
      g_autofree gchar *k = g_strconcat (base, ".attention.attention.key", NULL);
      g_autofree gchar *v = g_strconcat (base, ".attention.attention.value", NULL);
      g_autofree gchar *o = g_strconcat (base, ".attention.output.dense", NULL);
      g_autofree gchar *ln1 = g_strconcat (base, ".layernorm_before", NULL), *ln2 = g_strconcat (base, ".layernorm_after", NULL);
      g_autofree gchar *fc1 = g_strconcat (base, ".intermediate.dense", NULL), *fc2 = g_strconcat (base, ".output.dense", NULL);
      g_autoptr (CxrTensor) y = cxr_model_layer_norm (m, tape, h, ln1, c->eps, error);
      g_autoptr (CxrTensor) qt = NULL, kt = NULL, vt = NULL, a = NULL;
      g_autoptr (CxrTensor) z = NULL;

      if (y == NULL || (qt = cxr_model_linear (m, tape, y, q, c->qkv_bias, error)) == NULL ||
          (kt = cxr_model_linear (m, tape, y, k, c->qkv_bias, error)) == NULL ||
          (vt = cxr_model_linear (m, tape, y, v, c->qkv_bias, error)) == NULL ||
          (a = cxr_op_multi_head_attention (tape, qt, kt, vt, c->heads, NULL, FALSE, 0, error)) == NULL)
        return NULL;
      cxr_tensor_replace (&a, cxr_model_linear (m, tape, a, o, TRUE, error));
      cxr_tensor_replace (&h, a ? cxr_op_add (tape, h, a, error) : NULL);
      z = cxr_model_layer_norm (m, tape, h, ln2, c->eps, error);
      cxr_tensor_replace (&z, cxr_model_linear (m, tape, z, fc1, TRUE, error));
      cxr_tensor_replace (&z, z ? cxr_op_gelu (tape, z, c->gelu, error) : NULL);
      cxr_tensor_replace (&z, cxr_model_linear (m, tape, z, fc2, TRUE, error));
      cxr_tensor_replace (&h, z ? cxr_op_add (tape, h, z, error) : NULL);
    }
  if ((last = cxr_model_layer_norm (m, tape, h, "layernorm", c->eps, error)) == NULL ||
      (first = cxr_op_slice (tape, last, 1, 0, 1, error)) == NULL ||
      (pooled = cxr_op_reshape (tape, first, (const gint64[]) { n, c->hidden }, 2, error)) == NULL)
    return NULL;
  cxr_tensor_replace (&pooled, cxr_model_linear (m, tape, pooled, "pooler.dense", TRUE, error));
  cxr_tensor_replace (&pooled, pooled ? cxr_op_tanh (tape, pooled, error) : NULL);
  if (pooled && last_hidden_state)
    *last_hidden_state = g_steal_pointer (&last);
  return g_steal_pointer (&pooled);
}

static GHashTable *
cxr_vit_prior_run (CxrModel *model, CxrTape *tape, GHashTable *inputs, GError **error)
{
  CxrVitPrior *self = CXR_VIT_PRIOR (model);
  g_autoptr (CxrTensor) px = NULL, last = NULL, pooled = NULL;
  GHashTable *out;

  if ((px = cxr_model_take_input (model, inputs, "pixel_values", CXR_DTYPE_F32, 4, error)) == NULL)
    return NULL;
  if (cxr_tensor_get_dim (px, 1) != self->c.channels || cxr_tensor_get_dim (px, 2) != self->c.image ||
      cxr_tensor_get_dim (px, 3) != self->c.image)
    {
      g_autofree gchar *what = cxr_tensor_describe (px);
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "vit-prior: pixel_values is %s; [N, %u, %u, %u] "
                   "expected", what, self->c.channels, self->c.image, self->c.image);
      return NULL;
    }
  if ((pooled = cxr_vit_prior_forward (self, tape, px, &last, error)) == NULL)
    return NULL;
  out = cxr_model_new_tensor_table ();
  g_hash_table_insert (out, g_strdup ("last_hidden_state"), g_steal_pointer (&last));
  g_hash_table_insert (out, g_strdup ("pooler_output"), g_steal_pointer (&pooled));
  return out;
}

static GHashTable *
cxr_vit_prior_example_inputs (CxrModel *model, guint batch, guint64 seed, GError **error)
{
  VitConfig *c = &CXR_VIT_PRIOR (model)->c;
  GHashTable *out = cxr_model_new_tensor_table ();

  g_hash_table_insert (out, g_strdup ("pixel_values"),
                       cxr_tensor_new_randn ((const gint64[]) { batch, c->channels, c->image, c->image }, 4, seed, 0));
  return out;
}

static const gchar vit_default[] =
  "{\"architectures\": [\"ViTModel\"], \"model_type\": \"vit\", \"hidden_act\": \"gelu\", \"hidden_size\": 768,"
  " \"image_size\": 32, \"intermediate_size\": 3072, \"layer_norm_eps\": 1e-12, \"num_attention_heads\": 12,"
  " \"num_channels\": 4, \"num_hidden_layers\": 12, \"patch_size\": 2, \"qkv_bias\": true}";
static const gchar *const vit_inputs[] = { "pixel_values", NULL };
static const gchar *const vit_outputs[] = { "last_hidden_state", "pooler_output", NULL };
/* ViTForImageClassification files prefix "vit."; its classifier is not ours */
static const gchar *const vit_aliases[] = { "embeddings.", "vit.embeddings.", "encoder.", "vit.encoder.",
                                            "layernorm.", "vit.layernorm.", "pooler.", "vit.pooler.", NULL };
static const gchar *const vit_ignored[] = { "classifier.*", NULL };

static void
cxr_vit_prior_class_init (CxrVitPriorClass *klass)
{
  CxrModelClass *m = CXR_MODEL_CLASS (klass);

  m->configure = cxr_vit_prior_configure;
  m->forward = cxr_vit_prior_run;
  m->example_inputs = cxr_vit_prior_example_inputs;
  m->description = "The paper's ViT prior: a VAE latent to a report embedding (ViTModel; built in: 32, patch 2, "
                   "4 channels, ViT-base)";
  m->required_inputs = vit_inputs;
  m->outputs = vit_outputs;
  m->default_config = vit_default;
  m->tensor_aliases = vit_aliases;
  m->ignored_tensors = vit_ignored;
}

static void
cxr_vit_prior_init (CxrVitPrior *self)
{
}
