/* cxr-model.c: networks shared by stages, and the roles they play.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

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
  GMutex lock;
  gboolean prepared;
} CxrModelPrivate;

enum {
  PROP_0,
  PROP_NAME,
  PROP_WEIGHTS,
  PROP_DEVICE,
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
      priv->weights = g_value_dup_string (value);
      break;
    case PROP_DEVICE:
      g_free (priv->device);
      priv->device = g_value_dup_string (value);
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
  g_mutex_clear (&priv->lock);
  G_OBJECT_CLASS (cxr_model_parent_class)->finalize (object);
}

static void
cxr_model_class_init (CxrModelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->set_property = cxr_model_set_gproperty;
  object_class->get_property = cxr_model_get_gproperty;
  object_class->finalize = cxr_model_finalize;

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

G_DEFINE_INTERFACE (CxrDenoiser, cxr_denoiser, CXR_TYPE_MODEL)
static void cxr_denoiser_default_init (CxrDenoiserInterface *iface) {}

G_DEFINE_INTERFACE (CxrTextEncoder, cxr_text_encoder, CXR_TYPE_MODEL)
static void cxr_text_encoder_default_init (CxrTextEncoderInterface *iface) {}

G_DEFINE_INTERFACE (CxrImageEncoder, cxr_image_encoder, CXR_TYPE_MODEL)
static void cxr_image_encoder_default_init (CxrImageEncoderInterface *iface) {}

G_DEFINE_INTERFACE (CxrAutoencoder, cxr_autoencoder, CXR_TYPE_MODEL)
static void cxr_autoencoder_default_init (CxrAutoencoderInterface *iface) {}

G_DEFINE_INTERFACE (CxrTextDecoder, cxr_text_decoder, CXR_TYPE_MODEL)
static void cxr_text_decoder_default_init (CxrTextDecoderInterface *iface) {}

G_DEFINE_INTERFACE (CxrPrior, cxr_prior, CXR_TYPE_MODEL)
static void cxr_prior_default_init (CxrPriorInterface *iface) {}
