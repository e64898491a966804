/* plugins/bart/cxrlmtrain.c: the lm-train stage: BART trained to rebuild
 * reports (the paper's report autoencoder).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "cxrbart.h"

/**
 * SECTION:lm-train
 *
 * `lm-train` trains BART on report text as the paper does (CXR-IRGen,
 * section 3.2): each report is tokenized with BART's byte-level BPE
 * (`tokenizer`: the folder of vocab.json and merges.txt, by default the
 * model's own folder, as facebook/bart-base ships them; truncated to
 * `max-length` tokens, <s> and </s> included), the model reads it, and
 * the decoder, fed the report shifted right after </s>, learns to rebuild
 * it with cross-entropy. With a `bart-autoencoder` the decoder reads only
 * the pooled report embedding, which is what makes it the autoencoder the
 * prior learns to feed; a plain `bart` trains as a sequence-to-sequence
 * autoencoder.
 *
 * The loss ignores padding by default (the mean over the report tokens).
 * The reference implementation passes the padded ids as labels, so its
 * loss also scores the padding; `score-padding=true` reproduces it.
 * Each batch passes on with loss, step and accuracy (per sample: the
 * fraction of its report tokens the decoder predicts right, teacher
 * forced). The optimiser, checkpoints, `output` and `evaluate` are
 * #CxrTrainer's; beside the `output` weights go config.json and the
 * tokenizer's vocab.json and merges.txt, a folder that loads as
 * facebook/bart-base does.
 *
 * |[
 * [stage train]
 * type=lm-train
 * input=data
 * model=bart
 * max-length=512
 * output=${OUT}/bart/model.safetensors
 * ]|
 */

struct _CxrLmTrain {
  CxrTrainer parent_instance;
  CxrModel *model;
  gchar *tokenizer_dir, *text_field;
  guint max_length;
  gboolean score_padding;
  CxrTokenizer *tokenizer;
};

G_DEFINE_FINAL_TYPE (CxrLmTrain, cxr_lm_train, CXR_TYPE_TRAINER)

enum { P_0, P_MODEL, P_TOKENIZER, P_TEXT_FIELD, P_MAX_LENGTH, P_SCORE_PADDING, N_P };
static GParamSpec *props[N_P];

/* the tokenizer's folder: the one given, else the model's own */
static gchar *
tokenizer_folder (CxrModel *model, const gchar *folder)
{
  const gchar *config = cxr_model_get_config_path (model);
  return folder && *folder ? g_strdup (folder) : config ? g_path_get_dirname (config) : NULL;
}

/**
 * cxr_bart_open_tokenizer:
 * @model: a prepared BART
 * @folder: (nullable): the tokenizer's folder, or %NULL for the model's
 * @max_length: the most tokens an encoding keeps (0: the model's positions)
 * @error: return location for a #GError
 *
 * Opens BART's tokenizer for @model and checks that its ids fit the
 * model's vocabulary.
 *
 * Returns: (transfer full) (nullable): the tokenizer
 */
CxrTokenizer *
cxr_bart_open_tokenizer (CxrBart *model, const gchar *folder, guint max_length, GError **error)
{
  g_autofree gchar *dir = tokenizer_folder (CXR_MODEL (model), folder);
  g_autoptr (CxrTokenizer) tokenizer = NULL;
  guint vocab = cxr_bart_get_vocab_size (model), positions = cxr_bart_get_max_positions (model);

  if (dir == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "tokenizer: set tokenizer=DIR, the folder of "
                   "BART's vocab.json and merges.txt (facebook/bart-base)");
      return NULL;
    }
  if ((tokenizer = cxr_tokenizer_new_bart_from_folder (dir, error)) == NULL)
    {
      g_prefix_error (error, "tokenizer: ");
      return NULL;
    }
  if (cxr_tokenizer_get_vocab_size (tokenizer) > vocab)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "tokenizer: %s has %u tokens; the model knows %u",
                   dir, cxr_tokenizer_get_vocab_size (tokenizer), vocab);
      return NULL;
    }
  cxr_tokenizer_set_max_length (tokenizer, max_length > 0 ? MIN (max_length, positions) : positions);
  return g_steal_pointer (&tokenizer);
}

static CxrModel *
cxr_lm_train_setup (CxrTrainer *trainer, GError **error)
{
  CxrLmTrain *self = CXR_LM_TRAIN (trainer);

  if (self->model == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "model: set model=NAME, a [model NAME] that is "
                   "bart-autoencoder (or bart)");
      return NULL;
    }
  if (!cxr_model_prepare (self->model, error))
    return NULL;
  g_clear_object (&self->tokenizer);
  if ((self->tokenizer = cxr_bart_open_tokenizer (CXR_BART (self->model), self->tokenizer_dir, self->max_length,
                                                  error)) == NULL)
    return NULL;
  return self->model;
}

static gboolean
cxr_lm_train_compute_loss (CxrTrainer *trainer, CxrBatch *batch, CxrTape *tape, guint64 micro, CxrTensor **loss,
                           GError **error)
{
  CxrLmTrain *self = CXR_LM_TRAIN (trainer);
  const gchar *const *texts = cxr_batch_get_strings (batch, self->text_field);
  guint n = cxr_batch_get_size (batch);
  g_autoptr (CxrTensor) ids = NULL, mask = NULL, targets = NULL, flat = NULL;
  g_autoptr (GHashTable) inputs = cxr_model_new_tensor_table (), outputs = NULL;
  g_autofree gfloat *accuracy = NULL;
  CxrTensor *logits;
  const gint64 *pi, *pm;
  gint64 *pt, l, v;
  const gfloat *pl;

  if (texts == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_MISSING_FIELD, "batch %" G_GUINT64_FORMAT ": needs the "
                   "string field \"%s\" (the reports)", cxr_batch_get_sequence (batch), self->text_field);
      return FALSE;
    }
  ids = cxr_tokenizer_encode_batch (self->tokenizer, texts, 0, &mask);
  l = cxr_tensor_get_dim (ids, 1);
  g_hash_table_insert (inputs, g_strdup ("input_ids"), cxr_tensor_ref (ids));
  g_hash_table_insert (inputs, g_strdup ("attention_mask"), cxr_tensor_ref (mask));
  if ((outputs = cxr_model_forward (self->model, tape, inputs, error)) == NULL)
    return FALSE;
  logits = g_hash_table_lookup (outputs, "logits");
  v = cxr_tensor_get_dim (logits, 2);
  /* the targets: the report itself; padding scored or ignored */
  targets = cxr_tensor_new (CXR_DTYPE_I64, (const gint64[]) { n * l }, 1);
  pt = cxr_tensor_get_data (targets);
  pi = cxr_tensor_get_data (ids);
  pm = cxr_tensor_get_data (mask);
  for (gint64 i = 0; i < n * l; i++)
    pt[i] = pm[i] || self->score_padding ? pi[i] : -100;
  if ((flat = cxr_op_reshape (tape, logits, (const gint64[]) { n * l, v }, 2, error)) == NULL ||
      (*loss = cxr_op_cross_entropy (tape, flat, targets, -100, error)) == NULL)
    return FALSE;
  /* teacher-forced token accuracy over each report's tokens */
  accuracy = g_new0 (gfloat, n);
  {
    g_autoptr (CxrTensor) dense = cxr_tensor_contiguous (logits);
    pl = cxr_tensor_get_data (dense);
    for (guint i = 0; i < n; i++)
      {
        guint right = 0, count = 0;
        for (gint64 j = 0; j < l; j++)
          {
            const gfloat *row = pl + ((gsize) i * l + j) * v;
            gint64 best = 0;
            if (!pm[i * l + j])
              continue;
            for (gint64 k = 1; k < v; k++)
              if (row[k] > row[best])
                best = k;
            right += best == pi[i * l + j];
            count++;
          }
        accuracy[i] = count ? (gfloat) right / count : 0.0f;
      }
  }
  cxr_batch_set_floats (batch, "accuracy", 1, accuracy, n);
  return TRUE;
}

/* the tokenizer's files beside the trained weights (when they are not
 * there already), so the output folder loads as facebook/bart-base does */
static gboolean
cxr_lm_train_finish (CxrStage *stage, GError **error)
{
  CxrLmTrain *self = CXR_LM_TRAIN (stage);
  g_autofree gchar *output = NULL, *dir = NULL, *from = NULL;

  if (!CXR_STAGE_CLASS (cxr_lm_train_parent_class)->finish (stage, error))
    return FALSE;
  g_object_get (self, "output", &output, NULL);
  if (cxr_trainer_get_evaluate (CXR_TRAINER (self)) || output == NULL || *output == '\0')
    return TRUE;
  dir = g_path_get_dirname (output);
  from = tokenizer_folder (self->model, self->tokenizer_dir);
  if (from == NULL || g_strcmp0 (from, dir) == 0)
    return TRUE;
  for (guint i = 0; i < 2; i++)
    {
      const gchar *name = i == 0 ? "vocab.json" : "merges.txt";
      g_autofree gchar *src = g_build_filename (from, name, NULL), *dst = g_build_filename (dir, name, NULL);
      g_autofree gchar *text = NULL;
      g_autoptr (CxrAtomicFile) copy = NULL;
      gsize length = 0;

      if (!g_file_get_contents (src, &text, &length, error) || (copy = cxr_atomic_file_new (dst, error)) == NULL ||
          !cxr_atomic_file_write (copy, text, length, error) || !cxr_atomic_file_commit (copy, error))
        return FALSE;
    }
  return TRUE;
}

static gchar **
cxr_lm_train_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  CxrLmTrain *self = CXR_LM_TRAIN (stage);

  if (direction == CXR_PORT_OUTPUT)
    return g_strsplit ("loss,step,accuracy", ",", -1);
  return g_strsplit (self->text_field, ",", -1);
}

static void
cxr_lm_train_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrLmTrain *self = CXR_LM_TRAIN (object);

  switch (id)
    {
    case P_MODEL: g_set_object (&self->model, g_value_get_object (value)); break;
    case P_TOKENIZER: g_free (self->tokenizer_dir); self->tokenizer_dir = g_value_dup_string (value); break;
    case P_TEXT_FIELD: g_free (self->text_field); self->text_field = g_value_dup_string (value); break;
    case P_MAX_LENGTH: self->max_length = g_value_get_uint (value); break;
    case P_SCORE_PADDING: self->score_padding = g_value_get_boolean (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_lm_train_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrLmTrain *self = CXR_LM_TRAIN (object);

  switch (id)
    {
    case P_MODEL: g_value_set_object (value, self->model); break;
    case P_TOKENIZER: g_value_set_string (value, self->tokenizer_dir); break;
    case P_TEXT_FIELD: g_value_set_string (value, self->text_field); break;
    case P_MAX_LENGTH: g_value_set_uint (value, self->max_length); break;
    case P_SCORE_PADDING: g_value_set_boolean (value, self->score_padding); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_lm_train_dispose (GObject *object)
{
  CxrLmTrain *self = CXR_LM_TRAIN (object);
  g_clear_object (&self->model);
  g_clear_object (&self->tokenizer);
  G_OBJECT_CLASS (cxr_lm_train_parent_class)->dispose (object);
}

static void
cxr_lm_train_finalize (GObject *object)
{
  CxrLmTrain *self = CXR_LM_TRAIN (object);
  g_free (self->tokenizer_dir);
  g_free (self->text_field);
  G_OBJECT_CLASS (cxr_lm_train_parent_class)->finalize (object);
}

static void
cxr_lm_train_class_init (CxrLmTrainClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  CxrTrainerClass *trainer_class = CXR_TRAINER_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_lm_train_set_property;
  object_class->get_property = cxr_lm_train_get_property;
  object_class->dispose = cxr_lm_train_dispose;
  object_class->finalize = cxr_lm_train_finalize;
  stage_class->finish = cxr_lm_train_finish;
  stage_class->get_port_fields = cxr_lm_train_get_port_fields;
  trainer_class->setup = cxr_lm_train_setup;
  trainer_class->compute_loss = cxr_lm_train_compute_loss;
  props[P_MODEL] = g_param_spec_object ("model", "Model", "The BART to train (bart-autoencoder, or bart)",
                                        CXR_TYPE_BART, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  props[P_TOKENIZER] = g_param_spec_string ("tokenizer", "Tokenizer", "The folder of BART's vocab.json and "
                                            "merges.txt (default: the model's folder)", NULL, flags);
  props[P_TEXT_FIELD] = g_param_spec_string ("text-field", "Text field", "The string field of the reports", "report",
                                             flags);
  props[P_MAX_LENGTH] = g_param_spec_uint ("max-length", "Max length", "Tokens per report, <s> and </s> included "
                                           "(longer ones are truncated; 0: the model's positions)", 0, G_MAXUINT, 512,
                                           flags);
  props[P_SCORE_PADDING] = g_param_spec_boolean ("score-padding", "Score padding", "Score the padding too, as the "
                                                 "reference's loss does", FALSE, flags);
  g_object_class_install_properties (object_class, N_P, props);
  cxr_stage_class_set_metadata (stage_class, "Language-model training", "Filter/Trainer",
                                "Trains BART to rebuild reports (the paper's report autoencoder), with AdamW",
                                "The cxrgen developers");
  cxr_stage_class_add_input (stage_class, "in", "report", "Samples with reports");
  cxr_trainer_class_add_validate_input (CXR_TRAINER_CLASS (klass), "report");
  cxr_stage_class_add_output (stage_class, "out", "loss,step,accuracy", TRUE,
                              "The same batches, with the loss, step and token accuracy");
}

static void
cxr_lm_train_init (CxrLmTrain *self)
{
}
