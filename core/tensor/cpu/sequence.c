/* core/tensor/cpu/sequence.c: Philox random numbers, dropout, embedding
 * lookup, sinusoidal timestep embedding, masked mean, and fused
 * scaled-dot-product attention computed in tiles, forward and backward.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxr-ops-private.h"

/* ------------------------------------------------------------- Philox */

/* Philox4x32-10 (Salmon et al., SC 2011): a counter-based generator, so
 * the numbers of element e depend on (seed, offset, e) alone, never on
 * the thread that computes them. */
static void
philox4x32 (guint64 counter, guint64 seed, guint32 out[4])
{
  guint32 c0 = (guint32) counter, c1 = (guint32) (counter >> 32), c2 = 0, c3 = 0;
  guint32 k0 = (guint32) seed, k1 = (guint32) (seed >> 32);

  for (guint round = 0; round < 10; round++)
    {
      guint64 p0 = (guint64) 0xD2511F53u * c0;
      guint64 p1 = (guint64) 0xCD9E8D57u * c2;
      guint32 n0 = (guint32) (p1 >> 32) ^ c1 ^ k0;
      guint32 n2 = (guint32) (p0 >> 32) ^ c3 ^ k1;
      c1 = (guint32) p1;
      c3 = (guint32) p0;
      c0 = n0;
      c2 = n2;
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

static inline gfloat
uniform_of (guint32 u)
{
  return (gfloat) (u >> 8) * (1.0f / 16777216.0f); /* [0, 1) */
}

/**
 * cxr_philox_uniform:
 * @seed: the key
 * @offset: the counter of the first number: numbers @offset ... @offset + n
 * @out: (out caller-allocates) (array length=n): where to write
 * @n: how many numbers
 *
 * Uniform numbers in [0, 1) from Philox4x32-10, 24 random bits each.
 * Number i is the same whoever asks for it and in whatever order.
 */
void
cxr_philox_uniform (guint64 seed, guint64 offset, gfloat *out, gsize n)
{
#pragma omp parallel for schedule(static) if (n > 65536)
  for (gsize i = 0; i < n; i++)
    {
      guint32 r[4];
      guint64 index = offset + i;
      philox4x32 (index / 4, seed, r);
      out[i] = uniform_of (r[index % 4]);
    }
}

/**
 * cxr_philox_normal:
 * @seed: the key
 * @offset: the index of the first number
 * @out: (out caller-allocates) (array length=n): where to write
 * @n: how many numbers
 *
 * Standard normal numbers (Box-Muller on Philox4x32-10 output); number i
 * depends on (@seed, @offset + i) alone.
 */
void
cxr_philox_normal (guint64 seed, guint64 offset, gfloat *out, gsize n)
{
#pragma omp parallel for schedule(static) if (n > 65536)
  for (gsize i = 0; i < n; i++)
    {
      guint32 r[4];
      guint64 index = offset + i;
      gdouble u1, u2, radius;
      philox4x32 (index / 2, seed ^ G_GUINT64_CONSTANT (0x5DEECE66D), r);
      u1 = ((r[0] >> 8) + 1.0) / 16777217.0; /* (0, 1]: no log of 0 */
      u2 = (r[1] >> 8) / 16777216.0;
      radius = sqrt (-2.0 * log (u1));
      out[i] = (gfloat) (index % 2 == 0 ? radius * cos (2 * G_PI * u2) : radius * sin (2 * G_PI * u2));
    }
}

/**
 * cxr_tensor_new_randn:
 * @shape: (array length=ndim): the shape
 * @ndim: the number of dimensions
 * @seed: the key
 * @offset: the index of the first number
 *
 * Returns: (transfer full): an F32 tensor of standard normal numbers from
 *   cxr_philox_normal()
 */
CxrTensor *
cxr_tensor_new_randn (const gint64 *shape, guint ndim, guint64 seed, guint64 offset)
{
  CxrTensor *t = cxr_tensor_new (CXR_DTYPE_F32, shape, ndim);
  cxr_philox_normal (seed, offset, _cxr_f32 (t), (gsize) _cxr_numel (t));
  return t;
}

/* ------------------------------------------------------------- dropout */

static void
dropout_mask (gfloat *mask, gsize n, gfloat p, guint64 seed, guint64 offset)
{
  gfloat keep = 1.0f / (1.0f - p);

  cxr_philox_uniform (seed, offset, mask, n);
  for (gsize i = 0; i < n; i++)
    mask[i] = mask[i] < p ? 0.0f : keep;
}

static void
dropout_backward (CxrNode *node)
{
  CxrTensor *x = g_ptr_array_index (node->in, 0);
  gfloat *dx = _cxr_grad (x);
  const gfloat *dy = _cxr_f32 (cxr_tensor_get_grad (node->out));
  gint64 n = _cxr_numel (x);
  g_autofree gfloat *mask = NULL;

  if (dx == NULL)
    return;
  mask = g_new (gfloat, MAX (n, 1));
  dropout_mask (mask, n, (gfloat) node->f[0], (guint64) node->i[0], (guint64) node->i[1]);
  for (gint64 i = 0; i < n; i++)
    dx[i] += dy[i] * mask[i];
}

/**
 * cxr_op_dropout:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: an F32 tensor
 * @p: the probability of zeroing an element, in [0, 1)
 * @seed: the Philox key
 * @offset: the Philox counter of the first element
 * @error: return location for a #GError
 *
 * Zeroes each element with probability @p and scales the rest by
 * 1 / (1 - @p). The mask depends on (@seed, @offset) only, so backward
 * recomputes it instead of storing it.
 *
 * Returns: (transfer full): the result, or %NULL with @error set
 */
CxrTensor *
cxr_op_dropout (CxrTape *tape, CxrTensor *x, gfloat p, guint64 seed, guint64 offset, GError **error)
{
  CxrTensor *out;
  gint64 n;
  g_autofree gfloat *mask = NULL;

  if (!_cxr_check_input (x, "dropout", "x", error))
    return NULL;
  if (!(p >= 0.0f && p < 1.0f))
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE, "dropout: p = %g is not in [0, 1)", p);
      return NULL;
    }
  n = _cxr_numel (x);
  out = _cxr_tensor_new_uninitialized_like (x);
  mask = g_new (gfloat, MAX (n, 1));
  dropout_mask (mask, n, p, seed, offset);
  for (gint64 i = 0; i < n; i++)
    _cxr_f32 (out)[i] = _cxr_f32 (x)[i] * mask[i];
  {
    CxrNode *node = _cxr_tape_record (tape, "dropout", dropout_backward, out, &x, 1);
    if (node)
      {
        node->f[0] = p;
        node->i[0] = (gint64) seed;
        node->i[1] = (gint64) offset;
      }
  }
  return out;
}

/* ----------------------------------------------------------- embedding */

static gboolean
read_ids (CxrTensor *ids, gint64 vocab, gint64 **out, GError **error)
{
  gint64 n = _cxr_numel (ids);
  CxrDType dtype = cxr_tensor_get_dtype (ids);
  g_autoptr (CxrTensor) c = NULL;

  if (dtype != CXR_DTYPE_I64 && dtype != CXR_DTYPE_I32)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_DTYPE, "embedding: ids are %s, not I64 or I32",
                   cxr_dtype_get_name (dtype));
      return FALSE;
    }
  c = cxr_tensor_to_dtype (ids, CXR_DTYPE_I64, error);
  if (c == NULL)
    return FALSE;
  *out = g_memdup2 (cxr_tensor_get_data (c), (gsize) MAX (n, 1) * sizeof (gint64));
  for (gint64 i = 0; i < n; i++)
    if ((*out)[i] < 0 || (*out)[i] >= vocab)
      {
        g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                     "embedding: id %" G_GINT64_FORMAT " at position %" G_GINT64_FORMAT
                     " is outside the table of %" G_GINT64_FORMAT " rows",
                     (*out)[i], i, vocab);
        g_clear_pointer (out, g_free);
        return FALSE;
      }
  return TRUE;
}

static void
embedding_backward (CxrNode *node)
{
  CxrTensor *weight = g_ptr_array_index (node->in, 0), *ids = g_ptr_array_index (node->in, 1);
  gfloat *dw = _cxr_grad (weight);
  const gfloat *dy = _cxr_f32 (cxr_tensor_get_grad (node->out));
  gint64 dim = cxr_tensor_get_dim (weight, 1), n = _cxr_numel (ids);
  g_autofree gint64 *index = NULL;

  if (dw == NULL || !read_ids (ids, cxr_tensor_get_dim (weight, 0), &index, NULL))
    return;
  /* Serial: repeated ids add into the same row. */
  for (gint64 i = 0; i < n; i++)
    for (gint64 d = 0; d < dim; d++)
      dw[index[i] * dim + d] += dy[i * dim + d];
}

/**
 * cxr_op_embedding:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @weight: F32 [vocab, dim]
 * @ids: I64 or I32 ids, any shape
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the rows of @weight, [ids..., dim], or %NULL
 *   with @error set (naming an id outside the table)
 */
CxrTensor *
cxr_op_embedding (CxrTape *tape, CxrTensor *weight, CxrTensor *ids, GError **error)
{
  g_autofree gint64 *index = NULL;
  gint64 shape[CXR_TENSOR_MAX_DIMS];
  guint nd = 0;
  const gint64 *sid;
  gint64 dim, n;
  CxrTensor *out;

  if (!_cxr_check_input (weight, "embedding", "weight", error))
    return NULL;
  if (cxr_tensor_get_ndim (weight) != 2 || ids == NULL || cxr_tensor_get_ndim (ids) >= CXR_TENSOR_MAX_DIMS)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "embedding: needs weight [vocab, dim] and ids of at most %d dimensions",
                   CXR_TENSOR_MAX_DIMS - 1);
      return NULL;
    }
  if (!read_ids (ids, cxr_tensor_get_dim (weight, 0), &index, error))
    return NULL;
  dim = cxr_tensor_get_dim (weight, 1);
  n = _cxr_numel (ids);
  sid = cxr_tensor_get_shape (ids, &nd);
  memcpy (shape, sid, nd * sizeof (gint64));
  shape[nd] = dim;
  out = cxr_tensor_new (CXR_DTYPE_F32, shape, nd + 1);
  for (gint64 i = 0; i < n; i++)
    memcpy (_cxr_f32 (out) + i * dim, _cxr_f32 (weight) + index[i] * dim, dim * sizeof (gfloat));
  {
    CxrTensor *inputs[] = { weight, ids };
    _cxr_tape_record (tape, "embedding", embedding_backward, out, inputs, 2);
  }
  return out;
}

/* ------------------------------------------------- timestep embedding */

/**
 * cxr_op_timestep_embedding:
 * @timesteps: F32 [N], or I64 / I32 [N]
 * @dim: the embedding width
 * @flip_sin_to_cos: put the cosines first (SD's UNet does)
 * @downscale_freq_shift: the frequency shift (SD: 0; the original DDPM: 1)
 * @scale: a factor on the arguments (usually 1)
 * @max_period: the longest period (usually 10000)
 * @error: return location for a #GError
 *
 * The sinusoidal timestep embedding of diffusers'
 * get_timestep_embedding(), computed in float32 as diffusers does:
 * frequencies exp(-ln(max_period) i / (dim/2 - shift)) for i < dim/2,
 * then [sin, cos] (or [cos, sin]), zero-padded when @dim is odd.
 * Timesteps carry no gradient.
 *
 * Returns: (transfer full): F32 [N, dim], or %NULL with @error set
 */
CxrTensor *
cxr_op_timestep_embedding (CxrTensor *timesteps, guint dim, gboolean flip_sin_to_cos,
                           gfloat downscale_freq_shift, gfloat scale, gfloat max_period,
                           GError **error)
{
  g_autoptr (CxrTensor) t = NULL;
  guint half = dim / 2;
  gint64 n;
  CxrTensor *out;

  if (timesteps == NULL || cxr_tensor_get_ndim (timesteps) != 1 || dim == 0 ||
      (gfloat) half - downscale_freq_shift == 0.0f)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "timestep_embedding: needs timesteps [N] and dim/2 - shift != 0");
      return NULL;
    }
  t = cxr_tensor_to_dtype (timesteps, CXR_DTYPE_F32, error);
  if (t == NULL)
    return NULL;
  n = cxr_tensor_get_dim (t, 0);
  out = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { n, dim }, 2);
  for (gint64 row = 0; row < n; row++)
    for (guint i = 0; i < half; i++)
      {
        /* float32 throughout, step by step as torch evaluates it */
        gfloat exponent = -logf (max_period) * (gfloat) i;
        gfloat freq, arg;
        exponent = exponent / ((gfloat) half - downscale_freq_shift);
        freq = expf (exponent);
        arg = _cxr_f32 (t)[row] * freq * scale;
        _cxr_f32 (out)[row * dim + (flip_sin_to_cos ? half + i : i)] = sinf (arg);
        _cxr_f32 (out)[row * dim + (flip_sin_to_cos ? i : half + i)] = cosf (arg);
      }
  return out;
}

/* ---------------------------------------------------------- masked mean */

static void
masked_mean_backward (CxrNode *node)
{
  CxrTensor *x = g_ptr_array_index (node->in, 0), *mask = g_ptr_array_index (node->in, 1);
  gfloat *dx = _cxr_grad (x);
  const gfloat *dy = _cxr_f32 (cxr_tensor_get_grad (node->out)), *m = _cxr_f32 (mask);
  const gfloat *den = _cxr_f32 (node->saved[0]);
  gint64 b = cxr_tensor_get_dim (x, 0), l = cxr_tensor_get_dim (x, 1), d = cxr_tensor_get_dim (x, 2);

  if (dx == NULL)
    return;
  for (gint64 i = 0; i < b; i++)
    for (gint64 t = 0; t < l; t++)
      for (gint64 k = 0; k < d; k++)
        dx[(i * l + t) * d + k] += dy[i * d + k] * m[i * l + t] / den[i];
}

/**
 * cxr_op_masked_mean:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @x: F32 [B, L, D]
 * @mask: F32 [B, L], 1 for tokens to average and 0 for padding
 * @error: return location for a #GError
 *
 * The mean over the tokens a mask keeps, as the paper pools BART's
 * encoder states: sum(x * mask) / max(sum(mask), 1e-9). The mask carries
 * no gradient.
 *
 * Returns: (transfer full): F32 [B, D], or %NULL with @error set
 */
CxrTensor *
cxr_op_masked_mean (CxrTape *tape, CxrTensor *x, CxrTensor *mask, GError **error)
{
  gint64 b, l, d;
  CxrTensor *out, *den;
  const gfloat *vx, *m;
  CxrNode *node;

  if (!_cxr_check_input (x, "masked_mean", "x", error) || !_cxr_check_input (mask, "masked_mean", "mask", error))
    return NULL;
  if (cxr_tensor_get_ndim (x) != 3 || cxr_tensor_get_ndim (mask) != 2 ||
      cxr_tensor_get_dim (mask, 0) != cxr_tensor_get_dim (x, 0) ||
      cxr_tensor_get_dim (mask, 1) != cxr_tensor_get_dim (x, 1))
    {
      g_autofree gchar *tx = cxr_tensor_describe (x), *tm = cxr_tensor_describe (mask);
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "masked_mean: x %s and mask %s do not fit ([B, L, D] and [B, L])", tx, tm);
      return NULL;
    }
  b = cxr_tensor_get_dim (x, 0);
  l = cxr_tensor_get_dim (x, 1);
  d = cxr_tensor_get_dim (x, 2);
  out = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { b, d }, 2);
  den = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { b }, 1);
  vx = _cxr_f32 (x);
  m = _cxr_f32 (mask);
  for (gint64 i = 0; i < b; i++)
    {
      gdouble s = 0;
      for (gint64 t = 0; t < l; t++)
        s += m[i * l + t];
      _cxr_f32 (den)[i] = (gfloat) MAX (s, 1e-9);
      for (gint64 k = 0; k < d; k++)
        {
          gdouble acc = 0;
          for (gint64 t = 0; t < l; t++)
            acc += (gdouble) vx[(i * l + t) * d + k] * m[i * l + t];
          _cxr_f32 (out)[i * d + k] = (gfloat) (acc / _cxr_f32 (den)[i]);
        }
    }
  {
    CxrTensor *inputs[] = { x, mask };
    node = _cxr_tape_record (tape, "masked_mean", masked_mean_backward, out, inputs, 2);
  }
  if (node)
    node->saved[0] = den;
  else
    cxr_tensor_unref (den);
  return out;
}

/* ----------------------------------------------------------- attention */

/* Tiles: a block of query rows against a block of keys at a time, so the
 * memory held is (QB x KB) scores and (QB x Dv) accumulators per thread,
 * whatever the sequence lengths. */
#define QB 64
#define KB 128

typedef struct {
  gint64 b, h, lq, lk, d, dv;
  gboolean causal;
  gfloat scale;
  const gfloat *mask; /* [B, Lk] or NULL */
} AttnDims;

static inline gboolean
key_allowed (const AttnDims *a, gint64 bi, gint64 i, gint64 j)
{
  if (a->causal && j > i)
    return FALSE;
  if (a->mask && a->mask[bi * a->lk + j] == 0.0f)
    return FALSE;
  return TRUE;
}

/* scores[r][c] = scale * q[i0 + r] . k[j0 + c], masked to -inf */
static void
block_scores (const AttnDims *a, gint64 bi, const gfloat *q, const gfloat *k, gint64 i0, gint64 ni,
              gint64 j0, gint64 nj, gfloat *s)
{
  _cxr_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, (blasint) ni, (blasint) nj, (blasint) a->d,
               a->scale, q + i0 * a->d, (blasint) a->d, k + j0 * a->d, (blasint) a->d, 0.0f, s,
               (blasint) nj);
  for (gint64 r = 0; r < ni; r++)
    for (gint64 c = 0; c < nj; c++)
      if (!key_allowed (a, bi, i0 + r, j0 + c))
        s[r * nj + c] = -INFINITY;
}

static void
attention_forward (const AttnDims *a, const gfloat *q, const gfloat *k, const gfloat *v, gfloat *o,
                   gfloat *lse)
{
  gint64 heads = a->b * a->h, qblocks = (a->lq + QB - 1) / QB;

#pragma omp parallel
  {
    gfloat *s = g_new (gfloat, QB * KB);
    gfloat *acc = g_new (gfloat, QB * a->dv);
    gfloat m[QB], l[QB];

#pragma omp for schedule(dynamic)
    for (gint64 task = 0; task < heads * qblocks; task++)
      {
        gint64 bh = task / qblocks, i0 = (task % qblocks) * QB, ni = MIN (QB, a->lq - i0);
        gint64 bi = bh / a->h;
        const gfloat *qh = q + bh * a->lq * a->d, *kh = k + bh * a->lk * a->d, *vh = v + bh * a->lk * a->dv;
        gint64 j_end = a->causal ? MIN (a->lk, i0 + ni) : a->lk;

        for (gint64 r = 0; r < ni; r++)
          {
            m[r] = -INFINITY;
            l[r] = 0.0f;
          }
        memset (acc, 0, sizeof (gfloat) * ni * a->dv);
        for (gint64 j0 = 0; j0 < j_end; j0 += KB)
          {
            gint64 nj = MIN (KB, j_end - j0);
            block_scores (a, bi, qh, kh, i0, ni, j0, nj, s);
            for (gint64 r = 0; r < ni; r++)
              {
                gfloat *sr = s + r * nj, block_max = _cxr_row_max (sr, nj), m_new, correction;
                gdouble sum;
                m_new = MAX (m[r], block_max);
                if (m_new == -INFINITY)
                  {
                    for (gint64 c = 0; c < nj; c++)
                      sr[c] = 0.0f;
                    continue;
                  }
                correction = m[r] == -INFINITY ? 0.0f : _cxr_expf (m[r] - m_new);
                sum = _cxr_exp_shifted_sum (sr, m_new, sr, nj);
                l[r] = l[r] * correction + (gfloat) sum;
                m[r] = m_new;
                for (gint64 e = 0; e < a->dv; e++)
                  acc[r * a->dv + e] *= correction;
              }
            /* acc[ni, dv] += p[ni, nj] @ v[j0:j0+nj, dv] */
            _cxr_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint) ni, (blasint) a->dv,
                         (blasint) nj, 1.0f, s, (blasint) nj, vh + j0 * a->dv, (blasint) a->dv, 1.0f, acc,
                         (blasint) a->dv);
          }
        for (gint64 r = 0; r < ni; r++)
          {
            gfloat inv = l[r] > 0 ? 1.0f / l[r] : 0.0f; /* a row with no key: zeros */
            gfloat *orow = o + (bh * a->lq + i0 + r) * a->dv;
            for (gint64 e = 0; e < a->dv; e++)
              orow[e] = acc[r * a->dv + e] * inv;
            lse[bh * a->lq + i0 + r] = l[r] > 0 ? m[r] + logf (l[r]) : -INFINITY;
          }
      }
    g_free (s);
    g_free (acc);
  }
}

static void
attention_backward (CxrNode *node)
{
  CxrTensor *tq = g_ptr_array_index (node->in, 0), *tk = g_ptr_array_index (node->in, 1);
  CxrTensor *tv = g_ptr_array_index (node->in, 2), *tmask = g_ptr_array_index (node->in, 3);
  gfloat *dq = _cxr_grad (tq), *dk = _cxr_grad (tk), *dv = _cxr_grad (tv);
  const gfloat *q = _cxr_f32 (tq), *k = _cxr_f32 (tk), *v = _cxr_f32 (tv);
  const gfloat *o = _cxr_f32 (node->out), *lse = _cxr_f32 (node->saved[0]);
  const gfloat *d_o = _cxr_f32 (cxr_tensor_get_grad (node->out));
  AttnDims a;
  gint64 heads;

  a.b = cxr_tensor_get_dim (tq, 0);
  a.h = cxr_tensor_get_dim (tq, 1);
  a.lq = cxr_tensor_get_dim (tq, 2);
  a.d = cxr_tensor_get_dim (tq, 3);
  a.lk = cxr_tensor_get_dim (tk, 2);
  a.dv = cxr_tensor_get_dim (tv, 3);
  a.causal = node->i[0];
  a.scale = (gfloat) node->f[0];
  a.mask = tmask ? _cxr_f32 (tmask) : NULL;
  heads = a.b * a.h;

  /* One (batch, head) per task: dK and dV of a head are summed over all
   * query blocks, dQ over all key blocks, inside the task. */
#pragma omp parallel
  {
    gfloat *s = g_new (gfloat, QB * KB);
    gfloat *dp = g_new (gfloat, QB * KB);
    gfloat delta[QB];

#pragma omp for schedule(dynamic)
    for (gint64 bh = 0; bh < heads; bh++)
      {
        gint64 bi = bh / a.h;
        const gfloat *qh = q + bh * a.lq * a.d, *kh = k + bh * a.lk * a.d, *vh = v + bh * a.lk * a.dv;
        const gfloat *oh = o + bh * a.lq * a.dv, *doh = d_o + bh * a.lq * a.dv, *lh = lse + bh * a.lq;
        for (gint64 i0 = 0; i0 < a.lq; i0 += QB)
          {
            gint64 ni = MIN (QB, a.lq - i0);
            gint64 j_end = a.causal ? MIN (a.lk, i0 + ni) : a.lk;
            for (gint64 r = 0; r < ni; r++)
              {
                gdouble t = 0;
                for (gint64 e = 0; e < a.dv; e++)
                  t += (gdouble) doh[(i0 + r) * a.dv + e] * oh[(i0 + r) * a.dv + e];
                delta[r] = (gfloat) t;
              }
            for (gint64 j0 = 0; j0 < j_end; j0 += KB)
              {
                gint64 nj = MIN (KB, j_end - j0);
                block_scores (&a, bi, qh, kh, i0, ni, j0, nj, s);
                for (gint64 r = 0; r < ni; r++)
                  {
                    gfloat *sr = s + r * nj, shift = lh[i0 + r];
                    if (shift == -INFINITY)
                      memset (sr, 0, (gsize) nj * sizeof (gfloat));
                    else
#pragma omp simd
                      for (gint64 c = 0; c < nj; c++)
                        sr[c] = _cxr_expf (sr[c] - shift);
                  }
                /* dV[j] += P^T dO */
                if (dv)
                  _cxr_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, (blasint) nj, (blasint) a.dv,
                               (blasint) ni, 1.0f, s, (blasint) nj, doh + i0 * a.dv, (blasint) a.dv, 1.0f,
                               dv + (bh * a.lk + j0) * a.dv, (blasint) a.dv);
                /* dP = dO V^T; dS = P (dP - delta) */
                _cxr_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, (blasint) ni, (blasint) nj,
                             (blasint) a.dv, 1.0f, doh + i0 * a.dv, (blasint) a.dv, vh + j0 * a.dv,
                             (blasint) a.dv, 0.0f, dp, (blasint) nj);
                for (gint64 r = 0; r < ni; r++)
                  for (gint64 c = 0; c < nj; c++)
                    dp[r * nj + c] = s[r * nj + c] * (dp[r * nj + c] - delta[r]);
                /* dQ[i] += scale dS K; dK[j] += scale dS^T Q */
                if (dq)
                  _cxr_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint) ni, (blasint) a.d,
                               (blasint) nj, a.scale, dp, (blasint) nj, kh + j0 * a.d, (blasint) a.d,
                               1.0f, dq + (bh * a.lq + i0) * a.d, (blasint) a.d);
                if (dk)
                  _cxr_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, (blasint) nj, (blasint) a.d,
                               (blasint) ni, a.scale, dp, (blasint) nj, qh + i0 * a.d, (blasint) a.d,
                               1.0f, dk + (bh * a.lk + j0) * a.d, (blasint) a.d);
              }
          }
      }
    g_free (s);
    g_free (dp);
  }
}

/**
 * cxr_op_attention:
 * @tape: (nullable): where to record the op; %NULL records nothing
 * @q: F32 [B, H, Lq, D]
 * @k: F32 [B, H, Lk, D]
 * @v: F32 [B, H, Lk, Dv]
 * @key_mask: (nullable): F32 [B, Lk]: 1 where a key may be attended, 0
 *   for padding (the Hugging Face attention_mask)
 * @causal: whether query i sees only keys j <= i
 * @scale: the factor on the scores; 0 or less means 1 / sqrt(D)
 * @error: return location for a #GError
 *
 * Fused scaled-dot-product attention, softmax(scale Q K^T + masks) V,
 * computed in tiles with an online softmax, so memory is linear in the
 * sequence length: only the output and one log-sum-exp per query row are
 * kept for backward, which recomputes the scores tile by tile. A query row
 * that may attend no key gives zeros (PyTorch gives NaN).
 *
 * Returns: (transfer full): F32 [B, H, Lq, Dv], or %NULL with @error set
 */
CxrTensor *
cxr_op_attention (CxrTape *tape, CxrTensor *q, CxrTensor *k, CxrTensor *v, CxrTensor *key_mask,
                  gboolean causal, gfloat scale, GError **error)
{
  AttnDims a;
  CxrTensor *out, *lse;
  CxrNode *node;

  if (!_cxr_check_input (q, "attention", "q", error) || !_cxr_check_input (k, "attention", "k", error) ||
      !_cxr_check_input (v, "attention", "v", error) ||
      (key_mask && !_cxr_check_input (key_mask, "attention", "key_mask", error)))
    return NULL;
  if (cxr_tensor_get_ndim (q) != 4 || cxr_tensor_get_ndim (k) != 4 || cxr_tensor_get_ndim (v) != 4 ||
      cxr_tensor_get_dim (k, 0) != cxr_tensor_get_dim (q, 0) || cxr_tensor_get_dim (k, 1) != cxr_tensor_get_dim (q, 1) ||
      cxr_tensor_get_dim (k, 3) != cxr_tensor_get_dim (q, 3) || cxr_tensor_get_dim (v, 0) != cxr_tensor_get_dim (q, 0) ||
      cxr_tensor_get_dim (v, 1) != cxr_tensor_get_dim (q, 1) || cxr_tensor_get_dim (v, 2) != cxr_tensor_get_dim (k, 2) ||
      (key_mask && (cxr_tensor_get_ndim (key_mask) != 2 || cxr_tensor_get_dim (key_mask, 0) != cxr_tensor_get_dim (q, 0) ||
                    cxr_tensor_get_dim (key_mask, 1) != cxr_tensor_get_dim (k, 2))))
    {
      g_autofree gchar *tq = cxr_tensor_describe (q), *tk = cxr_tensor_describe (k), *tv = cxr_tensor_describe (v);
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "attention: q %s, k %s, v %s do not fit ([B, H, Lq, D], [B, H, Lk, D], "
                   "[B, H, Lk, Dv], key_mask [B, Lk])", tq, tk, tv);
      return NULL;
    }
  a.b = cxr_tensor_get_dim (q, 0);
  a.h = cxr_tensor_get_dim (q, 1);
  a.lq = cxr_tensor_get_dim (q, 2);
  a.d = cxr_tensor_get_dim (q, 3);
  a.lk = cxr_tensor_get_dim (k, 2);
  a.dv = cxr_tensor_get_dim (v, 3);
  a.causal = causal;
  a.scale = scale > 0 ? scale : 1.0f / sqrtf ((gfloat) a.d);
  a.mask = key_mask ? _cxr_f32 (key_mask) : NULL;
  out = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { a.b, a.h, a.lq, a.dv }, 4);
  lse = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { a.b, a.h, a.lq }, 3);
  if (a.d > 0 && a.lk > 0)
    attention_forward (&a, _cxr_f32 (q), _cxr_f32 (k), _cxr_f32 (v), _cxr_f32 (out), _cxr_f32 (lse));
  {
    CxrTensor *inputs[] = { q, k, v, key_mask };
    node = _cxr_tape_record (tape, "attention", attention_backward, out, inputs, 4);
  }
  if (node)
    {
      node->saved[0] = lse;
      node->i[0] = causal;
      node->f[0] = a.scale;
    }
  else
    cxr_tensor_unref (lse);
  return out;
}

/* [B, L, H * D] <-> [B, H, L, D] */
static CxrTensor *
split_heads (CxrTape *tape, CxrTensor *x, guint heads, GError **error)
{
  gint64 b = cxr_tensor_get_dim (x, 0), l = cxr_tensor_get_dim (x, 1), d = cxr_tensor_get_dim (x, 2);
  g_autoptr (CxrTensor) r = cxr_op_reshape (tape, x, (const gint64[]) { b, l, heads, d / heads }, 4, error);
  return r ? cxr_op_permute (tape, r, (const gint[]) { 0, 2, 1, 3 }, 4, error) : NULL;
}

/**
 * cxr_op_multi_head_attention:
 * @tape: (nullable): where to record the ops; %NULL records nothing
 * @q: F32 [B, Lq, H * D], the projected queries
 * @k: F32 [B, Lk, H * D]
 * @v: F32 [B, Lk, H * Dv]
 * @heads: H
 * @key_mask: (nullable): F32 [B, Lk], 1 for keys that may be attended
 * @causal: whether query i sees only keys j <= i
 * @scale: the factor on the scores; 0 or less means 1 / sqrt(D)
 * @error: return location for a #GError
 *
 * The heads split, cxr_op_attention() on them, and merged back: the
 * attention of every transformer between its projections.
 *
 * Returns: (transfer full): F32 [B, Lq, H * Dv], or %NULL with @error set
 */
CxrTensor *
cxr_op_multi_head_attention (CxrTape *tape, CxrTensor *q, CxrTensor *k, CxrTensor *v, guint heads,
                             CxrTensor *key_mask, gboolean causal, gfloat scale, GError **error)
{
  g_autoptr (CxrTensor) qh = NULL, kh = NULL, vh = NULL, a = NULL, p = NULL;

  if (!_cxr_check_input (q, "multi_head_attention", "q", error) ||
      !_cxr_check_input (k, "multi_head_attention", "k", error) ||
      !_cxr_check_input (v, "multi_head_attention", "v", error))
    return NULL;
  if (heads == 0 || cxr_tensor_get_ndim (q) != 3 || cxr_tensor_get_ndim (k) != 3 || cxr_tensor_get_ndim (v) != 3 ||
      cxr_tensor_get_dim (q, 2) % heads != 0 || cxr_tensor_get_dim (v, 2) % heads != 0)
    {
      g_autofree gchar *tq = cxr_tensor_describe (q), *tk = cxr_tensor_describe (k), *tv = cxr_tensor_describe (v);
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "multi_head_attention: q %s, k %s, v %s do not split into %u heads ([B, L, H * D])", tq, tk, tv,
                   heads);
      return NULL;
    }
  if ((qh = split_heads (tape, q, heads, error)) == NULL || (kh = split_heads (tape, k, heads, error)) == NULL ||
      (vh = split_heads (tape, v, heads, error)) == NULL ||
      (a = cxr_op_attention (tape, qh, kh, vh, key_mask, causal, scale, error)) == NULL ||
      (p = cxr_op_permute (tape, a, (const gint[]) { 0, 2, 1, 3 }, 4, error)) == NULL)
    return NULL;
  return cxr_op_reshape (tape, p, (const gint64[]) { cxr_tensor_get_dim (q, 0), cxr_tensor_get_dim (q, 1),
                                                     cxr_tensor_get_dim (v, 2) }, 3, error);
}
