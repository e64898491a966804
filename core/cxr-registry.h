/* cxr-registry.h: the plugins and the stage and model types they provide.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <glib-object.h>

#include "cxr-model.h"
#include "cxr-plugin.h"
#include "cxr-stage.h"

G_BEGIN_DECLS

#define CXR_TYPE_REGISTRY (cxr_registry_get_type ())
G_DECLARE_FINAL_TYPE (CxrRegistry, cxr_registry, CXR, REGISTRY, GObject)

CxrRegistry *cxr_registry_get_default (void);
void cxr_registry_scan (CxrRegistry *self);
CxrPlugin *cxr_registry_load_file (CxrRegistry *self, const gchar *path, GError **error);

GList *cxr_registry_get_plugins (CxrRegistry *self);
CxrPlugin *cxr_registry_find_plugin (CxrRegistry *self, const gchar *name);
gchar **cxr_registry_get_failures (CxrRegistry *self);
gchar **cxr_registry_get_search_path (CxrRegistry *self);

gchar **cxr_registry_list_stages (CxrRegistry *self);
gchar **cxr_registry_list_models (CxrRegistry *self);
GType cxr_registry_find_stage_type (CxrRegistry *self, const gchar *factory_name);
GType cxr_registry_find_model_type (CxrRegistry *self, const gchar *factory_name);
CxrPlugin *cxr_registry_get_plugin_for_factory (CxrRegistry *self, const gchar *factory_name);
const gchar *cxr_registry_get_factory_name (CxrRegistry *self, GType type);

CxrStage *cxr_registry_make_stage (CxrRegistry *self, const gchar *factory_name,
                                   const gchar *name, GError **error);
gchar *cxr_registry_get_json_schema (CxrRegistry *self);

CxrModel *cxr_registry_make_model (CxrRegistry *self, const gchar *factory_name,
                                   const gchar *name, GError **error);

G_END_DECLS
