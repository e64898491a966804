/* cxr-batch.h: the record that flows between stages.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <glib-object.h>

#include "tensor/cxr-tensor.h"

G_BEGIN_DECLS

/**
 * CXR_FIELD_ID:
 *
 * Well-known field: one identifier string per sample.
 */
#define CXR_FIELD_ID "id"
/**
 * CXR_FIELD_LABELS:
 *
 * Well-known field: the label vector of each sample, 14 floats in the
 * order of cxr_labels_get_observations(), blank (not mentioned) as NaN.
 */
#define CXR_FIELD_LABELS "labels"
/**
 * CXR_FIELD_PROMPT:
 *
 * Well-known field: the prompt text of each sample.
 */
#define CXR_FIELD_PROMPT "prompt"
/**
 * CXR_FIELD_REPORT:
 *
 * Well-known field: the radiology report text of each sample.
 */
#define CXR_FIELD_REPORT "report"
/**
 * CXR_FIELD_PATH:
 *
 * Well-known field: the source or destination file of each sample.
 */
#define CXR_FIELD_PATH "path"
/**
 * CXR_FIELD_SEED:
 *
 * Well-known field: the random seed of each sample, one float per sample
 * holding an integer.
 */
#define CXR_FIELD_SEED "seed"

/**
 * CxrFieldKind:
 * @CXR_FIELD_KIND_NONE: the batch has no such field
 * @CXR_FIELD_KIND_STRINGS: one UTF-8 string per sample
 * @CXR_FIELD_KIND_FLOATS: a vector of `width` floats per sample
 *
 * What a batch field holds.
 */
typedef enum {
  CXR_FIELD_KIND_NONE,
  CXR_FIELD_KIND_STRINGS,
  CXR_FIELD_KIND_FLOATS,
} CxrFieldKind;

#define CXR_TYPE_BATCH (cxr_batch_get_type ())
G_DECLARE_FINAL_TYPE (CxrBatch, cxr_batch, CXR, BATCH, GObject)

CxrBatch *cxr_batch_new (guint size);
guint cxr_batch_get_size (CxrBatch *self);
guint64 cxr_batch_get_sequence (CxrBatch *self);
void cxr_batch_set_sequence (CxrBatch *self, guint64 sequence);
CxrBatch *cxr_batch_copy (CxrBatch *self);

gboolean cxr_batch_has_field (CxrBatch *self, const gchar *name);
CxrFieldKind cxr_batch_get_field_kind (CxrBatch *self, const gchar *name);
gchar **cxr_batch_list_fields (CxrBatch *self);
void cxr_batch_remove_field (CxrBatch *self, const gchar *name);

void cxr_batch_set_strings (CxrBatch *self, const gchar *name, const gchar *const *values);
void cxr_batch_take_strings (CxrBatch *self, const gchar *name, gchar **values);
const gchar *const *cxr_batch_get_strings (CxrBatch *self, const gchar *name);
const gchar *cxr_batch_get_string (CxrBatch *self, const gchar *name, guint index);

void cxr_batch_set_floats (CxrBatch *self, const gchar *name, guint width,
                           const gfloat *values, gsize n_values);
const gfloat *cxr_batch_get_floats (CxrBatch *self, const gchar *name,
                                    guint *width, gsize *n_values);
const gfloat *cxr_batch_require_floats (CxrBatch *self, const gchar *name, guint width, gsize *n_values,
                                        GError **error);

void cxr_batch_set_extra (CxrBatch *self, const gchar *key, GVariant *value);
GVariant *cxr_batch_get_extra (CxrBatch *self, const gchar *key);
CxrTensor *cxr_batch_get_images (CxrBatch *self, const gchar *field, GError **error);

G_END_DECLS
