/* tests/test-labeler.c: the report labeler: the CheXpert labeler's own
 * four sample reports and output, then every observation positive,
 * negated, uncertain and absent in hand-written reports, and the rules of
 * aggregation.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "test-common.h"

static CxrLabeler *labeler;

/* "P" positive, "N" negative, "U" uncertain, "" blank, per observation in
 * the order of cxr_labels_get_observations(). */
static void
assert_labels (const gchar *report, const gchar *const expected[CXR_N_OBSERVATIONS])
{
  gfloat labels[CXR_N_OBSERVATIONS];
  g_autoptr (GError) error = NULL;

  g_assert_true (cxr_labeler_label_into (labeler, report, labels, &error));
  for (guint i = 0; i < CXR_N_OBSERVATIONS; i++)
    {
      const gchar *want = expected[i] ? expected[i] : "";
      const gchar *got = isnan (labels[i]) ? "" : labels[i] == 1 ? "P" : labels[i] == 0 ? "N" : "U";
      if (!g_str_equal (want, got))
        {
          g_autofree gchar *why = cxr_labeler_explain (labeler, report);
          g_error ("\"%s\": %s is \"%s\", expected \"%s\"\n%s", report, cxr_labels_get_observations ()[i], got,
                   want, why);
        }
    }
}

static void
test_chexpert_samples (void)
{
  g_autofree gchar *reports_path = test_src_path ("pipelines/data/chexpert/sample_reports.csv");
  g_autofree gchar *labels_path = test_src_path ("pipelines/data/chexpert/labeled_reports.csv");
  g_autoptr (CxrCsvReader) expected = cxr_csv_reader_open (labels_path, NULL);
  guint rows = 0;

  g_assert_nonnull (expected);
  while (cxr_csv_reader_next (expected, NULL))
    {
      const gchar *report = cxr_csv_reader_get (expected, 0);
      gfloat labels[CXR_N_OBSERVATIONS];
      g_assert_true (cxr_labeler_label_into (labeler, report, labels, NULL));
      for (guint c = 1; c < cxr_csv_reader_get_n_columns (expected); c++)
        {
          const gchar *want = cxr_csv_reader_get (expected, c);
          gint index = cxr_labels_find_observation (cxr_csv_reader_get_column_name (expected, c));
          gfloat v = labels[index];
          g_autofree gchar *got = isnan (v) ? g_strdup ("") : g_strdup_printf ("%.1f", v);
          if (!g_str_equal (got, want))
            g_error ("%s, report %u: %s is \"%s\", the CheXpert labeler says \"%s\"", labels_path, rows + 1,
                     cxr_csv_reader_get_column_name (expected, c), got, want);
        }
      rows++;
    }
  g_assert_cmpuint (rows, ==, 4);
  (void) reports_path;
}

typedef struct {
  guint observation;
  const gchar *positive;
  const gchar *negative;
  const gchar *uncertain;
} ObservationCase;

/* One report each: the finding present, denied, hedged. */
static const ObservationCase cases[] = {
  { 0, "There is bibasilar atelectasis.", "No atelectasis.", "Possible left basilar atelectasis." },
  { 1, "The heart is enlarged, cardiomegaly.", "Heart size is normal.", "Borderline cardiomegaly." },
  { 2, "Dense consolidation in the right lower lobe.", "No focal consolidation is seen.",
    "Consolidation cannot be excluded." },
  { 3, "Moderate pulmonary edema.", "There is no pulmonary edema.", "Mild edema is likely." },
  { 4, "The cardiomediastinum is widened.", "Normal cardiomediastinum.",
    "Questionable widening of the mediastinum." },
  { 5, "Acute fracture of the left seventh rib.", "No displaced fracture.", "Possible rib fracture." },
  { 6, "A 2 cm nodule in the right upper lobe.", "No suspicious pulmonary nodules.",
    "Rounded opacity may represent a nodule." },
  { 7, "Patchy opacity at the left base.", "Lungs without focal opacity.", "Questionable opacity at the right base." },
  { 9, "Small right pleural effusion.", "No pleural effusion.", "Small effusion is not excluded." },
  { 10, "Biapical pleural thickening.", "No pleural thickening.", "Possible pleural thickening." },
  { 11, "Right lower lobe pneumonia.", "No evidence of pneumonia.", "Findings could represent pneumonia." },
  { 12, "Small left apical pneumothorax.", "There is no pneumothorax.", "Tiny pneumothorax versus skin fold." },
  { 13, "Endotracheal tube terminates 4 cm above the carina.", "The chest tube has been removed.",
    "Possible catheter in the right atrium." },
};

static void
test_each_observation (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const ObservationCase *c = &cases[i];
      const gchar *expected[CXR_N_OBSERVATIONS] = { NULL };
      gboolean device = c->observation == 13;

      /* present: No Finding blank, except for support devices */
      expected[c->observation] = "P";
      expected[8] = device ? "P" : NULL;
      assert_labels (c->positive, expected);
      /* denied: No Finding positive */
      expected[c->observation] = "N";
      expected[8] = "P";
      assert_labels (c->negative, expected);
      /* hedged: No Finding blank, except for support devices */
      expected[c->observation] = "U";
      expected[8] = device ? "P" : NULL;
      if (c->observation == 6)
        expected[7] = "P"; /* "rounded opacity" is an opacity, stated */
      assert_labels (c->uncertain, expected);
    }
}

static void
test_aggregation (void)
{
  const gchar *empty[CXR_N_OBSERVATIONS] = { [8] = "P" };
  const gchar *clear[CXR_N_OBSERVATIONS] = { [8] = "P" };
  const gchar *mixed[CXR_N_OBSERVATIONS] = { [9] = "P", [3] = "N" };
  const gchar *hedge_then_deny[CXR_N_OBSERVATIONS] = { [11] = "U" };
  const gchar *chf[CXR_N_OBSERVATIONS] = { [1] = "U", [3] = "P" };
  const gchar *other[CXR_N_OBSERVATIONS] = { 0 };
  const gchar *sections[CXR_N_OBSERVATIONS] = { [9] = "P", [12] = "N" };
  const gchar *pericardial[CXR_N_OBSERVATIONS] = { [8] = "P" };

  assert_labels ("", empty);
  assert_labels ("The lungs are clear.", clear);
  /* positive beats negative, across sentences */
  assert_labels ("No edema. No effusion on the left. Small effusion on the right.", mixed);
  /* uncertain beats negative */
  assert_labels ("No pneumonia. Pneumonia is possible in the lingula.", hedge_then_deny);
  /* heart failure: edema, and cardiomegaly uncertain */
  assert_labels ("Findings of congestive heart failure.", chf);
  /* another finding (emphysema) makes No Finding blank */
  assert_labels ("Emphysema.", other);
  /* sections, line wraps, upper case and a numbered list */
  assert_labels ("FINDINGS: There is a small right\npleural EFFUSION.\n\nIMPRESSION:\n1. No pneumothorax.", sections);
  /* an unmention: a pericardial effusion is no pleural effusion */
  assert_labels ("Small pericardial effusion.", pericardial);
}

static void
test_bad_text (void)
{
  gfloat labels[CXR_N_OBSERVATIONS];
  g_autoptr (GError) error = NULL;
  gsize n = 99;

  g_assert_false (cxr_labeler_label_into (labeler, "bad \xff text", labels, &error));
  g_assert_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE);
  g_clear_error (&error);
  g_assert_null (cxr_labeler_label (labeler, "\xc3", &n, &error));
  g_assert_cmpuint (n, ==, 0);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  labeler = cxr_labeler_new (&error);
  g_assert_no_error (error);
  g_test_add_func ("/labeler/chexpert-samples", test_chexpert_samples);
  g_test_add_func ("/labeler/each-observation", test_each_observation);
  g_test_add_func ("/labeler/aggregation", test_aggregation);
  g_test_add_func ("/labeler/bad-text", test_bad_text);
  ret = g_test_run ();
  g_object_unref (labeler);
  return ret;
}
