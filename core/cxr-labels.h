/* cxr-labels.h: the 14 CheXpert observations, label encodings and the
 * CXR-IRGen prompt.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * CXR_N_OBSERVATIONS:
 *
 * The number of CheXpert observations in a label vector.
 */
#define CXR_N_OBSERVATIONS 14

/**
 * CxrLabelEncoding:
 * @CXR_LABEL_ENCODING_REFERENCE: the CXR-IRGen reference code's values:
 *   1 positive, -1 negative, -2 uncertain, anything else not mentioned
 * @CXR_LABEL_ENCODING_CHEXPERT: the CheXpert labeler's and MIMIC-CXR's
 *   values: 1 positive, 0 negative, -1 uncertain, blank (NaN) not mentioned
 *
 * How the numbers of a label vector are to be read.
 */
typedef enum {
  CXR_LABEL_ENCODING_REFERENCE,
  CXR_LABEL_ENCODING_CHEXPERT,
} CxrLabelEncoding;

/**
 * CxrLabelState:
 * @CXR_LABEL_BLANK: not mentioned
 * @CXR_LABEL_POSITIVE: present
 * @CXR_LABEL_NEGATIVE: absent
 * @CXR_LABEL_UNCERTAIN: possibly present
 *
 * What a label says about one observation, whatever its encoding.
 */
typedef enum {
  CXR_LABEL_BLANK,
  CXR_LABEL_POSITIVE,
  CXR_LABEL_NEGATIVE,
  CXR_LABEL_UNCERTAIN,
} CxrLabelState;

const gchar *const *cxr_labels_get_observations (void);
const gchar *cxr_labels_get_phrase (guint index);
gint cxr_labels_find_observation (const gchar *name);
CxrLabelState cxr_labels_decode (gfloat value, CxrLabelEncoding encoding);
gfloat cxr_labels_encode (CxrLabelState state, CxrLabelEncoding encoding);
gchar *cxr_labels_to_prompt (const gfloat *values, gsize n_values, CxrLabelEncoding encoding);

G_END_DECLS
