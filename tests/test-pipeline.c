/* tests/test-pipeline.c: pipeline files, the messages for bad ones, and
 * graphs built in code.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "test-common.h"

typedef struct {
  const gchar *name;
  const gchar *text;
  gint code;
  const gchar *message;
} BadCase;

#define SRC "[stage src]\ntype=test-count-source\n"

static const BadCase bad_cases[] = {
  { "unknown-type",
    "[stage a]\n\ntype=label-promt\n",
    CXR_PIPELINE_ERROR_NO_SUCH_STAGE,
    "x.pipeline:3: stage a: key type: no stage type \"label-promt\"; did you mean \"label-prompt\"?" },
  { "unknown-key",
    SRC "[stage p]\ntype=test-transform\ninput=src\nfactr=2\n",
    CXR_PIPELINE_ERROR_NO_SUCH_PROPERTY,
    "x.pipeline:6: stage p: key factr: no such key; did you mean \"factor\"?" },
  { "unknown-key-far",
    SRC "count=3\nzzzzzzzzzz=1\n",
    CXR_PIPELINE_ERROR_NO_SUCH_PROPERTY,
    "x.pipeline:4: stage src: key zzzzzzzzzz: no such key (`cxrgen inspect test-count-source` lists the keys)" },
  { "name-key",
    SRC "name=other\n",
    CXR_PIPELINE_ERROR_NO_SUCH_PROPERTY,
    "x.pipeline:3: stage src: key name: the name is given by the group header, [stage NAME]" },
  { "not-an-integer",
    SRC "count=ten\n",
    CXR_PIPELINE_ERROR_BAD_VALUE,
    "x.pipeline:3: stage src: key count: \"ten\" is not a non-negative integer" },
  { "negative-unsigned",
    SRC "count=-3\n",
    CXR_PIPELINE_ERROR_BAD_VALUE,
    "x.pipeline:3: stage src: key count: value -3 is out of range: must be between 0 and 1000000" },
  { "out-of-range",
    SRC "batch-size=0\n",
    CXR_PIPELINE_ERROR_BAD_VALUE,
    "x.pipeline:3: stage src: key batch-size: value 0 is out of range: must be between 1 and 1024" },
  { "double-out-of-range",
    SRC "[stage t]\ntype=test-transform\ninput=src\nfactor=1e9\n",
    CXR_PIPELINE_ERROR_BAD_VALUE,
    "x.pipeline:6: stage t: key factor: value 1e9 is out of range: must be between -1000 and 1000" },
  { "not-a-number",
    SRC "[stage t]\ntype=test-transform\ninput=src\nfactor=two\n",
    CXR_PIPELINE_ERROR_BAD_VALUE,
    "x.pipeline:6: stage t: key factor: \"two\" is not a finite number" },
  { "bad-enum",
    "[stage l]\ntype=csv-source\npath=x.csv\n[stage p]\ntype=label-prompt\ninput=l\nencoding=chexpret\n",
    CXR_PIPELINE_ERROR_BAD_VALUE,
    "x.pipeline:7: stage p: key encoding: \"chexpret\" is not one of: reference, chexpert; did you mean \"chexpert\"?" },
  { "dangling-input",
    SRC "[stage t]\ntype=test-transform\ninput=sorc\n",
    CXR_PIPELINE_ERROR_NO_SUCH_STAGE,
    "x.pipeline:5: stage t: key input: no stage called \"sorc\"; did you mean \"src\"?" },
  { "missing-input",
    SRC "[stage t]\ntype=test-transform\n",
    CXR_PIPELINE_ERROR_LINK,
    "x.pipeline:3: stage t: key input: missing: the stage needs an input (input=STAGE)" },
  { "cycle",
    SRC "[stage a]\ntype=test-transform\ninput=b\n[stage b]\ntype=test-transform\ninput=a\n",
    CXR_PIPELINE_ERROR_CYCLE,
    "x.pipeline:5: stage a: key input: the stages form a cycle: a -> b -> a" },
  { "input-to-source",
    SRC "input=src\n",
    CXR_PIPELINE_ERROR_LINK,
    "x.pipeline:3: stage src: key input: stage type test-count-source is a source and takes no input" },
  { "too-many-inputs",
    SRC "[stage t]\ntype=test-transform\ninput=src,src\n",
    CXR_PIPELINE_ERROR_LINK,
    "x.pipeline:5: stage t: key input: too many inputs: stage type test-transform has 1 input port" },
  { "bad-port",
    SRC "[stage m]\ntype=test-merge\ninput.middle=src\n",
    CXR_PIPELINE_ERROR_LINK,
    "x.pipeline:5: stage m: key input.middle: stage type test-merge has no input port \"middle\" (it has: left, right)" },
  { "bad-output-port",
    SRC "[stage t]\ntype=test-transform\ninput=src.nope\n",
    CXR_PIPELINE_ERROR_LINK,
    "x.pipeline:5: stage t: key input: stage src has no output port \"nope\" (it has: out)" },
  { "missing-field",
    SRC "[stage s]\ntype=test-collect-sink\ninput=src\nrequire=scaled\n",
    CXR_PIPELINE_ERROR_LINK,
    "x.pipeline:5: stage s: key input: needs field \"scaled\", but the batches from stage src carry id, value" },
  /* the fields of a kept input (a trainer's validate) do not pass on */
  { "field-only-on-a-kept-input",
    SRC "[stage t]\ntype=test-transform\ninput=src\n"
    "[stage m]\ntype=test-leading-merge\ninput=src\ninput.first=t\n"
    "[stage s]\ntype=test-collect-sink\ninput=m\nrequire=scaled\n",
    CXR_PIPELINE_ERROR_LINK,
    "x.pipeline:12: stage s: key input: needs field \"scaled\", but the batches from stage m carry id, value" },
  { "wrong-role",
    "[model vae]\ntype=test-autoencoder\n" SRC "[stage u]\ntype=test-model-user\ninput=src\ndenoiser=vae\n",
    CXR_PIPELINE_ERROR_BAD_VALUE,
    "x.pipeline:8: stage u: key denoiser: model vae is a TestAutoencoderModel, which does not play the role CxrDenoiser" },
  { "unknown-model",
    SRC "[stage u]\ntype=test-model-user\ninput=src\ndenoiser=unet\n",
    CXR_PIPELINE_ERROR_NO_SUCH_STAGE,
    "x.pipeline:6: stage u: key denoiser: no model called \"unet\" in this pipeline" },
  { "missing-type",
    "# comment\n[stage a]\ncount=3\n",
    CXR_PIPELINE_ERROR_SYNTAX,
    "x.pipeline:2: stage a: key type: missing: every stage needs type=" },
  { "no-equals",
    SRC "count 3\n",
    CXR_PIPELINE_ERROR_SYNTAX,
    "x.pipeline:3: expected KEY=VALUE or a [group] header" },
  { "key-before-group",
    "count=3\n" SRC,
    CXR_PIPELINE_ERROR_SYNTAX,
    "x.pipeline:1: key count comes before any [group] header" },
  { "unknown-group",
    "[stages a]\ntype=x\n",
    CXR_PIPELINE_ERROR_SYNTAX,
    "x.pipeline:1: unknown group [stages a]: a group is [pipeline], [stage NAME] or [model NAME]" },
  { "bad-header",
    "[stage a\ntype=x\n",
    CXR_PIPELINE_ERROR_SYNTAX,
    "x.pipeline:1: a group header must be [pipeline], [stage NAME] or [model NAME]" },
  { "bad-name",
    "[stage a/b]\ntype=x\n",
    CXR_PIPELINE_ERROR_SYNTAX,
    "x.pipeline:1: stage name \"a/b\": use letters, digits, '-' and '_'" },
  { "duplicate-group",
    SRC SRC,
    CXR_PIPELINE_ERROR_SYNTAX,
    "x.pipeline:3: stage src is declared twice (first at line 1)" },
  { "duplicate-key",
    SRC "count=1\ncount=2\n",
    CXR_PIPELINE_ERROR_SYNTAX,
    "x.pipeline:4: stage src: key count: given twice (first at line 3)" },
  { "unset-variable",
    SRC "count=${CXRGEN_TEST_UNSET_VARIABLE}\n",
    CXR_PIPELINE_ERROR_VARIABLE,
    "x.pipeline:3: stage src: key count: variable CXRGEN_TEST_UNSET_VARIABLE is not set (give it with "
    "--set CXRGEN_TEST_UNSET_VARIABLE=VALUE, in the environment, or write ${CXRGEN_TEST_UNSET_VARIABLE:-DEFAULT})" },
  { "unterminated-variable",
    SRC "count=${N\n",
    CXR_PIPELINE_ERROR_SYNTAX,
    "x.pipeline:3: stage src: key count: unterminated ${" },
  { "pipeline-key",
    "[pipeline]\ndescripton=x\n" SRC,
    CXR_PIPELINE_ERROR_NO_SUCH_PROPERTY,
    "x.pipeline:2: [pipeline]: key descripton: no such key; did you mean \"description\"?" },
  { "empty",
    "# nothing\n",
    CXR_PIPELINE_ERROR_SYNTAX,
    "x.pipeline: the pipeline has no stages" },
  { "not-utf8",
    SRC "count=\xff\n",
    CXR_PIPELINE_ERROR_SYNTAX,
    "x.pipeline: the file is not UTF-8 text" },
};

static void
test_bad_file (gconstpointer data)
{
  const BadCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrPipeline) pipeline = cxr_pipeline_new_from_data (c->text, "x.pipeline", NULL, &error);

  g_assert_null (pipeline);
  g_assert_error (error, CXR_PIPELINE_ERROR, c->code);
  g_assert_cmpstr (error->message, ==, c->message);
}

static void
test_good_file (void)
{
  const gchar *text =
    "# a comment\n"
    "[pipeline]\n"
    "description=Count, scale, collect   # trailing comment\n"
    "\n"
    "[model d]\n"
    "type=test-denoiser\n"
    "[stage sink]\n"
    "type=test-collect-sink\n"
    "input = scale\n"
    "require=scaled\n"
    "[stage scale]\n"
    "type=test-transform\n"
    "input=src.out\n"
    "factor=${CXRGEN_TEST_FACTOR:-${CXRGEN_TEST_UNSET:-0.5}}\n"
    "[stage use]\n"
    "type=test-model-user\n"
    "input=scale\n"
    "denoiser=d\n"
    "[stage src]\n"
    "type=test-count-source\n"
    "count=${N}\n"
    "batch-size=$${literal:-3}\n";
  const gchar *sets[] = { "N=7", "src.batch-size=4", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrPipeline) pipeline = cxr_pipeline_new_from_data (text, "good.pipeline", sets, &error);
  g_autoptr (GList) sorted = NULL;
  g_auto (GStrv) upstream = NULL;
  CxrStage *scale, *src, *use;
  gdouble factor;
  guint count, batch_size;
  g_autoptr (CxrModel) denoiser = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (cxr_pipeline_get_description (pipeline), ==, "Count, scale, collect");
  scale = cxr_pipeline_get_stage (pipeline, "scale");
  src = cxr_pipeline_get_stage (pipeline, "src");
  use = cxr_pipeline_get_stage (pipeline, "use");
  g_object_get (scale, "factor", &factor, NULL);
  g_object_get (src, "count", &count, "batch-size", &batch_size, NULL);
  g_object_get (use, "denoiser", &denoiser, NULL);
  g_assert_cmpfloat (factor, ==, 0.5);
  g_assert_cmpuint (count, ==, 7);
  g_assert_cmpuint (batch_size, ==, 4); /* --set beats the file's $$ text */
  g_assert_true (denoiser == cxr_pipeline_get_model (pipeline, "d"));
  g_assert_null (cxr_pipeline_get_stage (pipeline, "d"));
  g_assert_null (cxr_pipeline_get_model (pipeline, "src"));

  sorted = cxr_pipeline_get_sorted_stages (pipeline, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_length (sorted), ==, 4);
  g_assert_true (sorted->data == src);
  g_assert_true (sorted->next->data == scale);
  upstream = cxr_pipeline_get_upstream (pipeline, "sink");
  g_assert_cmpstrv (upstream, ((const gchar *[]) { "scale", NULL }));
}

static void
test_overrides (void)
{
  const gchar *text = SRC "[stage t]\ntype=test-transform\ninput=src\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrPipeline) p1 = NULL;
  g_autoptr (CxrPipeline) p2 = NULL;
  g_autoptr (CxrPipeline) p3 = NULL;
  g_autoptr (CxrPipeline) p4 = NULL;

  p1 = cxr_pipeline_new_from_data (text, "o.pipeline", (const gchar *[]) { "nosuch.count=3", NULL }, &error);
  g_assert_null (p1);
  g_assert_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_NO_SUCH_STAGE);
  g_assert_cmpstr (error->message, ==, "--set nosuch.count=3: the pipeline has no stage or model called nosuch");
  g_clear_error (&error);

  p2 = cxr_pipeline_new_from_data (text, "o.pipeline", (const gchar *[]) { "t.factr=3", NULL }, &error);
  g_assert_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_NO_SUCH_PROPERTY);
  g_assert_cmpstr (error->message, ==, "--set t.factr: no such key; did you mean \"factor\"?");
  g_clear_error (&error);

  p3 = cxr_pipeline_new_from_data (text, "o.pipeline", (const gchar *[]) { "t.factor=abc", NULL }, &error);
  g_assert_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_BAD_VALUE);
  g_assert_cmpstr (error->message, ==, "--set t.factor: \"abc\" is not a finite number");
  g_clear_error (&error);

  p4 = cxr_pipeline_new_from_data (text, "o.pipeline", (const gchar *[]) { "novalue", NULL }, &error);
  g_assert_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_SYNTAX);
}

static void
test_pipeline_dir (void)
{
  g_autofree gchar *dir = test_mkdtemp ();
  g_autofree gchar *path = g_build_filename (dir, "p.pipeline", NULL);
  g_autofree gchar *expected = g_build_filename (dir, "labels.csv", NULL);
  g_autofree gchar *got = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrPipeline) pipeline = NULL;

  g_assert_true (g_file_set_contents (path, "[stage l]\ntype=csv-source\npath=${PIPELINE_DIR}/labels.csv\n",
                                      -1, NULL));
  pipeline = cxr_pipeline_new_from_file (path, NULL, &error);
  g_assert_no_error (error);
  g_object_get (cxr_pipeline_get_stage (pipeline, "l"), "path", &got, NULL);
  g_assert_cmpstr (got, ==, expected);
  g_assert_cmpstr (cxr_pipeline_get_file (pipeline), ==, path);
  g_clear_object (&pipeline);

  g_assert_null (cxr_pipeline_new_from_file ("/nonexistent/p.pipeline", NULL, &error));
  g_assert_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "/nonexistent/p.pipeline"));
  test_rmdir (dir);
}

static void
test_built_in_code (void)
{
  CxrRegistry *registry = cxr_registry_get_default ();
  g_autoptr (CxrPipeline) pipeline = cxr_pipeline_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrStage) a = cxr_registry_make_stage (registry, "test-count-source", "a", &error);
  g_autoptr (CxrStage) b = cxr_registry_make_stage (registry, "test-count-source", "b", &error);
  g_autoptr (CxrStage) m = cxr_registry_make_stage (registry, "test-merge", "m", &error);
  g_autoptr (CxrStage) again = cxr_registry_make_stage (registry, "test-merge", "m", &error);
  g_auto (GStrv) upstream = NULL;

  g_assert_no_error (error);
  g_assert_true (cxr_pipeline_add_stage (pipeline, a, &error));
  g_assert_true (cxr_pipeline_add_stage (pipeline, b, &error));
  g_assert_true (cxr_pipeline_add_stage (pipeline, m, &error));
  g_assert_false (cxr_pipeline_add_stage (pipeline, again, &error));
  g_assert_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_SYNTAX);
  g_clear_error (&error);

  /* Not linked yet: validation names the port. */
  g_assert_false (cxr_pipeline_validate (pipeline, &error));
  g_assert_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_LINK);
  g_assert_cmpstr (error->message, ==, "stage m: key input: missing: the stage needs an input (input=STAGE)");
  g_clear_error (&error);

  /* The first free input port, then the next. */
  g_assert_true (cxr_pipeline_link (pipeline, "a", "m", &error));
  g_assert_false (cxr_pipeline_validate (pipeline, &error));
  g_assert_cmpstr (error->message, ==, "stage m: key input: missing: input port right is not linked (input.right=STAGE)");
  g_clear_error (&error);
  g_assert_false (cxr_pipeline_link (pipeline, "b", "m.left", &error));
  g_assert_cmpstr (error->message, ==, "input port left of stage m is already fed by stage a");
  g_clear_error (&error);
  g_assert_true (cxr_pipeline_link (pipeline, "b", "m", &error));
  g_assert_false (cxr_pipeline_link (pipeline, "a", "m", &error));
  g_assert_cmpstr (error->message, ==, "stage m (test-merge) has no input port number 3");
  g_clear_error (&error);
  g_assert_true (cxr_pipeline_validate (pipeline, &error));
  g_assert_no_error (error);
  upstream = cxr_pipeline_get_upstream (pipeline, "m");
  g_assert_cmpstrv (upstream, ((const gchar *[]) { "a", "b", NULL }));
}

/* Random damage to a valid file: every result is a pipeline or an error,
 * never a crash (the CI run does this under ASan and UBSan). */
static void
test_mutations (void)
{
  const gchar *text =
    "[pipeline]\ndescription=d # c\n[model m]\ntype=test-denoiser\n"
    "[stage src]\ntype=test-count-source\ncount=${N:-5}\n"
    "[stage t]\ntype=test-transform\ninput=src.out\nfactor=1.5\n"
    "[stage m2]\ntype=test-merge\ninput.left=src\ninput.right=t\n"
    "[stage u]\ntype=test-model-user\ninput=m2\ndenoiser=m\n";
  const gchar alphabet[] = "[]=.,#${}:-\n\\ abcdefstagemodelinput\xff\x01";
  g_autoptr (GRand) rand = g_rand_new_with_seed (1234);
  gsize len = strlen (text);
  guint parsed = 0, refused = 0;

  for (guint iteration = 0; iteration < 3000; iteration++)
    {
      g_autoptr (GString) mutated = g_string_new (text);
      guint edits = g_rand_int_range (rand, 1, 6);
      g_autoptr (GError) error = NULL;
      g_autoptr (CxrPipeline) pipeline = NULL;

      for (guint e = 0; e < edits && mutated->len > 0; e++)
        {
          gsize at = g_rand_int_range (rand, 0, (gint32) mutated->len);
          gchar c = alphabet[g_rand_int_range (rand, 0, sizeof alphabet - 1)];
          switch (g_rand_int_range (rand, 0, 3))
            {
            case 0: mutated->str[at] = c; break;
            case 1: g_string_insert_c (mutated, at, c); break;
            default: g_string_erase (mutated, at, 1); break;
            }
        }
      pipeline = cxr_pipeline_new_from_data (mutated->str, "m.pipeline", NULL, &error);
      g_assert_true ((pipeline == NULL) != (error == NULL));
      if (pipeline)
        parsed++;
      else
        refused++;
    }
  g_assert_cmpuint (len, >, 0);
  g_test_message ("%u mutated files parsed, %u refused", parsed, refused);
  g_assert_cmpuint (refused, >, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      g_autofree gchar *path = g_strdup_printf ("/pipeline/bad/%s", bad_cases[i].name);
      g_test_add_data_func (path, &bad_cases[i], test_bad_file);
    }
  g_test_add_func ("/pipeline/good-file", test_good_file);
  g_test_add_func ("/pipeline/overrides", test_overrides);
  g_test_add_func ("/pipeline/pipeline-dir", test_pipeline_dir);
  g_test_add_func ("/pipeline/built-in-code", test_built_in_code);
  g_test_add_func ("/pipeline/mutations", test_mutations);
  return g_test_run ();
}
