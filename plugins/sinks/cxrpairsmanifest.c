/* plugins/sinks/cxrpairsmanifest.c: pairs-manifest, a JSON-lines record of generated pairs.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "cxrsinks.h"

/**
 * SECTION:pairs-manifest
 *
 * `pairs-manifest` writes one JSON object per sample to a JSON-lines file,
 * the record of what a run made and how:
 *
 * |[
 * {"id": "...", "image": "images/x.png", "report-path": "reports/x.txt",
 *  "report": "...", "prompt": "...", "labels": [1, -1, ...],
 *  "label-encoding": "reference", "seed": "42",
 *  "weights": {"unet.safetensors": "sha256:..."}, "generator": "cxrgen 0.1.0"}
 * ]|
 *
 * Each key is there when the batch has its field: id, image (the
 * image-path field image-sink adds), report-path, report, prompt, labels
 * (null for a blank), seed; `weights` lists files whose SHA-256 is
 * computed once when the run starts, keyed by file name (by the path as
 * given when two share a name). The file is written atomically when
 * the stream ends: a failed or cancelled run leaves none.
 */

struct _CxrPairsManifest {
  CxrStage parent_instance;
  gchar *path;
  gchar **weights;
  gchar *constant; /* the keys every line shares, as JSON members */
  CxrAtomicFile *file;
};

enum { P_0, P_PATH, P_WEIGHTS, N_P };
static GParamSpec *props[N_P];

G_DEFINE_FINAL_TYPE (CxrPairsManifest, cxr_pairs_manifest, CXR_TYPE_STAGE)

static gchar *
file_sha256 (const gchar *path, GError **error)
{
  g_autoptr (GMappedFile) mapped = NULL;
  g_autoptr (GError) local = NULL;

  mapped = g_mapped_file_new (path, FALSE, &local);
  if (mapped == NULL)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "weights: %s", local->message);
      return NULL;
    }
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) g_mapped_file_get_contents (mapped),
                                      g_mapped_file_get_length (mapped));
}

static gboolean
cxr_pairs_manifest_prepare (CxrStage *stage, GError **error)
{
  CxrPairsManifest *self = CXR_PAIRS_MANIFEST (stage);
  g_autoptr (GString) constant = g_string_new (NULL);
  g_autofree gchar *dir = NULL;

  if (self->path == NULL || *self->path == '\0')
    {
      g_set_error (error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED, "no path: set path=FILE.jsonl");
      return FALSE;
    }
  if (self->weights != NULL && self->weights[0] != NULL)
    {
      g_string_append (constant, ", \"weights\": {");
      for (guint i = 0; self->weights[i]; i++)
        {
          g_autofree gchar *sum = file_sha256 (self->weights[i], error);
          g_autofree gchar *name = g_path_get_basename (self->weights[i]);
          g_autofree gchar *value = NULL;
          if (sum == NULL)
            return FALSE;
          /* two files of one name (model.safetensors of BART and of the
           * prior) are told apart by their paths as given */
          for (guint j = 0; self->weights[j]; j++)
            {
              g_autofree gchar *other = g_path_get_basename (self->weights[j]);
              if (j != i && g_str_equal (other, name))
                {
                  g_free (name);
                  name = g_strdup (self->weights[i]);
                  break;
                }
            }
          value = g_strdup_printf ("sha256:%s", sum);
          if (i > 0)
            g_string_append (constant, ", ");
          cxr_json_append_string (constant, name);
          g_string_append (constant, ": ");
          cxr_json_append_string (constant, value);
        }
      g_string_append_c (constant, '}');
    }
  g_string_append_printf (constant, ", \"generator\": \"cxrgen %s\"", cxr_get_version ());
  g_free (self->constant);
  self->constant = g_string_free (g_steal_pointer (&constant), FALSE);
  dir = g_path_get_dirname (self->path);
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED, "%s: cannot create the folder %s: %s", self->path, dir,
                   g_strerror (errno));
      return FALSE;
    }
  g_clear_pointer (&self->file, cxr_atomic_file_free);
  self->file = cxr_atomic_file_new (self->path, error);
  return self->file != NULL;
}

static void
append_text (GString *line, CxrBatch *batch, const gchar *field, const gchar *key, guint i)
{
  if (cxr_batch_get_field_kind (batch, field) != CXR_FIELD_KIND_STRINGS)
    return;
  if (line->len > 1)
    g_string_append (line, ", ");
  cxr_json_append_string (line, key);
  g_string_append (line, ": ");
  cxr_json_append_string (line, cxr_batch_get_string (batch, field, i));
}

static CxrFlowReturn
cxr_pairs_manifest_process (CxrStage *stage, guint port, CxrBatch *batch, GError **error)
{
  CxrPairsManifest *self = CXR_PAIRS_MANIFEST (stage);
  guint n = cxr_batch_get_size (batch), width = 0;
  const gfloat *labels = cxr_batch_get_floats (batch, CXR_FIELD_LABELS, &width, NULL);
  GVariant *encoding = cxr_batch_get_extra (batch, "label-encoding");
  g_autoptr (GString) text = g_string_new (NULL);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GString) line = g_string_new ("{");
      append_text (line, batch, CXR_FIELD_ID, "id", i);
      append_text (line, batch, "image-path", "image", i);
      append_text (line, batch, "report-path", "report-path", i);
      append_text (line, batch, CXR_FIELD_REPORT, "report", i);
      append_text (line, batch, CXR_FIELD_PROMPT, "prompt", i);
      if (labels != NULL)
        {
          g_string_append (line, line->len > 1 ? ", \"labels\": [" : "\"labels\": [");
          for (guint k = 0; k < width; k++)
            {
              gfloat v = labels[(gsize) i * width + k];
              if (k > 0)
                g_string_append (line, ", ");
              if (isnan (v))
                g_string_append (line, "null");
              else
                g_string_append_printf (line, "%g", (gdouble) v);
            }
          g_string_append_c (line, ']');
          if (encoding != NULL && g_variant_is_of_type (encoding, G_VARIANT_TYPE_STRING))
            {
              g_string_append (line, ", \"label-encoding\": ");
              cxr_json_append_string (line, g_variant_get_string (encoding, NULL));
            }
        }
      append_text (line, batch, "seed", "seed", i);
      g_string_append (line, line->len > 1 ? self->constant : self->constant + 2);
      g_string_append (line, "}\n");
      g_string_append_len (text, line->str, (gssize) line->len);
    }
  if (!cxr_atomic_file_write (self->file, text->str, text->len, error))
    return CXR_FLOW_ERROR;
  return cxr_stage_push (stage, batch);
}

static gboolean
cxr_pairs_manifest_finish (CxrStage *stage, GError **error)
{
  return cxr_atomic_file_commit (CXR_PAIRS_MANIFEST (stage)->file, error);
}

static void
cxr_pairs_manifest_stop (CxrStage *stage, gboolean completed)
{
  /* Uncommitted: the temporary file goes away with it. */
  g_clear_pointer (&CXR_PAIRS_MANIFEST (stage)->file, cxr_atomic_file_free);
}

static void
cxr_pairs_manifest_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrPairsManifest *self = CXR_PAIRS_MANIFEST (object);
  switch (id)
    {
    case P_PATH: g_free (self->path); self->path = g_value_dup_string (value); break;
    case P_WEIGHTS: g_strfreev (self->weights); self->weights = g_value_dup_boxed (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_pairs_manifest_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrPairsManifest *self = CXR_PAIRS_MANIFEST (object);
  switch (id)
    {
    case P_PATH: g_value_set_string (value, self->path); break;
    case P_WEIGHTS: g_value_set_boxed (value, self->weights); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_pairs_manifest_finalize (GObject *object)
{
  CxrPairsManifest *self = CXR_PAIRS_MANIFEST (object);
  g_free (self->path);
  g_strfreev (self->weights);
  g_free (self->constant);
  g_clear_pointer (&self->file, cxr_atomic_file_free);
  G_OBJECT_CLASS (cxr_pairs_manifest_parent_class)->finalize (object);
}

static void
cxr_pairs_manifest_class_init (CxrPairsManifestClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);

  object_class->set_property = cxr_pairs_manifest_set_property;
  object_class->get_property = cxr_pairs_manifest_get_property;
  object_class->finalize = cxr_pairs_manifest_finalize;
  stage_class->prepare = cxr_pairs_manifest_prepare;
  stage_class->process = cxr_pairs_manifest_process;
  stage_class->finish = cxr_pairs_manifest_finish;
  stage_class->stop = cxr_pairs_manifest_stop;
  props[P_PATH] = g_param_spec_string ("path", "Path", "The JSON-lines file to write (its folder is created)", NULL,
                                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  props[P_WEIGHTS] = g_param_spec_boxed ("weights", "Weights", "Weight files to record the SHA-256 of",
                                         G_TYPE_STRV, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_P, props);
  cxr_stage_class_set_metadata (stage_class, "Pairs manifest", "Sink/Record",
                                "Writes a JSON-lines record of each pair: image, report, labels, prompt, seed and "
                                "the weights' hashes", "The cxrgen developers");
  cxr_stage_class_add_input (stage_class, "in", "id", "Samples");
  cxr_stage_class_add_output (stage_class, "out", NULL, TRUE, "The same batches");
}

static void
cxr_pairs_manifest_init (CxrPairsManifest *self)
{
}
