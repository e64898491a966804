/* tests/test-scheduler.c: running pipelines: order, back-pressure, errors
 * mid-run, cancellation, fan-out and fan-in, events, shared models,
 * consumers that stop early, leading inputs.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "test-common.h"

static CxrPipeline *
parse (const gchar *text)
{
  g_autoptr (GError) error = NULL;
  CxrPipeline *pipeline = cxr_pipeline_new_from_data (text, "s.pipeline", NULL, &error);

  g_assert_no_error (error);
  return pipeline;
}

static CxrScheduler *
scheduler_for (CxrPipeline *pipeline)
{
  CxrScheduler *scheduler = cxr_scheduler_new (pipeline);
  g_object_set (scheduler, "progress", CXR_PROGRESS_NONE, NULL);
  return scheduler;
}

static void
test_order (void)
{
  g_autoptr (CxrPipeline) p = parse ("[stage src]\ntype=test-count-source\ncount=1000\nbatch-size=7\n"
                                     "[stage t]\ntype=test-transform\ninput=src\n"
                                     "[stage sink]\ntype=test-collect-sink\ninput=t\nrequire=scaled\n");
  g_autoptr (CxrScheduler) s = scheduler_for (p);
  g_autoptr (GError) error = NULL;
  CxrStage *sink = cxr_pipeline_get_stage (p, "sink");
  guint64 received;
  gboolean in_order, finished, completed;
  gint stop_calls;

  g_assert_true (cxr_scheduler_run (s, NULL, &error));
  g_assert_no_error (error);
  g_object_get (sink, "received", &received, "in-order", &in_order, "finished", &finished,
                "stopped-completed", &completed, "stop-calls", &stop_calls, NULL);
  g_assert_cmpuint (received, ==, 1000);
  g_assert_true (in_order);
  g_assert_true (finished);
  g_assert_true (completed);
  g_assert_cmpint (stop_calls, ==, 1);
  g_assert_cmpuint (cxr_stage_get_samples_out (cxr_pipeline_get_stage (p, "src")), ==, 1000);
  g_assert_cmpuint (cxr_stage_get_samples_in (cxr_pipeline_get_stage (p, "t")), ==, 1000);

  /* A scheduler runs its pipeline again from the start. */
  g_assert_true (cxr_scheduler_run (s, NULL, &error));
  g_object_get (sink, "received", &received, NULL);
  g_assert_cmpuint (received, ==, 1000);
}

static gint64
max_lead_with_queue (guint queue_size)
{
  g_autoptr (CxrPipeline) p = parse ("[stage src]\ntype=test-count-source\ncount=120\nbatch-size=1\n"
                                     "[stage sink]\ntype=test-collect-sink\ninput=src\ndelay-us=1000\n");
  g_autoptr (CxrScheduler) s = scheduler_for (p);
  g_autoptr (GError) error = NULL;
  gint64 lead;
  gboolean in_order;

  g_object_set (s, "queue-size", queue_size, NULL);
  g_assert_true (cxr_scheduler_run (s, NULL, &error));
  g_object_get (cxr_pipeline_get_stage (p, "sink"), "max-lead", &lead, "in-order", &in_order, NULL);
  g_assert_true (in_order);
  return lead;
}

static void
test_back_pressure (void)
{
  /* A fast source before a slow sink stays at most queue-size batches
   * (plus the one being processed and the one being pushed) ahead. */
  gint64 bounded = max_lead_with_queue (2);
  gint64 loose = max_lead_with_queue (1000);

  g_assert_cmpint (bounded, <=, 2 + 2);
  /* The same measure without a bound shows the source racing ahead. */
  g_assert_cmpint (loose, >, 20);
}

static void
test_error_mid_run (void)
{
  g_autoptr (CxrPipeline) p = parse ("[stage src]\ntype=test-count-source\ncount=100000\nbatch-size=1\n"
                                     "[stage t]\ntype=test-transform\ninput=src\nfail-at=5\n"
                                     "[stage sink]\ntype=test-collect-sink\ninput=t\n");
  g_autoptr (CxrScheduler) s = scheduler_for (p);
  g_autoptr (GError) error = NULL;
  guint64 received;
  gboolean finished, completed;
  gint stop_calls;

  g_assert_false (cxr_scheduler_run (s, NULL, &error));
  g_assert_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "stage t (test-transform): deliberate failure at batch 5");
  g_object_get (cxr_pipeline_get_stage (p, "sink"), "received", &received, "finished", &finished,
                "stopped-completed", &completed, "stop-calls", &stop_calls, NULL);
  /* Batches still queued when the error came are dropped, not processed. */
  g_assert_cmpuint (received, <=, 5);
  g_assert_false (finished);
  g_assert_false (completed);
  g_assert_cmpint (stop_calls, ==, 1);
  /* The source stopped long before its 100000 samples. */
  g_assert_cmpuint (cxr_stage_get_samples_out (cxr_pipeline_get_stage (p, "src")), <, 100);
}

static gboolean
cancel_soon (gpointer data)
{
  g_cancellable_cancel (G_CANCELLABLE (data));
  return G_SOURCE_REMOVE;
}

static void
test_cancel (void)
{
  g_autoptr (CxrPipeline) p = parse ("[stage src]\ntype=test-count-source\ncount=1000000\nbatch-size=1\ndelay-us=500\n"
                                     "[stage sink]\ntype=test-collect-sink\ninput=src\n");
  g_autoptr (CxrScheduler) s = scheduler_for (p);
  g_autoptr (GError) error = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  gint64 start = g_get_monotonic_time ();
  guint64 received;
  gboolean finished, completed;
  gint stop_calls;

  /* The timeout fires on the context the run dispatches. */
  g_timeout_add (100, cancel_soon, cancellable);
  g_assert_false (cxr_scheduler_run (s, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
  g_object_get (cxr_pipeline_get_stage (p, "sink"), "received", &received, "finished", &finished,
                "stopped-completed", &completed, "stop-calls", &stop_calls, NULL);
  g_assert_cmpuint (received, >, 0);
  g_assert_cmpuint (received, <, 1000000);
  g_assert_false (finished);
  g_assert_false (completed);
  g_assert_cmpint (stop_calls, ==, 1);
}

static void
test_fan_out_and_in (void)
{
  g_autoptr (CxrPipeline) p = parse ("[stage a]\ntype=test-count-source\ncount=50\n"
                                     "[stage b]\ntype=test-count-source\ncount=30\nbatch-size=4\n"
                                     "[stage t1]\ntype=test-transform\ninput=a\nfactor=3\n"
                                     "[stage s1]\ntype=test-collect-sink\ninput=t1\nrequire=scaled\n"
                                     "[stage s2]\ntype=test-collect-sink\ninput=a\n"
                                     "[stage m]\ntype=test-merge\ninput.right=b\ninput.left=a\n"
                                     "[stage s3]\ntype=test-collect-sink\ninput=m\n");
  g_autoptr (CxrScheduler) s = scheduler_for (p);
  g_autoptr (GError) error = NULL;
  guint64 r1, r2, r3;
  gboolean o2;

  g_assert_true (cxr_scheduler_run (s, NULL, &error));
  g_assert_no_error (error);
  g_object_get (cxr_pipeline_get_stage (p, "s1"), "received", &r1, NULL);
  g_object_get (cxr_pipeline_get_stage (p, "s2"), "received", &r2, "in-order", &o2, NULL);
  g_object_get (cxr_pipeline_get_stage (p, "s3"), "received", &r3, NULL);
  g_assert_cmpuint (r1, ==, 50);
  g_assert_cmpuint (r2, ==, 50);
  g_assert_true (o2); /* t1 added a field to its own copy, not to s2's */
  g_assert_cmpuint (r3, ==, 80);
}

static void
on_event (CxrScheduler *scheduler, const gchar *json, gpointer user_data)
{
  g_ptr_array_add (user_data, g_strdup (json));
}

static void
test_events (void)
{
  g_autoptr (CxrPipeline) p = parse ("[stage src]\ntype=test-count-source\ncount=20\nbatch-size=5\n"
                                     "[stage sink]\ntype=test-collect-sink\ninput=src\n");
  g_autoptr (CxrScheduler) s = scheduler_for (p);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = test_mkdtemp ();
  g_autofree gchar *path = g_build_filename (dir, "events.jsonl", NULL);
  g_autofree gchar *contents = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  guint n, finishes = 0, starts = 0;

  g_object_set (s, "events-path", path, NULL);
  g_signal_connect (s, "event", G_CALLBACK (on_event), seen);
  g_assert_true (cxr_scheduler_run (s, NULL, &error));
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  lines = g_strsplit (g_strchomp (contents), "\n", -1);
  n = g_strv_length (lines);
  /* The file and the signal carry the same lines. */
  g_assert_cmpuint (n, ==, seen->len);
  for (guint i = 0; i < n; i++)
    {
      g_assert_cmpstr (lines[i], ==, g_ptr_array_index (seen, i));
      g_assert_true (g_str_has_prefix (lines[i], "{\"event\":\""));
      g_assert_true (g_str_has_suffix (lines[i], "}"));
      starts += g_str_has_prefix (lines[i], "{\"event\":\"stage-start\"");
      finishes += g_str_has_prefix (lines[i], "{\"event\":\"stage-finish\"") &&
                  strstr (lines[i], "\"status\":\"ok\"") != NULL;
    }
  g_assert_true (g_str_has_prefix (lines[0], "{\"event\":\"start\""));
  g_assert_nonnull (strstr (lines[0], "\"stages\":[\"src\",\"sink\"]"));
  g_assert_true (g_str_has_prefix (lines[n - 1], "{\"event\":\"done\""));
  g_assert_nonnull (strstr (lines[n - 1], "\"status\":\"ok\",\"samples\":20"));
  g_assert_true (g_str_has_prefix (lines[n - 2], "{\"event\":\"progress\""));
  g_assert_nonnull (strstr (lines[n - 2], "\"samples\":20,\"total\":20"));
  g_assert_cmpuint (starts, ==, 2);
  g_assert_cmpuint (finishes, ==, 2);
  test_rmdir (dir);
}

static void
test_error_event (void)
{
  g_autoptr (CxrPipeline) p = parse ("[stage src]\ntype=test-count-source\ncount=20\nbatch-size=1\n"
                                     "[stage t]\ntype=test-transform\ninput=src\nfail-at=2\n"
                                     "[stage sink]\ntype=test-collect-sink\ninput=t\n");
  g_autoptr (CxrScheduler) s = scheduler_for (p);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  gboolean found = FALSE;

  g_signal_connect (s, "event", G_CALLBACK (on_event), seen);
  g_assert_false (cxr_scheduler_run (s, NULL, &error));
  for (guint i = 0; i < seen->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (seen, i), "{\"event\":\"error\""))
      {
        const gchar *line = g_ptr_array_index (seen, i);
        g_assert_nonnull (strstr (line, "\"stage\":\"t\""));
        g_assert_nonnull (strstr (line, "\"domain\":\"cxr-stage-error-quark\""));
        g_assert_nonnull (strstr (line, "deliberate failure at batch 2"));
        found = TRUE;
      }
  g_assert_true (found);
  g_assert_nonnull (strstr (g_ptr_array_index (seen, seen->len - 1), "\"status\":\"error\""));
}

static void
test_shared_model (void)
{
  g_autoptr (CxrPipeline) p = parse ("[model d]\ntype=test-denoiser\n"
                                     "[stage src]\ntype=test-count-source\n"
                                     "[stage u1]\ntype=test-model-user\ninput=src\ndenoiser=d\n"
                                     "[stage u2]\ntype=test-model-user\ninput=u1\ndenoiser=d\n");
  g_autoptr (CxrPipeline) bad = parse ("[model d]\ntype=test-denoiser\nweights=/nonexistent/unet.safetensors\n"
                                       "[stage src]\ntype=test-count-source\n"
                                       "[stage u]\ntype=test-model-user\ninput=src\ndenoiser=d\n");
  g_autoptr (CxrScheduler) s = scheduler_for (p);
  g_autoptr (CxrScheduler) s_bad = scheduler_for (bad);
  g_autoptr (GError) error = NULL;
  CxrModel *model = cxr_pipeline_get_model (p, "d");

  g_assert_false (cxr_model_is_prepared (model));
  g_assert_true (cxr_scheduler_run (s, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (cxr_model_is_prepared (model));

  g_assert_false (cxr_scheduler_run (s_bad, NULL, &error));
  g_assert_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==, "stage u (test-model-user): /nonexistent/unet.safetensors: no such file");
}

static void
test_consumer_stops_early (void)
{
  /* The sink wants 10 samples: the transform and the source hear it on
   * their next push and stop, long before 100000; every stage completes. */
  g_autoptr (CxrPipeline) p = parse ("[stage src]\ntype=test-count-source\ncount=100000\nbatch-size=1\n"
                                     "[stage t]\ntype=test-transform\ninput=src\n"
                                     "[stage sink]\ntype=test-collect-sink\ninput=t\nstop-after=10\n");
  g_autoptr (CxrScheduler) s = scheduler_for (p);
  g_autoptr (GError) error = NULL;
  guint64 received;
  gboolean finished, completed;

  g_object_set (s, "queue-size", 2, NULL);
  g_assert_true (cxr_scheduler_run (s, NULL, &error));
  g_assert_no_error (error);
  g_object_get (cxr_pipeline_get_stage (p, "sink"), "received", &received, "finished", &finished,
                "stopped-completed", &completed, NULL);
  g_assert_cmpuint (received, ==, 10);
  g_assert_true (finished);
  g_assert_true (completed);
  /* at most the queues' worth beyond the 10: two queues of 2, one batch
   * in each stage's hands */
  g_assert_cmpuint (cxr_stage_get_samples_out (cxr_pipeline_get_stage (p, "src")), <=, 10 + 2 * 2 + 2);

  /* With a second consumer that wants everything, the source goes on. */
  {
    g_autoptr (CxrPipeline) tee = parse ("[stage src]\ntype=test-count-source\ncount=300\nbatch-size=3\n"
                                         "[stage few]\ntype=test-collect-sink\ninput=src\nstop-after=6\n"
                                         "[stage all]\ntype=test-collect-sink\ninput=src\n");
    g_autoptr (CxrScheduler) ts = scheduler_for (tee);
    guint64 few, all;
    gboolean in_order;

    g_assert_true (cxr_scheduler_run (ts, NULL, &error));
    g_assert_no_error (error);
    g_object_get (cxr_pipeline_get_stage (tee, "few"), "received", &few, NULL);
    g_object_get (cxr_pipeline_get_stage (tee, "all"), "received", &all, "in-order", &in_order, NULL);
    g_assert_cmpuint (few, ==, 6);
    g_assert_cmpuint (all, ==, 300);
    g_assert_true (in_order);
  }
}

static void
test_leading_input (void)
{
  /* "first" is slow and "in" fast, yet all of "first" comes before "in". */
  g_autoptr (CxrPipeline) p = parse ("[stage a]\ntype=test-count-source\ncount=200\nbatch-size=1\n"
                                     "[stage b]\ntype=test-count-source\ncount=30\nbatch-size=1\ndelay-us=2000\n"
                                     "[stage m]\ntype=test-leading-merge\ninput=a\ninput.first=b\n"
                                     "[stage sink]\ntype=test-collect-sink\ninput=m\n");
  g_autoptr (CxrScheduler) s = scheduler_for (p);
  g_autoptr (GError) error = NULL;
  guint64 from_in, from_first, received;
  gboolean in_order;

  g_object_set (s, "queue-size", 2, NULL);
  g_assert_true (cxr_scheduler_run (s, NULL, &error));
  g_assert_no_error (error);
  g_object_get (cxr_pipeline_get_stage (p, "m"), "from-in", &from_in, "from-first", &from_first, "in-order",
                &in_order, NULL);
  g_object_get (cxr_pipeline_get_stage (p, "sink"), "received", &received, NULL);
  g_assert_cmpuint (from_first, ==, 30);
  g_assert_cmpuint (from_in, ==, 200);
  g_assert_cmpuint (received, ==, 200);
  g_assert_true (in_order);

  /* One source feeds both inputs, through two stages, with queues of 2:
   * "in" may not block the source while "first" is open, or the run
   * would never end. */
  {
    g_autoptr (CxrPipeline) shared = parse ("[stage src]\ntype=test-count-source\ncount=100\nbatch-size=1\n"
                                            "[stage t1]\ntype=test-transform\ninput=src\n"
                                            "[stage t2]\ntype=test-transform\ninput=src\n"
                                            "[stage m]\ntype=test-leading-merge\ninput=t1\ninput.first=t2\n");
    g_autoptr (CxrScheduler) ss = scheduler_for (shared);

    g_object_set (ss, "queue-size", 2, NULL);
    g_assert_true (cxr_scheduler_run (ss, NULL, &error));
    g_assert_no_error (error);
    g_object_get (cxr_pipeline_get_stage (shared, "m"), "from-in", &from_in, "from-first", &from_first,
                  "in-order", &in_order, NULL);
    g_assert_cmpuint (from_first, ==, 100);
    g_assert_cmpuint (from_in, ==, 100);
    g_assert_true (in_order);
  }
  g_assert_cmpint (cxr_stage_class_get_leading_input (
                     CXR_STAGE_GET_CLASS (cxr_pipeline_get_stage (p, "m"))), ==, 1);
  g_assert_cmpint (cxr_stage_class_get_leading_input (
                     CXR_STAGE_GET_CLASS (cxr_pipeline_get_stage (p, "sink"))), ==, -1);
}

static void
test_invalid_pipeline_is_refused (void)
{
  g_autoptr (CxrPipeline) p = cxr_pipeline_new ();
  g_autoptr (CxrScheduler) s = scheduler_for (p);
  g_autoptr (GError) error = NULL;

  g_assert_false (cxr_scheduler_run (s, NULL, &error));
  g_assert_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_SYNTAX);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/scheduler/order", test_order);
  g_test_add_func ("/scheduler/back-pressure", test_back_pressure);
  g_test_add_func ("/scheduler/error-mid-run", test_error_mid_run);
  g_test_add_func ("/scheduler/cancel", test_cancel);
  g_test_add_func ("/scheduler/fan-out-and-in", test_fan_out_and_in);
  g_test_add_func ("/scheduler/events", test_events);
  g_test_add_func ("/scheduler/error-event", test_error_event);
  g_test_add_func ("/scheduler/shared-model", test_shared_model);
  g_test_add_func ("/scheduler/consumer-stops-early", test_consumer_stops_early);
  g_test_add_func ("/scheduler/leading-input", test_leading_input);
  g_test_add_func ("/scheduler/invalid-pipeline-is-refused", test_invalid_pipeline_is_refused);
  return g_test_run ();
}
