/* plugins/clip/cxrclip.h: the CLIP towers and their stages.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cxr.h>

G_BEGIN_DECLS

#define CXR_TYPE_CLIP_TEXT (cxr_clip_text_get_type ())
G_DECLARE_FINAL_TYPE (CxrClipText, cxr_clip_text, CXR, CLIP_TEXT, CxrModel)

#define CXR_TYPE_CLIP_VISION (cxr_clip_vision_get_type ())
G_DECLARE_FINAL_TYPE (CxrClipVision, cxr_clip_vision, CXR, CLIP_VISION, CxrModel)

guint cxr_clip_text_get_hidden_size (CxrClipText *self);
guint cxr_clip_text_get_max_positions (CxrClipText *self);
guint cxr_clip_text_get_vocab_size (CxrClipText *self);
guint cxr_clip_vision_get_image_size (CxrClipVision *self);
guint cxr_clip_vision_get_hidden_size (CxrClipVision *self);

#define CXR_TYPE_CLIP_TEXT_ENCODE (cxr_clip_text_encode_get_type ())
G_DECLARE_FINAL_TYPE (CxrClipTextEncode, cxr_clip_text_encode, CXR, CLIP_TEXT_ENCODE, CxrStage)

#define CXR_TYPE_CLIP_IMAGE_EMBED (cxr_clip_image_embed_get_type ())
G_DECLARE_FINAL_TYPE (CxrClipImageEmbed, cxr_clip_image_embed, CXR, CLIP_IMAGE_EMBED, CxrStage)

G_END_DECLS
