/* cxr-noise-scheduler.h: diffusion noise schedules and samplers (DDPM
 * noising, DDIM, PNDM/PLMS, Euler), as diffusers computes them.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <glib-object.h>

#include "tensor/cxr-tensor.h"

G_BEGIN_DECLS

/**
 * CxrSamplerKind:
 * @CXR_SAMPLER_DDPM: DDPM (Ho et al., 2020): noising for training; its
 *   sampler takes every training step
 * @CXR_SAMPLER_DDIM: DDIM (Song et al., 2021), with eta
 * @CXR_SAMPLER_PNDM: PNDM's PLMS steps (Liu et al., 2022) as SD v1.4
 *   ships it (skip_prk_steps)
 * @CXR_SAMPLER_EULER: Euler's method on the sigmas (Karras et al., 2022),
 *   as diffusers' EulerDiscreteScheduler
 *
 * The update a sampling step makes.
 */
typedef enum {
  CXR_SAMPLER_DDPM,
  CXR_SAMPLER_DDIM,
  CXR_SAMPLER_PNDM,
  CXR_SAMPLER_EULER,
} CxrSamplerKind;

/**
 * CxrPredictionType:
 * @CXR_PREDICTION_EPSILON: the denoiser predicts the noise
 * @CXR_PREDICTION_V: the denoiser predicts v = sqrt(a) noise - sqrt(1 - a) x0
 *
 * What the denoiser's output means.
 */
typedef enum {
  CXR_PREDICTION_EPSILON,
  CXR_PREDICTION_V,
} CxrPredictionType;

#define CXR_TYPE_NOISE_SCHEDULER (cxr_noise_scheduler_get_type ())
G_DECLARE_FINAL_TYPE (CxrNoiseScheduler, cxr_noise_scheduler, CXR, NOISE_SCHEDULER, GObject)

CxrNoiseScheduler *cxr_noise_scheduler_new (CxrSamplerKind kind);
gboolean cxr_noise_scheduler_set_timesteps (CxrNoiseScheduler *self, guint steps, GError **error);
const gdouble *cxr_noise_scheduler_get_timesteps (CxrNoiseScheduler *self, guint *n_timesteps);
gdouble cxr_noise_scheduler_get_alpha_cumprod (CxrNoiseScheduler *self, gint64 timestep);
gdouble cxr_noise_scheduler_get_init_noise_sigma (CxrNoiseScheduler *self);
CxrTensor *cxr_noise_scheduler_add_noise (CxrNoiseScheduler *self, CxrTensor *x0, CxrTensor *noise,
                                          CxrTensor *timesteps, GError **error);
CxrTensor *cxr_noise_scheduler_get_target (CxrNoiseScheduler *self, CxrTensor *x0, CxrTensor *noise,
                                           CxrTensor *timesteps, GError **error);
CxrTensor *cxr_noise_scheduler_scale_model_input (CxrNoiseScheduler *self, CxrTensor *sample, guint step,
                                                  GError **error);
CxrTensor *cxr_noise_scheduler_step (CxrNoiseScheduler *self, CxrTensor *model_output, guint step,
                                     CxrTensor *sample, CxrTensor *noise, GError **error);

G_END_DECLS
