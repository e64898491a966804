/* cxr.h: the one header of libcxrgen-1.0.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#define CXR_INSIDE
#include "cxr-version.h"
#include "cxr-error.h"
#include "cxr-enum-types.h"
#include "cxr-batch.h"
#include "cxr-stage.h"
#include "cxr-config.h"
#include "cxr-model.h"
#include "cxr-trainer.h"
#include "cxr-plugin.h"
#include "cxr-registry.h"
#include "cxr-pipeline.h"
#include "cxr-scheduler.h"
#include "cxr-harness.h"
#include "cxr-json.h"
#include "cxr-labels.h"
#include "cxr-csv.h"
#include "cxr-atomic-file.h"
#include "tensor/cxr-tensor.h"
#include "tensor/cxr-safetensors.h"
#include "tensor/cxr-ops.h"
#include "tensor/cxr-optim.h"
#include "eval/cxr-labeler.h"
#include "eval/cxr-metrics.h"
#include "io/cxr-image.h"
#include "text/cxr-tokenizer.h"
#include "diffusion/cxr-noise-scheduler.h"
#undef CXR_INSIDE

/**
 * cxr_get_version:
 *
 * Returns: (transfer none): the version of the library loaded at run time,
 *   which may differ from %CXR_VERSION_STRING of the headers.
 */
const char *cxr_get_version (void);
