/* cxr-csv.c: reading and writing CSV (RFC 4180) files.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "cxr.h"

/**
 * CxrCsvReader: (skip)
 *
 * Reads a CSV file record by record: a header line of column names, then
 * records of as many fields. Fields may be quoted with `"` (a `""` inside
 * is one `"`) and then hold commas and line breaks; lines end in LF or
 * CRLF; a UTF-8 byte-order mark is skipped. A record with another number
 * of fields than the header, an unterminated quote or text that is not
 * UTF-8 is an error naming the file and the line.
 */
struct _CxrCsvReader {
  gchar *origin;
  GMappedFile *mapped; /* or NULL when reading from data */
  gchar *owned;        /* a copy of the data, when not mapped */
  const gchar *data;
  gsize length;
  gsize pos;
  guint line;          /* line of the next character */
  guint record_line;   /* line where the current record starts */
  GPtrArray *header;   /* gchar * */
  GPtrArray *fields;   /* gchar *: the current record */
};

/* Reads one record into @fields. Returns FALSE at end of data (error
 * unset) or on error. */
static gboolean
read_record (CxrCsvReader *r, GPtrArray *fields, GError **error)
{
  GString *field = g_string_new (NULL);
  gboolean quoted = FALSE, was_quoted = FALSE;

  g_ptr_array_set_size (fields, 0);
  /* Skip blank lines between records. */
  while (r->pos < r->length && (r->data[r->pos] == '\n' || r->data[r->pos] == '\r'))
    {
      if (r->data[r->pos] == '\n')
        r->line++;
      r->pos++;
    }
  if (r->pos >= r->length)
    {
      g_string_free (field, TRUE);
      return FALSE;
    }
  r->record_line = r->line;
  while (r->pos < r->length)
    {
      gchar c = r->data[r->pos++];

      if (quoted)
        {
          if (c == '"')
            {
              if (r->pos < r->length && r->data[r->pos] == '"')
                {
                  g_string_append_c (field, '"');
                  r->pos++;
                }
              else
                quoted = FALSE;
            }
          else
            {
              if (c == '\n')
                r->line++;
              g_string_append_c (field, c);
            }
          continue;
        }
      if (c == '"' && field->len == 0 && !was_quoted)
        {
          quoted = was_quoted = TRUE;
          continue;
        }
      if (c == ',')
        {
          g_ptr_array_add (fields, g_string_free (field, FALSE));
          field = g_string_new (NULL);
          was_quoted = FALSE;
          continue;
        }
      if (c == '\r' && r->pos < r->length && r->data[r->pos] == '\n')
        continue;
      if (c == '\n')
        {
          r->line++;
          break;
        }
      if (was_quoted)
        {
          g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE,
                       "%s:%u: text after the closing quote of a field", r->origin, r->line);
          g_string_free (field, TRUE);
          return FALSE;
        }
      g_string_append_c (field, c);
    }
  if (quoted)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE,
                   "%s:%u: a quoted field is never closed", r->origin, r->record_line);
      g_string_free (field, TRUE);
      return FALSE;
    }
  g_ptr_array_add (fields, g_string_free (field, FALSE));
  return TRUE;
}

static CxrCsvReader *
reader_start (CxrCsvReader *r, GError **error)
{
  g_autoptr (GError) local = NULL;

  r->line = 1;
  r->header = g_ptr_array_new_with_free_func (g_free);
  r->fields = g_ptr_array_new_with_free_func (g_free);
  if (r->length >= 3 && memcmp (r->data, "\xef\xbb\xbf", 3) == 0)
    r->pos = 3;
  if (!g_utf8_validate_len (r->data, r->length, NULL))
    {
      const gchar *end = NULL;
      guint line = 1;
      g_utf8_validate_len (r->data, r->length, &end);
      for (const gchar *p = r->data; p < end; p++)
        line += *p == '\n';
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s:%u: the text is not UTF-8",
                   r->origin, line);
      cxr_csv_reader_free (r);
      return NULL;
    }
  if (!read_record (r, r->header, &local))
    {
      if (local)
        g_propagate_error (error, g_steal_pointer (&local));
      else
        g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: the file is empty (no header)",
                     r->origin);
      cxr_csv_reader_free (r);
      return NULL;
    }
  for (guint i = 0; i < r->header->len; i++)
    g_strstrip (g_ptr_array_index (r->header, i));
  return r;
}

/* A gzip file, read whole through GIO's zlib decompressor. */
static CxrCsvReader *
open_gzip (const gchar *path, GError **error)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GError) local = NULL;
  g_autoptr (GFileInputStream) raw = g_file_read (file, NULL, &local);
  g_autoptr (GZlibDecompressor) gunzip = NULL;
  g_autoptr (GInputStream) in = NULL;
  g_autoptr (GOutputStream) out = NULL;
  g_autoptr (GBytes) text = NULL;
  CxrCsvReader *r;

  if (raw == NULL)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "%s", local->message);
      return NULL;
    }
  gunzip = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);
  in = g_converter_input_stream_new (G_INPUT_STREAM (raw), G_CONVERTER (gunzip));
  out = g_memory_output_stream_new_resizable ();
  if (g_output_stream_splice (out, in, G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE | G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                              NULL, &local) < 0)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: not a readable gzip file: %s", path,
                   local->message);
      return NULL;
    }
  text = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
  r = g_new0 (CxrCsvReader, 1);
  r->origin = g_strdup (path);
  r->owned = g_strndup (g_bytes_get_data (text, NULL), g_bytes_get_size (text));
  r->data = r->owned;
  r->length = g_bytes_get_size (text);
  return reader_start (r, error);
}

/**
 * cxr_csv_reader_open: (skip)
 * @path: a CSV file
 * @error: return location for a #GError
 *
 * Opens a CSV file and reads its header. A file whose name ends in ".gz"
 * is gzip-compressed (as MIMIC-CXR ships its CSVs) and is decompressed
 * into memory first; when @path does not exist but @path.gz does, that is
 * read instead.
 *
 * Returns: (transfer full): a reader, or %NULL with @error set
 */
CxrCsvReader *
cxr_csv_reader_open (const gchar *path, GError **error)
{
  CxrCsvReader *r;
  g_autoptr (GError) local = NULL;
  GMappedFile *mapped;

  g_return_val_if_fail (path != NULL, NULL);
  if (g_str_has_suffix (path, ".gz"))
    return open_gzip (path, error);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_autofree gchar *gz = g_strconcat (path, ".gz", NULL);
      if (g_file_test (gz, G_FILE_TEST_EXISTS))
        return open_gzip (gz, error);
    }
  mapped = g_mapped_file_new (path, FALSE, &local);
  if (mapped == NULL)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "%s", local->message);
      return NULL;
    }
  r = g_new0 (CxrCsvReader, 1);
  r->origin = g_strdup (path);
  r->mapped = mapped;
  r->data = g_mapped_file_get_contents (mapped);
  r->length = g_mapped_file_get_length (mapped);
  if (r->data == NULL)
    r->data = "";
  return reader_start (r, error);
}

/**
 * cxr_csv_reader_new_from_data: (skip)
 * @data: CSV text
 * @length: its length in bytes
 * @origin: a name for messages
 * @error: return location for a #GError
 *
 * Reads CSV from memory; the data is copied.
 *
 * Returns: (transfer full): a reader, or %NULL with @error set
 */
CxrCsvReader *
cxr_csv_reader_new_from_data (const gchar *data, gsize length, const gchar *origin,
                              GError **error)
{
  CxrCsvReader *r = g_new0 (CxrCsvReader, 1);

  r->origin = g_strdup (origin ? origin : "<csv>");
  r->owned = g_strndup (data, length);
  r->data = r->owned;
  r->length = length;
  return reader_start (r, error);
}

/**
 * cxr_csv_reader_free: (skip)
 * @reader: a reader
 *
 * Closes the reader.
 */
void
cxr_csv_reader_free (CxrCsvReader *reader)
{
  if (reader == NULL)
    return;
  g_free (reader->origin);
  g_clear_pointer (&reader->mapped, g_mapped_file_unref);
  g_free (reader->owned);
  g_clear_pointer (&reader->header, g_ptr_array_unref);
  g_clear_pointer (&reader->fields, g_ptr_array_unref);
  g_free (reader);
}

/**
 * cxr_csv_reader_get_origin: (skip)
 * @reader: a reader
 *
 * Returns: the file name used in messages
 */
const gchar *
cxr_csv_reader_get_origin (CxrCsvReader *reader)
{
  return reader->origin;
}

/**
 * cxr_csv_reader_get_n_columns: (skip)
 * @reader: a reader
 *
 * Returns: the number of columns of the header
 */
guint
cxr_csv_reader_get_n_columns (CxrCsvReader *reader)
{
  return reader->header->len;
}

/**
 * cxr_csv_reader_get_column_name: (skip)
 * @reader: a reader
 * @column: a column index
 *
 * Returns: the column's name in the header, or %NULL
 */
const gchar *
cxr_csv_reader_get_column_name (CxrCsvReader *reader, guint column)
{
  return column < reader->header->len ? g_ptr_array_index (reader->header, column) : NULL;
}

/**
 * cxr_csv_reader_find_column: (skip)
 * @reader: a reader
 * @name: a column name
 *
 * Returns: the index of the column called @name, or -1
 */
gint
cxr_csv_reader_find_column (CxrCsvReader *reader, const gchar *name)
{
  for (guint i = 0; i < reader->header->len; i++)
    if (g_str_equal (g_ptr_array_index (reader->header, i), name))
      return (gint) i;
  return -1;
}

/**
 * cxr_csv_reader_find_columns: (skip)
 * @reader: a reader
 * @names: (array zero-terminated=1): the columns needed
 * @index: (out caller-allocates): one index per name
 * @error: return location for a #GError
 *
 * Finds several columns at once.
 *
 * Returns: %TRUE, or %FALSE with @error set (CXR_IO_ERROR_MISSING_COLUMN,
 *   "FILE: no column "NAME"") for the first one missing
 */
gboolean
cxr_csv_reader_find_columns (CxrCsvReader *reader, const gchar *const *names, gint *index, GError **error)
{
  for (guint i = 0; names[i]; i++)
    if ((index[i] = cxr_csv_reader_find_column (reader, names[i])) < 0)
      {
        g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_MISSING_COLUMN, "%s: no column \"%s\"", reader->origin,
                     names[i]);
        return FALSE;
      }
  return TRUE;
}

/**
 * cxr_csv_reader_next: (skip)
 * @reader: a reader
 * @error: return location for a #GError
 *
 * Reads the next record.
 *
 * Returns: %TRUE if there is a record; %FALSE at the end (with @error
 *   unset) or on a malformed record (with @error set)
 */
gboolean
cxr_csv_reader_next (CxrCsvReader *reader, GError **error)
{
  if (!read_record (reader, reader->fields, error))
    return FALSE;
  if (reader->fields->len != reader->header->len)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE,
                   "%s:%u: the row has %u fields but the header has %u columns", reader->origin,
                   reader->record_line, reader->fields->len, reader->header->len);
      return FALSE;
    }
  return TRUE;
}

/**
 * cxr_csv_reader_get: (skip)
 * @reader: a reader
 * @column: a column index
 *
 * Returns: the field of the current record in @column
 */
const gchar *
cxr_csv_reader_get (CxrCsvReader *reader, guint column)
{
  g_return_val_if_fail (column < reader->fields->len, NULL);
  return g_ptr_array_index (reader->fields, column);
}

/**
 * cxr_csv_reader_get_line: (skip)
 * @reader: a reader
 *
 * Returns: the line of the file where the current record starts
 */
guint
cxr_csv_reader_get_line (CxrCsvReader *reader)
{
  return reader->record_line;
}

/**
 * cxr_csv_reader_count_rows: (skip)
 * @reader: a reader, positioned right after its header
 * @error: return location for a #GError
 *
 * Counts the records after the current position without moving it (a
 * pass over the data: for progress totals).
 *
 * Returns: the number of records; on a malformed record, the number
 *   before it, with @error set
 */
guint64
cxr_csv_reader_count_rows (CxrCsvReader *reader, GError **error)
{
  gsize pos = reader->pos;
  guint line = reader->line, record_line = reader->record_line;
  g_autoptr (GPtrArray) scratch = g_ptr_array_new_with_free_func (g_free);
  guint64 n = 0;

  while (read_record (reader, scratch, error))
    n++;
  reader->pos = pos;
  reader->line = line;
  reader->record_line = record_line;
  return n;
}

/**
 * cxr_csv_append_field:
 * @line: the line being written
 * @text: (nullable): the field's text; %NULL writes an empty field
 *
 * Appends one field to a CSV line, quoted when it holds a comma, a quote
 * or a line break. The caller writes the commas between fields.
 */
void
cxr_csv_append_field (GString *line, const gchar *text)
{
  if (text == NULL)
    return;
  if (strpbrk (text, ",\"\r\n") == NULL)
    {
      g_string_append (line, text);
      return;
    }
  g_string_append_c (line, '"');
  for (const gchar *p = text; *p; p++)
    {
      if (*p == '"')
        g_string_append_c (line, '"');
      g_string_append_c (line, *p);
    }
  g_string_append_c (line, '"');
}
