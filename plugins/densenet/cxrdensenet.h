/* plugins/densenet/cxrdensenet.h: the densenet model and the classify stage.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cxr.h>

G_BEGIN_DECLS

/* How images in [0, 1] are brought to what a classifier was trained on:
 * ImageNet's mean and deviation (torchvision, CheXNet), [-1, 1], or
 * torchxrayvision's [-1024, 1024]. */
typedef enum {
  CXR_NORMALIZATION_IMAGENET,
  CXR_NORMALIZATION_HALF,
  CXR_NORMALIZATION_XRV,
} CxrNormalization;

#define CXR_TYPE_DENSENET (cxr_densenet_get_type ())
G_DECLARE_FINAL_TYPE (CxrDensenet, cxr_densenet, CXR, DENSENET, CxrModel)

CxrTensor *cxr_densenet_forward (CxrDensenet *self, CxrTape *tape, CxrTensor *images, CxrTensor **features,
                                 GError **error);
guint cxr_densenet_get_n_classes (CxrDensenet *self);
guint cxr_densenet_get_in_channels (CxrDensenet *self);
gboolean cxr_densenet_parse_normalization (const gchar *name, CxrNormalization *kind, GError **error);
CxrTensor *cxr_densenet_normalize (CxrDensenet *self, CxrTensor *images, CxrNormalization kind);

#define CXR_TYPE_CLASSIFY (cxr_classify_get_type ())
G_DECLARE_FINAL_TYPE (CxrClassify, cxr_classify, CXR, CLASSIFY, CxrStage)

#define CXR_TYPE_CLASSIFIER_TRAIN (cxr_classifier_train_get_type ())
G_DECLARE_FINAL_TYPE (CxrClassifierTrain, cxr_classifier_train, CXR, CLASSIFIER_TRAIN, CxrTrainer)

G_END_DECLS
