/* cxr-ops.h: the ops models are written with, and the tape that runs
 * them backward.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <glib-object.h>

#include "cxr-tensor.h"

G_BEGIN_DECLS

#define CXR_TYPE_TAPE (cxr_tape_get_type ())
G_DECLARE_FINAL_TYPE (CxrTape, cxr_tape, CXR, TAPE, GObject)

CxrTape *cxr_tape_new (void);
gboolean cxr_tape_backward (CxrTape *self, CxrTensor *loss, GError **error);
void cxr_tape_reset (CxrTape *self);
guint cxr_tape_get_n_nodes (CxrTape *self);

/**
 * CxrCheckpointFunc:
 * @tape: (nullable): where to record, or %NULL
 * @inputs: (array length=n_inputs): the inputs
 * @n_inputs: their number
 * @user_data: the data given to cxr_tape_checkpoint()
 * @error: return location for a #GError
 *
 * A piece of a forward pass that cxr_tape_checkpoint() runs twice: its
 * ops and parameters must be the same both times (no fresh randomness).
 *
 * Returns: (transfer full) (nullable): its output
 */
typedef CxrTensor *(*CxrCheckpointFunc) (CxrTape *tape, CxrTensor *const *inputs, guint n_inputs,
                                         gpointer user_data, GError **error);

CxrTensor *cxr_tape_checkpoint (CxrTape *tape, CxrCheckpointFunc func, gpointer user_data,
                                GDestroyNotify destroy, CxrTensor *const *inputs, guint n_inputs,
                                GError **error);

/**
 * CxrGeluApproximation:
 * @CXR_GELU_ERF: the exact GELU, x * Phi(x), with erf
 * @CXR_GELU_TANH: the tanh approximation
 *
 * Which GELU (as PyTorch's `approximate="none"` and `"tanh"`).
 */
typedef enum {
  CXR_GELU_ERF,
  CXR_GELU_TANH,
} CxrGeluApproximation;

/* Elementwise, with numpy broadcasting. */
CxrTensor *cxr_op_add (CxrTape *tape, CxrTensor *a, CxrTensor *b, GError **error);
CxrTensor *cxr_op_sub (CxrTape *tape, CxrTensor *a, CxrTensor *b, GError **error);
CxrTensor *cxr_op_mul (CxrTape *tape, CxrTensor *a, CxrTensor *b, GError **error);
CxrTensor *cxr_op_scale (CxrTape *tape, CxrTensor *x, gfloat factor, GError **error);

/* Activations. */
CxrTensor *cxr_op_relu (CxrTape *tape, CxrTensor *x, GError **error);
CxrTensor *cxr_op_sigmoid (CxrTape *tape, CxrTensor *x, GError **error);
CxrTensor *cxr_op_silu (CxrTape *tape, CxrTensor *x, GError **error);
CxrTensor *cxr_op_gelu (CxrTape *tape, CxrTensor *x, CxrGeluApproximation approximation,
                        GError **error);
CxrTensor *cxr_op_quick_gelu (CxrTape *tape, CxrTensor *x, GError **error);
CxrTensor *cxr_op_tanh (CxrTape *tape, CxrTensor *x, GError **error);
CxrTensor *cxr_op_softmax (CxrTape *tape, CxrTensor *x, GError **error);

/* Matrix products. */
CxrTensor *cxr_op_matmul (CxrTape *tape, CxrTensor *a, CxrTensor *b, GError **error);
CxrTensor *cxr_op_linear (CxrTape *tape, CxrTensor *x, CxrTensor *weight, CxrTensor *bias,
                          GError **error);

/* Normalisation. */
CxrTensor *cxr_op_layer_norm (CxrTape *tape, CxrTensor *x, CxrTensor *weight, CxrTensor *bias,
                              gfloat eps, GError **error);
CxrTensor *cxr_op_group_norm (CxrTape *tape, CxrTensor *x, guint groups, CxrTensor *weight,
                              CxrTensor *bias, gfloat eps, GError **error);
CxrTensor *cxr_op_batch_norm (CxrTape *tape, CxrTensor *x, CxrTensor *mean, CxrTensor *var,
                              CxrTensor *weight, CxrTensor *bias, gfloat eps, GError **error);
CxrTensor *cxr_op_batch_norm_train (CxrTape *tape, CxrTensor *x, CxrTensor *weight, CxrTensor *bias,
                                    CxrTensor *running_mean, CxrTensor *running_var, gfloat momentum,
                                    gfloat eps, GError **error);

/* Images. */
CxrTensor *cxr_op_conv2d (CxrTape *tape, CxrTensor *x, CxrTensor *weight, CxrTensor *bias,
                          guint stride, guint padding, GError **error);
CxrTensor *cxr_op_conv2d_full (CxrTape *tape, CxrTensor *x, CxrTensor *weight, CxrTensor *bias,
                               guint stride, guint pad_h, guint pad_w, GError **error);
CxrTensor *cxr_op_upsample_nearest2x (CxrTape *tape, CxrTensor *x, GError **error);
CxrTensor *cxr_op_resize_bilinear (CxrTape *tape, CxrTensor *x, guint out_h, guint out_w, GError **error);
CxrTensor *cxr_op_avg_pool2d (CxrTape *tape, CxrTensor *x, guint kernel, guint stride,
                              GError **error);
CxrTensor *cxr_op_max_pool2d (CxrTape *tape, CxrTensor *x, guint kernel, guint stride,
                              GError **error);
CxrTensor *cxr_op_avg_pool2d_full (CxrTape *tape, CxrTensor *x, guint kernel, guint stride,
                                   guint padding, gboolean count_include_pad, GError **error);
CxrTensor *cxr_op_max_pool2d_full (CxrTape *tape, CxrTensor *x, guint kernel, guint stride,
                                   guint padding, GError **error);
CxrTensor *cxr_op_adaptive_avg_pool2d (CxrTape *tape, CxrTensor *x, guint out_h, guint out_w,
                                       GError **error);

/* Sequences. */
CxrTensor *cxr_op_embedding (CxrTape *tape, CxrTensor *weight, CxrTensor *ids, GError **error);
CxrTensor *cxr_op_timestep_embedding (CxrTensor *timesteps, guint dim, gboolean flip_sin_to_cos,
                                      gfloat downscale_freq_shift, gfloat scale,
                                      gfloat max_period, GError **error);
CxrTensor *cxr_op_masked_mean (CxrTape *tape, CxrTensor *x, CxrTensor *mask, GError **error);
CxrTensor *cxr_op_attention (CxrTape *tape, CxrTensor *q, CxrTensor *k, CxrTensor *v,
                             CxrTensor *key_mask, gboolean causal, gfloat scale, GError **error);
CxrTensor *cxr_op_multi_head_attention (CxrTape *tape, CxrTensor *q, CxrTensor *k, CxrTensor *v, guint heads,
                                         CxrTensor *key_mask, gboolean causal, gfloat scale, GError **error);
CxrTensor *cxr_op_dropout (CxrTape *tape, CxrTensor *x, gfloat p, guint64 seed, guint64 offset,
                           GError **error);

/* Shapes. */
CxrTensor *cxr_op_reshape (CxrTape *tape, CxrTensor *x, const gint64 *shape, guint ndim,
                           GError **error);
CxrTensor *cxr_op_permute (CxrTape *tape, CxrTensor *x, const gint *dims, guint n_dims,
                           GError **error);
CxrTensor *cxr_op_concat (CxrTape *tape, CxrTensor **tensors, guint n_tensors, gint dim,
                          GError **error);
CxrTensor *cxr_op_slice (CxrTape *tape, CxrTensor *x, gint dim, gint64 start, gint64 stop,
                         GError **error);

/* Reductions and losses: each returns a scalar (0 dimensions) but
 * cosine_similarity, which returns one value per row. */
CxrTensor *cxr_op_sum (CxrTape *tape, CxrTensor *x, GError **error);
CxrTensor *cxr_op_mean (CxrTape *tape, CxrTensor *x, GError **error);
CxrTensor *cxr_op_mse (CxrTape *tape, CxrTensor *prediction, CxrTensor *target, GError **error);
CxrTensor *cxr_op_binary_cross_entropy_logits (CxrTape *tape, CxrTensor *logits, CxrTensor *targets,
                                               CxrTensor *mask, GError **error);
CxrTensor *cxr_op_cross_entropy (CxrTape *tape, CxrTensor *logits, CxrTensor *targets,
                                 gint64 ignore_index, GError **error);
CxrTensor *cxr_op_cosine_similarity (CxrTape *tape, CxrTensor *a, CxrTensor *b, gfloat eps,
                                     GError **error);

void cxr_set_num_threads (guint n_threads);
guint cxr_get_num_threads (void);
guint64 cxr_get_flop_count (void);
const gchar *cxr_get_matrix_kernel (void);
void cxr_reset_flop_count (void);

/* The counter-based random numbers dropout and noise use. */
void cxr_philox_uniform (guint64 seed, guint64 offset, gfloat *out, gsize n);
void cxr_philox_normal (guint64 seed, guint64 offset, gfloat *out, gsize n);
CxrTensor *cxr_tensor_new_randn (const gint64 *shape, guint ndim, guint64 seed, guint64 offset);

G_END_DECLS
