/* plugins/uvit/plugin.c: the uvit plugin.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxruvit.h"

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  return cxr_plugin_register_model (plugin, "uvit", CXR_TYPE_UVIT);
}

CXR_PLUGIN_DEFINE (uvit, "U-ViT, the transformer diffusion backbone (the U-ViT repository's names)", plugin_init)
