/* plugins/inception/cxrinception.h: Inception-v3 as FID computes with it.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cxr.h>

G_BEGIN_DECLS

#define CXR_TYPE_INCEPTION (cxr_inception_get_type ())
G_DECLARE_FINAL_TYPE (CxrInception, cxr_inception, CXR, INCEPTION, CxrModel)

CxrTensor *cxr_inception_features (CxrInception *self, CxrTensor *pixels, GError **error);

G_END_DECLS
