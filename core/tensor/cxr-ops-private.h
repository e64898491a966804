/* cxr-ops-private.h: what the op files share: tape nodes, gradient
 * buffers, argument checks. Not installed.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "cxr-private.h"

/* Every sgemm of the engine goes through here, so the work done is
 * counted (cxr_get_flop_count()). */
extern guint64 _cxr_flops;
#define _cxr_sgemm(order, ta, tb, m, n, k, ...) \
  (__atomic_fetch_add (&_cxr_flops, 2 * (guint64) (m) * (guint64) (n) * (guint64) (k), __ATOMIC_RELAXED), \
   cblas_sgemm (order, ta, tb, m, n, k, __VA_ARGS__))

G_BEGIN_DECLS

typedef struct _CxrNode CxrNode;

/* Computes the gradients of a node's inputs from node->out's gradient,
 * adding (+=) into each input that requires one. */
typedef void (*CxrBackwardFunc) (CxrNode *node);

struct _CxrNode {
  const gchar *name;
  CxrBackwardFunc backward;
  CxrTensor *out;
  GPtrArray *in;        /* CxrTensor, referenced */
  CxrTensor *saved[4];  /* referenced; what backward needs besides in/out */
  gdouble f[4];         /* float arguments */
  gint64 i[8];          /* integer arguments */
};

gboolean _cxr_tape_wants (CxrTape *tape, CxrTensor *const *inputs, guint n_inputs);
CxrNode *_cxr_tape_record (CxrTape *tape, const gchar *name, CxrBackwardFunc backward,
                           CxrTensor *out, CxrTensor *const *inputs, guint n_inputs);

/* The gradient of @t, allocated (zeros) on first use; NULL when @t does
 * not require one. */
gfloat *_cxr_grad (CxrTensor *t);

/* The op's inputs: contiguous f32, or an error that names op and input. */
gboolean _cxr_check_input (CxrTensor *t, const gchar *op, const gchar *what, GError **error);
gboolean _cxr_check_shape_equal (CxrTensor *a, CxrTensor *b, const gchar *op, GError **error);

static inline gfloat *
_cxr_f32 (CxrTensor *t)
{
  return (gfloat *) cxr_tensor_get_data (t);
}

static inline gint64
_cxr_numel (CxrTensor *t)
{
  return cxr_tensor_get_numel (t);
}

G_END_DECLS
