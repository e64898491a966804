/* plugins/eval-f1/plugin.c: the eval-f1 plugin.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxrevalf1.h"

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  return cxr_plugin_register_stage (plugin, "report-label", CXR_TYPE_REPORT_LABEL) &&
         cxr_plugin_register_stage (plugin, "eval-f1", CXR_TYPE_EVAL_F1);
}

CXR_PLUGIN_DEFINE (eval_f1, "Labels of report text and their F1", plugin_init)
