/* plugins/uvit/cxruvit.h: U-ViT, a transformer diffusion backbone.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cxr.h>

G_BEGIN_DECLS

#define CXR_TYPE_UVIT (cxr_uvit_get_type ())
G_DECLARE_FINAL_TYPE (CxrUvit, cxr_uvit, CXR, UVIT, CxrModel)

CxrTensor *cxr_uvit_forward (CxrUvit *self, CxrTape *tape, CxrTensor *sample, CxrTensor *timesteps,
                             CxrTensor *context, GError **error);

G_END_DECLS
