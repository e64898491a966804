/* plugins/inception/cxrinception.c: Inception-v3 as FID computes with it.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "cxrinception.h"

/**
 * SECTION:inception
 *
 * The `inception-v3` model is the network behind the Frechet inception
 * distance: Inception-v3 (Szegedy et al., 2016) in the variant pytorch-fid
 * builds around the weights of the original TensorFlow FID code
 * (pt_inception-2015-12-05-6726825d.pth), so FIDs compare with published
 * tables. Its output is the 2048-d average-pooled feature of Mixed_7c.
 *
 * The tensor names are torchvision's (Conv2d_1a_3x3.conv.weight,
 * Conv2d_1a_3x3.bn.{weight,bias,running_mean,running_var}, Mixed_5b ...
 * Mixed_7c, each BasicConv2d a bias-free convolution, batch norm with eps
 * 0.001 and ReLU). The classifier (fc.*) and torchvision's AuxLogits.* are
 * in the checkpoints and not used. The variant differs from torchvision's
 * ImageNet network only in its pooling: the average pools of Mixed_5*,
 * Mixed_6b-e and Mixed_7b leave the padding out of the mean
 * (count_include_pad=False), and Mixed_7c pools with a 3x3 maximum. A
 * config.json with {"variant": "torchvision"} selects torchvision's
 * pooling instead (its IMAGENET1K_V1 weights); without one the FID
 * variant is used.
 *
 * Converting the public checkpoint, once, where PyTorch is installed:
 *
 * |[
 * $ python3 tools/pth-to-safetensors.py pt_inception-2015-12-05-6726825d.pth pt_inception.safetensors
 * ]|
 *
 * As an image encoder (cxr_image_encoder_embed(), the `image-features`
 * stage, `cxrgen metrics fid --real DIR`) it takes images in [0, 1] of
 * any size, gray ones replicated to RGB, resizes them bilinearly to
 * 299x299 (align_corners=False, no antialiasing) and maps them to
 * [-1, 1], as pytorch-fid does.
 */

/* How a BasicConv2d (a convolution without bias, batch norm, ReLU)
 * slides; its sizes are those of its weight. */
typedef struct {
  guint stride, pad_h, pad_w;
} Conv;

struct _CxrInception {
  CxrModel parent_instance;
  GHashTable *convs; /* name -> Conv */
  gboolean fid_pools;
};

static void cxr_inception_encoder_init (CxrImageEncoderInterface *iface);
G_DEFINE_FINAL_TYPE_WITH_CODE (CxrInception, cxr_inception, CXR_TYPE_MODEL,
                               G_IMPLEMENT_INTERFACE (CXR_TYPE_IMAGE_ENCODER, cxr_inception_encoder_init))

#define FEATURES 2048
#define INPUT_SIZE 299

/* ---------------------------------------------------------- the layout */

static gboolean
declare (CxrInception *self, const gchar *block, const gchar *branch, guint in, guint out, guint kh, guint kw,
         guint stride, guint pad_h, guint pad_w, GError **error)
{
  CxrModel *model = CXR_MODEL (self);
  g_autofree gchar *name = branch ? g_strdup_printf ("%s.%s", block, branch) : g_strdup (block);
  g_autofree gchar *w = g_strdup_printf ("%s.conv.weight", name);
  const gchar *parts[] = { "weight", "bias", "running_mean", "running_var" };
  Conv *conv = g_new (Conv, 1);

  *conv = (Conv) { stride, pad_h, pad_w };
  g_hash_table_replace (self->convs, g_strdup (name), conv);
  if (!cxr_model_add_parameter (model, w, (const gint64[]) { out, in, kh, kw }, 4, error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
    {
      g_autofree gchar *p = g_strdup_printf ("%s.bn.%s", name, parts[i]);
      if (!cxr_model_add_parameter (model, p, (const gint64[]) { out }, 1, error))
        return FALSE;
    }
  return TRUE;
}

/* square kernels, padding k / 2 when asked */
#define SQ(block, branch, in, out, k, stride, pad) \
  declare (self, block, branch, in, out, k, k, stride, pad, pad, error)
/* 1xk then kx1 (or the reverse): "same" padding along the long side */
#define ROW(block, branch, in, out, k) declare (self, block, branch, in, out, 1, k, 1, 0, (k) / 2, error)
#define COL(block, branch, in, out, k) declare (self, block, branch, in, out, k, 1, 1, (k) / 2, 0, error)

/* InceptionA: 64 + 64 + 96 + pool_features channels */
static gboolean
declare_a (CxrInception *self, const gchar *b, guint in, guint pool_features, GError **error)
{
  return SQ (b, "branch1x1", in, 64, 1, 1, 0) && SQ (b, "branch5x5_1", in, 48, 1, 1, 0) &&
         SQ (b, "branch5x5_2", 48, 64, 5, 1, 2) && SQ (b, "branch3x3dbl_1", in, 64, 1, 1, 0) &&
         SQ (b, "branch3x3dbl_2", 64, 96, 3, 1, 1) && SQ (b, "branch3x3dbl_3", 96, 96, 3, 1, 1) &&
         SQ (b, "branch_pool", in, pool_features, 1, 1, 0);
}

/* InceptionB (Mixed_6a): 384 + 96 + in channels, halved size */
static gboolean
declare_b (CxrInception *self, const gchar *b, guint in, GError **error)
{
  return SQ (b, "branch3x3", in, 384, 3, 2, 0) && SQ (b, "branch3x3dbl_1", in, 64, 1, 1, 0) &&
         SQ (b, "branch3x3dbl_2", 64, 96, 3, 1, 1) && SQ (b, "branch3x3dbl_3", 96, 96, 3, 2, 0);
}

/* InceptionC: 4 x 192 channels, factorised 7x7 convolutions */
static gboolean
declare_c (CxrInception *self, const gchar *b, guint in, guint c7, GError **error)
{
  return SQ (b, "branch1x1", in, 192, 1, 1, 0) && SQ (b, "branch7x7_1", in, c7, 1, 1, 0) &&
         ROW (b, "branch7x7_2", c7, c7, 7) && COL (b, "branch7x7_3", c7, 192, 7) &&
         SQ (b, "branch7x7dbl_1", in, c7, 1, 1, 0) && COL (b, "branch7x7dbl_2", c7, c7, 7) &&
         ROW (b, "branch7x7dbl_3", c7, c7, 7) && COL (b, "branch7x7dbl_4", c7, c7, 7) &&
         ROW (b, "branch7x7dbl_5", c7, 192, 7) && SQ (b, "branch_pool", in, 192, 1, 1, 0);
}

/* InceptionD (Mixed_7a): 320 + 192 + in channels, halved size */
static gboolean
declare_d (CxrInception *self, const gchar *b, guint in, GError **error)
{
  return SQ (b, "branch3x3_1", in, 192, 1, 1, 0) && SQ (b, "branch3x3_2", 192, 320, 3, 2, 0) &&
         SQ (b, "branch7x7x3_1", in, 192, 1, 1, 0) && ROW (b, "branch7x7x3_2", 192, 192, 7) &&
         COL (b, "branch7x7x3_3", 192, 192, 7) && SQ (b, "branch7x7x3_4", 192, 192, 3, 2, 0);
}

/* InceptionE: 320 + 768 + 768 + 192 = 2048 channels */
static gboolean
declare_e (CxrInception *self, const gchar *b, guint in, GError **error)
{
  return SQ (b, "branch1x1", in, 320, 1, 1, 0) && SQ (b, "branch3x3_1", in, 384, 1, 1, 0) &&
         ROW (b, "branch3x3_2a", 384, 384, 3) && COL (b, "branch3x3_2b", 384, 384, 3) &&
         SQ (b, "branch3x3dbl_1", in, 448, 1, 1, 0) && SQ (b, "branch3x3dbl_2", 448, 384, 3, 1, 1) &&
         ROW (b, "branch3x3dbl_3a", 384, 384, 3) && COL (b, "branch3x3dbl_3b", 384, 384, 3) &&
         SQ (b, "branch_pool", in, 192, 1, 1, 0);
}

static gboolean
cxr_inception_configure (CxrModel *model, CxrConfig *config, GError **error)
{
  CxrInception *self = CXR_INCEPTION (model);
  const gchar *variant = cxr_config_get_string (config, "variant", "fid");

  if (!g_str_equal (variant, "fid") && !g_str_equal (variant, "torchvision"))
    cxr_config_fail (config, "variant", "\"%s\": fid (pytorch-fid's pools) or torchvision", variant);
  /* what torchvision's configs and our converter may carry */
  cxr_config_ignore (config, (const gchar *const[]) { "num_classes", "aux_logits", "transform_input", NULL });
  if (!cxr_config_check (config, error))
    return FALSE;
  self->fid_pools = g_str_equal (variant, "fid");
  g_hash_table_remove_all (self->convs);
  return SQ ("Conv2d_1a_3x3", NULL, 3, 32, 3, 2, 0) && SQ ("Conv2d_2a_3x3", NULL, 32, 32, 3, 1, 0) &&
         SQ ("Conv2d_2b_3x3", NULL, 32, 64, 3, 1, 1) && SQ ("Conv2d_3b_1x1", NULL, 64, 80, 1, 1, 0) &&
         SQ ("Conv2d_4a_3x3", NULL, 80, 192, 3, 1, 0) && declare_a (self, "Mixed_5b", 192, 32, error) &&
         declare_a (self, "Mixed_5c", 256, 64, error) && declare_a (self, "Mixed_5d", 288, 64, error) &&
         declare_b (self, "Mixed_6a", 288, error) && declare_c (self, "Mixed_6b", 768, 128, error) &&
         declare_c (self, "Mixed_6c", 768, 160, error) && declare_c (self, "Mixed_6d", 768, 160, error) &&
         declare_c (self, "Mixed_6e", 768, 192, error) && declare_d (self, "Mixed_7a", 768, error) &&
         declare_e (self, "Mixed_7b", 1280, error) && declare_e (self, "Mixed_7c", 2048, error);
}

#undef SQ
#undef ROW
#undef COL

/* ------------------------------------------------------------- forward */

static CxrTensor *
param (CxrInception *self, const gchar *name, const gchar *part)
{
  g_autofree gchar *full = g_strdup_printf ("%s.%s", name, part);
  return cxr_model_get_parameter (CXR_MODEL (self), full);
}

/* relu (bn (conv (x))) of the BasicConv2d NAME ("Mixed_5b.branch1x1") */
static CxrTensor *
basic (CxrInception *self, CxrTensor *x, const gchar *block, const gchar *branch, GError **error)
{
  g_autofree gchar *name = branch ? g_strdup_printf ("%s.%s", block, branch) : g_strdup (block);
  const Conv *c = g_hash_table_lookup (self->convs, name);
  g_autoptr (CxrTensor) y = NULL, z = NULL;

  g_assert (c != NULL);
  if ((y = cxr_op_conv2d_full (NULL, x, param (self, name, "conv.weight"), NULL, c->stride, c->pad_h, c->pad_w,
                               error)) == NULL ||
      (z = cxr_op_batch_norm (NULL, y, param (self, name, "bn.running_mean"), param (self, name, "bn.running_var"),
                              param (self, name, "bn.weight"), param (self, name, "bn.bias"), 1e-3f, error)) == NULL)
    return NULL;
  return cxr_op_relu (NULL, z, error);
}

/* a chain of BasicConv2ds from x */
static CxrTensor *
chain (CxrInception *self, CxrTensor *x, const gchar *block, const gchar *const *branches, GError **error)
{
  g_autoptr (CxrTensor) cur = cxr_tensor_ref (x);

  for (guint i = 0; branches[i]; i++)
    {
      CxrTensor *next = basic (self, cur, block, branches[i], error);
      if (next == NULL)
        return NULL;
      cxr_tensor_unref (cur);
      cur = next;
    }
  return g_steal_pointer (&cur);
}

/* The 3x3 stride-1 pool before a branch_pool convolution: an average
 * (FID: without the padding in the mean), or Mixed_7c's maximum. */
static CxrTensor *
branch_pool (CxrInception *self, CxrTensor *x, const gchar *block, gboolean maximum, GError **error)
{
  g_autoptr (CxrTensor) pooled = NULL;

  if (maximum && self->fid_pools)
    pooled = cxr_op_max_pool2d_full (NULL, x, 3, 1, 1, error);
  else
    pooled = cxr_op_avg_pool2d_full (NULL, x, 3, 1, 1, !self->fid_pools, error);
  return pooled ? basic (self, pooled, block, "branch_pool", error) : NULL;
}

/* concatenates the branches (owned) along the channels */
static CxrTensor *
join (CxrTensor **parts, guint n, GError **error)
{
  CxrTensor *out = NULL;
  gboolean complete = TRUE;

  for (guint i = 0; i < n; i++)
    complete = complete && parts[i] != NULL;
  if (complete)
    out = cxr_op_concat (NULL, parts, n, 1, error);
  for (guint i = 0; i < n; i++)
    g_clear_pointer (&parts[i], cxr_tensor_unref);
  return out;
}

static CxrTensor *
block_a (CxrInception *self, CxrTensor *x, const gchar *b, GError **error)
{
  CxrTensor *parts[4] = { NULL };

  (void) ((parts[0] = basic (self, x, b, "branch1x1", error)) &&
          (parts[1] = chain (self, x, b, (const gchar *const[]) { "branch5x5_1", "branch5x5_2", NULL }, error)) &&
          (parts[2] = chain (self, x, b, (const gchar *const[]) { "branch3x3dbl_1", "branch3x3dbl_2",
                                                                  "branch3x3dbl_3", NULL }, error)) &&
          (parts[3] = branch_pool (self, x, b, FALSE, error)));
  return join (parts, 4, error);
}

static CxrTensor *
block_b (CxrInception *self, CxrTensor *x, const gchar *b, GError **error)
{
  CxrTensor *parts[3] = { NULL };

  (void) ((parts[0] = basic (self, x, b, "branch3x3", error)) &&
          (parts[1] = chain (self, x, b, (const gchar *const[]) { "branch3x3dbl_1", "branch3x3dbl_2",
                                                                  "branch3x3dbl_3", NULL }, error)) &&
          (parts[2] = cxr_op_max_pool2d (NULL, x, 3, 2, error)));
  return join (parts, 3, error);
}

static CxrTensor *
block_c (CxrInception *self, CxrTensor *x, const gchar *b, GError **error)
{
  CxrTensor *parts[4] = { NULL };

  (void) ((parts[0] = basic (self, x, b, "branch1x1", error)) &&
          (parts[1] = chain (self, x, b, (const gchar *const[]) { "branch7x7_1", "branch7x7_2", "branch7x7_3",
                                                                  NULL }, error)) &&
          (parts[2] = chain (self, x, b, (const gchar *const[]) { "branch7x7dbl_1", "branch7x7dbl_2",
                                                                  "branch7x7dbl_3", "branch7x7dbl_4",
                                                                  "branch7x7dbl_5", NULL }, error)) &&
          (parts[3] = branch_pool (self, x, b, FALSE, error)));
  return join (parts, 4, error);
}

static CxrTensor *
block_d (CxrInception *self, CxrTensor *x, const gchar *b, GError **error)
{
  CxrTensor *parts[3] = { NULL };

  (void) ((parts[0] = chain (self, x, b, (const gchar *const[]) { "branch3x3_1", "branch3x3_2", NULL }, error)) &&
          (parts[1] = chain (self, x, b, (const gchar *const[]) { "branch7x7x3_1", "branch7x7x3_2", "branch7x7x3_3",
                                                                  "branch7x7x3_4", NULL }, error)) &&
          (parts[2] = cxr_op_max_pool2d (NULL, x, 3, 2, error)));
  return join (parts, 3, error);
}

/* a 1x3 and a 3x1 convolution of the same input, side by side */
static CxrTensor *
split_pair (CxrInception *self, CxrTensor *x, const gchar *b, const gchar *first, const gchar *second, GError **error)
{
  CxrTensor *parts[2] = { NULL };

  (void) ((parts[0] = basic (self, x, b, first, error)) && (parts[1] = basic (self, x, b, second, error)));
  return join (parts, 2, error);
}

static CxrTensor *
block_e (CxrInception *self, CxrTensor *x, const gchar *b, gboolean last, GError **error)
{
  CxrTensor *parts[4] = { NULL };
  g_autoptr (CxrTensor) t3 = NULL, td = NULL;

  (void) ((parts[0] = basic (self, x, b, "branch1x1", error)) &&
          (t3 = basic (self, x, b, "branch3x3_1", error)) &&
          (parts[1] = split_pair (self, t3, b, "branch3x3_2a", "branch3x3_2b", error)) &&
          (td = chain (self, x, b, (const gchar *const[]) { "branch3x3dbl_1", "branch3x3dbl_2", NULL }, error)) &&
          (parts[2] = split_pair (self, td, b, "branch3x3dbl_3a", "branch3x3dbl_3b", error)) &&
          (parts[3] = branch_pool (self, x, b, last, error)));
  return join (parts, 4, error);
}

/* Conv2d_1a..2b, max pool, Conv2d_3b..4a, max pool: 192 x 35 x 35 at 299 */
static CxrTensor *
stem (CxrInception *self, CxrTensor *pixels, GError **error)
{
  static const gchar *const layers[] = { "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", NULL,
                                         "Conv2d_3b_1x1", "Conv2d_4a_3x3", NULL };
  g_autoptr (CxrTensor) x = cxr_tensor_ref (pixels);

  for (guint i = 0; i < G_N_ELEMENTS (layers); i++)
    {
      CxrTensor *next = layers[i] ? basic (self, x, layers[i], NULL, error) : cxr_op_max_pool2d (NULL, x, 3, 2, error);
      if (next == NULL)
        return NULL;
      cxr_tensor_unref (x);
      x = next;
    }
  return g_steal_pointer (&x);
}

/**
 * cxr_inception_features:
 * @self: a prepared model
 * @pixels: F32 [N, 3, H, W], already in [-1, 1] (299x299 for FID)
 * @error: return location for a #GError
 *
 * Runs the network to its pooled features, recording nothing.
 *
 * Returns: (transfer full): the features [N, 2048], or %NULL with @error
 *   set
 */
CxrTensor *
cxr_inception_features (CxrInception *self, CxrTensor *pixels, GError **error)
{
  static const gchar *const a_blocks[] = { "Mixed_5b", "Mixed_5c", "Mixed_5d" };
  static const gchar *const c_blocks[] = { "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e" };
  g_autoptr (CxrTensor) x = NULL, pooled = NULL;
  gint64 n = cxr_tensor_get_dim (pixels, 0);

#define NEXT(expr)                                   \
  G_STMT_START {                                     \
    CxrTensor *next_ = (expr);                       \
    if (next_ == NULL)                               \
      return NULL;                                   \
    g_clear_pointer (&x, cxr_tensor_unref);          \
    x = next_;                                       \
  } G_STMT_END

  if (cxr_tensor_get_ndim (pixels) != 4 || cxr_tensor_get_dim (pixels, 1) != 3 || cxr_tensor_get_dim (pixels, 2) < 75 ||
      cxr_tensor_get_dim (pixels, 3) < 75)
    {
      g_autofree gchar *what = cxr_tensor_describe (pixels);
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT,
                   "inception-v3: pixel_values is %s; [N, 3, H, W] of at least 75x75 expected", what);
      return NULL;
    }
  NEXT (stem (self, pixels, error));
  for (guint i = 0; i < G_N_ELEMENTS (a_blocks); i++)
    NEXT (block_a (self, x, a_blocks[i], error));
  NEXT (block_b (self, x, "Mixed_6a", error));
  for (guint i = 0; i < G_N_ELEMENTS (c_blocks); i++)
    NEXT (block_c (self, x, c_blocks[i], error));
  NEXT (block_d (self, x, "Mixed_7a", error));
  NEXT (block_e (self, x, "Mixed_7b", FALSE, error));
  NEXT (block_e (self, x, "Mixed_7c", TRUE, error));
#undef NEXT
  if ((pooled = cxr_op_adaptive_avg_pool2d (NULL, x, 1, 1, error)) == NULL)
    return NULL;
  return cxr_op_reshape (NULL, pooled, (const gint64[]) { n, FEATURES }, 2, error);
}

/* gray or RGB in [0, 1] -> RGB, bilinear to 299, [-1, 1] */
static CxrTensor *
cxr_inception_embed (CxrImageEncoder *encoder, CxrTensor *images, GError **error)
{
  CxrInception *self = CXR_INCEPTION (encoder);
  gint64 n = cxr_tensor_get_dim (images, 0);
  g_autoptr (CxrTensor) sized = NULL, rgb = NULL;
  const gfloat *s;
  gfloat *d;
  gsize plane = (gsize) INPUT_SIZE * INPUT_SIZE;
  guint channels = (guint) cxr_tensor_get_dim (images, 1);

  if (cxr_tensor_get_dim (images, 2) == INPUT_SIZE && cxr_tensor_get_dim (images, 3) == INPUT_SIZE)
    sized = cxr_tensor_contiguous (images);
  else if ((sized = cxr_op_resize_bilinear (NULL, images, INPUT_SIZE, INPUT_SIZE, error)) == NULL)
    return NULL;
  rgb = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { n, 3, INPUT_SIZE, INPUT_SIZE }, 4);
  s = cxr_tensor_get_data (sized);
  d = cxr_tensor_get_data (rgb);
  for (gint64 i = 0; i < n; i++)
    for (guint c = 0; c < 3; c++)
      {
        const gfloat *from = s + ((gsize) i * channels + (channels == 3 ? c : 0)) * plane;
        gfloat *to = d + ((gsize) i * 3 + c) * plane;
        for (gsize k = 0; k < plane; k++)
          to[k] = 2.0f * from[k] - 1.0f;
      }
  return cxr_inception_features (self, rgb, error);
}

static guint
cxr_inception_get_embedding_width (CxrImageEncoder *encoder)
{
  return FEATURES;
}

static void
cxr_inception_encoder_init (CxrImageEncoderInterface *iface)
{
  iface->embed = cxr_inception_embed;
  iface->get_embedding_width = cxr_inception_get_embedding_width;
}

/* The harness's view: pixel_values, already in [-1, 1], to the pooled
 * features (pooler_output). Inference only. */
static GHashTable *
cxr_inception_forward (CxrModel *model, CxrTape *tape, GHashTable *inputs, GError **error)
{
  g_autoptr (CxrTensor) pixels = NULL, features = NULL;
  GHashTable *out;

  if (tape != NULL)
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "inception-v3 runs for inference only");
      return NULL;
    }
  if ((pixels = cxr_model_take_input (model, inputs, "pixel_values", CXR_DTYPE_F32, 4, error)) == NULL ||
      (features = cxr_inception_features (CXR_INCEPTION (model), pixels, error)) == NULL)
    return NULL;
  out = cxr_model_new_tensor_table ();
  g_hash_table_insert (out, g_strdup ("pooler_output"), g_steal_pointer (&features));
  return out;
}

static GHashTable *
cxr_inception_example_inputs (CxrModel *model, guint batch, guint64 seed, GError **error)
{
  GHashTable *out = cxr_model_new_tensor_table ();
  gint64 shape[4] = { batch, 3, INPUT_SIZE, INPUT_SIZE };

  g_hash_table_insert (out, g_strdup ("pixel_values"), cxr_tensor_new_randn (shape, 4, seed, 0));
  return out;
}

static void
cxr_inception_finalize (GObject *object)
{
  g_hash_table_unref (CXR_INCEPTION (object)->convs);
  G_OBJECT_CLASS (cxr_inception_parent_class)->finalize (object);
}

static void
cxr_inception_class_init (CxrInceptionClass *klass)
{
  CxrModelClass *model_class = CXR_MODEL_CLASS (klass);
  static const gchar *const inputs[] = { "pixel_values", NULL };
  static const gchar *const outputs[] = { "pooler_output", NULL };
  static const gchar *const ignored[] = { "fc.*", "AuxLogits.*", "*.num_batches_tracked", NULL };

  G_OBJECT_CLASS (klass)->finalize = cxr_inception_finalize;
  model_class->configure = cxr_inception_configure;
  model_class->forward = cxr_inception_forward;
  model_class->example_inputs = cxr_inception_example_inputs;
  model_class->description = "Inception-v3 as pytorch-fid builds it (2048-d pool features for FID); inference";
  model_class->required_inputs = inputs;
  model_class->outputs = outputs;
  model_class->default_config = "{\"variant\": \"fid\"}";
  model_class->ignored_tensors = ignored;
}

static void
cxr_inception_init (CxrInception *self)
{
  self->convs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->fid_pools = TRUE;
}
