/* cxr-tokenizer.h: byte-pair-encoding tokenizers (CLIP's, and GPT-2's byte-level one that BART uses).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <glib-object.h>

#include "tensor/cxr-tensor.h"

G_BEGIN_DECLS

#define CXR_TYPE_TOKENIZER (cxr_tokenizer_get_type ())
G_DECLARE_FINAL_TYPE (CxrTokenizer, cxr_tokenizer, CXR, TOKENIZER, GObject)

CxrTokenizer *cxr_tokenizer_new_clip (const gchar *vocab_path, const gchar *merges_path, GError **error);
CxrTokenizer *cxr_tokenizer_new_clip_from_folder (const gchar *folder, GError **error);
CxrTokenizer *cxr_tokenizer_new_bart (const gchar *vocab_path, const gchar *merges_path, GError **error);
CxrTokenizer *cxr_tokenizer_new_bart_from_folder (const gchar *folder, GError **error);

gchar **cxr_tokenizer_tokenize (CxrTokenizer *self, const gchar *text);
gint64 *cxr_tokenizer_encode (CxrTokenizer *self, const gchar *text, gsize *n_ids);
CxrTensor *cxr_tokenizer_encode_batch (CxrTokenizer *self, const gchar *const *texts, guint pad_to,
                                       CxrTensor **attention_mask);
gchar *cxr_tokenizer_decode (CxrTokenizer *self, const gint64 *ids, gsize n_ids, gboolean skip_special);
gint64 cxr_tokenizer_token_to_id (CxrTokenizer *self, const gchar *token);
guint cxr_tokenizer_get_vocab_size (CxrTokenizer *self);
guint cxr_tokenizer_get_max_length (CxrTokenizer *self);
void cxr_tokenizer_set_max_length (CxrTokenizer *self, guint max_length);
gint64 cxr_tokenizer_get_bos_id (CxrTokenizer *self);
gint64 cxr_tokenizer_get_eos_id (CxrTokenizer *self);
gint64 cxr_tokenizer_get_pad_id (CxrTokenizer *self);

G_END_DECLS
