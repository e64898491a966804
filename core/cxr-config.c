/* cxr-config.c: a network's configuration, as the config.json of a
 * Hugging Face folder holds it.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdarg.h>

#include "cxr-private.h"

struct _CxrConfig {
  gatomicrefcount refs;
  gchar *origin;   /* the file, or "config.json" of a built-in default */
  gchar *path;     /* "" at the top, "vision_config." in a child */
  GVariant *dict;  /* a{sv} */
  GHashTable *read; /* keys asked for or ignored */
  GPtrArray *strings; /* the string values handed out, kept as long as the config */
  GPtrArray *children;
  gchar *problem;  /* the first missing or misshapen key */
};

G_DEFINE_BOXED_TYPE (CxrConfig, cxr_config, cxr_config_ref, cxr_config_unref)

/* Keys every transformers PretrainedConfig or diffusers ConfigMixin
 * writes whatever the model: generation defaults, bookkeeping. A model
 * names the keys of its own architecture; these need no naming. */
static const gchar *const generic_keys[] = {
  "architectures", "model_type", "torch_dtype", "transformers_version", "return_dict",
  "output_hidden_states", "output_attentions", "torchscript", "use_bfloat16", "tf_legacy_loss",
  "pruned_heads", "tie_word_embeddings", "is_encoder_decoder", "is_decoder", "add_cross_attention",
  "tie_encoder_decoder", "chunk_size_feed_forward", "cross_attention_hidden_size",
  "finetuning_task", "id2label", "label2id", "problem_type", "tokenizer_class", "prefix",
  "bos_token_id", "pad_token_id", "eos_token_id", "sep_token_id", "decoder_start_token_id",
  "task_specific_params", "max_length", "min_length", "do_sample", "early_stopping", "num_beams",
  "num_beam_groups", "diversity_penalty", "temperature", "top_k", "top_p", "typical_p",
  "repetition_penalty", "length_penalty", "no_repeat_ngram_size",
  "encoder_no_repeat_ngram_size", "bad_words_ids", "num_return_sequences", "output_scores",
  "return_dict_in_generate", "forced_bos_token_id", "forced_eos_token_id",
  "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens",
  "begin_suppress_tokens", "initializer_range", "initializer_factor", "gradient_checkpointing",
  "use_cache", "num_labels", NULL
};

static CxrConfig *
config_new (GVariant *dict, const gchar *origin, const gchar *path)
{
  CxrConfig *self = g_new0 (CxrConfig, 1);

  g_atomic_ref_count_init (&self->refs);
  self->origin = g_strdup (origin);
  self->path = g_strdup (path);
  self->dict = g_variant_ref_sink (dict);
  self->read = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->strings = g_ptr_array_new_with_free_func (g_free);
  self->children = g_ptr_array_new_with_free_func ((GDestroyNotify) cxr_config_unref);
  return self;
}

/**
 * cxr_config_new_from_json:
 * @text: a JSON object
 * @origin: what to call it in errors (a file name)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the configuration, or %NULL if @text
 *   is not a JSON object
 */
CxrConfig *
cxr_config_new_from_json (const gchar *text, const gchar *origin, GError **error)
{
  g_autoptr (GVariant) value = cxr_json_parse (text, strlen (text), origin, error);

  if (value == NULL)
    return NULL;
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT))
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_CONFIG, "%s: not a JSON object", origin);
      return NULL;
    }
  return config_new (value, origin, "");
}

/**
 * cxr_config_new_from_file:
 * @path: a config.json
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the configuration in @path
 */
CxrConfig *
cxr_config_new_from_file (const gchar *path, GError **error)
{
  g_autofree gchar *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, error))
    return NULL;
  return cxr_config_new_from_json (text, path, error);
}

/**
 * cxr_config_ref:
 * @self: a configuration
 *
 * Returns: (transfer full): @self
 */
CxrConfig *
cxr_config_ref (CxrConfig *self)
{
  g_atomic_ref_count_inc (&self->refs);
  return self;
}

/**
 * cxr_config_unref:
 * @self: (transfer full): a configuration
 */
void
cxr_config_unref (CxrConfig *self)
{
  if (!g_atomic_ref_count_dec (&self->refs))
    return;
  g_free (self->origin);
  g_free (self->path);
  g_variant_unref (self->dict);
  g_hash_table_unref (self->read);
  g_ptr_array_unref (self->strings);
  g_ptr_array_unref (self->children);
  g_free (self->problem);
  g_free (self);
}

/**
 * cxr_config_get_origin:
 * @self: a configuration
 *
 * Returns: (transfer none): where the configuration came from
 */
const gchar *
cxr_config_get_origin (CxrConfig *self)
{
  return self->origin;
}

/**
 * cxr_config_fail:
 * @self: a configuration
 * @key: the key at fault
 * @format: printf() format of what is wrong with it
 * @...: its arguments
 *
 * Records a problem with @key, unless one is recorded already;
 * cxr_config_check() reports it, naming the file and the key.
 */
void
cxr_config_fail (CxrConfig *self, const gchar *key, const gchar *format, ...)
{
  va_list args;
  g_autofree gchar *what = NULL;

  if (self->problem != NULL)
    return;
  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  self->problem = g_strdup_printf ("%s: key \"%s%s\": %s", self->origin, self->path, key, what);
}

static GVariant *
lookup (CxrConfig *self, const gchar *key)
{
  GVariant *v;

  g_hash_table_add (self->read, g_strdup (key));
  v = g_variant_lookup_value (self->dict, key, NULL);
  /* JSON null reads as absent */
  if (v != NULL && g_variant_is_of_type (v, G_VARIANT_TYPE_MAYBE))
    g_clear_pointer (&v, g_variant_unref);
  return v;
}

/**
 * cxr_config_has_key:
 * @self: a configuration
 * @key: a key
 *
 * Returns: whether @key is there (and not null); asking counts as reading
 */
gboolean
cxr_config_has_key (CxrConfig *self, const gchar *key)
{
  g_autoptr (GVariant) v = lookup (self, key);
  return v != NULL;
}

/**
 * cxr_config_is_list:
 * @self: a configuration
 * @key: a key
 *
 * Returns: whether the value at @key is a list (diffusers writes some
 *   keys as one number or one per block)
 */
gboolean
cxr_config_is_list (CxrConfig *self, const gchar *key)
{
  g_autoptr (GVariant) v = lookup (self, key);
  return v != NULL && g_variant_is_of_type (v, G_VARIANT_TYPE ("av"));
}

static gboolean
as_int (GVariant *v, gint64 *out)
{
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT64))
    *out = g_variant_get_int64 (v);
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT64) && g_variant_get_uint64 (v) <= G_MAXINT64)
    *out = (gint64) g_variant_get_uint64 (v);
  else
    return FALSE;
  return TRUE;
}

/**
 * cxr_config_get_int:
 * @self: a configuration
 * @key: a key
 * @fallback: the value when @key is absent
 *
 * Returns: the integer at @key; a value of another type, or beyond 32
 *   bits, is recorded as the configuration's problem
 */
gint64
cxr_config_get_int (CxrConfig *self, const gchar *key, gint64 fallback)
{
  g_autoptr (GVariant) v = lookup (self, key);
  gint64 out;

  if (v == NULL)
    return fallback;
  if (!as_int (v, &out))
    {
      cxr_config_fail (self, key, "an integer expected");
      return fallback;
    }
  /* sizes, ids and counts: a value beyond 32 bits is a damaged file */
  if (out > G_MAXINT32 || out < G_MININT32)
    {
      cxr_config_fail (self, key, "%" G_GINT64_FORMAT " is out of range", out);
      return fallback;
    }
  return out;
}

/**
 * cxr_config_require_int:
 * @self: a configuration
 * @key: a key
 *
 * As cxr_config_get_int(), but a missing key is a problem too.
 *
 * Returns: the integer at @key, or 0
 */
gint64
cxr_config_require_int (CxrConfig *self, const gchar *key)
{
  if (!cxr_config_has_key (self, key))
    {
      cxr_config_fail (self, key, "missing");
      return 0;
    }
  return cxr_config_get_int (self, key, 0);
}

/**
 * cxr_config_get_double:
 * @self: a configuration
 * @key: a key
 * @fallback: the value when @key is absent
 *
 * Returns: the number at @key (an integer reads as a number too)
 */
gdouble
cxr_config_get_double (CxrConfig *self, const gchar *key, gdouble fallback)
{
  g_autoptr (GVariant) v = lookup (self, key);
  gint64 i;

  if (v == NULL)
    return fallback;
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_DOUBLE))
    return g_variant_get_double (v);
  if (as_int (v, &i))
    return (gdouble) i;
  cxr_config_fail (self, key, "a number expected");
  return fallback;
}

/**
 * cxr_config_get_string:
 * @self: a configuration
 * @key: a key
 * @fallback: (nullable): the value when @key is absent
 *
 * Returns: (transfer none) (nullable): the string at @key
 */
const gchar *
cxr_config_get_string (CxrConfig *self, const gchar *key, const gchar *fallback)
{
  g_autoptr (GVariant) v = lookup (self, key);

  if (v == NULL)
    return fallback;
  if (!g_variant_is_of_type (v, G_VARIANT_TYPE_STRING))
    {
      cxr_config_fail (self, key, "a string expected");
      return fallback;
    }
  /* a copy the configuration keeps: a child value looked up from the
   * dictionary need not outlive v */
  {
    gchar *copy = g_variant_dup_string (v, NULL);
    g_ptr_array_add (self->strings, copy);
    return copy;
  }
}

/**
 * cxr_config_get_boolean:
 * @self: a configuration
 * @key: a key
 * @fallback: the value when @key is absent
 *
 * Returns: the boolean at @key
 */
gboolean
cxr_config_get_boolean (CxrConfig *self, const gchar *key, gboolean fallback)
{
  g_autoptr (GVariant) v = lookup (self, key);

  if (v == NULL)
    return fallback;
  if (!g_variant_is_of_type (v, G_VARIANT_TYPE_BOOLEAN))
    {
      cxr_config_fail (self, key, "true or false expected");
      return fallback;
    }
  return g_variant_get_boolean (v);
}

/**
 * cxr_config_get_int_list:
 * @self: a configuration
 * @key: a key
 * @n_values: (out): the length of the list
 *
 * Returns: (transfer full) (array length=n_values) (nullable): the
 *   integers of the list at @key, or %NULL (and 0) when @key is absent or
 *   not a list of integers (a problem then)
 */
gint64 *
cxr_config_get_int_list (CxrConfig *self, const gchar *key, guint *n_values)
{
  g_autoptr (GVariant) v = lookup (self, key);
  g_autofree gint64 *out = NULL;
  gsize n;

  *n_values = 0;
  if (v == NULL)
    return NULL;
  if (!g_variant_is_of_type (v, G_VARIANT_TYPE ("av")))
    {
      cxr_config_fail (self, key, "a list of integers expected");
      return NULL;
    }
  n = g_variant_n_children (v);
  out = g_new0 (gint64, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) boxed = g_variant_get_child_value (v, i);
      g_autoptr (GVariant) item = g_variant_get_variant (boxed);
      if (!as_int (item, &out[i]))
        {
          cxr_config_fail (self, key, "a list of integers expected");
          return NULL;
        }
    }
  *n_values = (guint) n;
  return g_steal_pointer (&out);
}

/**
 * cxr_config_get_string_list:
 * @self: a configuration
 * @key: a key
 *
 * Returns: (transfer full) (nullable): the strings of the list at @key
 *   (diffusers' block types), or %NULL when @key is absent or not a list
 *   of strings (a problem then)
 */
gchar **
cxr_config_get_string_list (CxrConfig *self, const gchar *key)
{
  g_autoptr (GVariant) v = lookup (self, key);
  GStrvBuilder *builder;
  gchar **out;

  if (v == NULL)
    return NULL;
  if (!g_variant_is_of_type (v, G_VARIANT_TYPE ("av")))
    {
      cxr_config_fail (self, key, "a list of strings expected");
      return NULL;
    }
  builder = g_strv_builder_new ();
  for (gsize i = 0; i < g_variant_n_children (v); i++)
    {
      g_autoptr (GVariant) boxed = g_variant_get_child_value (v, i);
      g_autoptr (GVariant) item = g_variant_get_variant (boxed);
      if (!g_variant_is_of_type (item, G_VARIANT_TYPE_STRING))
        {
          cxr_config_fail (self, key, "a list of strings expected");
          g_strv_builder_unref (builder);
          return NULL;
        }
      g_strv_builder_add (builder, g_variant_get_string (item, NULL));
    }
  out = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return out;
}

/**
 * cxr_config_get_child:
 * @self: a configuration
 * @key: a key whose value is an object (CLIP's "vision_config")
 *
 * Returns: (transfer none) (nullable): the object at @key as a
 *   configuration of its own, whose unread keys cxr_config_check() of
 *   @self reports too; %NULL when @key is absent
 */
CxrConfig *
cxr_config_get_child (CxrConfig *self, const gchar *key)
{
  g_autoptr (GVariant) v = lookup (self, key);
  g_autofree gchar *path = NULL;
  CxrConfig *child;

  if (v == NULL)
    return NULL;
  if (!g_variant_is_of_type (v, G_VARIANT_TYPE_VARDICT))
    {
      cxr_config_fail (self, key, "an object expected");
      return NULL;
    }
  path = g_strconcat (self->path, key, ".", NULL);
  child = config_new (v, self->origin, path);
  g_ptr_array_add (self->children, child);
  return child;
}

/**
 * cxr_config_ignore:
 * @self: a configuration
 * @keys: (array zero-terminated=1): keys the model knows and needs not
 *
 * Marks @keys as read, so cxr_config_check() does not call them unknown.
 */
void
cxr_config_ignore (CxrConfig *self, const gchar *const *keys)
{
  for (guint i = 0; keys && keys[i]; i++)
    g_hash_table_add (self->read, g_strdup (keys[i]));
}

static gboolean
check_unread (CxrConfig *self, GError **error)
{
  GVariantIter iter;
  const gchar *key;
  GVariant *value;

  if (self->problem != NULL)
    {
      g_set_error_literal (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_CONFIG, self->problem);
      return FALSE;
    }
  g_variant_iter_init (&iter, self->dict);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    if (key[0] != '_' && !g_hash_table_contains (self->read, key) && !g_strv_contains (generic_keys, key))
      {
        g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_CONFIG,
                     "%s: key \"%s%s\": unknown to this model (a misspelt key, or a config of another model?)",
                     self->origin, self->path, key);
        g_variant_unref (value);
        return FALSE;
      }
  for (guint i = 0; i < self->children->len; i++)
    if (!check_unread (g_ptr_array_index (self->children, i), error))
      return FALSE;
  return TRUE;
}

/**
 * cxr_config_check:
 * @self: a configuration that a model has read
 * @error: return location for a #GError
 *
 * Reports the first problem recorded while reading (a missing key, a
 * value of the wrong type), else the first key that was neither read nor
 * ignored. Keys that begin with "_" (bookkeeping of the libraries that
 * wrote the file) and the keys every transformers configuration carries
 * are never unknown.
 *
 * Returns: %TRUE if the configuration is sound
 */
gboolean
cxr_config_check (CxrConfig *self, GError **error)
{
  for (guint i = 0; i < self->children->len; i++)
    {
      CxrConfig *child = g_ptr_array_index (self->children, i);
      if (child->problem && !self->problem)
        self->problem = g_strdup (child->problem);
    }
  return check_unread (self, error);
}
