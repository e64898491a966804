/* plugins/eval-fid/cxrevalfid.h: eval-fid and image-features.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cxr.h>

G_BEGIN_DECLS

#define CXR_TYPE_EVAL_FID (cxr_eval_fid_get_type ())
G_DECLARE_FINAL_TYPE (CxrEvalFid, cxr_eval_fid, CXR, EVAL_FID, CxrStage)

#define CXR_TYPE_IMAGE_FEATURES (cxr_image_features_get_type ())
G_DECLARE_FINAL_TYPE (CxrImageFeatures, cxr_image_features, CXR, IMAGE_FEATURES, CxrStage)

G_END_DECLS
