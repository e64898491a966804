/* tests/test-safetensors.c: safetensors files: a round trip, zero-copy
 * views, and a message for every kind of malformed file.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "test-common.h"

/* A file from a header text and a data area of @data_size bytes 0, 1, 2... */
static GBytes *
make_file (const gchar *header, gsize data_size)
{
  guint64 n = GUINT64_TO_LE (strlen (header));
  GByteArray *out = g_byte_array_new ();

  g_byte_array_append (out, (const guint8 *) &n, 8);
  g_byte_array_append (out, (const guint8 *) header, strlen (header));
  for (gsize i = 0; i < data_size; i++)
    {
      guint8 b = (guint8) i;
      g_byte_array_append (out, &b, 1);
    }
  return g_byte_array_free_to_bytes (out);
}

static void
test_round_trip (void)
{
  g_autoptr (GHashTable) tensors = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                          (GDestroyNotify) cxr_tensor_unref);
  g_autoptr (GHashTable) metadata = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrSafetensors) file = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (CxrTensor) w = NULL, b = NULL, ids = NULL, h = NULL, t = NULL;
  g_auto (GStrv) names = NULL;
  g_auto (GStrv) keys = NULL;
  g_autofree gint64 *shape = NULL;
  gfloat weights[6] = { 0.5f, -1, 2, 3.25f, -4, 5 };
  gint64 index[3] = { 7, -8, 1LL << 40 };
  g_autofree gchar *dir = test_mkdtemp ();
  g_autofree gchar *path = g_build_filename (dir, "w.safetensors", NULL);
  CxrDType dtype;
  guint ndim;

  w = cxr_tensor_new_from_data (CXR_DTYPE_F32, (const gint64[]) { 2, 3 }, 2, (const guint8 *) weights,
                                sizeof weights, NULL);
  ids = cxr_tensor_new_from_data (CXR_DTYPE_I64, (const gint64[]) { 3 }, 1, (const guint8 *) index,
                                  sizeof index, NULL);
  t = cxr_tensor_transpose (w, 0, 1, NULL); /* written contiguous */
  h = cxr_tensor_to_dtype (w, CXR_DTYPE_BF16, NULL);
  g_hash_table_insert (tensors, "encoder.weight", cxr_tensor_ref (w));
  g_hash_table_insert (tensors, "a.ids", cxr_tensor_ref (ids));
  g_hash_table_insert (tensors, "encoder.weight_t", cxr_tensor_ref (t));
  g_hash_table_insert (tensors, "half", cxr_tensor_ref (h));
  g_hash_table_insert (metadata, "format", "pt");
  g_hash_table_insert (metadata, "step", "\"42\"\n");

  g_assert_true (cxr_safetensors_save (path, tensors, metadata, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (test_count_files (dir), ==, 1);
  file = cxr_safetensors_open (path, &error);
  g_assert_no_error (error);

  g_assert_cmpuint (cxr_safetensors_get_n_tensors (file), ==, 4);
  g_assert_cmpuint (cxr_safetensors_get_n_elements (file), ==, 6 + 3 + 6 + 6);
  names = cxr_safetensors_list_names (file);
  g_assert_cmpstrv (names, ((const gchar *[]) { "a.ids", "encoder.weight", "encoder.weight_t", "half", NULL }));
  keys = cxr_safetensors_list_metadata_keys (file);
  g_assert_cmpstrv (keys, ((const gchar *[]) { "format", "step", NULL }));
  g_assert_cmpstr (cxr_safetensors_get_metadata (file, "step"), ==, "\"42\"\n");
  g_assert_true (cxr_safetensors_get_info (file, "encoder.weight_t", &dtype, &shape, &ndim));
  g_assert_cmpint (dtype, ==, CXR_DTYPE_F32);
  g_assert_cmpuint (ndim, ==, 2);
  g_assert_cmpint (shape[0], ==, 3);
  g_assert_false (cxr_safetensors_get_info (file, "nope", NULL, NULL, NULL));

  b = cxr_safetensors_get_tensor (file, "encoder.weight", &error);
  g_assert_no_error (error);
  g_assert_cmpmem (cxr_tensor_get_data (b), cxr_tensor_get_nbytes (b), weights, sizeof weights);
  g_clear_pointer (&b, cxr_tensor_unref);
  b = cxr_safetensors_get_tensor (file, "encoder.weight_t", &error);
  g_assert_cmpfloat (((const gfloat *) cxr_tensor_get_data (b))[1], ==, 3.25f); /* t[0][1] = w[1][0] */
  g_clear_pointer (&b, cxr_tensor_unref);
  b = cxr_safetensors_get_tensor (file, "a.ids", &error);
  g_assert_cmpmem (cxr_tensor_get_data (b), 24, index, 24);

  /* A view outlives the file object: it keeps the mapping. */
  g_clear_object (&file);
  g_assert_cmpint (((const gint64 *) cxr_tensor_get_data (b))[2], ==, 1LL << 40);

  /* Serialize agrees with save, byte for byte. */
  bytes = cxr_safetensors_serialize (tensors, metadata, &error);
  {
    g_autofree gchar *contents = NULL;
    gsize len = 0;
    g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
    g_assert_cmpmem (contents, len, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
    /* the data starts on an 8-byte boundary */
    g_assert_cmpuint ((8 + GUINT64_FROM_LE (*(const guint64 *) contents)) % 8, ==, 0);
  }
  test_rmdir (dir);
}

static void
test_lookup_errors (void)
{
  g_autoptr (GBytes) bytes = make_file ("{\"x\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1],\"data_offsets\":[0,1]},"
                                        "\"odd\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1,5]}}", 8);
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrSafetensors) file = cxr_safetensors_new_from_bytes (bytes, "l.safetensors", &error);
  g_autoptr (CxrTensor) odd = NULL;

  g_assert_no_error (error);
  g_assert_null (cxr_safetensors_get_tensor (file, "y", &error));
  g_assert_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_MISSING_TENSOR);
  g_assert_cmpstr (error->message, ==, "l.safetensors: no tensor y");
  g_clear_error (&error);
  g_assert_null (cxr_safetensors_get_tensor (file, "x", &error));
  g_assert_cmpstr (error->message, ==, "l.safetensors: tensor x has 6 dimensions; cxrgen handles at most 5");
  g_clear_error (&error);
  /* Data not aligned for F32 is copied into aligned memory. */
  odd = cxr_safetensors_get_tensor (file, "odd", &error);
  g_assert_no_error (error);
  g_assert_cmpuint ((guintptr) cxr_tensor_get_data (odd) % 4, ==, 0);
  g_assert_cmpmem (cxr_tensor_get_data (odd), 4, "\x01\x02\x03\x04", 4);
}

typedef struct {
  const gchar *name;
  const gchar *header; /* NULL: raw bytes below */
  gsize data_size;
  const gchar *message;
} BadFile;

static const BadFile bad_files[] = {
  { "not-json", "{\"a\" 1}", 0, "b.safetensors: header:1:6: JSON: expected ':' after a key" },
  { "not-object", "[1, 2]", 0, "b.safetensors: the header is not a JSON object" },
  { "trailing", "{} x", 0, "b.safetensors: header:1:4: JSON: text after the value" },
  { "unknown-dtype", "{\"w\":{\"dtype\":\"F17\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
    "b.safetensors: tensor w: unknown dtype \"F17\"" },
  { "past-end", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
    "b.safetensors: tensor w: data_offsets [0, 8] run past the end of the data (4 bytes)" },
  { "wrong-length", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8,
    "b.safetensors: tensor w: F32 with 2 elements needs 8 bytes, but data_offsets give 4" },
  { "overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
    "b.safetensors: tensors a [0, 8) and b [4, 12) overlap" },
  { "backwards", "{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,2]}}", 8,
    "b.safetensors: tensor w: data_offsets [4, 2] end before they begin" },
  { "negative-dim", "{\"w\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}}", 1,
    "b.safetensors: tensor w: shape entry 0 is not a non-negative integer" },
  { "float-dim", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1.5],\"data_offsets\":[0,1]}}", 1,
    "b.safetensors: tensor w: shape entry 0 is not a non-negative integer" },
  { "huge-shape", "{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,1]}}", 1,
    "b.safetensors: tensor w: the shape has too many elements" },
  { "missing-keys", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1,
    "b.safetensors: tensor w: its header entry needs \"dtype\" (a string), \"shape\" and \"data_offsets\" (arrays)" },
  { "entry-not-object", "{\"w\":3}", 0, "b.safetensors: tensor w: its header entry is not an object" },
  { "offsets-arity", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 1,
    "b.safetensors: tensor w: data_offsets must be [BEGIN, END]" },
  { "metadata-value", "{\"__metadata__\":{\"k\":1}}", 0, "b.safetensors: __metadata__: the value of k is not a string" },
  { "duplicate", "{\"w\":{},\"w\":{}}", 0, "b.safetensors: header:1:12: JSON: the key \"w\" appears twice" },
  { "bad-utf8", "{\"\xff\":{}}", 0, "b.safetensors: header:1:5: JSON: a string is not UTF-8" },
};

static void
test_bad_file (gconstpointer data)
{
  const BadFile *c = data;
  g_autoptr (GBytes) bytes = make_file (c->header, c->data_size);
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrSafetensors) file = cxr_safetensors_new_from_bytes (bytes, "b.safetensors", &error);

  g_assert_null (file);
  g_assert_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_FORMAT);
  g_assert_cmpstr (error->message, ==, c->message);
}

static void
test_bad_lengths (void)
{
  static const guint8 short_file[] = { 1, 0, 0 };
  guint8 huge[16] = { 0 };
  guint8 past[12] = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) b1 = g_bytes_new_static (short_file, sizeof short_file);
  g_autoptr (GBytes) b2 = NULL;
  g_autoptr (GBytes) b3 = NULL;
  guint64 n;

  g_assert_null (cxr_safetensors_new_from_bytes (b1, "b.safetensors", &error));
  g_assert_cmpstr (error->message, ==, "b.safetensors: 3 bytes: too short for the 8-byte header length");
  g_clear_error (&error);

  n = GUINT64_TO_LE (G_GUINT64_CONSTANT (1) << 40);
  memcpy (huge, &n, 8);
  b2 = g_bytes_new (huge, sizeof huge);
  g_assert_null (cxr_safetensors_new_from_bytes (b2, "b.safetensors", &error));
  g_assert_cmpstr (error->message, ==, "b.safetensors: header length 1099511627776 is over the 100000000-byte limit");
  g_clear_error (&error);

  n = GUINT64_TO_LE (100);
  memcpy (past, &n, 8);
  memcpy (past + 8, "{}  ", 4);
  b3 = g_bytes_new (past, sizeof past);
  g_assert_null (cxr_safetensors_new_from_bytes (b3, "b.safetensors", &error));
  g_assert_cmpstr (error->message, ==, "b.safetensors: header length 100 runs past the end of the file (12 bytes)");
  g_clear_error (&error);

  g_assert_null (cxr_safetensors_open ("/nonexistent/w.safetensors", &error));
  g_assert_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED);
}

static void
test_deep_nesting (void)
{
  g_autoptr (GString) header = g_string_new ("{\"a\":");
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < 100000; i++)
    g_string_append_c (header, '[');
  bytes = make_file (header->str, 0);
  g_assert_null (cxr_safetensors_new_from_bytes (bytes, "b.safetensors", &error));
  g_assert_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_FORMAT);
  /* the 65th bracket, at byte 69, is one too deep */
  g_assert_cmpstr (error->message, ==, "b.safetensors: header:1:70: JSON: nested too deeply");
}

static void
test_padded_header_and_empty (void)
{
  g_autoptr (GBytes) bytes = make_file ("{\"__metadata__\":{},\"e\":{\"dtype\":\"F16\",\"shape\":[0,3],\"data_offsets\":[0,0]}}      ", 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrSafetensors) file = cxr_safetensors_new_from_bytes (bytes, "p.safetensors", &error);
  g_autoptr (CxrTensor) e = NULL;

  g_assert_no_error (error);
  e = cxr_safetensors_get_tensor (file, "e", &error);
  g_assert_no_error (error);
  g_assert_cmpint (cxr_tensor_get_numel (e), ==, 0);
  g_assert_cmpint (cxr_tensor_get_dim (e, 1), ==, 3);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/safetensors/round-trip", test_round_trip);
  g_test_add_func ("/safetensors/lookup-errors", test_lookup_errors);
  g_test_add_func ("/safetensors/bad-lengths", test_bad_lengths);
  g_test_add_func ("/safetensors/padded-header-and-empty", test_padded_header_and_empty);
  g_test_add_func ("/safetensors/deep-nesting", test_deep_nesting);
  for (guint i = 0; i < G_N_ELEMENTS (bad_files); i++)
    {
      g_autofree gchar *path = g_strdup_printf ("/safetensors/bad/%s", bad_files[i].name);
      g_test_add_data_func (path, &bad_files[i], test_bad_file);
    }
  return g_test_run ();
}
