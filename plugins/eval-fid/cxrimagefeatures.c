/* plugins/eval-fid/cxrimagefeatures.c: image-features.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxrevalfid.h"

/**
 * SECTION:image-features
 *
 * `image-features` embeds each batch's images with any image encoder
 * (#CxrImageEncoder): Inception-v3 for the FID that published tables
 * report, or a chest X-ray network (a DenseNet's pooled features) for a
 * CXR-specific distance. The encoder resizes and normalises the images as
 * its weights expect, so the source may decode them at any size; each
 * image is embedded at the size the batch holds it.
 *
 * |[
 * [model inception]
 * type=inception-v3
 * weights=pt_inception.safetensors
 *
 * [stage real-features]
 * type=image-features
 * input=real
 * model=inception
 * ]|
 */

struct _CxrImageFeatures {
  CxrStage parent_instance;
  CxrModel *model;
  gchar *image_field, *features_field;
};

enum { P_0, P_MODEL, P_IMAGE_FIELD, P_FEATURES_FIELD, N_P };
static GParamSpec *props[N_P];

G_DEFINE_FINAL_TYPE (CxrImageFeatures, cxr_image_features, CXR_TYPE_STAGE)

static gboolean
cxr_image_features_prepare (CxrStage *stage, GError **error)
{
  CxrImageFeatures *self = CXR_IMAGE_FEATURES (stage);

  if (self->model == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "model: set model=NAME, a [model NAME] that is "
                   "an image encoder (inception-v3, densenet)");
      return FALSE;
    }
  if (!cxr_model_prepare (self->model, error))
    return FALSE;
  if (cxr_image_encoder_get_embedding_width (CXR_IMAGE_ENCODER (self->model)) == 0)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "model %s (%s) cannot embed images",
                   cxr_model_get_name (self->model), G_OBJECT_TYPE_NAME (self->model));
      return FALSE;
    }
  return TRUE;
}

static gboolean
cxr_image_features_transform (CxrStage *stage, CxrBatch *batch, GError **error)
{
  CxrImageFeatures *self = CXR_IMAGE_FEATURES (stage);
  g_autoptr (CxrTensor) input = NULL, features = NULL;

  if ((input = cxr_batch_get_images (batch, self->image_field, error)) == NULL)
    return FALSE;
  if (cxr_batch_get_size (batch) == 0)
    return TRUE;
  if ((features = cxr_image_encoder_embed (CXR_IMAGE_ENCODER (self->model), input, error)) == NULL)
    return FALSE;
  cxr_batch_set_floats (batch, self->features_field, (guint) cxr_tensor_get_dim (features, 1),
                        cxr_tensor_get_data (features), (gsize) cxr_tensor_get_numel (features));
  return TRUE;
}

static gchar **
cxr_image_features_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  CxrImageFeatures *self = CXR_IMAGE_FEATURES (stage);
  return g_strsplit (direction == CXR_PORT_INPUT ? self->image_field : self->features_field, ",", -1);
}

static void
cxr_image_features_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrImageFeatures *self = CXR_IMAGE_FEATURES (object);
  switch (id)
    {
    case P_MODEL: g_set_object (&self->model, g_value_get_object (value)); break;
    case P_IMAGE_FIELD: g_free (self->image_field); self->image_field = g_value_dup_string (value); break;
    case P_FEATURES_FIELD: g_free (self->features_field); self->features_field = g_value_dup_string (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_image_features_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrImageFeatures *self = CXR_IMAGE_FEATURES (object);
  switch (id)
    {
    case P_MODEL: g_value_set_object (value, self->model); break;
    case P_IMAGE_FIELD: g_value_set_string (value, self->image_field); break;
    case P_FEATURES_FIELD: g_value_set_string (value, self->features_field); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_image_features_dispose (GObject *object)
{
  g_clear_object (&CXR_IMAGE_FEATURES (object)->model);
  G_OBJECT_CLASS (cxr_image_features_parent_class)->dispose (object);
}

static void
cxr_image_features_finalize (GObject *object)
{
  CxrImageFeatures *self = CXR_IMAGE_FEATURES (object);
  g_free (self->image_field);
  g_free (self->features_field);
  G_OBJECT_CLASS (cxr_image_features_parent_class)->finalize (object);
}

static void
cxr_image_features_class_init (CxrImageFeaturesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_image_features_set_property;
  object_class->get_property = cxr_image_features_get_property;
  object_class->dispose = cxr_image_features_dispose;
  object_class->finalize = cxr_image_features_finalize;
  stage_class->prepare = cxr_image_features_prepare;
  stage_class->transform = cxr_image_features_transform;
  stage_class->get_port_fields = cxr_image_features_get_port_fields;
  props[P_MODEL] = g_param_spec_object ("model", "Model", "The image encoder (inception-v3 for FID, densenet, ...)",
                                        CXR_TYPE_IMAGE_ENCODER, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  props[P_IMAGE_FIELD] = g_param_spec_string ("image-field", "Image field", "The float field of the images, gray in "
                                              "[0, 1]", "image", flags);
  props[P_FEATURES_FIELD] = g_param_spec_string ("features-field", "Features field", "The float field to write the "
                                                 "features to", "features", flags);
  g_object_class_install_properties (object_class, N_P, props);
  cxr_stage_class_set_metadata (stage_class, "Image features", "Filter/Encoder",
                                "Embeds each image with an image encoder (Inception-v3 for FID)",
                                "The cxrgen developers");
  cxr_stage_class_add_input (stage_class, "in", "image", "Samples with images");
  cxr_stage_class_add_output (stage_class, "out", "features", TRUE, "The same batches, with the features");
}

static void
cxr_image_features_init (CxrImageFeatures *self)
{
}
