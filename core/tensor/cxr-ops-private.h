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

/* e^x in float, written so that a loop of them vectorises (glibc's expf
 * is a call per element): x = n ln 2 + r with |r| <= ln 2 / 2, e^r by a
 * degree-7 polynomial (the Cephes coefficients), 2^n in two halves so
 * that the overflow and subnormal edges come out right. Within 2 ulp of
 * expf; -inf gives 0, +inf gives +inf, NaN gives NaN. */
static inline gfloat
_cxr_expf (gfloat x)
{
  const gfloat round_magic = 12582912.0f; /* 1.5 * 2^23 */
  gfloat xc = x < -104.0f ? -104.0f : (x > 89.0f ? 89.0f : x);
  gfloat n = (xc * 1.44269504088896341f + round_magic) - round_magic;
  gfloat r = xc - n * 0.693359375f + n * 2.12194440e-4f;
  gfloat p = 1.9875691500e-4f;
  gint32 ni = (gint32) n, half = ni >> 1;
  union { gint32 i; gfloat f; } scale_a = { .i = (half + 127) << 23 }, scale_b = { .i = (ni - half + 127) << 23 };
  gfloat y;

  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  y = p * scale_a.f * scale_b.f;
  y = x < -104.0f ? 0.0f : y;
  y = x > 88.72283935546875f ? INFINITY : y;
  return x != x ? x : y;
}

/* The largest of n floats (-inf for none), vectorised. */
static inline gfloat
_cxr_row_max (const gfloat *x, gint64 n)
{
  gfloat m = -INFINITY;
#pragma omp simd reduction(max : m)
  for (gint64 i = 0; i < n; i++)
    m = x[i] > m ? x[i] : m;
  return m;
}

/* total (a gdouble) += TERM for I in [0, N): float sums of 64 terms in
 * vector lanes, added up in double, so long rows keep their precision
 * and the result does not depend on the thread count. */
#define CXR_SUM_BLOCKS(total, I, N, TERM)                         \
  G_STMT_START {                                                  \
    for (gint64 i0_ = 0; i0_ < (N); i0_ += 64)                    \
      {                                                           \
        gint64 end_ = MIN (i0_ + 64, (N));                        \
        gfloat part_ = 0;                                         \
        _Pragma ("omp simd reduction(+ : part_)")                 \
        for (gint64 I = i0_; I < end_; I++)                       \
          part_ += (TERM);                                        \
        (total) += part_;                                         \
      }                                                           \
  } G_STMT_END

/* The sum of n floats, as CXR_SUM_BLOCKS. */
static inline gdouble
_cxr_sum_blocks (const gfloat *x, gint64 n)
{
  gdouble total = 0;

  CXR_SUM_BLOCKS (total, i, n, x[i]);
  return total;
}

/* out[i] = e^(x[i] - shift) (out may be x), and their sum: float sums of
 * 64 in vector lanes, added up in double (cpu/elementwise.c). */
gdouble _cxr_exp_shifted_sum (const gfloat *x, gfloat shift, gfloat *out, gint64 n);

/* A function whose loops are worth the CPU's widest vectors: compiled
 * for AVX-512 (x86-64-v4), AVX2 with FMA (v3) and baseline x86-64, the
 * one to run picked when the library loads. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CXR_VECTOR_CLONES __attribute__ ((target_clones ("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CXR_VECTOR_CLONES
#endif

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
  gpointer data;        /* anything else, freed with destroy */
  GDestroyNotify destroy;
};

gboolean _cxr_tape_wants (CxrTape *tape, CxrTensor *const *inputs, guint n_inputs);
CxrNode *_cxr_tape_record (CxrTape *tape, const gchar *name, CxrBackwardFunc backward,
                           CxrTensor *out, CxrTensor *const *inputs, guint n_inputs);

/* The engine's own matrix product (cpu/gemm.c). An operand is read
 * through two axes, each either plain (element i at i * stride) or in
 * blocks (as the images of a batch: element i at (i / block) *
 * block_stride + (i % block) * stride), or through a pack function of its
 * own (the implicit im2col of a convolution). */
typedef struct {
  gint64 stride, block, block_stride;
} CxrGemmAxis;

typedef struct _CxrGemmOperand CxrGemmOperand;
struct _CxrGemmOperand {
  /* dst[kk * width + o] = element (o0 + o, k0 + kk) for o < n_outer, zero
   * up to width: o runs along M (for A) or N (for B), kk along K. */
  void (*pack) (const CxrGemmOperand *self, gint64 o0, gint64 k0, gint64 n_outer, gint64 kc, gint64 width,
                gfloat *dst);
  const gfloat *data;
  CxrGemmAxis outer, inner;
  gconstpointer user_data;
  /* B only, instead of packing: B[k, n] = data[rows[k] + outer(n)], read
   * in place; outer must keep each tile of CXR_GEMM_MAX_WIDTH columns
   * contiguous (stride 1, blocks a multiple of the width), and data must
   * hold CXR_GEMM_MAX_WIDTH readable floats past the last element (a
   * partial tile reads a whole one). */
  const gint64 *rows;
  /* A only: all of A packed by _cxr_gemm_pack_a(), in blocks of K of
   * packed_depth */
  const gfloat *packed;
  gint64 packed_depth;
  /* A only, plain row-major: read in place, not packed, however wide B
   * is (by default only for at most two tiles of columns) */
  gboolean in_place;
  /* A only: bias[m] added to row m of C, in the product's first block of
   * K (a convolution's bias, with the output channels as rows) */
  const gfloat *row_bias;
};

/* The most K one pack call of B, or of A when B is packed, is asked for
 * (an A that serves a B read in place may be packed in deeper blocks, of
 * up to 4608: _cxr_gemm_depth()), and the widest panel. */
#define CXR_GEMM_KC 256
#define CXR_GEMM_MAX_WIDTH 32

CxrGemmAxis _cxr_gemm_axis_plain (gint64 stride);
CxrGemmAxis _cxr_gemm_axis_blocked (gint64 stride, gint64 block, gint64 block_stride);
CxrGemmOperand _cxr_gemm_operand_strided (const gfloat *data, CxrGemmAxis outer, CxrGemmAxis inner);
/* An op's output, each element of which the op writes: not zeroed. */
CxrTensor *_cxr_tensor_new_uninitialized (CxrDType dtype, const gint64 *shape, guint ndim);
CxrTensor *_cxr_tensor_new_uninitialized_like (CxrTensor *x);
gboolean _cxr_gemm_available (void);
gint64 _cxr_gemm_depth (gint64 m, gint64 n, gint64 k, const CxrGemmOperand *b);
CxrTensor *_cxr_gemm_pack_a (gint64 m, gint64 k, gint64 depth, const CxrGemmOperand *a);

gboolean _cxr_in_parallel (void);
void _cxr_gemm (gint64 m, gint64 n, gint64 k, const CxrGemmOperand *a, const CxrGemmOperand *b, gfloat *c,
                CxrGemmAxis c_rows, CxrGemmAxis c_cols, gboolean accumulate);

/* The gradient of @t, allocated (zeros) on first use; NULL when @t does
 * not require one. */
gfloat *_cxr_grad (CxrTensor *t);
/* As _cxr_grad, not zeroed when new (*@fresh set): for an op that then
 * writes every element instead of adding. */
gfloat *_cxr_grad_to_write (CxrTensor *t, gboolean *fresh);

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
