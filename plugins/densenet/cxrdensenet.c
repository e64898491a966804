/* plugins/densenet/cxrdensenet.c: the DenseNet classifier of chest X-rays, and the classify stage.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "cxrdensenet.h"

/**
 * SECTION:densenet
 *
 * The `densenet` model is a DenseNet (Huang et al., 2017) as torchvision
 * builds it, the classifier the field scores generated radiographs with
 * (CheXNet: DenseNet-121 with 14 outputs). It reads a safetensors file with
 * torchvision's tensor names (features.conv0.weight, features.norm0.*,
 * features.denseblockB.denselayerL.{norm1,conv1,norm2,conv2}.*,
 * features.transitionT.{norm,conv}.*, features.norm5.*, classifier.*), with
 * any prefix before "features." (a "module." of DataParallel, a
 * "densenet121." of CheXNet code). The depth, growth rate and number of
 * outputs come from the tensors' names and shapes, so DenseNet-121, -169
 * and small test networks load alike, and so do torchxrayvision's
 * DenseNets (the same names, one input channel, 18 outputs; use
 * normalize=xrv). Batch norm runs in inference mode (the running
 * statistics, eps 1e-5).
 *
 * The `classify` stage runs it on a batch's images (gray in [0, 1],
 * replicated to RGB when the network takes 3 channels, and normalised
 * with ImageNet's mean and deviation, to [-1, 1], or to torchxrayvision's
 * [-1024, 1024]) and adds the scores: sigmoid probabilities by default, the
 * input eval-auroc takes.
 *
 * As an image encoder (the `image-features` stage, `cxrgen metrics fid
 * --model-type densenet`) it resizes images bilinearly to 224x224,
 * normalises them as above (ImageNet for 3 channels, torchxrayvision's
 * scale for one) and returns the pooled features, for a distance in a
 * chest X-ray network's feature space.
 *
 * |[
 * [model chexnet]
 * type=densenet
 * weights=densenet121-chexpert.safetensors
 *
 * [stage scores]
 * type=classify
 * input=images
 * model=chexnet
 * ]|
 */

#define MAX_BLOCKS 16

struct _CxrDensenet {
  CxrModel parent_instance;
  guint growth_rate, bn_size, init_features;
  guint n_blocks;
  guint layers[MAX_BLOCKS];
  guint n_classes;
  guint in_channels; /* 3 (torchvision, CheXNet) or 1 (torchxrayvision) */
  guint features;    /* the channels of norm5: the pooled feature width */
};

static void cxr_densenet_encoder_init (CxrImageEncoderInterface *iface);
G_DEFINE_FINAL_TYPE_WITH_CODE (CxrDensenet, cxr_densenet, CXR_TYPE_MODEL,
                               G_IMPLEMENT_INTERFACE (CXR_TYPE_IMAGE_ENCODER, cxr_densenet_encoder_init))

/* ------------------------------------------------------- configuration */

/* Size @axis of the tensor @prefix@name, or of @prefix@alias (the older
 * spelling) when @name is not there; FALSE when neither has that axis. */
static gboolean
dim_of (CxrSafetensors *file, const gchar *prefix, const gchar *name, const gchar *alias, guint axis, gint64 *value)
{
  const gchar *names[] = { name, alias };

  for (guint i = 0; i < G_N_ELEMENTS (names) && names[i]; i++)
    {
      g_autofree gchar *full = g_strconcat (prefix, names[i], NULL);
      g_autofree gint64 *shape = NULL;
      guint ndim = 0;
      if (cxr_safetensors_get_info (file, full, NULL, &shape, &ndim) && axis < ndim)
        {
          *value = shape[axis];
          return TRUE;
        }
    }
  return FALSE;
}

/* torchvision's DenseNet constructor arguments, from the tensors: any
 * prefix before "features.conv0.weight" (CheXNet's "module.densenet121."),
 * the growth rate and bottleneck from the first layer, the layers of each
 * block by counting them. */
static gchar *
cxr_densenet_infer_config (CxrModel *model, CxrSafetensors *file, gchar **prefix, GError **error)
{
  g_auto (GStrv) names = cxr_safetensors_list_names (file);
  g_autofree gchar *pre = NULL;
  g_autoptr (GString) blocks = g_string_new (NULL);
  gint64 init = 0, in = 0, growth = 0, bottleneck = 0, classes = 0;

  for (guint i = 0; names[i] && pre == NULL; i++)
    if (g_str_has_suffix (names[i], "features.conv0.weight"))
      pre = g_strndup (names[i], strlen (names[i]) - strlen ("features.conv0.weight"));
  if (pre == NULL)
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_MISSING_TENSOR,
                   "%s: no tensor \"features.conv0.weight\": not a torchvision DenseNet",
                   cxr_safetensors_get_origin (file));
      return NULL;
    }
  for (guint b = 1; b <= MAX_BLOCKS; b++)
    {
      guint l = 0;
      for (;; l++)
        {
          g_autofree gchar *name = g_strdup_printf ("features.denseblock%u.denselayer%u.conv1.weight", b, l + 1);
          g_autofree gchar *old = g_strdup_printf ("features.denseblock%u.denselayer%u.conv.1.weight", b, l + 1);
          gint64 unused;
          if (!dim_of (file, pre, name, old, 0, &unused))
            break;
        }
      if (l == 0)
        break;
      g_string_append_printf (blocks, "%s%u", blocks->len ? ", " : "", l);
    }
  if (!dim_of (file, pre, "features.conv0.weight", NULL, 0, &init) ||
      !dim_of (file, pre, "features.conv0.weight", NULL, 1, &in) ||
      !dim_of (file, pre, "classifier.weight", "classifier.0.weight", 0, &classes)) /* CheXNet: Sequential head */
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_MISSING_TENSOR, "%s: no tensor \"%s%s\"",
                   cxr_safetensors_get_origin (file), pre,
                   dim_of (file, pre, "features.conv0.weight", NULL, 1, &in) ? "classifier.weight"
                                                                              : "features.conv0.weight");
      return NULL;
    }
  if (blocks->len == 0 ||
      !dim_of (file, pre, "features.denseblock1.denselayer1.conv2.weight",
               "features.denseblock1.denselayer1.conv.2.weight", 0, &growth) ||
      !dim_of (file, pre, "features.denseblock1.denselayer1.conv1.weight",
               "features.denseblock1.denselayer1.conv.1.weight", 0, &bottleneck) ||
      growth <= 0 || bottleneck % growth != 0)
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_MISSING_TENSOR,
                   "%s: no tensor \"%sfeatures.denseblock1.denselayer1.conv1.weight\" and conv2 of a dense layer "
                   "(no dense blocks)", cxr_safetensors_get_origin (file), pre);
      return NULL;
    }
  *prefix = *pre ? g_steal_pointer (&pre) : NULL;
  return g_strdup_printf ("{\"growth_rate\": %" G_GINT64_FORMAT ", \"block_config\": [%s], \"num_init_features\": %"
                          G_GINT64_FORMAT ", \"bn_size\": %" G_GINT64_FORMAT ", \"num_classes\": %" G_GINT64_FORMAT
                          ", \"in_channels\": %" G_GINT64_FORMAT "}", growth, blocks->str, init, bottleneck / growth,
                          classes, in);
}

static gboolean
add_norm (CxrModel *model, const gchar *base, guint channels, GError **error)
{
  const gint64 shape[] = { channels };
  g_autofree gchar *w = g_strdup_printf ("%s.weight", base), *b = g_strdup_printf ("%s.bias", base);
  g_autofree gchar *m = g_strdup_printf ("%s.running_mean", base), *v = g_strdup_printf ("%s.running_var", base);

  return cxr_model_add_parameter (model, w, shape, 1, error) && cxr_model_add_parameter (model, b, shape, 1, error) &&
         cxr_model_add_buffer (model, m, shape, 1, error) && cxr_model_add_buffer (model, v, shape, 1, error);
}

static gboolean
add_conv (CxrModel *model, const gchar *name, guint out, guint in, guint k, GError **error)
{
  return cxr_model_add_parameter (model, name, (const gint64[]) { out, in, k, k }, 4, error);
}

static gboolean
cxr_densenet_configure (CxrModel *model, CxrConfig *config, GError **error)
{
  CxrDensenet *self = CXR_DENSENET (model);
  g_autofree gint64 *blocks = NULL;
  guint n_blocks = 0, channels;

  self->growth_rate = (guint) cxr_config_require_int (config, "growth_rate");
  self->bn_size = (guint) cxr_config_get_int (config, "bn_size", 4);
  self->init_features = (guint) cxr_config_require_int (config, "num_init_features");
  self->n_classes = (guint) cxr_config_require_int (config, "num_classes");
  self->in_channels = (guint) cxr_config_get_int (config, "in_channels", 3);
  blocks = cxr_config_get_int_list (config, "block_config", &n_blocks);
  cxr_config_ignore (config, (const gchar *const[]) { "drop_rate", "memory_efficient", NULL });
  if (blocks == NULL || n_blocks == 0 || n_blocks > MAX_BLOCKS)
    cxr_config_fail (config, "block_config", "a list of 1 to %d numbers of layers expected", MAX_BLOCKS);
  if (self->in_channels != 1 && self->in_channels != 3)
    cxr_config_fail (config, "in_channels", "%u: a radiograph has 1 channel (or 3, replicated)", self->in_channels);
  if (self->growth_rate == 0 || self->bn_size == 0 || self->init_features == 0 || self->n_classes == 0)
    cxr_config_fail (config, "growth_rate", "growth_rate, bn_size, num_init_features and num_classes must be positive");
  if (!cxr_config_check (config, error))
    return FALSE;
  self->n_blocks = n_blocks;
  if (!add_conv (model, "features.conv0.weight", self->init_features, self->in_channels, 7, error) ||
      !add_norm (model, "features.norm0", self->init_features, error))
    return FALSE;
  channels = self->init_features;
  for (guint b = 0; b < n_blocks; b++)
    {
      if (blocks[b] <= 0)
        {
          g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_CONFIG, "%s: block_config: %" G_GINT64_FORMAT
                       " layers in block %u", cxr_config_get_origin (config), blocks[b], b + 1);
          return FALSE;
        }
      self->layers[b] = (guint) blocks[b];
      for (guint l = 1; l <= self->layers[b]; l++)
        {
          guint in = channels + (l - 1) * self->growth_rate, mid = self->bn_size * self->growth_rate;
          g_autofree gchar *base = g_strdup_printf ("features.denseblock%u.denselayer%u", b + 1, l);
          g_autofree gchar *n1 = g_strdup_printf ("%s.norm1", base), *c1 = g_strdup_printf ("%s.conv1.weight", base);
          g_autofree gchar *n2 = g_strdup_printf ("%s.norm2", base), *c2 = g_strdup_printf ("%s.conv2.weight", base);
          if (!add_norm (model, n1, in, error) || !add_conv (model, c1, mid, in, 1, error) ||
              !add_norm (model, n2, mid, error) || !add_conv (model, c2, self->growth_rate, mid, 3, error))
            return FALSE;
        }
      channels += self->layers[b] * self->growth_rate;
      if (b + 1 < n_blocks)
        {
          g_autofree gchar *n = g_strdup_printf ("features.transition%u.norm", b + 1);
          g_autofree gchar *c = g_strdup_printf ("features.transition%u.conv.weight", b + 1);
          if (!add_norm (model, n, channels, error) || !add_conv (model, c, channels / 2, channels, 1, error))
            return FALSE;
          channels /= 2;
        }
    }
  self->features = channels;
  return add_norm (model, "features.norm5", channels, error) &&
         cxr_model_add_parameter (model, "classifier.weight", (const gint64[]) { self->n_classes, channels }, 2,
                                  error) &&
         cxr_model_add_parameter (model, "classifier.bias", (const gint64[]) { self->n_classes }, 1, error);
}

/* ------------------------------------------------------------- forward */

static CxrTensor *
param (CxrDensenet *self, const gchar *base, const gchar *part)
{
  g_autofree gchar *name = part ? g_strdup_printf ("%s.%s", base, part) : g_strdup (base);
  CxrTensor *t = cxr_model_get_parameter (CXR_MODEL (self), name);
  g_assert (t != NULL); /* declared by configure */
  return t;
}

/* relu (batch_norm (x)): the batch's statistics when training (the running
 * ones move), the running ones otherwise */
static CxrTensor *
norm_relu (CxrDensenet *self, CxrTape *tape, CxrTensor *x, const gchar *base, GError **error)
{
  g_autoptr (CxrTensor) y = NULL;

  if (tape != NULL)
    y = cxr_op_batch_norm_train (tape, x, param (self, base, "weight"), param (self, base, "bias"),
                                 param (self, base, "running_mean"), param (self, base, "running_var"), 0.1f, 1e-5f,
                                 error);
  else
    y = cxr_op_batch_norm (NULL, x, param (self, base, "running_mean"), param (self, base, "running_var"),
                           param (self, base, "weight"), param (self, base, "bias"), 1e-5f, error);
  return y ? cxr_op_relu (tape, y, error) : NULL;
}

static CxrTensor *
conv (CxrDensenet *self, CxrTape *tape, CxrTensor *x, const gchar *name, guint stride, guint padding, GError **error)
{
  return cxr_op_conv2d (tape, x, param (self, name, NULL), NULL, stride, padding, error);
}

/**
 * cxr_densenet_forward:
 * @self: a prepared model
 * @tape: (nullable): where to record, for training: batch norm then
 *   normalises with the batch's statistics and updates the running ones,
 *   as torch's train(); without a tape, the running statistics (eval())
 * @images: F32 [N, C, H, W], normalised as the network was trained
 * @features: (out) (optional) (transfer full): the pooled features [N, F]
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the logits [N, classes], or %NULL with @error set
 */
CxrTensor *
cxr_densenet_forward (CxrDensenet *self, CxrTape *tape, CxrTensor *images, CxrTensor **features, GError **error)
{
  g_autoptr (CxrTensor) x = NULL, y = NULL, pooled = NULL, flat = NULL;
  gint64 n = cxr_tensor_get_dim (images, 0);

  if (cxr_tensor_get_ndim (images) != 4 || cxr_tensor_get_dim (images, 1) != self->in_channels)
    {
      g_autofree gchar *what = cxr_tensor_describe (images);
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "densenet: images are %s; the network takes [N, %u, "
                   "H, W]", what, self->in_channels);
      return NULL;
    }
  if ((y = conv (self, tape, images, "features.conv0.weight", 2, 3, error)) == NULL ||
      (x = norm_relu (self, tape, y, "features.norm0", error)) == NULL)
    return NULL;
  g_clear_pointer (&y, cxr_tensor_unref);
  if ((y = cxr_op_max_pool2d_full (tape, x, 3, 2, 1, error)) == NULL) /* torchvision's stem */
    return NULL;
  g_clear_pointer (&x, cxr_tensor_unref);
  x = g_steal_pointer (&y);
  for (guint b = 1; b <= self->n_blocks; b++)
    {
      g_autoptr (GPtrArray) parts = g_ptr_array_new_with_free_func ((GDestroyNotify) cxr_tensor_unref);

      g_ptr_array_add (parts, g_steal_pointer (&x));
      for (guint l = 1; l <= self->layers[b - 1]; l++)
        {
          g_autofree gchar *base = g_strdup_printf ("features.denseblock%u.denselayer%u", b, l);
          g_autofree gchar *n1 = g_strdup_printf ("%s.norm1", base), *c1 = g_strdup_printf ("%s.conv1.weight", base);
          g_autofree gchar *n2 = g_strdup_printf ("%s.norm2", base), *c2 = g_strdup_printf ("%s.conv2.weight", base);
          g_autoptr (CxrTensor) in = NULL, a = NULL, c = NULL, d = NULL;
          CxrTensor *e;

          in = parts->len == 1 ? cxr_tensor_ref (g_ptr_array_index (parts, 0))
                               : cxr_op_concat (tape, (CxrTensor **) parts->pdata, parts->len, 1, error);
          if (in == NULL || (a = norm_relu (self, tape, in, n1, error)) == NULL ||
              (c = conv (self, tape, a, c1, 1, 0, error)) == NULL || (d = norm_relu (self, tape, c, n2, error)) == NULL ||
              (e = conv (self, tape, d, c2, 1, 1, error)) == NULL)
            return NULL;
          g_ptr_array_add (parts, e);
        }
      if ((x = cxr_op_concat (tape, (CxrTensor **) parts->pdata, parts->len, 1, error)) == NULL)
        return NULL;
      if (b < self->n_blocks)
        {
          g_autofree gchar *tn = g_strdup_printf ("features.transition%u.norm", b);
          g_autofree gchar *tc = g_strdup_printf ("features.transition%u.conv.weight", b);
          g_autoptr (CxrTensor) a = NULL, c = NULL;
          if ((a = norm_relu (self, tape, x, tn, error)) == NULL || (c = conv (self, tape, a, tc, 1, 0, error)) == NULL)
            return NULL;
          g_clear_pointer (&x, cxr_tensor_unref);
          if ((x = cxr_op_avg_pool2d (tape, c, 2, 2, error)) == NULL)
            return NULL;
        }
    }
  if ((y = norm_relu (self, tape, x, "features.norm5", error)) == NULL ||
      (pooled = cxr_op_adaptive_avg_pool2d (tape, y, 1, 1, error)) == NULL ||
      (flat = cxr_op_reshape (tape, pooled, (const gint64[]) { n, cxr_tensor_get_dim (pooled, 1) }, 2, error)) == NULL)
    return NULL;
  if (features != NULL)
    *features = cxr_tensor_ref (flat);
  return cxr_op_linear (tape, flat, param (self, "classifier.weight", NULL), param (self, "classifier.bias", NULL), error);
}

/**
 * cxr_densenet_get_in_channels:
 * @self: a prepared model
 *
 * Returns: the channels of the input: 3 (torchvision, CheXNet) or 1
 *   (torchxrayvision)
 */
guint
cxr_densenet_get_in_channels (CxrDensenet *self)
{
  return self->in_channels;
}

/**
 * cxr_densenet_get_n_classes:
 * @self: a prepared model
 *
 * Returns: the number of outputs (14 for a CheXpert classifier)
 */
guint
cxr_densenet_get_n_classes (CxrDensenet *self)
{
  return self->n_classes;
}

/**
 * cxr_densenet_parse_normalization:
 * @name: imagenet, half or xrv
 * @kind: (out): the normalisation
 * @error: return location for a #GError
 *
 * Returns: %TRUE, or %FALSE with @error naming the choices
 */
gboolean
cxr_densenet_parse_normalization (const gchar *name, CxrNormalization *kind, GError **error)
{
  const gchar *const names[] = { "imagenet", "half", "xrv", NULL };

  for (guint i = 0; names[i]; i++)
    if (g_strcmp0 (name, names[i]) == 0)
      {
        *kind = (CxrNormalization) i;
        return TRUE;
      }
  g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "normalize is imagenet, half or xrv (\"%s\")", name);
  return FALSE;
}

/**
 * cxr_densenet_normalize:
 * @self: a prepared model
 * @images: F32 [N, 1 or 3, H, W] in [0, 1]
 * @kind: the normalisation
 *
 * Returns: (transfer full): the images as the network takes them: its
 *   channels (gray replicated), normalised with ImageNet's mean and
 *   deviation, to [-1, 1], or to torchxrayvision's [-1024, 1024]
 */
CxrTensor *
cxr_densenet_normalize (CxrDensenet *self, CxrTensor *images, CxrNormalization kind)
{
  const gfloat mean[3] = { 0.485f, 0.456f, 0.406f }, std[3] = { 0.229f, 0.224f, 0.225f };
  gint64 n = cxr_tensor_get_dim (images, 0), h = cxr_tensor_get_dim (images, 2), w = cxr_tensor_get_dim (images, 3);
  guint from = (guint) cxr_tensor_get_dim (images, 1), channels = self->in_channels;
  gsize plane = (gsize) h * w;
  g_autoptr (CxrTensor) src = cxr_tensor_contiguous (images);
  CxrTensor *input = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { n, channels, h, w }, 4);
  const gfloat *s = cxr_tensor_get_data (src);
  gfloat *d = cxr_tensor_get_data (input);

  for (gint64 i = 0; i < n; i++)
    for (guint c = 0; c < channels; c++)
      for (gsize k = 0; k < plane; k++)
        {
          gfloat g = s[((gsize) i * from + (from == 3 ? c : 0)) * plane + k];
          d[((gsize) i * channels + c) * plane + k] = kind == CXR_NORMALIZATION_IMAGENET ? (g - mean[c % 3]) / std[c % 3]
                                                      : kind == CXR_NORMALIZATION_HALF ? (g - 0.5f) / 0.5f
                                                      : (2.0f * g - 1.0f) * 1024.0f;
        }
  return input;
}

/* As an image encoder: bilinear to 224x224, ImageNet's normalisation for
 * 3 channels, torchxrayvision's for one, the pooled features. */
static CxrTensor *
cxr_densenet_embed (CxrImageEncoder *encoder, CxrTensor *images, GError **error)
{
  CxrDensenet *self = CXR_DENSENET (encoder);
  g_autoptr (CxrTensor) sized = NULL, input = NULL, logits = NULL, features = NULL;

  if ((sized = cxr_op_resize_bilinear (NULL, images, 224, 224, error)) == NULL)
    return NULL;
  input = cxr_densenet_normalize (self, sized, self->in_channels == 3 ? CXR_NORMALIZATION_IMAGENET
                                                                      : CXR_NORMALIZATION_XRV);
  if ((logits = cxr_densenet_forward (self, NULL, input, &features, error)) == NULL)
    return NULL;
  return g_steal_pointer (&features);
}

static guint
cxr_densenet_get_embedding_width (CxrImageEncoder *encoder)
{
  return CXR_DENSENET (encoder)->features;
}

static void
cxr_densenet_encoder_init (CxrImageEncoderInterface *iface)
{
  iface->embed = cxr_densenet_embed;
  iface->get_embedding_width = cxr_densenet_get_embedding_width;
}

/* The harness's view: pixel_values (already normalised) to logits and the
 * pooled features; with a tape, batch norm trains (see
 * cxr_densenet_forward()). */
static GHashTable *
cxr_densenet_run (CxrModel *model, CxrTape *tape, GHashTable *inputs, GError **error)
{
  CxrDensenet *self = CXR_DENSENET (model);
  g_autoptr (CxrTensor) pixels = NULL, logits = NULL, features = NULL;
  GHashTable *out;

  if ((pixels = cxr_model_take_input (model, inputs, "pixel_values", CXR_DTYPE_F32, 4, error)) == NULL ||
      (logits = cxr_densenet_forward (self, tape, pixels, &features, error)) == NULL)
    return NULL;
  out = cxr_model_new_tensor_table ();
  g_hash_table_insert (out, g_strdup ("logits"), g_steal_pointer (&logits));
  g_hash_table_insert (out, g_strdup ("pooler_output"), g_steal_pointer (&features));
  return out;
}

static GHashTable *
cxr_densenet_example_inputs (CxrModel *model, guint batch, guint64 seed, GError **error)
{
  GHashTable *out = cxr_model_new_tensor_table ();
  gint64 shape[4] = { batch, CXR_DENSENET (model)->in_channels, 224, 224 };

  g_hash_table_insert (out, g_strdup ("pixel_values"), cxr_tensor_new_randn (shape, 4, seed, 0));
  return out;
}

static void
cxr_densenet_class_init (CxrDensenetClass *klass)
{
  CxrModelClass *model_class = CXR_MODEL_CLASS (klass);
  static const gchar *const inputs[] = { "pixel_values", NULL };
  static const gchar *const outputs[] = { "logits", "pooler_output", NULL };
  /* torchvision's counters, torchxrayvision's thresholds */
  static const gchar *const ignored[] = { "*num_batches_tracked", "op_threshs", "upsample.*", NULL };
  /* CheXNet's Sequential head, and the names of torchvision before 0.4 */
  static const gchar *const aliases[] = { "classifier.weight", "classifier.0.weight",
                                          "classifier.bias", "classifier.0.bias",
                                          ".norm1.", ".norm.1.", ".norm2.", ".norm.2.",
                                          ".conv1.", ".conv.1.", ".conv2.", ".conv.2.", NULL };

  model_class->configure = cxr_densenet_configure;
  model_class->infer_config = cxr_densenet_infer_config;
  model_class->forward = cxr_densenet_run;
  model_class->example_inputs = cxr_densenet_example_inputs;
  model_class->description = "DenseNet as torchvision and torchxrayvision build it (CheXNet); architecture read "
                             "from the weights, or a config.json of torchvision's arguments";
  model_class->required_inputs = inputs;
  model_class->outputs = outputs;
  model_class->default_config = "{\"growth_rate\": 32, \"block_config\": [6, 12, 24, 16], \"num_init_features\": 64, "
                                "\"bn_size\": 4, \"num_classes\": 14, \"in_channels\": 3}";
  model_class->ignored_tensors = ignored;
  model_class->tensor_aliases = aliases;
}

static void
cxr_densenet_init (CxrDensenet *self)
{
}

/* ------------------------------------------------------------- classify */

struct _CxrClassify {
  CxrStage parent_instance;
  CxrModel *model;
  gchar *image_field, *scores_field, *activation, *normalize;
  CxrNormalization normalize_kind; /* resolved from normalize by prepare */
};

enum { P_0, P_MODEL, P_IMAGE_FIELD, P_SCORES_FIELD, P_ACTIVATION, P_NORMALIZE, N_P };
static GParamSpec *props[N_P];

G_DEFINE_FINAL_TYPE (CxrClassify, cxr_classify, CXR_TYPE_STAGE)

static gboolean
cxr_classify_prepare (CxrStage *stage, GError **error)
{
  CxrClassify *self = CXR_CLASSIFY (stage);

  if (self->model == NULL || !CXR_IS_DENSENET (self->model))
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "model: set model=NAME, a [model NAME] of "
                   "type densenet");
      return FALSE;
    }
  if (!g_strv_contains ((const gchar *const[]) { "sigmoid", "none", NULL }, self->activation ? self->activation : ""))
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "activation is sigmoid or none (\"%s\")",
                   self->activation);
      return FALSE;
    }
  return cxr_densenet_parse_normalization (self->normalize, &self->normalize_kind, error) &&
         cxr_model_prepare (self->model, error);
}

static gboolean
cxr_classify_transform (CxrStage *stage, CxrBatch *batch, GError **error)
{
  CxrClassify *self = CXR_CLASSIFY (stage);
  CxrDensenet *model = CXR_DENSENET (self->model);
  guint n = cxr_batch_get_size (batch);
  g_autoptr (CxrTensor) images = NULL, input = NULL, logits = NULL, scores = NULL;

  if ((images = cxr_batch_get_images (batch, self->image_field, error)) == NULL)
    return FALSE;
  if (n == 0)
    return TRUE;
  input = cxr_densenet_normalize (model, images, self->normalize_kind);
  if ((logits = cxr_densenet_forward (model, NULL, input, NULL, error)) == NULL)
    return FALSE;
  if (g_str_equal (self->activation, "sigmoid"))
    scores = cxr_op_sigmoid (NULL, logits, error);
  else
    scores = cxr_tensor_ref (logits);
  if (scores == NULL)
    return FALSE;
  cxr_batch_set_floats (batch, self->scores_field, model->n_classes, cxr_tensor_get_data (scores),
                        (gsize) n * model->n_classes);
  return TRUE;
}

static gchar **
cxr_classify_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  CxrClassify *self = CXR_CLASSIFY (stage);
  return g_strsplit (direction == CXR_PORT_INPUT ? self->image_field : self->scores_field, ",", -1);
}

static gchar **
string_slot (CxrClassify *self, guint id)
{
  return id == P_IMAGE_FIELD ? &self->image_field : id == P_SCORES_FIELD ? &self->scores_field
         : id == P_ACTIVATION ? &self->activation : id == P_NORMALIZE ? &self->normalize : NULL;
}

static void
cxr_classify_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrClassify *self = CXR_CLASSIFY (object);
  gchar **slot = string_slot (self, id);
  if (slot != NULL)
    {
      g_free (*slot);
      *slot = g_value_dup_string (value);
    }
  else if (id == P_MODEL)
    g_set_object (&self->model, g_value_get_object (value));
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
cxr_classify_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrClassify *self = CXR_CLASSIFY (object);
  gchar **slot = string_slot (self, id);
  if (slot != NULL)
    g_value_set_string (value, *slot);
  else if (id == P_MODEL)
    g_value_set_object (value, self->model);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
cxr_classify_dispose (GObject *object)
{
  g_clear_object (&CXR_CLASSIFY (object)->model);
  G_OBJECT_CLASS (cxr_classify_parent_class)->dispose (object);
}

static void
cxr_classify_finalize (GObject *object)
{
  CxrClassify *self = CXR_CLASSIFY (object);
  g_free (self->image_field);
  g_free (self->scores_field);
  g_free (self->activation);
  g_free (self->normalize);
  G_OBJECT_CLASS (cxr_classify_parent_class)->finalize (object);
}

static void
cxr_classify_class_init (CxrClassifyClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_classify_set_property;
  object_class->get_property = cxr_classify_get_property;
  object_class->dispose = cxr_classify_dispose;
  object_class->finalize = cxr_classify_finalize;
  stage_class->prepare = cxr_classify_prepare;
  stage_class->transform = cxr_classify_transform;
  stage_class->get_port_fields = cxr_classify_get_port_fields;
  props[P_MODEL] = g_param_spec_object ("model", "Model", "The classifier (a densenet model)",
                                        CXR_TYPE_IMAGE_ENCODER, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  props[P_IMAGE_FIELD] = g_param_spec_string ("image-field", "Image field", "The float field of the images, gray in "
                                              "[0, 1]", "image", flags);
  props[P_SCORES_FIELD] = g_param_spec_string ("scores-field", "Scores field", "The float field to write the scores "
                                               "to", "scores", flags);
  props[P_ACTIVATION] = g_param_spec_string ("activation", "Activation", "sigmoid (probabilities) or none (logits)",
                                             "sigmoid", flags);
  props[P_NORMALIZE] = g_param_spec_string ("normalize", "Normalize", "imagenet (torchvision's mean and deviation), "
                                            "half (to [-1, 1]) or xrv (torchxrayvision's [-1024, 1024])", "imagenet", flags);
  g_object_class_install_properties (object_class, N_P, props);
  cxr_stage_class_set_metadata (stage_class, "Classify", "Filter/Classifier",
                                "Scores each image's findings with a DenseNet classifier", "The cxrgen developers");
  cxr_stage_class_add_input (stage_class, "in", "image", "Samples with images");
  cxr_stage_class_add_output (stage_class, "out", "scores", TRUE, "The same batches, with the scores");
}

static void
cxr_classify_init (CxrClassify *self)
{
}
