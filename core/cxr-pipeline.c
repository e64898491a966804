/* cxr-pipeline.c: a graph of stages and the models they share, and the
 * parser of .pipeline files.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "cxr-private.h"

/**
 * CxrPipeline:
 *
 * A graph of stages, linked output to input, and the models they share.
 *
 * A pipeline is built in code (cxr_pipeline_add_stage(),
 * cxr_pipeline_link()) or read from a `.pipeline` file, a keyfile with
 * one group per stage or model:
 *
 * |[
 * # prompts.pipeline: label vectors in, prompt lines out
 * [pipeline]
 * description=Turn label vectors into prompts
 *
 * [stage labels]
 * type=csv-source
 * path=${LABELS}
 *
 * [stage prompt]
 * type=label-prompt
 * input=labels
 *
 * [stage out]
 * type=csv-sink
 * input=prompt
 * path=${OUT:-out}/prompts.csv
 * ]|
 *
 * `type=` names a registered stage or model type; `input=` names the
 * upstream stage (`STAGE` or `STAGE.PORT`; several, separated by commas,
 * feed the input ports in order), and `input.PORT=` links a named input
 * port; every other key is a property of the stage, parsed by its
 * #GParamSpec. Lines starting with `#`, and text after a ` #` at the end of
 * a line, are comments. `${VAR}` expands from the overrides, then the
 * environment; `${VAR:-default}` gives a default; `$$` is a `$`.
 *
 * Every error names the file and line, the stage and the key.
 */

struct _CxrPipeline {
  GObject parent_instance;
  gchar *file;
  gchar *description;
  GPtrArray *stages; /* CxrStage, in the order added */
  GPtrArray *models; /* CxrModel */
  GPtrArray *links;  /* CxrLink */
};

enum {
  PROP_0,
  PROP_DESCRIPTION,
  PROP_FILE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (CxrPipeline, cxr_pipeline, G_TYPE_OBJECT)

static void
cxr_pipeline_set_gproperty (GObject *object, guint prop_id, const GValue *value,
                            GParamSpec *pspec)
{
  CxrPipeline *self = CXR_PIPELINE (object);

  switch (prop_id)
    {
    case PROP_DESCRIPTION:
      cxr_pipeline_set_description (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cxr_pipeline_get_gproperty (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  CxrPipeline *self = CXR_PIPELINE (object);

  switch (prop_id)
    {
    case PROP_DESCRIPTION:
      g_value_set_string (value, self->description);
      break;
    case PROP_FILE:
      g_value_set_string (value, self->file);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cxr_pipeline_finalize (GObject *object)
{
  CxrPipeline *self = CXR_PIPELINE (object);

  g_free (self->file);
  g_free (self->description);
  g_ptr_array_unref (self->links);
  g_ptr_array_unref (self->stages);
  g_ptr_array_unref (self->models);
  G_OBJECT_CLASS (cxr_pipeline_parent_class)->finalize (object);
}

static void
cxr_pipeline_class_init (CxrPipelineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->set_property = cxr_pipeline_set_gproperty;
  object_class->get_property = cxr_pipeline_get_gproperty;
  object_class->finalize = cxr_pipeline_finalize;

  properties[PROP_DESCRIPTION] =
    g_param_spec_string ("description", "Description", "What the pipeline does", NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_FILE] =
    g_param_spec_string ("file", "File", "The file the pipeline was read from", NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cxr_pipeline_init (CxrPipeline *self)
{
  self->stages = g_ptr_array_new_with_free_func (g_object_unref);
  self->models = g_ptr_array_new_with_free_func (g_object_unref);
  self->links = g_ptr_array_new_with_free_func (g_free);
}

/**
 * cxr_pipeline_new:
 *
 * Creates an empty pipeline, to fill in code.
 *
 * Returns: (transfer full): a new pipeline
 */
CxrPipeline *
cxr_pipeline_new (void)
{
  return g_object_new (CXR_TYPE_PIPELINE, NULL);
}

/**
 * cxr_pipeline_get_description:
 * @self: a pipeline
 *
 * Returns: (transfer none) (nullable): what the pipeline does
 */
const gchar *
cxr_pipeline_get_description (CxrPipeline *self)
{
  g_return_val_if_fail (CXR_IS_PIPELINE (self), NULL);
  return self->description;
}

/**
 * cxr_pipeline_set_description:
 * @self: a pipeline
 * @description: (nullable): what the pipeline does
 *
 * Sets the pipeline's description.
 */
void
cxr_pipeline_set_description (CxrPipeline *self, const gchar *description)
{
  g_return_if_fail (CXR_IS_PIPELINE (self));
  g_free (self->description);
  self->description = g_strdup (description);
}

/**
 * cxr_pipeline_get_file:
 * @self: a pipeline
 *
 * Returns: (transfer none) (nullable): the file the pipeline was read from
 */
const gchar *
cxr_pipeline_get_file (CxrPipeline *self)
{
  g_return_val_if_fail (CXR_IS_PIPELINE (self), NULL);
  return self->file;
}

static GObject *
find_named (CxrPipeline *self, const gchar *name)
{
  for (guint i = 0; i < self->stages->len; i++)
    if (g_strcmp0 (cxr_stage_get_name (g_ptr_array_index (self->stages, i)), name) == 0)
      return g_ptr_array_index (self->stages, i);
  for (guint i = 0; i < self->models->len; i++)
    if (g_strcmp0 (cxr_model_get_name (g_ptr_array_index (self->models, i)), name) == 0)
      return g_ptr_array_index (self->models, i);
  return NULL;
}

/**
 * cxr_pipeline_add_stage:
 * @self: a pipeline
 * @stage: a stage with a name no other stage or model of @self has
 * @error: return location for a #GError
 *
 * Adds a stage to the pipeline.
 *
 * Returns: %TRUE on success
 */
gboolean
cxr_pipeline_add_stage (CxrPipeline *self, CxrStage *stage, GError **error)
{
  const gchar *name;

  g_return_val_if_fail (CXR_IS_PIPELINE (self), FALSE);
  g_return_val_if_fail (CXR_IS_STAGE (stage), FALSE);
  name = cxr_stage_get_name (stage);
  if (name == NULL || *name == '\0')
    {
      g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_SYNTAX,
                   "a stage of type %s has no name", G_OBJECT_TYPE_NAME (stage));
      return FALSE;
    }
  if (find_named (self, name) != NULL)
    {
      g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_SYNTAX,
                   "the pipeline already has a stage or model called %s", name);
      return FALSE;
    }
  g_ptr_array_add (self->stages, g_object_ref (stage));
  return TRUE;
}

/**
 * cxr_pipeline_add_model:
 * @self: a pipeline
 * @model: a model with a name no other stage or model of @self has
 * @error: return location for a #GError
 *
 * Adds a model that stages of the pipeline can name.
 *
 * Returns: %TRUE on success
 */
gboolean
cxr_pipeline_add_model (CxrPipeline *self, CxrModel *model, GError **error)
{
  const gchar *name;

  g_return_val_if_fail (CXR_IS_PIPELINE (self), FALSE);
  g_return_val_if_fail (CXR_IS_MODEL (model), FALSE);
  name = cxr_model_get_name (model);
  if (name == NULL || *name == '\0')
    {
      g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_SYNTAX,
                   "a model of type %s has no name", G_OBJECT_TYPE_NAME (model));
      return FALSE;
    }
  if (find_named (self, name) != NULL)
    {
      g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_SYNTAX,
                   "the pipeline already has a stage or model called %s", name);
      return FALSE;
    }
  g_ptr_array_add (self->models, g_object_ref (model));
  return TRUE;
}

/**
 * cxr_pipeline_get_stage:
 * @self: a pipeline
 * @name: a stage name
 *
 * Returns: (transfer none) (nullable): the stage called @name, or %NULL
 */
CxrStage *
cxr_pipeline_get_stage (CxrPipeline *self, const gchar *name)
{
  GObject *object;

  g_return_val_if_fail (CXR_IS_PIPELINE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  object = find_named (self, name);
  return CXR_IS_STAGE (object) ? CXR_STAGE (object) : NULL;
}

/**
 * cxr_pipeline_get_model:
 * @self: a pipeline
 * @name: a model name
 *
 * Returns: (transfer none) (nullable): the model called @name, or %NULL
 */
CxrModel *
cxr_pipeline_get_model (CxrPipeline *self, const gchar *name)
{
  GObject *object;

  g_return_val_if_fail (CXR_IS_PIPELINE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  object = find_named (self, name);
  return object && CXR_IS_MODEL (object) ? CXR_MODEL (object) : NULL;
}

static GList *
array_to_list (GPtrArray *array)
{
  GList *list = NULL;
  for (guint i = array->len; i > 0; i--)
    list = g_list_prepend (list, g_ptr_array_index (array, i - 1));
  return list;
}

/**
 * cxr_pipeline_get_stages:
 * @self: a pipeline
 *
 * Returns: (transfer container) (element-type CxrStage): the stages, in
 *   the order they were added
 */
GList *
cxr_pipeline_get_stages (CxrPipeline *self)
{
  g_return_val_if_fail (CXR_IS_PIPELINE (self), NULL);
  return array_to_list (self->stages);
}

/**
 * cxr_pipeline_get_models:
 * @self: a pipeline
 *
 * Returns: (transfer container) (element-type CxrModel): the models
 */
GList *
cxr_pipeline_get_models (CxrPipeline *self)
{
  g_return_val_if_fail (CXR_IS_PIPELINE (self), NULL);
  return array_to_list (self->models);
}

GPtrArray *
_cxr_pipeline_get_links (CxrPipeline *self)
{
  return self->links;
}

static gchar **
stage_names (CxrPipeline *self)
{
  gchar **names = g_new0 (gchar *, self->stages->len + 1);
  for (guint i = 0; i < self->stages->len; i++)
    names[i] = g_strdup (cxr_stage_get_name (g_ptr_array_index (self->stages, i)));
  return names;
}

static gchar **
port_names (CxrStage *stage, CxrPortDirection direction)
{
  CxrStageClass *klass = CXR_STAGE_GET_CLASS (stage);
  guint n = cxr_stage_class_get_n_ports (klass, direction);
  gchar **names = g_new0 (gchar *, n + 1);

  for (guint i = 0; i < n; i++)
    names[i] = g_strdup (cxr_stage_class_get_port_name (klass, direction, i));
  return names;
}

/* Resolves "STAGE" or "STAGE.PORT" to a stage and a port index; PORT
 * defaults to @default_port. */
static CxrStage *
resolve_endpoint (CxrPipeline *self, const gchar *spec, CxrPortDirection direction,
                  guint default_port, guint *port, GError **error)
{
  g_autofree gchar *name = g_strdup (spec);
  gchar *dot = strchr (name, '.');
  CxrStage *stage;
  guint n_ports;

  if (dot)
    *dot++ = '\0';
  stage = cxr_pipeline_get_stage (self, name);
  if (stage == NULL)
    {
      g_auto (GStrv) names = stage_names (self);
      const gchar *closest = _cxr_closest_name (name, (const gchar *const *) names);
      if (closest)
        g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_NO_SUCH_STAGE,
                     "no stage called \"%s\"; did you mean \"%s\"?", name, closest);
      else
        g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_NO_SUCH_STAGE,
                     "no stage called \"%s\"", name);
      return NULL;
    }
  n_ports = cxr_stage_get_n_ports (stage, direction);
  if (dot == NULL)
    {
      if (default_port >= n_ports)
        {
          g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_LINK,
                       n_ports == 0 ? "stage %s (%s) has no %s port"
                                    : "stage %s (%s) has no %s port number %u",
                       name, cxr_stage_get_factory_name (stage) ? cxr_stage_get_factory_name (stage) : G_OBJECT_TYPE_NAME (stage),
                       direction == CXR_PORT_INPUT ? "input" : "output", default_port + 1);
          return NULL;
        }
      *port = default_port;
      return stage;
    }
  {
    gint index = cxr_stage_class_find_port (CXR_STAGE_GET_CLASS (stage), direction, dot);
    if (index < 0)
      {
        g_auto (GStrv) ports = port_names (stage, direction);
        g_autofree gchar *joined = g_strjoinv (", ", ports);
        g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_LINK,
                     "stage %s has no %s port \"%s\" (it has: %s)", name,
                     direction == CXR_PORT_INPUT ? "input" : "output", dot,
                     *joined ? joined : "none");
        return NULL;
      }
    *port = (guint) index;
  }
  return stage;
}

static gboolean
add_link (CxrPipeline *self, CxrStage *up, guint up_port, CxrStage *down, guint down_port,
          GError **error)
{
  CxrLink *link;

  for (guint i = 0; i < self->links->len; i++)
    {
      CxrLink *other = g_ptr_array_index (self->links, i);
      if (other->down == down && other->down_port == down_port)
        {
          g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_LINK,
                       "input port %s of stage %s is already fed by stage %s",
                       cxr_stage_class_get_port_name (CXR_STAGE_GET_CLASS (down), CXR_PORT_INPUT,
                                                      down_port),
                       cxr_stage_get_name (down), cxr_stage_get_name (other->up));
          return FALSE;
        }
    }
  link = g_new0 (CxrLink, 1);
  link->up = up;
  link->up_port = up_port;
  link->down = down;
  link->down_port = down_port;
  g_ptr_array_add (self->links, link);
  return TRUE;
}

/**
 * cxr_pipeline_link:
 * @self: a pipeline
 * @upstream: "STAGE" or "STAGE.PORT": where batches come from (output 0
 *   when no port is named)
 * @downstream: "STAGE" or "STAGE.PORT": where they go (the first input
 *   port not yet linked when no port is named)
 * @error: return location for a #GError
 *
 * Links an output of one stage to an input of another. Field checks
 * happen in cxr_pipeline_validate().
 *
 * Returns: %TRUE on success
 */
gboolean
cxr_pipeline_link (CxrPipeline *self, const gchar *upstream, const gchar *downstream,
                   GError **error)
{
  CxrStage *up, *down;
  guint up_port = 0, down_port = 0, first_free = 0;

  g_return_val_if_fail (CXR_IS_PIPELINE (self), FALSE);
  g_return_val_if_fail (upstream != NULL && downstream != NULL, FALSE);
  up = resolve_endpoint (self, upstream, CXR_PORT_OUTPUT, 0, &up_port, error);
  if (up == NULL)
    return FALSE;
  if (strchr (downstream, '.') == NULL)
    {
      CxrStage *target = cxr_pipeline_get_stage (self, downstream);
      /* First input port that nothing feeds yet. */
      for (gboolean taken = TRUE; target && taken; )
        {
          taken = FALSE;
          for (guint i = 0; i < self->links->len; i++)
            {
              CxrLink *other = g_ptr_array_index (self->links, i);
              if (other->down == target && other->down_port == first_free)
                {
                  taken = TRUE;
                  first_free++;
                  break;
                }
            }
        }
    }
  down = resolve_endpoint (self, downstream, CXR_PORT_INPUT, first_free, &down_port, error);
  if (down == NULL)
    return FALSE;
  return add_link (self, up, up_port, down, down_port, error);
}

/**
 * cxr_pipeline_get_upstream:
 * @self: a pipeline
 * @stage: a stage name
 *
 * Returns: (transfer full) (array zero-terminated=1): the names of the
 *   stages feeding @stage, in the order of its input ports
 */
gchar **
cxr_pipeline_get_upstream (CxrPipeline *self, const gchar *stage)
{
  CxrStage *down;
  guint n;
  gchar **names;

  g_return_val_if_fail (CXR_IS_PIPELINE (self), NULL);
  down = cxr_pipeline_get_stage (self, stage);
  n = down ? cxr_stage_get_n_ports (down, CXR_PORT_INPUT) : 0;
  names = g_new0 (gchar *, n + 1);
  for (guint i = 0, k = 0; i < n; i++)
    for (guint j = 0; j < self->links->len; j++)
      {
        CxrLink *link = g_ptr_array_index (self->links, j);
        if (link->down == down && link->down_port == i)
          names[k++] = g_strdup (cxr_stage_get_name (link->up));
      }
  return names;
}

/* ------------------------------------------------------------- validation */

static void
set_stage_error (GError **error, CxrStage *stage, const gchar *key, gint code,
                 const gchar *format, ...) G_GNUC_PRINTF (5, 6);

static void
set_stage_error (GError **error, CxrStage *stage, const gchar *key, gint code,
                 const gchar *format, ...)
{
  g_autofree gchar *where = _cxr_object_describe_location (G_OBJECT (stage), key);
  g_autofree gchar *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, CXR_PIPELINE_ERROR, code, "%s: %s", where, what);
}

/**
 * cxr_pipeline_get_sorted_stages:
 * @self: a pipeline
 * @error: return location for a #GError
 *
 * Orders the stages so that each comes after every stage that feeds it.
 *
 * Returns: (transfer container) (element-type CxrStage): the stages in
 *   order, or %NULL with @error set if they form a cycle
 */
GList *
cxr_pipeline_get_sorted_stages (CxrPipeline *self, GError **error)
{
  guint n = self->stages->len;
  g_autofree guint *pending = g_new0 (guint, n);
  g_autofree gboolean *done = g_new0 (gboolean, n);
  GList *order = NULL;
  guint n_done = 0;

  g_return_val_if_fail (CXR_IS_PIPELINE (self), NULL);
  for (guint j = 0; j < self->links->len; j++)
    {
      CxrLink *link = g_ptr_array_index (self->links, j);
      guint index;
      if (g_ptr_array_find (self->stages, link->down, &index))
        pending[index]++;
    }
  /* Kahn's algorithm, taking stages in the order added among the ready. */
  while (n_done < n)
    {
      gboolean progressed = FALSE;
      for (guint i = 0; i < n; i++)
        {
          CxrStage *stage;
          if (done[i] || pending[i] > 0)
            continue;
          stage = g_ptr_array_index (self->stages, i);
          done[i] = TRUE;
          n_done++;
          progressed = TRUE;
          order = g_list_prepend (order, stage);
          for (guint j = 0; j < self->links->len; j++)
            {
              CxrLink *link = g_ptr_array_index (self->links, j);
              guint index;
              if (link->up == stage && g_ptr_array_find (self->stages, link->down, &index))
                pending[index]--;
            }
          break;
        }
      if (!progressed)
        break;
    }
  if (n_done < n)
    {
      /* Walk back from a stage left over to show the cycle. */
      GString *cycle = g_string_new (NULL);
      CxrStage *first = NULL, *at;
      for (guint i = 0; i < n && first == NULL; i++)
        if (!done[i])
          first = g_ptr_array_index (self->stages, i);
      at = first;
      for (guint steps = 0; steps <= n; steps++)
        {
          CxrStage *prev = NULL;
          for (guint j = 0; j < self->links->len && prev == NULL; j++)
            {
              CxrLink *link = g_ptr_array_index (self->links, j);
              guint index;
              if (link->down == at && g_ptr_array_find (self->stages, link->up, &index) &&
                  !done[index])
                prev = link->up;
            }
          g_string_prepend (cycle, cxr_stage_get_name (at));
          if (prev == NULL || prev == first)
            {
              g_string_prepend (cycle, " -> ");
              g_string_prepend (cycle, cxr_stage_get_name (first));
              break;
            }
          g_string_prepend (cycle, " -> ");
          at = prev;
        }
      set_stage_error (error, first, "input", CXR_PIPELINE_ERROR_CYCLE,
                       "the stages form a cycle: %s", cycle->str);
      g_string_free (cycle, TRUE);
      g_list_free (order);
      return NULL;
    }
  return g_list_reverse (order);
}

typedef struct {
  CxrStage *stage;
  GPtrArray *out_fields; /* per output port: GHashTable set of field names */
} StageFields;

static void
stage_fields_free (gpointer data)
{
  StageFields *sf = data;
  g_ptr_array_unref (sf->out_fields);
  g_free (sf);
}

static gchar *
describe_fields (GHashTable *set)
{
  g_autofree const gchar **keys = (const gchar **) g_hash_table_get_keys_as_array (set, NULL);
  guint n = g_hash_table_size (set);
  g_autofree gchar **sorted = g_new0 (gchar *, n + 1);

  for (guint i = 0; i < n; i++)
    sorted[i] = (gchar *) keys[i];
  for (guint i = 1; i < n; i++) /* insertion sort: a handful of names */
    for (guint j = i; j > 0 && strcmp (sorted[j - 1], sorted[j]) > 0; j--)
      {
        gchar *t = sorted[j];
        sorted[j] = sorted[j - 1];
        sorted[j - 1] = t;
      }
  return n ? g_strjoinv (", ", sorted) : g_strdup ("no fields");
}

/**
 * cxr_pipeline_validate:
 * @self: a pipeline
 * @error: return location for a #GError
 *
 * Checks the graph before anything runs: every input port is fed, the
 * stages form no cycle, and every field a stage needs is carried by the
 * batches that reach it.
 *
 * Returns: %TRUE if the pipeline can run
 */
gboolean
cxr_pipeline_validate (CxrPipeline *self, GError **error)
{
  g_autoptr (GList) order = NULL;
  g_autoptr (GHashTable) fields = NULL; /* CxrStage -> StageFields */

  g_return_val_if_fail (CXR_IS_PIPELINE (self), FALSE);
  if (self->stages->len == 0)
    {
      g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_SYNTAX, "%s%sthe pipeline has no stages",
                   self->file ? self->file : "", self->file ? ": " : "");
      return FALSE;
    }
  /* Every input port fed. */
  for (guint i = 0; i < self->stages->len; i++)
    {
      CxrStage *stage = g_ptr_array_index (self->stages, i);
      guint n = cxr_stage_get_n_ports (stage, CXR_PORT_INPUT);
      for (guint port = 0; port < n; port++)
        {
          gboolean fed = FALSE;
          for (guint j = 0; j < self->links->len && !fed; j++)
            {
              CxrLink *link = g_ptr_array_index (self->links, j);
              fed = link->down == stage && link->down_port == port;
            }
          if (!fed && !cxr_stage_class_get_port_optional (CXR_STAGE_GET_CLASS (stage), port))
            {
              const gchar *port_name =
                cxr_stage_class_get_port_name (CXR_STAGE_GET_CLASS (stage), CXR_PORT_INPUT, port);
              set_stage_error (error, stage, "input", CXR_PIPELINE_ERROR_LINK,
                               port == 0 ? "missing: the stage needs an input (input=STAGE)"
                                         : "missing: input port %s is not linked (input.%s=STAGE)",
                               port_name, port_name);
              return FALSE;
            }
        }
    }
  order = cxr_pipeline_get_sorted_stages (self, error);
  if (order == NULL)
    return FALSE;

  /* Fields, in order: what each output carries, checked against what
   * each input needs. */
  fields = g_hash_table_new_full (NULL, NULL, NULL, stage_fields_free);
  for (GList *l = order; l; l = l->next)
    {
      CxrStage *stage = l->data;
      StageFields *sf = g_new0 (StageFields, 1);
      guint n_in = cxr_stage_get_n_ports (stage, CXR_PORT_INPUT);
      guint n_out = cxr_stage_get_n_ports (stage, CXR_PORT_OUTPUT);
      g_autoptr (GHashTable) incoming = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

      sf->stage = stage;
      sf->out_fields = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);
      g_hash_table_insert (fields, stage, sf);

      for (guint port = 0; port < n_in; port++)
        {
          g_auto (GStrv) needed = cxr_stage_get_port_fields (stage, CXR_PORT_INPUT, port);
          CxrLink *feed = NULL;
          GHashTable *carried;

          for (guint j = 0; j < self->links->len && feed == NULL; j++)
            {
              CxrLink *link = g_ptr_array_index (self->links, j);
              if (link->down == stage && link->down_port == port)
                feed = link;
            }
          if (feed == NULL)
            continue; /* an optional input left unlinked */
          carried = g_ptr_array_index (((StageFields *) g_hash_table_lookup (fields, feed->up))->out_fields,
                                       feed->up_port);
          for (guint k = 0; needed[k]; k++)
            if (!g_hash_table_contains (carried, needed[k]))
              {
                g_autofree gchar *have = describe_fields (carried);
                set_stage_error (error, stage, "input", CXR_PIPELINE_ERROR_LINK,
                                 "needs field \"%s\", but the batches from stage %s carry %s",
                                 needed[k], cxr_stage_get_name (feed->up), have);
                return FALSE;
              }
          /* what passes on: the fields of every input but those the
           * stage keeps */
          if (!cxr_stage_class_get_input_kept (CXR_STAGE_GET_CLASS (stage), port))
            {
              GHashTableIter iter;
              gpointer key;
              g_hash_table_iter_init (&iter, carried);
              while (g_hash_table_iter_next (&iter, &key, NULL))
                g_hash_table_add (incoming, g_strdup (key));
            }
        }
      for (guint port = 0; port < n_out; port++)
        {
          GHashTable *set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
          g_auto (GStrv) added = cxr_stage_get_port_fields (stage, CXR_PORT_OUTPUT, port);

          if (cxr_stage_class_get_port_passthrough (CXR_STAGE_GET_CLASS (stage), port))
            {
              GHashTableIter iter;
              gpointer key;
              g_hash_table_iter_init (&iter, incoming);
              while (g_hash_table_iter_next (&iter, &key, NULL))
                g_hash_table_add (set, g_strdup (key));
            }
          for (guint k = 0; added[k]; k++)
            g_hash_table_add (set, g_strdup (added[k]));
          g_ptr_array_add (sf->out_fields, set);
        }
    }
  return TRUE;
}

/* ----------------------------------------------------------------- parser */

typedef struct {
  gchar *key;
  gchar *value;
  guint line;
  gboolean from_override;
} Entry;

typedef struct {
  gchar *kind; /* "pipeline", "stage" or "model" */
  gchar *name; /* NULL for [pipeline] */
  guint line;
  GPtrArray *entries;
} Group;

static void
entry_free (gpointer data)
{
  Entry *entry = data;
  g_free (entry->key);
  g_free (entry->value);
  g_free (entry);
}

static void
group_free (gpointer data)
{
  Group *group = data;
  g_free (group->kind);
  g_free (group->name);
  g_ptr_array_unref (group->entries);
  g_free (group);
}

typedef struct {
  const gchar *origin;
  GPtrArray *groups;          /* Group */
  GHashTable *variables;      /* from overrides */
} Parser;

static gboolean
valid_name (const gchar *name)
{
  if (name == NULL || *name == '\0')
    return FALSE;
  for (const gchar *p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

static gboolean
valid_key (const gchar *key)
{
  if (key == NULL || *key == '\0')
    return FALSE;
  for (const gchar *p = key; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  return TRUE;
}

static Group *
find_group (Parser *parser, const gchar *name)
{
  for (guint i = 0; i < parser->groups->len; i++)
    {
      Group *group = g_ptr_array_index (parser->groups, i);
      if (g_strcmp0 (group->name, name) == 0)
        return group;
    }
  return NULL;
}

static Entry *
find_entry (Group *group, const gchar *key)
{
  for (guint i = 0; i < group->entries->len; i++)
    {
      Entry *entry = g_ptr_array_index (group->entries, i);
      if (g_str_equal (entry->key, key))
        return entry;
    }
  return NULL;
}

static gchar *
group_label (Group *group)
{
  if (group->name == NULL)
    return g_strdup ("[pipeline]");
  return g_strdup_printf ("%s %s", group->kind, group->name);
}

/* Removes a trailing comment: "#" at the start of the value, or after
 * whitespace. "\#" is a literal "#". */
static gchar *
strip_comment (const gchar *value)
{
  GString *out = g_string_new (NULL);

  for (const gchar *p = value; *p; p++)
    {
      if (p[0] == '\\' && p[1] == '#')
        {
          g_string_append_c (out, '#');
          p++;
          continue;
        }
      if (*p == '#' && (p == value || g_ascii_isspace (p[-1])))
        break;
      g_string_append_c (out, *p);
    }
  return g_strstrip (g_string_free (out, FALSE));
}

static gboolean
parse_lines (Parser *parser, const gchar *data, GError **error)
{
  g_auto (GStrv) lines = g_strsplit (data, "\n", -1);
  Group *current = NULL;

  if (!g_utf8_validate (data, -1, NULL))
    {
      g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_SYNTAX,
                   "%s: the file is not UTF-8 text", parser->origin);
      return FALSE;
    }
  for (guint i = 0; lines[i]; i++)
    {
      guint line = i + 1;
      gchar *text = g_strstrip (lines[i]);

      if (*text == '\0' || *text == '#' || *text == ';')
        continue;
      if (*text == '[')
        {
          gchar *end = strchr (text, ']');
          g_auto (GStrv) words = NULL;
          g_autofree gchar *rest = NULL;
          Group *group;

          if (end == NULL || (rest = strip_comment (end + 1), *rest != '\0'))
            {
              g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_SYNTAX,
                           "%s:%u: a group header must be [pipeline], [stage NAME] or [model NAME]",
                           parser->origin, line);
              return FALSE;
            }
          *end = '\0';
          words = g_strsplit_set (g_strstrip (text + 1), " \t", -1);
          {
            /* Drop empty words from runs of blanks. */
            guint k = 0;
            for (guint j = 0; words[j]; j++)
              if (*words[j] != '\0')
                words[k++] = words[j];
              else
                g_free (words[j]);
            words[k] = NULL;
          }
          group = g_new0 (Group, 1);
          group->line = line;
          group->entries = g_ptr_array_new_with_free_func (entry_free);
          if (g_strv_length (words) == 1 && g_str_equal (words[0], "pipeline"))
            group->kind = g_strdup ("pipeline");
          else if (g_strv_length (words) == 2 &&
                   (g_str_equal (words[0], "stage") || g_str_equal (words[0], "model")))
            {
              group->kind = g_strdup (words[0]);
              group->name = g_strdup (words[1]);
            }
          else
            {
              group_free (group);
              g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_SYNTAX,
                           "%s:%u: unknown group [%s]: a group is [pipeline], [stage NAME] or [model NAME]",
                           parser->origin, line, text + 1);
              return FALSE;
            }
          if (group->name != NULL && !valid_name (group->name))
            {
              g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_SYNTAX,
                           "%s:%u: %s name \"%s\": use letters, digits, '-' and '_'",
                           parser->origin, line, group->kind, group->name);
              group_free (group);
              return FALSE;
            }
          {
            Group *other = NULL;
            for (guint j = 0; j < parser->groups->len && other == NULL; j++)
              {
                Group *g = g_ptr_array_index (parser->groups, j);
                if (g_strcmp0 (g->name, group->name) == 0)
                  other = g;
              }
            if (other != NULL)
              {
                g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_SYNTAX,
                             "%s:%u: %s%s%s is declared twice (first at line %u)", parser->origin,
                             line, group->name ? group->kind : "[pipeline]",
                             group->name ? " " : "", group->name ? group->name : "", other->line);
                group_free (group);
                return FALSE;
              }
          }
          g_ptr_array_add (parser->groups, group);
          current = group;
          continue;
        }
      {
        gchar *eq = strchr (text, '=');
        g_autofree gchar *key = NULL;
        Entry *entry;

        if (eq == NULL)
          {
            g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_SYNTAX,
                         "%s:%u: expected KEY=VALUE or a [group] header", parser->origin, line);
            return FALSE;
          }
        key = g_strstrip (g_strndup (text, eq - text));
        if (!valid_key (key))
          {
            g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_SYNTAX,
                         "%s:%u: \"%s\" is not a key: use letters, digits, '-', '_' and '.'",
                         parser->origin, line, key);
            return FALSE;
          }
        if (current == NULL)
          {
            g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_SYNTAX,
                         "%s:%u: key %s comes before any [group] header", parser->origin, line, key);
            return FALSE;
          }
        if (find_entry (current, key) != NULL)
          {
            g_autofree gchar *label = group_label (current);
            g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_SYNTAX,
                         "%s:%u: %s: key %s: given twice (first at line %u)", parser->origin, line,
                         label, key, find_entry (current, key)->line);
            return FALSE;
          }
        entry = g_new0 (Entry, 1);
        entry->key = g_steal_pointer (&key);
        entry->value = strip_comment (eq + 1);
        entry->line = line;
        g_ptr_array_add (current->entries, entry);
      }
    }
  return TRUE;
}

/* Expands ${VAR}, ${VAR:-DEFAULT} (DEFAULT may hold more ${...}) and $$ in
 * @text. Returns NULL with *missing set to the variable that is not set. */
static gchar *
expand_text (Parser *parser, const gchar *text, gchar **missing, gboolean *unterminated)
{
  GString *out = g_string_new (NULL);
  const gchar *p = text;

  while (*p)
    {
      if (p[0] == '$' && p[1] == '$')
        {
          g_string_append_c (out, '$');
          p += 2;
          continue;
        }
      if (p[0] == '$' && p[1] == '{')
        {
          const gchar *end = p + 2;
          guint depth = 1;
          g_autofree gchar *inner = NULL;
          gchar *fallback;
          const gchar *value;

          for (; *end && depth > 0; end++)
            {
              if (end[0] == '$' && end[1] == '{')
                depth++, end++;
              else if (*end == '}')
                depth--;
            }
          if (depth > 0)
            {
              *unterminated = TRUE;
              g_string_free (out, TRUE);
              return NULL;
            }
          inner = g_strndup (p + 2, (end - 1) - (p + 2));
          fallback = strstr (inner, ":-");
          if (fallback)
            {
              *fallback = '\0';
              fallback += 2;
            }
          value = g_hash_table_lookup (parser->variables, inner);
          if (value == NULL)
            value = g_getenv (inner);
          if (value != NULL && (*value != '\0' || fallback == NULL))
            g_string_append (out, value);
          else if (fallback != NULL)
            {
              gchar *expanded = expand_text (parser, fallback, missing, unterminated);
              if (expanded == NULL)
                {
                  g_string_free (out, TRUE);
                  return NULL;
                }
              g_string_append (out, expanded);
              g_free (expanded);
            }
          else
            {
              *missing = g_strdup (inner);
              g_string_free (out, TRUE);
              return NULL;
            }
          p = end;
          continue;
        }
      g_string_append_c (out, *p++);
    }
  return g_string_free (out, FALSE);
}

static gboolean
expand_variables (Parser *parser, Group *group, Entry *entry, GError **error)
{
  g_autofree gchar *missing = NULL;
  gboolean unterminated = FALSE;
  gchar *expanded = expand_text (parser, entry->value, &missing, &unterminated);

  if (expanded == NULL)
    {
      g_autofree gchar *label = group_label (group);
      if (unterminated)
        g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_SYNTAX,
                     "%s:%u: %s: key %s: unterminated ${", parser->origin, entry->line, label,
                     entry->key);
      else
        g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_VARIABLE,
                     "%s:%u: %s: key %s: variable %s is not set (give it with --set %s=VALUE, "
                     "in the environment, or write ${%s:-DEFAULT})",
                     parser->origin, entry->line, label, entry->key, missing, missing, missing);
      return FALSE;
    }
  g_free (entry->value);
  entry->value = expanded;
  return TRUE;
}

static gboolean
apply_overrides (Parser *parser, const gchar *const *overrides, GError **error)
{
  for (guint i = 0; overrides && overrides[i]; i++)
    {
      const gchar *eq = strchr (overrides[i], '=');
      g_autofree gchar *target = NULL;
      gchar *dot;

      if (eq == NULL || eq == overrides[i])
        {
          g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_SYNTAX,
                       "--set %s: expected VAR=VALUE or STAGE.KEY=VALUE", overrides[i]);
          return FALSE;
        }
      target = g_strndup (overrides[i], eq - overrides[i]);
      dot = strchr (target, '.');
      if (dot == NULL)
        {
          g_hash_table_replace (parser->variables, g_strdup (target), g_strdup (eq + 1));
          continue;
        }
      *dot = '\0';
      {
        Group *group = find_group (parser, target);
        Entry *entry;

        if (group == NULL || group->name == NULL)
          {
            g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_NO_SUCH_STAGE,
                         "--set %s: the pipeline has no stage or model called %s", overrides[i],
                         target);
            return FALSE;
          }
        entry = find_entry (group, dot + 1);
        if (entry == NULL)
          {
            entry = g_new0 (Entry, 1);
            entry->key = g_strdup (dot + 1);
            entry->line = group->line;
            g_ptr_array_add (group->entries, entry);
          }
        g_free (entry->value);
        entry->value = g_strdup (eq + 1);
        entry->from_override = TRUE;
      }
    }
  return TRUE;
}

static GObject *
lookup_model (const gchar *name, gpointer user_data)
{
  CxrPipeline *pipeline = user_data;
  return G_OBJECT (cxr_pipeline_get_model (pipeline, name));
}

static gboolean
set_properties (CxrPipeline *self, Parser *parser, Group *group, GObject *object, GError **error)
{
  for (guint i = 0; i < group->entries->len; i++)
    {
      Entry *entry = g_ptr_array_index (group->entries, i);
      g_autofree gchar *where = NULL;
      g_autoptr (GError) local = NULL;
      g_auto (GValue) value = G_VALUE_INIT;
      GParamSpec *pspec;

      _cxr_object_set_key_line (object, entry->key, entry->line);
      if (g_str_equal (entry->key, "type") || g_str_equal (entry->key, "input") ||
          g_str_has_prefix (entry->key, "input."))
        continue;
      where = _cxr_object_describe_location (object, entry->key);
      if (entry->from_override)
        {
          g_free (where);
          where = g_strdup_printf ("--set %s.%s", group->name, entry->key);
        }
      pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (object), entry->key);
      if (pspec == NULL || g_str_equal (entry->key, "name") || !(pspec->flags & G_PARAM_WRITABLE))
        {
          guint n_specs = 0;
          g_autofree GParamSpec **specs =
            g_object_class_list_properties (G_OBJECT_GET_CLASS (object), &n_specs);
          g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
          g_auto (GStrv) names = NULL;
          const gchar *closest;

          for (guint k = 0; k < n_specs; k++)
            if ((specs[k]->flags & G_PARAM_WRITABLE) && !g_str_equal (specs[k]->name, "name"))
              g_strv_builder_add (builder, specs[k]->name);
          if (CXR_IS_STAGE (object))
            g_strv_builder_add (builder, "input");
          names = g_strv_builder_end (builder);
          closest = _cxr_closest_name (entry->key, (const gchar *const *) names);
          if (g_str_equal (entry->key, "name"))
            g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_NO_SUCH_PROPERTY,
                         "%s: the name is given by the group header, [%s NAME]", where,
                         group->kind);
          else if (closest)
            g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_NO_SUCH_PROPERTY,
                         "%s: no such key; did you mean \"%s\"?", where, closest);
          else
            g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_NO_SUCH_PROPERTY,
                         "%s: no such key (`cxrgen inspect %s` lists the keys)", where,
                         find_entry (group, "type")->value);
          return FALSE;
        }
      if (!_cxr_value_from_string (pspec, entry->value, &value, lookup_model, self, &local))
        {
          g_set_error (error, CXR_PIPELINE_ERROR, local->code, "%s: %s", where, local->message);
          return FALSE;
        }
      g_object_set_property (object, entry->key, &value);
    }
  return TRUE;
}

static gboolean
link_inputs (CxrPipeline *self, Parser *parser, Group *group, CxrStage *stage, GError **error)
{
  for (guint i = 0; i < group->entries->len; i++)
    {
      Entry *entry = g_ptr_array_index (group->entries, i);
      g_auto (GStrv) sources = NULL;
      const gchar *port_name = NULL;
      guint next_port = 0;

      if (g_str_equal (entry->key, "input"))
        port_name = NULL;
      else if (g_str_has_prefix (entry->key, "input."))
        port_name = entry->key + strlen ("input.");
      else
        continue;

      if (cxr_stage_get_n_ports (stage, CXR_PORT_INPUT) == 0)
        {
          g_autofree gchar *where = _cxr_object_describe_location (G_OBJECT (stage), entry->key);
          g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_LINK,
                       "%s: stage type %s is a source and takes no input", where,
                       cxr_stage_get_factory_name (stage));
          return FALSE;
        }
      if (port_name != NULL)
        {
          gint index = cxr_stage_class_find_port (CXR_STAGE_GET_CLASS (stage), CXR_PORT_INPUT,
                                                  port_name);
          if (index < 0)
            {
              g_autofree gchar *where = _cxr_object_describe_location (G_OBJECT (stage), entry->key);
              g_auto (GStrv) ports = port_names (stage, CXR_PORT_INPUT);
              g_autofree gchar *joined = g_strjoinv (", ", ports);
              g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_LINK,
                           "%s: stage type %s has no input port \"%s\" (it has: %s)", where,
                           cxr_stage_get_factory_name (stage), port_name, joined);
              return FALSE;
            }
          next_port = (guint) index;
        }
      sources = g_strsplit_set (entry->value, ",", -1);
      for (guint k = 0; sources[k]; k++)
        {
          const gchar *source = g_strstrip (sources[k]);
          g_autoptr (GError) local = NULL;
          guint up_port = 0, down_port = next_port++;
          CxrStage *up;

          if (*source == '\0')
            continue;
          if (down_port >= cxr_stage_get_n_ports (stage, CXR_PORT_INPUT) || (port_name && k > 0))
            {
              g_autofree gchar *where = _cxr_object_describe_location (G_OBJECT (stage), entry->key);
              g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_LINK,
                           "%s: too many inputs: stage type %s has %u input port%s", where,
                           cxr_stage_get_factory_name (stage),
                           cxr_stage_get_n_ports (stage, CXR_PORT_INPUT),
                           cxr_stage_get_n_ports (stage, CXR_PORT_INPUT) == 1 ? "" : "s");
              return FALSE;
            }
          up = resolve_endpoint (self, source, CXR_PORT_OUTPUT, 0, &up_port, &local);
          if (up == NULL || !add_link (self, up, up_port, stage, down_port, &local))
            {
              g_autofree gchar *where = _cxr_object_describe_location (G_OBJECT (stage), entry->key);
              g_set_error (error, CXR_PIPELINE_ERROR, local->code, "%s: %s", where, local->message);
              return FALSE;
            }
        }
    }
  return TRUE;
}

static gboolean
build_pipeline (CxrPipeline *self, Parser *parser, GError **error)
{
  CxrRegistry *registry = cxr_registry_get_default ();

  /* [pipeline] and variables first, then models (stages name them), then
   * stages, then links (inputs may name stages declared later). */
  for (guint i = 0; i < parser->groups->len; i++)
    {
      Group *group = g_ptr_array_index (parser->groups, i);
      for (guint k = 0; k < group->entries->len; k++)
        if (!expand_variables (parser, group, g_ptr_array_index (group->entries, k), error))
          return FALSE;
      if (group->name != NULL)
        continue;
      for (guint k = 0; k < group->entries->len; k++)
        {
          Entry *entry = g_ptr_array_index (group->entries, k);
          if (g_str_equal (entry->key, "description"))
            cxr_pipeline_set_description (self, entry->value);
          else
            {
              static const gchar *const known[] = { "description", NULL };
              const gchar *closest = _cxr_closest_name (entry->key, known);
              g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_NO_SUCH_PROPERTY,
                           "%s:%u: [pipeline]: key %s: no such key%s%s%s", parser->origin,
                           entry->line, entry->key, closest ? "; did you mean \"" : " (only description)",
                           closest ? closest : "", closest ? "\"?" : "");
              return FALSE;
            }
        }
    }
  for (guint pass = 0; pass < 2; pass++)
    for (guint i = 0; i < parser->groups->len; i++)
      {
        Group *group = g_ptr_array_index (parser->groups, i);
        gboolean is_model = g_strcmp0 (group->kind, "model") == 0;
        Entry *type;
        g_autoptr (GError) local = NULL;
        g_autoptr (GObject) object = NULL;

        if (group->name == NULL || is_model != (pass == 0))
          continue;
        type = find_entry (group, "type");
        if (type == NULL || *type->value == '\0')
          {
            g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_SYNTAX,
                         "%s:%u: %s %s: key type: missing: every %s needs type=",
                         parser->origin, group->line, group->kind, group->name, group->kind);
            return FALSE;
          }
        if (is_model)
          object = (GObject *) cxr_registry_make_model (registry, type->value, group->name, &local);
        else
          object = (GObject *) cxr_registry_make_stage (registry, type->value, group->name, &local);
        if (object == NULL)
          {
            g_set_error (error, CXR_PIPELINE_ERROR, local->code, "%s:%u: %s %s: key type: %s",
                         parser->origin, type->line, group->kind, group->name, local->message);
            return FALSE;
          }
        _cxr_object_set_origin (object, parser->origin, group->line);
        if (!set_properties (self, parser, group, object, error))
          return FALSE;
        if (is_model)
          cxr_pipeline_add_model (self, CXR_MODEL (object), NULL);
        else
          cxr_pipeline_add_stage (self, CXR_STAGE (object), NULL);
      }
  for (guint i = 0; i < parser->groups->len; i++)
    {
      Group *group = g_ptr_array_index (parser->groups, i);
      if (g_strcmp0 (group->kind, "stage") == 0 &&
          !link_inputs (self, parser, group, cxr_pipeline_get_stage (self, group->name), error))
        return FALSE;
    }
  return TRUE;
}

/**
 * cxr_pipeline_new_from_data:
 * @data: the text of a pipeline file
 * @origin: (nullable): the file name to show in messages
 * @overrides: (nullable) (array zero-terminated=1): `VAR=VALUE` variables
 *   and `STAGE.KEY=VALUE` settings, as `cxrgen run --set` takes them
 * @error: return location for a #GError
 *
 * Parses a pipeline, creates its stages and models, links them and
 * validates the graph.
 *
 * Returns: (transfer full): the pipeline, or %NULL with @error set
 */
CxrPipeline *
cxr_pipeline_new_from_data (const gchar *data, const gchar *origin,
                            const gchar *const *overrides, GError **error)
{
  g_autoptr (CxrPipeline) self = NULL;
  g_autoptr (GPtrArray) groups = g_ptr_array_new_with_free_func (group_free);
  g_autoptr (GHashTable) variables = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  Parser parser = { origin ? origin : "<pipeline>", groups, variables };

  g_return_val_if_fail (data != NULL, NULL);
  self = cxr_pipeline_new ();
  self->file = g_strdup (origin);
  /* ${PIPELINE_DIR}: the folder of the file, so a pipeline can name files
   * beside it; an override or the environment may replace it. */
  if (origin != NULL && g_getenv ("PIPELINE_DIR") == NULL)
    g_hash_table_insert (variables, g_strdup ("PIPELINE_DIR"), g_path_get_dirname (origin));
  if (!parse_lines (&parser, data, error) || !apply_overrides (&parser, overrides, error) ||
      !build_pipeline (self, &parser, error) || !cxr_pipeline_validate (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * cxr_pipeline_new_from_file:
 * @path: a `.pipeline` file
 * @overrides: (nullable) (array zero-terminated=1): `VAR=VALUE` variables
 *   and `STAGE.KEY=VALUE` settings, as `cxrgen run --set` takes them
 * @error: return location for a #GError
 *
 * Reads a pipeline file; see cxr_pipeline_new_from_data().
 *
 * Returns: (transfer full): the pipeline, or %NULL with @error set
 */
CxrPipeline *
cxr_pipeline_new_from_file (const gchar *path, const gchar *const *overrides, GError **error)
{
  g_autofree gchar *data = NULL;
  g_autoptr (GError) local = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  if (!g_file_get_contents (path, &data, NULL, &local))
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "%s", local->message);
      return NULL;
    }
  return cxr_pipeline_new_from_data (data, path, overrides, error);
}
