/* plugins/mimic-cxr/plugin.c: the mimic-cxr plugin.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxrmimicsource.h"
#include "cxrmimicwriter.h"

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  return cxr_plugin_register_stage (plugin, "mimic-cxr-source", CXR_TYPE_MIMIC_SOURCE) &&
         cxr_plugin_register_stage (plugin, "mimic-cxr-writer", CXR_TYPE_MIMIC_WRITER);
}

CXR_PLUGIN_DEFINE (mimic_cxr, "The MIMIC-CXR-JPG layout: reader and writer", plugin_init)
