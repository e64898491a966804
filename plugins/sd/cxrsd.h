/* plugins/sd/cxrsd.h: Stable Diffusion's UNet and VAE.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cxr.h>

G_BEGIN_DECLS

#define CXR_TYPE_SD_UNET (cxr_sd_unet_get_type ())
G_DECLARE_FINAL_TYPE (CxrSdUnet, cxr_sd_unet, CXR, SD_UNET, CxrModel)

#define CXR_TYPE_SD_VAE (cxr_sd_vae_get_type ())
G_DECLARE_FINAL_TYPE (CxrSdVae, cxr_sd_vae, CXR, SD_VAE, CxrModel)

CxrTensor *cxr_sd_unet_forward (CxrSdUnet *self, CxrTape *tape, CxrTensor *sample, CxrTensor *timesteps,
                                CxrTensor *context, GError **error);
CxrTensor *cxr_sd_vae_encode (CxrSdVae *self, CxrTape *tape, CxrTensor *images, CxrTensor **logvar,
                              GError **error);
CxrTensor *cxr_sd_vae_decode (CxrSdVae *self, CxrTape *tape, CxrTensor *latents, GError **error);
gdouble cxr_sd_vae_get_scaling_factor (CxrSdVae *self);

G_END_DECLS
