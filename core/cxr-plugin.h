/* cxr-plugin.h: a loadable module of stages and models.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <gmodule.h>
#include <glib-object.h>

#include "cxr-version.h"

G_BEGIN_DECLS

#define CXR_TYPE_PLUGIN (cxr_plugin_get_type ())
G_DECLARE_FINAL_TYPE (CxrPlugin, cxr_plugin, CXR, PLUGIN, GObject)

/**
 * CxrPluginInitFunc:
 * @plugin: the plugin being loaded
 * @error: return location for a #GError
 *
 * A plugin's init function: registers its stage and model types with
 * cxr_plugin_register_stage() and cxr_plugin_register_model(). It must
 * do nothing else that is slow: no device, no weights, no files.
 *
 * Returns: %TRUE on success
 */
typedef gboolean (*CxrPluginInitFunc) (CxrPlugin *plugin, GError **error);

/**
 * CxrPluginDesc:
 * @abi_version: %CXR_PLUGIN_ABI_VERSION when the plugin was built
 * @name: the plugin's name; must match its file, libcxr<name>.so
 * @version: the plugin's version
 * @description: what the plugin provides, one sentence
 * @license: the plugin's licence, as an SPDX identifier
 * @init: the init function
 *
 * The descriptor a plugin exports as `cxr_plugin_<name>_desc` (with `-`
 * in the name written `_`). Use CXR_PLUGIN_DEFINE() to declare it. The
 * registry reads @abi_version first and loads nothing more from a plugin
 * of another ABI.
 */
typedef struct {
  guint abi_version;
  const gchar *name;
  const gchar *version;
  const gchar *description;
  const gchar *license;
  CxrPluginInitFunc init;
  /*< private >*/
  gpointer reserved[8];
} CxrPluginDesc;

/**
 * CXR_PLUGIN_DEFINE:
 * @name: the plugin name as a C identifier (the file is libcxr@name.so)
 * @description: what the plugin provides
 * @init: the #CxrPluginInitFunc
 *
 * Declares the exported descriptor of a plugin. Put it once in the
 * plugin's plugin.c.
 */
#define CXR_PLUGIN_DEFINE(name, description, init)                              \
  G_MODULE_EXPORT const CxrPluginDesc cxr_plugin_##name##_desc = {             \
    CXR_PLUGIN_ABI_VERSION, G_STRINGIFY (name), PACKAGE_VERSION, description,  \
    "LGPL-2.1-or-later", init, { NULL }                                         \
  };

const gchar *cxr_plugin_get_name (CxrPlugin *self);
const gchar *cxr_plugin_get_version (CxrPlugin *self);
const gchar *cxr_plugin_get_description (CxrPlugin *self);
const gchar *cxr_plugin_get_license (CxrPlugin *self);
const gchar *cxr_plugin_get_filename (CxrPlugin *self);
gchar **cxr_plugin_list_stages (CxrPlugin *self);
gchar **cxr_plugin_list_models (CxrPlugin *self);

gboolean cxr_plugin_register_stage (CxrPlugin *self, const gchar *factory_name, GType type);
gboolean cxr_plugin_register_model (CxrPlugin *self, const gchar *factory_name, GType type);

G_END_DECLS
