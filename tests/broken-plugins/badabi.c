/* A plugin built for another plugin ABI: the registry must refuse it
 * without calling anything in it. */
#include "config.h"

#include <cxr.h>

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  g_error ("the init of a plugin of another ABI must never run");
  return FALSE;
}

G_MODULE_EXPORT const CxrPluginDesc cxr_plugin_badabi_desc = {
  CXR_PLUGIN_ABI_VERSION + 100, "badabi", "0", "Wrong ABI", "LGPL-2.1-or-later", plugin_init, { NULL }
};
