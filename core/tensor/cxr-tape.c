/* cxr-tape.c: the autograd tape.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxr-ops-private.h"

#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/**
 * CxrTape:
 *
 * The record of one step's ops, for the backward pass.
 *
 * Every op takes a tape: with %NULL (no-grad mode, for frozen models and
 * sampling) it records nothing and keeps no activations; with a tape, an
 * op whose inputs need a gradient (a leaf marked with
 * cxr_tensor_set_requires_grad(), or the output of a recorded op) records
 * a node holding what its backward needs. cxr_tape_backward() runs the
 * nodes in reverse and adds each leaf's gradient to cxr_tensor_get_grad(),
 * so gradients of several micro-batches accumulate until the caller zeroes
 * them; cxr_tape_reset() drops the nodes and their activations for the
 * next step.
 */

struct _CxrTape {
  GObject parent_instance;
  GPtrArray *nodes; /* CxrNode, in the order recorded */
};

G_DEFINE_FINAL_TYPE (CxrTape, cxr_tape, G_TYPE_OBJECT)

static void
tensor_unref0 (gpointer t)
{
  if (t != NULL)
    cxr_tensor_unref (t);
}

static void
node_free (gpointer data)
{
  CxrNode *node = data;

  g_ptr_array_unref (node->in);
  for (guint i = 0; i < G_N_ELEMENTS (node->saved); i++)
    g_clear_pointer (&node->saved[i], cxr_tensor_unref);
  if (node->destroy != NULL)
    node->destroy (node->data);
  /* An intermediate's gradient goes with the step. */
  cxr_tensor_set_grad (node->out, NULL);
  cxr_tensor_unref (node->out);
  g_free (node);
}

static void
cxr_tape_finalize (GObject *object)
{
  CxrTape *self = CXR_TAPE (object);

  cxr_tape_reset (self);
  g_ptr_array_unref (self->nodes);
  G_OBJECT_CLASS (cxr_tape_parent_class)->finalize (object);
}

static void
cxr_tape_class_init (CxrTapeClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cxr_tape_finalize;
}

static void
cxr_tape_init (CxrTape *self)
{
  self->nodes = g_ptr_array_new ();
}

/**
 * cxr_tape_new:
 *
 * Returns: (transfer full): an empty tape
 */
CxrTape *
cxr_tape_new (void)
{
  return g_object_new (CXR_TYPE_TAPE, NULL);
}

gboolean
_cxr_tape_wants (CxrTape *tape, CxrTensor *const *inputs, guint n_inputs)
{
  if (tape == NULL)
    return FALSE;
  for (guint i = 0; i < n_inputs; i++)
    if (inputs[i] != NULL && cxr_tensor_get_requires_grad (inputs[i]))
      return TRUE;
  return FALSE;
}

CxrNode *
_cxr_tape_record (CxrTape *tape, const gchar *name, CxrBackwardFunc backward, CxrTensor *out,
                  CxrTensor *const *inputs, guint n_inputs)
{
  CxrNode *node;

  if (!_cxr_tape_wants (tape, inputs, n_inputs))
    return NULL;
  node = g_new0 (CxrNode, 1);
  node->name = name;
  node->backward = backward;
  node->out = cxr_tensor_ref (out);
  node->in = g_ptr_array_new_with_free_func (tensor_unref0);
  for (guint i = 0; i < n_inputs; i++)
    g_ptr_array_add (node->in, inputs[i] ? cxr_tensor_ref (inputs[i]) : NULL);
  cxr_tensor_set_requires_grad (out, TRUE);
  g_ptr_array_add (tape->nodes, node);
  return node;
}

/* The gradient of @t (NULL when it requires none), allocated on first use
 * (*@fresh set): zeroed, or not when @zeroed is FALSE. */
static gfloat *
grad_of (CxrTensor *t, gboolean zeroed, gboolean *fresh)
{
  CxrTensor *grad;

  *fresh = FALSE;
  if (t == NULL || !cxr_tensor_get_requires_grad (t))
    return NULL;
  grad = cxr_tensor_get_grad (t);
  if (grad == NULL)
    {
      g_autoptr (CxrTensor) made = zeroed ? cxr_tensor_new_like (t) : _cxr_tensor_new_uninitialized_like (t);
      cxr_tensor_set_grad (t, made);
      grad = made;
      *fresh = TRUE;
    }
  return (gfloat *) cxr_tensor_get_data (grad);
}

gfloat *
_cxr_grad (CxrTensor *t)
{
  gboolean fresh;

  return grad_of (t, TRUE, &fresh);
}

/* As _cxr_grad, for an op that writes every element of the gradient when
 * it is new (*@fresh set): a new one is not zeroed, and the op writes
 * instead of adding. */
gfloat *
_cxr_grad_to_write (CxrTensor *t, gboolean *fresh)
{
  return grad_of (t, FALSE, fresh);
}

gboolean
_cxr_check_input (CxrTensor *t, const gchar *op, const gchar *what, GError **error)
{
  if (t == NULL)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE, "%s: %s is missing", op, what);
      return FALSE;
    }
  if (cxr_tensor_get_dtype (t) != CXR_DTYPE_F32)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_DTYPE,
                   "%s: %s is %s; ops compute in F32 (convert with cxr_tensor_to_dtype)", op, what,
                   cxr_dtype_get_name (cxr_tensor_get_dtype (t)));
      return FALSE;
    }
  if (!cxr_tensor_is_contiguous (t))
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "%s: %s is not contiguous (permute or slice it with an op)", op, what);
      return FALSE;
    }
  return TRUE;
}

gboolean
_cxr_check_shape_equal (CxrTensor *a, CxrTensor *b, const gchar *op, GError **error)
{
  guint na = 0, nb = 0;
  const gint64 *sa = cxr_tensor_get_shape (a, &na), *sb = cxr_tensor_get_shape (b, &nb);

  if (na == nb && memcmp (sa, sb, na * sizeof (gint64)) == 0)
    return TRUE;
  {
    g_autofree gchar *da = cxr_tensor_describe (a), *db = cxr_tensor_describe (b);
    g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE, "%s: shapes %s and %s differ", op,
                 da, db);
  }
  return FALSE;
}

/* Runs @self backward from @from, whose gradient is @grad, or 1 for a
 * loss when @grad is NULL. */
static void
run_backward (CxrTape *self, CxrTensor *from, CxrTensor *grad)
{
  /* Fresh gradients for the intermediates of this pass. */
  for (guint i = 0; i < self->nodes->len; i++)
    cxr_tensor_set_grad (((CxrNode *) g_ptr_array_index (self->nodes, i))->out, NULL);
  if (grad == NULL)
    _cxr_grad (from)[0] = 1.0f;
  else
    memcpy (_cxr_grad (from), cxr_tensor_get_data (grad), (gsize) cxr_tensor_get_numel (from) * sizeof (gfloat));
  for (guint i = self->nodes->len; i > 0; i--)
    {
      CxrNode *node = g_ptr_array_index (self->nodes, i - 1);
      if (cxr_tensor_get_grad (node->out) != NULL)
        node->backward (node);
    }
}

/**
 * cxr_tape_backward:
 * @self: a tape
 * @loss: a tensor of one element recorded on @self
 * @error: return location for a #GError
 *
 * Runs the recorded ops backward from @loss (its gradient set to 1) and
 * adds the gradients of the leaves that require them to their gradient
 * tensors.
 *
 * Returns: %TRUE on success
 */
gboolean
cxr_tape_backward (CxrTape *self, CxrTensor *loss, GError **error)
{
  g_return_val_if_fail (CXR_IS_TAPE (self), FALSE);
  g_return_val_if_fail (loss != NULL, FALSE);
  if (cxr_tensor_get_numel (loss) != 1 || cxr_tensor_get_dtype (loss) != CXR_DTYPE_F32)
    {
      g_autofree gchar *d = cxr_tensor_describe (loss);
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "backward: the loss must be one F32 value, not %s", d);
      return FALSE;
    }
  if (!cxr_tensor_get_requires_grad (loss))
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "backward: the loss was not computed on this tape from anything that requires a "
                   "gradient");
      return FALSE;
    }
  run_backward (self, loss, NULL);
  return TRUE;
}

/* ----------------------------------------------------- recomputation */

typedef struct {
  CxrCheckpointFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
} Checkpoint;

static void
checkpoint_free (gpointer data)
{
  Checkpoint *c = data;

  if (c->destroy != NULL)
    c->destroy (c->user_data);
  g_free (c);
}

/* The piece again, recorded on a tape of its own from stand-ins for its
 * inputs, and that tape run backward from the output's gradient: the
 * parameters' gradients add up where they always do, the stand-ins'
 * are added to the inputs'. */
static void
checkpoint_backward (CxrNode *node)
{
  Checkpoint *c = node->data;
  g_autoptr (CxrTape) tape = cxr_tape_new ();
  g_autoptr (GPtrArray) stand_ins = g_ptr_array_new_with_free_func ((GDestroyNotify) cxr_tensor_unref);
  g_autoptr (CxrTensor) out = NULL;
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < node->in->len; i++)
    {
      CxrTensor *input = g_ptr_array_index (node->in, i);
      guint ndim = 0;
      const gint64 *shape = cxr_tensor_get_shape (input, &ndim);
      CxrTensor *stand_in = cxr_tensor_reshape (input, shape, ndim, NULL);  /* a view: the same values */

      cxr_tensor_set_requires_grad (stand_in, cxr_tensor_get_requires_grad (input));
      g_ptr_array_add (stand_ins, stand_in);
    }
  out = c->func (tape, (CxrTensor *const *) stand_ins->pdata, stand_ins->len, c->user_data, &error);
  if (out == NULL)
    {
      g_critical ("a checkpointed piece failed when run again: %s", error ? error->message : "no output");
      return;
    }
  if (!cxr_tensor_get_requires_grad (out))
    return;  /* nothing in it wants a gradient (a frozen network's piece) */
  run_backward (tape, out, cxr_tensor_get_grad (node->out));
  for (guint i = 0; i < node->in->len; i++)
    {
      CxrTensor *input = g_ptr_array_index (node->in, i);
      CxrTensor *grad = cxr_tensor_get_grad (g_ptr_array_index (stand_ins, i));
      gfloat *to = _cxr_grad (input);

      if (to != NULL && grad != NULL)
        {
          const gfloat *from = cxr_tensor_get_data (grad);
          for (gint64 k = 0; k < cxr_tensor_get_numel (input); k++)
            to[k] += from[k];
        }
    }
}

/**
 * cxr_tape_checkpoint:
 * @tape: (nullable): where to record, or %NULL
 * @func: (scope notified) (closure user_data) (destroy destroy): the piece of
 *   the forward pass
 * @user_data: its data
 * @destroy: (nullable): frees @user_data when the tape no longer needs it
 * @inputs: (array length=n_inputs): its inputs (contiguous)
 * @n_inputs: their number
 * @error: return location for a #GError
 *
 * Activation recomputation (gradient checkpointing): runs @func without
 * recording, so none of its intermediate tensors outlive it, and records
 * one node in their place; tape backward runs @func again, recorded on a
 * tape of its own, and backward through it, one piece at a time. A
 * transformer's blocks cost a second forward pass and keep only their
 * inputs. The gradients are those of an ordinary pass (up to the order
 * of float additions). Without a tape, @func just runs.
 *
 * Returns: (transfer full) (nullable): the output of @func
 */
CxrTensor *
cxr_tape_checkpoint (CxrTape *tape, CxrCheckpointFunc func, gpointer user_data, GDestroyNotify destroy,
                     CxrTensor *const *inputs, guint n_inputs, GError **error)
{
  CxrTensor *out;
  CxrNode *node;
  Checkpoint *c;

  g_return_val_if_fail (func != NULL, NULL);
  for (guint i = 0; i < n_inputs; i++)
    if (!_cxr_check_input (inputs[i], "checkpoint", "an input", error))
      {
        if (destroy != NULL)
          destroy (user_data);
        return NULL;
      }
  out = func (NULL, inputs, n_inputs, user_data, error);
  if (tape == NULL || out == NULL)
    {
      if (destroy != NULL)
        destroy (user_data);
      return out;
    }
  /* recorded whether or not an input needs a gradient: the parameters
   * inside do */
  node = g_new0 (CxrNode, 1);
  node->name = "checkpoint";
  node->backward = checkpoint_backward;
  node->out = cxr_tensor_ref (out);
  node->in = g_ptr_array_new_with_free_func (tensor_unref0);
  for (guint i = 0; i < n_inputs; i++)
    g_ptr_array_add (node->in, cxr_tensor_ref (inputs[i]));
  c = g_new0 (Checkpoint, 1);
  c->func = func;
  c->user_data = user_data;
  c->destroy = destroy;
  node->data = c;
  node->destroy = checkpoint_free;
  cxr_tensor_set_requires_grad (out, TRUE);
  g_ptr_array_add (tape->nodes, node);
  return out;
}

/**
 * cxr_tape_reset:
 * @self: a tape
 *
 * Drops the recorded nodes, their activations and the intermediates'
 * gradients. The leaves keep theirs.
 */
void
cxr_tape_reset (CxrTape *self)
{
  g_return_if_fail (CXR_IS_TAPE (self));
  for (guint i = self->nodes->len; i > 0; i--)
    node_free (g_ptr_array_index (self->nodes, i - 1));
  g_ptr_array_set_size (self->nodes, 0);
}

/**
 * cxr_tape_get_n_nodes:
 * @self: a tape
 *
 * Returns: the number of ops recorded since the last reset
 */
guint
cxr_tape_get_n_nodes (CxrTape *self)
{
  g_return_val_if_fail (CXR_IS_TAPE (self), 0);
  return self->nodes->len;
}

/**
 * cxr_set_num_threads:
 * @n_threads: threads for the ops' loops and OpenBLAS, at least 1
 *
 * Sets how many threads compute. One OpenMP pool serves both the ops and
 * OpenBLAS (cxrgen links Debian's OpenMP build of OpenBLAS), so they never
 * fight over the cores. The environment variable CXRGEN_THREADS sets it
 * when the library loads; by default, OpenMP's (one per core). Results do
 * not depend on it beyond float rounding: loops split outputs, not sums.
 */
void
cxr_set_num_threads (guint n_threads)
{
  g_return_if_fail (n_threads >= 1);
#ifdef _OPENMP
  omp_set_num_threads ((int) n_threads);
#endif
  openblas_set_num_threads ((int) n_threads);
}

guint64 _cxr_flops;

/**
 * cxr_get_flop_count:
 *
 * Returns: the floating-point operations of matrix products (each
 *   multiply-add counted as two) done by the engine since the last
 *   cxr_reset_flop_count(), in all threads: the work that achieved
 *   GFLOP/s are computed from
 */
guint64
cxr_get_flop_count (void)
{
  return __atomic_load_n (&_cxr_flops, __ATOMIC_RELAXED);
}

/**
 * cxr_reset_flop_count:
 *
 * Sets the count of cxr_get_flop_count() to zero.
 */
void
cxr_reset_flop_count (void)
{
  __atomic_store_n (&_cxr_flops, 0, __ATOMIC_RELAXED);
}

/**
 * cxr_get_num_threads:
 *
 * Returns: the number of threads the ops use
 */
guint
cxr_get_num_threads (void)
{
#ifdef _OPENMP
  return (guint) omp_get_max_threads ();
#else
  return 1;
#endif
}

__attribute__ ((constructor)) static void
threads_from_environment (void)
{
  const gchar *text = g_getenv ("CXRGEN_THREADS");
  guint64 n;

  if (text != NULL && g_ascii_string_to_unsigned (text, 10, 1, 1024, &n, NULL))
    cxr_set_num_threads ((guint) n);
}
