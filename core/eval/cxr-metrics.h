/* cxr-metrics.h: F1 of labels, AUROC of scores, FID and KID of features.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <glib-object.h>

#include "tensor/cxr-tensor.h"

G_BEGIN_DECLS

/**
 * CxrUncertainPolicy:
 * @CXR_UNCERTAIN_AS_NEGATIVE: an uncertain label (-1) counts as negative
 * @CXR_UNCERTAIN_AS_POSITIVE: an uncertain label counts as positive
 * @CXR_UNCERTAIN_EXCLUDED: a sample whose label (or prediction) is
 *   uncertain takes no part for that observation
 *
 * What an uncertain CheXpert label means to a metric.
 */
typedef enum {
  CXR_UNCERTAIN_AS_NEGATIVE,
  CXR_UNCERTAIN_AS_POSITIVE,
  CXR_UNCERTAIN_EXCLUDED,
} CxrUncertainPolicy;

CxrTensor *cxr_metrics_f1 (CxrTensor *predicted, CxrTensor *reference, CxrUncertainPolicy policy,
                           GError **error);
CxrTensor *cxr_metrics_auroc (CxrTensor *scores, CxrTensor *labels, CxrUncertainPolicy policy,
                              guint bootstrap, guint64 seed, GError **error);

#define CXR_TYPE_FEATURE_STATS (cxr_feature_stats_get_type ())
G_DECLARE_FINAL_TYPE (CxrFeatureStats, cxr_feature_stats, CXR, FEATURE_STATS, GObject)

CxrFeatureStats *cxr_feature_stats_new (guint dim);
gboolean cxr_feature_stats_update (CxrFeatureStats *self, CxrTensor *features, GError **error);
guint64 cxr_feature_stats_get_count (CxrFeatureStats *self);
guint cxr_feature_stats_get_dim (CxrFeatureStats *self);
gboolean cxr_feature_stats_finish (CxrFeatureStats *self, CxrTensor **mean, CxrTensor **covariance,
                                   GError **error);
gboolean cxr_feature_stats_save (CxrFeatureStats *self, const gchar *path, GError **error);
gboolean cxr_feature_stats_load_file (const gchar *path, CxrTensor **mean, CxrTensor **covariance,
                                      guint64 *count, GError **error);

gdouble cxr_metrics_frechet_distance (CxrTensor *mean1, CxrTensor *covariance1, CxrTensor *mean2,
                                      CxrTensor *covariance2, GError **error);
gdouble cxr_metrics_kid (CxrTensor *features1, CxrTensor *features2, guint n_subsets,
                         guint subset_size, guint64 seed, gdouble *std, GError **error);

CxrTensor *cxr_tensor_load_npy (const gchar *path, GError **error);

gchar *cxr_metrics_table_to_json (CxrTensor *table, const gchar *const *row_names,
                                  const gchar *const *column_names);
gboolean cxr_metrics_write_json (const gchar *path, const gchar *json, GError **error);

G_END_DECLS
