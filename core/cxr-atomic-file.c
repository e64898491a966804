/* cxr-atomic-file.c: output files that appear whole or not at all.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "cxr.h"

/**
 * CxrAtomicFile: (skip)
 *
 * An output file written to a temporary name beside its destination
 * (`.NAME.XXXXXX`) and renamed into place by cxr_atomic_file_commit(),
 * after an fsync, so readers never see half a file. Freeing an
 * uncommitted file deletes the temporary: a failed or cancelled run
 * leaves nothing behind.
 */
struct _CxrAtomicFile {
  gchar *path;
  gchar *temp_path;
  gint fd;
};

/**
 * cxr_atomic_file_new: (skip)
 * @path: the destination
 * @error: return location for a #GError
 *
 * Creates the temporary file beside @path; the folder must exist.
 *
 * Returns: (transfer full): the file, or %NULL with @error set
 */
CxrAtomicFile *
cxr_atomic_file_new (const gchar *path, GError **error)
{
  g_autofree gchar *dir = NULL;
  g_autofree gchar *base = NULL;
  CxrAtomicFile *file;

  g_return_val_if_fail (path != NULL, NULL);
  dir = g_path_get_dirname (path);
  base = g_path_get_basename (path);
  file = g_new0 (CxrAtomicFile, 1);
  file->path = g_strdup (path);
  file->temp_path = g_strdup_printf ("%s/.%s.XXXXXX", dir, base);
  file->fd = g_mkstemp_full (file->temp_path, O_WRONLY | O_CLOEXEC, 0644);
  if (file->fd < 0)
    {
      int saved = errno;
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "%s: cannot create a file in %s: %s",
                   path, dir, g_strerror (saved));
      g_free (file->temp_path);
      file->temp_path = NULL;
      cxr_atomic_file_free (file);
      return NULL;
    }
  return file;
}

/**
 * cxr_atomic_file_write: (skip)
 * @file: a file
 * @data: (array length=length): bytes to append
 * @length: their number
 * @error: return location for a #GError
 *
 * Returns: %TRUE if all bytes were written
 */
gboolean
cxr_atomic_file_write (CxrAtomicFile *file, const void *data, gsize length, GError **error)
{
  const guint8 *p = data;

  g_return_val_if_fail (file != NULL && file->fd >= 0, FALSE);
  while (length > 0)
    {
      gssize n = write (file->fd, p, length);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;
          g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "%s: cannot write: %s",
                       file->path, g_strerror (saved));
          return FALSE;
        }
      p += n;
      length -= (gsize) n;
    }
  return TRUE;
}

/**
 * cxr_atomic_file_commit: (skip)
 * @file: a file
 * @error: return location for a #GError
 *
 * Flushes the file to disk and renames it to its destination.
 *
 * Returns: %TRUE on success; on failure the temporary file is removed
 */
gboolean
cxr_atomic_file_commit (CxrAtomicFile *file, GError **error)
{
  int saved;

  g_return_val_if_fail (file != NULL && file->fd >= 0, FALSE);
  if (fsync (file->fd) != 0 || close (file->fd) != 0)
    {
      saved = errno;
      file->fd = -1;
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "%s: cannot write: %s", file->path,
                   g_strerror (saved));
      return FALSE;
    }
  file->fd = -1;
  if (g_rename (file->temp_path, file->path) != 0)
    {
      saved = errno;
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "%s: cannot rename %s into place: %s",
                   file->path, file->temp_path, g_strerror (saved));
      return FALSE;
    }
  g_clear_pointer (&file->temp_path, g_free);
  return TRUE;
}

/**
 * cxr_atomic_file_free: (skip)
 * @file: (nullable): a file
 *
 * Closes the file; an uncommitted temporary file is deleted.
 */
void
cxr_atomic_file_free (CxrAtomicFile *file)
{
  if (file == NULL)
    return;
  if (file->fd >= 0)
    close (file->fd);
  if (file->temp_path != NULL)
    g_unlink (file->temp_path);
  g_free (file->temp_path);
  g_free (file->path);
  g_free (file);
}

/**
 * cxr_atomic_file_get_path: (skip)
 * @file: a file
 *
 * Returns: the destination
 */
const gchar *
cxr_atomic_file_get_path (CxrAtomicFile *file)
{
  return file->path;
}

/**
 * cxr_atomic_file_get_temp_path: (skip)
 * @file: a file
 *
 * Returns: (nullable): the temporary file, or %NULL once committed
 */
const gchar *
cxr_atomic_file_get_temp_path (CxrAtomicFile *file)
{
  return file->temp_path;
}
