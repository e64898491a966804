/* cxr-model.c: networks shared by stages, and the roles they play.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <unistd.h>

#include "cxr-private.h"

/**
 * CxrModel:
 *
 * A network that stages share: declared once in a pipeline file as
 * `[model NAME]` with a `type=` and its properties, and named by the stages
 * that drive it (`denoiser=NAME`). The model is loaded once, by the first
 * stage that calls cxr_model_prepare(), on that stage's thread.
 *
 * What a model can do is said by the role interfaces it implements
 * (#CxrDenoiser, #CxrTextEncoder, #CxrImageEncoder, #CxrAutoencoder,
 * #CxrTextDecoder, #CxrPrior).
 */

typedef struct {
  gchar *name;
  gchar *weights;
  gchar *device;
  gchar *config;
  gboolean random_weights, partial_load;
  guint64 seed;
  GMutex lock;
  gboolean prepared;
  gchar *config_used;  /* the file the configuration came from, or NULL */
  gchar *weights_prefix; /* before every name in the weights (infer_config's), or NULL */
  CxrParamSet *params; /* models with a configure function */
  GPtrArray *warnings;
} CxrModelPrivate;

enum {
  PROP_0,
  PROP_NAME,
  PROP_WEIGHTS,
  PROP_DEVICE,
  PROP_CONFIG,
  PROP_RANDOM_WEIGHTS,
  PROP_PARTIAL_LOAD,
  PROP_SEED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (CxrModel, cxr_model, G_TYPE_OBJECT)

static void
cxr_model_set_gproperty (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  CxrModelPrivate *priv = cxr_model_get_instance_private (CXR_MODEL (object));

  switch (prop_id)
    {
    case PROP_NAME:
      g_free (priv->name);
      priv->name = g_value_dup_string (value);
      break;
    case PROP_WEIGHTS:
      g_free (priv->weights);
  g_free (priv->weights_prefix);
      priv->weights = g_value_dup_string (value);
      break;
    case PROP_DEVICE:
      g_free (priv->device);
      priv->device = g_value_dup_string (value);
      break;
    case PROP_CONFIG:
      g_free (priv->config);
      priv->config = g_value_dup_string (value);
      break;
    case PROP_RANDOM_WEIGHTS:
      priv->random_weights = g_value_get_boolean (value);
      break;
    case PROP_PARTIAL_LOAD:
      priv->partial_load = g_value_get_boolean (value);
      break;
    case PROP_SEED:
      priv->seed = g_value_get_uint64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cxr_model_get_gproperty (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  CxrModelPrivate *priv = cxr_model_get_instance_private (CXR_MODEL (object));

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, priv->name);
      break;
    case PROP_WEIGHTS:
      g_value_set_string (value, priv->weights);
      break;
    case PROP_DEVICE:
      g_value_set_string (value, priv->device);
      break;
    case PROP_CONFIG:
      g_value_set_string (value, priv->config);
      break;
    case PROP_RANDOM_WEIGHTS:
      g_value_set_boolean (value, priv->random_weights);
      break;
    case PROP_PARTIAL_LOAD:
      g_value_set_boolean (value, priv->partial_load);
      break;
    case PROP_SEED:
      g_value_set_uint64 (value, priv->seed);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cxr_model_finalize (GObject *object)
{
  CxrModelPrivate *priv = cxr_model_get_instance_private (CXR_MODEL (object));

  g_free (priv->name);
  g_free (priv->weights);
  g_free (priv->device);
  g_free (priv->config);
  g_free (priv->config_used);
  g_clear_object (&priv->params);
  g_ptr_array_unref (priv->warnings);
  g_mutex_clear (&priv->lock);
  G_OBJECT_CLASS (cxr_model_parent_class)->finalize (object);
}

static const gchar *
type_name (CxrModel *self)
{
  const gchar *name = cxr_registry_get_factory_name (cxr_registry_get_default (), G_OBJECT_TYPE (self));
  return name ? name : G_OBJECT_TYPE_NAME (self);
}

/* A Hugging Face folder holds config.json and the weights under one of
 * these names (transformers, diffusers). */
static gchar *
weights_in_folder (const gchar *dir, GError **error)
{
  const gchar *names[] = { "model.safetensors", "diffusion_pytorch_model.safetensors" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree gchar *path = g_build_filename (dir, names[i], NULL);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&path);
    }
  g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_MISSING_TENSOR,
               "%s: no model.safetensors or diffusion_pytorch_model.safetensors in this folder", dir);
  return NULL;
}

static gboolean
ignored_tensor (CxrModelClass *klass, const gchar *name)
{
  for (guint i = 0; klass->ignored_tensors && klass->ignored_tensors[i]; i++)
    if (g_pattern_match_simple (klass->ignored_tensors[i], name))
      return TRUE;
  return FALSE;
}

/* one parameter from random values: biases 0, norms' weights 1, running
 * means 0 and variances 1, the rest normal with deviation 0.02 */
static void
init_one (CxrModel *self, const gchar *name, guint index)
{
  CxrModelPrivate *priv = cxr_model_get_instance_private (self);
  g_autofree gchar *lower = g_ascii_strdown (name, -1);
  CxrTensor *t = cxr_param_set_get (priv->params, name);

  if (g_str_has_suffix (lower, "running_var"))
    cxr_tensor_fill (t, 1.0f);
  else if (g_str_has_suffix (lower, "bias") || g_str_has_suffix (lower, "running_mean"))
    cxr_tensor_fill (t, 0.0f);
  else if (g_str_has_suffix (lower, "weight") && (strstr (lower, "norm") || strstr (lower, "layrnorm")))
    cxr_tensor_fill (t, 1.0f);
  else
    cxr_param_set_init_normal (priv->params, name, 0.02f, priv->seed * 1000003u + index);
}

/* The name under which the file holds the parameter NAME: itself, or a
 * spelling of the class's aliases; NULL if none is there. */
static gchar *
find_in_file (CxrModelClass *klass, CxrSafetensors *file, const gchar *prefix, const gchar *bare)
{
  g_autofree gchar *name = g_strconcat (prefix ? prefix : "", bare, NULL);

  if (cxr_safetensors_has_tensor (file, name))
    return g_steal_pointer (&name);
  for (guint i = 0; klass->tensor_aliases && klass->tensor_aliases[i] && klass->tensor_aliases[i + 1]; i += 2)
    {
      const gchar *ours = klass->tensor_aliases[i], *theirs = klass->tensor_aliases[i + 1];
      const gchar *at = strstr (name, ours);
      g_autofree gchar *other = NULL;

      if (at == NULL)
        continue;
      other = g_strdup_printf ("%.*s%s%s", (int) (at - name), name, theirs, at + strlen (ours));
      if (cxr_safetensors_has_tensor (file, other))
        return g_steal_pointer (&other);
    }
  return NULL;
}

/* Every parameter must be in the file (under its name or an alias) with
 * its shape: all that are missing are named (the first few), and the
 * first misshapen one. What the file holds beyond them is a warning,
 * unless the model ignores it. */
static gboolean
load_weights (CxrModel *self, const gchar *path, GError **error)
{
  CxrModelPrivate *priv = cxr_model_get_instance_private (self);
  CxrModelClass *klass = CXR_MODEL_GET_CLASS (self);
  g_autoptr (CxrSafetensors) file = cxr_safetensors_open (path, error);
  g_auto (GStrv) wanted = NULL, present = NULL;
  g_autoptr (GString) missing = g_string_new (NULL);
  g_autoptr (GHashTable) used = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint n_missing = 0, n_unknown = 0, n_loaded = 0, n_wanted;

  if (file == NULL)
    return FALSE;
  wanted = cxr_param_set_list_names (priv->params);
  n_wanted = g_strv_length (wanted);
  for (guint i = 0; wanted[i]; i++)
    {
      CxrTensor *param = cxr_param_set_get (priv->params, wanted[i]);
      g_autofree gchar *stored = find_in_file (klass, file, priv->weights_prefix, wanted[i]);
      g_autoptr (CxrTensor) raw = NULL, f32 = NULL;
      const gint64 *want, *got;
      guint want_ndim = 0, got_ndim = 0;

      if (stored == NULL && priv->partial_load)
        {
          init_one (self, wanted[i], i);
          g_ptr_array_add (priv->warnings, g_strdup_printf ("%s: no tensor %s: initialised randomly", path, wanted[i]));
          continue;
        }
      if (stored == NULL)
        {
          if (n_missing++ < 5)
            g_string_append_printf (missing, "%s%s", n_missing > 1 ? ", " : "", wanted[i]);
          continue;
        }
      if ((raw = cxr_safetensors_get_tensor (file, stored, error)) == NULL)
        return FALSE;
      want = cxr_tensor_get_shape (param, &want_ndim);
      got = cxr_tensor_get_shape (raw, &got_ndim);
      if (got_ndim != want_ndim || memcmp (want, got, want_ndim * sizeof (gint64)) != 0)
        {
          g_autofree gchar *a = _cxr_describe_shape (want, want_ndim), *b = _cxr_describe_shape (got, got_ndim);
          if (priv->partial_load)
            {
              init_one (self, wanted[i], i);
              g_hash_table_add (used, g_steal_pointer (&stored));
              g_ptr_array_add (priv->warnings, g_strdup_printf ("%s: tensor %s is %s, the model's %s: initialised "
                                                                "randomly", path, wanted[i], b, a));
              continue;
            }
          g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_SHAPE_MISMATCH,
                       "%s: tensor %s: expected %s, got %s (a checkpoint of another configuration?)", path,
                       stored, a, b);
          return FALSE;
        }
      if ((f32 = cxr_tensor_to_dtype (raw, CXR_DTYPE_F32, error)) == NULL)
        {
          g_prefix_error (error, "%s: tensor %s: ", path, stored);
          return FALSE;
        }
      memcpy (cxr_tensor_get_data (param), cxr_tensor_get_data (f32), cxr_tensor_get_nbytes (param));
      g_hash_table_add (used, g_steal_pointer (&stored));
      n_loaded++;
    }
  if (priv->partial_load)
    g_ptr_array_insert (priv->warnings, 0, g_strdup_printf ("%s: partial load: %u of the model's %u tensors loaded, "
                                                            "%u initialised randomly", path, n_loaded, n_wanted,
                                                            n_wanted - n_loaded));
  if (n_missing > 0)
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_MISSING_TENSOR,
                   "%s: %u tensor%s of %s missing: %s%s", path, n_missing, n_missing > 1 ? "s" : "",
                   type_name (self), missing->str, n_missing > 5 ? ", ..." : "");
      return FALSE;
    }
  present = cxr_safetensors_list_names (file);
  for (guint i = 0; present[i]; i++)
    {
      /* the name without the weights' prefix, when it has it */
      const gchar *bare = priv->weights_prefix && g_str_has_prefix (present[i], priv->weights_prefix)
                            ? present[i] + strlen (priv->weights_prefix) : present[i];
      if (g_hash_table_contains (used, present[i]) || cxr_param_set_get (priv->params, bare) != NULL ||
          ignored_tensor (klass, present[i]) || ignored_tensor (klass, bare))
        continue;
      if (n_unknown++ < 20)
        g_ptr_array_add (priv->warnings, g_strdup_printf ("%s: unknown tensor %s (not used)", path, present[i]));
    }
  if (n_unknown > 20)
    g_ptr_array_add (priv->warnings, g_strdup_printf ("%s: %u more unknown tensors", path, n_unknown - 20));
  return TRUE;
}

static void
init_random (CxrModel *self)
{
  CxrModelPrivate *priv = cxr_model_get_instance_private (self);
  g_auto (GStrv) names = cxr_param_set_list_names (priv->params);

  for (guint i = 0; names[i]; i++)
    init_one (self, names[i], i);
}

/* The default load: configuration, parameters, weights. */
static gboolean
cxr_model_real_load (CxrModel *self, GError **error)
{
  CxrModelPrivate *priv = cxr_model_get_instance_private (self);
  CxrModelClass *klass = CXR_MODEL_GET_CLASS (self);
  g_autofree gchar *weights = NULL, *config_path = NULL;
  g_autoptr (CxrConfig) config = NULL;

  if (klass->configure == NULL)
    return TRUE;
  if (priv->weights != NULL && *priv->weights != '\0')
    {
      if (g_file_test (priv->weights, G_FILE_TEST_IS_DIR))
        {
          if ((weights = weights_in_folder (priv->weights, error)) == NULL)
            return FALSE;
          config_path = g_build_filename (priv->weights, "config.json", NULL);
        }
      else
        {
          g_autofree gchar *dir = g_path_get_dirname (priv->weights);
          weights = g_strdup (priv->weights);
          config_path = g_build_filename (dir, "config.json", NULL);
        }
      if (!g_file_test (config_path, G_FILE_TEST_IS_REGULAR))
        g_clear_pointer (&config_path, g_free);
    }
  if (priv->config != NULL && *priv->config != '\0')
    {
      g_free (config_path);
      config_path = g_strdup (priv->config);
    }
  g_clear_pointer (&priv->weights_prefix, g_free);
  if (config_path != NULL)
    config = cxr_config_new_from_file (config_path, error);
  else if (weights != NULL && klass->infer_config != NULL)
    {
      /* checkpoints that come without a config.json (torchvision's) */
      g_autoptr (CxrSafetensors) file = cxr_safetensors_open (weights, error);
      g_autofree gchar *json = file ? klass->infer_config (self, file, &priv->weights_prefix, error) : NULL;
      g_autofree gchar *origin = g_strdup_printf ("the configuration read from the tensors of %s", weights);
      if (json != NULL)
        config = cxr_config_new_from_json (json, origin, error);
    }
  else if (klass->default_config != NULL)
    {
      g_autofree gchar *origin = g_strdup_printf ("the built-in configuration of %s", type_name (self));
      config = cxr_config_new_from_json (klass->default_config, origin, error);
    }
  else
    g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_CONFIG,
                 "%s: no configuration: set config=config.json, or weights= a Hugging Face folder",
                 type_name (self));
  if (config == NULL)
    return FALSE;
  g_clear_object (&priv->params);
  priv->params = cxr_param_set_new ();
  if (!klass->configure (self, config, error) || !cxr_config_check (config, error))
    return FALSE;
  {
    /* a configuration that asks for more memory than the machine has is
     * an error, not an abort in the allocator */
    guint64 bytes = (guint64) cxr_param_set_get_n_elements (priv->params) * sizeof (gfloat);
    guint64 memory = (guint64) sysconf (_SC_PHYS_PAGES) * (guint64) sysconf (_SC_PAGESIZE);
    if (memory > 0 && bytes > memory)
      {
        g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_CONFIG,
                     "%s: the configuration asks for %.1f GiB of parameters, more than this machine's %.1f GiB",
                     config_path ? config_path : type_name (self), bytes / 1073741824.0, memory / 1073741824.0);
        return FALSE;
      }
  }
  g_free (priv->config_used);
  priv->config_used = g_steal_pointer (&config_path);
  cxr_param_set_allocate_frozen (priv->params); /* gradients on demand: cxr_param_set_enable_grads() */
  if (weights != NULL)
    return load_weights (self, weights, error);
  if (!priv->random_weights)
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_CONFIG,
                   "%s: no weights: set weights=FILE.safetensors or a Hugging Face folder (or random-weights=true)",
                   type_name (self));
      return FALSE;
    }
  init_random (self);
  return TRUE;
}

static void
cxr_model_class_init (CxrModelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->set_property = cxr_model_set_gproperty;
  object_class->get_property = cxr_model_get_gproperty;
  object_class->finalize = cxr_model_finalize;
  klass->load = cxr_model_real_load;

  /**
   * CxrModel:name:
   *
   * The model's name in its pipeline: the NAME of `[model NAME]`.
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", "Name", "The model's name in its pipeline", NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);
  /**
   * CxrModel:weights:
   *
   * A safetensors file, or a Hugging Face model folder, to load.
   */
  properties[PROP_WEIGHTS] =
    g_param_spec_string ("weights", "Weights",
                         "A safetensors file or a Hugging Face model folder to load", NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * CxrModel:config:
   *
   * The configuration: a config.json as Hugging Face writes it. Unset, it
   * is the config.json of the #CxrModel:weights folder, or the one beside
   * the weights file, or else the model's built-in default.
   */
  properties[PROP_CONFIG] =
    g_param_spec_string ("config", "Config",
                         "A config.json (default: the one in or beside the weights, else built in)",
                         NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * CxrModel:random-weights:
   *
   * Without weights, start from random parameters (normal, deviation
   * 0.02; norms at 1, biases at 0) instead of failing: for benchmarks and
   * for training from scratch.
   */
  properties[PROP_RANDOM_WEIGHTS] =
    g_param_spec_boolean ("random-weights", "Random weights",
                          "Without weights, start from random parameters instead of failing", FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * CxrModel:partial-load:
   *
   * Load what fits of weights of another configuration (a ViT-base
   * checkpoint for the prior): a tensor missing from the file or of
   * another shape starts random instead of failing, and is listed among
   * the warnings.
   */
  properties[PROP_PARTIAL_LOAD] =
    g_param_spec_boolean ("partial-load", "Partial load",
                          "Start tensors missing from the weights or misshapen there from random values", FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * CxrModel:seed:
   *
   * The seed of #CxrModel:random-weights.
   */
  properties[PROP_SEED] =
    g_param_spec_uint64 ("seed", "Seed", "The seed of random weights", 0, G_MAXUINT64, 1,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);
  /**
   * CxrModel:device:
   *
   * Where the model computes: "cpu" or "cuda" (or "cuda:N").
   */
  properties[PROP_DEVICE] =
    g_param_spec_string ("device", "Device", "Where the model computes: cpu, cuda or cuda:N",
                         "cpu",
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cxr_model_init (CxrModel *self)
{
  CxrModelPrivate *priv = cxr_model_get_instance_private (self);
  g_mutex_init (&priv->lock);
  priv->warnings = g_ptr_array_new_with_free_func (g_free);
}

/**
 * cxr_model_get_name:
 * @self: a model
 *
 * Returns: (transfer none) (nullable): the model's name in its pipeline
 */
const gchar *
cxr_model_get_name (CxrModel *self)
{
  g_return_val_if_fail (CXR_IS_MODEL (self), NULL);
  return ((CxrModelPrivate *) cxr_model_get_instance_private (self))->name;
}

/**
 * cxr_model_get_weights:
 * @self: a model
 *
 * Returns: (transfer none) (nullable): the weights the model loads
 */
const gchar *
cxr_model_get_weights (CxrModel *self)
{
  g_return_val_if_fail (CXR_IS_MODEL (self), NULL);
  return ((CxrModelPrivate *) cxr_model_get_instance_private (self))->weights;
}

/**
 * cxr_model_get_device:
 * @self: a model
 *
 * Returns: (transfer none): the device the model computes on
 */
const gchar *
cxr_model_get_device (CxrModel *self)
{
  g_return_val_if_fail (CXR_IS_MODEL (self), NULL);
  return ((CxrModelPrivate *) cxr_model_get_instance_private (self))->device;
}

/**
 * cxr_model_prepare:
 * @self: a model
 * @error: return location for a #GError
 *
 * Loads the model if no stage has done so yet. Safe to call from several
 * stage threads at once: the first loads, the others wait for it.
 *
 * Returns: %TRUE if the model is loaded
 */
gboolean
cxr_model_prepare (CxrModel *self, GError **error)
{
  CxrModelPrivate *priv;
  CxrModelClass *klass;
  gboolean ok = TRUE;

  g_return_val_if_fail (CXR_IS_MODEL (self), FALSE);
  priv = cxr_model_get_instance_private (self);
  klass = CXR_MODEL_GET_CLASS (self);
  g_mutex_lock (&priv->lock);
  if (!priv->prepared)
    {
      ok = klass->load == NULL || klass->load (self, error);
      priv->prepared = ok;
    }
  g_mutex_unlock (&priv->lock);
  return ok;
}

/**
 * cxr_model_is_prepared:
 * @self: a model
 *
 * Returns: whether cxr_model_prepare() has loaded the model
 */
gboolean
cxr_model_is_prepared (CxrModel *self)
{
  CxrModelPrivate *priv;
  gboolean prepared;

  g_return_val_if_fail (CXR_IS_MODEL (self), FALSE);
  priv = cxr_model_get_instance_private (self);
  g_mutex_lock (&priv->lock);
  prepared = priv->prepared;
  g_mutex_unlock (&priv->lock);
  return prepared;
}

/**
 * cxr_model_set_property_from_string:
 * @self: a model
 * @key: a property name
 * @value: the value, written as in a pipeline file
 * @error: return location for a #GError
 *
 * Parses @value as the type of property @key and sets it, checking its
 * range, as the pipeline parser does (`cxrgen model run --set`).
 *
 * Returns: %TRUE on success
 */
gboolean
cxr_model_set_property_from_string (CxrModel *self, const gchar *key, const gchar *value, GError **error)
{
  GParamSpec *pspec;
  g_auto (GValue) gvalue = G_VALUE_INIT;

  g_return_val_if_fail (CXR_IS_MODEL (self), FALSE);
  g_return_val_if_fail (key != NULL && value != NULL, FALSE);
  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (self), key);
  if (pspec == NULL || !(pspec->flags & G_PARAM_WRITABLE) || G_IS_PARAM_SPEC_OBJECT (pspec))
    {
      g_set_error (error, CXR_PIPELINE_ERROR, CXR_PIPELINE_ERROR_NO_SUCH_PROPERTY, "%s has no property %s",
                   type_name (self), key);
      return FALSE;
    }
  if (!_cxr_value_from_string (pspec, value, &gvalue, NULL, NULL, error))
    {
      g_prefix_error (error, "%s: ", key);
      return FALSE;
    }
  g_object_set_property (G_OBJECT (self), key, &gvalue);
  return TRUE;
}

/**
 * cxr_model_get_config_path:
 * @self: a prepared model
 *
 * Returns: (transfer none) (nullable): the config.json the model read, or
 *   %NULL when it used its built-in configuration (or has none)
 */
const gchar *
cxr_model_get_config_path (CxrModel *self)
{
  g_return_val_if_fail (CXR_IS_MODEL (self), NULL);
  return ((CxrModelPrivate *) cxr_model_get_instance_private (self))->config_used;
}

/**
 * cxr_model_add_parameter:
 * @self: a model, in its configure function
 * @name: the parameter's name in public checkpoints
 * @shape: (array length=ndim): its shape
 * @ndim: the number of dimensions
 * @error: return location for a #GError
 *
 * Declares a parameter; the default load allocates them all in one flat
 * buffer and fills them from the weights.
 *
 * Returns: %TRUE, or %FALSE if @name is declared twice
 */
gboolean
cxr_model_add_parameter (CxrModel *self, const gchar *name, const gint64 *shape, guint ndim, GError **error)
{
  CxrModelPrivate *priv;

  g_return_val_if_fail (CXR_IS_MODEL (self), FALSE);
  priv = cxr_model_get_instance_private (self);
  g_return_val_if_fail (priv->params != NULL, FALSE);
  return cxr_param_set_add (priv->params, name, shape, ndim, error);
}

/**
 * cxr_model_add_buffer:
 * @self: a model, in its configure function
 * @name: the buffer's name in public checkpoints
 *   ("features.norm0.running_var")
 * @shape: (array length=ndim): its shape
 * @ndim: the number of dimensions
 * @error: return location for a #GError
 *
 * Declares a buffer: loaded from the weights and saved with the
 * parameters, but not trained by the optimiser (batch norm's running
 * statistics); cxr_model_get_parameter() finds it like a parameter.
 *
 * Returns: %TRUE, or %FALSE if @name is declared twice
 */
gboolean
cxr_model_add_buffer (CxrModel *self, const gchar *name, const gint64 *shape, guint ndim, GError **error)
{
  CxrModelPrivate *priv;

  g_return_val_if_fail (CXR_IS_MODEL (self), FALSE);
  priv = cxr_model_get_instance_private (self);
  g_return_val_if_fail (priv->params != NULL, FALSE);
  return cxr_param_set_add_buffer (priv->params, name, shape, ndim, error);
}

/**
 * cxr_model_get_parameter:
 * @self: a prepared model
 * @name: a parameter's name
 *
 * Returns: (transfer none) (nullable): the parameter, or %NULL if the
 *   model has none of that name
 */
CxrTensor *
cxr_model_get_parameter (CxrModel *self, const gchar *name)
{
  CxrModelPrivate *priv;

  g_return_val_if_fail (CXR_IS_MODEL (self), NULL);
  priv = cxr_model_get_instance_private (self);
  return priv->params ? cxr_param_set_get (priv->params, name) : NULL;
}

/**
 * cxr_model_get_parameters:
 * @self: a prepared model
 *
 * Returns: (transfer none) (nullable): the model's parameters, for
 *   optimisers and checkpoints; %NULL for a model that keeps its tensors
 *   its own way. They have no gradients (a model loads frozen) until
 *   cxr_param_set_enable_grads() is called on them.
 */
CxrParamSet *
cxr_model_get_parameters (CxrModel *self)
{
  g_return_val_if_fail (CXR_IS_MODEL (self), NULL);
  return ((CxrModelPrivate *) cxr_model_get_instance_private (self))->params;
}

/**
 * cxr_model_get_warnings:
 * @self: a prepared model
 *
 * Returns: (transfer full): what loading noticed without failing (tensors
 *   in the weights the model does not use), one line each
 */
gchar **
cxr_model_get_warnings (CxrModel *self)
{
  CxrModelPrivate *priv;
  GStrvBuilder *builder = g_strv_builder_new ();
  gchar **out;

  g_return_val_if_fail (CXR_IS_MODEL (self), NULL);
  priv = cxr_model_get_instance_private (self);
  for (guint i = 0; i < priv->warnings->len; i++)
    g_strv_builder_add (builder, g_ptr_array_index (priv->warnings, i));
  out = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return out;
}

/**
 * cxr_model_new_tensor_table:
 *
 * Returns: (transfer full) (element-type utf8 CxrTensor): an empty table
 *   of named tensors, as cxr_model_forward() takes and returns
 */
GHashTable *
cxr_model_new_tensor_table (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) cxr_tensor_unref);
}

static gchar *
input_list (CxrModelClass *klass)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; klass->required_inputs && klass->required_inputs[i]; i++)
    g_string_append_printf (s, "%s%s", s->len ? ", " : "", klass->required_inputs[i]);
  for (guint i = 0; klass->optional_inputs && klass->optional_inputs[i]; i++)
    g_string_append_printf (s, "%s[%s]", s->len ? ", " : "", klass->optional_inputs[i]);
  return g_string_free (s, FALSE);
}

/**
 * cxr_model_forward:
 * @self: a prepared model
 * @tape: (nullable): the tape to record on, or %NULL for no gradients
 * @inputs: (element-type utf8 CxrTensor): the inputs by name
 * @error: return location for a #GError
 *
 * Runs the model. An input the model does not take, or one it needs and
 * does not find, is an error that names it and lists what the model takes.
 *
 * Returns: (transfer full) (element-type utf8 CxrTensor) (nullable): the
 *   outputs by name
 */
GHashTable *
cxr_model_forward (CxrModel *self, CxrTape *tape, GHashTable *inputs, GError **error)
{
  CxrModelClass *klass;
  GHashTableIter iter;
  const gchar *name;

  g_return_val_if_fail (CXR_IS_MODEL (self), NULL);
  klass = CXR_MODEL_GET_CLASS (self);
  if (klass->forward == NULL)
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_NOT_READY, "%s cannot be run on named inputs",
                   type_name (self));
      return NULL;
    }
  if (!cxr_model_is_prepared (self))
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_NOT_READY, "%s: run before it was prepared",
                   type_name (self));
      return NULL;
    }
  for (guint i = 0; klass->required_inputs && klass->required_inputs[i]; i++)
    if (!g_hash_table_contains (inputs, klass->required_inputs[i]))
      {
        g_autofree gchar *takes = input_list (klass);
        g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "%s: missing input \"%s\" (it takes %s)",
                     type_name (self), klass->required_inputs[i], takes);
        return NULL;
      }
  g_hash_table_iter_init (&iter, inputs);
  while (g_hash_table_iter_next (&iter, (gpointer *) &name, NULL))
    if (!(klass->required_inputs && g_strv_contains (klass->required_inputs, name)) &&
        !(klass->optional_inputs && g_strv_contains (klass->optional_inputs, name)))
      {
        g_autofree gchar *takes = input_list (klass);
        g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "%s: unknown input \"%s\" (it takes %s)",
                     type_name (self), name, takes);
        return NULL;
      }
  return klass->forward (self, tape, inputs, error);
}

/**
 * cxr_model_example_inputs:
 * @self: a prepared model
 * @batch: the batch size
 * @seed: the seed of the random values
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (element-type utf8 CxrTensor) (nullable): random
 *   inputs of the shapes the model takes, for benchmarks
 */
GHashTable *
cxr_model_example_inputs (CxrModel *self, guint batch, guint64 seed, GError **error)
{
  CxrModelClass *klass;

  g_return_val_if_fail (CXR_IS_MODEL (self), NULL);
  klass = CXR_MODEL_GET_CLASS (self);
  if (klass->example_inputs == NULL)
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_NOT_READY, "%s makes no example inputs",
                   type_name (self));
      return NULL;
    }
  return klass->example_inputs (self, batch, seed, error);
}

/**
 * cxr_model_add_linear:
 * @self: a model, in its configure function
 * @base: the layer's name: its parameters are BASE.weight [@out, @in]
 *   and, with @bias, BASE.bias [@out] (torch.nn.Linear's)
 * @out: output features
 * @in: input features
 * @bias: whether the layer has a bias
 * @error: return location for a #GError
 *
 * Declares a linear layer's parameters, as cxr_model_add_parameter().
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean
cxr_model_add_linear (CxrModel *self, const gchar *base, gint64 out, gint64 in, gboolean bias, GError **error)
{
  g_autofree gchar *weight = g_strconcat (base, ".weight", NULL), *bias_name = g_strconcat (base, ".bias", NULL);

  return cxr_model_add_parameter (self, weight, (const gint64[]) { out, in }, 2, error) &&
         (!bias || cxr_model_add_parameter (self, bias_name, (const gint64[]) { out }, 1, error));
}

/**
 * cxr_model_add_norm:
 * @self: a model, in its configure function
 * @base: the norm's name: its parameters are BASE.weight and BASE.bias,
 *   [@width] each (torch.nn.LayerNorm's, GroupNorm's)
 * @width: the features (channels) it scales
 * @error: return location for a #GError
 *
 * Declares an affine norm's parameters, as cxr_model_add_parameter().
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean
cxr_model_add_norm (CxrModel *self, const gchar *base, gint64 width, GError **error)
{
  g_autofree gchar *weight = g_strconcat (base, ".weight", NULL), *bias = g_strconcat (base, ".bias", NULL);

  return cxr_model_add_parameter (self, weight, (const gint64[]) { width }, 1, error) &&
         cxr_model_add_parameter (self, bias, (const gint64[]) { width }, 1, error);
}

/* BASE + SUFFIX, a parameter configure declared. */
static CxrTensor *
declared (CxrModel *self, const gchar *base, const gchar *suffix, GError **error)
{
  g_autofree gchar *name = g_strconcat (base, suffix, NULL);
  CxrTensor *t = cxr_model_get_parameter (self, name);

  if (t == NULL)
    g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_NOT_READY, "%s: no parameter %s", type_name (self), name);
  return t;
}

/**
 * cxr_model_linear:
 * @self: a prepared model, in its forward function
 * @tape: (nullable): where to record
 * @x: (nullable): the input [..., in], or %NULL (an earlier step failed)
 * @base: the layer cxr_model_add_linear() declared
 * @bias: whether it has a bias
 * @error: return location for a #GError
 *
 * The layer's cxr_op_linear(). A %NULL @x gives %NULL without touching
 * @error, so that a chain of steps stops at the first that fails.
 *
 * Returns: (transfer full) (nullable): the output [..., out]
 */
CxrTensor *
cxr_model_linear (CxrModel *self, CxrTape *tape, CxrTensor *x, const gchar *base, gboolean bias, GError **error)
{
  CxrTensor *weight, *b = NULL;

  if (x == NULL || (weight = declared (self, base, ".weight", error)) == NULL ||
      (bias && (b = declared (self, base, ".bias", error)) == NULL))
    return NULL;
  return cxr_op_linear (tape, x, weight, b, error);
}

/**
 * cxr_model_layer_norm:
 * @self: a prepared model, in its forward function
 * @tape: (nullable): where to record
 * @x: (nullable): the input, or %NULL (an earlier step failed)
 * @base: the norm cxr_model_add_norm() declared
 * @eps: added to the variance
 * @error: return location for a #GError
 *
 * The norm's cxr_op_layer_norm() over the last dimension; a %NULL @x
 * gives %NULL, as cxr_model_linear().
 *
 * Returns: (transfer full) (nullable): the normalised input
 */
CxrTensor *
cxr_model_layer_norm (CxrModel *self, CxrTape *tape, CxrTensor *x, const gchar *base, gfloat eps, GError **error)
{
  CxrTensor *weight, *bias;

  if (x == NULL || (weight = declared (self, base, ".weight", error)) == NULL ||
      (bias = declared (self, base, ".bias", error)) == NULL)
    return NULL;
  return cxr_op_layer_norm (tape, x, weight, bias, eps, error);
}

/* a block recorded for recomputation: what runs it again */
typedef struct {
  CxrModel *model;
  CxrModelBlockFunc func;
  gchar *base;
  guint arg;
} BlockCall;

static void
block_call_free (gpointer data)
{
  BlockCall *b = data;

  g_object_unref (b->model);
  g_free (b->base);
  g_free (b);
}

static CxrTensor *
block_call_run (CxrTape *tape, CxrTensor *const *inputs, guint n_inputs, gpointer data, GError **error)
{
  BlockCall *b = data;

  return b->func (b->model, tape, inputs, n_inputs, b->base, b->arg, error);
}

/**
 * cxr_model_run_block: (skip)
 * @self: a prepared model, in its forward function
 * @tape: (nullable): where to record
 * @recompute: whether training recomputes the block (the model's
 *   gradient checkpointing)
 * @func: the block
 * @base: its parameter prefix
 * @arg: a number for @func
 * @inputs: (array length=n_inputs): its inputs (contiguous)
 * @n_inputs: their number
 * @error: return location for a #GError
 *
 * Runs one block of @self: directly, or, with @recompute and a tape, as a
 * piece of the tape that the backward pass runs again
 * (cxr_tape_checkpoint()), keeping only the block's inputs.
 *
 * Returns: (transfer full) (nullable): the block's output
 */
CxrTensor *
cxr_model_run_block (CxrModel *self, CxrTape *tape, gboolean recompute, CxrModelBlockFunc func, const gchar *base,
                     guint arg, CxrTensor *const *inputs, guint n_inputs, GError **error)
{
  BlockCall *b;

  if (!recompute || tape == NULL)
    return func (self, tape, inputs, n_inputs, base, arg, error);
  b = g_new (BlockCall, 1);
  b->model = g_object_ref (self);
  b->func = func;
  b->base = g_strdup (base);
  b->arg = arg;
  return cxr_tape_checkpoint (tape, block_call_run, b, block_call_free, inputs, n_inputs, error);
}

/**
 * cxr_model_take_timesteps:
 * @self: a model, in its forward function
 * @inputs: (element-type utf8 CxrTensor): the inputs by name
 * @name: the timestep input
 * @n: the batch size
 * @error: return location for a #GError
 *
 * Takes a diffusion timestep input as a denoiser's forward wants it: one
 * value for the whole batch, or one per sample, of any number type.
 *
 * Returns: (transfer full) (nullable): the timesteps [@n] as F32, or %NULL
 *   with @error set, naming the input when it is absent or of another size
 */
CxrTensor *
cxr_model_take_timesteps (CxrModel *self, GHashTable *inputs, const gchar *name, gint64 n, GError **error)
{
  CxrTensor *raw = g_hash_table_lookup (inputs, name);
  g_autoptr (CxrTensor) values = NULL, flat = NULL;
  CxrTensor *t;

  if (raw == NULL || (cxr_tensor_get_numel (raw) != 1 && cxr_tensor_get_numel (raw) != n))
    {
      g_autofree gchar *what = raw ? cxr_tensor_describe (raw) : g_strdup ("missing");
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "%s: %s is %s; one, or one per sample "
                   "(%" G_GINT64_FORMAT "), expected", type_name (self), name, what, n);
      return NULL;
    }
  if ((values = cxr_tensor_to_dtype (raw, CXR_DTYPE_F32, error)) == NULL)
    return NULL;
  if (cxr_tensor_get_numel (raw) == 1)
    {
      t = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { n }, 1);
      cxr_tensor_fill (t, *(const gfloat *) cxr_tensor_get_data (values));
      return t;
    }
  flat = cxr_tensor_contiguous (values);
  return cxr_tensor_reshape (flat, (const gint64[]) { n }, 1, error);
}

/**
 * cxr_model_take_input:
 * @self: a model, in its forward function
 * @inputs: (element-type utf8 CxrTensor): the inputs by name
 * @name: the input to take
 * @dtype: the type wanted: %CXR_DTYPE_F32 (any float type converts) or
 *   %CXR_DTYPE_I64 (any integer type converts)
 * @ndim: the number of dimensions wanted
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the input, converted, or %NULL
 *   (without an error) when it is absent; an error names an input of the
 *   wrong type or dimensions
 */
CxrTensor *
cxr_model_take_input (CxrModel *self, GHashTable *inputs, const gchar *name, CxrDType dtype, guint ndim,
                      GError **error)
{
  CxrTensor *t = g_hash_table_lookup (inputs, name);
  CxrDType have;
  gboolean is_float;

  if (t == NULL)
    return NULL;
  have = cxr_tensor_get_dtype (t);
  is_float = have == CXR_DTYPE_F32 || have == CXR_DTYPE_F16 || have == CXR_DTYPE_BF16 || have == CXR_DTYPE_F64;
  if ((dtype == CXR_DTYPE_F32) != is_float || have == CXR_DTYPE_BOOL || cxr_tensor_get_ndim (t) != ndim)
    {
      g_autofree gchar *what = cxr_tensor_describe (t);
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT,
                   "%s: input \"%s\" is %s; %u dimensions of %s expected", type_name (self), name, what, ndim,
                   dtype == CXR_DTYPE_F32 ? "floats" : "integers");
      return NULL;
    }
  return cxr_tensor_to_dtype (t, dtype, error);
}

G_DEFINE_INTERFACE (CxrDenoiser, cxr_denoiser, CXR_TYPE_MODEL)
static void cxr_denoiser_default_init (CxrDenoiserInterface *iface) {}

G_DEFINE_INTERFACE (CxrTextEncoder, cxr_text_encoder, CXR_TYPE_MODEL)
static void cxr_text_encoder_default_init (CxrTextEncoderInterface *iface) {}

G_DEFINE_INTERFACE (CxrImageEncoder, cxr_image_encoder, CXR_TYPE_MODEL)
static void cxr_image_encoder_default_init (CxrImageEncoderInterface *iface) {}

G_DEFINE_INTERFACE (CxrAutoencoder, cxr_autoencoder, CXR_TYPE_MODEL)
static void cxr_autoencoder_default_init (CxrAutoencoderInterface *iface) {}

static gboolean
role_ready (gpointer self, gboolean implemented, GError **error)
{
  if (!implemented)
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_NOT_READY, "%s does not implement this role's method",
                   G_OBJECT_TYPE_NAME (self));
      return FALSE;
    }
  if (!cxr_model_is_prepared (CXR_MODEL (self)))
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_NOT_READY, "%s: used before it was prepared",
                   G_OBJECT_TYPE_NAME (self));
      return FALSE;
    }
  return TRUE;
}

/**
 * cxr_denoiser_predict:
 * @self: a prepared denoiser
 * @tape: (nullable): where to record, for training
 * @sample: noisy latents [N, C, H, W]
 * @timesteps: F32 [N]
 * @context: [N, L, D]
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the prediction, the shape of @sample
 */
CxrTensor *
cxr_denoiser_predict (CxrDenoiser *self, CxrTape *tape, CxrTensor *sample, CxrTensor *timesteps, CxrTensor *context,
                      GError **error)
{
  CxrDenoiserInterface *iface;

  g_return_val_if_fail (CXR_IS_DENOISER (self), NULL);
  iface = CXR_DENOISER_GET_IFACE (self);
  if (!role_ready (self, iface->predict != NULL, error))
    return NULL;
  return iface->predict (self, tape, sample, timesteps, context, error);
}

/**
 * cxr_denoiser_get_latent_channels:
 * @self: a prepared denoiser
 *
 * Returns: the channels of the latents it denoises
 */
guint
cxr_denoiser_get_latent_channels (CxrDenoiser *self)
{
  g_return_val_if_fail (CXR_IS_DENOISER (self), 0);
  return CXR_DENOISER_GET_IFACE (self)->get_latent_channels (self);
}

/**
 * cxr_denoiser_get_context_width:
 * @self: a prepared denoiser
 *
 * Returns: the width of the context tokens it reads
 */
guint
cxr_denoiser_get_context_width (CxrDenoiser *self)
{
  g_return_val_if_fail (CXR_IS_DENOISER (self), 0);
  return CXR_DENOISER_GET_IFACE (self)->get_context_width (self);
}

/**
 * cxr_image_encoder_embed:
 * @self: a prepared image encoder
 * @images: F32 [N, 1 or 3, H, W], gray (or RGB) in [0, 1], of any size
 * @error: return location for a #GError
 *
 * Embeds images the way the encoder's weights expect them: it resizes and
 * normalises them itself, so callers pass decoded images as they are.
 * Runs without gradients.
 *
 * Returns: (transfer full) (nullable): the embeddings [N, D]
 */
CxrTensor *
cxr_image_encoder_embed (CxrImageEncoder *self, CxrTensor *images, GError **error)
{
  CxrImageEncoderInterface *iface;

  g_return_val_if_fail (CXR_IS_IMAGE_ENCODER (self), NULL);
  g_return_val_if_fail (images != NULL, NULL);
  iface = CXR_IMAGE_ENCODER_GET_IFACE (self);
  if (!role_ready (self, iface->embed != NULL, error))
    return NULL;
  if (cxr_tensor_get_dtype (images) != CXR_DTYPE_F32 || cxr_tensor_get_ndim (images) != 4 ||
      (cxr_tensor_get_dim (images, 1) != 1 && cxr_tensor_get_dim (images, 1) != 3) ||
      cxr_tensor_get_dim (images, 2) < 1 || cxr_tensor_get_dim (images, 3) < 1)
    {
      g_autofree gchar *what = cxr_tensor_describe (images);
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "%s: images are %s; F32 [N, 1 or 3, H, W] "
                   "expected", type_name (CXR_MODEL (self)), what);
      return NULL;
    }
  return iface->embed (self, images, error);
}

/**
 * cxr_image_encoder_get_embedding_width:
 * @self: a prepared image encoder
 *
 * Returns: the width of the embeddings cxr_image_encoder_embed() returns
 *   (2048 for Inception-v3), 0 when it has no embed method
 */
guint
cxr_image_encoder_get_embedding_width (CxrImageEncoder *self)
{
  CxrImageEncoderInterface *iface;

  g_return_val_if_fail (CXR_IS_IMAGE_ENCODER (self), 0);
  iface = CXR_IMAGE_ENCODER_GET_IFACE (self);
  return iface->get_embedding_width ? iface->get_embedding_width (self) : 0;
}

/**
 * cxr_autoencoder_encode:
 * @self: a prepared autoencoder
 * @tape: (nullable): where to record
 * @images: [N, 3, H, W] in [-1, 1]
 * @logvar: (out) (optional) (transfer full): the log-variance
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the latent mean, unscaled
 */
CxrTensor *
cxr_autoencoder_encode (CxrAutoencoder *self, CxrTape *tape, CxrTensor *images, CxrTensor **logvar, GError **error)
{
  CxrAutoencoderInterface *iface;

  g_return_val_if_fail (CXR_IS_AUTOENCODER (self), NULL);
  iface = CXR_AUTOENCODER_GET_IFACE (self);
  if (!role_ready (self, iface->encode != NULL, error))
    return NULL;
  return iface->encode (self, tape, images, logvar, error);
}

/**
 * cxr_autoencoder_encode_field:
 * @self: a prepared autoencoder
 * @batch: a batch whose float field @field holds gray images in [0, 1]
 *   (with the image-width and image-height extras)
 * @field: the field
 * @logvar: (out) (optional) (transfer full): the log-variance
 * @error: return location for a #GError
 *
 * Encodes a batch's gray images as the stages take them: replicated to
 * RGB, brought to [-1, 1], then cxr_autoencoder_encode() without
 * gradients.
 *
 * Returns: (transfer full) (nullable): the mean of the latent distribution
 *   (unscaled); %NULL with @error set, naming the field, when the batch
 *   has no such images
 */
CxrTensor *
cxr_autoencoder_encode_field (CxrAutoencoder *self, CxrBatch *batch, const gchar *field, CxrTensor **logvar,
                              GError **error)
{
  g_autoptr (CxrTensor) gray = NULL, images = NULL;
  const gfloat *g;
  gfloat *px;
  gsize plane;
  gint64 n;

  g_return_val_if_fail (CXR_IS_AUTOENCODER (self), NULL);
  if ((gray = cxr_batch_get_images (batch, field, error)) == NULL)
    return NULL;
  n = cxr_tensor_get_dim (gray, 0);
  plane = (gsize) cxr_tensor_get_dim (gray, 2) * cxr_tensor_get_dim (gray, 3);
  images = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { n, 3, cxr_tensor_get_dim (gray, 2),
                                                             cxr_tensor_get_dim (gray, 3) }, 4);
  g = cxr_tensor_get_data (gray);
  px = cxr_tensor_get_data (images);
  for (gint64 i = 0; i < n; i++)
    for (guint c = 0; c < 3; c++)
      for (gsize k = 0; k < plane; k++)
        px[((gsize) i * 3 + c) * plane + k] = g[(gsize) i * plane + k] * 2.0f - 1.0f;
  return cxr_autoencoder_encode (self, NULL, images, logvar, error);
}

/**
 * cxr_autoencoder_decode:
 * @self: a prepared autoencoder
 * @tape: (nullable): where to record
 * @latents: unscaled latents
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the images, about [-1, 1]
 */
CxrTensor *
cxr_autoencoder_decode (CxrAutoencoder *self, CxrTape *tape, CxrTensor *latents, GError **error)
{
  CxrAutoencoderInterface *iface;

  g_return_val_if_fail (CXR_IS_AUTOENCODER (self), NULL);
  iface = CXR_AUTOENCODER_GET_IFACE (self);
  if (!role_ready (self, iface->decode != NULL, error))
    return NULL;
  return iface->decode (self, tape, latents, error);
}

/**
 * cxr_autoencoder_get_scaling_factor:
 * @self: a prepared autoencoder
 *
 * Returns: the factor on latents as the denoiser sees them
 */
gdouble
cxr_autoencoder_get_scaling_factor (CxrAutoencoder *self)
{
  g_return_val_if_fail (CXR_IS_AUTOENCODER (self), 1.0);
  return CXR_AUTOENCODER_GET_IFACE (self)->get_scaling_factor (self);
}

/**
 * cxr_autoencoder_get_latent_channels:
 * @self: a prepared autoencoder
 *
 * Returns: the channels of its latents
 */
guint
cxr_autoencoder_get_latent_channels (CxrAutoencoder *self)
{
  g_return_val_if_fail (CXR_IS_AUTOENCODER (self), 0);
  return CXR_AUTOENCODER_GET_IFACE (self)->get_latent_channels (self);
}

/**
 * cxr_autoencoder_get_downscale:
 * @self: a prepared autoencoder
 *
 * Returns: the side of an image over the side of its latent
 */
guint
cxr_autoencoder_get_downscale (CxrAutoencoder *self)
{
  g_return_val_if_fail (CXR_IS_AUTOENCODER (self), 1);
  return CXR_AUTOENCODER_GET_IFACE (self)->get_downscale (self);
}

G_DEFINE_INTERFACE (CxrTextDecoder, cxr_text_decoder, CXR_TYPE_MODEL)
static void cxr_text_decoder_default_init (CxrTextDecoderInterface *iface) {}

G_DEFINE_INTERFACE (CxrPrior, cxr_prior, CXR_TYPE_MODEL)
static void cxr_prior_default_init (CxrPriorInterface *iface) {}
