/* cxr-csv.h: reading and writing CSV (RFC 4180) files.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

typedef struct _CxrCsvReader CxrCsvReader;

CxrCsvReader *cxr_csv_reader_open (const gchar *path, GError **error);
CxrCsvReader *cxr_csv_reader_new_from_data (const gchar *data, gsize length,
                                            const gchar *origin, GError **error);
void cxr_csv_reader_free (CxrCsvReader *reader);
const gchar *cxr_csv_reader_get_origin (CxrCsvReader *reader);
guint cxr_csv_reader_get_n_columns (CxrCsvReader *reader);
const gchar *cxr_csv_reader_get_column_name (CxrCsvReader *reader, guint column);
gint cxr_csv_reader_find_column (CxrCsvReader *reader, const gchar *name);
gboolean cxr_csv_reader_find_columns (CxrCsvReader *reader, const gchar *const *names, gint *index,
                                      GError **error);
gboolean cxr_csv_reader_next (CxrCsvReader *reader, GError **error);
const gchar *cxr_csv_reader_get (CxrCsvReader *reader, guint column);
guint cxr_csv_reader_get_line (CxrCsvReader *reader);
guint64 cxr_csv_reader_count_rows (CxrCsvReader *reader, GError **error);

void cxr_csv_append_field (GString *line, const gchar *text);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CxrCsvReader, cxr_csv_reader_free)

G_END_DECLS
