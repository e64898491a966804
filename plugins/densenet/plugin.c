/* plugins/densenet/plugin.c: the densenet plugin.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxrdensenet.h"

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  return cxr_plugin_register_model (plugin, "densenet", CXR_TYPE_DENSENET) &&
         cxr_plugin_register_stage (plugin, "classify", CXR_TYPE_CLASSIFY) &&
         cxr_plugin_register_stage (plugin, "classifier-train", CXR_TYPE_CLASSIFIER_TRAIN);
}

CXR_PLUGIN_DEFINE (densenet, "DenseNet classifiers of chest X-rays (torchvision's layout, CheXNet)", plugin_init)
