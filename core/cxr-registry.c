/* cxr-registry.c: the plugins and the stage and model types they provide.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "cxr-private.h"

/**
 * CxrRegistry:
 *
 * The registry finds plugins and knows which stage and model types they
 * provide.
 *
 * It scans each folder of `CXRGEN_PLUGIN_PATH` (separated by `:`), then
 * the system folder (`$libdir/cxrgen-1.0`, or the folders of
 * `CXRGEN_PLUGIN_SYSTEM_PATH` when that is set; set it empty to scan none),
 * looking for files named `libcxr*.so` up to three folders down (so a
 * build tree's `.libs` folders are found). The first plugin of a name
 * wins. A file that fails to load is recorded with its path and the
 * reason (see cxr_registry_get_failures()) and the others still load.
 */

typedef struct {
  GType type;
  CxrPlugin *plugin; /* not owned */
  gboolean is_stage;
} CxrFactory;

struct _CxrRegistry {
  GObject parent_instance;
  GRecMutex lock;
  gboolean scanned;
  GPtrArray *plugins;       /* CxrPlugin, in load order */
  GPtrArray *failures;      /* "PATH: reason" */
  GHashTable *factories;    /* factory name -> CxrFactory */
  GHashTable *type_names;   /* GType -> factory name (not owned) */
  GHashTable *seen_files;   /* canonical path -> NULL */
};

G_DEFINE_FINAL_TYPE (CxrRegistry, cxr_registry, G_TYPE_OBJECT)

static void
cxr_registry_finalize (GObject *object)
{
  CxrRegistry *self = CXR_REGISTRY (object);

  g_ptr_array_unref (self->plugins);
  g_ptr_array_unref (self->failures);
  g_hash_table_unref (self->factories);
  g_hash_table_unref (self->type_names);
  g_hash_table_unref (self->seen_files);
  g_rec_mutex_clear (&self->lock);
  G_OBJECT_CLASS (cxr_registry_parent_class)->finalize (object);
}

static void
cxr_registry_class_init (CxrRegistryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cxr_registry_finalize;
}

static void
cxr_registry_init (CxrRegistry *self)
{
  g_rec_mutex_init (&self->lock);
  self->plugins = g_ptr_array_new_with_free_func (g_object_unref);
  self->failures = g_ptr_array_new_with_free_func (g_free);
  self->factories = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->type_names = g_hash_table_new (NULL, NULL);
  self->seen_files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

/**
 * cxr_registry_get_default:
 *
 * Returns the process's registry. The first call creates it; the plugin
 * folders are scanned on the first query (or by cxr_registry_scan()).
 *
 * Returns: (transfer none): the registry
 */
CxrRegistry *
cxr_registry_get_default (void)
{
  static CxrRegistry *registry;

  if (g_once_init_enter (&registry))
    g_once_init_leave (&registry, g_object_new (CXR_TYPE_REGISTRY, NULL));
  return registry;
}

gboolean
_cxr_registry_add_factory (CxrRegistry *self, CxrPlugin *plugin, const gchar *factory_name,
                           GType type, gboolean is_stage)
{
  CxrFactory *factory;
  gboolean ok = TRUE;

  g_rec_mutex_lock (&self->lock);
  factory = g_hash_table_lookup (self->factories, factory_name);
  if (factory != NULL)
    {
      g_warning ("plugin %s (%s): type %s is already registered by plugin %s; keeping the first",
                 cxr_plugin_get_name (plugin), cxr_plugin_get_filename (plugin), factory_name,
                 cxr_plugin_get_name (factory->plugin));
      ok = FALSE;
    }
  else
    {
      gchar *key = g_strdup (factory_name);
      factory = g_new0 (CxrFactory, 1);
      factory->type = type;
      factory->plugin = plugin;
      factory->is_stage = is_stage;
      g_hash_table_insert (self->factories, key, factory);
      g_hash_table_insert (self->type_names, GSIZE_TO_POINTER (type), key);
    }
  g_rec_mutex_unlock (&self->lock);
  return ok;
}

/* "libcxrfoo-bar.so" -> "foo-bar" */
static gchar *
plugin_name_from_path (const gchar *path)
{
  g_autofree gchar *base = g_path_get_basename (path);

  if (!g_str_has_prefix (base, "libcxr") || !g_str_has_suffix (base, ".so"))
    return NULL;
  return g_strndup (base + strlen ("libcxr"), strlen (base) - strlen ("libcxr") - strlen (".so"));
}

static gchar *
c_identifier (const gchar *name)
{
  return g_strdelimit (g_strdup (name), "-.", '_');
}

static CxrPlugin *
find_plugin_locked (CxrRegistry *self, const gchar *name)
{
  for (guint i = 0; i < self->plugins->len; i++)
    {
      CxrPlugin *plugin = g_ptr_array_index (self->plugins, i);
      if (g_str_equal (cxr_plugin_get_name (plugin), name))
        return plugin;
    }
  return NULL;
}

static CxrPlugin *
load_file_locked (CxrRegistry *self, const gchar *path, GError **error)
{
  g_autofree gchar *name = plugin_name_from_path (path);
  g_autofree gchar *symbol = NULL;
  g_autofree gchar *id = NULL;
  g_autofree gchar *desc_id = NULL;
  g_autoptr (GError) init_error = NULL;
  g_autoptr (CxrPlugin) plugin = NULL;
  const CxrPluginDesc *desc = NULL;
  GModule *module;
  CxrPlugin *existing;

  if (name == NULL || *name == '\0')
    {
      g_set_error (error, CXR_PLUGIN_ERROR, CXR_PLUGIN_ERROR_MODULE,
                   "%s: not a plugin file name (expected libcxrNAME.so)", path);
      return NULL;
    }
  existing = find_plugin_locked (self, name);
  if (existing != NULL)
    return existing;

  module = g_module_open (path, G_MODULE_BIND_LOCAL);
  if (module == NULL)
    {
      g_set_error (error, CXR_PLUGIN_ERROR, CXR_PLUGIN_ERROR_MODULE, "%s: cannot load: %s", path,
                   g_module_error ());
      return NULL;
    }
  id = c_identifier (name);
  symbol = g_strdup_printf ("cxr_plugin_%s_desc", id);
  if (!g_module_symbol (module, symbol, (gpointer *) &desc) || desc == NULL)
    {
      g_set_error (error, CXR_PLUGIN_ERROR, CXR_PLUGIN_ERROR_MODULE,
                   "%s: not a cxrgen plugin: it exports no %s", path, symbol);
      g_module_close (module);
      return NULL;
    }
  if (desc->abi_version != CXR_PLUGIN_ABI_VERSION)
    {
      g_set_error (error, CXR_PLUGIN_ERROR, CXR_PLUGIN_ERROR_ABI,
                   "%s: built for plugin ABI %u, but this cxrgen speaks ABI %u; rebuild the plugin",
                   path, desc->abi_version, (guint) CXR_PLUGIN_ABI_VERSION);
      g_module_close (module);
      return NULL;
    }
  desc_id = c_identifier (desc->name ? desc->name : "");
  if (!g_str_equal (desc_id, id))
    {
      g_set_error (error, CXR_PLUGIN_ERROR, CXR_PLUGIN_ERROR_NAME_MISMATCH,
                   "%s: the plugin calls itself \"%s\" but its file says \"%s\"", path,
                   desc->name ? desc->name : "", name);
      g_module_close (module);
      return NULL;
    }
  if (desc->init == NULL)
    {
      g_set_error (error, CXR_PLUGIN_ERROR, CXR_PLUGIN_ERROR_INIT, "%s: no init function", path);
      g_module_close (module);
      return NULL;
    }
  /* Types registered by the plugin live in its code: never unload it. */
  g_module_make_resident (module);
  plugin = _cxr_plugin_new (desc, path, self);
  if (!desc->init (plugin, &init_error))
    {
      g_set_error (error, CXR_PLUGIN_ERROR, CXR_PLUGIN_ERROR_INIT, "%s: init failed: %s", path,
                   init_error ? init_error->message : "no reason given");
      return NULL;
    }
  g_ptr_array_add (self->plugins, g_object_ref (plugin));
  g_debug ("loaded plugin %s from %s", desc->name, path);
  return plugin;
}

/**
 * cxr_registry_load_file:
 * @self: a registry
 * @path: a plugin file, libcxrNAME.so
 * @error: return location for a #GError
 *
 * Loads one plugin file, whether or not it lies on the search path. A
 * plugin of the same name that is already loaded is returned instead.
 *
 * Returns: (transfer none): the plugin, or %NULL with @error set
 */
CxrPlugin *
cxr_registry_load_file (CxrRegistry *self, const gchar *path, GError **error)
{
  CxrPlugin *plugin;

  g_return_val_if_fail (CXR_IS_REGISTRY (self), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_rec_mutex_lock (&self->lock);
  plugin = load_file_locked (self, path, error);
  g_rec_mutex_unlock (&self->lock);
  return plugin;
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

static void
scan_folder_locked (CxrRegistry *self, const gchar *folder, guint depth)
{
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GPtrArray) entries = g_ptr_array_new_with_free_func (g_free);
  const gchar *entry;

  dir = g_dir_open (folder, 0, NULL);
  if (dir == NULL)
    return;
  while ((entry = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (entries, g_strdup (entry));
  g_ptr_array_sort (entries, compare_strings);

  for (guint i = 0; i < entries->len; i++)
    {
      const gchar *base = g_ptr_array_index (entries, i);
      g_autofree gchar *path = g_build_filename (folder, base, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        {
          if (depth < 3 && (base[0] != '.' || g_str_equal (base, ".libs")))
            scan_folder_locked (self, path, depth + 1);
          continue;
        }
      if (!g_str_has_prefix (base, "libcxr") || !g_str_has_suffix (base, ".so"))
        continue;
      {
        g_autofree gchar *canonical = g_canonicalize_filename (path, NULL);
        g_autoptr (GError) error = NULL;

        if (g_hash_table_contains (self->seen_files, canonical))
          continue;
        g_hash_table_add (self->seen_files, g_steal_pointer (&canonical));
        if (load_file_locked (self, path, &error) == NULL)
          {
            g_warning ("%s", error->message);
            g_ptr_array_add (self->failures, g_strdup (error->message));
          }
      }
    }
}

/**
 * cxr_registry_get_search_path:
 * @self: a registry
 *
 * Returns: (transfer full) (array zero-terminated=1): the folders scanned
 *   for plugins, in order
 */
gchar **
cxr_registry_get_search_path (CxrRegistry *self)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  const gchar *user = g_getenv ("CXRGEN_PLUGIN_PATH");
  const gchar *system = g_getenv ("CXRGEN_PLUGIN_SYSTEM_PATH");

  g_return_val_if_fail (CXR_IS_REGISTRY (self), NULL);
  for (guint k = 0; k < 2; k++)
    {
      const gchar *list = k == 0 ? user : (system ? system : CXR_PLUGIN_DIR);
      g_auto (GStrv) parts = NULL;

      if (list == NULL)
        continue;
      parts = g_strsplit (list, G_SEARCHPATH_SEPARATOR_S, -1);
      for (guint i = 0; parts[i]; i++)
        if (*parts[i] != '\0')
          g_strv_builder_add (builder, parts[i]);
    }
  return g_strv_builder_end (builder);
}

/**
 * cxr_registry_scan:
 * @self: a registry
 *
 * Scans the search path for plugins not loaded yet. Queries scan once by
 * themselves; call this to pick up plugins installed since.
 */
void
cxr_registry_scan (CxrRegistry *self)
{
  g_auto (GStrv) folders = NULL;

  g_return_if_fail (CXR_IS_REGISTRY (self));
  folders = cxr_registry_get_search_path (self);
  g_rec_mutex_lock (&self->lock);
  self->scanned = TRUE;
  for (guint i = 0; folders[i]; i++)
    scan_folder_locked (self, folders[i], 0);
  g_rec_mutex_unlock (&self->lock);
}

static void
ensure_scanned (CxrRegistry *self)
{
  gboolean scanned;

  g_rec_mutex_lock (&self->lock);
  scanned = self->scanned;
  g_rec_mutex_unlock (&self->lock);
  if (!scanned)
    cxr_registry_scan (self);
}

/**
 * cxr_registry_get_plugins:
 * @self: a registry
 *
 * Returns: (transfer container) (element-type CxrPlugin): the loaded
 *   plugins, in load order
 */
GList *
cxr_registry_get_plugins (CxrRegistry *self)
{
  GList *list = NULL;

  g_return_val_if_fail (CXR_IS_REGISTRY (self), NULL);
  ensure_scanned (self);
  g_rec_mutex_lock (&self->lock);
  for (guint i = self->plugins->len; i > 0; i--)
    list = g_list_prepend (list, g_ptr_array_index (self->plugins, i - 1));
  g_rec_mutex_unlock (&self->lock);
  return list;
}

/**
 * cxr_registry_find_plugin:
 * @self: a registry
 * @name: a plugin name
 *
 * Returns: (transfer none) (nullable): the plugin called @name, or %NULL
 */
CxrPlugin *
cxr_registry_find_plugin (CxrRegistry *self, const gchar *name)
{
  CxrPlugin *plugin;

  g_return_val_if_fail (CXR_IS_REGISTRY (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  ensure_scanned (self);
  g_rec_mutex_lock (&self->lock);
  plugin = find_plugin_locked (self, name);
  g_rec_mutex_unlock (&self->lock);
  return plugin;
}

/**
 * cxr_registry_get_failures:
 * @self: a registry
 *
 * Returns: (transfer full) (array zero-terminated=1): one message per
 *   plugin file that failed to load, each naming the file and the reason
 */
gchar **
cxr_registry_get_failures (CxrRegistry *self)
{
  gchar **failures;

  g_return_val_if_fail (CXR_IS_REGISTRY (self), NULL);
  ensure_scanned (self);
  g_rec_mutex_lock (&self->lock);
  failures = g_new0 (gchar *, self->failures->len + 1);
  for (guint i = 0; i < self->failures->len; i++)
    failures[i] = g_strdup (g_ptr_array_index (self->failures, i));
  g_rec_mutex_unlock (&self->lock);
  return failures;
}

static gchar **
list_factories (CxrRegistry *self, gboolean stages)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key, value;
  gchar **strv;

  ensure_scanned (self);
  g_rec_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->factories);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (((CxrFactory *) value)->is_stage == stages)
      g_ptr_array_add (names, key);
  g_ptr_array_sort (names, compare_strings);
  strv = g_new0 (gchar *, names->len + 1);
  for (guint i = 0; i < names->len; i++)
    strv[i] = g_strdup (g_ptr_array_index (names, i));
  g_rec_mutex_unlock (&self->lock);
  return strv;
}

/**
 * cxr_registry_list_stages:
 * @self: a registry
 *
 * Returns: (transfer full) (array zero-terminated=1): the factory names of
 *   every stage type, sorted
 */
gchar **
cxr_registry_list_stages (CxrRegistry *self)
{
  g_return_val_if_fail (CXR_IS_REGISTRY (self), NULL);
  return list_factories (self, TRUE);
}

/**
 * cxr_registry_list_models:
 * @self: a registry
 *
 * Returns: (transfer full) (array zero-terminated=1): the factory names of
 *   every model type, sorted
 */
gchar **
cxr_registry_list_models (CxrRegistry *self)
{
  g_return_val_if_fail (CXR_IS_REGISTRY (self), NULL);
  return list_factories (self, FALSE);
}

static CxrFactory *
lookup_factory (CxrRegistry *self, const gchar *factory_name, gboolean stage)
{
  CxrFactory *factory;

  ensure_scanned (self);
  g_rec_mutex_lock (&self->lock);
  factory = g_hash_table_lookup (self->factories, factory_name);
  g_rec_mutex_unlock (&self->lock);
  if (factory != NULL && factory->is_stage != stage)
    return NULL;
  return factory;
}

/**
 * cxr_registry_find_stage_type:
 * @self: a registry
 * @factory_name: a stage type's name in pipeline files
 *
 * Returns: the #GType of the stage type, or %G_TYPE_INVALID
 */
GType
cxr_registry_find_stage_type (CxrRegistry *self, const gchar *factory_name)
{
  CxrFactory *factory;

  g_return_val_if_fail (CXR_IS_REGISTRY (self), G_TYPE_INVALID);
  g_return_val_if_fail (factory_name != NULL, G_TYPE_INVALID);
  factory = lookup_factory (self, factory_name, TRUE);
  return factory ? factory->type : G_TYPE_INVALID;
}

/**
 * cxr_registry_find_model_type:
 * @self: a registry
 * @factory_name: a model type's name in pipeline files
 *
 * Returns: the #GType of the model type, or %G_TYPE_INVALID
 */
GType
cxr_registry_find_model_type (CxrRegistry *self, const gchar *factory_name)
{
  CxrFactory *factory;

  g_return_val_if_fail (CXR_IS_REGISTRY (self), G_TYPE_INVALID);
  g_return_val_if_fail (factory_name != NULL, G_TYPE_INVALID);
  factory = lookup_factory (self, factory_name, FALSE);
  return factory ? factory->type : G_TYPE_INVALID;
}

/**
 * cxr_registry_get_plugin_for_factory:
 * @self: a registry
 * @factory_name: a stage or model type's name in pipeline files
 *
 * Returns: (transfer none) (nullable): the plugin that registered it
 */
CxrPlugin *
cxr_registry_get_plugin_for_factory (CxrRegistry *self, const gchar *factory_name)
{
  CxrFactory *factory;

  g_return_val_if_fail (CXR_IS_REGISTRY (self), NULL);
  g_return_val_if_fail (factory_name != NULL, NULL);
  factory = lookup_factory (self, factory_name, TRUE);
  if (factory == NULL)
    factory = lookup_factory (self, factory_name, FALSE);
  return factory ? factory->plugin : NULL;
}

/**
 * cxr_registry_get_factory_name:
 * @self: a registry
 * @type: a stage or model #GType
 *
 * Returns: (transfer none) (nullable): the name pipeline files use for
 *   @type, or %NULL if no plugin registered it
 */
const gchar *
cxr_registry_get_factory_name (CxrRegistry *self, GType type)
{
  const gchar *name;

  g_return_val_if_fail (CXR_IS_REGISTRY (self), NULL);
  g_rec_mutex_lock (&self->lock);
  name = g_hash_table_lookup (self->type_names, GSIZE_TO_POINTER (type));
  g_rec_mutex_unlock (&self->lock);
  return name;
}

static void
set_no_such_type (CxrRegistry *self, const gchar *what, const gchar *factory_name,
                  gboolean stage, GError **error)
{
  g_auto (GStrv) known = list_factories (self, stage);
  const gchar *closest = _cxr_closest_name (factory_name, (const gchar *const *) known);

  if (closest != NULL)
    g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_NO_SUCH_STAGE,
                 "no %s type \"%s\"; did you mean \"%s\"?", what, factory_name, closest);
  else
    g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_NO_SUCH_STAGE,
                 "no %s type \"%s\" (`cxrgen inspect` lists them)", what, factory_name);
}

/**
 * cxr_registry_make_stage:
 * @self: a registry
 * @factory_name: a stage type's name in pipeline files, such as "label-prompt"
 * @name: (nullable): the new stage's name; %NULL uses @factory_name
 * @error: return location for a #GError
 *
 * Creates a stage of a registered type, with its properties at their
 * defaults.
 *
 * Returns: (transfer full): the stage, or %NULL with @error set
 */
CxrStage *
cxr_registry_make_stage (CxrRegistry *self, const gchar *factory_name, const gchar *name,
                         GError **error)
{
  GType type;
  CxrStage *stage;

  g_return_val_if_fail (CXR_IS_REGISTRY (self), NULL);
  g_return_val_if_fail (factory_name != NULL, NULL);
  type = cxr_registry_find_stage_type (self, factory_name);
  if (type == G_TYPE_INVALID)
    {
      set_no_such_type (self, "stage", factory_name, TRUE, error);
      return NULL;
    }
  stage = g_object_new (type, "name", name ? name : factory_name, NULL);
  _cxr_stage_set_factory_name (stage, factory_name);
  return stage;
}

/**
 * cxr_registry_make_model:
 * @self: a registry
 * @factory_name: a model type's name in pipeline files, such as "sd-unet"
 * @name: (nullable): the new model's name; %NULL uses @factory_name
 * @error: return location for a #GError
 *
 * Creates a model of a registered type. Nothing is loaded until
 * cxr_model_prepare().
 *
 * Returns: (transfer full): the model, or %NULL with @error set
 */
CxrModel *
cxr_registry_make_model (CxrRegistry *self, const gchar *factory_name, const gchar *name,
                         GError **error)
{
  GType type;

  g_return_val_if_fail (CXR_IS_REGISTRY (self), NULL);
  g_return_val_if_fail (factory_name != NULL, NULL);
  type = cxr_registry_find_model_type (self, factory_name);
  if (type == G_TYPE_INVALID)
    {
      set_no_such_type (self, "model", factory_name, FALSE, error);
      return NULL;
    }
  return g_object_new (type, "name", name ? name : factory_name, NULL);
}
