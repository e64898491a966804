/* tools/cxrgen-model.c: `cxrgen model`: load any network, run it on
 * tensors from a file, compare outputs, time it.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cxrgen.h"

static const gchar *const role_names[][2] = {
  { "CxrDenoiser", "denoiser" },          { "CxrTextEncoder", "text-encoder" },
  { "CxrImageEncoder", "image-encoder" }, { "CxrAutoencoder", "autoencoder" },
  { "CxrTextDecoder", "text-decoder" },   { "CxrPrior", "prior" },
};

static gchar *
join (const gchar *const *names)
{
  return names ? g_strjoinv (", ", (gchar **) names) : g_strdup ("-");
}

static int
model_list (gint argc, gchar **argv)
{
  CxrRegistry *registry = cxr_registry_get_default ();
  g_auto (GStrv) types = NULL;

  cxr_registry_scan (registry);
  types = cxr_registry_list_models (registry);
  for (guint i = 0; types[i]; i++)
    {
      GType type = cxr_registry_find_model_type (registry, types[i]);
      g_autoptr (GTypeClass) ref = g_type_class_ref (type);
      CxrModelClass *klass = (CxrModelClass *) ref;
      g_autoptr (GString) roles = g_string_new (NULL);
      g_autofree gchar *in = NULL, *optional = NULL, *out = NULL;

      for (guint r = 0; r < G_N_ELEMENTS (role_names); r++)
        {
          GType iface = g_type_from_name (role_names[r][0]);
          if (iface && g_type_is_a (type, iface))
            g_string_append_printf (roles, "%s%s", roles->len ? ", " : "", role_names[r][1]);
        }
      in = join (klass->required_inputs);
      optional = join (klass->optional_inputs);
      out = join (klass->outputs);
      g_print ("%s\n  %s\n", types[i], klass->description ? klass->description : "");
      g_print ("  plugin: %s; roles: %s\n", cxr_plugin_get_name (cxr_registry_get_plugin_for_factory (registry, types[i])),
               roles->len ? roles->str : "-");
      if (klass->forward)
        g_print ("  inputs: %s; optional: %s\n  outputs: %s\n", in, optional, out);
      else
        g_print ("  (not runnable by `cxrgen model run`)\n");
    }
  return EXIT_OK;
}

/* The model of TYPE with the weights and configuration of the command
 * line, prepared; its warnings are printed. */
CxrModel *
open_model (const gchar *type, const gchar *model_dir, const gchar *config, const gchar *weights,
            gchar **sets, gboolean random_ok, int *status)
{
  CxrRegistry *registry = cxr_registry_get_default ();
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrModel) model = NULL;
  g_auto (GStrv) warnings = NULL;

  cxr_registry_scan (registry);
  model = cxr_registry_make_model (registry, type, "model", &error);
  if (model == NULL)
    {
      print_error (error);
      g_printerr ("cxrgen: `cxrgen model list` lists the types\n");
      *status = EXIT_UNKNOWN_TYPE;
      return NULL;
    }
  if (model_dir && (weights || config))
    {
      g_printerr ("cxrgen: --model-dir excludes --weights and --config\n");
      *status = EXIT_USAGE;
      return NULL;
    }
  g_object_set (model, "weights", model_dir ? model_dir : weights, "config", config, NULL);
  if (random_ok && !model_dir && !weights)
    g_object_set (model, "random-weights", TRUE, NULL);
  for (guint i = 0; sets && sets[i]; i++)
    {
      g_auto (GStrv) kv = g_strsplit (sets[i], "=", 2);
      if (kv[1] == NULL)
        {
          g_printerr ("cxrgen: --set %s: KEY=VALUE expected\n", sets[i]);
          *status = EXIT_USAGE;
          return NULL;
        }
      if (!cxr_model_set_property_from_string (model, kv[0], kv[1], &error))
        {
          print_error (error);
          *status = EXIT_USAGE;
          return NULL;
        }
    }
  if (!cxr_model_prepare (model, &error))
    {
      print_error (error);
      *status = EXIT_RUN_FAILED;
      return NULL;
    }
  warnings = cxr_model_get_warnings (model);
  for (guint i = 0; warnings[i]; i++)
    g_printerr ("cxrgen: warning: %s\n", warnings[i]);
  return g_steal_pointer (&model);
}

static GHashTable *
read_tensors (const gchar *path, GError **error)
{
  g_autoptr (CxrSafetensors) file = cxr_safetensors_open (path, error);
  g_autoptr (GHashTable) table = NULL;
  g_auto (GStrv) names = NULL;

  if (file == NULL)
    return NULL;
  table = cxr_model_new_tensor_table ();
  names = cxr_safetensors_list_names (file);
  for (guint i = 0; names[i]; i++)
    {
      CxrTensor *t = cxr_safetensors_get_tensor (file, names[i], error);
      if (t == NULL)
        return NULL;
      g_hash_table_insert (table, g_strdup (names[i]), t);
    }
  return g_steal_pointer (&table);
}

static gboolean
is_float (CxrTensor *t)
{
  CxrDType d = cxr_tensor_get_dtype (t);
  return d == CXR_DTYPE_F32 || d == CXR_DTYPE_F16 || d == CXR_DTYPE_BF16 || d == CXR_DTYPE_F64;
}

static gboolean
same_shape (CxrTensor *a, CxrTensor *b)
{
  guint na = 0, nb = 0;
  const gint64 *sa = cxr_tensor_get_shape (a, &na), *sb = cxr_tensor_get_shape (b, &nb);
  return na == nb && memcmp (sa, sb, na * sizeof (gint64)) == 0;
}

/* The loss of the outputs against the targets, each target naming the
 * output it scores: MSE, or cross-entropy of logits [..., V] against ids
 * [...] (ignoring -100, as Hugging Face does). Summed over targets. */
static CxrTensor *
target_loss (CxrTape *tape, GHashTable *outputs, GHashTable *targets, const gchar *loss_name, const gchar *path,
             GError **error)
{
  g_autoptr (CxrTensor) total = NULL;
  GHashTableIter iter;
  const gchar *name;
  CxrTensor *target;

  g_hash_table_iter_init (&iter, targets);
  while (g_hash_table_iter_next (&iter, (gpointer *) &name, (gpointer *) &target))
    {
      CxrTensor *out = g_hash_table_lookup (outputs, name);
      g_autoptr (CxrTensor) loss = NULL, sum = NULL;
      g_autofree gchar *want = NULL, *got = NULL;

      if (out == NULL)
        {
          g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "%s: target \"%s\" names no output of the model",
                       path, name);
          return NULL;
        }
      want = cxr_tensor_describe (out);
      got = cxr_tensor_describe (target);
      if (g_str_equal (loss_name, "mse"))
        {
          g_autoptr (CxrTensor) t = NULL;
          if (!same_shape (out, target) || !is_float (target))
            {
              g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT,
                           "%s: target \"%s\" is %s; the output is %s", path, name, got, want);
              return NULL;
            }
          if ((t = cxr_tensor_to_dtype (target, CXR_DTYPE_F32, error)) == NULL ||
              (loss = cxr_op_mse (tape, out, t, error)) == NULL)
            return NULL;
        }
      else
        {
          guint nd = cxr_tensor_get_ndim (out);
          gint64 v = cxr_tensor_get_dim (out, -1), rows = cxr_tensor_get_numel (target);
          gint64 s2[2] = { rows, v }, s1[1] = { rows };
          g_autoptr (CxrTensor) logits = NULL, ids = NULL, flat = NULL;

          if (is_float (target) || nd < 2 || cxr_tensor_get_ndim (target) != nd - 1 ||
              rows * v != cxr_tensor_get_numel (out))
            {
              g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT,
                           "%s: target \"%s\" is %s; class ids for the logits %s expected", path, name, got, want);
              return NULL;
            }
          if ((logits = cxr_op_reshape (tape, out, s2, 2, error)) == NULL ||
              (ids = cxr_tensor_to_dtype (target, CXR_DTYPE_I64, error)) == NULL ||
              (flat = cxr_tensor_reshape (ids, s1, 1, error)) == NULL ||
              (loss = cxr_op_cross_entropy (tape, logits, flat, -100, error)) == NULL)
            return NULL;
        }
      if (total == NULL)
        total = g_steal_pointer (&loss);
      else if ((sum = cxr_op_add (tape, total, loss, error)) == NULL)
        return NULL;
      else
        {
          cxr_tensor_unref (total);
          total = g_steal_pointer (&sum);
        }
    }
  if (total == NULL)
    g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "%s: no targets", path);
  return g_steal_pointer (&total);
}

static int
model_run (gint argc, gchar **argv)
{
  g_autofree gchar *model_dir = NULL, *config = NULL, *weights = NULL, *inputs_path = NULL, *output = NULL;
  g_autofree gchar *target_path = NULL, *loss_name = NULL;
  g_auto (GStrv) sets = NULL;
  gint threads = 0;
  GOptionEntry entries[] = {
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &sets, "Set a property of the model (pooling=eos)", "KEY=VALUE" },
    { "model-dir", 'm', 0, G_OPTION_ARG_FILENAME, &model_dir, "A Hugging Face folder (config.json and weights)", "DIR" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config, "The configuration", "C.json" },
    { "weights", 'w', 0, G_OPTION_ARG_FILENAME, &weights, "The weights", "W.safetensors" },
    { "inputs", 'i', 0, G_OPTION_ARG_FILENAME, &inputs_path, "The inputs, named as the forward arguments", "IN.safetensors" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "Where to write the outputs", "OUT.safetensors" },
    { "target", 't', 0, G_OPTION_ARG_FILENAME, &target_path, "Targets named as outputs: also run backward and write grad.NAME", "T.safetensors" },
    { "loss", 'l', 0, G_OPTION_ARG_STRING, &loss_name, "The loss against the targets: mse (default) or ce", "mse|ce" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Threads (default: CXRGEN_THREADS or all)", "T" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("TYPE - run a network on tensors from a file");
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrModel) model = NULL;
  g_autoptr (GHashTable) inputs = NULL, outputs = NULL, targets = NULL;
  g_autoptr (CxrTape) tape = NULL;
  int status = EXIT_OK;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!parse_options (context, &argc, &argv))
    return EXIT_USAGE;
  if (argc != 2 || inputs_path == NULL || output == NULL || (!model_dir && !weights && !config))
    {
      g_printerr ("Usage: cxrgen model run TYPE (--model-dir DIR | [--config C.json] --weights W.safetensors | "
                  "--config C.json --set random-weights=true) --inputs IN.safetensors -o OUT.safetensors "
                  "[--target T.safetensors --loss mse|ce]\n");
      return EXIT_USAGE;
    }
  if (loss_name && !g_str_equal (loss_name, "mse") && !g_str_equal (loss_name, "ce"))
    {
      g_printerr ("cxrgen: --loss is mse or ce, not \"%s\"\n", loss_name);
      return EXIT_USAGE;
    }
  if (threads > 0)
    cxr_set_num_threads ((guint) threads);
  if ((model = open_model (argv[1], model_dir, config, weights, sets, FALSE, &status)) == NULL)
    return status;
  if ((inputs = read_tensors (inputs_path, &error)) == NULL ||
      (target_path && (targets = read_tensors (target_path, &error)) == NULL))
    {
      print_error (error);
      return EXIT_RUN_FAILED;
    }
  if (targets)
    {
      GHashTableIter iter;
      CxrTensor *t;
      CxrParamSet *params = cxr_model_get_parameters (model);

      tape = cxr_tape_new ();
      if (params)
        cxr_param_set_enable_grads (params);
      g_hash_table_iter_init (&iter, inputs);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &t))
        if (cxr_tensor_get_dtype (t) == CXR_DTYPE_F32)
          cxr_tensor_set_requires_grad (t, TRUE);
    }
  if ((outputs = cxr_model_forward (model, tape, inputs, &error)) == NULL)
    {
      g_prefix_error (&error, "%s: ", inputs_path);
      print_error (error);
      return EXIT_RUN_FAILED;
    }
  if (targets)
    {
      g_autoptr (CxrTensor) loss = target_loss (tape, outputs, targets, loss_name ? loss_name : "mse", target_path, &error);
      CxrParamSet *params = cxr_model_get_parameters (model);
      GHashTableIter iter;
      const gchar *name;
      CxrTensor *t;

      if (loss == NULL || !cxr_tape_backward (tape, loss, &error))
        {
          print_error (error);
          return EXIT_RUN_FAILED;
        }
      if (params)
        {
          g_auto (GStrv) names = cxr_param_set_list_names (params);
          for (guint i = 0; names[i]; i++)
            {
              CxrTensor *grad = cxr_tensor_get_grad (cxr_param_set_get (params, names[i]));
              if (grad)
                g_hash_table_insert (outputs, g_strconcat ("grad.", names[i], NULL), cxr_tensor_ref (grad));
            }
        }
      g_hash_table_iter_init (&iter, inputs);
      while (g_hash_table_iter_next (&iter, (gpointer *) &name, (gpointer *) &t))
        if (cxr_tensor_get_grad (t))
          g_hash_table_insert (outputs, g_strconcat ("grad.", name, NULL), cxr_tensor_ref (cxr_tensor_get_grad (t)));
      g_hash_table_insert (outputs, g_strdup ("loss"), g_steal_pointer (&loss));
    }
  if (!cxr_safetensors_save (output, outputs, NULL, &error))
    {
      print_error (error);
      return EXIT_RUN_FAILED;
    }
  return EXIT_OK;
}

static gchar *
index_text (CxrTensor *t, gint64 flat)
{
  guint nd = 0;
  const gint64 *shape = cxr_tensor_get_shape (t, &nd);
  gint64 idx[8] = { 0 };
  GString *s = g_string_new ("[");

  for (gint d = (gint) nd - 1; d >= 0; d--)
    {
      idx[d] = flat % shape[d];
      flat /= shape[d];
    }
  for (guint d = 0; d < nd; d++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, d ? ", " : "", idx[d]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

static int
model_compare (gint argc, gchar **argv)
{
  gdouble rtol = 1e-4, atol = 1e-5, stol = 0;
  gboolean quiet = FALSE;
  GOptionEntry entries[] = {
    { "stol", 0, 0, G_OPTION_ARG_DOUBLE, &stol, "Tolerance relative to each reference tensor's largest |b| (default 0)",
      "S" },
    { "rtol", 'r', 0, G_OPTION_ARG_DOUBLE, &rtol, "Relative tolerance (default 1e-4)", "R" },
    { "atol", 'a', 0, G_OPTION_ARG_DOUBLE, &atol, "Absolute tolerance (default 1e-5)", "A" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print the tensors that fail only", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("A.safetensors B.safetensors - compare tensors");
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) a = NULL, b = NULL;
  g_autoptr (GPtrArray) names = NULL;
  guint failed = 0, compared = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
                                    "A tensor fails where |a - b| > atol + stol * max |b| + rtol * |b| for any element\n"
                                    "(B is the reference; max |b| is over its tensor).\n"
                                    "Exit status 1 when one fails, has another shape, or is on one side only.");
  if (!parse_options (context, &argc, &argv))
    return EXIT_USAGE;
  if (argc != 3)
    {
      g_printerr ("Usage: cxrgen model compare A.safetensors B.safetensors [--rtol R] [--atol A]\n");
      return EXIT_USAGE;
    }
  if ((a = read_tensors (argv[1], &error)) == NULL || (b = read_tensors (argv[2], &error)) == NULL)
    {
      print_error (error);
      return EXIT_RUN_FAILED;
    }
  names = g_ptr_array_new ();
  {
    GHashTableIter iter;
    const gchar *name;
    g_hash_table_iter_init (&iter, a);
    while (g_hash_table_iter_next (&iter, (gpointer *) &name, NULL))
      g_ptr_array_add (names, (gpointer) name);
    g_hash_table_iter_init (&iter, b);
    while (g_hash_table_iter_next (&iter, (gpointer *) &name, NULL))
      if (!g_hash_table_contains (a, name))
        g_ptr_array_add (names, (gpointer) name);
    g_ptr_array_sort (names, compare_names);
  }
  for (guint i = 0; i < names->len; i++)
    {
      const gchar *name = g_ptr_array_index (names, i);
      CxrTensor *ta = g_hash_table_lookup (a, name), *tb = g_hash_table_lookup (b, name);
      g_autoptr (CxrTensor) fa = NULL, fb = NULL;
      gdouble max_abs = 0, max_rel = 0, worst_excess = -1;
      gint64 worst = 0, n;
      const gdouble *pa, *pb;

      if (ta == NULL || tb == NULL)
        {
          g_print ("%-40s only in %s\n", name, ta ? argv[1] : argv[2]);
          failed++;
          continue;
        }
      if (!same_shape (ta, tb))
        {
          g_autofree gchar *da = cxr_tensor_describe (ta), *db = cxr_tensor_describe (tb);
          g_print ("%-40s FAIL shapes differ: %s against %s\n", name, da, db);
          failed++;
          continue;
        }
      if ((fa = cxr_tensor_to_dtype (ta, CXR_DTYPE_F64, &error)) == NULL ||
          (fb = cxr_tensor_to_dtype (tb, CXR_DTYPE_F64, &error)) == NULL)
        {
          print_error (error);
          return EXIT_RUN_FAILED;
        }
      pa = cxr_tensor_get_data (fa);
      pb = cxr_tensor_get_data (fb);
      n = cxr_tensor_get_numel (fa);
      gdouble tol = atol, largest = 0;
      for (gint64 k = 0; k < n; k++)
        largest = MAX (largest, fabs (pb[k]));
      tol += stol * largest;
      for (gint64 k = 0; k < n; k++)
        {
          gdouble d = fabs (pa[k] - pb[k]), excess;
          if (isnan (pa[k]) != isnan (pb[k]))
            d = INFINITY;
          else if (isnan (pa[k]))
            d = 0;
          excess = d - (tol + rtol * fabs (pb[k]));
          max_abs = MAX (max_abs, d);
          if (pb[k] != 0)
            max_rel = MAX (max_rel, d / fabs (pb[k]));
          if (excess > worst_excess)
            worst_excess = excess, worst = k;
        }
      compared++;
      if (worst_excess > 0)
        failed++;
      if (worst_excess > 0 || !quiet)
        {
          g_autofree gchar *at = index_text (fa, worst);
          g_print ("%-40s %s max abs %.3e  max rel %.3e  worst at %s (%.9g vs %.9g)\n", name,
                   worst_excess > 0 ? "FAIL" : "ok  ", max_abs, max_rel, at, n ? pa[worst] : 0.0,
                   n ? pb[worst] : 0.0);
        }
    }
  g_print ("%u compared, %u failed (rtol %g, atol %g, stol %g)\n", compared, failed, rtol, atol, stol);
  return failed ? EXIT_RUN_FAILED : EXIT_OK;
}

static gint
compare_doubles (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return x < y ? -1 : x > y;
}

/* One timed step: a forward without a tape, or forward, a loss (the mean
 * square of each float output), backward and an AdamW step. */
static gboolean
bench_step (CxrModel *model, GHashTable *inputs, CxrAdamW *adamw, GError **error)
{
  g_autoptr (CxrTape) tape = adamw ? cxr_tape_new () : NULL;
  g_autoptr (GHashTable) outputs = cxr_model_forward (model, tape, inputs, error);
  g_autoptr (CxrTensor) total = NULL;
  GHashTableIter iter;
  CxrTensor *out;

  if (outputs == NULL)
    return FALSE;
  if (adamw == NULL)
    return TRUE;
  g_hash_table_iter_init (&iter, outputs);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &out))
    {
      g_autoptr (CxrTensor) sq = NULL, mean = NULL, sum = NULL;
      if (!is_float (out))
        continue;
      if ((sq = cxr_op_mul (tape, out, out, error)) == NULL || (mean = cxr_op_mean (tape, sq, error)) == NULL)
        return FALSE;
      if (total == NULL)
        total = g_steal_pointer (&mean);
      else
        {
          if ((sum = cxr_op_add (tape, total, mean, error)) == NULL)
            return FALSE;
          g_clear_pointer (&total, cxr_tensor_unref);
          total = g_steal_pointer (&sum);
        }
    }
  cxr_param_set_zero_grad (cxr_model_get_parameters (model));
  if (total == NULL || !cxr_tape_backward (tape, total, error))
    return FALSE;
  cxr_adamw_step (adamw, 1e-5f);
  return TRUE;
}

static int
model_bench (gint argc, gchar **argv)
{
  g_autofree gchar *model_dir = NULL, *config = NULL, *weights = NULL;
  g_auto (GStrv) sets = NULL;
  gint batch = 1, threads = 0, repeat = 5, warmup = 1;
  gboolean train = FALSE, json = FALSE;
  GOptionEntry entries[] = {
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &sets, "Set a property of the model", "KEY=VALUE" },
    { "model-dir", 'm', 0, G_OPTION_ARG_FILENAME, &model_dir, "A Hugging Face folder (config.json and weights)", "DIR" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config, "The configuration (default: the model's built-in one)", "C.json" },
    { "weights", 'w', 0, G_OPTION_ARG_FILENAME, &weights, "The weights (default: random)", "W.safetensors" },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Batch size (default 1)", "N" },
    { "train", 0, 0, G_OPTION_ARG_NONE, &train, "Time forward + backward + AdamW step", NULL },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Threads (default: CXRGEN_THREADS or all)", "T" },
    { "repeat", 'n', 0, G_OPTION_ARG_INT, &repeat, "Timed runs (default 5)", "N" },
    { "warmup", 0, 0, G_OPTION_ARG_INT, &warmup, "Untimed runs first (default 1)", "N" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("TYPE - time a network");
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrModel) model = NULL;
  g_autoptr (GHashTable) inputs = NULL;
  g_autoptr (CxrAdamW) adamw = NULL;
  g_autofree gdouble *times = NULL;
  guint64 weight_bytes, flops = 0, peak;
  gdouble median, gflops;
  CxrParamSet *params;
  int status = EXIT_OK;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!parse_options (context, &argc, &argv))
    return EXIT_USAGE;
  if (argc != 2 || batch < 1 || repeat < 1 || warmup < 0)
    {
      g_printerr ("Usage: cxrgen model bench TYPE [--model-dir DIR | --config C.json] [--batch N] [--train] [--threads T]\n");
      return EXIT_USAGE;
    }
  if (threads > 0)
    cxr_set_num_threads ((guint) threads);
  if ((model = open_model (argv[1], model_dir, config, weights, sets, TRUE, &status)) == NULL)
    return status;
  params = cxr_model_get_parameters (model);
  if (train && params == NULL)
    {
      g_printerr ("cxrgen: %s cannot be trained (its tensors are not parameters)\n", argv[1]);
      return EXIT_USAGE;
    }
  if ((inputs = cxr_model_example_inputs (model, (guint) batch, 1, &error)) == NULL)
    {
      print_error (error);
      return EXIT_RUN_FAILED;
    }
  if (train)
    {
      cxr_param_set_enable_grads (params);
      adamw = cxr_adamw_new (params);
    }
  weight_bytes = params ? (guint64) cxr_param_set_get_n_elements (params) * 4 : 0;
  for (gint i = 0; i < warmup; i++)
    if (!bench_step (model, inputs, adamw, &error))
      {
        print_error (error);
        return EXIT_RUN_FAILED;
      }
  cxr_tensor_reset_peak_bytes ();
  times = g_new (gdouble, repeat);
  for (gint i = 0; i < repeat; i++)
    {
      gint64 start;
      cxr_reset_flop_count ();
      start = g_get_monotonic_time ();
      if (!bench_step (model, inputs, adamw, &error))
        {
          print_error (error);
          return EXIT_RUN_FAILED;
        }
      times[i] = (g_get_monotonic_time () - start) / 1e3;
      flops = cxr_get_flop_count ();
    }
  peak = cxr_tensor_get_peak_bytes ();
  qsort (times, (gsize) repeat, sizeof (gdouble), compare_doubles);
  median = repeat % 2 ? times[repeat / 2] : (times[repeat / 2 - 1] + times[repeat / 2]) / 2;
  gflops = median > 0 ? flops / (median * 1e6) : 0;
  if (json)
    g_print ("{\"type\":\"%s\",\"batch\":%d,\"train\":%s,\"threads\":%u,\"median_ms\":%.3f,\"min_ms\":%.3f,"
             "\"gflop\":%.3f,\"gflops\":%.2f,\"peak_bytes\":%" G_GUINT64_FORMAT ",\"weight_bytes\":%" G_GUINT64_FORMAT "}\n",
             argv[1], batch, train ? "true" : "false", cxr_get_num_threads (), median, times[0], flops / 1e9, gflops,
             peak, weight_bytes);
  else
    g_print ("%s, batch %d, %s, %u threads: median %.2f ms (min %.2f) over %d runs; %.2f GFLOP per run, %.1f GFLOP/s; "
             "peak %.1f MiB (weights %.1f MiB)\n",
             argv[1], batch, train ? "forward+backward+AdamW" : "forward", cxr_get_num_threads (), median, times[0],
             repeat, flops / 1e9, gflops, peak / 1048576.0, weight_bytes / 1048576.0);
  return EXIT_OK;
}

/**
 * command_model:
 *
 * `cxrgen model list|run|compare|bench`.
 */
int
command_model (gint argc, gchar **argv)
{
  if (argc >= 2 && g_str_equal (argv[1], "list"))
    return model_list (argc - 1, argv + 1);
  if (argc >= 2 && g_str_equal (argv[1], "run"))
    return model_run (argc - 1, argv + 1);
  if (argc >= 2 && g_str_equal (argv[1], "compare"))
    return model_compare (argc - 1, argv + 1);
  if (argc >= 2 && g_str_equal (argv[1], "bench"))
    return model_bench (argc - 1, argv + 1);
  g_printerr ("Usage: cxrgen model list|run|compare|bench [OPTIONS]  (cxrgen model SUBCOMMAND --help)\n");
  return argc >= 2 && (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h")) ? EXIT_OK : EXIT_USAGE;
}
