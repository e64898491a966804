/* plugins/mimic-cxr/cxrmimicsource.h: mimic-cxr-source.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cxr.h>

G_BEGIN_DECLS

#define CXR_TYPE_MIMIC_SOURCE (cxr_mimic_source_get_type ())
G_DECLARE_FINAL_TYPE (CxrMimicSource, cxr_mimic_source, CXR, MIMIC_SOURCE, CxrStage)

gchar *cxr_mimic_report_section (const gchar *text, const gchar *heading);

G_END_DECLS
