/* cxr-harness.h: drive one stage by hand, in tests and scripts.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include "cxr-stage.h"

G_BEGIN_DECLS

#define CXR_TYPE_HARNESS (cxr_harness_get_type ())
G_DECLARE_FINAL_TYPE (CxrHarness, cxr_harness, CXR, HARNESS, GObject)

CxrHarness *cxr_harness_new (CxrStage *stage);
CxrStage *cxr_harness_get_stage (CxrHarness *self);
gboolean cxr_harness_prepare (CxrHarness *self, GError **error);
gboolean cxr_harness_push (CxrHarness *self, guint port, CxrBatch *batch, GError **error);
gboolean cxr_harness_drain_source (CxrHarness *self, GError **error);
gboolean cxr_harness_finish (CxrHarness *self, GError **error);
void cxr_harness_abort (CxrHarness *self);
CxrBatch *cxr_harness_pull (CxrHarness *self, guint *port);
guint cxr_harness_get_n_pending (CxrHarness *self);

G_END_DECLS
