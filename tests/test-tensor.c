/* tests/test-tensor.c: tensors: shapes, views, copies and dtype
 * conversions, with the half-float roundings checked bit by bit.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "test-common.h"

static CxrTensor *
arange_f32 (const gint64 *shape, guint ndim)
{
  CxrTensor *t = cxr_tensor_new (CXR_DTYPE_F32, shape, ndim);
  gfloat *data = cxr_tensor_get_data (t);

  for (gint64 i = 0; i < cxr_tensor_get_numel (t); i++)
    data[i] = (gfloat) i;
  return t;
}

/* The elements of a tensor, in row-major order, as floats. */
static GArray *
values_of (CxrTensor *t)
{
  g_autoptr (CxrTensor) c = cxr_tensor_to_dtype (t, CXR_DTYPE_F32, NULL);
  GArray *out = g_array_new (FALSE, FALSE, sizeof (gfloat));

  g_array_append_vals (out, cxr_tensor_get_data (c), (guint) cxr_tensor_get_numel (c));
  return out;
}

static void
test_new (void)
{
  const gint64 shape[] = { 2, 3, 4 };
  g_autoptr (CxrTensor) t = cxr_tensor_new (CXR_DTYPE_BF16, shape, 3);
  g_autoptr (CxrTensor) scalar = cxr_tensor_new (CXR_DTYPE_F32, NULL, 0);
  g_autofree gchar *text = cxr_tensor_describe (t);
  const guint16 *data = cxr_tensor_get_data (t);
  guint ndim = 0;

  g_assert_cmpstr (text, ==, "BF16[2, 3, 4]");
  g_assert_cmpint (cxr_tensor_get_numel (t), ==, 24);
  g_assert_cmpuint (cxr_tensor_get_nbytes (t), ==, 48);
  g_assert_cmpint (cxr_tensor_get_dim (t, -1), ==, 4);
  g_assert_cmpint (cxr_tensor_get_strides (t, &ndim)[0], ==, 12);
  g_assert_cmpuint (ndim, ==, 3);
  g_assert_true (cxr_tensor_is_contiguous (t));
  g_assert_cmpuint ((guintptr) data % 64, ==, 0);
  for (guint i = 0; i < 24; i++)
    g_assert_cmpuint (data[i], ==, 0);
  g_assert_cmpint (cxr_tensor_get_numel (scalar), ==, 1);
  g_assert_cmpuint (cxr_dtype_get_size (CXR_DTYPE_I64), ==, 8);
}

static void
test_from_data (void)
{
  const gint64 shape[] = { 2, 2 };
  const gint32 data[] = { 1, -2, 3, -4 };
  const gint64 bad_shape[] = { 2, -1 };
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrTensor) t = cxr_tensor_new_from_data (CXR_DTYPE_I32, shape, 2, (const guint8 *) data,
                                                      sizeof data, &error);
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (CxrTensor) wrapped = NULL;

  g_assert_no_error (error);
  bytes = cxr_tensor_to_bytes (t);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), data, sizeof data);
  wrapped = cxr_tensor_new_from_bytes (CXR_DTYPE_I32, shape, 2, bytes, &error);
  g_assert_no_error (error);
  g_assert_true (cxr_tensor_get_data (wrapped) == g_bytes_get_data (bytes, NULL));

  g_assert_null (cxr_tensor_new_from_data (CXR_DTYPE_I32, shape, 2, (const guint8 *) data, 12, &error));
  g_assert_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE);
  g_assert_cmpstr (error->message, ==, "12 bytes for 16 bytes of I32 elements");
  g_clear_error (&error);
  g_assert_null (cxr_tensor_new_from_data (CXR_DTYPE_I32, bad_shape, 2, NULL, 0, &error));
  g_assert_cmpstr (error->message, ==, "dimension 1 is -1: sizes cannot be negative");
}

static void
test_views (void)
{
  const gint64 shape[] = { 2, 3, 4 };
  g_autoptr (CxrTensor) t = arange_f32 (shape, 3);
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrTensor) r = cxr_tensor_reshape (t, (const gint64[]) { 6, -1 }, 2, &error);
  g_autoptr (CxrTensor) tr = cxr_tensor_transpose (t, 0, 2, &error);
  g_autoptr (CxrTensor) p = cxr_tensor_permute (t, (const gint[]) { 1, 2, 0 }, 3, &error);
  g_autoptr (CxrTensor) s = cxr_tensor_slice (t, -1, 1, 100, 2, &error);
  g_autoptr (CxrTensor) s2 = cxr_tensor_slice (t, 1, -2, 3, 1, &error);
  g_autoptr (CxrTensor) empty = cxr_tensor_slice (t, 0, 2, 1, 1, &error);
  g_autoptr (CxrTensor) r2 = NULL;
  g_autoptr (GArray) v = NULL;

  g_assert_no_error (error);
  /* reshape of a contiguous tensor is a view */
  g_assert_cmpint (cxr_tensor_get_dim (r, 1), ==, 4);
  g_assert_true (cxr_tensor_get_data (r) == cxr_tensor_get_data (t));
  ((gfloat *) cxr_tensor_get_data (t))[5] = 100;
  g_assert_cmpfloat (((gfloat *) cxr_tensor_get_data (r))[5], ==, 100);
  ((gfloat *) cxr_tensor_get_data (t))[5] = 5;

  /* transpose: out[k][j][i] = in[i][j][k] */
  g_assert_false (cxr_tensor_is_contiguous (tr));
  v = values_of (tr);
  for (gint k = 0; k < 4; k++)
    for (gint j = 0; j < 3; j++)
      for (gint i = 0; i < 2; i++)
        g_assert_cmpfloat (g_array_index (v, gfloat, (k * 3 + j) * 2 + i), ==, i * 12 + j * 4 + k);
  g_clear_pointer (&v, g_array_unref);

  /* permute (1, 2, 0): out[j][k][i] = in[i][j][k] */
  v = values_of (p);
  for (gint j = 0; j < 3; j++)
    for (gint k = 0; k < 4; k++)
      for (gint i = 0; i < 2; i++)
        g_assert_cmpfloat (g_array_index (v, gfloat, (j * 4 + k) * 2 + i), ==, i * 12 + j * 4 + k);
  g_clear_pointer (&v, g_array_unref);

  /* slice the last dimension 1::2 -> k in {1, 3} */
  g_assert_cmpint (cxr_tensor_get_dim (s, 2), ==, 2);
  v = values_of (s);
  for (gint i = 0; i < 2; i++)
    for (gint j = 0; j < 3; j++)
      for (gint k = 0; k < 2; k++)
        g_assert_cmpfloat (g_array_index (v, gfloat, (i * 3 + j) * 2 + k), ==, i * 12 + j * 4 + 1 + 2 * k);
  g_clear_pointer (&v, g_array_unref);
  g_assert_cmpint (cxr_tensor_get_dim (s2, 1), ==, 2);
  g_assert_cmpint (cxr_tensor_get_numel (empty), ==, 0);

  /* reshape of a view that is not contiguous copies */
  r2 = cxr_tensor_reshape (tr, (const gint64[]) { 24 }, 1, &error);
  g_assert_no_error (error);
  g_assert_true (cxr_tensor_is_contiguous (r2));
  v = values_of (r2);
  g_assert_cmpfloat (g_array_index (v, gfloat, 1), ==, 12); /* tr[0][0][1] = t[1][0][0] */
  g_clear_pointer (&v, g_array_unref);

  g_assert_null (cxr_tensor_reshape (t, (const gint64[]) { 5, 5 }, 2, &error));
  g_assert_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_null (cxr_tensor_reshape (t, (const gint64[]) { 5, -1 }, 2, &error));
  g_clear_error (&error);
  g_assert_null (cxr_tensor_transpose (t, 0, 3, &error));
  g_assert_cmpstr (error->message, ==, "dimension 3 is out of range for a tensor of 3 dimensions");
  g_clear_error (&error);
  g_assert_null (cxr_tensor_permute (t, (const gint[]) { 0, 0, 1 }, 3, &error));
  g_clear_error (&error);
  g_assert_null (cxr_tensor_slice (t, 0, 0, 1, 0, &error));
  g_clear_error (&error);
}

static guint16
to_f16_bits (gfloat v)
{
  g_autoptr (CxrTensor) t = cxr_tensor_new_from_data (CXR_DTYPE_F32, (const gint64[]) { 1 }, 1,
                                                      (const guint8 *) &v, 4, NULL);
  g_autoptr (CxrTensor) h = cxr_tensor_to_dtype (t, CXR_DTYPE_F16, NULL);
  return *(const guint16 *) cxr_tensor_get_data (h);
}

static guint16
to_bf16_bits (gfloat v)
{
  g_autoptr (CxrTensor) t = cxr_tensor_new_from_data (CXR_DTYPE_F32, (const gint64[]) { 1 }, 1,
                                                      (const guint8 *) &v, 4, NULL);
  g_autoptr (CxrTensor) h = cxr_tensor_to_dtype (t, CXR_DTYPE_BF16, NULL);
  return *(const guint16 *) cxr_tensor_get_data (h);
}

static gfloat
from_bits (CxrDType dtype, guint16 bits)
{
  g_autoptr (CxrTensor) t = cxr_tensor_new_from_data (dtype, (const gint64[]) { 1 }, 1,
                                                      (const guint8 *) &bits, 2, NULL);
  g_autoptr (CxrTensor) f = cxr_tensor_to_dtype (t, CXR_DTYPE_F32, NULL);
  return *(const gfloat *) cxr_tensor_get_data (f);
}

static void
test_half_floats (void)
{
  /* IEEE half: round to nearest, ties to even; overflow to infinity. */
  g_assert_cmphex (to_f16_bits (1.0f), ==, 0x3c00);
  g_assert_cmphex (to_f16_bits (-2.5f), ==, 0xc100);
  g_assert_cmphex (to_f16_bits (65504.0f), ==, 0x7bff);
  g_assert_cmphex (to_f16_bits (65519.0f), ==, 0x7bff);
  g_assert_cmphex (to_f16_bits (65520.0f), ==, 0x7c00);
  g_assert_cmphex (to_f16_bits (INFINITY), ==, 0x7c00);
  g_assert_cmphex (to_f16_bits (-INFINITY), ==, 0xfc00);
  g_assert_cmphex (to_f16_bits (ldexpf (1, -24)), ==, 0x0001);  /* smallest subnormal */
  g_assert_cmphex (to_f16_bits (ldexpf (1, -25)), ==, 0x0000);  /* tie: to even, 0 */
  g_assert_cmphex (to_f16_bits (ldexpf (3, -25)), ==, 0x0002);  /* tie: to even, 2 */
  g_assert_cmphex (to_f16_bits (ldexpf (1, -14)), ==, 0x0400);  /* smallest normal */
  g_assert_cmphex (to_f16_bits (1.0f + ldexpf (1, -11)), ==, 0x3c00); /* tie: to even */
  g_assert_cmphex (to_f16_bits (1.0f + ldexpf (3, -11)), ==, 0x3c02); /* tie: to even */
  g_assert_cmphex (to_f16_bits (-0.0f), ==, 0x8000);
  g_assert_true (isnan (from_bits (CXR_DTYPE_F16, to_f16_bits (NAN))));
  g_assert_cmpfloat (from_bits (CXR_DTYPE_F16, 0x0001), ==, ldexpf (1, -24));
  g_assert_cmpfloat (from_bits (CXR_DTYPE_F16, 0x7bff), ==, 65504.0f);
  g_assert_cmpfloat (from_bits (CXR_DTYPE_F16, 0x3555), ==, 0.333251953125f);

  /* bfloat16: the top half of an f32, rounded to nearest, ties to even. */
  g_assert_cmphex (to_bf16_bits (1.0f), ==, 0x3f80);
  g_assert_cmphex (to_bf16_bits (1.0f + ldexpf (1, -8)), ==, 0x3f80);
  g_assert_cmphex (to_bf16_bits (1.0f + ldexpf (3, -8)), ==, 0x3f82);
  g_assert_cmphex (to_bf16_bits (1.0f + ldexpf (1, -8) + ldexpf (1, -20)), ==, 0x3f81);
  g_assert_cmphex (to_bf16_bits (3.4e38f), ==, 0x7f80); /* rounds up to infinity */
  g_assert_true (isnan (from_bits (CXR_DTYPE_BF16, to_bf16_bits (NAN))));
  g_assert_cmpfloat (from_bits (CXR_DTYPE_BF16, 0xc0a0), ==, -5.0f);
}

static void
test_convert (void)
{
  const gint64 shape[] = { 4 };
  const gfloat f[] = { 1.9f, -1.9f, 300.0f, 0.0f };
  const gint64 big[] = { G_MAXINT64, -3, 255, 256 };
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrTensor) ft = cxr_tensor_new_from_data (CXR_DTYPE_F32, shape, 1, (const guint8 *) f, sizeof f, NULL);
  g_autoptr (CxrTensor) it = cxr_tensor_new_from_data (CXR_DTYPE_I64, shape, 1, (const guint8 *) big, sizeof big, NULL);
  g_autoptr (CxrTensor) i32 = cxr_tensor_to_dtype (ft, CXR_DTYPE_I32, &error);
  g_autoptr (CxrTensor) u8 = cxr_tensor_to_dtype (it, CXR_DTYPE_U8, &error);
  g_autoptr (CxrTensor) back = cxr_tensor_to_dtype (it, CXR_DTYPE_I64, &error);
  g_autoptr (CxrTensor) f64 = cxr_tensor_to_dtype (ft, CXR_DTYPE_F64, &error);
  const gint32 *iv;
  const guint8 *uv;
  gfloat nan_value = NAN;
  g_autoptr (CxrTensor) one = cxr_tensor_new_from_data (CXR_DTYPE_F32, (const gint64[]) { 1 }, 1, (const guint8 *) &nan_value, 4, NULL);

  g_assert_no_error (error);
  iv = cxr_tensor_get_data (i32);
  g_assert_cmpint (iv[0], ==, 1);
  g_assert_cmpint (iv[1], ==, -1);
  g_assert_cmpint (iv[2], ==, 300);
  uv = cxr_tensor_get_data (u8);
  g_assert_cmpuint (uv[1], ==, 253);
  g_assert_cmpuint (uv[2], ==, 255);
  g_assert_cmpuint (uv[3], ==, 0);
  /* int64 to int64 is exact, even past 2^53 */
  g_assert_cmpint (((const gint64 *) cxr_tensor_get_data (back))[0], ==, G_MAXINT64);
  g_assert_cmpfloat (((const gdouble *) cxr_tensor_get_data (f64))[0], ==, (gdouble) 1.9f);
  g_assert_null (cxr_tensor_to_dtype (one, CXR_DTYPE_I32, &error));
  g_assert_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_DTYPE);
  g_clear_error (&error);
  g_assert_null (cxr_tensor_to_dtype (ft, CXR_DTYPE_F8_E4M3, &error));
  g_assert_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_DTYPE);
}

static void
test_f8_read (void)
{
  const guint8 e4m3[] = { 0x38, 0x7e, 0x7f, 0x01, 0xc0 };
  const guint8 e5m2[] = { 0x3c, 0x7b, 0x7c, 0x01 };
  g_autoptr (CxrTensor) a = cxr_tensor_new_from_data (CXR_DTYPE_F8_E4M3, (const gint64[]) { 5 }, 1, e4m3, 5, NULL);
  g_autoptr (CxrTensor) b = cxr_tensor_new_from_data (CXR_DTYPE_F8_E5M2, (const gint64[]) { 4 }, 1, e5m2, 4, NULL);
  g_autoptr (GArray) va = values_of (a);
  g_autoptr (GArray) vb = values_of (b);

  g_assert_cmpfloat (g_array_index (va, gfloat, 0), ==, 1.0f);
  g_assert_cmpfloat (g_array_index (va, gfloat, 1), ==, 448.0f);   /* largest E4M3 */
  g_assert_true (isnan (g_array_index (va, gfloat, 2)));
  g_assert_cmpfloat (g_array_index (va, gfloat, 3), ==, ldexpf (1, -9)); /* smallest subnormal */
  g_assert_cmpfloat (g_array_index (va, gfloat, 4), ==, -2.0f);
  g_assert_cmpfloat (g_array_index (vb, gfloat, 0), ==, 1.0f);
  g_assert_cmpfloat (g_array_index (vb, gfloat, 1), ==, 57344.0f); /* largest E5M2 */
  g_assert_true (isinf (g_array_index (vb, gfloat, 2)));
  g_assert_cmpfloat (g_array_index (vb, gfloat, 3), ==, ldexpf (1, -16));
}

static void
test_memory_accounting (void)
{
  guint64 base = cxr_tensor_get_allocated_bytes ();
  CxrTensor *a, *v;

  cxr_tensor_reset_peak_bytes ();
  a = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { 1000 }, 1);
  g_assert_cmpuint (cxr_tensor_get_allocated_bytes (), ==, base + 4000);
  v = cxr_tensor_slice (a, 0, 0, 10, 1, NULL); /* a view allocates nothing */
  g_assert_cmpuint (cxr_tensor_get_allocated_bytes (), ==, base + 4000);
  cxr_tensor_unref (a);
  g_assert_cmpuint (cxr_tensor_get_allocated_bytes (), ==, base + 4000);
  cxr_tensor_unref (v);
  g_assert_cmpuint (cxr_tensor_get_allocated_bytes (), ==, base);
  g_assert_cmpuint (cxr_tensor_get_peak_bytes (), ==, base + 4000);
  cxr_tensor_reset_peak_bytes ();
  g_assert_cmpuint (cxr_tensor_get_peak_bytes (), ==, base);
}

static void
test_attention_memory_is_linear (void)
{
  guint64 peaks[2];
  const gint64 lengths[2] = { 512, 2048 };

  for (guint i = 0; i < 2; i++)
    {
      gint64 shape[] = { 1, 2, lengths[i], 16 };
      g_autoptr (CxrTensor) q = cxr_tensor_new_randn (shape, 4, 1, 0);
      g_autoptr (CxrTensor) out = NULL;
      guint64 before = cxr_tensor_get_allocated_bytes ();

      cxr_tensor_reset_peak_bytes ();
      out = cxr_op_attention (NULL, q, q, q, NULL, FALSE, 0, NULL);
      peaks[i] = cxr_tensor_get_peak_bytes () - before;
    }
  /* 4x the length: 4x the memory (output and row statistics), not 16x */
  g_assert_cmpuint (peaks[1], <=, 4 * peaks[0] + 4096);
  g_assert_cmpuint (peaks[1], <, (guint64) 2 * 2048 * 2048 * 4 / 8);
}

/* Freed blocks of 64 KiB or more are kept and handed out again, zeroed
 * for cxr_tensor_new(); the cache holds no more than the engine held. */
static void
test_block_cache (void)
{
  const gint64 shape[] = { 512, 512 }; /* 1 MiB */
  gsize n = 512 * 512;
  CxrTensor *t = cxr_tensor_new (CXR_DTYPE_F32, shape, 2);
  guint64 held = cxr_tensor_get_allocated_bytes (), cached;
  gfloat *data = cxr_tensor_get_data (t);
  gboolean all_zero = TRUE;

  cxr_tensor_release_cache ();
  memset (data, 0xff, n * sizeof (gfloat));
  cxr_tensor_unref (t);
  g_assert_cmpuint (cxr_tensor_get_allocated_bytes (), ==, held - n * sizeof (gfloat));
  cached = cxr_tensor_get_cached_bytes ();
#if defined(__SANITIZE_ADDRESS__)
  g_assert_cmpuint (cached, ==, 0); /* off under ASan: freed memory is freed */
#else
  if (g_strcmp0 (g_getenv ("CXRGEN_TENSOR_CACHE"), "0") != 0)
    g_assert_cmpuint (cached, >=, n * sizeof (gfloat));
#endif
  g_assert_cmpuint (cached, <=, held + n * sizeof (gfloat));

  /* the same size again: the kept block (when there is one), all zeros */
  t = cxr_tensor_new (CXR_DTYPE_F32, shape, 2);
  data = cxr_tensor_get_data (t);
  for (gsize i = 0; i < n; i++)
    all_zero = all_zero && data[i] == 0.0f;
  g_assert_true (all_zero);
  g_assert_cmpuint (cxr_tensor_get_cached_bytes (), ==, cached > 0 ? cached - n * sizeof (gfloat) : 0);
  g_assert_cmpuint (cxr_tensor_get_allocated_bytes (), ==, held);
  cxr_tensor_unref (t);

  cxr_tensor_release_cache ();
  g_assert_cmpuint (cxr_tensor_get_cached_bytes (), ==, 0);
}

/* Blocks of a size asked for now replace cached blocks of sizes asked
 * for before, when both do not fit under the cap (the most ever held):
 * two 16 MiB blocks cached, a 32 MiB one freed, the next 32 MiB tensor
 * gets it. Run early, while the most ever held is about 32 MiB. */
static void
test_block_cache_eviction (void)
{
  const gint64 half[] = { 4, 1024, 1024 }, whole[] = { 8, 1024, 1024 }; /* 16 and 32 MiB */
  const gsize whole_bytes = 32 << 20;
  CxrTensor *a, *b, *c;

#if defined(__SANITIZE_ADDRESS__)
  g_test_skip ("the block cache is off under ASan");
  return;
#endif
  if (g_strcmp0 (g_getenv ("CXRGEN_TENSOR_CACHE"), "0") == 0)
    {
      g_test_skip ("CXRGEN_TENSOR_CACHE=0");
      return;
    }
  cxr_tensor_release_cache ();
  a = cxr_tensor_new (CXR_DTYPE_F32, half, 3);
  b = cxr_tensor_new (CXR_DTYPE_F32, half, 3);
  cxr_tensor_unref (a);
  cxr_tensor_unref (b);
  g_assert_cmpuint (cxr_tensor_get_cached_bytes (), ==, whole_bytes);
  c = cxr_tensor_new (CXR_DTYPE_F32, whole, 3); /* a fresh block: no 32 MiB one cached */
  g_assert_cmpuint (cxr_tensor_get_cached_bytes (), ==, whole_bytes);
  cxr_tensor_unref (c); /* does not fit beside the two: they go */
  g_assert_cmpuint (cxr_tensor_get_cached_bytes (), ==, whole_bytes);
  c = cxr_tensor_new (CXR_DTYPE_F32, whole, 3); /* the cached 32 MiB block */
  g_assert_cmpuint (cxr_tensor_get_cached_bytes (), ==, 0);
  cxr_tensor_unref (c);
  cxr_tensor_release_cache ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tensor/new", test_new);
  g_test_add_func ("/tensor/block-cache", test_block_cache);
  g_test_add_func ("/tensor/block-cache-eviction", test_block_cache_eviction);
  g_test_add_func ("/tensor/from-data", test_from_data);
  g_test_add_func ("/tensor/views", test_views);
  g_test_add_func ("/tensor/half-floats", test_half_floats);
  g_test_add_func ("/tensor/convert", test_convert);
  g_test_add_func ("/tensor/f8-read", test_f8_read);
  g_test_add_func ("/tensor/memory-accounting", test_memory_accounting);
  g_test_add_func ("/tensor/attention-memory-is-linear", test_attention_memory_is_linear);
  return g_test_run ();
}
