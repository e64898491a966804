/* A plugin whose init function fails. */
#include "config.h"

#include <cxr.h>

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  g_set_error (error, CXR_PLUGIN_ERROR, CXR_PLUGIN_ERROR_INIT, "this plugin refuses to start");
  return FALSE;
}

CXR_PLUGIN_DEFINE (initfail, "Fails in init", plugin_init)
