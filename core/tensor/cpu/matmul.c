/* core/tensor/cpu/matmul.c: matmul (batched) and linear,
 * forward and backward.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxr-ops-private.h"

/* C[M,N] (+)= op(A) op(B), row-major (beta 0 or 1): on the engine's own
 * kernel where it runs (cpu/gemm.c), else OpenBLAS. */
static inline void
gemm (gboolean trans_a, gboolean trans_b, gint64 m, gint64 n, gint64 k, const gfloat *a,
      const gfloat *b, gfloat beta, gfloat *c)
{
  if (m == 0 || n == 0)
    return;
  if (k == 0)
    {
      if (beta == 0.0f)
        memset (c, 0, (gsize) (m * n) * sizeof (gfloat));
      return;
    }
  /* More than 64 rows: the kernel as it is. At 64 rows or fewer (a
   * token at a time, beams, a ViT-B/32 image, a UNet's 8x8 level) it
   * would pack the weights for a few rows' use: beam search at batch 16
   * (64 rows) ran at a ratio of 1.26 to PyTorch that way, 1.02 on
   * OpenBLAS. Those go to the transposed product below, or OpenBLAS. */
  if (_cxr_gemm_available () && !_cxr_in_parallel () && m > 2 * CXR_GEMM_MAX_WIDTH)
    {
      /* A [m, k] (or stored [k, m]), B [k, n] (or stored [n, k]) */
      CxrGemmOperand pa = trans_a ? _cxr_gemm_operand_strided (a, _cxr_gemm_axis_plain (1), _cxr_gemm_axis_plain (m))
                                  : _cxr_gemm_operand_strided (a, _cxr_gemm_axis_plain (k), _cxr_gemm_axis_plain (1));
      CxrGemmOperand pb = trans_b ? _cxr_gemm_operand_strided (b, _cxr_gemm_axis_plain (k), _cxr_gemm_axis_plain (1))
                                  : _cxr_gemm_operand_strided (b, _cxr_gemm_axis_plain (1), _cxr_gemm_axis_plain (n));
      _cxr_gemm (m, n, k, &pa, &pb, c, _cxr_gemm_axis_plain (n), _cxr_gemm_axis_plain (1), beta != 0.0f);
      return;
    }
  /* 17 to 64 rows against a B of 2^18 elements or more (a layer's
   * weights): the transposed product C^T = op(B)^T op(A)^T on the kernel,
   * which then reads the weights in place as its A (at most 64 columns,
   * cpu/gemm.c) instead of packing them, and C transposed back. Measured
   * on 2 threads against OpenBLAS: 64x1280 by 1280x10240 1.2x as fast,
   * 64x768 by 768x768 1.3-1.6x, 20x768 by 768x3072 1.6-1.9x. At 16 rows
   * or fewer, half a register tile or more would be empty. */
  if (_cxr_gemm_available () && !_cxr_in_parallel () && m > CXR_GEMM_MAX_WIDTH / 2 && n * k >= 1 << 18)
    {
      CxrGemmOperand pa = trans_b ? _cxr_gemm_operand_strided (b, _cxr_gemm_axis_plain (k), _cxr_gemm_axis_plain (1))
                                  : _cxr_gemm_operand_strided (b, _cxr_gemm_axis_plain (1), _cxr_gemm_axis_plain (n));
      CxrGemmOperand pb = trans_a ? _cxr_gemm_operand_strided (a, _cxr_gemm_axis_plain (1), _cxr_gemm_axis_plain (m))
                                  : _cxr_gemm_operand_strided (a, _cxr_gemm_axis_plain (k), _cxr_gemm_axis_plain (1));
      g_autoptr (CxrTensor) t_t = _cxr_tensor_new_uninitialized (CXR_DTYPE_F32, (const gint64[]) { n * m }, 1);
      gfloat *t = _cxr_f32 (t_t);

      _cxr_gemm (n, m, k, &pa, &pb, t, _cxr_gemm_axis_plain (m), _cxr_gemm_axis_plain (1), FALSE);
#pragma omp parallel for schedule(static) if (n * m > 65536)
      for (gint64 i0 = 0; i0 < n; i0 += 64)
        for (gint64 j = 0; j < m; j++)
          {
            gfloat *cj = c + j * n;
            if (beta != 0.0f)
              for (gint64 i = i0; i < MIN (i0 + 64, n); i++)
                cj[i] += t[i * m + j];
            else
              for (gint64 i = i0; i < MIN (i0 + 64, n); i++)
                cj[i] = t[i * m + j];
          }
      return;
    }
  _cxr_sgemm (CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
               (blasint) m, (blasint) n, (blasint) k, 1.0f, a, trans_a ? (blasint) m : (blasint) k,
               b, trans_b ? (blasint) k : (blasint) n, beta, c, (blasint) n);
}

/* -------------------------------------------------------------- matmul */

/* a [batch..., M, K] @ b [batch..., K, N] or b [K, N] (shared). */
typedef struct {
  gint64 batch, m, k, n;
  gboolean shared_b;
} MatmulDims;

static gboolean
matmul_dims (CxrTensor *a, CxrTensor *b, MatmulDims *d, GError **error)
{
  guint na = 0, nb = 0;
  const gint64 *sa = cxr_tensor_get_shape (a, &na), *sb = cxr_tensor_get_shape (b, &nb);
  g_autofree gchar *ta = cxr_tensor_describe (a), *tb = cxr_tensor_describe (b);

  if (na < 2 || nb < 2)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "matmul: %s @ %s: both need at least 2 dimensions", ta, tb);
      return FALSE;
    }
  d->m = sa[na - 2];
  d->k = sa[na - 1];
  d->n = sb[nb - 1];
  d->batch = _cxr_numel (a) / MAX (d->m * d->k, 1);
  d->shared_b = nb == 2;
  if (sb[nb - 2] != d->k || (!d->shared_b && (nb != na || memcmp (sa, sb, (na - 2) * sizeof (gint64)) != 0)))
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "matmul: %s @ %s: the shapes do not fit ([..., M, K] @ [..., K, N] or [K, N])",
                   ta, tb);
      return FALSE;
    }
  return TRUE;
}

static void
matmul_backward (CxrNode *node)
{
  CxrTensor *a = g_ptr_array_index (node->in, 0), *b = g_ptr_array_index (node->in, 1);
  const gfloat *dc = _cxr_f32 (cxr_tensor_get_grad (node->out));
  gfloat *da = _cxr_grad (a), *db = _cxr_grad (b);
  const gfloat *va = _cxr_f32 (a), *vb = _cxr_f32 (b);
  MatmulDims d;

  matmul_dims (a, b, &d, NULL);
  if (d.shared_b)
    {
      /* one product over the stacked rows */
      if (da)
        gemm (FALSE, TRUE, d.batch * d.m, d.k, d.n, dc, vb, 1.0f, da);
      if (db)
        gemm (TRUE, FALSE, d.k, d.n, d.batch * d.m, va, dc, 1.0f, db);
      return;
    }
  for (gint64 i = 0; i < d.batch; i++)
    {
      if (da)
        gemm (FALSE, TRUE, d.m, d.k, d.n, dc + i * d.m * d.n, vb + i * d.k * d.n, 1.0f, da + i * d.m * d.k);
      if (db)
        gemm (TRUE, FALSE, d.k, d.n, d.m, va + i * d.m * d.k, dc + i * d.m * d.n, 1.0f, db + i * d.k * d.n);
    }
}

/**
 * cxr_op_matmul:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @a: an F32 tensor [..., M, K]
 * @b: an F32 tensor [..., K, N] with the same leading dimensions, or [K, N]
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the batched product [..., M, N], or %NULL with
 *   @error set
 */
CxrTensor *
cxr_op_matmul (CxrTape *tape, CxrTensor *a, CxrTensor *b, GError **error)
{
  MatmulDims d;
  gint64 shape[CXR_TENSOR_MAX_DIMS];
  guint na = 0;
  const gint64 *sa;
  CxrTensor *out;

  if (!_cxr_check_input (a, "matmul", "a", error) || !_cxr_check_input (b, "matmul", "b", error) ||
      !matmul_dims (a, b, &d, error))
    return NULL;
  sa = cxr_tensor_get_shape (a, &na);
  memcpy (shape, sa, na * sizeof (gint64));
  shape[na - 1] = d.n;
  out = _cxr_tensor_new_uninitialized (CXR_DTYPE_F32, shape, na);
  if (d.shared_b)
    gemm (FALSE, FALSE, d.batch * d.m, d.n, d.k, _cxr_f32 (a), _cxr_f32 (b), 0.0f, _cxr_f32 (out));
  else
    for (gint64 i = 0; i < d.batch; i++)
      gemm (FALSE, FALSE, d.m, d.n, d.k, _cxr_f32 (a) + i * d.m * d.k, _cxr_f32 (b) + i * d.k * d.n,
            0.0f, _cxr_f32 (out) + i * d.m * d.n);
  {
    CxrTensor *inputs[] = { a, b };
    _cxr_tape_record (tape, "matmul", matmul_backward, out, inputs, 2);
  }
  return out;
}

/* -------------------------------------------------------------- linear */

static void
linear_backward (CxrNode *node)
{
  CxrTensor *x = g_ptr_array_index (node->in, 0), *w = g_ptr_array_index (node->in, 1);
  CxrTensor *bias = g_ptr_array_index (node->in, 2);
  const gfloat *dy = _cxr_f32 (cxr_tensor_get_grad (node->out));
  gfloat *dx = _cxr_grad (x), *dw = _cxr_grad (w), *db = _cxr_grad (bias);
  gint64 out_f = cxr_tensor_get_dim (w, 0), in_f = cxr_tensor_get_dim (w, 1);
  gint64 rows = _cxr_numel (x) / MAX (in_f, 1);

  /* y[rows, out] = x[rows, in] @ w[out, in]^T + b */
  if (dx)
    gemm (FALSE, FALSE, rows, in_f, out_f, dy, _cxr_f32 (w), 1.0f, dx);
  if (dw)
    gemm (TRUE, FALSE, out_f, in_f, rows, dy, _cxr_f32 (x), 1.0f, dw);
  if (db)
    {
#pragma omp parallel for schedule(static)
      for (gint64 o = 0; o < out_f; o++)
        {
          gdouble s = 0;
          for (gint64 r = 0; r < rows; r++)
            s += dy[r * out_f + o];
          db[o] += (gfloat) s;
        }
    }
}

/**
 * cxr_op_linear:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor [..., in]
 * @weight: F32 [out, in], as torch.nn.Linear stores it
 * @bias: (nullable): F32 [out]
 * @error: return location for a #GError
 *
 * Returns: (transfer full): @x @weight^T + @bias, [..., out], or %NULL with
 *   @error set
 */
CxrTensor *
cxr_op_linear (CxrTape *tape, CxrTensor *x, CxrTensor *weight, CxrTensor *bias, GError **error)
{
  gint64 shape[CXR_TENSOR_MAX_DIMS];
  guint nx = 0;
  const gint64 *sx;
  gint64 out_f, in_f, rows;
  CxrTensor *out;
  gfloat *y;

  if (!_cxr_check_input (x, "linear", "x", error) || !_cxr_check_input (weight, "linear", "weight", error) ||
      (bias && !_cxr_check_input (bias, "linear", "bias", error)))
    return NULL;
  sx = cxr_tensor_get_shape (x, &nx);
  if (nx < 1 || cxr_tensor_get_ndim (weight) != 2 || sx[nx - 1] != cxr_tensor_get_dim (weight, 1) ||
      (bias && (cxr_tensor_get_ndim (bias) != 1 || cxr_tensor_get_dim (bias, 0) != cxr_tensor_get_dim (weight, 0))))
    {
      g_autofree gchar *tx = cxr_tensor_describe (x), *tw = cxr_tensor_describe (weight);
      g_autofree gchar *tb = bias ? cxr_tensor_describe (bias) : g_strdup ("none");
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "linear: x %s, weight %s, bias %s do not fit ([..., in], [out, in], [out])", tx,
                   tw, tb);
      return NULL;
    }
  out_f = cxr_tensor_get_dim (weight, 0);
  in_f = cxr_tensor_get_dim (weight, 1);
  rows = _cxr_numel (x) / MAX (in_f, 1);
  memcpy (shape, sx, nx * sizeof (gint64));
  shape[nx - 1] = out_f;
  out = _cxr_tensor_new_uninitialized (CXR_DTYPE_F32, shape, nx);
  y = _cxr_f32 (out);
  if (bias)
    {
      const gfloat *vb = _cxr_f32 (bias);
#pragma omp parallel for schedule(static) if (rows * out_f > 65536)
      for (gint64 r = 0; r < rows; r++)
        memcpy (y + r * out_f, vb, out_f * sizeof (gfloat));
    }
  gemm (FALSE, TRUE, rows, out_f, in_f, _cxr_f32 (x), _cxr_f32 (weight), bias ? 1.0f : 0.0f, y);
  {
    CxrTensor *inputs[] = { x, weight, bias };
    _cxr_tape_record (tape, "linear", linear_backward, out, inputs, 3);
  }
  return out;
}
