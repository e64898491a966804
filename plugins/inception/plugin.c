/* plugins/inception/plugin.c: the inception plugin.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxrinception.h"

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  return cxr_plugin_register_model (plugin, "inception-v3", CXR_TYPE_INCEPTION);
}

CXR_PLUGIN_DEFINE (inception, "Inception-v3, the feature extractor of FID (pytorch-fid's variant)", plugin_init)
