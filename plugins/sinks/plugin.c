/* plugins/sinks/plugin.c: the sinks plugin.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxrsinks.h"

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  return cxr_plugin_register_stage (plugin, "image-sink", CXR_TYPE_IMAGE_SINK) &&
         cxr_plugin_register_stage (plugin, "report-sink", CXR_TYPE_REPORT_SINK) &&
         cxr_plugin_register_stage (plugin, "pairs-manifest", CXR_TYPE_PAIRS_MANIFEST);
}

CXR_PLUGIN_DEFINE (sinks, "Writers of generated pairs: images, reports and a manifest", plugin_init)
