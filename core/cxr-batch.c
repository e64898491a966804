/* cxr-batch.c: the record that flows between stages.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxr.h"

#include <string.h>

/**
 * CxrBatch:
 *
 * A batch of samples: the unit that flows from stage to stage.
 *
 * A batch holds named fields, each with one value per sample: strings
 * (ids, prompts, reports, paths) or fixed-width float vectors (label
 * vectors, embeddings, seeds). Well-known names are the `CXR_FIELD_*`
 * macros; stages may add fields of their own. A small dictionary of
 * #GVariant extras carries per-batch values such as metrics.
 *
 * Field values are immutable once set: setting a field replaces it.
 * cxr_batch_copy() is therefore cheap, sharing every value, and the
 * scheduler uses it to hand each downstream stage a batch of its own.
 */

typedef struct {
  gatomicrefcount ref;
  CxrFieldKind kind;
  guint width;     /* floats per sample (floats only) */
  gchar **strings; /* size entries, NULL-terminated (strings only) */
  GBytes *floats;  /* size * width floats (floats only) */
} CxrField;

static CxrField *
cxr_field_ref (CxrField *field)
{
  g_atomic_ref_count_inc (&field->ref);
  return field;
}

static void
cxr_field_unref (CxrField *field)
{
  if (!g_atomic_ref_count_dec (&field->ref))
    return;
  g_strfreev (field->strings);
  g_clear_pointer (&field->floats, g_bytes_unref);
  g_free (field);
}

static CxrField *
cxr_field_new (CxrFieldKind kind)
{
  CxrField *field = g_new0 (CxrField, 1);
  g_atomic_ref_count_init (&field->ref);
  field->kind = kind;
  return field;
}

struct _CxrBatch {
  GObject parent_instance;
  guint size;
  guint64 sequence;
  GHashTable *fields; /* name -> CxrField */
  GHashTable *extras; /* key -> GVariant */
};

G_DEFINE_FINAL_TYPE (CxrBatch, cxr_batch, G_TYPE_OBJECT)

static void
cxr_batch_finalize (GObject *object)
{
  CxrBatch *self = CXR_BATCH (object);

  g_hash_table_unref (self->fields);
  g_hash_table_unref (self->extras);
  G_OBJECT_CLASS (cxr_batch_parent_class)->finalize (object);
}

static void
cxr_batch_class_init (CxrBatchClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cxr_batch_finalize;
}

static void
cxr_batch_init (CxrBatch *self)
{
  self->fields = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) cxr_field_unref);
  self->extras = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) g_variant_unref);
}

/**
 * cxr_batch_new:
 * @size: the number of samples
 *
 * Creates an empty batch of @size samples.
 *
 * Returns: (transfer full): a new batch
 */
CxrBatch *
cxr_batch_new (guint size)
{
  CxrBatch *self = g_object_new (CXR_TYPE_BATCH, NULL);
  self->size = size;
  return self;
}

/**
 * cxr_batch_get_size:
 * @self: a batch
 *
 * Returns: the number of samples in the batch
 */
guint
cxr_batch_get_size (CxrBatch *self)
{
  g_return_val_if_fail (CXR_IS_BATCH (self), 0);
  return self->size;
}

/**
 * cxr_batch_get_sequence:
 * @self: a batch
 *
 * Returns: the position of the batch in its stream, counted from 0 by
 *   the source that made it
 */
guint64
cxr_batch_get_sequence (CxrBatch *self)
{
  g_return_val_if_fail (CXR_IS_BATCH (self), 0);
  return self->sequence;
}

/**
 * cxr_batch_set_sequence:
 * @self: a batch
 * @sequence: the position of the batch in its stream
 *
 * Sets the position of the batch in its stream.
 */
void
cxr_batch_set_sequence (CxrBatch *self, guint64 sequence)
{
  g_return_if_fail (CXR_IS_BATCH (self));
  self->sequence = sequence;
}

/**
 * cxr_batch_copy:
 * @self: a batch
 *
 * Makes a new batch with the same size, sequence, fields and extras. The
 * values are shared, not copied: fields are immutable.
 *
 * Returns: (transfer full): the copy
 */
CxrBatch *
cxr_batch_copy (CxrBatch *self)
{
  CxrBatch *copy;
  GHashTableIter iter;
  gpointer key, value;

  g_return_val_if_fail (CXR_IS_BATCH (self), NULL);
  copy = cxr_batch_new (self->size);
  copy->sequence = self->sequence;
  g_hash_table_iter_init (&iter, self->fields);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (copy->fields, g_strdup (key), cxr_field_ref (value));
  g_hash_table_iter_init (&iter, self->extras);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (copy->extras, g_strdup (key), g_variant_ref (value));
  return copy;
}

/**
 * cxr_batch_has_field:
 * @self: a batch
 * @name: a field name
 *
 * Returns: whether the batch has a field called @name
 */
gboolean
cxr_batch_has_field (CxrBatch *self, const gchar *name)
{
  g_return_val_if_fail (CXR_IS_BATCH (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  return g_hash_table_contains (self->fields, name);
}

/**
 * cxr_batch_get_field_kind:
 * @self: a batch
 * @name: a field name
 *
 * Returns: what the field holds, or %CXR_FIELD_KIND_NONE if the batch has
 *   no such field
 */
CxrFieldKind
cxr_batch_get_field_kind (CxrBatch *self, const gchar *name)
{
  CxrField *field;

  g_return_val_if_fail (CXR_IS_BATCH (self), CXR_FIELD_KIND_NONE);
  g_return_val_if_fail (name != NULL, CXR_FIELD_KIND_NONE);
  field = g_hash_table_lookup (self->fields, name);
  return field ? field->kind : CXR_FIELD_KIND_NONE;
}

static gint
compare_names (gconstpointer a, gconstpointer b, gpointer user_data)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

/**
 * cxr_batch_list_fields:
 * @self: a batch
 *
 * Returns: (transfer full) (array zero-terminated=1): the names of the
 *   batch's fields, sorted
 */
gchar **
cxr_batch_list_fields (CxrBatch *self)
{
  g_autofree const gchar **keys = NULL;
  guint n = 0;
  gchar **names;

  g_return_val_if_fail (CXR_IS_BATCH (self), NULL);
  keys = (const gchar **) g_hash_table_get_keys_as_array (self->fields, &n);
  names = g_new0 (gchar *, n + 1);
  for (guint i = 0; i < n; i++)
    names[i] = g_strdup (keys[i]);
  g_qsort_with_data (names, n, sizeof (gchar *), compare_names, NULL);
  return names;
}

/**
 * cxr_batch_remove_field:
 * @self: a batch
 * @name: a field name
 *
 * Removes a field, if the batch has it.
 */
void
cxr_batch_remove_field (CxrBatch *self, const gchar *name)
{
  g_return_if_fail (CXR_IS_BATCH (self));
  g_return_if_fail (name != NULL);
  g_hash_table_remove (self->fields, name);
}

/**
 * cxr_batch_take_strings: (skip)
 * @self: a batch
 * @name: a field name
 * @values: (transfer full): one string per sample, %NULL-terminated
 *
 * Like cxr_batch_set_strings(), taking ownership of @values.
 */
void
cxr_batch_take_strings (CxrBatch *self, const gchar *name, gchar **values)
{
  CxrField *field;

  g_return_if_fail (CXR_IS_BATCH (self));
  g_return_if_fail (name != NULL);
  g_return_if_fail (values != NULL);
  if (g_strv_length (values) != self->size)
    {
      g_critical ("cxr_batch_take_strings: field %s has %u values for a batch of %u",
                  name, g_strv_length (values), self->size);
      g_strfreev (values);
      return;
    }
  field = cxr_field_new (CXR_FIELD_KIND_STRINGS);
  field->strings = values;
  g_hash_table_replace (self->fields, g_strdup (name), field);
}

/**
 * cxr_batch_set_strings:
 * @self: a batch
 * @name: a field name
 * @values: (array zero-terminated=1): one string per sample
 *
 * Sets a field of strings, one per sample, replacing any field of that
 * name. The number of strings must be the batch size.
 */
void
cxr_batch_set_strings (CxrBatch *self, const gchar *name, const gchar *const *values)
{
  g_return_if_fail (values != NULL);
  cxr_batch_take_strings (self, name, g_strdupv ((gchar **) values));
}

/**
 * cxr_batch_get_strings:
 * @self: a batch
 * @name: a field name
 *
 * Returns: (transfer none) (array zero-terminated=1) (nullable): the
 *   strings of the field, or %NULL if the batch has no field of strings
 *   called @name
 */
const gchar *const *
cxr_batch_get_strings (CxrBatch *self, const gchar *name)
{
  CxrField *field;

  g_return_val_if_fail (CXR_IS_BATCH (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  field = g_hash_table_lookup (self->fields, name);
  if (field == NULL || field->kind != CXR_FIELD_KIND_STRINGS)
    return NULL;
  return (const gchar *const *) field->strings;
}

/**
 * cxr_batch_get_string:
 * @self: a batch
 * @name: a field name
 * @index: a sample index, below the batch size
 *
 * Returns: (transfer none) (nullable): the string of sample @index, or
 *   %NULL if the batch has no field of strings called @name
 */
const gchar *
cxr_batch_get_string (CxrBatch *self, const gchar *name, guint index)
{
  const gchar *const *strings = cxr_batch_get_strings (self, name);

  g_return_val_if_fail (index < self->size, NULL);
  return strings ? strings[index] : NULL;
}

/**
 * cxr_batch_set_floats:
 * @self: a batch
 * @name: a field name
 * @width: floats per sample, at least 1
 * @values: (array length=n_values): the values, sample after sample
 * @n_values: the number of values: batch size times @width
 *
 * Sets a field of float vectors, replacing any field of that name.
 */
void
cxr_batch_set_floats (CxrBatch *self, const gchar *name, guint width,
                      const gfloat *values, gsize n_values)
{
  CxrField *field;

  g_return_if_fail (CXR_IS_BATCH (self));
  g_return_if_fail (name != NULL);
  g_return_if_fail (width > 0);
  g_return_if_fail (n_values == (gsize) self->size * width);
  g_return_if_fail (values != NULL || n_values == 0);
  field = cxr_field_new (CXR_FIELD_KIND_FLOATS);
  field->width = width;
  field->floats = g_bytes_new (values, n_values * sizeof (gfloat));
  g_hash_table_replace (self->fields, g_strdup (name), field);
}

/**
 * cxr_batch_get_floats:
 * @self: a batch
 * @name: a field name
 * @width: (out) (optional): floats per sample
 * @n_values: (out) (optional): the number of values
 *
 * Returns: (transfer none) (array length=n_values) (nullable): the values
 *   of the field, sample after sample, or %NULL if the batch has no field
 *   of floats called @name
 */
const gfloat *
cxr_batch_get_floats (CxrBatch *self, const gchar *name, guint *width, gsize *n_values)
{
  CxrField *field;
  gsize size = 0;
  const gfloat *data;

  if (width)
    *width = 0;
  if (n_values)
    *n_values = 0;
  g_return_val_if_fail (CXR_IS_BATCH (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  field = g_hash_table_lookup (self->fields, name);
  if (field == NULL || field->kind != CXR_FIELD_KIND_FLOATS)
    return NULL;
  data = g_bytes_get_data (field->floats, &size);
  if (width)
    *width = field->width;
  if (n_values)
    *n_values = size / sizeof (gfloat);
  return data;
}

/**
 * cxr_batch_require_floats:
 * @self: a batch
 * @name: a field name
 * @width: the floats each sample must have
 * @n_values: (out) (optional): the number of values
 * @error: return location for a #GError
 *
 * cxr_batch_get_floats() for a stage that needs the field with @width
 * values per sample.
 *
 * Returns: (transfer none) (array length=n_values) (nullable): the values,
 *   or %NULL with @error set (CXR_STAGE_ERROR_MISSING_FIELD, or
 *   CXR_STAGE_ERROR_BAD_FIELD for another width), naming the batch and field
 */
const gfloat *
cxr_batch_require_floats (CxrBatch *self, const gchar *name, guint width, gsize *n_values, GError **error)
{
  guint have = 0;
  const gfloat *data = cxr_batch_get_floats (self, name, &have, n_values);

  if (data == NULL || have != width)
    {
      g_set_error (error, CXR_STAGE_ERROR, data ? CXR_STAGE_ERROR_BAD_FIELD : CXR_STAGE_ERROR_MISSING_FIELD,
                   "batch %" G_GUINT64_FORMAT ": field \"%s\" must hold %u values per sample",
                   cxr_batch_get_sequence (self), name, width);
      return NULL;
    }
  return data;
}

/**
 * cxr_batch_set_extra:
 * @self: a batch
 * @key: a key
 * @value: (nullable): the value, or %NULL to remove the key
 *
 * Sets a per-batch value, such as a metric. A floating @value is sunk.
 */
void
cxr_batch_set_extra (CxrBatch *self, const gchar *key, GVariant *value)
{
  g_return_if_fail (CXR_IS_BATCH (self));
  g_return_if_fail (key != NULL);
  if (value == NULL)
    g_hash_table_remove (self->extras, key);
  else
    g_hash_table_replace (self->extras, g_strdup (key), g_variant_ref_sink (value));
}

/**
 * cxr_batch_get_extra:
 * @self: a batch
 * @key: a key
 *
 * Returns: (transfer none) (nullable): the value of @key, or %NULL
 */
GVariant *
cxr_batch_get_extra (CxrBatch *self, const gchar *key)
{
  g_return_val_if_fail (CXR_IS_BATCH (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);
  return g_hash_table_lookup (self->extras, key);
}

/**
 * cxr_batch_get_images:
 * @self: a batch
 * @field: a float field of images, one row each, with the batch's
 *   image-width and image-height extras (as sources and decoders write
 *   them)
 * @error: return location for a #GError
 *
 * The images of a batch as one tensor, for the networks that take them.
 *
 * Returns: (transfer full) (nullable): F32 [N, 1, H, W], a copy; %NULL
 *   with @error naming the batch and the field when it holds no images
 */
CxrTensor *
cxr_batch_get_images (CxrBatch *self, const gchar *field, GError **error)
{
  guint width = 0;
  const gfloat *images;
  GVariant *ew, *eh;
  guint w, h;

  g_return_val_if_fail (CXR_IS_BATCH (self), NULL);
  images = cxr_batch_get_floats (self, field, &width, NULL);
  ew = cxr_batch_get_extra (self, "image-width");
  eh = cxr_batch_get_extra (self, "image-height");
  w = ew && g_variant_is_of_type (ew, G_VARIANT_TYPE_UINT32) ? g_variant_get_uint32 (ew) : 0;
  h = eh && g_variant_is_of_type (eh, G_VARIANT_TYPE_UINT32) ? g_variant_get_uint32 (eh) : 0;
  if (images == NULL || w == 0 || (gsize) w * h != width)
    {
      g_set_error (error, CXR_STAGE_ERROR, images ? CXR_STAGE_ERROR_BAD_FIELD : CXR_STAGE_ERROR_MISSING_FIELD,
                   "batch %" G_GUINT64_FORMAT ": needs the float field \"%s\" with the image-width and image-height "
                   "extras", cxr_batch_get_sequence (self), field);
      return NULL;
    }
  return cxr_tensor_new_from_data (CXR_DTYPE_F32, (const gint64[]) { cxr_batch_get_size (self), 1, h, w }, 4,
                                   (const guint8 *) images, (gsize) cxr_batch_get_size (self) * width * sizeof (gfloat),
                                   error);
}
