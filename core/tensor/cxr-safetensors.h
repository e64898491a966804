/* cxr-safetensors.h: reading and writing safetensors files.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <glib-object.h>

#include "cxr-tensor.h"

G_BEGIN_DECLS

/**
 * CXR_SAFETENSORS_MAX_HEADER:
 *
 * The largest header a safetensors file may have, in bytes (100 MB, as the
 * reference implementation allows).
 */
#define CXR_SAFETENSORS_MAX_HEADER 100000000

#define CXR_TYPE_SAFETENSORS (cxr_safetensors_get_type ())
G_DECLARE_FINAL_TYPE (CxrSafetensors, cxr_safetensors, CXR, SAFETENSORS, GObject)

CxrSafetensors *cxr_safetensors_open (const gchar *path, GError **error);
CxrSafetensors *cxr_safetensors_new_from_bytes (GBytes *bytes, const gchar *origin,
                                                GError **error);
const gchar *cxr_safetensors_get_origin (CxrSafetensors *self);
guint cxr_safetensors_get_n_tensors (CxrSafetensors *self);
gchar **cxr_safetensors_list_names (CxrSafetensors *self);
gboolean cxr_safetensors_has_tensor (CxrSafetensors *self, const gchar *name);
gboolean cxr_safetensors_get_info (CxrSafetensors *self, const gchar *name, CxrDType *dtype,
                                   gint64 **shape, guint *ndim);
guint64 cxr_safetensors_get_n_elements (CxrSafetensors *self);
CxrTensor *cxr_safetensors_get_tensor (CxrSafetensors *self, const gchar *name, GError **error);
gchar **cxr_safetensors_list_metadata_keys (CxrSafetensors *self);
const gchar *cxr_safetensors_get_metadata (CxrSafetensors *self, const gchar *key);

gboolean cxr_safetensors_save (const gchar *path, GHashTable *tensors, GHashTable *metadata,
                               GError **error);
GBytes *cxr_safetensors_serialize (GHashTable *tensors, GHashTable *metadata, GError **error);

G_END_DECLS
