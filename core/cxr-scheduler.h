/* cxr-scheduler.h: runs a pipeline.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <gio/gio.h>

#include "cxr-pipeline.h"

G_BEGIN_DECLS

/**
 * CxrProgressMode:
 * @CXR_PROGRESS_AUTO: draw the progress bar when stderr is a terminal
 * @CXR_PROGRESS_BAR: always draw the progress bar on stderr
 * @CXR_PROGRESS_NONE: never draw it
 *
 * Whether cxr_scheduler_run() draws a progress bar on stderr. Events (the
 #CxrScheduler::event signal and #CxrScheduler:events-path) do not depend
 * on it.
 */
typedef enum {
  CXR_PROGRESS_AUTO,
  CXR_PROGRESS_BAR,
  CXR_PROGRESS_NONE,
} CxrProgressMode;

#define CXR_TYPE_SCHEDULER (cxr_scheduler_get_type ())
G_DECLARE_FINAL_TYPE (CxrScheduler, cxr_scheduler, CXR, SCHEDULER, GObject)

CxrScheduler *cxr_scheduler_new (CxrPipeline *pipeline);
CxrPipeline *cxr_scheduler_get_pipeline (CxrScheduler *self);
gboolean cxr_scheduler_run (CxrScheduler *self, GCancellable *cancellable, GError **error);

G_END_DECLS
