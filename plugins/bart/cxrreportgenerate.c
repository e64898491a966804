/* plugins/bart/cxrreportgenerate.c: the report-generate stage: an image's
 * report, from its VAE latent through the prior to the BART decoder.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "cxrbart.h"

/**
 * SECTION:report-generate
 *
 * `report-generate` writes a report for each sample (CXR-IRGen, section
 * 3.2): its image (gray in [0, 1], replicated to RGB in [-1, 1]) is
 * encoded by the frozen `vae` (the mean of the latent distribution, times
 * its scaling factor), the `prior` maps the latent to a report embedding
 * (its pooler_output), and the BART decoder (`model`, a bart-autoencoder)
 * cross-attends to that one vector and writes the report token by token,
 * from </s> (decoder_start_token_id) until it writes </s> or has written
 * `max-length` tokens (at most the model's positions). With `from=embedding` the embeddings come from a
 * float field instead, and with `from=report` from the model's own
 * encoder reading a report (what the autoencoder rebuilds). It runs on
 * generated images and on real radiographs alike.
 *
 * `strategy`: `sample` (the paper: multinomial sampling from the softmax
 * of the logits over `temperature`, optionally kept to the `top-k` most
 * likely tokens and to the smallest set whose probability reaches
 * `top-p`), `greedy`, or `beam` (`num-beams` beams, hypotheses ranked by
 * their log-probability over their length to the power `length-penalty`,
 * as transformers does). `no-repeat-ngram-size` forbids any n-gram twice.
 * The decoder keeps the keys and values of what it has written
 * (`use-cache`, on by default; off recomputes the whole prefix at every
 * token, which gives the same tokens and is there to check it).
 *
 * Seeds: a sample's seed is its `seed` field when the batch has one (as
 * diffusion-sample writes it: a pair's report follows its image's seed),
 * else `seed` plus the sample's index in the stream; its draws depend on
 * that seed alone. Each sample gets the report (`output-field`) and its
 * log-probability under the model (`output-field`-logprob: the sum over
 * the tokens written, </s> included).
 *
 * |[
 * [stage report]
 * type=report-generate
 * input=sample
 * model=bart
 * prior=prior
 * vae=vae
 * ]|
 */

typedef enum { FROM_IMAGE, FROM_EMBEDDING, FROM_REPORT } Source;
typedef enum { STRATEGY_SAMPLE, STRATEGY_GREEDY, STRATEGY_BEAM } Strategy;

struct _CxrReportGenerate {
  CxrStage parent_instance;
  CxrModel *model, *prior, *vae;
  gchar *tokenizer_dir, *from, *strategy, *image_field, *embedding_field, *text_field, *output_field;
  gdouble temperature, top_p, length_penalty;
  guint top_k, num_beams, no_repeat, max_length;
  guint length_limit; /* max-length, at most the model's positions */
  guint64 seed;
  gboolean use_cache;

  CxrTokenizer *tokenizer;
  Source source;
  Strategy how;
  gint64 pad, start, eos;
  guint64 count, tokens_written;
  gint64 decode_us;
};

G_DEFINE_FINAL_TYPE (CxrReportGenerate, cxr_report_generate, CXR_TYPE_STAGE)

enum { P_0, P_MODEL, P_PRIOR, P_VAE, P_TOKENIZER, P_FROM, P_STRATEGY, P_IMAGE_FIELD, P_EMBEDDING_FIELD, P_TEXT_FIELD,
       P_OUTPUT_FIELD, P_TEMPERATURE, P_TOP_K, P_TOP_P, P_NUM_BEAMS, P_LENGTH_PENALTY, P_NO_REPEAT, P_MAX_LENGTH,
       P_SEED, P_USE_CACHE, N_P };
static GParamSpec *props[N_P];

static gboolean
fail (GError **error, const gchar *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
fail (GError **error, const gchar *format, ...)
{
  g_autofree gchar *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, message);
  return FALSE;
}

static gboolean
cxr_report_generate_prepare (CxrStage *stage, GError **error)
{
  CxrReportGenerate *self = CXR_REPORT_GENERATE (stage);
  const gchar *sources[] = { "image", "embedding", "report", NULL }, *strategies[] = { "sample", "greedy", "beam", NULL };

  self->source = FROM_IMAGE;
  while (sources[self->source] && g_strcmp0 (sources[self->source], self->from) != 0)
    self->source++;
  if (sources[self->source] == NULL)
    return fail (error, "from: \"%s\"; image, embedding or report", self->from);
  self->how = STRATEGY_SAMPLE;
  while (strategies[self->how] && g_strcmp0 (strategies[self->how], self->strategy) != 0)
    self->how++;
  if (strategies[self->how] == NULL)
    return fail (error, "strategy: \"%s\"; sample, greedy or beam", self->strategy);
  if (self->model == NULL)
    return fail (error, "model: set model=NAME, a [model NAME] that is bart-autoencoder");
  if (self->source == FROM_IMAGE && (self->prior == NULL || self->vae == NULL))
    return fail (error, "%s: from=image needs prior=NAME (vit-prior) and vae=NAME (sd-vae)",
                 self->prior ? "vae" : "prior");
  if (self->source == FROM_REPORT && !CXR_IS_BART_AUTOENCODER (self->model))
    return fail (error, "from=report needs a bart-autoencoder model: its encoder makes the embedding");
  if (!cxr_model_prepare (self->model, error) ||
      (self->source == FROM_IMAGE && (!cxr_model_prepare (self->prior, error) || !cxr_model_prepare (self->vae, error))))
    return FALSE;
  g_clear_object (&self->tokenizer);
  if ((self->tokenizer = cxr_bart_open_tokenizer (CXR_BART (self->model), self->tokenizer_dir, 0, error)) == NULL)
    return FALSE;
  cxr_bart_get_special_ids (CXR_BART (self->model), &self->pad, &self->start);
  self->length_limit = MIN (self->max_length, cxr_bart_get_max_positions (CXR_BART (self->model)));
  self->eos = cxr_tokenizer_get_eos_id (self->tokenizer);
  self->count = self->tokens_written = 0;
  self->decode_us = 0;
  return TRUE;
}

static gboolean
cxr_report_generate_finish (CxrStage *stage, GError **error)
{
  CxrReportGenerate *self = CXR_REPORT_GENERATE (stage);

  if (self->tokens_written > 0)
    g_info ("%s: %" G_GUINT64_FORMAT " reports, %" G_GUINT64_FORMAT " tokens in %.3f s of decoding (%.1f tokens/s)",
            cxr_stage_get_name (stage), self->count, self->tokens_written, self->decode_us / 1e6,
            self->tokens_written / MAX (self->decode_us / 1e6, 1e-9));
  return TRUE;
}

/* [n, d] report embeddings of the batch */
static CxrTensor *
embeddings_of (CxrReportGenerate *self, CxrBatch *batch, GError **error)
{
  guint n = cxr_batch_get_size (batch);

  if (self->source == FROM_EMBEDDING)
    {
      guint width = 0;
      const gfloat *values = cxr_batch_get_floats (batch, self->embedding_field, &width, NULL);
      if (values == NULL)
        {
          g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_MISSING_FIELD, "batch %" G_GUINT64_FORMAT ": needs "
                       "the float field \"%s\" (the report embeddings)", cxr_batch_get_sequence (batch),
                       self->embedding_field);
          return NULL;
        }
      return cxr_tensor_new_from_data (CXR_DTYPE_F32, (const gint64[]) { n, width }, 2, (const guint8 *) values,
                                       sizeof (gfloat) * n * width, error);
    }
  if (self->source == FROM_REPORT)
    {
      const gchar *const *texts = cxr_batch_get_strings (batch, self->text_field);
      g_autoptr (CxrTensor) ids = NULL, mask = NULL, maskf = NULL;
      if (texts == NULL)
        {
          g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_MISSING_FIELD, "batch %" G_GUINT64_FORMAT ": needs "
                       "the string field \"%s\" (the reports to rebuild)", cxr_batch_get_sequence (batch),
                       self->text_field);
          return NULL;
        }
      ids = cxr_tokenizer_encode_batch (self->tokenizer, texts, 0, &mask);
      if ((maskf = cxr_tensor_to_dtype (mask, CXR_DTYPE_F32, error)) == NULL)
        return NULL;
      return cxr_bart_autoencoder_embed (CXR_BART_AUTOENCODER (self->model), NULL, ids, maskf, error);
    }
  {
    CxrAutoencoder *vae = CXR_AUTOENCODER (self->vae);
    g_autoptr (CxrTensor) mean = NULL;
    g_autoptr (GHashTable) inputs = cxr_model_new_tensor_table (), outputs = NULL;
    CxrTensor *pooled;

    if ((mean = cxr_autoencoder_encode_field (vae, batch, self->image_field, NULL, error)) == NULL)
      return NULL;
    g_hash_table_insert (inputs, g_strdup ("pixel_values"),
                         cxr_op_scale (NULL, mean, (gfloat) cxr_autoencoder_get_scaling_factor (vae), NULL));
    if ((outputs = cxr_model_forward (self->prior, NULL, inputs, error)) == NULL)
      return NULL;
    if ((pooled = g_hash_table_lookup (outputs, "pooler_output")) == NULL)
      {
        g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "prior: the model gives no pooler_output");
        return NULL;
      }
    return cxr_tensor_ref (pooled);
  }
}

/* ------------------------------------------------------------ decoding */

/* One decoder over R rows: the cache, or the whole prefix each time. */
typedef struct {
  CxrReportGenerate *self;
  CxrBartDecoderState *state;
  CxrTensor *encoder; /* [R, 1, d] */
  gint64 *history;    /* R rows of the tokens fed so far, capacity each */
  gint64 *spare;      /* what reordering copies the rows into */
  guint rows, length, capacity;
} Decoder;

static gboolean
decoder_init (Decoder *dec, CxrReportGenerate *self, CxrTensor *encoder, guint capacity, GError **error)
{
  gsize cells;

  memset (dec, 0, sizeof *dec);
  dec->self = self;
  dec->encoder = cxr_tensor_ref (encoder);
  dec->rows = (guint) cxr_tensor_get_dim (encoder, 0);
  dec->capacity = capacity;
  cells = (gsize) dec->rows * capacity;
  if ((dec->history = g_try_new0 (gint64, cells)) == NULL || (dec->spare = g_try_new0 (gint64, cells)) == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "no memory for %u sequences of %u tokens",
                   dec->rows, capacity);
      return FALSE;
    }
  if (self->use_cache)
    return (dec->state = cxr_bart_decoder_state_new (CXR_BART (self->model), encoder, NULL, capacity, error)) != NULL;
  return TRUE;
}

static void
decoder_clear (Decoder *dec)
{
  g_clear_pointer (&dec->state, cxr_bart_decoder_state_free);
  g_clear_pointer (&dec->encoder, cxr_tensor_unref);
  g_clear_pointer (&dec->history, g_free);
  g_clear_pointer (&dec->spare, g_free);
}

static gint64 *
decoder_row (Decoder *dec, guint r)
{
  return dec->history + (gsize) r * dec->capacity;
}

/* feeds one token per row; returns the next position's logits [R, V] */
static CxrTensor *
decoder_feed (Decoder *dec, const gint64 *ids, GError **error)
{
  CxrBart *bart = CXR_BART (dec->self->model);
  g_autoptr (CxrTensor) prefix = NULL, logits = NULL, last = NULL;
  gint64 v;

  for (guint r = 0; r < dec->rows; r++)
    decoder_row (dec, r)[dec->length] = ids[r];
  dec->length++;
  if (dec->state)
    return cxr_bart_decoder_step (bart, dec->state, ids, error);
  prefix = cxr_tensor_new (CXR_DTYPE_I64, (const gint64[]) { dec->rows, dec->length }, 2);
  for (guint r = 0; r < dec->rows; r++)
    memcpy ((gint64 *) cxr_tensor_get_data (prefix) + (gsize) r * dec->length, decoder_row (dec, r),
            sizeof (gint64) * dec->length);
  if ((logits = cxr_bart_decode (bart, NULL, prefix, NULL, dec->encoder, NULL, error)) == NULL)
    return NULL;
  v = cxr_tensor_get_dim (logits, 2);
  last = cxr_tensor_slice (logits, 1, dec->length - 1, dec->length, 1, error);
  return last ? cxr_tensor_reshape (last, (const gint64[]) { dec->rows, v }, 2, error) : NULL;
}

/* decoder_feed, the logits as rows of *v floats held by *holder */
static gfloat *
decoder_next (Decoder *dec, const gint64 *ids, CxrTensor **holder, gint64 *v, GError **error)
{
  g_autoptr (CxrTensor) logits = decoder_feed (dec, ids, error);

  if (logits == NULL)
    return NULL;
  *holder = cxr_tensor_contiguous (logits);
  *v = cxr_tensor_get_dim (*holder, 1);
  return cxr_tensor_get_data (*holder);
}

/* keeps, as row i, the old row rows[i] (beam search) */
static void
decoder_reorder (Decoder *dec, const guint *rows)
{
  gint64 *old = dec->history;

  for (guint i = 0; i < dec->rows; i++)
    memcpy (dec->spare + (gsize) i * dec->capacity, old + (gsize) rows[i] * dec->capacity,
            sizeof (gint64) * dec->length);
  dec->history = dec->spare;
  dec->spare = old;
  if (dec->state)
    cxr_bart_decoder_state_reorder (dec->state, rows, dec->rows);
}

/* log(sum(exp(row))), stably */
static gfloat
log_sum_exp (const gfloat *row, gint64 v)
{
  gfloat top = -INFINITY;
  gdouble sum = 0;

  for (gint64 k = 0; k < v; k++)
    top = MAX (top, row[k]);
  if (top == -INFINITY)
    return top;
  for (gint64 k = 0; k < v; k++)
    sum += expf (row[k] - top);
  return top + (gfloat) log (sum);
}

/* log_sum_exp of each of n rows of v, the rows spread over the threads */
static void
rows_log_sum_exp (const gfloat *all, guint n, gint64 v, gfloat *out)
{
#pragma omp parallel for if (n > 1)
  for (guint r = 0; r < n; r++)
    out[r] = log_sum_exp (all + (gsize) r * v, v);
}

/* log-softmax of a row, in place */
static void
log_softmax (gfloat *row, gint64 v)
{
  gfloat lse = log_sum_exp (row, v);

  for (gint64 k = 0; k < v; k++)
    row[k] -= lse;
}

/* no-repeat n-gram: the tokens that would repeat an n-gram of seq get
 * -inf (transformers' NoRepeatNGramLogitsProcessor, over the decoder's
 * inputs, the start token included) */
static void
ban_repeats (const gint64 *seq, guint len, guint n, gfloat *row)
{
  if (n == 0 || len + 1 < n)
    return;
  for (guint i = 0; i + n <= len; i++)
    {
      gboolean same = TRUE;
      for (guint j = 0; j + 1 < n && same; j++)
        same = seq[i + j] == seq[len - n + 1 + j];
      if (same)
        row[seq[i + n - 1]] = -INFINITY;
    }
}

static int
compare_desc (gconstpointer a, gconstpointer b)
{
  gfloat x = *(const gfloat *) a, y = *(const gfloat *) b;
  return (x < y) - (x > y);
}

/* draws a token from row (logits, bans applied) as the sample strategy
 * says; u is uniform in [0, 1) */
static gint64
draw (CxrReportGenerate *self, gfloat *row, gint64 v, gfloat u)
{
  gfloat cut = -INFINITY;
  gdouble sum = 0, acc = 0;
  gint64 last = 0;

  for (gint64 k = 0; k < v; k++)
    row[k] /= (gfloat) self->temperature;
  if (self->top_k > 0 && self->top_k < v)
    {
      g_autofree gfloat *sorted = g_memdup2 (row, sizeof (gfloat) * v);
      qsort (sorted, v, sizeof (gfloat), compare_desc);
      cut = sorted[self->top_k - 1];
      for (gint64 k = 0; k < v; k++)
        if (row[k] < cut)
          row[k] = -INFINITY;
    }
  log_softmax (row, v);
  if (self->top_p < 1.0)
    {
      /* the smallest set of the most likely tokens whose mass reaches top-p */
      g_autofree gfloat *sorted = g_memdup2 (row, sizeof (gfloat) * v);
      gdouble mass = 0;
      qsort (sorted, v, sizeof (gfloat), compare_desc);
      cut = sorted[0];
      for (gint64 k = 0; k < v && mass < self->top_p; k++)
        {
          mass += exp (sorted[k]);
          cut = sorted[k];
        }
      for (gint64 k = 0; k < v; k++)
        if (row[k] < cut)
          row[k] = -INFINITY;
    }
  for (gint64 k = 0; k < v; k++)
    sum += row[k] == -INFINITY ? 0 : exp (row[k]);
  for (gint64 k = 0; k < v; k++)
    {
      if (row[k] == -INFINITY)
        continue;
      last = k;
      acc += exp (row[k]) / sum;
      if (u < acc)
        return k;
    }
  return last;
}

static gint64
argmax (const gfloat *row, gint64 v)
{
  gint64 best = 0;
  for (gint64 k = 1; k < v; k++)
    if (row[k] > row[best])
      best = k;
  return best;
}

/* greedy or sampled, all rows together */
static gboolean
generate_rows (CxrReportGenerate *self, CxrTensor *encoder, const guint64 *seeds, GPtrArray *tokens, gdouble *logprob,
               GError **error)
{
  Decoder dec;
  guint rows = (guint) cxr_tensor_get_dim (encoder, 0), left = rows;
  g_autofree gint64 *next = g_new (gint64, rows);
  g_autofree gboolean *done = g_new0 (gboolean, rows);
  g_autofree gfloat *lse = g_new (gfloat, rows);
  gboolean ok = TRUE;

  if (!decoder_init (&dec, self, encoder, self->length_limit, error))
    {
      decoder_clear (&dec);
      return FALSE;
    }
  for (guint r = 0; r < rows; r++)
    {
      next[r] = self->start;
      logprob[r] = 0;
      g_ptr_array_add (tokens, g_array_new (FALSE, FALSE, sizeof (gint64)));
    }
  for (guint t = 0; t < self->length_limit && left > 0; t++)
    {
      g_autoptr (CxrTensor) logits = NULL;
      gint64 v = 0;
      gfloat *all = decoder_next (&dec, next, &logits, &v, error);

      if (all == NULL)
        {
          ok = FALSE;
          break;
        }
      /* log-probabilities under the model, then the bans */
      rows_log_sum_exp (all, rows, v, lse);
      for (guint r = 0; r < rows; r++)
        ban_repeats (decoder_row (&dec, r), dec.length, self->no_repeat, all + (gsize) r * v);
      for (guint r = 0; r < rows; r++)
        {
          gfloat *row = all + (gsize) r * v;
          gint64 pick;
          if (done[r])
            {
              next[r] = self->pad;
              continue;
            }
          if (self->how == STRATEGY_GREEDY)
            pick = argmax (row, v);
          else
            {
              g_autofree gfloat *scratch = g_memdup2 (row, sizeof (gfloat) * v);
              gfloat u;
              cxr_philox_uniform (seeds[r], t, &u, 1);
              pick = draw (self, scratch, v, u);
            }
          logprob[r] += row[pick] - lse[r];
          next[r] = pick;
          if (pick == self->eos)
            {
              done[r] = TRUE;
              left--;
            }
          else
            g_array_append_val (g_ptr_array_index (tokens, r), pick);
        }
    }
  decoder_clear (&dec);
  return ok;
}

typedef struct {
  GArray *tokens;
  gdouble score, logprob;
} Hypothesis;

/* the best of a sample's hypotheses: its tokens and log-probability */
static GArray *
best_hypothesis (GArray *finished, gdouble *logprob)
{
  guint best = 0;

  if (finished->len == 0)
    {
      *logprob = -INFINITY;
      return g_array_new (FALSE, FALSE, sizeof (gint64));
    }
  for (guint i = 1; i < finished->len; i++)
    if (g_array_index (finished, Hypothesis, i).score > g_array_index (finished, Hypothesis, best).score)
      best = i;
  *logprob = g_array_index (finished, Hypothesis, best).logprob;
  return g_array_ref (g_array_index (finished, Hypothesis, best).tokens);
}

static void
add_hypothesis (GArray *finished, const gint64 *history, guint length, const gint64 *last, gdouble logprob,
                gdouble penalty)
{
  Hypothesis hyp;

  hyp.tokens = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_array_append_vals (hyp.tokens, history + 1, length - 1); /* the start token left out */
  if (last)
    g_array_append_val (hyp.tokens, *last);
  hyp.logprob = logprob;
  hyp.score = logprob / pow ((gdouble) length + (last ? 1 : 0), penalty);
  g_array_append_val (finished, hyp);
}

/* whether no live beam of a sample can beat its k-th best finished
 * hypothesis (transformers' BeamHypotheses.is_done without early stopping) */
static gboolean
beams_done (GArray *finished, guint k, gdouble best_live)
{
  g_autofree gdouble *scores = NULL;
  gdouble worst = INFINITY;

  if (finished->len < k)
    return FALSE;
  scores = g_new (gdouble, finished->len);
  for (guint i = 0; i < finished->len; i++)
    scores[i] = g_array_index (finished, Hypothesis, i).score;
  for (guint i = 0; i < k; i++)
    {
      guint best = i;
      for (guint j = i + 1; j < finished->len; j++)
        if (scores[j] > scores[best])
          best = j;
      worst = scores[best];
      scores[best] = scores[i];
      scores[i] = worst;
    }
  return worst >= best_live;
}

/* beam search (transformers' BeamSearchScorer without early stopping) for
 * every sample of the batch at once: k rows per sample */
static gboolean
generate_beams (CxrReportGenerate *self, CxrTensor *embedding, GPtrArray *tokens, gdouble *logprob, GError **error)
{
  guint n = (guint) cxr_tensor_get_dim (embedding, 0), d = (guint) cxr_tensor_get_dim (embedding, 1);
  guint k = self->num_beams, rows = n * k, left = n;
  g_autoptr (CxrTensor) dense = cxr_tensor_contiguous (embedding);
  g_autoptr (CxrTensor) encoder = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { rows, 1, d }, 3);
  g_autofree gint64 *next = g_new (gint64, rows), *cand_token = g_new (gint64, 2 * k);
  g_autofree gdouble *beam_score = g_new (gdouble, rows), *cand_score = g_new (gdouble, 2 * k);
  g_autofree guint *cand_row = g_new (guint, 2 * k), *keep = g_new (guint, rows);
  g_autofree gboolean *done = g_new0 (gboolean, n);
  g_autofree gfloat *lse = g_new (gfloat, rows);
  g_autoptr (GPtrArray) finished = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  Decoder dec;
  gboolean ok = TRUE;

  for (guint r = 0; r < rows; r++)
    {
      memcpy ((gfloat *) cxr_tensor_get_data (encoder) + (gsize) r * d,
              (const gfloat *) cxr_tensor_get_data (dense) + (gsize) (r / k) * d, sizeof (gfloat) * d);
      next[r] = self->start;
      beam_score[r] = r % k == 0 ? 0 : -1e9; /* one live beam at first */
    }
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (finished, g_array_new (FALSE, FALSE, sizeof (Hypothesis)));
  if (!decoder_init (&dec, self, encoder, self->length_limit, error))
    {
      decoder_clear (&dec);
      return FALSE;
    }
  for (guint t = 0; t < self->length_limit && left > 0; t++)
    {
      g_autoptr (CxrTensor) logits = NULL;
      gint64 v = 0;
      gfloat *all = decoder_next (&dec, next, &logits, &v, error);

      if (all == NULL)
        {
          ok = FALSE;
          break;
        }
      /* log-probabilities under the model, then the bans (as transformers) */
      rows_log_sum_exp (all, rows, v, lse);
      for (guint r = 0; r < rows; r++)
        if (!done[r / k])
          ban_repeats (decoder_row (&dec, r), dec.length, self->no_repeat, all + (gsize) r * v);
      for (guint i = 0; i < n; i++)
        {
          GArray *hyps = g_ptr_array_index (finished, i);
          guint n_cand = 0, n_keep = 0;

          for (guint b = 0; b < k; b++)
            keep[i * k + b] = i * k + b;
          if (done[i])
            {
              for (guint b = 0; b < k; b++)
                next[i * k + b] = self->pad;
              continue;
            }
          /* the 2k best continuations over the sample's beams */
          for (guint r = i * k; r < (i + 1) * k; r++)
            {
              const gfloat *row = all + (gsize) r * v;
              for (gint64 x = 0; x < v; x++)
                {
                  gdouble sc = beam_score[r] + (row[x] - lse[r]);
                  guint at;
                  if (row[x] == -INFINITY || (n_cand == 2 * k && sc <= cand_score[n_cand - 1]))
                    continue;
                  at = n_cand < 2 * k ? n_cand++ : n_cand - 1;
                  while (at > 0 && cand_score[at - 1] < sc)
                    {
                      cand_score[at] = cand_score[at - 1];
                      cand_row[at] = cand_row[at - 1];
                      cand_token[at] = cand_token[at - 1];
                      at--;
                    }
                  cand_score[at] = sc;
                  cand_row[at] = r;
                  cand_token[at] = x;
                }
            }
          for (guint c = 0; c < n_cand && n_keep < k; c++)
            {
              guint slot = i * k + n_keep;
              if (cand_token[c] == self->eos)
                {
                  /* an end outside the k best does not count */
                  if (c < k)
                    add_hypothesis (hyps, decoder_row (&dec, cand_row[c]), dec.length, NULL, cand_score[c],
                                    self->length_penalty);
                  continue;
                }
              keep[slot] = cand_row[c];
              next[slot] = cand_token[c];
              beam_score[slot] = cand_score[c];
              n_keep++;
            }
          if (n_keep < k || (n_cand > 0 && beams_done (hyps, k, cand_score[0] / pow ((gdouble) dec.length,
                                                                                      self->length_penalty))))
            {
              /* finished, or nothing left to continue (every candidate banned) */
              done[i] = TRUE;
              left--;
              for (guint b = 0; b < k; b++)
                keep[i * k + b] = i * k + b;
            }
        }
      decoder_reorder (&dec, keep);
    }
  for (guint i = 0; ok && i < n; i++)
    {
      GArray *hyps = g_ptr_array_index (finished, i);
      /* out of length: the live beams compete too */
      for (guint r = i * k; !done[i] && r < (i + 1) * k; r++)
        add_hypothesis (hyps, decoder_row (&dec, r), dec.length, &next[r], beam_score[r], self->length_penalty);
      g_ptr_array_add (tokens, best_hypothesis (hyps, &logprob[i]));
    }
  for (guint i = 0; i < n; i++)
    {
      GArray *hyps = g_ptr_array_index (finished, i);
      for (guint j = 0; j < hyps->len; j++)
        g_array_unref (g_array_index (hyps, Hypothesis, j).tokens);
    }
  decoder_clear (&dec);
  return ok;
}

static gboolean
cxr_report_generate_transform (CxrStage *stage, CxrBatch *batch, GError **error)
{
  CxrReportGenerate *self = CXR_REPORT_GENERATE (stage);
  guint n = cxr_batch_get_size (batch);
  const gchar *const *given = cxr_batch_get_strings (batch, "seed");
  g_autoptr (CxrTensor) embedding = NULL, encoder = NULL;
  g_autoptr (GPtrArray) tokens = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  g_autofree guint64 *seeds = g_new (guint64, MAX (n, 1));
  g_autofree gdouble *logprob = g_new (gdouble, MAX (n, 1));
  g_autofree gfloat *logprob_f = g_new (gfloat, MAX (n, 1));
  g_autofree gchar *logprob_field = g_strconcat (self->output_field, "-logprob", NULL);
  gchar **reports;
  gint64 start;
  guint d;

  if (n == 0)
    return TRUE;
  for (guint i = 0; i < n; i++)
    {
      if (given && !g_ascii_string_to_unsigned (given[i], 10, 0, G_MAXUINT64, &seeds[i], NULL))
        {
          g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "batch %" G_GUINT64_FORMAT ": seed \"%s\" of "
                       "sample %u is not a decimal number", cxr_batch_get_sequence (batch), given[i], i);
          return FALSE;
        }
      if (!given)
        seeds[i] = self->seed + self->count + i;
    }
  if ((embedding = embeddings_of (self, batch, error)) == NULL)
    return FALSE;
  if (cxr_tensor_get_ndim (embedding) != 2 || cxr_tensor_get_dim (embedding, 0) != n)
    return fail (error, "batch %" G_GUINT64_FORMAT ": the report embeddings are not [%u, d]",
                 cxr_batch_get_sequence (batch), n);
  d = (guint) cxr_tensor_get_dim (embedding, 1);
  if ((encoder = cxr_tensor_reshape (embedding, (const gint64[]) { n, 1, d }, 3, error)) == NULL)
    return FALSE;
  start = g_get_monotonic_time ();
  if (self->how == STRATEGY_BEAM ? !generate_beams (self, embedding, tokens, logprob, error)
                                 : !generate_rows (self, encoder, seeds, tokens, logprob, error))
    return FALSE;
  self->decode_us += g_get_monotonic_time () - start;
  reports = g_new0 (gchar *, n + 1);
  for (guint i = 0; i < n; i++)
    {
      GArray *ids = g_ptr_array_index (tokens, i);
      /* a beam that ran out of length ends without </s> */
      guint len = ids->len;
      self->tokens_written += ids->len;
      if (len > 0 && g_array_index (ids, gint64, len - 1) == self->eos)
        len--;
      reports[i] = cxr_tokenizer_decode (self->tokenizer, (const gint64 *) ids->data, len, TRUE);
      logprob_f[i] = (gfloat) logprob[i];
    }
  cxr_batch_take_strings (batch, self->output_field, reports);
  cxr_batch_set_floats (batch, logprob_field, 1, logprob_f, n);
  self->count += n;
  return TRUE;
}

static gchar **
cxr_report_generate_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  CxrReportGenerate *self = CXR_REPORT_GENERATE (stage);
  const gchar *in;

  if (direction == CXR_PORT_OUTPUT)
    {
      g_autofree gchar *out = g_strdup_printf ("%s,%s-logprob", self->output_field, self->output_field);
      return g_strsplit (out, ",", -1);
    }
  in = g_strcmp0 (self->from, "embedding") == 0 ? self->embedding_field
       : g_strcmp0 (self->from, "report") == 0  ? self->text_field
                                                : self->image_field;
  return g_strsplit (in, ",", -1);
}

static gchar **
string_slot (CxrReportGenerate *self, guint id)
{
  switch (id)
    {
    case P_TOKENIZER: return &self->tokenizer_dir;
    case P_FROM: return &self->from;
    case P_STRATEGY: return &self->strategy;
    case P_IMAGE_FIELD: return &self->image_field;
    case P_EMBEDDING_FIELD: return &self->embedding_field;
    case P_TEXT_FIELD: return &self->text_field;
    case P_OUTPUT_FIELD: return &self->output_field;
    default: return NULL;
    }
}

static void
cxr_report_generate_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrReportGenerate *self = CXR_REPORT_GENERATE (object);
  gchar **s = string_slot (self, id);

  if (s)
    {
      g_free (*s);
      *s = g_value_dup_string (value);
      return;
    }
  switch (id)
    {
    case P_MODEL: g_set_object (&self->model, g_value_get_object (value)); break;
    case P_PRIOR: g_set_object (&self->prior, g_value_get_object (value)); break;
    case P_VAE: g_set_object (&self->vae, g_value_get_object (value)); break;
    case P_TEMPERATURE: self->temperature = g_value_get_double (value); break;
    case P_TOP_K: self->top_k = g_value_get_uint (value); break;
    case P_TOP_P: self->top_p = g_value_get_double (value); break;
    case P_NUM_BEAMS: self->num_beams = g_value_get_uint (value); break;
    case P_LENGTH_PENALTY: self->length_penalty = g_value_get_double (value); break;
    case P_NO_REPEAT: self->no_repeat = g_value_get_uint (value); break;
    case P_MAX_LENGTH: self->max_length = g_value_get_uint (value); break;
    case P_SEED: self->seed = g_value_get_uint64 (value); break;
    case P_USE_CACHE: self->use_cache = g_value_get_boolean (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_report_generate_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrReportGenerate *self = CXR_REPORT_GENERATE (object);
  gchar **s = string_slot (self, id);

  if (s)
    {
      g_value_set_string (value, *s);
      return;
    }
  switch (id)
    {
    case P_MODEL: g_value_set_object (value, self->model); break;
    case P_PRIOR: g_value_set_object (value, self->prior); break;
    case P_VAE: g_value_set_object (value, self->vae); break;
    case P_TEMPERATURE: g_value_set_double (value, self->temperature); break;
    case P_TOP_K: g_value_set_uint (value, self->top_k); break;
    case P_TOP_P: g_value_set_double (value, self->top_p); break;
    case P_NUM_BEAMS: g_value_set_uint (value, self->num_beams); break;
    case P_LENGTH_PENALTY: g_value_set_double (value, self->length_penalty); break;
    case P_NO_REPEAT: g_value_set_uint (value, self->no_repeat); break;
    case P_MAX_LENGTH: g_value_set_uint (value, self->max_length); break;
    case P_SEED: g_value_set_uint64 (value, self->seed); break;
    case P_USE_CACHE: g_value_set_boolean (value, self->use_cache); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_report_generate_dispose (GObject *object)
{
  CxrReportGenerate *self = CXR_REPORT_GENERATE (object);
  g_clear_object (&self->model);
  g_clear_object (&self->prior);
  g_clear_object (&self->vae);
  g_clear_object (&self->tokenizer);
  G_OBJECT_CLASS (cxr_report_generate_parent_class)->dispose (object);
}

static void
cxr_report_generate_finalize (GObject *object)
{
  CxrReportGenerate *self = CXR_REPORT_GENERATE (object);
  for (guint id = 0; id < N_P; id++)
    if (string_slot (self, id))
      g_free (*string_slot (self, id));
  G_OBJECT_CLASS (cxr_report_generate_parent_class)->finalize (object);
}

static void
cxr_report_generate_class_init (CxrReportGenerateClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;
  const GParamFlags models = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_report_generate_set_property;
  object_class->get_property = cxr_report_generate_get_property;
  object_class->dispose = cxr_report_generate_dispose;
  object_class->finalize = cxr_report_generate_finalize;
  stage_class->prepare = cxr_report_generate_prepare;
  stage_class->finish = cxr_report_generate_finish;
  stage_class->transform = cxr_report_generate_transform;
  stage_class->get_port_fields = cxr_report_generate_get_port_fields;
  props[P_MODEL] = g_param_spec_object ("model", "Model", "The report decoder (bart-autoencoder)", CXR_TYPE_BART,
                                        models);
  props[P_PRIOR] = g_param_spec_object ("prior", "Prior", "The image latent to report embedding model (vit-prior; "
                                        "from=image)", CXR_TYPE_PRIOR, models);
  props[P_VAE] = g_param_spec_object ("vae", "VAE", "The image autoencoder (sd-vae; from=image)",
                                      CXR_TYPE_AUTOENCODER, models);
  props[P_TOKENIZER] = g_param_spec_string ("tokenizer", "Tokenizer", "The folder of BART's vocab.json and "
                                            "merges.txt (default: the model's folder)", NULL, flags);
  props[P_FROM] = g_param_spec_string ("from", "From", "Where the report embedding comes from: image (VAE and "
                                       "prior), embedding (a float field) or report (the model's encoder)", "image",
                                       flags);
  props[P_STRATEGY] = g_param_spec_string ("strategy", "Strategy", "sample (the paper), greedy or beam", "sample",
                                           flags);
  props[P_IMAGE_FIELD] = g_param_spec_string ("image-field", "Image field", "The float field of the images (gray in "
                                              "[0, 1])", "image", flags);
  props[P_EMBEDDING_FIELD] = g_param_spec_string ("embedding-field", "Embedding field", "The float field of the "
                                                  "report embeddings (from=embedding)", "report-embedding", flags);
  props[P_TEXT_FIELD] = g_param_spec_string ("text-field", "Text field", "The string field of the reports to "
                                             "rebuild (from=report)", "report", flags);
  props[P_OUTPUT_FIELD] = g_param_spec_string ("output-field", "Output field", "The string field the reports go to "
                                               "(and FIELD-logprob, their log-probability)", "report", flags);
  props[P_TEMPERATURE] = g_param_spec_double ("temperature", "Temperature", "Sampling: the logits are divided by it",
                                              1e-6, 1e6, 1.0, flags);
  props[P_TOP_K] = g_param_spec_uint ("top-k", "Top k", "Sampling: only the k most likely tokens (0: all)", 0,
                                      G_MAXUINT, 0, flags);
  props[P_TOP_P] = g_param_spec_double ("top-p", "Top p", "Sampling: only the most likely tokens whose probability "
                                        "reaches p (1: all)", 1e-6, 1.0, 1.0, flags);
  props[P_NUM_BEAMS] = g_param_spec_uint ("num-beams", "Beams", "Beam search: the beams", 1, 1024, 4, flags);
  props[P_LENGTH_PENALTY] = g_param_spec_double ("length-penalty", "Length penalty", "Beam search: a hypothesis "
                                                 "scores its log-probability over its length to this power", -10, 10,
                                                 1.0, flags);
  props[P_NO_REPEAT] = g_param_spec_uint ("no-repeat-ngram-size", "No repeat n-gram size", "Forbid every n-gram "
                                          "of this size twice (0: allow)", 0, 1024, 0, flags);
  props[P_MAX_LENGTH] = g_param_spec_uint ("max-length", "Max length", "The most tokens a report gets", 1, 1 << 20,
                                           512, flags);
  props[P_SEED] = g_param_spec_uint64 ("seed", "Seed", "The first sample's seed when the batch has no seed field; "
                                       "the next ones follow", 0, G_MAXUINT64, 0, flags);
  props[P_USE_CACHE] = g_param_spec_boolean ("use-cache", "Use cache", "Keep the decoder's keys and values (off: "
                                             "recompute the prefix at every token)", TRUE, flags);
  g_object_class_install_properties (object_class, N_P, props);
  cxr_stage_class_set_metadata (stage_class, "Report generation", "Filter/Generator",
                                "Writes a report for each image (VAE latent, prior, BART decoder)",
                                "The cxrgen developers");
  cxr_stage_class_add_input (stage_class, "in", "image", "Samples with images (or embeddings, or reports)");
  cxr_stage_class_add_output (stage_class, "out", "report,report-logprob", TRUE,
                              "The same batches, with the generated reports");
}

static void
cxr_report_generate_init (CxrReportGenerate *self)
{
}
