/* core/io/cxr-jpeg-dc.c: decoding a grayscale JPEG at one eighth of its
 * size, for the 2500x3000 radiographs that training reads at 256x256.
 *
 * At that scale a block's only sample is its DC coefficient, so the cost is
 * the Huffman decoding of the AC coefficients that must be read past.
 * libjpeg reads each as a code lookup then its magnitude bits; here one
 * lookup on the next LOOKUP_BITS bits of a 64-bit buffer says how many bits
 * the whole coefficient takes (code and magnitude), and the next one's
 * when both fit in those bits, and how far they move in the block; the
 * magnitudes are never read. Anything outside the plain
 * case gives up and leaves the file to libjpeg (cxr-jpeg-private.h).
 *
 * The file layout is ITU-T T.81: markers (annex B), canonical Huffman
 * tables (annex C), the DC difference coding and the AC run/size symbols
 * (F.1.2), byte stuffing and restart markers (B.1.1.5, F.1.2.3).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "cxr-jpeg-private.h"

#include <string.h>

/* Bits looked up at once: codes this long or shorter (nearly all of them
 * in a radiograph's tables) take one lookup; longer ones walk the
 * canonical code lengths. */
#define LOOKUP_BITS 12

/* Bytes read past the last entropy byte: a block's worth of the longest
 * codes (64 coefficients of 16 + 15 bits) and the bit buffer's 8. */
#define PADDING 320

/* A DC lookup entry: the code's length, the size of the difference that
 * follows. An AC entry: the bits the first coefficient takes and how far
 * it moves the index in the block (END_OF_BLOCK moves it past the end),
 * then the same for it and the next together (the first again when the
 * next does not fit). 0: no code this short. */
#define DC_ENTRY(length, size) ((guint32) ((length) | ((size) << 5)))
#define DC_LENGTH(e) ((e) & 31)
#define DC_SIZE(e) ((e) >> 5)
#define END_OF_BLOCK 64
#define AC_ENTRY(taken, moved, taken_both, moved_both) \
  ((guint32) ((taken) | ((moved) << 5) | ((taken_both) << 12) | ((guint32) (moved_both) << 17)))
#define AC_TAKEN(e) ((e) & 31)
#define AC_MOVED(e) (((e) >> 5) & 127)
#define AC_TAKEN_BOTH(e) (((e) >> 12) & 31)
#define AC_MOVED_BOTH(e) ((e) >> 17)

typedef struct {
  gboolean defined;
  guint8 counts[17];   /* counts[l]: codes of l bits */
  guint8 values[256];  /* symbols in code order */
} HuffmanSpec;

typedef struct {
  guint32 lookup[1 << LOOKUP_BITS];
  gint32 max_code[17];  /* largest code of l bits, -1 when none */
  gint32 offset[17];    /* values index of a code of l bits minus the code */
  guint8 values[256];
} HuffmanTable;

typedef struct {
  const guint8 *next;  /* the next byte not wholly in acc */
  guint64 acc;         /* the next bits, from the top */
  guint n_bits;        /* how many of acc's bits are the stream's */
} BitReader;

static inline guint
read_be16 (const guint8 *p)
{
  return (guint) p[0] << 8 | p[1];
}

/* Tops the buffer up to 56..63 bits (F. Giesen's branchless refill): the
 * bytes past the last whole one are read again next time, to the same
 * place. */
static inline void
bits_refill (BitReader *r)
{
  guint64 word;

  memcpy (&word, r->next, 8);
  r->acc |= GUINT64_FROM_BE (word) >> r->n_bits;
  r->next += (63 - r->n_bits) >> 3;
  r->n_bits |= 56;
}

static inline void
bits_drop (BitReader *r, guint n)
{
  r->acc <<= n;
  r->n_bits -= n;
}

/* The bits read so far from @start. */
static inline gsize
bits_position (const BitReader *r, const guint8 *start)
{
  return (gsize) (r->next - start) * 8 - r->n_bits;
}

/* Builds a table as T.81 C.2 assigns the codes: by length, each length's
 * codes counting on from the last one's, shifted left. FALSE for a set of
 * counts that does not fit (a code of all ones, as libjpeg refuses), or a
 * DC size past 15. */
static gboolean
huffman_table_build (HuffmanTable *table, const HuffmanSpec *spec, gboolean is_dc)
{
  guint code = 0, index = 0;

  memset (table->lookup, 0, sizeof table->lookup);
  for (guint length = 1; length <= 16; length++)
    {
      table->offset[length] = (gint32) index - (gint32) code;
      for (guint i = 0; i < spec->counts[length]; i++, index++, code++)
        {
          guint symbol = spec->values[index];
          guint run = symbol >> 4, size = symbol & 15;
          guint32 entry;

          /* codes of a length run out before the all-ones one */
          if (code + 1 >= 1u << length || (is_dc && symbol > 15))
            return FALSE;
          if (length > LOOKUP_BITS)
            continue;
          if (is_dc)
            entry = DC_ENTRY (length, symbol);
          else if (size > 0)
            entry = AC_ENTRY (length + size, run + 1, length + size, run + 1);
          else if (run == 15)  /* sixteen zeros */
            entry = AC_ENTRY (length, 16, length, 16);
          else  /* end of block: libjpeg ends on any run with size 0 but 15 */
            entry = AC_ENTRY (length, END_OF_BLOCK, length, END_OF_BLOCK);
          for (guint fill = code << (LOOKUP_BITS - length); fill < (code + 1) << (LOOKUP_BITS - length); fill++)
            table->lookup[fill] = entry;
        }
      table->max_code[length] = spec->counts[length] > 0 ? (gint32) code - 1 : -1;
      if (code >= 1u << length)
        return FALSE;
      code <<= 1;
    }
  memcpy (table->values, spec->values, sizeof table->values);

  /* Pairs: where the first coefficient leaves the next one's code and
   * magnitude whole in the bits looked up, one lookup takes both (the
   * first one's entry is complete, the bits after it are known). An end of
   * block is never first of a pair. */
  if (!is_dc)
    for (guint bits = 0; bits < 1u << LOOKUP_BITS; bits++)
      {
        guint32 first = table->lookup[bits], second;
        guint taken = AC_TAKEN (first);

        if (first == 0 || taken >= LOOKUP_BITS || AC_MOVED (first) == END_OF_BLOCK)
          continue;
        /* (that entry may be a pair already: its first part is the one) */
        second = table->lookup[(bits << taken) & ((1u << LOOKUP_BITS) - 1)];
        if (second == 0 || taken + AC_TAKEN (second) > LOOKUP_BITS)
          continue;
        table->lookup[bits] = AC_ENTRY (taken, AC_MOVED (first), taken + AC_TAKEN (second),
                                        AC_MOVED (first) + AC_MOVED (second));
      }
  return TRUE;
}

/* A code longer than LOOKUP_BITS (F.16's walk over the lengths): its
 * symbol, its bits dropped; -1 when the bits are no code. */
static gint
huffman_decode_long (const HuffmanTable *table, BitReader *r)
{
  for (guint length = LOOKUP_BITS + 1; length <= 16; length++)
    {
      gint32 code = (gint32) (r->acc >> (64 - length));

      if (code <= table->max_code[length])
        {
          bits_drop (r, length);
          return table->values[(table->offset[length] + code) & 255];
        }
    }
  return -1;
}

/* What libjpeg's jpeg_idct_1x1 makes of a DC coefficient: the
 * dequantised value divided by 8, rounded, and its range limit, which
 * wraps as its table does (values from 128 past the top are black, from
 * 384 past it white again; T.81 data never gets there, a bad file can). */
static inline guint8
dc_sample (gint32 coefficient, gint32 quantum)
{
  gint32 value = (((gint32) (gint16) coefficient * quantum) + 4) >> 3;
  guint wrapped = (guint) value & 1023;

  if (wrapped < 128)
    return (guint8) (128 + wrapped);
  if (wrapped < 512)
    return 255;
  if (wrapped < 896)
    return 0;
  return (guint8) (wrapped - 896);
}

typedef struct {
  guint width, height, component_id, quant_table, restart_interval;
  guint dc_table, ac_table;
  gint32 quanta[4];
  gboolean quant_defined[4];
  HuffmanSpec dc_specs[4], ac_specs[4];
  gsize entropy_start;
} Header;

/* Reads the markers up to the first scan's data. FALSE for any file
 * outside the plain case. */
static gboolean
read_header (const guint8 *data, gsize length, Header *h)
{
  gsize at = 2;
  gboolean have_frame = FALSE;

  if (length < 4 || data[0] != 0xFF || data[1] != 0xD8)
    return FALSE;
  for (;;)
    {
      guint marker, size;
      const guint8 *body;

      if (at + 4 > length || data[at] != 0xFF)
        return FALSE;
      while (at + 4 <= length && data[at + 1] == 0xFF)  /* fill bytes */
        at++;
      if (at + 4 > length)
        return FALSE;
      marker = data[at + 1];
      size = read_be16 (data + at + 2);
      if (size < 2 || at + 2 + size > length)
        return FALSE;
      body = data + at + 4;
      size -= 2;
      at += 2 + 2 + size;
      switch (marker)
        {
        case 0xC0: /* baseline */
        case 0xC1: /* extended sequential, Huffman */
          if (have_frame || size != 9 || body[0] != 8 || body[5] != 1)
            return FALSE;
          h->height = read_be16 (body + 1);
          h->width = read_be16 (body + 3);
          h->component_id = body[6];
          h->quant_table = body[8];
          if (h->width == 0 || h->height == 0 || (body[7] >> 4) < 1 || (body[7] >> 4) > 4 || (body[7] & 15) < 1
              || (body[7] & 15) > 4 || h->quant_table > 3)
            return FALSE;
          have_frame = TRUE;
          break;
        case 0xC4: /* Huffman tables */
          while (size > 0)
            {
              guint cls = body[0] >> 4, id = body[0] & 15, total = 0;
              HuffmanSpec *spec;

              if (size < 17 || cls > 1 || id > 3)
                return FALSE;
              spec = cls == 0 ? &h->dc_specs[id] : &h->ac_specs[id];
              spec->counts[0] = 0;
              for (guint l = 1; l <= 16; l++)
                total += spec->counts[l] = body[l];
              if (total > 256 || size < 17 + total)
                return FALSE;
              memset (spec->values, 0, sizeof spec->values);
              memcpy (spec->values, body + 17, total);
              spec->defined = TRUE;
              body += 17 + total;
              size -= 17 + total;
            }
          break;
        case 0xDB: /* quantisation tables: only the DC quantum is used */
          while (size > 0)
            {
              guint precision = body[0] >> 4, id = body[0] & 15, bytes = precision == 0 ? 64 : 128;

              if (precision > 1 || id > 3 || size < 1 + bytes)
                return FALSE;
              /* libjpeg keeps quanta as 16-bit signed multipliers */
              h->quanta[id] = precision == 0 ? body[1] : (gint16) read_be16 (body + 1);
              h->quant_defined[id] = TRUE;
              body += 1 + bytes;
              size -= 1 + bytes;
            }
          break;
        case 0xDD: /* restart interval */
          if (size != 2)
            return FALSE;
          h->restart_interval = read_be16 (body);
          break;
        case 0xDA: /* the scan: one component, all 64 coefficients, no approximation */
          if (!have_frame || size != 6 || body[0] != 1 || body[1] != h->component_id || body[3] != 0
              || body[4] != 63 || body[5] != 0)
            return FALSE;
          h->dc_table = body[2] >> 4;
          h->ac_table = body[2] & 15;
          if (h->dc_table > 3 || h->ac_table > 3 || !h->dc_specs[h->dc_table].defined
              || !h->ac_specs[h->ac_table].defined || !h->quant_defined[h->quant_table])
            return FALSE;
          h->entropy_start = at;
          return TRUE;
        default:
          if ((marker >= 0xE0 && marker <= 0xEF) || marker == 0xFE)  /* application data, comments */
            break;
          return FALSE;
        }
    }
}

/* Copies the scan's entropy-coded bytes without their stuffing into
 * @clean (PADDING zeros after them), noting where each restart marker was
 * and its number; the scan must end at the end-of-image marker. FALSE for
 * any other marker, a 0xFF fill inside the data, or no end. */
static gboolean
unstuff (const guint8 *data, gsize length, gsize start, guint8 **clean_out, gsize *clean_length,
         GArray *restarts)
{
  const guint8 *at = data + start, *end = data + length;
  g_autofree guint8 *clean = g_malloc (length - start + PADDING);
  gsize n = 0;

  for (;;)
    {
      guint byte;

      /* Eight bytes at a time up to the next 0xFF (a word with a zero
       * byte once inverted); the copy may run past it, into the padding */
      for (; end - at >= 8; at += 8, n += 8)
        {
          guint64 word, inverted, zeros;

          memcpy (&word, at, 8);
          memcpy (clean + n, &word, 8);
          inverted = ~GUINT64_FROM_LE (word);
          zeros = (inverted - G_GUINT64_CONSTANT (0x0101010101010101)) & ~inverted
                  & G_GUINT64_CONSTANT (0x8080808080808080);
          if (zeros != 0)
            {
              at += __builtin_ctzll (zeros) >> 3;
              n += (gsize) (__builtin_ctzll (zeros) >> 3);
              break;
            }
        }
      while (at < end && *at != 0xFF)
        clean[n++] = *at++;
      if (at + 1 >= end)
        return FALSE;
      byte = at[1];
      at += 2;
      if (byte == 0x00)
        clean[n++] = 0xFF;
      else if (byte >= 0xD0 && byte <= 0xD7)
        {
          guint64 restart = (guint64) n << 3 | (byte - 0xD0);
          g_array_append_val (restarts, restart);
        }
      else if (byte == 0xD9)
        break;
      else
        return FALSE;
    }
  memset (clean + n, 0, PADDING);
  *clean_out = g_steal_pointer (&clean);
  *clean_length = n;
  return TRUE;
}

guint8 *
cxr_jpeg_decode_dc (const guint8 *data, gsize length, guint min_size, guint *width_out, guint *height_out)
{
  g_autofree Header *h = g_new0 (Header, 1);
  g_autofree HuffmanTable *dc = g_new (HuffmanTable, 1);
  g_autofree HuffmanTable *ac = g_new (HuffmanTable, 1);
  g_autoptr (GArray) restarts = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_autofree guint8 *clean = NULL;
  g_autofree guint8 *pixels = NULL;
  gsize clean_length, n_blocks;
  guint width, height, blocks_left, restart_index = 0;
  gint64 predictor = 0;
  gint32 quantum;
  BitReader r;

  if (min_size == 0 || !read_header (data, length, h))
    return NULL;
  if (MIN (h->width, h->height) / 8 < min_size || h->width > CXR_IMAGE_MAX_SIDE || h->height > CXR_IMAGE_MAX_SIDE
      || (guint64) h->width * h->height > CXR_IMAGE_MAX_PIXELS)
    return NULL;
  if (!huffman_table_build (dc, &h->dc_specs[h->dc_table], TRUE)
      || !huffman_table_build (ac, &h->ac_specs[h->ac_table], FALSE))
    return NULL;
  if (!unstuff (data, length, h->entropy_start, &clean, &clean_length, restarts))
    return NULL;

  width = (h->width + 7) / 8;
  height = (h->height + 7) / 8;
  n_blocks = (gsize) width * height;
  if (h->restart_interval > 0 ? restarts->len != (n_blocks - 1) / h->restart_interval : restarts->len != 0)
    return NULL;
  quantum = h->quanta[h->quant_table];
  pixels = g_malloc (n_blocks);
  r.next = clean;
  r.acc = 0;
  r.n_bits = 0;
  blocks_left = h->restart_interval;

  for (gsize block = 0; block < n_blocks; block++)
    {
      guint32 entry;
      guint size;
      guint k = 1;

      if (h->restart_interval > 0 && blocks_left-- == 0)
        {
          /* F.1.2.3: the data before a restart marker ends on a byte, the
           * markers count 0 to 7, the prediction starts again */
          guint64 restart = g_array_index (restarts, guint64, restart_index);

          if ((bits_position (&r, clean) + 7) / 8 != restart >> 3 || (restart & 7) != restart_index % 8)
            return NULL;
          restart_index++;
          r.next = clean + (restart >> 3);
          r.acc = 0;
          r.n_bits = 0;
          predictor = 0;
          blocks_left = h->restart_interval - 1;
        }
      /* A corrupt stream can read on past the data: it stops within a
       * block of its end, inside PADDING. */
      if (bits_position (&r, clean) > clean_length * 8)
        return NULL;

      bits_refill (&r);
      entry = dc->lookup[r.acc >> (64 - LOOKUP_BITS)];
      if (G_LIKELY (entry != 0))
        {
          bits_drop (&r, DC_LENGTH (entry));
          size = DC_SIZE (entry);
        }
      else
        {
          gint symbol = huffman_decode_long (dc, &r);
          if (symbol < 0)
            return NULL;
          size = (guint) symbol;
        }
      if (size > 0)
        {
          /* F.12: a difference of `size` bits, negative when its top bit is 0 */
          gint32 bits = (gint32) (r.acc >> (64 - size));
          bits_drop (&r, size);
          predictor += bits < (1 << (size - 1)) ? bits - (1 << size) + 1 : bits;
          if (predictor < G_MININT32 || predictor > G_MAXINT32)  /* libjpeg's JERR_BAD_DCT_COEF */
            return NULL;
        }
      pixels[block] = dc_sample ((gint32) predictor, quantum);

      /* The AC coefficients: a lookup takes one or two, two lookups per
       * refill (a lookup takes at most LOOKUP_BITS + 15 bits, the buffer
       * holds 56 or more). A pair whose first coefficient ends the block
       * is taken as its first alone: the bits after are the next block's. */
      while (k < 64)
        {
          bits_refill (&r);
          for (guint step = 0; step < 2 && k < 64; step++)
            {
              guint32 e = ac->lookup[r.acc >> (64 - LOOKUP_BITS)];
              gboolean both;

              if (G_UNLIKELY (e == 0))
                {
                  gint symbol;

                  bits_refill (&r);
                  symbol = huffman_decode_long (ac, &r);
                  if (symbol < 0)
                    return NULL;
                  bits_drop (&r, symbol & 15);  /* 56 - 16 bits were left */
                  k += (symbol & 15) != 0 ? (guint) (symbol >> 4) + 1 : symbol == 0xF0 ? 16 : END_OF_BLOCK;
                  break;
                }
              both = k + AC_MOVED (e) < 64;
              bits_drop (&r, both ? AC_TAKEN_BOTH (e) : AC_TAKEN (e));
              k += both ? AC_MOVED_BOTH (e) : AC_MOVED (e);
            }
        }
    }
  /* The data must hold every bit read (a stream that ran short is one
   * libjpeg pads with zeros and warns about) and end within a byte of the
   * last one (more left over is data this decoder did not expect). */
  if ((bits_position (&r, clean) + 7) / 8 != clean_length)
    return NULL;
  *width_out = width;
  *height_out = height;
  return g_steal_pointer (&pixels);
}
