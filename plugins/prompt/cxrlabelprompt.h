/* plugins/prompt/cxrlabelprompt.h: label vectors to prompt text.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cxr.h>

G_BEGIN_DECLS

#define CXR_TYPE_LABEL_PROMPT (cxr_label_prompt_get_type ())
G_DECLARE_FINAL_TYPE (CxrLabelPrompt, cxr_label_prompt, CXR, LABEL_PROMPT, CxrStage)

G_END_DECLS
