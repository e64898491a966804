/* tests/fuzz/fuzz-text.c: libFuzzer target for what users hand the models
 * as text: a config.json (CxrConfig, read the way models read it) and a
 * tokenizer's vocab.json and merges.txt (CLIP's and BART's schemes). Every
 * input must give a result or an error, never a crash.
 *   make fuzz-run FUZZ_SECONDS=30
 * The input is the vocabulary, a line "--", then the merges; the whole
 * input is also read as a config and tokenized.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include <cxr.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
read_config (const gchar *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrConfig) config = cxr_config_new_from_json (text, "fuzz", &error);
  g_autofree gint64 *list = NULL;
  g_auto (GStrv) strings = NULL;
  guint n = 0;

  if (config == NULL)
    {
      g_assert (error != NULL);
      return;
    }
  cxr_config_get_int (config, "hidden_size", 1);
  cxr_config_require_int (config, "num_hidden_layers");
  cxr_config_get_double (config, "layer_norm_eps", 1e-5);
  cxr_config_get_string (config, "hidden_act", "gelu");
  cxr_config_get_boolean (config, "qkv_bias", TRUE);
  list = cxr_config_get_int_list (config, "block_out_channels", &n);
  strings = cxr_config_get_string_list (config, "down_block_types");
  if (cxr_config_is_list (config, "attention_head_dim"))
    cxr_config_get_int (config, "attention_head_dim", 8);
  {
    CxrConfig *child = cxr_config_get_child (config, "vision_config");
    if (child)
      cxr_config_get_int (child, "image_size", 224);
  }
  g_clear_error (&error);
  if (!cxr_config_check (config, &error))
    g_assert (error != NULL);
}

static void
use_tokenizer (CxrTokenizer *tok, const gchar *text)
{
  const gchar *const batch[] = { text, "A chest X ray image with edema", "", NULL };
  g_autoptr (CxrTensor) ids = NULL, mask = NULL;
  g_autofree gint64 *one = NULL;
  g_autofree gchar *back = NULL;
  gsize n = 0;

  if (tok == NULL)
    return;
  one = cxr_tokenizer_encode (tok, text, &n);
  back = cxr_tokenizer_decode (tok, one, n, FALSE);
  g_assert (back != NULL && g_utf8_validate (back, -1, NULL));
  ids = cxr_tokenizer_encode_batch (tok, batch, 0, &mask);
  g_assert (ids != NULL && mask != NULL);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autofree gchar *text = g_strndup ((const gchar *) data, size);
  g_autofree gchar *dir = g_dir_make_tmp ("fuzz-text-XXXXXX", NULL);
  g_autofree gchar *vocab = NULL, *merges = NULL;
  const gchar *cut = strstr (text, "\n--\n");
  g_autoptr (CxrTokenizer) clip = NULL, bart = NULL;

  read_config (text);
  if (dir == NULL)
    return 0;
  vocab = g_build_filename (dir, "vocab.json", NULL);
  merges = g_build_filename (dir, "merges.txt", NULL);
  g_file_set_contents (vocab, text, cut ? cut - text : (gssize) strlen (text), NULL);
  g_file_set_contents (merges, cut ? cut + 4 : "", -1, NULL);
  clip = cxr_tokenizer_new_clip (vocab, merges, NULL);
  bart = cxr_tokenizer_new_bart (vocab, merges, NULL);
  use_tokenizer (clip, text);
  use_tokenizer (bart, text);
  unlink (vocab);
  unlink (merges);
  g_rmdir (dir);
  return 0;
}
