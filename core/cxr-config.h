/* cxr-config.h: a network's configuration, as the config.json of a
 * Hugging Face folder holds it.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * CxrConfig:
 *
 * A JSON object of configuration keys, read as a model asks for them. It
 * remembers which keys were asked for and what went wrong (a missing key,
 * a value of the wrong type), so a model reads all it needs in a row and
 * cxr_config_check() then names the first problem, or the keys nobody
 * read.
 */
typedef struct _CxrConfig CxrConfig;

#define CXR_TYPE_CONFIG (cxr_config_get_type ())
GType cxr_config_get_type (void) G_GNUC_CONST;

CxrConfig *cxr_config_new_from_file (const gchar *path, GError **error);
CxrConfig *cxr_config_new_from_json (const gchar *text, const gchar *origin, GError **error);
CxrConfig *cxr_config_ref (CxrConfig *self);
void cxr_config_unref (CxrConfig *self);

const gchar *cxr_config_get_origin (CxrConfig *self);
gboolean cxr_config_has_key (CxrConfig *self, const gchar *key);
gboolean cxr_config_is_list (CxrConfig *self, const gchar *key);
gint64 cxr_config_get_int (CxrConfig *self, const gchar *key, gint64 fallback);
gint64 cxr_config_require_int (CxrConfig *self, const gchar *key);
gdouble cxr_config_get_double (CxrConfig *self, const gchar *key, gdouble fallback);
const gchar *cxr_config_get_string (CxrConfig *self, const gchar *key, const gchar *fallback);
gboolean cxr_config_get_boolean (CxrConfig *self, const gchar *key, gboolean fallback);
gint64 *cxr_config_get_int_list (CxrConfig *self, const gchar *key, guint *n_values);
gchar **cxr_config_get_string_list (CxrConfig *self, const gchar *key);
CxrConfig *cxr_config_get_child (CxrConfig *self, const gchar *key);
void cxr_config_ignore (CxrConfig *self, const gchar *const *keys);
void cxr_config_fail (CxrConfig *self, const gchar *key, const gchar *format, ...) G_GNUC_PRINTF (3, 4);
gboolean cxr_config_check (CxrConfig *self, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CxrConfig, cxr_config_unref)

G_END_DECLS
