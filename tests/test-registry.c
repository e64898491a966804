/* tests/test-registry.c: finding plugins, refusing broken ones, creating
 * stages and models by type name.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "test-common.h"

static gchar *garbage_dir;

static const gchar *
find_failure (gchar **failures, const gchar *file)
{
  for (guint i = 0; failures[i]; i++)
    if (strstr (failures[i], file) != NULL)
      return failures[i];
  return NULL;
}

static void
test_good_plugins_load (void)
{
  CxrRegistry *registry = cxr_registry_get_default ();
  g_auto (GStrv) stages = cxr_registry_list_stages (registry);
  g_auto (GStrv) models = cxr_registry_list_models (registry);
  CxrPlugin *prompt = cxr_registry_find_plugin (registry, "prompt");

  g_assert_nonnull (prompt);
  g_assert_nonnull (cxr_registry_find_plugin (registry, "table"));
  g_assert_nonnull (cxr_registry_find_plugin (registry, "testplugin"));
  g_assert_true (g_strv_contains ((const gchar *const *) stages, "label-prompt"));
  g_assert_true (g_strv_contains ((const gchar *const *) stages, "csv-source"));
  g_assert_true (g_strv_contains ((const gchar *const *) stages, "test-count-source"));
  g_assert_true (g_strv_contains ((const gchar *const *) models, "test-denoiser"));
  g_assert_false (g_strv_contains ((const gchar *const *) stages, "test-denoiser"));
  g_assert_cmpstr (cxr_plugin_get_version (prompt), ==, PACKAGE_VERSION);
  g_assert_true (g_str_has_suffix (cxr_plugin_get_filename (prompt), "libcxrprompt.so"));
  g_assert_true (cxr_registry_get_plugin_for_factory (registry, "label-prompt") == prompt);
  for (guint i = 1; stages[i]; i++)
    g_assert_cmpstr (stages[i - 1], <, stages[i]);
}

static void
test_broken_plugins_are_reported (void)
{
  CxrRegistry *registry = cxr_registry_get_default ();
  g_auto (GStrv) failures = cxr_registry_get_failures (registry);
  const gchar *f;

  g_assert_cmpuint (g_strv_length (failures), ==, 6);
  f = find_failure (failures, "libcxrbadabi.so");
  g_assert_nonnull (f);
  g_assert_nonnull (strstr (f, "built for plugin ABI"));
  f = find_failure (failures, "libcxrmismatch.so");
  g_assert_nonnull (strstr (f, "calls itself \"somethingelse\" but its file says \"mismatch\""));
  f = find_failure (failures, "libcxrnodesc.so");
  g_assert_nonnull (strstr (f, "exports no cxr_plugin_nodesc_desc"));
  f = find_failure (failures, "libcxrundefined.so");
  g_assert_nonnull (strstr (f, "cannot load"));
  g_assert_nonnull (strstr (f, "cxr_this_symbol_does_not_exist"));
  f = find_failure (failures, "libcxrinitfail.so");
  g_assert_nonnull (strstr (f, "init failed: this plugin refuses to start"));
  f = find_failure (failures, "libcxrgarbage.so");
  g_assert_nonnull (strstr (f, "cannot load"));
  /* None of them is listed as a plugin. */
  g_assert_null (cxr_registry_find_plugin (registry, "badabi"));
  g_assert_null (cxr_registry_find_plugin (registry, "mismatch"));
  g_assert_null (cxr_registry_find_plugin (registry, "initfail"));
}

static void
test_load_file_errors (void)
{
  CxrRegistry *registry = cxr_registry_get_default ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *badabi = test_build_path ("tests/broken-plugins/.libs/libcxrbadabi.so");

  g_assert_null (cxr_registry_load_file (registry, badabi, &error));
  g_assert_error (error, CXR_PLUGIN_ERROR, CXR_PLUGIN_ERROR_ABI);
  g_clear_error (&error);
  g_assert_null (cxr_registry_load_file (registry, "/tmp/not-a-plugin-name.so", &error));
  g_assert_error (error, CXR_PLUGIN_ERROR, CXR_PLUGIN_ERROR_MODULE);
}

static void
test_make (void)
{
  CxrRegistry *registry = cxr_registry_get_default ();
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrStage) stage = cxr_registry_make_stage (registry, "label-prompt", "p", &error);
  g_autoptr (CxrModel) model = cxr_registry_make_model (registry, "test-denoiser", "d", &error);
  g_autoptr (CxrStage) unnamed = cxr_registry_make_stage (registry, "csv-sink", NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (cxr_stage_get_name (stage), ==, "p");
  g_assert_cmpstr (cxr_stage_get_factory_name (stage), ==, "label-prompt");
  g_assert_cmpstr (cxr_stage_get_name (unnamed), ==, "csv-sink");
  g_assert_cmpstr (cxr_model_get_name (model), ==, "d");
  g_assert_cmpstr (cxr_model_get_device (model), ==, "cpu");
  g_assert_true (CXR_IS_DENOISER (model));
  g_assert_cmpstr (cxr_registry_get_factory_name (registry, G_OBJECT_TYPE (stage)), ==, "label-prompt");

  g_assert_null (cxr_registry_make_stage (registry, "label-promt", NULL, &error));
  g_assert_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_NO_SUCH_STAGE);
  g_assert_cmpstr (error->message, ==, "no stage type \"label-promt\"; did you mean \"label-prompt\"?");
  g_clear_error (&error);
  g_assert_null (cxr_registry_make_stage (registry, "zzzzzz", NULL, &error));
  g_assert_cmpstr (error->message, ==, "no stage type \"zzzzzz\" (`cxrgen inspect` lists them)");
  g_clear_error (&error);
  /* A model type is not a stage type. */
  g_assert_null (cxr_registry_make_stage (registry, "test-denoiser", NULL, &error));
  g_assert_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_NO_SUCH_STAGE);
}

static void
test_search_path (void)
{
  g_auto (GStrv) path = cxr_registry_get_search_path (cxr_registry_get_default ());

  /* CXRGEN_PLUGIN_PATH in order, and the empty system path adds nothing. */
  g_assert_cmpuint (g_strv_length (path), ==, 4);
  g_assert_true (g_str_has_suffix (path[0], "/plugins"));
  g_assert_cmpstr (path[3], ==, garbage_dir);
}

int
main (int argc, char **argv)
{
  g_autofree gchar *plugins = test_build_path ("plugins");
  g_autofree gchar *test_plugins = test_build_path ("tests/plugins");
  g_autofree gchar *broken = test_build_path ("tests/broken-plugins");
  g_autofree gchar *garbage = NULL;
  g_autofree gchar *search = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  /* The registry warns about each broken plugin: expected here. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

  garbage_dir = test_mkdtemp ();
  garbage = g_build_filename (garbage_dir, "libcxrgarbage.so", NULL);
  g_assert_true (g_file_set_contents (garbage, "this is not an ELF file\n", -1, NULL));
  search = g_strjoin (":", plugins, test_plugins, broken, garbage_dir, NULL);
  g_setenv ("CXRGEN_PLUGIN_PATH", search, TRUE);
  g_setenv ("CXRGEN_PLUGIN_SYSTEM_PATH", "", TRUE);

  g_test_add_func ("/registry/good-plugins-load", test_good_plugins_load);
  g_test_add_func ("/registry/broken-plugins-are-reported", test_broken_plugins_are_reported);
  g_test_add_func ("/registry/load-file-errors", test_load_file_errors);
  g_test_add_func ("/registry/make", test_make);
  g_test_add_func ("/registry/search-path", test_search_path);
  ret = g_test_run ();
  test_rmdir (garbage_dir);
  g_free (garbage_dir);
  return ret;
}
