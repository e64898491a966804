/* plugins/phantom/cxrphantom.c: phantom-source, synthetic chest
 * radiographs with their labels and reports.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "cxrphantom.h"

/**
 * SECTION:phantom-source
 *
 * `phantom-source` makes deterministic synthetic frontal chest radiographs
 * in which each of the 14 observations is a visible feature, with labels
 * drawn with the co-occurrences of real findings and a MIMIC-style report
 * per study. Same seed, same samples.
 *
 * Anatomy: body outline, lungs, heart, mediastinum, spine, diaphragm,
 * posterior ribs, clavicles; pose, size, exposure and noise vary per image.
 * Findings: atelectasis (a plate-like band at a base), cardiomegaly (a
 * heart wider than half the thorax), consolidation (a dense patch with air
 * bronchograms), edema (perihilar haze), enlarged cardiomediastinum (a wide
 * mediastinum), fracture (a rib with a step), lung lesion (a round nodule),
 * lung opacity (patchy opacities), pleural effusion (fluid with a meniscus
 * at a base), pleural other (thickening along a lateral wall), pneumonia
 * (a fluffy lobar opacity), pneumothorax (a collapsed lung edge with no
 * markings beyond it), support devices (a tube or a pacemaker and lead).
 * An uncertain label (-1) is drawn faintly.
 *
 * Each batch carries: id (the DICOM id), subject, study, view, split
 * (subjects in folder p19 are "test", others "train" or "validate"),
 * labels (CheXpert encoding), report, and image (size x size floats in
 * [0, 1]; the extras "image-width" and "image-height" give the size).
 *
 * |[
 * [stage phantoms]
 * type=phantom-source
 * count=200
 * image-size=256
 * seed=1
 * ]|
 */

enum { ATL, CARD, CONS, EDEMA, ECM, FRAC, LESION, OPAC, NOFIND, EFF, PLOTHER, PNA, PTX, DEV };

struct _CxrPhantomSource {
  CxrStage parent_instance;
  guint count;
  guint image_size;
  guint64 seed;
  guint batch_size;
  guint next;
};

enum { P_0, P_COUNT, P_IMAGE_SIZE, P_SEED, P_BATCH_SIZE, N_P };
static GParamSpec *props[N_P];

G_DEFINE_FINAL_TYPE (CxrPhantomSource, cxr_phantom_source, CXR_TYPE_STAGE)

/* ---------------------------------------------------------------- labels */

typedef struct {
  gfloat labels[CXR_N_OBSERVATIONS]; /* CheXpert: 1, 0, -1, NaN */
  gint side[CXR_N_OBSERVATIONS];     /* 0 right, 1 left (patient's) */
  gint size[CXR_N_OBSERVATIONS];     /* 0 small, 1 moderate, 2 large */
  gint device;                       /* 0 tube, 1 pacemaker */
} Case;

static void
draw_labels (GRand *r, Case *c)
{
  gboolean normal = g_rand_double (r) < 0.25;
  gboolean failure = !normal && g_rand_double (r) < 0.35;
  gboolean infection = !normal && g_rand_double (r) < 0.35;
  gdouble p[CXR_N_OBSERVATIONS] = {
    [ATL] = 0.18, [CARD] = 0.15, [CONS] = 0.06, [EDEMA] = 0.06, [ECM] = 0.07, [FRAC] = 0.05, [LESION] = 0.07,
    [OPAC] = 0.12, [EFF] = 0.12, [PLOTHER] = 0.04, [PNA] = 0.05, [PTX] = 0.06, [DEV] = 0.15,
  };
  gboolean any = FALSE;

  if (failure)
    {
      p[CARD] += 0.55;
      p[EDEMA] += 0.5;
      p[EFF] += 0.4;
      p[DEV] += 0.25;
    }
  if (infection)
    {
      p[PNA] += 0.45;
      p[CONS] += 0.4;
      p[OPAC] += 0.45;
      p[ATL] += 0.15;
    }
  for (guint k = 0; k < CXR_N_OBSERVATIONS; k++)
    {
      c->labels[k] = NAN;
      c->side[k] = g_rand_int_range (r, 0, 2);
      c->size[k] = g_rand_int_range (r, 0, 3);
      if (k == NOFIND)
        continue;
      if (!normal && g_rand_double (r) < p[k])
        {
          c->labels[k] = g_rand_double (r) < 0.12 ? -1.0f : 1.0f;
          if (k != DEV)
            any = TRUE;
        }
      else if (g_rand_double (r) < 0.3 && k != DEV && k != ECM)
        c->labels[k] = 0.0f; /* said to be absent */
    }
  if (normal && g_rand_double (r) < 0.3)
    c->labels[DEV] = 1.0f;
  c->device = g_rand_int_range (r, 0, 2);
  c->labels[NOFIND] = any ? NAN : 1.0f;
}

/* ---------------------------------------------------------------- report */

static const gchar *const sides[] = { "right", "left" };
static const gchar *const sizes[] = { "small", "moderate", "large" };

static const gchar *
pick (GRand *r, const gchar *const *options, guint n)
{
  return options[g_rand_int_range (r, 0, (gint32) n)];
}

#define PICK(r, ...) pick (r, (const gchar *const[]) { __VA_ARGS__ }, G_N_ELEMENTS (((const gchar *const[]) { __VA_ARGS__ })))

/* A template with {side} and {size} filled in. */
static gchar *
fill (const gchar *template, const gchar *side, const gchar *size)
{
  GString *out = g_string_new (template);
  g_string_replace (out, "{side}", side, 0);
  g_string_replace (out, "{size}", size, 0);
  return g_string_free (out, FALSE);
}

/* The report: FINDINGS from every mention, IMPRESSION from the findings. */
static gchar *
write_report (GRand *r, const Case *c)
{
  GString *f = g_string_new ("FINDINGS: ");
  GString *imp = g_string_new ("");
  guint found = 0;

  for (guint k = 0; k < CXR_N_OBSERVATIONS; k++)
    {
      const gchar *side = sides[c->side[k]], *size = sizes[c->size[k]];
      gfloat v = c->labels[k];
      gchar *s = NULL;

      if (k == NOFIND || isnan (v))
        continue;
      if (v == 1.0f)
        switch (k)
          {
          case ATL: s = fill (PICK (r, "There is plate-like atelectasis at the {side} base.", "Subsegmental atelectasis in the {side} lower lobe."), side, size); break;
          case CARD: s = g_strdup (PICK (r, "The heart is enlarged.", "There is moderate cardiomegaly.", "Cardiomegaly is again seen.")); break;
          case CONS: s = fill (PICK (r, "Dense consolidation in the {side} lower lobe.", "There is focal consolidation in the {side} lung."), side, size); break;
          case EDEMA: s = g_strdup (PICK (r, "There is mild pulmonary edema.", "Perihilar haziness consistent with pulmonary edema.")); break;
          case ECM: s = g_strdup (PICK (r, "The mediastinum is widened.", "The cardiomediastinum is enlarged.")); break;
          case FRAC: s = fill (PICK (r, "There is a fracture of a {side} posterior rib.", "A displaced {side} rib fracture is noted."), side, size); break;
          case LESION: s = fill (PICK (r, "A rounded nodule projects over the {side} mid lung.", "There is a {side} lung nodule."), side, size); break;
          case OPAC: s = fill (PICK (r, "Patchy opacities in the {side} lung.", "There are {side} basilar opacities."), side, size); break;
          case EFF: s = fill (PICK (r, "There is a {size} {side} pleural effusion.", "A {size} {side} effusion is present."), side, size); break;
          case PLOTHER: s = fill (PICK (r, "There is {side} apical pleural thickening.", "Pleural thickening along the {side} lateral chest wall."), side, size); break;
          case PNA: s = fill (PICK (r, "Findings are consistent with {side} lower lobe pneumonia.", "There is {side} pneumonia."), side, size); break;
          case PTX: s = fill (PICK (r, "There is a {size} {side} pneumothorax.", "A {size} {side} apical pneumothorax is present."), side, size); break;
          case DEV: s = g_strdup (c->device == 0 ? PICK (r, "An endotracheal tube terminates above the carina.", "A nasogastric tube courses below the diaphragm.")
                                                  : PICK (r, "A left-sided pacemaker is in place with a lead in the right ventricle.", "A pacemaker is present.")); break;
          default: break;
          }
      else if (v == -1.0f)
        switch (k)
          {
          case ATL: s = g_strdup_printf ("Possible atelectasis at the %s base.", side); break;
          case CARD: s = g_strdup ("Borderline cardiomegaly."); break;
          case CONS: s = g_strdup_printf ("Consolidation in the %s lung cannot be excluded.", side); break;
          case EDEMA: s = g_strdup ("Possible mild pulmonary edema."); break;
          case ECM: s = g_strdup ("The mediastinum may be widened."); break;
          case FRAC: s = g_strdup_printf ("Possible %s rib fracture.", side); break;
          case LESION: s = g_strdup_printf ("A questionable nodule in the %s lung.", side); break;
          case OPAC: s = g_strdup_printf ("Possible faint opacity in the %s lung.", side); break;
          case EFF: s = g_strdup_printf ("A %s %s effusion cannot be excluded.", size, side); break;
          case PLOTHER: s = g_strdup_printf ("Possible %s pleural thickening.", side); break;
          case PNA: s = g_strdup_printf ("Findings could represent early %s pneumonia.", side); break;
          case PTX: s = g_strdup_printf ("Possible tiny %s pneumothorax.", side); break;
          case DEV: s = g_strdup ("Possible catheter overlying the chest."); break;
          default: break;
          }
      else /* 0: absent, said so */
        switch (k)
          {
          case ATL: s = g_strdup ("No atelectasis."); break;
          case CARD: s = g_strdup (PICK (r, "Heart size is normal.", "No cardiomegaly.")); break;
          case CONS: s = g_strdup (PICK (r, "No focal consolidation.", "There is no consolidation.")); break;
          case EDEMA: s = g_strdup (PICK (r, "No pulmonary edema.", "There is no edema.")); break;
          case FRAC: s = g_strdup ("No displaced rib fracture."); break;
          case LESION: s = g_strdup ("No suspicious pulmonary nodule."); break;
          case OPAC: s = g_strdup ("No focal opacity."); break;
          case EFF: s = g_strdup (PICK (r, "No pleural effusion.", "There is no pleural effusion.")); break;
          case PLOTHER: s = g_strdup ("No pleural thickening."); break;
          case PNA: s = g_strdup (PICK (r, "No evidence of pneumonia.", "No pneumonia.")); break;
          case PTX: s = g_strdup (PICK (r, "No pneumothorax.", "There is no pneumothorax.")); break;
          default: break;
          }
      if (s != NULL)
        {
          g_string_append_printf (f, "%s ", s);
          if (v != 0.0f && k != DEV)
            {
              g_string_append_printf (imp, "%s%s", found ? " " : "", s);
              found++;
            }
          g_free (s);
        }
    }
  if (c->labels[NOFIND] == 1.0f && f->len == strlen ("FINDINGS: "))
    g_string_append (f, "The lungs are clear. ");
  g_string_truncate (f, f->len - 1);
  g_string_append_printf (f, "\n\nIMPRESSION: %s", found ? imp->str : "No acute cardiopulmonary process.");
  g_string_free (imp, TRUE);
  return g_string_free (f, FALSE);
}

/* ---------------------------------------------------------------- render */

typedef struct {
  gfloat *px;
  gint n;
  /* pose: image point (u, v) in [0, 1] maps to anatomy coordinates */
  gdouble angle, dx, dy, scale;
} Canvas;

static inline void
to_anatomy (const Canvas *cv, gdouble u, gdouble v, gdouble *x, gdouble *y)
{
  gdouble cu = u - 0.5 - cv->dx, cvv = v - 0.5 - cv->dy;
  gdouble ca = cos (cv->angle), sa = sin (cv->angle);
  *x = (ca * cu + sa * cvv) / cv->scale + 0.5;
  *y = (-sa * cu + ca * cvv) / cv->scale + 0.5;
}

static inline gdouble
smooth_inside (gdouble d, gdouble soft)
{
  /* 1 well inside (d < -soft), 0 outside (d > soft) */
  if (d <= -soft)
    return 1.0;
  if (d >= soft)
    return 0.0;
  return 0.5 - 0.5 * sin (G_PI * d / (2 * soft));
}

/* Adds @value inside an ellipse, with soft edges. */
static void
ellipse (Canvas *cv, gdouble cx, gdouble cy, gdouble rx, gdouble ry, gdouble value, gdouble soft)
{
  for (gint j = 0; j < cv->n; j++)
    for (gint i = 0; i < cv->n; i++)
      {
        gdouble x, y, d;
        to_anatomy (cv, (i + 0.5) / cv->n, (j + 0.5) / cv->n, &x, &y);
        d = sqrt (((x - cx) / rx) * ((x - cx) / rx) + ((y - cy) / ry) * ((y - cy) / ry)) - 1.0;
        if (d < soft * 3)
          cv->px[j * cv->n + i] += (gfloat) (value * smooth_inside (d * MIN (rx, ry), soft * MIN (rx, ry)));
      }
}

/* Adds @value along a segment of half-width @w. */
static void
segment (Canvas *cv, gdouble x0, gdouble y0, gdouble x1, gdouble y1, gdouble w, gdouble value)
{
  gdouble lx = x1 - x0, ly = y1 - y0, len2 = lx * lx + ly * ly;
  for (gint j = 0; j < cv->n; j++)
    for (gint i = 0; i < cv->n; i++)
      {
        gdouble x, y, t, px, py, d;
        to_anatomy (cv, (i + 0.5) / cv->n, (j + 0.5) / cv->n, &x, &y);
        t = len2 > 0 ? CLAMP (((x - x0) * lx + (y - y0) * ly) / len2, 0.0, 1.0) : 0.0;
        px = x0 + t * lx - x;
        py = y0 + t * ly - y;
        d = sqrt (px * px + py * py) - w;
        if (d < w)
          cv->px[j * cv->n + i] += (gfloat) (value * smooth_inside (d, w * 0.5));
      }
}

/* An arc y = y0 + a (x - xc)^2 for x in [x0, x1], as segments. */
static void
arc (Canvas *cv, gdouble xc, gdouble y0, gdouble a, gdouble x0, gdouble x1, gdouble w, gdouble value, gdouble gap_at)
{
  const gint steps = 8;
  for (gint s = 0; s < steps; s++)
    {
      gdouble xa = x0 + (x1 - x0) * s / steps, xb = x0 + (x1 - x0) * (s + 1) / steps;
      gdouble ya = y0 + a * (xa - xc) * (xa - xc), yb = y0 + a * (xb - xc) * (xb - xc);
      if (gap_at >= 0 && s == (gint) gap_at)
        {
          /* a fracture: a step and a gap */
          segment (cv, xa, ya + 0.012, xb, yb + 0.012, w, value);
          continue;
        }
      segment (cv, xa, ya, xb, yb, w, value);
    }
}

static void
render (GRand *r, const Case *c, gfloat *px, gint n)
{
  Canvas cv = { px, n, 0, 0, 0, 1 };
  gdouble strength[CXR_N_OBSERVATIONS];
  gdouble ctr, heart_rx, med_w, gain, offset, gamma;
  g_autofree gfloat *noise = NULL;

  for (guint k = 0; k < CXR_N_OBSERVATIONS; k++)
    strength[k] = c->labels[k] == 1.0f ? 1.0 : c->labels[k] == -1.0f ? 0.45 : 0.0;
  cv.angle = (g_rand_double (r) - 0.5) * 0.1;
  cv.dx = (g_rand_double (r) - 0.5) * 0.05;
  cv.dy = (g_rand_double (r) - 0.5) * 0.05;
  cv.scale = 0.93 + g_rand_double (r) * 0.1;
  memset (px, 0, sizeof (gfloat) * n * n);

  /* body, then the lungs carved out of it */
  ellipse (&cv, 0.5, 0.56, 0.46, 0.58, 0.32, 0.08);
  ellipse (&cv, 0.5, 0.02, 0.22, 0.1, 0.05, 0.3); /* neck */
  {
    gdouble collapse = strength[PTX] * (0.35 + 0.2 * c->size[PTX]);
    for (gint s = 0; s < 2; s++)
      {
        gdouble cx = s == 0 ? 0.33 : 0.67, rx = 0.145, ry = 0.28;
        if (strength[PTX] > 0 && c->side[PTX] == s)
          {
            /* the collapsed lung, and beyond its edge dark air without markings */
            ellipse (&cv, cx, 0.46, rx, ry, -0.24, 0.06);
            ellipse (&cv, cx + (s == 0 ? 0.03 : -0.03) * collapse, 0.5, rx * (1 - collapse), ry * (1 - 0.4 * collapse), 0.05, 0.1);
          }
        else
          ellipse (&cv, cx, 0.46, rx, ry, -0.2, 0.06);
      }
  }
  /* spine and mediastinum */
  segment (&cv, 0.5, 0.0, 0.5, 1.0, 0.025, 0.16);
  med_w = 0.055 + 0.04 * strength[ECM];
  ellipse (&cv, 0.5, 0.33, med_w, 0.2, 0.22, 0.15);
  /* heart: the cardiothoracic ratio is about 0.45, 0.6 with cardiomegaly */
  ctr = 0.44 + 0.03 * (g_rand_double (r) - 0.5) + 0.16 * strength[CARD];
  heart_rx = ctr * 0.62 / 2;
  ellipse (&cv, 0.53, 0.6, heart_rx, 0.12 + 0.02 * strength[CARD], 0.28, 0.12);
  /* diaphragm domes */
  ellipse (&cv, 0.33, 0.77, 0.16, 0.07, 0.2, 0.2);
  ellipse (&cv, 0.67, 0.79, 0.16, 0.07, 0.2, 0.2);
  /* posterior ribs, a fracture on one of them */
  for (gint k = 0; k < 9; k++)
    for (gint s = 0; s < 2; s++)
      {
        gdouble xc = s == 0 ? 0.33 : 0.67, y0 = 0.2 + 0.058 * k;
        gdouble gap = (strength[FRAC] > 0 && c->side[FRAC] == s && k == 4) ? 5 : -1;
        arc (&cv, xc, y0, 1.2, xc - 0.16, xc + 0.16, 0.006, 0.07, gap);
      }
  /* clavicles */
  segment (&cv, 0.18, 0.2, 0.45, 0.15, 0.012, 0.14);
  segment (&cv, 0.82, 0.2, 0.55, 0.15, 0.012, 0.14);

  /* findings */
  if (strength[ATL] > 0)
    {
      gdouble cx = c->side[ATL] == 0 ? 0.33 : 0.67;
      segment (&cv, cx - 0.09, 0.64, cx + 0.08, 0.61, 0.012, 0.16 * strength[ATL]);
    }
  if (strength[CONS] > 0)
    {
      gdouble cx = c->side[CONS] == 0 ? 0.3 : 0.7;
      ellipse (&cv, cx, 0.6, 0.08, 0.07, 0.2 * strength[CONS], 0.2);
      segment (&cv, cx - 0.03, 0.57, cx + 0.04, 0.62, 0.004, -0.08 * strength[CONS]); /* air bronchogram */
    }
  if (strength[EDEMA] > 0)
    for (gint s = 0; s < 2; s++)
      {
        gdouble cx = s == 0 ? 0.38 : 0.62;
        ellipse (&cv, cx, 0.45, 0.1, 0.14, 0.1 * strength[EDEMA], 0.6);
        for (gint k = 0; k < 4; k++)
          segment (&cv, cx, 0.43, cx + (s == 0 ? -0.1 : 0.1), 0.33 + 0.06 * k, 0.003, 0.06 * strength[EDEMA]);
      }
  if (strength[LESION] > 0)
    {
      gdouble cx = c->side[LESION] == 0 ? 0.31 : 0.69;
      ellipse (&cv, cx, 0.4, 0.025 + 0.01 * c->size[LESION], 0.025 + 0.01 * c->size[LESION], 0.22 * strength[LESION], 0.2);
    }
  if (strength[OPAC] > 0)
    for (gint k = 0; k < 3; k++)
      {
        gdouble cx = (c->side[OPAC] == 0 ? 0.3 : 0.7) + 0.04 * (k - 1);
        ellipse (&cv, cx, 0.5 + 0.06 * k, 0.04, 0.03, 0.1 * strength[OPAC], 0.6);
      }
  if (strength[PNA] > 0)
    {
      gdouble cx = c->side[PNA] == 0 ? 0.32 : 0.68;
      ellipse (&cv, cx, 0.62, 0.11, 0.08, 0.14 * strength[PNA], 0.5);
    }
  if (strength[EFF] > 0)
    {
      /* fluid at the base with a meniscus: an ellipse whose top curves up at the wall */
      gdouble cx = c->side[EFF] == 0 ? 0.33 : 0.67, h = 0.05 + 0.04 * c->size[EFF];
      ellipse (&cv, cx, 0.74, 0.16, h, 0.2 * strength[EFF], 0.1);
      ellipse (&cv, cx + (c->side[EFF] == 0 ? -0.12 : 0.12), 0.7 - h * 0.5, 0.04, h, 0.12 * strength[EFF], 0.2);
    }
  if (strength[PLOTHER] > 0)
    {
      gdouble x = c->side[PLOTHER] == 0 ? 0.19 : 0.81;
      segment (&cv, x, 0.25, x + (c->side[PLOTHER] == 0 ? 0.01 : -0.01), 0.6, 0.01, 0.14 * strength[PLOTHER]);
    }
  if (strength[DEV] > 0)
    {
      if (c->device == 0)
        segment (&cv, 0.5, 0.0, 0.5, 0.3, 0.005, 0.45 * strength[DEV]);
      else
        {
          ellipse (&cv, 0.75, 0.16, 0.035, 0.025, 0.5 * strength[DEV], 0.1);
          segment (&cv, 0.75, 0.16, 0.58, 0.3, 0.003, 0.45 * strength[DEV]);
          segment (&cv, 0.58, 0.3, 0.52, 0.58, 0.003, 0.45 * strength[DEV]);
        }
    }

  /* exposure and noise */
  gain = 0.9 + 0.25 * g_rand_double (r);
  offset = 0.04 * (g_rand_double (r) - 0.5);
  gamma = 0.85 + 0.3 * g_rand_double (r);
  noise = g_new (gfloat, (gsize) n * n);
  cxr_philox_normal (g_rand_int (r), 0, noise, (gsize) n * n);
  for (gint i = 0; i < n * n; i++)
    {
      gdouble v = CLAMP (gain * (px[i] + 0.06) + offset, 0.0, 1.0);
      px[i] = (gfloat) CLAMP (pow (v, gamma) + 0.012 * noise[i], 0.0, 1.0);
    }
}

/* ---------------------------------------------------------------- stage */

static gboolean
cxr_phantom_source_prepare (CxrStage *stage, GError **error)
{
  CxrPhantomSource *self = CXR_PHANTOM_SOURCE (stage);
  self->next = 0;
  cxr_stage_set_total (stage, self->count);
  return TRUE;
}

static CxrFlowReturn
cxr_phantom_source_process (CxrStage *stage, guint port, CxrBatch *unused, GError **error)
{
  CxrPhantomSource *self = CXR_PHANTOM_SOURCE (stage);
  guint n = MIN (self->batch_size, self->count - self->next);
  gint size = (gint) self->image_size;
  g_autoptr (CxrBatch) batch = NULL;
  g_autofree gfloat *labels = NULL, *images = NULL;
  gchar **ids, **subjects, **studies, **views, **splits, **reports;

  if (n == 0)
    return CXR_FLOW_EOS;
  labels = g_new (gfloat, (gsize) n * CXR_N_OBSERVATIONS);
  images = g_new (gfloat, (gsize) n * size * size);
  ids = g_new0 (gchar *, n + 1);
  subjects = g_new0 (gchar *, n + 1);
  studies = g_new0 (gchar *, n + 1);
  views = g_new0 (gchar *, n + 1);
  splits = g_new0 (gchar *, n + 1);
  reports = g_new0 (gchar *, n + 1);
  for (guint b = 0; b < n; b++)
    {
      guint index = self->next + b;
      guint32 key[3] = { (guint32) self->seed, (guint32) (self->seed >> 32), index };
      g_autoptr (GRand) r = g_rand_new_with_seed_array (key, 3);
      /* subjects: two studies each, spread over the folders p10 ... p19 */
      guint subject_index = index / 2;
      guint folder = 10 + subject_index % 10;
      guint subject = folder * 1000000 + subject_index;
      guint study = 50000000 + index;
      Case c;

      draw_labels (r, &c);
      memcpy (labels + (gsize) b * CXR_N_OBSERVATIONS, c.labels, sizeof c.labels);
      ids[b] = g_strdup_printf ("%08x-%08x-%08x-%08x-%08x", (guint32) (self->seed * 2654435761u) ^ index, subject,
                                study, index * 40503u, (guint32) self->seed);
      subjects[b] = g_strdup_printf ("%u", subject);
      studies[b] = g_strdup_printf ("%u", study);
      views[b] = g_strdup (g_rand_double (r) < 0.8 ? "PA" : "AP");
      splits[b] = g_strdup (folder == 19 ? "test" : (subject_index % 10 == 3 && (subject_index / 10) % 4 == 0) ? "validate" : "train");
      reports[b] = write_report (r, &c);
      render (r, &c, images + (gsize) b * size * size, size);
    }
  batch = cxr_batch_new (n);
  cxr_batch_set_sequence (batch, self->next / MAX (self->batch_size, 1));
  cxr_batch_take_strings (batch, CXR_FIELD_ID, ids);
  cxr_batch_take_strings (batch, "subject", subjects);
  cxr_batch_take_strings (batch, "study", studies);
  cxr_batch_take_strings (batch, "view", views);
  cxr_batch_take_strings (batch, "split", splits);
  cxr_batch_take_strings (batch, CXR_FIELD_REPORT, reports);
  cxr_batch_set_floats (batch, CXR_FIELD_LABELS, CXR_N_OBSERVATIONS, labels, (gsize) n * CXR_N_OBSERVATIONS);
  cxr_batch_set_floats (batch, "image", (guint) (size * size), images, (gsize) n * size * size);
  cxr_batch_set_extra (batch, "image-width", g_variant_new_uint32 ((guint32) size));
  cxr_batch_set_extra (batch, "image-height", g_variant_new_uint32 ((guint32) size));
  self->next += n;
  return cxr_stage_push (stage, batch);
}

static void
cxr_phantom_source_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  CxrPhantomSource *self = CXR_PHANTOM_SOURCE (object);
  switch (id)
    {
    case P_COUNT: self->count = g_value_get_uint (value); break;
    case P_IMAGE_SIZE: self->image_size = g_value_get_uint (value); break;
    case P_SEED: self->seed = g_value_get_uint64 (value); break;
    case P_BATCH_SIZE: self->batch_size = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_phantom_source_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  CxrPhantomSource *self = CXR_PHANTOM_SOURCE (object);
  switch (id)
    {
    case P_COUNT: g_value_set_uint (value, self->count); break;
    case P_IMAGE_SIZE: g_value_set_uint (value, self->image_size); break;
    case P_SEED: g_value_set_uint64 (value, self->seed); break;
    case P_BATCH_SIZE: g_value_set_uint (value, self->batch_size); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
cxr_phantom_source_class_init (CxrPhantomSourceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  CxrStageClass *stage_class = CXR_STAGE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS;

  object_class->set_property = cxr_phantom_source_set_property;
  object_class->get_property = cxr_phantom_source_get_property;
  stage_class->prepare = cxr_phantom_source_prepare;
  stage_class->process = cxr_phantom_source_process;
  props[P_COUNT] = g_param_spec_uint ("count", "Count", "How many studies (one image each) to make", 0, 10000000, 100, flags);
  props[P_IMAGE_SIZE] = g_param_spec_uint ("image-size", "Image size", "The side of the square images, in pixels", 32,
                                           4096, 256, flags);
  props[P_SEED] = g_param_spec_uint64 ("seed", "Seed", "Same seed, same samples", 0, G_MAXUINT64, 1, flags);
  props[P_BATCH_SIZE] = g_param_spec_uint ("batch-size", "Batch size", "Samples per batch", 1, 4096, 8, flags);
  g_object_class_install_properties (object_class, N_P, props);
  cxr_stage_class_set_metadata (stage_class, "Phantom chest radiographs", "Source/Data",
                                "Makes synthetic chest radiographs with every observation visible, labels and "
                                "MIMIC-style reports, deterministically", "The cxrgen developers");
  cxr_stage_class_add_output (stage_class, "out", "id,subject,study,view,split,labels,report,image", FALSE,
                              "Batches of studies");
}

static void
cxr_phantom_source_init (CxrPhantomSource *self)
{
  self->count = 100;
  self->image_size = 256;
  self->seed = 1;
  self->batch_size = 8;
}
