/* tests/test-common.h: what the C tests share.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cxr.h>
#include <glib/gstdio.h>

/* A file of the source tree, from CXRGEN_TEST_SRCDIR (set by make check). */
static inline gchar *
test_src_path (const gchar *relative)
{
  const gchar *top = g_getenv ("CXRGEN_TEST_SRCDIR");
  return g_build_filename (top ? top : ".", relative, NULL);
}

/* A folder of the build tree, from CXRGEN_TEST_BUILDDIR. */
static inline gchar *
test_build_path (const gchar *relative)
{
  const gchar *top = g_getenv ("CXRGEN_TEST_BUILDDIR");
  return g_build_filename (top ? top : ".", relative, NULL);
}

/* A fresh temporary folder, removed by test_rmdir(). */
static inline gchar *
test_mkdtemp (void)
{
  g_autoptr (GError) error = NULL;
  gchar *dir = g_dir_make_tmp ("cxrgen-test-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

static inline guint
test_count_files (const gchar *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;
  while (d && g_dir_read_name (d))
    n++;
  return n;
}

static inline void
test_rmdir (const gchar *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  while (d && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree gchar *path = g_build_filename (dir, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        test_rmdir (path);
      else
        g_unlink (path);
    }
  g_rmdir (dir);
}
