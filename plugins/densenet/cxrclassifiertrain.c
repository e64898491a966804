/* plugins/densenet/cxrclassifiertrain.c: the classifier-train stage: a
 * DenseNet learns the 14 observations from images and their labels.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "cxrdensenet.h"

/**
 * SECTION:classifier-train
 *
 * `classifier-train` trains the classifier that AUROC of generated images
 * is measured with: a DenseNet (`model`, 14 outputs) on images and their
 * label vectors, with binary cross-entropy on each observation, as
 * CheXNet and the CheXpert baselines train. Batch norm trains (the
 * batch's statistics; the running ones move with momentum 0.1) and is
 * saved with the weights. The labels are read in the batch's encoding
 * (its label-encoding extra: the CheXpert labeler's 1/0/-1/blank or the
 * reference code's): positive is 1, negative 0, a blank (not mentioned)
 * counts as negative, or is left out with `blank=ignore`, and an uncertain
 * label follows `uncertain`: ignore (U-Ignore: left out of the loss,
 * the default), zeros (U-Zeros) or ones (U-Ones).
 *
 * Images are normalised as the `classify` stage does (`normalize`), so
 * the trained folder scores images there. Each batch passes on with loss,
 * step and scores (each sample's 14 probabilities from this forward pass),
 * so `evaluate=true` on another split, followed by eval-auroc, measures
 * the classifier. The optimiser, checkpoints and `output` are
 * #CxrTrainer's.
 *
 * |[
 * [model net]
 * type=densenet
 * config=pipelines/data/densenet-small.json
 * random-weights=true
 *
 * [stage train]
 * type=classifier-train
 * input=data
 * model=net
 * output=${OUT}/classifier/model.safetensors
 * ]|
 */

typedef enum { UNCERTAIN_IGNORE, UNCERTAIN_ZEROS, UNCERTAIN_ONES } Uncertain;

struct _CxrClassifierTrain {
  CxrTrainer parent_instance;
  CxrModel *model;
  gchar *image_field, *labels_field, *uncertain, *blank, *normalize;
  Uncertain uncertain_kind;
  gboolean blank_ignored;
  CxrNormalization normalize_kind;
};

G_DEFINE_FINAL_TYPE (CxrClassifierTrain, cxr_classifier_train, CXR_TYPE_TRAINER)

enum { P_0, P_MODEL, P_IMAGE_FIELD, P_LABELS_FIELD, P_UNCERTAIN, P_BLANK, P_NORMALIZE, N_P };
static GParamSpec *props[N_P];

static CxrModel *
cxr_classifier_train_setup (CxrTrainer *trainer, GError **error)
{
  CxrClassifierTrain *self = CXR_CLASSIFIER_TRAIN (trainer);
  const gchar *const uncertain[] = { "ignore", "zeros", "ones", NULL };

  if (self->model == NULL || !CXR_IS_DENSENET (self->model))
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "model: set model=NAME, a [model NAME] of type "
                   "densenet");
      return NULL;
    }
  if (!g_strv_contains (uncertain, self->uncertain ? self->uncertain : "") ||
      !g_strv_contains ((const gchar *const[]) { "negative", "ignore", NULL }, self->blank ? self->blank : ""))
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "uncertain is ignore, zeros or ones (\"%s\"); "
                   "blank is negative or ignore (\"%s\")", self->uncertain, self->blank);
      return NULL;
    }
  if (!cxr_densenet_parse_normalization (self->normalize, &self->normalize_kind, error) ||
      !cxr_model_prepare (self->model, error))
    return NULL;
  if (cxr_densenet_get_n_classes (CXR_DENSENET (self->model)) != CXR_N_OBSERVATIONS)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "model %s has %u outputs; training needs one per "
                   "observation (%d)", cxr_model_get_name (self->model),
                   cxr_densenet_get_n_classes (CXR_DENSENET (self->model)), CXR_N_OBSERVATIONS);
      return NULL;
    }
  self->uncertain_kind = g_str_equal (self->uncertain, "ignore") ? UNCERTAIN_IGNORE
                         : g_str_equal (self->uncertain, "zeros") ? UNCERTAIN_ZEROS : UNCERTAIN_ONES;
  self->blank_ignored = g_str_equal (self->blank, "ignore");
  return self->model;
}

/* targets and mask [n, 14] from the batch's labels */
static gboolean
targets_of (CxrClassifierTrain *self, CxrBatch *batch, CxrTensor **targets, CxrTensor **mask, GError **error)
{
  guint n = cxr_batch_get_size (batch), width = 0;
  const gfloat *labels = cxr_batch_get_floats (batch, self->labels_field, &width, NULL);
  GVariant *extra = cxr_batch_get_extra (batch, "label-encoding");
  CxrLabelEncoding encoding = CXR_LABEL_ENCODING_CHEXPERT;
  gfloat *t, *m;

  if (labels == NULL || width != CXR_N_OBSERVATIONS)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_MISSING_FIELD, "batch %" G_GUINT64_FORMAT ": needs the "
                   "float field \"%s\" of %d labels per sample", cxr_batch_get_sequence (batch), self->labels_field,
                   CXR_N_OBSERVATIONS);
      return FALSE;
    }
  if (extra && g_variant_is_of_type (extra, G_VARIANT_TYPE_STRING) &&
      g_str_equal (g_variant_get_string (extra, NULL), "reference"))
    encoding = CXR_LABEL_ENCODING_REFERENCE;
  *targets = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { n, CXR_N_OBSERVATIONS }, 2);
  *mask = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { n, CXR_N_OBSERVATIONS }, 2);
  t = cxr_tensor_get_data (*targets);
  m = cxr_tensor_get_data (*mask);
  for (gsize i = 0; i < (gsize) n * CXR_N_OBSERVATIONS; i++)
    {
      CxrLabelState state = cxr_labels_decode (labels[i], encoding);
      t[i] = state == CXR_LABEL_POSITIVE || (state == CXR_LABEL_UNCERTAIN && self->uncertain_kind == UNCERTAIN_ONES);
      m[i] = !((state == CXR_LABEL_UNCERTAIN && self->uncertain_kind == UNCERTAIN_IGNORE) ||
               (state == CXR_LABEL_BLANK && self->blank_ignored));
    }
  return TRUE;
}

static gboolean
cxr_classifier_train_compute_loss (CxrTrainer *trainer, CxrBatch *batch, CxrTape *tape, guint64 micro,
                                   CxrTensor **loss, GError **error)
{
  CxrClassifierTrain *self = CXR_CLASSIFIER_TRAIN (trainer);
  CxrDensenet *model = CXR_DENSENET (self->model);
  g_autoptr (CxrTensor) images = NULL, input = NULL, logits = NULL, targets = NULL, mask = NULL, scores = NULL;

  if ((images = cxr_batch_get_images (batch, self->image_field, error)) == NULL ||
      !targets_of (self, batch, &targets, &mask, error))
    return FALSE;
  input = cxr_densenet_normalize (model, images, self->normalize_kind);
  /* training: batch norm on the batch's statistics; evaluating (no
   * tape): the running ones */
  if ((logits = cxr_densenet_forward (model, tape, input, NULL, error)) == NULL ||
      (*loss = cxr_op_binary_cross_entropy_logits (tape, logits, targets, mask, error)) == NULL ||
      (scores = cxr_op_sigmoid (NULL, logits, error)) == NULL)
    return FALSE;
  cxr_batch_set_floats (batch, "scores", CXR_N_OBSERVATIONS, cxr_tensor_get_data (scores),
                        (gsize) cxr_batch_get_size (batch) * CXR_N_OBSERVATIONS);
  return TRUE;
}

static gchar **
cxr_classifier_train_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  CxrClassifierTrain *self = CXR_CLASSIFIER_TRAIN (stage);
  g_autofree gchar *in = NULL;

  if (direction == CXR_PORT_OUTPUT)
    return g_strsplit ("loss,step,scores", ",", -1);
  in = g_strjoin (",", self->image_field, self->labels_field, NULL);
  return g_strsplit (in, ",", -1);
}

static gchar **
string_slot (CxrClassifierTrain *self, guint id)
{
  switch (id)
    {
    case P_IMAGE_FIELD: return &self->image_field;
    case P_LABELS_FIELD: return &self->labels_field;
    case P_UNCERTAIN: return &self->uncertain;
    case P_BLANK: return &self->blank;
    case P_NORMALIZE: return &self->normalize;
    default: return NULL;
    }
}

static void
cxr_classifier_train_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrClassifierTrain *self = CXR_CLASSIFIER_TRAIN (object);
  gchar **s = string_slot (self, id);

  if (s)
    {
      g_free (*s);
      *s = g_value_dup_string (value);
    }
  else if (id == P_MODEL)
    g_set_object (&self->model, g_value_get_object (value));
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
cxr_classifier_train_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrClassifierTrain *self = CXR_CLASSIFIER_TRAIN (object);
  gchar **s = string_slot (self, id);

  if (s)
    g_value_set_string (value, *s);
  else if (id == P_MODEL)
    g_value_set_object (value, self->model);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
cxr_classifier_train_dispose (GObject *object)
{
  g_clear_object (&CXR_CLASSIFIER_TRAIN (object)->model);
  G_OBJECT_CLASS (cxr_classifier_train_parent_class)->dispose (object);
}

static void
cxr_classifier_train_finalize (GObject *object)
{
  CxrClassifierTrain *self = CXR_CLASSIFIER_TRAIN (object);
  for (guint id = 0; id < N_P; id++)
    if (string_slot (self, id))
      g_free (*string_slot (self, id));
  G_OBJECT_CLASS (cxr_classifier_train_parent_class)->finalize (object);
}

static void
cxr_classifier_train_class_init (CxrClassifierTrainClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  CxrTrainerClass *trainer_class = CXR_TRAINER_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_classifier_train_set_property;
  object_class->get_property = cxr_classifier_train_get_property;
  object_class->dispose = cxr_classifier_train_dispose;
  object_class->finalize = cxr_classifier_train_finalize;
  stage_class->get_port_fields = cxr_classifier_train_get_port_fields;
  trainer_class->setup = cxr_classifier_train_setup;
  trainer_class->compute_loss = cxr_classifier_train_compute_loss;
  props[P_MODEL] = g_param_spec_object ("model", "Model", "The classifier to train (a densenet model with 14 "
                                        "outputs)", CXR_TYPE_IMAGE_ENCODER, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  props[P_IMAGE_FIELD] = g_param_spec_string ("image-field", "Image field", "The float field of the images, gray in "
                                              "[0, 1]", "image", flags);
  props[P_LABELS_FIELD] = g_param_spec_string ("labels-field", "Labels field", "The float field of the 14 labels, in "
                                               "the batch's label-encoding", "labels", flags);
  props[P_UNCERTAIN] = g_param_spec_string ("uncertain", "Uncertain", "What an uncertain label counts as: ignore "
                                            "(left out of the loss), zeros or ones", "ignore", flags);
  props[P_BLANK] = g_param_spec_string ("blank", "Blank", "What a blank label (not mentioned) counts as: negative "
                                        "or ignore", "negative", flags);
  props[P_NORMALIZE] = g_param_spec_string ("normalize", "Normalize", "imagenet (torchvision's mean and deviation), "
                                            "half (to [-1, 1]) or xrv (torchxrayvision's [-1024, 1024]), as classify "
                                            "will score with", "imagenet", flags);
  g_object_class_install_properties (object_class, N_P, props);
  cxr_stage_class_set_metadata (stage_class, "Classifier training", "Filter/Trainer",
                                "Trains a DenseNet on images and their 14 labels (binary cross-entropy), with AdamW",
                                "The cxrgen developers");
  cxr_stage_class_add_input (stage_class, "in", "image,labels", "Samples with images and label vectors");
  cxr_trainer_class_add_validate_input (CXR_TRAINER_CLASS (klass), "image,labels");
  cxr_stage_class_add_output (stage_class, "out", "loss,step,scores", TRUE,
                              "The same batches, with the loss, step and each sample's scores");
}

static void
cxr_classifier_train_init (CxrClassifierTrain *self)
{
}
