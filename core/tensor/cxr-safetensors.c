/* cxr-safetensors.c: reading and writing safetensors files.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "cxr.h"
#include "cxr-private.h"

/* safetensors is little-endian; so are the machines cxrgen runs on. */
G_STATIC_ASSERT (G_BYTE_ORDER == G_LITTLE_ENDIAN);

/**
 * CxrSafetensors:
 *
 * A safetensors file: an 8-byte little-endian header length N, N bytes of
 * JSON naming each tensor's dtype, shape and data offsets (plus an optional
 * `__metadata__` object of strings), then the data.
 *
 * The file is mapped, not read, and checked whole before any tensor is
 * used: the header length fits the file and the 100 MB limit, the header is
 * a JSON object, every dtype is a safetensors dtype, every shape holds
 * non-negative integers, every tensor's byte length is its element count
 * times its dtype size, its offsets lie inside the data area, and no two
 * tensors overlap. Each failure is an error that names the file and the
 * tensor. Tensors are looked up by name (files list them in any order) and
 * come out as views of the mapping, without a copy, unless their data is
 * not aligned for its dtype.
 */

#define MAX_FILE_DIMS 8

typedef struct {
  gchar *name;
  CxrDType dtype;
  guint ndim;
  gint64 shape[MAX_FILE_DIMS];
  guint64 begin, end; /* in the data area */
} Entry;

struct _CxrSafetensors {
  GObject parent_instance;
  gchar *origin;
  GBytes *bytes;        /* the whole file */
  const guint8 *data;   /* the data area */
  gsize data_size;
  GPtrArray *entries;   /* Entry, sorted by name */
  GHashTable *by_name;  /* name -> Entry */
  GHashTable *metadata; /* key -> value */
};

G_DEFINE_FINAL_TYPE (CxrSafetensors, cxr_safetensors, G_TYPE_OBJECT)

static void
entry_free (gpointer data)
{
  Entry *entry = data;
  g_free (entry->name);
  g_free (entry);
}

static void
cxr_safetensors_finalize (GObject *object)
{
  CxrSafetensors *self = CXR_SAFETENSORS (object);

  g_free (self->origin);
  g_clear_pointer (&self->bytes, g_bytes_unref);
  g_clear_pointer (&self->by_name, g_hash_table_unref);
  g_clear_pointer (&self->entries, g_ptr_array_unref);
  g_clear_pointer (&self->metadata, g_hash_table_unref);
  G_OBJECT_CLASS (cxr_safetensors_parent_class)->finalize (object);
}

static void
cxr_safetensors_class_init (CxrSafetensorsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cxr_safetensors_finalize;
}

static void
cxr_safetensors_init (CxrSafetensors *self)
{
  self->entries = g_ptr_array_new_with_free_func (entry_free);
  self->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  self->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static gboolean
bad (GError **error, const gchar *origin, const gchar *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
bad (GError **error, const gchar *origin, const gchar *format, ...)
{
  g_autofree gchar *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_FORMAT, "%s: %s", origin, what);
  return FALSE;
}

/* A JSON integer that is >= 0, as guint64. */
static gboolean
get_count (GVariant *v, guint64 *out)
{
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT64))
    {
      gint64 x = g_variant_get_int64 (v);
      if (x < 0)
        return FALSE;
      *out = (guint64) x;
      return TRUE;
    }
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT64))
    {
      *out = g_variant_get_uint64 (v);
      return TRUE;
    }
  return FALSE;
}

static gboolean
parse_entry (CxrSafetensors *self, const gchar *name, GVariant *info, GError **error)
{
  g_autoptr (GVariant) dtype = NULL;
  g_autoptr (GVariant) shape = NULL;
  g_autoptr (GVariant) offsets = NULL;
  Entry *entry;
  guint64 numel = 1, n_bytes, size;

  if (!g_variant_is_of_type (info, G_VARIANT_TYPE ("a{sv}")))
    return bad (error, self->origin, "tensor %s: its header entry is not an object", name);
  dtype = g_variant_lookup_value (info, "dtype", G_VARIANT_TYPE_STRING);
  shape = g_variant_lookup_value (info, "shape", G_VARIANT_TYPE ("av"));
  offsets = g_variant_lookup_value (info, "data_offsets", G_VARIANT_TYPE ("av"));
  if (dtype == NULL || shape == NULL || offsets == NULL)
    return bad (error, self->origin,
                "tensor %s: its header entry needs \"dtype\" (a string), \"shape\" and "
                "\"data_offsets\" (arrays)", name);

  entry = g_new0 (Entry, 1);
  entry->name = g_strdup (name);
  g_ptr_array_add (self->entries, entry);
  if (!cxr_dtype_from_name (g_variant_get_string (dtype, NULL), &entry->dtype))
    return bad (error, self->origin, "tensor %s: unknown dtype \"%s\"", name,
                g_variant_get_string (dtype, NULL));
  size = cxr_dtype_get_size (entry->dtype);

  if (g_variant_n_children (shape) > MAX_FILE_DIMS)
    return bad (error, self->origin, "tensor %s: %" G_GSIZE_FORMAT " dimensions (at most %d)", name,
                g_variant_n_children (shape), MAX_FILE_DIMS);
  entry->ndim = (guint) g_variant_n_children (shape);
  for (guint i = 0; i < entry->ndim; i++)
    {
      g_autoptr (GVariant) boxed = g_variant_get_child_value (shape, i);
      g_autoptr (GVariant) dim = g_variant_get_variant (boxed);
      guint64 d;
      if (!get_count (dim, &d) || d > (guint64) G_MAXINT64)
        return bad (error, self->origin, "tensor %s: shape entry %u is not a non-negative integer",
                    name, i);
      if (d > 0 && numel > (G_MAXUINT64 / size) / d)
        return bad (error, self->origin, "tensor %s: the shape has too many elements", name);
      entry->shape[i] = (gint64) d;
      numel *= d;
    }
  n_bytes = numel * size;

  if (g_variant_n_children (offsets) != 2)
    return bad (error, self->origin, "tensor %s: data_offsets must be [BEGIN, END]", name);
  {
    g_autoptr (GVariant) b0 = g_variant_get_child_value (offsets, 0);
    g_autoptr (GVariant) b1 = g_variant_get_child_value (offsets, 1);
    g_autoptr (GVariant) v0 = g_variant_get_variant (b0);
    g_autoptr (GVariant) v1 = g_variant_get_variant (b1);
    if (!get_count (v0, &entry->begin) || !get_count (v1, &entry->end))
      return bad (error, self->origin, "tensor %s: data_offsets must be non-negative integers", name);
  }
  if (entry->begin > entry->end)
    return bad (error, self->origin,
                "tensor %s: data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "] end before they begin",
                name, entry->begin, entry->end);
  if (entry->end > self->data_size)
    return bad (error, self->origin,
                "tensor %s: data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "] run past the end of "
                "the data (%" G_GSIZE_FORMAT " bytes)",
                name, entry->begin, entry->end, self->data_size);
  if (entry->end - entry->begin != n_bytes)
    return bad (error, self->origin,
                "tensor %s: %s with %" G_GUINT64_FORMAT " elements needs %" G_GUINT64_FORMAT
                " bytes, but data_offsets give %" G_GUINT64_FORMAT,
                name, cxr_dtype_get_name (entry->dtype), numel, n_bytes, entry->end - entry->begin);
  g_hash_table_insert (self->by_name, entry->name, entry);
  return TRUE;
}

static gint
compare_begin (gconstpointer a, gconstpointer b)
{
  const Entry *x = *(Entry *const *) a, *y = *(Entry *const *) b;
  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

static gint
compare_name (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(Entry *const *) a)->name, (*(Entry *const *) b)->name);
}

static gboolean
parse_file (CxrSafetensors *self, GError **error)
{
  gsize size = 0;
  const guint8 *file = g_bytes_get_data (self->bytes, &size);
  guint64 header_size;
  g_autoptr (GVariant) header = NULL;
  g_autoptr (GError) json_error = NULL;
  g_autofree gchar *json_origin = NULL;
  GVariantIter iter;
  const gchar *key;
  GVariant *value;

  if (size < 8)
    return bad (error, self->origin, "%" G_GSIZE_FORMAT " bytes: too short for the 8-byte header length",
                size);
  memcpy (&header_size, file, 8);
  header_size = GUINT64_FROM_LE (header_size);
  if (header_size > CXR_SAFETENSORS_MAX_HEADER)
    return bad (error, self->origin, "header length %" G_GUINT64_FORMAT " is over the %d-byte limit",
                header_size, CXR_SAFETENSORS_MAX_HEADER);
  if (header_size > size - 8)
    return bad (error, self->origin,
                "header length %" G_GUINT64_FORMAT " runs past the end of the file (%" G_GSIZE_FORMAT " bytes)",
                header_size, size);
  if (header_size < 2 || file[8] != '{')
    return bad (error, self->origin, "the header is not a JSON object");
  self->data = file + 8 + header_size;
  self->data_size = size - 8 - header_size;

  json_origin = g_strdup_printf ("%s: header", self->origin);
  header = cxr_json_parse ((const gchar *) file + 8, header_size, json_origin, &json_error);
  if (header == NULL)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_FORMAT, "%s", json_error->message);
      return FALSE;
    }
  if (!g_variant_is_of_type (header, G_VARIANT_TYPE ("a{sv}")))
    return bad (error, self->origin, "the header is not a JSON object");

  g_variant_iter_init (&iter, header);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    {
      if (g_str_equal (key, "__metadata__"))
        {
          GVariantIter meta;
          const gchar *mkey;
          GVariant *mvalue;
          if (!g_variant_is_of_type (value, G_VARIANT_TYPE ("a{sv}")))
            return bad (error, self->origin, "__metadata__ is not an object");
          g_variant_iter_init (&meta, value);
          while (g_variant_iter_loop (&meta, "{&sv}", &mkey, &mvalue))
            {
              if (!g_variant_is_of_type (mvalue, G_VARIANT_TYPE_STRING))
                {
                  /* g_variant_iter_loop owns mvalue until the next round. */
                  gboolean r = bad (error, self->origin, "__metadata__: the value of %s is not a string", mkey);
                  g_variant_unref (mvalue);
                  g_variant_unref (value);
                  return r;
                }
              g_hash_table_insert (self->metadata, g_strdup (mkey),
                                   g_variant_dup_string (mvalue, NULL));
            }
          continue;
        }
      if (!parse_entry (self, key, value, error))
        {
          g_variant_unref (value);
          return FALSE;
        }
    }

  /* No two tensors share a byte. */
  {
    /* A plain copy: g_ptr_array_copy() would take the free function too. */
    g_autoptr (GPtrArray) order = g_ptr_array_sized_new (self->entries->len);
    for (guint i = 0; i < self->entries->len; i++)
      g_ptr_array_add (order, g_ptr_array_index (self->entries, i));
    g_ptr_array_sort (order, compare_begin);
    for (guint i = 1; i < order->len; i++)
      {
        Entry *prev = g_ptr_array_index (order, i - 1), *cur = g_ptr_array_index (order, i);
        if (cur->begin < prev->end && cur->end > cur->begin)
          return bad (error, self->origin,
                      "tensors %s [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT ") and %s [%" G_GUINT64_FORMAT
                      ", %" G_GUINT64_FORMAT ") overlap",
                      prev->name, prev->begin, prev->end, cur->name, cur->begin, cur->end);
      }
  }
  g_ptr_array_sort (self->entries, compare_name);
  return TRUE;
}

/**
 * cxr_safetensors_new_from_bytes:
 * @bytes: the whole file
 * @origin: (nullable): a name for messages
 * @error: return location for a #GError
 *
 * Reads a safetensors file held in memory; see #CxrSafetensors for what is
 * checked. Tensors taken from it keep @bytes alive.
 *
 * Returns: (transfer full): the file, or %NULL with @error set
 */
CxrSafetensors *
cxr_safetensors_new_from_bytes (GBytes *bytes, const gchar *origin, GError **error)
{
  g_autoptr (CxrSafetensors) self = NULL;

  g_return_val_if_fail (bytes != NULL, NULL);
  self = g_object_new (CXR_TYPE_SAFETENSORS, NULL);
  self->origin = g_strdup (origin ? origin : "<safetensors>");
  self->bytes = g_bytes_ref (bytes);
  if (!parse_file (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * cxr_safetensors_open:
 * @path: a .safetensors file
 * @error: return location for a #GError
 *
 * Maps and checks a safetensors file.
 *
 * Returns: (transfer full): the file, or %NULL with @error set
 */
CxrSafetensors *
cxr_safetensors_open (const gchar *path, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GMappedFile) mapped = NULL;
  g_autoptr (GBytes) bytes = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  mapped = g_mapped_file_new (path, FALSE, &local);
  if (mapped == NULL)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "%s", local->message);
      return NULL;
    }
  bytes = g_mapped_file_get_bytes (mapped);
  return cxr_safetensors_new_from_bytes (bytes, path, error);
}

/**
 * cxr_safetensors_get_origin:
 * @self: a file
 *
 * Returns: (transfer none): the file's name in messages
 */
const gchar *
cxr_safetensors_get_origin (CxrSafetensors *self)
{
  g_return_val_if_fail (CXR_IS_SAFETENSORS (self), NULL);
  return self->origin;
}

/**
 * cxr_safetensors_get_n_tensors:
 * @self: a file
 *
 * Returns: the number of tensors
 */
guint
cxr_safetensors_get_n_tensors (CxrSafetensors *self)
{
  g_return_val_if_fail (CXR_IS_SAFETENSORS (self), 0);
  return self->entries->len;
}

/**
 * cxr_safetensors_list_names:
 * @self: a file
 *
 * Returns: (transfer full) (array zero-terminated=1): the tensor names,
 *   sorted
 */
gchar **
cxr_safetensors_list_names (CxrSafetensors *self)
{
  gchar **names;

  g_return_val_if_fail (CXR_IS_SAFETENSORS (self), NULL);
  names = g_new0 (gchar *, self->entries->len + 1);
  for (guint i = 0; i < self->entries->len; i++)
    names[i] = g_strdup (((Entry *) g_ptr_array_index (self->entries, i))->name);
  return names;
}

/**
 * cxr_safetensors_has_tensor:
 * @self: a file
 * @name: a tensor name
 *
 * Returns: whether the file holds a tensor called @name
 */
gboolean
cxr_safetensors_has_tensor (CxrSafetensors *self, const gchar *name)
{
  g_return_val_if_fail (CXR_IS_SAFETENSORS (self), FALSE);
  return g_hash_table_contains (self->by_name, name);
}

/**
 * cxr_safetensors_get_info:
 * @self: a file
 * @name: a tensor name
 * @dtype: (out) (optional): its dtype
 * @shape: (out) (optional) (transfer full) (array length=ndim): its shape
 * @ndim: (out) (optional): its number of dimensions
 *
 * Describes a tensor without reading it.
 *
 * Returns: %TRUE if the file holds a tensor called @name
 */
gboolean
cxr_safetensors_get_info (CxrSafetensors *self, const gchar *name, CxrDType *dtype,
                          gint64 **shape, guint *ndim)
{
  Entry *entry;

  g_return_val_if_fail (CXR_IS_SAFETENSORS (self), FALSE);
  entry = g_hash_table_lookup (self->by_name, name);
  if (entry == NULL)
    return FALSE;
  if (dtype)
    *dtype = entry->dtype;
  if (shape)
    *shape = g_memdup2 (entry->shape, sizeof (gint64) * MAX (entry->ndim, 1));
  if (ndim)
    *ndim = entry->ndim;
  return TRUE;
}

/**
 * cxr_safetensors_get_n_elements:
 * @self: a file
 *
 * Returns: the number of elements of all tensors: the parameter count of a
 *   weights file
 */
guint64
cxr_safetensors_get_n_elements (CxrSafetensors *self)
{
  guint64 n = 0;

  g_return_val_if_fail (CXR_IS_SAFETENSORS (self), 0);
  for (guint i = 0; i < self->entries->len; i++)
    {
      Entry *entry = g_ptr_array_index (self->entries, i);
      n += (entry->end - entry->begin) / cxr_dtype_get_size (entry->dtype);
    }
  return n;
}

/**
 * cxr_safetensors_get_tensor:
 * @self: a file
 * @name: a tensor name
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the tensor, a read-only view of the file when
 *   its data is aligned, or %NULL with @error set when there is no such
 *   tensor or it has more than %CXR_TENSOR_MAX_DIMS dimensions
 */
CxrTensor *
cxr_safetensors_get_tensor (CxrSafetensors *self, const gchar *name, GError **error)
{
  Entry *entry;
  const guint8 *data;
  gsize n_bytes;

  g_return_val_if_fail (CXR_IS_SAFETENSORS (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  entry = g_hash_table_lookup (self->by_name, name);
  if (entry == NULL)
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_MISSING_TENSOR, "%s: no tensor %s",
                   self->origin, name);
      return NULL;
    }
  if (entry->ndim > CXR_TENSOR_MAX_DIMS)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "%s: tensor %s has %u dimensions; cxrgen handles at most %d", self->origin,
                   name, entry->ndim, CXR_TENSOR_MAX_DIMS);
      return NULL;
    }
  data = self->data + entry->begin;
  n_bytes = entry->end - entry->begin;
  if ((guintptr) data % cxr_dtype_get_size (entry->dtype) != 0)
    return cxr_tensor_new_from_data (entry->dtype, entry->shape, entry->ndim, data, n_bytes, error);
  return cxr_tensor_new_wrapped (entry->dtype, entry->shape, entry->ndim, (gpointer) data, n_bytes,
                                 g_bytes_ref (self->bytes), (GDestroyNotify) g_bytes_unref);
}

static gint
compare_string_data (gconstpointer a, gconstpointer b, gpointer user_data)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

/**
 * cxr_safetensors_list_metadata_keys:
 * @self: a file
 *
 * Returns: (transfer full) (array zero-terminated=1): the keys of
 *   `__metadata__`, sorted
 */
gchar **
cxr_safetensors_list_metadata_keys (CxrSafetensors *self)
{
  g_autofree const gchar **keys = NULL;
  guint n = 0;
  gchar **out;

  g_return_val_if_fail (CXR_IS_SAFETENSORS (self), NULL);
  keys = (const gchar **) g_hash_table_get_keys_as_array (self->metadata, &n);
  out = g_new0 (gchar *, n + 1);
  for (guint i = 0; i < n; i++)
    out[i] = g_strdup (keys[i]);
  g_qsort_with_data (out, n, sizeof (gchar *), compare_string_data, NULL);
  return out;
}

/**
 * cxr_safetensors_get_metadata:
 * @self: a file
 * @key: a key of `__metadata__`
 *
 * Returns: (transfer none) (nullable): its value, or %NULL
 */
const gchar *
cxr_safetensors_get_metadata (CxrSafetensors *self, const gchar *key)
{
  g_return_val_if_fail (CXR_IS_SAFETENSORS (self), NULL);
  return g_hash_table_lookup (self->metadata, key);
}

/* ------------------------------------------------------------- writing */

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

/**
 * cxr_safetensors_serialize:
 * @tensors: (element-type utf8 CxrTensor): the tensors by name
 * @metadata: (element-type utf8 utf8) (nullable): `__metadata__` strings
 * @error: return location for a #GError
 *
 * Writes a safetensors file in memory: tensors sorted by name, stored one
 * after the other, the header padded with spaces so the data starts on an
 * 8-byte boundary.
 *
 * Returns: (transfer full): the file's bytes, or %NULL with @error set
 */
GBytes *
cxr_safetensors_serialize (GHashTable *tensors, GHashTable *metadata, GError **error)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  g_autoptr (GPtrArray) contiguous = g_ptr_array_new_with_free_func ((GDestroyNotify) cxr_tensor_unref);
  g_autoptr (GString) header = g_string_new ("{");
  GHashTableIter iter;
  gpointer key;
  guint64 offset = 0, header_size;
  GByteArray *out;
  gboolean first = TRUE;

  g_return_val_if_fail (tensors != NULL, NULL);
  if (metadata != NULL && g_hash_table_size (metadata) > 0)
    {
      g_autoptr (GPtrArray) keys = g_ptr_array_new ();
      g_hash_table_iter_init (&iter, metadata);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        g_ptr_array_add (keys, key);
      g_ptr_array_sort (keys, compare_strings);
      g_string_append (header, "\"__metadata__\":{");
      for (guint i = 0; i < keys->len; i++)
        {
          const gchar *k = g_ptr_array_index (keys, i);
          if (i)
            g_string_append_c (header, ',');
          _cxr_json_append_string (header, k);
          g_string_append_c (header, ':');
          _cxr_json_append_string (header, g_hash_table_lookup (metadata, k));
        }
      g_string_append_c (header, '}');
      first = FALSE;
    }
  g_hash_table_iter_init (&iter, tensors);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      if (g_str_equal (key, "__metadata__"))
        {
          g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_FORMAT,
                       "a tensor cannot be called __metadata__");
          return NULL;
        }
      g_ptr_array_add (names, key);
    }
  g_ptr_array_sort (names, compare_strings);
  for (guint i = 0; i < names->len; i++)
    {
      const gchar *name = g_ptr_array_index (names, i);
      CxrTensor *t = cxr_tensor_contiguous (g_hash_table_lookup (tensors, name));
      guint ndim = 0;
      const gint64 *shape = cxr_tensor_get_shape (t, &ndim);
      gsize n = cxr_tensor_get_nbytes (t);

      g_ptr_array_add (contiguous, t);
      if (!first)
        g_string_append_c (header, ',');
      first = FALSE;
      _cxr_json_append_string (header, name);
      g_string_append_printf (header, ":{\"dtype\":\"%s\",\"shape\":[", cxr_dtype_get_name (cxr_tensor_get_dtype (t)));
      for (guint d = 0; d < ndim; d++)
        g_string_append_printf (header, "%s%" G_GINT64_FORMAT, d ? "," : "", shape[d]);
      g_string_append_printf (header, "],\"data_offsets\":[%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT "]}",
                              offset, offset + n);
      offset += n;
    }
  g_string_append_c (header, '}');
  while ((8 + header->len) % 8 != 0)
    g_string_append_c (header, ' ');

  header_size = GUINT64_TO_LE ((guint64) header->len);
  out = g_byte_array_sized_new (8 + header->len + offset);
  g_byte_array_append (out, (const guint8 *) &header_size, 8);
  g_byte_array_append (out, (const guint8 *) header->str, header->len);
  for (guint i = 0; i < contiguous->len; i++)
    {
      CxrTensor *t = g_ptr_array_index (contiguous, i);
      g_byte_array_append (out, cxr_tensor_get_data (t), cxr_tensor_get_nbytes (t));
    }
  return g_byte_array_free_to_bytes (out);
}

/**
 * cxr_safetensors_save:
 * @path: the file to write
 * @tensors: (element-type utf8 CxrTensor): the tensors by name
 * @metadata: (element-type utf8 utf8) (nullable): `__metadata__` strings
 * @error: return location for a #GError
 *
 * Writes a safetensors file atomically: to a temporary file beside @path,
 * flushed to disk, then renamed; a failure leaves no file behind.
 *
 * Returns: %TRUE on success
 */
gboolean
cxr_safetensors_save (const gchar *path, GHashTable *tensors, GHashTable *metadata, GError **error)
{
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (CxrAtomicFile) file = NULL;
  gsize size = 0;
  gconstpointer data;

  g_return_val_if_fail (path != NULL, FALSE);
  bytes = cxr_safetensors_serialize (tensors, metadata, error);
  if (bytes == NULL)
    return FALSE;
  file = cxr_atomic_file_new (path, error);
  if (file == NULL)
    return FALSE;
  data = g_bytes_get_data (bytes, &size);
  return cxr_atomic_file_write (file, data, size, error) && cxr_atomic_file_commit (file, error);
}
