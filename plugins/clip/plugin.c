/* plugins/clip/plugin.c: the clip plugin.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxrclip.h"

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  return cxr_plugin_register_model (plugin, "clip-text", CXR_TYPE_CLIP_TEXT) &&
         cxr_plugin_register_model (plugin, "clip-vision", CXR_TYPE_CLIP_VISION) &&
         cxr_plugin_register_stage (plugin, "clip-text-encode", CXR_TYPE_CLIP_TEXT_ENCODE) &&
         cxr_plugin_register_stage (plugin, "clip-image-embed", CXR_TYPE_CLIP_IMAGE_EMBED);
}

CXR_PLUGIN_DEFINE (clip, "CLIP text and vision transformers (transformers' layout) and the paper's prompt context", plugin_init)
