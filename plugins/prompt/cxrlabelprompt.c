/* plugins/prompt/cxrlabelprompt.c: label vectors to prompt text.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxrlabelprompt.h"

/**
 * SECTION:label-prompt
 *
 * `label-prompt` writes the prompt of CXR-IRGen for each sample's label
 * vector, with cxr_labels_to_prompt(): "A chest X ray image with
 * cardiomegaly and pleural effusion, without pneumothorax, and with
 * uncertain edema". The label values are read in the encoding the
 * batch's "label-encoding" extra names (mimic-cxr-source sets it), or
 * else in the `encoding` property's.
 *
 * |[
 * [stage prompt]
 * type=label-prompt
 * input=labels
 * encoding=chexpert     # 1 / 0 / -1 / blank, as MIMIC-CXR's CSV
 * ]|
 */

struct _CxrLabelPrompt {
  CxrStage parent_instance;
  CxrLabelEncoding encoding;
  gchar *labels_field;
  gchar *prompt_field;
};

enum {
  PROP_0,
  PROP_ENCODING,
  PROP_LABELS_FIELD,
  PROP_PROMPT_FIELD,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (CxrLabelPrompt, cxr_label_prompt, CXR_TYPE_STAGE)

static gboolean
cxr_label_prompt_transform (CxrStage *stage, CxrBatch *batch, GError **error)
{
  CxrLabelPrompt *self = CXR_LABEL_PROMPT (stage);
  guint size = cxr_batch_get_size (batch);
  guint width = 0;
  const gfloat *labels = cxr_batch_get_floats (batch, self->labels_field, &width, NULL);
  CxrLabelEncoding encoding = self->encoding;
  GVariant *encoding_name;
  gchar **prompts;

  if (labels == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_MISSING_FIELD,
                   "batch %" G_GUINT64_FORMAT " has no float field \"%s\"",
                   cxr_batch_get_sequence (batch), self->labels_field);
      return FALSE;
    }
  if (width != CXR_N_OBSERVATIONS)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_BAD_FIELD,
                   "field \"%s\" has %u values per sample, but a label vector has %u",
                   self->labels_field, width, CXR_N_OBSERVATIONS);
      return FALSE;
    }
  encoding_name = cxr_batch_get_extra (batch, "label-encoding");
  if (encoding_name != NULL && g_variant_is_of_type (encoding_name, G_VARIANT_TYPE_STRING))
    encoding = g_str_equal (g_variant_get_string (encoding_name, NULL), "chexpert") ? CXR_LABEL_ENCODING_CHEXPERT
                                                                                     : CXR_LABEL_ENCODING_REFERENCE;
  prompts = g_new0 (gchar *, size + 1);
  for (guint i = 0; i < size; i++)
    prompts[i] = cxr_labels_to_prompt (labels + (gsize) i * width, width, encoding);
  cxr_batch_take_strings (batch, self->prompt_field, prompts);
  return TRUE;
}

static gchar **
cxr_label_prompt_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  CxrLabelPrompt *self = CXR_LABEL_PROMPT (stage);
  const gchar *field = direction == CXR_PORT_INPUT ? self->labels_field : self->prompt_field;
  const gchar *fields[] = { field, NULL };

  return g_strdupv ((gchar **) fields);
}

static void
cxr_label_prompt_set_property (GObject *object, guint prop_id, const GValue *value,
                               GParamSpec *pspec)
{
  CxrLabelPrompt *self = CXR_LABEL_PROMPT (object);

  switch (prop_id)
    {
    case PROP_ENCODING:
      self->encoding = g_value_get_enum (value);
      break;
    case PROP_LABELS_FIELD:
      g_free (self->labels_field);
      self->labels_field = g_value_dup_string (value);
      break;
    case PROP_PROMPT_FIELD:
      g_free (self->prompt_field);
      self->prompt_field = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cxr_label_prompt_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  CxrLabelPrompt *self = CXR_LABEL_PROMPT (object);

  switch (prop_id)
    {
    case PROP_ENCODING:
      g_value_set_enum (value, self->encoding);
      break;
    case PROP_LABELS_FIELD:
      g_value_set_string (value, self->labels_field);
      break;
    case PROP_PROMPT_FIELD:
      g_value_set_string (value, self->prompt_field);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cxr_label_prompt_finalize (GObject *object)
{
  CxrLabelPrompt *self = CXR_LABEL_PROMPT (object);

  g_free (self->labels_field);
  g_free (self->prompt_field);
  G_OBJECT_CLASS (cxr_label_prompt_parent_class)->finalize (object);
}

static void
cxr_label_prompt_class_init (CxrLabelPromptClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);

  object_class->set_property = cxr_label_prompt_set_property;
  object_class->get_property = cxr_label_prompt_get_property;
  object_class->finalize = cxr_label_prompt_finalize;
  stage_class->transform = cxr_label_prompt_transform;
  stage_class->get_port_fields = cxr_label_prompt_get_port_fields;

  properties[PROP_ENCODING] =
    g_param_spec_enum ("encoding", "Encoding",
                       "How the label values are written, unless the batch says: reference (1 positive, "
                       "-1 negative, -2 uncertain) or chexpert (1, 0, -1, blank)",
                       CXR_TYPE_LABEL_ENCODING, CXR_LABEL_ENCODING_REFERENCE,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_LABELS_FIELD] =
    g_param_spec_string ("labels-field", "Labels field",
                         "The batch field holding the 14-value label vectors", CXR_FIELD_LABELS,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);
  properties[PROP_PROMPT_FIELD] =
    g_param_spec_string ("prompt-field", "Prompt field", "The batch field to write the prompts to",
                         CXR_FIELD_PROMPT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  cxr_stage_class_set_metadata (stage_class, "Label prompt", "Text/Conditioning",
                                "Writes the CXR-IRGen prompt text of each label vector",
                                "The cxrgen developers");
  cxr_stage_class_add_input (stage_class, "in", CXR_FIELD_LABELS, "Batches with label vectors");
  cxr_stage_class_add_output (stage_class, "out", CXR_FIELD_PROMPT, TRUE,
                              "The same batches with a prompt per sample");
}

static void
cxr_label_prompt_init (CxrLabelPrompt *self)
{
}
