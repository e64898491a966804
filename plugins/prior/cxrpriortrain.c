/* plugins/prior/cxrpriortrain.c: the prior-train stage: the ViT prior
 * learns to predict a report's embedding from its image's VAE latent.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "cxrprior.h"

/**
 * SECTION:prior-train
 *
 * `prior-train` trains the prior as the paper does (CXR-IRGen, section
 * 3.2): each image (gray in [0, 1], replicated to RGB in [-1, 1]) is
 * encoded by the frozen `vae` (the mean of the latent distribution times
 * its scaling factor), and the `prior` (vit-prior) learns to predict,
 * from the latent, the embedding the frozen report autoencoder
 * (`text-model`, a bart-autoencoder: its `report_embedding` output) gives
 * the sample's report. Loss: MSE + `cosine-weight` x (1 - cosine
 * similarity), 0.01 in the paper.
 *
 * The report embeddings are computed once per distinct report and kept
 * for the rest of the run (epochs read the same reports again), with the
 * report tokenized by BART's tokenizer (`tokenizer`: by default the text
 * model's folder). Each batch passes on with loss, step and cosine (per
 * sample, between prediction and target). The optimiser, checkpoints,
 * `output` and `evaluate` (say, the cosine on the validate split) are
 * #CxrTrainer's.
 *
 * |[
 * [stage train]
 * type=prior-train
 * input=data
 * prior=prior
 * vae=vae
 * text-model=bart
 * output=${OUT}/prior/model.safetensors
 * ]|
 */

struct _CxrPriorTrain {
  CxrTrainer parent_instance;
  CxrModel *prior, *vae, *text_model;
  gchar *tokenizer_dir, *image_field, *text_field, *embedding_output;
  gdouble cosine_weight;
  guint max_length;

  CxrTokenizer *tokenizer;
  GHashTable *cache; /* report text -> its embedding (gfloat[d]) */
  guint width;
};

G_DEFINE_FINAL_TYPE (CxrPriorTrain, cxr_prior_train, CXR_TYPE_TRAINER)

enum { P_0, P_PRIOR, P_VAE, P_TEXT_MODEL, P_TOKENIZER, P_IMAGE_FIELD, P_TEXT_FIELD, P_EMBEDDING_OUTPUT,
       P_COSINE_WEIGHT, P_MAX_LENGTH, N_P };
static GParamSpec *props[N_P];

static CxrModel *
cxr_prior_train_setup (CxrTrainer *trainer, GError **error)
{
  CxrPriorTrain *self = CXR_PRIOR_TRAIN (trainer);
  const gchar *config;
  g_autofree gchar *dir = NULL;

  if (self->prior == NULL || self->vae == NULL || self->text_model == NULL)
    {
      const gchar *key = self->prior == NULL ? "prior" : self->vae == NULL ? "vae" : "text-model";
      const gchar *what = self->prior == NULL ? "vit-prior" : self->vae == NULL ? "sd-vae" : "bart-autoencoder";
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "%s: set %s=NAME, a [model NAME] that is %s", key,
                   key, what);
      return NULL;
    }
  if (!cxr_model_prepare (self->prior, error) || !cxr_model_prepare (self->vae, error) ||
      !cxr_model_prepare (self->text_model, error))
    return NULL;
  config = cxr_model_get_config_path (self->text_model);
  dir = self->tokenizer_dir && *self->tokenizer_dir ? g_strdup (self->tokenizer_dir)
        : config                                    ? g_path_get_dirname (config)
                                                    : NULL;
  if (dir == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "tokenizer: set tokenizer=DIR, the folder of "
                   "BART's vocab.json and merges.txt");
      return NULL;
    }
  g_clear_object (&self->tokenizer);
  if ((self->tokenizer = cxr_tokenizer_new_bart_from_folder (dir, error)) == NULL)
    {
      g_prefix_error (error, "tokenizer: ");
      return NULL;
    }
  {
    /* reports longer than the text model's positions are truncated */
    guint limit = self->max_length;
    g_autoptr (CxrConfig) cfg = config ? cxr_config_new_from_file (config, NULL) : NULL;
    gint64 positions = cfg ? cxr_config_get_int (cfg, "max_position_embeddings", 0) : 0;
    if (positions > 0 && positions <= G_MAXUINT && (limit == 0 || limit > positions))
      limit = (guint) positions;
    if (limit > 0)
      cxr_tokenizer_set_max_length (self->tokenizer, limit);
  }
  g_clear_pointer (&self->cache, g_hash_table_unref);
  self->cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->width = 0;
  return self->prior;
}

/* [n, d] target embeddings; the reports not seen before are embedded in
 * one pass */
static CxrTensor *
targets_of (CxrPriorTrain *self, CxrBatch *batch, GError **error)
{
  const gchar *const *texts = cxr_batch_get_strings (batch, self->text_field);
  guint n = cxr_batch_get_size (batch);
  g_autoptr (GPtrArray) missing = g_ptr_array_new ();
  CxrTensor *out;
  gfloat *p;

  if (texts == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_MISSING_FIELD, "batch %" G_GUINT64_FORMAT ": needs the "
                   "string field \"%s\" (the reports)", cxr_batch_get_sequence (batch), self->text_field);
      return NULL;
    }
  for (guint i = 0; i < n; i++)
    if (!g_hash_table_contains (self->cache, texts[i]) &&
        !g_ptr_array_find_with_equal_func (missing, texts[i], g_str_equal, NULL))
      g_ptr_array_add (missing, (gpointer) texts[i]);
  if (missing->len > 0)
    {
      g_autoptr (CxrTensor) ids = NULL, mask = NULL, emb = NULL;
      g_autoptr (GHashTable) inputs = cxr_model_new_tensor_table (), outputs = NULL;
      CxrTensor *e;

      g_ptr_array_add (missing, NULL);
      ids = cxr_tokenizer_encode_batch (self->tokenizer, (const gchar *const *) missing->pdata, 0, &mask);
      g_ptr_array_set_size (missing, missing->len - 1);
      g_hash_table_insert (inputs, g_strdup ("input_ids"), g_steal_pointer (&ids));
      g_hash_table_insert (inputs, g_strdup ("attention_mask"), g_steal_pointer (&mask));
      if ((outputs = cxr_model_forward (self->text_model, NULL, inputs, error)) == NULL)
        return NULL;
      if ((e = g_hash_table_lookup (outputs, self->embedding_output)) == NULL || cxr_tensor_get_ndim (e) != 2)
        {
          g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "text-model: no output \"%s\" of shape [N, d] "
                       "(a bart-autoencoder gives report_embedding)", self->embedding_output);
          return NULL;
        }
      emb = cxr_tensor_contiguous (e);
      self->width = (guint) cxr_tensor_get_dim (emb, 1);
      for (guint i = 0; i < missing->len; i++)
        g_hash_table_insert (self->cache, g_strdup (g_ptr_array_index (missing, i)),
                             g_memdup2 ((const gfloat *) cxr_tensor_get_data (emb) + (gsize) i * self->width,
                                        sizeof (gfloat) * self->width));
    }
  out = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { n, self->width }, 2);
  p = cxr_tensor_get_data (out);
  for (guint i = 0; i < n; i++)
    memcpy (p + (gsize) i * self->width, g_hash_table_lookup (self->cache, texts[i]), sizeof (gfloat) * self->width);
  return out;
}

static gboolean
cxr_prior_train_compute_loss (CxrTrainer *trainer, CxrBatch *batch, CxrTape *tape, guint64 micro, CxrTensor **loss,
                              GError **error)
{
  CxrPriorTrain *self = CXR_PRIOR_TRAIN (trainer);
  CxrAutoencoder *vae = CXR_AUTOENCODER (self->vae);
  g_autoptr (CxrTensor) mean = NULL, target = NULL, mse = NULL, cos = NULL, cos_mean = NULL, scaled = NULL;
  g_autoptr (CxrTensor) weight = NULL, penalty = NULL;
  g_autoptr (GHashTable) inputs = cxr_model_new_tensor_table (), outputs = NULL;
  CxrTensor *pred;

  if ((mean = cxr_autoencoder_encode_field (vae, batch, self->image_field, NULL, error)) == NULL ||
      (target = targets_of (self, batch, error)) == NULL)
    return FALSE;
  g_hash_table_insert (inputs, g_strdup ("pixel_values"),
                       cxr_op_scale (NULL, mean, (gfloat) cxr_autoencoder_get_scaling_factor (vae), NULL));
  if ((outputs = cxr_model_forward (self->prior, tape, inputs, error)) == NULL)
    return FALSE;
  pred = g_hash_table_lookup (outputs, "pooler_output");
  if (pred == NULL || cxr_tensor_get_ndim (pred) != 2 || cxr_tensor_get_dim (pred, 1) != self->width)
    {
      g_autofree gchar *what = pred ? cxr_tensor_describe (pred) : g_strdup ("missing");
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "prior: its pooler_output is %s; the report "
                   "embeddings are %u wide", what, self->width);
      return FALSE;
    }
  /* MSE + w (1 - cos) */
  if ((mse = cxr_op_mse (tape, pred, target, error)) == NULL ||
      (cos = cxr_op_cosine_similarity (tape, pred, target, 1e-8f, error)) == NULL ||
      (cos_mean = cxr_op_mean (tape, cos, error)) == NULL ||
      (scaled = cxr_op_scale (tape, cos_mean, (gfloat) -self->cosine_weight, error)) == NULL)
    return FALSE;
  weight = cxr_tensor_new_like (scaled);
  cxr_tensor_fill (weight, (gfloat) self->cosine_weight);
  if ((penalty = cxr_op_add (tape, scaled, weight, error)) == NULL ||
      (*loss = cxr_op_add (tape, mse, penalty, error)) == NULL)
    return FALSE;
  {
    g_autoptr (CxrTensor) dense = cxr_tensor_contiguous (cos);
    cxr_batch_set_floats (batch, "cosine", 1, cxr_tensor_get_data (dense), cxr_batch_get_size (batch));
  }
  return TRUE;
}

static gchar **
cxr_prior_train_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  CxrPriorTrain *self = CXR_PRIOR_TRAIN (stage);
  g_autofree gchar *in = NULL;

  if (direction == CXR_PORT_OUTPUT)
    return g_strsplit ("loss,step,cosine", ",", -1);
  in = g_strjoin (",", self->image_field, self->text_field, NULL);
  return g_strsplit (in, ",", -1);
}

static gchar **
string_slot (CxrPriorTrain *self, guint id)
{
  switch (id)
    {
    case P_TOKENIZER: return &self->tokenizer_dir;
    case P_IMAGE_FIELD: return &self->image_field;
    case P_TEXT_FIELD: return &self->text_field;
    case P_EMBEDDING_OUTPUT: return &self->embedding_output;
    default: return NULL;
    }
}

static void
cxr_prior_train_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrPriorTrain *self = CXR_PRIOR_TRAIN (object);
  gchar **s = string_slot (self, id);

  if (s)
    {
      g_free (*s);
      *s = g_value_dup_string (value);
      return;
    }
  switch (id)
    {
    case P_PRIOR: g_set_object (&self->prior, g_value_get_object (value)); break;
    case P_VAE: g_set_object (&self->vae, g_value_get_object (value)); break;
    case P_TEXT_MODEL: g_set_object (&self->text_model, g_value_get_object (value)); break;
    case P_COSINE_WEIGHT: self->cosine_weight = g_value_get_double (value); break;
    case P_MAX_LENGTH: self->max_length = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_prior_train_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrPriorTrain *self = CXR_PRIOR_TRAIN (object);
  gchar **s = string_slot (self, id);

  if (s)
    {
      g_value_set_string (value, *s);
      return;
    }
  switch (id)
    {
    case P_PRIOR: g_value_set_object (value, self->prior); break;
    case P_VAE: g_value_set_object (value, self->vae); break;
    case P_TEXT_MODEL: g_value_set_object (value, self->text_model); break;
    case P_COSINE_WEIGHT: g_value_set_double (value, self->cosine_weight); break;
    case P_MAX_LENGTH: g_value_set_uint (value, self->max_length); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_prior_train_dispose (GObject *object)
{
  CxrPriorTrain *self = CXR_PRIOR_TRAIN (object);
  g_clear_object (&self->prior);
  g_clear_object (&self->vae);
  g_clear_object (&self->text_model);
  g_clear_object (&self->tokenizer);
  g_clear_pointer (&self->cache, g_hash_table_unref);
  G_OBJECT_CLASS (cxr_prior_train_parent_class)->dispose (object);
}

static void
cxr_prior_train_finalize (GObject *object)
{
  CxrPriorTrain *self = CXR_PRIOR_TRAIN (object);
  for (guint id = 0; id < N_P; id++)
    if (string_slot (self, id))
      g_free (*string_slot (self, id));
  G_OBJECT_CLASS (cxr_prior_train_parent_class)->finalize (object);
}

static void
cxr_prior_train_class_init (CxrPriorTrainClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  CxrTrainerClass *trainer_class = CXR_TRAINER_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;
  const GParamFlags models = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_prior_train_set_property;
  object_class->get_property = cxr_prior_train_get_property;
  object_class->dispose = cxr_prior_train_dispose;
  object_class->finalize = cxr_prior_train_finalize;
  stage_class->get_port_fields = cxr_prior_train_get_port_fields;
  trainer_class->setup = cxr_prior_train_setup;
  trainer_class->compute_loss = cxr_prior_train_compute_loss;
  props[P_PRIOR] = g_param_spec_object ("prior", "Prior", "The prior to train (vit-prior)", CXR_TYPE_PRIOR, models);
  props[P_VAE] = g_param_spec_object ("vae", "VAE", "The frozen image autoencoder (sd-vae)", CXR_TYPE_AUTOENCODER,
                                      models);
  props[P_TEXT_MODEL] = g_param_spec_object ("text-model", "Text model", "The frozen report autoencoder "
                                             "(bart-autoencoder), whose embeddings are the targets", CXR_TYPE_MODEL,
                                             models);
  props[P_TOKENIZER] = g_param_spec_string ("tokenizer", "Tokenizer", "The folder of BART's vocab.json and "
                                            "merges.txt (default: the text model's folder)", NULL, flags);
  props[P_IMAGE_FIELD] = g_param_spec_string ("image-field", "Image field", "The float field of the images (gray in "
                                              "[0, 1])", "image", flags);
  props[P_TEXT_FIELD] = g_param_spec_string ("text-field", "Text field", "The string field of the reports", "report",
                                             flags);
  props[P_EMBEDDING_OUTPUT] = g_param_spec_string ("embedding-output", "Embedding output", "The text model's output "
                                                   "that is the target", "report_embedding", flags);
  props[P_COSINE_WEIGHT] = g_param_spec_double ("cosine-weight", "Cosine weight", "The weight of (1 - cosine "
                                                "similarity) in the loss", 0, 1e6, 0.01, flags);
  props[P_MAX_LENGTH] = g_param_spec_uint ("max-length", "Max length", "Tokens per report, at most the text "
                                           "model's positions (0: those)", 0, G_MAXUINT, 512, flags);
  g_object_class_install_properties (object_class, N_P, props);
  cxr_stage_class_set_metadata (stage_class, "Prior training", "Filter/Trainer",
                                "Trains the prior to predict report embeddings from image latents, with AdamW",
                                "The cxrgen developers");
  cxr_stage_class_add_input (stage_class, "in", "image,report", "Samples with images and reports");
  cxr_trainer_class_add_validate_input (CXR_TRAINER_CLASS (klass), "image,report");
  cxr_stage_class_add_output (stage_class, "out", "loss,step,cosine", TRUE,
                              "The same batches, with the loss, step and cosine similarity");
}

static void
cxr_prior_train_init (CxrPriorTrain *self)
{
}
