/* cxr-harness.c: drive one stage by hand, in tests and scripts.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxr-private.h"

/**
 * CxrHarness:
 *
 * Runs one stage without a scheduler, on the calling thread: push batches
 * in with cxr_harness_push(), pull what the stage pushed out with
 * cxr_harness_pull(). For tests of a single stage, and for scripts that
 * use a stage as a function.
 *
 * |[<!-- language="Python" -->
 * stage = Cxr.Registry.get_default().make_stage("label-prompt", None)
 * h = Cxr.Harness.new(stage)
 * h.prepare()
 * h.push(0, batch)
 * out, port = h.pull()
 * h.finish()
 * ]|
 */

typedef struct {
  guint port;
  CxrBatch *batch;
} Pushed;

struct _CxrHarness {
  GObject parent_instance;
  CxrStage *stage;
  GQueue pushed; /* Pushed */
  GCancellable *cancellable;
  gboolean prepared;
  gboolean stopped;
};

G_DEFINE_FINAL_TYPE (CxrHarness, cxr_harness, G_TYPE_OBJECT)

static CxrFlowReturn
harness_collect (CxrStage *stage, guint port, CxrBatch *batch, gpointer user_data)
{
  CxrHarness *self = user_data;
  Pushed *pushed = g_new0 (Pushed, 1);

  pushed->port = port;
  pushed->batch = g_object_ref (batch);
  g_queue_push_tail (&self->pushed, pushed);
  return CXR_FLOW_OK;
}

static void
cxr_harness_dispose (GObject *object)
{
  CxrHarness *self = CXR_HARNESS (object);
  Pushed *pushed;

  if (self->stage != NULL)
    {
      cxr_harness_abort (self);
      _cxr_stage_set_push_func (self->stage, NULL, NULL);
      _cxr_stage_set_cancellable (self->stage, NULL);
      g_clear_object (&self->stage);
    }
  while ((pushed = g_queue_pop_head (&self->pushed)) != NULL)
    {
      g_object_unref (pushed->batch);
      g_free (pushed);
    }
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (cxr_harness_parent_class)->dispose (object);
}

static void
cxr_harness_class_init (CxrHarnessClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cxr_harness_dispose;
}

static void
cxr_harness_init (CxrHarness *self)
{
  g_queue_init (&self->pushed);
  self->cancellable = g_cancellable_new ();
}

/**
 * cxr_harness_new:
 * @stage: the stage to drive
 *
 * Returns: (transfer full): a harness around @stage
 */
CxrHarness *
cxr_harness_new (CxrStage *stage)
{
  CxrHarness *self;

  g_return_val_if_fail (CXR_IS_STAGE (stage), NULL);
  self = g_object_new (CXR_TYPE_HARNESS, NULL);
  self->stage = g_object_ref (stage);
  _cxr_stage_reset_counters (stage);
  _cxr_stage_set_push_func (stage, harness_collect, self);
  _cxr_stage_set_cancellable (stage, self->cancellable);
  return self;
}

/**
 * cxr_harness_get_stage:
 * @self: a harness
 *
 * Returns: (transfer none): the stage
 */
CxrStage *
cxr_harness_get_stage (CxrHarness *self)
{
  g_return_val_if_fail (CXR_IS_HARNESS (self), NULL);
  return self->stage;
}

/**
 * cxr_harness_prepare:
 * @self: a harness
 * @error: return location for a #GError
 *
 * Calls the stage's prepare function.
 *
 * Returns: %TRUE on success
 */
gboolean
cxr_harness_prepare (CxrHarness *self, GError **error)
{
  CxrStageClass *klass;

  g_return_val_if_fail (CXR_IS_HARNESS (self), FALSE);
  klass = CXR_STAGE_GET_CLASS (self->stage);
  self->prepared = klass->prepare == NULL || klass->prepare (self->stage, error);
  return self->prepared;
}

static gboolean
flow_ok (CxrHarness *self, CxrFlowReturn ret, GError **error)
{
  if (ret == CXR_FLOW_ERROR)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "the stage failed");
      return FALSE;
    }
  return TRUE;
}

/**
 * cxr_harness_push:
 * @self: a prepared harness
 * @port: the input port
 * @batch: the batch
 * @error: return location for a #GError
 *
 * Hands @batch to the stage's process function, as the scheduler would.
 *
 * Returns: %TRUE unless the stage failed
 */
gboolean
cxr_harness_push (CxrHarness *self, guint port, CxrBatch *batch, GError **error)
{
  g_return_val_if_fail (CXR_IS_HARNESS (self), FALSE);
  g_return_val_if_fail (self->prepared, FALSE);
  g_return_val_if_fail (CXR_IS_BATCH (batch), FALSE);
  g_return_val_if_fail (port < cxr_stage_get_n_ports (self->stage, CXR_PORT_INPUT), FALSE);
  _cxr_stage_count_in (self->stage, cxr_batch_get_size (batch));
  return flow_ok (self, CXR_STAGE_GET_CLASS (self->stage)->process (self->stage, port, batch, error),
                  error);
}

/**
 * cxr_harness_drain_source:
 * @self: a prepared harness around a source
 * @error: return location for a #GError
 *
 * Calls a source's process function until it reports the end.
 *
 * Returns: %TRUE unless the stage failed
 */
gboolean
cxr_harness_drain_source (CxrHarness *self, GError **error)
{
  CxrStageClass *klass;

  g_return_val_if_fail (CXR_IS_HARNESS (self), FALSE);
  g_return_val_if_fail (self->prepared, FALSE);
  klass = CXR_STAGE_GET_CLASS (self->stage);
  for (;;)
    {
      CxrFlowReturn ret = klass->process (self->stage, 0, NULL, error);
      if (ret == CXR_FLOW_EOS || ret == CXR_FLOW_CANCELLED)
        return TRUE;
      if (!flow_ok (self, ret, error))
        return FALSE;
    }
}

/**
 * cxr_harness_finish:
 * @self: a prepared harness
 * @error: return location for a #GError
 *
 * Ends the stream: calls the stage's finish function, then its stop
 * function.
 *
 * Returns: %TRUE on success
 */
gboolean
cxr_harness_finish (CxrHarness *self, GError **error)
{
  CxrStageClass *klass;
  gboolean ok;

  g_return_val_if_fail (CXR_IS_HARNESS (self), FALSE);
  g_return_val_if_fail (self->prepared && !self->stopped, FALSE);
  klass = CXR_STAGE_GET_CLASS (self->stage);
  ok = klass->finish == NULL || klass->finish (self->stage, error);
  self->stopped = TRUE;
  if (klass->stop)
    klass->stop (self->stage, ok);
  return ok;
}

/**
 * cxr_harness_abort:
 * @self: a harness
 *
 * Ends the stream as a failed or cancelled run would: calls the stage's
 * stop function with completed %FALSE. Does nothing if the stage was not
 * prepared or is stopped already.
 */
void
cxr_harness_abort (CxrHarness *self)
{
  CxrStageClass *klass;

  g_return_if_fail (CXR_IS_HARNESS (self));
  if (!self->prepared || self->stopped)
    return;
  self->stopped = TRUE;
  g_cancellable_cancel (self->cancellable);
  klass = CXR_STAGE_GET_CLASS (self->stage);
  if (klass->stop)
    klass->stop (self->stage, FALSE);
}

/**
 * cxr_harness_pull:
 * @self: a harness
 * @port: (out) (optional): the output port the batch went out on
 *
 * Returns: (transfer full) (nullable): the oldest batch the stage pushed
 *   and nobody pulled yet, or %NULL
 */
CxrBatch *
cxr_harness_pull (CxrHarness *self, guint *port)
{
  Pushed *pushed;
  CxrBatch *batch;

  g_return_val_if_fail (CXR_IS_HARNESS (self), NULL);
  pushed = g_queue_pop_head (&self->pushed);
  if (pushed == NULL)
    return NULL;
  if (port)
    *port = pushed->port;
  batch = pushed->batch;
  g_free (pushed);
  return batch;
}

/**
 * cxr_harness_get_n_pending:
 * @self: a harness
 *
 * Returns: the number of pushed batches not pulled yet
 */
guint
cxr_harness_get_n_pending (CxrHarness *self)
{
  g_return_val_if_fail (CXR_IS_HARNESS (self), 0);
  return self->pushed.length;
}
