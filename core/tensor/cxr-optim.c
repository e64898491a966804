/* cxr-optim.c: parameters in one flat buffer, AdamW, gradient clipping,
 * learning-rate schedules, EMA and checkpoints.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxr-ops-private.h"

/**
 * CxrParamSet:
 *
 * The parameters of a model: named tensors carved out of one flat F32
 * buffer, with their gradients carved out of a second one of the same
 * layout, so the optimiser makes one pass over memory (and, later, one
 * all-reduce moves every gradient). Declare each parameter with
 * cxr_param_set_add(), then cxr_param_set_allocate() once; the
 * parameters are zeros and require gradients.
 *
 * Buffers (cxr_param_set_add_buffer(): batch norm's running statistics)
 * are state that is saved and loaded with the parameters but not trained:
 * they sit after the parameters in the flat buffer, need no gradient, and
 * AdamW's pass stops before them.
 */

typedef struct {
  gchar *name;
  gint64 shape[CXR_TENSOR_MAX_DIMS];
  guint ndim;
  gint64 offset; /* elements into the flat buffer */
  gint64 numel;
  gboolean buffer; /* saved and loaded, not trained */
  CxrTensor *param;
} ParamEntry;

struct _CxrParamSet {
  GObject parent_instance;
  GPtrArray *entries; /* ParamEntry, in the order added */
  GHashTable *by_name;
  gint64 n_elements;
  gint64 n_trainable; /* the elements before the first buffer, once allocated */
  CxrTensor *flat;
  CxrTensor *flat_grad;
};

G_DEFINE_FINAL_TYPE (CxrParamSet, cxr_param_set, G_TYPE_OBJECT)

static void
param_entry_free (gpointer data)
{
  ParamEntry *e = data;
  g_free (e->name);
  g_clear_pointer (&e->param, cxr_tensor_unref);
  g_free (e);
}

static void
cxr_param_set_finalize (GObject *object)
{
  CxrParamSet *self = CXR_PARAM_SET (object);

  g_hash_table_unref (self->by_name);
  g_ptr_array_unref (self->entries);
  g_clear_pointer (&self->flat, cxr_tensor_unref);
  g_clear_pointer (&self->flat_grad, cxr_tensor_unref);
  G_OBJECT_CLASS (cxr_param_set_parent_class)->finalize (object);
}

static void
cxr_param_set_class_init (CxrParamSetClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cxr_param_set_finalize;
}

static void
cxr_param_set_init (CxrParamSet *self)
{
  self->entries = g_ptr_array_new_with_free_func (param_entry_free);
  self->by_name = g_hash_table_new (g_str_hash, g_str_equal);
}

/**
 * cxr_param_set_new:
 *
 * Returns: (transfer full): an empty parameter set
 */
CxrParamSet *
cxr_param_set_new (void)
{
  return g_object_new (CXR_TYPE_PARAM_SET, NULL);
}

static gboolean
add_entry (CxrParamSet *self, const gchar *name, const gint64 *shape, guint ndim, gboolean buffer, GError **error)
{
  ParamEntry *e;
  gint64 numel = 1;

  g_return_val_if_fail (CXR_IS_PARAM_SET (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (self->flat == NULL, FALSE);
  if (g_hash_table_contains (self->by_name, name))
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_CONFIG, "parameter %s is declared twice", name);
      return FALSE;
    }
  if (ndim > CXR_TENSOR_MAX_DIMS)
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_CONFIG, "parameter %s has %u dimensions", name, ndim);
      return FALSE;
    }
  for (guint i = 0; i < ndim; i++)
    {
      if (shape[i] < 0)
        {
          g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_CONFIG, "parameter %s has a negative size", name);
          return FALSE;
        }
      if (shape[i] > 0 && numel > (G_MAXINT64 / 16) / shape[i])
        {
          g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_CONFIG, "parameter %s is too large to exist", name);
          return FALSE;
        }
      numel *= shape[i];
    }
  e = g_new0 (ParamEntry, 1);
  e->name = g_strdup (name);
  memcpy (e->shape, shape, ndim * sizeof (gint64));
  e->ndim = ndim;
  e->numel = numel;
  e->buffer = buffer;
  /* the layout is made by allocation; this counts the padded size */
  self->n_elements = (self->n_elements + 15) / 16 * 16 + numel;
  g_ptr_array_add (self->entries, e);
  g_hash_table_insert (self->by_name, e->name, e);
  return TRUE;
}

/**
 * cxr_param_set_add:
 * @self: a parameter set, not allocated yet
 * @name: the parameter's name (its checkpoint name)
 * @shape: (array length=ndim): its shape
 * @ndim: its number of dimensions
 * @error: return location for a #GError
 *
 * Declares a parameter.
 *
 * Returns: %TRUE, or %FALSE for a name already taken or a bad shape
 */
gboolean
cxr_param_set_add (CxrParamSet *self, const gchar *name, const gint64 *shape, guint ndim, GError **error)
{
  return add_entry (self, name, shape, ndim, FALSE, error);
}

/**
 * cxr_param_set_add_buffer:
 * @self: a parameter set, not allocated yet
 * @name: the buffer's name (its checkpoint name, such as
 *   "features.norm0.running_mean")
 * @shape: (array length=ndim): its shape
 * @ndim: its number of dimensions
 * @error: return location for a #GError
 *
 * Declares a buffer: a tensor saved and loaded with the parameters that
 * has no gradient and that optimisers leave alone (batch norm's running
 * statistics, which training updates itself).
 *
 * Returns: %TRUE, or %FALSE for a name already taken or a bad shape
 */
gboolean
cxr_param_set_add_buffer (CxrParamSet *self, const gchar *name, const gint64 *shape, guint ndim, GError **error)
{
  return add_entry (self, name, shape, ndim, TRUE, error);
}

/**
 * cxr_param_set_is_buffer:
 * @self: a parameter set
 * @name: a name in it
 *
 * Returns: whether @name was declared with cxr_param_set_add_buffer()
 */
gboolean
cxr_param_set_is_buffer (CxrParamSet *self, const gchar *name)
{
  ParamEntry *e;

  g_return_val_if_fail (CXR_IS_PARAM_SET (self), FALSE);
  e = g_hash_table_lookup (self->by_name, name);
  return e != NULL && e->buffer;
}

/**
 * cxr_param_set_allocate_frozen:
 * @self: a parameter set
 *
 * Allocates the flat buffer of the parameters and makes each parameter a
 * view of it, without gradients: the parameters require none, so a tape
 * records no gradient work for them (a frozen model, or one that only
 * samples) and no memory is spent on a gradient buffer until
 * cxr_param_set_enable_grads().
 */
void
cxr_param_set_allocate_frozen (CxrParamSet *self)
{
  gint64 end = 0;

  g_return_if_fail (CXR_IS_PARAM_SET (self));
  g_return_if_fail (self->flat == NULL);
  /* parameters first, then buffers, each at a 16-float (64-byte) boundary */
  for (guint pass = 0; pass < 2; pass++)
    {
      for (guint i = 0; i < self->entries->len; i++)
        {
          ParamEntry *e = g_ptr_array_index (self->entries, i);
          if (e->buffer != (pass == 1))
            continue;
          e->offset = (end + 15) / 16 * 16;
          end = e->offset + e->numel;
        }
      if (pass == 0)
        self->n_trainable = end;
    }
  self->n_elements = end;
  self->flat = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { self->n_elements }, 1);
  for (guint i = 0; i < self->entries->len; i++)
    {
      ParamEntry *e = g_ptr_array_index (self->entries, i);
      gsize n_bytes = (gsize) e->numel * sizeof (gfloat);

      e->param = cxr_tensor_new_wrapped (CXR_DTYPE_F32, e->shape, e->ndim, _cxr_f32 (self->flat) + e->offset,
                                         n_bytes, cxr_tensor_ref (self->flat), (GDestroyNotify) cxr_tensor_unref);
    }
}

/**
 * cxr_param_set_enable_grads:
 * @self: an allocated parameter set
 *
 * Allocates the flat gradient buffer, if not yet done, and makes every
 * parameter (not the buffers) require a gradient that accumulates in its
 * view of it.
 */
void
cxr_param_set_enable_grads (CxrParamSet *self)
{
  g_return_if_fail (CXR_IS_PARAM_SET (self) && self->flat != NULL);
  if (self->flat_grad != NULL)
    return;
  self->flat_grad = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { self->n_elements }, 1);
  for (guint i = 0; i < self->entries->len; i++)
    {
      ParamEntry *e = g_ptr_array_index (self->entries, i);
      g_autoptr (CxrTensor) grad = NULL;
      gsize n_bytes = (gsize) e->numel * sizeof (gfloat);

      if (e->buffer)
        continue;
      grad = cxr_tensor_new_wrapped (CXR_DTYPE_F32, e->shape, e->ndim, _cxr_f32 (self->flat_grad) + e->offset,
                                     n_bytes, cxr_tensor_ref (self->flat_grad), (GDestroyNotify) cxr_tensor_unref);
      cxr_tensor_set_requires_grad (e->param, TRUE);
      cxr_tensor_set_grad (e->param, grad);
    }
}

/**
 * cxr_param_set_allocate:
 * @self: a parameter set
 *
 * Allocates the flat buffers of the parameters and of their gradients,
 * and makes each parameter and gradient a view of them: for training.
 */
void
cxr_param_set_allocate (CxrParamSet *self)
{
  cxr_param_set_allocate_frozen (self);
  cxr_param_set_enable_grads (self);
}

/**
 * cxr_param_set_is_allocated:
 * @self: a parameter set
 *
 * Returns: whether cxr_param_set_allocate() was called
 */
gboolean
cxr_param_set_is_allocated (CxrParamSet *self)
{
  g_return_val_if_fail (CXR_IS_PARAM_SET (self), FALSE);
  return self->flat != NULL;
}

/**
 * cxr_param_set_get:
 * @self: an allocated parameter set
 * @name: a parameter name
 *
 * Returns: (transfer none) (nullable): the parameter, or %NULL
 */
CxrTensor *
cxr_param_set_get (CxrParamSet *self, const gchar *name)
{
  ParamEntry *e;

  g_return_val_if_fail (CXR_IS_PARAM_SET (self), NULL);
  e = g_hash_table_lookup (self->by_name, name);
  return e ? e->param : NULL;
}

/**
 * cxr_param_set_list_names:
 * @self: a parameter set
 *
 * Returns: (transfer full) (array zero-terminated=1): the names, in the
 *   order declared
 */
gchar **
cxr_param_set_list_names (CxrParamSet *self)
{
  gchar **names;

  g_return_val_if_fail (CXR_IS_PARAM_SET (self), NULL);
  names = g_new0 (gchar *, self->entries->len + 1);
  for (guint i = 0; i < self->entries->len; i++)
    names[i] = g_strdup (((ParamEntry *) g_ptr_array_index (self->entries, i))->name);
  return names;
}

/**
 * cxr_param_set_get_n_elements:
 * @self: a parameter set
 *
 * Returns: the number of parameters (elements), without alignment padding
 */
gint64
cxr_param_set_get_n_elements (CxrParamSet *self)
{
  gint64 n = 0;

  g_return_val_if_fail (CXR_IS_PARAM_SET (self), 0);
  for (guint i = 0; i < self->entries->len; i++)
    n += ((ParamEntry *) g_ptr_array_index (self->entries, i))->numel;
  return n;
}

/**
 * cxr_param_set_get_flat:
 * @self: an allocated parameter set
 *
 * Returns: (transfer none): the flat buffer every parameter is a view of
 */
CxrTensor *
cxr_param_set_get_flat (CxrParamSet *self)
{
  g_return_val_if_fail (CXR_IS_PARAM_SET (self), NULL);
  return self->flat;
}

/**
 * cxr_param_set_get_flat_grad:
 * @self: an allocated parameter set
 *
 * Returns: (transfer none) (nullable): the flat buffer of the gradients,
 *   or %NULL before cxr_param_set_enable_grads()
 */
CxrTensor *
cxr_param_set_get_flat_grad (CxrParamSet *self)
{
  g_return_val_if_fail (CXR_IS_PARAM_SET (self), NULL);
  return self->flat_grad;
}

/**
 * cxr_param_set_zero_grad:
 * @self: an allocated parameter set
 *
 * Zeroes every gradient (one memset).
 */
void
cxr_param_set_zero_grad (CxrParamSet *self)
{
  g_return_if_fail (CXR_IS_PARAM_SET (self) && self->flat_grad != NULL);
  memset (_cxr_f32 (self->flat_grad), 0, cxr_tensor_get_nbytes (self->flat_grad));
}

/**
 * cxr_param_set_init_normal:
 * @self: an allocated parameter set
 * @name: a parameter name
 * @std: the standard deviation
 * @seed: the Philox key
 *
 * Fills a parameter with normal numbers of mean 0 and deviation @std.
 */
void
cxr_param_set_init_normal (CxrParamSet *self, const gchar *name, gfloat std, guint64 seed)
{
  CxrTensor *p = cxr_param_set_get (self, name);
  gfloat *v;

  g_return_if_fail (p != NULL);
  v = _cxr_f32 (p);
  cxr_philox_normal (seed, 0, v, (gsize) _cxr_numel (p));
  for (gint64 i = 0, count = _cxr_numel (p); i < count; i++)
    v[i] *= std;
}

/**
 * cxr_param_set_clip_grad_norm:
 * @self: an allocated parameter set
 * @max_norm: the largest global gradient norm allowed
 *
 * Scales every gradient so their global L2 norm is at most @max_norm, as
 * torch.nn.utils.clip_grad_norm_ (factor max_norm / (norm + 1e-6) when
 * below 1).
 *
 * Returns: the norm before clipping
 */
gdouble
cxr_param_set_clip_grad_norm (CxrParamSet *self, gdouble max_norm)
{
  gfloat *g;
  gint64 n;
  gdouble sq = 0, norm, coef;

  g_return_val_if_fail (CXR_IS_PARAM_SET (self) && self->flat_grad != NULL, 0);
  g = _cxr_f32 (self->flat_grad);
  n = _cxr_numel (self->flat_grad);
  for (gint64 i = 0; i < n; i++)
    sq += (gdouble) g[i] * g[i];
  norm = sqrt (sq);
  coef = max_norm / (norm + 1e-6);
  if (coef < 1.0)
    for (gint64 i = 0; i < n; i++)
      g[i] = (gfloat) (g[i] * coef);
  return norm;
}

/**
 * cxr_param_set_load:
 * @self: an allocated parameter set
 * @file: a safetensors file
 * @prefix: (nullable): a prefix of the names in the file ("params.")
 * @strict: whether a parameter missing from the file is an error
 * @error: return location for a #GError
 *
 * Copies the file's tensors into the parameters of the same name,
 * converting F16 and BF16 to F32. A tensor of another shape is an error
 * that says both shapes.
 *
 * Returns: %TRUE on success
 */
gboolean
cxr_param_set_load (CxrParamSet *self, CxrSafetensors *file, const gchar *prefix, gboolean strict,
                    GError **error)
{
  g_return_val_if_fail (CXR_IS_PARAM_SET (self) && self->flat != NULL, FALSE);
  for (guint i = 0; i < self->entries->len; i++)
    {
      ParamEntry *e = g_ptr_array_index (self->entries, i);
      g_autofree gchar *key = g_strconcat (prefix ? prefix : "", e->name, NULL);
      g_autoptr (CxrTensor) t = NULL, f = NULL;
      guint ndim = 0;
      const gint64 *shape;

      if (!cxr_safetensors_has_tensor (file, key))
        {
          if (!strict)
            continue;
          g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_MISSING_TENSOR, "%s: no tensor %s",
                       cxr_safetensors_get_origin (file), key);
          return FALSE;
        }
      t = cxr_safetensors_get_tensor (file, key, error);
      if (t == NULL)
        return FALSE;
      shape = cxr_tensor_get_shape (t, &ndim);
      if (ndim != e->ndim || memcmp (shape, e->shape, ndim * sizeof (gint64)) != 0)
        {
          g_autofree gchar *want = _cxr_describe_shape (e->shape, e->ndim), *got = _cxr_describe_shape (shape, ndim);
          g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_SHAPE_MISMATCH, "%s: tensor %s: expected %s, got %s",
                       cxr_safetensors_get_origin (file), key, want, got);
          return FALSE;
        }
      f = cxr_tensor_to_dtype (t, CXR_DTYPE_F32, error);
      if (f == NULL)
        return FALSE;
      memcpy (_cxr_f32 (e->param), cxr_tensor_get_data (f), (gsize) e->numel * sizeof (gfloat));
    }
  return TRUE;
}

/**
 * cxr_param_set_to_table:
 * @self: an allocated parameter set
 * @prefix: (nullable): a prefix for each name
 *
 * Returns: (transfer full) (element-type utf8 CxrTensor): the parameters
 *   by name, for cxr_safetensors_save()
 */
GHashTable *
cxr_param_set_to_table (CxrParamSet *self, const gchar *prefix)
{
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) cxr_tensor_unref);

  for (guint i = 0; i < self->entries->len; i++)
    {
      ParamEntry *e = g_ptr_array_index (self->entries, i);
      g_hash_table_insert (table, g_strconcat (prefix ? prefix : "", e->name, NULL), cxr_tensor_ref (e->param));
    }
  return table;
}

/**
 * cxr_param_set_ema_update:
 * @ema: an allocated parameter set of the same layout as @params
 * @params: the parameters being trained
 * @decay: the EMA decay, such as 0.9999
 *
 * ema = decay * ema + (1 - decay) * params, in one pass, over the
 * parameters. Buffers (batch norm's running statistics: already running
 * averages, kept by training itself) are copied from @params, so the
 * averaged weights go with the statistics of the current ones, as
 * diffusers' EMAModel and PyTorch's AveragedModel leave buffers out of
 * the average.
 */
void
cxr_param_set_ema_update (CxrParamSet *ema, CxrParamSet *params, gfloat decay)
{
  gfloat *e, *p;
  gint64 n;

  g_return_if_fail (CXR_IS_PARAM_SET (ema) && CXR_IS_PARAM_SET (params));
  g_return_if_fail (ema->n_elements == params->n_elements && ema->flat && params->flat);
  g_return_if_fail (ema->n_trainable == params->n_trainable);
  e = _cxr_f32 (ema->flat);
  p = _cxr_f32 (params->flat);
  n = params->n_trainable;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (gint64 i = 0; i < n; i++)
    e[i] = decay * e[i] + (1.0f - decay) * p[i];
  if (params->n_elements > n)
    memcpy (e + n, p + n, (gsize) (params->n_elements - n) * sizeof (gfloat));
}

/**
 * cxr_param_set_copy_from:
 * @self: an allocated parameter set
 * @other: one of the same layout
 *
 * Copies the values of @other's parameters.
 */
void
cxr_param_set_copy_from (CxrParamSet *self, CxrParamSet *other)
{
  g_return_if_fail (CXR_IS_PARAM_SET (self) && CXR_IS_PARAM_SET (other));
  g_return_if_fail (self->n_elements == other->n_elements && self->flat && other->flat);
  memcpy (_cxr_f32 (self->flat), _cxr_f32 (other->flat), cxr_tensor_get_nbytes (self->flat));
}

/* ------------------------------------------------------------------ AdamW */

/**
 * CxrAdamW:
 *
 * AdamW (Loshchilov and Hutter) over a #CxrParamSet's flat buffer, as
 * torch.optim.AdamW computes it: decoupled weight decay p *= 1 - lr wd,
 * then p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). The
 * defaults are the paper's: lr 5e-5, betas 0.9 and 0.999, eps 1e-8,
 * weight decay 0.01.
 */
struct _CxrAdamW {
  GObject parent_instance;
  CxrParamSet *params;
  gdouble lr, beta1, beta2, eps, weight_decay;
  gint64 step;
  CxrTensor *exp_avg;
  CxrTensor *exp_avg_sq;
};

enum {
  ADAMW_PROP_0,
  ADAMW_PROP_LR,
  ADAMW_PROP_BETA1,
  ADAMW_PROP_BETA2,
  ADAMW_PROP_EPS,
  ADAMW_PROP_WEIGHT_DECAY,
  ADAMW_N_PROPS
};

static GParamSpec *adamw_properties[ADAMW_N_PROPS];

G_DEFINE_FINAL_TYPE (CxrAdamW, cxr_adamw, G_TYPE_OBJECT)

static void
cxr_adamw_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrAdamW *self = CXR_ADAMW (object);

  switch (id)
    {
    case ADAMW_PROP_LR: self->lr = g_value_get_double (value); break;
    case ADAMW_PROP_BETA1: self->beta1 = g_value_get_double (value); break;
    case ADAMW_PROP_BETA2: self->beta2 = g_value_get_double (value); break;
    case ADAMW_PROP_EPS: self->eps = g_value_get_double (value); break;
    case ADAMW_PROP_WEIGHT_DECAY: self->weight_decay = g_value_get_double (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_adamw_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrAdamW *self = CXR_ADAMW (object);

  switch (id)
    {
    case ADAMW_PROP_LR: g_value_set_double (value, self->lr); break;
    case ADAMW_PROP_BETA1: g_value_set_double (value, self->beta1); break;
    case ADAMW_PROP_BETA2: g_value_set_double (value, self->beta2); break;
    case ADAMW_PROP_EPS: g_value_set_double (value, self->eps); break;
    case ADAMW_PROP_WEIGHT_DECAY: g_value_set_double (value, self->weight_decay); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_adamw_finalize (GObject *object)
{
  CxrAdamW *self = CXR_ADAMW (object);

  g_clear_object (&self->params);
  g_clear_pointer (&self->exp_avg, cxr_tensor_unref);
  g_clear_pointer (&self->exp_avg_sq, cxr_tensor_unref);
  G_OBJECT_CLASS (cxr_adamw_parent_class)->finalize (object);
}

static void
cxr_adamw_class_init (CxrAdamWClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_adamw_set_property;
  object_class->get_property = cxr_adamw_get_property;
  object_class->finalize = cxr_adamw_finalize;
  adamw_properties[ADAMW_PROP_LR] =
    g_param_spec_double ("lr", "Learning rate", "The learning rate when a step gives none", 0, 1e3, 5e-5, flags);
  adamw_properties[ADAMW_PROP_BETA1] =
    g_param_spec_double ("beta1", "Beta 1", "Decay of the first moment", 0, 1, 0.9, flags);
  adamw_properties[ADAMW_PROP_BETA2] =
    g_param_spec_double ("beta2", "Beta 2", "Decay of the second moment", 0, 1, 0.999, flags);
  adamw_properties[ADAMW_PROP_EPS] =
    g_param_spec_double ("eps", "Epsilon", "Added to the denominator", 0, 1, 1e-8, flags);
  adamw_properties[ADAMW_PROP_WEIGHT_DECAY] =
    g_param_spec_double ("weight-decay", "Weight decay", "Decoupled weight decay", 0, 10, 0.01, flags);
  g_object_class_install_properties (object_class, ADAMW_N_PROPS, adamw_properties);
}

static void
cxr_adamw_init (CxrAdamW *self)
{
}

/**
 * cxr_adamw_new:
 * @params: an allocated parameter set
 *
 * Returns: (transfer full): an AdamW optimiser over @params, its moments
 *   at zero
 */
CxrAdamW *
cxr_adamw_new (CxrParamSet *params)
{
  CxrAdamW *self;

  g_return_val_if_fail (CXR_IS_PARAM_SET (params) && cxr_param_set_is_allocated (params), NULL);
  self = g_object_new (CXR_TYPE_ADAMW, NULL);
  self->params = g_object_ref (params);
  /* the moments cover the parameters, not the buffers after them */
  self->exp_avg = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { MAX (params->n_trainable, 1) }, 1);
  self->exp_avg_sq = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { MAX (params->n_trainable, 1) }, 1);
  return self;
}

/**
 * cxr_adamw_step:
 * @self: an optimiser
 * @lr: this step's learning rate; 0 or less uses #CxrAdamW:lr
 *
 * Updates every parameter from its gradient, in one fused pass.
 */
void
cxr_adamw_step (CxrAdamW *self, gfloat lr)
{
  gfloat *p, *g, *m, *v;
  gint64 n;
  gfloat b1, b2, eps, decay, step_size, bc2_sqrt;

  g_return_if_fail (CXR_IS_ADAMW (self));
  g_return_if_fail (cxr_param_set_get_flat_grad (self->params) != NULL);
  if (lr <= 0)
    lr = (gfloat) self->lr;
  self->step++;
  p = _cxr_f32 (cxr_param_set_get_flat (self->params));
  g = _cxr_f32 (cxr_param_set_get_flat_grad (self->params));
  m = _cxr_f32 (self->exp_avg);
  v = _cxr_f32 (self->exp_avg_sq);
  n = self->params->n_trainable;
  b1 = (gfloat) self->beta1;
  b2 = (gfloat) self->beta2;
  eps = (gfloat) self->eps;
  decay = 1.0f - lr * (gfloat) self->weight_decay;
  step_size = lr / (gfloat) (1.0 - pow (self->beta1, (gdouble) self->step));
  bc2_sqrt = (gfloat) sqrt (1.0 - pow (self->beta2, (gdouble) self->step));
#pragma omp parallel for schedule(static) if (n > 65536)
  for (gint64 i = 0; i < n; i++)
    {
      p[i] *= decay;
      m[i] += (g[i] - m[i]) * (1.0f - b1);
      v[i] = v[i] * b2 + (1.0f - b2) * g[i] * g[i];
      p[i] -= step_size * m[i] / (sqrtf (v[i]) / bc2_sqrt + eps);
    }
}

/**
 * cxr_adamw_get_step:
 * @self: an optimiser
 *
 * Returns: the number of steps taken
 */
gint64
cxr_adamw_get_step (CxrAdamW *self)
{
  g_return_val_if_fail (CXR_IS_ADAMW (self), 0);
  return self->step;
}

/**
 * cxr_lr_warmup_cosine:
 * @step: the step, from 0
 * @base_lr: the peak learning rate
 * @warmup_steps: steps of linear warm-up from 0
 * @total_steps: the length of the schedule
 * @min_lr: the rate the cosine decays to
 *
 * Returns: base_lr (step + 1) / warmup_steps during warm-up, then a cosine
 *   from base_lr down to min_lr at total_steps (and min_lr after)
 */
gdouble
cxr_lr_warmup_cosine (gint64 step, gdouble base_lr, gint64 warmup_steps, gint64 total_steps, gdouble min_lr)
{
  gdouble progress;

  if (step < warmup_steps)
    return base_lr * (gdouble) (step + 1) / (gdouble) warmup_steps;
  if (total_steps <= warmup_steps || step >= total_steps)
    return step >= total_steps ? min_lr : base_lr;
  progress = (gdouble) (step - warmup_steps) / (gdouble) (total_steps - warmup_steps);
  return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + cos (G_PI * progress));
}

/* ------------------------------------------------------------ checkpoints */

/**
 * cxr_checkpoint_save:
 * @path: the file to write
 * @params: the parameters
 * @optimizer: (nullable): their optimiser
 * @metadata: (element-type utf8 utf8) (nullable): more to keep, such as the
 *   data position and random state of the run
 * @error: return location for a #GError
 *
 * Writes a checkpoint, atomically, as a safetensors file: parameters as
 * "params.NAME", the AdamW moments as "optimizer.exp_avg" and
 * "optimizer.exp_avg_sq", and in the metadata the step and the optimiser's
 * settings beside @metadata. Resuming from it continues bit for bit.
 *
 * Returns: %TRUE on success
 */
gboolean
cxr_checkpoint_save (const gchar *path, CxrParamSet *params, CxrAdamW *optimizer, GHashTable *metadata,
                     GError **error)
{
  g_autoptr (GHashTable) tensors = cxr_param_set_to_table (params, "params.");
  g_autoptr (GHashTable) meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  g_return_val_if_fail (CXR_IS_PARAM_SET (params), FALSE);
  if (metadata)
    {
      GHashTableIter iter;
      gpointer k, v;
      g_hash_table_iter_init (&iter, metadata);
      while (g_hash_table_iter_next (&iter, &k, &v))
        g_hash_table_insert (meta, g_strdup (k), g_strdup (v));
    }
  g_hash_table_insert (meta, g_strdup ("cxrgen.format"), g_strdup ("checkpoint-1"));
  if (optimizer)
    {
      gchar buf[G_ASCII_DTOSTR_BUF_SIZE], buf2[G_ASCII_DTOSTR_BUF_SIZE];
      g_hash_table_insert (tensors, g_strdup ("optimizer.exp_avg"), cxr_tensor_ref (optimizer->exp_avg));
      g_hash_table_insert (tensors, g_strdup ("optimizer.exp_avg_sq"), cxr_tensor_ref (optimizer->exp_avg_sq));
      g_hash_table_insert (meta, g_strdup ("optimizer.step"), g_strdup_printf ("%" G_GINT64_FORMAT, optimizer->step));
      g_hash_table_insert (meta, g_strdup ("optimizer.lr"), g_strdup (g_ascii_dtostr (buf, sizeof buf, optimizer->lr)));
      g_hash_table_insert (meta, g_strdup ("optimizer.betas"),
                           g_strdup_printf ("%s,%s", g_ascii_dtostr (buf, sizeof buf, optimizer->beta1),
                                            g_ascii_dtostr (buf2, sizeof buf2, optimizer->beta2)));
      g_hash_table_insert (meta, g_strdup ("optimizer.eps"), g_strdup (g_ascii_dtostr (buf, sizeof buf, optimizer->eps)));
      g_hash_table_insert (meta, g_strdup ("optimizer.weight_decay"),
                           g_strdup (g_ascii_dtostr (buf, sizeof buf, optimizer->weight_decay)));
    }
  return cxr_safetensors_save (path, tensors, meta, error);
}

/**
 * cxr_checkpoint_load:
 * @path: a checkpoint written by cxr_checkpoint_save()
 * @params: allocated parameters of the same layout
 * @optimizer: (nullable): their optimiser, to restore its moments and step
 * @metadata: (out) (optional) (transfer full) (element-type utf8 utf8):
 *   the checkpoint's metadata
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success; a missing or mis-shaped tensor is an error
 *   that names it
 */
gboolean
cxr_checkpoint_load (const gchar *path, CxrParamSet *params, CxrAdamW *optimizer, GHashTable **metadata,
                     GError **error)
{
  g_autoptr (CxrSafetensors) file = cxr_safetensors_open (path, error);

  if (file == NULL || !cxr_param_set_load (params, file, "params.", TRUE, error))
    return FALSE;
  if (optimizer)
    {
      const gchar *step = cxr_safetensors_get_metadata (file, "optimizer.step");
      const gchar *names[] = { "optimizer.exp_avg", "optimizer.exp_avg_sq" };
      CxrTensor *into[] = { optimizer->exp_avg, optimizer->exp_avg_sq };
      gint64 s;

      if (step == NULL || !g_ascii_string_to_signed (step, 10, 0, G_MAXINT64, &s, NULL))
        {
          g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_MISSING_TENSOR,
                       "%s: no optimizer state (optimizer.step)", path);
          return FALSE;
        }
      for (guint i = 0; i < 2; i++)
        {
          g_autoptr (CxrTensor) t = cxr_safetensors_get_tensor (file, names[i], error);
          if (t == NULL)
            return FALSE;
          if (cxr_tensor_get_dtype (t) != CXR_DTYPE_F32 || _cxr_numel (t) != _cxr_numel (into[i]))
            {
              g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_SHAPE_MISMATCH,
                           "%s: tensor %s: expected F32[%" G_GINT64_FORMAT "]", path, names[i], _cxr_numel (into[i]));
              return FALSE;
            }
          memcpy (_cxr_f32 (into[i]), cxr_tensor_get_data (t), cxr_tensor_get_nbytes (t));
        }
      optimizer->step = s;
    }
  if (metadata)
    {
      g_auto (GStrv) keys = cxr_safetensors_list_metadata_keys (file);
      *metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      for (guint i = 0; keys[i]; i++)
        g_hash_table_insert (*metadata, g_strdup (keys[i]), g_strdup (cxr_safetensors_get_metadata (file, keys[i])));
    }
  return TRUE;
}
