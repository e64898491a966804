/* tests/test-csv.c: the CSV reader and writer, and atomic output files.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "test-common.h"

static CxrCsvReader *
open_text (const gchar *text, GError **error)
{
  return cxr_csv_reader_new_from_data (text, strlen (text), "t.csv", error);
}

static void
test_quoting (void)
{
  const gchar *text = "\xef\xbb\xbf" "id, Reports ,n\r\n"
                      "1,\"FINDINGS: heart, normal.\nIMPRESSION: \"\"none\"\".\",3\r\n"
                      "\n"
                      "2,,\n"
                      "3,plain,\"\"\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrCsvReader) r = open_text (text, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (cxr_csv_reader_get_n_columns (r), ==, 3);
  g_assert_cmpstr (cxr_csv_reader_get_column_name (r, 1), ==, "Reports");
  g_assert_cmpint (cxr_csv_reader_find_column (r, "n"), ==, 2);
  g_assert_cmpint (cxr_csv_reader_find_column (r, "nope"), ==, -1);
  g_assert_cmpuint (cxr_csv_reader_count_rows (r, &error), ==, 3);
  g_assert_no_error (error);

  g_assert_true (cxr_csv_reader_next (r, &error));
  g_assert_cmpuint (cxr_csv_reader_get_line (r), ==, 2);
  g_assert_cmpstr (cxr_csv_reader_get (r, 1), ==, "FINDINGS: heart, normal.\nIMPRESSION: \"none\".");
  g_assert_cmpstr (cxr_csv_reader_get (r, 2), ==, "3");
  g_assert_true (cxr_csv_reader_next (r, &error));
  g_assert_cmpuint (cxr_csv_reader_get_line (r), ==, 5);
  g_assert_cmpstr (cxr_csv_reader_get (r, 1), ==, "");
  g_assert_true (cxr_csv_reader_next (r, &error));
  g_assert_cmpstr (cxr_csv_reader_get (r, 2), ==, "");
  g_assert_false (cxr_csv_reader_next (r, &error));
  g_assert_no_error (error);
}

static void
test_errors (void)
{
  static const struct {
    const gchar *text;
    const gchar *message;
  } cases[] = {
    { "", "t.csv: the file is empty (no header)" },
    { "a,b\n1,2\n3\n", "t.csv:3: the row has 1 fields but the header has 2 columns" },
    { "a,b\n1,2,3\n", "t.csv:2: the row has 3 fields but the header has 2 columns" },
    { "a,b\n1,\"open\n2,3\n", "t.csv:2: a quoted field is never closed" },
    { "a,b\n1,\"x\"y\n", "t.csv:2: text after the closing quote of a field" },
    { "a,b\n1,2\n\xff,3\n", "t.csv:3: the text is not UTF-8" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (CxrCsvReader) r = open_text (cases[i].text, &error);

      while (r != NULL && cxr_csv_reader_next (r, &error))
        ;
      g_assert_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE);
      g_assert_cmpstr (error->message, ==, cases[i].message);
    }
}

static void
test_missing_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrCsvReader) r = cxr_csv_reader_open ("/nonexistent/labels.csv", &error);

  g_assert_null (r);
  g_assert_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "/nonexistent/labels.csv"));
}

static void
test_write_round_trip (void)
{
  const gchar *fields[] = { "plain", "a,b", "say \"hi\"", "two\nlines", "", NULL };
  g_autoptr (GString) line = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrCsvReader) r = NULL;

  for (guint i = 0; fields[i]; i++)
    g_string_append_printf (line, "c%u%s", i, fields[i + 1] ? "," : "\n");
  for (guint i = 0; fields[i]; i++)
    {
      if (i)
        g_string_append_c (line, ',');
      cxr_csv_append_field (line, fields[i]);
    }
  g_string_append_c (line, '\n');
  r = open_text (line->str, &error);
  g_assert_no_error (error);
  g_assert_true (cxr_csv_reader_next (r, &error));
  for (guint i = 0; fields[i]; i++)
    g_assert_cmpstr (cxr_csv_reader_get (r, i), ==, fields[i]);
}

static void
test_atomic_file (void)
{
  g_autofree gchar *dir = test_mkdtemp ();
  g_autofree gchar *path = g_build_filename (dir, "out.csv", NULL);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *contents = NULL;
  CxrAtomicFile *file;

  /* Abandoned: nothing is left behind. */
  file = cxr_atomic_file_new (path, &error);
  g_assert_no_error (error);
  g_assert_true (cxr_atomic_file_write (file, "half", 4, &error));
  g_assert_true (g_file_test (cxr_atomic_file_get_temp_path (file), G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  cxr_atomic_file_free (file);
  g_assert_cmpuint (test_count_files (dir), ==, 0);

  /* Committed: the whole file, under its name, and nothing else. */
  file = cxr_atomic_file_new (path, &error);
  g_assert_true (cxr_atomic_file_write (file, "whole\n", 6, &error));
  g_assert_true (cxr_atomic_file_commit (file, &error));
  g_assert_no_error (error);
  g_assert_null (cxr_atomic_file_get_temp_path (file));
  cxr_atomic_file_free (file);
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "whole\n");
  g_assert_cmpuint (test_count_files (dir), ==, 1);

  /* A folder that does not exist: an error naming the file. */
  g_assert_null (cxr_atomic_file_new ("/nonexistent/dir/x.csv", &error));
  g_assert_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "/nonexistent/dir/x.csv"));
  test_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/csv/quoting", test_quoting);
  g_test_add_func ("/csv/errors", test_errors);
  g_test_add_func ("/csv/missing-file", test_missing_file);
  g_test_add_func ("/csv/write-round-trip", test_write_round_trip);
  g_test_add_func ("/csv/atomic-file", test_atomic_file);
  return g_test_run ();
}
