/* cxr-error.c: error domains of libcxrgen.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxr.h"

G_DEFINE_QUARK (cxr-pipeline-error-quark, cxr_pipeline_error)
G_DEFINE_QUARK (cxr-plugin-error-quark, cxr_plugin_error)
G_DEFINE_QUARK (cxr-io-error-quark, cxr_io_error)
G_DEFINE_QUARK (cxr-tensor-error-quark, cxr_tensor_error)
G_DEFINE_QUARK (cxr-model-error-quark, cxr_model_error)
G_DEFINE_QUARK (cxr-stage-error-quark, cxr_stage_error)

const char *
cxr_get_version (void)
{
  return PACKAGE_VERSION;
}
