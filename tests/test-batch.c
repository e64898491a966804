/* tests/test-batch.c: CxrBatch fields, copies and extras.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "test-common.h"

static void
test_fields (void)
{
  g_autoptr (CxrBatch) batch = cxr_batch_new (3);
  const gchar *ids[] = { "a", "b", "c", NULL };
  const gfloat values[] = { 1, 2, 3, 4, 5, 6 };
  g_auto (GStrv) names = NULL;
  const gfloat *got;
  guint width = 0;
  gsize n = 0;

  g_assert_cmpuint (cxr_batch_get_size (batch), ==, 3);
  g_assert_false (cxr_batch_has_field (batch, CXR_FIELD_ID));
  g_assert_cmpint (cxr_batch_get_field_kind (batch, CXR_FIELD_ID), ==, CXR_FIELD_KIND_NONE);

  cxr_batch_set_strings (batch, CXR_FIELD_ID, ids);
  cxr_batch_set_floats (batch, "pair", 2, values, G_N_ELEMENTS (values));
  g_assert_true (cxr_batch_has_field (batch, CXR_FIELD_ID));
  g_assert_cmpint (cxr_batch_get_field_kind (batch, CXR_FIELD_ID), ==, CXR_FIELD_KIND_STRINGS);
  g_assert_cmpint (cxr_batch_get_field_kind (batch, "pair"), ==, CXR_FIELD_KIND_FLOATS);
  g_assert_cmpstr (cxr_batch_get_string (batch, CXR_FIELD_ID, 2), ==, "c");
  g_assert_cmpstrv (cxr_batch_get_strings (batch, CXR_FIELD_ID), ids);

  got = cxr_batch_get_floats (batch, "pair", &width, &n);
  g_assert_cmpuint (width, ==, 2);
  g_assert_cmpuint (n, ==, 6);
  g_assert_cmpmem (got, n * sizeof (gfloat), values, sizeof values);
  /* A field of another kind reads as absent. */
  g_assert_null (cxr_batch_get_floats (batch, CXR_FIELD_ID, &width, &n));
  g_assert_cmpuint (width, ==, 0);
  g_assert_null (cxr_batch_get_strings (batch, "pair"));

  names = cxr_batch_list_fields (batch);
  g_assert_cmpuint (g_strv_length (names), ==, 2);
  g_assert_cmpstr (names[0], ==, "id");
  g_assert_cmpstr (names[1], ==, "pair");

  cxr_batch_remove_field (batch, "pair");
  g_assert_false (cxr_batch_has_field (batch, "pair"));
}

static void
test_copy_is_independent (void)
{
  g_autoptr (CxrBatch) batch = cxr_batch_new (2);
  g_autoptr (CxrBatch) copy = NULL;
  const gchar *ids[] = { "x", "y", NULL };
  const gchar *other[] = { "p", "q", NULL };
  const gfloat v[] = { 7, 8 };

  cxr_batch_set_strings (batch, CXR_FIELD_ID, ids);
  cxr_batch_set_floats (batch, "v", 1, v, 2);
  cxr_batch_set_sequence (batch, 42);
  cxr_batch_set_extra (batch, "loss", g_variant_new_double (0.5));

  copy = cxr_batch_copy (batch);
  g_assert_cmpuint (cxr_batch_get_sequence (copy), ==, 42);
  /* Values are shared, not copied. */
  g_assert_true (cxr_batch_get_strings (copy, CXR_FIELD_ID) == cxr_batch_get_strings (batch, CXR_FIELD_ID));
  g_assert_cmpfloat (g_variant_get_double (cxr_batch_get_extra (copy, "loss")), ==, 0.5);

  /* Replacing a field of the copy leaves the original alone. */
  cxr_batch_set_strings (copy, CXR_FIELD_ID, other);
  cxr_batch_set_strings (copy, "extra", other);
  g_assert_cmpstr (cxr_batch_get_string (batch, CXR_FIELD_ID, 0), ==, "x");
  g_assert_cmpstr (cxr_batch_get_string (copy, CXR_FIELD_ID, 0), ==, "p");
  g_assert_false (cxr_batch_has_field (batch, "extra"));

  /* The original can go; the copy keeps the shared values alive. */
  g_clear_object (&batch);
  g_assert_cmpfloat (cxr_batch_get_floats (copy, "v", NULL, NULL)[1], ==, 8);
  cxr_batch_set_extra (copy, "loss", NULL);
  g_assert_null (cxr_batch_get_extra (copy, "loss"));
}

static void
test_wrong_length_is_refused (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr (CxrBatch) batch = cxr_batch_new (3);
      const gchar *ids[] = { "only", "two", NULL };
      cxr_batch_set_strings (batch, CXR_FIELD_ID, ids);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*field id has 2 values for a batch of 3*");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/batch/fields", test_fields);
  g_test_add_func ("/batch/copy-is-independent", test_copy_is_independent);
  g_test_add_func ("/batch/wrong-length-is-refused", test_wrong_length_is_refused);
  return g_test_run ();
}
