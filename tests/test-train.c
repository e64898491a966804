/* tests/test-train.c: small networks train on toy tasks (the loss falls),
 * and a run resumed from a checkpoint continues bit for bit.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "test-common.h"

/* ------------------------------------------------------------------- MLP */

#define N_SAMPLES 256
#define BATCH 32
#define IN_F 8
#define HIDDEN 32
#define CLASSES 4

typedef struct {
  CxrTensor *x;       /* [N, 8] */
  CxrTensor *y;       /* [N] I64 */
} Toy;

/* Four classes from the signs of two fixed projections of x. */
static void
toy_init (Toy *toy)
{
  gfloat *x;
  gint64 *y;

  toy->x = cxr_tensor_new_randn ((const gint64[]) { N_SAMPLES, IN_F }, 2, 2024, 0);
  toy->y = cxr_tensor_new (CXR_DTYPE_I64, (const gint64[]) { N_SAMPLES }, 1);
  x = cxr_tensor_get_data (toy->x);
  y = cxr_tensor_get_data (toy->y);
  for (gint i = 0; i < N_SAMPLES; i++)
    {
      const gfloat *r = x + i * IN_F;
      gfloat p = r[0] + r[1] - r[2], q = r[3] - r[4] + 0.5f * r[5];
      y[i] = (p > 0) * 2 + (q > 0);
    }
}

static void
toy_clear (Toy *toy)
{
  cxr_tensor_unref (toy->x);
  cxr_tensor_unref (toy->y);
}

static CxrParamSet *
mlp_new (guint64 seed)
{
  CxrParamSet *p = cxr_param_set_new ();

  g_assert_true (cxr_param_set_add (p, "fc1.weight", (const gint64[]) { HIDDEN, IN_F }, 2, NULL));
  g_assert_true (cxr_param_set_add (p, "fc1.bias", (const gint64[]) { HIDDEN }, 1, NULL));
  g_assert_true (cxr_param_set_add (p, "fc2.weight", (const gint64[]) { CLASSES, HIDDEN }, 2, NULL));
  g_assert_true (cxr_param_set_add (p, "fc2.bias", (const gint64[]) { CLASSES }, 1, NULL));
  cxr_param_set_allocate (p);
  cxr_param_set_init_normal (p, "fc1.weight", 0.35f, seed);
  cxr_param_set_init_normal (p, "fc2.weight", 0.18f, seed + 1);
  return p;
}

/* One step on batch @step: forward, backward, AdamW. Returns the loss. */
static gfloat
mlp_step (CxrParamSet *p, CxrAdamW *opt, Toy *toy, gint64 step)
{
  g_autoptr (CxrTape) tape = cxr_tape_new ();
  gint64 start = (step * BATCH) % N_SAMPLES;
  g_autoptr (CxrTensor) xs = cxr_tensor_slice (toy->x, 0, start, start + BATCH, 1, NULL);
  g_autoptr (CxrTensor) ys = cxr_tensor_slice (toy->y, 0, start, start + BATCH, 1, NULL);
  g_autoptr (CxrTensor) yc = cxr_tensor_contiguous (ys);
  g_autoptr (CxrTensor) h = NULL, a = NULL, logits = NULL, loss = NULL;
  gfloat value;

  cxr_param_set_zero_grad (p);
  h = cxr_op_linear (tape, xs, cxr_param_set_get (p, "fc1.weight"), cxr_param_set_get (p, "fc1.bias"), NULL);
  a = cxr_op_gelu (tape, h, CXR_GELU_ERF, NULL);
  logits = cxr_op_linear (tape, a, cxr_param_set_get (p, "fc2.weight"), cxr_param_set_get (p, "fc2.bias"), NULL);
  loss = cxr_op_cross_entropy (tape, logits, yc, -100, NULL);
  g_assert_nonnull (loss);
  g_assert_true (cxr_tape_backward (tape, loss, NULL));
  cxr_param_set_clip_grad_norm (p, 1.0);
  cxr_adamw_step (opt, (gfloat) cxr_lr_warmup_cosine (step, 1e-2, 10, 400, 1e-3));
  value = *(gfloat *) cxr_tensor_get_data (loss);
  return value;
}

static void
test_mlp_learns (void)
{
  Toy toy;
  g_autoptr (CxrParamSet) p = mlp_new (1);
  g_autoptr (CxrAdamW) opt = cxr_adamw_new (p);
  gdouble first = 0, last = 0;

  toy_init (&toy);
  g_object_set (opt, "weight-decay", 0.0, NULL);
  for (gint64 step = 0; step < 400; step++)
    {
      gfloat loss = mlp_step (p, opt, &toy, step);
      g_assert_true (isfinite (loss));
      if (step < 8)
        first += loss / 8;
      if (step >= 392)
        last += loss / 8;
    }
  g_test_message ("MLP cross-entropy: %.3f in the first 8 steps, %.3f in the last 8", first, last);
  g_assert_cmpfloat (first, >, 1.0);
  g_assert_cmpfloat (last, <, 0.3 * first);
  toy_clear (&toy);
}

static void
test_resume_is_bit_exact (void)
{
  Toy toy;
  g_autofree gchar *dir = test_mkdtemp ();
  g_autofree gchar *path = g_build_filename (dir, "step10.safetensors", NULL);
  g_autoptr (CxrParamSet) p = mlp_new (3), p2 = mlp_new (99);
  g_autoptr (CxrAdamW) opt = cxr_adamw_new (p), opt2 = cxr_adamw_new (p2);
  g_autoptr (GHashTable) meta = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) meta_back = NULL;
  g_autoptr (GError) error = NULL;
  gfloat straight[20], resumed[20];

  toy_init (&toy);
  g_hash_table_insert (meta, "data.step", "10");
  for (gint64 step = 0; step < 20; step++)
    {
      if (step == 10)
        g_assert_true (cxr_checkpoint_save (path, p, opt, meta, &error));
      straight[step] = mlp_step (p, opt, &toy, step);
    }
  g_assert_no_error (error);

  /* Other weights, other moments: the checkpoint replaces them all. */
  mlp_step (p2, opt2, &toy, 0);
  g_assert_true (cxr_checkpoint_load (path, p2, opt2, &meta_back, &error));
  g_assert_no_error (error);
  g_assert_cmpint (cxr_adamw_get_step (opt2), ==, 10);
  g_assert_cmpstr (g_hash_table_lookup (meta_back, "data.step"), ==, "10");
  for (gint64 step = 10; step < 20; step++)
    resumed[step] = mlp_step (p2, opt2, &toy, step);
  for (gint64 step = 10; step < 20; step++)
    g_assert_true (memcmp (&straight[step], &resumed[step], sizeof (gfloat)) == 0);
  g_assert_cmpmem (cxr_tensor_get_data (cxr_param_set_get_flat (p)), cxr_tensor_get_nbytes (cxr_param_set_get_flat (p)),
                   cxr_tensor_get_data (cxr_param_set_get_flat (p2)), cxr_tensor_get_nbytes (cxr_param_set_get_flat (p2)));

  /* A checkpoint of another model is refused with the tensor's name. */
  {
    g_autoptr (CxrParamSet) other = cxr_param_set_new ();
    cxr_param_set_add (other, "fc1.weight", (const gint64[]) { 3, 3 }, 2, NULL);
    cxr_param_set_allocate (other);
    g_assert_false (cxr_checkpoint_load (path, other, NULL, NULL, &error));
    g_assert_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_SHAPE_MISMATCH);
    g_assert_nonnull (strstr (error->message, "tensor params.fc1.weight: expected [3, 3], got [32, 8]"));
  }
  test_rmdir (dir);
  toy_clear (&toy);
}

/* -------------------------------------------------------------- conv net */

/* 8x8 images, one bright 2x2 square in one of four quadrants, plus noise:
 * the class is the quadrant. */
static void
make_images (CxrTensor **images, CxrTensor **labels, gint n, guint64 seed)
{
  gfloat *v;
  gint64 *y;
  g_autoptr (GRand) rand = g_rand_new_with_seed ((guint32) seed);

  *images = cxr_tensor_new_randn ((const gint64[]) { n, 1, 8, 8 }, 4, seed, 0);
  *labels = cxr_tensor_new (CXR_DTYPE_I64, (const gint64[]) { n }, 1);
  v = cxr_tensor_get_data (*images);
  y = cxr_tensor_get_data (*labels);
  for (gint i = 0; i < n; i++)
    {
      gint q = g_rand_int_range (rand, 0, 4);
      gint oy = (q / 2) * 4 + g_rand_int_range (rand, 0, 3), ox = (q % 2) * 4 + g_rand_int_range (rand, 0, 3);
      for (gint k = 0; k < 64; k++)
        v[i * 64 + k] *= 0.3f;
      for (gint dy = 0; dy < 2; dy++)
        for (gint dx = 0; dx < 2; dx++)
          v[i * 64 + (oy + dy) * 8 + ox + dx] += 2.0f;
      y[i] = q;
    }
}

static void
test_convnet_learns (void)
{
  g_autoptr (CxrParamSet) p = cxr_param_set_new ();
  g_autoptr (CxrAdamW) opt = NULL;
  g_autoptr (CxrTensor) images = NULL, labels = NULL;
  gdouble first = 0, last = 0;

  cxr_param_set_add (p, "conv1.weight", (const gint64[]) { 8, 1, 3, 3 }, 4, NULL);
  cxr_param_set_add (p, "conv1.bias", (const gint64[]) { 8 }, 1, NULL);
  cxr_param_set_add (p, "norm.weight", (const gint64[]) { 8 }, 1, NULL);
  cxr_param_set_add (p, "norm.bias", (const gint64[]) { 8 }, 1, NULL);
  cxr_param_set_add (p, "conv2.weight", (const gint64[]) { 8, 8, 3, 3 }, 4, NULL);
  cxr_param_set_add (p, "fc.weight", (const gint64[]) { 4, 32 }, 2, NULL);
  cxr_param_set_add (p, "fc.bias", (const gint64[]) { 4 }, 1, NULL);
  cxr_param_set_allocate (p);
  cxr_param_set_init_normal (p, "conv1.weight", 0.4f, 11);
  cxr_param_set_init_normal (p, "conv2.weight", 0.15f, 12);
  cxr_param_set_init_normal (p, "fc.weight", 0.2f, 13);
  cxr_tensor_fill (cxr_param_set_get (p, "norm.weight"), 1.0f);
  opt = cxr_adamw_new (p);
  g_object_set (opt, "lr", 5e-3, "weight-decay", 0.0, NULL);
  make_images (&images, &labels, 128, 5);

  for (gint step = 0; step < 120; step++)
    {
      g_autoptr (CxrTape) tape = cxr_tape_new ();
      gint64 start = (step * 16) % 128;
      g_autoptr (CxrTensor) x = cxr_tensor_slice (images, 0, start, start + 16, 1, NULL);
      g_autoptr (CxrTensor) y0 = cxr_tensor_slice (labels, 0, start, start + 16, 1, NULL);
      g_autoptr (CxrTensor) y = cxr_tensor_contiguous (y0);
      g_autoptr (CxrTensor) h1 = NULL, n1 = NULL, a1 = NULL, h2 = NULL, a2 = NULL, pooled = NULL, flat = NULL,
                            logits = NULL, loss = NULL;
      gfloat value;

      cxr_param_set_zero_grad (p);
      h1 = cxr_op_conv2d (tape, x, cxr_param_set_get (p, "conv1.weight"), cxr_param_set_get (p, "conv1.bias"), 1, 1, NULL);
      n1 = cxr_op_group_norm (tape, h1, 2, cxr_param_set_get (p, "norm.weight"), cxr_param_set_get (p, "norm.bias"), 1e-5f, NULL);
      a1 = cxr_op_silu (tape, n1, NULL);
      h2 = cxr_op_conv2d (tape, a1, cxr_param_set_get (p, "conv2.weight"), NULL, 2, 1, NULL);
      a2 = cxr_op_silu (tape, h2, NULL);
      pooled = cxr_op_adaptive_avg_pool2d (tape, a2, 2, 2, NULL);
      flat = cxr_op_reshape (tape, pooled, (const gint64[]) { 16, 32 }, 2, NULL);
      logits = cxr_op_linear (tape, flat, cxr_param_set_get (p, "fc.weight"), cxr_param_set_get (p, "fc.bias"), NULL);
      loss = cxr_op_cross_entropy (tape, logits, y, -100, NULL);
      g_assert_nonnull (loss);
      g_assert_true (cxr_tape_backward (tape, loss, NULL));
      cxr_adamw_step (opt, 0);
      value = *(gfloat *) cxr_tensor_get_data (loss);
      if (step < 8)
        first += value / 8;
      if (step >= 112)
        last += value / 8;
    }
  g_test_message ("conv net cross-entropy: %.3f in the first 8 steps, %.3f in the last 8", first, last);
  g_assert_cmpfloat (last, <, 0.3 * first);
}

static void
test_thread_count (void)
{
  Toy toy;
  gfloat losses[2][30];
  guint saved = cxr_get_num_threads ();

  toy_init (&toy);
  for (guint run = 0; run < 2; run++)
    {
      g_autoptr (CxrParamSet) p = mlp_new (7);
      g_autoptr (CxrAdamW) opt = cxr_adamw_new (p);
      cxr_set_num_threads (run == 0 ? 1 : 2);
      g_assert_cmpuint (cxr_get_num_threads (), ==, run == 0 ? 1 : 2);
      for (gint64 step = 0; step < 30; step++)
        losses[run][step] = mlp_step (p, opt, &toy, step);
    }
  cxr_set_num_threads (saved);
  for (guint step = 0; step < 30; step++)
    g_assert_cmpfloat (fabsf (losses[0][step] - losses[1][step]), <=, 1e-5f * fabsf (losses[0][step]));
  toy_clear (&toy);
}

static void
test_ema_and_schedule (void)
{
  g_autoptr (CxrParamSet) p = mlp_new (1), ema = mlp_new (2);
  gfloat before = ((gfloat *) cxr_tensor_get_data (cxr_param_set_get_flat (ema)))[0];
  gfloat target = ((gfloat *) cxr_tensor_get_data (cxr_param_set_get_flat (p)))[0];

  cxr_param_set_ema_update (ema, p, 0.9f);
  g_assert_cmpfloat_with_epsilon (((gfloat *) cxr_tensor_get_data (cxr_param_set_get_flat (ema)))[0],
                                  0.9f * before + 0.1f * target, 1e-6);
  cxr_param_set_copy_from (ema, p);
  g_assert_cmpfloat (((gfloat *) cxr_tensor_get_data (cxr_param_set_get_flat (ema)))[0], ==, target);
  g_assert_cmpint (cxr_param_set_get_n_elements (p), ==, HIDDEN * IN_F + HIDDEN + CLASSES * HIDDEN + CLASSES);

  /* buffers (batch norm's running statistics) are copied, not averaged */
  {
    g_autoptr (CxrParamSet) bp = cxr_param_set_new (), bema = cxr_param_set_new ();
    CxrParamSet *sets[2] = { bp, bema };
    gfloat *w, *rm, *ew, *erm;
    for (guint i = 0; i < 2; i++)
      {
        g_assert_true (cxr_param_set_add (sets[i], "bn.weight", (const gint64[]) { 3 }, 1, NULL));
        g_assert_true (cxr_param_set_add_buffer (sets[i], "bn.running_mean", (const gint64[]) { 3 }, 1, NULL));
        cxr_param_set_allocate (sets[i]);
      }
    w = cxr_tensor_get_data (cxr_param_set_get (bp, "bn.weight"));
    rm = cxr_tensor_get_data (cxr_param_set_get (bp, "bn.running_mean"));
    ew = cxr_tensor_get_data (cxr_param_set_get (bema, "bn.weight"));
    erm = cxr_tensor_get_data (cxr_param_set_get (bema, "bn.running_mean"));
    for (guint i = 0; i < 3; i++)
      {
        w[i] = 1.0f + i, rm[i] = 5.0f + i;
        ew[i] = 0.0f, erm[i] = -1.0f;
      }
    cxr_param_set_ema_update (bema, bp, 0.75f);
    for (guint i = 0; i < 3; i++)
      {
        g_assert_cmpfloat (ew[i], ==, 0.25f * (1.0f + i));
        g_assert_cmpfloat (erm[i], ==, 5.0f + i);
      }
  }

  g_assert_cmpfloat_with_epsilon (cxr_lr_warmup_cosine (0, 1.0, 10, 110, 0.0), 0.1, 1e-12);
  g_assert_cmpfloat_with_epsilon (cxr_lr_warmup_cosine (9, 1.0, 10, 110, 0.0), 1.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (cxr_lr_warmup_cosine (60, 1.0, 10, 110, 0.0), 0.5, 1e-12);
  g_assert_cmpfloat_with_epsilon (cxr_lr_warmup_cosine (110, 1.0, 10, 110, 0.1), 0.1, 1e-12);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/train/mlp-learns", test_mlp_learns);
  g_test_add_func ("/train/resume-is-bit-exact", test_resume_is_bit_exact);
  g_test_add_func ("/train/convnet-learns", test_convnet_learns);
  g_test_add_func ("/train/thread-count", test_thread_count);
  g_test_add_func ("/train/ema-and-schedule", test_ema_and_schedule);
  return g_test_run ();
}
