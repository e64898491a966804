/* plugins/diffusion/cxrdiffusionsample.c: the diffusion-sample stage:
 * contexts in, images out, with any denoiser and autoencoder.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cxrdiffusion.h"

/**
 * SECTION:diffusion-sample
 *
 * `diffusion-sample` turns each sample's context (the `context-field` that
 * clip-text-encode writes: [L, D] floats, with the context-length extra)
 * into an image: latents of standard normal noise drawn from the sample's
 * own seed, walked back by a sampler (`scheduler`: pndm, as SD ships it,
 * ddim, euler or ddpm) over `steps` steps with classifier-free guidance
 * (`guidance` > 1: the denoiser also sees the `unconditional-field`
 * context, and its two predictions u and c are combined as u + g (c - u)),
 * divided by the autoencoder's scaling factor and decoded. The image is
 * written gray in [0, 1] (the mean of the decoded RGB, from [-1, 1]) to
 * `image-field`, with the image-width and image-height extras that the
 * sinks read, and the seed to the `seed` field.
 *
 * Seeds: a sample's seed is its `seed` field when the batch has one (a
 * decimal string: regenerate any image alone from the manifest), else
 * `seed` plus the sample's index in the stream. The noise of a sample
 * depends on its seed only (Philox, never the batch or the threads), so a
 * sample comes out the same whatever batch it is in.
 *
 * Any model with the denoiser role (sd-unet; U-ViT later) and the
 * autoencoder role (sd-vae) fits: the backbone is named in the pipeline
 * file, never here.
 *
 * |[
 * [stage images]
 * type=diffusion-sample
 * input=context
 * denoiser=unet
 * vae=vae
 * scheduler=pndm
 * steps=50
 * guidance=7.5
 * ]|
 */

struct _CxrDiffusionSample {
  CxrStage parent_instance;
  CxrModel *denoiser, *vae;
  gchar *scheduler, *context_field, *unconditional_field, *image_field, *prediction;
  guint steps, latent_size;
  gdouble guidance, eta;
  guint64 seed, count;
  CxrSamplerKind kind;
};

G_DEFINE_FINAL_TYPE (CxrDiffusionSample, cxr_diffusion_sample, CXR_TYPE_STAGE)

enum { P_0, P_DENOISER, P_VAE, P_SCHEDULER, P_STEPS, P_GUIDANCE, P_ETA, P_SEED, P_LATENT_SIZE, P_PREDICTION,
       P_CONTEXT_FIELD, P_UNCONDITIONAL_FIELD, P_IMAGE_FIELD, N_P };
static GParamSpec *props[N_P];

static gboolean
cxr_diffusion_sample_prepare (CxrStage *stage, GError **error)
{
  CxrDiffusionSample *self = CXR_DIFFUSION_SAMPLE (stage);
  const gchar *kinds[] = { "ddpm", "ddim", "pndm", "euler", NULL };
  guint k;

  if (self->denoiser == NULL || self->vae == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "%s: set %s=NAME, a [model NAME] that is %s",
                   self->denoiser ? "vae" : "denoiser", self->denoiser ? "vae" : "denoiser",
                   self->denoiser ? "an autoencoder (sd-vae)" : "a denoiser (sd-unet)");
      return FALSE;
    }
  for (k = 0; kinds[k] && g_strcmp0 (kinds[k], self->scheduler) != 0; k++)
    ;
  if (kinds[k] == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "scheduler: \"%s\"; pndm, ddim, euler or ddpm",
                   self->scheduler);
      return FALSE;
    }
  self->kind = (CxrSamplerKind) k;
  if (g_strcmp0 (self->prediction, "epsilon") != 0 && g_strcmp0 (self->prediction, "v") != 0)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "prediction-type: \"%s\"; epsilon or v",
                   self->prediction);
      return FALSE;
    }
  if (!cxr_model_prepare (self->denoiser, error) || !cxr_model_prepare (self->vae, error))
    return FALSE;
  if (cxr_denoiser_get_latent_channels (CXR_DENOISER (self->denoiser)) !=
      cxr_autoencoder_get_latent_channels (CXR_AUTOENCODER (self->vae)))
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED,
                   "the denoiser takes %u latent channels; the autoencoder makes %u",
                   cxr_denoiser_get_latent_channels (CXR_DENOISER (self->denoiser)),
                   cxr_autoencoder_get_latent_channels (CXR_AUTOENCODER (self->vae)));
      return FALSE;
    }
  self->count = 0;
  return TRUE;
}

/* the [N, L, D] context of a float field, L from the context-length extra
 * (or the width over D) */
static CxrTensor *
context_of (CxrDiffusionSample *self, CxrBatch *batch, const gchar *field, guint d, GError **error)
{
  guint n = cxr_batch_get_size (batch), width = 0;
  const gfloat *v = cxr_batch_get_floats (batch, field, &width, NULL);
  GVariant *extra = cxr_batch_get_extra (batch, "context-length");
  guint l = extra ? g_variant_get_uint32 (extra) : (d ? width / d : 0);

  if (v == NULL || d == 0 || l == 0 || (gsize) l * d != width)
    {
      g_set_error (error, CXR_STAGE_ERROR, v ? CXR_STAGE_ERROR_BAD_FIELD : CXR_STAGE_ERROR_MISSING_FIELD,
                   "batch %" G_GUINT64_FORMAT ": %s \"%s\" (contexts of tokens %u wide, for the denoiser)",
                   cxr_batch_get_sequence (batch), v ? "a misshapen float field" : "no float field", field, d);
      return NULL;
    }
  return cxr_tensor_new_from_data (CXR_DTYPE_F32, (const gint64[]) { n, l, d }, 3, (const guint8 *) v,
                                   sizeof (gfloat) * n * width, error);
}

/* [N, ...] noise, each sample's from its seed alone */
static CxrTensor *
noise_for (const guint64 *seeds, guint n, guint c, guint h, guint w, guint64 offset)
{
  CxrTensor *out = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { n, c, h, w }, 4);
  gsize per = (gsize) c * h * w;

  for (guint i = 0; i < n; i++)
    cxr_philox_normal (seeds[i], offset * per, (gfloat *) cxr_tensor_get_data (out) + i * per, per);
  return out;
}

static gboolean
cxr_diffusion_sample_transform (CxrStage *stage, CxrBatch *batch, GError **error)
{
  CxrDiffusionSample *self = CXR_DIFFUSION_SAMPLE (stage);
  CxrDenoiser *denoiser = CXR_DENOISER (self->denoiser);
  CxrAutoencoder *vae = CXR_AUTOENCODER (self->vae);
  guint n = cxr_batch_get_size (batch), d = cxr_denoiser_get_context_width (denoiser);
  guint c = cxr_denoiser_get_latent_channels (denoiser), s = self->latent_size;
  gboolean guided = self->guidance > 1.0;
  g_autoptr (CxrTensor) cond = NULL, uncond = NULL, both = NULL, x = NULL, images = NULL, scaled = NULL;
  g_autoptr (CxrNoiseScheduler) sched = NULL;
  g_autofree guint64 *seeds = NULL;
  g_auto (GStrv) seed_text = NULL;
  const gchar *const *given = cxr_batch_get_strings (batch, "seed");
  const gdouble *timesteps;
  guint n_timesteps;

  if (n == 0)
    return TRUE;
  if ((cond = context_of (self, batch, self->context_field, d, error)) == NULL ||
      (guided && (uncond = context_of (self, batch, self->unconditional_field, d, error)) == NULL))
    return FALSE;
  if (uncond && cxr_tensor_get_dim (uncond, 1) != cxr_tensor_get_dim (cond, 1))
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_BAD_FIELD, "batch %" G_GUINT64_FORMAT ": \"%s\" and \"%s\" "
                   "differ in length", cxr_batch_get_sequence (batch), self->context_field, self->unconditional_field);
      return FALSE;
    }
  seeds = g_new (guint64, n);
  seed_text = g_new0 (gchar *, n + 1);
  for (guint i = 0; i < n; i++)
    {
      if (given && given[i] && *given[i])
        {
          if (!g_ascii_string_to_unsigned (given[i], 10, 0, G_MAXUINT64, &seeds[i], NULL))
            {
              g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_BAD_FIELD, "batch %" G_GUINT64_FORMAT
                           ": seed \"%s\" of sample %u is not a decimal number", cxr_batch_get_sequence (batch),
                           given[i], i);
              return FALSE;
            }
        }
      else
        seeds[i] = self->seed + self->count + i;
      seed_text[i] = g_strdup_printf ("%" G_GUINT64_FORMAT, seeds[i]);
    }
  sched = g_object_new (CXR_TYPE_NOISE_SCHEDULER, "kind", self->kind, "eta", self->eta, "prediction-type",
                        g_str_equal (self->prediction, "v") ? CXR_PREDICTION_V : CXR_PREDICTION_EPSILON, NULL);
  if (!cxr_noise_scheduler_set_timesteps (sched, self->steps, error))
    return FALSE;
  x = noise_for (seeds, n, c, s, s, 0);
  if (cxr_noise_scheduler_get_init_noise_sigma (sched) != 1.0)
    {
      g_autoptr (CxrTensor) x0 = g_steal_pointer (&x);
      if ((x = cxr_op_scale (NULL, x0, (gfloat) cxr_noise_scheduler_get_init_noise_sigma (sched), error)) == NULL)
        return FALSE;
    }
  if (guided)
    {
      CxrTensor *pair[2] = { uncond, cond };
      if ((both = cxr_op_concat (NULL, pair, 2, 0, error)) == NULL)
        return FALSE;
    }
  timesteps = cxr_noise_scheduler_get_timesteps (sched, &n_timesteps);
  for (guint i = 0; i < n_timesteps; i++)
    {
      g_autoptr (CxrTensor) in = NULL, in2 = NULL, t = NULL, pred = NULL, eps = NULL, z = NULL, next = NULL;
      if (g_cancellable_is_cancelled (cxr_stage_get_cancellable (stage)))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
          return FALSE;
        }
      if ((in = cxr_noise_scheduler_scale_model_input (sched, x, i, error)) == NULL)
        return FALSE;
      t = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { guided ? 2 * n : n }, 1);
      cxr_tensor_fill (t, (gfloat) timesteps[i]);
      if (guided)
        {
          CxrTensor *pair[2] = { in, in };
          g_autoptr (CxrTensor) u = NULL, cpart = NULL, diff = NULL, push = NULL;
          if ((in2 = cxr_op_concat (NULL, pair, 2, 0, error)) == NULL ||
              (pred = cxr_denoiser_predict (denoiser, NULL, in2, t, both, error)) == NULL ||
              (u = cxr_op_slice (NULL, pred, 0, 0, n, error)) == NULL ||
              (cpart = cxr_op_slice (NULL, pred, 0, n, 2 * n, error)) == NULL ||
              (diff = cxr_op_sub (NULL, cpart, u, error)) == NULL ||
              (push = cxr_op_scale (NULL, diff, (gfloat) self->guidance, error)) == NULL ||
              (eps = cxr_op_add (NULL, u, push, error)) == NULL)
            return FALSE;
        }
      else if ((eps = cxr_denoiser_predict (denoiser, NULL, in, t, cond, error)) == NULL)
        return FALSE;
      if (self->kind == CXR_SAMPLER_DDPM || (self->kind == CXR_SAMPLER_DDIM && self->eta > 0))
        z = noise_for (seeds, n, c, s, s, i + 1);
      if ((next = cxr_noise_scheduler_step (sched, eps, i, x, z, error)) == NULL)
        return FALSE;
      g_clear_pointer (&x, cxr_tensor_unref);
      x = g_steal_pointer (&next);
    }
  if ((scaled = cxr_op_scale (NULL, x, (gfloat) (1.0 / cxr_autoencoder_get_scaling_factor (vae)), error)) == NULL ||
      (images = cxr_autoencoder_decode (vae, NULL, scaled, error)) == NULL)
    return FALSE;
  {
    gint64 ch = cxr_tensor_get_dim (images, 1), h = cxr_tensor_get_dim (images, 2), w = cxr_tensor_get_dim (images, 3);
    g_autoptr (CxrTensor) dense = cxr_tensor_contiguous (images);
    const gfloat *p = cxr_tensor_get_data (dense);
    gsize hw = (gsize) h * w;
    g_autofree gfloat *gray = g_new (gfloat, n * hw);

    for (guint i = 0; i < n; i++)
      for (gsize k = 0; k < hw; k++)
        {
          gfloat sum = 0;
          for (gint64 j = 0; j < ch; j++)
            sum += p[((gsize) i * ch + j) * hw + k];
          gray[i * hw + k] = CLAMP ((sum / ch + 1.0f) / 2.0f, 0.0f, 1.0f);
        }
    cxr_batch_set_floats (batch, self->image_field, (guint) hw, gray, n * hw);
    cxr_batch_set_extra (batch, "image-width", g_variant_new_uint32 ((guint32) w));
    cxr_batch_set_extra (batch, "image-height", g_variant_new_uint32 ((guint32) h));
  }
  cxr_batch_take_strings (batch, "seed", g_steal_pointer (&seed_text));
  self->count += n;
  return TRUE;
}

static gchar **
cxr_diffusion_sample_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  CxrDiffusionSample *self = CXR_DIFFUSION_SAMPLE (stage);
  g_autofree gchar *in = NULL, *out = NULL;

  if (direction == CXR_PORT_INPUT)
    {
      in = self->guidance > 1.0 ? g_strconcat (self->context_field, ",", self->unconditional_field, NULL)
                                : g_strdup (self->context_field);
      return g_strsplit (in, ",", -1);
    }
  out = g_strconcat (self->image_field, ",seed", NULL);
  return g_strsplit (out, ",", -1);
}

static gchar **
string_slot (CxrDiffusionSample *self, guint id)
{
  switch (id)
    {
    case P_SCHEDULER: return &self->scheduler;
    case P_PREDICTION: return &self->prediction;
    case P_CONTEXT_FIELD: return &self->context_field;
    case P_UNCONDITIONAL_FIELD: return &self->unconditional_field;
    case P_IMAGE_FIELD: return &self->image_field;
    default: return NULL;
    }
}

static void
cxr_diffusion_sample_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrDiffusionSample *self = CXR_DIFFUSION_SAMPLE (object);
  gchar **slot = string_slot (self, id);

  if (slot)
    {
      g_free (*slot);
      *slot = g_value_dup_string (value);
      return;
    }
  switch (id)
    {
    case P_DENOISER: g_set_object (&self->denoiser, g_value_get_object (value)); break;
    case P_VAE: g_set_object (&self->vae, g_value_get_object (value)); break;
    case P_STEPS: self->steps = g_value_get_uint (value); break;
    case P_GUIDANCE: self->guidance = g_value_get_double (value); break;
    case P_ETA: self->eta = g_value_get_double (value); break;
    case P_SEED: self->seed = g_value_get_uint64 (value); break;
    case P_LATENT_SIZE: self->latent_size = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_diffusion_sample_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrDiffusionSample *self = CXR_DIFFUSION_SAMPLE (object);
  gchar **slot = string_slot (self, id);

  if (slot)
    {
      g_value_set_string (value, *slot);
      return;
    }
  switch (id)
    {
    case P_DENOISER: g_value_set_object (value, self->denoiser); break;
    case P_VAE: g_value_set_object (value, self->vae); break;
    case P_STEPS: g_value_set_uint (value, self->steps); break;
    case P_GUIDANCE: g_value_set_double (value, self->guidance); break;
    case P_ETA: g_value_set_double (value, self->eta); break;
    case P_SEED: g_value_set_uint64 (value, self->seed); break;
    case P_LATENT_SIZE: g_value_set_uint (value, self->latent_size); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_diffusion_sample_dispose (GObject *object)
{
  CxrDiffusionSample *self = CXR_DIFFUSION_SAMPLE (object);
  g_clear_object (&self->denoiser);
  g_clear_object (&self->vae);
  G_OBJECT_CLASS (cxr_diffusion_sample_parent_class)->dispose (object);
}

static void
cxr_diffusion_sample_finalize (GObject *object)
{
  CxrDiffusionSample *self = CXR_DIFFUSION_SAMPLE (object);
  for (guint id = P_SCHEDULER; id < N_P; id++)
    if (string_slot (self, id))
      g_free (*string_slot (self, id));
  G_OBJECT_CLASS (cxr_diffusion_sample_parent_class)->finalize (object);
}

static void
cxr_diffusion_sample_class_init (CxrDiffusionSampleClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_diffusion_sample_set_property;
  object_class->get_property = cxr_diffusion_sample_get_property;
  object_class->dispose = cxr_diffusion_sample_dispose;
  object_class->finalize = cxr_diffusion_sample_finalize;
  stage_class->prepare = cxr_diffusion_sample_prepare;
  stage_class->transform = cxr_diffusion_sample_transform;
  stage_class->get_port_fields = cxr_diffusion_sample_get_port_fields;
  props[P_DENOISER] = g_param_spec_object ("denoiser", "Denoiser", "The diffusion backbone (sd-unet)",
                                           CXR_TYPE_DENOISER, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  props[P_VAE] = g_param_spec_object ("vae", "VAE", "The autoencoder that decodes the latents (sd-vae)",
                                      CXR_TYPE_AUTOENCODER, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  props[P_SCHEDULER] = g_param_spec_string ("scheduler", "Scheduler", "pndm (SD's PLMS), ddim, euler or ddpm", "pndm",
                                            flags);
  props[P_STEPS] = g_param_spec_uint ("steps", "Steps", "Sampling steps", 1, 1000, 50, flags);
  props[P_GUIDANCE] = g_param_spec_double ("guidance", "Guidance", "Classifier-free guidance scale (1: none)", 0,
                                           100, 7.5, flags);
  props[P_ETA] = g_param_spec_double ("eta", "Eta", "DDIM's eta (0: deterministic)", 0, 1, 0, flags);
  props[P_SEED] = g_param_spec_uint64 ("seed", "Seed", "The first sample's seed when the batch has no seed field; "
                                       "the next ones count up", 0, G_MAXUINT64, 1234, flags);
  props[P_LATENT_SIZE] = g_param_spec_uint ("latent-size", "Latent size", "The side of the latents (32: 256x256 "
                                            "images with SD's VAE)", 1, 4096, 32, flags);
  props[P_PREDICTION] = g_param_spec_string ("prediction-type", "Prediction type", "What the denoiser predicts: "
                                             "epsilon or v", "epsilon", flags);
  props[P_CONTEXT_FIELD] = g_param_spec_string ("context-field", "Context field", "The float field of the contexts",
                                                "context", flags);
  props[P_UNCONDITIONAL_FIELD] = g_param_spec_string ("unconditional-field", "Unconditional field", "The float field "
                                                      "of the unconditional contexts (with guidance)",
                                                      "unconditional-context", flags);
  props[P_IMAGE_FIELD] = g_param_spec_string ("image-field", "Image field", "The float field to write the images to "
                                              "(gray in [0, 1])", "image", flags);
  g_object_class_install_properties (object_class, N_P, props);
  cxr_stage_class_set_metadata (stage_class, "Diffusion sampling", "Filter/Generator",
                                "Generates an image per context with a denoiser, a sampler and an autoencoder",
                                "The cxrgen developers");
  cxr_stage_class_add_input (stage_class, "in", "context", "Samples with contexts");
  cxr_stage_class_add_output (stage_class, "out", "image,seed", TRUE, "The same batches, with the images and seeds");
}

static void
cxr_diffusion_sample_init (CxrDiffusionSample *self)
{
}
