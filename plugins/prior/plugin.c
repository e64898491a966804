/* plugins/prior/plugin.c: the prior plugin.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxrprior.h"

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  return cxr_plugin_register_model (plugin, "vit-prior", CXR_TYPE_VIT_PRIOR) &&
         cxr_plugin_register_stage (plugin, "prior-train", CXR_TYPE_PRIOR_TRAIN);
}

CXR_PLUGIN_DEFINE (prior, "The ViT prior: image latents to report embeddings (transformers' ViT layout)", plugin_init)
