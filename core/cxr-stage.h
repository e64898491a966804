/* cxr-stage.h: one step of a pipeline.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <gio/gio.h>

#include "cxr-batch.h"

G_BEGIN_DECLS

/**
 * CxrFlowReturn:
 * @CXR_FLOW_OK: the batch was handled; go on
 * @CXR_FLOW_EOS: a source has no more batches; a stage with inputs wants
 *   no more on the port of the batch it was given; a push found no stage
 *   downstream that wants more
 * @CXR_FLOW_ERROR: the stage failed; the #GError says why
 * @CXR_FLOW_CANCELLED: the run was cancelled
 *
 * What a stage's process function and cxr_stage_push() return.
 */
typedef enum {
  CXR_FLOW_OK,
  CXR_FLOW_EOS,
  CXR_FLOW_ERROR,
  CXR_FLOW_CANCELLED,
} CxrFlowReturn;

/**
 * CxrPortDirection:
 * @CXR_PORT_INPUT: batches come in through the port
 * @CXR_PORT_OUTPUT: batches go out through the port
 *
 * The direction of a port.
 */
typedef enum {
  CXR_PORT_INPUT,
  CXR_PORT_OUTPUT,
} CxrPortDirection;

#define CXR_TYPE_STAGE (cxr_stage_get_type ())
G_DECLARE_DERIVABLE_TYPE (CxrStage, cxr_stage, CXR, STAGE, GObject)

/**
 * CxrStageClass:
 * @parent_class: the parent class
 * @prepare: called once on the stage's own thread before the first batch:
 *   load weights, open files, check properties. The default does nothing.
 * @process: handle one batch that came in on input @port. A source (a
 *   stage without inputs) is called with @batch %NULL, over and over, and
 *   returns %CXR_FLOW_EOS when it has no more. A stage with inputs returns
 *   %CXR_FLOW_EOS to end input @port early: the scheduler counts it as
 *   ended (@input_ended is called) and the stages upstream hear it on
 *   their next push, so a source stops reading. Output goes out through
 *   cxr_stage_push(). The default calls @transform and pushes the batch,
 *   and returns what the push returned.
 * @transform: change @batch in place (add or replace fields); the default
 *   process function then pushes it on output 0. %NULL by default.
 * @finish: called once after every input has ended (or a source returned
 *   %CXR_FLOW_EOS): flush, push what is left, write summaries. The default
 *   does nothing.
 * @stop: called once at the end of every run that called @prepare, after
 *   @finish when the run completed, or in its place when it failed or was
 *   cancelled (@completed %FALSE): release resources, delete partial
 *   output. The default does nothing.
 * @get_port_fields: the batch fields a port needs (input) or adds
 *   (output). The default returns those of the class's port template;
 *   stages whose fields depend on their properties override it.
 * @input_ended: called when the stream of input @port has ended, before
 *   the other inputs may have (a trainer's validation set is complete).
 *   %NULL by default.
 *
 * The virtual functions of a stage. Every one runs on the stage's own
 * thread, one at a time.
 */
struct _CxrStageClass {
  GObjectClass parent_class;

  gboolean (*prepare) (CxrStage *self, GError **error);
  CxrFlowReturn (*process) (CxrStage *self, guint port, CxrBatch *batch, GError **error);
  gboolean (*transform) (CxrStage *self, CxrBatch *batch, GError **error);
  gboolean (*finish) (CxrStage *self, GError **error);
  void (*stop) (CxrStage *self, gboolean completed);
  gchar **(*get_port_fields) (CxrStage *self, CxrPortDirection direction, guint port);
  gboolean (*input_ended) (CxrStage *self, guint port, GError **error);

  /*< private >*/
  gpointer padding[15];
};

/* Class setup, from class_init. */
void cxr_stage_class_set_metadata (CxrStageClass *klass, const gchar *long_name,
                                   const gchar *category, const gchar *description,
                                   const gchar *author);
void cxr_stage_class_add_input (CxrStageClass *klass, const gchar *name,
                                const gchar *fields, const gchar *description);
void cxr_stage_class_add_optional_input (CxrStageClass *klass, const gchar *name,
                                         const gchar *fields, const gchar *description);
void cxr_stage_class_set_leading_input (CxrStageClass *klass, const gchar *name);
void cxr_stage_class_set_input_kept (CxrStageClass *klass, const gchar *name);
void cxr_stage_class_add_output (CxrStageClass *klass, const gchar *name,
                                 const gchar *fields, gboolean passthrough,
                                 const gchar *description);

/* Class queries. */
const gchar *cxr_stage_class_get_metadata (CxrStageClass *klass, const gchar *key);
guint cxr_stage_class_get_n_ports (CxrStageClass *klass, CxrPortDirection direction);
const gchar *cxr_stage_class_get_port_name (CxrStageClass *klass, CxrPortDirection direction,
                                            guint port);
const gchar *cxr_stage_class_get_port_description (CxrStageClass *klass,
                                                   CxrPortDirection direction, guint port);
gboolean cxr_stage_class_get_port_passthrough (CxrStageClass *klass, guint port);
gboolean cxr_stage_class_get_port_optional (CxrStageClass *klass, guint port);
gint cxr_stage_class_get_leading_input (CxrStageClass *klass);
gboolean cxr_stage_class_get_input_kept (CxrStageClass *klass, guint port);
gint cxr_stage_class_find_port (CxrStageClass *klass, CxrPortDirection direction,
                                const gchar *name);

/* Instances. */
const gchar *cxr_stage_get_name (CxrStage *self);
void cxr_stage_set_name (CxrStage *self, const gchar *name);
const gchar *cxr_stage_get_factory_name (CxrStage *self);
gchar **cxr_stage_get_port_fields (CxrStage *self, CxrPortDirection direction, guint port);
guint cxr_stage_get_n_ports (CxrStage *self, CxrPortDirection direction);

CxrFlowReturn cxr_stage_push (CxrStage *self, CxrBatch *batch);
CxrFlowReturn cxr_stage_push_port (CxrStage *self, guint port, CxrBatch *batch);

void cxr_stage_set_total (CxrStage *self, gint64 samples);
gint64 cxr_stage_get_total (CxrStage *self);
guint64 cxr_stage_get_samples_in (CxrStage *self);
guint64 cxr_stage_get_samples_out (CxrStage *self);
void cxr_stage_set_status (CxrStage *self, const gchar *status);
gchar *cxr_stage_dup_status (CxrStage *self);

GCancellable *cxr_stage_get_cancellable (CxrStage *self);
gboolean cxr_stage_is_cancelled (CxrStage *self);

gboolean cxr_stage_set_property_from_string (CxrStage *self, const gchar *key,
                                             const gchar *value, GError **error);

G_END_DECLS
