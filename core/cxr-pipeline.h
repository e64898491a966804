/* cxr-pipeline.h: a graph of stages and the models they share.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <glib-object.h>

#include "cxr-model.h"
#include "cxr-stage.h"

G_BEGIN_DECLS

#define CXR_TYPE_PIPELINE (cxr_pipeline_get_type ())
G_DECLARE_FINAL_TYPE (CxrPipeline, cxr_pipeline, CXR, PIPELINE, GObject)

CxrPipeline *cxr_pipeline_new (void);
CxrPipeline *cxr_pipeline_new_from_file (const gchar *path, const gchar *const *overrides,
                                         GError **error);
CxrPipeline *cxr_pipeline_new_from_data (const gchar *data, const gchar *origin,
                                         const gchar *const *overrides, GError **error);

const gchar *cxr_pipeline_get_description (CxrPipeline *self);
void cxr_pipeline_set_description (CxrPipeline *self, const gchar *description);
const gchar *cxr_pipeline_get_file (CxrPipeline *self);

gboolean cxr_pipeline_add_stage (CxrPipeline *self, CxrStage *stage, GError **error);
gboolean cxr_pipeline_add_model (CxrPipeline *self, CxrModel *model, GError **error);
CxrStage *cxr_pipeline_get_stage (CxrPipeline *self, const gchar *name);
CxrModel *cxr_pipeline_get_model (CxrPipeline *self, const gchar *name);
GList *cxr_pipeline_get_stages (CxrPipeline *self);
GList *cxr_pipeline_get_models (CxrPipeline *self);

gboolean cxr_pipeline_link (CxrPipeline *self, const gchar *upstream, const gchar *downstream,
                            GError **error);
gboolean cxr_pipeline_validate (CxrPipeline *self, GError **error);
GList *cxr_pipeline_get_sorted_stages (CxrPipeline *self, GError **error);
gchar **cxr_pipeline_get_upstream (CxrPipeline *self, const gchar *stage);

gchar *cxr_param_spec_get_default_text (GParamSpec *pspec);
gchar *cxr_param_spec_get_range_text (GParamSpec *pspec);

G_END_DECLS
