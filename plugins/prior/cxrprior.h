/* plugins/prior/cxrprior.h: the ViT prior.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cxr.h>

G_BEGIN_DECLS

#define CXR_TYPE_VIT_PRIOR (cxr_vit_prior_get_type ())
G_DECLARE_FINAL_TYPE (CxrVitPrior, cxr_vit_prior, CXR, VIT_PRIOR, CxrModel)

CxrTensor *cxr_vit_prior_forward (CxrVitPrior *self, CxrTape *tape, CxrTensor *latents,
                                  CxrTensor **last_hidden_state, GError **error);

#define CXR_TYPE_PRIOR_TRAIN (cxr_prior_train_get_type ())
G_DECLARE_FINAL_TYPE (CxrPriorTrain, cxr_prior_train, CXR, PRIOR_TRAIN, CxrTrainer)

G_END_DECLS
