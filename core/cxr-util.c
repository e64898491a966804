/* cxr-util.c: small helpers shared inside libcxrgen: typed values from
 * strings, closest names for typos, JSON text, where objects came from.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "cxr-private.h"

/* ------------------------------------------------------------ closest name */

static guint
edit_distance (const gchar *a, const gchar *b)
{
  gsize la = strlen (a), lb = strlen (b);
  g_autofree guint *row = g_new (guint, lb + 1);

  for (gsize j = 0; j <= lb; j++)
    row[j] = j;
  for (gsize i = 1; i <= la; i++)
    {
      guint diagonal = row[0];
      row[0] = i;
      for (gsize j = 1; j <= lb; j++)
        {
          guint above = row[j];
          guint cost = g_ascii_tolower (a[i - 1]) == g_ascii_tolower (b[j - 1]) ? 0 : 1;
          row[j] = MIN (MIN (row[j] + 1, row[j - 1] + 1), diagonal + cost);
          diagonal = above;
        }
    }
  return row[lb];
}

const gchar *
_cxr_closest_name (const gchar *word, const gchar *const *candidates)
{
  const gchar *best = NULL;
  guint best_distance = G_MAXUINT;
  guint limit;

  if (word == NULL || candidates == NULL)
    return NULL;
  /* A plausible typo: at most a third of the word wrong, and at least 1. */
  limit = MAX (1, (guint) strlen (word) / 3);
  for (guint i = 0; candidates[i]; i++)
    {
      guint d = edit_distance (word, candidates[i]);
      if (d < best_distance)
        {
          best_distance = d;
          best = candidates[i];
        }
    }
  return best_distance <= limit ? best : NULL;
}

/* ------------------------------------------------------------------- JSON */

/**
 * cxr_json_append_string: (skip)
 * @out: a string to append to
 * @text: (nullable): UTF-8 text; %NULL is written as ""
 *
 * Appends @text as a JSON string, quoted and escaped (quotes, backslashes
 * and control characters; other characters as they are).
 */
void
cxr_json_append_string (GString *out, const gchar *text)
{
  _cxr_json_append_string (out, text);
}

void
_cxr_json_append_string (GString *out, const gchar *text)
{
  g_string_append_c (out, '"');
  for (const guchar *p = (const guchar *) (text ? text : ""); *p; p++)
    {
      switch (*p)
        {
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        default:
          if (*p < 0x20)
            g_string_append_printf (out, "\\u%04x", *p);
          else
            g_string_append_c (out, (gchar) *p);
        }
    }
  g_string_append_c (out, '"');
}

/* ------------------------------------------------------------------ origin */

typedef struct {
  gchar *file;
  guint line;
  GHashTable *key_lines; /* key -> line */
} CxrOrigin;

static void
origin_free (gpointer data)
{
  CxrOrigin *origin = data;
  g_free (origin->file);
  g_hash_table_unref (origin->key_lines);
  g_free (origin);
}

static G_DEFINE_QUARK (cxr-origin, origin)

static CxrOrigin *
origin_ensure (GObject *object)
{
  CxrOrigin *origin = g_object_get_qdata (object, origin_quark ());

  if (origin == NULL)
    {
      origin = g_new0 (CxrOrigin, 1);
      origin->key_lines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_object_set_qdata_full (object, origin_quark (), origin, origin_free);
    }
  return origin;
}

void
_cxr_object_set_origin (GObject *object, const gchar *file, guint line)
{
  CxrOrigin *origin = origin_ensure (object);
  g_free (origin->file);
  origin->file = g_strdup (file);
  origin->line = line;
}

const gchar *
_cxr_object_get_origin_file (GObject *object)
{
  CxrOrigin *origin = g_object_get_qdata (object, origin_quark ());
  return origin ? origin->file : NULL;
}

guint
_cxr_object_get_origin_line (GObject *object)
{
  CxrOrigin *origin = g_object_get_qdata (object, origin_quark ());
  return origin ? origin->line : 0;
}

void
_cxr_object_set_key_line (GObject *object, const gchar *key, guint line)
{
  g_hash_table_replace (origin_ensure (object)->key_lines, g_strdup (key), GUINT_TO_POINTER (line));
}

guint
_cxr_object_get_key_line (GObject *object, const gchar *key)
{
  CxrOrigin *origin = g_object_get_qdata (object, origin_quark ());
  return origin ? GPOINTER_TO_UINT (g_hash_table_lookup (origin->key_lines, key)) : 0;
}

/* "FILE:LINE: stage NAME: key KEY" (the parts that are known). */
gchar *
_cxr_object_describe_location (GObject *object, const gchar *key)
{
  GString *out = g_string_new (NULL);
  const gchar *file = _cxr_object_get_origin_file (object);
  guint line = key ? _cxr_object_get_key_line (object, key) : 0;
  const gchar *name;

  if (line == 0)
    line = _cxr_object_get_origin_line (object);
  if (file != NULL)
    g_string_append_printf (out, "%s:%u: ", file, line);
  if (CXR_IS_STAGE (object))
    {
      name = cxr_stage_get_name (CXR_STAGE (object));
      g_string_append_printf (out, "stage %s", name ? name : "(unnamed)");
    }
  else
    {
      name = CXR_IS_MODEL (object) ? cxr_model_get_name (CXR_MODEL (object)) : NULL;
      g_string_append_printf (out, "model %s", name ? name : "(unnamed)");
    }
  if (key != NULL)
    g_string_append_printf (out, ": key %s", key);
  return g_string_free (out, FALSE);
}

/* --------------------------------------------------------- typed values */

static gboolean
parse_boolean (const gchar *text, gboolean *out)
{
  static const gchar *yes[] = { "true", "yes", "on", "1" };
  static const gchar *no[] = { "false", "no", "off", "0" };

  for (guint i = 0; i < G_N_ELEMENTS (yes); i++)
    {
      if (g_ascii_strcasecmp (text, yes[i]) == 0)
        return (*out = TRUE, TRUE);
      if (g_ascii_strcasecmp (text, no[i]) == 0)
        return (*out = FALSE, TRUE);
    }
  return FALSE;
}

gchar *
_cxr_describe_param_range (GParamSpec *pspec)
{
  GType type = G_PARAM_SPEC_VALUE_TYPE (pspec);

#define RANGE(SPEC, CAST, FMT, MINV, MAXV)                                            \
  do {                                                                                \
      SPEC *s = (SPEC *) pspec;                                                       \
      if ((CAST) s->minimum == (CAST) (MINV) && (CAST) s->maximum == (CAST) (MAXV))   \
        return NULL;                                                                  \
      return g_strdup_printf ("between " FMT " and " FMT, (CAST) s->minimum, (CAST) s->maximum); \
  } while (0)

  if (G_IS_PARAM_SPEC_INT (pspec))
    RANGE (GParamSpecInt, gint64, "%" G_GINT64_FORMAT, G_MININT, G_MAXINT);
  if (G_IS_PARAM_SPEC_UINT (pspec))
    RANGE (GParamSpecUInt, guint64, "%" G_GUINT64_FORMAT, 0, G_MAXUINT);
  if (G_IS_PARAM_SPEC_INT64 (pspec))
    RANGE (GParamSpecInt64, gint64, "%" G_GINT64_FORMAT, G_MININT64, G_MAXINT64);
  if (G_IS_PARAM_SPEC_UINT64 (pspec))
    RANGE (GParamSpecUInt64, guint64, "%" G_GUINT64_FORMAT, 0, G_MAXUINT64);
  if (G_IS_PARAM_SPEC_LONG (pspec))
    RANGE (GParamSpecLong, gint64, "%" G_GINT64_FORMAT, G_MINLONG, G_MAXLONG);
  if (G_IS_PARAM_SPEC_ULONG (pspec))
    RANGE (GParamSpecULong, guint64, "%" G_GUINT64_FORMAT, 0, G_MAXULONG);
  if (G_IS_PARAM_SPEC_DOUBLE (pspec))
    RANGE (GParamSpecDouble, gdouble, "%g", -G_MAXDOUBLE, G_MAXDOUBLE);
  if (G_IS_PARAM_SPEC_FLOAT (pspec))
    RANGE (GParamSpecFloat, gdouble, "%g", -G_MAXFLOAT, G_MAXFLOAT);
#undef RANGE
  if (G_TYPE_IS_ENUM (type) || G_TYPE_IS_FLAGS (type))
    {
      GString *out = g_string_new (G_TYPE_IS_ENUM (type) ? "one of: " : "any of: ");
      if (G_TYPE_IS_ENUM (type))
        {
          GEnumClass *klass = ((GParamSpecEnum *) pspec)->enum_class;
          for (guint i = 0; i < klass->n_values; i++)
            g_string_append_printf (out, "%s%s", i ? ", " : "", klass->values[i].value_nick);
        }
      else
        {
          GFlagsClass *klass = ((GParamSpecFlags *) pspec)->flags_class;
          for (guint i = 0; i < klass->n_values; i++)
            g_string_append_printf (out, "%s%s", i ? ", " : "", klass->values[i].value_nick);
        }
      return g_string_free (out, FALSE);
    }
  return NULL;
}

static gboolean
out_of_range (GParamSpec *pspec, const gchar *text, GError **error)
{
  g_autofree gchar *range = _cxr_describe_param_range (pspec);

  g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_BAD_VALUE,
               "value %s is out of range: must be %s", text, range ? range : "in range");
  return FALSE;
}

static gboolean
not_a (const gchar *what, const gchar *text, GError **error)
{
  g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_BAD_VALUE,
               "\"%s\" is not %s", text, what);
  return FALSE;
}

static gboolean
parse_enum_value (GEnumClass *klass, const gchar *text, gint *out, GError **error)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) nicks = NULL;
  const gchar *closest;
  g_autofree gchar *joined = NULL;

  for (guint i = 0; i < klass->n_values; i++)
    {
      if (g_ascii_strcasecmp (text, klass->values[i].value_nick) == 0 ||
          g_strcmp0 (text, klass->values[i].value_name) == 0)
        {
          *out = klass->values[i].value;
          return TRUE;
        }
      g_strv_builder_add (builder, klass->values[i].value_nick);
    }
  nicks = g_strv_builder_end (builder);
  closest = _cxr_closest_name (text, (const gchar *const *) nicks);
  joined = g_strjoinv (", ", nicks);
  if (closest)
    g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_BAD_VALUE,
                 "\"%s\" is not one of: %s; did you mean \"%s\"?", text, joined, closest);
  else
    g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_BAD_VALUE,
                 "\"%s\" is not one of: %s", text, joined);
  return FALSE;
}

gboolean
_cxr_value_from_string (GParamSpec *pspec, const gchar *text, GValue *value,
                        CxrObjectLookupFunc lookup_object, gpointer user_data, GError **error)
{
  GType type = G_PARAM_SPEC_VALUE_TYPE (pspec);
  GType fundamental = G_TYPE_FUNDAMENTAL (type);

  g_value_init (value, type);
  switch (fundamental)
    {
    case G_TYPE_BOOLEAN:
      {
        gboolean b;
        if (!parse_boolean (text, &b))
          return not_a ("a boolean (true or false)", text, error);
        g_value_set_boolean (value, b);
        return TRUE;
      }
    case G_TYPE_INT:
    case G_TYPE_LONG:
    case G_TYPE_INT64:
      {
        gint64 v;
        if (!g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &v, NULL))
          return not_a ("an integer", text, error);
        if (fundamental == G_TYPE_INT)
          {
            GParamSpecInt *s = (GParamSpecInt *) pspec;
            if (v < s->minimum || v > s->maximum)
              return out_of_range (pspec, text, error);
            g_value_set_int (value, (gint) v);
          }
        else if (fundamental == G_TYPE_LONG)
          {
            GParamSpecLong *s = (GParamSpecLong *) pspec;
            if (v < s->minimum || v > s->maximum)
              return out_of_range (pspec, text, error);
            g_value_set_long (value, (glong) v);
          }
        else
          {
            GParamSpecInt64 *s = (GParamSpecInt64 *) pspec;
            if (v < s->minimum || v > s->maximum)
              return out_of_range (pspec, text, error);
            g_value_set_int64 (value, v);
          }
        return TRUE;
      }
    case G_TYPE_UINT:
    case G_TYPE_ULONG:
    case G_TYPE_UINT64:
      {
        guint64 v;
        if (text[0] == '-')
          {
            gint64 negative;
            if (g_ascii_string_to_signed (text, 10, G_MININT64, 0, &negative, NULL))
              return out_of_range (pspec, text, error);
            return not_a ("a non-negative integer", text, error);
          }
        if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, &v, NULL))
          return not_a ("a non-negative integer", text, error);
        if (fundamental == G_TYPE_UINT)
          {
            GParamSpecUInt *s = (GParamSpecUInt *) pspec;
            if (v < s->minimum || v > s->maximum)
              return out_of_range (pspec, text, error);
            g_value_set_uint (value, (guint) v);
          }
        else if (fundamental == G_TYPE_ULONG)
          {
            GParamSpecULong *s = (GParamSpecULong *) pspec;
            if (v < s->minimum || v > s->maximum)
              return out_of_range (pspec, text, error);
            g_value_set_ulong (value, (gulong) v);
          }
        else
          {
            GParamSpecUInt64 *s = (GParamSpecUInt64 *) pspec;
            if (v < s->minimum || v > s->maximum)
              return out_of_range (pspec, text, error);
            g_value_set_uint64 (value, v);
          }
        return TRUE;
      }
    case G_TYPE_DOUBLE:
    case G_TYPE_FLOAT:
      {
        gchar *end = NULL;
        gdouble v;
        errno = 0;
        v = g_ascii_strtod (text, &end);
        if (end == text || *end != '\0' || errno == ERANGE || !isfinite (v))
          return not_a ("a finite number", text, error);
        if (fundamental == G_TYPE_DOUBLE)
          {
            GParamSpecDouble *s = (GParamSpecDouble *) pspec;
            if (v < s->minimum || v > s->maximum)
              return out_of_range (pspec, text, error);
            g_value_set_double (value, v);
          }
        else
          {
            GParamSpecFloat *s = (GParamSpecFloat *) pspec;
            if (v < s->minimum || v > s->maximum)
              return out_of_range (pspec, text, error);
            g_value_set_float (value, (gfloat) v);
          }
        return TRUE;
      }
    case G_TYPE_STRING:
      g_value_set_string (value, text);
      return TRUE;
    case G_TYPE_ENUM:
      {
        gint v;
        if (!parse_enum_value (((GParamSpecEnum *) pspec)->enum_class, text, &v, error))
          return FALSE;
        g_value_set_enum (value, v);
        return TRUE;
      }
    case G_TYPE_FLAGS:
      {
        GFlagsClass *klass = ((GParamSpecFlags *) pspec)->flags_class;
        g_auto (GStrv) parts = g_strsplit_set (text, "|,", -1);
        guint flags = 0;
        for (guint i = 0; parts[i]; i++)
          {
            const gchar *part = g_strstrip (parts[i]);
            GFlagsValue *fv;
            if (*part == '\0')
              continue;
            fv = g_flags_get_value_by_nick (klass, part);
            if (fv == NULL)
              fv = g_flags_get_value_by_name (klass, part);
            if (fv == NULL)
              {
                g_autofree gchar *range = _cxr_describe_param_range (pspec);
                g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_BAD_VALUE,
                             "\"%s\" is not a flag: %s", part, range);
                return FALSE;
              }
            flags |= fv->value;
          }
        g_value_set_flags (value, flags);
        return TRUE;
      }
    case G_TYPE_BOXED:
      if (type == G_TYPE_STRV)
        {
          g_auto (GStrv) parts = g_strsplit_set (text, ",;", -1);
          g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
          for (guint i = 0; parts[i]; i++)
            {
              const gchar *part = g_strstrip (parts[i]);
              if (*part != '\0')
                g_strv_builder_add (builder, part);
            }
          g_value_take_boxed (value, g_strv_builder_end (builder));
          return TRUE;
        }
      break;
    case G_TYPE_OBJECT:
    case G_TYPE_INTERFACE:
      {
        GObject *object = lookup_object ? lookup_object (text, user_data) : NULL;
        if (object == NULL)
          {
            g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_NO_SUCH_STAGE,
                         "no model called \"%s\" in this pipeline", text);
            return FALSE;
          }
        if (!g_type_is_a (G_OBJECT_TYPE (object), type))
          {
            g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_BAD_VALUE,
                         "model %s is a %s, which does not play the role %s", text,
                         G_OBJECT_TYPE_NAME (object), g_type_name (type));
            return FALSE;
          }
        g_value_unset (value);
        g_value_init (value, type);
        g_value_set_object (value, object);
        return TRUE;
      }
    default:
      break;
    }
  g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_BAD_VALUE,
               "properties of type %s cannot be set from a pipeline file", g_type_name (type));
  return FALSE;
}

gchar *
_cxr_value_to_string (const GValue *value)
{
  GType type = G_VALUE_TYPE (value);

  switch (G_TYPE_FUNDAMENTAL (type))
    {
    case G_TYPE_BOOLEAN:
      return g_strdup (g_value_get_boolean (value) ? "true" : "false");
    case G_TYPE_STRING:
      return g_strdup (g_value_get_string (value));
    case G_TYPE_ENUM:
      {
        GEnumClass *klass = g_type_class_ref (type);
        GEnumValue *ev = g_enum_get_value (klass, g_value_get_enum (value));
        gchar *text = g_strdup (ev ? ev->value_nick : NULL);
        g_type_class_unref (klass);
        return text;
      }
    case G_TYPE_FLAGS:
      {
        GFlagsClass *klass = g_type_class_ref (type);
        GString *out = g_string_new (NULL);
        guint flags = g_value_get_flags (value);
        for (guint i = 0; i < klass->n_values; i++)
          if (klass->values[i].value && (flags & klass->values[i].value) == klass->values[i].value)
            g_string_append_printf (out, "%s%s", out->len ? "|" : "", klass->values[i].value_nick);
        g_type_class_unref (klass);
        return g_string_free (out, FALSE);
      }
    case G_TYPE_DOUBLE:
      {
        gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
        return g_strdup (g_ascii_dtostr (buf, sizeof buf, g_value_get_double (value)));
      }
    case G_TYPE_FLOAT:
      {
        gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
        return g_strdup (g_ascii_formatd (buf, sizeof buf, "%.9g", g_value_get_float (value)));
      }
    case G_TYPE_BOXED:
      if (type == G_TYPE_STRV)
        {
          const gchar *const *strv = g_value_get_boxed (value);
          return strv ? g_strjoinv (",", (gchar **) strv) : NULL;
        }
      return NULL;
    case G_TYPE_OBJECT:
    case G_TYPE_INTERFACE:
      {
        GObject *object = g_value_get_object (value);
        if (object && CXR_IS_MODEL (object))
          return g_strdup (cxr_model_get_name (CXR_MODEL (object)));
        return NULL;
      }
    default:
      {
        GValue text = G_VALUE_INIT;
        gchar *out = NULL;
        g_value_init (&text, G_TYPE_STRING);
        if (g_value_transform (value, &text))
          out = g_value_dup_string (&text);
        g_value_unset (&text);
        return out;
      }
    }
}

/**
 * cxr_param_spec_get_default_text:
 * @pspec: a property of a stage or model
 *
 * Returns: (transfer full) (nullable): the property's default as a
 *   pipeline file writes it, or %NULL if it has none
 */
gchar *
cxr_param_spec_get_default_text (GParamSpec *pspec)
{
  g_return_val_if_fail (G_IS_PARAM_SPEC (pspec), NULL);
  return _cxr_value_to_string (g_param_spec_get_default_value (pspec));
}

/**
 * cxr_param_spec_get_range_text:
 * @pspec: a property of a stage or model
 *
 * Returns: (transfer full) (nullable): the values the property takes, such
 *   as "between 1 and 1024" or "one of: reference, chexpert", or %NULL
 *   when any value of its type goes
 */
gchar *
cxr_param_spec_get_range_text (GParamSpec *pspec)
{
  g_return_val_if_fail (G_IS_PARAM_SPEC (pspec), NULL);
  return _cxr_describe_param_range (pspec);
}
