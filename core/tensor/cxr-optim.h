/* cxr-optim.h: parameters in one flat buffer, AdamW, gradient clipping,
 * learning-rate schedules, EMA and checkpoints.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <glib-object.h>

#include "cxr-safetensors.h"
#include "cxr-tensor.h"

G_BEGIN_DECLS

#define CXR_TYPE_PARAM_SET (cxr_param_set_get_type ())
G_DECLARE_FINAL_TYPE (CxrParamSet, cxr_param_set, CXR, PARAM_SET, GObject)

CxrParamSet *cxr_param_set_new (void);
gboolean cxr_param_set_add (CxrParamSet *self, const gchar *name, const gint64 *shape, guint ndim,
                            GError **error);
gboolean cxr_param_set_add_buffer (CxrParamSet *self, const gchar *name, const gint64 *shape, guint ndim,
                                   GError **error);
gboolean cxr_param_set_is_buffer (CxrParamSet *self, const gchar *name);
void cxr_param_set_allocate (CxrParamSet *self);
void cxr_param_set_allocate_frozen (CxrParamSet *self);
void cxr_param_set_enable_grads (CxrParamSet *self);
gboolean cxr_param_set_is_allocated (CxrParamSet *self);
CxrTensor *cxr_param_set_get (CxrParamSet *self, const gchar *name);
gchar **cxr_param_set_list_names (CxrParamSet *self);
gint64 cxr_param_set_get_n_elements (CxrParamSet *self);
CxrTensor *cxr_param_set_get_flat (CxrParamSet *self);
CxrTensor *cxr_param_set_get_flat_grad (CxrParamSet *self);
void cxr_param_set_zero_grad (CxrParamSet *self);
void cxr_param_set_init_normal (CxrParamSet *self, const gchar *name, gfloat std, guint64 seed);
gdouble cxr_param_set_clip_grad_norm (CxrParamSet *self, gdouble max_norm);
gboolean cxr_param_set_load (CxrParamSet *self, CxrSafetensors *file, const gchar *prefix,
                             gboolean strict, GError **error);
GHashTable *cxr_param_set_to_table (CxrParamSet *self, const gchar *prefix);
void cxr_param_set_ema_update (CxrParamSet *ema, CxrParamSet *params, gfloat decay);
void cxr_param_set_copy_from (CxrParamSet *self, CxrParamSet *other);

#define CXR_TYPE_ADAMW (cxr_adamw_get_type ())
G_DECLARE_FINAL_TYPE (CxrAdamW, cxr_adamw, CXR, ADAMW, GObject)

CxrAdamW *cxr_adamw_new (CxrParamSet *params);
void cxr_adamw_step (CxrAdamW *self, gfloat lr);
gint64 cxr_adamw_get_step (CxrAdamW *self);

gdouble cxr_lr_warmup_cosine (gint64 step, gdouble base_lr, gint64 warmup_steps, gint64 total_steps,
                              gdouble min_lr);

gboolean cxr_checkpoint_save (const gchar *path, CxrParamSet *params, CxrAdamW *optimizer,
                              GHashTable *metadata, GError **error);
gboolean cxr_checkpoint_load (const gchar *path, CxrParamSet *params, CxrAdamW *optimizer,
                              GHashTable **metadata, GError **error);

G_END_DECLS
