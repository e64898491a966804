/* cxr-labeler.h: CheXpert-style labels from radiology report text.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <glib-object.h>

G_BEGIN_DECLS

#define CXR_TYPE_LABELER (cxr_labeler_get_type ())
G_DECLARE_FINAL_TYPE (CxrLabeler, cxr_labeler, CXR, LABELER, GObject)

CxrLabeler *cxr_labeler_new (GError **error);
gfloat *cxr_labeler_label (CxrLabeler *self, const gchar *report, gsize *n_labels, GError **error);
gboolean cxr_labeler_label_into (CxrLabeler *self, const gchar *report, gfloat *labels, GError **error);
gchar *cxr_labeler_explain (CxrLabeler *self, const gchar *report);

G_END_DECLS
