/* A plugin that needs a symbol no library provides: loading fails. */
#include "config.h"

#include <cxr.h>

extern int cxr_this_symbol_does_not_exist (void);

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  return cxr_this_symbol_does_not_exist () == 0;
}

CXR_PLUGIN_DEFINE (undefined, "Needs a missing symbol", plugin_init)
