/* plugins/clip/cxrclip.c: the CLIP text and vision transformers.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "cxrclip.h"

/**
 * SECTION:clip
 *
 * CLIP's towers (Radford et al., 2021) as transformers builds them, with
 * its tensor names, so the text encoder of CompVis/stable-diffusion-v1-4
 * (text_encoder/) and openai/clip-vit-base-patch32 load unchanged.
 *
 * `clip-text` is CLIPTextModel: token and learned position embeddings,
 * pre-norm transformer layers (causal self-attention, and a key mask
 * from attention_mask when given; an MLP with quick-GELU or GELU), a final
 * layer norm. Outputs: last_hidden_state (what SD's UNet cross-attends
 * to), pooler_output (the hidden state at the end token: the largest id
 * when eos_token_id is 2, as older configurations say, else the first
 * eos_token_id) and, with a full CLIP configuration, text_embeds
 * (text_projection of the pooled output).
 *
 * `clip-vision` is CLIPVisionModel: a patch convolution without bias, a
 * class token, learned positions, pre_layrnorm (the checkpoint's
 * spelling), the same transformer layers without a causal mask.
 * Outputs: last_hidden_state (before the last norm, as transformers),
 * pooler_output (post_layernorm of the class token: the 768-wide image
 * embedding the paper appends to the prompt) and, with a full CLIP
 * configuration, image_embeds (visual_projection).
 *
 * The configuration is the config.json of a CLIPTextModel or
 * CLIPVisionModel, or of a whole CLIPModel (its text_config or
 * vision_config is read; the other tower's tensors in the weights are
 * skipped). Without one, the built-in configurations are SD v1.4's text
 * encoder (ViT-L/14 text tower) and ViT-B/32's vision tower.
 */

typedef struct {
  guint hidden, layers, heads, intermediate;
  gfloat eps;
  CxrGeluApproximation gelu;
  gboolean quick_gelu;
  gboolean projection;
  guint projection_dim;
} Tower;

struct _CxrClipText {
  CxrModel parent_instance;
  Tower tower;
  guint vocab, positions;
  gint64 eos_token_id;
};

struct _CxrClipVision {
  CxrModel parent_instance;
  Tower tower;
  guint channels, image_size, patch_size;
};

static void cxr_clip_text_role_init (CxrTextEncoderInterface *iface) {}
G_DEFINE_FINAL_TYPE_WITH_CODE (CxrClipText, cxr_clip_text, CXR_TYPE_MODEL,
                               G_IMPLEMENT_INTERFACE (CXR_TYPE_TEXT_ENCODER, cxr_clip_text_role_init))
static void cxr_clip_vision_role_init (CxrImageEncoderInterface *iface);
G_DEFINE_FINAL_TYPE_WITH_CODE (CxrClipVision, cxr_clip_vision, CXR_TYPE_MODEL,
                               G_IMPLEMENT_INTERFACE (CXR_TYPE_IMAGE_ENCODER, cxr_clip_vision_role_init))

/* -------------------------------------------------------- configuration */

/* Keys of CLIP configurations that change nothing at inference. */
static const gchar *const quiet_keys[] = {
  "attention_dropout", "dropout", "hidden_dropout_prob", "attention_probs_dropout_prob", "text_config_dict",
  "vision_config_dict", "logit_scale_init_value", NULL
};

static gboolean
read_tower (CxrConfig *config, Tower *t)
{
  const gchar *act;

  t->hidden = (guint) cxr_config_require_int (config, "hidden_size");
  t->layers = (guint) cxr_config_require_int (config, "num_hidden_layers");
  t->heads = (guint) cxr_config_require_int (config, "num_attention_heads");
  t->intermediate = (guint) cxr_config_require_int (config, "intermediate_size");
  t->eps = (gfloat) cxr_config_get_double (config, "layer_norm_eps", 1e-5);
  cxr_config_get_int (config, "projection_dim", 512);
  act = cxr_config_get_string (config, "hidden_act", "quick_gelu");
  t->quick_gelu = g_strcmp0 (act, "quick_gelu") == 0;
  t->gelu = g_strcmp0 (act, "gelu") == 0 ? CXR_GELU_ERF : CXR_GELU_TANH;
  if (!t->quick_gelu && g_strcmp0 (act, "gelu") != 0 && g_strcmp0 (act, "gelu_new") != 0 &&
      g_strcmp0 (act, "gelu_pytorch_tanh") != 0)
    cxr_config_fail (config, "hidden_act", "\"%s\": quick_gelu, gelu, gelu_new or gelu_pytorch_tanh expected", act);
  cxr_config_ignore (config, quiet_keys);
  if (t->hidden == 0 || t->layers == 0 || t->heads == 0 || t->hidden % MAX (t->heads, 1) != 0)
    {
      cxr_config_fail (config, "num_attention_heads", "%u heads do not divide hidden_size %u", t->heads, t->hidden);
      return FALSE;
    }
  return TRUE;
}

static gboolean
add (CxrModel *model, GError **error, const gchar *name, guint ndim, gint64 d0, gint64 d1, gint64 d2, gint64 d3)
{
  const gint64 shape[4] = { d0, d1, d2, d3 };
  return cxr_model_add_parameter (model, name, shape, ndim, error);
}

static gboolean
add_linear (CxrModel *model, const gchar *base, gint64 out, gint64 in, gboolean bias, GError **error)
{
  g_autofree gchar *w = g_strconcat (base, ".weight", NULL), *b = g_strconcat (base, ".bias", NULL);
  return add (model, error, w, 2, out, in, 0, 0) && (!bias || add (model, error, b, 1, out, 0, 0, 0));
}

static gboolean
add_norm (CxrModel *model, const gchar *base, gint64 width, GError **error)
{
  g_autofree gchar *w = g_strconcat (base, ".weight", NULL), *b = g_strconcat (base, ".bias", NULL);
  return add (model, error, w, 1, width, 0, 0, 0) && add (model, error, b, 1, width, 0, 0, 0);
}

static gboolean
add_encoder (CxrModel *model, const gchar *prefix, const Tower *t, GError **error)
{
  for (guint l = 0; l < t->layers; l++)
    {
      g_autofree gchar *base = g_strdup_printf ("%s.encoder.layers.%u", prefix, l);
      const gchar *attn[] = { "q_proj", "k_proj", "v_proj", "out_proj" };
      g_autofree gchar *ln1 = g_strconcat (base, ".layer_norm1", NULL), *ln2 = g_strconcat (base, ".layer_norm2", NULL);
      g_autofree gchar *fc1 = g_strconcat (base, ".mlp.fc1", NULL), *fc2 = g_strconcat (base, ".mlp.fc2", NULL);

      for (guint i = 0; i < G_N_ELEMENTS (attn); i++)
        {
          g_autofree gchar *name = g_strdup_printf ("%s.self_attn.%s", base, attn[i]);
          if (!add_linear (model, name, t->hidden, t->hidden, TRUE, error))
            return FALSE;
        }
      if (!add_norm (model, ln1, t->hidden, error) || !add_linear (model, fc1, t->intermediate, t->hidden, TRUE, error) ||
          !add_linear (model, fc2, t->hidden, t->intermediate, TRUE, error) || !add_norm (model, ln2, t->hidden, error))
        return FALSE;
    }
  return TRUE;
}

/* The tower's configuration: the file itself (CLIPTextConfig,
 * CLIPVisionConfig) or its child KEY (a CLIPConfig); *whole says which. */
static CxrConfig *
tower_config (CxrConfig *config, const gchar *key, const gchar *other, gboolean *whole)
{
  CxrConfig *child = cxr_config_get_child (config, key);

  *whole = child != NULL;
  if (child == NULL)
    return config;
  cxr_config_ignore (config, (const gchar *const[]) { other, "projection_dim", NULL });
  cxr_config_ignore (config, quiet_keys);
  return child;
}

static gboolean
cxr_clip_text_configure (CxrModel *model, CxrConfig *config, GError **error)
{
  CxrClipText *self = CXR_CLIP_TEXT (model);
  gboolean whole;
  CxrConfig *c = tower_config (config, "text_config", "vision_config", &whole);
  Tower *t = &self->tower;

  read_tower (c, t);
  self->vocab = (guint) cxr_config_require_int (c, "vocab_size");
  self->positions = (guint) cxr_config_require_int (c, "max_position_embeddings");
  self->eos_token_id = cxr_config_get_int (c, "eos_token_id", 2);
  t->projection = whole;
  t->projection_dim = (guint) (whole ? cxr_config_get_int (config, "projection_dim", 512) : 0);
  if (!cxr_config_check (config, error))
    return FALSE;
  return add (model, error, "text_model.embeddings.token_embedding.weight", 2, self->vocab, t->hidden, 0, 0) &&
         add (model, error, "text_model.embeddings.position_embedding.weight", 2, self->positions, t->hidden, 0, 0) &&
         add_encoder (model, "text_model", t, error) &&
         add_norm (model, "text_model.final_layer_norm", t->hidden, error) &&
         (!whole || add_linear (model, "text_projection", t->projection_dim, t->hidden, FALSE, error));
}

static gboolean
cxr_clip_vision_configure (CxrModel *model, CxrConfig *config, GError **error)
{
  CxrClipVision *self = CXR_CLIP_VISION (model);
  gboolean whole;
  CxrConfig *c = tower_config (config, "vision_config", "text_config", &whole);
  Tower *t = &self->tower;
  guint grid;

  read_tower (c, t);
  self->channels = (guint) cxr_config_get_int (c, "num_channels", 3);
  self->image_size = (guint) cxr_config_require_int (c, "image_size");
  self->patch_size = (guint) cxr_config_require_int (c, "patch_size");
  if (self->patch_size == 0 || self->image_size % MAX (self->patch_size, 1) != 0)
    cxr_config_fail (c, "patch_size", "%u does not divide image_size %u", self->patch_size, self->image_size);
  t->projection = whole;
  t->projection_dim = (guint) (whole ? cxr_config_get_int (config, "projection_dim", 512) : 0);
  if (!cxr_config_check (config, error))
    return FALSE;
  grid = self->image_size / self->patch_size;
  return add (model, error, "vision_model.embeddings.class_embedding", 1, t->hidden, 0, 0, 0) &&
         add (model, error, "vision_model.embeddings.patch_embedding.weight", 4, t->hidden, self->channels,
              self->patch_size, self->patch_size) &&
         add (model, error, "vision_model.embeddings.position_embedding.weight", 2, grid * grid + 1, t->hidden, 0, 0) &&
         add_norm (model, "vision_model.pre_layrnorm", t->hidden, error) &&
         add_encoder (model, "vision_model", t, error) &&
         add_norm (model, "vision_model.post_layernorm", t->hidden, error) &&
         (!whole || add_linear (model, "visual_projection", t->projection_dim, t->hidden, FALSE, error));
}

/* -------------------------------------------------------------- forward */

static CxrTensor *
P (CxrModel *model, const gchar *format, ...) G_GNUC_PRINTF (2, 3);

static CxrTensor *
P (CxrModel *model, const gchar *format, ...)
{
  va_list args;
  g_autofree gchar *name = NULL;
  CxrTensor *t;

  va_start (args, format);
  name = g_strdup_vprintf (format, args);
  va_end (args);
  t = cxr_model_get_parameter (model, name);
  g_assert (t != NULL); /* declared by configure */
  return t;
}

static CxrTensor *
linear (CxrModel *model, CxrTape *tape, CxrTensor *x, const gchar *base, GError **error)
{
  g_autofree gchar *w = g_strconcat (base, ".weight", NULL), *b = g_strconcat (base, ".bias", NULL);
  return cxr_op_linear (tape, x, cxr_model_get_parameter (model, w), cxr_model_get_parameter (model, b), error);
}

static CxrTensor *
norm (CxrModel *model, CxrTape *tape, CxrTensor *x, const gchar *base, gfloat eps, GError **error)
{
  g_autofree gchar *w = g_strconcat (base, ".weight", NULL), *b = g_strconcat (base, ".bias", NULL);
  return cxr_op_layer_norm (tape, x, P (model, "%s", w), P (model, "%s", b), eps, error);
}

/* One pre-norm layer: x + attn(ln1(x)), then + mlp(ln2(.)). */
static CxrTensor *
encoder_layer (CxrModel *model, CxrTape *tape, const Tower *t, const gchar *base, CxrTensor *x, CxrTensor *key_mask,
               gboolean causal, GError **error)
{
  g_autofree gchar *ln1 = g_strconcat (base, ".layer_norm1", NULL), *ln2 = g_strconcat (base, ".layer_norm2", NULL);
  g_autofree gchar *q_name = g_strconcat (base, ".self_attn.q_proj", NULL);
  g_autofree gchar *k_name = g_strconcat (base, ".self_attn.k_proj", NULL);
  g_autofree gchar *v_name = g_strconcat (base, ".self_attn.v_proj", NULL);
  g_autofree gchar *o_name = g_strconcat (base, ".self_attn.out_proj", NULL);
  g_autofree gchar *fc1 = g_strconcat (base, ".mlp.fc1", NULL), *fc2 = g_strconcat (base, ".mlp.fc2", NULL);
  g_autoptr (CxrTensor) h = NULL, q = NULL, k = NULL, v = NULL, merged = NULL;
  g_autoptr (CxrTensor) o = NULL, x1 = NULL, h2 = NULL, f1 = NULL, act = NULL, f2 = NULL;
  gfloat scale = 1.0f / sqrtf ((gfloat) (t->hidden / t->heads));

  if ((h = norm (model, tape, x, ln1, t->eps, error)) == NULL || (q = linear (model, tape, h, q_name, error)) == NULL ||
      (k = linear (model, tape, h, k_name, error)) == NULL || (v = linear (model, tape, h, v_name, error)) == NULL ||
      (merged = cxr_op_multi_head_attention (tape, q, k, v, t->heads, key_mask, causal, scale, error)) == NULL ||
      (o = linear (model, tape, merged, o_name, error)) == NULL ||
      (x1 = cxr_op_add (tape, x, o, error)) == NULL || (h2 = norm (model, tape, x1, ln2, t->eps, error)) == NULL ||
      (f1 = linear (model, tape, h2, fc1, error)) == NULL)
    return NULL;
  act = t->quick_gelu ? cxr_op_quick_gelu (tape, f1, error) : cxr_op_gelu (tape, f1, t->gelu, error);
  if (act == NULL || (f2 = linear (model, tape, act, fc2, error)) == NULL)
    return NULL;
  return cxr_op_add (tape, x1, f2, error);
}

static CxrTensor *
encoder (CxrModel *model, CxrTape *tape, const Tower *t, const gchar *prefix, CxrTensor *x, CxrTensor *key_mask,
         gboolean causal, GError **error)
{
  g_autoptr (CxrTensor) h = cxr_tensor_ref (x);

  for (guint l = 0; l < t->layers; l++)
    {
      g_autofree gchar *base = g_strdup_printf ("%s.encoder.layers.%u", prefix, l);
      CxrTensor *next = encoder_layer (model, tape, t, base, h, key_mask, causal, error);
      if (next == NULL)
        return NULL;
      cxr_tensor_unref (h);
      h = next;
    }
  return g_steal_pointer (&h);
}

/* rows[b] = x[b, index[b], :], [B, D] */
static CxrTensor *
gather_rows (CxrTape *tape, CxrTensor *x, const gint64 *index, GError **error)
{
  gint64 b = cxr_tensor_get_dim (x, 0), d = cxr_tensor_get_dim (x, 2);
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) cxr_tensor_unref);
  g_autoptr (CxrTensor) cat = NULL;

  for (gint64 i = 0; i < b; i++)
    {
      g_autoptr (CxrTensor) r = cxr_op_slice (tape, x, 0, i, i + 1, error);
      CxrTensor *c = r ? cxr_op_slice (tape, r, 1, index[i], index[i] + 1, error) : NULL;
      if (c == NULL)
        return NULL;
      g_ptr_array_add (rows, c);
    }
  if ((cat = cxr_op_concat (tape, (CxrTensor **) rows->pdata, rows->len, 0, error)) == NULL)
    return NULL;
  return cxr_op_reshape (tape, cat, (const gint64[]) { b, d }, 2, error);
}

static void
put (GHashTable *out, const gchar *name, CxrTensor *t)
{
  g_hash_table_insert (out, g_strdup (name), t);
}

static GHashTable *
cxr_clip_text_forward (CxrModel *model, CxrTape *tape, GHashTable *inputs, GError **error)
{
  CxrClipText *self = CXR_CLIP_TEXT (model);
  g_autoptr (CxrTensor) ids = NULL, mask = NULL, key_mask = NULL, tok = NULL, pos = NULL, x = NULL, h = NULL;
  g_autoptr (CxrTensor) last = NULL, pooled = NULL;
  g_autofree gint64 *eos_at = NULL;
  g_autoptr (GHashTable) out = NULL;
  gint64 b, l;
  const gint64 *pid;

  if ((ids = cxr_model_take_input (model, inputs, "input_ids", CXR_DTYPE_I64, 2, error)) == NULL)
    return NULL;
  b = cxr_tensor_get_dim (ids, 0);
  l = cxr_tensor_get_dim (ids, 1);
  if (l < 1 || l > self->positions || b < 1)
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT,
                   "clip-text: input_ids has %" G_GINT64_FORMAT " tokens; 1 to %u fit", l, self->positions);
      return NULL;
    }
  pid = cxr_tensor_get_data (ids);
  for (gint64 i = 0; i < b * l; i++)
    if (pid[i] < 0 || pid[i] >= self->vocab)
      {
        g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT,
                     "clip-text: input_ids[%" G_GINT64_FORMAT "][%" G_GINT64_FORMAT "] = %" G_GINT64_FORMAT
                     " is outside the vocabulary (%u)", i / l, i % l, pid[i], self->vocab);
        return NULL;
      }
  if ((mask = g_hash_table_lookup (inputs, "attention_mask")) != NULL)
    {
      /* ones and zeros, of any type (transformers passes int64) */
      mask = cxr_tensor_ref (mask);
      if (cxr_tensor_get_ndim (mask) != 2 || cxr_tensor_get_dim (mask, 0) != b || cxr_tensor_get_dim (mask, 1) != l)
        {
          g_autofree gchar *what = cxr_tensor_describe (mask);
          g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT,
                       "clip-text: attention_mask is %s; it must be the shape of input_ids [%" G_GINT64_FORMAT
                       ", %" G_GINT64_FORMAT "]", what, b, l);
          return NULL;
        }
      if ((key_mask = cxr_tensor_to_dtype (mask, CXR_DTYPE_F32, error)) == NULL)
        return NULL;
    }
  if ((tok = cxr_op_embedding (tape, P (model, "text_model.embeddings.token_embedding.weight"), ids, error)) == NULL ||
      (pos = cxr_op_slice (tape, P (model, "text_model.embeddings.position_embedding.weight"), 0, 0, l, error)) == NULL ||
      (x = cxr_op_add (tape, tok, pos, error)) == NULL ||
      (h = encoder (model, tape, &self->tower, "text_model", x, key_mask, TRUE, error)) == NULL ||
      (last = norm (model, tape, h, "text_model.final_layer_norm", self->tower.eps, error)) == NULL)
    return NULL;
  /* the end token: the largest id where eos_token_id is the legacy 2 */
  eos_at = g_new0 (gint64, b);
  for (gint64 i = 0; i < b; i++)
    {
      gint64 best = 0;
      for (gint64 j = 0; j < l; j++)
        if (self->eos_token_id == 2 ? pid[i * l + j] > pid[i * l + best] : pid[i * l + j] == self->eos_token_id)
          {
            best = j;
            if (self->eos_token_id != 2)
              break;
          }
      eos_at[i] = best;
    }
  if ((pooled = gather_rows (tape, last, eos_at, error)) == NULL)
    return NULL;
  out = cxr_model_new_tensor_table ();
  if (self->tower.projection)
    {
      CxrTensor *embeds = cxr_op_linear (tape, pooled, P (model, "text_projection.weight"), NULL, error);
      if (embeds == NULL)
        return NULL;
      put (out, "text_embeds", embeds);
    }
  put (out, "last_hidden_state", g_steal_pointer (&last));
  put (out, "pooler_output", g_steal_pointer (&pooled));
  return g_steal_pointer (&out);
}

static GHashTable *
cxr_clip_vision_forward (CxrModel *model, CxrTape *tape, GHashTable *inputs, GError **error)
{
  CxrClipVision *self = CXR_CLIP_VISION (model);
  const Tower *t = &self->tower;
  g_autoptr (CxrTensor) pixels = NULL, patches = NULL, flat = NULL, tokens = NULL, cls = NULL, x = NULL;
  g_autoptr (CxrTensor) with_pos = NULL, pre = NULL, last = NULL, first = NULL, pooled = NULL;
  g_autoptr (GPtrArray) parts = g_ptr_array_new_with_free_func ((GDestroyNotify) cxr_tensor_unref);
  g_autoptr (GHashTable) out = NULL;
  gint64 b, n;

  if ((pixels = cxr_model_take_input (model, inputs, "pixel_values", CXR_DTYPE_F32, 4, error)) == NULL)
    return NULL;
  b = cxr_tensor_get_dim (pixels, 0);
  if (cxr_tensor_get_dim (pixels, 1) != self->channels || cxr_tensor_get_dim (pixels, 2) != self->image_size ||
      cxr_tensor_get_dim (pixels, 3) != self->image_size)
    {
      g_autofree gchar *what = cxr_tensor_describe (pixels);
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT,
                   "clip-vision: pixel_values is %s; [N, %u, %u, %u] expected", what, self->channels,
                   self->image_size, self->image_size);
      return NULL;
    }
  n = (self->image_size / self->patch_size) * (self->image_size / self->patch_size);
  if ((patches = cxr_op_conv2d (tape, pixels, P (model, "vision_model.embeddings.patch_embedding.weight"), NULL,
                                self->patch_size, 0, error)) == NULL ||
      (flat = cxr_op_reshape (tape, patches, (const gint64[]) { b, t->hidden, n }, 3, error)) == NULL ||
      (tokens = cxr_op_permute (tape, flat, (const gint[]) { 0, 2, 1 }, 3, error)) == NULL ||
      (cls = cxr_op_reshape (tape, P (model, "vision_model.embeddings.class_embedding"),
                             (const gint64[]) { 1, 1, t->hidden }, 3, error)) == NULL)
    return NULL;
  /* [B, 1 + N, D]: the class token of each image, then its patches */
  for (gint64 i = 0; i < b; i++)
    g_ptr_array_add (parts, cxr_tensor_ref (cls));
  {
    g_autoptr (CxrTensor) classes = cxr_op_concat (tape, (CxrTensor **) parts->pdata, parts->len, 0, error);
    CxrTensor *pair[2] = { classes, tokens };
    if (classes == NULL || (x = cxr_op_concat (tape, pair, 2, 1, error)) == NULL)
      return NULL;
  }
  if ((with_pos = cxr_op_add (tape, x, P (model, "vision_model.embeddings.position_embedding.weight"), error)) == NULL ||
      (pre = norm (model, tape, with_pos, "vision_model.pre_layrnorm", t->eps, error)) == NULL ||
      (last = encoder (model, tape, t, "vision_model", pre, NULL, FALSE, error)) == NULL)
    return NULL;
  {
    g_autofree gint64 *index = g_new0 (gint64, b);
    if ((first = gather_rows (tape, last, index, error)) == NULL ||
        (pooled = norm (model, tape, first, "vision_model.post_layernorm", t->eps, error)) == NULL)
      return NULL;
  }
  out = cxr_model_new_tensor_table ();
  if (t->projection)
    {
      CxrTensor *embeds = cxr_op_linear (tape, pooled, P (model, "visual_projection.weight"), NULL, error);
      if (embeds == NULL)
        return NULL;
      put (out, "image_embeds", embeds);
    }
  put (out, "last_hidden_state", g_steal_pointer (&last));
  put (out, "pooler_output", g_steal_pointer (&pooled));
  return g_steal_pointer (&out);
}

/* As an image encoder: each image (gray, or the first channel) through
 * CLIP's transform (bicubic resize of the shorter side, centre crop,
 * CLIP's mean and deviation, rounding as PIL does for 8-bit images),
 * then the pooled output, as clip-image-embed
 * embeds reference images. */
static CxrTensor *
cxr_clip_vision_embed (CxrImageEncoder *encoder, CxrTensor *images, GError **error)
{
  CxrClipVision *self = CXR_CLIP_VISION (encoder);
  gint64 n = cxr_tensor_get_dim (images, 0), h = cxr_tensor_get_dim (images, 2), w = cxr_tensor_get_dim (images, 3);
  gsize plane = (gsize) h * w, side = self->image_size;
  g_autoptr (CxrTensor) src = cxr_tensor_contiguous (images), pixels = NULL;
  g_autoptr (GHashTable) inputs = cxr_model_new_tensor_table (), outputs = NULL;
  const gfloat *s;
  gfloat *d;

  if (self->channels != 3)
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "clip-vision: CLIP's transform makes 3 channels; "
                   "this tower takes %u", self->channels);
      return NULL;
    }
  pixels = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { n, 3, side, side }, 4);
  s = cxr_tensor_get_data (src);
  d = cxr_tensor_get_data (pixels);
  for (gint64 i = 0; i < n; i++)
    {
      g_autoptr (CxrImage) image = cxr_image_new ((guint) w, (guint) h, 8); /* resized as PIL resizes 8 bits */
      g_autoptr (CxrTensor) one = NULL;
      memcpy (cxr_image_get_pixels (image), s + (gsize) i * cxr_tensor_get_dim (images, 1) * plane,
              plane * sizeof (gfloat));
      one = cxr_image_preprocess_clip (image, (guint) side);
      memcpy (d + (gsize) i * 3 * side * side, cxr_tensor_get_data (one), 3 * side * side * sizeof (gfloat));
    }
  g_hash_table_insert (inputs, g_strdup ("pixel_values"), g_steal_pointer (&pixels));
  if ((outputs = cxr_model_forward (CXR_MODEL (self), NULL, inputs, error)) == NULL)
    return NULL;
  return cxr_tensor_ref (g_hash_table_lookup (outputs, "pooler_output"));
}

static guint
cxr_clip_vision_get_embedding_width (CxrImageEncoder *encoder)
{
  return CXR_CLIP_VISION (encoder)->tower.hidden;
}

static void
cxr_clip_vision_role_init (CxrImageEncoderInterface *iface)
{
  iface->embed = cxr_clip_vision_embed;
  iface->get_embedding_width = cxr_clip_vision_get_embedding_width;
}

/* ------------------------------------------------------- example inputs */

static GHashTable *
cxr_clip_text_example_inputs (CxrModel *model, guint batch, guint64 seed, GError **error)
{
  CxrClipText *self = CXR_CLIP_TEXT (model);
  GHashTable *out = cxr_model_new_tensor_table ();
  gint64 shape[2] = { batch, self->positions };
  CxrTensor *ids = cxr_tensor_new (CXR_DTYPE_I64, shape, 2);
  g_autofree gfloat *u = g_new (gfloat, batch * self->positions);
  gint64 *p = cxr_tensor_get_data (ids);

  cxr_philox_uniform (seed, 0, u, batch * self->positions);
  for (gint64 i = 0; i < shape[0] * shape[1]; i++)
    p[i] = MIN ((gint64) (u[i] * self->vocab), (gint64) self->vocab - 1);
  put (out, "input_ids", ids);
  return out;
}

static GHashTable *
cxr_clip_vision_example_inputs (CxrModel *model, guint batch, guint64 seed, GError **error)
{
  CxrClipVision *self = CXR_CLIP_VISION (model);
  GHashTable *out = cxr_model_new_tensor_table ();
  gint64 shape[4] = { batch, self->channels, self->image_size, self->image_size };

  put (out, "pixel_values", cxr_tensor_new_randn (shape, 4, seed, 0));
  return out;
}

/* ---------------------------------------------------------------- types */

static const gchar *const text_inputs[] = { "input_ids", NULL };
static const gchar *const text_optional[] = { "attention_mask", NULL };
static const gchar *const text_outputs[] = { "last_hidden_state", "pooler_output", "text_embeds", NULL };
static const gchar *const text_ignored[] = { "text_model.embeddings.position_ids", "vision_model.*",
                                             "visual_projection.weight", "logit_scale", NULL };
static const gchar *const vision_inputs[] = { "pixel_values", NULL };
static const gchar *const vision_outputs[] = { "last_hidden_state", "pooler_output", "image_embeds", NULL };
static const gchar *const vision_ignored[] = { "vision_model.embeddings.position_ids", "text_model.*",
                                               "text_projection.weight", "logit_scale", NULL };

/* SD v1.4's text_encoder/config.json, and openai/clip-vit-base-patch32's
 * vision_config: the public configurations. */
static const gchar text_default[] =
  "{\"architectures\": [\"CLIPTextModel\"], \"hidden_act\": \"quick_gelu\", \"hidden_size\": 768,"
  " \"intermediate_size\": 3072, \"layer_norm_eps\": 1e-05, \"max_position_embeddings\": 77,"
  " \"model_type\": \"clip_text_model\", \"num_attention_heads\": 12, \"num_hidden_layers\": 12,"
  " \"projection_dim\": 768, \"bos_token_id\": 0, \"eos_token_id\": 2, \"pad_token_id\": 1, \"vocab_size\": 49408}";
static const gchar vision_default[] =
  "{\"architectures\": [\"CLIPVisionModel\"], \"hidden_act\": \"quick_gelu\", \"hidden_size\": 768,"
  " \"image_size\": 224, \"intermediate_size\": 3072, \"layer_norm_eps\": 1e-05, \"model_type\": \"clip_vision_model\","
  " \"num_attention_heads\": 12, \"num_channels\": 3, \"num_hidden_layers\": 12, \"patch_size\": 32,"
  " \"projection_dim\": 512}";

static void
cxr_clip_text_class_init (CxrClipTextClass *klass)
{
  CxrModelClass *m = CXR_MODEL_CLASS (klass);

  m->configure = cxr_clip_text_configure;
  m->forward = cxr_clip_text_forward;
  m->example_inputs = cxr_clip_text_example_inputs;
  m->description = "CLIP text transformer (CLIPTextModel; built in: SD v1.4's ViT-L/14 text tower)";
  m->required_inputs = text_inputs;
  m->optional_inputs = text_optional;
  m->outputs = text_outputs;
  m->default_config = text_default;
  m->ignored_tensors = text_ignored;
}

static void
cxr_clip_text_init (CxrClipText *self)
{
}

static void
cxr_clip_vision_class_init (CxrClipVisionClass *klass)
{
  CxrModelClass *m = CXR_MODEL_CLASS (klass);

  m->configure = cxr_clip_vision_configure;
  m->forward = cxr_clip_vision_forward;
  m->example_inputs = cxr_clip_vision_example_inputs;
  m->description = "CLIP vision transformer (CLIPVisionModel; built in: ViT-B/32's vision tower)";
  m->required_inputs = vision_inputs;
  m->outputs = vision_outputs;
  m->default_config = vision_default;
  m->ignored_tensors = vision_ignored;
}

static void
cxr_clip_vision_init (CxrClipVision *self)
{
}

/**
 * cxr_clip_text_get_hidden_size:
 * @self: a prepared text model
 *
 * Returns: the width of its hidden states
 */
guint
cxr_clip_text_get_hidden_size (CxrClipText *self)
{
  return self->tower.hidden;
}

/**
 * cxr_clip_text_get_max_positions:
 * @self: a prepared text model
 *
 * Returns: the most tokens it takes (77)
 */
guint
cxr_clip_text_get_max_positions (CxrClipText *self)
{
  return self->positions;
}

/**
 * cxr_clip_text_get_vocab_size:
 * @self: a prepared text model
 *
 * Returns: the number of token ids it knows
 */
guint
cxr_clip_text_get_vocab_size (CxrClipText *self)
{
  return self->vocab;
}

/**
 * cxr_clip_vision_get_image_size:
 * @self: a prepared vision model
 *
 * Returns: the side of the images it takes
 */
guint
cxr_clip_vision_get_image_size (CxrClipVision *self)
{
  return self->image_size;
}

/**
 * cxr_clip_vision_get_hidden_size:
 * @self: a prepared vision model
 *
 * Returns: the width of its pooled output
 */
guint
cxr_clip_vision_get_hidden_size (CxrClipVision *self)
{
  return self->tower.hidden;
}
