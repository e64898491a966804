/* plugins/sd/plugin.c: the sd plugin.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxrsd.h"

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  return cxr_plugin_register_model (plugin, "sd-unet", CXR_TYPE_SD_UNET) &&
         cxr_plugin_register_model (plugin, "sd-vae", CXR_TYPE_SD_VAE);
}

CXR_PLUGIN_DEFINE (sd, "Stable Diffusion's UNet and VAE (diffusers' layout)", plugin_init)
