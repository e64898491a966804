/* tests/test-ops.c: every op's backward against finite differences of its
 * forward (loss accumulated in double), the tape's rules, dropout and the
 * Philox generator.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "test-common.h"
#include "cxr-ops-private.h"

typedef CxrTensor *(*OpFunc) (CxrTape *tape, CxrTensor **in, GError **error);

typedef struct {
  const gchar *name;
  OpFunc func;
  guint n_in;
  gint64 shapes[6][5];
  guint ndims[6];
  gboolean is_int[6]; /* integer inputs: ids, targets (filled by the case) */
  gdouble h;
} FdCase;

static CxrTensor *
randn (const gint64 *shape, guint ndim, guint64 seed)
{
  return cxr_tensor_new_randn (shape, ndim, seed, 0);
}

static gdouble
weighted_sum (CxrTensor *out, CxrTensor *r)
{
  const gfloat *o = cxr_tensor_get_data (out), *w = cxr_tensor_get_data (r);
  gdouble s = 0;
  for (gint64 i = 0; i < cxr_tensor_get_numel (out); i++)
    s += (gdouble) o[i] * w[i];
  return s;
}

static void
run_fd (gconstpointer data)
{
  const FdCase *c = data;
  CxrTensor *in[6] = { NULL };
  g_autoptr (CxrTape) tape = cxr_tape_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrTensor) out = NULL, r = NULL, loss = NULL, prod = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  guint checked = 0;

  for (guint i = 0; i < c->n_in; i++)
    {
      if (c->is_int[i])
        {
          /* ids / targets in [0, shapes[i][ndim]) written by the case as
           * the extra size after the dimensions */
          gint64 n = 1, classes = c->shapes[i][c->ndims[i]];
          for (guint d = 0; d < c->ndims[i]; d++)
            n *= c->shapes[i][d];
          in[i] = cxr_tensor_new (CXR_DTYPE_I64, c->shapes[i], c->ndims[i]);
          for (gint64 k = 0; k < n; k++)
            ((gint64 *) cxr_tensor_get_data (in[i]))[k] = g_rand_int_range (rand, 0, (gint32) classes);
        }
      else
        {
          in[i] = randn (c->shapes[i], c->ndims[i], 100 + i);
          cxr_tensor_set_requires_grad (in[i], TRUE);
        }
    }
  out = c->func (tape, in, &error);
  g_assert_no_error (error);
  r = randn (cxr_tensor_get_shape (out, NULL), cxr_tensor_get_ndim (out), 99);
  prod = cxr_op_mul (tape, out, r, &error);
  loss = cxr_op_sum (tape, prod, &error);
  g_assert_true (cxr_tape_backward (tape, loss, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < c->n_in; i++)
    {
      gfloat *x, *grad;
      gint64 n;

      if (c->is_int[i])
        continue;
      g_assert_nonnull (cxr_tensor_get_grad (in[i]));
      x = cxr_tensor_get_data (in[i]);
      grad = cxr_tensor_get_data (cxr_tensor_get_grad (in[i]));
      n = cxr_tensor_get_numel (in[i]);
      for (guint k = 0; k < MIN (n, 16); k++)
        {
          gint64 at = n <= 16 ? (gint64) k : (gint64) g_rand_int_range (rand, 0, (gint32) n);
          gfloat saved = x[at];
          gdouble plus, minus, numeric, analytic = grad[at];
          g_autoptr (CxrTensor) o1 = NULL, o2 = NULL;

          x[at] = saved + (gfloat) c->h;
          o1 = c->func (NULL, in, NULL);
          plus = weighted_sum (o1, r);
          x[at] = saved - (gfloat) c->h;
          o2 = c->func (NULL, in, NULL);
          minus = weighted_sum (o2, r);
          x[at] = saved;
          numeric = (plus - minus) / (2 * c->h);
          if (fabs (analytic - numeric) > 5e-3 + 2e-2 * fabs (numeric))
            g_error ("%s: input %u element %" G_GINT64_FORMAT ": backward %g, finite difference %g",
                     c->name, i, at, analytic, numeric);
          checked++;
        }
    }
  g_assert_cmpuint (checked, >, 0);
  for (guint i = 0; i < c->n_in; i++)
    cxr_tensor_unref (in[i]);
}

#define IN(k) in[k]
static CxrTensor *f_add (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_add (t, IN (0), IN (1), e); }
static CxrTensor *f_sub (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_sub (t, IN (0), IN (1), e); }
static CxrTensor *f_mul (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_mul (t, IN (0), IN (1), e); }
static CxrTensor *f_scale (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_scale (t, IN (0), 1.7f, e); }
static CxrTensor *f_silu (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_silu (t, IN (0), e); }
static CxrTensor *f_gelu (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_gelu (t, IN (0), CXR_GELU_ERF, e); }
static CxrTensor *f_gelu_tanh (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_gelu (t, IN (0), CXR_GELU_TANH, e); }
static CxrTensor *f_quick_gelu (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_quick_gelu (t, IN (0), e); }
static CxrTensor *f_tanh (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_tanh (t, IN (0), e); }
static CxrTensor *f_relu (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_relu (t, IN (0), e); }
static CxrTensor *f_sigmoid (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_sigmoid (t, IN (0), e); }
static CxrTensor *f_softmax (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_softmax (t, IN (0), e); }
static CxrTensor *f_matmul (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_matmul (t, IN (0), IN (1), e); }
static CxrTensor *f_linear (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_linear (t, IN (0), IN (1), IN (2), e); }
static CxrTensor *f_layer_norm (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_layer_norm (t, IN (0), IN (1), IN (2), 1e-5f, e); }
static CxrTensor *f_group_norm (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_group_norm (t, IN (0), 2, IN (1), IN (2), 1e-5f, e); }
static CxrTensor *f_batch_norm_train (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_batch_norm_train (t, IN (0), IN (1), IN (2), NULL, NULL, 0.1f, 1e-5f, e); }
static CxrTensor *f_conv3 (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_conv2d (t, IN (0), IN (1), IN (2), 1, 1, e); }
static CxrTensor *f_conv_s2 (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_conv2d (t, IN (0), IN (1), IN (2), 2, 1, e); }
static CxrTensor *f_conv1 (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_conv2d (t, IN (0), IN (1), NULL, 1, 0, e); }
static CxrTensor *f_conv_1x5 (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_conv2d_full (t, IN (0), IN (1), IN (2), 1, 0, 2, e); }
static CxrTensor *f_conv_3x1_s2 (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_conv2d_full (t, IN (0), IN (1), NULL, 2, 1, 0, e); }
static CxrTensor *f_avg_pool_pad (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_avg_pool2d_full (t, IN (0), 3, 1, 1, FALSE, e); }
static CxrTensor *f_avg_pool_pad_all (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_avg_pool2d_full (t, IN (0), 3, 2, 1, TRUE, e); }
static CxrTensor *f_resize (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_resize_bilinear (t, IN (0), 5, 7, e); }
static CxrTensor *f_upsample (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_upsample_nearest2x (t, IN (0), e); }
static CxrTensor *f_avg_pool (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_avg_pool2d (t, IN (0), 2, 2, e); }
static CxrTensor *f_adaptive (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_adaptive_avg_pool2d (t, IN (0), 2, 3, e); }
static CxrTensor *f_embedding (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_embedding (t, IN (0), IN (1), e); }
static CxrTensor *f_attention (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_attention (t, IN (0), IN (1), IN (2), NULL, FALSE, 0, e); }
static CxrTensor *f_attention_causal (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_attention (t, IN (0), IN (1), IN (2), NULL, TRUE, 0, e); }
static CxrTensor *f_permute (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_permute (t, IN (0), (const gint[]) { 2, 0, 1 }, 3, e); }
static CxrTensor *f_slice (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_slice (t, IN (0), 1, 1, 3, e); }
static CxrTensor *f_concat (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_concat (t, in, 2, 0, e); }
static CxrTensor *f_mean (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_mean (t, IN (0), e); }
static CxrTensor *f_mse (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_mse (t, IN (0), IN (1), e); }
static CxrTensor *f_ce (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_cross_entropy (t, IN (0), IN (1), -100, e); }
static CxrTensor *f_bce (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_binary_cross_entropy_logits (t, IN (0), IN (1), NULL, e); }
static CxrTensor *f_cosine (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_cosine_similarity (t, IN (0), IN (1), 1e-8f, e); }
static CxrTensor *f_dropout (CxrTape *t, CxrTensor **in, GError **e) { return cxr_op_dropout (t, IN (0), 0.3f, 42, 7, e); }

static const FdCase fd_cases[] = {
  { "add-broadcast", f_add, 2, { { 3, 4, 5 }, { 4, 1 } }, { 3, 2 }, { 0 }, 1e-2 },
  { "sub", f_sub, 2, { { 4, 5 }, { 4, 5 } }, { 2, 2 }, { 0 }, 1e-2 },
  { "mul-broadcast", f_mul, 2, { { 2, 3, 4 }, { 4 } }, { 3, 1 }, { 0 }, 1e-2 },
  { "scale", f_scale, 1, { { 7 } }, { 1 }, { 0 }, 1e-2 },
  { "silu", f_silu, 1, { { 5, 9 } }, { 2 }, { 0 }, 1e-2 },
  { "gelu", f_gelu, 1, { { 5, 9 } }, { 2 }, { 0 }, 1e-2 },
  { "gelu-tanh", f_gelu_tanh, 1, { { 5, 9 } }, { 2 }, { 0 }, 1e-2 },
  { "quick-gelu", f_quick_gelu, 1, { { 5, 9 } }, { 2 }, { 0 }, 1e-2 },
  { "tanh", f_tanh, 1, { { 5, 9 } }, { 2 }, { 0 }, 1e-2 },
  { "relu", f_relu, 1, { { 5, 9 } }, { 2 }, { 0 }, 1e-2 },
  { "sigmoid", f_sigmoid, 1, { { 5, 9 } }, { 2 }, { 0 }, 1e-2 },
  { "softmax", f_softmax, 1, { { 3, 11 } }, { 2 }, { 0 }, 1e-2 },
  { "matmul", f_matmul, 2, { { 2, 3, 4 }, { 2, 4, 5 } }, { 3, 3 }, { 0 }, 1e-2 },
  { "linear", f_linear, 3, { { 3, 6 }, { 5, 6 }, { 5 } }, { 2, 2, 1 }, { 0 }, 1e-2 },
  { "layer-norm", f_layer_norm, 3, { { 4, 9 }, { 9 }, { 9 } }, { 2, 1, 1 }, { 0 }, 1e-2 },
  { "group-norm", f_group_norm, 3, { { 2, 4, 3, 3 }, { 4 }, { 4 } }, { 4, 1, 1 }, { 0 }, 1e-2 },
  { "batch-norm-train", f_batch_norm_train, 3, { { 3, 2, 2, 3 }, { 2 }, { 2 } }, { 4, 1, 1 }, { 0 }, 1e-2 },
  { "conv2d-3x3", f_conv3, 3, { { 1, 2, 5, 5 }, { 3, 2, 3, 3 }, { 3 } }, { 4, 4, 1 }, { 0 }, 1e-2 },
  { "conv2d-stride2", f_conv_s2, 3, { { 2, 2, 7, 6 }, { 3, 2, 3, 3 }, { 3 } }, { 4, 4, 1 }, { 0 }, 1e-2 },
  { "conv2d-1x1", f_conv1, 2, { { 2, 4, 3, 3 }, { 2, 4, 1, 1 } }, { 4, 4 }, { 0 }, 1e-2 },
  { "conv2d-1x5-pad-0x2", f_conv_1x5, 3, { { 1, 2, 4, 6 }, { 3, 2, 1, 5 }, { 3 } }, { 4, 4, 1 }, { 0 }, 1e-2 },
  { "conv2d-3x1-stride2-pad-1x0", f_conv_3x1_s2, 2, { { 2, 2, 7, 5 }, { 3, 2, 3, 1 } }, { 4, 4 }, { 0 }, 1e-2 },
  { "avg-pool-padded", f_avg_pool_pad, 1, { { 1, 2, 5, 4 } }, { 4 }, { 0 }, 1e-2 },
  { "avg-pool-padded-count-pad", f_avg_pool_pad_all, 1, { { 1, 2, 5, 6 } }, { 4 }, { 0 }, 1e-2 },
  { "resize-bilinear", f_resize, 1, { { 1, 2, 4, 3 } }, { 4 }, { 0 }, 1e-2 },
  { "upsample", f_upsample, 1, { { 1, 2, 3, 3 } }, { 4 }, { 0 }, 1e-2 },
  { "avg-pool", f_avg_pool, 1, { { 1, 2, 4, 6 } }, { 4 }, { 0 }, 1e-2 },
  { "adaptive-avg-pool", f_adaptive, 1, { { 1, 2, 5, 7 } }, { 4 }, { 0 }, 1e-2 },
  { "embedding", f_embedding, 2, { { 7, 4 }, { 2, 5, 7 } }, { 2, 2 }, { FALSE, TRUE }, 1e-2 },
  { "attention", f_attention, 3, { { 1, 2, 5, 4 }, { 1, 2, 7, 4 }, { 1, 2, 7, 3 } }, { 4, 4, 4 }, { 0 }, 1e-2 },
  { "attention-causal", f_attention_causal, 3, { { 1, 1, 6, 4 }, { 1, 1, 6, 4 }, { 1, 1, 6, 4 } }, { 4, 4, 4 }, { 0 }, 1e-2 },
  { "permute", f_permute, 1, { { 2, 3, 4 } }, { 3 }, { 0 }, 1e-2 },
  { "slice", f_slice, 1, { { 2, 5 } }, { 2 }, { 0 }, 1e-2 },
  { "concat", f_concat, 2, { { 2, 3 }, { 4, 3 } }, { 2, 2 }, { 0 }, 1e-2 },
  { "mean", f_mean, 1, { { 3, 4 } }, { 2 }, { 0 }, 1e-2 },
  { "mse", f_mse, 2, { { 3, 4 }, { 3, 4 } }, { 2, 2 }, { 0 }, 1e-2 },
  { "cross-entropy", f_ce, 2, { { 6, 5 }, { 6, 5 } }, { 2, 1 }, { FALSE, TRUE }, 1e-2 },
  { "binary-cross-entropy", f_bce, 2, { { 4, 5 }, { 4, 5 } }, { 2, 2 }, { 0 }, 1e-2 },
  { "cosine-similarity", f_cosine, 2, { { 4, 6 }, { 4, 6 } }, { 2, 2 }, { 0 }, 1e-2 },
  { "dropout", f_dropout, 1, { { 5, 7 } }, { 2 }, { 0 }, 1e-2 },
};

/* max pool: distinct, well separated values, so no nudge moves a maximum */
static void
test_max_pool_fd (void)
{
  g_autoptr (CxrTensor) x = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { 1, 1, 5, 5 }, 2 + 2);
  g_autoptr (CxrTape) tape = cxr_tape_new ();
  g_autoptr (CxrTensor) out = NULL, loss = NULL;
  gfloat *v = cxr_tensor_get_data (x);
  const gfloat *dx;

  for (guint i = 0; i < 25; i++)
    v[i] = (gfloat) ((i * 7) % 25) * 0.5f;
  cxr_tensor_set_requires_grad (x, TRUE);
  out = cxr_op_max_pool2d (tape, x, 3, 2, NULL);
  loss = cxr_op_sum (tape, out, NULL);
  g_assert_true (cxr_tape_backward (tape, loss, NULL));
  dx = cxr_tensor_get_data (cxr_tensor_get_grad (x));
  /* each window's maximum gets 1, others 0: sum of gradients = windows */
  {
    gdouble total = 0;
    for (guint i = 0; i < 25; i++)
      {
        g_assert_true (dx[i] == 0.0f || dx[i] == 1.0f || dx[i] == 2.0f || dx[i] == 4.0f);
        total += dx[i];
      }
    g_assert_cmpfloat (total, ==, 4.0);
  }
}

static void
test_tape_rules (void)
{
  const gint64 shape[] = { 3 };
  g_autoptr (CxrTensor) a = randn (shape, 1, 1), b = randn (shape, 1, 2);
  g_autoptr (CxrTape) tape = cxr_tape_new ();
  g_autoptr (GError) error = NULL;
  CxrTensor *sum1, *loss;

  /* Nothing requires a gradient: nothing is recorded. */
  sum1 = cxr_op_add (tape, a, b, NULL);
  g_assert_cmpuint (cxr_tape_get_n_nodes (tape), ==, 0);
  g_assert_false (cxr_tensor_get_requires_grad (sum1));
  cxr_tensor_unref (sum1);

  /* No tape: no record either, even for leaves that want gradients. */
  cxr_tensor_set_requires_grad (a, TRUE);
  sum1 = cxr_op_add (NULL, a, b, NULL);
  g_assert_false (cxr_tensor_get_requires_grad (sum1));
  cxr_tensor_unref (sum1);

  /* Two backward passes accumulate into the leaf (micro-batches). */
  for (guint pass = 0; pass < 2; pass++)
    {
      CxrTensor *m = cxr_op_mul (tape, a, b, NULL);
      loss = cxr_op_sum (tape, m, NULL);
      g_assert_cmpuint (cxr_tape_get_n_nodes (tape), ==, 2);
      g_assert_true (cxr_tape_backward (tape, loss, &error));
      cxr_tensor_unref (m);
      cxr_tensor_unref (loss);
      cxr_tape_reset (tape);
    }
  for (guint i = 0; i < 3; i++)
    g_assert_cmpfloat_with_epsilon (((gfloat *) cxr_tensor_get_data (cxr_tensor_get_grad (a)))[i],
                                    2 * ((gfloat *) cxr_tensor_get_data (b))[i], 1e-6);
  g_assert_null (cxr_tensor_get_grad (b));
  cxr_tensor_zero_grad (a);
  g_assert_cmpfloat (((gfloat *) cxr_tensor_get_data (cxr_tensor_get_grad (a)))[0], ==, 0.0f);

  /* A loss of more than one element, or off the tape, is refused. */
  sum1 = cxr_op_add (tape, a, b, NULL);
  g_assert_false (cxr_tape_backward (tape, sum1, &error));
  g_assert_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE);
  g_clear_error (&error);
  cxr_tensor_unref (sum1);
  loss = cxr_op_sum (NULL, b, NULL);
  g_assert_false (cxr_tape_backward (tape, loss, &error));
  g_clear_error (&error);
  cxr_tensor_unref (loss);
}

/* checkpoint: tanh (x * w) + x, with w a parameter the piece reads */
static guint piece_runs, piece_frees;

static CxrTensor *
piece (CxrTape *tape, CxrTensor *const *inputs, guint n_inputs, gpointer data, GError **error)
{
  g_autoptr (CxrTensor) y = cxr_op_mul (tape, inputs[0], data, error), t = NULL;

  piece_runs++;
  t = y ? cxr_op_tanh (tape, y, error) : NULL;
  return t ? cxr_op_add (tape, t, inputs[n_inputs - 1], error) : NULL;
}

static void
piece_free (gpointer data)
{
  piece_frees++;
  cxr_tensor_unref (data);
}

static void
test_checkpoint (void)
{
  const gint64 shape[] = { 5 };
  g_autoptr (CxrTensor) x = randn (shape, 1, 3), w = randn (shape, 1, 4);
  gfloat plain_x[5], plain_w[5];

  cxr_tensor_set_requires_grad (x, TRUE);
  cxr_tensor_set_requires_grad (w, TRUE);
  /* the gradients of the piece on the tape, then recomputed */
  for (guint recompute = 0; recompute < 2; recompute++)
    {
      g_autoptr (CxrTape) tape = cxr_tape_new ();
      g_autoptr (CxrTensor) out = NULL, loss = NULL;

      piece_runs = piece_frees = 0;
      if (recompute)
        {
          out = cxr_tape_checkpoint (tape, piece, cxr_tensor_ref (w), piece_free, (CxrTensor *[]) { x }, 1, NULL);
          g_assert_cmpuint (cxr_tape_get_n_nodes (tape), ==, 1);  /* one node for the piece */
        }
      else
        out = piece (tape, (CxrTensor *[]) { x }, 1, w, NULL);
      loss = cxr_op_sum (tape, out, NULL);
      g_assert_true (cxr_tape_backward (tape, loss, NULL));
      g_assert_cmpuint (piece_runs, ==, recompute ? 2 : 1);  /* again in backward */
      for (guint i = 0; i < 5; i++)
        if (!recompute)
          {
            plain_x[i] = ((gfloat *) cxr_tensor_get_data (cxr_tensor_get_grad (x)))[i];
            plain_w[i] = ((gfloat *) cxr_tensor_get_data (cxr_tensor_get_grad (w)))[i];
          }
        else
          {
            g_assert_cmpfloat (((gfloat *) cxr_tensor_get_data (cxr_tensor_get_grad (x)))[i], ==, plain_x[i]);
            g_assert_cmpfloat (((gfloat *) cxr_tensor_get_data (cxr_tensor_get_grad (w)))[i], ==, plain_w[i]);
          }
      cxr_tensor_set_grad (x, NULL);
      cxr_tensor_set_grad (w, NULL);
      g_clear_object (&tape);
      g_assert_cmpuint (piece_frees, ==, recompute ? 1 : 0);  /* the data goes with the tape */
    }
  /* inputs that need no gradient: still recorded, for the parameter */
  {
    g_autoptr (CxrTensor) c = randn (shape, 1, 5), out = NULL, loss = NULL;
    g_autoptr (CxrTape) tape = cxr_tape_new ();

    out = cxr_tape_checkpoint (tape, piece, cxr_tensor_ref (w), piece_free, (CxrTensor *[]) { c }, 1, NULL);
    loss = cxr_op_sum (tape, out, NULL);
    g_assert_true (cxr_tape_backward (tape, loss, NULL));
    g_assert_nonnull (cxr_tensor_get_grad (w));
    g_assert_null (cxr_tensor_get_grad (c));
    cxr_tensor_set_grad (w, NULL);
  }
  /* nothing inside wants a gradient (a frozen network on a tape): the
   * backward pass runs through it and leaves nothing */
  {
    g_autoptr (CxrTensor) frozen = randn (shape, 1, 6), c = randn (shape, 1, 7), out = NULL, both = NULL;
    g_autoptr (CxrTensor) loss = NULL;
    g_autoptr (CxrTape) tape = cxr_tape_new ();

    out = cxr_tape_checkpoint (tape, piece, cxr_tensor_ref (frozen), piece_free, (CxrTensor *[]) { c }, 1, NULL);
    both = cxr_op_mul (tape, out, x, NULL);
    loss = cxr_op_sum (tape, both, NULL);
    g_assert_true (cxr_tape_backward (tape, loss, NULL));
    g_assert_null (cxr_tensor_get_grad (frozen));
    g_assert_nonnull (cxr_tensor_get_grad (x));
    cxr_tensor_set_grad (x, NULL);
  }
  /* no tape: it runs once and lets go of its data */
  {
    g_autoptr (CxrTensor) out = NULL;

    piece_runs = piece_frees = 0;
    out = cxr_tape_checkpoint (NULL, piece, cxr_tensor_ref (w), piece_free, (CxrTensor *[]) { x }, 1, NULL);
    g_assert_nonnull (out);
    g_assert_cmpuint (piece_runs, ==, 1);
    g_assert_cmpuint (piece_frees, ==, 1);
  }
}

static void
test_bad_inputs (void)
{
  g_autoptr (CxrTensor) a = randn ((const gint64[]) { 2, 3 }, 2, 1);
  g_autoptr (CxrTensor) b = randn ((const gint64[]) { 4, 5 }, 2, 2);
  g_autoptr (CxrTensor) t = cxr_tensor_transpose (a, 0, 1, NULL);
  g_autoptr (CxrTensor) i = cxr_tensor_new (CXR_DTYPE_I64, (const gint64[]) { 2 }, 1);
  g_autoptr (CxrTensor) h = cxr_tensor_to_dtype (a, CXR_DTYPE_F16, NULL);
  g_autoptr (GError) error = NULL;

  g_assert_null (cxr_op_add (NULL, a, b, &error));
  g_assert_cmpstr (error->message, ==, "add: shapes F32[2, 3] and F32[4, 5] do not broadcast (dimension 1: 3 and 5)");
  g_clear_error (&error);
  g_assert_null (cxr_op_matmul (NULL, a, b, &error));
  g_assert_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_null (cxr_op_silu (NULL, t, &error));
  g_assert_cmpstr (error->message, ==, "silu: x is not contiguous (permute or slice it with an op)");
  g_clear_error (&error);
  g_assert_null (cxr_op_silu (NULL, h, &error));
  g_assert_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_DTYPE);
  g_clear_error (&error);
  ((gint64 *) cxr_tensor_get_data (i))[1] = 9;
  g_assert_null (cxr_op_embedding (NULL, a, i, &error));
  g_assert_cmpstr (error->message, ==, "embedding: id 9 at position 1 is outside the table of 2 rows");
  g_clear_error (&error);
  g_assert_null (cxr_op_cross_entropy (NULL, a, i, -100, &error));
  g_assert_cmpstr (error->message, ==, "cross_entropy: target 9 of row 1 is not a class of 3");
}

static void
test_philox (void)
{
  gfloat all[64], part[16], u[100000];
  gdouble mean = 0, var = 0;

  cxr_philox_uniform (5, 0, all, 64);
  cxr_philox_uniform (5, 37, part, 16);
  g_assert_cmpmem (all + 37, 16 * sizeof (gfloat), part, sizeof part);
  cxr_philox_normal (5, 0, all, 64);
  cxr_philox_normal (5, 21, part, 16);
  g_assert_cmpmem (all + 21, 16 * sizeof (gfloat), part, sizeof part);
  cxr_philox_uniform (6, 0, part, 16);
  g_assert_true (memcmp (all, part, sizeof part) != 0);

  cxr_philox_normal (11, 0, u, G_N_ELEMENTS (u));
  for (guint i = 0; i < G_N_ELEMENTS (u); i++)
    mean += u[i];
  mean /= G_N_ELEMENTS (u);
  for (guint i = 0; i < G_N_ELEMENTS (u); i++)
    var += (u[i] - mean) * (u[i] - mean);
  var /= G_N_ELEMENTS (u);
  g_assert_cmpfloat (fabs (mean), <, 0.02);
  g_assert_cmpfloat (fabs (var - 1), <, 0.03);
  cxr_philox_uniform (11, 0, u, G_N_ELEMENTS (u));
  mean = 0;
  for (guint i = 0; i < G_N_ELEMENTS (u); i++)
    {
      g_assert_cmpfloat (u[i], >=, 0.0f);
      g_assert_cmpfloat (u[i], <, 1.0f);
      mean += u[i];
    }
  g_assert_cmpfloat (fabs (mean / G_N_ELEMENTS (u) - 0.5), <, 0.01);
}

static void
test_dropout (void)
{
  g_autoptr (CxrTensor) x = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { 100000 }, 1);
  g_autoptr (CxrTensor) y = NULL, y2 = NULL, z = NULL;
  guint zeros = 0;

  cxr_tensor_fill (x, 1.0f);
  y = cxr_op_dropout (NULL, x, 0.25f, 3, 0, NULL);
  y2 = cxr_op_dropout (NULL, x, 0.25f, 3, 0, NULL);
  z = cxr_op_dropout (NULL, x, 0.0f, 3, 0, NULL);
  g_assert_cmpmem (cxr_tensor_get_data (y), cxr_tensor_get_nbytes (y), cxr_tensor_get_data (y2), cxr_tensor_get_nbytes (y2));
  g_assert_cmpmem (cxr_tensor_get_data (z), cxr_tensor_get_nbytes (z), cxr_tensor_get_data (x), cxr_tensor_get_nbytes (x));
  for (guint i = 0; i < 100000; i++)
    {
      gfloat v = ((gfloat *) cxr_tensor_get_data (y))[i];
      g_assert_true (v == 0.0f || fabsf (v - 1.0f / 0.75f) < 1e-6f);
      zeros += v == 0.0f;
    }
  g_assert_cmpfloat (fabs (zeros / 100000.0 - 0.25), <, 0.01);
}

/* The engine's vectorisable e^x against the double-precision exp, in
 * units in the last place, over every 257th float, and its edges as
 * expf has them. */
static void
test_expf (void)
{
  gdouble worst = 0;
  gfloat worst_x = 0;
  guint64 checked = 0;

  for (guint64 bits = 0; bits <= G_MAXUINT32; bits += 257)
    {
      union { guint32 i; gfloat f; } u = { .i = (guint32) bits };
      gfloat x = u.f, y, want;
      gdouble ulps;

      if (isnan (x) || fabsf (x) > 110.0f)
        continue;
      y = _cxr_expf (x);
      want = (gfloat) exp ((gdouble) x);
      checked++;
      if (want == 0.0f || isinf (want) || fpclassify (want) == FP_SUBNORMAL)
        {
          /* past float's range, or subnormal: at most one step off */
          g_assert_true (y == want || fabsf (y - want) <= 1.5e-45f);
          continue;
        }
      ulps = fabs ((gdouble) y - exp ((gdouble) x)) / (nextafterf (want, INFINITY) - want);
      if (ulps > worst)
        {
          worst = ulps;
          worst_x = x;
        }
    }
  g_test_message ("_cxr_expf: %" G_GUINT64_FORMAT " values, worst %.3f ulp at %g", checked, worst, worst_x);
  g_assert_cmpuint (checked, >, 1000000);
  g_assert_cmpfloat (worst, <=, 2.0);
  g_assert_cmpfloat (_cxr_expf (0.0f), ==, 1.0f);
  g_assert_cmpfloat (_cxr_expf (-INFINITY), ==, 0.0f);
  g_assert_true (isinf (_cxr_expf (INFINITY)) && _cxr_expf (INFINITY) > 0);
  g_assert_true (isinf (_cxr_expf (88.8f)));
  g_assert_true (isnan (_cxr_expf (NAN)));
  g_assert_cmpfloat (_cxr_expf (88.72f), ==, expf (88.72f));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (fd_cases); i++)
    {
      g_autofree gchar *path = g_strdup_printf ("/ops/finite-difference/%s", fd_cases[i].name);
      g_test_add_data_func (path, &fd_cases[i], run_fd);
    }
  g_test_add_func ("/ops/finite-difference/max-pool", test_max_pool_fd);
  g_test_add_func ("/ops/tape-rules", test_tape_rules);
  g_test_add_func ("/ops/checkpoint", test_checkpoint);
  g_test_add_func ("/ops/bad-inputs", test_bad_inputs);
  g_test_add_func ("/ops/philox", test_philox);
  g_test_add_func ("/ops/expf", test_expf);
  g_test_add_func ("/ops/dropout", test_dropout);
  return g_test_run ();
}
