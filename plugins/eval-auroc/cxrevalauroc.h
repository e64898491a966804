/* plugins/eval-auroc/cxrevalauroc.h: eval-auroc.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cxr.h>

G_BEGIN_DECLS

#define CXR_TYPE_EVAL_AUROC (cxr_eval_auroc_get_type ())
G_DECLARE_FINAL_TYPE (CxrEvalAuroc, cxr_eval_auroc, CXR, EVAL_AUROC, CxrStage)

G_END_DECLS
