/* tests/test-labels.c: observations, encodings and the CXR-IRGen prompt.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>

#include "test-common.h"

enum { ATL, CARD, CONS, EDEMA, ECM, FRAC, LESION, OPAC, NOFIND, EFF, PLOTHER, PNA, PTX, DEV };

static void
test_observations (void)
{
  const gchar *const *names = cxr_labels_get_observations ();

  g_assert_cmpuint (g_strv_length ((gchar **) names), ==, CXR_N_OBSERVATIONS);
  g_assert_cmpstr (names[0], ==, "Atelectasis");
  g_assert_cmpstr (names[ECM], ==, "Enlarged Cardiomediastinum");
  g_assert_cmpstr (names[DEV], ==, "Support Devices");
  g_assert_cmpstr (cxr_labels_get_phrase (ECM), ==, "enlarged cardiomediastinum");
  g_assert_cmpint (cxr_labels_find_observation ("Pleural Effusion"), ==, EFF);
  g_assert_cmpint (cxr_labels_find_observation ("pleural_effusion"), ==, EFF);
  g_assert_cmpint (cxr_labels_find_observation ("NO FINDING"), ==, NOFIND);
  g_assert_cmpint (cxr_labels_find_observation ("Effusion"), ==, -1);
}

static void
test_decode (void)
{
  g_assert_cmpint (cxr_labels_decode (1, CXR_LABEL_ENCODING_REFERENCE), ==, CXR_LABEL_POSITIVE);
  g_assert_cmpint (cxr_labels_decode (-1, CXR_LABEL_ENCODING_REFERENCE), ==, CXR_LABEL_NEGATIVE);
  g_assert_cmpint (cxr_labels_decode (-2, CXR_LABEL_ENCODING_REFERENCE), ==, CXR_LABEL_UNCERTAIN);
  g_assert_cmpint (cxr_labels_decode (0, CXR_LABEL_ENCODING_REFERENCE), ==, CXR_LABEL_BLANK);
  g_assert_cmpint (cxr_labels_decode (NAN, CXR_LABEL_ENCODING_REFERENCE), ==, CXR_LABEL_BLANK);
  g_assert_cmpint (cxr_labels_decode (1, CXR_LABEL_ENCODING_CHEXPERT), ==, CXR_LABEL_POSITIVE);
  g_assert_cmpint (cxr_labels_decode (0, CXR_LABEL_ENCODING_CHEXPERT), ==, CXR_LABEL_NEGATIVE);
  g_assert_cmpint (cxr_labels_decode (-1, CXR_LABEL_ENCODING_CHEXPERT), ==, CXR_LABEL_UNCERTAIN);
  g_assert_cmpint (cxr_labels_decode (NAN, CXR_LABEL_ENCODING_CHEXPERT), ==, CXR_LABEL_BLANK);
  g_assert_cmpint (cxr_labels_decode (-2, CXR_LABEL_ENCODING_CHEXPERT), ==, CXR_LABEL_BLANK);
  /* Encoding and decoding agree both ways. */
  for (CxrLabelState s = CXR_LABEL_BLANK; s <= CXR_LABEL_UNCERTAIN; s++)
    {
      g_assert_cmpint (cxr_labels_decode (cxr_labels_encode (s, CXR_LABEL_ENCODING_REFERENCE),
                                          CXR_LABEL_ENCODING_REFERENCE), ==, s);
      g_assert_cmpint (cxr_labels_decode (cxr_labels_encode (s, CXR_LABEL_ENCODING_CHEXPERT),
                                          CXR_LABEL_ENCODING_CHEXPERT), ==, s);
    }
}

static gchar *
prompt_of (CxrLabelEncoding encoding, const gint *pos, const gint *neg, const gint *unc)
{
  gfloat v[CXR_N_OBSERVATIONS];

  for (guint i = 0; i < CXR_N_OBSERVATIONS; i++)
    v[i] = cxr_labels_encode (CXR_LABEL_BLANK, encoding);
  for (; pos && *pos >= 0; pos++)
    v[*pos] = cxr_labels_encode (CXR_LABEL_POSITIVE, encoding);
  for (; neg && *neg >= 0; neg++)
    v[*neg] = cxr_labels_encode (CXR_LABEL_NEGATIVE, encoding);
  for (; unc && *unc >= 0; unc++)
    v[*unc] = cxr_labels_encode (CXR_LABEL_UNCERTAIN, encoding);
  return cxr_labels_to_prompt (v, CXR_N_OBSERVATIONS, encoding);
}

static void
test_prompt (void)
{
  const gint none[] = { -1 };
  const gint pos2[] = { CARD, EFF, -1 };
  const gint neg1[] = { PTX, -1 };
  const gint neg3[] = { ATL, EDEMA, DEV, -1 };
  const gint unc1[] = { ECM, -1 };
  const gint unc2[] = { CONS, PNA, -1 };

  for (CxrLabelEncoding e = CXR_LABEL_ENCODING_REFERENCE; e <= CXR_LABEL_ENCODING_CHEXPERT; e++)
    {
      g_autofree gchar *blank = prompt_of (e, none, none, none);
      g_autofree gchar *p = prompt_of (e, pos2, none, none);
      g_autofree gchar *n = prompt_of (e, none, neg1, none);
      g_autofree gchar *u = prompt_of (e, none, none, unc1);
      g_autofree gchar *all = prompt_of (e, pos2, neg3, unc2);
      g_autofree gchar *nu = prompt_of (e, none, neg1, unc1);

      g_assert_cmpstr (blank, ==, "A chest X ray image");
      g_assert_cmpstr (p, ==, "A chest X ray image with cardiomegaly and pleural effusion");
      g_assert_cmpstr (n, ==, "A chest X ray image, without pneumothorax");
      g_assert_cmpstr (u, ==, "A chest X ray image, and with uncertain enlarged cardiomediastinum");
      g_assert_cmpstr (all, ==,
                       "A chest X ray image with cardiomegaly and pleural effusion, without "
                       "atelectasis and edema and support devices, and with uncertain "
                       "consolidation and pneumonia");
      g_assert_cmpstr (nu, ==,
                       "A chest X ray image, without pneumothorax, and with uncertain enlarged "
                       "cardiomediastinum");
    }
}

static void
test_prompt_reference_values (void)
{
  /* The reference code's numbers as they are: 1, -1, -2, and 0 or
   * anything else for not mentioned. */
  const gfloat v[CXR_N_OBSERVATIONS] = { 0, 1, -1, -2, 0, 0, 0, 3, 1, 0, 0, 0, 0, 0.5f };
  g_autofree gchar *prompt = cxr_labels_to_prompt (v, CXR_N_OBSERVATIONS, CXR_LABEL_ENCODING_REFERENCE);

  g_assert_cmpstr (prompt, ==,
                   "A chest X ray image with cardiomegaly and no finding, without consolidation, "
                   "and with uncertain edema");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/labels/observations", test_observations);
  g_test_add_func ("/labels/decode", test_decode);
  g_test_add_func ("/labels/prompt", test_prompt);
  g_test_add_func ("/labels/prompt-reference-values", test_prompt_reference_values);
  return g_test_run ();
}
