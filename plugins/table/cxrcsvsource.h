/* plugins/table/cxrcsvsource.h: rows of a CSV file as batches.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cxr.h>

G_BEGIN_DECLS

#define CXR_TYPE_CSV_SOURCE (cxr_csv_source_get_type ())
G_DECLARE_FINAL_TYPE (CxrCsvSource, cxr_csv_source, CXR, CSV_SOURCE, CxrStage)

G_END_DECLS
