/* plugins/diffusion/cxrdiffusiontrain.c: the diffusion-train stage:
 * trains any denoiser on images and their contexts, the autoencoder and
 * the text encoder frozen.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
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
 * AdamW with the paper's settings (lr 5e-5, betas 0.9 and 0.999, eps 1e-8,
 * weight decay 0.01), gradients accumulated over `accumulate` batches and
 * clipped to `max-grad-norm`, linear warm-up, optional conditioning
 * dropout (a sample's context replaced by the unconditional one, for
 * guidance) and an EMA of the weights.
 *
 * Each batch passes on with the float fields loss (of its micro-batch)
 * and step (the optimiser steps done after it), so a csv-sink records the
 * curve. `checkpoint` is written every `checkpoint-every` steps and at the
 * end (parameters, AdamW moments, step, batches seen; the EMA beside it);
 * with `resume=true` a run starts from it, skipping the batches already
 * seen, and continues the same loss curve bit for bit (the noise of a
 * micro-batch depends on `seed` and its index only). `output` receives
 * the final weights (the EMA's when on) with the public tensor names, and
 * the denoiser's config.json beside them, so a `[model]` loads the folder
 * with weights=. A last incomplete accumulation is
 * dropped.
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
  CxrStage parent_instance;
  CxrModel *denoiser, *vae;
  gchar *image_field, *context_field, *unconditional_field, *checkpoint, *output, *prediction;
  gdouble lr, weight_decay, max_grad_norm, dropout, ema_decay;
  guint accumulate, warmup_steps, checkpoint_every;
  guint64 max_steps, seed;
  gboolean resume;

  CxrParamSet *params; /* the denoiser's */
  CxrParamSet *ema;
  CxrAdamW *adamw;
  CxrNoiseScheduler *schedule;
  guint64 step, micro, skip;
  guint in_accumulation;
};

G_DEFINE_FINAL_TYPE (CxrDiffusionTrain, cxr_diffusion_train, CXR_TYPE_STAGE)

enum { P_0, P_DENOISER, P_VAE, P_IMAGE_FIELD, P_CONTEXT_FIELD, P_UNCONDITIONAL_FIELD, P_CHECKPOINT, P_OUTPUT,
       P_PREDICTION, P_LR, P_WEIGHT_DECAY, P_MAX_GRAD_NORM, P_DROPOUT, P_EMA_DECAY, P_ACCUMULATE, P_WARMUP,
       P_CHECKPOINT_EVERY, P_MAX_STEPS, P_SEED, P_RESUME, N_P };
static GParamSpec *props[N_P];

static CxrParamSet *
param_set_like (CxrParamSet *params)
{
  CxrParamSet *copy = cxr_param_set_new ();
  g_auto (GStrv) names = cxr_param_set_list_names (params);

  for (guint i = 0; names[i]; i++)
    {
      guint nd = 0;
      const gint64 *shape = cxr_tensor_get_shape (cxr_param_set_get (params, names[i]), &nd);
      cxr_param_set_add (copy, names[i], shape, nd, NULL);
    }
  cxr_param_set_allocate_frozen (copy);
  cxr_param_set_copy_from (copy, params);
  return copy;
}

static gchar *
ema_path (const gchar *checkpoint)
{
  return g_strconcat (checkpoint, ".ema.safetensors", NULL);
}

static gboolean
cxr_diffusion_train_prepare (CxrStage *stage, GError **error)
{
  CxrDiffusionTrain *self = CXR_DIFFUSION_TRAIN (stage);

  if (self->denoiser == NULL || self->vae == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "%s: set %s=NAME, a [model NAME] that is %s",
                   self->denoiser ? "vae" : "denoiser", self->denoiser ? "vae" : "denoiser",
                   self->denoiser ? "an autoencoder (sd-vae)" : "a denoiser (sd-unet)");
      return FALSE;
    }
  if (g_strcmp0 (self->prediction, "epsilon") != 0 && g_strcmp0 (self->prediction, "v") != 0)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "prediction-type: \"%s\"; epsilon or v",
                   self->prediction);
      return FALSE;
    }
  if (self->dropout > 0 && (self->unconditional_field == NULL || *self->unconditional_field == '\0'))
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED,
                   "conditioning-dropout needs unconditional-field (clip-text-encode writes it)");
      return FALSE;
    }
  if (!cxr_model_prepare (self->denoiser, error) || !cxr_model_prepare (self->vae, error))
    return FALSE;
  if ((self->params = cxr_model_get_parameters (self->denoiser)) == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "denoiser: this model has no trainable parameters");
      return FALSE;
    }
  cxr_param_set_enable_grads (self->params);
  cxr_param_set_zero_grad (self->params);
  g_clear_object (&self->adamw);
  self->adamw = cxr_adamw_new (self->params);
  g_object_set (self->adamw, "lr", self->lr, "weight-decay", self->weight_decay, NULL);
  g_clear_object (&self->schedule);
  self->schedule = g_object_new (CXR_TYPE_NOISE_SCHEDULER, "kind", CXR_SAMPLER_DDPM, "prediction-type",
                                 g_str_equal (self->prediction, "v") ? CXR_PREDICTION_V : CXR_PREDICTION_EPSILON, NULL);
  self->step = self->micro = self->skip = 0;
  self->in_accumulation = 0;
  if (self->resume && self->checkpoint && g_file_test (self->checkpoint, G_FILE_TEST_EXISTS))
    {
      g_autoptr (GHashTable) meta = NULL;
      const gchar *seen;
      if (!cxr_checkpoint_load (self->checkpoint, self->params, self->adamw, &meta, error))
        return FALSE;
      seen = meta ? g_hash_table_lookup (meta, "micro-batches") : NULL;
      if (seen == NULL || !g_ascii_string_to_unsigned (seen, 10, 0, G_MAXUINT64, &self->skip, NULL))
        {
          g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "%s: no micro-batches in its metadata: not a "
                       "checkpoint of diffusion-train", self->checkpoint);
          return FALSE;
        }
      self->step = (guint64) cxr_adamw_get_step (self->adamw);
      self->micro = self->skip; /* the noise of the next micro-batch follows on */
    }
  g_clear_object (&self->ema);
  if (self->ema_decay > 0)
    {
      self->ema = param_set_like (self->params);
      if (self->resume && self->checkpoint && self->skip > 0)
        {
          g_autofree gchar *path = ema_path (self->checkpoint);
          g_autoptr (CxrSafetensors) file = cxr_safetensors_open (path, error);
          if (file == NULL || !cxr_param_set_load (self->ema, file, NULL, TRUE, error))
            return FALSE;
        }
    }
  return TRUE;
}

/* the folder of PATH, made if missing */
static gboolean
make_parent (const gchar *path, GError **error)
{
  g_autofree gchar *dir = g_path_get_dirname (path);

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s: cannot make the folder: %s", dir,
                   g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static gboolean
save_checkpoint (CxrDiffusionTrain *self, GError **error)
{
  g_autoptr (GHashTable) meta = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);

  if (self->checkpoint == NULL || *self->checkpoint == '\0')
    return TRUE;
  if (!make_parent (self->checkpoint, error))
    return FALSE;
  g_hash_table_insert (meta, "micro-batches", g_strdup_printf ("%" G_GUINT64_FORMAT, self->micro));
  g_hash_table_insert (meta, "seed", g_strdup_printf ("%" G_GUINT64_FORMAT, self->seed));
  if (!cxr_checkpoint_save (self->checkpoint, self->params, self->adamw, meta, error))
    return FALSE;
  if (self->ema)
    {
      g_autofree gchar *path = ema_path (self->checkpoint);
      g_autoptr (GHashTable) table = cxr_param_set_to_table (self->ema, NULL);
      return cxr_safetensors_save (path, table, NULL, error);
    }
  return TRUE;
}

static void
put_float (CxrBatch *batch, const gchar *name, gfloat v)
{
  guint n = cxr_batch_get_size (batch);
  g_autofree gfloat *values = g_new (gfloat, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    values[i] = v;
  cxr_batch_set_floats (batch, name, 1, values, n);
}

/* One micro-batch: the loss, its gradients accumulated */
static gboolean
micro_step (CxrDiffusionTrain *self, CxrBatch *batch, gfloat *loss_value, GError **error)
{
  CxrAutoencoder *vae = CXR_AUTOENCODER (self->vae);
  guint n = cxr_batch_get_size (batch), width = 0, cw = 0;
  GVariant *ew = cxr_batch_get_extra (batch, "image-width"), *eh = cxr_batch_get_extra (batch, "image-height");
  guint w = ew ? g_variant_get_uint32 (ew) : 0, h = eh ? g_variant_get_uint32 (eh) : 0;
  const gfloat *gray = cxr_batch_get_floats (batch, self->image_field, &width, NULL);
  const gfloat *ctx_values = cxr_batch_get_floats (batch, self->context_field, &cw, NULL);
  guint d = cxr_denoiser_get_context_width (CXR_DENOISER (self->denoiser));
  guint64 key = self->seed * 1000003u + self->micro;
  g_autoptr (CxrTensor) images = NULL, mean = NULL, logvar = NULL, latents = NULL, noise = NULL, noisy = NULL;
  g_autoptr (CxrTensor) ts = NULL, tf = NULL, ctx = NULL, pred = NULL, target = NULL, loss = NULL, scaled = NULL;
  g_autoptr (CxrTape) tape = NULL;
  g_autofree gfloat *u = NULL;
  gfloat *px;
  gint64 *pt;

  if (gray == NULL || w == 0 || (gsize) w * h != width)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_MISSING_FIELD, "batch %" G_GUINT64_FORMAT ": needs the "
                   "float field \"%s\" with the image-width and image-height extras", cxr_batch_get_sequence (batch),
                   self->image_field);
      return FALSE;
    }
  if (ctx_values == NULL || d == 0 || cw % d != 0)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_MISSING_FIELD, "batch %" G_GUINT64_FORMAT ": needs the "
                   "float field \"%s\" of contexts %u wide", cxr_batch_get_sequence (batch), self->context_field, d);
      return FALSE;
    }
  /* the images as the autoencoder takes them: RGB in [-1, 1] */
  images = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { n, 3, h, w }, 4);
  px = cxr_tensor_get_data (images);
  for (guint i = 0; i < n; i++)
    for (guint c = 0; c < 3; c++)
      for (gsize k = 0; k < width; k++)
        px[((gsize) i * 3 + c) * width + k] = gray[(gsize) i * width + k] * 2.0f - 1.0f;
  if ((mean = cxr_autoencoder_encode (vae, NULL, images, &logvar, error)) == NULL)
    return FALSE;
  /* a sample of the latent distribution, scaled */
  {
    guint nd = 0;
    const gint64 *shape = cxr_tensor_get_shape (mean, &nd);
    g_autoptr (CxrTensor) z = cxr_tensor_new_randn (shape, nd, key, 0);
    g_autoptr (CxrTensor) m = cxr_tensor_contiguous (mean);
    const gfloat *pm = cxr_tensor_get_data (m), *pl = cxr_tensor_get_data (logvar);
    gfloat *pz = cxr_tensor_get_data (z);
    gfloat sf = (gfloat) cxr_autoencoder_get_scaling_factor (vae);
    for (gint64 i = 0; i < cxr_tensor_get_numel (z); i++)
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
  if (self->dropout > 0)
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
  tape = cxr_tape_new ();
  if ((pred = cxr_denoiser_predict (CXR_DENOISER (self->denoiser), tape, noisy, tf, ctx, error)) == NULL ||
      (loss = cxr_op_mse (tape, pred, target, error)) == NULL ||
      (scaled = cxr_op_scale (tape, loss, 1.0f / self->accumulate, error)) == NULL ||
      !cxr_tape_backward (tape, scaled, error))
    return FALSE;
  *loss_value = *(const gfloat *) cxr_tensor_get_data (loss);
  return TRUE;
}

static gboolean
cxr_diffusion_train_transform (CxrStage *stage, CxrBatch *batch, GError **error)
{
  CxrDiffusionTrain *self = CXR_DIFFUSION_TRAIN (stage);
  gfloat loss = NAN;

  if (cxr_batch_get_size (batch) == 0)
    return TRUE;
  if (self->skip > 0)
    {
      /* resumed: these batches were trained on before the checkpoint */
      self->skip--;
    }
  else if (self->max_steps == 0 || self->step < self->max_steps)
    {
      if (!micro_step (self, batch, &loss, error))
        return FALSE;
      self->micro++;
      if (++self->in_accumulation == self->accumulate)
        {
          gdouble lr = self->lr;
          if (self->warmup_steps > 0 && self->step < self->warmup_steps)
            lr *= (gdouble) (self->step + 1) / self->warmup_steps;
          if (self->max_grad_norm > 0)
            cxr_param_set_clip_grad_norm (self->params, self->max_grad_norm);
          cxr_adamw_step (self->adamw, (gfloat) lr);
          cxr_param_set_zero_grad (self->params);
          if (self->ema)
            cxr_param_set_ema_update (self->ema, self->params, (gfloat) self->ema_decay);
          self->in_accumulation = 0;
          self->step++;
          if (self->checkpoint_every > 0 && self->step % self->checkpoint_every == 0 && !save_checkpoint (self, error))
            return FALSE;
        }
    }
  put_float (batch, "loss", loss);
  put_float (batch, "step", (gfloat) self->step);
  return TRUE;
}

static gboolean
cxr_diffusion_train_finish (CxrStage *stage, GError **error)
{
  CxrDiffusionTrain *self = CXR_DIFFUSION_TRAIN (stage);

  if (self->in_accumulation > 0)
    {
      /* an incomplete accumulation is dropped, not stepped on */
      self->micro -= self->in_accumulation;
      self->in_accumulation = 0;
      cxr_param_set_zero_grad (self->params);
    }
  if (!save_checkpoint (self, error))
    return FALSE;
  if (self->output && *self->output)
    {
      g_autoptr (GHashTable) table = cxr_param_set_to_table (self->ema ? self->ema : self->params, NULL);
      const gchar *config = cxr_model_get_config_path (self->denoiser);
      g_autofree gchar *dir = g_path_get_dirname (self->output);
      g_autofree gchar *beside = g_build_filename (dir, "config.json", NULL);
      g_autofree gchar *text = NULL;
      g_autoptr (CxrAtomicFile) copy = NULL;
      gsize length = 0;

      if (!make_parent (self->output, error) || !cxr_safetensors_save (self->output, table, NULL, error))
        return FALSE;
      /* the configuration beside the weights: a folder a [model] loads */
      if (config == NULL || g_strcmp0 (config, beside) == 0)
        return TRUE;
      return g_file_get_contents (config, &text, &length, error) && (copy = cxr_atomic_file_new (beside, error)) &&
             cxr_atomic_file_write (copy, text, length, error) && cxr_atomic_file_commit (copy, error);
    }
  return TRUE;
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
    case P_CHECKPOINT: return &self->checkpoint;
    case P_OUTPUT: return &self->output;
    case P_PREDICTION: return &self->prediction;
    default: return NULL;
    }
}

static gdouble *
double_slot (CxrDiffusionTrain *self, guint id)
{
  switch (id)
    {
    case P_LR: return &self->lr;
    case P_WEIGHT_DECAY: return &self->weight_decay;
    case P_MAX_GRAD_NORM: return &self->max_grad_norm;
    case P_DROPOUT: return &self->dropout;
    case P_EMA_DECAY: return &self->ema_decay;
    default: return NULL;
    }
}

static void
cxr_diffusion_train_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrDiffusionTrain *self = CXR_DIFFUSION_TRAIN (object);
  gchar **s = string_slot (self, id);
  gdouble *dv = double_slot (self, id);

  if (s)
    {
      g_free (*s);
      *s = g_value_dup_string (value);
      return;
    }
  if (dv)
    {
      *dv = g_value_get_double (value);
      return;
    }
  switch (id)
    {
    case P_DENOISER: g_set_object (&self->denoiser, g_value_get_object (value)); break;
    case P_VAE: g_set_object (&self->vae, g_value_get_object (value)); break;
    case P_ACCUMULATE: self->accumulate = g_value_get_uint (value); break;
    case P_WARMUP: self->warmup_steps = g_value_get_uint (value); break;
    case P_CHECKPOINT_EVERY: self->checkpoint_every = g_value_get_uint (value); break;
    case P_MAX_STEPS: self->max_steps = g_value_get_uint64 (value); break;
    case P_SEED: self->seed = g_value_get_uint64 (value); break;
    case P_RESUME: self->resume = g_value_get_boolean (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_diffusion_train_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrDiffusionTrain *self = CXR_DIFFUSION_TRAIN (object);
  gchar **s = string_slot (self, id);
  gdouble *dv = double_slot (self, id);

  if (s)
    {
      g_value_set_string (value, *s);
      return;
    }
  if (dv)
    {
      g_value_set_double (value, *dv);
      return;
    }
  switch (id)
    {
    case P_DENOISER: g_value_set_object (value, self->denoiser); break;
    case P_VAE: g_value_set_object (value, self->vae); break;
    case P_ACCUMULATE: g_value_set_uint (value, self->accumulate); break;
    case P_WARMUP: g_value_set_uint (value, self->warmup_steps); break;
    case P_CHECKPOINT_EVERY: g_value_set_uint (value, self->checkpoint_every); break;
    case P_MAX_STEPS: g_value_set_uint64 (value, self->max_steps); break;
    case P_SEED: g_value_set_uint64 (value, self->seed); break;
    case P_RESUME: g_value_set_boolean (value, self->resume); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_diffusion_train_dispose (GObject *object)
{
  CxrDiffusionTrain *self = CXR_DIFFUSION_TRAIN (object);
  g_clear_object (&self->denoiser);
  g_clear_object (&self->vae);
  g_clear_object (&self->ema);
  g_clear_object (&self->adamw);
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
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_diffusion_train_set_property;
  object_class->get_property = cxr_diffusion_train_get_property;
  object_class->dispose = cxr_diffusion_train_dispose;
  object_class->finalize = cxr_diffusion_train_finalize;
  stage_class->prepare = cxr_diffusion_train_prepare;
  stage_class->transform = cxr_diffusion_train_transform;
  stage_class->finish = cxr_diffusion_train_finish;
  stage_class->get_port_fields = cxr_diffusion_train_get_port_fields;
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
  props[P_CHECKPOINT] = g_param_spec_string ("checkpoint", "Checkpoint", "The checkpoint file (empty: none)", NULL,
                                             flags);
  props[P_OUTPUT] = g_param_spec_string ("output", "Output", "Where to write the final weights, with the public "
                                         "names (empty: nowhere)", NULL, flags);
  props[P_PREDICTION] = g_param_spec_string ("prediction-type", "Prediction type", "What the denoiser learns: "
                                             "epsilon or v", "epsilon", flags);
  props[P_LR] = g_param_spec_double ("lr", "Learning rate", "AdamW's learning rate", 0, 10, 5e-5, flags);
  props[P_WEIGHT_DECAY] = g_param_spec_double ("weight-decay", "Weight decay", "AdamW's decoupled weight decay", 0, 10,
                                               0.01, flags);
  props[P_MAX_GRAD_NORM] = g_param_spec_double ("max-grad-norm", "Max gradient norm", "Clip the gradient's norm to "
                                                "this (0: no clipping)", 0, 1e6, 1.0, flags);
  props[P_DROPOUT] = g_param_spec_double ("conditioning-dropout", "Conditioning dropout", "The probability of "
                                          "training a sample on the unconditional context", 0, 1, 0, flags);
  props[P_EMA_DECAY] = g_param_spec_double ("ema-decay", "EMA decay", "Keep an EMA of the weights (0: none; 0.9999 "
                                            "is usual)", 0, 1, 0, flags);
  props[P_ACCUMULATE] = g_param_spec_uint ("accumulate", "Accumulate", "Batches per optimiser step", 1, 1 << 20, 1,
                                           flags);
  props[P_WARMUP] = g_param_spec_uint ("warmup-steps", "Warm-up steps", "Linear warm-up of the learning rate", 0,
                                       G_MAXUINT, 0, flags);
  props[P_CHECKPOINT_EVERY] = g_param_spec_uint ("checkpoint-every", "Checkpoint every", "Steps between checkpoints "
                                                 "(0: at the end only)", 0, G_MAXUINT, 0, flags);
  props[P_MAX_STEPS] = g_param_spec_uint64 ("max-steps", "Max steps", "Stop training after this many steps (0: "
                                            "when the data ends)", 0, G_MAXUINT64, 0, flags);
  props[P_SEED] = g_param_spec_uint64 ("seed", "Seed", "The seed of the noise and timesteps", 0, G_MAXUINT64, 0,
                                       flags);
  props[P_RESUME] = g_param_spec_boolean ("resume", "Resume", "Start from the checkpoint when it exists", FALSE, flags);
  g_object_class_install_properties (object_class, N_P, props);
  cxr_stage_class_set_metadata (stage_class, "Diffusion training", "Filter/Trainer",
                                "Trains a denoiser on images and contexts (frozen autoencoder), with AdamW",
                                "The cxrgen developers");
  cxr_stage_class_add_input (stage_class, "in", "image,context", "Samples with images and contexts");
  cxr_stage_class_add_output (stage_class, "out", "loss,step", TRUE, "The same batches, with the loss and step");
}

static void
cxr_diffusion_train_init (CxrDiffusionTrain *self)
{
}
