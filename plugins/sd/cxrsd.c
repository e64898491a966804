/* plugins/sd/cxrsd.c: Stable Diffusion's UNet2DConditionModel and
 * AutoencoderKL, as diffusers builds them.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "cxrsd.h"

/**
 * SECTION:sd
 *
 * Stable Diffusion v1's networks with diffusers' tensor names, so the unet/
 * and vae/ folders of CompVis/stable-diffusion-v1-4 load unchanged, and so
 * does any smaller configuration of the same blocks (the tests' and the
 * phantom pipelines').
 *
 * `sd-unet` is UNet2DConditionModel: the sinusoidal time embedding (cosines
 * first, shift 0) through two linears; conv_in; down blocks of ResNet
 * blocks (group norm, SiLU, 3x3 convs, the time embedding added, a 1x1
 * shortcut where the width changes), with Transformer2D blocks in the
 * CrossAttn ones (group norm, proj_in, self-attention, cross-attention to
 * the context, a GEGLU feed-forward, each after a layer norm and added
 * back, proj_out, the input added), and a stride-2 conv between blocks; a
 * mid block (ResNet, Transformer2D, ResNet); up blocks of one more ResNet
 * each, every ResNet taking the concatenation of the stream and the skip
 * of the matching down layer, nearest 2x upsampling and a conv between
 * blocks; group norm, SiLU and conv_out. Configuration: diffusers'
 * config.json (block_out_channels, layers_per_block, down_block_types and
 * up_block_types of CrossAttnDownBlock2D/DownBlock2D and
 * UpBlock2D/CrossAttnUpBlock2D, attention_head_dim: the heads, as SD v1
 * means it, or num_attention_heads, cross_attention_dim,
 * norm_num_groups, norm_eps, use_linear_projection). Inputs: sample
 * [N, C, H, W], timestep (one, or one per sample), encoder_hidden_states
 * [N, L, D]; output: sample. With `gradient-checkpointing` (diffusers'
 * enable_gradient_checkpointing()), training records each ResNet and
 * Transformer2D block as one piece the backward pass runs again
 * (cxr_tape_checkpoint()), so that only the blocks' inputs are kept.
 *
 * `sd-vae` is AutoencoderKL: an encoder (ResNet blocks without time,
 * group norms of eps 1e-6, stride-2 convs padded on the right and bottom
 * only, a mid block with one single-head attention, conv_out to twice the
 * latent channels, quant_conv) to a diagonal Gaussian (mean, log-variance
 * clamped to [-30, 20]), and a decoder (post_quant_conv, conv_in, mid
 * block, up blocks with nearest 2x upsampling, conv_out). Older VAE files
 * name the attention query/key/value/proj_attn: both spellings load.
 * Inputs: sample (images in [-1, 1]), or latents (unscaled) to decode only;
 * outputs: latent_mean, latent_logvar and sample (the decoded mean, or the
 * decoded latents). SD scales latents by 0.18215 (scaling_factor) between
 * the two; the stages do that, not the network.
 */

#define MAX_BLOCKS 8

typedef struct {
  guint in_channels, out_channels, n_blocks, layers, groups, heads[MAX_BLOCKS], cross_dim;
  guint channels[MAX_BLOCKS];
  gboolean down_attn[MAX_BLOCKS], up_attn[MAX_BLOCKS], linear_proj;
  gfloat eps;
  gboolean flip_sin_to_cos;
  gfloat freq_shift;
} UnetConfig;

struct _CxrSdUnet {
  CxrModel parent_instance;
  UnetConfig c;
  gboolean recompute;
};

enum { UNET_PROP_0, UNET_PROP_GRADIENT_CHECKPOINTING, UNET_N_PROPS };

typedef struct {
  guint in_channels, out_channels, latent_channels, n_blocks, layers, groups;
  guint channels[MAX_BLOCKS];
  gdouble scaling_factor;
} VaeConfig;

struct _CxrSdVae {
  CxrModel parent_instance;
  VaeConfig c;
};

static void cxr_sd_unet_role_init (CxrDenoiserInterface *iface);
G_DEFINE_FINAL_TYPE_WITH_CODE (CxrSdUnet, cxr_sd_unet, CXR_TYPE_MODEL,
                               G_IMPLEMENT_INTERFACE (CXR_TYPE_DENOISER, cxr_sd_unet_role_init))
static void cxr_sd_vae_role_init (CxrAutoencoderInterface *iface);
G_DEFINE_FINAL_TYPE_WITH_CODE (CxrSdVae, cxr_sd_vae, CXR_TYPE_MODEL,
                               G_IMPLEMENT_INTERFACE (CXR_TYPE_AUTOENCODER, cxr_sd_vae_role_init))

/* ------------------------------------------------------------ declaring */

typedef struct {
  CxrModel *model;
  GError **error;
  gboolean ok;
} Decl;

static void
declare (Decl *d, const gint64 *shape, guint ndim, const gchar *format, ...) G_GNUC_PRINTF (4, 5);

static void
declare (Decl *d, const gint64 *shape, guint ndim, const gchar *format, ...)
{
  va_list args;
  g_autofree gchar *name = NULL;

  if (!d->ok)
    return;
  va_start (args, format);
  name = g_strdup_vprintf (format, args);
  va_end (args);
  d->ok = cxr_model_add_parameter (d->model, name, shape, ndim, d->error);
}

static void
declare_conv (Decl *d, const gchar *base, gint64 out, gint64 in, gint64 k)
{
  declare (d, (const gint64[]) { out, in, k, k }, 4, "%s.weight", base);
  declare (d, (const gint64[]) { out }, 1, "%s.bias", base);
}

static void
declare_linear (Decl *d, const gchar *base, gint64 out, gint64 in, gboolean bias)
{
  declare (d, (const gint64[]) { out, in }, 2, "%s.weight", base);
  if (bias)
    declare (d, (const gint64[]) { out }, 1, "%s.bias", base);
}

static void
declare_norm (Decl *d, const gchar *base, gint64 c)
{
  declare (d, (const gint64[]) { c }, 1, "%s.weight", base);
  declare (d, (const gint64[]) { c }, 1, "%s.bias", base);
}

static void
declare_resnet (Decl *d, const gchar *base, gint64 in, gint64 out, gint64 temb)
{
  g_autofree gchar *n1 = g_strconcat (base, ".norm1", NULL), *c1 = g_strconcat (base, ".conv1", NULL);
  g_autofree gchar *n2 = g_strconcat (base, ".norm2", NULL), *c2 = g_strconcat (base, ".conv2", NULL);
  g_autofree gchar *te = g_strconcat (base, ".time_emb_proj", NULL), *sc = g_strconcat (base, ".conv_shortcut", NULL);

  declare_norm (d, n1, in);
  declare_conv (d, c1, out, in, 3);
  if (temb)
    declare_linear (d, te, out, temb, TRUE);
  declare_norm (d, n2, out);
  declare_conv (d, c2, out, out, 3);
  if (in != out)
    declare_conv (d, sc, out, in, 1);
}

static void
declare_transformer (Decl *d, const gchar *base, gint64 c, gint64 cross, gboolean linear_proj)
{
  g_autofree gchar *tb = g_strconcat (base, ".transformer_blocks.0", NULL);
  g_autofree gchar *norm = g_strconcat (base, ".norm", NULL);
  const gchar *projs[] = { "proj_in", "proj_out" };

  declare_norm (d, norm, c);
  for (guint i = 0; i < 2; i++)
    {
      g_autofree gchar *p = g_strdup_printf ("%s.%s", base, projs[i]);
      if (linear_proj)
        declare_linear (d, p, c, c, TRUE);
      else
        declare_conv (d, p, c, c, 1);
    }
  for (guint a = 1; a <= 2; a++)
    {
      gint64 kv = a == 1 ? c : cross;
      g_autofree gchar *n = g_strdup_printf ("%s.norm%u", tb, a);
      g_autofree gchar *q = g_strdup_printf ("%s.attn%u.to_q", tb, a), *k = g_strdup_printf ("%s.attn%u.to_k", tb, a);
      g_autofree gchar *v = g_strdup_printf ("%s.attn%u.to_v", tb, a), *o = g_strdup_printf ("%s.attn%u.to_out.0", tb, a);
      declare_norm (d, n, c);
      declare_linear (d, q, c, c, FALSE);
      declare_linear (d, k, c, kv, FALSE);
      declare_linear (d, v, c, kv, FALSE);
      declare_linear (d, o, c, c, TRUE);
    }
  {
    g_autofree gchar *n3 = g_strconcat (tb, ".norm3", NULL);
    g_autofree gchar *ff0 = g_strconcat (tb, ".ff.net.0.proj", NULL), *ff2 = g_strconcat (tb, ".ff.net.2", NULL);
    declare_norm (d, n3, c);
    declare_linear (d, ff0, 8 * c, c, TRUE);
    declare_linear (d, ff2, c, 4 * c, TRUE);
  }
}

/* ---------------------------------------------------- UNet configuration */

static const gchar *const unet_known[] = {
  "sample_size", "center_input_sample", "downsample_padding", "mid_block_scale_factor", "act_fn",
  "dual_cross_attention", "only_cross_attention", "upcast_attention", "class_embed_type", "num_class_embeds",
  "resnet_time_scale_shift", "time_embedding_type", "transformer_layers_per_block", "mid_block_type",
  "addition_embed_type", "addition_time_embed_dim", "projection_class_embeddings_input_dim", "time_cond_proj_dim",
  "timestep_post_act", "time_embedding_dim", "time_embedding_act_fn", "encoder_hid_dim", "encoder_hid_dim_type",
  "conv_in_kernel", "conv_out_kernel", "class_embeddings_concat", "cross_attention_norm", "dropout",
  "resnet_skip_time_act", "resnet_out_scale_factor", "addition_embed_type_num_heads", "attention_type",
  "reverse_transformer_layers_per_block", "mid_block_only_cross_attention", NULL
};

/* Keys that must keep diffusers' default, as SD v1 has it: anything else
 * is an architecture this model does not build. */
static void
require_default (CxrConfig *c)
{
  const gchar *act = cxr_config_get_string (c, "act_fn", "silu");
  const gchar *mid = cxr_config_get_string (c, "mid_block_type", "UNetMidBlock2DCrossAttn");
  const gchar *time = cxr_config_get_string (c, "time_embedding_type", "positional");
  const gchar *shift = cxr_config_get_string (c, "resnet_time_scale_shift", "default");

  if (g_strcmp0 (act, "silu") != 0)
    cxr_config_fail (c, "act_fn", "\"%s\": only silu is built", act);
  if (g_strcmp0 (mid, "UNetMidBlock2DCrossAttn") != 0)
    cxr_config_fail (c, "mid_block_type", "\"%s\": only UNetMidBlock2DCrossAttn is built", mid);
  if (g_strcmp0 (time, "positional") != 0)
    cxr_config_fail (c, "time_embedding_type", "\"%s\": only positional is built", time);
  if (g_strcmp0 (shift, "default") != 0)
    cxr_config_fail (c, "resnet_time_scale_shift", "\"%s\": only default is built", shift);
  if (cxr_config_get_boolean (c, "center_input_sample", FALSE))
    cxr_config_fail (c, "center_input_sample", "true is not built");
  if (cxr_config_get_int (c, "downsample_padding", 1) != 1)
    cxr_config_fail (c, "downsample_padding", "only 1 is built");
  if (cxr_config_get_double (c, "mid_block_scale_factor", 1) != 1)
    cxr_config_fail (c, "mid_block_scale_factor", "only 1 is built");
  if (cxr_config_get_boolean (c, "dual_cross_attention", FALSE))
    cxr_config_fail (c, "dual_cross_attention", "true is not built");
  if (cxr_config_get_string (c, "class_embed_type", NULL) || cxr_config_get_string (c, "addition_embed_type", NULL))
    cxr_config_fail (c, "class_embed_type", "class and addition embeddings are not built");
  if (cxr_config_has_key (c, "only_cross_attention") && cxr_config_get_boolean (c, "only_cross_attention", FALSE))
    cxr_config_fail (c, "only_cross_attention", "true is not built");
  if (cxr_config_get_int (c, "conv_in_kernel", 3) != 3 || cxr_config_get_int (c, "conv_out_kernel", 3) != 3)
    cxr_config_fail (c, "conv_in_kernel", "only 3 is built");
  if (cxr_config_has_key (c, "transformer_layers_per_block"))
    {
      gint64 v = cxr_config_get_int (c, "transformer_layers_per_block", 1);
      if (v != 1)
        cxr_config_fail (c, "transformer_layers_per_block", "only 1 is built");
    }
}

/* KEY: one number for every block, or one per block */
static gboolean
heads_of (CxrConfig *c, const gchar *key, guint n_blocks, guint *heads)
{
  guint n = 0;
  g_autofree gint64 *list = NULL;

  if (!cxr_config_has_key (c, key))
    return FALSE;
  if (!cxr_config_is_list (c, key))
    {
      gint64 v = cxr_config_get_int (c, key, 8);
      for (guint i = 0; i < n_blocks; i++)
        heads[i] = (guint) v;
      return TRUE;
    }
  list = cxr_config_get_int_list (c, key, &n);
  if (list != NULL && n != n_blocks)
    cxr_config_fail (c, key, "%u values for %u blocks", n, n_blocks);
  for (guint i = 0; list && i < n_blocks && i < n; i++)
    heads[i] = (guint) list[i];
  return TRUE;
}

static gboolean
cxr_sd_unet_configure (CxrModel *model, CxrConfig *config, GError **error)
{
  CxrSdUnet *self = CXR_SD_UNET (model);
  UnetConfig *u = &self->c;
  g_autofree gint64 *channels = NULL;
  g_auto (GStrv) down = NULL, up = NULL;
  guint n = 0;
  gint64 temb;
  Decl d = { model, error, TRUE };

  memset (u, 0, sizeof *u);
  u->in_channels = (guint) cxr_config_get_int (config, "in_channels", 4);
  u->out_channels = (guint) cxr_config_get_int (config, "out_channels", 4);
  channels = cxr_config_get_int_list (config, "block_out_channels", &n);
  u->layers = (guint) cxr_config_require_int (config, "layers_per_block");
  u->cross_dim = (guint) cxr_config_require_int (config, "cross_attention_dim");
  u->groups = (guint) cxr_config_get_int (config, "norm_num_groups", 32);
  u->eps = (gfloat) cxr_config_get_double (config, "norm_eps", 1e-5);
  u->flip_sin_to_cos = cxr_config_get_boolean (config, "flip_sin_to_cos", TRUE);
  u->freq_shift = (gfloat) cxr_config_get_double (config, "freq_shift", 0);
  u->linear_proj = cxr_config_get_boolean (config, "use_linear_projection", FALSE);
  down = cxr_config_get_string_list (config, "down_block_types");
  up = cxr_config_get_string_list (config, "up_block_types");
  require_default (config);
  cxr_config_ignore (config, unet_known);
  if (channels == NULL || n == 0 || n > MAX_BLOCKS)
    cxr_config_fail (config, "block_out_channels", "1 to %u widths expected", MAX_BLOCKS);
  else if (down == NULL || up == NULL || g_strv_length (down) != n || g_strv_length (up) != n)
    cxr_config_fail (config, "down_block_types", "one down and one up block type per width (%u) expected", n);
  else
    {
      u->n_blocks = n;
      for (guint i = 0; i < n; i++)
        {
          u->channels[i] = (guint) channels[i];
          u->down_attn[i] = g_str_equal (down[i], "CrossAttnDownBlock2D");
          u->up_attn[i] = g_str_equal (up[i], "CrossAttnUpBlock2D");
          if (!u->down_attn[i] && !g_str_equal (down[i], "DownBlock2D"))
            cxr_config_fail (config, "down_block_types", "\"%s\": CrossAttnDownBlock2D or DownBlock2D expected", down[i]);
          if (!u->up_attn[i] && !g_str_equal (up[i], "UpBlock2D"))
            cxr_config_fail (config, "up_block_types", "\"%s\": CrossAttnUpBlock2D or UpBlock2D expected", up[i]);
          if (channels[i] <= 0 || u->groups == 0 || channels[i] % MAX (u->groups, 1) != 0)
            cxr_config_fail (config, "norm_num_groups", "%u groups do not divide %" G_GINT64_FORMAT " channels",
                             u->groups, channels[i]);
        }
      /* num_attention_heads, else attention_head_dim (SD v1 means heads) */
      for (guint i = 0; i < n; i++)
        u->heads[i] = 8;
      if (!heads_of (config, "num_attention_heads", n, u->heads))
        heads_of (config, "attention_head_dim", n, u->heads);
      else
        cxr_config_ignore (config, (const gchar *const[]) { "attention_head_dim", NULL });
      for (guint i = 0; i < n; i++)
        if (u->heads[i] == 0 || u->channels[i] % u->heads[i] != 0)
          cxr_config_fail (config, "attention_head_dim", "%u heads do not divide %u channels", u->heads[i],
                           u->channels[i]);
    }
  if (!cxr_config_check (config, error))
    return FALSE;

  temb = 4 * (gint64) u->channels[0];
  declare_linear (&d, "time_embedding.linear_1", temb, u->channels[0], TRUE);
  declare_linear (&d, "time_embedding.linear_2", temb, temb, TRUE);
  declare_conv (&d, "conv_in", u->channels[0], u->in_channels, 3);
  for (guint i = 0; i < n; i++)
    {
      guint in = i == 0 ? u->channels[0] : u->channels[i - 1];
      for (guint j = 0; j < u->layers; j++)
        {
          g_autofree gchar *r = g_strdup_printf ("down_blocks.%u.resnets.%u", i, j);
          g_autofree gchar *a = g_strdup_printf ("down_blocks.%u.attentions.%u", i, j);
          declare_resnet (&d, r, j == 0 ? in : u->channels[i], u->channels[i], temb);
          if (u->down_attn[i])
            declare_transformer (&d, a, u->channels[i], u->cross_dim, u->linear_proj);
        }
      if (i + 1 < n)
        {
          g_autofree gchar *ds = g_strdup_printf ("down_blocks.%u.downsamplers.0.conv", i);
          declare_conv (&d, ds, u->channels[i], u->channels[i], 3);
        }
    }
  declare_resnet (&d, "mid_block.resnets.0", u->channels[n - 1], u->channels[n - 1], temb);
  declare_transformer (&d, "mid_block.attentions.0", u->channels[n - 1], u->cross_dim, u->linear_proj);
  declare_resnet (&d, "mid_block.resnets.1", u->channels[n - 1], u->channels[n - 1], temb);
  for (guint i = 0; i < n; i++)
    {
      guint out = u->channels[n - 1 - i], prev = i == 0 ? u->channels[n - 1] : u->channels[n - i];
      guint in = u->channels[n - 1 - MIN (i + 1, n - 1)];
      for (guint j = 0; j <= u->layers; j++)
        {
          g_autofree gchar *r = g_strdup_printf ("up_blocks.%u.resnets.%u", i, j);
          g_autofree gchar *a = g_strdup_printf ("up_blocks.%u.attentions.%u", i, j);
          guint skip = j == u->layers ? in : out, rin = j == 0 ? prev : out;
          declare_resnet (&d, r, rin + skip, out, temb);
          if (u->up_attn[i])
            declare_transformer (&d, a, out, u->cross_dim, u->linear_proj);
        }
      if (i + 1 < n)
        {
          g_autofree gchar *us = g_strdup_printf ("up_blocks.%u.upsamplers.0.conv", i);
          declare_conv (&d, us, out, out, 3);
        }
    }
  declare_norm (&d, "conv_norm_out", u->channels[0]);
  declare_conv (&d, "conv_out", u->out_channels, u->channels[0], 3);
  return d.ok;
}

/* ----------------------------------------------------- VAE configuration */

static const gchar *const vae_known[] = {
  "sample_size", "act_fn", "force_upcast", "latents_mean", "latents_std", "shift_factor", "use_quant_conv",
  "use_post_quant_conv", "mid_block_add_attention", NULL
};

static void
declare_vae_mid (Decl *d, const gchar *base, gint64 c)
{
  g_autofree gchar *r0 = g_strconcat (base, ".resnets.0", NULL), *r1 = g_strconcat (base, ".resnets.1", NULL);
  g_autofree gchar *a = g_strconcat (base, ".attentions.0", NULL);
  const gchar *parts[] = { "to_q", "to_k", "to_v", "to_out.0" };

  declare_resnet (d, r0, c, c, 0);
  {
    g_autofree gchar *gn = g_strconcat (a, ".group_norm", NULL);
    declare_norm (d, gn, c);
  }
  for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
    {
      g_autofree gchar *p = g_strdup_printf ("%s.%s", a, parts[i]);
      declare_linear (d, p, c, c, TRUE);
    }
  declare_resnet (d, r1, c, c, 0);
}

static gboolean
cxr_sd_vae_configure (CxrModel *model, CxrConfig *config, GError **error)
{
  CxrSdVae *self = CXR_SD_VAE (model);
  VaeConfig *v = &self->c;
  g_autofree gint64 *channels = NULL;
  g_auto (GStrv) down = NULL, up = NULL;
  guint n = 0;
  Decl d = { model, error, TRUE };

  memset (v, 0, sizeof *v);
  v->in_channels = (guint) cxr_config_get_int (config, "in_channels", 3);
  v->out_channels = (guint) cxr_config_get_int (config, "out_channels", 3);
  v->latent_channels = (guint) cxr_config_get_int (config, "latent_channels", 4);
  v->layers = (guint) cxr_config_require_int (config, "layers_per_block");
  v->groups = (guint) cxr_config_get_int (config, "norm_num_groups", 32);
  v->scaling_factor = cxr_config_get_double (config, "scaling_factor", 0.18215);
  channels = cxr_config_get_int_list (config, "block_out_channels", &n);
  down = cxr_config_get_string_list (config, "down_block_types");
  up = cxr_config_get_string_list (config, "up_block_types");
  cxr_config_ignore (config, vae_known);
  if (g_strcmp0 (cxr_config_get_string (config, "act_fn", "silu"), "silu") != 0)
    cxr_config_fail (config, "act_fn", "only silu is built");
  if (!cxr_config_get_boolean (config, "use_quant_conv", TRUE) || !cxr_config_get_boolean (config, "use_post_quant_conv", TRUE) ||
      !cxr_config_get_boolean (config, "mid_block_add_attention", TRUE))
    cxr_config_fail (config, "use_quant_conv", "only SD's AutoencoderKL (quant convs, mid-block attention) is built");
  if (channels == NULL || n == 0 || n > MAX_BLOCKS)
    cxr_config_fail (config, "block_out_channels", "1 to %u widths expected", MAX_BLOCKS);
  else if (down == NULL || up == NULL || g_strv_length (down) != n || g_strv_length (up) != n)
    cxr_config_fail (config, "down_block_types", "one down and one up block type per width (%u) expected", n);
  else
    for (guint i = 0; i < n; i++)
      {
        v->channels[i] = (guint) channels[i];
        if (!g_str_equal (down[i], "DownEncoderBlock2D"))
          cxr_config_fail (config, "down_block_types", "\"%s\": DownEncoderBlock2D expected", down[i]);
        if (!g_str_equal (up[i], "UpDecoderBlock2D"))
          cxr_config_fail (config, "up_block_types", "\"%s\": UpDecoderBlock2D expected", up[i]);
        if (channels[i] <= 0 || v->groups == 0 || channels[i] % MAX (v->groups, 1) != 0)
          cxr_config_fail (config, "norm_num_groups", "%u groups do not divide %" G_GINT64_FORMAT " channels",
                           v->groups, channels[i]);
      }
  if (!cxr_config_check (config, error))
    return FALSE;
  v->n_blocks = n;

  declare_conv (&d, "encoder.conv_in", v->channels[0], v->in_channels, 3);
  for (guint i = 0; i < n; i++)
    {
      guint in = i == 0 ? v->channels[0] : v->channels[i - 1];
      for (guint j = 0; j < v->layers; j++)
        {
          g_autofree gchar *r = g_strdup_printf ("encoder.down_blocks.%u.resnets.%u", i, j);
          declare_resnet (&d, r, j == 0 ? in : v->channels[i], v->channels[i], 0);
        }
      if (i + 1 < n)
        {
          g_autofree gchar *ds = g_strdup_printf ("encoder.down_blocks.%u.downsamplers.0.conv", i);
          declare_conv (&d, ds, v->channels[i], v->channels[i], 3);
        }
    }
  declare_vae_mid (&d, "encoder.mid_block", v->channels[n - 1]);
  declare_norm (&d, "encoder.conv_norm_out", v->channels[n - 1]);
  declare_conv (&d, "encoder.conv_out", 2 * v->latent_channels, v->channels[n - 1], 3);
  declare_conv (&d, "quant_conv", 2 * v->latent_channels, 2 * v->latent_channels, 1);
  declare_conv (&d, "post_quant_conv", v->latent_channels, v->latent_channels, 1);
  declare_conv (&d, "decoder.conv_in", v->channels[n - 1], v->latent_channels, 3);
  declare_vae_mid (&d, "decoder.mid_block", v->channels[n - 1]);
  for (guint i = 0; i < n; i++)
    {
      guint out = v->channels[n - 1 - i], prev = i == 0 ? v->channels[n - 1] : v->channels[n - i];
      for (guint j = 0; j <= v->layers; j++)
        {
          g_autofree gchar *r = g_strdup_printf ("decoder.up_blocks.%u.resnets.%u", i, j);
          declare_resnet (&d, r, j == 0 ? prev : out, out, 0);
        }
      if (i + 1 < n)
        {
          g_autofree gchar *us = g_strdup_printf ("decoder.up_blocks.%u.upsamplers.0.conv", i);
          declare_conv (&d, us, out, out, 3);
        }
    }
  declare_norm (&d, "decoder.conv_norm_out", v->channels[0]);
  declare_conv (&d, "decoder.conv_out", v->out_channels, v->channels[0], 3);
  return d.ok;
}

/* -------------------------------------------------------------- compute */

/* The ops of a forward pass, chained: each step takes the last result,
 * the first error stops the rest. */
typedef struct {
  CxrModel *model;
  CxrTape *tape;
  GError **error;
} Ctx;

static CxrTensor *
param (Ctx *c, const gchar *base, const gchar *part)
{
  g_autofree gchar *name = g_strconcat (base, part, NULL);
  CxrTensor *t = cxr_model_get_parameter (c->model, name);
  g_assert (t != NULL); /* declared by configure */
  return t;
}

static CxrTensor *
conv (Ctx *c, CxrTensor *x, const gchar *base, guint stride, guint pad)
{
  if (x == NULL)
    return NULL;
  return cxr_op_conv2d (c->tape, x, param (c, base, ".weight"), param (c, base, ".bias"), stride, pad, c->error);
}

static CxrTensor *
group_norm (Ctx *c, CxrTensor *x, const gchar *base, guint groups, gfloat eps)
{
  if (x == NULL)
    return NULL;
  return cxr_op_group_norm (c->tape, x, groups, param (c, base, ".weight"), param (c, base, ".bias"), eps, c->error);
}

static CxrTensor *
layer_norm (Ctx *c, CxrTensor *x, const gchar *base)
{
  return cxr_op_layer_norm (c->tape, x, param (c, base, ".weight"), param (c, base, ".bias"), 1e-5f, c->error);
}

static CxrTensor *
linear (Ctx *c, CxrTensor *x, const gchar *base, gboolean bias)
{
  if (x == NULL)
    return NULL;
  return cxr_op_linear (c->tape, x, param (c, base, ".weight"), bias ? param (c, base, ".bias") : NULL, c->error);
}

static CxrTensor *
silu (Ctx *c, CxrTensor *x)
{
  return x ? cxr_op_silu (c->tape, x, c->error) : NULL;
}

static CxrTensor *
add (Ctx *c, CxrTensor *a, CxrTensor *b)
{
  return a && b ? cxr_op_add (c->tape, a, b, c->error) : NULL;
}

/* ResnetBlock2D: x + conv2(silu(norm2(conv1(silu(norm1(x))) + temb))) */
static CxrTensor *
resnet (Ctx *c, CxrTensor *x, CxrTensor *temb_act, const gchar *base, guint groups, gfloat eps)
{
  g_autoptr (CxrTensor) h = NULL, shortcut = NULL;
  g_autofree gchar *sc = g_strconcat (base, ".conv_shortcut.weight", NULL);
  g_autofree gchar *n1 = g_strconcat (base, ".norm1", NULL), *c1 = g_strconcat (base, ".conv1", NULL);
  g_autofree gchar *n2 = g_strconcat (base, ".norm2", NULL), *c2 = g_strconcat (base, ".conv2", NULL);
  g_autofree gchar *te = g_strconcat (base, ".time_emb_proj", NULL), *scb = g_strconcat (base, ".conv_shortcut", NULL);

  h = group_norm (c, x, n1, groups, eps);
  cxr_tensor_replace (&h, silu (c, h));
  cxr_tensor_replace (&h, conv (c, h, c1, 1, 1));
  if (temb_act != NULL && h != NULL)
    {
      g_autoptr (CxrTensor) t = linear (c, temb_act, te, TRUE), t4 = NULL;
      if (t == NULL)
        return NULL;
      t4 = cxr_op_reshape (c->tape, t, (const gint64[]) { cxr_tensor_get_dim (t, 0), cxr_tensor_get_dim (t, 1), 1, 1 },
                           4, c->error);
      cxr_tensor_replace (&h, add (c, h, t4));
    }
  cxr_tensor_replace (&h, group_norm (c, h, n2, groups, eps));
  cxr_tensor_replace (&h, silu (c, h));
  cxr_tensor_replace (&h, conv (c, h, c2, 1, 1));
  shortcut = cxr_model_get_parameter (c->model, sc) ? conv (c, x, scb, 1, 0) : cxr_tensor_ref (x);
  return add (c, shortcut, h);
}

/* [N, C, H, W] <-> [N, HW, C] */
static CxrTensor *
to_tokens (Ctx *c, CxrTensor *x)
{
  gint64 n = cxr_tensor_get_dim (x, 0), ch = cxr_tensor_get_dim (x, 1), hw = cxr_tensor_get_dim (x, 2) * cxr_tensor_get_dim (x, 3);
  g_autoptr (CxrTensor) flat = cxr_op_reshape (c->tape, x, (const gint64[]) { n, ch, hw }, 3, c->error);
  return flat ? cxr_op_permute (c->tape, flat, (const gint[]) { 0, 2, 1 }, 3, c->error) : NULL;
}

static CxrTensor *
to_image (Ctx *c, CxrTensor *t, gint64 h, gint64 w)
{
  gint64 n = cxr_tensor_get_dim (t, 0), ch = cxr_tensor_get_dim (t, 2);
  g_autoptr (CxrTensor) p = cxr_op_permute (c->tape, t, (const gint[]) { 0, 2, 1 }, 3, c->error);
  return p ? cxr_op_reshape (c->tape, p, (const gint64[]) { n, ch, h, w }, 4, c->error) : NULL;
}

/* multi-head attention of x to ctx (ctx = x for self-attention), the
 * projections named BASE.to_q/to_k/to_v/to_out.0 */
static CxrTensor *
attention (Ctx *c, CxrTensor *x, CxrTensor *ctx, const gchar *base, guint heads, gboolean qkv_bias)
{
  g_autofree gchar *q_name = g_strconcat (base, ".to_q", NULL), *k_name = g_strconcat (base, ".to_k", NULL);
  g_autofree gchar *v_name = g_strconcat (base, ".to_v", NULL), *o_name = g_strconcat (base, ".to_out.0", NULL);
  g_autoptr (CxrTensor) q = NULL, k = NULL, v = NULL, m = NULL;

  if ((q = linear (c, x, q_name, qkv_bias)) == NULL || (k = linear (c, ctx, k_name, qkv_bias)) == NULL ||
      (v = linear (c, ctx, v_name, qkv_bias)) == NULL ||
      (m = cxr_op_multi_head_attention (c->tape, q, k, v, heads, NULL, FALSE, 0, c->error)) == NULL)
    return NULL;
  return linear (c, m, o_name, TRUE);
}

/* Transformer2DModel with one BasicTransformerBlock */
static CxrTensor *
transformer (Ctx *c, CxrTensor *x, CxrTensor *context, const gchar *base, guint heads, guint groups, gboolean linear_proj)
{
  gint64 h = cxr_tensor_get_dim (x, 2), w = cxr_tensor_get_dim (x, 3);
  g_autofree gchar *norm = g_strconcat (base, ".norm", NULL), *pin = g_strconcat (base, ".proj_in", NULL);
  g_autofree gchar *pout = g_strconcat (base, ".proj_out", NULL), *tb = g_strconcat (base, ".transformer_blocks.0", NULL);
  g_autofree gchar *n1 = g_strconcat (tb, ".norm1", NULL), *n2 = g_strconcat (tb, ".norm2", NULL), *n3 = g_strconcat (tb, ".norm3", NULL);
  g_autofree gchar *a1 = g_strconcat (tb, ".attn1", NULL), *a2 = g_strconcat (tb, ".attn2", NULL);
  g_autofree gchar *ff0 = g_strconcat (tb, ".ff.net.0.proj", NULL), *ff2 = g_strconcat (tb, ".ff.net.2", NULL);
  g_autoptr (CxrTensor) t = NULL, y = NULL, z = NULL, proj = NULL, hid = NULL, gate = NULL, g = NULL, out = NULL;
  gint64 inner;

  t = group_norm (c, x, norm, groups, 1e-6f);
  if (!linear_proj)
    {
      cxr_tensor_replace (&t, conv (c, t, pin, 1, 0));
      cxr_tensor_replace (&t, t ? to_tokens (c, t) : NULL);
    }
  else
    {
      cxr_tensor_replace (&t, t ? to_tokens (c, t) : NULL);
      cxr_tensor_replace (&t, linear (c, t, pin, TRUE));
    }
  if (t == NULL)
    return NULL;
  y = layer_norm (c, t, n1);
  cxr_tensor_replace (&y, y ? attention (c, y, y, a1, heads, FALSE) : NULL);
  cxr_tensor_replace (&t, add (c, t, y));
  if (t == NULL || (z = layer_norm (c, t, n2)) == NULL)
    return NULL;
  cxr_tensor_replace (&z, attention (c, z, context, a2, heads, FALSE));
  cxr_tensor_replace (&t, add (c, t, z));
  if (t == NULL || (proj = layer_norm (c, t, n3)) == NULL)
    return NULL;
  cxr_tensor_replace (&proj, linear (c, proj, ff0, TRUE));
  if (proj == NULL)
    return NULL;
  /* GEGLU: the first half times GELU of the second */
  inner = cxr_tensor_get_dim (proj, 2) / 2;
  if ((hid = cxr_op_slice (c->tape, proj, 2, 0, inner, c->error)) == NULL ||
      (gate = cxr_op_slice (c->tape, proj, 2, inner, 2 * inner, c->error)) == NULL ||
      (g = cxr_op_gelu (c->tape, gate, CXR_GELU_ERF, c->error)) == NULL ||
      (out = cxr_op_mul (c->tape, hid, g, c->error)) == NULL)
    return NULL;
  cxr_tensor_replace (&out, linear (c, out, ff2, TRUE));
  cxr_tensor_replace (&t, add (c, t, out));
  if (t == NULL)
    return NULL;
  if (linear_proj)
    {
      cxr_tensor_replace (&t, linear (c, t, pout, TRUE));
      cxr_tensor_replace (&t, t ? to_image (c, t, h, w) : NULL);
    }
  else
    {
      cxr_tensor_replace (&t, to_image (c, t, h, w));
      cxr_tensor_replace (&t, conv (c, t, pout, 1, 0));
    }
  return add (c, t, x);
}

/* A ResNet (heads 0: @inputs are the stream and the time embedding) or
 * Transformer2D block (the stream and the context) of the UNet */
static CxrTensor *
unet_block_run (CxrModel *model, CxrTape *tape, CxrTensor *const *inputs, guint n_inputs, const gchar *base,
                guint heads, GError **error)
{
  UnetConfig *u = &CXR_SD_UNET (model)->c;
  Ctx c = { model, tape, error };

  if (heads == 0)
    return resnet (&c, inputs[0], inputs[1], base, u->groups, u->eps);
  return transformer (&c, inputs[0], inputs[1], base, heads, u->groups, u->linear_proj);
}

/* The UNet's block BASE on @x with @other, recomputed in the backward
 * pass under gradient-checkpointing. */
static CxrTensor *
unet_block (Ctx *c, CxrSdUnet *self, CxrTensor *x, CxrTensor *other, const gchar *base, guint heads)
{
  if (x == NULL)
    return NULL;
  return cxr_model_run_block (CXR_MODEL (self), c->tape, self->recompute, unet_block_run, base, heads,
                              (CxrTensor *[]) { x, other }, 2, c->error);
}

/**
 * cxr_sd_unet_forward:
 * @self: a prepared UNet
 * @tape: (nullable): where to record, for training
 * @sample: noisy latents [N, C, H, W] (H and W divisible by 2^(blocks-1))
 * @timesteps: [N] (floats or integers)
 * @context: encoder_hidden_states [N, L, cross_attention_dim]
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the prediction [N, out, H, W]
 */
CxrTensor *
cxr_sd_unet_forward (CxrSdUnet *self, CxrTape *tape, CxrTensor *sample, CxrTensor *timesteps, CxrTensor *context,
                     GError **error)
{
  UnetConfig *u = &self->c;
  Ctx c = { CXR_MODEL (self), tape, error };
  g_autoptr (CxrTensor) temb = NULL, temb_act = NULL, h = NULL, t32 = NULL;
  g_autoptr (GPtrArray) skips = g_ptr_array_new_with_free_func ((GDestroyNotify) cxr_tensor_unref);
  guint n = u->n_blocks;

  if ((t32 = cxr_tensor_to_dtype (timesteps, CXR_DTYPE_F32, error)) == NULL ||
      (temb = cxr_op_timestep_embedding (t32, u->channels[0], u->flip_sin_to_cos, u->freq_shift, 1.0f, 10000.0f,
                                         error)) == NULL)
    return NULL;
  cxr_tensor_replace (&temb, linear (&c, temb, "time_embedding.linear_1", TRUE));
  cxr_tensor_replace (&temb, silu (&c, temb));
  cxr_tensor_replace (&temb, linear (&c, temb, "time_embedding.linear_2", TRUE));
  if ((temb_act = silu (&c, temb)) == NULL)
    return NULL;
  h = conv (&c, sample, "conv_in", 1, 1);
  if (h == NULL)
    return NULL;
  g_ptr_array_add (skips, cxr_tensor_ref (h));
  for (guint i = 0; i < n; i++)
    {
      for (guint j = 0; j < u->layers; j++)
        {
          g_autofree gchar *r = g_strdup_printf ("down_blocks.%u.resnets.%u", i, j);
          g_autofree gchar *a = g_strdup_printf ("down_blocks.%u.attentions.%u", i, j);
          cxr_tensor_replace (&h, unet_block (&c, self, h, temb_act, r, 0));
          if (h && u->down_attn[i])
            cxr_tensor_replace (&h, unet_block (&c, self, h, context, a, u->heads[i]));
          if (h == NULL)
            return NULL;
          g_ptr_array_add (skips, cxr_tensor_ref (h));
        }
      if (i + 1 < n)
        {
          g_autofree gchar *ds = g_strdup_printf ("down_blocks.%u.downsamplers.0.conv", i);
          cxr_tensor_replace (&h, conv (&c, h, ds, 2, 1));
          if (h == NULL)
            return NULL;
          g_ptr_array_add (skips, cxr_tensor_ref (h));
        }
    }
  cxr_tensor_replace (&h, unet_block (&c, self, h, temb_act, "mid_block.resnets.0", 0));
  cxr_tensor_replace (&h, unet_block (&c, self, h, context, "mid_block.attentions.0", u->heads[n - 1]));
  cxr_tensor_replace (&h, unet_block (&c, self, h, temb_act, "mid_block.resnets.1", 0));
  if (h == NULL)
    return NULL;
  for (guint i = 0; i < n; i++)
    {
      guint block = n - 1 - i;
      for (guint j = 0; j <= u->layers; j++)
        {
          g_autofree gchar *r = g_strdup_printf ("up_blocks.%u.resnets.%u", i, j);
          g_autofree gchar *a = g_strdup_printf ("up_blocks.%u.attentions.%u", i, j);
          g_autoptr (CxrTensor) skip = g_ptr_array_steal_index (skips, skips->len - 1);
          CxrTensor *pair[2] = { h, skip };
          cxr_tensor_replace (&h, cxr_op_concat (tape, pair, 2, 1, error));
          cxr_tensor_replace (&h, unet_block (&c, self, h, temb_act, r, 0));
          if (h && u->up_attn[i])
            cxr_tensor_replace (&h, unet_block (&c, self, h, context, a, u->heads[block]));
          if (h == NULL)
            return NULL;
        }
      if (i + 1 < n)
        {
          g_autofree gchar *us = g_strdup_printf ("up_blocks.%u.upsamplers.0.conv", i);
          cxr_tensor_replace (&h, cxr_op_upsample_nearest2x (tape, h, error));
          cxr_tensor_replace (&h, conv (&c, h, us, 1, 1));
          if (h == NULL)
            return NULL;
        }
    }
  cxr_tensor_replace (&h, group_norm (&c, h, "conv_norm_out", u->groups, u->eps));
  cxr_tensor_replace (&h, silu (&c, h));
  cxr_tensor_replace (&h, conv (&c, h, "conv_out", 1, 1));
  return g_steal_pointer (&h);
}

/* the VAE's mid block: ResNet, one single-head attention with biases over
 * the positions (group norm eps 1e-6, the input added), ResNet */
static CxrTensor *
vae_mid (Ctx *c, CxrTensor *x, const gchar *base, guint groups)
{
  g_autofree gchar *r0 = g_strconcat (base, ".resnets.0", NULL), *r1 = g_strconcat (base, ".resnets.1", NULL);
  g_autofree gchar *a = g_strconcat (base, ".attentions.0", NULL), *gn = g_strconcat (a, ".group_norm", NULL);
  g_autoptr (CxrTensor) h = resnet (c, x, NULL, r0, groups, 1e-6f), t = NULL;
  gint64 hh, ww;

  if (h == NULL)
    return NULL;
  hh = cxr_tensor_get_dim (h, 2);
  ww = cxr_tensor_get_dim (h, 3);
  t = group_norm (c, h, gn, groups, 1e-6f);
  cxr_tensor_replace (&t, t ? to_tokens (c, t) : NULL);
  cxr_tensor_replace (&t, t ? attention (c, t, t, a, 1, TRUE) : NULL);
  cxr_tensor_replace (&t, t ? to_image (c, t, hh, ww) : NULL);
  cxr_tensor_replace (&t, add (c, t, h));
  if (t == NULL)
    return NULL;
  return resnet (c, t, NULL, r1, groups, 1e-6f);
}

/* stride-2 conv with diffusers' padding of the VAE: one zero row and
 * column after the image, none before */
static CxrTensor *
vae_downsample (Ctx *c, CxrTensor *x, const gchar *base)
{
  gint64 n = cxr_tensor_get_dim (x, 0), ch = cxr_tensor_get_dim (x, 1), h = cxr_tensor_get_dim (x, 2);
  gint64 w = cxr_tensor_get_dim (x, 3);
  g_autoptr (CxrTensor) row = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { n, ch, 1, w }, 4);
  g_autoptr (CxrTensor) col = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { n, ch, h + 1, 1 }, 4);
  g_autoptr (CxrTensor) tall = NULL, padded = NULL;
  CxrTensor *a[2] = { x, row };

  cxr_tensor_fill (row, 0);
  cxr_tensor_fill (col, 0);
  if ((tall = cxr_op_concat (c->tape, a, 2, 2, c->error)) == NULL)
    return NULL;
  {
    CxrTensor *b[2] = { tall, col };
    if ((padded = cxr_op_concat (c->tape, b, 2, 3, c->error)) == NULL)
      return NULL;
  }
  return conv (c, padded, base, 2, 0);
}

/**
 * cxr_sd_vae_encode:
 * @self: a prepared VAE
 * @tape: (nullable): where to record
 * @images: [N, 3, H, W] in [-1, 1]
 * @logvar: (out) (transfer full) (optional): the log-variance, clamped to [-30, 20]
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the mean of the latent Gaussian
 *   [N, latent, H/f, W/f] (unscaled)
 */
CxrTensor *
cxr_sd_vae_encode (CxrSdVae *self, CxrTape *tape, CxrTensor *images, CxrTensor **logvar, GError **error)
{
  VaeConfig *v = &self->c;
  Ctx c = { CXR_MODEL (self), tape, error };
  g_autoptr (CxrTensor) h = conv (&c, images, "encoder.conv_in", 1, 1), mean = NULL, lv = NULL;
  guint n = v->n_blocks;

  for (guint i = 0; i < n && h; i++)
    {
      for (guint j = 0; j < v->layers && h; j++)
        {
          g_autofree gchar *r = g_strdup_printf ("encoder.down_blocks.%u.resnets.%u", i, j);
          cxr_tensor_replace (&h, resnet (&c, h, NULL, r, v->groups, 1e-6f));
        }
      if (i + 1 < n && h)
        {
          g_autofree gchar *ds = g_strdup_printf ("encoder.down_blocks.%u.downsamplers.0.conv", i);
          cxr_tensor_replace (&h, vae_downsample (&c, h, ds));
        }
    }
  if (h)
    cxr_tensor_replace (&h, vae_mid (&c, h, "encoder.mid_block", v->groups));
  cxr_tensor_replace (&h, group_norm (&c, h, "encoder.conv_norm_out", v->groups, 1e-6f));
  cxr_tensor_replace (&h, silu (&c, h));
  cxr_tensor_replace (&h, conv (&c, h, "encoder.conv_out", 1, 1));
  cxr_tensor_replace (&h, conv (&c, h, "quant_conv", 1, 0));
  if (h == NULL || (mean = cxr_op_slice (tape, h, 1, 0, v->latent_channels, error)) == NULL)
    return NULL;
  if (logvar)
    {
      gfloat *p;
      if ((lv = cxr_op_slice (tape, h, 1, v->latent_channels, 2 * v->latent_channels, error)) == NULL)
        return NULL;
      /* a copy, clamped outside the tape (the log-variance is reported,
       * not trained through) */
      {
        g_autoptr (CxrTensor) dense = cxr_tensor_contiguous (lv);
        *logvar = cxr_tensor_new_like (dense);
        memcpy (cxr_tensor_get_data (*logvar), cxr_tensor_get_data (dense), cxr_tensor_get_nbytes (dense));
      }
      p = cxr_tensor_get_data (*logvar);
      for (gint64 i = 0, count = cxr_tensor_get_numel (*logvar); i < count; i++)
        p[i] = CLAMP (p[i], -30.0f, 20.0f);
    }
  return g_steal_pointer (&mean);
}

/**
 * cxr_sd_vae_decode:
 * @self: a prepared VAE
 * @tape: (nullable): where to record
 * @latents: [N, latent, h, w], unscaled (divide SD's scaled latents by
 *   the scaling factor first)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the images [N, 3, H, W], about [-1, 1]
 */
CxrTensor *
cxr_sd_vae_decode (CxrSdVae *self, CxrTape *tape, CxrTensor *latents, GError **error)
{
  VaeConfig *v = &self->c;
  Ctx c = { CXR_MODEL (self), tape, error };
  g_autoptr (CxrTensor) h = conv (&c, latents, "post_quant_conv", 1, 0);
  guint n = v->n_blocks;

  cxr_tensor_replace (&h, conv (&c, h, "decoder.conv_in", 1, 1));
  if (h)
    cxr_tensor_replace (&h, vae_mid (&c, h, "decoder.mid_block", v->groups));
  for (guint i = 0; i < n && h; i++)
    {
      for (guint j = 0; j <= v->layers && h; j++)
        {
          g_autofree gchar *r = g_strdup_printf ("decoder.up_blocks.%u.resnets.%u", i, j);
          cxr_tensor_replace (&h, resnet (&c, h, NULL, r, v->groups, 1e-6f));
        }
      if (i + 1 < n && h)
        {
          g_autofree gchar *us = g_strdup_printf ("decoder.up_blocks.%u.upsamplers.0.conv", i);
          cxr_tensor_replace (&h, cxr_op_upsample_nearest2x (tape, h, error));
          cxr_tensor_replace (&h, conv (&c, h, us, 1, 1));
        }
    }
  cxr_tensor_replace (&h, group_norm (&c, h, "decoder.conv_norm_out", v->groups, 1e-6f));
  cxr_tensor_replace (&h, silu (&c, h));
  cxr_tensor_replace (&h, conv (&c, h, "decoder.conv_out", 1, 1));
  return g_steal_pointer (&h);
}

/**
 * cxr_sd_vae_get_scaling_factor:
 * @self: a prepared VAE
 *
 * Returns: the factor SD multiplies latents by (0.18215)
 */
gdouble
cxr_sd_vae_get_scaling_factor (CxrSdVae *self)
{
  return self->c.scaling_factor;
}

/* -------------------------------------------------------------- harness */

static gboolean
check_image (CxrModel *model, CxrTensor *x, const gchar *name, guint channels, guint multiple, GError **error)
{
  if (cxr_tensor_get_dim (x, 1) != channels || cxr_tensor_get_dim (x, 2) % multiple != 0 ||
      cxr_tensor_get_dim (x, 3) % multiple != 0 || cxr_tensor_get_dim (x, 2) == 0)
    {
      g_autofree gchar *what = cxr_tensor_describe (x);
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT,
                   "%s is %s; [N, %u, H, W] with H and W multiples of %u expected", name, what, channels, multiple);
      return FALSE;
    }
  return TRUE;
}

static GHashTable *
cxr_sd_unet_run (CxrModel *model, CxrTape *tape, GHashTable *inputs, GError **error)
{
  CxrSdUnet *self = CXR_SD_UNET (model);
  g_autoptr (CxrTensor) sample = NULL, ctx = NULL, t = NULL, out = NULL;
  gint64 n;
  GHashTable *outputs;

  if ((sample = cxr_model_take_input (model, inputs, "sample", CXR_DTYPE_F32, 4, error)) == NULL ||
      (ctx = cxr_model_take_input (model, inputs, "encoder_hidden_states", CXR_DTYPE_F32, 3, error)) == NULL)
    return NULL;
  if (!check_image (model, sample, "sd-unet: sample", self->c.in_channels, 1u << (self->c.n_blocks - 1), error))
    return NULL;
  n = cxr_tensor_get_dim (sample, 0);
  if (cxr_tensor_get_dim (ctx, 0) != n || cxr_tensor_get_dim (ctx, 2) != self->c.cross_dim)
    {
      g_autofree gchar *what = cxr_tensor_describe (ctx);
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT,
                   "sd-unet: encoder_hidden_states is %s; [%" G_GINT64_FORMAT ", L, %u] expected", what, n,
                   self->c.cross_dim);
      return NULL;
    }
  if ((t = cxr_model_take_timesteps (model, inputs, "timestep", n, error)) == NULL)
    return NULL;
  if ((out = cxr_sd_unet_forward (self, tape, sample, t, ctx, error)) == NULL)
    return NULL;
  outputs = cxr_model_new_tensor_table ();
  g_hash_table_insert (outputs, g_strdup ("sample"), g_steal_pointer (&out));
  return outputs;
}

static GHashTable *
cxr_sd_vae_run (CxrModel *model, CxrTape *tape, GHashTable *inputs, GError **error)
{
  CxrSdVae *self = CXR_SD_VAE (model);
  guint factor = 1u << (self->c.n_blocks - 1);
  g_autoptr (CxrTensor) images = NULL, latents = NULL, mean = NULL, logvar = NULL, decoded = NULL;
  g_autoptr (GHashTable) outputs = cxr_model_new_tensor_table ();

  if (g_hash_table_contains (inputs, "sample"))
    {
      if ((images = cxr_model_take_input (model, inputs, "sample", CXR_DTYPE_F32, 4, error)) == NULL ||
          !check_image (model, images, "sd-vae: sample", self->c.in_channels, factor, error) ||
          (mean = cxr_sd_vae_encode (self, tape, images, &logvar, error)) == NULL)
        return NULL;
      g_hash_table_insert (outputs, g_strdup ("latent_mean"), cxr_tensor_ref (mean));
      g_hash_table_insert (outputs, g_strdup ("latent_logvar"), g_steal_pointer (&logvar));
    }
  if (g_hash_table_contains (inputs, "latents"))
    {
      if ((latents = cxr_model_take_input (model, inputs, "latents", CXR_DTYPE_F32, 4, error)) == NULL ||
          !check_image (model, latents, "sd-vae: latents", self->c.latent_channels, 1, error))
        return NULL;
    }
  else if (mean)
    latents = cxr_tensor_ref (mean);
  else
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "sd-vae: missing input: sample (to encode and "
                   "decode) or latents (to decode)");
      return NULL;
    }
  if ((decoded = cxr_sd_vae_decode (self, tape, latents, error)) == NULL)
    return NULL;
  g_hash_table_insert (outputs, g_strdup ("sample"), g_steal_pointer (&decoded));
  return g_steal_pointer (&outputs);
}

static GHashTable *
cxr_sd_unet_example_inputs (CxrModel *model, guint batch, guint64 seed, GError **error)
{
  CxrSdUnet *self = CXR_SD_UNET (model);
  GHashTable *out = cxr_model_new_tensor_table ();
  CxrTensor *t = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { batch }, 1);

  cxr_tensor_fill (t, 500.0f);
  /* SD v1.4 at 256x256 (the paper's size): 4x32x32 latents, 77 + 1 tokens */
  g_hash_table_insert (out, g_strdup ("sample"),
                       cxr_tensor_new_randn ((const gint64[]) { batch, self->c.in_channels, 32, 32 }, 4, seed, 0));
  g_hash_table_insert (out, g_strdup ("timestep"), t);
  g_hash_table_insert (out, g_strdup ("encoder_hidden_states"),
                       cxr_tensor_new_randn ((const gint64[]) { batch, 78, self->c.cross_dim }, 3, seed, 1));
  return out;
}

static GHashTable *
cxr_sd_vae_example_inputs (CxrModel *model, guint batch, guint64 seed, GError **error)
{
  CxrSdVae *self = CXR_SD_VAE (model);
  GHashTable *out = cxr_model_new_tensor_table ();

  /* a decode at 256x256, the paper's size */
  g_hash_table_insert (out, g_strdup ("latents"),
                       cxr_tensor_new_randn ((const gint64[]) { batch, self->c.latent_channels, 32, 32 }, 4, seed, 0));
  return out;
}

/* ---------------------------------------------------------------- types */

static const gchar unet_default[] =
  "{\"_class_name\": \"UNet2DConditionModel\", \"act_fn\": \"silu\", \"attention_head_dim\": 8,"
  " \"block_out_channels\": [320, 640, 1280, 1280], \"center_input_sample\": false, \"cross_attention_dim\": 768,"
  " \"down_block_types\": [\"CrossAttnDownBlock2D\", \"CrossAttnDownBlock2D\", \"CrossAttnDownBlock2D\","
  " \"DownBlock2D\"], \"downsample_padding\": 1, \"flip_sin_to_cos\": true, \"freq_shift\": 0, \"in_channels\": 4,"
  " \"layers_per_block\": 2, \"mid_block_scale_factor\": 1, \"norm_eps\": 1e-05, \"norm_num_groups\": 32,"
  " \"out_channels\": 4, \"sample_size\": 64, \"up_block_types\": [\"UpBlock2D\", \"CrossAttnUpBlock2D\","
  " \"CrossAttnUpBlock2D\", \"CrossAttnUpBlock2D\"]}";
static const gchar vae_default[] =
  "{\"_class_name\": \"AutoencoderKL\", \"act_fn\": \"silu\", \"block_out_channels\": [128, 256, 512, 512],"
  " \"down_block_types\": [\"DownEncoderBlock2D\", \"DownEncoderBlock2D\", \"DownEncoderBlock2D\","
  " \"DownEncoderBlock2D\"], \"in_channels\": 3, \"latent_channels\": 4, \"layers_per_block\": 2,"
  " \"norm_num_groups\": 32, \"out_channels\": 3, \"sample_size\": 256, \"up_block_types\": [\"UpDecoderBlock2D\","
  " \"UpDecoderBlock2D\", \"UpDecoderBlock2D\", \"UpDecoderBlock2D\"]}";

static const gchar *const unet_inputs[] = { "sample", "timestep", "encoder_hidden_states", NULL };
static const gchar *const unet_outputs[] = { "sample", NULL };
static const gchar *const vae_optional[] = { "sample", "latents", NULL };
static const gchar *const vae_outputs[] = { "latent_mean", "latent_logvar", "sample", NULL };
static const gchar *const vae_aliases[] = { "attentions.0.to_q.", "attentions.0.query.",
                                            "attentions.0.to_k.", "attentions.0.key.",
                                            "attentions.0.to_v.", "attentions.0.value.",
                                            "attentions.0.to_out.0.", "attentions.0.proj_attn.", NULL };

static void
cxr_sd_unet_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  if (id == UNET_PROP_GRADIENT_CHECKPOINTING)
    CXR_SD_UNET (object)->recompute = g_value_get_boolean (value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
cxr_sd_unet_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  if (id == UNET_PROP_GRADIENT_CHECKPOINTING)
    g_value_set_boolean (value, CXR_SD_UNET (object)->recompute);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
cxr_sd_unet_class_init (CxrSdUnetClass *klass)
{
  CxrModelClass *m = CXR_MODEL_CLASS (klass);
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->set_property = cxr_sd_unet_set_property;
  object_class->get_property = cxr_sd_unet_get_property;
  g_object_class_install_property (object_class, UNET_PROP_GRADIENT_CHECKPOINTING,
                                   g_param_spec_boolean ("gradient-checkpointing", "Gradient checkpointing",
                                                         "Training keeps only each block's input and runs the block "
                                                         "again in the backward pass: less memory, one more forward "
                                                         "pass through the blocks", FALSE,
                                                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  m->configure = cxr_sd_unet_configure;
  m->forward = cxr_sd_unet_run;
  m->example_inputs = cxr_sd_unet_example_inputs;
  m->description = "Stable Diffusion's UNet2DConditionModel (diffusers' layout; built in: SD v1.4)";
  m->required_inputs = unet_inputs;
  m->outputs = unet_outputs;
  m->default_config = unet_default;
}

static void
cxr_sd_unet_init (CxrSdUnet *self)
{
}

static void
cxr_sd_vae_class_init (CxrSdVaeClass *klass)
{
  CxrModelClass *m = CXR_MODEL_CLASS (klass);

  m->configure = cxr_sd_vae_configure;
  m->forward = cxr_sd_vae_run;
  m->example_inputs = cxr_sd_vae_example_inputs;
  m->description = "Stable Diffusion's AutoencoderKL (diffusers' layout, old attention names too; built in: SD v1.4)";
  m->optional_inputs = vae_optional;
  m->outputs = vae_outputs;
  m->default_config = vae_default;
  m->tensor_aliases = vae_aliases;
}

static void
cxr_sd_vae_init (CxrSdVae *self)
{
}

/* ---------------------------------------------------------------- roles */

static CxrTensor *
unet_predict (CxrDenoiser *self, CxrTape *tape, CxrTensor *sample, CxrTensor *timesteps, CxrTensor *context,
              GError **error)
{
  return cxr_sd_unet_forward (CXR_SD_UNET (self), tape, sample, timesteps, context, error);
}

static guint
unet_latent_channels (CxrDenoiser *self)
{
  return CXR_SD_UNET (self)->c.in_channels;
}

static guint
unet_context_width (CxrDenoiser *self)
{
  return CXR_SD_UNET (self)->c.cross_dim;
}

static void
cxr_sd_unet_role_init (CxrDenoiserInterface *iface)
{
  iface->predict = unet_predict;
  iface->get_latent_channels = unet_latent_channels;
  iface->get_context_width = unet_context_width;
}

static CxrTensor *
vae_encode (CxrAutoencoder *self, CxrTape *tape, CxrTensor *images, CxrTensor **logvar, GError **error)
{
  return cxr_sd_vae_encode (CXR_SD_VAE (self), tape, images, logvar, error);
}

static CxrTensor *
vae_decode (CxrAutoencoder *self, CxrTape *tape, CxrTensor *latents, GError **error)
{
  return cxr_sd_vae_decode (CXR_SD_VAE (self), tape, latents, error);
}

static gdouble
vae_scaling (CxrAutoencoder *self)
{
  return CXR_SD_VAE (self)->c.scaling_factor;
}

static guint
vae_latent_channels (CxrAutoencoder *self)
{
  return CXR_SD_VAE (self)->c.latent_channels;
}

static guint
vae_downscale (CxrAutoencoder *self)
{
  return 1u << (CXR_SD_VAE (self)->c.n_blocks - 1);
}

static void
cxr_sd_vae_role_init (CxrAutoencoderInterface *iface)
{
  iface->encode = vae_encode;
  iface->decode = vae_decode;
  iface->get_scaling_factor = vae_scaling;
  iface->get_latent_channels = vae_latent_channels;
  iface->get_downscale = vae_downscale;
}
