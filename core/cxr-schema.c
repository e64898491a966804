/* cxr-schema.c: the JSON Schema of pipeline files, from the registry.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxr-private.h"

/* A small pretty-printing JSON writer: enough for the schema. */
typedef struct {
  GString *out;
  guint depth;
  gboolean first; /* no member written yet at this depth */
} Json;

static void
json_newline (Json *j)
{
  g_string_append_c (j->out, '\n');
  for (guint i = 0; i < j->depth; i++)
    g_string_append (j->out, "  ");
}

static void
json_key (Json *j, const gchar *key)
{
  if (!j->first)
    g_string_append_c (j->out, ',');
  j->first = FALSE;
  json_newline (j);
  _cxr_json_append_string (j->out, key);
  g_string_append (j->out, ": ");
}

static void
json_open (Json *j, gchar bracket)
{
  g_string_append_c (j->out, bracket);
  j->depth++;
  j->first = TRUE;
}

static void
json_close (Json *j, gchar bracket)
{
  j->depth--;
  if (!j->first)
    json_newline (j);
  g_string_append_c (j->out, bracket);
  j->first = FALSE;
}

static void
json_string_member (Json *j, const gchar *key, const gchar *value)
{
  json_key (j, key);
  _cxr_json_append_string (j->out, value);
}

static void
json_array_string (Json *j, const gchar *value)
{
  if (!j->first)
    g_string_append_c (j->out, ',');
  j->first = FALSE;
  json_newline (j);
  _cxr_json_append_string (j->out, value);
}

static void
json_raw_member (Json *j, const gchar *key, const gchar *raw)
{
  json_key (j, key);
  g_string_append (j->out, raw);
}

static gint
compare_pspecs (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 ((*(GParamSpec *const *) a)->name, (*(GParamSpec *const *) b)->name);
}

static gchar *
number_text (gdouble v)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
  return g_strdup (g_ascii_dtostr (buf, sizeof buf, v));
}

static void
write_property (Json *j, GParamSpec *pspec)
{
  GType type = G_PARAM_SPEC_VALUE_TYPE (pspec);
  GType fundamental = G_TYPE_FUNDAMENTAL (type);
  const GValue *def = g_param_spec_get_default_value (pspec);
  const gchar *blurb = g_param_spec_get_blurb (pspec);

  json_key (j, pspec->name);
  json_open (j, '{');
  if (blurb)
    json_string_member (j, "description", blurb);
  switch (fundamental)
    {
    case G_TYPE_BOOLEAN:
      json_string_member (j, "type", "boolean");
      json_raw_member (j, "default", g_value_get_boolean (def) ? "true" : "false");
      break;
    case G_TYPE_INT:
    case G_TYPE_UINT:
    case G_TYPE_LONG:
    case G_TYPE_ULONG:
    case G_TYPE_INT64:
    case G_TYPE_UINT64:
      {
        g_auto (GValue) as_text = G_VALUE_INIT;
        gchar *min = NULL, *max = NULL;
        json_string_member (j, "type", "integer");
#define BOUNDS(SPEC, FMT, LO, HI)                                                   \
  do {                                                                              \
      SPEC *s = (SPEC *) pspec;                                                     \
      if (s->minimum != (LO)) min = g_strdup_printf (FMT, s->minimum);              \
      if (s->maximum != (HI)) max = g_strdup_printf (FMT, s->maximum);              \
  } while (0)
        if (fundamental == G_TYPE_INT)
          BOUNDS (GParamSpecInt, "%d", G_MININT, G_MAXINT);
        else if (fundamental == G_TYPE_UINT)
          BOUNDS (GParamSpecUInt, "%u", 0u, G_MAXUINT);
        else if (fundamental == G_TYPE_LONG)
          BOUNDS (GParamSpecLong, "%ld", G_MINLONG, G_MAXLONG);
        else if (fundamental == G_TYPE_ULONG)
          BOUNDS (GParamSpecULong, "%lu", 0ul, G_MAXULONG);
        else if (fundamental == G_TYPE_INT64)
          BOUNDS (GParamSpecInt64, "%" G_GINT64_FORMAT, G_MININT64, G_MAXINT64);
        else
          BOUNDS (GParamSpecUInt64, "%" G_GUINT64_FORMAT, (guint64) 0, G_MAXUINT64);
#undef BOUNDS
        if (min)
          json_raw_member (j, "minimum", min);
        if (max)
          json_raw_member (j, "maximum", max);
        g_free (min);
        g_free (max);
        g_value_init (&as_text, G_TYPE_STRING);
        g_value_transform (def, &as_text);
        json_raw_member (j, "default", g_value_get_string (&as_text));
        break;
      }
    case G_TYPE_DOUBLE:
    case G_TYPE_FLOAT:
      {
        gdouble lo, hi, dv, full;
        if (fundamental == G_TYPE_DOUBLE)
          {
            GParamSpecDouble *s = (GParamSpecDouble *) pspec;
            lo = s->minimum, hi = s->maximum, dv = s->default_value, full = G_MAXDOUBLE;
          }
        else
          {
            GParamSpecFloat *s = (GParamSpecFloat *) pspec;
            lo = s->minimum, hi = s->maximum, dv = s->default_value, full = G_MAXFLOAT;
          }
        json_string_member (j, "type", "number");
        if (lo > -full)
          {
            g_autofree gchar *t = number_text (lo);
            json_raw_member (j, "minimum", t);
          }
        if (hi < full)
          {
            g_autofree gchar *t = number_text (hi);
            json_raw_member (j, "maximum", t);
          }
        {
          g_autofree gchar *t = number_text (dv);
          json_raw_member (j, "default", t);
        }
        break;
      }
    case G_TYPE_ENUM:
    case G_TYPE_FLAGS:
      {
        g_autofree gchar *dtext = _cxr_value_to_string (def);
        json_string_member (j, "type", "string");
        if (fundamental == G_TYPE_ENUM)
          {
            GEnumClass *klass = ((GParamSpecEnum *) pspec)->enum_class;
            json_key (j, "enum");
            json_open (j, '[');
            for (guint i = 0; i < klass->n_values; i++)
              json_array_string (j, klass->values[i].value_nick);
            json_close (j, ']');
          }
        else
          {
            GFlagsClass *klass = ((GParamSpecFlags *) pspec)->flags_class;
            GString *pattern = g_string_new ("^$|^(");
            for (guint i = 0; i < klass->n_values; i++)
              g_string_append_printf (pattern, "%s%s", i ? "|" : "", klass->values[i].value_nick);
            g_string_append (pattern, ")([|,](");
            for (guint i = 0; i < klass->n_values; i++)
              g_string_append_printf (pattern, "%s%s", i ? "|" : "", klass->values[i].value_nick);
            g_string_append (pattern, "))*$");
            json_string_member (j, "pattern", pattern->str);
            g_string_free (pattern, TRUE);
          }
        if (dtext)
          json_string_member (j, "default", dtext);
        break;
      }
    case G_TYPE_STRING:
      json_string_member (j, "type", "string");
      if (g_value_get_string (def))
        json_string_member (j, "default", g_value_get_string (def));
      break;
    case G_TYPE_BOXED:
      if (type == G_TYPE_STRV)
        {
          const gchar *const *strv = g_value_get_boxed (def);
          json_string_member (j, "type", "array");
          json_raw_member (j, "items", "{\"type\": \"string\"}");
          if (strv)
            {
              json_key (j, "default");
              json_open (j, '[');
              for (guint i = 0; strv[i]; i++)
                json_array_string (j, strv[i]);
              json_close (j, ']');
            }
          break;
        }
      json_string_member (j, "type", "string");
      break;
    case G_TYPE_OBJECT:
    case G_TYPE_INTERFACE:
      {
        g_autofree gchar *note = g_strdup_printf ("the name of a [model] group whose type is a %s",
                                                  g_type_name (type));
        json_string_member (j, "type", "string");
        json_string_member (j, "x-cxr-model-role", g_type_name (type));
        json_string_member (j, "$comment", note);
        break;
      }
    default:
      json_string_member (j, "type", "string");
    }
  json_close (j, '}');
}

static void
write_type (Json *j, CxrRegistry *registry, const gchar *factory, gboolean is_stage)
{
  GType type = is_stage ? cxr_registry_find_stage_type (registry, factory)
                        : cxr_registry_find_model_type (registry, factory);
  GObjectClass *klass = g_type_class_ref (type);
  guint n_specs = 0;
  g_autofree GParamSpec **specs = g_object_class_list_properties (klass, &n_specs);
  g_autofree gchar *def_name = g_strdup_printf ("%s-%s", is_stage ? "stage" : "model", factory);

  json_key (j, def_name);
  json_open (j, '{');
  if (is_stage)
    {
      CxrStageClass *sklass = CXR_STAGE_CLASS (klass);
      const gchar *title = cxr_stage_class_get_metadata (sklass, "long-name");
      const gchar *description = cxr_stage_class_get_metadata (sklass, "description");
      if (title)
        json_string_member (j, "title", title);
      if (description)
        json_string_member (j, "description", description);
    }
  else
    json_string_member (j, "title", g_type_name (type));
  json_string_member (j, "type", "object");
  json_key (j, "properties");
  json_open (j, '{');
  json_key (j, "type");
  json_open (j, '{');
  json_string_member (j, "const", factory);
  json_close (j, '}');
  if (is_stage)
    {
      CxrStageClass *sklass = CXR_STAGE_CLASS (klass);
      guint n_in = cxr_stage_class_get_n_ports (sklass, CXR_PORT_INPUT);
      if (n_in > 0)
        {
          json_key (j, "input");
          json_open (j, '{');
          json_string_member (j, "type", "string");
          json_string_member (j, "description",
                              "Upstream stages, STAGE or STAGE.PORT, separated by commas, feeding "
                              "the input ports in order");
          json_close (j, '}');
        }
      for (guint p = 0; p < n_in; p++)
        {
          g_autofree gchar *key =
            g_strdup_printf ("input.%s", cxr_stage_class_get_port_name (sklass, CXR_PORT_INPUT, p));
          const gchar *description = cxr_stage_class_get_port_description (sklass, CXR_PORT_INPUT, p);
          json_key (j, key);
          json_open (j, '{');
          json_string_member (j, "type", "string");
          if (description)
            {
              g_autofree gchar *text = cxr_stage_class_get_port_optional (sklass, p)
                                         ? g_strdup_printf ("%s (optional)", description) : g_strdup (description);
              json_string_member (j, "description", text);
            }
          json_close (j, '}');
        }
    }
  g_qsort_with_data (specs, n_specs, sizeof (GParamSpec *), (GCompareDataFunc) compare_pspecs, NULL);
  for (guint i = 0; i < n_specs; i++)
    if ((specs[i]->flags & G_PARAM_WRITABLE) && !g_str_equal (specs[i]->name, "name"))
      write_property (j, specs[i]);
  json_close (j, '}');
  json_raw_member (j, "required", "[\"type\"]");
  json_raw_member (j, "additionalProperties", "false");
  json_close (j, '}');
  g_type_class_unref (klass);
}

static void
write_group_map (Json *j, const gchar *key, const gchar *description, const gchar *prefix,
                 gchar **factories)
{
  json_key (j, key);
  json_open (j, '{');
  json_string_member (j, "description", description);
  json_string_member (j, "type", "object");
  if (factories[0] == NULL)
    json_raw_member (j, "additionalProperties", "false");
  else
    {
      json_key (j, "additionalProperties");
      json_open (j, '{');
      json_key (j, "oneOf");
      json_open (j, '[');
      for (guint i = 0; factories[i]; i++)
        {
          g_autofree gchar *ref = g_strdup_printf ("{\"$ref\": \"#/$defs/%s-%s\"}", prefix, factories[i]);
          if (!j->first)
            g_string_append_c (j->out, ',');
          j->first = FALSE;
          json_newline (j);
          g_string_append (j->out, ref);
        }
      json_close (j, ']');
      json_close (j, '}');
    }
  json_close (j, '}');
}

/**
 * cxr_registry_get_json_schema:
 * @self: a registry
 *
 * Writes a JSON Schema (draft 2020-12) of pipeline files as they map to
 * JSON: an object with "pipeline", "stages" and "models" members, where
 * each `[stage NAME]` group is a member of "stages" named NAME whose value
 * holds the group's keys. Every stage and model type the registry knows is
 * described from its #GParamSpecs: types, ranges, defaults, descriptions.
 * The output is deterministic (sorted), so a copy can be checked in.
 *
 * Returns: (transfer full): the schema, JSON text ending in a newline
 */
gchar *
cxr_registry_get_json_schema (CxrRegistry *self)
{
  g_auto (GStrv) stages = NULL;
  g_auto (GStrv) models = NULL;
  Json j = { g_string_new (NULL), 0, TRUE };

  g_return_val_if_fail (CXR_IS_REGISTRY (self), NULL);
  stages = cxr_registry_list_stages (self);
  models = cxr_registry_list_models (self);

  json_open (&j, '{');
  json_string_member (&j, "$schema", "https://json-schema.org/draft/2020-12/schema");
  json_string_member (&j, "$id", "urn:cxrgen:pipeline:1.0");
  json_string_member (&j, "title", "cxrgen pipeline file");
  json_string_member (&j, "description",
                      "A .pipeline file as JSON: [pipeline] is \"pipeline\", each [stage NAME] "
                      "is stages.NAME and each [model NAME] is models.NAME, holding the group's "
                      "keys. Generated by `cxrgen schema` from the stage and model types of the "
                      "installed plugins.");
  json_string_member (&j, "type", "object");
  json_key (&j, "properties");
  json_open (&j, '{');
  json_key (&j, "pipeline");
  json_open (&j, '{');
  json_string_member (&j, "type", "object");
  json_raw_member (&j, "properties", "{\"description\": {\"type\": \"string\"}}");
  json_raw_member (&j, "additionalProperties", "false");
  json_close (&j, '}');
  write_group_map (&j, "stages", "The stages, by name", "stage", stages);
  write_group_map (&j, "models", "The models, by name", "model", models);
  json_close (&j, '}');
  json_raw_member (&j, "required", "[\"stages\"]");
  json_raw_member (&j, "additionalProperties", "false");
  json_key (&j, "$defs");
  json_open (&j, '{');
  for (guint i = 0; models[i]; i++)
    write_type (&j, self, models[i], FALSE);
  for (guint i = 0; stages[i]; i++)
    write_type (&j, self, stages[i], TRUE);
  json_close (&j, '}');
  json_close (&j, '}');
  g_string_append_c (j.out, '\n');
  return g_string_free (j.out, FALSE);
}
