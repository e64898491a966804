/* core/tensor/cpu/gemm.c: the engine's own single-precision matrix product,
 * for CPUs with AVX-512, with operands packed by callers' rules.
 *
 * Why: OpenBLAS runs whatever kernels its environment names, and a
 * machine pinned to its AVX2 kernels (OPENBLAS_CORETYPE=Haswell) gets a
 * third of an AVX-512 core's rate, while PyTorch's oneDNN convolutions run
 * AVX-512 whatever OpenBLAS is told. And a convolution through sgemm
 * first writes its whole im2col matrix, which the product then reads and
 * packs again. Here the packing step itself reads the image (implicit
 * im2col), so a convolution is one pass of packing and the product.
 *
 * The layout follows the BLIS/GotoBLAS scheme: C[m, n] += A[m, k] B[k, n]
 * in blocks of KC along k (deeper when B is read in place); a block of A
 * (MC x KC) is packed into panels of MR rows, a block of B (KC x NC) into
 * panels of NR columns; a 14 x 32 micro-kernel keeps its tile of C in 28
 * zmm registers. One parallel region runs the whole product: at each step
 * (a block of k and of rows) the threads pack the panels together, meet
 * once, and multiply; the buffers are doubled, so a thread packs the next
 * step's panels while another may still multiply the last step's. Each
 * tile of C belongs to one thread and is summed in one order of k, so
 * results do not depend on the number of threads.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxr-ops-private.h"

#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX512_KERNEL 1
#endif

#define MR 14
#define B_PREFETCH 16
#define NR CXR_GEMM_MAX_WIDTH
#define KC CXR_GEMM_KC
#define MC (MR * 24)
#define NC (NR * 64)
/* The deepest block of K of a product that reads B in place
 * (_cxr_gemm_depth()) */
#define DEEP_KC 4608

/* The address of element i along one axis of an operand: blocks of
 * @block elements, @block_stride apart, elements @stride apart inside a
 * block. A plain axis is one block. */
static inline gint64
axis_offset (const CxrGemmAxis *axis, gint64 i)
{
  if (axis->block == 0)
    return i * axis->stride;
  return (i / axis->block) * axis->block_stride + (i % axis->block) * axis->stride;
}

/**
 * _cxr_gemm_axis_plain:
 *
 * One axis of @stride without blocks.
 */
CxrGemmAxis
_cxr_gemm_axis_plain (gint64 stride)
{
  return (CxrGemmAxis) { stride, 0, 0 };
}

CxrGemmAxis
_cxr_gemm_axis_blocked (gint64 stride, gint64 block, gint64 block_stride)
{
  return (CxrGemmAxis) { stride, block, block_stride };
}

/* A strided operand: dst[kk * width + o] = data[outer(o0 + o) + inner(k0 + kk)],
 * zeros past @n_outer. When the panel's outer elements lie side by side
 * (outer stride 1, inside one block), each kk copies them as one run. */
static void
pack_strided (const CxrGemmOperand *op, gint64 o0, gint64 k0, gint64 n_outer, gint64 kc, gint64 width,
              gfloat *dst)
{
  gint64 outer[NR > MR ? NR : MR];
  gboolean contiguous = op->outer.stride == 1;

  for (gint64 o = 0; o < n_outer; o++)
    {
      outer[o] = axis_offset (&op->outer, o0 + o);
      if (o > 0 && outer[o] != outer[o - 1] + 1)
        contiguous = FALSE;
    }
  for (gint64 kk = 0; kk < kc; kk++)
    {
      const gfloat *src = op->data + axis_offset (&op->inner, k0 + kk);
      gfloat *d = dst + kk * width;
      if (contiguous)
        memcpy (d, src + outer[0], (gsize) n_outer * sizeof (gfloat));
      else
        for (gint64 o = 0; o < n_outer; o++)
          d[o] = src[outer[o]];
      for (gint64 o = n_outer; o < width; o++)
        d[o] = 0.0f;
    }
}

/**
 * _cxr_gemm_operand_strided:
 * @data: the elements
 * @outer: the axis of M (for A) or N (for B)
 * @inner: the axis of K
 *
 * An operand read from memory through two axes.
 */
CxrGemmOperand
_cxr_gemm_operand_strided (const gfloat *data, CxrGemmAxis outer, CxrGemmAxis inner)
{
  return (CxrGemmOperand) { .pack = pack_strided, .data = data, .outer = outer, .inner = inner };
}

/* ------------------------------------------------------------ kernel */

static gboolean
gemm_decide (void)
{
  const gchar *choice = g_getenv ("CXRGEN_GEMM");

  if (choice && g_str_equal (choice, "openblas"))
    return FALSE;
#ifdef HAVE_AVX512_KERNEL
  __builtin_cpu_init ();
  return __builtin_cpu_supports ("avx512f") != 0;
#else
  return FALSE;
#endif
}

/**
 * _cxr_gemm_available:
 *
 * Returns: whether _cxr_gemm() runs here: the CPU has AVX-512 and the
 *   environment does not ask for OpenBLAS (CXRGEN_GEMM=openblas)
 */
gboolean
_cxr_gemm_available (void)
{
  static gsize decided = 0;
  static gboolean available;

  if (g_once_init_enter (&decided))
    {
      available = gemm_decide ();
      g_once_init_leave (&decided, 1);
    }
  return available;
}

/**
 * cxr_get_matrix_kernel:
 *
 * Which code multiplies the matrices of convolutions and linear layers on
 * the CPU: "avx512", the engine's own kernel, on a CPU with AVX-512
 * unless the environment sets CXRGEN_GEMM=openblas; else "openblas",
 * OpenBLAS's sgemm with the kernels it chose (or OPENBLAS_CORETYPE named).
 * Products of 64 rows or fewer (decoding a token at a time) and the
 * attention's small products per thread always run on OpenBLAS.
 *
 * Returns: (transfer none): "avx512" or "openblas"
 */
const gchar *
cxr_get_matrix_kernel (void)
{
  return _cxr_gemm_available () ? "avx512" : "openblas";
}

/* Inside an OpenMP loop already (a product per thread): _cxr_gemm()
 * would run on one thread with buffers of its own, so such callers keep
 * OpenBLAS. */
gboolean
_cxr_in_parallel (void)
{
#ifdef _OPENMP
  return omp_in_parallel () != 0;
#else
  return FALSE;
#endif
}

#ifdef HAVE_AVX512_KERNEL
/* c[mr x NR] (row stride ldc) = (accumulate ? c : 0) + an A panel times a
 * B panel over kc (+ bias[r] on row r when @bias is given), for mr <= MR rows (the last panel of a block of rows,
 * when the rows do not fill it, takes the kernel of its own height). The
 * A panel is packed (column kk at a + kk * MR, whatever mr) or, when @a_ld
 * is not 0, read in place from rows @a_ld apart; the B panel is packed
 * (row kk at b + kk * NR) or, when @b_rows is given, read in place (row
 * kk at b + b_rows[kk]). */
__attribute__ ((target ("avx512f"), always_inline)) static inline void
kernel_body (gint64 kc, const gfloat *restrict a, gint64 a_ld, const gfloat *restrict b,
             const gint64 *restrict b_rows, gfloat *restrict c, gint64 ldc, gboolean accumulate,
             const gfloat *restrict bias, const gint mr)
{
  __m512 acc0[MR], acc1[MR];

#pragma GCC unroll 14
  for (gint r = 0; r < mr; r++)
    {
      /* the tile of C arrives while the products run */
      _mm_prefetch ((const char *) (c + r * ldc), _MM_HINT_T0);
      _mm_prefetch ((const char *) (c + r * ldc + 16), _MM_HINT_T0);
      acc0[r] = bias ? _mm512_set1_ps (bias[r]) : _mm512_setzero_ps ();
      acc1[r] = acc0[r];
    }
  for (gint64 kk = 0; kk < kc; kk++)
    {
      const gfloat *br = b_rows ? b + b_rows[kk] : b + kk * NR;
      /* rows read in place lie anywhere in a large image: ask for the
       * one B_PREFETCH steps ahead, which the hardware cannot guess */
      if (b_rows && kk + B_PREFETCH < kc)
        {
          _mm_prefetch ((const char *) (b + b_rows[kk + B_PREFETCH]), _MM_HINT_T0);
          _mm_prefetch ((const char *) (b + b_rows[kk + B_PREFETCH] + 16), _MM_HINT_T0);
        }
      __m512 b0 = _mm512_loadu_ps (br), b1 = _mm512_loadu_ps (br + 16);
#pragma GCC unroll 14
      for (gint r = 0; r < mr; r++)
        {
          __m512 ar = _mm512_set1_ps (a_ld ? a[r * a_ld] : a[r]);
          acc0[r] = _mm512_fmadd_ps (ar, b0, acc0[r]);
          acc1[r] = _mm512_fmadd_ps (ar, b1, acc1[r]);
        }
      a += a_ld ? 1 : MR;
    }
#pragma GCC unroll 14
  for (gint r = 0; r < mr; r++)
    {
      gfloat *cr = c + r * ldc;
      if (accumulate)
        {
          acc0[r] = _mm512_add_ps (acc0[r], _mm512_loadu_ps (cr));
          acc1[r] = _mm512_add_ps (acc1[r], _mm512_loadu_ps (cr + 16));
        }
      _mm512_storeu_ps (cr, acc0[r]);
      _mm512_storeu_ps (cr + 16, acc1[r]);
    }
}

/* The kernel of height mr, compiled once for each way of reading A and B,
 * so that none of the four tests a pointer inside its loop. */
#define DEFINE_KERNEL(mr)                                                                                     \
  __attribute__ ((target ("avx512f"))) static void kernel_##mr (gint64 kc, const gfloat *a, gint64 a_ld,      \
                                                                const gfloat *b, const gint64 *b_rows,        \
                                                                gfloat *c, gint64 ldc, gboolean accumulate,   \
                                                                const gfloat *bias)                           \
  {                                                                                                           \
    if (a_ld && b_rows)                                                                                       \
      kernel_body (kc, a, a_ld, b, b_rows, c, ldc, accumulate, bias, mr);                                     \
    else if (a_ld)                                                                                            \
      kernel_body (kc, a, a_ld, b, NULL, c, ldc, accumulate, bias, mr);                                       \
    else if (b_rows)                                                                                          \
      kernel_body (kc, a, 0, b, b_rows, c, ldc, accumulate, bias, mr);                                        \
    else                                                                                                      \
      kernel_body (kc, a, 0, b, NULL, c, ldc, accumulate, bias, mr);                                          \
  }
DEFINE_KERNEL (2)
DEFINE_KERNEL (4)
DEFINE_KERNEL (6)
DEFINE_KERNEL (8)
DEFINE_KERNEL (10)
DEFINE_KERNEL (12)
DEFINE_KERNEL (14)
#undef DEFINE_KERNEL

G_STATIC_ASSERT (MR == 14);

/* The height of kernel that a panel of @rows valid rows runs: an even
 * number (the channel counts of the mission's networks leave even tails:
 * 128 = 9 x 14 + 2, 256 = 18 x 14 + 4, 512 and SD's 320 in blocks of 336
 * rows leave 8 and 12), so the work a tail wastes is at most one row. */
static inline gint
kernel_height (gint64 rows)
{
  return rows >= MR ? MR : (gint) ((rows + 1) & ~1);
}

static void
kernel (gint64 kc, const gfloat *a, gint64 a_ld, const gfloat *b, const gint64 *b_rows, gfloat *c, gint64 ldc,
        gboolean accumulate, const gfloat *bias, gint mr)
{
  switch (mr)
    {
    case 2: kernel_2 (kc, a, a_ld, b, b_rows, c, ldc, accumulate, bias); break;
    case 4: kernel_4 (kc, a, a_ld, b, b_rows, c, ldc, accumulate, bias); break;
    case 6: kernel_6 (kc, a, a_ld, b, b_rows, c, ldc, accumulate, bias); break;
    case 8: kernel_8 (kc, a, a_ld, b, b_rows, c, ldc, accumulate, bias); break;
    case 10: kernel_10 (kc, a, a_ld, b, b_rows, c, ldc, accumulate, bias); break;
    case 12: kernel_12 (kc, a, a_ld, b, b_rows, c, ldc, accumulate, bias); break;
    default: kernel_14 (kc, a, a_ld, b, b_rows, c, ldc, accumulate, bias); break;
    }
}
#endif

/* One tile of C at (m0, n0) with @rows x @cols valid, plus @bias (of the
 * tile's first row) when given: straight into C when its kernel's height
 * is @rows and its columns are whole and inside one block, else through a
 * scratch tile. */
static void
tile (gint64 kc, const gfloat *ap, gint64 a_ld, const gfloat *bp, const gint64 *b_rows, gfloat *c,
      const CxrGemmAxis *c_rows, const CxrGemmAxis *c_cols, gint64 m0, gint64 n0, gint64 rows, gint64 cols,
      gboolean accumulate, const gfloat *bias)
{
#ifdef HAVE_AVX512_KERNEL
  gint64 first = axis_offset (c_cols, n0);
  gint mr = kernel_height (rows);
  if (rows == mr && cols == NR && c_cols->stride == 1 && axis_offset (c_cols, n0 + NR - 1) == first + NR - 1)
    {
      kernel (kc, ap, a_ld, bp, b_rows, c + axis_offset (c_rows, m0) + first, c_rows->stride, accumulate, bias,
              mr);
      return;
    }
  {
    /* (the bias is added here: the kernel's height may pass its end) */
    gfloat scratch[MR * NR] __attribute__ ((aligned (64)));
    kernel (kc, ap, a_ld, bp, b_rows, scratch, NR, FALSE, NULL, mr);
    for (gint64 r = 0; r < rows; r++)
      {
        gfloat *cr = c + axis_offset (c_rows, m0 + r), shift = bias ? bias[r] : 0.0f;
        for (gint64 j = 0; j < cols; j++)
          {
            gfloat *e = cr + axis_offset (c_cols, n0 + j);
            *e = (accumulate ? *e : 0.0f) + scratch[r * NR + j] + shift;
          }
      }
  }
#else
  g_assert_not_reached ();
#endif
}

/* Whether a product in deep blocks of @kb would read less from beyond L2
 * with panels of A outer than with tiles of B outer. In a deep block
 * neither a panel of A nor a tile of B fits in L1: tiles outer reads A's
 * block once per tile of a block of columns, panels outer reads B's data
 * for the block of columns (at most what packing it would hold, at most
 * the span of memory its rows reach) once per panel; what fits in L2 is
 * read again from there. */
static gboolean
panels_first (gint64 m, gint64 n, gint64 k, gint64 kb, const CxrGemmOperand *b)
{
  const gdouble l2 = 1 << 20;
  gint64 nc = MIN (n, NC), lo = G_MAXINT64, hi = 0;
  gdouble a_bytes = 4.0 * m * kb, b_bytes = 4.0 * kb * nc, tiles_cost, panels_cost;

  for (gint64 i = 0; i < k; i++)
    {
      lo = MIN (lo, b->rows[i]);
      hi = MAX (hi, b->rows[i]);
    }
  b_bytes = MIN (b_bytes, 4.0 * (hi - lo + axis_offset (&b->outer, nc - 1) + NR));
  tiles_cost = (a_bytes > l2 ? a_bytes : 0) * ((nc + NR - 1) / NR);
  panels_cost = (b_bytes > l2 ? b_bytes : 0) * ((m + MR - 1) / MR);
  return panels_cost < tiles_cost;
}

/**
 * _cxr_gemm_depth:
 * @m, @n, @k: the product's sizes
 * @b: its B
 *
 * The depth of the blocks of K a product runs in when A is prepacked or
 * read in place. Each block of K reads and writes the tiles of C once
 * more, and a tile of B of KC rows (256) stays in L1 while the panels of
 * A pass (tiles outer: the BLIS order). When B is read in place (a
 * convolution's taps) and all of A would pass many times through L2
 * (SD's 1280-channel weights: 59 MB), the product runs instead in the
 * whole of K, or equal blocks of at most DEEP_KC, each panel of A staying
 * in L2 while B's tiles pass (panels outer): A is read once and C written
 * once. SD's convolutions at 32x32, 16x16 and 8x8 ran 5-30% faster; the
 * VAE's at 128x128 and 256x256 (images of 17-68 MB, weights of 0.6-4.7
 * MB) keep the BLIS order.
 *
 * Returns: the depth, KC or more; a prepacked A is packed in blocks of it
 */
gint64
_cxr_gemm_depth (gint64 m, gint64 n, gint64 k, const CxrGemmOperand *b)
{
  gint64 n_blocks = (k + DEEP_KC - 1) / DEEP_KC, deep = (k + n_blocks - 1) / n_blocks;

  if (k <= KC || b->rows == NULL || !panels_first (m, n, k, deep, b))
    return KC;
  return deep;
}

/**
 * _cxr_gemm_pack_a:
 * @m, @k: A's sizes
 * @depth: the depth of the product's blocks of K (_cxr_gemm_depth())
 * @a: A
 *
 * Packs all of A once, for products that share it (a convolution's
 * weights, for each image of the batch) and read B in place; an operand
 * whose @packed is the tensor's data, and @packed_depth @depth, reads the
 * panels as they are. The tensor comes from the block cache, as do
 * _cxr_gemm()'s own buffers, so a step that multiplies the same sizes
 * again faults in no fresh pages.
 *
 * Returns: (transfer full): the packed panels
 */
CxrTensor *
_cxr_gemm_pack_a (gint64 m, gint64 k, gint64 depth, const CxrGemmOperand *a)
{
  gint64 n_panels = (m + MR - 1) / MR, m_pad = n_panels * MR, n_blocks = (k + depth - 1) / depth;
  CxrTensor *packed_t = _cxr_tensor_new_uninitialized (CXR_DTYPE_F32, (const gint64[]) { m_pad * k }, 1);
  gfloat *packed = _cxr_f32 (packed_t);

  /* block pc at pc * m_pad, its panel p at p * MR * kc inside */
#pragma omp parallel for collapse(2) schedule(static)
  for (gint64 blk = 0; blk < n_blocks; blk++)
    for (gint64 p = 0; p < n_panels; p++)
      {
        gint64 pc = blk * depth, kc = MIN (depth, k - pc);
        a->pack (a, p * MR, pc, MIN (MR, m - p * MR), kc, MR, packed + pc * m_pad + p * MR * kc);
      }
  return packed_t;
}

/**
 * _cxr_gemm:
 * @m, @n, @k: the sizes
 * @a: A [m, k], packed by its own rule
 * @b: B [k, n]
 * @c: C's first element
 * @c_rows: C's axis of m
 * @c_cols: C's axis of n (its stride must be 1 inside a block)
 * @accumulate: C += A B instead of C = A B
 *
 * C = A B (or C += A B), plus A's row_bias when set, on the AVX-512
 * kernel; callers check _cxr_gemm_available() first. A prepacked A
 * names the depth it was packed in (packed_depth). The work is counted
 * in the flop count.
 */
void
_cxr_gemm (gint64 m, gint64 n, gint64 k, const CxrGemmOperand *a, const CxrGemmOperand *b, gfloat *c,
           CxrGemmAxis c_rows, CxrGemmAxis c_cols, gboolean accumulate)
{
  g_autoptr (CxrTensor) apack_t = NULL;
  g_autoptr (CxrTensor) bpack_t = NULL;
  g_autoptr (CxrTensor) tail_t = NULL;
  gfloat *apack = NULL, *bpack = NULL, *tail = NULL;

  g_return_if_fail (_cxr_gemm_available ());
  g_return_if_fail (a->packed == NULL || a->packed_depth > 0);
  __atomic_fetch_add (&_cxr_flops, 2 * (guint64) m * (guint64) n * (guint64) k, __ATOMIC_RELAXED);
  if (m == 0 || n == 0)
    return;
  if (k == 0)
    {
      for (gint64 r = 0; r < m; r++)
        for (gint64 j = 0; j < n; j++)
          {
            gfloat *e = c + axis_offset (&c_rows, r) + axis_offset (&c_cols, j);
            *e = (accumulate ? *e : 0.0f) + (a->row_bias ? a->row_bias[r] : 0.0f);
          }
      return;
    }
  {
    gint64 m_block = MIN (MC, (m + MR - 1) / MR * MR), n_block = MIN (NC, (n + NR - 1) / NR * NR);
    /* two of each buffer: a thread packs the next step's panels while the
     * other may still be multiplying the last step's, so the threads meet
     * once per step, when the packing is done */
    gint64 m_pad = (m + MR - 1) / MR * MR;
    /* With a narrow B (at most two tiles of columns: a convolution at 4x4
     * or 8x8), each element of A serves one or two tiles, and packing it
     * costs as much as the products: a plain row-major A is then read in
     * place, rows a_ld apart. */
    gboolean a_in_place = a->packed == NULL && a->pack == pack_strided && a->inner.stride == 1 &&
                          a->inner.block == 0 && a->outer.block == 0 && (n <= 2 * NR || a->in_place);
    /* read in place, A's last panel, if partial, is packed once for the
     * whole product (the kernel reads whole panels), so that no step
     * packs A: a step that packs nothing needs no meeting of the threads */
    gint64 tail_rows = a_in_place ? m % MR : 0;
    /* a block of K deeper than KC runs with the panels of A outer */
    gint64 kb = a->packed ? a->packed_depth : a_in_place ? _cxr_gemm_depth (m, n, k, b) : KC;
    gboolean panels_outer = kb > KC;
    if (tail_rows)
      {
        tail_t = _cxr_tensor_new_uninitialized (CXR_DTYPE_F32, (const gint64[]) { MR * k }, 1);
        tail = _cxr_f32 (tail_t);
        for (gint64 pc = 0; pc < k; pc += kb)
          a->pack (a, m - tail_rows, pc, tail_rows, MIN (kb, k - pc), MR, tail + pc * MR);
      }
    if (a->packed == NULL && !a_in_place)
      {
        apack_t = _cxr_tensor_new_uninitialized (CXR_DTYPE_F32, (const gint64[]) { 2 * m_block * kb }, 1);
        apack = _cxr_f32 (apack_t);
      }
    if (b->rows == NULL)
      {
        bpack_t = _cxr_tensor_new_uninitialized (CXR_DTYPE_F32, (const gint64[]) { 2 * n_block * kb }, 1);
        bpack = _cxr_f32 (bpack_t);
      }
#pragma omp parallel
    {
      guint step = 0, b_packs = 0;
      for (gint64 jc = 0; jc < n; jc += NC)
        {
          gint64 nc = MIN (NC, n - jc), n_tiles = (nc + NR - 1) / NR;
          for (gint64 pc = 0; pc < k; pc += kb)
            {
              gint64 kc = MIN (kb, k - pc);
              gboolean acc = accumulate || pc > 0;
              gfloat *bbuf = bpack ? bpack + (b_packs++ % 2) * n_block * kb : NULL;
              for (gint64 ic = 0; ic < m; ic += MC)
                {
                  gint64 mc = MIN (MC, m - ic), n_panels = (mc + MR - 1) / MR;
                  gint64 b_tiles = (bbuf && ic == 0) ? n_tiles : 0;
                  /* panels to pack: all, or none (packed before, or read
                   * in place) */
                  gint64 a_panels = a->packed || a_in_place ? 0 : n_panels;
                  const gfloat *abuf = a->packed ? a->packed + pc * m_pad + ic * kc
                                       : apack ? apack + (step++ % 2) * m_block * kb : NULL;
                  /* Nothing to pack (both operands read in place, or
                   * prepacked): no meeting at all, which costs a futex
                   * wake-up per step with passive waits. A packs in every
                   * step or in none, and B in the first step of each K
                   * block, so a buffer is packed again only after a
                   * meeting that every reader of its last use came to. */
                  if (b_tiles + a_panels > 0)
                    {
#pragma omp for schedule(static)
                      for (gint64 q = 0; q < b_tiles + a_panels; q++)
                        if (q < b_tiles)
                          b->pack (b, jc + q * NR, pc, MIN (NR, nc - q * NR), kc, NR, bbuf + q * NR * kc);
                        else
                          {
                            gint64 p = q - b_tiles;
                            a->pack (a, ic + p * MR, pc, MIN (MR, mc - p * MR), kc, MR,
                                     (gfloat *) abuf + p * MR * kc);
                          }
                    }
                  /* the same thread gets the same tiles of C at every step,
                   * so no one else touches them in the meantime */
#pragma omp for schedule(static) nowait
                  for (gint64 q = 0; q < n_tiles * n_panels; q++)
                    {
                      gint64 t = panels_outer ? q % n_tiles : q / n_panels;
                      gint64 p = panels_outer ? q / n_tiles : q % n_panels;
                      gboolean is_tail = tail && ic + p * MR == m - tail_rows;
                      gboolean in_place = a_in_place && !is_tail;
                      tile (kc,
                            in_place  ? a->data + (ic + p * MR) * a->outer.stride + pc
                            : is_tail ? tail + pc * MR
                                      : abuf + p * MR * kc,
                            in_place ? a->outer.stride : 0,
                            bbuf ? bbuf + t * NR * kc : b->data + axis_offset (&b->outer, jc + t * NR),
                            bbuf ? NULL : b->rows + pc, c, &c_rows, &c_cols, ic + p * MR, jc + t * NR,
                            MIN (MR, mc - p * MR), MIN (NR, nc - t * NR), acc,
                            a->row_bias && pc == 0 ? a->row_bias + ic + p * MR : NULL);
                    }
                }
            }
        }
    }
  }
}
