/* plugins/eval-f1/cxrevalf1.h: report-label and eval-f1.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cxr.h>

G_BEGIN_DECLS

#define CXR_TYPE_REPORT_LABEL (cxr_report_label_get_type ())
G_DECLARE_FINAL_TYPE (CxrReportLabel, cxr_report_label, CXR, REPORT_LABEL, CxrStage)

#define CXR_TYPE_EVAL_F1 (cxr_eval_f1_get_type ())
G_DECLARE_FINAL_TYPE (CxrEvalF1, cxr_eval_f1, CXR, EVAL_F1, CxrStage)

G_END_DECLS
