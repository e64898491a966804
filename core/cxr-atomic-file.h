/* cxr-atomic-file.h: output files that appear whole or not at all.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

typedef struct _CxrAtomicFile CxrAtomicFile;

CxrAtomicFile *cxr_atomic_file_new (const gchar *path, GError **error);
gboolean cxr_atomic_file_write (CxrAtomicFile *file, const void *data, gsize length,
                                GError **error);
gboolean cxr_atomic_file_commit (CxrAtomicFile *file, GError **error);
void cxr_atomic_file_free (CxrAtomicFile *file);
const gchar *cxr_atomic_file_get_path (CxrAtomicFile *file);
const gchar *cxr_atomic_file_get_temp_path (CxrAtomicFile *file);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CxrAtomicFile, cxr_atomic_file_free)

G_END_DECLS
