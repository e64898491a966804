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

#include <unistd.h>

#include <glib-unix.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cxrgen.h"

void
print_error (const GError *error)
{
  g_printerr ("cxrgen: %s\n", error->message);
}

gboolean
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
                     ? " (and passes on the input's fields)"
                   : dir == CXR_PORT_INPUT && cxr_stage_class_get_port_optional (klass, p) ? " (optional)" : "");
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

/* ---------------------------------------------------------------- label */

/* The CheXpert labeler's column order. */
static const gchar *const chexpert_columns[] = {
  "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Lesion", "Lung Opacity", "Edema",
  "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
  "Fracture", "Support Devices", NULL,
};

static void
append_label (GString *line, gfloat v)
{
  g_string_append_c (line, ',');
  if (!isnan (v))
    g_string_append (line, v == 1.0f ? "1.0" : v == 0.0f ? "0.0" : "-1.0");
}

static int
command_label (gint argc, gchar **argv)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *output = NULL;
  g_autofree gchar *column = NULL;
  g_autofree gchar *data = NULL;
  g_autoptr (CxrCsvReader) reader = NULL;
  g_autoptr (CxrLabeler) labeler = NULL;
  g_autoptr (CxrAtomicFile) file = NULL;
  g_autoptr (GString) out = g_string_new ("Reports");
  gboolean header = FALSE, explain = FALSE;
  gsize length = 0;
  gint col = 0;
  guint64 rows = 0;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "Where to write the labels (CSV)", "OUT.csv" },
    { "header", 0, 0, G_OPTION_ARG_NONE, &header, "The input's first row is a header", NULL },
    { "column", 'c', 0, G_OPTION_ARG_STRING, &column, "The column of report text (with --header; default: the first)", "NAME" },
    { "explain", 0, 0, G_OPTION_ARG_NONE, &explain, "Print each mention found and its class on stderr", NULL },
    G_OPTION_ENTRY_NULL
  };

  context = g_option_context_new ("label IN.csv -o OUT.csv - label radiology reports");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (
    context, "Reads reports from the first column of a CSV (without a header, as the CheXpert\n"
             "labeler takes them, unless --header) and writes the CheXpert labeler's output:\n"
             "Reports, then the 14 observations, each 1.0 (positive), 0.0 (negative), -1.0\n"
             "(uncertain) or empty (not mentioned). Exit status: 0 success, 1 a bad input file.");
  if (!parse_options (context, &argc, &argv))
    return EXIT_USAGE;
  if (argc != 2 || output == NULL)
    {
      g_printerr ("cxrgen: label needs IN.csv and -o OUT.csv\n");
      return EXIT_USAGE;
    }
  if (!g_file_get_contents (argv[1], &data, &length, &error))
    {
      print_error (error);
      return EXIT_RUN_FAILED;
    }
  if (!header)
    {
      /* a header the file does not have */
      gchar *with = g_strconcat ("Reports\n", data, NULL);
      g_free (data);
      data = with;
      length += strlen ("Reports\n");
    }
  reader = cxr_csv_reader_new_from_data (data, length, argv[1], &error);
  labeler = reader ? cxr_labeler_new (&error) : NULL;
  if (labeler == NULL)
    {
      print_error (error);
      return EXIT_RUN_FAILED;
    }
  if (column != NULL && (col = cxr_csv_reader_find_column (reader, column)) < 0)
    {
      g_printerr ("cxrgen: %s: no column \"%s\"\n", argv[1], column);
      return EXIT_RUN_FAILED;
    }
  for (guint i = 0; chexpert_columns[i]; i++)
    g_string_append_printf (out, ",%s", chexpert_columns[i]);
  g_string_append_c (out, '\n');
  while (cxr_csv_reader_next (reader, &error))
    {
      const gchar *text = cxr_csv_reader_get (reader, (guint) col);
      gfloat labels[CXR_N_OBSERVATIONS];
      if (!cxr_labeler_label_into (labeler, text, labels, &error))
        {
          g_printerr ("cxrgen: %s:%u: %s\n", argv[1], cxr_csv_reader_get_line (reader) - (header ? 0 : 1), error->message);
          return EXIT_RUN_FAILED;
        }
      if (explain)
        {
          g_autofree gchar *why = cxr_labeler_explain (labeler, text);
          g_printerr ("# row %" G_GUINT64_FORMAT "\n%s", rows + 1, why);
        }
      cxr_csv_append_field (out, text);
      for (guint i = 0; chexpert_columns[i]; i++)
        append_label (out, labels[cxr_labels_find_observation (chexpert_columns[i])]);
      g_string_append_c (out, '\n');
      rows++;
    }
  if (error != NULL)
    {
      print_error (error);
      return EXIT_RUN_FAILED;
    }
  file = cxr_atomic_file_new (output, &error);
  if (file == NULL || !cxr_atomic_file_write (file, out->str, out->len, &error) ||
      !cxr_atomic_file_commit (file, &error))
    {
      print_error (error);
      return EXIT_RUN_FAILED;
    }
  g_printerr ("cxrgen: labelled %" G_GUINT64_FORMAT " reports into %s\n", rows, output);
  return EXIT_OK;
}

/* -------------------------------------------------------------- phantom */

static int
command_phantom (gint argc, gchar **argv)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *out = NULL;
  gint count = 100, size = 256;
  gint64 seed = 1;
  g_autoptr (CxrPipeline) pipeline = NULL;
  g_autoptr (CxrScheduler) scheduler = NULL;
  g_autoptr (CxrStage) source = NULL, writer = NULL;
  g_autoptr (GCancellable) cancellable = NULL;
  CxrRegistry *registry = cxr_registry_get_default ();
  guint source_id;
  gboolean ok;
  GOptionEntry entries[] = {
    { "count", 'n', 0, G_OPTION_ARG_INT, &count, "Studies to make (default 100)", "N" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "The dataset's folder", "DIR" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Same seed, same bytes (default 1)", "S" },
    { "size", 0, 0, G_OPTION_ARG_INT, &size, "Image side in pixels (default 256)", "PX" },
    G_OPTION_ENTRY_NULL
  };

  context = g_option_context_new ("phantom --count N --out DIR [--seed S] - make the phantom dataset");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (
    context, "Writes synthetic chest radiographs, their CheXpert labels and MIMIC-style reports\n"
             "in the MIMIC-CXR-JPG layout (files/pXX/pSUBJECT/sSTUDY/ID.jpg, sSTUDY.txt, and the\n"
             "metadata, chexpert and split CSVs). It runs phantom-source into mimic-cxr-writer.");
  if (!parse_options (context, &argc, &argv))
    return EXIT_USAGE;
  if (argc != 1 || out == NULL || count < 0 || size < 32 || size > 4096)
    {
      g_printerr ("cxrgen: phantom needs --out DIR (and --count >= 0, --size 32 to 4096)\n");
      return EXIT_USAGE;
    }
  pipeline = cxr_pipeline_new ();
  if (!(source = cxr_registry_make_stage (registry, "phantom-source", "phantoms", &error)) ||
      !(writer = cxr_registry_make_stage (registry, "mimic-cxr-writer", "dataset", &error)))
    {
      print_error (error);
      return EXIT_UNKNOWN_TYPE;
    }
  g_object_set (source, "count", (guint) count, "image-size", (guint) size, "seed", (guint64) seed, NULL);
  g_object_set (writer, "root", out, NULL);
  if (!cxr_pipeline_add_stage (pipeline, source, &error) || !cxr_pipeline_add_stage (pipeline, writer, &error) ||
      !cxr_pipeline_link (pipeline, "phantoms", "dataset", &error))
    {
      print_error (error);
      return EXIT_USAGE;
    }
  scheduler = cxr_scheduler_new (pipeline);
  cancellable = g_cancellable_new ();
  source_id = g_unix_signal_add (SIGINT, on_sigint, cancellable);
  ok = cxr_scheduler_run (scheduler, cancellable, &error);
  g_source_remove (source_id);
  if (!ok)
    {
      print_error (error);
      return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ? EXIT_CANCELLED : EXIT_RUN_FAILED;
    }
  g_printerr ("cxrgen: %d phantom studies in %s\n", count, out);
  return EXIT_OK;
}

/* ----------------------------------------------------------------- data */

/* mimic-cxr-2.0.0-NAME.csv (or .csv.gz); a problem when it cannot be read */
static CxrCsvReader *
open_dataset_table (const gchar *root, const gchar *name, GPtrArray *problems)
{
  g_autofree gchar *path = g_strdup_printf ("%s/mimic-cxr-2.0.0-%s.csv", root, name);
  g_autoptr (GError) error = NULL;
  CxrCsvReader *csv = cxr_csv_reader_open (path, &error);

  if (csv == NULL)
    g_ptr_array_add (problems, g_strdup (error->message));
  return csv;
}

/* Reads all rows of @csv's columns @names into a flat array of strings
 * (row-major), each row prefixed with its line number. */
static GPtrArray *
dataset_rows (CxrCsvReader *csv, const gchar *const *names, guint *n_columns, GPtrArray *problems)
{
  guint n = g_strv_length ((gchar **) names);
  g_autofree gint *index = g_new (gint, n);
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;

  *n_columns = n + 1;
  if (!cxr_csv_reader_find_columns (csv, names, index, &error))
    {
      g_ptr_array_add (problems, g_strdup (error->message));
      return NULL;
    }
  while (cxr_csv_reader_next (csv, &error))
    {
      g_ptr_array_add (rows, g_strdup_printf ("%u", cxr_csv_reader_get_line (csv)));
      for (guint i = 0; i < n; i++)
        g_ptr_array_add (rows, g_strdup (cxr_csv_reader_get (csv, (guint) index[i])));
    }
  if (error != NULL)
    {
      g_ptr_array_add (problems, g_strdup (error->message));
      return NULL;
    }
  return g_steal_pointer (&rows);
}

static int
command_data (gint argc, gchar **argv)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (CxrCsvReader) meta_csv = NULL, split_csv = NULL, label_csv = NULL;
  g_autoptr (GPtrArray) meta = NULL, splits = NULL, labels = NULL;
  g_autoptr (GHashTable) image_ids = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) split_ids = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) studies = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) labelled = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const gchar *const meta_names[] = { "dicom_id", "subject_id", "study_id", NULL };
  const gchar *const split_names[] = { "dicom_id", "split", NULL };
  const gchar *const *observations = cxr_labels_get_observations ();
  g_autofree gchar **label_names = g_new0 (gchar *, CXR_N_OBSERVATIONS + 3);
  guint mw = 0, sw = 0, lw = 0, n_images = 0, n_reports = 0;
  g_autofree gchar **image_problem = NULL;
  const gchar *root;
  gboolean quick = FALSE;
  GOptionEntry entries[] = {
    { "quick", 'q', 0, G_OPTION_ARG_NONE, &quick, "Check that files exist, decode none", NULL },
    G_OPTION_ENTRY_NULL
  };

  context = g_option_context_new ("check ROOT - check a MIMIC-CXR-JPG tree");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (
    context, "Checks a MIMIC-CXR-JPG tree (or a phantom dataset): the metadata, chexpert and split\n"
             "CSVs (plain or .gz) have their columns and well-formed rows; every image of the\n"
             "metadata is in the split file and decodes; every study has a report that is UTF-8\n"
             "text and a row of labels. Each problem is printed on stdout with its file (and\n"
             "line). Exit status: 0 no problem, 1 problems found, 2 bad usage.");
  if (!parse_options (context, &argc, &argv))
    return EXIT_USAGE;
  if (argc != 3 || !g_str_equal (argv[1], "check"))
    {
      g_printerr ("cxrgen: usage: cxrgen data check ROOT [--quick]\n");
      return EXIT_USAGE;
    }
  root = argv[2];
  label_names[0] = (gchar *) "subject_id";
  label_names[1] = (gchar *) "study_id";
  for (guint k = 0; k < CXR_N_OBSERVATIONS; k++)
    label_names[k + 2] = (gchar *) observations[k];

  if ((meta_csv = open_dataset_table (root, "metadata", problems)))
    meta = dataset_rows (meta_csv, meta_names, &mw, problems);
  if ((split_csv = open_dataset_table (root, "split", problems)))
    splits = dataset_rows (split_csv, split_names, &sw, problems);
  if ((label_csv = open_dataset_table (root, "chexpert", problems)))
    labels = dataset_rows (label_csv, (const gchar *const *) label_names, &lw, problems);

  if (splits != NULL)
    for (guint r = 0; r < splits->len; r += sw)
      {
        const gchar *split = g_ptr_array_index (splits, r + 2);
        g_hash_table_add (split_ids, g_ptr_array_index (splits, r + 1));
        if (!g_strv_contains ((const gchar *const[]) { "train", "validate", "test", NULL }, split))
          g_ptr_array_add (problems, g_strdup_printf ("%s:%s: split \"%s\" is not train, validate or test",
                                                      cxr_csv_reader_get_origin (split_csv),
                                                      (gchar *) g_ptr_array_index (splits, r), split));
      }
  if (labels != NULL)
    for (guint r = 0; r < labels->len; r += lw)
      {
        g_hash_table_add (labelled, g_strdup_printf ("%s/%s", (gchar *) g_ptr_array_index (labels, r + 1),
                                                     (gchar *) g_ptr_array_index (labels, r + 2)));
        for (guint k = 0; k < CXR_N_OBSERVATIONS; k++)
          {
            const gchar *v = g_ptr_array_index (labels, r + 3 + k);
            if (*v != '\0' && !g_strv_contains ((const gchar *const[]) { "1.0", "0.0", "-1.0", "1", "0", "-1", NULL }, v))
              g_ptr_array_add (problems, g_strdup_printf ("%s:%s: column %s: \"%s\" is not 1.0, 0.0, -1.0 or empty",
                                                          cxr_csv_reader_get_origin (label_csv),
                                                          (gchar *) g_ptr_array_index (labels, r), observations[k], v));
          }
      }
  if (meta != NULL)
    {
      guint n = meta->len / mw;
      image_problem = g_new0 (gchar *, n + 1);
      for (guint i = 0; i < n; i++)
        {
          const gchar *line = g_ptr_array_index (meta, i * mw), *dicom = g_ptr_array_index (meta, i * mw + 1);
          const gchar *subject = g_ptr_array_index (meta, i * mw + 2), *study = g_ptr_array_index (meta, i * mw + 3);
          const gchar *origin = cxr_csv_reader_get_origin (meta_csv);
          g_autofree gchar *key = g_strdup_printf ("%s/%s", subject, study);

          if (strlen (subject) < 2 || *dicom == '\0' || *study == '\0')
            g_ptr_array_add (problems, g_strdup_printf ("%s:%s: a row needs dicom_id, subject_id and study_id", origin, line));
          else if (!g_hash_table_add (image_ids, (gpointer) dicom))
            g_ptr_array_add (problems, g_strdup_printf ("%s:%s: image %s is listed twice", origin, line, dicom));
          if (splits != NULL && !g_hash_table_contains (split_ids, dicom))
            g_ptr_array_add (problems, g_strdup_printf ("%s:%s: image %s is not in the split file", origin, line, dicom));
          if (labels != NULL && !g_hash_table_contains (labelled, key))
            g_ptr_array_add (problems, g_strdup_printf ("%s:%s: study %s has no labels in the chexpert file", origin,
                                                        line, study));
          if (strlen (subject) >= 2 && g_hash_table_add (studies, g_steal_pointer (&key)))
            {
              g_autofree gchar *report = g_strdup_printf ("%s/files/p%.2s/p%s/s%s.txt", root, subject, subject, study);
              g_autofree gchar *text = NULL;
              gsize length;
              n_reports++;
              if (!g_file_get_contents (report, &text, &length, NULL))
                g_ptr_array_add (problems, g_strdup_printf ("%s: the report is missing or unreadable", report));
              else if (!g_utf8_validate (text, (gssize) length, NULL))
                g_ptr_array_add (problems, g_strdup_printf ("%s: the report is not UTF-8 text", report));
            }
        }
      /* the images, in parallel: each decoded at its smallest DCT scale,
       * which still reads every byte of the entropy-coded data */
      n_images = n;
#pragma omp parallel for schedule(dynamic, 16)
      for (guint i = 0; i < n; i++)
        {
          const gchar *dicom = g_ptr_array_index (meta, i * mw + 1), *subject = g_ptr_array_index (meta, i * mw + 2);
          const gchar *study = g_ptr_array_index (meta, i * mw + 3);
          g_autofree gchar *path = NULL;
          g_autoptr (GError) error = NULL;
          g_autoptr (CxrImage) image = NULL;

          if (strlen (subject) < 2)
            continue;
          path = g_strdup_printf ("%s/files/p%.2s/p%s/s%s/%s.jpg", root, subject, subject, study, dicom);
          if (quick)
            {
              if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
                image_problem[i] = g_strdup_printf ("%s: the image is missing", path);
            }
          else if ((image = cxr_image_load (path, 1, &error)) == NULL)
            image_problem[i] = g_strdup (error->message);
        }
      for (guint i = 0; i < n; i++)
        if (image_problem[i] != NULL)
          g_ptr_array_add (problems, image_problem[i]);
    }
  for (guint i = 0; i < problems->len; i++)
    g_print ("%s\n", (gchar *) g_ptr_array_index (problems, i));
  g_printerr ("cxrgen: checked %u images and %u reports in %s: %u problem%s\n", n_images, n_reports, root,
              problems->len, problems->len == 1 ? "" : "s");
  return problems->len == 0 ? EXIT_OK : EXIT_RUN_FAILED;
}

/* -------------------------------------------------------------- convert */

static CxrImageFormat
format_from_name (const gchar *path)
{
  g_autofree gchar *lower = g_ascii_strdown (path, -1);

  if (g_str_has_suffix (lower, ".png"))
    return CXR_IMAGE_FORMAT_PNG;
  if (g_str_has_suffix (lower, ".jpg") || g_str_has_suffix (lower, ".jpeg"))
    return CXR_IMAGE_FORMAT_JPEG;
  if (g_str_has_suffix (lower, ".tif") || g_str_has_suffix (lower, ".tiff"))
    return CXR_IMAGE_FORMAT_TIFF;
  if (g_str_has_suffix (lower, ".dcm"))
    return CXR_IMAGE_FORMAT_DICOM;
  return CXR_IMAGE_FORMAT_UNKNOWN;
}

static int
command_convert (gint argc, gchar **argv)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrImage) image = NULL, out = NULL;
  gint bits = 0, size = 0;
  g_autofree gchar *window = NULL;
  gdouble center = 0.0, width = 0.0;
  CxrImageFormat format;
  GOptionEntry entries[] = {
    { "bits", 'b', 0, G_OPTION_ARG_INT, &bits, "Bits per sample of the output, 8 or 16 (default: the input's; JPEG: 8)", "N" },
    { "window", 'w', 0, G_OPTION_ARG_STRING, &window, "A VOI window, in the input's units (DICOM: after rescale)", "CENTER,WIDTH" },
    { "size", 's', 0, G_OPTION_ARG_INT, &size, "Resize to SIZE x SIZE as the reference preprocessing does", "SIZE" },
    G_OPTION_ENTRY_NULL
  };

  context = g_option_context_new ("convert IN OUT - convert between DICOM, PNG, JPEG and TIFF");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context, "The output format follows OUT's extension: .png, .jpg/.jpeg, .tif/.tiff, .dcm\n"
                                             "(a DICOM secondary capture of a synthetic image: new UIDs, no patient data).\n"
                                             "A DICOM input is rendered with its own window (or VOI LUT, or its values'\n"
                                             "range), unless --window gives one; MONOCHROME1 is inverted.\n"
                                             "Exit status: 0 success, 1 a file that cannot be read or written, 2 bad usage.");
  if (!parse_options (context, &argc, &argv))
    return EXIT_USAGE;
  if (window != NULL)
    {
      gchar *end = NULL;
      center = g_ascii_strtod (window, &end);
      if (end == window || *end != ',' || (width = g_ascii_strtod (end + 1, &end)) < 1.0 || *end != '\0')
        {
          g_printerr ("cxrgen: --window needs CENTER,WIDTH with WIDTH >= 1, such as 40,400 (got \"%s\")\n", window);
          return EXIT_USAGE;
        }
    }
  if (argc != 3 || (bits != 0 && bits != 8 && bits != 16) || size < 0)
    {
      g_printerr ("cxrgen: convert needs IN and OUT (and --bits 8 or 16)\n");
      return EXIT_USAGE;
    }
  format = format_from_name (argv[2]);
  if (format == CXR_IMAGE_FORMAT_UNKNOWN)
    {
      g_printerr ("cxrgen: %s: the extension names no format (.png, .jpg, .tif, .dcm)\n", argv[2]);
      return EXIT_USAGE;
    }
  image = window ? cxr_image_load_windowed (argv[1], center, width, &error) : cxr_image_load (argv[1], (guint) size, &error);
  if (image == NULL)
    {
      print_error (error);
      return EXIT_RUN_FAILED;
    }
  out = size > 0 ? cxr_image_resize (image, (guint) size, (guint) size) : g_object_ref (image);
  if (bits == 0)
    bits = format == CXR_IMAGE_FORMAT_JPEG ? 8 : (gint) cxr_image_get_bit_depth (image);
  if (format == CXR_IMAGE_FORMAT_JPEG && bits != 8)
    {
      g_printerr ("cxrgen: JPEG output is 8 bits\n");
      return EXIT_USAGE;
    }
  if ((guint) bits != cxr_image_get_bit_depth (out))
    {
      g_autoptr (CxrTensor) t = cxr_image_to_tensor (out);
      g_clear_object (&out);
      out = cxr_image_new_from_tensor (t, (guint) bits, NULL);
    }
  if (!cxr_image_save (out, argv[2], format, &error))
    {
      print_error (error);
      return EXIT_RUN_FAILED;
    }
  return EXIT_OK;
}

/* -------------------------------------------------------------- metrics */

/* A CSV with the 14 observation columns (any order; an "id" column to
 * align rows; other columns ignored) as F32 [N, 14]. */
static CxrTensor *
read_observation_csv (const gchar *path, gboolean blanks_allowed, GPtrArray **ids, GError **error)
{
  g_autoptr (CxrCsvReader) reader = cxr_csv_reader_open (path, error);
  const gchar *const *names = cxr_labels_get_observations ();
  gint cols[CXR_N_OBSERVATIONS];
  gint id_col;
  g_autoptr (GArray) values = g_array_new (FALSE, FALSE, sizeof (gfloat));
  g_autoptr (GPtrArray) id_list = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) local = NULL;
  guint64 rows = 0;

  if (reader == NULL)
    return NULL;
  for (guint k = 0; k < CXR_N_OBSERVATIONS; k++)
    if ((cols[k] = cxr_csv_reader_find_column (reader, names[k])) < 0)
      {
        g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_MISSING_COLUMN, "%s: the header has no column \"%s\"", path,
                     names[k]);
        return NULL;
      }
  id_col = cxr_csv_reader_find_column (reader, "id");
  while (cxr_csv_reader_next (reader, &local))
    {
      for (guint k = 0; k < CXR_N_OBSERVATIONS; k++)
        {
          g_autofree gchar *text = g_strstrip (g_strdup (cxr_csv_reader_get (reader, (guint) cols[k])));
          gchar *end = NULL;
          gfloat v = NAN;
          if (*text != '\0')
            {
              v = (gfloat) g_ascii_strtod (text, &end);
              if (end == text || *end != '\0' || !isfinite (v))
                {
                  g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s:%u: column %s: \"%s\" is not a number",
                               path, cxr_csv_reader_get_line (reader), names[k], text);
                  return NULL;
                }
            }
          else if (!blanks_allowed)
            {
              g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s:%u: column %s: a score is missing", path,
                           cxr_csv_reader_get_line (reader), names[k]);
              return NULL;
            }
          g_array_append_val (values, v);
        }
      if (id_col >= 0)
        g_ptr_array_add (id_list, g_strdup (cxr_csv_reader_get (reader, (guint) id_col)));
      rows++;
    }
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  if (ids)
    *ids = id_col >= 0 ? g_steal_pointer (&id_list) : NULL;
  return cxr_tensor_new_from_data (CXR_DTYPE_F32, (const gint64[]) { (gint64) rows, CXR_N_OBSERVATIONS }, 2,
                                   (const guint8 *) values->data, values->len * sizeof (gfloat), error);
}

/* Reorders @b's rows to follow @a's ids, when both files have ids. */
static CxrTensor *
align_rows (CxrTensor *b, GPtrArray *ids_a, GPtrArray *ids_b, const gchar *path_a, const gchar *path_b, GError **error)
{
  g_autoptr (GHashTable) where = NULL;
  CxrTensor *out;

  if (ids_a == NULL || ids_b == NULL)
    return cxr_tensor_ref (b);
  where = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < ids_b->len; i++)
    g_hash_table_insert (where, g_ptr_array_index (ids_b, i), GUINT_TO_POINTER (i + 1));
  out = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { ids_a->len, CXR_N_OBSERVATIONS }, 2);
  for (guint i = 0; i < ids_a->len; i++)
    {
      guint at = GPOINTER_TO_UINT (g_hash_table_lookup (where, g_ptr_array_index (ids_a, i)));
      if (at == 0)
        {
          g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: id %s of %s has no row", path_b,
                       (const gchar *) g_ptr_array_index (ids_a, i), path_a);
          cxr_tensor_unref (out);
          return NULL;
        }
      memcpy ((gfloat *) cxr_tensor_get_data (out) + (gsize) i * CXR_N_OBSERVATIONS,
              (gfloat *) cxr_tensor_get_data (b) + (gsize) (at - 1) * CXR_N_OBSERVATIONS,
              CXR_N_OBSERVATIONS * sizeof (gfloat));
    }
  return out;
}

static gboolean
parse_policy (const gchar *text, CxrUncertainPolicy *policy)
{
  if (text == NULL || g_str_equal (text, "negative"))
    *policy = CXR_UNCERTAIN_AS_NEGATIVE;
  else if (g_str_equal (text, "positive"))
    *policy = CXR_UNCERTAIN_AS_POSITIVE;
  else if (g_str_equal (text, "exclude"))
    *policy = CXR_UNCERTAIN_EXCLUDED;
  else
    {
      g_printerr ("cxrgen: --uncertain takes negative, positive or exclude, not \"%s\"\n", text);
      return FALSE;
    }
  return TRUE;
}

static void
json_number (GString *out, gdouble v)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
  if (isnan (v))
    g_string_append (out, "null");
  else
    g_string_append (out, g_ascii_dtostr (buf, sizeof buf, v));
}

static int
metrics_f1 (gint argc, gchar **argv)
{
  g_autofree gchar *pred_path = NULL, *ref_path = NULL, *uncertain = NULL;
  gboolean json = FALSE;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) pred_ids = NULL, ref_ids = NULL;
  g_autoptr (CxrTensor) pred = NULL, ref0 = NULL, ref = NULL, result = NULL;
  CxrUncertainPolicy policy;
  const gdouble *r;
  const gchar *const *names = cxr_labels_get_observations ();
  GOptionEntry entries[] = {
    { "pred", 'p', 0, G_OPTION_ARG_FILENAME, &pred_path, "The predicted labels (CSV)", "P.csv" },
    { "ref", 'r', 0, G_OPTION_ARG_FILENAME, &ref_path, "The reference labels (CSV)", "R.csv" },
    { "uncertain", 'u', 0, G_OPTION_ARG_STRING, &uncertain, "Uncertain labels count as negative (default), positive, or exclude", "POLICY" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    G_OPTION_ENTRY_NULL
  };

  context = g_option_context_new ("metrics f1 --pred P.csv --ref R.csv - F1 of labels");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (
    context, "Both CSVs carry the 14 observation columns (as `cxrgen label` writes them: 1.0,\n"
             "0.0, -1.0 or empty), and an optional id column that aligns their rows.\n"
             "Prints precision, recall, F1 and support per observation, micro and macro.");
  if (!parse_options (context, &argc, &argv) || !parse_policy (uncertain, &policy))
    return EXIT_USAGE;
  if (pred_path == NULL || ref_path == NULL)
    {
      g_printerr ("cxrgen: metrics f1 needs --pred and --ref\n");
      return EXIT_USAGE;
    }
  if (!(pred = read_observation_csv (pred_path, TRUE, &pred_ids, &error)) ||
      !(ref0 = read_observation_csv (ref_path, TRUE, &ref_ids, &error)) ||
      !(ref = align_rows (ref0, pred_ids, ref_ids, pred_path, ref_path, &error)) ||
      !(result = cxr_metrics_f1 (pred, ref, policy, &error)))
    {
      print_error (error);
      return EXIT_RUN_FAILED;
    }
  r = cxr_tensor_get_data (result);
  if (json)
    {
      /* {"observations": {OBS: {...}, ...}, "micro": {...}, "macro": {...}} */
      const gchar *columns[] = { "precision", "recall", "f1", "support", NULL };
      const gchar *totals[] = { "micro", "macro", NULL };
      g_autoptr (CxrTensor) per = cxr_tensor_slice (result, 0, 0, CXR_N_OBSERVATIONS, 1, NULL);
      g_autoptr (CxrTensor) all = cxr_tensor_slice (result, 0, CXR_N_OBSERVATIONS, CXR_N_OBSERVATIONS + 2, 1, NULL);
      g_autofree gchar *observations = cxr_metrics_table_to_json (per, names, columns);
      g_autofree gchar *averages = cxr_metrics_table_to_json (all, totals, columns);
      g_print ("{\"observations\":%s,%s\n", observations, averages + 1);
      return EXIT_OK;
    }
  g_print ("%-28s %9s %9s %9s %8s\n", "observation", "precision", "recall", "f1", "support");
  for (guint k = 0; k < CXR_N_OBSERVATIONS + 2; k++)
    g_print ("%-28s %9.4f %9.4f %9.4f %8.0f\n",
             k < CXR_N_OBSERVATIONS ? names[k] : k == CXR_N_OBSERVATIONS ? "micro" : "macro", r[k * 4], r[k * 4 + 1],
             r[k * 4 + 2], r[k * 4 + 3]);
  return EXIT_OK;
}

static int
metrics_auroc (gint argc, gchar **argv)
{
  g_autofree gchar *scores_path = NULL, *labels_path = NULL, *uncertain = NULL;
  gboolean json = FALSE;
  gint bootstrap = 0;
  gint64 seed = 1234;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) score_ids = NULL, label_ids = NULL;
  g_autoptr (CxrTensor) scores = NULL, labels0 = NULL, labels = NULL, result = NULL;
  CxrUncertainPolicy policy;
  const gdouble *r;
  const gchar *const *names = cxr_labels_get_observations ();
  GOptionEntry entries[] = {
    { "scores", 's', 0, G_OPTION_ARG_FILENAME, &scores_path, "A classifier's scores (CSV)", "S.csv" },
    { "labels", 'l', 0, G_OPTION_ARG_FILENAME, &labels_path, "The labels (CSV)", "L.csv" },
    { "uncertain", 'u', 0, G_OPTION_ARG_STRING, &uncertain, "Uncertain labels count as negative (default), positive, or exclude", "POLICY" },
    { "bootstrap", 'b', 0, G_OPTION_ARG_INT, &bootstrap, "Resamples for 95% confidence intervals (default 0)", "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "The seed of the resampling (default 1234)", "S" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    G_OPTION_ENTRY_NULL
  };

  context = g_option_context_new ("metrics auroc --scores S.csv --labels L.csv - AUROC of scores");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (
    context, "Both CSVs carry the 14 observation columns and an optional id column. An\n"
             "observation with one class only is undefined (null in JSON), not 0.5.");
  if (!parse_options (context, &argc, &argv) || !parse_policy (uncertain, &policy))
    return EXIT_USAGE;
  if (scores_path == NULL || labels_path == NULL || bootstrap < 0)
    {
      g_printerr ("cxrgen: metrics auroc needs --scores and --labels (and --bootstrap >= 0)\n");
      return EXIT_USAGE;
    }
  if (!(scores = read_observation_csv (scores_path, FALSE, &score_ids, &error)) ||
      !(labels0 = read_observation_csv (labels_path, TRUE, &label_ids, &error)) ||
      !(labels = align_rows (labels0, score_ids, label_ids, scores_path, labels_path, &error)) ||
      !(result = cxr_metrics_auroc (scores, labels, policy, (guint) bootstrap, (guint64) seed, &error)))
    {
      print_error (error);
      return EXIT_RUN_FAILED;
    }
  r = cxr_tensor_get_data (result);
  if (json)
    {
      /* {"observations": {OBS: {"auroc", "ci_low", "ci_high"}, ...}, "macro": M} */
      const gchar *columns[] = { "auroc", "ci_low", "ci_high", NULL };
      g_autoptr (CxrTensor) per = cxr_tensor_slice (result, 0, 0, CXR_N_OBSERVATIONS, 1, NULL);
      g_autofree gchar *observations = cxr_metrics_table_to_json (per, names, columns);
      g_autoptr (GString) out = g_string_new (NULL);
      g_string_printf (out, "{\"observations\":%s,\"macro\":", observations);
      json_number (out, r[CXR_N_OBSERVATIONS * 3]);
      g_print ("%s}\n", out->str);
      return EXIT_OK;
    }
  g_print ("%-28s %8s %17s\n", "observation", "auroc", "95% interval");
  for (guint k = 0; k < CXR_N_OBSERVATIONS; k++)
    {
      if (isnan (r[k * 3]))
        g_print ("%-28s %8s\n", names[k], "undefined");
      else if (isnan (r[k * 3 + 1]))
        g_print ("%-28s %8.4f\n", names[k], r[k * 3]);
      else
        g_print ("%-28s %8.4f  [%.4f, %.4f]\n", names[k], r[k * 3], r[k * 3 + 1], r[k * 3 + 2]);
    }
  g_print ("%-28s %8.4f\n", "macro", r[CXR_N_OBSERVATIONS * 3]);
  return EXIT_OK;
}

static gboolean
is_image_name (const gchar *name)
{
  static const gchar *const suffixes[] = { ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dcm", NULL };
  g_autofree gchar *lower = g_ascii_strdown (name, -1);
  for (guint i = 0; suffixes[i]; i++)
    if (g_str_has_suffix (lower, suffixes[i]))
      return TRUE;
  return FALSE;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

/* embeds the pending images (all of one size) and empties the list */
static gboolean
embed_run (CxrImageEncoder *encoder, GPtrArray *images, GArray *rows, GError **error)
{
  CxrImage *first = g_ptr_array_index (images, 0);
  guint w = cxr_image_get_width (first), h = cxr_image_get_height (first);
  g_autoptr (CxrTensor) batch = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { images->len, 1, h, w }, 4);
  g_autoptr (CxrTensor) features = NULL;
  gfloat *px = cxr_tensor_get_data (batch);

  for (guint i = 0; i < images->len; i++)
    memcpy (px + (gsize) i * w * h, cxr_image_get_pixels (g_ptr_array_index (images, i)), (gsize) w * h * sizeof (gfloat));
  if ((features = cxr_image_encoder_embed (encoder, batch, error)) == NULL)
    return FALSE;
  g_array_append_vals (rows, cxr_tensor_get_data (features), (guint) cxr_tensor_get_numel (features));
  g_ptr_array_set_size (images, 0);
  return TRUE;
}

/* The features [N, D] of every image in DIR (sorted by name), embedded in
 * batches of up to BATCH images of one size. */
static CxrTensor *
features_of_folder (const gchar *dir, CxrImageEncoder *encoder, guint batch, GError **error)
{
  g_autoptr (GDir) folder = g_dir_open (dir, 0, error);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) pending = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (gfloat));
  guint width = cxr_image_encoder_get_embedding_width (encoder);
  const gchar *name;

  if (folder == NULL)
    return NULL;
  while ((name = g_dir_read_name (folder)) != NULL)
    if (is_image_name (name))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree gchar *path = g_build_filename (dir, g_ptr_array_index (names, i), NULL);
      CxrImage *image = cxr_image_load (path, 0, error), *last;
      if (image == NULL)
        return NULL;
      last = pending->len ? g_ptr_array_index (pending, pending->len - 1) : NULL;
      if (last && (cxr_image_get_width (last) != cxr_image_get_width (image) ||
                   cxr_image_get_height (last) != cxr_image_get_height (image)) &&
          !embed_run (encoder, pending, rows, error))
        {
          g_object_unref (image);
          g_prefix_error (error, "%s: ", dir);
          return NULL;
        }
      g_ptr_array_add (pending, image);
      if (pending->len >= batch && !embed_run (encoder, pending, rows, error))
        {
          g_prefix_error (error, "%s: ", path);
          return NULL;
        }
    }
  if (pending->len > 0 && !embed_run (encoder, pending, rows, error))
    {
      g_prefix_error (error, "%s: ", dir);
      return NULL;
    }
  if (rows->len == 0)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: no images (.png, .jpg, .tif, .dcm) in this folder",
                   dir);
      return NULL;
    }
  return cxr_tensor_new_from_data (CXR_DTYPE_F32, (const gint64[]) { rows->len / width, width }, 2,
                                   (const guint8 *) rows->data, rows->len * sizeof (gfloat), error);
}

/* Features (.npy [N, D], or a folder of images through the encoder) or
 * saved statistics (.safetensors mu/sigma). */
static gboolean
load_side (const gchar *path, CxrImageEncoder *encoder, guint batch, CxrTensor **features, CxrTensor **mean,
           CxrTensor **cov, guint64 *count, GError **error)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      if (encoder == NULL)
        {
          g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_UNSUPPORTED,
                       "%s: a folder of images needs a feature extractor: --model pt_inception.safetensors "
                       "(pytorch-fid's Inception-v3, converted with pth-to-safetensors.py)", path);
          return FALSE;
        }
      *features = features_of_folder (path, encoder, batch, error);
    }
  else if (g_str_has_suffix (path, ".safetensors"))
    return cxr_feature_stats_load_file (path, mean, cov, count, error);
  else
    *features = cxr_tensor_load_npy (path, error);
  if (*features == NULL)
    return FALSE;
  if (cxr_tensor_get_ndim (*features) != 2)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: features must be a matrix [N, D]", path);
      return FALSE;
    }
  {
    g_autoptr (CxrFeatureStats) stats = cxr_feature_stats_new ((guint) cxr_tensor_get_dim (*features, 1));
    if (!cxr_feature_stats_update (stats, *features, error))
      {
        g_prefix_error (error, "%s: ", path);
        return FALSE;
      }
    *count = cxr_feature_stats_get_count (stats);
    if (!cxr_feature_stats_finish (stats, mean, cov, error))
      {
        g_prefix_error (error, "%s: ", path);
        return FALSE;
      }
  }
  return TRUE;
}

static gboolean
save_stats (const gchar *path, CxrTensor *mean, CxrTensor *cov, guint64 count, GError **error)
{
  g_autoptr (GHashTable) tensors = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) meta = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);

  g_hash_table_insert (tensors, "mu", mean);
  g_hash_table_insert (tensors, "sigma", cov);
  g_hash_table_insert (meta, "count", g_strdup_printf ("%" G_GUINT64_FORMAT, count));
  g_hash_table_insert (meta, "cxrgen.format", g_strdup ("feature-stats-1"));
  return cxr_safetensors_save (path, tensors, meta, error);
}

static int
metrics_fid (gint argc, gchar **argv)
{
  g_autofree gchar *real = NULL, *fake = NULL, *save_real = NULL, *save_fake = NULL;
  g_autofree gchar *model_weights = NULL, *model_type = NULL;
  g_autoptr (CxrModel) model = NULL;
  gboolean json = FALSE, kid = FALSE;
  gint subsets = 100, subset_size = 1000, batch = 16;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrTensor) f1 = NULL, f2 = NULL, m1 = NULL, m2 = NULL, c1 = NULL, c2 = NULL;
  guint64 n1 = 0, n2 = 0;
  gdouble fid, kid_mean = NAN, kid_std = NAN;
  GOptionEntry entries[] = {
    { "real", 'r', 0, G_OPTION_ARG_FILENAME, &real, "Real images (a folder), features (.npy) or statistics (.safetensors)", "X" },
    { "fake", 'f', 0, G_OPTION_ARG_FILENAME, &fake, "Generated images, features or statistics", "Y" },
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_weights, "The feature extractor's weights, for folders of images", "W" },
    { "model-type", 0, 0, G_OPTION_ARG_STRING, &model_type, "Its type (default inception-v3; any image encoder)", "TYPE" },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Images embedded at once (default 16)", "N" },
    { "save-stats-real", 0, 0, G_OPTION_ARG_FILENAME, &save_real, "Save the real side's statistics", "FILE" },
    { "save-stats-fake", 0, 0, G_OPTION_ARG_FILENAME, &save_fake, "Save the generated side's statistics", "FILE" },
    { "kid", 0, 0, G_OPTION_ARG_NONE, &kid, "Also the kernel inception distance (needs features)", NULL },
    { "kid-subsets", 0, 0, G_OPTION_ARG_INT, &subsets, "KID subsets (default 100)", "N" },
    { "kid-subset-size", 0, 0, G_OPTION_ARG_INT, &subset_size, "KID rows per subset (default 1000, capped at the sets)", "N" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    G_OPTION_ENTRY_NULL
  };

  context = g_option_context_new ("metrics fid --real X --fake Y - FID (and KID) of two sets");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (
    context, "Each side is a folder of images (with --model: pytorch-fid's Inception-v3 by default, each\n"
             "image resized bilinearly to 299x299), a .npy feature matrix [N, D] (float32 or float64), or\n"
             "statistics saved with --save-stats-*; at least 2 rows a side.");
  if (!parse_options (context, &argc, &argv))
    return EXIT_USAGE;
  if (real == NULL || fake == NULL)
    {
      g_printerr ("cxrgen: metrics fid needs --real and --fake\n");
      return EXIT_USAGE;
    }
  if (model_weights != NULL)
    {
      int status = EXIT_OK;
      if ((model = open_model (model_type ? model_type : "inception-v3", NULL, NULL, model_weights, NULL, FALSE,
                               &status)) == NULL)
        return status;
      if (!CXR_IS_IMAGE_ENCODER (model) || cxr_image_encoder_get_embedding_width (CXR_IMAGE_ENCODER (model)) == 0)
        {
          g_printerr ("cxrgen: --model-type %s: not an image encoder that embeds images\n", model_type);
          return EXIT_USAGE;
        }
    }
  if (!load_side (real, model ? CXR_IMAGE_ENCODER (model) : NULL, (guint) MAX (batch, 1), &f1, &m1, &c1, &n1, &error) ||
      !load_side (fake, model ? CXR_IMAGE_ENCODER (model) : NULL, (guint) MAX (batch, 1), &f2, &m2, &c2, &n2, &error))
    {
      print_error (error);
      return EXIT_RUN_FAILED;
    }
  if ((save_real && !save_stats (save_real, m1, c1, n1, &error)) ||
      (save_fake && !save_stats (save_fake, m2, c2, n2, &error)))
    {
      print_error (error);
      return EXIT_RUN_FAILED;
    }
  fid = cxr_metrics_frechet_distance (m1, c1, m2, c2, &error);
  if (isnan (fid))
    {
      print_error (error);
      return EXIT_RUN_FAILED;
    }
  if (kid)
    {
      guint size;
      if (f1 == NULL || f2 == NULL)
        {
          g_printerr ("cxrgen: --kid needs feature matrices on both sides, not statistics\n");
          return EXIT_USAGE;
        }
      size = (guint) MIN ((gint64) subset_size, MIN (cxr_tensor_get_dim (f1, 0), cxr_tensor_get_dim (f2, 0)));
      kid_mean = cxr_metrics_kid (f1, f2, (guint) MAX (subsets, 1), size, 1234, &kid_std, &error);
      if (isnan (kid_mean))
        {
          print_error (error);
          return EXIT_RUN_FAILED;
        }
    }
  if (json)
    {
      GString *out = g_string_new ("{\"fid\":");
      json_number (out, fid);
      g_string_append_printf (out, ",\"real\":%" G_GUINT64_FORMAT ",\"fake\":%" G_GUINT64_FORMAT ",\"kid\":", n1, n2);
      json_number (out, kid_mean);
      g_string_append (out, ",\"kid_std\":");
      json_number (out, kid_std);
      g_string_append (out, "}\n");
      fputs (out->str, stdout);
      g_string_free (out, TRUE);
      return EXIT_OK;
    }
  g_print ("FID %.6f  (%" G_GUINT64_FORMAT " real, %" G_GUINT64_FORMAT " generated)\n", fid, n1, n2);
  if (kid)
    g_print ("KID %.6f +- %.6f\n", kid_mean, kid_std);
  return EXIT_OK;
}

static int
command_metrics (gint argc, gchar **argv)
{
  if (argc >= 2 && g_str_equal (argv[1], "f1"))
    return metrics_f1 (argc - 1, argv + 1);
  if (argc >= 2 && g_str_equal (argv[1], "auroc"))
    return metrics_auroc (argc - 1, argv + 1);
  if (argc >= 2 && g_str_equal (argv[1], "fid"))
    return metrics_fid (argc - 1, argv + 1);
  g_printerr ("Usage: cxrgen metrics f1|auroc|fid [OPTIONS]  (cxrgen metrics KIND --help)\n");
  return argc >= 2 && (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h")) ? EXIT_OK : EXIT_USAGE;
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
           "  label IN -o OUT  CheXpert-style labels of radiology reports\n"
           "  convert IN OUT between DICOM, PNG, JPEG and TIFF (8 or 16 bits)\n"
           "  phantom --count N --out DIR  make the phantom dataset (MIMIC-CXR-JPG layout)\n"
           "  data check ROOT  check a MIMIC-CXR-JPG tree, list its problems\n"
           "  metrics f1|auroc|fid  F1 of labels, AUROC of scores, FID/KID of features\n"
           "  model list|run|compare|bench  load a network, run it on tensors, check, time\n"
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

  /* Stages run on threads of their own, each with OpenMP loops, so
   * OpenMP's default of spinning while it waits for work takes the cores
   * the other stages need (a classifier trained beside the phantom source
   * ran 5x slower). libgomp reads the policy when it loads, before main:
   * unless the user chose one, start again with passive waiting. */
  if (g_getenv ("OMP_WAIT_POLICY") == NULL && g_setenv ("OMP_WAIT_POLICY", "PASSIVE", TRUE))
    execv ("/proc/self/exe", argv); /* on failure, carry on as we are */
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
      g_print ("cxrgen %s (library %s, plugin ABI %d; matrix products on %s, %u threads)\n", CXR_VERSION_STRING,
               cxr_get_version (), CXR_PLUGIN_ABI_VERSION, cxr_get_matrix_kernel (), cxr_get_num_threads ());
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
  if (g_str_equal (command, "label"))
    return command_label (argc - 1, argv + 1);
  if (g_str_equal (command, "convert"))
    return command_convert (argc - 1, argv + 1);
  if (g_str_equal (command, "phantom"))
    return command_phantom (argc - 1, argv + 1);
  if (g_str_equal (command, "data"))
    return command_data (argc - 1, argv + 1);
  if (g_str_equal (command, "metrics"))
    return command_metrics (argc - 1, argv + 1);
  if (g_str_equal (command, "model"))
    return command_model (argc - 1, argv + 1);
  fprintf (stderr, "cxrgen: unknown command \"%s\"\n\n", command);
  print_usage (stderr);
  return EXIT_USAGE;
}
