/* cxr-trainer.c: the base of training stages: optimiser, schedule,
 * accumulation, EMA, checkpoints, final weights.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "cxr.h"
#include "cxr-trainer.h"

/**
 * SECTION:cxr-trainer
 * @title: CxrTrainer
 * @short_description: the base of the training stages
 *
 * #CxrTrainer is what diffusion-train, lm-train and prior-train share.
 * Each batch is one micro-batch: the subclass computes its loss, the
 * trainer scales it by 1/`accumulate` and runs the tape backward; after
 * `accumulate` micro-batches the gradient is clipped to `max-grad-norm`,
 * AdamW steps (the paper's lr 5e-5, betas 0.9/0.999, eps 1e-8, weight
 * decay 0.01) at the scheduled learning rate (`warmup-steps` of linear
 * warm-up, then constant or, with `lr-schedule=cosine`, a cosine decay to
 * zero at `max-steps`), the gradients are zeroed and the EMA, when
 * `ema-decay` is set, follows the weights (buffers, batch norm's running
 * statistics, are copied into it, not averaged). At `max-steps` the stage
 * takes no more training batches: the stages upstream hear it on their
 * next push, and the sources stop reading (cxr_stage_push()).
 *
 * Each batch passes on with the float fields loss (of its micro-batch)
 * and step (the optimiser steps done after it), so a csv-sink records the
 * curve; the progress bar and the progress events show the step and the
 * last loss (the stage's status), and the events each stage's samples a
 * second (images/s for diffusion-train). `checkpoint` is written every `checkpoint-every` steps and at the
 * end (parameters, AdamW moments, step, micro-batches seen; the EMA beside
 * it); with `resume=true` a run starts from it, skips the micro-batches
 * already seen and continues the same loss curve bit for bit. `output`
 * receives the final weights (the EMA's when on) with the public tensor
 * names, and the model's config.json beside them, so a `[model]` loads the
 * folder. A last incomplete accumulation is dropped.
 *
 * What loading the trained model noticed (with `partial-load`, each tensor
 * that starts from random values; tensors of the weights it does not use)
 * is reported as messages when the stage prepares.
 *
 * With `evaluate=true` the stage only measures: forward passes without
 * gradients, no optimiser, nothing written; the loss and metric fields
 * are those of the model as it was loaded (say, on the validate split).
 *
 * Validation inside the run: a trainer's optional input "validate"
 * (`input.validate=STAGE` in a pipeline, say a source of the validate
 * split) is kept in memory, not passed on. That stream comes whole before
 * the first training batch (it is the leading input,
 * cxr_stage_class_set_leading_input()), and the stage then measures the
 * mean loss over all of it at step 0 (forward passes without
 * gradients, as `evaluate=true`, with the same randomness each time),
 * then again every `validate-every` steps and at the end; each
 * measurement is a message and, with `validation-log`, a row of a CSV
 * (step, loss, samples) written when the run completes.
 */

typedef struct {
  CxrModel *model; /* set by setup; not owned (the subclass's property) */
  gchar *checkpoint, *output, *lr_schedule;
  gdouble lr, weight_decay, max_grad_norm, ema_decay;
  guint accumulate, warmup_steps, checkpoint_every;
  guint64 max_steps, seed;
  gboolean resume, evaluate;

  CxrParamSet *params, *ema;
  CxrAdamW *adamw;
  guint64 step, micro, skip;
  guint in_accumulation;
  gdouble loss_sum;
  guint64 loss_count;

  /* validation inside the run */
  gchar *validation_log;
  guint validate_every;
  GPtrArray *validation;     /* CxrBatch, from the "validate" input */
  gboolean validation_ready; /* that input has ended */
  guint64 validated_at;      /* the step last measured, G_MAXUINT64 for none */
  GString *validation_rows;  /* the CSV's rows */
} CxrTrainerPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (CxrTrainer, cxr_trainer, CXR_TYPE_STAGE)

#define PRIV(self) ((CxrTrainerPrivate *) cxr_trainer_get_instance_private (CXR_TRAINER (self)))

enum { P_0, P_CHECKPOINT, P_OUTPUT, P_LR, P_LR_SCHEDULE, P_WEIGHT_DECAY, P_MAX_GRAD_NORM, P_EMA_DECAY, P_ACCUMULATE,
       P_WARMUP, P_CHECKPOINT_EVERY, P_MAX_STEPS, P_SEED, P_RESUME, P_EVALUATE, P_VALIDATE_EVERY, P_VALIDATION_LOG,
       N_P };

/* the micro-batch index validation batch i is measured with: the same
 * randomness at every measurement, apart from the training's */
#define VALIDATION_MICRO(i) ((G_GUINT64_CONSTANT (1) << 62) + (i))
static GParamSpec *props[N_P];

static CxrParamSet *
param_set_like (CxrParamSet *params)
{
  CxrParamSet *copy = cxr_param_set_new ();
  g_auto (GStrv) names = cxr_param_set_list_names (params);

  for (guint i = 0; names[i]; i++)
    {
      guint nd = 0;
      const gint64 *shape = cxr_tensor_get_shape (cxr_param_set_get (params, names[i]), &nd);
      if (cxr_param_set_is_buffer (params, names[i]))
        cxr_param_set_add_buffer (copy, names[i], shape, nd, NULL);
      else
        cxr_param_set_add (copy, names[i], shape, nd, NULL);
    }
  cxr_param_set_allocate_frozen (copy);
  cxr_param_set_copy_from (copy, params);
  return copy;
}

static gchar *
ema_path (const gchar *checkpoint)
{
  return g_strconcat (checkpoint, ".ema.safetensors", NULL);
}

static gboolean
has_text (const gchar *s)
{
  return s != NULL && *s != '\0';
}

static gboolean
cxr_trainer_prepare (CxrStage *stage, GError **error)
{
  CxrTrainer *self = CXR_TRAINER (stage);
  CxrTrainerPrivate *p = PRIV (self);
  CxrTrainerClass *klass = CXR_TRAINER_GET_CLASS (self);

  if (g_strcmp0 (p->lr_schedule, "constant") != 0 && g_strcmp0 (p->lr_schedule, "cosine") != 0)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "lr-schedule: \"%s\"; constant or cosine",
                   p->lr_schedule);
      return FALSE;
    }
  if (g_str_equal (p->lr_schedule, "cosine") && p->max_steps == 0)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "lr-schedule=cosine decays to zero at max-steps: "
                   "set max-steps");
      return FALSE;
    }
  if ((p->model = klass->setup (self, error)) == NULL)
    return FALSE;
  {
    /* what a partial load (say, ViT-base weights for the prior) kept and
     * what starts from random values, or what the weights held unused */
    g_auto (GStrv) warnings = cxr_model_get_warnings (p->model);
    for (guint i = 0; warnings[i]; i++)
      g_message ("%s: %s", cxr_stage_get_name (stage), warnings[i]);
  }
  p->step = p->micro = p->skip = 0;
  p->in_accumulation = 0;
  p->loss_sum = 0;
  p->loss_count = 0;
  g_ptr_array_set_size (p->validation, 0);
  p->validation_ready = FALSE;
  p->validated_at = G_MAXUINT64;
  g_string_assign (p->validation_rows, "step,loss,samples\n");
  g_clear_object (&p->adamw);
  g_clear_object (&p->ema);
  p->params = cxr_model_get_parameters (p->model);
  if (p->evaluate)
    return TRUE;
  if (p->params == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "%s: this model has no trainable parameters",
                   cxr_stage_get_name (stage));
      return FALSE;
    }
  cxr_param_set_enable_grads (p->params);
  cxr_param_set_zero_grad (p->params);
  p->adamw = cxr_adamw_new (p->params);
  g_object_set (p->adamw, "lr", p->lr, "weight-decay", p->weight_decay, NULL);
  if (p->resume && has_text (p->checkpoint) && g_file_test (p->checkpoint, G_FILE_TEST_EXISTS))
    {
      g_autoptr (GHashTable) meta = NULL;
      const gchar *seen;
      if (!cxr_checkpoint_load (p->checkpoint, p->params, p->adamw, &meta, error))
        return FALSE;
      seen = meta ? g_hash_table_lookup (meta, "micro-batches") : NULL;
      if (seen == NULL || !g_ascii_string_to_unsigned (seen, 10, 0, G_MAXUINT64, &p->skip, NULL))
        {
          g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "%s: no micro-batches in its metadata: not a "
                       "checkpoint of a training stage", p->checkpoint);
          return FALSE;
        }
      p->step = (guint64) cxr_adamw_get_step (p->adamw);
      p->micro = p->skip; /* the randomness of the next micro-batch follows on */
    }
  if (p->ema_decay > 0)
    {
      p->ema = param_set_like (p->params);
      if (p->resume && has_text (p->checkpoint) && p->skip > 0)
        {
          g_autofree gchar *path = ema_path (p->checkpoint);
          g_autoptr (CxrSafetensors) file = cxr_safetensors_open (path, error);
          if (file == NULL || !cxr_param_set_load (p->ema, file, NULL, TRUE, error))
            return FALSE;
        }
    }
  return TRUE;
}

/* the folder of PATH, made if missing */
static gboolean
make_parent (const gchar *path, GError **error)
{
  g_autofree gchar *dir = g_path_get_dirname (path);

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s: cannot make the folder: %s", dir,
                   g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static gboolean
save_checkpoint (CxrTrainer *self, GError **error)
{
  CxrTrainerPrivate *p = PRIV (self);
  g_autoptr (GHashTable) meta = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);

  if (!has_text (p->checkpoint))
    return TRUE;
  if (!make_parent (p->checkpoint, error))
    return FALSE;
  g_hash_table_insert (meta, "micro-batches", g_strdup_printf ("%" G_GUINT64_FORMAT, p->micro));
  g_hash_table_insert (meta, "seed", g_strdup_printf ("%" G_GUINT64_FORMAT, p->seed));
  if (!cxr_checkpoint_save (p->checkpoint, p->params, p->adamw, meta, error))
    return FALSE;
  if (p->ema)
    {
      g_autofree gchar *path = ema_path (p->checkpoint);
      g_autoptr (GHashTable) table = cxr_param_set_to_table (p->ema, NULL);
      return cxr_safetensors_save (path, table, NULL, error);
    }
  return TRUE;
}

static void
put_constant (CxrBatch *batch, const gchar *name, gfloat v)
{
  guint n = cxr_batch_get_size (batch);
  g_autofree gfloat *values = g_new (gfloat, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    values[i] = v;
  cxr_batch_set_floats (batch, name, 1, values, n);
}

/**
 * cxr_trainer_get_lr_at:
 * @self: a trainer
 * @step: an optimiser step, from 0
 *
 * Returns: the learning rate the schedule gives @step: linear warm-up
 *   over `warmup-steps`, then constant, or cosine down to zero at
 *   `max-steps`
 */
gdouble
cxr_trainer_get_lr_at (CxrTrainer *self, guint64 step)
{
  CxrTrainerPrivate *p;

  g_return_val_if_fail (CXR_IS_TRAINER (self), 0);
  p = PRIV (self);
  if (p->warmup_steps > 0 && step < p->warmup_steps)
    return p->lr * (gdouble) (step + 1) / p->warmup_steps;
  if (g_strcmp0 (p->lr_schedule, "cosine") == 0 && p->max_steps > p->warmup_steps)
    {
      gdouble progress = (gdouble) (step - p->warmup_steps) / (gdouble) (p->max_steps - p->warmup_steps);
      return p->lr * 0.5 * (1.0 + cos (G_PI * MIN (progress, 1.0)));
    }
  return p->lr;
}

/* The mean loss over the validation batches, without gradients. */
static gboolean
validate (CxrTrainer *self, GError **error)
{
  CxrTrainerPrivate *p = PRIV (self);
  CxrTrainerClass *klass = CXR_TRAINER_GET_CLASS (self);
  gdouble sum = 0;
  guint64 count = 0;
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (p->validation->len == 0 || p->validated_at == p->step)
    return TRUE;
  for (guint i = 0; i < p->validation->len; i++)
    {
      CxrBatch *batch = g_ptr_array_index (p->validation, i);
      g_autoptr (CxrTensor) loss = NULL;
      if (!klass->compute_loss (self, batch, NULL, VALIDATION_MICRO (i), &loss, error))
        {
          g_prefix_error (error, "validation: ");
          return FALSE;
        }
      sum += *(const gfloat *) cxr_tensor_get_data (loss) * (gdouble) cxr_batch_get_size (batch);
      count += cxr_batch_get_size (batch);
    }
  p->validated_at = p->step;
  g_message ("%s: validation loss %.6g at step %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT " samples)",
             cxr_stage_get_name (CXR_STAGE (self)), count ? sum / count : NAN, p->step, count);
  g_string_append_printf (p->validation_rows, "%" G_GUINT64_FORMAT ",%s,%" G_GUINT64_FORMAT "\n", p->step,
                          g_ascii_dtostr (buf, sizeof buf, count ? sum / count : NAN), count);
  return TRUE;
}

static CxrFlowReturn
cxr_trainer_process (CxrStage *stage, guint port, CxrBatch *batch, GError **error)
{
  CxrTrainerPrivate *p = PRIV (stage);

  if (port == 0)
    {
      CxrFlowReturn ret = CXR_STAGE_CLASS (cxr_trainer_parent_class)->process (stage, port, batch, error);
      /* at max-steps: no more training batches, so the sources stop */
      if (ret == CXR_FLOW_OK && !p->evaluate && p->max_steps > 0 && p->step >= p->max_steps)
        return CXR_FLOW_EOS;
      return ret;
    }
  /* the validate input: kept for the measurements, not passed on */
  if (cxr_batch_get_size (batch) > 0)
    g_ptr_array_add (p->validation, g_object_ref (batch));
  return CXR_FLOW_OK;
}

static gboolean
cxr_trainer_input_ended (CxrStage *stage, guint port, GError **error)
{
  CxrTrainerPrivate *p = PRIV (stage);

  if (port != 1)
    return TRUE;
  p->validation_ready = TRUE;
  return p->evaluate || validate (CXR_TRAINER (stage), error);
}

static gboolean
optimiser_step (CxrTrainer *self, GError **error)
{
  CxrTrainerPrivate *p = PRIV (self);

  if (p->max_grad_norm > 0)
    cxr_param_set_clip_grad_norm (p->params, p->max_grad_norm);
  cxr_adamw_step (p->adamw, (gfloat) cxr_trainer_get_lr_at (self, p->step));
  cxr_param_set_zero_grad (p->params);
  if (p->ema)
    cxr_param_set_ema_update (p->ema, p->params, (gfloat) p->ema_decay);
  p->in_accumulation = 0;
  p->step++;
  if (p->validation_ready && p->validate_every > 0 && p->step % p->validate_every == 0 && !validate (self, error))
    return FALSE;
  return p->checkpoint_every == 0 || p->step % p->checkpoint_every != 0 || save_checkpoint (self, error);
}

static gboolean
cxr_trainer_transform (CxrStage *stage, CxrBatch *batch, GError **error)
{
  CxrTrainer *self = CXR_TRAINER (stage);
  CxrTrainerPrivate *p = PRIV (self);
  CxrTrainerClass *klass = CXR_TRAINER_GET_CLASS (self);
  gfloat value = NAN;

  if (cxr_batch_get_size (batch) == 0)
    return TRUE;
  if (p->evaluate)
    {
      g_autoptr (CxrTensor) loss = NULL;
      if (!klass->compute_loss (self, batch, NULL, p->micro, &loss, error))
        return FALSE;
      value = *(const gfloat *) cxr_tensor_get_data (loss);
      p->micro++;
    }
  else if (p->skip > 0)
    {
      /* resumed: these batches were trained on before the checkpoint */
      p->skip--;
    }
  else if (p->max_steps == 0 || p->step < p->max_steps)
    {
      g_autoptr (CxrTape) tape = cxr_tape_new ();
      g_autoptr (CxrTensor) loss = NULL, scaled = NULL;

      if (!klass->compute_loss (self, batch, tape, p->micro, &loss, error) ||
          (scaled = cxr_op_scale (tape, loss, 1.0f / p->accumulate, error)) == NULL ||
          !cxr_tape_backward (tape, scaled, error))
        return FALSE;
      value = *(const gfloat *) cxr_tensor_get_data (loss);
      p->micro++;
      if (++p->in_accumulation == p->accumulate && !optimiser_step (self, error))
        return FALSE;
    }
  if (!isnan (value))
    {
      g_autofree gchar *status = NULL;
      p->loss_sum += (gdouble) value * cxr_batch_get_size (batch);
      p->loss_count += cxr_batch_get_size (batch);
      status = p->evaluate ? g_strdup_printf ("mean loss %.4g", p->loss_sum / p->loss_count)
                           : g_strdup_printf ("step %" G_GUINT64_FORMAT ", loss %.4g", p->step, value);
      cxr_stage_set_status (stage, status);
    }
  put_constant (batch, "loss", value);
  put_constant (batch, "step", (gfloat) p->step);
  {
    /* batches skipped on resuming carry the metric fields too, as NaN,
     * so sinks find every field the port promises */
    g_auto (GStrv) fields = cxr_stage_get_port_fields (stage, CXR_PORT_OUTPUT, 0);
    for (guint i = 0; fields && fields[i]; i++)
      if (!cxr_batch_has_field (batch, fields[i]))
        put_constant (batch, fields[i], NAN);
  }
  return TRUE;
}

static gboolean
write_output (CxrTrainer *self, GError **error)
{
  CxrTrainerPrivate *p = PRIV (self);
  g_autoptr (GHashTable) table = cxr_param_set_to_table (p->ema ? p->ema : p->params, NULL);
  const gchar *config = cxr_model_get_config_path (p->model);
  g_autofree gchar *dir = g_path_get_dirname (p->output);
  g_autofree gchar *beside = g_build_filename (dir, "config.json", NULL);
  g_autofree gchar *text = NULL;
  g_autoptr (CxrAtomicFile) copy = NULL;
  gsize length = 0;

  if (!make_parent (p->output, error) || !cxr_safetensors_save (p->output, table, NULL, error))
    return FALSE;
  /* the configuration beside the weights: a folder a [model] loads */
  if (config == NULL || g_strcmp0 (config, beside) == 0)
    return TRUE;
  return g_file_get_contents (config, &text, &length, error) && (copy = cxr_atomic_file_new (beside, error)) &&
         cxr_atomic_file_write (copy, text, length, error) && cxr_atomic_file_commit (copy, error);
}

static gboolean
cxr_trainer_finish (CxrStage *stage, GError **error)
{
  CxrTrainer *self = CXR_TRAINER (stage);
  CxrTrainerPrivate *p = PRIV (self);

  if (p->loss_count > 0)
    g_info ("%s: mean loss %.6g over %" G_GUINT64_FORMAT " samples, %" G_GUINT64_FORMAT " steps",
            cxr_stage_get_name (stage), p->loss_sum / p->loss_count, p->loss_count, p->step);
  if (p->evaluate)
    return TRUE;
  if (p->in_accumulation > 0)
    {
      /* an incomplete accumulation is dropped, not stepped on */
      p->micro -= p->in_accumulation;
      p->in_accumulation = 0;
      cxr_param_set_zero_grad (p->params);
    }
  if (!save_checkpoint (self, error) || (p->validation_ready && !validate (self, error)))
    return FALSE;
  if (has_text (p->validation_log) && p->validated_at != G_MAXUINT64)
    {
      g_autoptr (CxrAtomicFile) log = NULL;
      if (!make_parent (p->validation_log, error) || (log = cxr_atomic_file_new (p->validation_log, error)) == NULL ||
          !cxr_atomic_file_write (log, p->validation_rows->str, p->validation_rows->len, error) ||
          !cxr_atomic_file_commit (log, error))
        return FALSE;
    }
  return !has_text (p->output) || write_output (self, error);
}

/**
 * cxr_trainer_class_add_validate_input:
 * @klass: a trainer class
 * @fields: the batch fields the subclass's loss needs, separated by commas
 *
 * Adds the optional input "validate", after the class's "in": the samples
 * the loss is measured on as training goes, kept in memory. It is the
 * leading input (cxr_stage_class_set_leading_input()): its whole stream
 * comes before the first training batch, so the first measurement is at
 * step 0 and the validation log is the same run after run; and a kept one
 * (cxr_stage_class_set_input_kept()): the "out" port carries the fields
 * of "in" only. Call it from class_init.
 */
void
cxr_trainer_class_add_validate_input (CxrTrainerClass *klass, const gchar *fields)
{
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);

  g_return_if_fail (CXR_IS_TRAINER_CLASS (klass));
  cxr_stage_class_add_optional_input (stage_class, "validate", fields,
                                      "Samples to measure the loss on as training goes (kept in memory), such as "
                                      "the validate split; they all come before the first training batch");
  cxr_stage_class_set_leading_input (stage_class, "validate");
  cxr_stage_class_set_input_kept (stage_class, "validate");
}

/**
 * cxr_trainer_get_seed:
 * @self: a trainer
 *
 * Returns: the `seed` property: what subclasses key their randomness on,
 *   with the micro-batch index
 */
guint64
cxr_trainer_get_seed (CxrTrainer *self)
{
  g_return_val_if_fail (CXR_IS_TRAINER (self), 0);
  return PRIV (self)->seed;
}

/**
 * cxr_trainer_get_step:
 * @self: a trainer
 *
 * Returns: the optimiser steps done so far in this run, resumed ones
 *   included
 */
guint64
cxr_trainer_get_step (CxrTrainer *self)
{
  g_return_val_if_fail (CXR_IS_TRAINER (self), 0);
  return PRIV (self)->step;
}

/**
 * cxr_trainer_get_evaluate:
 * @self: a trainer
 *
 * Returns: whether the stage only measures (the `evaluate` property)
 */
gboolean
cxr_trainer_get_evaluate (CxrTrainer *self)
{
  g_return_val_if_fail (CXR_IS_TRAINER (self), FALSE);
  return PRIV (self)->evaluate;
}

/**
 * cxr_trainer_get_mean_loss:
 * @self: a trainer
 *
 * Returns: the mean loss per sample over the batches of the last run
 *   (trained or evaluated), NAN when there were none
 */
gdouble
cxr_trainer_get_mean_loss (CxrTrainer *self)
{
  CxrTrainerPrivate *p;

  g_return_val_if_fail (CXR_IS_TRAINER (self), NAN);
  p = PRIV (self);
  return p->loss_count ? p->loss_sum / p->loss_count : NAN;
}

static gchar **
string_slot (CxrTrainerPrivate *p, guint id)
{
  switch (id)
    {
    case P_CHECKPOINT: return &p->checkpoint;
    case P_OUTPUT: return &p->output;
    case P_LR_SCHEDULE: return &p->lr_schedule;
    case P_VALIDATION_LOG: return &p->validation_log;
    default: return NULL;
    }
}

static gdouble *
double_slot (CxrTrainerPrivate *p, guint id)
{
  switch (id)
    {
    case P_LR: return &p->lr;
    case P_WEIGHT_DECAY: return &p->weight_decay;
    case P_MAX_GRAD_NORM: return &p->max_grad_norm;
    case P_EMA_DECAY: return &p->ema_decay;
    default: return NULL;
    }
}

static void
cxr_trainer_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrTrainerPrivate *p = PRIV (object);
  gchar **s = string_slot (p, id);
  gdouble *dv = double_slot (p, id);

  if (s)
    {
      g_free (*s);
      *s = g_value_dup_string (value);
      return;
    }
  if (dv)
    {
      *dv = g_value_get_double (value);
      return;
    }
  switch (id)
    {
    case P_ACCUMULATE: p->accumulate = g_value_get_uint (value); break;
    case P_WARMUP: p->warmup_steps = g_value_get_uint (value); break;
    case P_CHECKPOINT_EVERY: p->checkpoint_every = g_value_get_uint (value); break;
    case P_MAX_STEPS: p->max_steps = g_value_get_uint64 (value); break;
    case P_SEED: p->seed = g_value_get_uint64 (value); break;
    case P_RESUME: p->resume = g_value_get_boolean (value); break;
    case P_EVALUATE: p->evaluate = g_value_get_boolean (value); break;
    case P_VALIDATE_EVERY: p->validate_every = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_trainer_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrTrainerPrivate *p = PRIV (object);
  gchar **s = string_slot (p, id);
  gdouble *dv = double_slot (p, id);

  if (s)
    {
      g_value_set_string (value, *s);
      return;
    }
  if (dv)
    {
      g_value_set_double (value, *dv);
      return;
    }
  switch (id)
    {
    case P_ACCUMULATE: g_value_set_uint (value, p->accumulate); break;
    case P_WARMUP: g_value_set_uint (value, p->warmup_steps); break;
    case P_CHECKPOINT_EVERY: g_value_set_uint (value, p->checkpoint_every); break;
    case P_MAX_STEPS: g_value_set_uint64 (value, p->max_steps); break;
    case P_SEED: g_value_set_uint64 (value, p->seed); break;
    case P_RESUME: g_value_set_boolean (value, p->resume); break;
    case P_EVALUATE: g_value_set_boolean (value, p->evaluate); break;
    case P_VALIDATE_EVERY: g_value_set_uint (value, p->validate_every); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_trainer_dispose (GObject *object)
{
  CxrTrainerPrivate *p = PRIV (object);

  g_clear_object (&p->ema);
  g_clear_object (&p->adamw);
  g_ptr_array_set_size (p->validation, 0);
  p->params = NULL;
  p->model = NULL;
  G_OBJECT_CLASS (cxr_trainer_parent_class)->dispose (object);
}

static void
cxr_trainer_finalize (GObject *object)
{
  CxrTrainerPrivate *p = PRIV (object);

  for (guint id = 0; id < N_P; id++)
    if (string_slot (p, id))
      g_free (*string_slot (p, id));
  g_ptr_array_unref (p->validation);
  g_string_free (p->validation_rows, TRUE);
  G_OBJECT_CLASS (cxr_trainer_parent_class)->finalize (object);
}

static void
cxr_trainer_class_init (CxrTrainerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_trainer_set_property;
  object_class->get_property = cxr_trainer_get_property;
  object_class->dispose = cxr_trainer_dispose;
  object_class->finalize = cxr_trainer_finalize;
  stage_class->prepare = cxr_trainer_prepare;
  stage_class->transform = cxr_trainer_transform;
  stage_class->process = cxr_trainer_process;
  stage_class->input_ended = cxr_trainer_input_ended;
  stage_class->finish = cxr_trainer_finish;
  props[P_CHECKPOINT] = g_param_spec_string ("checkpoint", "Checkpoint", "The checkpoint file (empty: none)", NULL,
                                             flags);
  props[P_OUTPUT] = g_param_spec_string ("output", "Output", "Where to write the final weights, with the public "
                                         "names (empty: nowhere)", NULL, flags);
  props[P_LR] = g_param_spec_double ("lr", "Learning rate", "AdamW's learning rate", 0, 10, 5e-5, flags);
  props[P_LR_SCHEDULE] = g_param_spec_string ("lr-schedule", "Learning-rate schedule", "After the warm-up: constant, "
                                              "or cosine (to zero at max-steps)", "constant", flags);
  props[P_WEIGHT_DECAY] = g_param_spec_double ("weight-decay", "Weight decay", "AdamW's decoupled weight decay", 0, 10,
                                               0.01, flags);
  props[P_MAX_GRAD_NORM] = g_param_spec_double ("max-grad-norm", "Max gradient norm", "Clip the gradient's norm to "
                                                "this (0: no clipping)", 0, 1e6, 1.0, flags);
  props[P_EMA_DECAY] = g_param_spec_double ("ema-decay", "EMA decay", "Keep an EMA of the weights (0: none; 0.9999 "
                                            "is usual)", 0, 1, 0, flags);
  props[P_ACCUMULATE] = g_param_spec_uint ("accumulate", "Accumulate", "Batches per optimiser step", 1, 1 << 20, 1,
                                           flags);
  props[P_WARMUP] = g_param_spec_uint ("warmup-steps", "Warm-up steps", "Linear warm-up of the learning rate", 0,
                                       G_MAXUINT, 0, flags);
  props[P_CHECKPOINT_EVERY] = g_param_spec_uint ("checkpoint-every", "Checkpoint every", "Steps between checkpoints "
                                                 "(0: at the end only)", 0, G_MAXUINT, 0, flags);
  props[P_MAX_STEPS] = g_param_spec_uint64 ("max-steps", "Max steps", "Stop training after this many steps (0: "
                                            "when the data ends)", 0, G_MAXUINT64, 0, flags);
  props[P_SEED] = g_param_spec_uint64 ("seed", "Seed", "The seed of the training's randomness", 0, G_MAXUINT64, 0,
                                       flags);
  props[P_RESUME] = g_param_spec_boolean ("resume", "Resume", "Start from the checkpoint when it exists", FALSE, flags);
  props[P_EVALUATE] = g_param_spec_boolean ("evaluate", "Evaluate", "Only measure the loss and metrics: no "
                                            "gradients, no steps, nothing written", FALSE, flags);
  props[P_VALIDATE_EVERY] = g_param_spec_uint ("validate-every", "Validate every", "Steps between measurements of "
                                               "the validate input's loss (0: when it has ended and at the end)", 0,
                                               G_MAXUINT, 0, flags);
  props[P_VALIDATION_LOG] = g_param_spec_string ("validation-log", "Validation log", "A CSV of the validation losses "
                                                 "(step, loss, samples), written at the end (empty: none)", NULL, flags);
  g_object_class_install_properties (object_class, N_P, props);
}

static void
cxr_trainer_init (CxrTrainer *self)
{
  CxrTrainerPrivate *p = PRIV (self);

  p->validation = g_ptr_array_new_with_free_func (g_object_unref);
  p->validation_rows = g_string_new (NULL);
  p->validated_at = G_MAXUINT64;
}
