/* plugins/densenet/cxrdensenet.h: the densenet model and the classify stage.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cxr.h>

G_BEGIN_DECLS

#define CXR_TYPE_DENSENET (cxr_densenet_get_type ())
G_DECLARE_FINAL_TYPE (CxrDensenet, cxr_densenet, CXR, DENSENET, CxrModel)

CxrTensor *cxr_densenet_forward (CxrDensenet *self, CxrTensor *images, CxrTensor **features, GError **error);
guint cxr_densenet_get_n_classes (CxrDensenet *self);
guint cxr_densenet_get_in_channels (CxrDensenet *self);

#define CXR_TYPE_CLASSIFY (cxr_classify_get_type ())
G_DECLARE_FINAL_TYPE (CxrClassify, cxr_classify, CXR, CLASSIFY, CxrStage)

G_END_DECLS
