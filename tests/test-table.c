/* tests/test-table.c: the prompt and table plugins: label-prompt through
 * the harness, csv-source to csv-sink through the scheduler, and what
 * happens to output files when a run fails.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "test-common.h"

static void
test_label_prompt_harness (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrStage) stage = cxr_registry_make_stage (cxr_registry_get_default (), "label-prompt", NULL, &error);
  g_autoptr (CxrHarness) harness = NULL;
  g_autoptr (CxrBatch) batch = cxr_batch_new (2);
  g_autoptr (CxrBatch) out = NULL;
  g_autoptr (CxrBatch) wrong = cxr_batch_new (1);
  gfloat labels[2 * CXR_N_OBSERVATIONS];
  const gfloat three[3] = { 1, 1, 1 };
  guint port = 99;

  g_assert_no_error (error);
  g_assert_true (cxr_stage_set_property_from_string (stage, "encoding", "chexpert", &error));
  for (guint i = 0; i < G_N_ELEMENTS (labels); i++)
    labels[i] = NAN;
  labels[1] = 1;                        /* cardiomegaly */
  labels[CXR_N_OBSERVATIONS + 9] = 0;   /* pleural effusion, negative */
  labels[CXR_N_OBSERVATIONS + 3] = -1;  /* edema, uncertain */
  cxr_batch_set_floats (batch, CXR_FIELD_LABELS, CXR_N_OBSERVATIONS, labels, G_N_ELEMENTS (labels));

  harness = cxr_harness_new (stage);
  g_assert_true (cxr_harness_prepare (harness, &error));
  g_assert_true (cxr_harness_push (harness, 0, batch, &error));
  g_assert_no_error (error);
  out = cxr_harness_pull (harness, &port);
  g_assert_nonnull (out);
  g_assert_cmpuint (port, ==, 0);
  g_assert_cmpstr (cxr_batch_get_string (out, CXR_FIELD_PROMPT, 0), ==,
                   "A chest X ray image with cardiomegaly");
  g_assert_cmpstr (cxr_batch_get_string (out, CXR_FIELD_PROMPT, 1), ==,
                   "A chest X ray image, without pleural effusion, and with uncertain edema");
  /* The labels pass through. */
  g_assert_true (cxr_batch_has_field (out, CXR_FIELD_LABELS));

  cxr_batch_set_floats (wrong, CXR_FIELD_LABELS, 3, three, 3);
  g_assert_false (cxr_harness_push (harness, 0, wrong, &error));
  g_assert_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_BAD_FIELD);
  g_assert_cmpstr (error->message, ==, "field \"labels\" has 3 values per sample, but a label vector has 14");
  g_clear_error (&error);
  g_assert_false (cxr_stage_set_property_from_string (stage, "encoding", "nope", &error));
  g_assert_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_BAD_VALUE);
  g_clear_error (&error);
  g_assert_true (cxr_harness_finish (harness, &error));
  g_assert_cmpuint (cxr_harness_get_n_pending (harness), ==, 0);
}

static gchar *
read_file (const gchar *path)
{
  gchar *contents = NULL;
  g_autoptr (GError) error = NULL;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  return contents;
}

static void
test_prompts_golden (void)
{
  g_autofree gchar *pipeline_path = test_src_path ("pipelines/label-prompts.pipeline");
  g_autofree gchar *golden_path = test_src_path ("tests/data/prompts-expected.csv");
  g_autofree gchar *dir = test_mkdtemp ();
  g_autofree gchar *out_set = g_strdup_printf ("OUT=%s", dir);
  g_autofree gchar *out_path = g_build_filename (dir, "prompts.csv", NULL);
  g_autofree gchar *got = NULL;
  g_autofree gchar *golden = NULL;
  const gchar *sets[] = { out_set, NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrPipeline) pipeline = cxr_pipeline_new_from_file (pipeline_path, sets, &error);
  g_autoptr (CxrScheduler) scheduler = NULL;

  g_assert_no_error (error);
  scheduler = cxr_scheduler_new (pipeline);
  g_object_set (scheduler, "progress", CXR_PROGRESS_NONE, NULL);
  g_assert_true (cxr_scheduler_run (scheduler, NULL, &error));
  g_assert_no_error (error);
  got = read_file (out_path);
  golden = read_file (golden_path);
  g_assert_cmpstr (got, ==, golden);
  g_assert_cmpuint (test_count_files (dir), ==, 1);
  test_rmdir (dir);
}

static void
test_default_columns (void)
{
  g_autofree gchar *labels = test_src_path ("tests/data/labels.csv");
  g_autofree gchar *dir = test_mkdtemp ();
  g_autofree gchar *text = g_strdup_printf (
    "[stage l]\ntype=csv-source\npath=%s\ncolumns=report=Reports\n"
    "[stage s]\ntype=csv-sink\ninput=l\npath=%s/sub/all.csv\n", labels, dir);
  g_autofree gchar *out_path = g_build_filename (dir, "sub", "all.csv", NULL);
  g_autofree gchar *got = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrPipeline) pipeline = cxr_pipeline_new_from_data (text, "t.pipeline", NULL, &error);
  g_autoptr (CxrScheduler) scheduler = NULL;

  g_assert_no_error (error);
  scheduler = cxr_scheduler_new (pipeline);
  g_object_set (scheduler, "progress", CXR_PROGRESS_NONE, NULL);
  g_assert_true (cxr_scheduler_run (scheduler, NULL, &error));
  g_assert_no_error (error);
  got = read_file (out_path);
  /* No id column in this file: ids are line numbers; quoted text, with its
   * comma and line break, survives; 1.0 is written 1. */
  g_assert_cmpstr (got, ==,
                   "id,report,Atelectasis,Cardiomegaly,Consolidation,Edema,Enlarged Cardiomediastinum,"
                   "Fracture,Lung Lesion,Lung Opacity,No Finding,Pleural Effusion,Pleural Other,"
                   "Pneumonia,Pneumothorax,Support Devices\n"
                   "2,\"Heart size normal, lungs clear.\",,,,,,,,,1,,,,,\n"
                   "3,\"Mild cardiomegaly.\nSmall left effusion.\",,1,,,,,,,,1,,,0,\n");
  test_rmdir (dir);
}

static void
test_bad_row_leaves_no_file (void)
{
  g_autofree gchar *labels = test_src_path ("tests/data/labels-bad.csv");
  g_autofree gchar *dir = test_mkdtemp ();
  g_autofree gchar *text = g_strdup_printf (
    "[stage l]\ntype=csv-source\npath=%s\nbatch-size=1\n"
    "[stage p]\ntype=label-prompt\ninput=l\nencoding=chexpert\n"
    "[stage s]\ntype=csv-sink\ninput=p\npath=%s/prompts.csv\n", labels, dir);
  g_autofree gchar *expected = g_strdup_printf ("stage l (csv-source): %s:4: column Edema: \"x\" is not a number",
                                                labels);
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrPipeline) pipeline = cxr_pipeline_new_from_data (text, "t.pipeline", NULL, &error);
  g_autoptr (CxrScheduler) scheduler = NULL;

  g_assert_no_error (error);
  scheduler = cxr_scheduler_new (pipeline);
  g_object_set (scheduler, "progress", CXR_PROGRESS_NONE, NULL);
  g_assert_false (cxr_scheduler_run (scheduler, NULL, &error));
  g_assert_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE);
  g_assert_cmpstr (error->message, ==, expected);
  /* Two rows reached the sink, but no file, whole or half, is left. */
  g_assert_cmpuint (test_count_files (dir), ==, 0);
  test_rmdir (dir);
}

static void
test_missing_column (void)
{
  g_autofree gchar *labels = test_src_path ("tests/data/labels.csv");
  g_autofree gchar *text = g_strdup_printf (
    "[stage l]\ntype=csv-source\npath=%s\nid-column=study_id\n"
    "[stage p]\ntype=label-prompt\ninput=l\n", labels);
  g_autofree gchar *expected = g_strdup_printf (
    "stage l (csv-source): %s: the header has no column \"study_id\"", labels);
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrPipeline) pipeline = cxr_pipeline_new_from_data (text, "t.pipeline", NULL, &error);
  g_autoptr (CxrScheduler) scheduler = cxr_scheduler_new (pipeline);

  g_object_set (scheduler, "progress", CXR_PROGRESS_NONE, NULL);
  g_assert_false (cxr_scheduler_run (scheduler, NULL, &error));
  g_assert_error (error, CXR_IO_ERROR, CXR_IO_ERROR_MISSING_COLUMN);
  g_assert_cmpstr (error->message, ==, expected);
}

static void
test_source_without_labels_cannot_feed_prompt (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrPipeline) pipeline = cxr_pipeline_new_from_data (
    "[stage l]\ntype=csv-source\npath=x.csv\nlabel-columns=\ncolumns=text\n"
    "[stage p]\ntype=label-prompt\ninput=l\n", "t.pipeline", NULL, &error);

  g_assert_null (pipeline);
  g_assert_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_LINK);
  g_assert_cmpstr (error->message, ==,
                   "t.pipeline:8: stage p: key input: needs field \"labels\", but the batches from "
                   "stage l carry id, text");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/table/label-prompt-harness", test_label_prompt_harness);
  g_test_add_func ("/table/prompts-golden", test_prompts_golden);
  g_test_add_func ("/table/default-columns", test_default_columns);
  g_test_add_func ("/table/bad-row-leaves-no-file", test_bad_row_leaves_no_file);
  g_test_add_func ("/table/missing-column", test_missing_column);
  g_test_add_func ("/table/source-without-labels", test_source_without_labels_cannot_feed_prompt);
  return g_test_run ();
}
