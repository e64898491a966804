/* cxr-labels.c: the 14 CheXpert observations, label encodings and the
 * CXR-IRGen prompt.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "cxr.h"

/* In the order of MIMIC-CXR's chexpert CSV and of the reference code. */
static const gchar *const observations[CXR_N_OBSERVATIONS + 1] = {
  "Atelectasis",        "Cardiomegaly",     "Consolidation", "Edema",
  "Enlarged Cardiomediastinum", "Fracture", "Lung Lesion",   "Lung Opacity",
  "No Finding",         "Pleural Effusion", "Pleural Other", "Pneumonia",
  "Pneumothorax",       "Support Devices",  NULL,
};

static const gchar *const phrases[CXR_N_OBSERVATIONS] = {
  "atelectasis",        "cardiomegaly",     "consolidation", "edema",
  "enlarged cardiomediastinum", "fracture", "lung lesion",   "lung opacity",
  "no finding",         "pleural effusion", "pleural other", "pneumonia",
  "pneumothorax",       "support devices",
};

/**
 * cxr_labels_get_observations:
 *
 * The 14 CheXpert observations in label-vector order, spelled as the
 * column names of MIMIC-CXR's chexpert CSV ("Atelectasis", ...,
 * "Support Devices").
 *
 * Returns: (transfer none) (array zero-terminated=1): the names
 */
const gchar *const *
cxr_labels_get_observations (void)
{
  return observations;
}

/**
 * cxr_labels_get_phrase:
 * @index: an observation index, below %CXR_N_OBSERVATIONS
 *
 * Returns: (transfer none) (nullable): the observation as the prompt
 *   writes it ("enlarged cardiomediastinum"), or %NULL for a bad index
 */
const gchar *
cxr_labels_get_phrase (guint index)
{
  g_return_val_if_fail (index < CXR_N_OBSERVATIONS, NULL);
  return phrases[index];
}

/**
 * cxr_labels_find_observation:
 * @name: an observation name, in any case, with spaces or underscores
 *   ("Pleural Effusion", "pleural_effusion")
 *
 * Returns: the observation's index in a label vector, or -1
 */
gint
cxr_labels_find_observation (const gchar *name)
{
  g_autofree gchar *normal = NULL;

  g_return_val_if_fail (name != NULL, -1);
  normal = g_strdelimit (g_ascii_strdown (name, -1), "_", ' ');
  for (guint i = 0; i < CXR_N_OBSERVATIONS; i++)
    if (g_str_equal (normal, phrases[i]))
      return (gint) i;
  return -1;
}

/**
 * cxr_labels_decode:
 * @value: one number of a label vector
 * @encoding: how to read it
 *
 * Returns: what @value says
 */
CxrLabelState
cxr_labels_decode (gfloat value, CxrLabelEncoding encoding)
{
  if (isnan (value))
    return CXR_LABEL_BLANK;
  switch (encoding)
    {
    case CXR_LABEL_ENCODING_REFERENCE:
      if (value == 1.0f)
        return CXR_LABEL_POSITIVE;
      if (value == -1.0f)
        return CXR_LABEL_NEGATIVE;
      if (value == -2.0f)
        return CXR_LABEL_UNCERTAIN;
      return CXR_LABEL_BLANK;
    case CXR_LABEL_ENCODING_CHEXPERT:
      if (value == 1.0f)
        return CXR_LABEL_POSITIVE;
      if (value == 0.0f)
        return CXR_LABEL_NEGATIVE;
      if (value == -1.0f)
        return CXR_LABEL_UNCERTAIN;
      return CXR_LABEL_BLANK;
    default:
      g_return_val_if_reached (CXR_LABEL_BLANK);
    }
}

/**
 * cxr_labels_encode:
 * @state: what the label says
 * @encoding: how to write it
 *
 * Returns: the number for @state in @encoding (NaN for blank in the
 *   CheXpert encoding, 0 in the reference encoding)
 */
gfloat
cxr_labels_encode (CxrLabelState state, CxrLabelEncoding encoding)
{
  static const gfloat reference[] = { 0.0f, 1.0f, -1.0f, -2.0f };
  static const gfloat chexpert[] = { NAN, 1.0f, 0.0f, -1.0f };

  g_return_val_if_fail (state <= CXR_LABEL_UNCERTAIN, NAN);
  return encoding == CXR_LABEL_ENCODING_CHEXPERT ? chexpert[state] : reference[state];
}

static void
append_list (GString *out, const gchar *lead, GPtrArray *items)
{
  if (items->len == 0)
    return;
  g_string_append (out, lead);
  for (guint i = 0; i < items->len; i++)
    {
      if (i > 0)
        g_string_append (out, " and ");
      g_string_append (out, g_ptr_array_index (items, i));
    }
}

/**
 * cxr_labels_to_prompt:
 * @values: (array length=n_values): a label vector, 14 numbers in the
 *   order of cxr_labels_get_observations()
 * @n_values: the number of values, %CXR_N_OBSERVATIONS
 * @encoding: how to read the values
 *
 * Writes the prompt of CXR-IRGen for a label vector: "A chest X ray
 * image", then " with A and B" for the positives, ", without C and D" for
 * the negatives and ", and with uncertain E" for the uncertain ones, each
 * list in label-vector order joined by " and ".
 *
 * Returns: (transfer full) (nullable): the prompt, or %NULL if @n_values
 *   is not %CXR_N_OBSERVATIONS
 */
gchar *
cxr_labels_to_prompt (const gfloat *values, gsize n_values, CxrLabelEncoding encoding)
{
  g_autoptr (GPtrArray) positive = g_ptr_array_new ();
  g_autoptr (GPtrArray) negative = g_ptr_array_new ();
  g_autoptr (GPtrArray) uncertain = g_ptr_array_new ();
  GString *out;

  g_return_val_if_fail (n_values == CXR_N_OBSERVATIONS, NULL);
  g_return_val_if_fail (values != NULL, NULL);
  for (guint i = 0; i < CXR_N_OBSERVATIONS; i++)
    switch (cxr_labels_decode (values[i], encoding))
      {
      case CXR_LABEL_POSITIVE:
        g_ptr_array_add (positive, (gpointer) phrases[i]);
        break;
      case CXR_LABEL_NEGATIVE:
        g_ptr_array_add (negative, (gpointer) phrases[i]);
        break;
      case CXR_LABEL_UNCERTAIN:
        g_ptr_array_add (uncertain, (gpointer) phrases[i]);
        break;
      case CXR_LABEL_BLANK:
      default:
        break;
      }
  out = g_string_new ("A chest X ray image");
  append_list (out, " with ", positive);
  append_list (out, ", without ", negative);
  append_list (out, ", and with uncertain ", uncertain);
  return g_string_free (out, FALSE);
}
