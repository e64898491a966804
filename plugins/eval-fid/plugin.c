/* plugins/eval-fid/plugin.c: the eval-fid plugin.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxrevalfid.h"

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  return cxr_plugin_register_stage (plugin, "eval-fid", CXR_TYPE_EVAL_FID) &&
         cxr_plugin_register_stage (plugin, "image-features", CXR_TYPE_IMAGE_FEATURES);
}

CXR_PLUGIN_DEFINE (eval_fid, "FID and KID of two streams of features, and the image features they take", plugin_init)
