/* plugins/table/cxrcsvsink.h: batch fields to a CSV file.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cxr.h>

G_BEGIN_DECLS

#define CXR_TYPE_CSV_SINK (cxr_csv_sink_get_type ())
G_DECLARE_FINAL_TYPE (CxrCsvSink, cxr_csv_sink, CXR, CSV_SINK, CxrStage)

G_END_DECLS
