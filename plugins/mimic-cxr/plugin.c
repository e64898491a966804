/* plugins/mimic-cxr/plugin.c: the mimic-cxr plugin.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxrmimicwriter.h"

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  return cxr_plugin_register_stage (plugin, "mimic-cxr-writer", CXR_TYPE_MIMIC_WRITER);
}

CXR_PLUGIN_DEFINE (mimic_cxr, "The MIMIC-CXR-JPG layout", plugin_init)
