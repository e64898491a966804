/* plugins/phantom/plugin.c: the phantom plugin.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxrphantom.h"

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  return cxr_plugin_register_stage (plugin, "phantom-source", CXR_TYPE_PHANTOM_SOURCE);
}

CXR_PLUGIN_DEFINE (phantom, "Synthetic chest radiographs with labels and reports", plugin_init)
