/* plugins/mimic-cxr/cxrmimicwriter.h: mimic-cxr-writer.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cxr.h>

G_BEGIN_DECLS

#define CXR_TYPE_MIMIC_WRITER (cxr_mimic_writer_get_type ())
G_DECLARE_FINAL_TYPE (CxrMimicWriter, cxr_mimic_writer, CXR, MIMIC_WRITER, CxrStage)

G_END_DECLS
