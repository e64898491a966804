/* cxr-model.h: networks shared by stages, and the roles they play.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <glib-object.h>

#include "cxr-batch.h"
#include "cxr-config.h"
#include "tensor/cxr-ops.h"
#include "tensor/cxr-optim.h"

G_BEGIN_DECLS

#define CXR_TYPE_MODEL (cxr_model_get_type ())
G_DECLARE_DERIVABLE_TYPE (CxrModel, cxr_model, CXR, MODEL, GObject)

/**
 * CxrModelClass:
 * @parent_class: the parent class
 * @load: read the configuration and weights named by the model's
 *   properties. Called once, by cxr_model_prepare(), whichever stage asks
 *   first. The default, for models that have @configure, resolves the
 *   configuration and the weights (see #CxrModel:weights), calls
 *   @configure, allocates the parameters and fills them from the weights.
 * @configure: read the keys of @config the model needs
 *   (cxr_config_require_int() and its kin) and declare each parameter
 *   with cxr_model_add_parameter(), named as in the public checkpoints
 * @forward: compute the model on named inputs (the Hugging Face forward
 *   arguments: "sample", "input_ids", "pixel_values", ...) and return the
 *   named outputs (the Hugging Face output fields: "last_hidden_state",
 *   "pooler_output", "sample", ...). Ops are recorded on @tape, when
 *   given, for cxr_tape_backward().
 * @example_inputs: random inputs of the right shapes for a batch of
 *   @batch, for benchmarks
 * @infer_config: for models whose public checkpoints come without a
 *   config.json (torchvision's): the configuration (JSON) read from the
 *   names and shapes of the weights' tensors, and in @prefix (nullable,
 *   transfer full) what stands before every name ("module."). Used when
 *   weights are given and no config.json is found; @default_config
 *   serves when there are no weights (random-weights=true)
 * @description: one line on what the model is, for `cxrgen model list`
 * @required_inputs: the names @forward needs
 * @optional_inputs: the names @forward also takes
 * @outputs: the names @forward returns
 * @default_config: the configuration (JSON) used when none is found, or
 *   %NULL if one is always needed
 * @ignored_tensors: patterns (g_pattern_match_simple()) of tensor names
 *   in checkpoints that the model knows and does not use, so they are not
 *   reported as unknown
 * @tensor_aliases: pairs of name parts (the model's, then another spelling
 *   that checkpoints use, such as "to_q." and "query." of older VAE
 *   files), %NULL-terminated: a parameter missing from the weights is
 *   looked up under each other spelling; a pair whose first part is a
 *   whole name maps it to another whole name (tied weights)
 *
 * The virtual functions of a model, and what it says about itself.
 */
struct _CxrModelClass {
  GObjectClass parent_class;

  gboolean (*load) (CxrModel *self, GError **error);
  gboolean (*configure) (CxrModel *self, CxrConfig *config, GError **error);
  GHashTable *(*forward) (CxrModel *self, CxrTape *tape, GHashTable *inputs, GError **error);
  GHashTable *(*example_inputs) (CxrModel *self, guint batch, guint64 seed, GError **error);
  gchar *(*infer_config) (CxrModel *self, CxrSafetensors *weights, gchar **prefix, GError **error);

  const gchar *description;
  const gchar *const *required_inputs;
  const gchar *const *optional_inputs;
  const gchar *const *outputs;
  const gchar *default_config;
  const gchar *const *ignored_tensors;
  const gchar *const *tensor_aliases;

  /*< private >*/
  gpointer padding[10];
};

const gchar *cxr_model_get_name (CxrModel *self);
const gchar *cxr_model_get_weights (CxrModel *self);
const gchar *cxr_model_get_device (CxrModel *self);
gboolean cxr_model_prepare (CxrModel *self, GError **error);
gboolean cxr_model_is_prepared (CxrModel *self);
const gchar *cxr_model_get_config_path (CxrModel *self);
gboolean cxr_model_set_property_from_string (CxrModel *self, const gchar *key, const gchar *value, GError **error);

gboolean cxr_model_add_parameter (CxrModel *self, const gchar *name, const gint64 *shape, guint ndim,
                                  GError **error);
gboolean cxr_model_add_buffer (CxrModel *self, const gchar *name, const gint64 *shape, guint ndim,
                               GError **error);
CxrTensor *cxr_model_get_parameter (CxrModel *self, const gchar *name);
CxrParamSet *cxr_model_get_parameters (CxrModel *self);
gchar **cxr_model_get_warnings (CxrModel *self);
GHashTable *cxr_model_forward (CxrModel *self, CxrTape *tape, GHashTable *inputs, GError **error);
GHashTable *cxr_model_example_inputs (CxrModel *self, guint batch, guint64 seed, GError **error);
CxrTensor *cxr_model_take_input (CxrModel *self, GHashTable *inputs, const gchar *name, CxrDType dtype,
                                 guint ndim, GError **error);
GHashTable *cxr_model_new_tensor_table (void);
gboolean cxr_model_add_linear (CxrModel *self, const gchar *base, gint64 out, gint64 in, gboolean bias,
                               GError **error);
gboolean cxr_model_add_norm (CxrModel *self, const gchar *base, gint64 width, GError **error);
CxrTensor *cxr_model_linear (CxrModel *self, CxrTape *tape, CxrTensor *x, const gchar *base, gboolean bias,
                             GError **error);
CxrTensor *cxr_model_layer_norm (CxrModel *self, CxrTape *tape, CxrTensor *x, const gchar *base, gfloat eps,
                                 GError **error);
/**
 * CxrModelBlockFunc:
 * @model: the model
 * @tape: (nullable): where to record
 * @inputs: (array length=n_inputs): the block's inputs
 * @n_inputs: their number
 * @base: the block's parameter prefix
 * @arg: a number the model gives the block (heads, a kind)
 * @error: return location for a #GError
 *
 * One block of a model's forward pass, for cxr_model_run_block().
 *
 * Returns: (transfer full) (nullable): its output
 */
typedef CxrTensor *(*CxrModelBlockFunc) (CxrModel *model, CxrTape *tape, CxrTensor *const *inputs, guint n_inputs,
                                         const gchar *base, guint arg, GError **error);

CxrTensor *cxr_model_run_block (CxrModel *self, CxrTape *tape, gboolean recompute, CxrModelBlockFunc func,
                                const gchar *base, guint arg, CxrTensor *const *inputs, guint n_inputs,
                                GError **error);
CxrTensor *cxr_model_take_timesteps (CxrModel *self, GHashTable *inputs, const gchar *name, gint64 n,
                                     GError **error);

/* Roles. Each is a GInterface a model class implements; a stage property
 * of an interface type accepts any model that plays that role, so
 * backbones swap in a pipeline file without recompiling. Their methods
 * arrive with the tensor engine. */

#define CXR_TYPE_DENOISER (cxr_denoiser_get_type ())
G_DECLARE_INTERFACE (CxrDenoiser, cxr_denoiser, CXR, DENOISER, CxrModel)
/**
 * CxrDenoiserInterface:
 * @parent_iface: the parent interface
 * @predict: the prediction (noise or v) for noisy latents [N, C, H, W] at
 *   @timesteps [N] (F32), given @context [N, L, D]; recorded on @tape
 *   when given
 * @get_latent_channels: the C of the latents it denoises
 * @get_context_width: the D of the context it reads
 *
 * Role of a diffusion backbone (SD UNet, U-ViT): predicts the noise in a
 * latent at a timestep, given a context of tokens.
 */
struct _CxrDenoiserInterface {
  GTypeInterface parent_iface;

  CxrTensor *(*predict) (CxrDenoiser *self, CxrTape *tape, CxrTensor *sample, CxrTensor *timesteps,
                         CxrTensor *context, GError **error);
  guint (*get_latent_channels) (CxrDenoiser *self);
  guint (*get_context_width) (CxrDenoiser *self);
};

CxrTensor *cxr_denoiser_predict (CxrDenoiser *self, CxrTape *tape, CxrTensor *sample, CxrTensor *timesteps,
                                 CxrTensor *context, GError **error);
guint cxr_denoiser_get_latent_channels (CxrDenoiser *self);
guint cxr_denoiser_get_context_width (CxrDenoiser *self);

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
 * @embed: images F32 [N, 1 or 3, H, W] in [0, 1], of any size, to their
 *   embeddings [N, D], each model resizing and normalising them as its
 *   weights were trained (Inception-v3 of FID: bilinear to 299, to
 *   [-1, 1]); %NULL for encoders that only run on named inputs
 * @get_embedding_width: the D of the embeddings
 *
 * Role of an image encoder (CLIP vision tower, a classifier's features,
 * Inception-v3 for FID): images to a pooled embedding.
 */
struct _CxrImageEncoderInterface {
  GTypeInterface parent_iface;

  CxrTensor *(*embed) (CxrImageEncoder *self, CxrTensor *images, GError **error);
  guint (*get_embedding_width) (CxrImageEncoder *self);
};

CxrTensor *cxr_image_encoder_embed (CxrImageEncoder *self, CxrTensor *images, GError **error);
guint cxr_image_encoder_get_embedding_width (CxrImageEncoder *self);

#define CXR_TYPE_AUTOENCODER (cxr_autoencoder_get_type ())
G_DECLARE_INTERFACE (CxrAutoencoder, cxr_autoencoder, CXR, AUTOENCODER, CxrModel)
/**
 * CxrAutoencoderInterface:
 * @parent_iface: the parent interface
 * @encode: images [N, 3, H, W] in [-1, 1] to the mean of their latent
 *   distribution (unscaled), and its log-variance when asked
 * @decode: unscaled latents to images in about [-1, 1]
 * @get_scaling_factor: what the latents are multiplied by for the
 *   denoiser (SD: 0.18215)
 * @get_latent_channels: the channels of the latents
 * @get_downscale: the side of an image over the side of its latent (8)
 *
 * Role of an image autoencoder (the SD VAE): images to latents and back.
 */
struct _CxrAutoencoderInterface {
  GTypeInterface parent_iface;

  CxrTensor *(*encode) (CxrAutoencoder *self, CxrTape *tape, CxrTensor *images, CxrTensor **logvar,
                        GError **error);
  CxrTensor *(*decode) (CxrAutoencoder *self, CxrTape *tape, CxrTensor *latents, GError **error);
  gdouble (*get_scaling_factor) (CxrAutoencoder *self);
  guint (*get_latent_channels) (CxrAutoencoder *self);
  guint (*get_downscale) (CxrAutoencoder *self);
};

CxrTensor *cxr_autoencoder_encode (CxrAutoencoder *self, CxrTape *tape, CxrTensor *images, CxrTensor **logvar,
                                   GError **error);
CxrTensor *cxr_autoencoder_encode_field (CxrAutoencoder *self, CxrBatch *batch, const gchar *field,
                                         CxrTensor **logvar, GError **error);
CxrTensor *cxr_autoencoder_decode (CxrAutoencoder *self, CxrTape *tape, CxrTensor *latents, GError **error);
gdouble cxr_autoencoder_get_scaling_factor (CxrAutoencoder *self);
guint cxr_autoencoder_get_latent_channels (CxrAutoencoder *self);
guint cxr_autoencoder_get_downscale (CxrAutoencoder *self);

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
