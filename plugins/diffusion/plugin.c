/* plugins/diffusion/plugin.c: the diffusion plugin.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxrdiffusion.h"

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  return cxr_plugin_register_stage (plugin, "diffusion-sample", CXR_TYPE_DIFFUSION_SAMPLE) &&
         cxr_plugin_register_stage (plugin, "diffusion-train", CXR_TYPE_DIFFUSION_TRAIN);
}

CXR_PLUGIN_DEFINE (diffusion, "Diffusion training and sampling with any denoiser and autoencoder", plugin_init)
