/* cxr-labeler.c: CheXpert-style labels from radiology report text.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "cxr.h"

/**
 * CxrLabeler:
 *
 * A rule-based labeler in the manner of the CheXpert labeler (Irvin et al.,
 * 2019): it finds mentions of the 14 observations with the CheXpert phrase
 * lists, classifies each mention as negated, uncertain or positive with
 * cue words and their scopes, and aggregates per report.
 *
 * - Sentences end at `.` (not between digits), `!`, `?`, `;`, `:` and blank
 *   lines; single line breaks are spaces; case is ignored.
 * - A mention is a phrase of an observation's list matched at the start of a
 *   word (`_` in a phrase is a space; phrases may be stems: "atelecta"),
 *   unless an "unmention" phrase ("pericardial effusion") covers it.
 * - A cue acts on the mentions after it (pre cues) or up to six words before
 *   it (post cues) in its clause; a clause ends at the sentence's end or at
 *   a scope terminator ("but", "however", "which", ...). Cues that contain a
 *   negation but leave a finding open ("cannot exclude", "not ruled out")
 *   make it uncertain; otherwise a negation cue makes it negative, an
 *   uncertainty cue ("may", "possible", "versus", "or") uncertain; a mention
 *   with no cue is positive. "Heart failure" and "CHF" also make
 *   cardiomegaly uncertain.
 * - Per report: a positive mention beats an uncertain one, which beats a
 *   negative one. "No Finding" is positive when no observation but Support
 *   Devices, and none of CheXpert's other findings (emphysema, scoliosis,
 *   ...), is positive or uncertain; otherwise it is blank.
 *
 * Labels come out in the order of cxr_labels_get_observations(), in the
 * CheXpert encoding: 1 positive, 0 negative, -1 uncertain, NaN blank.
 */

#define N_OBS CXR_N_OBSERVATIONS
#define OBS_NO_FINDING 8
#define OBS_SUPPORT_DEVICES 13
#define OBS_CARDIOMEGALY 1
#define OTHER_FINDINGS N_OBS /* the no_finding list: other abnormalities */
#define POST_WINDOW 6

static const gchar *const file_stems[N_OBS] = {
  "atelectasis", "cardiomegaly", "consolidation", "edema", "enlarged_cardiomediastinum",
  "fracture", "lung_lesion", "lung_opacity", "no_finding", "pleural_effusion",
  "pleural_other", "pneumonia", "pneumothorax", "support_devices",
};

typedef GPtrArray *CueList; /* each a GStrv of words */

struct _CxrLabeler {
  GObject parent_instance;
  GPtrArray *mentions[N_OBS + 1];   /* gchar *, with spaces for '_' */
  GPtrArray *unmentions[N_OBS + 1]; /* gchar * */
  CueList negation_pre, negation_adjacent, negation_post, uncertainty_pre, uncertainty_post, over_negation, terminators;
};

G_DEFINE_FINAL_TYPE (CxrLabeler, cxr_labeler, G_TYPE_OBJECT)

static void
cxr_labeler_finalize (GObject *object)
{
  CxrLabeler *self = CXR_LABELER (object);

  for (guint i = 0; i <= N_OBS; i++)
    {
      g_clear_pointer (&self->mentions[i], g_ptr_array_unref);
      g_clear_pointer (&self->unmentions[i], g_ptr_array_unref);
    }
  g_clear_pointer (&self->negation_pre, g_ptr_array_unref);
  g_clear_pointer (&self->negation_adjacent, g_ptr_array_unref);
  g_clear_pointer (&self->negation_post, g_ptr_array_unref);
  g_clear_pointer (&self->uncertainty_pre, g_ptr_array_unref);
  g_clear_pointer (&self->uncertainty_post, g_ptr_array_unref);
  g_clear_pointer (&self->over_negation, g_ptr_array_unref);
  g_clear_pointer (&self->terminators, g_ptr_array_unref);
  G_OBJECT_CLASS (cxr_labeler_parent_class)->finalize (object);
}

static void
cxr_labeler_class_init (CxrLabelerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cxr_labeler_finalize;
}

static void
cxr_labeler_init (CxrLabeler *self)
{
}

/* The lines of a resource: trimmed, lower case, without comments and
 * blank lines. A missing resource is an empty list. */
static GPtrArray *
read_lines (const gchar *path, gboolean underscores_are_spaces, GError **error)
{
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) local = NULL;
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) parts = NULL;

  bytes = g_resources_lookup_data (path, G_RESOURCE_LOOKUP_FLAGS_NONE, &local);
  if (bytes == NULL)
    {
      if (g_error_matches (local, G_RESOURCE_ERROR, G_RESOURCE_ERROR_NOT_FOUND))
        return lines;
      g_propagate_error (error, g_steal_pointer (&local));
      g_ptr_array_unref (lines);
      return NULL;
    }
  parts = g_strsplit (g_bytes_get_data (bytes, NULL), "\n", -1);
  for (guint i = 0; parts[i]; i++)
    {
      gchar *line = g_strstrip (parts[i]);
      gchar *lower;
      if (*line == '\0' || *line == '#')
        continue;
      lower = g_ascii_strdown (line, -1);
      if (underscores_are_spaces)
        g_strdelimit (lower, "_", ' ');
      g_ptr_array_add (lines, lower);
    }
  return lines;
}

static CueList
read_cues (const gchar *name, GError **error)
{
  g_autofree gchar *path = g_strdup_printf ("/org/cxrgen/labeler/cues/%s.txt", name);
  g_autoptr (GPtrArray) lines = read_lines (path, FALSE, error);
  CueList cues;

  if (lines == NULL)
    return NULL;
  cues = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  for (guint i = 0; i < lines->len; i++)
    g_ptr_array_add (cues, g_strsplit_set (g_ptr_array_index (lines, i), " ", -1));
  return cues;
}

/**
 * cxr_labeler_new:
 * @error: return location for a #GError
 *
 * Returns: (transfer full): a labeler with the CheXpert phrase lists and
 *   cxrgen's cues, or %NULL with @error set
 */
CxrLabeler *
cxr_labeler_new (GError **error)
{
  g_autoptr (CxrLabeler) self = g_object_new (CXR_TYPE_LABELER, NULL);

  for (guint i = 0; i < N_OBS; i++)
    {
      g_autofree gchar *m = g_strdup_printf ("/org/cxrgen/labeler/chexpert/phrases/mention/%s.txt", file_stems[i]);
      g_autofree gchar *u = g_strdup_printf ("/org/cxrgen/labeler/chexpert/phrases/unmention/%s.txt", file_stems[i]);
      /* the no_finding list names other findings, kept in a slot of its own */
      guint slot = i == OBS_NO_FINDING ? OTHER_FINDINGS : i;
      self->mentions[slot] = read_lines (m, TRUE, error);
      self->unmentions[slot] = read_lines (u, TRUE, error);
      if (self->mentions[slot] == NULL || self->unmentions[slot] == NULL)
        return NULL;
    }
  self->mentions[OBS_NO_FINDING] = g_ptr_array_new_with_free_func (g_free);
  self->unmentions[OBS_NO_FINDING] = g_ptr_array_new_with_free_func (g_free);
  if (!(self->negation_pre = read_cues ("negation-pre", error)) ||
      !(self->negation_adjacent = read_cues ("negation-adjacent", error)) ||
      !(self->negation_post = read_cues ("negation-post", error)) ||
      !(self->uncertainty_pre = read_cues ("uncertainty-pre", error)) ||
      !(self->uncertainty_post = read_cues ("uncertainty-post", error)) ||
      !(self->over_negation = read_cues ("uncertainty-over-negation", error)) ||
      !(self->terminators = read_cues ("scope-terminators", error)))
    return NULL;
  return g_steal_pointer (&self);
}

/* ---------------------------------------------------------------- text */

typedef struct {
  gsize start, end; /* bytes in the sentence */
} Token;

typedef struct {
  gchar *text; /* lower case */
  GArray *tokens; /* Token */
  GArray *clause; /* guint per token: its clause number */
} Sentence;

static gboolean
is_word_char (gchar c)
{
  return g_ascii_isalnum (c) || c == '\'' || (guchar) c >= 0x80;
}

static Sentence *
sentence_new (const gchar *text, gsize len)
{
  Sentence *s = g_new0 (Sentence, 1);

  s->text = g_ascii_strdown (text, (gssize) len);
  s->tokens = g_array_new (FALSE, FALSE, sizeof (Token));
  s->clause = g_array_new (FALSE, FALSE, sizeof (guint));
  for (gsize i = 0; s->text[i];)
    {
      if (is_word_char (s->text[i]))
        {
          Token t = { i, i };
          while (s->text[t.end] && (is_word_char (s->text[t.end]) ||
                                     (s->text[t.end] == '-' && is_word_char (s->text[t.end + 1]))))
            t.end++;
          g_array_append_val (s->tokens, t);
          i = t.end;
        }
      else
        i++;
    }
  return s;
}

static void
sentence_free (Sentence *s)
{
  g_free (s->text);
  g_array_unref (s->tokens);
  g_array_unref (s->clause);
  g_free (s);
}

static gboolean
token_is (Sentence *s, guint index, const gchar *word)
{
  Token *t = &g_array_index (s->tokens, Token, index);
  gsize n = strlen (word);
  return t->end - t->start == n && strncmp (s->text + t->start, word, n) == 0;
}

/* Whether cue @words matches the tokens from @at on. */
static guint
cue_length_at (Sentence *s, guint at, gchar **words)
{
  guint n = g_strv_length (words);

  if (at + n > s->tokens->len)
    return 0;
  for (guint i = 0; i < n; i++)
    if (!token_is (s, at + i, words[i]))
      return 0;
  return n;
}

static void
assign_clauses (CxrLabeler *self, Sentence *s)
{
  guint clause = 0;

  g_array_set_size (s->clause, s->tokens->len);
  for (guint i = 0; i < s->tokens->len; i++)
    {
      for (guint c = 0; c < self->terminators->len; c++)
        if (cue_length_at (s, i, g_ptr_array_index (self->terminators, c)) > 0)
          {
            clause++;
            break;
          }
      g_array_index (s->clause, guint, i) = clause;
    }
}

/* Whether a cue of @cues lies in [from, to) of the mention's clause:
 * pre cues end at or before @to; post cues start in [from, to). */
static gboolean
find_cue (Sentence *s, CueList cues, guint from, guint to, guint clause)
{
  for (guint i = from; i < to && i < s->tokens->len; i++)
    {
      if (g_array_index (s->clause, guint, i) != clause)
        continue;
      for (guint c = 0; c < cues->len; c++)
        {
          guint n = cue_length_at (s, i, g_ptr_array_index (cues, c));
          if (n > 0 && g_array_index (s->clause, guint, i + n - 1) == clause)
            return TRUE;
        }
    }
  return FALSE;
}

static gboolean
find_pre_cue_within (Sentence *s, CueList cues, guint mention_start, guint clause, guint reach)
{
  /* cues that end before the mention, at most @reach words before it */
  for (guint i = mention_start > reach ? mention_start - reach : 0; i < mention_start; i++)
    {
      if (g_array_index (s->clause, guint, i) != clause)
        continue;
      for (guint c = 0; c < cues->len; c++)
        {
          guint n = cue_length_at (s, i, g_ptr_array_index (cues, c));
          if (n > 0 && i + n <= mention_start)
            return TRUE;
        }
    }
  return FALSE;
}

static gboolean
find_pre_cue (Sentence *s, CueList cues, guint mention_start, guint clause)
{
  return find_pre_cue_within (s, cues, mention_start, clause, G_MAXUINT);
}

typedef enum { MENTION_POSITIVE, MENTION_UNCERTAIN, MENTION_NEGATIVE } MentionClass;

static MentionClass
classify (CxrLabeler *self, Sentence *s, guint first, guint last)
{
  guint clause = g_array_index (s->clause, guint, first);
  guint post_end = MIN (s->tokens->len, last + 1 + POST_WINDOW);

  if (find_pre_cue (s, self->over_negation, first, clause) ||
      find_cue (s, self->over_negation, last + 1, post_end, clause))
    return MENTION_UNCERTAIN;
  if (find_pre_cue (s, self->negation_pre, first, clause) ||
      find_pre_cue_within (s, self->negation_adjacent, first, clause, 3) ||
      find_cue (s, self->negation_post, last + 1, post_end, clause))
    return MENTION_NEGATIVE;
  if (find_pre_cue (s, self->uncertainty_pre, first, clause) ||
      find_cue (s, self->uncertainty_post, last + 1, post_end, clause))
    return MENTION_UNCERTAIN;
  return MENTION_POSITIVE;
}

/* The token holding byte @offset (or the next one). */
static guint
token_at (Sentence *s, gsize offset)
{
  for (guint i = 0; i < s->tokens->len; i++)
    if (g_array_index (s->tokens, Token, i).end > offset)
      return i;
  return s->tokens->len ? s->tokens->len - 1 : 0;
}

/* Occurrences of @phrase starting at a word start. */
static gboolean
next_match (const gchar *text, const gchar *phrase, gsize from, gsize *start)
{
  const gchar *p = text + from;

  while ((p = strstr (p, phrase)) != NULL)
    {
      gboolean boundary = p == text || !is_word_char (p[-1]) || phrase[0] == ' ';
      if (boundary)
        {
          *start = (gsize) (p - text);
          return TRUE;
        }
      p++;
    }
  return FALSE;
}

static gboolean
covered_by_unmention (CxrLabeler *self, guint obs, const gchar *text, gsize start, gsize end)
{
  GPtrArray *un = self->unmentions[obs];

  for (guint u = 0; u < un->len; u++)
    {
      const gchar *phrase = g_ptr_array_index (un, u);
      gsize at = 0, s0;
      while (next_match (text, phrase, at, &s0))
        {
          if (s0 <= start && s0 + strlen (phrase) >= end)
            return TRUE;
          /* an unmention that overlaps the start also covers ("massive") */
          if (s0 == start)
            return TRUE;
          at = s0 + 1;
        }
    }
  return FALSE;
}

/* Splits a report into sentences (byte ranges of @text). */
static GPtrArray *
split_sentences (const gchar *report)
{
  GPtrArray *sentences = g_ptr_array_new_with_free_func ((GDestroyNotify) sentence_free);
  g_autofree gchar *text = g_strdup (report);
  gsize len = strlen (text), start = 0;

  /* single line breaks wrap a sentence; blank lines end one */
  for (gsize i = 0; i < len; i++)
    if (text[i] == '\n' || text[i] == '\r')
      {
        gsize j = i + 1;
        while (j < len && (text[j] == ' ' || text[j] == '\t' || text[j] == '\r'))
          j++;
        if (j < len && text[j] == '\n')
          {
            text[i] = ';';
            i = j;
          }
        else
          text[i] = ' ';
      }
  for (gsize i = 0; i <= len; i++)
    {
      gchar c = text[i];
      gboolean end = c == '\0' || c == '!' || c == '?' || c == ';' || c == ':';
      if (c == '.')
        end = !(i > 0 && g_ascii_isdigit (text[i - 1]) && g_ascii_isdigit (text[i + 1]));
      if (!end)
        continue;
      if (i > start)
        {
          Sentence *s = sentence_new (text + start, i - start);
          if (s->tokens->len > 0)
            g_ptr_array_add (sentences, s);
          else
            sentence_free (s);
        }
      start = i + 1;
    }
  return sentences;
}

typedef struct {
  gboolean seen[N_OBS + 1][3]; /* per observation (and other findings): classes seen */
  GString *explain;
} Findings;

static void
add_mention (Findings *f, guint obs, MentionClass cls, Sentence *s, gsize start, gsize end)
{
  static const gchar *const names[] = { "positive", "uncertain", "negative" };

  f->seen[obs][cls] = TRUE;
  if (f->explain)
    g_string_append_printf (f->explain, "%s: %s (\"%.*s\" in \"%s\")\n",
                            obs == OTHER_FINDINGS ? "other finding" : cxr_labels_get_observations ()[obs],
                            names[cls], (int) (end - start), s->text + start, s->text);
}

static void
label_text (CxrLabeler *self, const gchar *report, gfloat *labels, GString *explain)
{
  g_autoptr (GPtrArray) sentences = split_sentences (report);
  Findings f = { { { FALSE } }, explain };
  gboolean finding = FALSE;

  for (guint si = 0; si < sentences->len; si++)
    {
      Sentence *s = g_ptr_array_index (sentences, si);
      /* pad so phrases with spaces at their ends ("_line_") match at edges */
      g_autofree gchar *padded = g_strdup_printf (" %s ", s->text);

      assign_clauses (self, s);
      for (guint obs = 0; obs <= N_OBS; obs++)
        {
          GPtrArray *phrases = self->mentions[obs];
          g_autoptr (GArray) taken = g_array_new (FALSE, TRUE, sizeof (gboolean));

          g_array_set_size (taken, strlen (padded));
          for (guint p = 0; p < phrases->len; p++)
            {
              const gchar *phrase = g_ptr_array_index (phrases, p);
              gsize at = 0, start;
              while (*phrase && next_match (padded, phrase, at, &start))
                {
                  gsize end = start + strlen (phrase);
                  gsize s0 = start, s1 = end;
                  at = start + 1;
                  /* trim the padding spaces back to the sentence */
                  while (s0 < s1 && padded[s0] == ' ')
                    s0++;
                  while (s1 > s0 && padded[s1 - 1] == ' ')
                    s1--;
                  if (s1 <= s0 || g_array_index (taken, gboolean, s0) ||
                      covered_by_unmention (self, obs, padded, s0, s1))
                    continue;
                  for (gsize k = s0; k < s1; k++)
                    g_array_index (taken, gboolean, k) = TRUE;
                  {
                    guint first = token_at (s, s0 - 1), last = token_at (s, s1 - 2);
                    MentionClass cls = classify (self, s, first, last);
                    add_mention (&f, obs, cls, s, s0 - 1, s1 - 1);
                    /* heart failure and CHF: cardiomegaly is uncertain too */
                    if (obs == 3 && (g_str_equal (phrase, "heart failure") || g_str_equal (phrase, "chf")))
                      add_mention (&f, OBS_CARDIOMEGALY, cls == MENTION_NEGATIVE ? MENTION_NEGATIVE : MENTION_UNCERTAIN,
                                   s, s0 - 1, s1 - 1);
                  }
                }
            }
        }
    }

  for (guint obs = 0; obs < N_OBS; obs++)
    {
      if (f.seen[obs][MENTION_POSITIVE])
        labels[obs] = 1.0f;
      else if (f.seen[obs][MENTION_UNCERTAIN])
        labels[obs] = -1.0f;
      else if (f.seen[obs][MENTION_NEGATIVE])
        labels[obs] = 0.0f;
      else
        labels[obs] = NAN;
      if (obs != OBS_NO_FINDING && obs != OBS_SUPPORT_DEVICES &&
          (f.seen[obs][MENTION_POSITIVE] || f.seen[obs][MENTION_UNCERTAIN]))
        finding = TRUE;
    }
  if (f.seen[OTHER_FINDINGS][MENTION_POSITIVE] || f.seen[OTHER_FINDINGS][MENTION_UNCERTAIN])
    finding = TRUE;
  labels[OBS_NO_FINDING] = finding ? NAN : 1.0f;
}

/**
 * cxr_labeler_label_into: (skip)
 * @self: a labeler
 * @report: the report text, UTF-8
 * @labels: (out caller-allocates): room for %CXR_N_OBSERVATIONS labels, in
 *   the order of cxr_labels_get_observations(): 1, 0, -1 or NaN
 * @error: return location for a #GError
 *
 * Labels one report into the caller's array. An empty report labels as
 * "No Finding" alone.
 *
 * Returns: %TRUE, or %FALSE with @error set when @report is not UTF-8
 */
gboolean
cxr_labeler_label_into (CxrLabeler *self, const gchar *report, gfloat *labels, GError **error)
{
  g_return_val_if_fail (CXR_IS_LABELER (self), FALSE);
  g_return_val_if_fail (report != NULL && labels != NULL, FALSE);
  if (!g_utf8_validate (report, -1, NULL))
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_PARSE, "the report is not UTF-8 text");
      return FALSE;
    }
  label_text (self, report, labels, NULL);
  return TRUE;
}

/**
 * cxr_labeler_label:
 * @self: a labeler
 * @report: the report text, UTF-8
 * @n_labels: (out): %CXR_N_OBSERVATIONS
 * @error: return location for a #GError
 *
 * Labels one report; see cxr_labeler_label_into().
 *
 * Returns: (transfer full) (array length=n_labels) (nullable): the 14
 *   labels, in the order of cxr_labels_get_observations(): 1, 0, -1 or
 *   NaN; %NULL with @error set when @report is not UTF-8
 */
gfloat *
cxr_labeler_label (CxrLabeler *self, const gchar *report, gsize *n_labels, GError **error)
{
  gfloat *labels = g_new (gfloat, N_OBS);

  *n_labels = 0;
  if (!cxr_labeler_label_into (self, report, labels, error))
    {
      g_free (labels);
      return NULL;
    }
  *n_labels = N_OBS;
  return labels;
}

/**
 * cxr_labeler_explain:
 * @self: a labeler
 * @report: the report text, UTF-8
 *
 * Returns: (transfer full): one line per mention found: the observation,
 *   its class and the sentence, for people checking a label
 */
gchar *
cxr_labeler_explain (CxrLabeler *self, const gchar *report)
{
  GString *out = g_string_new (NULL);
  gfloat labels[N_OBS];

  g_return_val_if_fail (CXR_IS_LABELER (self), NULL);
  if (report != NULL && g_utf8_validate (report, -1, NULL))
    label_text (self, report, labels, out);
  return g_string_free (out, FALSE);
}
