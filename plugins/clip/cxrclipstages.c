/* plugins/clip/cxrclipstages.c: the clip-text-encode and clip-image-embed
 * stages: the paper's prompt, as the denoiser reads it.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "cxrclip.h"

/**
 * SECTION:clip-stages
 *
 * The paper's conditioning (CXR-IRGen, section 3): the prompt text of a
 * sample's label vector goes through CLIP's text encoder, and one more
 * token is appended: the CLIP image embedding of the sample's reference
 * image (the first training image with the same label vector), or zeros
 * when there is none.
 *
 * `clip-image-embed` reads the reference image of each sample
 * (`path-field`, the reference-path that mimic-cxr-source adds), applies
 * CLIP's preprocessing (bicubic resize, center crop, CLIP's mean and
 * deviation) at the vision model's size, and writes the pooled embedding
 * (pooler_output, 768 wide for ViT-B/32) to `embedding-field`. Each
 * distinct image is embedded once per run and then served from a cache
 * (the reference code recomputes it for every sample); a sample without
 * a reference gets zeros.
 *
 * `clip-text-encode` tokenizes each sample's prompt with CLIP's tokenizer
 * (`tokenizer`: the folder with vocab.json and merges.txt, by default the
 * tokenizer folder beside the text encoder's, as stable-diffusion-v1-4 lays
 * them out), pads the batch to its longest prompt (or to `pad-to`) with
 * the end token as SD's tokenizer does, runs the text encoder, and writes
 * `context-field`: the last hidden states [L, D] of each sample followed,
 * when `image-token` is on, by the image embedding of `embedding-field`
 * ([L + 1, D] in all). It also writes `unconditional-field` (unless
 * empty): the empty prompt's hidden states padded to the same length (no
 * image token: zeros in its place), the context classifier-free guidance
 * subtracts. The batch's extras context-length (L or L + 1) and
 * context-width (D) say the shape.
 *
 * |[
 * [model text]
 * type=clip-text
 * weights=${CXRGEN_WEIGHTS}/stable-diffusion-v1-4/text_encoder
 *
 * [model vision]
 * type=clip-vision
 * weights=${CXRGEN_WEIGHTS}/clip-vit-base-patch32
 *
 * [stage reference]
 * type=clip-image-embed
 * input=prompt
 * model=vision
 *
 * [stage context]
 * type=clip-text-encode
 * input=reference
 * model=text
 * ]|
 */

/* ---------------------------------------------------- clip-image-embed */

struct _CxrClipImageEmbed {
  CxrStage parent_instance;
  CxrModel *model;
  gchar *path_field, *embedding_field;
  GHashTable *cache; /* path -> gfloat[width] */
  guint hits, misses;
};

G_DEFINE_FINAL_TYPE (CxrClipImageEmbed, cxr_clip_image_embed, CXR_TYPE_STAGE)

enum { E_0, E_MODEL, E_PATH_FIELD, E_EMBEDDING_FIELD, N_E };
static GParamSpec *embed_props[N_E];

static gboolean
cxr_clip_image_embed_prepare (CxrStage *stage, GError **error)
{
  CxrClipImageEmbed *self = CXR_CLIP_IMAGE_EMBED (stage);

  if (self->model == NULL || !CXR_IS_CLIP_VISION (self->model))
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED,
                   "model: set model=NAME, a [model NAME] of type clip-vision");
      return FALSE;
    }
  return cxr_model_prepare (self->model, error);
}

static gboolean
cxr_clip_image_embed_transform (CxrStage *stage, CxrBatch *batch, GError **error)
{
  CxrClipImageEmbed *self = CXR_CLIP_IMAGE_EMBED (stage);
  CxrClipVision *vision = CXR_CLIP_VISION (self->model);
  guint n = cxr_batch_get_size (batch), size = cxr_clip_vision_get_image_size (vision);
  guint width = cxr_clip_vision_get_hidden_size (vision);
  const gchar *const *paths = cxr_batch_get_strings (batch, self->path_field);
  g_autofree gfloat *out = g_new0 (gfloat, MAX ((gsize) n * width, 1));
  g_autoptr (GPtrArray) todo = g_ptr_array_new (); /* distinct paths not cached, in order */

  if (paths == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_MISSING_FIELD,
                   "batch %" G_GUINT64_FORMAT ": no string field \"%s\" (the reference images' paths)",
                   cxr_batch_get_sequence (batch), self->path_field);
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    if (*paths[i] != '\0' && !g_hash_table_contains (self->cache, paths[i]) &&
        !g_ptr_array_find_with_equal_func (todo, paths[i], g_str_equal, NULL))
      g_ptr_array_add (todo, (gpointer) paths[i]);
  if (todo->len > 0)
    {
      g_autoptr (CxrTensor) pixels = cxr_tensor_new (CXR_DTYPE_F32, (const gint64[]) { todo->len, 3, size, size }, 4);
      g_autoptr (GHashTable) inputs = cxr_model_new_tensor_table ();
      g_autoptr (GHashTable) outputs = NULL;
      gfloat *px = cxr_tensor_get_data (pixels);
      const gfloat *pooled;

      for (guint j = 0; j < todo->len; j++)
        {
          const gchar *path = g_ptr_array_index (todo, j);
          /* decoded whole, as the reference's PIL does: no DCT scaling */
          g_autoptr (CxrImage) image = cxr_image_load (path, 0, error);
          g_autoptr (CxrTensor) pre = NULL;

          if (image == NULL)
            {
              g_prefix_error (error, "batch %" G_GUINT64_FORMAT ": reference image: ", cxr_batch_get_sequence (batch));
              return FALSE;
            }
          pre = cxr_image_preprocess_clip (image, size);
          memcpy (px + (gsize) j * 3 * size * size, cxr_tensor_get_data (pre), sizeof (gfloat) * 3 * size * size);
        }
      g_hash_table_insert (inputs, g_strdup ("pixel_values"), cxr_tensor_ref (pixels));
      if ((outputs = cxr_model_forward (self->model, NULL, inputs, error)) == NULL)
        return FALSE;
      pooled = cxr_tensor_get_data (g_hash_table_lookup (outputs, "pooler_output"));
      for (guint j = 0; j < todo->len; j++)
        g_hash_table_insert (self->cache, g_strdup (g_ptr_array_index (todo, j)),
                             g_memdup2 (pooled + (gsize) j * width, sizeof (gfloat) * width));
      self->misses += todo->len;
    }
  for (guint i = 0; i < n; i++)
    if (*paths[i] != '\0')
      {
        memcpy (out + (gsize) i * width, g_hash_table_lookup (self->cache, paths[i]), sizeof (gfloat) * width);
        self->hits++;
      }
  self->hits -= todo->len;
  cxr_batch_set_floats (batch, self->embedding_field, width, out, (gsize) n * width);
  return TRUE;
}

static gboolean
cxr_clip_image_embed_finish (CxrStage *stage, GError **error)
{
  CxrClipImageEmbed *self = CXR_CLIP_IMAGE_EMBED (stage);
  g_debug ("clip-image-embed: %u images embedded, %u samples served from the cache", self->misses, self->hits);
  return TRUE;
}

static gchar **
cxr_clip_image_embed_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  CxrClipImageEmbed *self = CXR_CLIP_IMAGE_EMBED (stage);
  return g_strsplit (direction == CXR_PORT_INPUT ? self->path_field : self->embedding_field, ",", -1);
}

static void
cxr_clip_image_embed_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrClipImageEmbed *self = CXR_CLIP_IMAGE_EMBED (object);
  gchar **slot = id == E_PATH_FIELD ? &self->path_field : id == E_EMBEDDING_FIELD ? &self->embedding_field : NULL;

  if (slot)
    {
      g_free (*slot);
      *slot = g_value_dup_string (value);
    }
  else if (id == E_MODEL)
    g_set_object (&self->model, g_value_get_object (value));
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
cxr_clip_image_embed_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrClipImageEmbed *self = CXR_CLIP_IMAGE_EMBED (object);

  if (id == E_PATH_FIELD)
    g_value_set_string (value, self->path_field);
  else if (id == E_EMBEDDING_FIELD)
    g_value_set_string (value, self->embedding_field);
  else if (id == E_MODEL)
    g_value_set_object (value, self->model);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
cxr_clip_image_embed_dispose (GObject *object)
{
  g_clear_object (&CXR_CLIP_IMAGE_EMBED (object)->model);
  G_OBJECT_CLASS (cxr_clip_image_embed_parent_class)->dispose (object);
}

static void
cxr_clip_image_embed_finalize (GObject *object)
{
  CxrClipImageEmbed *self = CXR_CLIP_IMAGE_EMBED (object);
  g_free (self->path_field);
  g_free (self->embedding_field);
  g_hash_table_unref (self->cache);
  G_OBJECT_CLASS (cxr_clip_image_embed_parent_class)->finalize (object);
}

static void
cxr_clip_image_embed_class_init (CxrClipImageEmbedClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_clip_image_embed_set_property;
  object_class->get_property = cxr_clip_image_embed_get_property;
  object_class->dispose = cxr_clip_image_embed_dispose;
  object_class->finalize = cxr_clip_image_embed_finalize;
  stage_class->prepare = cxr_clip_image_embed_prepare;
  stage_class->transform = cxr_clip_image_embed_transform;
  stage_class->finish = cxr_clip_image_embed_finish;
  stage_class->get_port_fields = cxr_clip_image_embed_get_port_fields;
  embed_props[E_MODEL] = g_param_spec_object ("model", "Model", "The image encoder (a clip-vision model)",
                                              CXR_TYPE_IMAGE_ENCODER, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  embed_props[E_PATH_FIELD] = g_param_spec_string ("path-field", "Path field", "The string field of the images' "
                                                   "paths (empty: no image, zeros)", "reference-path", flags);
  embed_props[E_EMBEDDING_FIELD] = g_param_spec_string ("embedding-field", "Embedding field", "The float field to "
                                                        "write the embeddings to", "reference-embedding", flags);
  g_object_class_install_properties (object_class, N_E, embed_props);
  cxr_stage_class_set_metadata (stage_class, "CLIP image embedding", "Filter/Encoder",
                                "Embeds each sample's reference image with CLIP's vision tower, once per image",
                                "The cxrgen developers");
  cxr_stage_class_add_input (stage_class, "in", "reference-path", "Samples with reference-image paths");
  cxr_stage_class_add_output (stage_class, "out", "reference-embedding", TRUE,
                              "The same batches, with the embeddings");
}

static void
cxr_clip_image_embed_init (CxrClipImageEmbed *self)
{
  self->cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/* ---------------------------------------------------- clip-text-encode */

struct _CxrClipTextEncode {
  CxrStage parent_instance;
  CxrModel *model;
  gchar *tokenizer_dir, *prompt_field, *embedding_field, *context_field, *unconditional_field;
  gboolean image_token;
  guint pad_to;
  CxrTokenizer *tokenizer;
  CxrTensor *empty_hidden; /* [1, positions, D]: the empty prompt, padded to the most positions */
};

G_DEFINE_FINAL_TYPE (CxrClipTextEncode, cxr_clip_text_encode, CXR_TYPE_STAGE)

enum { T_0, T_MODEL, T_TOKENIZER, T_PROMPT_FIELD, T_EMBEDDING_FIELD, T_CONTEXT_FIELD, T_UNCONDITIONAL_FIELD,
       T_IMAGE_TOKEN, T_PAD_TO, N_T };
static GParamSpec *text_props[N_T];

/* SD's layout: stable-diffusion-v1-4/{text_encoder,tokenizer} */
static gchar *
default_tokenizer_dir (CxrModel *model)
{
  const gchar *weights = cxr_model_get_weights (model);
  g_autofree gchar *folder = NULL, *parent = NULL;

  if (weights == NULL || *weights == '\0')
    return NULL;
  folder = g_file_test (weights, G_FILE_TEST_IS_DIR) ? g_strdup (weights) : g_path_get_dirname (weights);
  parent = g_path_get_dirname (folder);
  return g_build_filename (parent, "tokenizer", NULL);
}

static CxrTensor *
hidden_states (CxrModel *model, CxrTensor *ids, GError **error)
{
  g_autoptr (GHashTable) inputs = cxr_model_new_tensor_table ();
  g_autoptr (GHashTable) outputs = NULL;

  g_hash_table_insert (inputs, g_strdup ("input_ids"), cxr_tensor_ref (ids));
  if ((outputs = cxr_model_forward (model, NULL, inputs, error)) == NULL)
    return NULL;
  return cxr_tensor_ref (g_hash_table_lookup (outputs, "last_hidden_state"));
}

static gboolean
cxr_clip_text_encode_prepare (CxrStage *stage, GError **error)
{
  CxrClipTextEncode *self = CXR_CLIP_TEXT_ENCODE (stage);
  g_autofree gchar *dir = NULL;
  g_autoptr (CxrTensor) empty = NULL;
  const gchar *none[] = { "", NULL };
  guint positions;

  if (self->model == NULL || !CXR_IS_CLIP_TEXT (self->model))
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED,
                   "model: set model=NAME, a [model NAME] of type clip-text");
      return FALSE;
    }
  if (!cxr_model_prepare (self->model, error))
    return FALSE;
  dir = self->tokenizer_dir && *self->tokenizer_dir ? g_strdup (self->tokenizer_dir) : default_tokenizer_dir (self->model);
  if (dir == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED,
                   "tokenizer: set tokenizer=DIR, the folder of CLIP's vocab.json and merges.txt "
                   "(stable-diffusion-v1-4/tokenizer)");
      return FALSE;
    }
  g_clear_object (&self->tokenizer);
  if ((self->tokenizer = cxr_tokenizer_new_clip_from_folder (dir, error)) == NULL)
    {
      g_prefix_error (error, "tokenizer: ");
      return FALSE;
    }
  positions = cxr_clip_text_get_max_positions (CXR_CLIP_TEXT (self->model));
  cxr_tokenizer_set_max_length (self->tokenizer, positions);
  if (self->pad_to > positions)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "pad-to: %u is more than the %u positions of the "
                   "text encoder", self->pad_to, positions);
      return FALSE;
    }
  if (cxr_tokenizer_get_vocab_size (self->tokenizer) > cxr_clip_text_get_vocab_size (CXR_CLIP_TEXT (self->model)))
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "tokenizer: %s has %u tokens; the text encoder "
                   "knows %u", dir, cxr_tokenizer_get_vocab_size (self->tokenizer),
                   cxr_clip_text_get_vocab_size (CXR_CLIP_TEXT (self->model)));
      return FALSE;
    }
  g_clear_pointer (&self->empty_hidden, cxr_tensor_unref);
  if (self->unconditional_field && *self->unconditional_field)
    {
      /* Under the causal mask, position j of the padded empty prompt sees
       * positions 0..j only: one run at full length serves every L. */
      empty = cxr_tokenizer_encode_batch (self->tokenizer, none, positions, NULL);
      if ((self->empty_hidden = hidden_states (self->model, empty, error)) == NULL)
        return FALSE;
    }
  return TRUE;
}

/* out[i] = hidden[i] (L x D), then the image token (D) when asked */
static void
fill_context (gfloat *out, const gfloat *hidden, gint64 l, gint64 d, const gfloat *token, gboolean image_token)
{
  memcpy (out, hidden, sizeof (gfloat) * l * d);
  if (image_token)
    {
      if (token)
        memcpy (out + l * d, token, sizeof (gfloat) * d);
      else
        memset (out + l * d, 0, sizeof (gfloat) * d);
    }
}

static gboolean
cxr_clip_text_encode_transform (CxrStage *stage, CxrBatch *batch, GError **error)
{
  CxrClipTextEncode *self = CXR_CLIP_TEXT_ENCODE (stage);
  guint n = cxr_batch_get_size (batch), width = 0;
  const gchar *const *prompts = cxr_batch_get_strings (batch, self->prompt_field);
  const gfloat *embeddings = NULL;
  g_autoptr (CxrTensor) ids = NULL, hidden = NULL;
  g_autofree gfloat *context = NULL;
  gint64 l, d, tokens;
  const gfloat *h;

  if (prompts == NULL)
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_MISSING_FIELD, "batch %" G_GUINT64_FORMAT
                   ": no string field \"%s\" (the prompts)", cxr_batch_get_sequence (batch), self->prompt_field);
      return FALSE;
    }
  if (n == 0)
    return TRUE;
  d = cxr_clip_text_get_hidden_size (CXR_CLIP_TEXT (self->model));
  if (self->image_token && cxr_batch_has_field (batch, self->embedding_field))
    {
      gsize count = 0;
      if ((embeddings = cxr_batch_require_floats (batch, self->embedding_field, (guint) d, &count, error)) == NULL)
        {
          g_prefix_error (error, "image-token: ");
          return FALSE;
        }
    }
  ids = cxr_tokenizer_encode_batch (self->tokenizer, prompts, self->pad_to, NULL);
  if ((hidden = hidden_states (self->model, ids, error)) == NULL)
    return FALSE;
  l = cxr_tensor_get_dim (hidden, 1);
  tokens = l + (self->image_token ? 1 : 0);
  h = cxr_tensor_get_data (hidden);
  context = g_new (gfloat, (gsize) n * tokens * d);
  for (guint i = 0; i < n; i++)
    fill_context (context + (gsize) i * tokens * d, h + (gsize) i * l * d, l, d,
                  embeddings ? embeddings + (gsize) i * d : NULL, self->image_token);
  width = (guint) (tokens * d);
  cxr_batch_set_floats (batch, self->context_field, width, context, (gsize) n * width);
  if (self->empty_hidden)
    {
      const gfloat *e = cxr_tensor_get_data (self->empty_hidden);
      for (guint i = 0; i < n; i++)
        fill_context (context + (gsize) i * tokens * d, e, l, d, NULL, self->image_token);
      cxr_batch_set_floats (batch, self->unconditional_field, width, context, (gsize) n * width);
    }
  cxr_batch_set_extra (batch, "context-length", g_variant_new_uint32 ((guint32) tokens));
  cxr_batch_set_extra (batch, "context-width", g_variant_new_uint32 ((guint32) d));
  return TRUE;
}

static gchar **
cxr_clip_text_encode_get_port_fields (CxrStage *stage, CxrPortDirection direction, guint port)
{
  CxrClipTextEncode *self = CXR_CLIP_TEXT_ENCODE (stage);

  if (direction == CXR_PORT_INPUT)
    return g_strsplit (self->prompt_field, ",", -1);
  if (self->unconditional_field && *self->unconditional_field)
    {
      g_autofree gchar *both = g_strconcat (self->context_field, ",", self->unconditional_field, NULL);
      return g_strsplit (both, ",", -1);
    }
  return g_strsplit (self->context_field, ",", -1);
}

static gchar **
text_string_slot (CxrClipTextEncode *self, guint id)
{
  switch (id)
    {
    case T_TOKENIZER: return &self->tokenizer_dir;
    case T_PROMPT_FIELD: return &self->prompt_field;
    case T_EMBEDDING_FIELD: return &self->embedding_field;
    case T_CONTEXT_FIELD: return &self->context_field;
    case T_UNCONDITIONAL_FIELD: return &self->unconditional_field;
    default: return NULL;
    }
}

static void
cxr_clip_text_encode_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrClipTextEncode *self = CXR_CLIP_TEXT_ENCODE (object);
  gchar **slot = text_string_slot (self, id);

  if (slot)
    {
      g_free (*slot);
      *slot = g_value_dup_string (value);
    }
  else if (id == T_MODEL)
    g_set_object (&self->model, g_value_get_object (value));
  else if (id == T_IMAGE_TOKEN)
    self->image_token = g_value_get_boolean (value);
  else if (id == T_PAD_TO)
    self->pad_to = g_value_get_uint (value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
cxr_clip_text_encode_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrClipTextEncode *self = CXR_CLIP_TEXT_ENCODE (object);
  gchar **slot = text_string_slot (self, id);

  if (slot)
    g_value_set_string (value, *slot);
  else if (id == T_MODEL)
    g_value_set_object (value, self->model);
  else if (id == T_IMAGE_TOKEN)
    g_value_set_boolean (value, self->image_token);
  else if (id == T_PAD_TO)
    g_value_set_uint (value, self->pad_to);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
cxr_clip_text_encode_dispose (GObject *object)
{
  CxrClipTextEncode *self = CXR_CLIP_TEXT_ENCODE (object);
  g_clear_object (&self->model);
  g_clear_object (&self->tokenizer);
  g_clear_pointer (&self->empty_hidden, cxr_tensor_unref);
  G_OBJECT_CLASS (cxr_clip_text_encode_parent_class)->dispose (object);
}

static void
cxr_clip_text_encode_finalize (GObject *object)
{
  CxrClipTextEncode *self = CXR_CLIP_TEXT_ENCODE (object);
  for (guint id = T_TOKENIZER; id <= T_UNCONDITIONAL_FIELD; id++)
    g_free (*text_string_slot (self, id));
  G_OBJECT_CLASS (cxr_clip_text_encode_parent_class)->finalize (object);
}

static void
cxr_clip_text_encode_class_init (CxrClipTextEncodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_clip_text_encode_set_property;
  object_class->get_property = cxr_clip_text_encode_get_property;
  object_class->dispose = cxr_clip_text_encode_dispose;
  object_class->finalize = cxr_clip_text_encode_finalize;
  stage_class->prepare = cxr_clip_text_encode_prepare;
  stage_class->transform = cxr_clip_text_encode_transform;
  stage_class->get_port_fields = cxr_clip_text_encode_get_port_fields;
  text_props[T_MODEL] = g_param_spec_object ("model", "Model", "The text encoder (a clip-text model)",
                                             CXR_TYPE_TEXT_ENCODER, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  text_props[T_TOKENIZER] = g_param_spec_string ("tokenizer", "Tokenizer", "The folder of CLIP's vocab.json and "
                                                 "merges.txt (default: tokenizer/ beside the text encoder's folder)",
                                                 NULL, flags);
  text_props[T_PROMPT_FIELD] = g_param_spec_string ("prompt-field", "Prompt field", "The string field of the prompts",
                                                    "prompt", flags);
  text_props[T_EMBEDDING_FIELD] = g_param_spec_string ("embedding-field", "Embedding field", "The float field of the "
                                                       "reference-image embeddings (absent: zeros)",
                                                       "reference-embedding", flags);
  text_props[T_CONTEXT_FIELD] = g_param_spec_string ("context-field", "Context field", "The float field to write the "
                                                     "context to ([L + 1, D] per sample)", "context", flags);
  text_props[T_UNCONDITIONAL_FIELD] = g_param_spec_string ("unconditional-field", "Unconditional field",
                                                           "The float field to write the empty prompt's context to, "
                                                           "for guidance (empty: none)", "unconditional-context", flags);
  text_props[T_IMAGE_TOKEN] = g_param_spec_boolean ("image-token", "Image token", "Append the reference image's "
                                                    "embedding as one more token (the paper)", TRUE, flags);
  text_props[T_PAD_TO] = g_param_spec_uint ("pad-to", "Pad to", "Pad the prompts to this many tokens (0: the longest "
                                            "of the batch)", 0, 4096, 0, flags);
  g_object_class_install_properties (object_class, N_T, text_props);
  cxr_stage_class_set_metadata (stage_class, "CLIP text encoding", "Filter/Encoder",
                                "Encodes prompts with CLIP's text tower, with the reference image as one more token "
                                "(the paper's context)", "The cxrgen developers");
  cxr_stage_class_add_input (stage_class, "in", "prompt", "Samples with prompts");
  cxr_stage_class_add_output (stage_class, "out", "context", TRUE, "The same batches, with the contexts");
}

static void
cxr_clip_text_encode_init (CxrClipTextEncode *self)
{
}
