/* core/tensor/cpu/conv.c: conv2d (the engine's own product with implicit im2col,
 * or im2col + OpenBLAS sgemm), nearest upsampling, bilinear resizing,
 * average, max and adaptive average pooling, forward and backward.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxr-ops-private.h"

#include <string.h>

typedef struct {
  gint64 n, c, h, w;       /* input */
  gint64 co, kh, kw;       /* weight [co, c, kh, kw] */
  gint64 stride, pad_h, pad_w;
  gint64 ho, wo;           /* output */
} ConvDims;

/* col[(c * kh + i) * kw + j][y * wo + x] = input[c][y*s - ph + i][x*s - pw + j] */
static void
im2col (const ConvDims *d, const gfloat *img, gfloat *col)
{
  gint64 rows = d->c * d->kh * d->kw, hw = d->ho * d->wo;

#pragma omp parallel for schedule(static) if (rows * hw > 65536)
  for (gint64 r = 0; r < rows; r++)
    {
      gint64 ch = r / (d->kh * d->kw), i = (r / d->kw) % d->kh, j = r % d->kw;
      gfloat *out = col + r * hw;
      for (gint64 y = 0; y < d->ho; y++)
        {
          gint64 iy = y * d->stride - d->pad_h + i;
          for (gint64 x = 0; x < d->wo; x++)
            {
              gint64 ix = x * d->stride - d->pad_w + j;
              out[y * d->wo + x] = (iy >= 0 && iy < d->h && ix >= 0 && ix < d->w)
                                     ? img[(ch * d->h + iy) * d->w + ix] : 0.0f;
            }
        }
    }
}

/* The adjoint of im2col: scatter-add columns back into the image. Each
 * thread owns whole channels, so there are no races. */
static void
col2im (const ConvDims *d, const gfloat *col, gfloat *img)
{
  gint64 hw = d->ho * d->wo;

#pragma omp parallel for schedule(static) if (d->c * d->kh * d->kw * hw > 65536)
  for (gint64 ch = 0; ch < d->c; ch++)
    for (gint64 i = 0; i < d->kh; i++)
      for (gint64 j = 0; j < d->kw; j++)
        {
          const gfloat *in = col + ((ch * d->kh + i) * d->kw + j) * hw;
          for (gint64 y = 0; y < d->ho; y++)
            {
              gint64 iy = y * d->stride - d->pad_h + i;
              if (iy < 0 || iy >= d->h)
                continue;
              for (gint64 x = 0; x < d->wo; x++)
                {
                  gint64 ix = x * d->stride - d->pad_w + j;
                  if (ix >= 0 && ix < d->w)
                    img[(ch * d->h + iy) * d->w + ix] += in[y * d->wo + x];
                }
            }
        }
}

/* ------------------------------------------------------------ implicit im2col */

/* The convolution's matrix of taps, never written out: element (kidx,
 * pixel) = input[img][ch][y * s - ph + i][x * s - pw + j] for kernel tap
 * kidx = (ch, i, j) and output pixel = (img, y, x) of the whole batch,
 * zero in the padding. The two pack rules read it with pixels along the
 * outer axis (B of the forward product) or along K (B of the weight
 * gradient). */

typedef struct {
  gint64 base, y0, x0, len; /* a run of output pixels in one row: image offset, first tap's y, x */
} PixelRun;

static gint64
pixel_runs (const ConvDims *d, gint64 n0, gint64 count, PixelRun *runs)
{
  gint64 hw = d->ho * d->wo, n_runs = 0;

  for (gint64 o = 0; o < count;)
    {
      gint64 n = n0 + o, img = n / hw, p = n % hw, y = p / d->wo, x = p % d->wo;
      gint64 len = d->stride == 1 ? MIN (count - o, d->wo - x) : 1;
      runs[n_runs++] = (PixelRun) { img * d->c * d->h * d->w, y * d->stride - d->pad_h, x * d->stride - d->pad_w, len };
      o += len;
    }
  return n_runs;
}

static void
pack_taps_by_pixel (const CxrGemmOperand *op, gint64 o0, gint64 k0, gint64 n_outer, gint64 kc, gint64 width,
                    gfloat *dst)
{
  const ConvDims *d = op->user_data;
  PixelRun runs[CXR_GEMM_MAX_WIDTH];
  gint64 n_runs = pixel_runs (d, o0, n_outer, runs);
  gint64 ch = k0 / (d->kh * d->kw), i = (k0 / d->kw) % d->kh, j = k0 % d->kw;

  g_assert (n_outer <= CXR_GEMM_MAX_WIDTH);
  for (gint64 kk = 0; kk < kc; kk++)
    {
      const gfloat *plane = op->data + ch * d->h * d->w;
      gfloat *out = dst + kk * width;
      for (gint64 r = 0; r < n_runs; r++)
        {
          const PixelRun *run = &runs[r];
          gint64 iy = run->y0 + i, ix = run->x0 + j;
          if (iy < 0 || iy >= d->h)
            memset (out, 0, (gsize) run->len * sizeof (gfloat));
          else
            {
              /* the taps inside the row: o in [lo, hi) */
              const gfloat *row = plane + run->base + iy * d->w;
              gint64 lo = CLAMP (-ix, 0, run->len), hi = CLAMP (d->w - ix, lo, run->len);
              for (gint64 o = 0; o < lo; o++)
                out[o] = 0.0f;
              memcpy (out + lo, row + ix + lo, (gsize) (hi - lo) * sizeof (gfloat));
              for (gint64 o = hi; o < run->len; o++)
                out[o] = 0.0f;
            }
          out += run->len;
        }
      for (gint64 o = n_outer; o < width; o++)
        dst[kk * width + o] = 0.0f;
      if (++j == d->kw)
        {
          j = 0;
          if (++i == d->kh)
            {
              i = 0;
              ch++;
            }
        }
    }
}

static void
pack_taps_by_tap (const CxrGemmOperand *op, gint64 o0, gint64 k0, gint64 n_outer, gint64 kc, gint64 width,
                  gfloat *dst)
{
  const ConvDims *d = op->user_data;
  gint64 plane[CXR_GEMM_MAX_WIDTH], ti[CXR_GEMM_MAX_WIDTH], tj[CXR_GEMM_MAX_WIDTH];
  PixelRun runs[CXR_GEMM_KC];
  gint64 n_runs = pixel_runs (d, k0, kc, runs);

  g_assert (n_outer <= CXR_GEMM_MAX_WIDTH && kc <= CXR_GEMM_KC);
  for (gint64 o = 0; o < n_outer; o++)
    {
      gint64 t = o0 + o;
      plane[o] = (t / (d->kh * d->kw)) * d->h * d->w;
      ti[o] = (t / d->kw) % d->kh;
      tj[o] = t % d->kw;
    }
  for (gint64 r = 0; r < n_runs; r++)
    {
      const PixelRun *run = &runs[r];
      for (gint64 q = 0; q < run->len; q++)
        {
          for (gint64 o = 0; o < n_outer; o++)
            {
              gint64 iy = run->y0 + ti[o], ix = run->x0 + q * d->stride + tj[o];
              dst[o] = (iy >= 0 && iy < d->h && ix >= 0 && ix < d->w)
                         ? op->data[run->base + plane[o] + iy * d->w + ix] : 0.0f;
            }
          for (gint64 o = n_outer; o < width; o++)
            dst[o] = 0.0f;
          dst += width;
        }
    }
}

/* As pack_taps_by_tap, for stride 1, from a copy of the batch padded as
 * the forward pass pads each image (op->data: n images of c planes hp x
 * wp): no bounds to check, each tap of a run of pixels a row of the
 * padded plane. */
static void
pack_taps_by_tap_padded (const CxrGemmOperand *op, gint64 o0, gint64 k0, gint64 n_outer, gint64 kc,
                         gint64 width, gfloat *dst)
{
  const ConvDims *d = op->user_data;
  gint64 hp = d->h + 2 * d->pad_h, wp = d->w + 2 * d->pad_w, hw = d->ho * d->wo;
  gint64 tap[CXR_GEMM_MAX_WIDTH];

  g_assert (n_outer <= CXR_GEMM_MAX_WIDTH && d->stride == 1);
  for (gint64 o = 0; o < n_outer; o++)
    {
      gint64 t = o0 + o;
      tap[o] = (t / (d->kh * d->kw)) * hp * wp + ((t / d->kw) % d->kh) * wp + t % d->kw;
    }
  for (gint64 q0 = 0; q0 < kc;)
    {
      /* a run of pixels along one output row */
      gint64 n = k0 + q0, img = n / hw, y = (n % hw) / d->wo, x = n % d->wo, len = MIN (kc - q0, d->wo - x);
      const gfloat *base = op->data + img * d->c * hp * wp + y * wp + x;
      for (gint64 q = 0; q < len; q++)
        {
          for (gint64 o = 0; o < n_outer; o++)
            dst[o] = base[tap[o] + q];
          for (gint64 o = n_outer; o < width; o++)
            dst[o] = 0.0f;
          dst += width;
        }
      q0 += len;
    }
}

/* Copies image @img of @x into @padded (c planes of hp x wp), zero
 * borders, in one pass. */
static void
pad_image (const ConvDims *d, const gfloat *x, gint64 img, gfloat *padded)
{
  gint64 hp = d->h + 2 * d->pad_h, wp = d->w + 2 * d->pad_w;
  const gfloat *xi = x + img * d->c * d->h * d->w;

#pragma omp parallel for schedule(static) if (d->c * d->h * d->w > 65536)
  for (gint64 ch = 0; ch < d->c; ch++)
    {
      gfloat *plane = padded + ch * hp * wp;
      memset (plane, 0, (gsize) (d->pad_h * wp) * sizeof (gfloat));
      for (gint64 r = 0; r < d->h; r++)
        {
          gfloat *row = plane + (r + d->pad_h) * wp;
          for (gint64 c = 0; c < d->pad_w; c++)
            row[c] = row[d->pad_w + d->w + c] = 0.0f;
          memcpy (row + d->pad_w, xi + (ch * d->h + r) * d->w, (gsize) d->w * sizeof (gfloat));
        }
      memset (plane + (d->h + d->pad_h) * wp, 0, (gsize) ((hp - d->h - d->pad_h) * wp) * sizeof (gfloat));
    }
}

static gboolean
is_pointwise (const ConvDims *d)
{
  return d->kh == 1 && d->kw == 1 && d->stride == 1 && d->pad_h == 0 && d->pad_w == 0;
}

static void
conv_dims_init (ConvDims *d, CxrTensor *x, CxrTensor *w, gint64 stride, gint64 pad_h, gint64 pad_w)
{
  d->n = cxr_tensor_get_dim (x, 0);
  d->c = cxr_tensor_get_dim (x, 1);
  d->h = cxr_tensor_get_dim (x, 2);
  d->w = cxr_tensor_get_dim (x, 3);
  d->co = cxr_tensor_get_dim (w, 0);
  d->kh = cxr_tensor_get_dim (w, 2);
  d->kw = cxr_tensor_get_dim (w, 3);
  d->stride = stride;
  d->pad_h = pad_h;
  d->pad_w = pad_w;
  d->ho = (d->h + 2 * d->pad_h - d->kh) / d->stride + 1;
  d->wo = (d->w + 2 * d->pad_w - d->kw) / d->stride + 1;
}

static void
conv_dims_from_node (CxrNode *node, ConvDims *d)
{
  conv_dims_init (d, g_ptr_array_index (node->in, 0), g_ptr_array_index (node->in, 1), node->i[0],
                  node->i[1], node->i[2]);
}

/* y (+)= conv (x, w) on the engine's own product: A = the weights [co, K],
 * B = the taps of the whole batch, C = y [n][co][hw]. */
/* The weights of the input gradient's convolution, read from the forward
 * convolution's own (op->user_data its dims) as pack_strided reads a
 * matrix: row ci, column (o, i, j) is w[o][ci][kh-1-i][kw-1-j], the kernel
 * flipped and its channels swapped, without a flipped copy (which wrote
 * every weight of the network once per step, scattered). */
static void
pack_weights_flipped (const CxrGemmOperand *op, gint64 o0, gint64 k0, gint64 n_outer, gint64 kc, gint64 width,
                      gfloat *dst)
{
  const ConvDims *d = op->user_data;
  gint64 taps = d->kh * d->kw;

  for (gint64 kk = 0; kk < kc; kk++)
    {
      gint64 col = k0 + kk, o = col / taps, tap = col % taps;
      const gfloat *src = op->data + (o * d->c + o0) * taps + (taps - 1 - tap);
      gfloat *out = dst + kk * width;
      for (gint64 r = 0; r < n_outer; r++)
        out[r] = src[r * taps];
      for (gint64 r = n_outer; r < width; r++)
        out[r] = 0.0f;
    }
}

/* y = conv(x) with the weights as the operand @w_op (plain: row-major
 * [co, c * kh * kw], which may then be read in place). */
static void
conv_forward_gemm_with (const ConvDims *d, const gfloat *x, const CxrGemmOperand *w_op, gboolean plain,
                        const gfloat *bias, gfloat *y, gboolean accumulate)
{
  gint64 k = d->c * d->kh * d->kw, hw = d->ho * d->wo;
  CxrGemmOperand a = *w_op;
  CxrGemmOperand b = { .pack = pack_taps_by_pixel, .data = x, .user_data = d };

  if (d->stride == 1)
    {
      /* Each image padded once, its taps read in place: output pixel
       * (yy, xx) counted along the padded width, p = yy * wp + xx, under tap
       * (ch, i, j) reads padded[ch][yy + i][xx + j] = padded[rows[tap] + p].
       * When a tile of columns (32 pixels) stays inside an output row
       * (wo a multiple of 32: SD's 32x32 latents, the VAE's images), the
       * product takes only the real pixels, p = yy * wp + xx for xx < wo
       * (B's columns in blocks of wo, wp apart), one image at a time, and
       * writes the output itself. Otherwise (SD's 16x16 and 8x8 layers) it
       * computes the columns xx >= wo too, and up to a whole tile past the
       * image's last pixel, for all the images of the batch in one product
       * (B's columns in blocks of one image's, so the weights are read once
       * for the batch, not once per image: batch 2 of 1280 channels at 8x8
       * ran 1.38x PyTorch's time one image at a time) into a wide buffer,
       * and drops them when copying out. */
      gint64 hp = d->h + 2 * d->pad_h, wp = d->w + 2 * d->pad_w;
      gboolean rows_whole = d->wo % CXR_GEMM_MAX_WIDTH == 0;
      gint64 tile = CXR_GEMM_MAX_WIDTH, n_cols = rows_whole ? hw : (d->ho * wp + tile - 1) / tile * tile;
      gint64 n_padded = rows_whole ? 1 : d->n;
      g_autofree gint64 *rows = g_new (gint64, k);
      /* the dropped columns of an image's last row read up to kw - 1
       * floats past its planes, and to the end of their tile: up to a
       * whole tile further, zeroed once */
      gint64 planes = d->c * hp * wp, image_len = planes + d->kw + CXR_GEMM_MAX_WIDTH;
      g_autoptr (CxrTensor) padded_t =
        _cxr_tensor_new_uninitialized (CXR_DTYPE_F32, (const gint64[]) { n_padded * image_len }, 1);
      g_autoptr (CxrTensor) wide_t =
        rows_whole ? NULL
                   : _cxr_tensor_new_uninitialized (CXR_DTYPE_F32, (const gint64[]) { d->co * d->n * n_cols }, 1);
      gfloat *padded = _cxr_f32 (padded_t), *wide = wide_t ? _cxr_f32 (wide_t) : NULL;

      for (gint64 i = 0; i < n_padded; i++)
        memset (padded + i * image_len + planes, 0, (gsize) (image_len - planes) * sizeof (gfloat));
      for (gint64 t = 0; t < k; t++)
        rows[t] = (t / (d->kh * d->kw)) * hp * wp + ((t / d->kw) % d->kh) * wp + t % d->kw;
      /* the weights packed once for the batch, or read in place where each
       * serves at most 512 columns, 16 tiles (images up to 16x16 in a
       * batch of one; at 8x8 and 16x16 packing them cost more than it
       * saved: SD's 1280-channel convolution at 8x8 ran in 19-21 ms in
       * place, 27-40 ms packed) */
      gboolean weights_in_place = plain && d->n * n_cols <= 16 * CXR_GEMM_MAX_WIDTH;
      g_autoptr (CxrTensor) packed_w = NULL;

      b = (CxrGemmOperand) { .data = padded, .rows = rows,
                             .outer = rows_whole ? _cxr_gemm_axis_blocked (1, d->wo, wp)
                                                 : _cxr_gemm_axis_blocked (1, n_cols, image_len) };
      if (!weights_in_place)
        {
          a.packed_depth = _cxr_gemm_depth (d->co, rows_whole ? hw : d->n * n_cols, k, &b);
          packed_w = _cxr_gemm_pack_a (d->co, k, a.packed_depth, &a);
          a.packed = _cxr_f32 (packed_w);
        }
      a.in_place = weights_in_place;
      if (rows_whole)
        {
          for (gint64 img = 0; img < d->n; img++)
            {
              /* straight into the output, the bias added by the product */
              pad_image (d, x, img, padded);
              a.row_bias = bias;
              _cxr_gemm (d->co, hw, k, &a, &b, y + img * d->co * hw, _cxr_gemm_axis_plain (hw),
                         _cxr_gemm_axis_plain (1), accumulate);
            }
          return;
        }
      for (gint64 img = 0; img < d->n; img++)
        pad_image (d, x, img, padded + img * image_len);
      _cxr_gemm (d->co, d->n * n_cols, k, &a, &b, wide, _cxr_gemm_axis_plain (d->n * n_cols),
                 _cxr_gemm_axis_plain (1), FALSE);
#pragma omp parallel for collapse(2) schedule(static) if (d->n * d->co * hw > 65536)
      for (gint64 img = 0; img < d->n; img++)
        for (gint64 o = 0; o < d->co; o++)
          for (gint64 r = 0; r < d->ho; r++)
            {
              const gfloat *src = wide + (o * d->n + img) * n_cols + r * wp;
              gfloat *dst = y + ((img * d->co + o) * d->ho + r) * d->wo, shift = bias ? bias[o] : 0.0f;
              if (accumulate)
                for (gint64 c = 0; c < d->wo; c++)
                  dst[c] += src[c] + shift;
              else
                for (gint64 c = 0; c < d->wo; c++)
                  dst[c] = src[c] + shift;
            }
      return;
    }
  if (bias)
    {
#pragma omp parallel for schedule(static) if (d->n * d->co * hw > 65536)
      for (gint64 i = 0; i < d->n * d->co; i++)
        for (gint64 p = 0; p < hw; p++)
          y[i * hw + p] = (accumulate ? y[i * hw + p] : 0.0f) + bias[i % d->co];
      accumulate = TRUE;
    }
  _cxr_gemm (d->co, d->n * hw, k, &a, &b, y, _cxr_gemm_axis_plain (hw),
             _cxr_gemm_axis_blocked (1, hw, d->co * hw), accumulate);
}

static void
conv_forward_gemm (const ConvDims *d, const gfloat *x, const gfloat *w, const gfloat *bias, gfloat *y,
                   gboolean accumulate)
{
  gint64 k = d->c * d->kh * d->kw;
  CxrGemmOperand a = _cxr_gemm_operand_strided (w, _cxr_gemm_axis_plain (k), _cxr_gemm_axis_plain (1));

  conv_forward_gemm_with (d, x, &a, TRUE, bias, y, accumulate);
}

/* dw [co, K] += dy [co, pixels] taps [pixels, K], over the whole batch. */
static void
conv_weight_grad_gemm (const ConvDims *d, const gfloat *x, const gfloat *dy, gfloat *dw)
{
  gint64 k = d->c * d->kh * d->kw, hw = d->ho * d->wo;
  CxrGemmOperand a = _cxr_gemm_operand_strided (dy, _cxr_gemm_axis_plain (hw),
                                                _cxr_gemm_axis_blocked (1, hw, d->co * hw));
  CxrGemmOperand b = { .pack = pack_taps_by_tap, .data = x, .user_data = d };
  g_autoptr (CxrTensor) padded_t = NULL;

  if (d->stride == 1 && !is_pointwise (d))
    {
      /* the batch padded once: the taps are then plain rows of it */
      gint64 image = d->c * (d->h + 2 * d->pad_h) * (d->w + 2 * d->pad_w);
      gfloat *padded;
      padded_t = _cxr_tensor_new_uninitialized (CXR_DTYPE_F32, (const gint64[]) { d->n * image }, 1);
      padded = _cxr_f32 (padded_t);
      for (gint64 img = 0; img < d->n; img++)
        pad_image (d, x, img, padded + img * image);
      b = (CxrGemmOperand) { .pack = pack_taps_by_tap_padded, .data = padded, .user_data = d };
    }
  _cxr_gemm (d->co, k, d->n * hw, &a, &b, dw, _cxr_gemm_axis_plain (k), _cxr_gemm_axis_plain (1), TRUE);
}

/* Whether conv_input_grad_gemm() computes the input's gradient: stride 1
 * and padding less than the kernel, on the engine's own product. */
static gboolean
input_grad_by_gemm (const ConvDims *d)
{
  return _cxr_gemm_available () && d->stride == 1 && d->pad_h <= d->kh - 1 && d->pad_w <= d->kw - 1;
}

/* dx (+)= the transposed convolution of dy: a convolution of dy with the
 * kernel flipped and its channels swapped, padded by k-1-p; every element
 * of dx written, so a fresh gradient need not be zeroed first. */
static void
conv_input_grad_gemm (const ConvDims *d, const gfloat *w, const gfloat *dy, gfloat *dx, gboolean accumulate)
{
  CxrGemmOperand flipped = { .pack = pack_weights_flipped, .data = w, .user_data = d };
  ConvDims t;

  t = (ConvDims) { .n = d->n, .c = d->co, .h = d->ho, .w = d->wo, .co = d->c, .kh = d->kh, .kw = d->kw,
                   .stride = 1, .pad_h = d->kh - 1 - d->pad_h, .pad_w = d->kw - 1 - d->pad_w,
                   .ho = d->h, .wo = d->w };
  conv_forward_gemm_with (&t, dy, &flipped, FALSE, NULL, dx, accumulate);
}

static void
conv2d_backward (CxrNode *node)
{
  CxrTensor *x = g_ptr_array_index (node->in, 0), *w = g_ptr_array_index (node->in, 1);
  CxrTensor *b = g_ptr_array_index (node->in, 2);
  const gfloat *dy = _cxr_f32 (cxr_tensor_get_grad (node->out));
  gfloat *dx, *dw = _cxr_grad (w), *db = _cxr_grad (b);
  gboolean dx_by_gemm, dx_fresh = FALSE;
  ConvDims d;
  gint64 k, hw;
  g_autofree gfloat *col = NULL;

  conv_dims_from_node (node, &d);
  /* the input's gradient is often new here (the tape's first use of an
   * activation): written whole, it is not zeroed first (SD's 320-channel
   * convolution at batch 4: 5 MB zeroed and read back) */
  dx_by_gemm = input_grad_by_gemm (&d);
  dx = dx_by_gemm ? _cxr_grad_to_write (x, &dx_fresh) : _cxr_grad (x);
  k = d.c * d.kh * d.kw;
  hw = d.ho * d.wo;
  if (db)
    {
      /* per channel, over the batch: float sums of 64 added in double */
#pragma omp parallel for schedule(static) if (d.n * d.co * hw > 65536)
      for (gint64 o = 0; o < d.co; o++)
        {
          gdouble sum = 0;
          for (gint64 i = 0; i < d.n; i++)
            sum += _cxr_sum_blocks (dy + (i * d.co + o) * hw, hw);
          db[o] += (gfloat) sum;
        }
    }
  if (_cxr_gemm_available ())
    {
      if (dw)
        conv_weight_grad_gemm (&d, _cxr_f32 (x), dy, dw);
      dw = NULL;
      if (dx && dx_by_gemm)
        {
          conv_input_grad_gemm (&d, _cxr_f32 (w), dy, dx, !dx_fresh);
          dx = NULL;
        }
    }
  if (!is_pointwise (&d) && (dw || dx))
    col = g_new (gfloat, k * hw);
  for (gint64 i = 0; i < d.n; i++)
    {
      const gfloat *dyi = dy + i * d.co * hw;
      const gfloat *xi = _cxr_f32 (x) + i * d.c * d.h * d.w;
      if (dw)
        {
          const gfloat *cols = xi;
          if (col)
            {
              im2col (&d, xi, col);
              cols = col;
            }
          /* dw[co, k] += dy[co, hw] @ col[k, hw]^T */
          _cxr_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, (blasint) d.co, (blasint) k, (blasint) hw,
                       1.0f, dyi, (blasint) hw, cols, (blasint) hw, 1.0f, dw, (blasint) k);
        }
      if (dx)
        {
          gfloat *dxi = dx + i * d.c * d.h * d.w;
          /* dcol[k, hw] = w[co, k]^T @ dy[co, hw] */
          if (col == NULL)
            _cxr_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, (blasint) k, (blasint) hw, (blasint) d.co,
                         1.0f, _cxr_f32 (w), (blasint) k, dyi, (blasint) hw, 1.0f, dxi, (blasint) hw);
          else
            {
              _cxr_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, (blasint) k, (blasint) hw, (blasint) d.co,
                           1.0f, _cxr_f32 (w), (blasint) k, dyi, (blasint) hw, 0.0f, col, (blasint) hw);
              col2im (&d, col, dxi);
            }
        }
    }
}

/**
 * cxr_op_conv2d:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor [N, C, H, W]
 * @weight: F32 [Co, C, kh, kw]
 * @bias: (nullable): F32 [Co]
 * @stride: the stride, at least 1
 * @padding: zero padding on each side
 * @error: return location for a #GError
 *
 * A 2-D convolution (cross-correlation, as torch.nn.Conv2d). A 1x1
 * convolution of stride 1 is one matrix product per image.
 *
 * Returns: (transfer full): [N, Co, Ho, Wo], or %NULL with @error set
 */
CxrTensor *
cxr_op_conv2d (CxrTape *tape, CxrTensor *x, CxrTensor *weight, CxrTensor *bias, guint stride,
               guint padding, GError **error)
{
  return cxr_op_conv2d_full (tape, x, weight, bias, stride, padding, padding, error);
}

/**
 * cxr_op_conv2d_full:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor [N, C, H, W]
 * @weight: F32 [Co, C, kh, kw]
 * @bias: (nullable): F32 [Co]
 * @stride: the stride, at least 1
 * @pad_h: zero padding above and below
 * @pad_w: zero padding left and right
 * @error: return location for a #GError
 *
 * cxr_op_conv2d() with its own padding for each axis, as the 1x7 and 7x1
 * convolutions of Inception-v3 take (torch.nn.Conv2d with padding=(ph, pw)).
 *
 * Returns: (transfer full): [N, Co, Ho, Wo], or %NULL with @error set
 */
CxrTensor *
cxr_op_conv2d_full (CxrTape *tape, CxrTensor *x, CxrTensor *weight, CxrTensor *bias, guint stride,
                    guint pad_h, guint pad_w, GError **error)
{
  ConvDims d;
  CxrTensor *out;
  gint64 k, hw;
  g_autofree gfloat *col = NULL;

  if (!_cxr_check_input (x, "conv2d", "x", error) || !_cxr_check_input (weight, "conv2d", "weight", error) ||
      (bias && !_cxr_check_input (bias, "conv2d", "bias", error)))
    return NULL;
  if (cxr_tensor_get_ndim (x) != 4 || cxr_tensor_get_ndim (weight) != 4 || stride == 0 ||
      cxr_tensor_get_dim (weight, 1) != cxr_tensor_get_dim (x, 1) ||
      (bias && (cxr_tensor_get_ndim (bias) != 1 || cxr_tensor_get_dim (bias, 0) != cxr_tensor_get_dim (weight, 0))) ||
      cxr_tensor_get_dim (x, 2) + 2 * (gint64) pad_h < cxr_tensor_get_dim (weight, 2) ||
      cxr_tensor_get_dim (x, 3) + 2 * (gint64) pad_w < cxr_tensor_get_dim (weight, 3))
    {
      g_autofree gchar *tx = cxr_tensor_describe (x), *tw = cxr_tensor_describe (weight);
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "conv2d: x %s and weight %s (stride %u, padding %u x %u) do not fit "
                   "([N, C, H, W], [Co, C, kh, kw], bias [Co])", tx, tw, stride, pad_h, pad_w);
      return NULL;
    }
  conv_dims_init (&d, x, weight, stride, pad_h, pad_w);
  k = d.c * d.kh * d.kw;
  hw = d.ho * d.wo;
  out = _cxr_tensor_new_uninitialized (CXR_DTYPE_F32, (const gint64[]) { d.n, d.co, d.ho, d.wo }, 4);
  if (_cxr_gemm_available ())
    {
      conv_forward_gemm (&d, _cxr_f32 (x), _cxr_f32 (weight), bias ? _cxr_f32 (bias) : NULL, _cxr_f32 (out), FALSE);
    }
  else if (!is_pointwise (&d))
    col = g_new (gfloat, MAX (k * hw, 1));
  for (gint64 i = 0; i < d.n && !_cxr_gemm_available (); i++)
    {
      const gfloat *xi = _cxr_f32 (x) + i * d.c * d.h * d.w;
      gfloat *yi = _cxr_f32 (out) + i * d.co * hw;
      const gfloat *cols = xi;
      if (bias)
        {
          const gfloat *vb = _cxr_f32 (bias);
          for (gint64 o = 0; o < d.co; o++)
            for (gint64 p = 0; p < hw; p++)
              yi[o * hw + p] = vb[o];
        }
      if (col)
        {
          im2col (&d, xi, col);
          cols = col;
        }
      /* y[co, hw] = w[co, k] @ col[k, hw] */
      _cxr_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint) d.co, (blasint) hw, (blasint) k,
                   1.0f, _cxr_f32 (weight), (blasint) k, cols, (blasint) hw, bias ? 1.0f : 0.0f, yi,
                   (blasint) hw);
    }
  {
    CxrTensor *inputs[] = { x, weight, bias };
    CxrNode *node = _cxr_tape_record (tape, "conv2d", conv2d_backward, out, inputs, 3);
    if (node)
      {
        node->i[0] = stride;
        node->i[1] = pad_h;
        node->i[2] = pad_w;
      }
  }
  return out;
}

/* ------------------------------------------------------------ upsample */

static void
upsample_backward (CxrNode *node)
{
  CxrTensor *x = g_ptr_array_index (node->in, 0);
  gfloat *dx = _cxr_grad (x);
  const gfloat *dy = _cxr_f32 (cxr_tensor_get_grad (node->out));
  gint64 planes = cxr_tensor_get_dim (x, 0) * cxr_tensor_get_dim (x, 1);
  gint64 h = cxr_tensor_get_dim (x, 2), w = cxr_tensor_get_dim (x, 3);

  if (dx == NULL)
    return;
#pragma omp parallel for schedule(static)
  for (gint64 p = 0; p < planes; p++)
    for (gint64 y = 0; y < h; y++)
      for (gint64 xx = 0; xx < w; xx++)
        {
          const gfloat *d = dy + p * 4 * h * w;
          gint64 a = (2 * y) * (2 * w) + 2 * xx;
          dx[(p * h + y) * w + xx] += d[a] + d[a + 1] + d[a + 2 * w] + d[a + 2 * w + 1];
        }
}

/**
 * cxr_op_upsample_nearest2x:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor [N, C, H, W]
 * @error: return location for a #GError
 *
 * Returns: (transfer full): [N, C, 2H, 2W], each value repeated 2x2, or
 *   %NULL with @error set
 */
CxrTensor *
cxr_op_upsample_nearest2x (CxrTape *tape, CxrTensor *x, GError **error)
{
  gint64 n, c, h, w, planes;
  CxrTensor *out;
  const gfloat *vx;
  gfloat *o;

  if (!_cxr_check_input (x, "upsample_nearest2x", "x", error))
    return NULL;
  if (cxr_tensor_get_ndim (x) != 4)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE, "upsample_nearest2x: x needs [N, C, H, W]");
      return NULL;
    }
  n = cxr_tensor_get_dim (x, 0);
  c = cxr_tensor_get_dim (x, 1);
  h = cxr_tensor_get_dim (x, 2);
  w = cxr_tensor_get_dim (x, 3);
  planes = n * c;
  out = _cxr_tensor_new_uninitialized (CXR_DTYPE_F32, (const gint64[]) { n, c, 2 * h, 2 * w }, 4);
  vx = _cxr_f32 (x);
  o = _cxr_f32 (out);
#pragma omp parallel for schedule(static)
  for (gint64 p = 0; p < planes; p++)
    for (gint64 y = 0; y < h; y++)
      {
        /* each input row doubled once, then copied to the next row */
        const gfloat *src = vx + (p * h + y) * w;
        gfloat *dst = o + (p * 2 * h + 2 * y) * 2 * w;
        for (gint64 xx = 0; xx < w; xx++)
          dst[2 * xx] = dst[2 * xx + 1] = src[xx];
        memcpy (dst + 2 * w, dst, (gsize) (2 * w) * sizeof (gfloat));
      }
  _cxr_tape_record (tape, "upsample_nearest2x", upsample_backward, out, &x, 1);
  return out;
}

/* ------------------------------------------------------------ bilinear */

/* PyTorch's source coordinate of output index i (align_corners=False):
 * (i + 0.5) * in / out - 0.5, clamped at 0; the two taps and the weight
 * of the second. */
static inline void
bilinear_taps (gint64 i, gint64 in, gint64 out, gint64 *i0, gint64 *i1, gfloat *frac)
{
  gfloat src = ((gfloat) i + 0.5f) * ((gfloat) in / (gfloat) out) - 0.5f;
  if (src < 0)
    src = 0;
  *i0 = MIN ((gint64) src, in - 1);
  *i1 = MIN (*i0 + 1, in - 1);
  *frac = src - (gfloat) *i0;
}

static void
resize_bilinear_backward (CxrNode *node)
{
  CxrTensor *x = g_ptr_array_index (node->in, 0);
  gfloat *dx = _cxr_grad (x);
  const gfloat *dy = _cxr_f32 (cxr_tensor_get_grad (node->out));
  gint64 planes = cxr_tensor_get_dim (x, 0) * cxr_tensor_get_dim (x, 1);
  gint64 h = cxr_tensor_get_dim (x, 2), w = cxr_tensor_get_dim (x, 3);
  gint64 oh = cxr_tensor_get_dim (node->out, 2), ow = cxr_tensor_get_dim (node->out, 3);

  if (dx == NULL)
    return;
#pragma omp parallel for schedule(static)
  for (gint64 p = 0; p < planes; p++)
    for (gint64 y = 0; y < oh; y++)
      {
        gint64 y0, y1, x0, x1;
        gfloat fy, fx;
        bilinear_taps (y, h, oh, &y0, &y1, &fy);
        for (gint64 xx = 0; xx < ow; xx++)
          {
            gfloat g = dy[(p * oh + y) * ow + xx];
            gfloat *plane = dx + p * h * w;
            bilinear_taps (xx, w, ow, &x0, &x1, &fx);
            plane[y0 * w + x0] += g * (1 - fy) * (1 - fx);
            plane[y0 * w + x1] += g * (1 - fy) * fx;
            plane[y1 * w + x0] += g * fy * (1 - fx);
            plane[y1 * w + x1] += g * fy * fx;
          }
      }
}

/**
 * cxr_op_resize_bilinear:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor [N, C, H, W]
 * @out_h: the output height
 * @out_w: the output width
 * @error: return location for a #GError
 *
 * Bilinear interpolation as torch.nn.functional.interpolate computes it
 * with mode="bilinear", align_corners=False and no antialiasing (what
 * pytorch-fid resizes its inputs to 299x299 with).
 *
 * Returns: (transfer full): [N, C, out_h, out_w], or %NULL with @error set
 */
CxrTensor *
cxr_op_resize_bilinear (CxrTape *tape, CxrTensor *x, guint out_h, guint out_w, GError **error)
{
  gint64 planes, h, w;
  CxrTensor *out;
  const gfloat *vx;
  gfloat *o;

  if (!_cxr_check_input (x, "resize_bilinear", "x", error))
    return NULL;
  if (cxr_tensor_get_ndim (x) != 4 || out_h == 0 || out_w == 0 || cxr_tensor_get_dim (x, 2) == 0 ||
      cxr_tensor_get_dim (x, 3) == 0)
    {
      g_autofree gchar *d = cxr_tensor_describe (x);
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "resize_bilinear: x %s to %ux%u: needs a non-empty [N, C, H, W] and a non-empty size", d, out_h,
                   out_w);
      return NULL;
    }
  planes = cxr_tensor_get_dim (x, 0) * cxr_tensor_get_dim (x, 1);
  h = cxr_tensor_get_dim (x, 2);
  w = cxr_tensor_get_dim (x, 3);
  out = cxr_tensor_new (CXR_DTYPE_F32,
                        (const gint64[]) { cxr_tensor_get_dim (x, 0), cxr_tensor_get_dim (x, 1), out_h, out_w }, 4);
  vx = _cxr_f32 (x);
  o = _cxr_f32 (out);
#pragma omp parallel for schedule(static)
  for (gint64 p = 0; p < planes; p++)
    for (gint64 y = 0; y < (gint64) out_h; y++)
      {
        gint64 y0, y1, x0, x1;
        gfloat fy, fx;
        const gfloat *plane = vx + p * h * w;
        bilinear_taps (y, h, out_h, &y0, &y1, &fy);
        for (gint64 xx = 0; xx < (gint64) out_w; xx++)
          {
            bilinear_taps (xx, w, out_w, &x0, &x1, &fx);
            o[(p * out_h + y) * out_w + xx] =
              (1 - fy) * ((1 - fx) * plane[y0 * w + x0] + fx * plane[y0 * w + x1]) +
              fy * ((1 - fx) * plane[y1 * w + x0] + fx * plane[y1 * w + x1]);
          }
      }
  _cxr_tape_record (tape, "resize_bilinear", resize_bilinear_backward, out, &x, 1);
  return out;
}

/* --------------------------------------------------------------- pools */

/* For pooling: the input window of output (oy, ox). */
typedef struct {
  gint64 y0, y1, x0, x1; /* clipped to the input */
  gint64 divisor;        /* of an average */
} Window;

typedef struct {
  gint64 k, s, pad;
  gboolean count_pad; /* averages divide by the padded window's size */
} PoolArgs;

typedef enum { POOL_AVG, POOL_MAX, POOL_ADAPTIVE } PoolKind;

static inline Window
pool_window (PoolKind kind, gint64 oy, gint64 ox, gint64 h, gint64 w, gint64 oh, gint64 ow,
             const PoolArgs *a)
{
  Window win;
  if (kind == POOL_ADAPTIVE)
    {
      /* PyTorch: start = floor(i * in / out), end = ceil((i + 1) * in / out) */
      win.y0 = oy * h / oh;
      win.y1 = ((oy + 1) * h + oh - 1) / oh;
      win.x0 = ox * w / ow;
      win.x1 = ((ox + 1) * w + ow - 1) / ow;
      win.divisor = (win.y1 - win.y0) * (win.x1 - win.x0);
    }
  else
    {
      /* as PyTorch: the window within the padded input, then clipped */
      gint64 y0 = oy * a->s - a->pad, x0 = ox * a->s - a->pad;
      gint64 y1 = MIN (y0 + a->k, h + a->pad), x1 = MIN (x0 + a->k, w + a->pad);
      gint64 padded = (y1 - y0) * (x1 - x0);
      win.y0 = MAX (y0, 0);
      win.x0 = MAX (x0, 0);
      win.y1 = MIN (y1, h);
      win.x1 = MIN (x1, w);
      win.divisor = a->count_pad ? padded : (win.y1 - win.y0) * (win.x1 - win.x0);
    }
  return win;
}

static void
pool_backward (CxrNode *node)
{
  CxrTensor *x = g_ptr_array_index (node->in, 0);
  PoolKind kind = (PoolKind) node->i[0];
  PoolArgs args = { node->i[1], node->i[2], node->i[3], (gboolean) node->i[4] };
  gfloat *dx = _cxr_grad (x);
  const gfloat *dy = _cxr_f32 (cxr_tensor_get_grad (node->out)), *vx = _cxr_f32 (x);
  gint64 planes = cxr_tensor_get_dim (x, 0) * cxr_tensor_get_dim (x, 1);
  gint64 h = cxr_tensor_get_dim (x, 2), w = cxr_tensor_get_dim (x, 3);
  gint64 oh = cxr_tensor_get_dim (node->out, 2), ow = cxr_tensor_get_dim (node->out, 3);

  if (dx == NULL)
    return;
#pragma omp parallel for schedule(static)
  for (gint64 p = 0; p < planes; p++)
    for (gint64 oy = 0; oy < oh; oy++)
      for (gint64 ox = 0; ox < ow; ox++)
        {
          Window win = pool_window (kind, oy, ox, h, w, oh, ow, &args);
          gfloat g = dy[(p * oh + oy) * ow + ox];
          const gfloat *plane = vx + p * h * w;
          if (kind == POOL_MAX)
            {
              /* the gradient goes to the first maximum, as PyTorch's */
              gint64 best = win.y0 * w + win.x0;
              for (gint64 y = win.y0; y < win.y1; y++)
                for (gint64 xx = win.x0; xx < win.x1; xx++)
                  if (plane[y * w + xx] > plane[best])
                    best = y * w + xx;
              dx[p * h * w + best] += g;
            }
          else
            {
              gfloat share = g / (gfloat) win.divisor;
              for (gint64 y = win.y0; y < win.y1; y++)
                for (gint64 xx = win.x0; xx < win.x1; xx++)
                  dx[p * h * w + y * w + xx] += share;
            }
        }
}

static CxrTensor *
pool (CxrTape *tape, CxrTensor *x, PoolKind kind, const PoolArgs *args, gint64 oh, gint64 ow,
      const gchar *name, GError **error)
{
  gint64 k = args->k, s = args->s, pad = args->pad;
  gint64 n, c, h, w, planes;
  CxrTensor *out;
  const gfloat *vx;
  gfloat *o;

  if (!_cxr_check_input (x, name, "x", error))
    return NULL;
  if (cxr_tensor_get_ndim (x) != 4)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE, "%s: x needs [N, C, H, W]", name);
      return NULL;
    }
  n = cxr_tensor_get_dim (x, 0);
  c = cxr_tensor_get_dim (x, 1);
  h = cxr_tensor_get_dim (x, 2);
  w = cxr_tensor_get_dim (x, 3);
  if (kind != POOL_ADAPTIVE)
    {
      if (k < 1 || s < 1 || pad < 0 || 2 * pad > k || h + 2 * pad < k || w + 2 * pad < k)
        {
          g_autofree gchar *d = cxr_tensor_describe (x);
          g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                       "%s: kernel %" G_GINT64_FORMAT ", stride %" G_GINT64_FORMAT ", padding %" G_GINT64_FORMAT
                       " do not fit x %s (padding at most half the kernel)", name, k, s, pad, d);
          return NULL;
        }
      oh = (h + 2 * pad - k) / s + 1;
      ow = (w + 2 * pad - k) / s + 1;
    }
  else if (oh < 1 || ow < 1 || h < 1 || w < 1)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE, "%s: empty input or output", name);
      return NULL;
    }
  planes = n * c;
  out = _cxr_tensor_new_uninitialized (CXR_DTYPE_F32, (const gint64[]) { n, c, oh, ow }, 4);
  vx = _cxr_f32 (x);
  o = _cxr_f32 (out);
#pragma omp parallel for schedule(static)
  for (gint64 p = 0; p < planes; p++)
    for (gint64 oy = 0; oy < oh; oy++)
      for (gint64 ox = 0; ox < ow; ox++)
        {
          Window win = pool_window (kind, oy, ox, h, w, oh, ow, args);
          const gfloat *plane = vx + p * h * w;
          if (kind == POOL_MAX)
            {
              gfloat m = -INFINITY;
              for (gint64 y = win.y0; y < win.y1; y++)
                for (gint64 xx = win.x0; xx < win.x1; xx++)
                  m = MAX (m, plane[y * w + xx]);
              o[(p * oh + oy) * ow + ox] = m;
            }
          else
            {
              gdouble sum = 0;
              for (gint64 y = win.y0; y < win.y1; y++)
                for (gint64 xx = win.x0; xx < win.x1; xx++)
                  sum += plane[y * w + xx];
              o[(p * oh + oy) * ow + ox] = (gfloat) (sum / win.divisor);
            }
        }
  {
    CxrNode *node = _cxr_tape_record (tape, name, pool_backward, out, &x, 1);
    if (node)
      {
        node->i[0] = kind;
        node->i[1] = k;
        node->i[2] = s;
        node->i[3] = pad;
        node->i[4] = args->count_pad;
      }
  }
  return out;
}

/**
 * cxr_op_avg_pool2d:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor [N, C, H, W]
 * @kernel: the window size
 * @stride: the step between windows
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the mean of each window (no padding), or %NULL
 *   with @error set
 */
CxrTensor *
cxr_op_avg_pool2d (CxrTape *tape, CxrTensor *x, guint kernel, guint stride, GError **error)
{
  return cxr_op_avg_pool2d_full (tape, x, kernel, stride, 0, TRUE, error);
}

/**
 * cxr_op_avg_pool2d_full:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor [N, C, H, W]
 * @kernel: the window size
 * @stride: the step between windows
 * @padding: zero padding on each side, at most @kernel / 2
 * @count_include_pad: divide by the whole window, padding included (as
 *   torch.nn.AvgPool2d by default), or only by the input values in it
 *   (count_include_pad=False, as the Inception-v3 of FID)
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the mean of each window, or %NULL with @error
 *   set
 */
CxrTensor *
cxr_op_avg_pool2d_full (CxrTape *tape, CxrTensor *x, guint kernel, guint stride, guint padding,
                        gboolean count_include_pad, GError **error)
{
  PoolArgs args = { kernel, stride, padding, count_include_pad };
  return pool (tape, x, POOL_AVG, &args, 0, 0, "avg_pool2d", error);
}

/**
 * cxr_op_max_pool2d:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor [N, C, H, W]
 * @kernel: the window size
 * @stride: the step between windows
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the maximum of each window (no padding), or
 *   %NULL with @error set
 */
CxrTensor *
cxr_op_max_pool2d (CxrTape *tape, CxrTensor *x, guint kernel, guint stride, GError **error)
{
  return cxr_op_max_pool2d_full (tape, x, kernel, stride, 0, error);
}

/**
 * cxr_op_max_pool2d_full:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor [N, C, H, W]
 * @kernel: the window size
 * @stride: the step between windows
 * @padding: padding on each side (never a window's maximum, as PyTorch's
 *   -inf), at most @kernel / 2
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the maximum of each window, or %NULL with
 *   @error set
 */
CxrTensor *
cxr_op_max_pool2d_full (CxrTape *tape, CxrTensor *x, guint kernel, guint stride, guint padding, GError **error)
{
  PoolArgs args = { kernel, stride, padding, TRUE };
  return pool (tape, x, POOL_MAX, &args, 0, 0, "max_pool2d", error);
}

/**
 * cxr_op_adaptive_avg_pool2d:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor [N, C, H, W]
 * @out_h: the output height
 * @out_w: the output width
 * @error: return location for a #GError
 *
 * Returns: (transfer full): [N, C, out_h, out_w], windows as PyTorch's
 *   AdaptiveAvgPool2d, or %NULL with @error set
 */
CxrTensor *
cxr_op_adaptive_avg_pool2d (CxrTape *tape, CxrTensor *x, guint out_h, guint out_w, GError **error)
{
  PoolArgs args = { 0, 0, 0, FALSE };
  return pool (tape, x, POOL_ADAPTIVE, &args, out_h, out_w, "adaptive_avg_pool2d", error);
}
