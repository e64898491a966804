/* plugins/diffusion/cxrdiffusion.h: the diffusion stages.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cxr.h>

G_BEGIN_DECLS

#define CXR_TYPE_DIFFUSION_SAMPLE (cxr_diffusion_sample_get_type ())
G_DECLARE_FINAL_TYPE (CxrDiffusionSample, cxr_diffusion_sample, CXR, DIFFUSION_SAMPLE, CxrStage)

#define CXR_TYPE_DIFFUSION_TRAIN (cxr_diffusion_train_get_type ())
G_DECLARE_FINAL_TYPE (CxrDiffusionTrain, cxr_diffusion_train, CXR, DIFFUSION_TRAIN, CxrTrainer)

G_END_DECLS
