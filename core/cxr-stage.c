/* cxr-stage.c: one step of a pipeline.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxr-private.h"

/**
 * CxrStage:
 *
 * One step of a pipeline: a source, a transform, an evaluator or a sink.
 *
 * A stage's parameters are its GObject properties: the pipeline parser,
 * `cxrgen inspect`, the JSON Schema and Python or JavaScript all read the
 * same #GParamSpec, so a parameter is declared once.
 *
 * A stage class declares named input and output ports in its class_init
 * with cxr_stage_class_add_input() and cxr_stage_class_add_output(). An
 * input port names the batch fields the stage needs; an output port names
 * the fields it adds and whether it passes on those of its input. The
 * scheduler checks every link against them before anything runs.
 *
 * At run time each stage runs on a thread of its own: prepare, then
 * process for each batch, then finish, then stop; see #CxrStageClass.
 */

typedef struct {
  gchar *name;
  gchar *description;
  gchar **fields;
  gboolean passthrough;
  gboolean optional; /* an input the pipeline may leave unlinked */
  gboolean leading;  /* an input delivered whole before the others */
  gboolean kept;     /* an input whose batches the stage does not pass on */
} CxrPortTemplate;

typedef struct {
  gchar *long_name;
  gchar *category;
  gchar *description;
  gchar *author;
  GPtrArray *inputs;  /* CxrPortTemplate */
  GPtrArray *outputs; /* CxrPortTemplate */
} CxrStageClassData;

typedef struct {
  gchar *name;
  gchar *factory_name;
  CxrStagePushFunc push_func;
  gpointer push_data;
  GCancellable *cancellable;
  gint64 total;
  guint64 samples_in;  /* atomic */
  guint64 samples_out; /* atomic */
  GMutex status_lock;  /* the status is set by the stage's thread, read by the scheduler's */
  gchar *status;
} CxrStagePrivate;

enum {
  PROP_0,
  PROP_NAME,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (CxrStage, cxr_stage, G_TYPE_OBJECT)

static G_DEFINE_QUARK (cxr-stage-class-data, class_data)

static void
port_template_free (gpointer data)
{
  CxrPortTemplate *port = data;
  g_free (port->name);
  g_free (port->description);
  g_strfreev (port->fields);
  g_free (port);
}

/* The class data of exactly this type, created on first use (class_init). */
static CxrStageClassData *
class_data_ensure (CxrStageClass *klass)
{
  GType type = G_TYPE_FROM_CLASS (klass);
  CxrStageClassData *data = g_type_get_qdata (type, class_data_quark ());

  if (data == NULL)
    {
      data = g_new0 (CxrStageClassData, 1);
      data->inputs = g_ptr_array_new_with_free_func (port_template_free);
      data->outputs = g_ptr_array_new_with_free_func (port_template_free);
      g_type_set_qdata (type, class_data_quark (), data); /* lives as long as the type */
    }
  return data;
}

/* The class data that applies to @klass: its own, or its nearest
 * ancestor's, so a subclass inherits metadata and ports it does not set. */
static CxrStageClassData *
class_data_lookup (CxrStageClass *klass)
{
  for (GType type = G_TYPE_FROM_CLASS (klass); type != 0 && type != CXR_TYPE_STAGE;
       type = g_type_parent (type))
    {
      CxrStageClassData *data = g_type_get_qdata (type, class_data_quark ());
      if (data != NULL)
        return data;
    }
  return NULL;
}

static gchar **
split_fields (const gchar *fields)
{
  g_auto (GStrv) parts = NULL;
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  if (fields == NULL)
    return g_strv_builder_end (builder);
  parts = g_strsplit_set (fields, ",; ", -1);
  for (guint i = 0; parts[i]; i++)
    if (*parts[i] != '\0')
      g_strv_builder_add (builder, parts[i]);
  return g_strv_builder_end (builder);
}

/**
 * cxr_stage_class_set_metadata:
 * @klass: a stage class
 * @long_name: a name for people, such as "Label prompt"
 * @category: slash-separated categories, such as "Text/Conditioning"
 * @description: what the stage does, one sentence
 * @author: who wrote it
 *
 * Sets the metadata that `cxrgen inspect` and the JSON Schema show.
 * Call it from class_init.
 */
void
cxr_stage_class_set_metadata (CxrStageClass *klass, const gchar *long_name,
                              const gchar *category, const gchar *description,
                              const gchar *author)
{
  CxrStageClassData *data;

  g_return_if_fail (CXR_IS_STAGE_CLASS (klass));
  data = class_data_ensure (klass);
  g_free (data->long_name);
  g_free (data->category);
  g_free (data->description);
  g_free (data->author);
  data->long_name = g_strdup (long_name);
  data->category = g_strdup (category);
  data->description = g_strdup (description);
  data->author = g_strdup (author);
}

static void
add_port (CxrStageClass *klass, GPtrArray *ports, const gchar *name, const gchar *fields,
          gboolean passthrough, const gchar *description)
{
  CxrPortTemplate *port = g_new0 (CxrPortTemplate, 1);

  port->name = g_strdup (name);
  port->description = g_strdup (description);
  port->fields = split_fields (fields);
  port->passthrough = passthrough;
  g_ptr_array_add (ports, port);
}

/**
 * cxr_stage_class_add_input:
 * @klass: a stage class
 * @name: the port name, unique among the class's inputs
 * @fields: (nullable): the batch fields the stage needs on this port,
 *   separated by commas, such as "labels" or "id,labels"
 * @description: (nullable): what comes in, for people
 *
 * Adds an input port to the class. Call it from class_init. The first
 * input is the one `input=` of a pipeline file links.
 */
void
cxr_stage_class_add_input (CxrStageClass *klass, const gchar *name, const gchar *fields,
                           const gchar *description)
{
  g_return_if_fail (CXR_IS_STAGE_CLASS (klass));
  g_return_if_fail (name != NULL);
  add_port (klass, class_data_ensure (klass)->inputs, name, fields, FALSE, description);
}

/**
 * cxr_stage_class_add_optional_input:
 * @klass: a stage class
 * @name: the port name, unique among the class's inputs
 * @fields: (nullable): the batch fields the stage needs on this port
 * @description: (nullable): what comes in, for people
 *
 * Adds an input port that a pipeline may leave unlinked (a trainer's
 * "validate"): the run then waits only for the linked inputs to end.
 * Optional inputs come after the required ones.
 */
void
cxr_stage_class_add_optional_input (CxrStageClass *klass, const gchar *name, const gchar *fields,
                                    const gchar *description)
{
  GPtrArray *inputs;

  g_return_if_fail (CXR_IS_STAGE_CLASS (klass));
  g_return_if_fail (name != NULL);
  inputs = class_data_ensure (klass)->inputs;
  g_return_if_fail (inputs->len > 0); /* port 0 is what input= links */
  add_port (klass, inputs, name, fields, FALSE, description);
  ((CxrPortTemplate *) g_ptr_array_index (inputs, inputs->len - 1))->optional = TRUE;
}

/* The class's own input called @name, or NULL. */
static CxrPortTemplate *
own_input (CxrStageClass *klass, const gchar *name)
{
  GPtrArray *inputs = class_data_ensure (klass)->inputs;

  for (guint i = 0; i < inputs->len; i++)
    if (g_str_equal (((CxrPortTemplate *) g_ptr_array_index (inputs, i))->name, name))
      return g_ptr_array_index (inputs, i);
  return NULL;
}

/**
 * cxr_stage_class_set_leading_input:
 * @klass: a stage class
 * @name: the name of one of the class's inputs
 *
 * Makes input @name the leading one: when a pipeline links it, the
 * scheduler delivers its whole stream, to its end, before any batch of
 * the other inputs, which wait in their queues meanwhile. A trainer's
 * "validate" input is leading, so the validation set is complete, and
 * measured, before the first step, whatever the threads' timing. Call it
 * from class_init, after adding the port.
 */
void
cxr_stage_class_set_leading_input (CxrStageClass *klass, const gchar *name)
{
  CxrPortTemplate *port;
  GPtrArray *inputs;

  g_return_if_fail (CXR_IS_STAGE_CLASS (klass));
  g_return_if_fail (name != NULL);
  port = own_input (klass, name);
  g_return_if_fail (port != NULL);
  /* one leading input per class */
  inputs = class_data_ensure (klass)->inputs;
  for (guint i = 0; i < inputs->len; i++)
    ((CxrPortTemplate *) g_ptr_array_index (inputs, i))->leading = g_ptr_array_index (inputs, i) == port;
}

/**
 * cxr_stage_class_set_input_kept:
 * @klass: a stage class
 * @name: the name of one of the class's inputs
 *
 * Says that the stage keeps the batches of input @name and passes none of
 * them on (a trainer's "validate" input), so its passthrough outputs do
 * not carry their fields: a pipeline whose next stage needs a field that
 * only those batches have is refused when it is validated. Call it from
 * class_init, after adding the port.
 */
void
cxr_stage_class_set_input_kept (CxrStageClass *klass, const gchar *name)
{
  CxrPortTemplate *port;

  g_return_if_fail (CXR_IS_STAGE_CLASS (klass));
  g_return_if_fail (name != NULL);
  port = own_input (klass, name);
  g_return_if_fail (port != NULL);
  port->kept = TRUE;
}

/**
 * cxr_stage_class_get_leading_input:
 * @klass: a stage class
 *
 * Returns: the index of the class's leading input
 *   (cxr_stage_class_set_leading_input()), or -1 when it has none
 */
gint
cxr_stage_class_get_leading_input (CxrStageClass *klass)
{
  CxrStageClassData *data;

  g_return_val_if_fail (CXR_IS_STAGE_CLASS (klass), -1);
  data = class_data_lookup (klass);
  for (guint i = 0; data != NULL && i < data->inputs->len; i++)
    if (((CxrPortTemplate *) g_ptr_array_index (data->inputs, i))->leading)
      return (gint) i;
  return -1;
}


/**
 * cxr_stage_class_add_output:
 * @klass: a stage class
 * @name: the port name, unique among the class's outputs
 * @fields: (nullable): the batch fields the stage adds on this port,
 *   separated by commas
 * @passthrough: whether the batches that go out also carry every field of
 *   the batches that came in (a stage that adds to its input)
 * @description: (nullable): what goes out, for people
 *
 * Adds an output port to the class. Call it from class_init.
 */
void
cxr_stage_class_add_output (CxrStageClass *klass, const gchar *name, const gchar *fields,
                            gboolean passthrough, const gchar *description)
{
  g_return_if_fail (CXR_IS_STAGE_CLASS (klass));
  g_return_if_fail (name != NULL);
  add_port (klass, class_data_ensure (klass)->outputs, name, fields, passthrough, description);
}

/**
 * cxr_stage_class_get_metadata:
 * @klass: a stage class
 * @key: one of "long-name", "category", "description" or "author"
 *
 * Returns: (transfer none) (nullable): the metadata value, or %NULL
 */
const gchar *
cxr_stage_class_get_metadata (CxrStageClass *klass, const gchar *key)
{
  CxrStageClassData *data;

  g_return_val_if_fail (CXR_IS_STAGE_CLASS (klass), NULL);
  g_return_val_if_fail (key != NULL, NULL);
  data = class_data_lookup (klass);
  if (data == NULL)
    return NULL;
  if (g_str_equal (key, "long-name"))
    return data->long_name;
  if (g_str_equal (key, "category"))
    return data->category;
  if (g_str_equal (key, "description"))
    return data->description;
  if (g_str_equal (key, "author"))
    return data->author;
  return NULL;
}

static GPtrArray *
class_ports (CxrStageClass *klass, CxrPortDirection direction)
{
  CxrStageClassData *data = class_data_lookup (klass);

  if (data == NULL)
    return NULL;
  return direction == CXR_PORT_INPUT ? data->inputs : data->outputs;
}

static CxrPortTemplate *
class_port (CxrStageClass *klass, CxrPortDirection direction, guint port)
{
  GPtrArray *ports = class_ports (klass, direction);

  if (ports == NULL || port >= ports->len)
    return NULL;
  return g_ptr_array_index (ports, port);
}

/**
 * cxr_stage_class_get_n_ports:
 * @klass: a stage class
 * @direction: inputs or outputs
 *
 * Returns: the number of ports of the class in @direction
 */
guint
cxr_stage_class_get_n_ports (CxrStageClass *klass, CxrPortDirection direction)
{
  GPtrArray *ports;

  g_return_val_if_fail (CXR_IS_STAGE_CLASS (klass), 0);
  ports = class_ports (klass, direction);
  return ports ? ports->len : 0;
}

/**
 * cxr_stage_class_get_port_name:
 * @klass: a stage class
 * @direction: inputs or outputs
 * @port: the port index
 *
 * Returns: (transfer none) (nullable): the port's name, or %NULL if there
 *   is no such port
 */
const gchar *
cxr_stage_class_get_port_name (CxrStageClass *klass, CxrPortDirection direction, guint port)
{
  CxrPortTemplate *templ;

  g_return_val_if_fail (CXR_IS_STAGE_CLASS (klass), NULL);
  templ = class_port (klass, direction, port);
  return templ ? templ->name : NULL;
}

/**
 * cxr_stage_class_get_port_description:
 * @klass: a stage class
 * @direction: inputs or outputs
 * @port: the port index
 *
 * Returns: (transfer none) (nullable): the port's description, or %NULL
 */
const gchar *
cxr_stage_class_get_port_description (CxrStageClass *klass, CxrPortDirection direction,
                                      guint port)
{
  CxrPortTemplate *templ;

  g_return_val_if_fail (CXR_IS_STAGE_CLASS (klass), NULL);
  templ = class_port (klass, direction, port);
  return templ ? templ->description : NULL;
}

/**
 * cxr_stage_class_get_port_passthrough:
 * @klass: a stage class
 * @port: an output port index
 *
 * Returns: whether batches on output @port carry the fields of the input
 */
gboolean
cxr_stage_class_get_port_passthrough (CxrStageClass *klass, guint port)
{
  CxrPortTemplate *templ;

  g_return_val_if_fail (CXR_IS_STAGE_CLASS (klass), FALSE);
  templ = class_port (klass, CXR_PORT_OUTPUT, port);
  return templ ? templ->passthrough : FALSE;
}

/**
 * cxr_stage_class_get_port_optional:
 * @klass: a stage class
 * @port: an input port index
 *
 * Returns: whether a pipeline may leave input @port unlinked
 */
gboolean
cxr_stage_class_get_port_optional (CxrStageClass *klass, guint port)
{
  CxrPortTemplate *templ;

  g_return_val_if_fail (CXR_IS_STAGE_CLASS (klass), FALSE);
  templ = class_port (klass, CXR_PORT_INPUT, port);
  return templ ? templ->optional : FALSE;
}

/**
 * cxr_stage_class_get_input_kept:
 * @klass: a stage class
 * @port: an input port index
 *
 * Returns: whether the stage keeps the batches of input @port instead of
 *   passing them on (cxr_stage_class_set_input_kept())
 */
gboolean
cxr_stage_class_get_input_kept (CxrStageClass *klass, guint port)
{
  CxrPortTemplate *templ;

  g_return_val_if_fail (CXR_IS_STAGE_CLASS (klass), FALSE);
  templ = class_port (klass, CXR_PORT_INPUT, port);
  return templ ? templ->kept : FALSE;
}

/**
 * cxr_stage_class_find_port:
 * @klass: a stage class
 * @direction: inputs or outputs
 * @name: a port name
 *
 * Returns: the index of the port called @name, or -1
 */
gint
cxr_stage_class_find_port (CxrStageClass *klass, CxrPortDirection direction, const gchar *name)
{
  GPtrArray *ports;

  g_return_val_if_fail (CXR_IS_STAGE_CLASS (klass), -1);
  g_return_val_if_fail (name != NULL, -1);
  ports = class_ports (klass, direction);
  for (guint i = 0; ports && i < ports->len; i++)
    if (g_str_equal (((CxrPortTemplate *) g_ptr_array_index (ports, i))->name, name))
      return (gint) i;
  return -1;
}

/* ------------------------------------------------------------------ instances */

static CxrFlowReturn
cxr_stage_real_process (CxrStage *self, guint port, CxrBatch *batch, GError **error)
{
  CxrStageClass *klass = CXR_STAGE_GET_CLASS (self);

  if (klass->transform == NULL || batch == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED,
                   "stage type %s implements neither process nor transform",
                   G_OBJECT_TYPE_NAME (self));
      return CXR_FLOW_ERROR;
    }
  if (!klass->transform (self, batch, error))
    return CXR_FLOW_ERROR;
  return cxr_stage_push (self, batch);
}

static gchar **
cxr_stage_real_get_port_fields (CxrStage *self, CxrPortDirection direction, guint port)
{
  CxrPortTemplate *templ = class_port (CXR_STAGE_GET_CLASS (self), direction, port);

  return g_strdupv (templ ? templ->fields : NULL);
}

static void
cxr_stage_set_gproperty (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  CxrStage *self = CXR_STAGE (object);

  switch (prop_id)
    {
    case PROP_NAME:
      cxr_stage_set_name (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cxr_stage_get_gproperty (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  CxrStage *self = CXR_STAGE (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, cxr_stage_get_name (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cxr_stage_finalize (GObject *object)
{
  CxrStagePrivate *priv = cxr_stage_get_instance_private (CXR_STAGE (object));

  g_free (priv->name);
  g_free (priv->factory_name);
  g_free (priv->status);
  g_mutex_clear (&priv->status_lock);
  g_clear_object (&priv->cancellable);
  G_OBJECT_CLASS (cxr_stage_parent_class)->finalize (object);
}

static void
cxr_stage_class_init (CxrStageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->set_property = cxr_stage_set_gproperty;
  object_class->get_property = cxr_stage_get_gproperty;
  object_class->finalize = cxr_stage_finalize;
  klass->process = cxr_stage_real_process;
  klass->get_port_fields = cxr_stage_real_get_port_fields;

  /**
   * CxrStage:name:
   *
   * The stage's name in its pipeline: the NAME of `[stage NAME]`.
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", "Name", "The stage's name in its pipeline", NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cxr_stage_init (CxrStage *self)
{
  CxrStagePrivate *priv = cxr_stage_get_instance_private (self);
  priv->total = -1;
}

/**
 * cxr_stage_get_name:
 * @self: a stage
 *
 * Returns: (transfer none) (nullable): the stage's name
 */
const gchar *
cxr_stage_get_name (CxrStage *self)
{
  g_return_val_if_fail (CXR_IS_STAGE (self), NULL);
  return ((CxrStagePrivate *) cxr_stage_get_instance_private (self))->name;
}

/**
 * cxr_stage_set_name:
 * @self: a stage
 * @name: (nullable): the stage's name in its pipeline
 *
 * Sets the stage's name. A pipeline refuses two stages of one name.
 */
void
cxr_stage_set_name (CxrStage *self, const gchar *name)
{
  CxrStagePrivate *priv;

  g_return_if_fail (CXR_IS_STAGE (self));
  priv = cxr_stage_get_instance_private (self);
  if (g_strcmp0 (priv->name, name) == 0)
    return;
  g_free (priv->name);
  priv->name = g_strdup (name);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
}

void
_cxr_stage_set_factory_name (CxrStage *stage, const gchar *factory_name)
{
  CxrStagePrivate *priv = cxr_stage_get_instance_private (stage);
  g_free (priv->factory_name);
  priv->factory_name = g_strdup (factory_name);
}

/**
 * cxr_stage_get_factory_name:
 * @self: a stage
 *
 * Returns: (transfer none) (nullable): the stage type's name in pipeline
 *   files (the `type=` value, such as "label-prompt"), or %NULL if the type
 *   was never registered by a plugin
 */
const gchar *
cxr_stage_get_factory_name (CxrStage *self)
{
  CxrStagePrivate *priv;

  g_return_val_if_fail (CXR_IS_STAGE (self), NULL);
  priv = cxr_stage_get_instance_private (self);
  if (priv->factory_name == NULL)
    priv->factory_name = g_strdup (cxr_registry_get_factory_name (cxr_registry_get_default (),
                                                                  G_OBJECT_TYPE (self)));
  return priv->factory_name;
}

/**
 * cxr_stage_get_n_ports:
 * @self: a stage
 * @direction: inputs or outputs
 *
 * Returns: the number of ports of the stage in @direction
 */
guint
cxr_stage_get_n_ports (CxrStage *self, CxrPortDirection direction)
{
  g_return_val_if_fail (CXR_IS_STAGE (self), 0);
  return cxr_stage_class_get_n_ports (CXR_STAGE_GET_CLASS (self), direction);
}

/**
 * cxr_stage_get_port_fields:
 * @self: a stage
 * @direction: inputs or outputs
 * @port: the port index
 *
 * Returns: (transfer full) (array zero-terminated=1): the fields the port
 *   needs (input) or adds (output), given the stage's current properties
 */
gchar **
cxr_stage_get_port_fields (CxrStage *self, CxrPortDirection direction, guint port)
{
  gchar **fields;

  g_return_val_if_fail (CXR_IS_STAGE (self), NULL);
  fields = CXR_STAGE_GET_CLASS (self)->get_port_fields (self, direction, port);
  return fields ? fields : g_new0 (gchar *, 1);
}

void
_cxr_stage_set_push_func (CxrStage *stage, CxrStagePushFunc func, gpointer user_data)
{
  CxrStagePrivate *priv = cxr_stage_get_instance_private (stage);
  priv->push_func = func;
  priv->push_data = user_data;
}

void
_cxr_stage_set_cancellable (CxrStage *stage, GCancellable *cancellable)
{
  CxrStagePrivate *priv = cxr_stage_get_instance_private (stage);
  g_set_object (&priv->cancellable, cancellable);
}

void
_cxr_stage_reset_counters (CxrStage *stage)
{
  CxrStagePrivate *priv = cxr_stage_get_instance_private (stage);
  __atomic_store_n (&priv->samples_in, 0, __ATOMIC_RELAXED);
  __atomic_store_n (&priv->samples_out, 0, __ATOMIC_RELAXED);
  cxr_stage_set_status (stage, NULL);
}

void
_cxr_stage_count_in (CxrStage *stage, guint samples)
{
  CxrStagePrivate *priv = cxr_stage_get_instance_private (stage);
  __atomic_fetch_add (&priv->samples_in, samples, __ATOMIC_RELAXED);
}

/**
 * cxr_stage_push_port:
 * @self: a stage
 * @port: an output port index
 * @batch: (transfer none): the batch to send
 *
 * Sends @batch to every stage linked to output @port. It may block while
 * the next stage's queue is full (back-pressure). The stage may not change
 * @batch afterwards; make a new batch or a cxr_batch_copy() instead.
 *
 * A consumer may say that it wants no more batches (it returned
 * %CXR_FLOW_EOS from its process function, such as a trainer at
 * `max-steps`); the batch is then not sent to it, and once every stage
 * linked to the stage's outputs has said so, the push returns
 * %CXR_FLOW_EOS: a source returns it from its process function and stops,
 * a filter returns it and so passes the word upstream.
 *
 * Returns: %CXR_FLOW_OK; %CXR_FLOW_EOS when no stage downstream wants
 *   more; %CXR_FLOW_CANCELLED when the run is stopping
 */
CxrFlowReturn
cxr_stage_push_port (CxrStage *self, guint port, CxrBatch *batch)
{
  CxrStagePrivate *priv;

  g_return_val_if_fail (CXR_IS_STAGE (self), CXR_FLOW_ERROR);
  g_return_val_if_fail (CXR_IS_BATCH (batch), CXR_FLOW_ERROR);
  g_return_val_if_fail (port < cxr_stage_get_n_ports (self, CXR_PORT_OUTPUT), CXR_FLOW_ERROR);
  priv = cxr_stage_get_instance_private (self);
  __atomic_fetch_add (&priv->samples_out, cxr_batch_get_size (batch), __ATOMIC_RELAXED);
  if (priv->push_func == NULL)
    return CXR_FLOW_OK;
  return priv->push_func (self, port, batch, priv->push_data);
}

/**
 * cxr_stage_push:
 * @self: a stage
 * @batch: (transfer none): the batch to send
 *
 * Sends @batch on output port 0; see cxr_stage_push_port().
 *
 * Returns: %CXR_FLOW_OK; %CXR_FLOW_EOS when no stage downstream wants
 *   more; %CXR_FLOW_CANCELLED when the run is stopping
 */
CxrFlowReturn
cxr_stage_push (CxrStage *self, CxrBatch *batch)
{
  return cxr_stage_push_port (self, 0, batch);
}

/**
 * cxr_stage_set_total:
 * @self: a stage
 * @samples: the number of samples the stage will produce, or -1 if unknown
 *
 * Tells the scheduler how many samples a source will produce, for the
 * progress bar and its ETA. Call it from prepare.
 */
void
cxr_stage_set_total (CxrStage *self, gint64 samples)
{
  g_return_if_fail (CXR_IS_STAGE (self));
  ((CxrStagePrivate *) cxr_stage_get_instance_private (self))->total = samples;
}

/**
 * cxr_stage_get_total:
 * @self: a stage
 *
 * Returns: the number of samples a source said it will produce, or -1
 */
gint64
cxr_stage_get_total (CxrStage *self)
{
  g_return_val_if_fail (CXR_IS_STAGE (self), -1);
  return ((CxrStagePrivate *) cxr_stage_get_instance_private (self))->total;
}

/**
 * cxr_stage_get_samples_in:
 * @self: a stage
 *
 * Returns: the number of samples the stage has taken in during this run
 */
guint64
cxr_stage_get_samples_in (CxrStage *self)
{
  CxrStagePrivate *priv;

  g_return_val_if_fail (CXR_IS_STAGE (self), 0);
  priv = cxr_stage_get_instance_private (self);
  return __atomic_load_n (&priv->samples_in, __ATOMIC_RELAXED);
}

/**
 * cxr_stage_set_status:
 * @self: a stage
 * @status: (nullable): a short line on how the stage is doing ("step 120,
 *   loss 0.731"), or %NULL for none
 *
 * Sets what the progress events and the progress bar show for the stage.
 * Any thread may call it.
 */
void
cxr_stage_set_status (CxrStage *self, const gchar *status)
{
  CxrStagePrivate *priv;

  g_return_if_fail (CXR_IS_STAGE (self));
  priv = cxr_stage_get_instance_private (self);
  g_mutex_lock (&priv->status_lock);
  g_free (priv->status);
  priv->status = g_strdup (status);
  g_mutex_unlock (&priv->status_lock);
}

/**
 * cxr_stage_dup_status:
 * @self: a stage
 *
 * Returns: (transfer full) (nullable): the stage's status line, if it set
 *   one this run
 */
gchar *
cxr_stage_dup_status (CxrStage *self)
{
  CxrStagePrivate *priv;
  gchar *out;

  g_return_val_if_fail (CXR_IS_STAGE (self), NULL);
  priv = cxr_stage_get_instance_private (self);
  g_mutex_lock (&priv->status_lock);
  out = g_strdup (priv->status);
  g_mutex_unlock (&priv->status_lock);
  return out;
}

/**
 * cxr_stage_get_samples_out:
 * @self: a stage
 *
 * Returns: the number of samples the stage has pushed during this run
 */
guint64
cxr_stage_get_samples_out (CxrStage *self)
{
  CxrStagePrivate *priv;

  g_return_val_if_fail (CXR_IS_STAGE (self), 0);
  priv = cxr_stage_get_instance_private (self);
  return __atomic_load_n (&priv->samples_out, __ATOMIC_RELAXED);
}

/**
 * cxr_stage_get_cancellable:
 * @self: a stage
 *
 * Returns: (transfer none) (nullable): the cancellable of the current run;
 *   long computations poll it
 */
GCancellable *
cxr_stage_get_cancellable (CxrStage *self)
{
  g_return_val_if_fail (CXR_IS_STAGE (self), NULL);
  return ((CxrStagePrivate *) cxr_stage_get_instance_private (self))->cancellable;
}

/**
 * cxr_stage_is_cancelled:
 * @self: a stage
 *
 * Returns: whether the current run is being cancelled
 */
gboolean
cxr_stage_is_cancelled (CxrStage *self)
{
  return g_cancellable_is_cancelled (cxr_stage_get_cancellable (self));
}

/**
 * cxr_stage_set_property_from_string:
 * @self: a stage
 * @key: a property name
 * @value: the value, written as in a pipeline file
 * @error: return location for a #GError
 *
 * Parses @value as the type of property @key and sets it, checking its
 * range, exactly as the pipeline parser does. Object properties (models)
 * cannot be set this way; use g_object_set().
 *
 * Returns: %TRUE on success
 */
gboolean
cxr_stage_set_property_from_string (CxrStage *self, const gchar *key, const gchar *value,
                                    GError **error)
{
  GParamSpec *pspec;
  g_auto (GValue) gvalue = G_VALUE_INIT;

  g_return_val_if_fail (CXR_IS_STAGE (self), FALSE);
  g_return_val_if_fail (key != NULL && value != NULL, FALSE);
  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (self), key);
  if (pspec == NULL || !(pspec->flags & G_PARAM_WRITABLE))
    {
      g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_NO_SUCH_PROPERTY,
                   "stage %s has no property %s", cxr_stage_get_name (self), key);
      return FALSE;
    }
  if (!_cxr_value_from_string (pspec, value, &gvalue, NULL, NULL, error))
    return FALSE;
  g_object_set_property (G_OBJECT (self), key, &gvalue);
  return TRUE;
}
