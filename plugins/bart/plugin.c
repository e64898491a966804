/* plugins/bart/plugin.c: the bart plugin.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxrbart.h"

static gboolean
plugin_init (CxrPlugin *plugin, GError **error)
{
  return cxr_plugin_register_model (plugin, "bart", CXR_TYPE_BART) &&
         cxr_plugin_register_model (plugin, "bart-autoencoder", CXR_TYPE_BART_AUTOENCODER) &&
         cxr_plugin_register_stage (plugin, "lm-train", CXR_TYPE_LM_TRAIN) &&
         cxr_plugin_register_stage (plugin, "report-generate", CXR_TYPE_REPORT_GENERATE);
}

CXR_PLUGIN_DEFINE (bart, "BART, the report model of the language module (transformers' layout)", plugin_init)
