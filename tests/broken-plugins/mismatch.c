/* A plugin whose descriptor names another plugin than its file. */
#include "config.h"

#include <cxr.h>

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  return TRUE;
}

G_MODULE_EXPORT const CxrPluginDesc cxr_plugin_mismatch_desc = {
  CXR_PLUGIN_ABI_VERSION, "somethingelse", "0", "Name mismatch", "LGPL-2.1-or-later", plugin_init, { NULL }
};
