/* cxr-model.h: networks shared by stages, and the roles they play.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <glib-object.h>

G_BEGIN_DECLS

#define CXR_TYPE_MODEL (cxr_model_get_type ())
G_DECLARE_DERIVABLE_TYPE (CxrModel, cxr_model, CXR, MODEL, GObject)

/**
 * CxrModelClass:
 * @parent_class: the parent class
 * @load: read the configuration and weights named by the model's
 *   properties. Called once, by cxr_model_prepare(), whichever stage asks
 *   first. The default does nothing.
 *
 * The virtual functions of a model.
 */
struct _CxrModelClass {
  GObjectClass parent_class;

  gboolean (*load) (CxrModel *self, GError **error);

  /*< private >*/
  gpointer padding[16];
};

const gchar *cxr_model_get_name (CxrModel *self);
const gchar *cxr_model_get_weights (CxrModel *self);
const gchar *cxr_model_get_device (CxrModel *self);
gboolean cxr_model_prepare (CxrModel *self, GError **error);
gboolean cxr_model_is_prepared (CxrModel *self);

/* Roles. Each is a GInterface a model class implements; a stage property
 * of an interface type accepts any model that plays that role, so
 * backbones swap in a pipeline file without recompiling. Their methods
 * arrive with the tensor engine. */

#define CXR_TYPE_DENOISER (cxr_denoiser_get_type ())
G_DECLARE_INTERFACE (CxrDenoiser, cxr_denoiser, CXR, DENOISER, CxrModel)
/**
 * CxrDenoiserInterface:
 * @parent_iface: the parent interface
 *
 * Role of a diffusion backbone (SD UNet, U-ViT): predicts the noise in a
 * latent at a timestep, given a context of tokens.
 */
struct _CxrDenoiserInterface {
  GTypeInterface parent_iface;
};

#define CXR_TYPE_TEXT_ENCODER (cxr_text_encoder_get_type ())
G_DECLARE_INTERFACE (CxrTextEncoder, cxr_text_encoder, CXR, TEXT_ENCODER, CxrModel)
/**
 * CxrTextEncoderInterface:
 * @parent_iface: the parent interface
 *
 * Role of a text encoder (CLIP text tower, BART encoder): token ids to
 * hidden states and a pooled embedding.
 */
struct _CxrTextEncoderInterface {
  GTypeInterface parent_iface;
};

#define CXR_TYPE_IMAGE_ENCODER (cxr_image_encoder_get_type ())
G_DECLARE_INTERFACE (CxrImageEncoder, cxr_image_encoder, CXR, IMAGE_ENCODER, CxrModel)
/**
 * CxrImageEncoderInterface:
 * @parent_iface: the parent interface
 *
 * Role of an image encoder (CLIP vision tower, a classifier's features):
 * images to a pooled embedding.
 */
struct _CxrImageEncoderInterface {
  GTypeInterface parent_iface;
};

#define CXR_TYPE_AUTOENCODER (cxr_autoencoder_get_type ())
G_DECLARE_INTERFACE (CxrAutoencoder, cxr_autoencoder, CXR, AUTOENCODER, CxrModel)
/**
 * CxrAutoencoderInterface:
 * @parent_iface: the parent interface
 *
 * Role of an image autoencoder (the SD VAE): images to latents and back.
 */
struct _CxrAutoencoderInterface {
  GTypeInterface parent_iface;
};

#define CXR_TYPE_TEXT_DECODER (cxr_text_decoder_get_type ())
G_DECLARE_INTERFACE (CxrTextDecoder, cxr_text_decoder, CXR, TEXT_DECODER, CxrModel)
/**
 * CxrTextDecoderInterface:
 * @parent_iface: the parent interface
 *
 * Role of a text decoder (the BART decoder): an embedding to report text.
 */
struct _CxrTextDecoderInterface {
  GTypeInterface parent_iface;
};

#define CXR_TYPE_PRIOR (cxr_prior_get_type ())
G_DECLARE_INTERFACE (CxrPrior, cxr_prior, CXR, PRIOR, CxrModel)
/**
 * CxrPriorInterface:
 * @parent_iface: the parent interface
 *
 * Role of a prior (the ViT prior): an image latent to a report embedding.
 */
struct _CxrPriorInterface {
  GTypeInterface parent_iface;
};

G_END_DECLS
