/* plugins/sinks/cxrsinks.h: image-sink, report-sink and pairs-manifest.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cxr.h>

G_BEGIN_DECLS

#define CXR_TYPE_IMAGE_SINK (cxr_image_sink_get_type ())
G_DECLARE_FINAL_TYPE (CxrImageSink, cxr_image_sink, CXR, IMAGE_SINK, CxrStage)

#define CXR_TYPE_REPORT_SINK (cxr_report_sink_get_type ())
G_DECLARE_FINAL_TYPE (CxrReportSink, cxr_report_sink, CXR, REPORT_SINK, CxrStage)

#define CXR_TYPE_PAIRS_MANIFEST (cxr_pairs_manifest_get_type ())
G_DECLARE_FINAL_TYPE (CxrPairsManifest, cxr_pairs_manifest, CXR, PAIRS_MANIFEST, CxrStage)

G_END_DECLS
