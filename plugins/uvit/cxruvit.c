/* plugins/uvit/cxruvit.c: U-ViT, the vision module's other backbone.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "cxruvit.h"

/**
 * SECTION:uvit
 *
 * `uvit` is U-ViT (Bao et al., "All are Worth Words: A ViT Backbone for
 * Diffusion Models", CVPR 2023) as its text-to-image model (uvit_t2i)
 * builds it: the latent cut into patches (a strided convolution), the
 * timestep as one token (its sinusoidal embedding, cos then sin, through
 * an optional MLP), the context as tokens (a linear layer from the CLIP
 * width), all with learned positions through pre-norm transformer blocks
 * (self-attention, a GELU MLP), the second half of them taking the first
 * half's outputs as long skips (concatenated, then a linear layer), a
 * final layer norm, a linear layer back to patches, and a 3x3 convolution.
 * It plays the denoiser role, so `diffusion-train` and `diffusion-sample`
 * take it where they take `sd-unet`.
 *
 * Names are the U-ViT repository's (patch_embed.proj, time_embed.0/.2,
 * context_embed, pos_embed, in_blocks.N, mid_block, out_blocks.N with
 * skip_linear, norm, decoder_pred, final_layer; blocks: norm1, attn.qkv,
 * attn.proj, norm2, mlp.fc1, mlp.fc2), so its checkpoints load once
 * converted to safetensors (tools/pth-to-safetensors.py). config.json
 * holds its constructor's arguments: img_size, in_chans, patch_size,
 * embed_dim, depth, num_heads, mlp_ratio, qkv_bias, mlp_time_embed,
 * clip_dim, num_clip_token, conv, skip, and use_checkpoint: with it,
 * training recomputes each block's activations in the backward pass
 * instead of keeping them (cxr_tape_checkpoint()). Built in: U-ViT-S/2 for 4x32x32
 * latents (256x256 images) with the paper's context of 77 CLIP tokens and
 * the reference image's (78). Inputs: sample [N, C, S, S], timestep (one,
 * or one per sample), encoder_hidden_states [N, num_clip_token, clip_dim];
 * output: sample.
 */

typedef struct {
  guint image, channels, patch, width, depth, heads, hidden, context_width, context_tokens;
  gboolean qkv_bias, time_mlp, conv, skip, recompute;
} UvitConfig;

struct _CxrUvit {
  CxrModel parent_instance;
  UvitConfig c;
};

static void cxr_uvit_role_init (CxrDenoiserInterface *iface);
G_DEFINE_FINAL_TYPE_WITH_CODE (CxrUvit, cxr_uvit, CXR_TYPE_MODEL,
                               G_IMPLEMENT_INTERFACE (CXR_TYPE_DENOISER, cxr_uvit_role_init))

static const gchar *const uvit_known[] = { "_class_name", "name", "qk_scale", NULL };

static gboolean
add_block (CxrModel *m, const UvitConfig *c, const gchar *base, gboolean skip, GError **error)
{
  g_autofree gchar *norm1 = g_strconcat (base, ".norm1", NULL), *norm2 = g_strconcat (base, ".norm2", NULL);
  g_autofree gchar *qkv = g_strconcat (base, ".attn.qkv", NULL), *proj = g_strconcat (base, ".attn.proj", NULL);
  g_autofree gchar *fc1 = g_strconcat (base, ".mlp.fc1", NULL), *fc2 = g_strconcat (base, ".mlp.fc2", NULL);
  g_autofree gchar *skip_linear = g_strconcat (base, ".skip_linear", NULL);

  return (!skip || cxr_model_add_linear (m, skip_linear, c->width, 2 * c->width, TRUE, error)) &&
         cxr_model_add_norm (m, norm1, c->width, error) &&
         cxr_model_add_linear (m, qkv, 3 * c->width, c->width, c->qkv_bias, error) &&
         cxr_model_add_linear (m, proj, c->width, c->width, TRUE, error) &&
         cxr_model_add_norm (m, norm2, c->width, error) &&
         cxr_model_add_linear (m, fc1, c->hidden, c->width, TRUE, error) &&
         cxr_model_add_linear (m, fc2, c->width, c->hidden, TRUE, error);
}

static gboolean
cxr_uvit_configure (CxrModel *model, CxrConfig *config, GError **error)
{
  UvitConfig *c = &CXR_UVIT (model)->c;
  gdouble ratio;
  guint grid;

  memset (c, 0, sizeof *c);
  c->image = (guint) cxr_config_require_int (config, "img_size");
  c->channels = (guint) cxr_config_get_int (config, "in_chans", 4);
  c->patch = (guint) cxr_config_require_int (config, "patch_size");
  c->width = (guint) cxr_config_require_int (config, "embed_dim");
  c->depth = (guint) cxr_config_require_int (config, "depth");
  c->heads = (guint) cxr_config_require_int (config, "num_heads");
  ratio = cxr_config_get_double (config, "mlp_ratio", 4.0);
  c->qkv_bias = cxr_config_get_boolean (config, "qkv_bias", FALSE);
  c->time_mlp = cxr_config_get_boolean (config, "mlp_time_embed", FALSE);
  c->context_width = (guint) cxr_config_get_int (config, "clip_dim", 768);
  c->context_tokens = (guint) cxr_config_get_int (config, "num_clip_token", 77);
  c->conv = cxr_config_get_boolean (config, "conv", TRUE);
  c->skip = cxr_config_get_boolean (config, "skip", TRUE);
  c->recompute = cxr_config_get_boolean (config, "use_checkpoint", FALSE);
  cxr_config_ignore (config, uvit_known);
  /* timm's Mlp: int (dim * mlp_ratio) */
  c->hidden = (guint) (c->width * ratio);
  if (c->patch == 0 || c->image % MAX (c->patch, 1) != 0)
    cxr_config_fail (config, "patch_size", "%u does not divide img_size %u", c->patch, c->image);
  if (c->heads == 0 || c->width % MAX (c->heads, 1) != 0 || (c->width / MAX (c->heads, 1)) % 2 != 0)
    cxr_config_fail (config, "num_heads", "%u heads do not divide embed_dim %u", c->heads, c->width);
  if (c->width % 2 != 0)
    cxr_config_fail (config, "embed_dim", "%u: an even width expected (the timestep's cos and sin halves)", c->width);
  if (c->depth == 0)
    cxr_config_fail (config, "depth", "0: at least one block expected");
  if (c->hidden == 0)
    cxr_config_fail (config, "mlp_ratio", "%g gives an empty MLP", ratio);
  if (!cxr_config_check (config, error))
    return FALSE;

  grid = c->image / c->patch;
  if (!cxr_model_add_parameter (model, "patch_embed.proj.weight",
                                (const gint64[]) { c->width, c->channels, c->patch, c->patch }, 4, error) ||
      !cxr_model_add_parameter (model, "patch_embed.proj.bias", (const gint64[]) { c->width }, 1, error) ||
      (c->time_mlp && (!cxr_model_add_linear (model, "time_embed.0", 4 * c->width, c->width, TRUE, error) ||
                       !cxr_model_add_linear (model, "time_embed.2", c->width, 4 * c->width, TRUE, error))) ||
      !cxr_model_add_linear (model, "context_embed", c->width, c->context_width, TRUE, error) ||
      !cxr_model_add_parameter (model, "pos_embed", (const gint64[]) { 1, 1 + c->context_tokens + grid * grid,
                                                                       c->width }, 3, error))
    return FALSE;
  for (guint i = 0; i < c->depth / 2; i++)
    {
      g_autofree gchar *base = g_strdup_printf ("in_blocks.%u", i);
      if (!add_block (model, c, base, FALSE, error))
        return FALSE;
    }
  if (!add_block (model, c, "mid_block", FALSE, error))
    return FALSE;
  for (guint i = 0; i < c->depth / 2; i++)
    {
      g_autofree gchar *base = g_strdup_printf ("out_blocks.%u", i);
      if (!add_block (model, c, base, c->skip, error))
        return FALSE;
    }
  return cxr_model_add_norm (model, "norm", c->width, error) &&
         cxr_model_add_linear (model, "decoder_pred", c->patch * c->patch * c->channels, c->width, TRUE, error) &&
         (!c->conv || (cxr_model_add_parameter (model, "final_layer.weight",
                                                (const gint64[]) { c->channels, c->channels, 3, 3 }, 4, error) &&
                       cxr_model_add_parameter (model, "final_layer.bias", (const gint64[]) { c->channels }, 1, error)));
}

typedef struct {
  CxrModel *model;
  CxrTape *tape;
  GError **error;
} Ctx;

/* a parameter configure declared */
static CxrTensor *
P (Ctx *x, const gchar *name)
{
  CxrTensor *t = cxr_model_get_parameter (x->model, name);
  g_assert (t != NULL);
  return t;
}

static CxrTensor *
linear (Ctx *x, CxrTensor *in, const gchar *base, gboolean bias)
{
  return cxr_model_linear (x->model, x->tape, in, base, bias, x->error);
}

static CxrTensor *
norm (Ctx *x, CxrTensor *in, const gchar *base)
{
  return cxr_model_layer_norm (x->model, x->tape, in, base, 1e-5f, x->error);  /* nn.LayerNorm's eps */
}

static CxrTensor *
add_to (Ctx *x, CxrTensor *a, CxrTensor *b)
{
  return a && b ? cxr_op_add (x->tape, a, b, x->error) : NULL;
}

/* One block: the long skip first (out blocks), then x + attn(norm1 x) and
 * x + mlp(norm2 x). Takes @in. */
static CxrTensor *
block (Ctx *x, const UvitConfig *c, CxrTensor *in, const gchar *base, CxrTensor *skip)
{
  g_autofree gchar *norm1 = g_strconcat (base, ".norm1", NULL), *norm2 = g_strconcat (base, ".norm2", NULL);
  g_autofree gchar *qkv_name = g_strconcat (base, ".attn.qkv", NULL), *proj = g_strconcat (base, ".attn.proj", NULL);
  g_autofree gchar *fc1 = g_strconcat (base, ".mlp.fc1", NULL), *fc2 = g_strconcat (base, ".mlp.fc2", NULL);
  g_autofree gchar *skip_linear = g_strconcat (base, ".skip_linear", NULL);
  g_autoptr (CxrTensor) h = in, y = NULL, qkv = NULL, q = NULL, k = NULL, v = NULL, a = NULL, z = NULL;

  if (skip != NULL)
    {
      CxrTensor *pair[2] = { h, skip };
      g_autoptr (CxrTensor) both = h ? cxr_op_concat (x->tape, pair, 2, 2, x->error) : NULL;
      cxr_tensor_replace (&h, linear (x, both, skip_linear, TRUE));
    }
  /* qkv: [N, L, (3 heads head_dim)], the three side by side */
  y = norm (x, h, norm1);
  qkv = linear (x, y, qkv_name, c->qkv_bias);
  if (qkv == NULL || (q = cxr_op_slice (x->tape, qkv, 2, 0, c->width, x->error)) == NULL ||
      (k = cxr_op_slice (x->tape, qkv, 2, c->width, 2 * c->width, x->error)) == NULL ||
      (v = cxr_op_slice (x->tape, qkv, 2, 2 * c->width, 3 * c->width, x->error)) == NULL ||
      (a = cxr_op_multi_head_attention (x->tape, q, k, v, c->heads, NULL, FALSE, 0, x->error)) == NULL)
    return NULL;
  cxr_tensor_replace (&a, linear (x, a, proj, TRUE));
  cxr_tensor_replace (&h, add_to (x, h, a));
  z = norm (x, h, norm2);
  cxr_tensor_replace (&z, linear (x, z, fc1, TRUE));
  cxr_tensor_replace (&z, z ? cxr_op_gelu (x->tape, z, CXR_GELU_ERF, x->error) : NULL);
  cxr_tensor_replace (&z, linear (x, z, fc2, TRUE));
  return add_to (x, h, z);
}

/* A block as cxr_model_run_block() calls it: @inputs are the stream
 * and, in out blocks, the long skip */
static CxrTensor *
block_run (CxrModel *model, CxrTape *tape, CxrTensor *const *inputs, guint n_inputs, const gchar *base, guint arg,
           GError **error)
{
  Ctx x = { model, tape, error };

  return block (&x, &CXR_UVIT (model)->c, cxr_tensor_ref (inputs[0]), base, n_inputs > 1 ? inputs[1] : NULL);
}

/* A block, recomputed in the backward pass under use_checkpoint. Takes @in. */
static CxrTensor *
run_block (Ctx *x, CxrUvit *self, CxrTensor *in, const gchar *base, CxrTensor *skip)
{
  g_autoptr (CxrTensor) h = in;

  if (h == NULL)
    return NULL;
  return cxr_model_run_block (CXR_MODEL (self), x->tape, self->c.recompute, block_run, base, 0,
                              (CxrTensor *[]) { h, skip }, skip ? 2 : 1, x->error);
}

/**
 * cxr_uvit_forward:
 * @self: a prepared U-ViT
 * @tape: (nullable): where to record
 * @sample: the noisy latents [N, in_chans, img_size, img_size]
 * @timesteps: [N], F32
 * @context: [N, num_clip_token, clip_dim]
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the prediction, shaped as @sample
 */
CxrTensor *
cxr_uvit_forward (CxrUvit *self, CxrTape *tape, CxrTensor *sample, CxrTensor *timesteps, CxrTensor *context,
                  GError **error)
{
  UvitConfig *c = &self->c;
  Ctx x = { CXR_MODEL (self), tape, error };
  gint64 n = cxr_tensor_get_dim (sample, 0), grid = c->image / c->patch, extras = 1 + c->context_tokens;
  gint64 pp = (gint64) c->patch * c->patch * c->channels;
  g_autoptr (CxrTensor) patches = NULL, flat = NULL, tokens = NULL, t32 = NULL, temb = NULL, time_token = NULL;
  g_autoptr (CxrTensor) ctx = NULL, h = NULL, out = NULL;
  g_autoptr (GPtrArray) skips = g_ptr_array_new_with_free_func ((GDestroyNotify) cxr_tensor_unref);

  /* patches: [N, D, g, g] -> [N, g*g, D] */
  if ((patches = cxr_op_conv2d (tape, sample, P (&x, "patch_embed.proj.weight"), P (&x, "patch_embed.proj.bias"),
                                c->patch, 0, error)) == NULL ||
      (flat = cxr_op_reshape (tape, patches, (const gint64[]) { n, c->width, grid * grid }, 3, error)) == NULL ||
      (tokens = cxr_op_permute (tape, flat, (const gint[]) { 0, 2, 1 }, 3, error)) == NULL)
    return NULL;
  /* the timestep token: guided diffusion's embedding, cos then sin */
  if ((t32 = cxr_tensor_to_dtype (timesteps, CXR_DTYPE_F32, error)) == NULL ||
      (temb = cxr_op_timestep_embedding (t32, c->width, TRUE, 0.0f, 1.0f, 10000.0f, error)) == NULL)
    return NULL;
  if (c->time_mlp)
    {
      cxr_tensor_replace (&temb, linear (&x, temb, "time_embed.0", TRUE));
      cxr_tensor_replace (&temb, temb ? cxr_op_silu (tape, temb, error) : NULL);
      cxr_tensor_replace (&temb, linear (&x, temb, "time_embed.2", TRUE));
      if (temb == NULL)
        return NULL;
    }
  if ((time_token = cxr_op_reshape (tape, temb, (const gint64[]) { n, 1, c->width }, 3, error)) == NULL ||
      (ctx = linear (&x, context, "context_embed", TRUE)) == NULL)
    return NULL;
  {
    CxrTensor *parts[3] = { time_token, ctx, tokens };
    if ((h = cxr_op_concat (tape, parts, 3, 1, error)) == NULL)
      return NULL;
  }
  cxr_tensor_replace (&h, add_to (&x, h, P (&x, "pos_embed")));

  for (guint i = 0; i < c->depth / 2 && h; i++)
    {
      g_autofree gchar *base = g_strdup_printf ("in_blocks.%u", i);
      h = run_block (&x, self, g_steal_pointer (&h), base, NULL);
      if (h != NULL)
        g_ptr_array_add (skips, cxr_tensor_ref (h));
    }
  if (h != NULL)
    h = run_block (&x, self, g_steal_pointer (&h), "mid_block", NULL);
  for (guint i = 0; i < c->depth / 2 && h; i++)
    {
      g_autofree gchar *base = g_strdup_printf ("out_blocks.%u", i);
      g_autoptr (CxrTensor) skip = c->skip ? g_ptr_array_steal_index (skips, skips->len - 1) : NULL;
      h = run_block (&x, self, g_steal_pointer (&h), base, skip);
    }
  cxr_tensor_replace (&h, norm (&x, h, "norm"));
  cxr_tensor_replace (&h, linear (&x, h, "decoder_pred", TRUE));
  /* the patch tokens back to an image: [N, (g g), (p p C)] -> [N, C, g p, g p],
   * through [N g, g, p, p, C] -> [N g, C, p, g, p] -> [N, g, C, p g p]
   * -> [N, C, g, p g p] (tensors have at most 5 dimensions) */
  cxr_tensor_replace (&h, h ? cxr_op_slice (tape, h, 1, extras, extras + grid * grid, error) : NULL);
  cxr_tensor_replace (&h, h ? cxr_op_reshape (tape, h, (const gint64[]) { n * grid, grid, c->patch, c->patch,
                                                                          c->channels }, 5, error) : NULL);
  cxr_tensor_replace (&h, h ? cxr_op_permute (tape, h, (const gint[]) { 0, 4, 2, 1, 3 }, 5, error) : NULL);
  cxr_tensor_replace (&h, h ? cxr_op_reshape (tape, h, (const gint64[]) { n, grid, c->channels, pp / c->channels * grid },
                                              4, error) : NULL);
  cxr_tensor_replace (&h, h ? cxr_op_permute (tape, h, (const gint[]) { 0, 2, 1, 3 }, 4, error) : NULL);
  cxr_tensor_replace (&h, h ? cxr_op_reshape (tape, h, (const gint64[]) { n, c->channels, c->image, c->image }, 4,
                                              error) : NULL);
  if (h == NULL || !c->conv)
    return g_steal_pointer (&h);
  out = cxr_op_conv2d (tape, h, P (&x, "final_layer.weight"), P (&x, "final_layer.bias"), 1, 1, error);
  return g_steal_pointer (&out);
}

static GHashTable *
cxr_uvit_run (CxrModel *model, CxrTape *tape, GHashTable *inputs, GError **error)
{
  CxrUvit *self = CXR_UVIT (model);
  UvitConfig *c = &self->c;
  g_autoptr (CxrTensor) sample = NULL, ctx = NULL, t = NULL, out = NULL;
  GHashTable *outputs;
  gint64 n;

  if ((sample = cxr_model_take_input (model, inputs, "sample", CXR_DTYPE_F32, 4, error)) == NULL ||
      (ctx = cxr_model_take_input (model, inputs, "encoder_hidden_states", CXR_DTYPE_F32, 3, error)) == NULL)
    return NULL;
  n = cxr_tensor_get_dim (sample, 0);
  if (cxr_tensor_get_dim (sample, 1) != c->channels || cxr_tensor_get_dim (sample, 2) != c->image ||
      cxr_tensor_get_dim (sample, 3) != c->image)
    {
      g_autofree gchar *what = cxr_tensor_describe (sample);
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "uvit: sample is %s; [N, %u, %u, %u] expected "
                   "(in_chans, img_size)", what, c->channels, c->image, c->image);
      return NULL;
    }
  if (cxr_tensor_get_dim (ctx, 0) != n || cxr_tensor_get_dim (ctx, 1) != c->context_tokens ||
      cxr_tensor_get_dim (ctx, 2) != c->context_width)
    {
      g_autofree gchar *what = cxr_tensor_describe (ctx);
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "uvit: encoder_hidden_states is %s; [%" G_GINT64_FORMAT
                   ", %u, %u] expected (num_clip_token, clip_dim)", what, n, c->context_tokens, c->context_width);
      return NULL;
    }
  if ((t = cxr_model_take_timesteps (model, inputs, "timestep", n, error)) == NULL ||
      (out = cxr_uvit_forward (self, tape, sample, t, ctx, error)) == NULL)
    return NULL;
  outputs = cxr_model_new_tensor_table ();
  g_hash_table_insert (outputs, g_strdup ("sample"), g_steal_pointer (&out));
  return outputs;
}

static GHashTable *
cxr_uvit_example_inputs (CxrModel *model, guint batch, guint64 seed, GError **error)
{
  UvitConfig *c = &CXR_UVIT (model)->c;
  GHashTable *out = cxr_model_new_tensor_table ();
  CxrTensor *t = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { batch }, 1);

  cxr_tensor_fill (t, 500.0f);
  g_hash_table_insert (out, g_strdup ("sample"), cxr_tensor_new_randn ((const gint64[]) { batch, c->channels, c->image,
                                                                                          c->image }, 4, seed, 0));
  g_hash_table_insert (out, g_strdup ("timestep"), t);
  g_hash_table_insert (out, g_strdup ("encoder_hidden_states"),
                       cxr_tensor_new_randn ((const gint64[]) { batch, c->context_tokens, c->context_width }, 3, seed,
                                             1));
  return out;
}

/* U-ViT-S/2 (the repository's mscoco_uvit_small) for 4x32x32 latents, with
 * the paper's 77 + 1 context tokens */
static const gchar uvit_default[] =
  "{\"_class_name\": \"UViT\", \"img_size\": 32, \"in_chans\": 4, \"patch_size\": 2, \"embed_dim\": 512,"
  " \"depth\": 12, \"num_heads\": 8, \"mlp_ratio\": 4, \"qkv_bias\": false, \"mlp_time_embed\": false,"
  " \"clip_dim\": 768, \"num_clip_token\": 78, \"conv\": true, \"skip\": true}";
static const gchar *const uvit_inputs[] = { "sample", "timestep", "encoder_hidden_states", NULL };
static const gchar *const uvit_outputs[] = { "sample", NULL };

static void
cxr_uvit_class_init (CxrUvitClass *klass)
{
  CxrModelClass *m = CXR_MODEL_CLASS (klass);

  m->configure = cxr_uvit_configure;
  m->forward = cxr_uvit_run;
  m->example_inputs = cxr_uvit_example_inputs;
  m->description = "U-ViT, the transformer diffusion backbone with long skips (the U-ViT repository's uvit_t2i; "
                   "built in: U-ViT-S/2, 4x32x32 latents, 78 context tokens)";
  m->required_inputs = uvit_inputs;
  m->outputs = uvit_outputs;
  m->default_config = uvit_default;
}

static void
cxr_uvit_init (CxrUvit *self)
{
}

/* ---------------------------------------------------------------- role */

static CxrTensor *
uvit_predict (CxrDenoiser *self, CxrTape *tape, CxrTensor *sample, CxrTensor *timesteps, CxrTensor *context,
              GError **error)
{
  UvitConfig *c = &CXR_UVIT (self)->c;

  if (cxr_tensor_get_dim (sample, 2) != c->image || cxr_tensor_get_dim (sample, 3) != c->image ||
      cxr_tensor_get_dim (context, 1) != c->context_tokens)
    {
      g_autofree gchar *s = cxr_tensor_describe (sample), *k = cxr_tensor_describe (context);
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "uvit: latents %s and context %s; its positions "
                   "are for %ux%u latents and %u context tokens (img_size, num_clip_token)", s, k, c->image, c->image,
                   c->context_tokens);
      return NULL;
    }
  return cxr_uvit_forward (CXR_UVIT (self), tape, sample, timesteps, context, error);
}

static guint
uvit_latent_channels (CxrDenoiser *self)
{
  return CXR_UVIT (self)->c.channels;
}

static guint
uvit_context_width (CxrDenoiser *self)
{
  return CXR_UVIT (self)->c.context_width;
}

static void
cxr_uvit_role_init (CxrDenoiserInterface *iface)
{
  iface->predict = uvit_predict;
  iface->get_latent_channels = uvit_latent_channels;
  iface->get_context_width = uvit_context_width;
}
