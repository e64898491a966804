/* plugins/bart/cxrbart.h: BART.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cxr.h>

G_BEGIN_DECLS

#define CXR_TYPE_BART (cxr_bart_get_type ())
G_DECLARE_DERIVABLE_TYPE (CxrBart, cxr_bart, CXR, BART, CxrModel)

struct _CxrBartClass {
  CxrModelClass parent_class;
};

#define CXR_TYPE_BART_AUTOENCODER (cxr_bart_autoencoder_get_type ())
G_DECLARE_FINAL_TYPE (CxrBartAutoencoder, cxr_bart_autoencoder, CXR, BART_AUTOENCODER, CxrBart)

CxrTensor *cxr_bart_encode (CxrBart *self, CxrTape *tape, CxrTensor *input_ids, CxrTensor *attention_mask,
                            GError **error);
CxrTensor *cxr_bart_decode (CxrBart *self, CxrTape *tape, CxrTensor *decoder_input_ids, CxrTensor *decoder_mask,
                            CxrTensor *encoder_states, CxrTensor *encoder_mask, GError **error);

CxrTensor *cxr_bart_autoencoder_embed (CxrBartAutoencoder *self, CxrTape *tape, CxrTensor *input_ids,
                                       CxrTensor *attention_mask, GError **error);

guint cxr_bart_get_vocab_size (CxrBart *self);
guint cxr_bart_get_max_positions (CxrBart *self);
void cxr_bart_get_special_ids (CxrBart *self, gint64 *pad, gint64 *decoder_start);
CxrTokenizer *cxr_bart_open_tokenizer (CxrBart *model, const gchar *folder, guint max_length, GError **error);

typedef struct _CxrBartDecoderState CxrBartDecoderState;
CxrBartDecoderState *cxr_bart_decoder_state_new (CxrBart *self, CxrTensor *encoder_states, CxrTensor *encoder_mask,
                                                 guint capacity, GError **error);
void cxr_bart_decoder_state_free (CxrBartDecoderState *state);
guint cxr_bart_decoder_state_get_length (CxrBartDecoderState *state);
void cxr_bart_decoder_state_reorder (CxrBartDecoderState *state, const guint *rows, guint n_rows);
CxrTensor *cxr_bart_decoder_step (CxrBart *self, CxrBartDecoderState *state, const gint64 *ids, GError **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CxrBartDecoderState, cxr_bart_decoder_state_free)

#define CXR_TYPE_LM_TRAIN (cxr_lm_train_get_type ())
G_DECLARE_FINAL_TYPE (CxrLmTrain, cxr_lm_train, CXR, LM_TRAIN, CxrTrainer)

#define CXR_TYPE_REPORT_GENERATE (cxr_report_generate_get_type ())
G_DECLARE_FINAL_TYPE (CxrReportGenerate, cxr_report_generate, CXR, REPORT_GENERATE, CxrStage)

G_END_DECLS
