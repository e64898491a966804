/* cxr-private.h: internal functions shared by the files of libcxrgen.
 * Not installed; plugins never see it.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "cxr.h"

G_BEGIN_DECLS

/* How a stage's pushes reach the next stages: set by the scheduler for a
 * run, and by CxrHarness in tests. */
typedef CxrFlowReturn (*CxrStagePushFunc) (CxrStage *stage, guint port, CxrBatch *batch,
                                           gpointer user_data);

void _cxr_stage_set_push_func (CxrStage *stage, CxrStagePushFunc func, gpointer user_data);
void _cxr_stage_set_cancellable (CxrStage *stage, GCancellable *cancellable);
void _cxr_stage_reset_counters (CxrStage *stage);
void _cxr_stage_count_in (CxrStage *stage, guint samples);
void _cxr_stage_set_factory_name (CxrStage *stage, const gchar *factory_name);

/* Where a stage or model came from in a pipeline file, for messages. */
gchar *_cxr_describe_shape (const gint64 *shape, guint ndim);

void _cxr_object_set_origin (GObject *object, const gchar *file, guint line);
const gchar *_cxr_object_get_origin_file (GObject *object);
guint _cxr_object_get_origin_line (GObject *object);
void _cxr_object_set_key_line (GObject *object, const gchar *key, guint line);
guint _cxr_object_get_key_line (GObject *object, const gchar *key);
gchar *_cxr_object_describe_location (GObject *object, const gchar *key);

/* Parsing a string into a GValue for a GParamSpec; shared by the pipeline
 * parser and cxr_stage_set_property_from_string(). Errors carry no
 * location: the caller adds it. @lookup_object resolves names of objects
 * (models) for object properties; it may be NULL. */
typedef GObject *(*CxrObjectLookupFunc) (const gchar *name, gpointer user_data);
gboolean _cxr_value_from_string (GParamSpec *pspec, const gchar *text, GValue *value,
                                 CxrObjectLookupFunc lookup_object, gpointer user_data,
                                 GError **error);
gchar *_cxr_value_to_string (const GValue *value);
gchar *_cxr_describe_param_range (GParamSpec *pspec);

/* The closest of @candidates to @word (edit distance), or NULL when none
 * is close enough to be a plausible typo. */
const gchar *_cxr_closest_name (const gchar *word, const gchar *const *candidates);

/* JSON text helpers for events and the schema. */
void _cxr_json_append_string (GString *out, const gchar *text);

G_END_DECLS

G_BEGIN_DECLS
CxrPlugin *_cxr_plugin_new (const CxrPluginDesc *desc, const gchar *filename,
                            CxrRegistry *registry);
gboolean _cxr_registry_add_factory (CxrRegistry *self, CxrPlugin *plugin,
                                    const gchar *factory_name, GType type, gboolean is_stage);
G_END_DECLS

G_BEGIN_DECLS
/* One link of a pipeline: output @up_port of @up feeds input @down_port of
 * @down. Owned by the pipeline. */
typedef struct {
  CxrStage *up;
  guint up_port;
  CxrStage *down;
  guint down_port;
} CxrLink;

GPtrArray *_cxr_pipeline_get_links (CxrPipeline *self);
G_END_DECLS
