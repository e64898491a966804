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

typedef struct {
  CxrTensor *weight, *bias, *mean, *var;
} Norm;

typedef enum { NORMALIZE_IMAGENET, NORMALIZE_HALF, NORMALIZE_XRV } Normalize;

struct _CxrDensenet {
  CxrModel parent_instance;
  GHashTable *tensors; /* name without the prefix -> F32 tensor */
  guint n_blocks;
  guint layers[16];
  guint n_classes;
  guint in_channels; /* 3 (torchvision, CheXNet) or 1 (torchxrayvision) */
};

static void cxr_densenet_encoder_init (CxrImageEncoderInterface *iface);
G_DEFINE_FINAL_TYPE_WITH_CODE (CxrDensenet, cxr_densenet, CXR_TYPE_MODEL,
                               G_IMPLEMENT_INTERFACE (CXR_TYPE_IMAGE_ENCODER, cxr_densenet_encoder_init))

static CxrTensor *
param (CxrDensenet *self, const gchar *name)
{
  return g_hash_table_lookup (self->tensors, name);
}

static gboolean
norm_of (CxrDensenet *self, const gchar *base, Norm *norm, GError **error)
{
  const gchar *parts[] = { "weight", "bias", "running_mean", "running_var" };
  CxrTensor **slots[] = { &norm->weight, &norm->bias, &norm->mean, &norm->var };

  for (guint i = 0; i < 4; i++)
    {
      g_autofree gchar *name = g_strdup_printf ("%s.%s", base, parts[i]);
      if ((*slots[i] = param (self, name)) == NULL)
        {
          g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_MISSING_TENSOR, "%s: no tensor \"%s\"",
                       cxr_model_get_weights (CXR_MODEL (self)), name);
          return FALSE;
        }
    }
  return TRUE;
}

static CxrTensor *
need (CxrDensenet *self, const gchar *name, guint ndim, GError **error)
{
  CxrTensor *t = param (self, name);
  if (t == NULL || cxr_tensor_get_ndim (t) != ndim)
    {
      g_set_error (error, CXR_MODEL_ERROR, t ? CXR_MODEL_ERROR_SHAPE_MISMATCH : CXR_MODEL_ERROR_MISSING_TENSOR,
                   "%s: %s \"%s\" (%u dimensions expected)",
                   cxr_model_get_weights (CXR_MODEL (self)), t ? "a misshapen tensor" : "no tensor", name, ndim);
      return NULL;
    }
  return t;
}

static gboolean
cxr_densenet_load (CxrModel *model, GError **error)
{
  CxrDensenet *self = CXR_DENSENET (model);
  const gchar *path = cxr_model_get_weights (model);
  g_autoptr (CxrSafetensors) file = NULL;
  g_auto (GStrv) names = NULL;
  g_autofree gchar *prefix = NULL, *in_folder = NULL;
  CxrTensor *fc;

  if (path == NULL || *path == '\0')
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_CONFIG, "no weights: set weights=FILE.safetensors");
      return FALSE;
    }
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    path = in_folder = g_build_filename (path, "model.safetensors", NULL);
  if ((file = cxr_safetensors_open (path, error)) == NULL)
    return FALSE;
  names = cxr_safetensors_list_names (file);
  for (guint i = 0; names[i] && prefix == NULL; i++)
    if (g_str_has_suffix (names[i], "features.conv0.weight"))
      prefix = g_strndup (names[i], strlen (names[i]) - strlen ("features.conv0.weight"));
  if (prefix == NULL)
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_MISSING_TENSOR,
                   "%s: no tensor \"features.conv0.weight\": not a torchvision DenseNet", path);
      return FALSE;
    }
  for (guint i = 0; names[i]; i++)
    {
      g_autoptr (CxrTensor) raw = NULL;
      CxrTensor *f32;
      if (!g_str_has_prefix (names[i], prefix) || g_str_has_suffix (names[i], "num_batches_tracked"))
        continue;
      if ((raw = cxr_safetensors_get_tensor (file, names[i], error)) == NULL ||
          (f32 = cxr_tensor_to_dtype (raw, CXR_DTYPE_F32, error)) == NULL)
        return FALSE;
      g_hash_table_replace (self->tensors, g_strdup (names[i] + strlen (prefix)), f32);
    }
  /* the architecture, from the names */
  self->n_blocks = 0;
  for (guint b = 1; b <= G_N_ELEMENTS (self->layers); b++)
    {
      g_autofree gchar *first = g_strdup_printf ("features.denseblock%u.denselayer1.conv1.weight", b);
      guint l = 0;
      if (param (self, first) == NULL)
        break;
      for (;;)
        {
          g_autofree gchar *next = g_strdup_printf ("features.denseblock%u.denselayer%u.conv1.weight", b, l + 1);
          if (param (self, next) == NULL)
            break;
          l++;
        }
      self->layers[self->n_blocks++] = l;
    }
  if (self->n_blocks == 0)
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_MISSING_TENSOR,
                   "%s: no tensor \"features.denseblock1.denselayer1.conv1.weight\": no dense blocks", path);
      return FALSE;
    }
  if (need (self, "features.conv0.weight", 4, error) == NULL || (fc = need (self, "classifier.weight", 2, error)) == NULL ||
      need (self, "classifier.bias", 1, error) == NULL)
    return FALSE;
  self->n_classes = (guint) cxr_tensor_get_dim (fc, 0);
  self->in_channels = (guint) cxr_tensor_get_dim (param (self, "features.conv0.weight"), 1);
  if (self->in_channels != 1 && self->in_channels != 3)
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_SHAPE_MISMATCH,
                   "%s: features.conv0.weight takes %u channels; a radiograph has 1 (or 3, replicated)", path,
                   self->in_channels);
      return FALSE;
    }
  return TRUE;
}

/* relu (batch_norm (x)) */
static CxrTensor *
norm_relu (CxrDensenet *self, CxrTensor *x, const gchar *base, GError **error)
{
  Norm n;
  g_autoptr (CxrTensor) y = NULL;

  if (!norm_of (self, base, &n, error) ||
      (y = cxr_op_batch_norm (NULL, x, n.mean, n.var, n.weight, n.bias, 1e-5f, error)) == NULL)
    return NULL;
  return cxr_op_relu (NULL, y, error);
}

static CxrTensor *
conv (CxrDensenet *self, CxrTensor *x, const gchar *name, guint stride, guint padding, GError **error)
{
  CxrTensor *w = need (self, name, 4, error);
  return w ? cxr_op_conv2d (NULL, x, w, NULL, stride, padding, error) : NULL;
}

/**
 * cxr_densenet_forward:
 * @self: a loaded model
 * @images: F32 [N, 3, H, W], normalised as the network was trained
 * @features: (out) (optional) (transfer full): the pooled features [N, C]
 * @error: return location for a #GError
 *
 * Runs the network without recording anything.
 *
 * Returns: (transfer full): the logits [N, classes], or %NULL with @error set
 */
CxrTensor *
cxr_densenet_forward (CxrDensenet *self, CxrTensor *images, CxrTensor **features, GError **error)
{
  g_autoptr (CxrTensor) x = NULL, y = NULL, pooled = NULL, flat = NULL;
  gint64 n = cxr_tensor_get_dim (images, 0);

  if ((y = conv (self, images, "features.conv0.weight", 2, 3, error)) == NULL ||
      (x = norm_relu (self, y, "features.norm0", error)) == NULL)
    return NULL;
  g_clear_pointer (&y, cxr_tensor_unref);
  if ((y = cxr_op_max_pool2d_full (NULL, x, 3, 2, 1, error)) == NULL) /* torchvision's stem */
    return NULL;
  g_clear_pointer (&x, cxr_tensor_unref);
  x = g_steal_pointer (&y);
  for (guint b = 1; b <= self->n_blocks; b++)
    {
      g_autoptr (GPtrArray) parts = g_ptr_array_new_with_free_func ((GDestroyNotify) cxr_tensor_unref);
      g_autofree gchar *transition = g_strdup_printf ("features.transition%u.conv.weight", b);

      g_ptr_array_add (parts, g_steal_pointer (&x));
      for (guint l = 1; l <= self->layers[b - 1]; l++)
        {
          g_autofree gchar *base = g_strdup_printf ("features.denseblock%u.denselayer%u", b, l);
          g_autofree gchar *n1 = g_strdup_printf ("%s.norm1", base), *c1 = g_strdup_printf ("%s.conv1.weight", base);
          g_autofree gchar *n2 = g_strdup_printf ("%s.norm2", base), *c2 = g_strdup_printf ("%s.conv2.weight", base);
          g_autoptr (CxrTensor) in = NULL, a = NULL, c = NULL, d = NULL;
          CxrTensor *e;

          in = parts->len == 1 ? cxr_tensor_ref (g_ptr_array_index (parts, 0))
                               : cxr_op_concat (NULL, (CxrTensor **) parts->pdata, parts->len, 1, error);
          if (in == NULL || (a = norm_relu (self, in, n1, error)) == NULL ||
              (c = conv (self, a, c1, 1, 0, error)) == NULL || (d = norm_relu (self, c, n2, error)) == NULL ||
              (e = conv (self, d, c2, 1, 1, error)) == NULL)
            return NULL;
          g_ptr_array_add (parts, e);
        }
      if ((x = cxr_op_concat (NULL, (CxrTensor **) parts->pdata, parts->len, 1, error)) == NULL)
        return NULL;
      if (param (self, transition) != NULL)
        {
          g_autofree gchar *tn = g_strdup_printf ("features.transition%u.norm", b);
          g_autoptr (CxrTensor) a = NULL, c = NULL;
          if ((a = norm_relu (self, x, tn, error)) == NULL || (c = conv (self, a, transition, 1, 0, error)) == NULL)
            return NULL;
          g_clear_pointer (&x, cxr_tensor_unref);
          if ((x = cxr_op_avg_pool2d (NULL, c, 2, 2, error)) == NULL)
            return NULL;
        }
    }
  if ((y = norm_relu (self, x, "features.norm5", error)) == NULL ||
      (pooled = cxr_op_adaptive_avg_pool2d (NULL, y, 1, 1, error)) == NULL ||
      (flat = cxr_op_reshape (NULL, pooled, (const gint64[]) { n, cxr_tensor_get_dim (pooled, 1) }, 2, error)) == NULL)
    return NULL;
  if (features != NULL)
    *features = cxr_tensor_ref (flat);
  return cxr_op_linear (NULL, flat, param (self, "classifier.weight"), param (self, "classifier.bias"), error);
}

/**
 * cxr_densenet_get_in_channels:
 * @self: a loaded model
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
 * @self: a loaded model
 *
 * Returns: the number of outputs (14 for a CheXpert classifier)
 */
guint
cxr_densenet_get_n_classes (CxrDensenet *self)
{
  return self->n_classes;
}

/* Images [N, 1 or 3, H, W] in [0, 1] as the network takes them: its
 * channels (gray replicated), normalised with ImageNet's mean and
 * deviation, to [-1, 1], or to torchxrayvision's [-1024, 1024]. */
static CxrTensor *
network_input (CxrDensenet *self, CxrTensor *images, Normalize kind)
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
          d[((gsize) i * channels + c) * plane + k] = kind == NORMALIZE_IMAGENET ? (g - mean[c % 3]) / std[c % 3]
                                                      : kind == NORMALIZE_HALF ? (g - 0.5f) / 0.5f
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
  input = network_input (self, sized, self->in_channels == 3 ? NORMALIZE_IMAGENET : NORMALIZE_XRV);
  if ((logits = cxr_densenet_forward (self, input, &features, error)) == NULL)
    return NULL;
  return g_steal_pointer (&features);
}

static guint
cxr_densenet_get_embedding_width (CxrImageEncoder *encoder)
{
  CxrTensor *norm = param (CXR_DENSENET (encoder), "features.norm5.weight");
  return norm ? (guint) cxr_tensor_get_dim (norm, 0) : 0;
}

static void
cxr_densenet_encoder_init (CxrImageEncoderInterface *iface)
{
  iface->embed = cxr_densenet_embed;
  iface->get_embedding_width = cxr_densenet_get_embedding_width;
}

static void
cxr_densenet_finalize (GObject *object)
{
  g_hash_table_unref (CXR_DENSENET (object)->tensors);
  G_OBJECT_CLASS (cxr_densenet_parent_class)->finalize (object);
}

/* The harness's view: pixel_values (already normalised) to logits and
 * the pooled features. Inference only: batch norm uses running stats. */
static GHashTable *
cxr_densenet_run (CxrModel *model, CxrTape *tape, GHashTable *inputs, GError **error)
{
  CxrDensenet *self = CXR_DENSENET (model);
  g_autoptr (CxrTensor) pixels = NULL, logits = NULL, features = NULL;
  GHashTable *out;

  if ((pixels = cxr_model_take_input (model, inputs, "pixel_values", CXR_DTYPE_F32, 4, error)) == NULL)
    return NULL;
  if (cxr_tensor_get_dim (pixels, 1) != self->in_channels)
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "densenet: pixel_values has %" G_GINT64_FORMAT
                   " channels; the network takes %u", cxr_tensor_get_dim (pixels, 1), self->in_channels);
      return NULL;
    }
  if ((logits = cxr_densenet_forward (self, pixels, &features, error)) == NULL)
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

  G_OBJECT_CLASS (klass)->finalize = cxr_densenet_finalize;
  model_class->load = cxr_densenet_load;
  model_class->forward = cxr_densenet_run;
  model_class->example_inputs = cxr_densenet_example_inputs;
  model_class->description = "DenseNet as torchvision and torchxrayvision build it (CheXNet); inference, "
                             "architecture read from the weights";
  model_class->required_inputs = inputs;
  model_class->outputs = outputs;
}

static void
cxr_densenet_init (CxrDensenet *self)
{
  self->tensors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) cxr_tensor_unref);
}

/* ------------------------------------------------------------- classify */

struct _CxrClassify {
  CxrStage parent_instance;
  CxrModel *model;
  gchar *image_field, *scores_field, *activation, *normalize;
  Normalize normalize_kind; /* resolved from normalize by prepare */
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
  if (!g_strv_contains ((const gchar *const[]) { "sigmoid", "none", NULL }, self->activation ? self->activation : "") ||
      !g_strv_contains ((const gchar *const[]) { "imagenet", "half", "xrv", NULL }, self->normalize ? self->normalize : ""))
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "activation is sigmoid or none (\"%s\"); "
                   "normalize is imagenet, half or xrv (\"%s\")", self->activation, self->normalize);
      return FALSE;
    }
  self->normalize_kind = g_str_equal (self->normalize, "imagenet") ? NORMALIZE_IMAGENET
                        : g_str_equal (self->normalize, "half") ? NORMALIZE_HALF : NORMALIZE_XRV;
  return cxr_model_prepare (self->model, error);
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
  input = network_input (model, images, self->normalize_kind);
  if ((logits = cxr_densenet_forward (model, input, NULL, error)) == NULL)
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
