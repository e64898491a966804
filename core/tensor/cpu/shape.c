/* core/tensor/cpu/shape.c: reshape, permute, concat and slice as ops with
 * a backward, and the reductions and losses.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxr-ops-private.h"

/* --------------------------------------------------------------- reshape */

static void
add_into (CxrTensor *x, CxrTensor *out)
{
  gfloat *dx = _cxr_grad (x);
  const gfloat *dy = _cxr_f32 (cxr_tensor_get_grad (out));
  gint64 n = _cxr_numel (x);

  if (dx)
    for (gint64 i = 0; i < n; i++)
      dx[i] += dy[i];
}

static void
reshape_backward (CxrNode *node)
{
  add_into (g_ptr_array_index (node->in, 0), node->out);
}

/**
 * cxr_op_reshape:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: a contiguous F32 tensor
 * @shape: (array length=ndim): the new shape; one size may be -1
 * @ndim: the number of dimensions
 * @error: return location for a #GError
 *
 * Returns: (transfer full): a reshaped copy (recorded, unlike the view of
 *   cxr_tensor_reshape()), or %NULL with @error set
 */
CxrTensor *
cxr_op_reshape (CxrTape *tape, CxrTensor *x, const gint64 *shape, guint ndim, GError **error)
{
  g_autoptr (CxrTensor) view = NULL;
  CxrTensor *out;

  if (!_cxr_check_input (x, "reshape", "x", error))
    return NULL;
  view = cxr_tensor_reshape (x, shape, ndim, error);
  if (view == NULL)
    return NULL;
  out = cxr_tensor_new_like (view);
  memcpy (_cxr_f32 (out), _cxr_f32 (x), cxr_tensor_get_nbytes (x));
  _cxr_tape_record (tape, "reshape", reshape_backward, out, &x, 1);
  return out;
}

/* --------------------------------------------------------------- permute */

static void
permute_backward (CxrNode *node)
{
  CxrTensor *x = g_ptr_array_index (node->in, 0);
  gfloat *dx = _cxr_grad (x);
  gint dims[CXR_TENSOR_MAX_DIMS], inverse[CXR_TENSOR_MAX_DIMS];
  guint nd = cxr_tensor_get_ndim (x);
  g_autoptr (CxrTensor) back = NULL, c = NULL;

  if (dx == NULL)
    return;
  for (guint i = 0; i < nd; i++)
    dims[i] = (gint) node->i[i];
  for (guint i = 0; i < nd; i++)
    inverse[dims[i]] = (gint) i;
  back = cxr_tensor_permute (cxr_tensor_get_grad (node->out), inverse, nd, NULL);
  c = cxr_tensor_contiguous (back);
  for (gint64 i = 0, count = _cxr_numel (x); i < count; i++)
    dx[i] += _cxr_f32 (c)[i];
}

/**
 * cxr_op_permute:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: a contiguous F32 tensor
 * @dims: (array length=n_dims): the old dimension of each new one
 * @n_dims: the number of dimensions of @x
 * @error: return location for a #GError
 *
 * Returns: (transfer full): a contiguous permuted copy, or %NULL with
 *   @error set
 */
CxrTensor *
cxr_op_permute (CxrTape *tape, CxrTensor *x, const gint *dims, guint n_dims, GError **error)
{
  g_autoptr (CxrTensor) view = NULL;
  CxrTensor *out;
  CxrNode *node;

  if (!_cxr_check_input (x, "permute", "x", error))
    return NULL;
  view = cxr_tensor_permute (x, dims, n_dims, error);
  if (view == NULL)
    return NULL;
  out = cxr_tensor_is_contiguous (view) ? cxr_tensor_new_like (view) : cxr_tensor_contiguous (view);
  if (cxr_tensor_is_contiguous (view))
    memcpy (_cxr_f32 (out), _cxr_f32 (view), cxr_tensor_get_nbytes (view));
  node = _cxr_tape_record (tape, "permute", permute_backward, out, &x, 1);
  if (node)
    for (guint i = 0; i < n_dims; i++)
      node->i[i] = dims[i] < 0 ? dims[i] + (gint) n_dims : dims[i];
  return out;
}

/* ---------------------------------------------------------------- concat */

/* A tensor as [outer, size, inner] around dimension @dim. */
static void
split_at (CxrTensor *t, gint dim, gint64 *outer, gint64 *size, gint64 *inner)
{
  guint nd = cxr_tensor_get_ndim (t);
  *outer = 1;
  *inner = 1;
  for (gint i = 0; i < dim; i++)
    *outer *= cxr_tensor_get_dim (t, i);
  for (guint i = dim + 1; i < nd; i++)
    *inner *= cxr_tensor_get_dim (t, i);
  *size = cxr_tensor_get_dim (t, dim);
}

static void
concat_backward (CxrNode *node)
{
  gint dim = (gint) node->i[0];
  const gfloat *dy = _cxr_f32 (cxr_tensor_get_grad (node->out));
  gint64 outer, total, inner, at = 0;

  split_at (node->out, dim, &outer, &total, &inner);
  for (guint t = 0; t < node->in->len; t++)
    {
      CxrTensor *x = g_ptr_array_index (node->in, t);
      gint64 size = cxr_tensor_get_dim (x, dim);
      gfloat *dx = _cxr_grad (x);
      if (dx)
        for (gint64 o = 0; o < outer; o++)
          for (gint64 i = 0; i < size * inner; i++)
            dx[o * size * inner + i] += dy[(o * total + at) * inner + i];
      at += size;
    }
}

/**
 * cxr_op_concat:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @tensors: (array length=n_tensors): F32 tensors of one shape but along @dim
 * @n_tensors: how many, at least 1
 * @dim: the dimension to join along; negative counts from the last
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the tensors joined along @dim, or %NULL with
 *   @error set
 */
CxrTensor *
cxr_op_concat (CxrTape *tape, CxrTensor **tensors, guint n_tensors, gint dim, GError **error)
{
  gint64 shape[CXR_TENSOR_MAX_DIMS], outer, total, inner, at = 0;
  guint nd;
  CxrTensor *out;
  CxrNode *node;

  if (n_tensors == 0 || !_cxr_check_input (tensors[0], "concat", "tensor 0", error))
    {
      if (n_tensors == 0)
        g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE, "concat: no tensors");
      return NULL;
    }
  nd = cxr_tensor_get_ndim (tensors[0]);
  if (dim < 0)
    dim += (gint) nd;
  if (dim < 0 || (guint) dim >= nd)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE, "concat: dimension out of range");
      return NULL;
    }
  memcpy (shape, cxr_tensor_get_shape (tensors[0], NULL), nd * sizeof (gint64));
  shape[dim] = 0;
  for (guint t = 0; t < n_tensors; t++)
    {
      g_autofree gchar *what = g_strdup_printf ("tensor %u", t);
      if (!_cxr_check_input (tensors[t], "concat", what, error))
        return NULL;
      for (guint d = 0; d < nd; d++)
        if (cxr_tensor_get_ndim (tensors[t]) != nd ||
            ((gint) d != dim && cxr_tensor_get_dim (tensors[t], d) != shape[d]))
          {
            g_autofree gchar *a = cxr_tensor_describe (tensors[0]), *b = cxr_tensor_describe (tensors[t]);
            g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                         "concat: %s and %s differ outside dimension %d", a, b, dim);
            return NULL;
          }
      shape[dim] += cxr_tensor_get_dim (tensors[t], dim);
    }
  out = cxr_tensor_new (CXR_DTYPE_F32, shape, nd);
  split_at (out, dim, &outer, &total, &inner);
  for (guint t = 0; t < n_tensors; t++)
    {
      gint64 size = cxr_tensor_get_dim (tensors[t], dim);
      for (gint64 o = 0; o < outer; o++)
        memcpy (_cxr_f32 (out) + (o * total + at) * inner, _cxr_f32 (tensors[t]) + o * size * inner,
                size * inner * sizeof (gfloat));
      at += size;
    }
  node = _cxr_tape_record (tape, "concat", concat_backward, out, tensors, n_tensors);
  if (node)
    node->i[0] = dim;
  return out;
}

/* ----------------------------------------------------------------- slice */

static void
slice_backward (CxrNode *node)
{
  CxrTensor *x = g_ptr_array_index (node->in, 0);
  gint dim = (gint) node->i[0];
  gint64 start = node->i[1], outer, size, inner, n = cxr_tensor_get_dim (node->out, dim);
  gfloat *dx = _cxr_grad (x);
  const gfloat *dy = _cxr_f32 (cxr_tensor_get_grad (node->out));

  if (dx == NULL)
    return;
  split_at (x, dim, &outer, &size, &inner);
  for (gint64 o = 0; o < outer; o++)
    for (gint64 i = 0; i < n * inner; i++)
      dx[(o * size + start) * inner + i] += dy[o * n * inner + i];
}

/**
 * cxr_op_slice:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: a contiguous F32 tensor
 * @dim: the dimension to cut; negative counts from the last
 * @start: the first index kept (negative counts from the end)
 * @stop: one past the last index kept (negative counts from the end)
 * @error: return location for a #GError
 *
 * Returns: (transfer full): a contiguous copy of x[..., start:stop, ...],
 *   or %NULL with @error set
 */
CxrTensor *
cxr_op_slice (CxrTape *tape, CxrTensor *x, gint dim, gint64 start, gint64 stop, GError **error)
{
  g_autoptr (CxrTensor) view = NULL;
  CxrTensor *out;
  CxrNode *node;
  gint64 size;

  if (!_cxr_check_input (x, "slice", "x", error))
    return NULL;
  view = cxr_tensor_slice (x, dim, start, stop, 1, error);
  if (view == NULL)
    return NULL;
  if (dim < 0)
    dim += (gint) cxr_tensor_get_ndim (x);
  size = cxr_tensor_get_dim (x, dim);
  if (start < 0)
    start += size;
  start = CLAMP (start, 0, size);
  out = cxr_tensor_contiguous (view);
  if (out == view)
    {
      cxr_tensor_unref (out);
      out = cxr_tensor_new_like (view);
      memcpy (_cxr_f32 (out), _cxr_f32 (view), cxr_tensor_get_nbytes (view));
    }
  node = _cxr_tape_record (tape, "slice", slice_backward, out, &x, 1);
  if (node)
    {
      node->i[0] = dim;
      node->i[1] = start;
    }
  return out;
}

/* ------------------------------------------------------------ reductions */

static CxrTensor *
scalar (gdouble v)
{
  CxrTensor *t = cxr_tensor_new (CXR_DTYPE_F32, NULL, 0);
  _cxr_f32 (t)[0] = (gfloat) v;
  return t;
}

static void
sum_backward (CxrNode *node)
{
  CxrTensor *x = g_ptr_array_index (node->in, 0);
  gfloat *dx = _cxr_grad (x);
  gfloat g = _cxr_f32 (cxr_tensor_get_grad (node->out))[0] * (gfloat) node->f[0];
  gint64 count = _cxr_numel (x);

  if (dx)
#pragma omp parallel for simd schedule(static) if (count > 65536)
    for (gint64 i = 0; i < count; i++)
      dx[i] += g;
}

/* _cxr_sum_blocks() over chunks of a fixed size, split over threads and
 * added up in order: the same result on any thread count. */
#define SUM_CHUNK 16384
static gdouble
sum_of (const gfloat *v, gint64 n)
{
  gint64 n_chunks = (n + SUM_CHUNK - 1) / SUM_CHUNK;
  g_autofree gdouble *partial = g_new (gdouble, MAX (n_chunks, 1));
  gdouble s = 0;

#pragma omp parallel for schedule(static) if (n_chunks > 4)
  for (gint64 c = 0; c < n_chunks; c++)
    partial[c] = _cxr_sum_blocks (v + c * SUM_CHUNK, MIN (SUM_CHUNK, n - c * SUM_CHUNK));
  for (gint64 c = 0; c < n_chunks; c++)
    s += partial[c];
  return s;
}

/**
 * cxr_op_sum:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the sum of all elements (accumulated in
 *   double), a scalar, or %NULL with @error set
 */
CxrTensor *
cxr_op_sum (CxrTape *tape, CxrTensor *x, GError **error)
{
  CxrTensor *out;
  CxrNode *node;

  if (!_cxr_check_input (x, "sum", "x", error))
    return NULL;
  out = scalar (sum_of (_cxr_f32 (x), _cxr_numel (x)));
  node = _cxr_tape_record (tape, "sum", sum_backward, out, &x, 1);
  if (node)
    node->f[0] = 1.0;
  return out;
}

/**
 * cxr_op_mean:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor with at least one element
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the mean of all elements, a scalar, or %NULL
 *   with @error set
 */
CxrTensor *
cxr_op_mean (CxrTape *tape, CxrTensor *x, GError **error)
{
  CxrTensor *out;
  CxrNode *node;
  gint64 n;

  if (!_cxr_check_input (x, "mean", "x", error))
    return NULL;
  n = _cxr_numel (x);
  if (n == 0)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE, "mean: x is empty");
      return NULL;
    }
  out = scalar (sum_of (_cxr_f32 (x), n) / n);
  node = _cxr_tape_record (tape, "mean", sum_backward, out, &x, 1);
  if (node)
    node->f[0] = 1.0 / n;
  return out;
}

static void
mse_backward (CxrNode *node)
{
  CxrTensor *a = g_ptr_array_index (node->in, 0), *b = g_ptr_array_index (node->in, 1);
  gfloat *da = _cxr_grad (a), *db = _cxr_grad (b);
  const gfloat *va = _cxr_f32 (a), *vb = _cxr_f32 (b);
  gint64 n = _cxr_numel (a);
  gfloat g = _cxr_f32 (cxr_tensor_get_grad (node->out))[0] * 2.0f / (gfloat) n;

#pragma omp parallel for schedule(static) if (n > 65536)
  for (gint64 i = 0; i < n; i++)
    {
      gfloat d = (va[i] - vb[i]) * g;
      if (da)
        da[i] += d;
      if (db)
        db[i] -= d;
    }
}

/**
 * cxr_op_mse:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @prediction: an F32 tensor
 * @target: an F32 tensor of the same shape
 * @error: return location for a #GError
 *
 * Returns: (transfer full): mean((prediction - target)^2), a scalar, or
 *   %NULL with @error set
 */
CxrTensor *
cxr_op_mse (CxrTape *tape, CxrTensor *prediction, CxrTensor *target, GError **error)
{
  gdouble s = 0;
  gint64 n;
  const gfloat *a, *b;
  CxrTensor *out;

  if (!_cxr_check_input (prediction, "mse", "prediction", error) ||
      !_cxr_check_input (target, "mse", "target", error) ||
      !_cxr_check_shape_equal (prediction, target, "mse", error))
    return NULL;
  n = _cxr_numel (prediction);
  a = _cxr_f32 (prediction);
  b = _cxr_f32 (target);
  for (gint64 i = 0; i < n; i++)
    s += (gdouble) (a[i] - b[i]) * (a[i] - b[i]);
  out = scalar (n ? s / n : NAN);
  {
    CxrTensor *inputs[] = { prediction, target };
    _cxr_tape_record (tape, "mse", mse_backward, out, inputs, 2);
  }
  return out;
}

static void
bce_backward (CxrNode *node)
{
  CxrTensor *z = g_ptr_array_index (node->in, 0), *y = g_ptr_array_index (node->in, 1);
  CxrTensor *mask = node->saved[0];
  gfloat *dz = _cxr_grad (z), *dy = _cxr_grad (y);
  const gfloat *vz = _cxr_f32 (z), *vy = _cxr_f32 (y), *vm = mask ? _cxr_f32 (mask) : NULL;
  gint64 n = _cxr_numel (z);
  gdouble g = _cxr_f32 (cxr_tensor_get_grad (node->out))[0] * node->f[0];

  for (gint64 i = 0; i < n; i++)
    {
      gdouble w = vm ? vm[i] : 1.0;
      if (w == 0)
        continue;
      /* d/dz = sigmoid(z) - y, d/dy = -z */
      if (dz)
        dz[i] += (gfloat) (g * w * (1.0 / (1.0 + exp (-(gdouble) vz[i])) - vy[i]));
      if (dy)
        dy[i] -= (gfloat) (g * w * vz[i]);
    }
}

/**
 * cxr_op_binary_cross_entropy_logits:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @logits: an F32 tensor
 * @targets: F32 of the same shape, in [0, 1]
 * @mask: (nullable): F32 of the same shape: 1 where the element counts, 0
 *   where it does not (an uncertain or missing label)
 * @error: return location for a #GError
 *
 * Binary cross-entropy of sigmoid(@logits) against @targets, computed
 * stably from the logits (max(z, 0) - z y + log(1 + exp(-|z|))), as
 * torch.nn.functional.binary_cross_entropy_with_logits; the mean over the
 * elements @mask keeps. Gradients flow to @logits (and @targets).
 *
 * Returns: (transfer full): the mean loss, a scalar (0 when the mask keeps
 *   nothing), or %NULL with @error set
 */
CxrTensor *
cxr_op_binary_cross_entropy_logits (CxrTape *tape, CxrTensor *logits, CxrTensor *targets, CxrTensor *mask,
                                    GError **error)
{
  const gfloat *z, *y, *m;
  gdouble sum = 0, count = 0;
  gint64 n;
  CxrTensor *out;
  CxrNode *node;

  if (!_cxr_check_input (logits, "binary_cross_entropy", "logits", error) ||
      !_cxr_check_input (targets, "binary_cross_entropy", "targets", error) ||
      !_cxr_check_shape_equal (logits, targets, "binary_cross_entropy", error) ||
      (mask && (!_cxr_check_input (mask, "binary_cross_entropy", "mask", error) ||
                !_cxr_check_shape_equal (logits, mask, "binary_cross_entropy", error))))
    return NULL;
  n = _cxr_numel (logits);
  z = _cxr_f32 (logits);
  y = _cxr_f32 (targets);
  m = mask ? _cxr_f32 (mask) : NULL;
  for (gint64 i = 0; i < n; i++)
    {
      gdouble w = m ? m[i] : 1.0, v = z[i];
      if (w == 0)
        continue;
      sum += w * (MAX (v, 0.0) - v * y[i] + log1p (exp (-fabs (v))));
      count += w;
    }
  out = scalar (count > 0 ? sum / count : 0.0);
  {
    CxrTensor *inputs[] = { logits, targets };
    node = _cxr_tape_record (tape, "binary_cross_entropy", bce_backward, out, inputs, 2);
  }
  if (node)
    {
      node->saved[0] = mask ? cxr_tensor_ref (mask) : NULL;
      node->f[0] = count > 0 ? 1.0 / count : 0.0;
    }
  return out;
}

static gboolean
read_targets (CxrTensor *targets, gint64 **out, GError **error)
{
  g_autoptr (CxrTensor) c = NULL;
  CxrDType dtype = cxr_tensor_get_dtype (targets);

  if (dtype != CXR_DTYPE_I64 && dtype != CXR_DTYPE_I32)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_DTYPE,
                   "cross_entropy: targets are %s, not I64 or I32", cxr_dtype_get_name (dtype));
      return FALSE;
    }
  c = cxr_tensor_to_dtype (targets, CXR_DTYPE_I64, error);
  if (c == NULL)
    return FALSE;
  *out = g_memdup2 (cxr_tensor_get_data (c), (gsize) MAX (_cxr_numel (c), 1) * sizeof (gint64));
  return TRUE;
}

static void
cross_entropy_backward (CxrNode *node)
{
  CxrTensor *logits = g_ptr_array_index (node->in, 0), *targets = g_ptr_array_index (node->in, 1);
  gfloat *dl = _cxr_grad (logits);
  gint64 rows = node->i[0], classes = node->i[1], ignore = node->i[2], valid = node->i[3];
  const gfloat *lse = _cxr_f32 (node->saved[0]), *x = _cxr_f32 (logits);
  gfloat g;
  g_autofree gint64 *t = NULL;

  if (dl == NULL || valid == 0 || !read_targets (targets, &t, NULL))
    return;
  g = _cxr_f32 (cxr_tensor_get_grad (node->out))[0] / (gfloat) valid;
#pragma omp parallel for schedule(static)
  for (gint64 r = 0; r < rows; r++)
    {
      if (t[r] == ignore)
        continue;
      for (gint64 c = 0; c < classes; c++)
        dl[r * classes + c] += g * (expf (x[r * classes + c] - lse[r]) - (c == t[r] ? 1.0f : 0.0f));
    }
}

/**
 * cxr_op_cross_entropy:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @logits: F32 [N, C]
 * @targets: I64 or I32 [N]: a class, or @ignore_index
 * @ignore_index: the target value that takes no part (as PyTorch's -100)
 * @error: return location for a #GError
 *
 * The mean over the rows not ignored of -log softmax(logits)[target], as
 * torch.nn.functional.cross_entropy (no label smoothing); NaN when every
 * row is ignored, as PyTorch.
 *
 * Returns: (transfer full): a scalar, or %NULL with @error set (naming a
 *   target outside the classes)
 */
CxrTensor *
cxr_op_cross_entropy (CxrTape *tape, CxrTensor *logits, CxrTensor *targets, gint64 ignore_index,
                      GError **error)
{
  gint64 rows, classes, valid = 0;
  g_autofree gint64 *t = NULL;
  CxrTensor *out, *lse;
  const gfloat *x;
  gdouble total = 0;
  CxrNode *node;

  if (!_cxr_check_input (logits, "cross_entropy", "logits", error))
    return NULL;
  if (cxr_tensor_get_ndim (logits) != 2 || targets == NULL || cxr_tensor_get_ndim (targets) != 1 ||
      cxr_tensor_get_dim (targets, 0) != cxr_tensor_get_dim (logits, 0))
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "cross_entropy: needs logits [N, C] and targets [N]");
      return NULL;
    }
  if (!read_targets (targets, &t, error))
    return NULL;
  rows = cxr_tensor_get_dim (logits, 0);
  classes = cxr_tensor_get_dim (logits, 1);
  for (gint64 r = 0; r < rows; r++)
    if (t[r] != ignore_index && (t[r] < 0 || t[r] >= classes))
      {
        g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                     "cross_entropy: target %" G_GINT64_FORMAT " of row %" G_GINT64_FORMAT
                     " is not a class of %" G_GINT64_FORMAT,
                     t[r], r, classes);
        return NULL;
      }
  lse = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { rows }, 1);
  x = _cxr_f32 (logits);
  for (gint64 r = 0; r < rows; r++)
    {
      const gfloat *xr = x + r * classes;
      gfloat m = -INFINITY;
      gdouble s = 0;
      for (gint64 c = 0; c < classes; c++)
        m = MAX (m, xr[c]);
      for (gint64 c = 0; c < classes; c++)
        s += exp ((gdouble) xr[c] - m);
      _cxr_f32 (lse)[r] = (gfloat) (m + log (s));
      if (t[r] == ignore_index)
        continue;
      total += m + log (s) - xr[t[r]];
      valid++;
    }
  out = scalar (valid ? total / valid : NAN);
  {
    CxrTensor *inputs[] = { logits, targets };
    node = _cxr_tape_record (tape, "cross_entropy", cross_entropy_backward, out, inputs, 2);
  }
  if (node)
    {
      node->saved[0] = lse;
      node->i[0] = rows;
      node->i[1] = classes;
      node->i[2] = ignore_index;
      node->i[3] = valid;
    }
  else
    cxr_tensor_unref (lse);
  return out;
}

static void
cosine_backward (CxrNode *node)
{
  CxrTensor *a = g_ptr_array_index (node->in, 0), *b = g_ptr_array_index (node->in, 1);
  gfloat *da = _cxr_grad (a), *db = _cxr_grad (b);
  const gfloat *va = _cxr_f32 (a), *vb = _cxr_f32 (b), *dy = _cxr_f32 (cxr_tensor_get_grad (node->out));
  gint64 d = cxr_tensor_get_dim (a, -1), rows = _cxr_numel (a) / MAX (d, 1);
  gdouble eps = node->f[0];

  for (gint64 r = 0; r < rows; r++)
    {
      const gfloat *x = va + r * d, *y = vb + r * d;
      gdouble xy = 0, xx = 0, yy = 0, den, g;
      for (gint64 k = 0; k < d; k++)
        {
          xy += (gdouble) x[k] * y[k];
          xx += (gdouble) x[k] * x[k];
          yy += (gdouble) y[k] * y[k];
        }
      /* cos = xy / sqrt(max(xx * yy, eps^2)), as PyTorch computes it */
      g = dy[r];
      if (xx * yy > eps * eps)
        {
          den = sqrt (xx * yy);
          for (gint64 k = 0; k < d; k++)
            {
              if (da)
                da[r * d + k] += (gfloat) (g * (y[k] / den - xy * x[k] / (den * xx)));
              if (db)
                db[r * d + k] += (gfloat) (g * (x[k] / den - xy * y[k] / (den * yy)));
            }
        }
      else
        for (gint64 k = 0; k < d; k++)
          {
            if (da)
              da[r * d + k] += (gfloat) (g * y[k] / eps);
            if (db)
              db[r * d + k] += (gfloat) (g * x[k] / eps);
          }
    }
}

/**
 * cxr_op_cosine_similarity:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @a: F32 [..., D]
 * @b: F32 of the same shape
 * @eps: the floor of the product of the norms (PyTorch's default: 1e-8)
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the cosine similarity over the last dimension,
 *   [...], or %NULL with @error set
 */
CxrTensor *
cxr_op_cosine_similarity (CxrTape *tape, CxrTensor *a, CxrTensor *b, gfloat eps, GError **error)
{
  gint64 d, rows;
  guint nd;
  CxrTensor *out;
  CxrNode *node;

  if (!_cxr_check_input (a, "cosine_similarity", "a", error) ||
      !_cxr_check_input (b, "cosine_similarity", "b", error) ||
      !_cxr_check_shape_equal (a, b, "cosine_similarity", error))
    return NULL;
  nd = cxr_tensor_get_ndim (a);
  if (nd == 0)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE, "cosine_similarity: a has no dimension");
      return NULL;
    }
  d = cxr_tensor_get_dim (a, -1);
  rows = _cxr_numel (a) / MAX (d, 1);
  out = cxr_tensor_new (CXR_DTYPE_F32, cxr_tensor_get_shape (a, NULL), nd - 1);
  for (gint64 r = 0; r < rows; r++)
    {
      const gfloat *x = _cxr_f32 (a) + r * d, *y = _cxr_f32 (b) + r * d;
      gdouble xy = 0, xx = 0, yy = 0;
      for (gint64 k = 0; k < d; k++)
        {
          xy += (gdouble) x[k] * y[k];
          xx += (gdouble) x[k] * x[k];
          yy += (gdouble) y[k] * y[k];
        }
      _cxr_f32 (out)[r] = (gfloat) (xy / sqrt (MAX (xx * yy, (gdouble) eps * eps)));
    }
  {
    CxrTensor *inputs[] = { a, b };
    node = _cxr_tape_record (tape, "cosine_similarity", cosine_backward, out, inputs, 2);
  }
  if (node)
    node->f[0] = eps;
  return out;
}
