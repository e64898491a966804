/* cxr-metrics.c: F1 of labels, AUROC of scores, FID and KID of features.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "cxr.h"

/* ------------------------------------------------------------------ input */

/* [N, C] float labels or scores as doubles, or an error naming @what. */
static gdouble *
matrix_of (CxrTensor *t, const gchar *op, const gchar *what, gint64 *rows, gint64 *cols, GError **error)
{
  g_autoptr (CxrTensor) d = NULL;

  if (t == NULL || cxr_tensor_get_ndim (t) != 2)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE, "%s: %s must be a matrix [N, C]", op, what);
      return NULL;
    }
  d = cxr_tensor_to_dtype (t, CXR_DTYPE_F64, error);
  if (d == NULL)
    return NULL;
  *rows = cxr_tensor_get_dim (t, 0);
  *cols = cxr_tensor_get_dim (t, 1);
  return g_memdup2 (cxr_tensor_get_data (d), MAX (cxr_tensor_get_nbytes (d), 1));
}

/* A CheXpert label as 1 (positive), 0 (negative) or -1 (excluded). */
static gint
binarize (gdouble v, CxrUncertainPolicy policy)
{
  if (v == 1.0)
    return 1;
  if (v == -1.0)
    return policy == CXR_UNCERTAIN_AS_POSITIVE ? 1 : policy == CXR_UNCERTAIN_AS_NEGATIVE ? 0 : -1;
  return 0; /* 0 and blank (NaN) */
}

/* --------------------------------------------------------------------- F1 */

/**
 * cxr_metrics_f1:
 * @predicted: F32 or F64 [N, C]: CheXpert labels (1, 0, -1, NaN blank)
 * @reference: the same shape: the labels to match
 * @policy: what an uncertain label means
 * @error: return location for a #GError
 *
 * Precision, recall, F1 and support per observation, then micro and macro
 * averages, as scikit-learn's precision_recall_fscore_support computes
 * them (positive = 1; 0 where a denominator is 0).
 *
 * Returns: (transfer full): F64 [C + 2, 4]: rows are the observations,
 *   then micro, then macro; columns precision, recall, F1, support; or
 *   %NULL with @error set
 */
CxrTensor *
cxr_metrics_f1 (CxrTensor *predicted, CxrTensor *reference, CxrUncertainPolicy policy, GError **error)
{
  g_autofree gdouble *p = NULL, *r = NULL;
  gint64 n, c, n2, c2;
  gdouble tp_all = 0, fp_all = 0, fn_all = 0;
  CxrTensor *out;
  gdouble *o;

  p = matrix_of (predicted, "f1", "the predictions", &n, &c, error);
  if (p == NULL)
    return NULL;
  r = matrix_of (reference, "f1", "the reference", &n2, &c2, error);
  if (r == NULL)
    return NULL;
  if (n != n2 || c != c2)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "f1: %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " predictions for %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                   " reference labels", n, c, n2, c2);
      return NULL;
    }
  out = cxr_tensor_new (CXR_DTYPE_F64, (const gint64[]) { c + 2, 4 }, 2);
  o = cxr_tensor_get_data (out);
  for (gint64 k = 0; k < c; k++)
    {
      gdouble tp = 0, fp = 0, fn = 0;
      for (gint64 i = 0; i < n; i++)
        {
          gint yp = binarize (p[i * c + k], policy), yr = binarize (r[i * c + k], policy);
          if (yp < 0 || yr < 0)
            continue;
          tp += yp && yr;
          fp += yp && !yr;
          fn += !yp && yr;
        }
      o[k * 4 + 0] = tp + fp > 0 ? tp / (tp + fp) : 0;
      o[k * 4 + 1] = tp + fn > 0 ? tp / (tp + fn) : 0;
      /* F as scikit-learn computes it, from precision and recall */
      o[k * 4 + 2] = o[k * 4] + o[k * 4 + 1] > 0 ? 2 * o[k * 4] * o[k * 4 + 1] / (o[k * 4] + o[k * 4 + 1]) : 0;
      o[k * 4 + 3] = tp + fn;
      tp_all += tp;
      fp_all += fp;
      fn_all += fn;
      o[(c + 1) * 4 + 3] += tp + fn;
    }
  for (guint m = 0; m < 3; m++)
    {
      gdouble sum = 0;
      for (gint64 k = 0; k < c; k++)
        sum += o[k * 4 + m];
      o[(c + 1) * 4 + m] = c > 0 ? sum / c : 0;
    }
  o[c * 4 + 0] = tp_all + fp_all > 0 ? tp_all / (tp_all + fp_all) : 0;
  o[c * 4 + 1] = tp_all + fn_all > 0 ? tp_all / (tp_all + fn_all) : 0;
  o[c * 4 + 2] = o[c * 4] + o[c * 4 + 1] > 0 ? 2 * o[c * 4] * o[c * 4 + 1] / (o[c * 4] + o[c * 4 + 1]) : 0;
  o[c * 4 + 3] = tp_all + fn_all;
  return out;
}

/* ------------------------------------------------------------------ AUROC */

typedef struct {
  gdouble score;
  gint label;
} Scored;

static gint
compare_scored (gconstpointer a, gconstpointer b)
{
  gdouble x = ((const Scored *) a)->score, y = ((const Scored *) b)->score;
  return x < y ? -1 : x > y;
}

/* The Mann-Whitney statistic with ties given their average rank; NaN when
 * one class is missing. */
static gdouble
auroc_of (Scored *items, gsize n)
{
  gdouble positives = 0, rank_sum = 0;

  qsort (items, n, sizeof (Scored), compare_scored);
  for (gsize i = 0; i < n;)
    {
      gsize j = i;
      gdouble rank;
      while (j < n && items[j].score == items[i].score)
        j++;
      rank = (i + 1 + j) / 2.0; /* ranks i+1 .. j, averaged */
      for (gsize k = i; k < j; k++)
        if (items[k].label)
          {
            positives++;
            rank_sum += rank;
          }
      i = j;
    }
  if (positives == 0 || positives == (gdouble) n)
    return NAN;
  return (rank_sum - positives * (positives + 1) / 2) / (positives * ((gdouble) n - positives));
}

static gint
compare_doubles (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return x < y ? -1 : x > y;
}

/**
 * cxr_metrics_auroc:
 * @scores: F32 or F64 [N, C]: a classifier's score per sample and observation
 * @labels: the same shape: CheXpert labels (1 positive; 0, -1 or NaN else)
 * @policy: what an uncertain label means
 * @bootstrap: the number of bootstrap resamples for 95% intervals (0: none)
 * @seed: the Philox key of the resampling
 * @error: return location for a #GError
 *
 * The exact area under the ROC curve per observation (the rank statistic,
 * ties averaged; scikit-learn's roc_auc_score), NaN (undefined, not 0.5)
 * for an observation with one class only, and their macro average over the
 * defined ones. With @bootstrap, the 2.5th and 97.5th percentiles of the
 * AUROC over resampled rows; resamples with one class are skipped.
 *
 * Returns: (transfer full): F64 [C + 1, 3]: rows the observations then the
 *   macro average; columns AUROC, interval low, interval high (NaN without
 *   bootstrap); or %NULL with @error set (naming a NaN score)
 */
CxrTensor *
cxr_metrics_auroc (CxrTensor *scores, CxrTensor *labels, CxrUncertainPolicy policy, guint bootstrap,
                   guint64 seed, GError **error)
{
  g_autofree gdouble *s = NULL, *l = NULL;
  g_autofree Scored *items = NULL;
  g_autofree gdouble *draws = NULL;
  g_autofree gfloat *uniform = NULL;
  gint64 n, c, n2, c2;
  CxrTensor *out;
  gdouble *o, macro = 0;
  guint defined = 0;

  s = matrix_of (scores, "auroc", "the scores", &n, &c, error);
  if (s == NULL)
    return NULL;
  l = matrix_of (labels, "auroc", "the labels", &n2, &c2, error);
  if (l == NULL)
    return NULL;
  if (n != n2 || c != c2)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "auroc: %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " scores for %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                   " labels", n, c, n2, c2);
      return NULL;
    }
  for (gint64 i = 0; i < n * c; i++)
    if (isnan (s[i]))
      {
        g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                     "auroc: the score of row %" G_GINT64_FORMAT ", column %" G_GINT64_FORMAT " is NaN", i / c, i % c);
        return NULL;
      }
  out = cxr_tensor_new (CXR_DTYPE_F64, (const gint64[]) { c + 1, 3 }, 2);
  o = cxr_tensor_get_data (out);
  items = g_new (Scored, MAX (n, 1));
  if (bootstrap > 0)
    {
      draws = g_new (gdouble, bootstrap);
      uniform = g_new (gfloat, MAX (n, 1));
    }
  for (gint64 k = 0; k < c; k++)
    {
      gsize m = 0;
      for (gint64 i = 0; i < n; i++)
        {
          gint y = binarize (l[i * c + k], policy);
          if (y < 0)
            continue;
          items[m].score = s[i * c + k];
          items[m].label = y;
          m++;
        }
      o[k * 3] = auroc_of (items, m);
      o[k * 3 + 1] = o[k * 3 + 2] = NAN;
      if (!isnan (o[k * 3]))
        {
          macro += o[k * 3];
          defined++;
        }
      if (bootstrap > 0 && !isnan (o[k * 3]) && m > 0)
        {
          g_autofree Scored *base = g_memdup2 (items, m * sizeof (Scored));
          guint kept = 0;
          /* sort order is irrelevant to the statistic: resample from base */
          for (guint b = 0; b < bootstrap; b++)
            {
              gdouble a;
              cxr_philox_uniform (seed + (guint64) k, (guint64) b * m, uniform, m);
              for (gsize i = 0; i < m; i++)
                items[i] = base[MIN ((gsize) (uniform[i] * m), m - 1)];
              a = auroc_of (items, m);
              if (!isnan (a))
                draws[kept++] = a;
            }
          if (kept > 0)
            {
              qsort (draws, kept, sizeof (gdouble), compare_doubles);
              o[k * 3 + 1] = draws[(gsize) floor (0.025 * (kept - 1))];
              o[k * 3 + 2] = draws[(gsize) ceil (0.975 * (kept - 1))];
            }
        }
    }
  o[c * 3] = defined ? macro / defined : NAN;
  o[c * 3 + 1] = o[c * 3 + 2] = NAN;
  return out;
}

/* ------------------------------------------------------- feature statistics */

/**
 * CxrFeatureStats:
 *
 * Running mean and covariance of feature vectors (Inception pool features
 * for FID, or any encoder's): one pass, any number of batches, memory D^2
 * doubles whatever the count. Sums are taken around the first batch's mean
 * in double precision, so large offsets cost no accuracy.
 */
struct _CxrFeatureStats {
  GObject parent_instance;
  guint dim;
  guint64 count;
  gdouble *shift; /* the first batch's mean */
  gdouble *sum;   /* sum of (x - shift) */
  gdouble *outer; /* sum of (x - shift)(x - shift)^T, upper triangle */
};

G_DEFINE_FINAL_TYPE (CxrFeatureStats, cxr_feature_stats, G_TYPE_OBJECT)

static void
cxr_feature_stats_finalize (GObject *object)
{
  CxrFeatureStats *self = CXR_FEATURE_STATS (object);
  g_free (self->shift);
  g_free (self->sum);
  g_free (self->outer);
  G_OBJECT_CLASS (cxr_feature_stats_parent_class)->finalize (object);
}

static void
cxr_feature_stats_class_init (CxrFeatureStatsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cxr_feature_stats_finalize;
}

static void
cxr_feature_stats_init (CxrFeatureStats *self)
{
}

/**
 * cxr_feature_stats_new:
 * @dim: the feature width (2048 for pytorch-fid's Inception)
 *
 * Returns: (transfer full): empty statistics
 */
CxrFeatureStats *
cxr_feature_stats_new (guint dim)
{
  CxrFeatureStats *self;

  g_return_val_if_fail (dim > 0, NULL);
  self = g_object_new (CXR_TYPE_FEATURE_STATS, NULL);
  self->dim = dim;
  self->sum = g_new0 (gdouble, dim);
  self->outer = g_new0 (gdouble, (gsize) dim * dim);
  return self;
}

/**
 * cxr_feature_stats_update:
 * @self: statistics
 * @features: [N, D] features of any float dtype
 * @error: return location for a #GError
 *
 * Adds a batch of feature vectors.
 *
 * Returns: %TRUE, or %FALSE for another width or a value that is not finite
 */
gboolean
cxr_feature_stats_update (CxrFeatureStats *self, CxrTensor *features, GError **error)
{
  g_autoptr (CxrTensor) d = NULL;
  gint64 n;
  gdouble *x;

  g_return_val_if_fail (CXR_IS_FEATURE_STATS (self), FALSE);
  if (features == NULL || cxr_tensor_get_ndim (features) != 2 || cxr_tensor_get_dim (features, 1) != self->dim)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE, "feature statistics: features must be [N, %u]",
                   self->dim);
      return FALSE;
    }
  d = cxr_tensor_to_dtype (features, CXR_DTYPE_F64, error);
  if (d == NULL)
    return FALSE;
  n = cxr_tensor_get_dim (d, 0);
  if (n == 0)
    return TRUE;
  x = g_memdup2 (cxr_tensor_get_data (d), cxr_tensor_get_nbytes (d));
  for (gint64 i = 0; i < n * self->dim; i++)
    if (!isfinite (x[i]))
      {
        g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                     "feature statistics: feature %" G_GINT64_FORMAT " of row %" G_GINT64_FORMAT " is not finite",
                     i % self->dim, i / self->dim);
        g_free (x);
        return FALSE;
      }
  if (self->shift == NULL)
    {
      self->shift = g_new0 (gdouble, self->dim);
      for (gint64 i = 0; i < n; i++)
        for (guint j = 0; j < self->dim; j++)
          self->shift[j] += x[i * self->dim + j] / n;
    }
  for (gint64 i = 0; i < n; i++)
    for (guint j = 0; j < self->dim; j++)
      {
        x[i * self->dim + j] -= self->shift[j];
        self->sum[j] += x[i * self->dim + j];
      }
  /* outer += X^T X (upper triangle) */
  cblas_dsyrk (CblasRowMajor, CblasUpper, CblasTrans, (blasint) self->dim, (blasint) n, 1.0, x,
               (blasint) self->dim, 1.0, self->outer, (blasint) self->dim);
  self->count += (guint64) n;
  g_free (x);
  return TRUE;
}

/**
 * cxr_feature_stats_get_count:
 * @self: statistics
 *
 * Returns: the number of feature vectors added
 */
guint64
cxr_feature_stats_get_count (CxrFeatureStats *self)
{
  g_return_val_if_fail (CXR_IS_FEATURE_STATS (self), 0);
  return self->count;
}

/**
 * cxr_feature_stats_get_dim:
 * @self: statistics
 *
 * Returns: the feature width
 */
guint
cxr_feature_stats_get_dim (CxrFeatureStats *self)
{
  g_return_val_if_fail (CXR_IS_FEATURE_STATS (self), 0);
  return self->dim;
}

/**
 * cxr_feature_stats_finish:
 * @self: statistics of at least 2 vectors
 * @mean: (out) (transfer full): F64 [D]
 * @covariance: (out) (transfer full): F64 [D, D], unbiased (N - 1), as numpy.cov
 * @error: return location for a #GError
 *
 * Returns: %TRUE, or %FALSE with @error set for fewer than 2 vectors
 */
gboolean
cxr_feature_stats_finish (CxrFeatureStats *self, CxrTensor **mean, CxrTensor **covariance, GError **error)
{
  guint d;
  gdouble n, *m, *c;

  g_return_val_if_fail (CXR_IS_FEATURE_STATS (self), FALSE);
  if (self->count < 2)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "feature statistics need at least 2 feature vectors, not %" G_GUINT64_FORMAT, self->count);
      return FALSE;
    }
  d = self->dim;
  n = (gdouble) self->count;
  *mean = cxr_tensor_new (CXR_DTYPE_F64, (const gint64[]) { d }, 1);
  *covariance = cxr_tensor_new (CXR_DTYPE_F64, (const gint64[]) { d, d }, 2);
  m = cxr_tensor_get_data (*mean);
  c = cxr_tensor_get_data (*covariance);
  for (guint j = 0; j < d; j++)
    m[j] = self->shift[j] + self->sum[j] / n;
  for (guint i = 0; i < d; i++)
    for (guint j = i; j < d; j++)
      {
        gdouble v = (self->outer[(gsize) i * d + j] - self->sum[i] * self->sum[j] / n) / (n - 1);
        c[(gsize) i * d + j] = v;
        c[(gsize) j * d + i] = v;
      }
  return TRUE;
}

/**
 * cxr_feature_stats_save:
 * @self: statistics of at least 2 vectors
 * @path: a safetensors file to write
 * @error: return location for a #GError
 *
 * Saves "mu" and "sigma" (F64) and the count, to compare with later runs
 * without their images.
 *
 * Returns: %TRUE on success
 */
gboolean
cxr_feature_stats_save (CxrFeatureStats *self, const gchar *path, GError **error)
{
  g_autoptr (CxrTensor) mean = NULL, cov = NULL;
  g_autoptr (GHashTable) tensors = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) meta = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);

  if (!cxr_feature_stats_finish (self, &mean, &cov, error))
    return FALSE;
  g_hash_table_insert (tensors, "mu", mean);
  g_hash_table_insert (tensors, "sigma", cov);
  g_hash_table_insert (meta, "count", g_strdup_printf ("%" G_GUINT64_FORMAT, self->count));
  g_hash_table_insert (meta, "cxrgen.format", g_strdup ("feature-stats-1"));
  return cxr_safetensors_save (path, tensors, meta, error);
}

/**
 * cxr_feature_stats_load_file:
 * @path: a file written by cxr_feature_stats_save() (or any safetensors
 *   file with "mu" [D] and "sigma" [D, D])
 * @mean: (out) (transfer full): F64 [D]
 * @covariance: (out) (transfer full): F64 [D, D]
 * @count: (out) (optional): the vectors they came from (0 if unknown)
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
cxr_feature_stats_load_file (const gchar *path, CxrTensor **mean, CxrTensor **covariance, guint64 *count,
                             GError **error)
{
  g_autoptr (CxrSafetensors) file = cxr_safetensors_open (path, error);
  g_autoptr (CxrTensor) mu = NULL, sigma = NULL;
  const gchar *n;

  if (file == NULL)
    return FALSE;
  mu = cxr_safetensors_get_tensor (file, "mu", error);
  if (mu == NULL)
    return FALSE;
  sigma = cxr_safetensors_get_tensor (file, "sigma", error);
  if (sigma == NULL)
    return FALSE;
  if (cxr_tensor_get_ndim (mu) != 1 || cxr_tensor_get_ndim (sigma) != 2 ||
      cxr_tensor_get_dim (sigma, 0) != cxr_tensor_get_dim (mu, 0) || cxr_tensor_get_dim (sigma, 1) != cxr_tensor_get_dim (mu, 0))
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_SHAPE_MISMATCH, "%s: mu must be [D] and sigma [D, D]", path);
      return FALSE;
    }
  *mean = cxr_tensor_to_dtype (mu, CXR_DTYPE_F64, error);
  *covariance = cxr_tensor_to_dtype (sigma, CXR_DTYPE_F64, error);
  n = cxr_safetensors_get_metadata (file, "count");
  if (count)
    *count = n ? g_ascii_strtoull (n, NULL, 10) : 0;
  return *mean != NULL && *covariance != NULL;
}

/* -------------------------------------------------------------------- FID */

/* The square root of a symmetric PSD matrix (in place, d x d), through its
 * eigendecomposition; small negative eigenvalues of rounding are clipped. */
static gboolean
symmetric_sqrt (gdouble *a, gint d, GError **error)
{
  g_autofree gdouble *w = g_new (gdouble, d);
  g_autofree gdouble *v = g_memdup2 (a, (gsize) d * d * sizeof (gdouble));
  g_autofree gdouble *vs = g_new (gdouble, (gsize) d * d);
  lapack_int info = LAPACKE_dsyevd (LAPACK_ROW_MAJOR, 'V', 'U', d, v, d, w);

  if (info != 0)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "frechet distance: the eigendecomposition did not converge (LAPACK info %d)", (int) info);
      return FALSE;
    }
  /* a = V diag(sqrt(w)) V^T */
  for (gint i = 0; i < d; i++)
    for (gint j = 0; j < d; j++)
      vs[(gsize) i * d + j] = v[(gsize) i * d + j] * sqrt (MAX (w[j], 0.0));
  cblas_dgemm (CblasRowMajor, CblasNoTrans, CblasTrans, d, d, d, 1.0, vs, d, v, d, 0.0, a, d);
  return TRUE;
}

/**
 * cxr_metrics_frechet_distance:
 * @mean1: [D] of the first set
 * @covariance1: [D, D] of the first set
 * @mean2: [D] of the second set
 * @covariance2: [D, D] of the second set
 * @error: return location for a #GError
 *
 * The Frechet distance of two Gaussians, |m1 - m2|^2 + tr(C1) + tr(C2)
 * - 2 tr((C1 C2)^1/2): FID when the statistics are of Inception features.
 * The trace of the square root is taken as the sum of the square roots of
 * the eigenvalues of the symmetric C1^1/2 C2 C1^1/2, which has the same
 * eigenvalues as C1 C2 and, unlike a general matrix square root, stays real
 * and stable when a covariance is singular (fewer samples than dimensions).
 *
 * Returns: the distance, or NaN with @error set
 */
gdouble
cxr_metrics_frechet_distance (CxrTensor *mean1, CxrTensor *covariance1, CxrTensor *mean2, CxrTensor *covariance2,
                              GError **error)
{
  g_autoptr (CxrTensor) m1 = NULL, m2 = NULL, c1 = NULL, c2 = NULL;
  g_autofree gdouble *s = NULL, *t = NULL, *w = NULL;
  gint64 d;
  gdouble diff = 0, trace = 0, tr_covmean = 0;
  lapack_int info;

  if (mean1 == NULL || covariance1 == NULL || mean2 == NULL || covariance2 == NULL ||
      cxr_tensor_get_ndim (mean1) != 1 || cxr_tensor_get_ndim (mean2) != 1 ||
      cxr_tensor_get_dim (mean1, 0) != cxr_tensor_get_dim (mean2, 0) || cxr_tensor_get_ndim (covariance1) != 2 ||
      cxr_tensor_get_ndim (covariance2) != 2 || cxr_tensor_get_dim (covariance1, 0) != cxr_tensor_get_dim (mean1, 0) ||
      cxr_tensor_get_dim (covariance1, 1) != cxr_tensor_get_dim (mean1, 0) ||
      cxr_tensor_get_dim (covariance2, 0) != cxr_tensor_get_dim (mean1, 0) ||
      cxr_tensor_get_dim (covariance2, 1) != cxr_tensor_get_dim (mean1, 0))
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "frechet distance: needs two means [D] and two covariances [D, D] of one D");
      return NAN;
    }
  d = cxr_tensor_get_dim (mean1, 0);
  m1 = cxr_tensor_to_dtype (mean1, CXR_DTYPE_F64, NULL);
  m2 = cxr_tensor_to_dtype (mean2, CXR_DTYPE_F64, NULL);
  c1 = cxr_tensor_to_dtype (covariance1, CXR_DTYPE_F64, NULL);
  c2 = cxr_tensor_to_dtype (covariance2, CXR_DTYPE_F64, NULL);
  for (gint64 i = 0; i < d; i++)
    {
      gdouble x = ((gdouble *) cxr_tensor_get_data (m1))[i] - ((gdouble *) cxr_tensor_get_data (m2))[i];
      diff += x * x;
      trace += ((gdouble *) cxr_tensor_get_data (c1))[i * d + i] + ((gdouble *) cxr_tensor_get_data (c2))[i * d + i];
    }
  s = g_memdup2 (cxr_tensor_get_data (c1), (gsize) d * d * sizeof (gdouble));
  if (!symmetric_sqrt (s, (gint) d, error))
    return NAN;
  /* t = S C2 S: symmetric PSD, the eigenvalues of C1 C2 */
  t = g_new (gdouble, (gsize) d * d);
  {
    g_autofree gdouble *tmp = g_new (gdouble, (gsize) d * d);
    cblas_dgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) d, (int) d, (int) d, 1.0, s, (int) d,
                 cxr_tensor_get_data (c2), (int) d, 0.0, tmp, (int) d);
    cblas_dgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) d, (int) d, (int) d, 1.0, tmp, (int) d, s, (int) d,
                 0.0, t, (int) d);
  }
  for (gint64 i = 0; i < d; i++) /* symmetrise away rounding */
    for (gint64 j = i + 1; j < d; j++)
      t[i * d + j] = t[j * d + i] = 0.5 * (t[i * d + j] + t[j * d + i]);
  w = g_new (gdouble, d);
  info = LAPACKE_dsyevd (LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int) d, t, (lapack_int) d, w);
  if (info != 0)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "frechet distance: the eigendecomposition did not converge (LAPACK info %d)", (int) info);
      return NAN;
    }
  for (gint64 i = 0; i < d; i++)
    tr_covmean += sqrt (MAX (w[i], 0.0));
  return diff + trace - 2 * tr_covmean;
}

/* -------------------------------------------------------------------- KID */

static gdouble
poly_kernel (const gdouble *x, const gdouble *y, gint64 d)
{
  gdouble dot = 0;
  for (gint64 k = 0; k < d; k++)
    dot += x[k] * y[k];
  dot = dot / (gdouble) d + 1.0;
  return dot * dot * dot;
}

/**
 * cxr_metrics_kid:
 * @features1: [N, D] features of the first set
 * @features2: [M, D] features of the second set
 * @n_subsets: how many subsets to average over (torch-fidelity: 100)
 * @subset_size: rows per subset, at most min(N, M) (torch-fidelity: 1000)
 * @seed: the Philox key of the subset draws
 * @std: (out) (optional): the standard deviation over the subsets
 * @error: return location for a #GError
 *
 * The kernel inception distance (Binkowski et al., 2018): the unbiased
 * estimate of the squared MMD with the kernel k(x, y) = (x.y / D + 1)^3,
 * averaged over subsets drawn without replacement. With @subset_size equal
 * to both N and M and one subset, every row is used once, deterministically.
 *
 * Returns: the mean over subsets, or NaN with @error set
 */
gdouble
cxr_metrics_kid (CxrTensor *features1, CxrTensor *features2, guint n_subsets, guint subset_size, guint64 seed,
                 gdouble *std, GError **error)
{
  g_autoptr (CxrTensor) a = NULL, b = NULL;
  g_autofree gdouble *values = NULL;
  g_autofree gint64 *ia = NULL, *ib = NULL;
  g_autofree gfloat *u = NULL;
  gint64 n, m, d;
  gdouble mean = 0, var = 0;
  const gdouble *x, *y;

  if (features1 == NULL || features2 == NULL || cxr_tensor_get_ndim (features1) != 2 ||
      cxr_tensor_get_ndim (features2) != 2 || cxr_tensor_get_dim (features1, 1) != cxr_tensor_get_dim (features2, 1))
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE, "kid: needs [N, D] and [M, D] features");
      return NAN;
    }
  n = cxr_tensor_get_dim (features1, 0);
  m = cxr_tensor_get_dim (features2, 0);
  d = cxr_tensor_get_dim (features1, 1);
  if (n_subsets == 0 || subset_size < 2 || subset_size > n || subset_size > m)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "kid: subsets of %u rows from sets of %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT
                   " (need 2 <= size <= both, and at least one subset)", subset_size, n, m);
      return NAN;
    }
  a = cxr_tensor_to_dtype (features1, CXR_DTYPE_F64, error);
  b = cxr_tensor_to_dtype (features2, CXR_DTYPE_F64, error);
  if (a == NULL || b == NULL)
    return NAN;
  x = cxr_tensor_get_data (a);
  y = cxr_tensor_get_data (b);
  values = g_new (gdouble, n_subsets);
  ia = g_new (gint64, MAX (n, m));
  ib = g_new (gint64, MAX (n, m));
  u = g_new (gfloat, MAX (n, m));
  for (guint s = 0; s < n_subsets; s++)
    {
      gdouble kxx = 0, kyy = 0, kxy = 0;
      gint64 k = subset_size;
      /* partial Fisher-Yates shuffles on Philox numbers */
      for (guint set = 0; set < 2; set++)
        {
          gint64 total = set == 0 ? n : m, *idx = set == 0 ? ia : ib;
          for (gint64 i = 0; i < total; i++)
            idx[i] = i;
          if (k == total)
            continue;
          cxr_philox_uniform (seed, ((guint64) s * 2 + set) * (guint64) total, u, (gsize) total);
          for (gint64 i = 0; i < k; i++)
            {
              gint64 j = i + MIN ((gint64) (u[i] * (total - i)), total - i - 1);
              gint64 tmp = idx[i];
              idx[i] = idx[j];
              idx[j] = tmp;
            }
        }
      for (gint64 i = 0; i < k; i++)
        for (gint64 j = 0; j < k; j++)
          {
            if (i != j)
              {
                kxx += poly_kernel (x + ia[i] * d, x + ia[j] * d, d);
                kyy += poly_kernel (y + ib[i] * d, y + ib[j] * d, d);
              }
            kxy += poly_kernel (x + ia[i] * d, y + ib[j] * d, d);
          }
      values[s] = (kxx + kyy) / ((gdouble) k * (k - 1)) - 2 * kxy / ((gdouble) k * k);
      mean += values[s] / n_subsets;
    }
  for (guint s = 0; s < n_subsets; s++)
    var += (values[s] - mean) * (values[s] - mean) / n_subsets;
  if (std)
    *std = sqrt (var);
  return mean;
}

/* -------------------------------------------------------------------- npy */

/**
 * cxr_tensor_load_npy:
 * @path: a .npy file (numpy.save) of little-endian f4, f8, f2, i8 or i4,
 *   in C order
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the array, or %NULL with @error set naming the
 *   file and what is wrong
 */
CxrTensor *
cxr_tensor_load_npy (const gchar *path, GError **error)
{
  g_autoptr (GMappedFile) mapped = NULL;
  g_autoptr (GError) local = NULL;
  const guint8 *data;
  gsize size, header_len, offset;
  g_autofree gchar *header = NULL;
  const gchar *descr, *shape_text;
  CxrDType dtype;
  gint64 shape[CXR_TENSOR_MAX_DIMS];
  guint ndim = 0;
  gsize expected;

  mapped = g_mapped_file_new (path, FALSE, &local);
  if (mapped == NULL)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "%s", local->message);
      return NULL;
    }
  data = (const guint8 *) g_mapped_file_get_contents (mapped);
  size = g_mapped_file_get_length (mapped);
  if (size < 10 || memcmp (data, "\x93NUMPY", 6) != 0)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: not a .npy file", path);
      return NULL;
    }
  if (data[6] == 1)
    {
      header_len = data[8] | (data[9] << 8);
      offset = 10;
    }
  else if ((data[6] == 2 || data[6] == 3) && size >= 12)
    {
      header_len = data[8] | (data[9] << 8) | ((gsize) data[10] << 16) | ((gsize) data[11] << 24);
      offset = 12;
    }
  else
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: .npy version %u is not known", path, data[6]);
      return NULL;
    }
  if (header_len > size - offset)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: the header runs past the end", path);
      return NULL;
    }
  header = g_strndup ((const gchar *) data + offset, header_len);
  offset += header_len;
  if (strstr (header, "'fortran_order': False") == NULL)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_UNSUPPORTED, "%s: only C-order arrays are read", path);
      return NULL;
    }
  descr = strstr (header, "'descr': '");
  shape_text = strstr (header, "'shape': (");
  if (descr == NULL || shape_text == NULL)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: the header has no descr or shape", path);
      return NULL;
    }
  descr += strlen ("'descr': '");
  if (g_str_has_prefix (descr, "<f4'"))
    dtype = CXR_DTYPE_F32;
  else if (g_str_has_prefix (descr, "<f8'"))
    dtype = CXR_DTYPE_F64;
  else if (g_str_has_prefix (descr, "<f2'"))
    dtype = CXR_DTYPE_F16;
  else if (g_str_has_prefix (descr, "<i8'"))
    dtype = CXR_DTYPE_I64;
  else if (g_str_has_prefix (descr, "<i4'"))
    dtype = CXR_DTYPE_I32;
  else
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_UNSUPPORTED, "%s: dtype %.6s is not read (f4, f8, f2, i8, i4)",
                   path, descr);
      return NULL;
    }
  shape_text += strlen ("'shape': (");
  while (*shape_text && *shape_text != ')')
    {
      gchar *end;
      guint64 v;
      while (*shape_text == ' ' || *shape_text == ',')
        shape_text++;
      if (*shape_text == ')')
        break;
      v = g_ascii_strtoull (shape_text, &end, 10);
      if (end == shape_text || ndim == CXR_TENSOR_MAX_DIMS || v > (guint64) G_MAXINT32 * 1024)
        {
          g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: the shape is malformed or too large", path);
          return NULL;
        }
      shape[ndim++] = (gint64) v;
      shape_text = end;
    }
  expected = cxr_dtype_get_size (dtype);
  for (guint i = 0; i < ndim; i++)
    expected *= (gsize) shape[i];
  if (size - offset != expected)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE,
                   "%s: %" G_GSIZE_FORMAT " bytes of data for a shape that needs %" G_GSIZE_FORMAT, path,
                   size - offset, expected);
      return NULL;
    }
  return cxr_tensor_new_from_data (dtype, shape, ndim, data + offset, expected, error);
}

/* ------------------------------------------------------------------ JSON */

/**
 * cxr_metrics_table_to_json:
 * @table: an F64 [R, C] table of results
 * @row_names: (array zero-terminated=1): R names
 * @column_names: (array zero-terminated=1): C names
 *
 * Returns: (transfer full): {"ROW": {"COLUMN": value, ...}, ...}, NaN as
 *   null, on one line
 */
gchar *
cxr_metrics_table_to_json (CxrTensor *table, const gchar *const *row_names, const gchar *const *column_names)
{
  g_autoptr (CxrTensor) d = NULL;
  GString *out = g_string_new ("{");
  gint64 rows, cols;
  const gdouble *v;

  g_return_val_if_fail (table != NULL && cxr_tensor_get_ndim (table) == 2, NULL);
  d = cxr_tensor_to_dtype (table, CXR_DTYPE_F64, NULL);
  rows = cxr_tensor_get_dim (d, 0);
  cols = cxr_tensor_get_dim (d, 1);
  v = cxr_tensor_get_data (d);
  g_return_val_if_fail (g_strv_length ((gchar **) row_names) == rows, NULL);
  g_return_val_if_fail (g_strv_length ((gchar **) column_names) == cols, NULL);
  for (gint64 r = 0; r < rows; r++)
    {
      g_string_append_printf (out, "%s\"%s\":{", r ? "," : "", row_names[r]);
      for (gint64 c = 0; c < cols; c++)
        {
          gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
          g_string_append_printf (out, "%s\"%s\":", c ? "," : "", column_names[c]);
          g_string_append (out, isnan (v[r * cols + c]) ? "null" : g_ascii_dtostr (buf, sizeof buf, v[r * cols + c]));
        }
      g_string_append_c (out, '}');
    }
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

/**
 * cxr_metrics_write_json:
 * @path: the file to write
 * @json: the text
 * @error: return location for a #GError
 *
 * Writes @json and a newline atomically (temporary file, fsync, rename),
 * creating the folder if needed.
 *
 * Returns: %TRUE on success
 */
gboolean
cxr_metrics_write_json (const gchar *path, const gchar *json, GError **error)
{
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autoptr (CxrAtomicFile) file = NULL;

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "%s: cannot create the folder %s", path, dir);
      return FALSE;
    }
  file = cxr_atomic_file_new (path, error);
  return file != NULL && cxr_atomic_file_write (file, json, strlen (json), error) &&
         cxr_atomic_file_write (file, "\n", 1, error) && cxr_atomic_file_commit (file, error);
}
