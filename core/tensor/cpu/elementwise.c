/* core/tensor/cpu/elementwise.c: add, sub, mul with broadcasting, scale,
 * activations and softmax, forward and backward.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxr-ops-private.h"

/* ------------------------------------------------------------ broadcasting */

typedef struct {
  guint ndim;
  gint64 shape[CXR_TENSOR_MAX_DIMS];
  gint64 stride_a[CXR_TENSOR_MAX_DIMS]; /* 0 where a is broadcast */
  gint64 stride_b[CXR_TENSOR_MAX_DIMS];
  gboolean same;                        /* a, b and out have one shape */
} Broadcast;

static gboolean
broadcast_shapes (CxrTensor *a, CxrTensor *b, Broadcast *bc, const gchar *op, GError **error)
{
  guint na = 0, nb = 0;
  const gint64 *sa = cxr_tensor_get_shape (a, &na), *sb = cxr_tensor_get_shape (b, &nb);
  gint64 ra = 1, rb = 1;

  bc->ndim = MAX (na, nb);
  bc->same = na == nb && memcmp (sa, sb, na * sizeof (gint64)) == 0;
  for (gint d = (gint) bc->ndim - 1; d >= 0; d--)
    {
      gint ia = d - (gint) (bc->ndim - na), ib = d - (gint) (bc->ndim - nb);
      gint64 da = ia >= 0 ? sa[ia] : 1, db = ib >= 0 ? sb[ib] : 1;

      if (da != db && da != 1 && db != 1)
        {
          g_autofree gchar *ta = cxr_tensor_describe (a), *tb = cxr_tensor_describe (b);
          g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                       "%s: shapes %s and %s do not broadcast (dimension %d: %" G_GINT64_FORMAT
                       " and %" G_GINT64_FORMAT ")",
                       op, ta, tb, d, da, db);
          return FALSE;
        }
      bc->shape[d] = MAX (da, db);
      bc->stride_a[d] = da == 1 ? 0 : ra;
      bc->stride_b[d] = db == 1 ? 0 : rb;
      ra *= da;
      rb *= db;
    }
  return TRUE;
}

/* Offsets into a and b of each output element, in order. */
typedef struct {
  const Broadcast *bc;
  gint64 counter[CXR_TENSOR_MAX_DIMS];
  gint64 oa, ob;
} BroadcastIter;

static inline void
bi_init (BroadcastIter *it, const Broadcast *bc)
{
  memset (it, 0, sizeof *it);
  it->bc = bc;
}

static inline void
bi_next (BroadcastIter *it)
{
  const Broadcast *bc = it->bc;
  for (gint d = (gint) bc->ndim - 1; d >= 0; d--)
    {
      it->counter[d]++;
      it->oa += bc->stride_a[d];
      it->ob += bc->stride_b[d];
      if (it->counter[d] < bc->shape[d])
        return;
      it->oa -= bc->stride_a[d] * it->counter[d];
      it->ob -= bc->stride_b[d] * it->counter[d];
      it->counter[d] = 0;
    }
}

typedef enum { BIN_ADD, BIN_SUB, BIN_MUL } BinaryOp;

static void
binary_backward (CxrNode *node)
{
  CxrTensor *a = g_ptr_array_index (node->in, 0), *b = g_ptr_array_index (node->in, 1);
  BinaryOp op = (BinaryOp) node->i[0];
  const gfloat *dout = _cxr_f32 (cxr_tensor_get_grad (node->out));
  gfloat *da = _cxr_grad (a), *db = _cxr_grad (b);
  const gfloat *va = _cxr_f32 (a), *vb = _cxr_f32 (b);
  gint64 n = _cxr_numel (node->out);
  Broadcast bc;

  broadcast_shapes (a, b, &bc, node->name, NULL);
  if (bc.same)
    {
#pragma omp parallel for schedule(static) if (n > 65536)
      for (gint64 i = 0; i < n; i++)
        {
          gfloat g = dout[i];
          if (da)
            da[i] += op == BIN_MUL ? g * vb[i] : g;
          if (db)
            db[i] += op == BIN_MUL ? g * va[i] : (op == BIN_SUB ? -g : g);
        }
      return;
    }
  {
    BroadcastIter it;
    bi_init (&it, &bc);
    for (gint64 i = 0; i < n; i++, bi_next (&it))
      {
        gfloat g = dout[i];
        if (da)
          da[it.oa] += op == BIN_MUL ? g * vb[it.ob] : g;
        if (db)
          db[it.ob] += op == BIN_MUL ? g * va[it.oa] : (op == BIN_SUB ? -g : g);
      }
  }
}

static CxrTensor *
binary (CxrTape *tape, CxrTensor *a, CxrTensor *b, BinaryOp op, const gchar *name, GError **error)
{
  Broadcast bc;
  CxrTensor *out;
  gfloat *o;
  const gfloat *va, *vb;
  gint64 n;

  if (!_cxr_check_input (a, name, "a", error) || !_cxr_check_input (b, name, "b", error) ||
      !broadcast_shapes (a, b, &bc, name, error))
    return NULL;
  out = _cxr_tensor_new_uninitialized (CXR_DTYPE_F32, bc.shape, bc.ndim);
  o = _cxr_f32 (out);
  va = _cxr_f32 (a);
  vb = _cxr_f32 (b);
  n = _cxr_numel (out);
  if (bc.same)
    {
#pragma omp parallel for schedule(static) if (n > 65536)
      for (gint64 i = 0; i < n; i++)
        o[i] = op == BIN_ADD ? va[i] + vb[i] : op == BIN_SUB ? va[i] - vb[i] : va[i] * vb[i];
    }
  else
    {
      BroadcastIter it;
      bi_init (&it, &bc);
      for (gint64 i = 0; i < n; i++, bi_next (&it))
        {
          gfloat x = va[it.oa], y = vb[it.ob];
          o[i] = op == BIN_ADD ? x + y : op == BIN_SUB ? x - y : x * y;
        }
    }
  {
    CxrTensor *inputs[] = { a, b };
    CxrNode *node = _cxr_tape_record (tape, name, binary_backward, out, inputs, 2);
    if (node)
      node->i[0] = op;
  }
  return out;
}

/**
 * cxr_op_add:
 * @tape: (nullable): where to record the op for backward; %NULL records nothing
 * @a: an F32 tensor
 * @b: an F32 tensor that broadcasts with @a (numpy's rules)
 * @error: return location for a #GError
 *
 * Returns: (transfer full): @a + @b, or %NULL with @error set
 */
CxrTensor *
cxr_op_add (CxrTape *tape, CxrTensor *a, CxrTensor *b, GError **error)
{
  return binary (tape, a, b, BIN_ADD, "add", error);
}

/**
 * cxr_op_sub:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @a: an F32 tensor
 * @b: an F32 tensor that broadcasts with @a
 * @error: return location for a #GError
 *
 * Returns: (transfer full): @a - @b, or %NULL with @error set
 */
CxrTensor *
cxr_op_sub (CxrTape *tape, CxrTensor *a, CxrTensor *b, GError **error)
{
  return binary (tape, a, b, BIN_SUB, "sub", error);
}

/**
 * cxr_op_mul:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @a: an F32 tensor
 * @b: an F32 tensor that broadcasts with @a
 * @error: return location for a #GError
 *
 * Returns: (transfer full): @a * @b elementwise, or %NULL with @error set
 */
CxrTensor *
cxr_op_mul (CxrTape *tape, CxrTensor *a, CxrTensor *b, GError **error)
{
  return binary (tape, a, b, BIN_MUL, "mul", error);
}

/* ------------------------------------------------------------------ unary */

typedef enum { UN_SCALE, UN_SILU, UN_GELU_ERF, UN_GELU_TANH, UN_QUICK_GELU, UN_TANH, UN_RELU, UN_SIGMOID } UnaryOp;

#define SQRT_2_OVER_PI 0.7978845608028654f
#define INV_SQRT_2 0.7071067811865476f
#define INV_SQRT_2PI 0.3989422804014327f

static inline gfloat
sigmoidf (gfloat x)
{
  return 1.0f / (1.0f + _cxr_expf (-x));
}

/* 1 + erf (x), vectorisable: erfc (|x|) = t e^(-x^2 + P(t)), t = 1 / (1 +
 * |x| / 2) (the Chebyshev fit of Numerical Recipes' erfcc, fractional
 * error below 1.2e-7), and 1 + erf (x) = erfc (-x) = 2 - erfc (x). GELU
 * needs only this sum, so no cancellation near 0: within 1e-6 of it
 * relatively for |x| < 6 in float. */
static inline gfloat
one_plus_erf (gfloat x)
{
  gfloat z = fabsf (x), t = 1.0f / (1.0f + 0.5f * z), p = 0.17087277f, erfc;

  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  erfc = t * _cxr_expf (p - z * z);
  return x >= 0.0f ? 2.0f - erfc : erfc;
}

static inline gfloat
unary_forward (UnaryOp op, gfloat x, gfloat factor)
{
  switch (op)
    {
    case UN_SCALE:
      return x * factor;
    case UN_SILU:
      return x * sigmoidf (x);
    case UN_GELU_ERF:
      return 0.5f * x * one_plus_erf (x * INV_SQRT_2);
    case UN_GELU_TANH:
      /* 0.5 x (1 + tanh u) = x sigmoid (2u) */
      return x * sigmoidf (2.0f * SQRT_2_OVER_PI * (x + 0.044715f * x * x * x));
    case UN_QUICK_GELU:
      return x * sigmoidf (1.702f * x);
    case UN_TANH:
      return tanhf (x);
    case UN_RELU:
      return x > 0.0f ? x : 0.0f;
    case UN_SIGMOID:
      return sigmoidf (x);
    default:
      return 0;
    }
}

/* d out / d x at x (y = out, for tanh). */
static inline gfloat
unary_derivative (UnaryOp op, gfloat x, gfloat y, gfloat factor)
{
  switch (op)
    {
    case UN_SCALE:
      return factor;
    case UN_SILU:
      {
        gfloat s = sigmoidf (x);
        return s * (1.0f + x * (1.0f - s));
      }
    case UN_GELU_ERF:
      return 0.5f * one_plus_erf (x * INV_SQRT_2) + x * INV_SQRT_2PI * _cxr_expf (-0.5f * x * x);
    case UN_GELU_TANH:
      {
        /* with s = sigmoid (2u): 1 + tanh u = 2s, 1 - tanh^2 u = 4s (1 - s) */
        gfloat u = SQRT_2_OVER_PI * (x + 0.044715f * x * x * x);
        gfloat s = sigmoidf (2.0f * u), du = SQRT_2_OVER_PI * (1.0f + 3.0f * 0.044715f * x * x);
        return s + 2.0f * x * s * (1.0f - s) * du;
      }
    case UN_QUICK_GELU:
      {
        gfloat s = sigmoidf (1.702f * x);
        return s + 1.702f * x * s * (1.0f - s);
      }
    case UN_TANH:
      return 1.0f - y * y;
    case UN_RELU:
      return x > 0.0f ? 1.0f : 0.0f;
    case UN_SIGMOID:
      return y * (1.0f - y);
    default:
      return 0;
    }
}

/* One loop per op (UNARY_LOOP, defined where used), so each compiles
 * without the switch and vectorises. */
#define UNARY_SWITCH(op)                                   \
  G_STMT_START {                                           \
    switch (op)                                            \
      {                                                    \
      case UN_SCALE: UNARY_LOOP (UN_SCALE); break;         \
      case UN_SILU: UNARY_LOOP (UN_SILU); break;           \
      case UN_GELU_ERF: UNARY_LOOP (UN_GELU_ERF); break;   \
      case UN_GELU_TANH: UNARY_LOOP (UN_GELU_TANH); break; \
      case UN_QUICK_GELU: UNARY_LOOP (UN_QUICK_GELU); break; \
      case UN_TANH: UNARY_LOOP (UN_TANH); break;           \
      case UN_RELU: UNARY_LOOP (UN_RELU); break;           \
      case UN_SIGMOID: UNARY_LOOP (UN_SIGMOID); break;     \
      default: g_assert_not_reached ();                    \
      }                                                    \
  } G_STMT_END

/* The unary ops over n elements. */
static CXR_VECTOR_CLONES void
unary_forward_run (UnaryOp op, const gfloat *x, gfloat *o, gint64 n, gfloat factor)
{
#define UNARY_LOOP(OP)                                \
  G_STMT_START {                                      \
    _Pragma ("omp simd")                              \
    for (gint64 i = 0; i < n; i++)                    \
      o[i] = unary_forward (OP, x[i], factor);        \
  } G_STMT_END
  UNARY_SWITCH (op);
#undef UNARY_LOOP
}

/* dx += dout * d op / dx, per op as above. */
static CXR_VECTOR_CLONES void
unary_backward_run (UnaryOp op, const gfloat *x, const gfloat *y, const gfloat *dout, gfloat *dx, gint64 n,
                    gfloat factor)
{
#define UNARY_LOOP(OP)                                                \
  G_STMT_START {                                                      \
    _Pragma ("omp simd")                                              \
    for (gint64 i = 0; i < n; i++)                                    \
      dx[i] += dout[i] * unary_derivative (OP, x[i], y[i], factor);   \
  } G_STMT_END
  UNARY_SWITCH (op);
#undef UNARY_LOOP
}

/* Elements per task when an elementwise pass is split over threads. */
#define UNARY_CHUNK 16384

gdouble
CXR_VECTOR_CLONES _cxr_exp_shifted_sum (const gfloat *x, gfloat shift, gfloat *out, gint64 n)
{
  gdouble total = 0;

  CXR_SUM_BLOCKS (total, i, n, out[i] = _cxr_expf (x[i] - shift));
  return total;
}

static void
unary_backward (CxrNode *node)
{
  CxrTensor *x = g_ptr_array_index (node->in, 0);
  UnaryOp op = (UnaryOp) node->i[0];
  gfloat factor = (gfloat) node->f[0];
  const gfloat *dout = _cxr_f32 (cxr_tensor_get_grad (node->out));
  const gfloat *vx = _cxr_f32 (x), *vy = _cxr_f32 (node->out);
  gfloat *dx = _cxr_grad (x);
  gint64 n = _cxr_numel (x);

  if (dx == NULL)
    return;
#pragma omp parallel for schedule(static) if (n > UNARY_CHUNK)
  for (gint64 i0 = 0; i0 < n; i0 += UNARY_CHUNK)
    unary_backward_run (op, vx + i0, vy + i0, dout + i0, dx + i0, MIN (UNARY_CHUNK, n - i0), factor);
}

static CxrTensor *
unary (CxrTape *tape, CxrTensor *x, UnaryOp op, gfloat factor, const gchar *name, GError **error)
{
  CxrTensor *out;
  const gfloat *vx;
  gfloat *o;
  gint64 n;

  if (!_cxr_check_input (x, name, "x", error))
    return NULL;
  out = _cxr_tensor_new_uninitialized_like (x);
  vx = _cxr_f32 (x);
  o = _cxr_f32 (out);
  n = _cxr_numel (x);
#pragma omp parallel for schedule(static) if (n > UNARY_CHUNK)
  for (gint64 i0 = 0; i0 < n; i0 += UNARY_CHUNK)
    unary_forward_run (op, vx + i0, o + i0, MIN (UNARY_CHUNK, n - i0), factor);
  {
    CxrNode *node = _cxr_tape_record (tape, name, unary_backward, out, &x, 1);
    if (node)
      {
        node->i[0] = op;
        node->f[0] = factor;
      }
  }
  return out;
}

/**
 * cxr_op_scale:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor
 * @factor: the factor
 * @error: return location for a #GError
 *
 * Returns: (transfer full): @x * @factor, or %NULL with @error set
 */
CxrTensor *
cxr_op_scale (CxrTape *tape, CxrTensor *x, gfloat factor, GError **error)
{
  return unary (tape, x, UN_SCALE, factor, "scale", error);
}

/**
 * cxr_op_relu:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor
 * @error: return location for a #GError
 *
 * Returns: (transfer full): max(x, 0) (the gradient at 0 is 0, as
 *   PyTorch's), or %NULL with @error set
 */
CxrTensor *
cxr_op_relu (CxrTape *tape, CxrTensor *x, GError **error)
{
  return unary (tape, x, UN_RELU, 0, "relu", error);
}

/**
 * cxr_op_sigmoid:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor
 * @error: return location for a #GError
 *
 * Returns: (transfer full): 1 / (1 + exp(-x)), or %NULL with @error set
 */
CxrTensor *
cxr_op_sigmoid (CxrTape *tape, CxrTensor *x, GError **error)
{
  return unary (tape, x, UN_SIGMOID, 0, "sigmoid", error);
}

/**
 * cxr_op_silu:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor
 * @error: return location for a #GError
 *
 * Returns: (transfer full): x * sigmoid(x), or %NULL with @error set
 */
CxrTensor *
cxr_op_silu (CxrTape *tape, CxrTensor *x, GError **error)
{
  return unary (tape, x, UN_SILU, 0, "silu", error);
}

/**
 * cxr_op_gelu:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor
 * @approximation: the exact (erf) GELU or the tanh approximation
 * @error: return location for a #GError
 *
 * Returns: (transfer full): GELU(x), or %NULL with @error set
 */
CxrTensor *
cxr_op_gelu (CxrTape *tape, CxrTensor *x, CxrGeluApproximation approximation, GError **error)
{
  return unary (tape, x, approximation == CXR_GELU_TANH ? UN_GELU_TANH : UN_GELU_ERF, 0, "gelu",
                error);
}

/**
 * cxr_op_quick_gelu:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor
 * @error: return location for a #GError
 *
 * Returns: (transfer full): x * sigmoid(1.702 x), CLIP's activation, or
 *   %NULL with @error set
 */
CxrTensor *
cxr_op_quick_gelu (CxrTape *tape, CxrTensor *x, GError **error)
{
  return unary (tape, x, UN_QUICK_GELU, 0, "quick_gelu", error);
}

/**
 * cxr_op_tanh:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor
 * @error: return location for a #GError
 *
 * Returns: (transfer full): tanh(x), or %NULL with @error set
 */
CxrTensor *
cxr_op_tanh (CxrTape *tape, CxrTensor *x, GError **error)
{
  return unary (tape, x, UN_TANH, 0, "tanh", error);
}

/* ---------------------------------------------------------------- softmax */

static void
softmax_backward (CxrNode *node)
{
  CxrTensor *x = g_ptr_array_index (node->in, 0);
  gfloat *dx = _cxr_grad (x);
  const gfloat *y = _cxr_f32 (node->out);
  const gfloat *dy = _cxr_f32 (cxr_tensor_get_grad (node->out));
  gint64 cols = cxr_tensor_get_dim (x, -1), rows = _cxr_numel (x) / MAX (cols, 1);

  if (dx == NULL)
    return;
#pragma omp parallel for schedule(static)
  for (gint64 r = 0; r < rows; r++)
    {
      const gfloat *yr = y + r * cols, *dyr = dy + r * cols;
      gfloat *dxr = dx + r * cols;
      gdouble dot = 0;
      for (gint64 c = 0; c < cols; c++)
        dot += (gdouble) yr[c] * dyr[c];
      for (gint64 c = 0; c < cols; c++)
        dxr[c] += yr[c] * (dyr[c] - (gfloat) dot);
    }
}

/**
 * cxr_op_softmax:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor of at least one dimension
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the softmax over the last dimension, or %NULL
 *   with @error set
 */
CxrTensor *
cxr_op_softmax (CxrTape *tape, CxrTensor *x, GError **error)
{
  CxrTensor *out;
  gint64 cols, rows;
  const gfloat *vx;
  gfloat *o;

  if (!_cxr_check_input (x, "softmax", "x", error))
    return NULL;
  if (cxr_tensor_get_ndim (x) == 0)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE, "softmax: x has no dimension");
      return NULL;
    }
  out = _cxr_tensor_new_uninitialized_like (x);
  cols = cxr_tensor_get_dim (x, -1);
  rows = _cxr_numel (x) / MAX (cols, 1);
  vx = _cxr_f32 (x);
  o = _cxr_f32 (out);
#pragma omp parallel for schedule(static)
  for (gint64 r = 0; r < rows; r++)
    {
      const gfloat *xr = vx + r * cols;
      gfloat *orow = o + r * cols;
      gfloat m = _cxr_row_max (xr, cols);
      gdouble sum = _cxr_exp_shifted_sum (xr, m, orow, cols);
      gfloat inv = (gfloat) (1.0 / sum);
#pragma omp simd
      for (gint64 c = 0; c < cols; c++)
        orow[c] *= inv;
    }
  _cxr_tape_record (tape, "softmax", softmax_backward, out, &x, 1);
  return out;
}
