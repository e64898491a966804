/* plugins/diffusion/cxrdiffusiontrain.c: the diffusion-train stage:
 * trains any denoiser on images and their contexts, the autoencoder and
 * the text encoder frozen.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "cxrdiffusion.h"

/**
 * SECTION:diffusion-train
 *
 * `diffusion-train` trains the denoiser as the paper does (and diffusers'
 * text-to-image script): each batch's images (gray in [0, 1], replicated
 * to RGB and brought to [-1, 1]) are encoded by the frozen autoencoder (a
 * sample of the latent distribution, times its scaling factor), noised at
 * a uniformly drawn timestep of the DDPM schedule (SD's scaled-linear
 * 0.00085..0.012 over 1000), and the denoiser learns to predict the noise
 * (or v) from them and the batch's contexts (computed upstream by
 * clip-text-encode: the text encoder is frozen too) with an MSE loss.
 * Optional conditioning dropout replaces a sample's context by the
 * unconditional one, for guidance.
 *
 * The optimiser, schedule, accumulation, EMA, checkpoints, `resume`,
 * `output` and `evaluate` are #CxrTrainer's. The noise of a micro-batch
 * depends on `seed` and its index only, so a resumed run continues the
 * same loss curve bit for bit.
 *
 * |[
 * [stage train]
 * type=diffusion-train
 * input=context
 * denoiser=unet
 * vae=vae
 * accumulate=4
 * checkpoint=${OUT}/unet.ckpt.safetensors
 * checkpoint-every=1000
 * output=${OUT}/unet/diffusion_pytorch_model.safetensors
 * ]|
 */

struct _CxrDiffusionTrain {
  CxrTrainer parent_instance;
  CxrModel *denoiser, *vae;
  gchar *image_field, *context_field, *unconditional_field, *prediction;
  gdouble dropout;
  CxrNoiseScheduler *schedule;
};

G_DEFINE_FINAL_TYPE (CxrDiffusionTrain, cxr_diffusion_train, CXR_TYPE_TRAINER)

enum { P_0, P_DENOISER, P_VAE, P_IMAGE_FIELD, P_CONTEXT_FIELD, P_UNCONDITIONAL_FIELD, P_PREDICTION, P_DROPOUT, N_P };
static GParamSpec *props[N_P];

static CxrModel *
cxr_diffusion_train_setup (CxrTrainer *trainer, GError **error)
{
  CxrDiffusionTrain *self = CXR_DIFFUSION_TRAIN (trainer);

  if (self->denoiser == NULL || self->vae == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "%s: set %s=NAME, a [model NAME] that is %s",
                   self->denoiser ? "vae" : "denoiser", self->denoiser ? "vae" : "denoiser",
                   self->denoiser ? "an autoencoder (sd-vae)" : "a denoiser (sd-unet)");
      return NULL;
    }
  if (g_strcmp0 (self->prediction, "epsilon") != 0 && g_strcmp0 (self->prediction, "v") != 0)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "prediction-type: \"%s\"; epsilon or v",
                   self->prediction);
      return NULL;
    }
  if (self->dropout > 0 && (self->unconditional_field == NULL || *self->unconditional_field == '\0'))
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED,
                   "conditioning-dropout needs unconditional-field (clip-text-encode writes it)");
      return NULL;
    }
  if (!cxr_model_prepare (self->denoiser, error) || !cxr_model_prepare (self->vae, error))
    return NULL;
  g_clear_object (&self->schedule);
  self->schedule = g_object_new (CXR_TYPE_NOISE_SCHEDULER, "kind", CXR_SAMPLER_DDPM, "prediction-type",
                                 g_str_equal (self->prediction, "v") ? CXR_PREDICTION_V : CXR_PREDICTION_EPSILON, NULL);
  return self->denoiser;
}

/* One micro-batch: its loss */
static gboolean
cxr_diffusion_train_compute_loss (CxrTrainer *trainer, CxrBatch *batch, CxrTape *tape, guint64 micro,
                                  CxrTensor **loss, GError **error)
{
  CxrDiffusionTrain *self = CXR_DIFFUSION_TRAIN (trainer);
  CxrAutoencoder *vae = CXR_AUTOENCODER (self->vae);
  guint n = cxr_batch_get_size (batch), cw = 0;
  const gfloat *ctx_values = cxr_batch_get_floats (batch, self->context_field, &cw, NULL);
  guint d = cxr_denoiser_get_context_width (CXR_DENOISER (self->denoiser));
  guint64 key = cxr_trainer_get_seed (trainer) * 1000003u + micro;
  g_autoptr (CxrTensor) mean = NULL, logvar = NULL, latents = NULL, noise = NULL, noisy = NULL;
  g_autoptr (CxrTensor) ts = NULL, tf = NULL, ctx = NULL, pred = NULL, target = NULL;
  g_autofree gfloat *u = NULL;
  gint64 *pt;

  if ((mean = cxr_autoencoder_encode_field (vae, batch, self->image_field, &logvar, error)) == NULL)
    return FALSE;
  if (ctx_values == NULL || d == 0 || cw % d != 0)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_MISSING_FIELD, "batch %" G_GUINT64_FORMAT ": needs the "
                   "float field \"%s\" of contexts %u wide", cxr_batch_get_sequence (batch), self->context_field, d);
      return FALSE;
    }
  /* a sample of the latent distribution, scaled */
  {
    guint nd = 0;
    const gint64 *shape = cxr_tensor_get_shape (mean, &nd);
    g_autoptr (CxrTensor) z = cxr_tensor_new_randn (shape, nd, key, 0);
    g_autoptr (CxrTensor) m = cxr_tensor_contiguous (mean);
    const gfloat *pm = cxr_tensor_get_data (m), *pl = cxr_tensor_get_data (logvar);
    gfloat *pz = cxr_tensor_get_data (z);
    gfloat sf = (gfloat) cxr_autoencoder_get_scaling_factor (vae);
    for (gint64 i = 0, count = cxr_tensor_get_numel (z); i < count; i++)
      pz[i] = (pm[i] + expf (0.5f * pl[i]) * pz[i]) * sf;
    latents = g_steal_pointer (&z);
  }
  {
    guint nd = 0;
    const gint64 *shape = cxr_tensor_get_shape (latents, &nd);
    noise = cxr_tensor_new_randn (shape, nd, key, (guint64) cxr_tensor_get_numel (latents));
  }
  u = g_new (gfloat, 2 * n);
  cxr_philox_uniform (key, 2 * (guint64) cxr_tensor_get_numel (latents), u, 2 * n);
  ts = cxr_tensor_new (CXR_DTYPE_I64, (const gint64[]) { n }, 1);
  pt = cxr_tensor_get_data (ts);
  for (guint i = 0; i < n; i++)
    pt[i] = MIN ((gint64) (u[i] * 1000), 999);
  if ((noisy = cxr_noise_scheduler_add_noise (self->schedule, latents, noise, ts, error)) == NULL ||
      (target = cxr_noise_scheduler_get_target (self->schedule, latents, noise, ts, error)) == NULL ||
      (tf = cxr_tensor_to_dtype (ts, CXR_DTYPE_F32, error)) == NULL)
    return FALSE;
  ctx = cxr_tensor_new_from_data (CXR_DTYPE_F32, (const gint64[]) { n, cw / d, d }, 3, (const guint8 *) ctx_values,
                                  sizeof (gfloat) * n * cw, error);
  if (ctx == NULL)
    return FALSE;
  if (self->dropout > 0 && tape != NULL) /* training, not measuring */
    {
      guint uw = 0;
      const gfloat *unc = cxr_batch_get_floats (batch, self->unconditional_field, &uw, NULL);
      gfloat *pc = cxr_tensor_get_data (ctx);
      if (unc == NULL || uw != cw)
        {
          g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_MISSING_FIELD, "batch %" G_GUINT64_FORMAT ": needs "
                       "the float field \"%s\", as wide as \"%s\"", cxr_batch_get_sequence (batch),
                       self->unconditional_field, self->context_field);
          return FALSE;
        }
      for (guint i = 0; i < n; i++)
        if (u[n + i] < self->dropout)
          memcpy (pc + (gsize) i * cw, unc + (gsize) i * cw, sizeof (gfloat) * cw);
    }
  return (pred = cxr_denoiser_predict (CXR_DENOISER (self->denoiser), tape, noisy, tf, ctx, error)) != NULL &&
         (*loss = cxr_op_mse (tape, pred, target, error)) != NULL;
}


static gchar **
cxr_diffusion_train_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  CxrDiffusionTrain *self = CXR_DIFFUSION_TRAIN (stage);
  g_autofree gchar *in = NULL;

  if (direction == CXR_PORT_OUTPUT)
    return g_strsplit ("loss,step", ",", -1);
  in = self->dropout > 0 ? g_strjoin (",", self->image_field, self->context_field, self->unconditional_field, NULL)
                         : g_strjoin (",", self->image_field, self->context_field, NULL);
  return g_strsplit (in, ",", -1);
}

static gchar **
string_slot (CxrDiffusionTrain *self, guint id)
{
  switch (id)
    {
    case P_IMAGE_FIELD: return &self->image_field;
    case P_CONTEXT_FIELD: return &self->context_field;
    case P_UNCONDITIONAL_FIELD: return &self->unconditional_field;
    case P_PREDICTION: return &self->prediction;
    default: return NULL;
    }
}

static void
cxr_diffusion_train_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrDiffusionTrain *self = CXR_DIFFUSION_TRAIN (object);
  gchar **s = string_slot (self, id);

  if (s)
    {
      g_free (*s);
      *s = g_value_dup_string (value);
      return;
    }
  switch (id)
    {
    case P_DENOISER: g_set_object (&self->denoiser, g_value_get_object (value)); break;
    case P_VAE: g_set_object (&self->vae, g_value_get_object (value)); break;
    case P_DROPOUT: self->dropout = g_value_get_double (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_diffusion_train_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrDiffusionTrain *self = CXR_DIFFUSION_TRAIN (object);
  gchar **s = string_slot (self, id);

  if (s)
    {
      g_value_set_string (value, *s);
      return;
    }
  switch (id)
    {
    case P_DENOISER: g_value_set_object (value, self->denoiser); break;
    case P_VAE: g_value_set_object (value, self->vae); break;
    case P_DROPOUT: g_value_set_double (value, self->dropout); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_diffusion_train_dispose (GObject *object)
{
  CxrDiffusionTrain *self = CXR_DIFFUSION_TRAIN (object);
  g_clear_object (&self->denoiser);
  g_clear_object (&self->vae);
  g_clear_object (&self->schedule);
  G_OBJECT_CLASS (cxr_diffusion_train_parent_class)->dispose (object);
}

static void
cxr_diffusion_train_finalize (GObject *object)
{
  CxrDiffusionTrain *self = CXR_DIFFUSION_TRAIN (object);
  for (guint id = 0; id < N_P; id++)
    if (string_slot (self, id))
      g_free (*string_slot (self, id));
  G_OBJECT_CLASS (cxr_diffusion_train_parent_class)->finalize (object);
}

static void
cxr_diffusion_train_class_init (CxrDiffusionTrainClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  CxrTrainerClass *trainer_class = CXR_TRAINER_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_diffusion_train_set_property;
  object_class->get_property = cxr_diffusion_train_get_property;
  object_class->dispose = cxr_diffusion_train_dispose;
  object_class->finalize = cxr_diffusion_train_finalize;
  stage_class->get_port_fields = cxr_diffusion_train_get_port_fields;
  trainer_class->setup = cxr_diffusion_train_setup;
  trainer_class->compute_loss = cxr_diffusion_train_compute_loss;
  props[P_DENOISER] = g_param_spec_object ("denoiser", "Denoiser", "The denoiser to train (sd-unet)",
                                           CXR_TYPE_DENOISER, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  props[P_VAE] = g_param_spec_object ("vae", "VAE", "The frozen autoencoder (sd-vae)", CXR_TYPE_AUTOENCODER,
                                      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  props[P_IMAGE_FIELD] = g_param_spec_string ("image-field", "Image field", "The float field of the images (gray in "
                                              "[0, 1])", "image", flags);
  props[P_CONTEXT_FIELD] = g_param_spec_string ("context-field", "Context field", "The float field of the contexts",
                                                "context", flags);
  props[P_UNCONDITIONAL_FIELD] = g_param_spec_string ("unconditional-field", "Unconditional field", "The float field "
                                                      "of the unconditional contexts (conditioning dropout)",
                                                      "unconditional-context", flags);
  props[P_PREDICTION] = g_param_spec_string ("prediction-type", "Prediction type", "What the denoiser learns: "
                                             "epsilon or v", "epsilon", flags);
  props[P_DROPOUT] = g_param_spec_double ("conditioning-dropout", "Conditioning dropout", "The probability of "
                                          "training a sample on the unconditional context", 0, 1, 0, flags);
  g_object_class_install_properties (object_class, N_P, props);
  cxr_stage_class_set_metadata (stage_class, "Diffusion training", "Filter/Trainer",
                                "Trains a denoiser on images and contexts (frozen autoencoder), with AdamW",
                                "The cxrgen developers");
  cxr_stage_class_add_input (stage_class, "in", "image,context", "Samples with images and contexts");
  cxr_trainer_class_add_validate_input (CXR_TRAINER_CLASS (klass), "image,context");
  cxr_stage_class_add_output (stage_class, "out", "loss,step", TRUE, "The same batches, with the loss and step");
}

static void
cxr_diffusion_train_init (CxrDiffusionTrain *self)
{
}
