/* tests/plugins/testplugin.c: stages and models that exist only to test
 * the framework: a counting source, a transform that can fail, a
 * collecting sink that can be slow, a two-input merge, and models of two
 * roles with a stage that drives one.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <cxr.h>

/* Shared by the source and the sink, to measure back-pressure: how far
 * the source ran ahead of the sink. */
static gint64 produced_batches; /* atomic */

/* ------------------------------------------------------- test-count-source */

#define TEST_TYPE_COUNT_SOURCE (test_count_source_get_type ())
G_DECLARE_FINAL_TYPE (TestCountSource, test_count_source, TEST, COUNT_SOURCE, CxrStage)

struct _TestCountSource {
  CxrStage parent_instance;
  guint count;
  guint batch_size;
  guint delay_us;
  guint64 next;
  guint64 sequence;
};

enum { COUNT_PROP_0, COUNT_PROP_COUNT, COUNT_PROP_BATCH_SIZE, COUNT_PROP_DELAY_US, COUNT_N_PROPS };

G_DEFINE_FINAL_TYPE (TestCountSource, test_count_source, CXR_TYPE_STAGE)

static gboolean
test_count_source_prepare (CxrStage *stage, GError **error)
{
  TestCountSource *self = TEST_COUNT_SOURCE (stage);

  self->next = 0;
  self->sequence = 0;
  __atomic_store_n (&produced_batches, 0, __ATOMIC_SEQ_CST);
  cxr_stage_set_total (stage, self->count);
  return TRUE;
}

static CxrFlowReturn
test_count_source_process (CxrStage *stage, guint port, CxrBatch *unused, GError **error)
{
  TestCountSource *self = TEST_COUNT_SOURCE (stage);
  guint n = (guint) MIN ((guint64) self->batch_size, self->count - self->next);
  g_autoptr (CxrBatch) batch = NULL;
  g_autofree gfloat *values = NULL;
  gchar **ids;

  if (n == 0)
    return CXR_FLOW_EOS;
  if (self->delay_us)
    g_usleep (self->delay_us);
  batch = cxr_batch_new (n);
  cxr_batch_set_sequence (batch, self->sequence++);
  values = g_new (gfloat, n);
  ids = g_new0 (gchar *, n + 1);
  for (guint i = 0; i < n; i++)
    {
      values[i] = (gfloat) (self->next + i);
      ids[i] = g_strdup_printf ("%" G_GUINT64_FORMAT, self->next + i);
    }
  cxr_batch_set_floats (batch, "value", 1, values, n);
  cxr_batch_take_strings (batch, CXR_FIELD_ID, ids);
  self->next += n;
  __atomic_fetch_add (&produced_batches, 1, __ATOMIC_SEQ_CST);
  return cxr_stage_push (stage, batch);
}

static void
test_count_source_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  TestCountSource *self = TEST_COUNT_SOURCE (object);
  switch (id)
    {
    case COUNT_PROP_COUNT: self->count = g_value_get_uint (value); break;
    case COUNT_PROP_BATCH_SIZE: self->batch_size = g_value_get_uint (value); break;
    case COUNT_PROP_DELAY_US: self->delay_us = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
test_count_source_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  TestCountSource *self = TEST_COUNT_SOURCE (object);
  switch (id)
    {
    case COUNT_PROP_COUNT: g_value_set_uint (value, self->count); break;
    case COUNT_PROP_BATCH_SIZE: g_value_set_uint (value, self->batch_size); break;
    case COUNT_PROP_DELAY_US: g_value_set_uint (value, self->delay_us); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
test_count_source_class_init (TestCountSourceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  object_class->set_property = test_count_source_set_property;
  object_class->get_property = test_count_source_get_property;
  stage_class->prepare = test_count_source_prepare;
  stage_class->process = test_count_source_process;
  g_object_class_install_property (object_class, COUNT_PROP_COUNT,
    g_param_spec_uint ("count", "Count", "Samples to produce", 0, 1000000, 10, flags));
  g_object_class_install_property (object_class, COUNT_PROP_BATCH_SIZE,
    g_param_spec_uint ("batch-size", "Batch size", "Samples per batch", 1, 1024, 2, flags));
  g_object_class_install_property (object_class, COUNT_PROP_DELAY_US,
    g_param_spec_uint ("delay-us", "Delay", "Microseconds to sleep per batch", 0, 10000000, 0, flags));
  cxr_stage_class_set_metadata (stage_class, "Counting source", "Source/Test",
                                "Produces samples 0, 1, 2, ... as the float field value", "tests");
  cxr_stage_class_add_output (stage_class, "out", "id,value", FALSE, NULL);
}

static void
test_count_source_init (TestCountSource *self)
{
  self->count = 10;
  self->batch_size = 2;
}

/* ----------------------------------------------------------- test-transform */

#define TEST_TYPE_TRANSFORM (test_transform_get_type ())
G_DECLARE_FINAL_TYPE (TestTransform, test_transform, TEST, TRANSFORM, CxrStage)

struct _TestTransform {
  CxrStage parent_instance;
  gint fail_at; /* batch sequence to fail on, -1 never */
  guint delay_us;
  gdouble factor;
};

enum { TRANSFORM_PROP_0, TRANSFORM_PROP_FAIL_AT, TRANSFORM_PROP_DELAY_US, TRANSFORM_PROP_FACTOR };

G_DEFINE_FINAL_TYPE (TestTransform, test_transform, CXR_TYPE_STAGE)

static gboolean
test_transform_transform (CxrStage *stage, CxrBatch *batch, GError **error)
{
  TestTransform *self = TEST_TRANSFORM (stage);
  gsize n = 0;
  const gfloat *values = cxr_batch_get_floats (batch, "value", NULL, &n);
  g_autofree gfloat *out = g_new (gfloat, n);

  if (self->delay_us)
    g_usleep (self->delay_us);
  if (self->fail_at >= 0 && cxr_batch_get_sequence (batch) == (guint64) self->fail_at)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED,
                   "deliberate failure at batch %d", self->fail_at);
      return FALSE;
    }
  for (gsize i = 0; i < n; i++)
    out[i] = (gfloat) (values[i] * self->factor);
  cxr_batch_set_floats (batch, "scaled", 1, out, n);
  return TRUE;
}

static void
test_transform_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  TestTransform *self = TEST_TRANSFORM (object);
  switch (id)
    {
    case TRANSFORM_PROP_FAIL_AT: self->fail_at = g_value_get_int (value); break;
    case TRANSFORM_PROP_DELAY_US: self->delay_us = g_value_get_uint (value); break;
    case TRANSFORM_PROP_FACTOR: self->factor = g_value_get_double (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
test_transform_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  TestTransform *self = TEST_TRANSFORM (object);
  switch (id)
    {
    case TRANSFORM_PROP_FAIL_AT: g_value_set_int (value, self->fail_at); break;
    case TRANSFORM_PROP_DELAY_US: g_value_set_uint (value, self->delay_us); break;
    case TRANSFORM_PROP_FACTOR: g_value_set_double (value, self->factor); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
test_transform_class_init (TestTransformClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  object_class->set_property = test_transform_set_property;
  object_class->get_property = test_transform_get_property;
  stage_class->transform = test_transform_transform;
  g_object_class_install_property (object_class, TRANSFORM_PROP_FAIL_AT,
    g_param_spec_int ("fail-at", "Fail at", "Fail on this batch (-1: never)", -1, G_MAXINT, -1, flags));
  g_object_class_install_property (object_class, TRANSFORM_PROP_DELAY_US,
    g_param_spec_uint ("delay-us", "Delay", "Microseconds to sleep per batch", 0, 10000000, 0, flags));
  g_object_class_install_property (object_class, TRANSFORM_PROP_FACTOR,
    g_param_spec_double ("factor", "Factor", "What to multiply by", -1000.0, 1000.0, 2.0, flags));
  cxr_stage_class_set_metadata (stage_class, "Scaling transform", "Filter/Test",
                                "Adds the field scaled = value * factor", "tests");
  cxr_stage_class_add_input (stage_class, "in", "value", NULL);
  cxr_stage_class_add_output (stage_class, "out", "scaled", TRUE, NULL);
}

static void
test_transform_init (TestTransform *self)
{
  self->fail_at = -1;
  self->factor = 2.0;
}

/* ------------------------------------------------------- test-collect-sink */

#define TEST_TYPE_COLLECT_SINK (test_collect_sink_get_type ())
G_DECLARE_FINAL_TYPE (TestCollectSink, test_collect_sink, TEST, COLLECT_SINK, CxrStage)

struct _TestCollectSink {
  CxrStage parent_instance;
  guint delay_us;
  guint stop_after;
  gchar *require;
  guint64 received;
  guint64 batches;
  gboolean in_order;
  gint64 max_lead;
  gboolean finished;
  gboolean stopped_completed;
  gint stop_calls;
  GString *values;
};

enum {
  SINK_PROP_0, SINK_PROP_DELAY_US, SINK_PROP_REQUIRE, SINK_PROP_RECEIVED, SINK_PROP_IN_ORDER,
  SINK_PROP_MAX_LEAD, SINK_PROP_FINISHED, SINK_PROP_STOPPED_COMPLETED, SINK_PROP_STOP_CALLS,
  SINK_PROP_VALUES, SINK_PROP_STOP_AFTER
};

G_DEFINE_FINAL_TYPE (TestCollectSink, test_collect_sink, CXR_TYPE_STAGE)

static gboolean
test_collect_sink_prepare (CxrStage *stage, GError **error)
{
  TestCollectSink *self = TEST_COLLECT_SINK (stage);

  self->received = 0;
  self->batches = 0;
  self->in_order = TRUE;
  self->max_lead = 0;
  self->finished = FALSE;
  self->stopped_completed = FALSE;
  self->stop_calls = 0;
  g_string_truncate (self->values, 0);
  return TRUE;
}

static CxrFlowReturn
test_collect_sink_process (CxrStage *stage, guint port, CxrBatch *batch, GError **error)
{
  TestCollectSink *self = TEST_COLLECT_SINK (stage);
  gsize n = 0;
  const gfloat *values = cxr_batch_get_floats (batch, "value", NULL, &n);
  gint64 lead = __atomic_load_n (&produced_batches, __ATOMIC_SEQ_CST) - (gint64) self->batches;

  self->max_lead = MAX (self->max_lead, lead);
  if (self->delay_us)
    g_usleep (self->delay_us);
  for (gsize i = 0; i < n; i++)
    {
      if (values[i] != (gfloat) self->received)
        self->in_order = FALSE;
      g_string_append_printf (self->values, "%s%g", self->values->len ? "," : "", values[i]);
      self->received++;
    }
  self->batches++;
  /* with stop-after, it wants nothing more once it has that many */
  return self->stop_after > 0 && self->received >= self->stop_after ? CXR_FLOW_EOS : CXR_FLOW_OK;
}

static gboolean
test_collect_sink_finish (CxrStage *stage, GError **error)
{
  TEST_COLLECT_SINK (stage)->finished = TRUE;
  return TRUE;
}

static void
test_collect_sink_stop (CxrStage *stage, gboolean completed)
{
  TestCollectSink *self = TEST_COLLECT_SINK (stage);
  self->stopped_completed = completed;
  self->stop_calls++;
}

static gchar **
test_collect_sink_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  TestCollectSink *self = TEST_COLLECT_SINK (stage);
  const gchar *fields[] = { "value", self->require, NULL };
  return g_strdupv ((gchar **) fields);
}

static void
test_collect_sink_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  TestCollectSink *self = TEST_COLLECT_SINK (object);
  switch (id)
    {
    case SINK_PROP_DELAY_US: self->delay_us = g_value_get_uint (value); break;
    case SINK_PROP_STOP_AFTER: self->stop_after = g_value_get_uint (value); break;
    case SINK_PROP_REQUIRE: g_free (self->require); self->require = g_value_dup_string (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
test_collect_sink_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  TestCollectSink *self = TEST_COLLECT_SINK (object);
  switch (id)
    {
    case SINK_PROP_DELAY_US: g_value_set_uint (value, self->delay_us); break;
    case SINK_PROP_STOP_AFTER: g_value_set_uint (value, self->stop_after); break;
    case SINK_PROP_REQUIRE: g_value_set_string (value, self->require); break;
    case SINK_PROP_RECEIVED: g_value_set_uint64 (value, self->received); break;
    case SINK_PROP_IN_ORDER: g_value_set_boolean (value, self->in_order); break;
    case SINK_PROP_MAX_LEAD: g_value_set_int64 (value, self->max_lead); break;
    case SINK_PROP_FINISHED: g_value_set_boolean (value, self->finished); break;
    case SINK_PROP_STOPPED_COMPLETED: g_value_set_boolean (value, self->stopped_completed); break;
    case SINK_PROP_STOP_CALLS: g_value_set_int (value, self->stop_calls); break;
    case SINK_PROP_VALUES: g_value_set_string (value, self->values->str); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
test_collect_sink_finalize (GObject *object)
{
  TestCollectSink *self = TEST_COLLECT_SINK (object);
  g_free (self->require);
  g_string_free (self->values, TRUE);
  G_OBJECT_CLASS (test_collect_sink_parent_class)->finalize (object);
}

static void
test_collect_sink_class_init (TestCollectSinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->set_property = test_collect_sink_set_property;
  object_class->get_property = test_collect_sink_get_property;
  object_class->finalize = test_collect_sink_finalize;
  stage_class->prepare = test_collect_sink_prepare;
  stage_class->process = test_collect_sink_process;
  stage_class->finish = test_collect_sink_finish;
  stage_class->stop = test_collect_sink_stop;
  stage_class->get_port_fields = test_collect_sink_get_port_fields;
  g_object_class_install_property (object_class, SINK_PROP_DELAY_US,
    g_param_spec_uint ("delay-us", "Delay", "Microseconds to sleep per batch", 0, 10000000, 0, rw));
  g_object_class_install_property (object_class, SINK_PROP_STOP_AFTER,
    g_param_spec_uint ("stop-after", "Stop after", "Want no more input after this many samples (0: never)", 0,
                       G_MAXUINT, 0, rw));
  g_object_class_install_property (object_class, SINK_PROP_REQUIRE,
    g_param_spec_string ("require", "Require", "Another field the input must carry", NULL, rw));
  g_object_class_install_property (object_class, SINK_PROP_RECEIVED,
    g_param_spec_uint64 ("received", "Received", "Samples received", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (object_class, SINK_PROP_IN_ORDER,
    g_param_spec_boolean ("in-order", "In order", "Whether values came 0, 1, 2, ...", TRUE, ro));
  g_object_class_install_property (object_class, SINK_PROP_MAX_LEAD,
    g_param_spec_int64 ("max-lead", "Max lead", "Most batches the source was ahead", 0, G_MAXINT64, 0, ro));
  g_object_class_install_property (object_class, SINK_PROP_FINISHED,
    g_param_spec_boolean ("finished", "Finished", "Whether finish was called", FALSE, ro));
  g_object_class_install_property (object_class, SINK_PROP_STOPPED_COMPLETED,
    g_param_spec_boolean ("stopped-completed", "Stopped completed", "What stop was told", FALSE, ro));
  g_object_class_install_property (object_class, SINK_PROP_STOP_CALLS,
    g_param_spec_int ("stop-calls", "Stop calls", "How often stop was called", 0, G_MAXINT, 0, ro));
  g_object_class_install_property (object_class, SINK_PROP_VALUES,
    g_param_spec_string ("values", "Values", "The values received, comma-separated", NULL, ro));
  cxr_stage_class_set_metadata (stage_class, "Collecting sink", "Sink/Test",
                                "Counts what it receives and checks the order", "tests");
  cxr_stage_class_add_input (stage_class, "in", "value", NULL);
}

static void
test_collect_sink_init (TestCollectSink *self)
{
  self->values = g_string_new (NULL);
  self->in_order = TRUE;
}

/* -------------------------------------------------------------- test-merge */

#define TEST_TYPE_MERGE (test_merge_get_type ())
G_DECLARE_FINAL_TYPE (TestMerge, test_merge, TEST, MERGE, CxrStage)

struct _TestMerge {
  CxrStage parent_instance;
  guint64 from[2];
};

G_DEFINE_FINAL_TYPE (TestMerge, test_merge, CXR_TYPE_STAGE)

static CxrFlowReturn
test_merge_process (CxrStage *stage, guint port, CxrBatch *batch, GError **error)
{
  TestMerge *self = TEST_MERGE (stage);
  self->from[port] += cxr_batch_get_size (batch);
  return cxr_stage_push (stage, batch);
}

static void
test_merge_class_init (TestMergeClass *klass)
{
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);

  stage_class->process = test_merge_process;
  cxr_stage_class_set_metadata (stage_class, "Merge", "Filter/Test",
                                "Passes on the batches of two inputs", "tests");
  cxr_stage_class_add_input (stage_class, "left", "value", "First input");
  cxr_stage_class_add_input (stage_class, "right", "value", "Second input");
  cxr_stage_class_add_output (stage_class, "out", NULL, TRUE, NULL);
}

static void
test_merge_init (TestMerge *self)
{
}

/* ------------------------------------------------------ test-leading-merge */

/* Two inputs, "in" and the leading "first": records whether every batch of
 * "first" came before any of "in". */
#define TEST_TYPE_LEADING_MERGE (test_leading_merge_get_type ())
G_DECLARE_FINAL_TYPE (TestLeadingMerge, test_leading_merge, TEST, LEADING_MERGE, CxrStage)

struct _TestLeadingMerge {
  CxrStage parent_instance;
  guint64 from[2];
  gboolean first_ended, in_order;
};

enum { LEAD_PROP_0, LEAD_PROP_IN, LEAD_PROP_FIRST, LEAD_PROP_IN_ORDER };

G_DEFINE_FINAL_TYPE (TestLeadingMerge, test_leading_merge, CXR_TYPE_STAGE)

static gboolean
test_leading_merge_prepare (CxrStage *stage, GError **error)
{
  TestLeadingMerge *self = TEST_LEADING_MERGE (stage);
  self->from[0] = self->from[1] = 0;
  self->first_ended = FALSE;
  self->in_order = TRUE;
  return TRUE;
}

static CxrFlowReturn
test_leading_merge_process (CxrStage *stage, guint port, CxrBatch *batch, GError **error)
{
  TestLeadingMerge *self = TEST_LEADING_MERGE (stage);
  if (port == 0 && !self->first_ended)
    self->in_order = FALSE;
  self->from[port] += cxr_batch_get_size (batch);
  return port == 0 ? cxr_stage_push (stage, batch) : CXR_FLOW_OK;
}

static gboolean
test_leading_merge_input_ended (CxrStage *stage, guint port, GError **error)
{
  if (port == 1)
    TEST_LEADING_MERGE (stage)->first_ended = TRUE;
  return TRUE;
}

static void
test_leading_merge_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  TestLeadingMerge *self = TEST_LEADING_MERGE (object);
  switch (id)
    {
    case LEAD_PROP_IN: g_value_set_uint64 (value, self->from[0]); break;
    case LEAD_PROP_FIRST: g_value_set_uint64 (value, self->from[1]); break;
    case LEAD_PROP_IN_ORDER: g_value_set_boolean (value, self->in_order); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
test_leading_merge_class_init (TestLeadingMergeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->get_property = test_leading_merge_get_property;
  stage_class->prepare = test_leading_merge_prepare;
  stage_class->process = test_leading_merge_process;
  stage_class->input_ended = test_leading_merge_input_ended;
  g_object_class_install_property (object_class, LEAD_PROP_IN,
    g_param_spec_uint64 ("from-in", "From in", "Samples from in", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (object_class, LEAD_PROP_FIRST,
    g_param_spec_uint64 ("from-first", "From first", "Samples from first", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (object_class, LEAD_PROP_IN_ORDER,
    g_param_spec_boolean ("in-order", "In order", "Whether all of first came before in", TRUE, ro));
  cxr_stage_class_set_metadata (stage_class, "Leading merge", "Filter/Test",
                                "Takes the whole of one input before the other", "tests");
  cxr_stage_class_add_input (stage_class, "in", "value", "Passed on");
  cxr_stage_class_add_optional_input (stage_class, "first", "value", "Delivered first, counted, dropped");
  cxr_stage_class_set_leading_input (stage_class, "first");
  cxr_stage_class_set_input_kept (stage_class, "first");
  cxr_stage_class_add_output (stage_class, "out", NULL, TRUE, NULL);
}

static void
test_leading_merge_init (TestLeadingMerge *self)
{
  self->in_order = TRUE;
}

/* ------------------------------------------------------------------ models */

#define TEST_TYPE_DENOISER_MODEL (test_denoiser_model_get_type ())
G_DECLARE_FINAL_TYPE (TestDenoiserModel, test_denoiser_model, TEST, DENOISER_MODEL, CxrModel)
struct _TestDenoiserModel {
  CxrModel parent_instance;
  gint loads;
};
static void test_denoiser_model_iface_init (CxrDenoiserInterface *iface) {}
G_DEFINE_FINAL_TYPE_WITH_CODE (TestDenoiserModel, test_denoiser_model, CXR_TYPE_MODEL,
                               G_IMPLEMENT_INTERFACE (CXR_TYPE_DENOISER, test_denoiser_model_iface_init))

static gboolean
test_denoiser_model_load (CxrModel *model, GError **error)
{
  const gchar *weights = cxr_model_get_weights (model);

  TEST_DENOISER_MODEL (model)->loads++;
  if (weights != NULL && !g_file_test (weights, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_CONFIG, "%s: no such file", weights);
      return FALSE;
    }
  return TRUE;
}

static void
test_denoiser_model_class_init (TestDenoiserModelClass *klass)
{
  CXR_MODEL_CLASS (klass)->load = test_denoiser_model_load;
}

static void
test_denoiser_model_init (TestDenoiserModel *self)
{
}

#define TEST_TYPE_AUTOENCODER_MODEL (test_autoencoder_model_get_type ())
G_DECLARE_FINAL_TYPE (TestAutoencoderModel, test_autoencoder_model, TEST, AUTOENCODER_MODEL, CxrModel)
struct _TestAutoencoderModel {
  CxrModel parent_instance;
};
static void test_autoencoder_model_iface_init (CxrAutoencoderInterface *iface) {}
G_DEFINE_FINAL_TYPE_WITH_CODE (TestAutoencoderModel, test_autoencoder_model, CXR_TYPE_MODEL,
                               G_IMPLEMENT_INTERFACE (CXR_TYPE_AUTOENCODER, test_autoencoder_model_iface_init))
static void test_autoencoder_model_class_init (TestAutoencoderModelClass *klass) {}
static void test_autoencoder_model_init (TestAutoencoderModel *self) {}

/* A transform that drives a denoiser: prepares it, counts nothing else. */
#define TEST_TYPE_MODEL_USER (test_model_user_get_type ())
G_DECLARE_FINAL_TYPE (TestModelUser, test_model_user, TEST, MODEL_USER, CxrStage)
struct _TestModelUser {
  CxrStage parent_instance;
  CxrModel *denoiser;
};
G_DEFINE_FINAL_TYPE (TestModelUser, test_model_user, CXR_TYPE_STAGE)

static gboolean
test_model_user_prepare (CxrStage *stage, GError **error)
{
  TestModelUser *self = TEST_MODEL_USER (stage);
  if (self->denoiser == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "no denoiser: set denoiser=MODEL");
      return FALSE;
    }
  return cxr_model_prepare (self->denoiser, error);
}

static gboolean
test_model_user_transform (CxrStage *stage, CxrBatch *batch, GError **error)
{
  return TRUE;
}

static void
test_model_user_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  TestModelUser *self = TEST_MODEL_USER (object);
  if (id == 1)
    g_set_object (&self->denoiser, g_value_get_object (value));
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
test_model_user_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  TestModelUser *self = TEST_MODEL_USER (object);
  if (id == 1)
    g_value_set_object (value, self->denoiser);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
test_model_user_dispose (GObject *object)
{
  g_clear_object (&TEST_MODEL_USER (object)->denoiser);
  G_OBJECT_CLASS (test_model_user_parent_class)->dispose (object);
}

static void
test_model_user_class_init (TestModelUserClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);

  object_class->set_property = test_model_user_set_property;
  object_class->get_property = test_model_user_get_property;
  object_class->dispose = test_model_user_dispose;
  stage_class->prepare = test_model_user_prepare;
  stage_class->transform = test_model_user_transform;
  g_object_class_install_property (object_class, 1,
    g_param_spec_object ("denoiser", "Denoiser", "The denoiser model to drive", CXR_TYPE_DENOISER,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  cxr_stage_class_set_metadata (stage_class, "Model user", "Filter/Test",
                                "Prepares a denoiser model", "tests");
  cxr_stage_class_add_input (stage_class, "in", NULL, NULL);
  cxr_stage_class_add_output (stage_class, "out", NULL, TRUE, NULL);
}

static void
test_model_user_init (TestModelUser *self)
{
}

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  return cxr_plugin_register_stage (plugin, "test-count-source", TEST_TYPE_COUNT_SOURCE) &&
         cxr_plugin_register_stage (plugin, "test-transform", TEST_TYPE_TRANSFORM) &&
         cxr_plugin_register_stage (plugin, "test-collect-sink", TEST_TYPE_COLLECT_SINK) &&
         cxr_plugin_register_stage (plugin, "test-merge", TEST_TYPE_MERGE) &&
         cxr_plugin_register_stage (plugin, "test-leading-merge", TEST_TYPE_LEADING_MERGE) &&
         cxr_plugin_register_stage (plugin, "test-model-user", TEST_TYPE_MODEL_USER) &&
         cxr_plugin_register_model (plugin, "test-denoiser", TEST_TYPE_DENOISER_MODEL) &&
         cxr_plugin_register_model (plugin, "test-autoencoder", TEST_TYPE_AUTOENCODER_MODEL);
}

CXR_PLUGIN_DEFINE (testplugin, "Stages and models for testing the framework", plugin_init)
