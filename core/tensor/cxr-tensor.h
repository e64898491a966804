/* cxr-tensor.h: n-dimensional arrays of numbers.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * CXR_TENSOR_MAX_DIMS:
 *
 * The most dimensions a tensor has.
 */
#define CXR_TENSOR_MAX_DIMS 5

/**
 * CxrDType:
 * @CXR_DTYPE_F32: 32-bit float, the compute type
 * @CXR_DTYPE_F16: IEEE 754 half float (storage)
 * @CXR_DTYPE_BF16: bfloat16 (storage)
 * @CXR_DTYPE_F64: 64-bit float
 * @CXR_DTYPE_I64: 64-bit signed integer
 * @CXR_DTYPE_I32: 32-bit signed integer
 * @CXR_DTYPE_I16: 16-bit signed integer
 * @CXR_DTYPE_I8: 8-bit signed integer
 * @CXR_DTYPE_U8: 8-bit unsigned integer
 * @CXR_DTYPE_BOOL: a byte, 0 or 1
 * @CXR_DTYPE_U16: 16-bit unsigned integer (files only)
 * @CXR_DTYPE_U32: 32-bit unsigned integer (files only)
 * @CXR_DTYPE_U64: 64-bit unsigned integer (files only)
 * @CXR_DTYPE_F8_E4M3: 8-bit float, 4 exponent bits (files only)
 * @CXR_DTYPE_F8_E5M2: 8-bit float, 5 exponent bits (files only)
 *
 * Element types: every dtype of the safetensors format. Compute happens
 * in f32; f16 and bf16 are storage types converted on load.
 */
typedef enum {
  CXR_DTYPE_F32,
  CXR_DTYPE_F16,
  CXR_DTYPE_BF16,
  CXR_DTYPE_F64,
  CXR_DTYPE_I64,
  CXR_DTYPE_I32,
  CXR_DTYPE_I16,
  CXR_DTYPE_I8,
  CXR_DTYPE_U8,
  CXR_DTYPE_BOOL,
  CXR_DTYPE_U16,
  CXR_DTYPE_U32,
  CXR_DTYPE_U64,
  CXR_DTYPE_F8_E4M3,
  CXR_DTYPE_F8_E5M2,
} CxrDType;

gsize cxr_dtype_get_size (CxrDType dtype);
guint64 cxr_tensor_get_allocated_bytes (void);
guint64 cxr_tensor_get_peak_bytes (void);
void cxr_tensor_reset_peak_bytes (void);
guint64 cxr_tensor_get_cached_bytes (void);
void cxr_tensor_release_cache (void);
const gchar *cxr_dtype_get_name (CxrDType dtype);
gboolean cxr_dtype_from_name (const gchar *name, CxrDType *dtype);

#define CXR_TYPE_TENSOR (cxr_tensor_get_type ())
typedef struct _CxrTensor CxrTensor;
GType cxr_tensor_get_type (void) G_GNUC_CONST;

CxrTensor *cxr_tensor_new (CxrDType dtype, const gint64 *shape, guint ndim);
CxrTensor *cxr_tensor_new_from_data (CxrDType dtype, const gint64 *shape, guint ndim,
                                     const guint8 *data, gsize n_bytes, GError **error);
CxrTensor *cxr_tensor_new_from_bytes (CxrDType dtype, const gint64 *shape, guint ndim,
                                      GBytes *bytes, GError **error);
CxrTensor *cxr_tensor_new_wrapped (CxrDType dtype, const gint64 *shape, guint ndim,
                                   gpointer data, gsize n_bytes, gpointer owner,
                                   GDestroyNotify owner_free);
CxrTensor *cxr_tensor_ref (CxrTensor *self);
void cxr_tensor_unref (CxrTensor *self);
void cxr_tensor_replace (CxrTensor **slot, CxrTensor *value);

CxrDType cxr_tensor_get_dtype (CxrTensor *self);
guint cxr_tensor_get_ndim (CxrTensor *self);
const gint64 *cxr_tensor_get_shape (CxrTensor *self, guint *ndim);
const gint64 *cxr_tensor_get_strides (CxrTensor *self, guint *ndim);
gint64 cxr_tensor_get_dim (CxrTensor *self, gint dim);
gint64 cxr_tensor_get_numel (CxrTensor *self);
gsize cxr_tensor_get_nbytes (CxrTensor *self);
gboolean cxr_tensor_is_contiguous (CxrTensor *self);
gpointer cxr_tensor_get_data (CxrTensor *self);
gchar *cxr_tensor_describe (CxrTensor *self);

GBytes *cxr_tensor_to_bytes (CxrTensor *self);
CxrTensor *cxr_tensor_contiguous (CxrTensor *self);
CxrTensor *cxr_tensor_to_dtype (CxrTensor *self, CxrDType dtype, GError **error);
CxrTensor *cxr_tensor_reshape (CxrTensor *self, const gint64 *shape, guint ndim, GError **error);
CxrTensor *cxr_tensor_transpose (CxrTensor *self, gint dim0, gint dim1, GError **error);
CxrTensor *cxr_tensor_permute (CxrTensor *self, const gint *dims, guint n_dims, GError **error);
CxrTensor *cxr_tensor_slice (CxrTensor *self, gint dim, gint64 start, gint64 stop, gint64 step,
                             GError **error);

CxrTensor *cxr_tensor_new_like (CxrTensor *self);
void cxr_tensor_fill (CxrTensor *self, gfloat value);
gboolean cxr_tensor_set_data (CxrTensor *self, const guint8 *data, gsize n_bytes, GError **error);
gfloat cxr_tensor_get_item (CxrTensor *self, const gint64 *index, guint n_index);

void cxr_tensor_set_requires_grad (CxrTensor *self, gboolean requires_grad);
gboolean cxr_tensor_get_requires_grad (CxrTensor *self);
CxrTensor *cxr_tensor_get_grad (CxrTensor *self);
void cxr_tensor_set_grad (CxrTensor *self, CxrTensor *grad);
void cxr_tensor_zero_grad (CxrTensor *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CxrTensor, cxr_tensor_unref)

G_END_DECLS
