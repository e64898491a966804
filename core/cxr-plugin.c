/* cxr-plugin.c: a loadable module of stages and models.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxr-private.h"

/**
 * CxrPlugin:
 *
 * A plugin: a GModule (libcxr<name>.so) that exports one #CxrPluginDesc
 * and registers stage and model types in its init function. Plugins are
 * found and loaded by #CxrRegistry and stay loaded for the life of the
 * process.
 */

struct _CxrPlugin {
  GObject parent_instance;
  gchar *name;
  gchar *version;
  gchar *description;
  gchar *license;
  gchar *filename;
  CxrRegistry *registry; /* not owned: the registry outlives its plugins */
  GPtrArray *stages;     /* factory names */
  GPtrArray *models;     /* factory names */
};

enum {
  PROP_0,
  PROP_NAME,
  PROP_VERSION,
  PROP_DESCRIPTION,
  PROP_LICENSE,
  PROP_FILENAME,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (CxrPlugin, cxr_plugin, G_TYPE_OBJECT)

static void
cxr_plugin_get_gproperty (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  CxrPlugin *self = CXR_PLUGIN (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_VERSION:
      g_value_set_string (value, self->version);
      break;
    case PROP_DESCRIPTION:
      g_value_set_string (value, self->description);
      break;
    case PROP_LICENSE:
      g_value_set_string (value, self->license);
      break;
    case PROP_FILENAME:
      g_value_set_string (value, self->filename);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cxr_plugin_finalize (GObject *object)
{
  CxrPlugin *self = CXR_PLUGIN (object);

  g_free (self->name);
  g_free (self->version);
  g_free (self->description);
  g_free (self->license);
  g_free (self->filename);
  g_ptr_array_unref (self->stages);
  g_ptr_array_unref (self->models);
  G_OBJECT_CLASS (cxr_plugin_parent_class)->finalize (object);
}

static void
cxr_plugin_class_init (CxrPluginClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->get_property = cxr_plugin_get_gproperty;
  object_class->finalize = cxr_plugin_finalize;

  properties[PROP_NAME] = g_param_spec_string ("name", "Name", "The plugin's name", NULL, flags);
  properties[PROP_VERSION] =
    g_param_spec_string ("version", "Version", "The plugin's version", NULL, flags);
  properties[PROP_DESCRIPTION] =
    g_param_spec_string ("description", "Description", "What the plugin provides", NULL, flags);
  properties[PROP_LICENSE] =
    g_param_spec_string ("license", "License", "The plugin's licence (SPDX)", NULL, flags);
  properties[PROP_FILENAME] =
    g_param_spec_string ("filename", "File name", "The module file the plugin was loaded from",
                         NULL, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cxr_plugin_init (CxrPlugin *self)
{
  self->stages = g_ptr_array_new_with_free_func (g_free);
  self->models = g_ptr_array_new_with_free_func (g_free);
}

CxrPlugin *
_cxr_plugin_new (const CxrPluginDesc *desc, const gchar *filename, CxrRegistry *registry)
{
  CxrPlugin *self = g_object_new (CXR_TYPE_PLUGIN, NULL);

  self->name = g_strdup (desc->name);
  self->version = g_strdup (desc->version);
  self->description = g_strdup (desc->description);
  self->license = g_strdup (desc->license);
  self->filename = g_strdup (filename);
  self->registry = registry;
  return self;
}

/**
 * cxr_plugin_get_name:
 * @self: a plugin
 *
 * Returns: (transfer none): the plugin's name
 */
const gchar *
cxr_plugin_get_name (CxrPlugin *self)
{
  g_return_val_if_fail (CXR_IS_PLUGIN (self), NULL);
  return self->name;
}

/**
 * cxr_plugin_get_version:
 * @self: a plugin
 *
 * Returns: (transfer none): the plugin's version
 */
const gchar *
cxr_plugin_get_version (CxrPlugin *self)
{
  g_return_val_if_fail (CXR_IS_PLUGIN (self), NULL);
  return self->version;
}

/**
 * cxr_plugin_get_description:
 * @self: a plugin
 *
 * Returns: (transfer none): what the plugin provides
 */
const gchar *
cxr_plugin_get_description (CxrPlugin *self)
{
  g_return_val_if_fail (CXR_IS_PLUGIN (self), NULL);
  return self->description;
}

/**
 * cxr_plugin_get_license:
 * @self: a plugin
 *
 * Returns: (transfer none): the plugin's licence as an SPDX identifier
 */
const gchar *
cxr_plugin_get_license (CxrPlugin *self)
{
  g_return_val_if_fail (CXR_IS_PLUGIN (self), NULL);
  return self->license;
}

/**
 * cxr_plugin_get_filename:
 * @self: a plugin
 *
 * Returns: (transfer none) (nullable): the file the plugin was loaded from
 */
const gchar *
cxr_plugin_get_filename (CxrPlugin *self)
{
  g_return_val_if_fail (CXR_IS_PLUGIN (self), NULL);
  return self->filename;
}

static gchar **
names_to_strv (GPtrArray *names)
{
  gchar **strv = g_new0 (gchar *, names->len + 1);
  for (guint i = 0; i < names->len; i++)
    strv[i] = g_strdup (g_ptr_array_index (names, i));
  return strv;
}

/**
 * cxr_plugin_list_stages:
 * @self: a plugin
 *
 * Returns: (transfer full) (array zero-terminated=1): the factory names of
 *   the stage types the plugin registered
 */
gchar **
cxr_plugin_list_stages (CxrPlugin *self)
{
  g_return_val_if_fail (CXR_IS_PLUGIN (self), NULL);
  return names_to_strv (self->stages);
}

/**
 * cxr_plugin_list_models:
 * @self: a plugin
 *
 * Returns: (transfer full) (array zero-terminated=1): the factory names of
 *   the model types the plugin registered
 */
gchar **
cxr_plugin_list_models (CxrPlugin *self)
{
  g_return_val_if_fail (CXR_IS_PLUGIN (self), NULL);
  return names_to_strv (self->models);
}

/**
 * cxr_plugin_register_stage:
 * @self: a plugin
 * @factory_name: the type's name in pipeline files (`type=`), in
 *   kebab-case, such as "label-prompt"
 * @type: a #GType derived from #CxrStage
 *
 * Registers a stage type. Call it from the plugin's init function.
 *
 * Returns: %TRUE, or %FALSE (with a warning) if another plugin already
 *   registered @factory_name
 */
gboolean
cxr_plugin_register_stage (CxrPlugin *self, const gchar *factory_name, GType type)
{
  g_return_val_if_fail (CXR_IS_PLUGIN (self), FALSE);
  g_return_val_if_fail (factory_name != NULL, FALSE);
  g_return_val_if_fail (g_type_is_a (type, CXR_TYPE_STAGE), FALSE);
  g_return_val_if_fail (!G_TYPE_IS_ABSTRACT (type), FALSE);
  if (!_cxr_registry_add_factory (self->registry, self, factory_name, type, TRUE))
    return FALSE;
  g_ptr_array_add (self->stages, g_strdup (factory_name));
  return TRUE;
}

/**
 * cxr_plugin_register_model:
 * @self: a plugin
 * @factory_name: the type's name in pipeline files, such as "sd-unet"
 * @type: a #GType derived from #CxrModel
 *
 * Registers a model type. Call it from the plugin's init function.
 *
 * Returns: %TRUE, or %FALSE (with a warning) if another plugin already
 *   registered @factory_name
 */
gboolean
cxr_plugin_register_model (CxrPlugin *self, const gchar *factory_name, GType type)
{
  g_return_val_if_fail (CXR_IS_PLUGIN (self), FALSE);
  g_return_val_if_fail (factory_name != NULL, FALSE);
  g_return_val_if_fail (g_type_is_a (type, CXR_TYPE_MODEL), FALSE);
  g_return_val_if_fail (!G_TYPE_IS_ABSTRACT (type), FALSE);
  if (!_cxr_registry_add_factory (self->registry, self, factory_name, type, FALSE))
    return FALSE;
  g_ptr_array_add (self->models, g_strdup (factory_name));
  return TRUE;
}
