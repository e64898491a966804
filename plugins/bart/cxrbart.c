/* plugins/bart/cxrbart.c: BART (Lewis et al., 2020) as transformers builds
 * BartForConditionalGeneration.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "cxrbart.h"

/**
 * SECTION:bart
 *
 * `bart` is BartForConditionalGeneration with transformers' tensor names,
 * so facebook/bart-base (its built-in configuration) and any smaller
 * configuration load unchanged: token embeddings shared by the encoder,
 * the decoder and the LM head (model.shared.weight; files that hold the
 * tied copies model.encoder.embed_tokens.weight, model.decoder.
 * embed_tokens.weight or lm_head.weight instead load too), learned
 * positions with BART's offset of 2, layernorm_embedding, post-norm layers
 * (self-attention, in the decoder causal and followed by cross-attention
 * to the encoder, then the GELU feed-forward, each added back and
 * normalised), queries scaled by the head width's inverse square root, and
 * logits = decoder states x shared^T + final_logits_bias.
 *
 * Inputs: input_ids [N, L], and optionally attention_mask [N, L] (1 for
 * tokens, 0 for padding), decoder_input_ids [N, T] (by default the
 * input_ids shifted right after decoder_start_token_id, padding kept as
 * pad_token_id, as transformers does) and decoder_attention_mask. Outputs:
 * logits [N, T, vocab] and encoder_last_hidden_state [N, L, d_model].
 */

typedef struct {
  guint vocab, d, enc_layers, dec_layers, enc_heads, dec_heads, enc_ffn, dec_ffn, positions;
  gboolean scale_embedding;
  CxrGeluApproximation gelu;
  gint64 pad, decoder_start;
} BartConfig;

typedef struct {
  BartConfig c;
} CxrBartPrivate;

static void cxr_bart_role_init (CxrTextEncoderInterface *iface) {}
G_DEFINE_TYPE_WITH_CODE (CxrBart, cxr_bart, CXR_TYPE_MODEL,
                         G_ADD_PRIVATE (CxrBart)
                         G_IMPLEMENT_INTERFACE (CXR_TYPE_TEXT_ENCODER, cxr_bart_role_init))

#define CFG(self) (&((CxrBartPrivate *) cxr_bart_get_instance_private (CXR_BART (self)))->c)

static const gchar *const bart_known[] = {
  "dropout", "attention_dropout", "activation_dropout", "classifier_dropout", "init_std", "encoder_layerdrop",
  "decoder_layerdrop", "classif_dropout", "normalize_before", "add_final_layer_norm", "add_bias_logits",
  "static_position_embeddings", "normalize_embedding", "extra_pos_embeddings", "gradient_checkpointing",
  "num_hidden_layers", "no_repeat_ngram_size", "forced_bos_token_id", "_num_labels", NULL
};

static gboolean
add (CxrModel *model, GError **error, const gchar *name, guint ndim, gint64 d0, gint64 d1)
{
  const gint64 shape[2] = { d0, d1 };
  return cxr_model_add_parameter (model, name, shape, ndim, error);
}

static gboolean
add_linear (CxrModel *model, const gchar *base, gint64 out, gint64 in, GError **error)
{
  g_autofree gchar *w = g_strconcat (base, ".weight", NULL), *b = g_strconcat (base, ".bias", NULL);
  return add (model, error, w, 2, out, in) && add (model, error, b, 1, out, 0);
}

static gboolean
add_norm (CxrModel *model, const gchar *base, gint64 d, GError **error)
{
  g_autofree gchar *w = g_strconcat (base, ".weight", NULL), *b = g_strconcat (base, ".bias", NULL);
  return add (model, error, w, 1, d, 0) && add (model, error, b, 1, d, 0);
}

static gboolean
add_attention (CxrModel *model, const gchar *base, gint64 d, GError **error)
{
  const gchar *parts[] = { "q_proj", "k_proj", "v_proj", "out_proj" };
  for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
    {
      g_autofree gchar *name = g_strdup_printf ("%s.%s", base, parts[i]);
      if (!add_linear (model, name, d, d, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
add_stack (CxrModel *model, const gchar *side, guint layers, guint ffn, gboolean decoder, GError **error)
{
  BartConfig *c = CFG (model);
  g_autofree gchar *pos = g_strdup_printf ("model.%s.embed_positions.weight", side);
  g_autofree gchar *lne = g_strdup_printf ("model.%s.layernorm_embedding", side);

  if (!add (model, error, pos, 2, c->positions + 2, c->d) || !add_norm (model, lne, c->d, error))
    return FALSE;
  for (guint l = 0; l < layers; l++)
    {
      g_autofree gchar *base = g_strdup_printf ("model.%s.layers.%u", side, l);
      g_autofree gchar *sa = g_strconcat (base, ".self_attn", NULL), *san = g_strconcat (base, ".self_attn_layer_norm", NULL);
      g_autofree gchar *ca = g_strconcat (base, ".encoder_attn", NULL), *can = g_strconcat (base, ".encoder_attn_layer_norm", NULL);
      g_autofree gchar *fc1 = g_strconcat (base, ".fc1", NULL), *fc2 = g_strconcat (base, ".fc2", NULL);
      g_autofree gchar *fn = g_strconcat (base, ".final_layer_norm", NULL);

      if (!add_attention (model, sa, c->d, error) || !add_norm (model, san, c->d, error) ||
          (decoder && (!add_attention (model, ca, c->d, error) || !add_norm (model, can, c->d, error))) ||
          !add_linear (model, fc1, ffn, c->d, error) || !add_linear (model, fc2, c->d, ffn, error) ||
          !add_norm (model, fn, c->d, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
cxr_bart_configure (CxrModel *model, CxrConfig *config, GError **error)
{
  BartConfig *c = CFG (model);
  const gchar *act;

  memset (c, 0, sizeof *c);
  c->vocab = (guint) cxr_config_require_int (config, "vocab_size");
  c->d = (guint) cxr_config_require_int (config, "d_model");
  c->enc_layers = (guint) cxr_config_require_int (config, "encoder_layers");
  c->dec_layers = (guint) cxr_config_require_int (config, "decoder_layers");
  c->enc_heads = (guint) cxr_config_require_int (config, "encoder_attention_heads");
  c->dec_heads = (guint) cxr_config_require_int (config, "decoder_attention_heads");
  c->enc_ffn = (guint) cxr_config_require_int (config, "encoder_ffn_dim");
  c->dec_ffn = (guint) cxr_config_require_int (config, "decoder_ffn_dim");
  c->positions = (guint) cxr_config_require_int (config, "max_position_embeddings");
  c->scale_embedding = cxr_config_get_boolean (config, "scale_embedding", FALSE);
  c->pad = cxr_config_get_int (config, "pad_token_id", 1);
  c->decoder_start = cxr_config_get_int (config, "decoder_start_token_id", 2);
  act = cxr_config_get_string (config, "activation_function", "gelu");
  if (g_strcmp0 (act, "gelu") == 0)
    c->gelu = CXR_GELU_ERF;
  else if (g_strcmp0 (act, "gelu_new") == 0 || g_strcmp0 (act, "gelu_pytorch_tanh") == 0)
    c->gelu = CXR_GELU_TANH;
  else
    cxr_config_fail (config, "activation_function", "\"%s\": gelu, gelu_new or gelu_pytorch_tanh expected", act);
  if (cxr_config_get_boolean (config, "normalize_before", FALSE) || cxr_config_get_boolean (config, "add_final_layer_norm", FALSE))
    cxr_config_fail (config, "normalize_before", "pre-norm BART (mBART) is not built");
  cxr_config_ignore (config, bart_known);
  if (c->d == 0 || c->enc_heads == 0 || c->dec_heads == 0 || c->d % c->enc_heads || c->d % c->dec_heads)
    cxr_config_fail (config, "encoder_attention_heads", "the heads do not divide d_model %u", c->d);
  if (!cxr_config_check (config, error))
    return FALSE;
  return add (model, error, "model.shared.weight", 2, c->vocab, c->d) &&
         add_stack (model, "encoder", c->enc_layers, c->enc_ffn, FALSE, error) &&
         add_stack (model, "decoder", c->dec_layers, c->dec_ffn, TRUE, error) &&
         add (model, error, "final_logits_bias", 2, 1, c->vocab);
}

/* ------------------------------------------------------------- forward */

typedef struct {
  CxrModel *model;
  CxrTape *tape;
  GError **error;
} Ctx;

static CxrTensor *
P (Ctx *c, const gchar *base, const gchar *part)
{
  g_autofree gchar *name = g_strconcat (base, part, NULL);
  CxrTensor *t = cxr_model_get_parameter (c->model, name);
  g_assert (t != NULL); /* declared by configure */
  return t;
}

static CxrTensor *
linear (Ctx *c, CxrTensor *x, const gchar *base)
{
  return x ? cxr_op_linear (c->tape, x, P (c, base, ".weight"), P (c, base, ".bias"), c->error) : NULL;
}

static CxrTensor *
norm (Ctx *c, CxrTensor *x, const gchar *base)
{
  return x ? cxr_op_layer_norm (c->tape, x, P (c, base, ".weight"), P (c, base, ".bias"), 1e-5f, c->error) : NULL;
}

static CxrTensor *
add_tensors (Ctx *c, CxrTensor *a, CxrTensor *b)
{
  return a && b ? cxr_op_add (c->tape, a, b, c->error) : NULL;
}

/* BartAttention: q from x, k and v from kv, queries scaled */
static CxrTensor *
attention (Ctx *c, CxrTensor *x, CxrTensor *kv, const gchar *base, guint heads, CxrTensor *key_mask, gboolean causal)
{
  g_autofree gchar *qn = g_strconcat (base, ".q_proj", NULL), *kn = g_strconcat (base, ".k_proj", NULL);
  g_autofree gchar *vn = g_strconcat (base, ".v_proj", NULL), *on = g_strconcat (base, ".out_proj", NULL);
  g_autoptr (CxrTensor) q = linear (c, x, qn), k = linear (c, kv, kn), v = linear (c, kv, vn), a = NULL;
  gfloat scale = 1.0f / sqrtf ((gfloat) (cxr_tensor_get_dim (x, 2) / heads));

  if (q == NULL || k == NULL || v == NULL ||
      (a = cxr_op_multi_head_attention (c->tape, q, k, v, heads, key_mask, causal, scale, c->error)) == NULL)
    return NULL;
  return linear (c, a, on);
}

/* token embeddings (times sqrt(d) with scale_embedding) plus positions
 * 2..L+1, then layernorm_embedding */
static CxrTensor *
embed (Ctx *c, CxrBart *self, CxrTensor *ids, const gchar *side)
{
  g_autofree gchar *pos_name = g_strdup_printf ("model.%s.embed_positions.weight", side);
  g_autofree gchar *lne = g_strdup_printf ("model.%s.layernorm_embedding", side);
  gint64 l = cxr_tensor_get_dim (ids, 1);
  g_autoptr (CxrTensor) tok = cxr_op_embedding (c->tape, P (c, "model.shared.weight", ""), ids, c->error), pos = NULL, x = NULL;

  if (tok && CFG (self)->scale_embedding)
    cxr_tensor_replace (&tok, cxr_op_scale (c->tape, tok, sqrtf ((gfloat) CFG (self)->d), c->error));
  if (tok == NULL ||
      (pos = cxr_op_slice (c->tape, cxr_model_get_parameter (c->model, pos_name), 0, 2, l + 2, c->error)) == NULL)
    return NULL;
  x = add_tensors (c, tok, pos);
  return norm (c, x, lne);
}

static CxrTensor *
feed_forward (Ctx *c, CxrBart *self, CxrTensor *h, const gchar *base)
{
  g_autofree gchar *fc1 = g_strconcat (base, ".fc1", NULL), *fc2 = g_strconcat (base, ".fc2", NULL);
  g_autoptr (CxrTensor) f = linear (c, h, fc1);

  if (f)
    cxr_tensor_replace (&f, cxr_op_gelu (c->tape, f, CFG (self)->gelu, c->error));
  return linear (c, f, fc2);
}

/* h = norm (h + x): BART's post-norm residual */
static void
residual_norm (Ctx *c, CxrTensor **h, CxrTensor *x, const gchar *norm_name)
{
  cxr_tensor_replace (h, add_tensors (c, *h, x));
  cxr_tensor_replace (h, norm (c, *h, norm_name));
}

/* the feed-forward half of a layer, with its residual and norm */
static void
feed_forward_block (Ctx *c, CxrBart *self, CxrTensor **h, const gchar *base, const gchar *norm_name)
{
  g_autoptr (CxrTensor) f = *h ? feed_forward (c, self, *h, base) : NULL;
  residual_norm (c, h, f, norm_name);
}

/* logits = h x shared^T + final_logits_bias */
static CxrTensor *
lm_head (Ctx *c, CxrTensor *h)
{
  g_autoptr (CxrTensor) x = h ? cxr_op_linear (c->tape, h, P (c, "model.shared.weight", ""), NULL, c->error) : NULL;
  return add_tensors (c, x, P (c, "final_logits_bias", ""));
}

/* the tensor-name prefixes of one layer */
typedef struct {
  gchar *base, *self_attn, *self_norm, *cross_attn, *cross_norm, *final_norm;
} LayerNames;

static void
layer_names_init (LayerNames *n, const gchar *side, guint layer)
{
  n->base = g_strdup_printf ("model.%s.layers.%u", side, layer);
  n->self_attn = g_strconcat (n->base, ".self_attn", NULL);
  n->self_norm = g_strconcat (n->base, ".self_attn_layer_norm", NULL);
  n->cross_attn = g_strconcat (n->base, ".encoder_attn", NULL);
  n->cross_norm = g_strconcat (n->base, ".encoder_attn_layer_norm", NULL);
  n->final_norm = g_strconcat (n->base, ".final_layer_norm", NULL);
}

static void
layer_names_clear (LayerNames *n)
{
  g_free (n->base);
  g_free (n->self_attn);
  g_free (n->self_norm);
  g_free (n->cross_attn);
  g_free (n->cross_norm);
  g_free (n->final_norm);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (LayerNames, layer_names_clear)

/**
 * cxr_bart_encode:
 * @self: a prepared BART
 * @tape: (nullable): where to record
 * @input_ids: I64 [N, L]
 * @attention_mask: (nullable): F32 [N, L]
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the encoder's last hidden states
 *   [N, L, d_model]
 */
CxrTensor *
cxr_bart_encode (CxrBart *self, CxrTape *tape, CxrTensor *input_ids, CxrTensor *attention_mask, GError **error)
{
  Ctx c = { CXR_MODEL (self), tape, error };
  g_autoptr (CxrTensor) h = embed (&c, self, input_ids, "encoder");

  for (guint l = 0; l < CFG (self)->enc_layers && h; l++)
    {
      g_auto (LayerNames) n = { 0 };
      g_autoptr (CxrTensor) a = NULL;

      layer_names_init (&n, "encoder", l);
      a = attention (&c, h, h, n.self_attn, CFG (self)->enc_heads, attention_mask, FALSE);
      residual_norm (&c, &h, a, n.self_norm);
      feed_forward_block (&c, self, &h, n.base, n.final_norm);
    }
  return g_steal_pointer (&h);
}

/**
 * cxr_bart_decode:
 * @self: a prepared BART
 * @tape: (nullable): where to record
 * @decoder_input_ids: I64 [N, T]
 * @decoder_mask: (nullable): F32 [N, T], 1 for tokens
 * @encoder_states: [N, S, d_model] (the paper's autoencoder gives S = 1:
 *   the pooled report embedding)
 * @encoder_mask: (nullable): [N, S], 1 for states to attend to (any number
 *   type)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the logits [N, T, vocab]
 */
CxrTensor *
cxr_bart_decode (CxrBart *self, CxrTape *tape, CxrTensor *decoder_input_ids, CxrTensor *decoder_mask,
                 CxrTensor *encoder_states, CxrTensor *encoder_mask, GError **error)
{
  Ctx c = { CXR_MODEL (self), tape, error };
  g_autoptr (CxrTensor) h = embed (&c, self, decoder_input_ids, "decoder");

  for (guint l = 0; l < CFG (self)->dec_layers && h; l++)
    {
      g_auto (LayerNames) n = { 0 };
      g_autoptr (CxrTensor) a = NULL, x = NULL;

      layer_names_init (&n, "decoder", l);
      a = attention (&c, h, h, n.self_attn, CFG (self)->dec_heads, decoder_mask, TRUE);
      residual_norm (&c, &h, a, n.self_norm);
      x = h ? attention (&c, h, encoder_states, n.cross_attn, CFG (self)->dec_heads, encoder_mask, FALSE) : NULL;
      residual_norm (&c, &h, x, n.cross_norm);
      feed_forward_block (&c, self, &h, n.base, n.final_norm);
    }
  return lm_head (&c, h);
}

/**
 * cxr_bart_get_vocab_size:
 * @self: a prepared BART
 *
 * Returns: the ids the model knows
 */
guint
cxr_bart_get_vocab_size (CxrBart *self)
{
  return CFG (self)->vocab;
}

/**
 * cxr_bart_get_max_positions:
 * @self: a prepared BART
 *
 * Returns: the longest sequence the learned positions cover
 */
guint
cxr_bart_get_max_positions (CxrBart *self)
{
  return CFG (self)->positions;
}

/**
 * cxr_bart_get_special_ids:
 * @self: a prepared BART
 * @pad: (out) (optional): pad_token_id
 * @decoder_start: (out) (optional): decoder_start_token_id
 */
void
cxr_bart_get_special_ids (CxrBart *self, gint64 *pad, gint64 *decoder_start)
{
  if (pad)
    *pad = CFG (self)->pad;
  if (decoder_start)
    *decoder_start = CFG (self)->decoder_start;
}

/* ---------------------------------------------- incremental decoding */

/* The decoder one position at a time: each layer keeps the keys and
 * values of the positions seen so far (self-attention) and those of the
 * encoder states, computed once (cross-attention), so a step costs one
 * row of every projection and attention over what is cached, not the
 * whole prefix again. */
struct _CxrBartDecoderState {
  CxrBart *model;
  guint rows, capacity, length, layers, d, s;
  gfloat **self_k, **self_v;  /* per layer [rows, capacity, d] */
  gfloat **cross_k, **cross_v; /* per layer [rows, s, d] */
  gfloat *cross_mask;         /* [rows, s] or NULL */
  gfloat *spare;              /* [rows, capacity, d]: what reordering copies into */
};

/**
 * cxr_bart_decoder_state_free:
 * @state: (nullable): a decoder state
 */
void
cxr_bart_decoder_state_free (CxrBartDecoderState *state)
{
  if (state == NULL)
    return;
  for (guint l = 0; l < state->layers; l++)
    {
      g_free (state->self_k[l]);
      g_free (state->self_v[l]);
      g_free (state->cross_k[l]);
      g_free (state->cross_v[l]);
    }
  g_free (state->self_k);
  g_free (state->self_v);
  g_free (state->cross_k);
  g_free (state->cross_v);
  g_free (state->cross_mask);
  g_free (state->spare);
  g_object_unref (state->model);
  g_free (state);
}

static gfloat *
copy_floats (CxrTensor *t)
{
  g_autoptr (CxrTensor) dense = cxr_tensor_contiguous (t);
  return g_memdup2 (cxr_tensor_get_data (dense), sizeof (gfloat) * cxr_tensor_get_numel (dense));
}

/**
 * cxr_bart_decoder_state_new:
 * @self: a prepared BART
 * @encoder_states: [N, S, d_model] (S = 1 for the report autoencoder)
 * @encoder_mask: (nullable): [N, S], 1 for states to attend to (any number
 *   type)
 * @capacity: the most positions the state will hold (at most the model's
 *   positions)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): an empty state for N sequences,
 *   the cross-attention keys and values computed
 */
CxrBartDecoderState *
cxr_bart_decoder_state_new (CxrBart *self, CxrTensor *encoder_states, CxrTensor *encoder_mask, guint capacity,
                            GError **error)
{
  BartConfig *c = CFG (self);
  Ctx ctx = { CXR_MODEL (self), NULL, error };
  CxrBartDecoderState *state;
  gsize self_size;

  if (cxr_tensor_get_ndim (encoder_states) != 3 || cxr_tensor_get_dim (encoder_states, 2) != c->d)
    {
      g_autofree gchar *what = cxr_tensor_describe (encoder_states);
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "bart: the encoder states are %s; [N, S, %u] "
                   "expected", what, c->d);
      return NULL;
    }
  state = g_new0 (CxrBartDecoderState, 1);
  state->model = g_object_ref (self);
  state->rows = (guint) cxr_tensor_get_dim (encoder_states, 0);
  state->s = (guint) cxr_tensor_get_dim (encoder_states, 1);
  state->capacity = MIN (capacity, c->positions);
  state->layers = c->dec_layers;
  state->d = c->d;
  self_size = MAX ((gsize) state->rows * state->capacity * c->d, 1);
  state->self_k = g_new0 (gfloat *, c->dec_layers);
  state->self_v = g_new0 (gfloat *, c->dec_layers);
  state->cross_k = g_new0 (gfloat *, c->dec_layers);
  state->cross_v = g_new0 (gfloat *, c->dec_layers);
  if (encoder_mask)
    {
      g_autoptr (CxrTensor) mask = NULL;
      if (cxr_tensor_get_ndim (encoder_mask) != 2 || cxr_tensor_get_dim (encoder_mask, 0) != state->rows ||
          cxr_tensor_get_dim (encoder_mask, 1) != state->s ||
          (mask = cxr_tensor_to_dtype (encoder_mask, CXR_DTYPE_F32, error)) == NULL)
        {
          if (error && *error == NULL)
            g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "bart: the encoder mask is not [%u, %u]",
                         state->rows, state->s);
          cxr_bart_decoder_state_free (state);
          return NULL;
        }
      state->cross_mask = copy_floats (mask);
    }
  for (guint l = 0; l < c->dec_layers; l++)
    {
      g_autofree gchar *kn = g_strdup_printf ("model.decoder.layers.%u.encoder_attn.k_proj", l);
      g_autofree gchar *vn = g_strdup_printf ("model.decoder.layers.%u.encoder_attn.v_proj", l);
      g_autoptr (CxrTensor) k = linear (&ctx, encoder_states, kn), v = linear (&ctx, encoder_states, vn);

      if (k == NULL || v == NULL)
        {
          cxr_bart_decoder_state_free (state);
          return NULL;
        }
      state->cross_k[l] = copy_floats (k);
      state->cross_v[l] = copy_floats (v);
      if ((state->self_k[l] = g_try_new (gfloat, self_size)) == NULL ||
          (state->self_v[l] = g_try_new (gfloat, self_size)) == NULL)
        break;
    }
  /* the spare buffer reordering copies into: beam search allocates no
   * self-attention cache while it runs */
  if ((c->dec_layers > 0 && state->self_v[c->dec_layers - 1] == NULL) ||
      (state->spare = g_try_new (gfloat, self_size)) == NULL)
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "bart: no memory for the decoder cache of %u "
                   "sequences of %u positions (%.1f GiB)", state->rows, state->capacity,
                   (2.0 * c->dec_layers + 1) * self_size * sizeof (gfloat) / (1 << 30));
      cxr_bart_decoder_state_free (state);
      return NULL;
    }
  return state;
}

/**
 * cxr_bart_decoder_state_get_length:
 * @state: a decoder state
 *
 * Returns: the positions decoded so far
 */
guint
cxr_bart_decoder_state_get_length (CxrBartDecoderState *state)
{
  return state->length;
}

/**
 * cxr_bart_decoder_state_reorder:
 * @state: a decoder state
 * @rows: (array length=n_rows): for each new row, the old row it copies
 * @n_rows: the rows after (beam search keeps as many; a batch may shrink)
 *
 * Rearranges the cached rows: beam search continues the beams it keeps.
 * With as many rows as before, the self-attention caches trade places with
 * a spare buffer and nothing of their size is allocated.
 */
void
cxr_bart_decoder_state_reorder (CxrBartDecoderState *state, const guint *rows, guint n_rows)
{
  gsize self_row = (gsize) state->capacity * state->d, cross_row = (gsize) state->s * state->d;
  gsize used = (gsize) state->length * state->d;

  for (guint i = 0; i < n_rows; i++)
    g_return_if_fail (rows[i] < state->rows);
  if (n_rows != state->rows)
    g_clear_pointer (&state->spare, g_free);
  for (guint l = 0; l < state->layers; l++)
    {
      gfloat **slots[4] = { &state->self_k[l], &state->self_v[l], &state->cross_k[l], &state->cross_v[l] };
      for (guint w = 0; w < 4; w++)
        {
          gsize row = w < 2 ? self_row : cross_row, copy = w < 2 ? used : cross_row;
          gfloat *old = *slots[w], *fresh;

          /* the self-attention caches trade places with one spare buffer,
           * so a step of beam search allocates nothing */
          if (w < 2 && state->spare)
            fresh = state->spare;
          else
            fresh = g_new (gfloat, MAX ((gsize) n_rows * row, 1));
          for (guint i = 0; i < n_rows; i++)
            memcpy (fresh + i * row, old + (gsize) rows[i] * row, sizeof (gfloat) * copy);
          *slots[w] = fresh;
          if (w < 2 && n_rows == state->rows)
            state->spare = old;
          else
            g_free (old);
        }
    }
  if (state->cross_mask)
    {
      gfloat *fresh = g_new (gfloat, MAX ((gsize) n_rows * state->s, 1));
      for (guint i = 0; i < n_rows; i++)
        memcpy (fresh + (gsize) i * state->s, state->cross_mask + (gsize) rows[i] * state->s, sizeof (gfloat) * state->s);
      g_free (state->cross_mask);
      state->cross_mask = fresh;
    }
  state->rows = n_rows;
}

/* one query row per sequence against T cached keys and values, per head:
 * softmax(q k^T * scale) v, keys whose mask is 0 left out */
static void
attend_cached (const gfloat *q, const gfloat *keys, const gfloat *values, const gfloat *mask, guint rows, guint t,
               gsize row_stride, guint d, guint heads, gfloat *out)
{
  guint hd = d / heads;
  gfloat scale = 1.0f / sqrtf ((gfloat) hd);

#pragma omp parallel for collapse(2) if ((gsize) rows * heads * t * hd > 32768)
  for (guint r = 0; r < rows; r++)
    for (guint h = 0; h < heads; h++)
      {
        const gfloat *qr = q + (gsize) r * d + h * hd;
        const gfloat *kr = keys + r * row_stride + h * hd, *vr = values + r * row_stride + h * hd;
        gfloat *o = out + (gsize) r * d + h * hd, top = -INFINITY, sum = 0;
        g_autofree gfloat *w = g_new (gfloat, t);

        for (guint j = 0; j < t; j++)
          {
            gfloat dot = 0;
            if (mask && mask[(gsize) r * t + j] == 0)
              {
                w[j] = -INFINITY;
                continue;
              }
            for (guint e = 0; e < hd; e++)
              dot += qr[e] * kr[(gsize) j * d + e];
            w[j] = dot * scale;
            top = MAX (top, w[j]);
          }
        for (guint j = 0; j < t; j++)
          sum += (w[j] = w[j] == -INFINITY ? 0 : expf (w[j] - top));
        memset (o, 0, sizeof (gfloat) * hd);
        for (guint j = 0; j < t; j++)
          if (w[j] != 0)
            for (guint e = 0; e < hd; e++)
              o[e] += w[j] / sum * vr[(gsize) j * d + e];
      }
}

static CxrTensor *
step_attention (Ctx *c, CxrTensor *x, const gchar *base, const gfloat *keys, const gfloat *values, const gfloat *mask,
                guint rows, guint t, gsize row_stride, guint heads, GError **error)
{
  g_autofree gchar *qn = g_strconcat (base, ".q_proj", NULL), *on = g_strconcat (base, ".out_proj", NULL);
  g_autoptr (CxrTensor) q = linear (c, x, qn), q_dense = NULL, a = NULL;
  guint d = (guint) cxr_tensor_get_dim (x, 2);

  if (q == NULL)
    return NULL;
  q_dense = cxr_tensor_contiguous (q);
  a = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { rows, 1, d }, 3);
  attend_cached (cxr_tensor_get_data (q_dense), keys, values, mask, rows, t, row_stride, d, heads,
                 cxr_tensor_get_data (a));
  return linear (c, a, on);
}

/* writes the new position's key and value of one self-attention into the
 * cache */
static gboolean
cache_key_value (Ctx *c, CxrBartDecoderState *state, guint layer, CxrTensor *x, const gchar *base)
{
  g_autofree gchar *kn = g_strconcat (base, ".k_proj", NULL), *vn = g_strconcat (base, ".v_proj", NULL);
  g_autoptr (CxrTensor) k = linear (c, x, kn), v = linear (c, x, vn), kd = NULL, vd = NULL;
  gsize row = (gsize) state->capacity * state->d;

  if (k == NULL || v == NULL)
    return FALSE;
  kd = cxr_tensor_contiguous (k);
  vd = cxr_tensor_contiguous (v);
  for (guint r = 0; r < state->rows; r++)
    {
      memcpy (state->self_k[layer] + r * row + (gsize) state->length * state->d,
              (const gfloat *) cxr_tensor_get_data (kd) + (gsize) r * state->d, sizeof (gfloat) * state->d);
      memcpy (state->self_v[layer] + r * row + (gsize) state->length * state->d,
              (const gfloat *) cxr_tensor_get_data (vd) + (gsize) r * state->d, sizeof (gfloat) * state->d);
    }
  return TRUE;
}

/**
 * cxr_bart_decoder_step:
 * @self: a prepared BART
 * @state: its decoder state
 * @ids: (array): the next token of each of the state's rows
 * @error: return location for a #GError
 *
 * Decodes one position without gradients: the same logits
 * cxr_bart_decode() gives at that position for the whole prefix.
 *
 * Returns: (transfer full) (nullable): the logits [rows, vocab]
 */
CxrTensor *
cxr_bart_decoder_step (CxrBart *self, CxrBartDecoderState *state, const gint64 *ids, GError **error)
{
  BartConfig *cfg = CFG (self);
  Ctx c = { CXR_MODEL (self), NULL, error };
  g_autoptr (CxrTensor) id_tensor = NULL, tok = NULL, h = NULL, logits = NULL;
  CxrTensor *positions = cxr_model_get_parameter (c.model, "model.decoder.embed_positions.weight");
  guint rows = state->rows, t = state->length;

  if (t >= state->capacity)
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "bart: the decoder state holds %u positions; all "
                   "are used", state->capacity);
      return NULL;
    }
  for (guint r = 0; r < rows; r++)
    if (ids[r] < 0 || ids[r] >= cfg->vocab)
      {
        g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "bart: token %" G_GINT64_FORMAT " of row %u is "
                     "outside the vocabulary (%u)", ids[r], r, cfg->vocab);
        return NULL;
      }
  id_tensor = cxr_tensor_new_from_data (CXR_DTYPE_I64, (const gint64[]) { rows, 1 }, 2, (const guint8 *) ids,
                                        sizeof (gint64) * rows, error);
  if (id_tensor == NULL || (tok = cxr_op_embedding (NULL, P (&c, "model.shared.weight", ""), id_tensor, error)) == NULL)
    return NULL;
  if (cfg->scale_embedding)
    cxr_tensor_replace (&tok, cxr_op_scale (NULL, tok, sqrtf ((gfloat) cfg->d), error));
  {
    g_autoptr (CxrTensor) pos = cxr_op_slice (NULL, positions, 0, t + 2, t + 3, error);
    h = tok && pos ? add_tensors (&c, tok, pos) : NULL;
    cxr_tensor_replace (&h, norm (&c, h, "model.decoder.layernorm_embedding"));
  }
  for (guint l = 0; l < cfg->dec_layers && h; l++)
    {
      g_auto (LayerNames) n = { 0 };
      g_autoptr (CxrTensor) a = NULL, x = NULL;

      layer_names_init (&n, "decoder", l);
      if (!cache_key_value (&c, state, l, h, n.self_attn))
        return NULL;
      a = step_attention (&c, h, n.self_attn, state->self_k[l], state->self_v[l], NULL, rows, t + 1,
                          (gsize) state->capacity * cfg->d, cfg->dec_heads, error);
      residual_norm (&c, &h, a, n.self_norm);
      x = h ? step_attention (&c, h, n.cross_attn, state->cross_k[l], state->cross_v[l], state->cross_mask, rows,
                              state->s, (gsize) state->s * cfg->d, cfg->dec_heads, error) : NULL;
      residual_norm (&c, &h, x, n.cross_norm);
      feed_forward_block (&c, self, &h, n.base, n.final_norm);
    }
  if (h == NULL)
    return NULL;
  state->length++;
  logits = lm_head (&c, h);
  return logits ? cxr_op_reshape (NULL, logits, (const gint64[]) { rows, cfg->vocab }, 2, error) : NULL;
}

static CxrTensor *
take_ids (CxrModel *model, GHashTable *inputs, const gchar *name, GError **error)
{
  CxrBart *self = CXR_BART (model);
  g_autoptr (CxrTensor) ids = cxr_model_take_input (model, inputs, name, CXR_DTYPE_I64, 2, error);
  const gint64 *p;
  gint64 l;

  if (ids == NULL)
    return NULL;
  l = cxr_tensor_get_dim (ids, 1);
  if (l < 1 || l > CFG (self)->positions)
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "bart: %s has %" G_GINT64_FORMAT " tokens; 1 to "
                   "%u fit", name, l, CFG (self)->positions);
      return NULL;
    }
  p = cxr_tensor_get_data (ids);
  for (gint64 i = 0, count = cxr_tensor_get_numel (ids); i < count; i++)
    if (p[i] < 0 || p[i] >= CFG (self)->vocab)
      {
        g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "bart: %s[%" G_GINT64_FORMAT "][%" G_GINT64_FORMAT
                     "] = %" G_GINT64_FORMAT " is outside the vocabulary (%u)", name, i / l, i % l, p[i], CFG (self)->vocab);
        return NULL;
      }
  return g_steal_pointer (&ids);
}

/* a mask input of any number type, the shape of its ids, as F32 */
static gboolean
take_mask (GHashTable *inputs, const gchar *name, CxrTensor *ids, CxrTensor **out, GError **error)
{
  CxrTensor *m = g_hash_table_lookup (inputs, name);

  *out = NULL;
  if (m == NULL)
    return TRUE;
  if (cxr_tensor_get_ndim (m) != 2 || cxr_tensor_get_dim (m, 0) != cxr_tensor_get_dim (ids, 0) ||
      cxr_tensor_get_dim (m, 1) != cxr_tensor_get_dim (ids, 1))
    {
      g_autofree gchar *what = cxr_tensor_describe (m), *want = cxr_tensor_describe (ids);
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_INPUT, "bart: %s is %s; the shape of its ids (%s) "
                   "expected", name, what, want);
      return FALSE;
    }
  return (*out = cxr_tensor_to_dtype (m, CXR_DTYPE_F32, error)) != NULL;
}

/* transformers' shift_tokens_right: decoder_start_token_id, then the ids
 * but the last, -100 read as padding */
static CxrTensor *
shift_right (CxrBart *self, CxrTensor *ids)
{
  const gint64 *p = cxr_tensor_get_data (ids);
  gint64 n = cxr_tensor_get_dim (ids, 0), l = cxr_tensor_get_dim (ids, 1);
  CxrTensor *dec = cxr_tensor_new (CXR_DTYPE_I64, (const gint64[]) { n, l }, 2);
  gint64 *q = cxr_tensor_get_data (dec);

  for (gint64 i = 0; i < n; i++)
    {
      q[i * l] = CFG (self)->decoder_start;
      for (gint64 j = 1; j < l; j++)
        q[i * l + j] = p[i * l + j - 1] == -100 ? CFG (self)->pad : p[i * l + j - 1];
    }
  return dec;
}

static GHashTable *
cxr_bart_run (CxrModel *model, CxrTape *tape, GHashTable *inputs, GError **error)
{
  CxrBart *self = CXR_BART (model);
  g_autoptr (CxrTensor) ids = NULL, mask = NULL, dec = NULL, dec_mask = NULL, enc = NULL, logits = NULL;
  GHashTable *out;

  if ((ids = take_ids (model, inputs, "input_ids", error)) == NULL || !take_mask (inputs, "attention_mask", ids, &mask, error))
    return NULL;
  if (g_hash_table_contains (inputs, "decoder_input_ids"))
    {
      if ((dec = take_ids (model, inputs, "decoder_input_ids", error)) == NULL)
        return NULL;
    }
  else
    dec = shift_right (self, ids);
  if (!take_mask (inputs, "decoder_attention_mask", dec, &dec_mask, error) ||
      (enc = cxr_bart_encode (self, tape, ids, mask, error)) == NULL ||
      (logits = cxr_bart_decode (self, tape, dec, dec_mask, enc, mask, error)) == NULL)
    return NULL;
  out = cxr_model_new_tensor_table ();
  g_hash_table_insert (out, g_strdup ("logits"), g_steal_pointer (&logits));
  g_hash_table_insert (out, g_strdup ("encoder_last_hidden_state"), g_steal_pointer (&enc));
  return out;
}

static GHashTable *
cxr_bart_example_inputs (CxrModel *model, guint batch, guint64 seed, GError **error)
{
  CxrBart *self = CXR_BART (model);
  GHashTable *out = cxr_model_new_tensor_table ();
  gint64 l = MIN (256, CFG (self)->positions); /* a report's length */
  CxrTensor *ids = cxr_tensor_new (CXR_DTYPE_I64, (const gint64[]) { batch, l }, 2);
  g_autofree gfloat *u = g_new (gfloat, batch * l);
  gint64 *p = cxr_tensor_get_data (ids);

  cxr_philox_uniform (seed, 0, u, batch * l);
  for (gint64 i = 0; i < batch * l; i++)
    p[i] = MIN ((gint64) (u[i] * CFG (self)->vocab), (gint64) CFG (self)->vocab - 1);
  g_hash_table_insert (out, g_strdup ("input_ids"), ids);
  return out;
}

static const gchar bart_default[] =
  "{\"architectures\": [\"BartModel\"], \"model_type\": \"bart\", \"activation_function\": \"gelu\","
  " \"d_model\": 768, \"decoder_attention_heads\": 12, \"decoder_ffn_dim\": 3072, \"decoder_layers\": 6,"
  " \"decoder_start_token_id\": 2, \"encoder_attention_heads\": 12, \"encoder_ffn_dim\": 3072,"
  " \"encoder_layers\": 6, \"max_position_embeddings\": 1024, \"pad_token_id\": 1, \"bos_token_id\": 0,"
  " \"eos_token_id\": 2, \"scale_embedding\": false, \"vocab_size\": 50265}";
static const gchar *const bart_inputs[] = { "input_ids", NULL };
static const gchar *const bart_optional[] = { "attention_mask", "decoder_input_ids", "decoder_attention_mask", NULL };
static const gchar *const bart_outputs[] = { "logits", "encoder_last_hidden_state", NULL };
/* the tied copies of the shared embeddings, which files may hold instead */
static const gchar *const bart_aliases[] = { "model.shared.weight", "model.encoder.embed_tokens.weight",
                                             "model.shared.weight", "model.decoder.embed_tokens.weight",
                                             "model.shared.weight", "lm_head.weight", NULL };
static const gchar *const bart_ignored[] = { "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight",
                                             "lm_head.weight", NULL };

static void
cxr_bart_class_init (CxrBartClass *klass)
{
  CxrModelClass *m = CXR_MODEL_CLASS (klass);

  m->configure = cxr_bart_configure;
  m->forward = cxr_bart_run;
  m->example_inputs = cxr_bart_example_inputs;
  m->description = "BART (BartForConditionalGeneration; built in: facebook/bart-base)";
  m->required_inputs = bart_inputs;
  m->optional_inputs = bart_optional;
  m->outputs = bart_outputs;
  m->default_config = bart_default;
  m->tensor_aliases = bart_aliases;
  m->ignored_tensors = bart_ignored;
}

static void
cxr_bart_init (CxrBart *self)
{
}

/* --------------------------------------------------- bart-autoencoder */

/**
 * SECTION:bart-autoencoder
 *
 * `bart-autoencoder` is the paper's language model (CXR-IRGen, section
 * 3.2): BART trained to rebuild a report from one vector. The encoder's
 * last hidden states are pooled into the report embedding (`pooling`:
 * the mean over the attention mask, as the paper; or the <s> or the last
 * token's state), and the decoder cross-attends to that single vector
 * instead of the encoder's sequence. The same weights and names as
 * `bart`. Outputs: logits (of the decoder inputs, by default the report
 * shifted right) and report_embedding [N, d_model], the target the ViT
 * prior learns to predict from an image.
 */

struct _CxrBartAutoencoder {
  CxrBart parent_instance;
  gchar *pooling;
};

static void cxr_bart_autoencoder_role_init (CxrTextDecoderInterface *iface) {}
G_DEFINE_FINAL_TYPE_WITH_CODE (CxrBartAutoencoder, cxr_bart_autoencoder, CXR_TYPE_BART,
                               G_IMPLEMENT_INTERFACE (CXR_TYPE_TEXT_DECODER, cxr_bart_autoencoder_role_init))

enum { AE_0, AE_POOLING, N_AE };
static GParamSpec *ae_props[N_AE];

/**
 * cxr_bart_autoencoder_embed:
 * @self: a prepared autoencoder
 * @tape: (nullable): where to record
 * @input_ids: I64 [N, L]
 * @attention_mask: (nullable): F32 [N, L]
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the report embeddings [N, d_model]
 */
CxrTensor *
cxr_bart_autoencoder_embed (CxrBartAutoencoder *self, CxrTape *tape, CxrTensor *input_ids, CxrTensor *attention_mask,
                            GError **error)
{
  g_autoptr (CxrTensor) enc = cxr_bart_encode (CXR_BART (self), tape, input_ids, attention_mask, error);
  g_autoptr (CxrTensor) mask = NULL;
  gint64 n, l;

  if (enc == NULL)
    return NULL;
  n = cxr_tensor_get_dim (enc, 0);
  l = cxr_tensor_get_dim (enc, 1);
  if (attention_mask)
    mask = cxr_tensor_ref (attention_mask);
  else
    {
      mask = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { n, l }, 2);
      cxr_tensor_fill (mask, 1.0f);
    }
  if (g_strcmp0 (self->pooling, "mean") == 0)
    return cxr_op_masked_mean (tape, enc, mask, error);
  {
    /* one position per sample: the first (<s>), or the last unmasked */
    g_autoptr (CxrTensor) pick = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { n, l }, 2);
    const gfloat *m = cxr_tensor_get_data (mask);
    gfloat *p = cxr_tensor_get_data (pick);
    memset (p, 0, sizeof (gfloat) * n * l);
    for (gint64 i = 0; i < n; i++)
      {
        gint64 at = 0;
        if (g_strcmp0 (self->pooling, "eos") == 0)
          for (gint64 j = 0; j < l; j++)
            if (m[i * l + j] != 0)
              at = j;
        p[i * l + at] = 1.0f;
      }
    return cxr_op_masked_mean (tape, enc, pick, error);
  }
}

static GHashTable *
cxr_bart_autoencoder_run (CxrModel *model, CxrTape *tape, GHashTable *inputs, GError **error)
{
  CxrBartAutoencoder *self = CXR_BART_AUTOENCODER (model);
  g_autoptr (CxrTensor) ids = NULL, mask = NULL, dec = NULL, dec_mask = NULL, pooled = NULL, one = NULL;
  g_autoptr (CxrTensor) logits = NULL;
  GHashTable *out;

  if ((ids = take_ids (model, inputs, "input_ids", error)) == NULL || !take_mask (inputs, "attention_mask", ids, &mask, error))
    return NULL;
  if (g_hash_table_contains (inputs, "decoder_input_ids"))
    dec = take_ids (model, inputs, "decoder_input_ids", error);
  else
    dec = shift_right (CXR_BART (self), ids);
  if (dec == NULL || !take_mask (inputs, "decoder_attention_mask", dec, &dec_mask, error) ||
      (pooled = cxr_bart_autoencoder_embed (self, tape, ids, mask, error)) == NULL ||
      (one = cxr_op_reshape (tape, pooled, (const gint64[]) { cxr_tensor_get_dim (pooled, 0), 1,
                                                              cxr_tensor_get_dim (pooled, 1) }, 3, error)) == NULL ||
      (logits = cxr_bart_decode (CXR_BART (self), tape, dec, dec_mask, one, NULL, error)) == NULL)
    return NULL;
  out = cxr_model_new_tensor_table ();
  g_hash_table_insert (out, g_strdup ("logits"), g_steal_pointer (&logits));
  g_hash_table_insert (out, g_strdup ("report_embedding"), g_steal_pointer (&pooled));
  return out;
}

static void
cxr_bart_autoencoder_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrBartAutoencoder *self = CXR_BART_AUTOENCODER (object);
  if (id == AE_POOLING)
    {
      g_free (self->pooling);
      self->pooling = g_value_dup_string (value);
    }
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
cxr_bart_autoencoder_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  if (id == AE_POOLING)
    g_value_set_string (value, CXR_BART_AUTOENCODER (object)->pooling);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
cxr_bart_autoencoder_finalize (GObject *object)
{
  g_free (CXR_BART_AUTOENCODER (object)->pooling);
  G_OBJECT_CLASS (cxr_bart_autoencoder_parent_class)->finalize (object);
}

static gboolean
cxr_bart_autoencoder_load (CxrModel *model, GError **error)
{
  CxrBartAutoencoder *self = CXR_BART_AUTOENCODER (model);

  if (!g_strv_contains ((const gchar *const[]) { "mean", "bos", "eos", NULL }, self->pooling ? self->pooling : ""))
    {
      g_set_error (error, CXR_MODEL_ERROR, CXR_MODEL_ERROR_CONFIG, "bart-autoencoder: pooling \"%s\": mean, bos or "
                   "eos", self->pooling);
      return FALSE;
    }
  return CXR_MODEL_CLASS (cxr_bart_autoencoder_parent_class)->load (model, error);
}

static const gchar *const ae_outputs[] = { "logits", "report_embedding", NULL };

static void
cxr_bart_autoencoder_class_init (CxrBartAutoencoderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrModelClass *m = CXR_MODEL_CLASS (klass);

  object_class->set_property = cxr_bart_autoencoder_set_property;
  object_class->get_property = cxr_bart_autoencoder_get_property;
  object_class->finalize = cxr_bart_autoencoder_finalize;
  m->load = cxr_bart_autoencoder_load;
  m->forward = cxr_bart_autoencoder_run;
  m->description = "The paper's BART report autoencoder: the decoder reads one pooled report embedding";
  m->outputs = ae_outputs;
  ae_props[AE_POOLING] = g_param_spec_string ("pooling", "Pooling", "The report embedding: mean (over the mask, the "
                                              "paper), bos or eos", "mean",
                                              G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_AE, ae_props);
}

static void
cxr_bart_autoencoder_init (CxrBartAutoencoder *self)
{
}
