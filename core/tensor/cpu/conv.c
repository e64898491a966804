/* core/tensor/cpu/conv.c: conv2d (im2col + sgemm), nearest upsampling,
 * average, max and adaptive average pooling, forward and backward.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxr-ops-private.h"

typedef struct {
  gint64 n, c, h, w;       /* input */
  gint64 co, kh, kw;       /* weight [co, c, kh, kw] */
  gint64 stride, pad;
  gint64 ho, wo;           /* output */
} ConvDims;

/* col[(c * kh + i) * kw + j][y * wo + x] = input[c][y*s - p + i][x*s - p + j] */
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
          gint64 iy = y * d->stride - d->pad + i;
          for (gint64 x = 0; x < d->wo; x++)
            {
              gint64 ix = x * d->stride - d->pad + j;
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
              gint64 iy = y * d->stride - d->pad + i;
              if (iy < 0 || iy >= d->h)
                continue;
              for (gint64 x = 0; x < d->wo; x++)
                {
                  gint64 ix = x * d->stride - d->pad + j;
                  if (ix >= 0 && ix < d->w)
                    img[(ch * d->h + iy) * d->w + ix] += in[y * d->wo + x];
                }
            }
        }
}

static gboolean
is_pointwise (const ConvDims *d)
{
  return d->kh == 1 && d->kw == 1 && d->stride == 1 && d->pad == 0;
}

static void
conv_dims_init (ConvDims *d, CxrTensor *x, CxrTensor *w, gint64 stride, gint64 pad)
{
  d->n = cxr_tensor_get_dim (x, 0);
  d->c = cxr_tensor_get_dim (x, 1);
  d->h = cxr_tensor_get_dim (x, 2);
  d->w = cxr_tensor_get_dim (x, 3);
  d->co = cxr_tensor_get_dim (w, 0);
  d->kh = cxr_tensor_get_dim (w, 2);
  d->kw = cxr_tensor_get_dim (w, 3);
  d->stride = stride;
  d->pad = pad;
  d->ho = (d->h + 2 * d->pad - d->kh) / d->stride + 1;
  d->wo = (d->w + 2 * d->pad - d->kw) / d->stride + 1;
}

static void
conv_dims_from_node (CxrNode *node, ConvDims *d)
{
  conv_dims_init (d, g_ptr_array_index (node->in, 0), g_ptr_array_index (node->in, 1), node->i[0],
                  node->i[1]);
}

static void
conv2d_backward (CxrNode *node)
{
  CxrTensor *x = g_ptr_array_index (node->in, 0), *w = g_ptr_array_index (node->in, 1);
  CxrTensor *b = g_ptr_array_index (node->in, 2);
  const gfloat *dy = _cxr_f32 (cxr_tensor_get_grad (node->out));
  gfloat *dx = _cxr_grad (x), *dw = _cxr_grad (w), *db = _cxr_grad (b);
  ConvDims d;
  gint64 k, hw;
  g_autofree gfloat *col = NULL;

  conv_dims_from_node (node, &d);
  k = d.c * d.kh * d.kw;
  hw = d.ho * d.wo;
  if (!is_pointwise (&d))
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
      if (db)
        for (gint64 o = 0; o < d.co; o++)
          {
            gdouble s = 0;
            for (gint64 p = 0; p < hw; p++)
              s += dyi[o * hw + p];
            db[o] += (gfloat) s;
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
      cxr_tensor_get_dim (x, 2) + 2 * (gint64) padding < cxr_tensor_get_dim (weight, 2) ||
      cxr_tensor_get_dim (x, 3) + 2 * (gint64) padding < cxr_tensor_get_dim (weight, 3))
    {
      g_autofree gchar *tx = cxr_tensor_describe (x), *tw = cxr_tensor_describe (weight);
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "conv2d: x %s and weight %s (stride %u, padding %u) do not fit "
                   "([N, C, H, W], [Co, C, kh, kw], bias [Co])", tx, tw, stride, padding);
      return NULL;
    }
  conv_dims_init (&d, x, weight, stride, padding);
  k = d.c * d.kh * d.kw;
  hw = d.ho * d.wo;
  out = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { d.n, d.co, d.ho, d.wo }, 4);
  if (!is_pointwise (&d))
    col = g_new (gfloat, MAX (k * hw, 1));
  for (gint64 i = 0; i < d.n; i++)
    {
      const gfloat *xi = _cxr_f32 (x) + i * d.c * d.h * d.w;
      gfloat *yi = _cxr_f32 (out) + i * d.co * hw;
      const gfloat *cols = xi;
      if (bias)
        for (gint64 o = 0; o < d.co; o++)
          for (gint64 p = 0; p < hw; p++)
            yi[o * hw + p] = _cxr_f32 (bias)[o];
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
        node->i[1] = padding;
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
  out = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { n, c, 2 * h, 2 * w }, 4);
  vx = _cxr_f32 (x);
  o = _cxr_f32 (out);
#pragma omp parallel for schedule(static)
  for (gint64 p = 0; p < planes; p++)
    for (gint64 y = 0; y < 2 * h; y++)
      for (gint64 xx = 0; xx < 2 * w; xx++)
        o[(p * 2 * h + y) * 2 * w + xx] = vx[(p * h + y / 2) * w + xx / 2];
  _cxr_tape_record (tape, "upsample_nearest2x", upsample_backward, out, &x, 1);
  return out;
}

/* --------------------------------------------------------------- pools */

/* For pooling: the input window of output (oy, ox). */
typedef struct {
  gint64 y0, y1, x0, x1;
} Window;

typedef enum { POOL_AVG, POOL_MAX, POOL_ADAPTIVE } PoolKind;

static inline Window
pool_window (PoolKind kind, gint64 oy, gint64 ox, gint64 h, gint64 w, gint64 oh, gint64 ow,
             gint64 k, gint64 s)
{
  Window win;
  if (kind == POOL_ADAPTIVE)
    {
      /* PyTorch: start = floor(i * in / out), end = ceil((i + 1) * in / out) */
      win.y0 = oy * h / oh;
      win.y1 = ((oy + 1) * h + oh - 1) / oh;
      win.x0 = ox * w / ow;
      win.x1 = ((ox + 1) * w + ow - 1) / ow;
    }
  else
    {
      win.y0 = oy * s;
      win.y1 = win.y0 + k;
      win.x0 = ox * s;
      win.x1 = win.x0 + k;
    }
  return win;
}

static void
pool_backward (CxrNode *node)
{
  CxrTensor *x = g_ptr_array_index (node->in, 0);
  PoolKind kind = (PoolKind) node->i[0];
  gint64 k = node->i[1], s = node->i[2];
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
          Window win = pool_window (kind, oy, ox, h, w, oh, ow, k, s);
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
              gfloat share = g / (gfloat) ((win.y1 - win.y0) * (win.x1 - win.x0));
              for (gint64 y = win.y0; y < win.y1; y++)
                for (gint64 xx = win.x0; xx < win.x1; xx++)
                  dx[p * h * w + y * w + xx] += share;
            }
        }
}

static CxrTensor *
pool (CxrTape *tape, CxrTensor *x, PoolKind kind, gint64 k, gint64 s, gint64 oh, gint64 ow,
      const gchar *name, GError **error)
{
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
      if (k < 1 || s < 1 || h < k || w < k)
        {
          g_autofree gchar *d = cxr_tensor_describe (x);
          g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                       "%s: kernel %" G_GINT64_FORMAT ", stride %" G_GINT64_FORMAT " do not fit x %s",
                       name, k, s, d);
          return NULL;
        }
      oh = (h - k) / s + 1;
      ow = (w - k) / s + 1;
    }
  else if (oh < 1 || ow < 1 || h < 1 || w < 1)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE, "%s: empty input or output", name);
      return NULL;
    }
  planes = n * c;
  out = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { n, c, oh, ow }, 4);
  vx = _cxr_f32 (x);
  o = _cxr_f32 (out);
#pragma omp parallel for schedule(static)
  for (gint64 p = 0; p < planes; p++)
    for (gint64 oy = 0; oy < oh; oy++)
      for (gint64 ox = 0; ox < ow; ox++)
        {
          Window win = pool_window (kind, oy, ox, h, w, oh, ow, k, s);
          const gfloat *plane = vx + p * h * w;
          gfloat m = -INFINITY;
          gdouble sum = 0;
          for (gint64 y = win.y0; y < win.y1; y++)
            for (gint64 xx = win.x0; xx < win.x1; xx++)
              {
                m = MAX (m, plane[y * w + xx]);
                sum += plane[y * w + xx];
              }
          o[(p * oh + oy) * ow + ox] =
            kind == POOL_MAX ? m : (gfloat) (sum / ((win.y1 - win.y0) * (win.x1 - win.x0)));
        }
  {
    CxrNode *node = _cxr_tape_record (tape, name, pool_backward, out, &x, 1);
    if (node)
      {
        node->i[0] = kind;
        node->i[1] = k;
        node->i[2] = s;
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
  return pool (tape, x, POOL_AVG, kernel, stride, 0, 0, "avg_pool2d", error);
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
  return pool (tape, x, POOL_MAX, kernel, stride, 0, 0, "max_pool2d", error);
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
  return pool (tape, x, POOL_ADAPTIVE, 0, 0, out_h, out_w, "adaptive_avg_pool2d", error);
}
