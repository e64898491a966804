/* cxr-json.h: a strict JSON parser that builds GVariants, and JSON strings.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

GVariant *cxr_json_parse (const gchar *text, gsize length, const gchar *origin, GError **error);
void cxr_json_append_string (GString *out, const gchar *text);

G_END_DECLS
