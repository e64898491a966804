/* cxr-tokenizer.c: byte-pair-encoding tokenizers (CLIP's).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "cxr-private.h"

/**
 * SECTION:cxr-tokenizer
 * @title: CxrTokenizer
 * @short_description: text to token ids, as the models were trained
 *
 * A byte-pair-encoding tokenizer that reads the files Hugging Face ships
 * (vocab.json, merges.txt) and gives the ids the reference tokenizer
 * gives. The CLIP scheme (the tokenizer folder of CompVis/stable-
 * diffusion-v1-4, or of openai/clip-vit-large-patch14): the text is
 * NFC-normalised, runs of white space become one space, the ends are
 * trimmed and everything is lower-cased (CLIPTokenizerFast's normaliser);
 * "<|startoftext|>" and "<|endoftext|>" are special wherever they stand;
 * the rest splits into contractions ('s 't 're 've 'm 'll 'd), runs of
 * letters, single digits and runs of other non-space characters; each
 * piece's UTF-8 bytes are mapped to printable characters (GPT-2's byte
 * map), "</w>" marks the end of each piece, and merges apply lowest rank
 * first. Encoding adds <|startoftext|> and <|endoftext|> and truncates to
 * the maximum length (77); a batch is padded with the pad token
 * (<|endoftext|>, as SD's tokenizer does) to its longest prompt or to a
 * given length.
 *
 * The byte-level scheme of GPT-2, which BART uses (facebook/bart-base's
 * vocab.json and merges.txt): no normalisation at all; <s>, </s>, <pad>,
 * <unk> and <mask> are special wherever they stand; the rest splits as
 * GPT-2's pattern does ('s 't 're 've 'm 'll 'd, an optional space then a
 * run of letters, of digits or of other characters, runs of white space
 * with the last space left to the next word); each piece's bytes are
 * mapped as above and merged, without word-end marks, so decoding gives
 * the text back byte for byte. Encoding adds <s> and </s>, truncates to
 * the maximum length (1024) and pads with <pad>.
 */

typedef enum { SCHEME_CLIP, SCHEME_BYTE_LEVEL } Scheme;

struct _CxrTokenizer {
  GObject parent_instance;
  Scheme scheme;
  const gchar *const *specials;
  GHashTable *vocab;  /* token -> id + 1 */
  GPtrArray *tokens;  /* id -> token (or NULL where the vocabulary has a gap) */
  GHashTable *ranks;  /* "left right" -> rank + 1 */
  gchar *byte_chars[256];
  GHashTable *char_bytes; /* unichar -> byte + 1 */
  GHashTable *cache;  /* piece -> GStrv of its BPE tokens */
  GMutex cache_lock;
  gint64 bos, eos, pad, unk;
  guint max_length;
};

G_DEFINE_FINAL_TYPE (CxrTokenizer, cxr_tokenizer, G_TYPE_OBJECT)

static const gchar *const clip_specials[] = { "<|startoftext|>", "<|endoftext|>", NULL };
static const gchar *const bart_specials[] = { "<s>", "</s>", "<pad>", "<unk>", "<mask>", NULL };

static void
cxr_tokenizer_finalize (GObject *object)
{
  CxrTokenizer *self = CXR_TOKENIZER (object);

  g_hash_table_unref (self->vocab);
  g_ptr_array_unref (self->tokens);
  g_hash_table_unref (self->ranks);
  g_hash_table_unref (self->char_bytes);
  g_hash_table_unref (self->cache);
  for (guint i = 0; i < 256; i++)
    g_free (self->byte_chars[i]);
  g_mutex_clear (&self->cache_lock);
  G_OBJECT_CLASS (cxr_tokenizer_parent_class)->finalize (object);
}

static void
cxr_tokenizer_class_init (CxrTokenizerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cxr_tokenizer_finalize;
}

/* GPT-2's map of bytes to printable characters: the printable Latin-1
 * bytes stand for themselves, the others take code points from 256 on. */
static void
build_byte_map (CxrTokenizer *self)
{
  guint n = 0;

  for (guint b = 0; b < 256; b++)
    {
      gboolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      gunichar c = printable ? b : 256 + n++;
      gchar utf8[8] = { 0 };

      g_unichar_to_utf8 (c, utf8);
      self->byte_chars[b] = g_strdup (utf8);
      g_hash_table_insert (self->char_bytes, GUINT_TO_POINTER (c), GUINT_TO_POINTER (b + 1));
    }
}

static void
cxr_tokenizer_init (CxrTokenizer *self)
{
  self->vocab = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->tokens = g_ptr_array_new ();
  self->ranks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->char_bytes = g_hash_table_new (NULL, NULL);
  self->cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_strfreev);
  g_mutex_init (&self->cache_lock);
  self->max_length = 77;
  build_byte_map (self);
}

static gboolean
read_vocab (CxrTokenizer *self, const gchar *path, GError **error)
{
  g_autofree gchar *text = NULL;
  g_autoptr (GVariant) dict = NULL;
  GVariantIter iter;
  const gchar *token;
  GVariant *value;
  gsize length, n_entries;

  if (!g_file_get_contents (path, &text, &length, error) ||
      (dict = cxr_json_parse (text, length, path, error)) == NULL)
    return FALSE;
  if (!g_variant_is_of_type (dict, G_VARIANT_TYPE_VARDICT))
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: not a JSON object of token ids", path);
      return FALSE;
    }
  /* Hugging Face vocabularies number their tokens 0..n-1: an id beyond
   * that is a damaged file, refused before any table grows to it */
  n_entries = g_variant_n_children (dict);
  g_variant_iter_init (&iter, dict);
  while (g_variant_iter_loop (&iter, "{&sv}", &token, &value))
    {
      gint64 id = -1;
      gchar *key;
      if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
        id = g_variant_get_int64 (value);
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64) && g_variant_get_uint64 (value) < G_MAXINT32)
        id = (gint64) g_variant_get_uint64 (value);
      if (id < 0 || (guint64) id >= n_entries)
        {
          g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE,
                       "%s: token \"%s\": the id is not an integer in [0, %" G_GSIZE_FORMAT "), the vocabulary's size",
                       path, token, n_entries);
          g_variant_unref (value);
          return FALSE;
        }
      if ((guint) id >= self->tokens->len)
        g_ptr_array_set_size (self->tokens, (guint) id + 1);
      if (g_ptr_array_index (self->tokens, id) != NULL)
        {
          g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: id %" G_GINT64_FORMAT " is given twice", path, id);
          g_variant_unref (value);
          return FALSE;
        }
      if (g_hash_table_contains (self->vocab, token))
        {
          g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: token \"%s\" is given twice", path, token);
          g_variant_unref (value);
          return FALSE;
        }
      key = g_strdup (token);
      g_hash_table_insert (self->vocab, key, GSIZE_TO_POINTER ((gsize) id + 1));
      g_ptr_array_index (self->tokens, id) = key; /* owned by the table */
    }
  return TRUE;
}

static gboolean
read_merges (CxrTokenizer *self, const gchar *path, GError **error)
{
  g_autofree gchar *text = NULL;
  g_auto (GStrv) lines = NULL;
  guint rank = 0;

  if (!g_file_get_contents (path, &text, NULL, error))
    return FALSE;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      gchar *line = g_strchomp (lines[i]);
      gchar *space;

      if (*line == '\0' || (i == 0 && g_str_has_prefix (line, "#version")))
        continue;
      space = strchr (line, ' ');
      if (space == NULL || space == line || space[1] == '\0' || strchr (space + 1, ' ') != NULL)
        {
          g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s:%u: a merge is two tokens and one space", path, i + 1);
          return FALSE;
        }
      if (!g_hash_table_contains (self->ranks, line))
        g_hash_table_insert (self->ranks, g_strdup (line), GUINT_TO_POINTER (++rank));
    }
  return TRUE;
}

static gint64
lookup_id (CxrTokenizer *self, const gchar *token)
{
  gpointer v = g_hash_table_lookup (self->vocab, token);
  return v ? (gint64) GPOINTER_TO_SIZE (v) - 1 : -1;
}

/* the first N specials must be in the vocabulary */
static gboolean
find_specials (CxrTokenizer *self, const gchar *vocab_path, guint n, GError **error)
{
  for (guint i = 0; i < n; i++)
    if (lookup_id (self, self->specials[i]) < 0)
      {
        g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "%s: no token \"%s\"", vocab_path, self->specials[i]);
        return FALSE;
      }
  return TRUE;
}

/**
 * cxr_tokenizer_new_clip:
 * @vocab_path: vocab.json (token to id)
 * @merges_path: merges.txt (one merge per line, most frequent first)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): CLIP's tokenizer, as SD v1.4 ships
 *   it, or %NULL if a file is missing or malformed or the vocabulary
 *   lacks the special tokens
 */
CxrTokenizer *
cxr_tokenizer_new_clip (const gchar *vocab_path, const gchar *merges_path, GError **error)
{
  g_autoptr (CxrTokenizer) self = g_object_new (CXR_TYPE_TOKENIZER, NULL);

  self->scheme = SCHEME_CLIP;
  self->specials = clip_specials;
  if (!read_vocab (self, vocab_path, error) || !read_merges (self, merges_path, error) ||
      !find_specials (self, vocab_path, 2, error))
    return NULL;
  self->bos = lookup_id (self, clip_specials[0]);
  self->eos = lookup_id (self, clip_specials[1]);
  self->pad = self->unk = self->eos;
  return g_steal_pointer (&self);
}

/**
 * cxr_tokenizer_new_clip_from_folder:
 * @folder: a tokenizer folder (vocab.json and merges.txt)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): CLIP's tokenizer
 */
CxrTokenizer *
cxr_tokenizer_new_clip_from_folder (const gchar *folder, GError **error)
{
  g_autofree gchar *vocab = g_build_filename (folder, "vocab.json", NULL);
  g_autofree gchar *merges = g_build_filename (folder, "merges.txt", NULL);
  return cxr_tokenizer_new_clip (vocab, merges, error);
}

/**
 * cxr_tokenizer_new_bart:
 * @vocab_path: vocab.json (token to id)
 * @merges_path: merges.txt
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): BART's byte-level BPE tokenizer
 *   (GPT-2's scheme), or %NULL if a file is missing or malformed or the
 *   vocabulary lacks <s>, </s>, <pad> or <unk>
 */
CxrTokenizer *
cxr_tokenizer_new_bart (const gchar *vocab_path, const gchar *merges_path, GError **error)
{
  g_autoptr (CxrTokenizer) self = g_object_new (CXR_TYPE_TOKENIZER, NULL);

  self->scheme = SCHEME_BYTE_LEVEL;
  self->specials = bart_specials;
  self->max_length = 1024;
  if (!read_vocab (self, vocab_path, error) || !read_merges (self, merges_path, error) ||
      !find_specials (self, vocab_path, 4, error))
    return NULL;
  self->bos = lookup_id (self, "<s>");
  self->eos = lookup_id (self, "</s>");
  self->pad = lookup_id (self, "<pad>");
  self->unk = lookup_id (self, "<unk>");
  return g_steal_pointer (&self);
}

/**
 * cxr_tokenizer_new_bart_from_folder:
 * @folder: a folder with vocab.json and merges.txt (facebook/bart-base)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): BART's tokenizer
 */
CxrTokenizer *
cxr_tokenizer_new_bart_from_folder (const gchar *folder, GError **error)
{
  g_autofree gchar *vocab = g_build_filename (folder, "vocab.json", NULL);
  g_autofree gchar *merges = g_build_filename (folder, "merges.txt", NULL);
  return cxr_tokenizer_new_bart (vocab, merges, error);
}

/* ------------------------------------------------------------ splitting */

static gboolean
is_letter (gunichar c)
{
  switch (g_unichar_type (c))
    {
    case G_UNICODE_LOWERCASE_LETTER:
    case G_UNICODE_MODIFIER_LETTER:
    case G_UNICODE_OTHER_LETTER:
    case G_UNICODE_TITLECASE_LETTER:
    case G_UNICODE_UPPERCASE_LETTER:
      return TRUE;
    default:
      return FALSE;
    }
}

static gboolean
is_number (gunichar c)
{
  GUnicodeType t = g_unichar_type (c);
  return t == G_UNICODE_DECIMAL_NUMBER || t == G_UNICODE_LETTER_NUMBER || t == G_UNICODE_OTHER_NUMBER;
}

/* NFC, white space collapsed and trimmed, lower case. */
static gchar *
clean_text (const gchar *text)
{
  g_autofree gchar *valid = g_utf8_make_valid (text, -1);
  g_autofree gchar *nfc = g_utf8_normalize (valid, -1, G_NORMALIZE_NFC);
  g_autofree gchar *lower = NULL;
  GString *out = g_string_new (NULL);
  gboolean space = FALSE;

  for (const gchar *p = nfc; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (g_unichar_isspace (c))
        {
          space = out->len > 0;
          continue;
        }
      if (space)
        g_string_append_c (out, ' ');
      space = FALSE;
      g_string_append_unichar (out, c);
    }
  lower = g_string_free (out, FALSE);
  return g_utf8_strdown (lower, -1);
}

/* The pieces of a span without special tokens, as CLIP's pattern finds
 * them: 's|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+ */
static void
split_span (const gchar *p, const gchar *end, GPtrArray *pieces)
{
  static const gchar *const contractions[] = { "'s", "'t", "'re", "'ve", "'m", "'ll", "'d" };

  while (p < end)
    {
      gunichar c = g_utf8_get_char (p);
      const gchar *q = g_utf8_next_char (p);
      gboolean matched = FALSE;

      if (g_unichar_isspace (c))
        {
          p = q;
          continue;
        }
      for (guint i = 0; i < G_N_ELEMENTS (contractions) && !matched; i++)
        {
          gsize n = strlen (contractions[i]);
          if ((gsize) (end - p) >= n && strncmp (p, contractions[i], n) == 0)
            {
              g_ptr_array_add (pieces, g_strndup (p, n));
              p += n;
              matched = TRUE;
            }
        }
      if (matched)
        continue;
      if (is_letter (c))
        while (q < end && is_letter (g_utf8_get_char (q)))
          q = g_utf8_next_char (q);
      else if (!is_number (c))
        while (q < end)
          {
            gunichar d = g_utf8_get_char (q);
            if (g_unichar_isspace (d) || is_letter (d) || is_number (d))
              break;
            q = g_utf8_next_char (q);
          }
      g_ptr_array_add (pieces, g_strndup (p, (gsize) (q - p)));
      p = q;
    }
}

static gboolean
is_other (gunichar c)
{
  return !g_unichar_isspace (c) && !is_letter (c) && !is_number (c);
}

/* The pieces of a span as GPT-2's pattern finds them:
 * 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static void
split_span_byte_level (const gchar *p, const gchar *end, GPtrArray *pieces)
{
  static const gchar *const contractions[] = { "'s", "'t", "'re", "'ve", "'m", "'ll", "'d" };

  while (p < end)
    {
      const gchar *q = p, *start = p;
      gboolean matched = FALSE;
      gunichar c;

      for (guint i = 0; i < G_N_ELEMENTS (contractions) && !matched; i++)
        {
          gsize n = strlen (contractions[i]);
          if ((gsize) (end - p) >= n && strncmp (p, contractions[i], n) == 0)
            {
              g_ptr_array_add (pieces, g_strndup (p, n));
              p += n;
              matched = TRUE;
            }
        }
      if (matched)
        continue;
      /* an optional space, then a run of one class */
      if (*q == ' ' && q + 1 < end)
        q++;
      c = g_utf8_get_char (q);
      if (!g_unichar_isspace (c) || q == start)
        {
          gboolean (*same) (gunichar) = is_letter (c) ? is_letter : is_number (c) ? is_number : is_other;
          if (!g_unichar_isspace (c))
            {
              while (q < end && same (g_utf8_get_char (q)))
                q = g_utf8_next_char (q);
              g_ptr_array_add (pieces, g_strndup (start, (gsize) (q - start)));
              p = q;
              continue;
            }
        }
      /* white space: the run, less its last character when a non-space
       * follows (that one goes with the next piece), or all of it */
      {
        const gchar *e = start, *last = start;
        while (e < end && g_unichar_isspace (g_utf8_get_char (e)))
          {
            last = e;
            e = g_utf8_next_char (e);
          }
        if (e < end && last > start)
          e = last;
        g_ptr_array_add (pieces, g_strndup (start, (gsize) (e - start)));
        p = e;
      }
    }
}

/* The byte-level BPE of one piece: its symbols, merged lowest rank first. */
static gchar **
bpe (CxrTokenizer *self, const gchar *piece)
{
  g_autoptr (GPtrArray) word = g_ptr_array_new_with_free_func (g_free);
  gchar **result;

  g_mutex_lock (&self->cache_lock);
  result = g_hash_table_lookup (self->cache, piece);
  g_mutex_unlock (&self->cache_lock);
  if (result)
    return g_strdupv (result);

  for (const guchar *b = (const guchar *) piece; *b; b++)
    g_ptr_array_add (word, g_strdup (self->byte_chars[*b]));
  if (word->len > 0 && self->scheme == SCHEME_CLIP)
    {
      gchar *last = g_ptr_array_index (word, word->len - 1);
      g_ptr_array_index (word, word->len - 1) = g_strconcat (last, "</w>", NULL);
      g_free (last);
    }
  while (word->len > 1)
    {
      guint best_rank = G_MAXUINT, best = 0;
      g_autoptr (GPtrArray) merged = NULL;
      const gchar *left, *right;

      for (guint i = 0; i + 1 < word->len; i++)
        {
          g_autofree gchar *pair = g_strconcat (g_ptr_array_index (word, i), " ", g_ptr_array_index (word, i + 1), NULL);
          guint rank = GPOINTER_TO_UINT (g_hash_table_lookup (self->ranks, pair));
          if (rank != 0 && rank < best_rank)
            best_rank = rank, best = i;
        }
      if (best_rank == G_MAXUINT)
        break;
      left = g_ptr_array_index (word, best);
      right = g_ptr_array_index (word, best + 1);
      merged = g_ptr_array_new_with_free_func (g_free);
      for (guint i = 0; i < word->len;)
        {
          const gchar *a = g_ptr_array_index (word, i);
          if (i + 1 < word->len && g_str_equal (a, left) && g_str_equal (g_ptr_array_index (word, i + 1), right))
            {
              g_ptr_array_add (merged, g_strconcat (left, right, NULL));
              i += 2;
            }
          else
            g_ptr_array_add (merged, g_strdup (a)), i++;
        }
      g_ptr_array_unref (word);
      word = g_steal_pointer (&merged);
    }
  g_ptr_array_add (word, NULL);
  result = g_strdupv ((gchar **) word->pdata);
  g_mutex_lock (&self->cache_lock);
  if (g_hash_table_size (self->cache) < 100000)
    g_hash_table_replace (self->cache, g_strdup (piece), g_strdupv (result));
  g_mutex_unlock (&self->cache_lock);
  return result;
}

/**
 * cxr_tokenizer_tokenize:
 * @self: a tokenizer
 * @text: UTF-8 text (invalid sequences are replaced)
 *
 * Returns: (transfer full): the tokens of @text, without the start and
 *   end tokens
 */
gchar **
cxr_tokenizer_tokenize (CxrTokenizer *self, const gchar *text)
{
  g_autofree gchar *clean = NULL;
  GStrvBuilder *out = g_strv_builder_new ();
  gchar **result;
  const gchar *p;

  g_return_val_if_fail (CXR_IS_TOKENIZER (self), NULL);
  clean = self->scheme == SCHEME_CLIP ? clean_text (text) : g_utf8_make_valid (text, -1);
  p = clean;
  while (*p)
    {
      const gchar *next = NULL;
      guint which = 0;
      g_autoptr (GPtrArray) pieces = g_ptr_array_new_with_free_func (g_free);

      for (guint i = 0; self->specials[i]; i++)
        {
          const gchar *at = strstr (p, self->specials[i]);
          if (at && (next == NULL || at < next))
            next = at, which = i;
        }
      if (self->scheme == SCHEME_CLIP)
        split_span (p, next ? next : p + strlen (p), pieces);
      else
        split_span_byte_level (p, next ? next : p + strlen (p), pieces);
      for (guint i = 0; i < pieces->len; i++)
        {
          g_auto (GStrv) parts = bpe (self, g_ptr_array_index (pieces, i));
          g_strv_builder_addv (out, (const gchar **) parts);
        }
      if (next == NULL)
        break;
      g_strv_builder_add (out, self->specials[which]);
      p = next + strlen (self->specials[which]);
    }
  result = g_strv_builder_end (out);
  g_strv_builder_unref (out);
  return result;
}

/**
 * cxr_tokenizer_encode:
 * @self: a tokenizer
 * @text: UTF-8 text
 * @n_ids: (out): the number of ids
 *
 * Returns: (transfer full) (array length=n_ids): the start token, the
 *   ids of @text (a token missing from the vocabulary becomes the unknown
 *   token) truncated so that all fits in the maximum length, and the end
 *   token
 */
gint64 *
cxr_tokenizer_encode (CxrTokenizer *self, const gchar *text, gsize *n_ids)
{
  g_auto (GStrv) tokens = NULL;
  gint64 *ids;
  gsize n = 0, room;

  g_return_val_if_fail (CXR_IS_TOKENIZER (self), NULL);
  tokens = cxr_tokenizer_tokenize (self, text);
  room = self->max_length >= 2 ? self->max_length - 2 : 0;
  ids = g_new (gint64, MIN (g_strv_length (tokens), room) + 2);
  ids[n++] = self->bos;
  for (guint i = 0; tokens[i] && n - 1 < room; i++)
    {
      gint64 id = lookup_id (self, tokens[i]);
      ids[n++] = id >= 0 ? id : self->unk;
    }
  ids[n++] = self->eos;
  *n_ids = n;
  return ids;
}

/**
 * cxr_tokenizer_encode_batch:
 * @self: a tokenizer
 * @texts: (array zero-terminated=1): the texts of a batch
 * @pad_to: the length to pad to, or 0 for the longest of the batch
 * @attention_mask: (out) (optional) (transfer full): 1 for tokens, 0 for
 *   padding, [B, L] I64
 *
 * Returns: (transfer full): the ids [B, L] (I64), padded with the pad
 *   token
 */
CxrTensor *
cxr_tokenizer_encode_batch (CxrTokenizer *self, const gchar *const *texts, guint pad_to,
                            CxrTensor **attention_mask)
{
  guint b = g_strv_length ((gchar **) texts);
  g_autofree gint64 **ids = g_new0 (gint64 *, MAX (b, 1));
  g_autofree gsize *lengths = g_new0 (gsize, MAX (b, 1));
  gsize longest = pad_to;
  CxrTensor *out, *mask;
  gint64 *po, *pm;

  g_return_val_if_fail (CXR_IS_TOKENIZER (self), NULL);
  for (guint i = 0; i < b; i++)
    {
      ids[i] = cxr_tokenizer_encode (self, texts[i], &lengths[i]);
      longest = MAX (longest, lengths[i]);
    }
  out = cxr_tensor_new (CXR_DTYPE_I64, (const gint64[]) { b, (gint64) longest }, 2);
  mask = cxr_tensor_new (CXR_DTYPE_I64, (const gint64[]) { b, (gint64) longest }, 2);
  po = cxr_tensor_get_data (out);
  pm = cxr_tensor_get_data (mask);
  for (guint i = 0; i < b; i++)
    {
      for (gsize j = 0; j < longest; j++)
        {
          po[i * longest + j] = j < lengths[i] ? ids[i][j] : self->pad;
          pm[i * longest + j] = j < lengths[i];
        }
      g_free (ids[i]);
    }
  if (attention_mask)
    *attention_mask = mask;
  else
    cxr_tensor_unref (mask);
  return out;
}

/**
 * cxr_tokenizer_decode:
 * @self: a tokenizer
 * @ids: (array length=n_ids): token ids
 * @n_ids: their number
 * @skip_special: leave out the start, end and pad tokens
 *
 * Returns: (transfer full): the text (CLIP's: "</w>" read as a space, the
 *   ends trimmed; byte-level: byte for byte); unknown ids are skipped
 */
gchar *
cxr_tokenizer_decode (CxrTokenizer *self, const gint64 *ids, gsize n_ids, gboolean skip_special)
{
  g_autoptr (GString) bytes = g_string_new (NULL);
  g_autofree gchar *valid = NULL;
  gchar **parts;
  gchar *joined;

  g_return_val_if_fail (CXR_IS_TOKENIZER (self), NULL);
  for (gsize i = 0; i < n_ids; i++)
    {
      const gchar *token;
      if (ids[i] < 0 || ids[i] >= (gint64) self->tokens->len || (token = g_ptr_array_index (self->tokens, ids[i])) == NULL)
        continue;
      if (skip_special && (ids[i] == self->bos || ids[i] == self->eos || ids[i] == self->pad))
        continue;
      for (const gchar *p = token; *p; p = g_utf8_next_char (p))
        {
          gpointer b = g_hash_table_lookup (self->char_bytes, GUINT_TO_POINTER (g_utf8_get_char (p)));
          if (b)
            g_string_append_c (bytes, (gchar) (GPOINTER_TO_UINT (b) - 1));
          else
            g_string_append_len (bytes, p, g_utf8_next_char (p) - p);
        }
    }
  valid = g_utf8_make_valid (bytes->str, (gssize) bytes->len);
  if (self->scheme == SCHEME_BYTE_LEVEL)
    return g_steal_pointer (&valid);
  parts = g_strsplit (valid, "</w>", -1);
  joined = g_strjoinv (" ", parts);
  g_strfreev (parts);
  return g_strstrip (joined);
}

/**
 * cxr_tokenizer_token_to_id:
 * @self: a tokenizer
 * @token: a token of the vocabulary
 *
 * Returns: its id, or -1
 */
gint64
cxr_tokenizer_token_to_id (CxrTokenizer *self, const gchar *token)
{
  g_return_val_if_fail (CXR_IS_TOKENIZER (self), -1);
  return lookup_id (self, token);
}

/**
 * cxr_tokenizer_get_vocab_size:
 * @self: a tokenizer
 *
 * Returns: one more than the largest id
 */
guint
cxr_tokenizer_get_vocab_size (CxrTokenizer *self)
{
  g_return_val_if_fail (CXR_IS_TOKENIZER (self), 0);
  return self->tokens->len;
}

/**
 * cxr_tokenizer_get_max_length:
 * @self: a tokenizer
 *
 * Returns: the most ids an encoding has, start and end included
 */
guint
cxr_tokenizer_get_max_length (CxrTokenizer *self)
{
  g_return_val_if_fail (CXR_IS_TOKENIZER (self), 0);
  return self->max_length;
}

/**
 * cxr_tokenizer_set_max_length:
 * @self: a tokenizer
 * @max_length: the most ids an encoding has (77 for CLIP), at least 2
 */
void
cxr_tokenizer_set_max_length (CxrTokenizer *self, guint max_length)
{
  g_return_if_fail (CXR_IS_TOKENIZER (self));
  self->max_length = MAX (max_length, 2);
}

/**
 * cxr_tokenizer_get_bos_id:
 * @self: a tokenizer
 *
 * Returns: the id of the start token
 */
gint64
cxr_tokenizer_get_bos_id (CxrTokenizer *self)
{
  return self->bos;
}

/**
 * cxr_tokenizer_get_eos_id:
 * @self: a tokenizer
 *
 * Returns: the id of the end token
 */
gint64
cxr_tokenizer_get_eos_id (CxrTokenizer *self)
{
  return self->eos;
}

/**
 * cxr_tokenizer_get_pad_id:
 * @self: a tokenizer
 *
 * Returns: the id of the pad token
 */
gint64
cxr_tokenizer_get_pad_id (CxrTokenizer *self)
{
  return self->pad;
}
