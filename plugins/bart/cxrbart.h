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

G_END_DECLS
