/* cxr-json.c: a strict JSON parser that builds GVariants.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cxr.h"

/* Nesting deeper than this is refused: no input can exhaust the stack. */
#define MAX_DEPTH 64

typedef struct {
  const gchar *text;
  gsize length;
  gsize pos;
  const gchar *origin;
  GError **error;
} Parser;

static gboolean
fail (Parser *p, const gchar *what)
{
  guint line = 1, column = 1;

  for (gsize i = 0; i < p->pos && i < p->length; i++)
    {
      if (p->text[i] == '\n')
        line++, column = 1;
      else
        column++;
    }
  g_set_error (p->error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s:%u:%u: JSON: %s", p->origin, line,
               column, what);
  return FALSE;
}

static void
skip_space (Parser *p)
{
  while (p->pos < p->length &&
         (p->text[p->pos] == ' ' || p->text[p->pos] == '\t' || p->text[p->pos] == '\n' ||
          p->text[p->pos] == '\r'))
    p->pos++;
}

static gboolean
literal (Parser *p, const gchar *word)
{
  gsize n = strlen (word);

  if (p->length - p->pos < n || memcmp (p->text + p->pos, word, n) != 0)
    return FALSE;
  p->pos += n;
  return TRUE;
}

static gint
hex_digit (gchar c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static gboolean
read_hex4 (Parser *p, gunichar *out)
{
  gunichar v = 0;

  if (p->length - p->pos < 4)
    return fail (p, "a \\u escape needs four hex digits");
  for (guint i = 0; i < 4; i++)
    {
      gint d = hex_digit (p->text[p->pos + i]);
      if (d < 0)
        return fail (p, "a \\u escape needs four hex digits");
      v = v * 16 + (gunichar) d;
    }
  p->pos += 4;
  *out = v;
  return TRUE;
}

static gchar *
parse_string (Parser *p)
{
  GString *out = g_string_new (NULL);

  p->pos++; /* the opening quote */
  while (p->pos < p->length)
    {
      guchar c = (guchar) p->text[p->pos];

      if (c == '"')
        {
          p->pos++;
          if (!g_utf8_validate_len (out->str, out->len, NULL))
            {
              fail (p, "a string is not UTF-8");
              g_string_free (out, TRUE);
              return NULL;
            }
          return g_string_free (out, FALSE);
        }
      if (c < 0x20)
        {
          fail (p, "a control character inside a string");
          g_string_free (out, TRUE);
          return NULL;
        }
      if (c != '\\')
        {
          g_string_append_c (out, (gchar) c);
          p->pos++;
          continue;
        }
      p->pos++;
      if (p->pos >= p->length)
        break;
      c = (guchar) p->text[p->pos++];
      switch (c)
        {
        case '"': g_string_append_c (out, '"'); break;
        case '\\': g_string_append_c (out, '\\'); break;
        case '/': g_string_append_c (out, '/'); break;
        case 'b': g_string_append_c (out, '\b'); break;
        case 'f': g_string_append_c (out, '\f'); break;
        case 'n': g_string_append_c (out, '\n'); break;
        case 'r': g_string_append_c (out, '\r'); break;
        case 't': g_string_append_c (out, '\t'); break;
        case 'u':
          {
            gunichar u, low;
            if (!read_hex4 (p, &u))
              goto error;
            if (u >= 0xD800 && u <= 0xDBFF)
              {
                if (!literal (p, "\\u") || !read_hex4 (p, &low) || low < 0xDC00 || low > 0xDFFF)
                  {
                    fail (p, "a lone UTF-16 surrogate in a \\u escape");
                    goto error;
                  }
                u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
              }
            else if (u >= 0xDC00 && u <= 0xDFFF)
              {
                fail (p, "a lone UTF-16 surrogate in a \\u escape");
                goto error;
              }
            g_string_append_unichar (out, u);
            break;
          }
        default:
          fail (p, "an unknown escape in a string");
          goto error;
        }
    }
  fail (p, "a string is never closed");
error:
  g_string_free (out, TRUE);
  return NULL;
}

static GVariant *
parse_number (Parser *p)
{
  gsize start = p->pos;
  gboolean integer = TRUE;
  g_autofree gchar *text = NULL;

  if (p->text[p->pos] == '-')
    p->pos++;
  if (p->pos >= p->length || !g_ascii_isdigit (p->text[p->pos]))
    return fail (p, "a malformed number"), NULL;
  if (p->text[p->pos] == '0' && p->pos + 1 < p->length && g_ascii_isdigit (p->text[p->pos + 1]))
    return fail (p, "a number with a leading zero"), NULL;
  while (p->pos < p->length && g_ascii_isdigit (p->text[p->pos]))
    p->pos++;
  if (p->pos < p->length && p->text[p->pos] == '.')
    {
      integer = FALSE;
      p->pos++;
      if (p->pos >= p->length || !g_ascii_isdigit (p->text[p->pos]))
        return fail (p, "a malformed number"), NULL;
      while (p->pos < p->length && g_ascii_isdigit (p->text[p->pos]))
        p->pos++;
    }
  if (p->pos < p->length && (p->text[p->pos] == 'e' || p->text[p->pos] == 'E'))
    {
      integer = FALSE;
      p->pos++;
      if (p->pos < p->length && (p->text[p->pos] == '+' || p->text[p->pos] == '-'))
        p->pos++;
      if (p->pos >= p->length || !g_ascii_isdigit (p->text[p->pos]))
        return fail (p, "a malformed number"), NULL;
      while (p->pos < p->length && g_ascii_isdigit (p->text[p->pos]))
        p->pos++;
    }
  text = g_strndup (p->text + start, p->pos - start);
  if (integer)
    {
      gint64 s;
      guint64 u;
      if (g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &s, NULL))
        return g_variant_new_int64 (s);
      if (g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, &u, NULL))
        return g_variant_new_uint64 (u);
    }
  {
    gdouble d = g_ascii_strtod (text, NULL);
    if (!isfinite (d))
      return fail (p, "a number too large for a double"), NULL;
    return g_variant_new_double (d);
  }
}

static GVariant *parse_value (Parser *p, guint depth);

static GVariant *
parse_object (Parser *p, guint depth)
{
  GVariantBuilder builder;
  g_autoptr (GHashTable) keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{sv}"));
  p->pos++; /* { */
  skip_space (p);
  if (p->pos < p->length && p->text[p->pos] == '}')
    {
      p->pos++;
      return g_variant_builder_end (&builder);
    }
  for (;;)
    {
      gchar *key;
      GVariant *value;

      skip_space (p);
      if (p->pos >= p->length || p->text[p->pos] != '"')
        {
          fail (p, "expected a string key");
          goto error;
        }
      key = parse_string (p);
      if (key == NULL)
        goto error;
      if (g_hash_table_contains (keys, key))
        {
          g_autofree gchar *what = g_strdup_printf ("the key \"%s\" appears twice", key);
          g_free (key);
          fail (p, what);
          goto error;
        }
      g_hash_table_add (keys, key);
      skip_space (p);
      if (p->pos >= p->length || p->text[p->pos] != ':')
        {
          fail (p, "expected ':' after a key");
          goto error;
        }
      p->pos++;
      value = parse_value (p, depth + 1);
      if (value == NULL)
        goto error;
      g_variant_builder_add (&builder, "{sv}", key, value);
      skip_space (p);
      if (p->pos < p->length && p->text[p->pos] == ',')
        {
          p->pos++;
          continue;
        }
      if (p->pos < p->length && p->text[p->pos] == '}')
        {
          p->pos++;
          return g_variant_builder_end (&builder);
        }
      fail (p, "expected ',' or '}' in an object");
      goto error;
    }
error:
  g_variant_builder_clear (&builder);
  return NULL;
}

static GVariant *
parse_array (Parser *p, guint depth)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
  p->pos++; /* [ */
  skip_space (p);
  if (p->pos < p->length && p->text[p->pos] == ']')
    {
      p->pos++;
      return g_variant_builder_end (&builder);
    }
  for (;;)
    {
      GVariant *value = parse_value (p, depth + 1);
      if (value == NULL)
        goto error;
      g_variant_builder_add (&builder, "v", value);
      skip_space (p);
      if (p->pos < p->length && p->text[p->pos] == ',')
        {
          p->pos++;
          continue;
        }
      if (p->pos < p->length && p->text[p->pos] == ']')
        {
          p->pos++;
          return g_variant_builder_end (&builder);
        }
      fail (p, "expected ',' or ']' in an array");
      goto error;
    }
error:
  g_variant_builder_clear (&builder);
  return NULL;
}

static GVariant *
parse_value (Parser *p, guint depth)
{
  gchar c;

  if (depth > MAX_DEPTH)
    return fail (p, "nested too deeply"), NULL;
  skip_space (p);
  if (p->pos >= p->length)
    return fail (p, "unexpected end of the text"), NULL;
  c = p->text[p->pos];
  switch (c)
    {
    case '{':
      return parse_object (p, depth);
    case '[':
      return parse_array (p, depth);
    case '"':
      {
        gchar *s = parse_string (p);
        return s ? g_variant_new_take_string (s) : NULL;
      }
    case 't':
      if (literal (p, "true"))
        return g_variant_new_boolean (TRUE);
      break;
    case 'f':
      if (literal (p, "false"))
        return g_variant_new_boolean (FALSE);
      break;
    case 'n':
      if (literal (p, "null"))
        return g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL);
      break;
    default:
      if (c == '-' || g_ascii_isdigit (c))
        return parse_number (p);
    }
  return fail (p, "unexpected character"), NULL;
}

/**
 * cxr_json_parse:
 * @text: (array length=length): JSON text, UTF-8
 * @length: its length in bytes
 * @origin: (nullable): a name for messages, such as the file name
 * @error: return location for a #GError
 *
 * Parses one JSON value (RFC 8259, strictly: no comments, no trailing
 * commas, no duplicate keys, nesting at most 64 deep) into a #GVariant:
 * objects become `a{sv}` (keys in file order), arrays `av`, strings `s`,
 * integers `x` (or `t` above the int64 range), other numbers `d`, true and
 * false `b`, null an empty `mv`. Errors name @origin, the line and the
 * column.
 *
 * Returns: (transfer full): the value, or %NULL with @error set
 */
GVariant *
cxr_json_parse (const gchar *text, gsize length, const gchar *origin, GError **error)
{
  Parser p = { text, length, 0, origin ? origin : "<json>", error };
  GVariant *value;

  g_return_val_if_fail (text != NULL || length == 0, NULL);
  value = parse_value (&p, 0);
  if (value == NULL)
    return NULL;
  g_variant_ref_sink (value);
  skip_space (&p);
  if (p.pos != length)
    {
      fail (&p, "text after the value");
      g_variant_unref (value);
      return NULL;
    }
  return value;
}
