/* cxr-trainer.h: the base of training stages.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include "cxr-model.h"
#include "cxr-stage.h"
#include "tensor/cxr-ops.h"

G_BEGIN_DECLS

#define CXR_TYPE_TRAINER (cxr_trainer_get_type ())
G_DECLARE_DERIVABLE_TYPE (CxrTrainer, cxr_trainer, CXR, TRAINER, CxrStage)

/**
 * CxrTrainerClass:
 * @parent_class: the parent class
 * @setup: check the subclass's properties and prepare its models; return
 *   the model to train (transfer none), %NULL with @error set on failure
 * @compute_loss: the loss of one micro-batch, recorded on @tape (%NULL in
 *   evaluation: no gradients). @micro_batch counts the micro-batches of the
 *   run, resumed runs included, so randomness keyed on it and on the
 *   trainer's seed continues where an interrupted run stopped. The
 *   subclass may add per-sample metric fields to @batch.
 *
 * A training stage: the base class owns the optimiser (AdamW over the
 * model's flat parameters), the learning-rate schedule, gradient
 * accumulation and clipping, the EMA, checkpoints and resuming, the final
 * weights and the loss and step fields; a subclass says what the loss is.
 */
struct _CxrTrainerClass {
  CxrStageClass parent_class;

  CxrModel *(*setup) (CxrTrainer *self, GError **error);
  gboolean (*compute_loss) (CxrTrainer *self, CxrBatch *batch, CxrTape *tape, guint64 micro_batch,
                            CxrTensor **loss, GError **error);

  /*< private >*/
  gpointer padding[8];
};

void cxr_trainer_class_add_validate_input (CxrTrainerClass *klass, const gchar *fields);

guint64 cxr_trainer_get_seed (CxrTrainer *self);
guint64 cxr_trainer_get_step (CxrTrainer *self);
gboolean cxr_trainer_get_evaluate (CxrTrainer *self);
gdouble cxr_trainer_get_mean_loss (CxrTrainer *self);
gdouble cxr_trainer_get_lr_at (CxrTrainer *self, guint64 step);

G_END_DECLS
