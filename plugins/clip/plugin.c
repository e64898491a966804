/* plugins/clip/plugin.c: the clip plugin.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxrclip.h"

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  return cxr_plugin_register_model (plugin, "clip-text", CXR_TYPE_CLIP_TEXT) &&
         cxr_plugin_register_model (plugin, "clip-vision", CXR_TYPE_CLIP_VISION);
}

CXR_PLUGIN_DEFINE (clip, "CLIP text and vision transformers (transformers' layout)", plugin_init)
