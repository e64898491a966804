/* plugins/prompt/plugin.c: the prompt plugin.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxrlabelprompt.h"

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  return cxr_plugin_register_stage (plugin, "label-prompt", CXR_TYPE_LABEL_PROMPT);
}

CXR_PLUGIN_DEFINE (prompt, "Prompts of CXR-IRGen from label vectors", plugin_init)
