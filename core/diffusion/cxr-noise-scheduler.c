/* cxr-noise-scheduler.c: diffusion noise schedules and samplers (DDPM
 * noising, DDIM, PNDM/PLMS, Euler), as diffusers computes them.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "tensor/cxr-ops-private.h"

/**
 * SECTION:cxr-noise-scheduler
 * @title: CxrNoiseScheduler
 * @short_description: the noise of training and the steps of sampling
 *
 * One schedule of noise levels (betas over #CxrNoiseScheduler:train-steps
 * training timesteps: "scaled_linear", sqrt-spaced from beta-start to
 * beta-end and squared, as SD v1.4 trains with 0.00085..0.012 over 1000;
 * or "linear"), its cumulative products of alphas, and the samplers that
 * walk it back. Coefficients are computed in double precision.
 *
 * Training: cxr_noise_scheduler_add_noise() gives sqrt(a_t) x0 +
 * sqrt(1 - a_t) noise; cxr_noise_scheduler_get_target() what the denoiser
 * learns to predict (the noise, or v).
 *
 * Sampling: cxr_noise_scheduler_set_timesteps(), then for each step i,
 * the denoiser's output on cxr_noise_scheduler_scale_model_input() at
 * timestep i, and cxr_noise_scheduler_step(). Timesteps are "leading" with
 * steps-offset for DDPM, DDIM and PNDM, as SD's configuration says: with
 * 50 steps, DDIM visits 981, 961, ..., 1 and PNDM (PLMS, no Runge-Kutta
 * warm-up) 981, 961, 961, 941, ..., 1 (51 calls: the first step is taken
 * twice, the second time as the mean of two outputs); Euler's are
 * "linspace" (999 down to 0, fractional) on the sigmas sqrt((1 - a) / a)
 * interpolated there, with inputs scaled by 1 / sqrt(sigma^2 + 1) and
 * initial noise of the largest sigma. Past the first timestep, DDIM and
 * PNDM use a_0 as the final alpha (set-alpha-to-one false, as SD).
 */

struct _CxrNoiseScheduler {
  GObject parent_instance;
  CxrSamplerKind kind;
  CxrPredictionType prediction;
  guint train_steps;
  gdouble beta_start, beta_end, eta;
  gchar *beta_schedule;
  guint steps_offset;
  gboolean set_alpha_to_one;

  gdouble *alphas_cumprod; /* [train_steps], NULL until first needed */
  gdouble *timesteps;      /* the sampling timesteps */
  guint n_timesteps, n_steps;
  gdouble *sigmas;         /* Euler: [n_timesteps + 1] */
  /* PLMS state */
  GPtrArray *ets;
  CxrTensor *cur_sample;
  guint counter;
};

enum {
  PROP_0,
  PROP_KIND,
  PROP_PREDICTION,
  PROP_TRAIN_STEPS,
  PROP_BETA_START,
  PROP_BETA_END,
  PROP_BETA_SCHEDULE,
  PROP_STEPS_OFFSET,
  PROP_SET_ALPHA_TO_ONE,
  PROP_ETA,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (CxrNoiseScheduler, cxr_noise_scheduler, G_TYPE_OBJECT)

static void
forget_schedule (CxrNoiseScheduler *self)
{
  g_clear_pointer (&self->alphas_cumprod, g_free);
  g_clear_pointer (&self->timesteps, g_free);
  g_clear_pointer (&self->sigmas, g_free);
  self->n_timesteps = self->n_steps = 0;
  g_ptr_array_set_size (self->ets, 0);
  g_clear_pointer (&self->cur_sample, cxr_tensor_unref);
  self->counter = 0;
}

static void
cxr_noise_scheduler_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrNoiseScheduler *self = CXR_NOISE_SCHEDULER (object);

  forget_schedule (self);
  switch (id)
    {
    case PROP_KIND: self->kind = g_value_get_enum (value); break;
    case PROP_PREDICTION: self->prediction = g_value_get_enum (value); break;
    case PROP_TRAIN_STEPS: self->train_steps = g_value_get_uint (value); break;
    case PROP_BETA_START: self->beta_start = g_value_get_double (value); break;
    case PROP_BETA_END: self->beta_end = g_value_get_double (value); break;
    case PROP_BETA_SCHEDULE:
      g_free (self->beta_schedule);
      self->beta_schedule = g_value_dup_string (value);
      break;
    case PROP_STEPS_OFFSET: self->steps_offset = g_value_get_uint (value); break;
    case PROP_SET_ALPHA_TO_ONE: self->set_alpha_to_one = g_value_get_boolean (value); break;
    case PROP_ETA: self->eta = g_value_get_double (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_noise_scheduler_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrNoiseScheduler *self = CXR_NOISE_SCHEDULER (object);

  switch (id)
    {
    case PROP_KIND: g_value_set_enum (value, self->kind); break;
    case PROP_PREDICTION: g_value_set_enum (value, self->prediction); break;
    case PROP_TRAIN_STEPS: g_value_set_uint (value, self->train_steps); break;
    case PROP_BETA_START: g_value_set_double (value, self->beta_start); break;
    case PROP_BETA_END: g_value_set_double (value, self->beta_end); break;
    case PROP_BETA_SCHEDULE: g_value_set_string (value, self->beta_schedule); break;
    case PROP_STEPS_OFFSET: g_value_set_uint (value, self->steps_offset); break;
    case PROP_SET_ALPHA_TO_ONE: g_value_set_boolean (value, self->set_alpha_to_one); break;
    case PROP_ETA: g_value_set_double (value, self->eta); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_noise_scheduler_finalize (GObject *object)
{
  CxrNoiseScheduler *self = CXR_NOISE_SCHEDULER (object);

  forget_schedule (self);
  g_ptr_array_unref (self->ets);
  g_free (self->beta_schedule);
  G_OBJECT_CLASS (cxr_noise_scheduler_parent_class)->finalize (object);
}

static void
cxr_noise_scheduler_class_init (CxrNoiseSchedulerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_noise_scheduler_set_property;
  object_class->get_property = cxr_noise_scheduler_get_property;
  object_class->finalize = cxr_noise_scheduler_finalize;

  /**
   * CxrNoiseScheduler:kind:
   *
   * The sampler.
   */
  properties[PROP_KIND] = g_param_spec_enum ("kind", "Kind", "The sampler", CXR_TYPE_SAMPLER_KIND,
                                             CXR_SAMPLER_PNDM, flags);
  /**
   * CxrNoiseScheduler:prediction-type:
   *
   * What the denoiser predicts: the noise, or v.
   */
  properties[PROP_PREDICTION] = g_param_spec_enum ("prediction-type", "Prediction type", "epsilon or v",
                                                   CXR_TYPE_PREDICTION_TYPE, CXR_PREDICTION_EPSILON, flags);
  /**
   * CxrNoiseScheduler:train-steps:
   *
   * The timesteps of training (num_train_timesteps).
   */
  properties[PROP_TRAIN_STEPS] = g_param_spec_uint ("train-steps", "Train steps", "The timesteps of training",
                                                    2, 100000, 1000, flags);
  /**
   * CxrNoiseScheduler:beta-start:
   *
   * The first beta.
   */
  properties[PROP_BETA_START] = g_param_spec_double ("beta-start", "Beta start", "The first beta", 0, 1, 0.00085,
                                                     flags);
  /**
   * CxrNoiseScheduler:beta-end:
   *
   * The last beta.
   */
  properties[PROP_BETA_END] = g_param_spec_double ("beta-end", "Beta end", "The last beta", 0, 1, 0.012, flags);
  /**
   * CxrNoiseScheduler:beta-schedule:
   *
   * "scaled_linear" (SD's) or "linear".
   */
  properties[PROP_BETA_SCHEDULE] = g_param_spec_string ("beta-schedule", "Beta schedule", "scaled_linear or linear",
                                                        "scaled_linear", flags);
  /**
   * CxrNoiseScheduler:steps-offset:
   *
   * Added to every "leading" timestep (1 in SD's configuration).
   */
  properties[PROP_STEPS_OFFSET] = g_param_spec_uint ("steps-offset", "Steps offset", "Added to each timestep", 0,
                                                     1000, 1, flags);
  /**
   * CxrNoiseScheduler:set-alpha-to-one:
   *
   * Whether the alpha past the first timestep is 1 (else a_0, as SD).
   */
  properties[PROP_SET_ALPHA_TO_ONE] = g_param_spec_boolean ("set-alpha-to-one", "Set alpha to one",
                                                            "The final alpha is 1 (else the first one's)", FALSE,
                                                            flags);
  /**
   * CxrNoiseScheduler:eta:
   *
   * DDIM's eta: 0 is deterministic, 1 is DDPM's variance.
   */
  properties[PROP_ETA] = g_param_spec_double ("eta", "Eta", "DDIM's eta (0: deterministic)", 0, 1, 0, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cxr_noise_scheduler_init (CxrNoiseScheduler *self)
{
  self->ets = g_ptr_array_new_with_free_func ((GDestroyNotify) cxr_tensor_unref);
}

/**
 * cxr_noise_scheduler_new:
 * @kind: the sampler
 *
 * Returns: (transfer full): a scheduler with SD v1.4's schedule
 */
CxrNoiseScheduler *
cxr_noise_scheduler_new (CxrSamplerKind kind)
{
  return g_object_new (CXR_TYPE_NOISE_SCHEDULER, "kind", kind, NULL);
}

static const gdouble *
schedule (CxrNoiseScheduler *self)
{
  if (self->alphas_cumprod == NULL)
    {
      guint n = self->train_steps;
      gdouble product = 1.0;
      gboolean scaled = g_strcmp0 (self->beta_schedule, "linear") != 0;
      gdouble a = scaled ? sqrt (self->beta_start) : self->beta_start;
      gdouble b = scaled ? sqrt (self->beta_end) : self->beta_end;

      self->alphas_cumprod = g_new (gdouble, n);
      for (guint i = 0; i < n; i++)
        {
          gdouble beta = a + (b - a) * i / (n - 1);
          if (scaled)
            beta *= beta;
          product *= 1.0 - beta;
          self->alphas_cumprod[i] = product;
        }
    }
  return self->alphas_cumprod;
}

/**
 * cxr_noise_scheduler_get_alpha_cumprod:
 * @self: a scheduler
 * @timestep: a training timestep, or a negative one (past the first)
 *
 * Returns: the product of the alphas up to @timestep; for a negative one,
 *   the final alpha (1, or a_0 without set-alpha-to-one)
 */
gdouble
cxr_noise_scheduler_get_alpha_cumprod (CxrNoiseScheduler *self, gint64 timestep)
{
  const gdouble *acp;

  g_return_val_if_fail (CXR_IS_NOISE_SCHEDULER (self), NAN);
  acp = schedule (self);
  if (timestep < 0)
    return self->set_alpha_to_one ? 1.0 : acp[0];
  return acp[MIN ((guint64) timestep, self->train_steps - 1)];
}

/**
 * cxr_noise_scheduler_set_timesteps:
 * @self: a scheduler
 * @steps: the number of sampling steps
 * @error: return location for a #GError
 *
 * Chooses the timesteps of sampling and resets the sampler's state.
 *
 * Returns: %TRUE, or %FALSE if @steps is 0 or more than the training steps
 */
gboolean
cxr_noise_scheduler_set_timesteps (CxrNoiseScheduler *self, guint steps, GError **error)
{
  guint t = self->train_steps, ratio, n;

  g_return_val_if_fail (CXR_IS_NOISE_SCHEDULER (self), FALSE);
  if (steps == 0 || steps > t)
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_CONFIG, "steps: %u, but 1 to %u are possible", steps, t);
      return FALSE;
    }
  schedule (self);
  g_clear_pointer (&self->timesteps, g_free);
  g_clear_pointer (&self->sigmas, g_free);
  g_ptr_array_set_size (self->ets, 0);
  g_clear_pointer (&self->cur_sample, cxr_tensor_unref);
  self->counter = 0;
  self->n_steps = steps;
  ratio = t / steps;
  if (self->kind == CXR_SAMPLER_EULER)
    {
      n = steps;
      self->timesteps = g_new (gdouble, n);
      self->sigmas = g_new (gdouble, n + 1);
      for (guint i = 0; i < n; i++)
        {
          gdouble ts = steps > 1 ? (gdouble) (t - 1) * (n - 1 - i) / (n - 1) : t - 1;
          guint lo = (guint) floor (ts), hi = MIN (lo + 1, t - 1);
          gdouble f = ts - lo;
          gdouble s_lo = sqrt ((1 - self->alphas_cumprod[lo]) / self->alphas_cumprod[lo]);
          gdouble s_hi = sqrt ((1 - self->alphas_cumprod[hi]) / self->alphas_cumprod[hi]);
          self->timesteps[i] = ts;
          self->sigmas[i] = s_lo + f * (s_hi - s_lo);
        }
      self->sigmas[n] = 0.0;
    }
  else if (self->kind == CXR_SAMPLER_PNDM)
    {
      /* leading timesteps ascending: t_k = k * ratio + offset; PLMS visits
       * them descending, the second largest twice */
      n = steps == 1 ? 1 : steps + 1;
      self->timesteps = g_new (gdouble, n);
      if (steps == 1)
        self->timesteps[0] = self->steps_offset;
      else
        {
          /* t_{S-1}, t_{S-2}, t_{S-2}, t_{S-3}, ..., t_0 */
          self->timesteps[0] = (gdouble) (steps - 1) * ratio + self->steps_offset;
          self->timesteps[1] = (gdouble) (steps - 2) * ratio + self->steps_offset;
          for (guint i = 2; i < n; i++)
            self->timesteps[i] = (gdouble) (steps - i) * ratio + self->steps_offset;
        }
    }
  else
    {
      n = steps;
      self->timesteps = g_new (gdouble, n);
      for (guint i = 0; i < n; i++)
        self->timesteps[i] = (gdouble) (steps - 1 - i) * ratio + self->steps_offset;
    }
  self->n_timesteps = n;
  return TRUE;
}

/**
 * cxr_noise_scheduler_get_timesteps:
 * @self: a scheduler with its timesteps set
 * @n_timesteps: (out): how many (the denoiser's calls)
 *
 * Returns: (transfer none) (array length=n_timesteps): the timesteps of
 *   sampling, in order (fractional for Euler)
 */
const gdouble *
cxr_noise_scheduler_get_timesteps (CxrNoiseScheduler *self, guint *n_timesteps)
{
  g_return_val_if_fail (CXR_IS_NOISE_SCHEDULER (self), NULL);
  *n_timesteps = self->n_timesteps;
  return self->timesteps;
}

/**
 * cxr_noise_scheduler_get_init_noise_sigma:
 * @self: a scheduler with its timesteps set
 *
 * Returns: the deviation of the noise sampling starts from (1, or Euler's
 *   largest sigma)
 */
gdouble
cxr_noise_scheduler_get_init_noise_sigma (CxrNoiseScheduler *self)
{
  g_return_val_if_fail (CXR_IS_NOISE_SCHEDULER (self), NAN);
  return self->kind == CXR_SAMPLER_EULER && self->sigmas ? self->sigmas[0] : 1.0;
}

static gboolean
check_pair (CxrTensor *a, CxrTensor *b, const gchar *what, GError **error)
{
  if (!_cxr_check_input (a, what, "a", error) || !_cxr_check_input (b, what, "b", error) ||
      !_cxr_check_shape_equal (a, b, what, error))
    return FALSE;
  return TRUE;
}

/* out = ca[i] * a + cb[i] * b, sample by sample (dimension 0) */
static CxrTensor *
combine (CxrTensor *a, CxrTensor *b, const gdouble *ca, const gdouble *cb)
{
  CxrTensor *out = cxr_tensor_new_like (a);
  gint64 n = cxr_tensor_get_dim (a, 0), per = cxr_tensor_get_numel (a) / MAX (n, 1);
  const gfloat *pa = cxr_tensor_get_data (a), *pb = b ? cxr_tensor_get_data (b) : NULL;
  gfloat *po = cxr_tensor_get_data (out);

  for (gint64 i = 0; i < n; i++)
    for (gint64 k = 0; k < per; k++)
      po[i * per + k] = (gfloat) (ca[i] * pa[i * per + k] + (pb ? cb[i] * pb[i * per + k] : 0.0));
  return out;
}

static gboolean
sample_timesteps (CxrNoiseScheduler *self, CxrTensor *x0, CxrTensor *timesteps, gdouble **sa, gdouble **sb,
                  GError **error)
{
  gint64 n = cxr_tensor_get_dim (x0, 0);
  g_autoptr (CxrTensor) ids = NULL;
  const gint64 *t;

  if (cxr_tensor_get_ndim (timesteps) != 1 || cxr_tensor_get_dim (timesteps, 0) != n ||
      (ids = cxr_tensor_to_dtype (timesteps, CXR_DTYPE_I64, error)) == NULL)
    {
      if (error && *error == NULL)
        g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT,
                     "timesteps: one integer per sample ([%" G_GINT64_FORMAT "]) expected", n);
      return FALSE;
    }
  t = cxr_tensor_get_data (ids);
  *sa = g_new (gdouble, MAX (n, 1));
  *sb = g_new (gdouble, MAX (n, 1));
  for (gint64 i = 0; i < n; i++)
    {
      gdouble a;
      if (t[i] < 0 || t[i] >= self->train_steps)
        {
          g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "timesteps[%" G_GINT64_FORMAT "] = %"
                       G_GINT64_FORMAT " is outside 0..%u", i, t[i], self->train_steps - 1);
          g_clear_pointer (sa, g_free);
          g_clear_pointer (sb, g_free);
          return FALSE;
        }
      a = schedule (self)[t[i]];
      (*sa)[i] = sqrt (a);
      (*sb)[i] = sqrt (1.0 - a);
    }
  return TRUE;
}

/**
 * cxr_noise_scheduler_add_noise:
 * @self: a scheduler
 * @x0: clean samples [N, ...]
 * @noise: standard normal noise of the same shape
 * @timesteps: one training timestep per sample [N] (integers)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): sqrt(a_t) x0 + sqrt(1 - a_t) noise
 */
CxrTensor *
cxr_noise_scheduler_add_noise (CxrNoiseScheduler *self, CxrTensor *x0, CxrTensor *noise, CxrTensor *timesteps,
                               GError **error)
{
  g_autofree gdouble *sa = NULL, *sb = NULL;

  g_return_val_if_fail (CXR_IS_NOISE_SCHEDULER (self), NULL);
  if (!check_pair (x0, noise, "add_noise", error) || !sample_timesteps (self, x0, timesteps, &sa, &sb, error))
    return NULL;
  return combine (x0, noise, sa, sb);
}

/**
 * cxr_noise_scheduler_get_target:
 * @self: a scheduler
 * @x0: clean samples [N, ...]
 * @noise: the noise added to them
 * @timesteps: their timesteps [N]
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): what the denoiser learns to
 *   predict: the noise, or v = sqrt(a_t) noise - sqrt(1 - a_t) x0
 */
CxrTensor *
cxr_noise_scheduler_get_target (CxrNoiseScheduler *self, CxrTensor *x0, CxrTensor *noise, CxrTensor *timesteps,
                                GError **error)
{
  g_autofree gdouble *sa = NULL, *sb = NULL;
  gint64 n;

  g_return_val_if_fail (CXR_IS_NOISE_SCHEDULER (self), NULL);
  if (!check_pair (x0, noise, "get_target", error) || !sample_timesteps (self, x0, timesteps, &sa, &sb, error))
    return NULL;
  if (self->prediction == CXR_PREDICTION_EPSILON)
    return cxr_tensor_ref (noise);
  n = cxr_tensor_get_dim (x0, 0);
  for (gint64 i = 0; i < n; i++)
    sb[i] = -sb[i];
  return combine (noise, x0, sa, sb);
}

static gboolean
check_step (CxrNoiseScheduler *self, guint step, GError **error)
{
  if (self->timesteps == NULL || step >= self->n_timesteps)
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_NOT_READY,
                   "sampling step %u: the scheduler has %u (call set_timesteps first)", step, self->n_timesteps);
      return FALSE;
    }
  return TRUE;
}

/**
 * cxr_noise_scheduler_scale_model_input:
 * @self: a scheduler with its timesteps set
 * @sample: the current samples
 * @step: the index of the step
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): what the denoiser is given: the
 *   sample itself, or divided by sqrt(sigma^2 + 1) for Euler
 */
CxrTensor *
cxr_noise_scheduler_scale_model_input (CxrNoiseScheduler *self, CxrTensor *sample, guint step, GError **error)
{
  g_return_val_if_fail (CXR_IS_NOISE_SCHEDULER (self), NULL);
  if (!check_step (self, step, error))
    return NULL;
  if (self->kind != CXR_SAMPLER_EULER)
    return cxr_tensor_ref (sample);
  return cxr_op_scale (NULL, sample, (gfloat) (1.0 / sqrt (self->sigmas[step] * self->sigmas[step] + 1.0)), error);
}

/* x0 and epsilon from the denoiser's output at alpha a */
static void
split_prediction (CxrNoiseScheduler *self, gdouble a, gfloat out, gfloat x, gdouble *x0, gdouble *eps)
{
  if (self->prediction == CXR_PREDICTION_EPSILON)
    {
      *eps = out;
      *x0 = (x - sqrt (1 - a) * out) / sqrt (a);
    }
  else
    {
      *x0 = sqrt (a) * x - sqrt (1 - a) * out;
      *eps = sqrt (a) * out + sqrt (1 - a) * x;
    }
}

/**
 * cxr_noise_scheduler_step:
 * @self: a scheduler with its timesteps set
 * @model_output: the denoiser's output at step @step
 * @step: the index of the step (PNDM's must come in order)
 * @sample: the current samples
 * @noise: (nullable): standard normal noise of their shape, for the
 *   samplers that add some (DDPM, DDIM with eta > 0)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the samples one step less noisy
 */
CxrTensor *
cxr_noise_scheduler_step (CxrNoiseScheduler *self, CxrTensor *model_output, guint step, CxrTensor *sample,
                          CxrTensor *noise, GError **error)
{
  gint64 n;
  const gfloat *o, *x, *z;
  CxrTensor *out;
  gfloat *po;
  guint ratio;
  gdouble t;

  g_return_val_if_fail (CXR_IS_NOISE_SCHEDULER (self), NULL);
  if (!check_step (self, step, error) || !check_pair (model_output, sample, "step", error) ||
      (noise && !check_pair (noise, sample, "step", error)))
    return NULL;
  if (noise == NULL && (self->kind == CXR_SAMPLER_DDPM || (self->kind == CXR_SAMPLER_DDIM && self->eta > 0)))
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "step: this sampler adds noise; none was given");
      return NULL;
    }
  n = cxr_tensor_get_numel (sample);
  ratio = self->train_steps / self->n_steps;
  t = self->timesteps[step];
  o = cxr_tensor_get_data (model_output);
  x = cxr_tensor_get_data (sample);
  z = noise ? cxr_tensor_get_data (noise) : NULL;

  if (self->kind == CXR_SAMPLER_EULER)
    {
      gdouble s = self->sigmas[step], ds = self->sigmas[step + 1] - s;
      out = cxr_tensor_new_like (sample);
      po = cxr_tensor_get_data (out);
      for (gint64 i = 0; i < n; i++)
        {
          gdouble x0 = self->prediction == CXR_PREDICTION_EPSILON
                         ? x[i] - s * o[i]
                         : o[i] * (-s / sqrt (s * s + 1)) + x[i] / (s * s + 1);
          po[i] = (gfloat) (x[i] + (x[i] - x0) / s * ds);
        }
      return out;
    }
  if (self->kind == CXR_SAMPLER_DDIM || self->kind == CXR_SAMPLER_DDPM)
    {
      gint64 prev = (gint64) t - ratio;
      gdouble a = cxr_noise_scheduler_get_alpha_cumprod (self, (gint64) t);
      gdouble ap = self->kind == CXR_SAMPLER_DDPM && prev < 0 ? 1.0 : cxr_noise_scheduler_get_alpha_cumprod (self, prev);
      out = cxr_tensor_new_like (sample);
      po = cxr_tensor_get_data (out);
      if (self->kind == CXR_SAMPLER_DDIM)
        {
          gdouble variance = (1 - ap) / (1 - a) * (1 - a / ap);
          gdouble std = self->eta * sqrt (variance);
          for (gint64 i = 0; i < n; i++)
            {
              gdouble x0, eps;
              split_prediction (self, a, o[i], x[i], &x0, &eps);
              po[i] = (gfloat) (sqrt (ap) * x0 + sqrt (1 - ap - std * std) * eps + (z ? std * z[i] : 0.0));
            }
        }
      else
        {
          gdouble beta = 1 - a / ap;
          gdouble c0 = sqrt (ap) * beta / (1 - a), cx = sqrt (1 - beta) * (1 - ap) / (1 - a);
          gdouble std = prev >= 0 ? sqrt (MAX ((1 - ap) / (1 - a) * beta, 1e-20)) : 0.0;
          for (gint64 i = 0; i < n; i++)
            {
              gdouble x0, eps;
              split_prediction (self, a, o[i], x[i], &x0, &eps);
              po[i] = (gfloat) (c0 * x0 + cx * x[i] + std * z[i]);
            }
        }
      return out;
    }

  /* PNDM's PLMS, as diffusers' step_plms with skip_prk_steps */
  {
    g_autoptr (CxrTensor) eps = NULL, base = NULL;
    gint64 cur = (gint64) t, prev = cur - ratio;
    gdouble a, ap, bt, bp, sample_coeff, denom;
    const gfloat *e, *s;
    guint k;

    if (step != self->counter)
      {
        g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT,
                     "step: PNDM's steps come in order; step %u was given where %u is next", step, self->counter);
        return NULL;
      }
    if (self->counter != 1)
      {
        if (self->ets->len > 3)
          g_ptr_array_remove_index (self->ets, 0);
        g_ptr_array_add (self->ets, cxr_tensor_contiguous (model_output));
      }
    else
      {
        prev = cur;
        cur = cur + ratio;
      }
    k = self->ets->len;
    eps = cxr_tensor_new_like (sample);
    {
      gfloat *pe = cxr_tensor_get_data (eps);
      const gfloat *e1 = k >= 1 ? cxr_tensor_get_data (g_ptr_array_index (self->ets, k - 1)) : NULL;
      const gfloat *e2 = k >= 2 ? cxr_tensor_get_data (g_ptr_array_index (self->ets, k - 2)) : NULL;
      const gfloat *e3 = k >= 3 ? cxr_tensor_get_data (g_ptr_array_index (self->ets, k - 3)) : NULL;
      const gfloat *e4 = k >= 4 ? cxr_tensor_get_data (g_ptr_array_index (self->ets, k - 4)) : NULL;
      for (gint64 i = 0; i < n; i++)
        {
          gdouble v;
          if (k == 1 && self->counter == 0)
            v = o[i];
          else if (k == 1 && self->counter == 1)
            v = (o[i] + e1[i]) / 2.0;
          else if (k == 2)
            v = (3.0 * e1[i] - e2[i]) / 2.0;
          else if (k == 3)
            v = (23.0 * e1[i] - 16.0 * e2[i] + 5.0 * e3[i]) / 12.0;
          else
            v = (55.0 * e1[i] - 59.0 * e2[i] + 37.0 * e3[i] - 9.0 * e4[i]) / 24.0;
          pe[i] = (gfloat) v;
        }
    }
    if (k == 1 && self->counter == 0)
      {
        g_clear_pointer (&self->cur_sample, cxr_tensor_unref);
        self->cur_sample = cxr_tensor_contiguous (sample);
        base = cxr_tensor_ref (sample);
      }
    else if (k == 1 && self->counter == 1)
      {
        base = g_steal_pointer (&self->cur_sample);
      }
    else
      base = cxr_tensor_ref (sample);
    a = cxr_noise_scheduler_get_alpha_cumprod (self, cur);
    ap = cxr_noise_scheduler_get_alpha_cumprod (self, prev);
    bt = 1 - a;
    bp = 1 - ap;
    sample_coeff = sqrt (ap / a);
    denom = a * sqrt (bp) + sqrt (a * bt * ap);
    out = cxr_tensor_new_like (sample);
    po = cxr_tensor_get_data (out);
    e = cxr_tensor_get_data (eps);
    s = cxr_tensor_get_data (base);
    for (gint64 i = 0; i < n; i++)
      {
        gdouble ei = self->prediction == CXR_PREDICTION_EPSILON ? e[i] : sqrt (a) * e[i] + sqrt (bt) * s[i];
        po[i] = (gfloat) (sample_coeff * s[i] - (ap - a) * ei / denom);
      }
    self->counter++;
    return out;
  }
}
