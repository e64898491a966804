/* tools/cxrgen.c: the cxrgen command.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Exit codes:
 *   0   success
 *   1   the run failed (a stage reported an error), or a data file is
 *       missing or malformed
 *   2   bad usage, or a pipeline file that does not parse or validate
 *   3   a type named on the command line is unknown
 *   130 the run was cancelled (SIGINT)
 */
#include "config.h"

#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cxr.h>

enum {
  EXIT_OK = 0,
  EXIT_RUN_FAILED = 1,
  EXIT_USAGE = 2,
  EXIT_UNKNOWN_TYPE = 3,
  EXIT_CANCELLED = 130,
};

static void
print_error (const GError *error)
{
  g_printerr ("cxrgen: %s\n", error->message);
}

static gboolean
parse_options (GOptionContext *context, gint *argc, gchar ***argv)
{
  g_autoptr (GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      g_printerr ("cxrgen: %s\n", error->message);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ run */

static gboolean
on_sigint (gpointer user_data)
{
  GCancellable *cancellable = user_data;

  if (g_cancellable_is_cancelled (cancellable))
    {
      g_printerr ("\ncxrgen: interrupted again, quitting at once\n");
      exit (EXIT_CANCELLED);
    }
  g_printerr ("\ncxrgen: interrupted; stopping the stages (press Ctrl-C again to quit at once)\n");
  g_cancellable_cancel (cancellable);
  return G_SOURCE_CONTINUE;
}

static int
command_run (gint argc, gchar **argv, gboolean validate_only)
{
  g_auto (GStrv) sets = NULL;
  g_autofree gchar *events = NULL;
  g_autofree gchar *progress = NULL;
  gint queue_size = 4;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrPipeline) pipeline = NULL;
  g_autoptr (CxrScheduler) scheduler = NULL;
  g_autoptr (GCancellable) cancellable = NULL;
  GOptionEntry run_entries[] = {
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &sets,
      "Set a variable (VAR=VALUE) or a key of a stage or model (NAME.KEY=VALUE)", "K=V" },
    { "events", 'e', 0, G_OPTION_ARG_FILENAME, &events,
      "Write the run's events to FILE, one JSON object per line", "FILE" },
    { "progress", 'p', 0, G_OPTION_ARG_STRING, &progress,
      "Progress bar on stderr: auto (on a terminal), bar or none", "MODE" },
    { "queue-size", 'q', 0, G_OPTION_ARG_INT, &queue_size,
      "Batches that may wait before each stage (default 4)", "N" },
    G_OPTION_ENTRY_NULL
  };
  GOptionEntry validate_entries[] = {
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &sets,
      "Set a variable (VAR=VALUE) or a key of a stage or model (NAME.KEY=VALUE)", "K=V" },
    G_OPTION_ENTRY_NULL
  };
  guint source_id;
  gboolean ok;

  context = g_option_context_new (validate_only ? "validate FILE - check a pipeline file, run nothing"
                                                : "run FILE - run a pipeline file");
  g_option_context_add_main_entries (context, validate_only ? validate_entries : run_entries, NULL);
  g_option_context_set_description (
    context, validate_only
               ? "Parses FILE, creates its stages and models, links them and checks the graph\n"
                 "(port fields, cycles, missing inputs) without loading anything.\n"
                 "Exit status: 0 valid, 2 invalid."
               : "Exit status: 0 success, 1 a stage failed, 2 an invalid pipeline,\n"
                 "130 cancelled by SIGINT (Ctrl-C; a second Ctrl-C quits at once).");
  if (!parse_options (context, &argc, &argv))
    return EXIT_USAGE;
  if (argc != 2)
    {
      g_printerr ("cxrgen: %s needs one pipeline FILE (see cxrgen %s --help)\n", argv[0], argv[0]);
      return EXIT_USAGE;
    }
  pipeline = cxr_pipeline_new_from_file (argv[1], (const gchar *const *) sets, &error);
  if (pipeline == NULL)
    {
      print_error (error);
      return EXIT_USAGE;
    }
  if (validate_only)
    {
      g_autoptr (GList) stages = cxr_pipeline_get_stages (pipeline);
      g_autoptr (GList) models = cxr_pipeline_get_models (pipeline);
      g_autoptr (GList) sorted = cxr_pipeline_get_sorted_stages (pipeline, NULL);

      g_print ("%s: valid: %u stages, %u models\n", argv[1], g_list_length (stages),
               g_list_length (models));
      for (GList *l = sorted; l; l = l->next)
        {
          CxrStage *stage = l->data;
          g_auto (GStrv) upstream = cxr_pipeline_get_upstream (pipeline, cxr_stage_get_name (stage));
          g_autofree gchar *from = g_strjoinv (", ", upstream);
          g_print ("  %-16s %-16s%s%s\n", cxr_stage_get_name (stage),
                   cxr_stage_get_factory_name (stage), *from ? " <- " : "", from);
        }
      return EXIT_OK;
    }

  scheduler = cxr_scheduler_new (pipeline);
  if (queue_size < 1 || queue_size > 1024)
    {
      g_printerr ("cxrgen: --queue-size must be between 1 and 1024\n");
      return EXIT_USAGE;
    }
  g_object_set (scheduler, "queue-size", (guint) queue_size, "events-path", events, NULL);
  if (progress != NULL)
    {
      CxrProgressMode mode;
      if (g_str_equal (progress, "auto"))
        mode = CXR_PROGRESS_AUTO;
      else if (g_str_equal (progress, "bar"))
        mode = CXR_PROGRESS_BAR;
      else if (g_str_equal (progress, "none"))
        mode = CXR_PROGRESS_NONE;
      else
        {
          g_printerr ("cxrgen: --progress takes auto, bar or none, not \"%s\"\n", progress);
          return EXIT_USAGE;
        }
      g_object_set (scheduler, "progress", mode, NULL);
    }

  cancellable = g_cancellable_new ();
  source_id = g_unix_signal_add (SIGINT, on_sigint, cancellable);
  ok = cxr_scheduler_run (scheduler, cancellable, &error);
  g_source_remove (source_id);
  if (!ok)
    {
      print_error (error);
      return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ? EXIT_CANCELLED
             : error->domain == CXR_PIPELINE_ERROR                     ? EXIT_USAGE
                                                                       : EXIT_RUN_FAILED;
    }
  return EXIT_OK;
}

/* -------------------------------------------------------------- inspect */

static const gchar *
type_kind_name (GParamSpec *pspec)
{
  GType type = G_PARAM_SPEC_VALUE_TYPE (pspec);

  switch (G_TYPE_FUNDAMENTAL (type))
    {
    case G_TYPE_BOOLEAN:
      return "Boolean";
    case G_TYPE_INT:
    case G_TYPE_LONG:
    case G_TYPE_INT64:
      return "Integer";
    case G_TYPE_UINT:
    case G_TYPE_ULONG:
    case G_TYPE_UINT64:
      return "Unsigned integer";
    case G_TYPE_FLOAT:
    case G_TYPE_DOUBLE:
      return "Number";
    case G_TYPE_STRING:
      return "String";
    case G_TYPE_ENUM:
      return "Enum";
    case G_TYPE_FLAGS:
      return "Flags";
    case G_TYPE_BOXED:
      return type == G_TYPE_STRV ? "List of strings (comma-separated)" : g_type_name (type);
    case G_TYPE_OBJECT:
    case G_TYPE_INTERFACE:
      return "Model";
    default:
      return g_type_name (type);
    }
}

static void
print_properties (GObjectClass *klass)
{
  guint n_specs = 0;
  g_autofree GParamSpec **specs = g_object_class_list_properties (klass, &n_specs);

  g_print ("Properties (keys of its group):\n");
  for (guint i = 0; i < n_specs; i++)
    {
      GParamSpec *pspec = specs[i];
      g_autofree gchar *def = cxr_param_spec_get_default_text (pspec);
      g_autofree gchar *range = cxr_param_spec_get_range_text (pspec);
      GType type = G_PARAM_SPEC_VALUE_TYPE (pspec);

      if (g_str_equal (pspec->name, "name"))
        continue;
      g_print ("  %-20s: %s\n", pspec->name, g_param_spec_get_blurb (pspec));
      g_print ("  %-20s  flags: %s%s%s\n", "", (pspec->flags & G_PARAM_READABLE) ? "readable" : "",
               (pspec->flags & G_PARAM_WRITABLE) ? ", writable" : "",
               (pspec->flags & G_PARAM_CONSTRUCT_ONLY) ? ", construct-only" : "");
      if (G_TYPE_FUNDAMENTAL (type) == G_TYPE_OBJECT || G_TYPE_FUNDAMENTAL (type) == G_TYPE_INTERFACE)
        g_print ("  %-20s  %s: the name of a [model] that is a %s\n", "", type_kind_name (pspec),
                 g_type_name (type));
      else
        g_print ("  %-20s  %s%s%s. Default: %s\n", "", type_kind_name (pspec), range ? ", " : "",
                 range ? range : "", def ? def : "(none)");
      if (G_TYPE_IS_ENUM (type))
        {
          GEnumClass *eclass = ((GParamSpecEnum *) pspec)->enum_class;
          for (guint k = 0; k < eclass->n_values; k++)
            g_print ("  %-20s    (%d): %s\n", "", eclass->values[k].value, eclass->values[k].value_nick);
        }
    }
}

static void
print_ports (CxrStage *stage)
{
  CxrStageClass *klass = CXR_STAGE_GET_CLASS (stage);

  g_print ("Ports:\n");
  for (guint dir = 0; dir < 2; dir++)
    {
      guint n = cxr_stage_class_get_n_ports (klass, dir);
      for (guint p = 0; p < n; p++)
        {
          g_auto (GStrv) fields = cxr_stage_get_port_fields (stage, dir, p);
          g_autofree gchar *joined = g_strjoinv (", ", fields);
          const gchar *description = cxr_stage_class_get_port_description (klass, dir, p);
          g_print ("  %-6s %-8s %s %s%s\n", dir == CXR_PORT_INPUT ? "input" : "output",
                   cxr_stage_class_get_port_name (klass, dir, p),
                   dir == CXR_PORT_INPUT ? "needs:" : "adds:", *joined ? joined : "(nothing)",
                   dir == CXR_PORT_OUTPUT && cxr_stage_class_get_port_passthrough (klass, p)
                     ? " (and passes on the input's fields)" : "");
          if (description)
            g_print ("  %-6s %-8s %s\n", "", "", description);
        }
      if (n == 0)
        g_print ("  %s: none%s\n", dir == CXR_PORT_INPUT ? "input" : "output",
                 dir == CXR_PORT_INPUT ? " (a source)" : " (a sink)");
    }
}

static void
print_plugin (CxrPlugin *plugin)
{
  g_print ("Plugin:\n");
  g_print ("  %-12s %s\n", "Name", cxr_plugin_get_name (plugin));
  g_print ("  %-12s %s\n", "Description", cxr_plugin_get_description (plugin));
  g_print ("  %-12s %s\n", "Filename", cxr_plugin_get_filename (plugin));
  g_print ("  %-12s %s\n", "Version", cxr_plugin_get_version (plugin));
  g_print ("  %-12s %s\n", "License", cxr_plugin_get_license (plugin));
}

static int
inspect_type (CxrRegistry *registry, const gchar *name)
{
  GType type = cxr_registry_find_stage_type (registry, name);
  CxrPlugin *plugin = cxr_registry_get_plugin_for_factory (registry, name);

  if (type != G_TYPE_INVALID)
    {
      g_autoptr (CxrStage) stage = cxr_registry_make_stage (registry, name, NULL, NULL);
      CxrStageClass *klass = CXR_STAGE_GET_CLASS (stage);

      g_print ("Stage type:\n");
      g_print ("  %-12s %s\n", "Name", name);
      g_print ("  %-12s %s\n", "Long name", cxr_stage_class_get_metadata (klass, "long-name"));
      g_print ("  %-12s %s\n", "Category", cxr_stage_class_get_metadata (klass, "category"));
      g_print ("  %-12s %s\n", "Description", cxr_stage_class_get_metadata (klass, "description"));
      g_print ("  %-12s %s\n", "Author", cxr_stage_class_get_metadata (klass, "author"));
      g_print ("  %-12s %s\n\n", "GType", g_type_name (type));
      print_plugin (plugin);
      g_print ("\n");
      print_ports (stage);
      g_print ("\n");
      print_properties (G_OBJECT_GET_CLASS (stage));
      return EXIT_OK;
    }
  type = cxr_registry_find_model_type (registry, name);
  if (type != G_TYPE_INVALID)
    {
      GObjectClass *klass = g_type_class_ref (type);
      guint n_ifaces = 0;
      g_autofree GType *ifaces = g_type_interfaces (type, &n_ifaces);

      g_print ("Model type:\n");
      g_print ("  %-12s %s\n", "Name", name);
      g_print ("  %-12s %s\n", "GType", g_type_name (type));
      g_print ("  %-12s", "Roles");
      for (guint i = 0; i < n_ifaces; i++)
        g_print (" %s", g_type_name (ifaces[i]));
      g_print ("\n\n");
      print_plugin (plugin);
      g_print ("\n");
      print_properties (klass);
      g_type_class_unref (klass);
      return EXIT_OK;
    }
  plugin = cxr_registry_find_plugin (registry, name);
  if (plugin != NULL)
    {
      g_auto (GStrv) stages = cxr_plugin_list_stages (plugin);
      g_auto (GStrv) models = cxr_plugin_list_models (plugin);
      print_plugin (plugin);
      g_print ("\nStage types:\n");
      for (guint i = 0; stages[i]; i++)
        g_print ("  %s\n", stages[i]);
      g_print ("\nModel types:\n");
      for (guint i = 0; models[i]; i++)
        g_print ("  %s\n", models[i]);
      return EXIT_OK;
    }
  g_printerr ("cxrgen: no stage type, model type or plugin called \"%s\" (`cxrgen inspect` lists them)\n",
              name);
  return EXIT_UNKNOWN_TYPE;
}

static int
command_inspect (gint argc, gchar **argv)
{
  g_autoptr (GOptionContext) context = NULL;
  CxrRegistry *registry = cxr_registry_get_default ();
  g_autoptr (GList) plugins = NULL;
  g_auto (GStrv) failures = NULL;
  guint n_stages = 0, n_models = 0;

  context = g_option_context_new ("inspect [TYPE] - list plugins and types, or describe one");
  g_option_context_set_description (
    context, "Without TYPE, lists every plugin with its stage and model types, and the plugin\n"
             "files that failed to load. With TYPE (a stage type, a model type or a plugin),\n"
             "describes it: ports, and properties with their types, ranges and defaults.\n"
             "Exit status: 0 found, 3 no such type.");
  if (!parse_options (context, &argc, &argv))
    return EXIT_USAGE;
  if (argc > 2)
    {
      g_printerr ("cxrgen: inspect takes at most one TYPE\n");
      return EXIT_USAGE;
    }
  if (argc == 2)
    return inspect_type (registry, argv[1]);

  plugins = cxr_registry_get_plugins (registry);
  for (GList *l = plugins; l; l = l->next)
    {
      CxrPlugin *plugin = l->data;
      g_auto (GStrv) stages = cxr_plugin_list_stages (plugin);
      g_auto (GStrv) models = cxr_plugin_list_models (plugin);

      for (guint i = 0; stages[i]; i++, n_stages++)
        {
          GType type = cxr_registry_find_stage_type (registry, stages[i]);
          CxrStageClass *klass = g_type_class_ref (type);
          g_print ("%s:  %s: %s\n", cxr_plugin_get_name (plugin), stages[i],
                   cxr_stage_class_get_metadata (klass, "long-name"));
          g_type_class_unref (klass);
        }
      for (guint i = 0; models[i]; i++, n_models++)
        g_print ("%s:  %s (model)\n", cxr_plugin_get_name (plugin), models[i]);
    }
  g_print ("\n%u plugins, %u stage types, %u model types\n", g_list_length (plugins), n_stages,
           n_models);
  failures = cxr_registry_get_failures (registry);
  if (failures[0] != NULL)
    {
      g_print ("\nPlugin files that failed to load:\n");
      for (guint i = 0; failures[i]; i++)
        g_print ("  %s\n", failures[i]);
    }
  return EXIT_OK;
}

/* --------------------------------------------------------------- schema */

static int
command_schema (gint argc, gchar **argv)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autofree gchar *schema = NULL;

  context = g_option_context_new ("schema - print the JSON Schema of pipeline files");
  g_option_context_set_description (
    context, "Generated from the stage and model types of the plugins found; schemas/ holds the\n"
             "copy for the plugins of this source tree.");
  if (!parse_options (context, &argc, &argv))
    return EXIT_USAGE;
  if (argc != 1)
    {
      g_printerr ("cxrgen: schema takes no arguments\n");
      return EXIT_USAGE;
    }
  schema = cxr_registry_get_json_schema (cxr_registry_get_default ());
  fputs (schema, stdout);
  return EXIT_OK;
}

/* -------------------------------------------------------------- weights */

static int
command_weights (gint argc, gchar **argv)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrSafetensors) file = NULL;
  g_auto (GStrv) names = NULL;
  g_auto (GStrv) keys = NULL;
  gboolean quiet = FALSE;
  guint64 total_bytes = 0;
  GOptionEntry entries[] = {
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print the totals only", NULL },
    G_OPTION_ENTRY_NULL
  };

  context = g_option_context_new ("weights FILE - list the tensors of a safetensors file");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (
    context, "Checks the whole file (header, dtypes, shapes, offsets, overlaps), then lists each\n"
             "tensor's name, dtype, shape and element count, the metadata, and the totals.\n"
             "Exit status: 0 a valid file, 1 a missing or malformed file (the message says\n"
             "which tensor and what is wrong).");
  if (!parse_options (context, &argc, &argv))
    return EXIT_USAGE;
  if (argc != 2)
    {
      g_printerr ("cxrgen: weights needs one FILE\n");
      return EXIT_USAGE;
    }
  file = cxr_safetensors_open (argv[1], &error);
  if (file == NULL)
    {
      print_error (error);
      return EXIT_RUN_FAILED;
    }
  names = cxr_safetensors_list_names (file);
  for (guint i = 0; names[i]; i++)
    {
      CxrDType dtype;
      g_autofree gint64 *shape = NULL;
      guint ndim = 0;
      guint64 numel = 1;
      g_autoptr (GString) dims = g_string_new ("[");

      cxr_safetensors_get_info (file, names[i], &dtype, &shape, &ndim);
      for (guint d = 0; d < ndim; d++)
        {
          g_string_append_printf (dims, "%s%" G_GINT64_FORMAT, d ? ", " : "", shape[d]);
          numel *= (guint64) shape[d];
        }
      g_string_append_c (dims, ']');
      total_bytes += numel * cxr_dtype_get_size (dtype);
      if (!quiet)
        g_print ("%-60s %-7s %-22s %" G_GUINT64_FORMAT "\n", names[i], cxr_dtype_get_name (dtype),
                 dims->str, numel);
    }
  keys = cxr_safetensors_list_metadata_keys (file);
  for (guint i = 0; !quiet && keys[i]; i++)
    g_print ("metadata %s = %s\n", keys[i], cxr_safetensors_get_metadata (file, keys[i]));
  g_print ("%s: %u tensors, %" G_GUINT64_FORMAT " parameters, %" G_GUINT64_FORMAT " bytes of data\n",
           argv[1], cxr_safetensors_get_n_tensors (file), cxr_safetensors_get_n_elements (file),
           total_bytes);
  return EXIT_OK;
}

/* ----------------------------------------------------------------- main */

static void
print_usage (FILE *out)
{
  fprintf (out,
           "Usage: cxrgen COMMAND [OPTIONS] [ARGS]\n"
           "\n"
           "Generate paired chest X-ray images and reports, and train and evaluate the\n"
           "models behind them, with pipelines of plugin stages.\n"
           "\n"
           "Commands:\n"
           "  run FILE       run a pipeline file\n"
           "  validate FILE  parse and check a pipeline file, run nothing\n"
           "  inspect [TYPE] list plugins and types, or describe one\n"
           "  schema         print the JSON Schema of pipeline files\n"
           "  weights FILE   check a safetensors file and list its tensors\n"
           "\n"
           "Options:\n"
           "  -h, --help     show this help; COMMAND --help shows a command's\n"
           "  --version      print the version\n"
           "\n"
           "Plugins are searched in $CXRGEN_PLUGIN_PATH, then %s.\n"
           "Exit status: 0 success, 1 a run failed or a file is malformed, 2 bad usage or an\n"
           "invalid pipeline,\n"
           "3 an unknown type, 130 cancelled.\n",
           CXR_PLUGIN_DIR_DISPLAY);
}

int
main (int argc, char **argv)
{
  const gchar *command;

  setlocale (LC_ALL, "");
  if (argc < 2)
    {
      print_usage (stderr);
      return EXIT_USAGE;
    }
  command = argv[1];
  if (g_str_equal (command, "--help") || g_str_equal (command, "-h") || g_str_equal (command, "help"))
    {
      print_usage (stdout);
      return EXIT_OK;
    }
  if (g_str_equal (command, "--version"))
    {
      g_print ("cxrgen %s (library %s, plugin ABI %d)\n", CXR_VERSION_STRING, cxr_get_version (),
               CXR_PLUGIN_ABI_VERSION);
      return EXIT_OK;
    }
  if (g_str_equal (command, "run"))
    return command_run (argc - 1, argv + 1, FALSE);
  if (g_str_equal (command, "validate"))
    return command_run (argc - 1, argv + 1, TRUE);
  if (g_str_equal (command, "inspect"))
    return command_inspect (argc - 1, argv + 1);
  if (g_str_equal (command, "schema"))
    return command_schema (argc - 1, argv + 1);
  if (g_str_equal (command, "weights"))
    return command_weights (argc - 1, argv + 1);
  fprintf (stderr, "cxrgen: unknown command \"%s\"\n\n", command);
  print_usage (stderr);
  return EXIT_USAGE;
}
