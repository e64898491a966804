/* plugins/eval-auroc/plugin.c: the eval-auroc plugin.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxrevalauroc.h"

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  return cxr_plugin_register_stage (plugin, "eval-auroc", CXR_TYPE_EVAL_AUROC);
}

CXR_PLUGIN_DEFINE (eval_auroc, "AUROC of classifier scores against labels", plugin_init)
