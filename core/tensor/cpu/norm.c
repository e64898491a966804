/* core/tensor/cpu/norm.c: layer norm, group norm, batch norm (inference),
 * forward and backward.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxr-ops-private.h"

/* Normalises @rows groups of @len values each; channel c of group element
 * j is (j / inner) % channels when @channels > 0 (group norm: the affine
 * parameters are per channel), else j (layer norm: per feature).
 * Saves mean and rstd per row for backward. */
typedef struct {
  gint64 rows, len, channels, inner, channels_per_row;
} NormLayout;

static inline gint64
affine_index (const NormLayout *l, gint64 row, gint64 j)
{
  if (l->channels == 0)
    return j;
  /* group norm: row = n * groups + g; channel = g * (C/G) + j / inner */
  return (row % (l->channels / l->channels_per_row)) * l->channels_per_row + j / l->inner;
}

/* One row: its mean and reciprocal standard deviation, and y. Built for
 * the CPU's widest vectors (CXR_VECTOR_CLONES): two passes over a row
 * that stays in cache. */
CXR_VECTOR_CLONES static void
norm_forward_row (const NormLayout *l, gint64 r, const gfloat *xr, const gfloat *w, const gfloat *b, gfloat eps,
                  gfloat *yr, gfloat *mean, gfloat *rstd)
{
  gdouble s1 = 0, s2 = 0, d1, var;
  gfloat rs, mf, x0 = l->len > 0 ? xr[0] : 0.0f; /* an empty row: NaN statistics, as 0 / 0 */

  /* one pass: the sums of d = x - x0 and of d^2 (shifted by the first
   * value, so the variance E[d^2] - E[d]^2 does not cancel for rows far
   * from zero), float sums of 64 added in double */
  for (gint64 j0 = 0; j0 < l->len; j0 += 64)
    {
      gint64 end = MIN (j0 + 64, l->len);
      gfloat p1 = 0, p2 = 0;
#pragma omp simd reduction(+ : p1, p2)
      for (gint64 j = j0; j < end; j++)
        {
          gfloat d = xr[j] - x0;
          p1 += d;
          p2 += d * d;
        }
      s1 += p1;
      s2 += p2;
    }
  d1 = s1 / l->len;
  var = MAX (s2 / l->len - d1 * d1, 0.0);
  mf = (gfloat) (x0 + d1);
  rs = (gfloat) (1.0 / sqrt (var + eps));
  mean[r] = mf;
  rstd[r] = rs;
  /* the row in runs that share an affine parameter: one per feature
   * for layer norm, inner positions per channel for group norm; the
   * mean is subtracted first (exact for values near it) */
  if (l->channels == 0)
    {
#pragma omp simd
      for (gint64 j = 0; j < l->len; j++)
        yr[j] = (xr[j] - mf) * rs * (w ? w[j] : 1.0f) + (b ? b[j] : 0.0f);
    }
  else
    for (gint64 j0 = 0; j0 < l->len; j0 += l->inner)
      {
        gint64 a = affine_index (l, r, j0);
        gfloat scale = rs * (w ? w[a] : 1.0f), shift = b ? b[a] : 0.0f;
#pragma omp simd
        for (gint64 j = j0; j < j0 + l->inner; j++)
          yr[j] = (xr[j] - mf) * scale + shift;
      }
}

static void
norm_forward (const NormLayout *l, const gfloat *x, const gfloat *w, const gfloat *b, gfloat eps,
              gfloat *y, gfloat *mean, gfloat *rstd)
{
#pragma omp parallel for schedule(static)
  for (gint64 r = 0; r < l->rows; r++)
    norm_forward_row (l, r, x + r * l->len, w, b, eps, y + r * l->len, mean, rstd);
}

/* Group norm's backward in two passes over each row. The first sums,
 * per channel run, dy and dy * x_hat: that is db and dw's share of this
 * image, and (times the channel's weight) the two means that dx needs.
 * The second writes dx. The shares are added up over the batch in
 * order, so sums do not depend on the thread count. */
static void
group_norm_backward (const NormLayout *l, const gfloat *x, const gfloat *w, const gfloat *mean,
                     const gfloat *rstd, const gfloat *dy, gfloat *dx, gfloat *dw, gfloat *db)
{
  gint64 groups = l->channels / l->channels_per_row, batch = l->rows / groups;
  g_autofree gdouble *share_w = g_new (gdouble, l->rows * l->channels_per_row);
  g_autofree gdouble *share_b = g_new (gdouble, l->rows * l->channels_per_row);

#pragma omp parallel for schedule(static)
  for (gint64 r = 0; r < l->rows; r++)
    {
      const gfloat *xr = x + r * l->len, *dyr = dy + r * l->len;
      gfloat *dxr = dx ? dx + r * l->len : NULL;
      gfloat m = mean[r], rs = rstd[r], mean_g, mean_gn;
      gdouble sum_g = 0, sum_gn = 0;

      for (gint64 cin = 0; cin < l->channels_per_row; cin++)
        {
          const gfloat *xc = xr + cin * l->inner, *dyc = dyr + cin * l->inner;
          gfloat wa = w ? w[affine_index (l, r, cin * l->inner)] : 1.0f, pb = 0, pw = 0;
#pragma omp simd reduction(+ : pb, pw)
          for (gint64 j = 0; j < l->inner; j++)
            {
              pb += dyc[j];
              pw += dyc[j] * ((xc[j] - m) * rs);
            }
          share_b[r * l->channels_per_row + cin] = pb;
          share_w[r * l->channels_per_row + cin] = pw;
          sum_g += (gdouble) wa * pb;
          sum_gn += (gdouble) wa * pw;
        }
      if (dxr == NULL)
        continue;
      mean_g = (gfloat) (sum_g / l->len);
      mean_gn = (gfloat) (sum_gn / l->len);
      for (gint64 cin = 0; cin < l->channels_per_row; cin++)
        {
          const gfloat *xc = xr + cin * l->inner, *dyc = dyr + cin * l->inner;
          gfloat *dxc = dxr + cin * l->inner;
          gfloat wa = w ? w[affine_index (l, r, cin * l->inner)] : 1.0f;
#pragma omp simd
          for (gint64 j = 0; j < l->inner; j++)
            dxc[j] += rs * (dyc[j] * wa - mean_g - (xc[j] - m) * rs * mean_gn);
        }
    }
  if (dw || db)
    for (gint64 ch = 0; ch < l->channels; ch++)
      {
        gint64 g = ch / l->channels_per_row, cin = ch % l->channels_per_row;
        gdouble sw = 0, sb = 0;
        for (gint64 n = 0; n < batch; n++)
          {
            sw += share_w[(n * groups + g) * l->channels_per_row + cin];
            sb += share_b[(n * groups + g) * l->channels_per_row + cin];
          }
        if (dw)
          dw[ch] += (gfloat) sw;
        if (db)
          db[ch] += (gfloat) sb;
      }
}

static void
norm_backward_rows (const NormLayout *l, const gfloat *x, const gfloat *w, const gfloat *mean,
                    const gfloat *rstd, const gfloat *dy, gfloat *dx, gfloat *dw, gfloat *db)
{
  if (l->channels)
    {
      group_norm_backward (l, x, w, mean, rstd, dy, dx, dw, db);
      return;
    }
  if (dx)
    {
#pragma omp parallel for schedule(static)
      for (gint64 r = 0; r < l->rows; r++)
        {
          const gfloat *xr = x + r * l->len, *dyr = dy + r * l->len;
          gfloat *dxr = dx + r * l->len;
          gfloat m = mean[r], rs = rstd[r], mean_g, mean_gn, sg = 0, sgn = 0;
          /* layer norm: one row, its features each with their weight */
#pragma omp simd reduction(+ : sg, sgn)
          for (gint64 j = 0; j < l->len; j++)
            {
              gfloat g = dyr[j] * (w ? w[j] : 1.0f);
              sg += g;
              sgn += g * ((xr[j] - m) * rs);
            }
          mean_g = sg / l->len;
          mean_gn = sgn / l->len;
#pragma omp simd
          for (gint64 j = 0; j < l->len; j++)
            {
              gfloat g = dyr[j] * (w ? w[j] : 1.0f);
              gfloat n = (xr[j] - m) * rs;
              dxr[j] += rs * (g - mean_g - n * mean_gn);
            }
        }
    }
  if (dw || db)
    {
      /* each feature sums over the rows; features split over
       * threads, rows in order, so sums do not depend on the thread count. */
#pragma omp parallel for schedule(static)
      for (gint64 j = 0; j < l->len; j++)
        {
          gdouble sw = 0, sb = 0;
          for (gint64 r = 0; r < l->rows; r++)
            {
              gfloat g = dy[r * l->len + j];
              sw += (gdouble) g * (x[r * l->len + j] - mean[r]) * rstd[r];
              sb += g;
            }
          if (dw)
            dw[j] += (gfloat) sw;
          if (db)
            db[j] += (gfloat) sb;
        }
    }
}

static void
fill_layout (CxrNode *node, NormLayout *l)
{
  l->rows = node->i[0];
  l->len = node->i[1];
  l->channels = node->i[2];
  l->inner = node->i[3];
  l->channels_per_row = node->i[4];
}

static void
norm_backward (CxrNode *node)
{
  CxrTensor *x = g_ptr_array_index (node->in, 0), *w = g_ptr_array_index (node->in, 1);
  CxrTensor *b = g_ptr_array_index (node->in, 2);
  NormLayout l;

  fill_layout (node, &l);
  norm_backward_rows (&l, _cxr_f32 (x), w ? _cxr_f32 (w) : NULL, _cxr_f32 (node->saved[0]),
                      _cxr_f32 (node->saved[1]), _cxr_f32 (cxr_tensor_get_grad (node->out)),
                      _cxr_grad (x), _cxr_grad (w), _cxr_grad (b));
}

static CxrTensor *
norm (CxrTape *tape, const gchar *name, CxrTensor *x, CxrTensor *w, CxrTensor *b, gfloat eps,
      const NormLayout *l)
{
  CxrTensor *out = _cxr_tensor_new_uninitialized_like (x);
  CxrTensor *mean = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { l->rows }, 1);
  CxrTensor *rstd = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { l->rows }, 1);
  CxrTensor *inputs[] = { x, w, b };
  CxrNode *node;

  norm_forward (l, _cxr_f32 (x), w ? _cxr_f32 (w) : NULL, b ? _cxr_f32 (b) : NULL, eps, _cxr_f32 (out),
                _cxr_f32 (mean), _cxr_f32 (rstd));
  node = _cxr_tape_record (tape, name, norm_backward, out, inputs, 3);
  if (node)
    {
      node->saved[0] = mean;
      node->saved[1] = rstd;
      node->i[0] = l->rows;
      node->i[1] = l->len;
      node->i[2] = l->channels;
      node->i[3] = l->inner;
      node->i[4] = l->channels_per_row;
    }
  else
    {
      cxr_tensor_unref (mean);
      cxr_tensor_unref (rstd);
    }
  return out;
}

static gboolean
check_vector (CxrTensor *t, gint64 n, const gchar *op, const gchar *what, GError **error)
{
  if (t == NULL)
    return TRUE;
  if (!_cxr_check_input (t, op, what, error))
    return FALSE;
  if (cxr_tensor_get_ndim (t) != 1 || cxr_tensor_get_dim (t, 0) != n)
    {
      g_autofree gchar *d = cxr_tensor_describe (t);
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "%s: %s is %s but should be [%" G_GINT64_FORMAT "]", op, what, d, n);
      return FALSE;
    }
  return TRUE;
}

/**
 * cxr_op_layer_norm:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor [..., D]
 * @weight: (nullable): F32 [D]
 * @bias: (nullable): F32 [D]
 * @eps: added to the variance
 * @error: return location for a #GError
 *
 * Returns: (transfer full): @x normalised over its last dimension (biased
 *   variance), scaled and shifted, or %NULL with @error set
 */
CxrTensor *
cxr_op_layer_norm (CxrTape *tape, CxrTensor *x, CxrTensor *weight, CxrTensor *bias, gfloat eps,
                   GError **error)
{
  NormLayout l = { 0 };

  if (!_cxr_check_input (x, "layer_norm", "x", error))
    return NULL;
  if (cxr_tensor_get_ndim (x) == 0)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE, "layer_norm: x has no dimension");
      return NULL;
    }
  l.len = cxr_tensor_get_dim (x, -1);
  l.rows = _cxr_numel (x) / MAX (l.len, 1);
  if (!check_vector (weight, l.len, "layer_norm", "weight", error) ||
      !check_vector (bias, l.len, "layer_norm", "bias", error))
    return NULL;
  return norm (tape, "layer_norm", x, weight, bias, eps, &l);
}

/**
 * cxr_op_group_norm:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor [N, C, ...]
 * @groups: the number of groups; divides C
 * @weight: (nullable): F32 [C]
 * @bias: (nullable): F32 [C]
 * @eps: added to the variance
 * @error: return location for a #GError
 *
 * Returns: (transfer full): @x normalised over each group of C / @groups
 *   channels and all positions, then scaled and shifted per channel, or
 *   %NULL with @error set
 */
CxrTensor *
cxr_op_group_norm (CxrTape *tape, CxrTensor *x, guint groups, CxrTensor *weight, CxrTensor *bias,
                   gfloat eps, GError **error)
{
  NormLayout l = { 0 };
  gint64 n, c;

  if (!_cxr_check_input (x, "group_norm", "x", error))
    return NULL;
  if (cxr_tensor_get_ndim (x) < 2 || groups == 0 || cxr_tensor_get_dim (x, 1) % groups != 0)
    {
      g_autofree gchar *d = cxr_tensor_describe (x);
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "group_norm: x %s: needs [N, C, ...] with C divisible by %u groups", d, groups);
      return NULL;
    }
  n = cxr_tensor_get_dim (x, 0);
  c = cxr_tensor_get_dim (x, 1);
  if (!check_vector (weight, c, "group_norm", "weight", error) ||
      !check_vector (bias, c, "group_norm", "bias", error))
    return NULL;
  l.rows = n * groups;
  l.len = _cxr_numel (x) / MAX (l.rows, 1);
  l.channels = c;
  l.channels_per_row = c / groups;
  l.inner = l.len / MAX (l.channels_per_row, 1);
  return norm (tape, "group_norm", x, weight, bias, eps, &l);
}

/* Records a batch norm (inference or training) with what its backward
 * needs: the per-channel mean and 1/std used (taken), and the layout. */
static void
record_batch_norm (CxrTape *tape, const gchar *name, CxrBackwardFunc backward, CxrTensor *out, CxrTensor *x,
                   CxrTensor *weight, CxrTensor *bias, CxrTensor *mean, CxrTensor *rstd, gint64 n, gint64 c,
                   gint64 inner)
{
  CxrTensor *inputs[] = { x, weight, bias };
  CxrNode *node = _cxr_tape_record (tape, name, backward, out, inputs, 3);

  if (node == NULL)
    {
      cxr_tensor_unref (mean);
      cxr_tensor_unref (rstd);
      return;
    }
  node->saved[0] = mean;
  node->saved[1] = rstd;
  node->i[0] = n;
  node->i[1] = c;
  node->i[2] = inner;
}

static void
batch_norm_backward (CxrNode *node)
{
  CxrTensor *x = g_ptr_array_index (node->in, 0), *w = g_ptr_array_index (node->in, 1);
  CxrTensor *b = g_ptr_array_index (node->in, 2);
  const gfloat *dy = _cxr_f32 (cxr_tensor_get_grad (node->out));
  const gfloat *mean = _cxr_f32 (node->saved[0]), *rstd = _cxr_f32 (node->saved[1]);
  const gfloat *vx = _cxr_f32 (x), *vw = w ? _cxr_f32 (w) : NULL;
  gfloat *dx = _cxr_grad (x), *dw = _cxr_grad (w), *db = _cxr_grad (b);
  gint64 n = node->i[0], c = node->i[1], inner = node->i[2];

  for (gint64 i = 0; i < n; i++)
    for (gint64 ch = 0; ch < c; ch++)
      for (gint64 j = 0; j < inner; j++)
        {
          gint64 at = (i * c + ch) * inner + j;
          if (dx)
            dx[at] += dy[at] * (vw ? vw[ch] : 1.0f) * rstd[ch];
          if (dw)
            dw[ch] += dy[at] * (vx[at] - mean[ch]) * rstd[ch];
          if (db)
            db[ch] += dy[at];
        }
}

/**
 * cxr_op_batch_norm:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor [N, C, ...]
 * @mean: F32 [C], the running mean
 * @var: F32 [C], the running variance
 * @weight: (nullable): F32 [C]
 * @bias: (nullable): F32 [C]
 * @eps: added to the variance
 * @error: return location for a #GError
 *
 * Batch norm in inference mode: with the running statistics, as
 * torch.nn.BatchNorm2d in eval(). Gradients flow to @x, @weight and @bias.
 *
 * Returns: (transfer full): the normalised tensor, or %NULL with @error set
 */
CxrTensor *
cxr_op_batch_norm (CxrTape *tape, CxrTensor *x, CxrTensor *mean, CxrTensor *var, CxrTensor *weight,
                   CxrTensor *bias, gfloat eps, GError **error)
{
  gint64 n, c, inner;
  CxrTensor *out, *m, *rstd;
  const gfloat *vx, *vm, *vv, *vw, *vb;
  gfloat *o, *pm, *pr;

  if (!_cxr_check_input (x, "batch_norm", "x", error))
    return NULL;
  if (cxr_tensor_get_ndim (x) < 2)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE, "batch_norm: x needs [N, C, ...]");
      return NULL;
    }
  n = cxr_tensor_get_dim (x, 0);
  c = cxr_tensor_get_dim (x, 1);
  inner = _cxr_numel (x) / MAX (n * c, 1);
  if (mean == NULL || var == NULL || !check_vector (mean, c, "batch_norm", "mean", error) ||
      !check_vector (var, c, "batch_norm", "var", error) ||
      !check_vector (weight, c, "batch_norm", "weight", error) ||
      !check_vector (bias, c, "batch_norm", "bias", error))
    {
      if (mean == NULL || var == NULL)
        g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE, "batch_norm: mean and var are needed");
      return NULL;
    }
  out = _cxr_tensor_new_uninitialized_like (x);
  m = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { c }, 1);
  rstd = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { c }, 1);
  vx = _cxr_f32 (x);
  vm = _cxr_f32 (mean);
  vv = _cxr_f32 (var);
  vw = weight ? _cxr_f32 (weight) : NULL;
  vb = bias ? _cxr_f32 (bias) : NULL;
  o = _cxr_f32 (out);
  pm = _cxr_f32 (m);
  pr = _cxr_f32 (rstd);
  for (gint64 ch = 0; ch < c; ch++)
    {
      pm[ch] = vm[ch];
      pr[ch] = 1.0f / sqrtf (vv[ch] + eps);
    }
#pragma omp parallel for schedule(static)
  for (gint64 i = 0; i < n * c; i++)
    {
      gint64 ch = i % c;
      gfloat mean_ch = pm[ch], scale = pr[ch] * (vw ? vw[ch] : 1.0f), shift = vb ? vb[ch] : 0.0f;
      const gfloat *xi = vx + i * inner;
      gfloat *oi = o + i * inner;
      for (gint64 j = 0; j < inner; j++)
        oi[j] = (xi[j] - mean_ch) * scale + shift;
    }
  record_batch_norm (tape, "batch_norm", batch_norm_backward, out, x, weight, bias, m, rstd, n, c, inner);
  return out;
}

static void
batch_norm_train_backward (CxrNode *node)
{
  CxrTensor *x = g_ptr_array_index (node->in, 0), *w = g_ptr_array_index (node->in, 1);
  CxrTensor *b = g_ptr_array_index (node->in, 2);
  const gfloat *dy = _cxr_f32 (cxr_tensor_get_grad (node->out));
  const gfloat *mean = _cxr_f32 (node->saved[0]), *rstd = _cxr_f32 (node->saved[1]);
  const gfloat *vx = _cxr_f32 (x), *vw = w ? _cxr_f32 (w) : NULL;
  gfloat *dx = _cxr_grad (x), *dw = _cxr_grad (w), *db = _cxr_grad (b);
  gint64 n = node->i[0], c = node->i[1], inner = node->i[2];
  gdouble count = (gdouble) (n * inner);

#pragma omp parallel for schedule(static)
  for (gint64 ch = 0; ch < c; ch++)
    {
      gdouble sum_dy = 0, sum_dy_xhat = 0;
      gfloat scale;
      for (gint64 i = 0; i < n; i++)
        for (gint64 j = 0; j < inner; j++)
          {
            gint64 at = (i * c + ch) * inner + j;
            sum_dy += dy[at];
            sum_dy_xhat += (gdouble) dy[at] * (vx[at] - mean[ch]) * rstd[ch];
          }
      if (dw)
        dw[ch] += (gfloat) sum_dy_xhat;
      if (db)
        db[ch] += (gfloat) sum_dy;
      if (dx == NULL)
        continue;
      /* dx = w rstd / M (M dy - sum dy - xhat sum (dy xhat)) */
      scale = (vw ? vw[ch] : 1.0f) * rstd[ch];
      for (gint64 i = 0; i < n; i++)
        for (gint64 j = 0; j < inner; j++)
          {
            gint64 at = (i * c + ch) * inner + j;
            gdouble xhat = (vx[at] - mean[ch]) * rstd[ch];
            dx[at] += (gfloat) (scale * (dy[at] - sum_dy / count - xhat * sum_dy_xhat / count));
          }
    }
}

/**
 * cxr_op_batch_norm_train:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor [N, C, ...]
 * @weight: (nullable): F32 [C]
 * @bias: (nullable): F32 [C]
 * @running_mean: (nullable): F32 [C], updated in place
 * @running_var: (nullable): F32 [C], updated in place
 * @momentum: the weight of this batch in the running statistics (0.1)
 * @eps: added to the variance
 * @error: return location for a #GError
 *
 * Batch norm in training mode, as torch.nn.BatchNorm2d in train(): each
 * channel normalised with the mean and (biased) variance of the batch,
 * and the running statistics moved towards them (the variance unbiased):
 * running = (1 - momentum) running + momentum batch. Gradients flow to
 * @x (through the batch statistics), @weight and @bias.
 *
 * Returns: (transfer full): the normalised tensor, or %NULL with @error
 *   set (also when a channel has a single value)
 */
CxrTensor *
cxr_op_batch_norm_train (CxrTape *tape, CxrTensor *x, CxrTensor *weight, CxrTensor *bias, CxrTensor *running_mean,
                         CxrTensor *running_var, gfloat momentum, gfloat eps, GError **error)
{
  gint64 n, c, inner, count;
  CxrTensor *out, *m, *rstd;
  const gfloat *vx, *vw, *vb;
  gfloat *o, *pm, *pr, *rm, *rv;

  if (!_cxr_check_input (x, "batch_norm_train", "x", error))
    return NULL;
  if (cxr_tensor_get_ndim (x) < 2)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE, "batch_norm_train: x needs [N, C, ...]");
      return NULL;
    }
  n = cxr_tensor_get_dim (x, 0);
  c = cxr_tensor_get_dim (x, 1);
  inner = _cxr_numel (x) / MAX (n * c, 1);
  count = n * inner;
  if (!check_vector (weight, c, "batch_norm_train", "weight", error) ||
      !check_vector (bias, c, "batch_norm_train", "bias", error) ||
      !check_vector (running_mean, c, "batch_norm_train", "running_mean", error) ||
      !check_vector (running_var, c, "batch_norm_train", "running_var", error))
    return NULL;
  if (count < 2)
    {
      g_autofree gchar *d = cxr_tensor_describe (x);
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "batch_norm_train: x %s has one value per channel; training needs a batch of more", d);
      return NULL;
    }
  out = _cxr_tensor_new_uninitialized_like (x);
  m = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { c }, 1);
  rstd = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { c }, 1);
  vx = _cxr_f32 (x);
  vw = weight ? _cxr_f32 (weight) : NULL;
  vb = bias ? _cxr_f32 (bias) : NULL;
  rm = running_mean ? _cxr_f32 (running_mean) : NULL;
  rv = running_var ? _cxr_f32 (running_var) : NULL;
  o = _cxr_f32 (out);
  pm = _cxr_f32 (m);
  pr = _cxr_f32 (rstd);
#pragma omp parallel for schedule(static)
  for (gint64 ch = 0; ch < c; ch++)
    {
      gdouble sum = 0, sq = 0, mean, var;
      for (gint64 i = 0; i < n; i++)
        for (gint64 j = 0; j < inner; j++)
          sum += vx[(i * c + ch) * inner + j];
      mean = sum / count;
      for (gint64 i = 0; i < n; i++)
        for (gint64 j = 0; j < inner; j++)
          {
            gdouble d = vx[(i * c + ch) * inner + j] - mean;
            sq += d * d;
          }
      var = sq / count;
      pm[ch] = (gfloat) mean;
      pr[ch] = (gfloat) (1.0 / sqrt (var + eps));
      if (rm)
        rm[ch] = (1.0f - momentum) * rm[ch] + momentum * (gfloat) mean;
      if (rv)
        rv[ch] = (1.0f - momentum) * rv[ch] + momentum * (gfloat) (sq / (count - 1));
      for (gint64 i = 0; i < n; i++)
        for (gint64 j = 0; j < inner; j++)
          {
            gint64 at = (i * c + ch) * inner + j;
            o[at] = (vx[at] - pm[ch]) * pr[ch] * (vw ? vw[ch] : 1.0f) + (vb ? vb[ch] : 0.0f);
          }
    }
  record_batch_norm (tape, "batch_norm_train", batch_norm_train_backward, out, x, weight, bias, m, rstd, n, c, inner);
  return out;
}
