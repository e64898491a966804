/* plugins/table/plugin.c: the table plugin.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxrcsvsink.h"
#include "cxrcsvsource.h"

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  return cxr_plugin_register_stage (plugin, "csv-source", CXR_TYPE_CSV_SOURCE) &&
         cxr_plugin_register_stage (plugin, "csv-sink", CXR_TYPE_CSV_SINK);
}

CXR_PLUGIN_DEFINE (table, "Batches from and to CSV files", plugin_init)
