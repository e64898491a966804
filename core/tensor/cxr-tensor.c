/* cxr-tensor.c: n-dimensional arrays of numbers.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "cxr-private.h"
#include "cxr-ops-private.h"

/**
 * CxrTensor:
 *
 * A refcounted n-dimensional array (up to %CXR_TENSOR_MAX_DIMS dimensions)
 * of one #CxrDType. A tensor is a view: a shape, strides (in elements) and
 * an offset into a storage buffer that views share. Reshaping a contiguous
 * tensor, transposing, permuting and slicing make views without copying;
 * cxr_tensor_contiguous() copies when a layout needs it.
 *
 * Storage is 64-byte aligned and zeroed when the tensor owns it, or
 * borrowed from an owner (a #GBytes, a mapped file) that the storage keeps
 * alive.
 *
 * From Python or JavaScript, cxr_tensor_new_from_data() and
 * cxr_tensor_to_bytes() move the raw elements in and out.
 */

typedef struct {
  gatomicrefcount ref;
  guint8 *data;
  gsize size;
  gsize capacity;     /* of data, when owned: its size class */
  gboolean owns_data; /* give it back to the block cache */
  gpointer owner;
  GDestroyNotify owner_free;
} CxrStorage;

struct _CxrTensor {
  gatomicrefcount ref;
  CxrDType dtype;
  guint ndim;
  gint64 shape[CXR_TENSOR_MAX_DIMS];
  gint64 strides[CXR_TENSOR_MAX_DIMS]; /* elements */
  gint64 offset;                       /* elements into the storage */
  CxrStorage *storage;
  /* Autograd: a leaf that wants its gradient, or the output of a recorded
   * op; the gradient, allocated on first use (or set to a view of a flat
   * gradient buffer). Views do not share these. */
  gboolean requires_grad;
  CxrTensor *grad;
};

G_DEFINE_BOXED_TYPE (CxrTensor, cxr_tensor, cxr_tensor_ref, cxr_tensor_unref)

/* ------------------------------------------------------------------ dtypes */

static const struct {
  const gchar *name;
  gsize size;
} dtype_info[] = {
  [CXR_DTYPE_F32] = { "F32", 4 },       [CXR_DTYPE_F16] = { "F16", 2 },
  [CXR_DTYPE_BF16] = { "BF16", 2 },     [CXR_DTYPE_F64] = { "F64", 8 },
  [CXR_DTYPE_I64] = { "I64", 8 },       [CXR_DTYPE_I32] = { "I32", 4 },
  [CXR_DTYPE_I16] = { "I16", 2 },       [CXR_DTYPE_I8] = { "I8", 1 },
  [CXR_DTYPE_U8] = { "U8", 1 },         [CXR_DTYPE_BOOL] = { "BOOL", 1 },
  [CXR_DTYPE_U16] = { "U16", 2 },       [CXR_DTYPE_U32] = { "U32", 4 },
  [CXR_DTYPE_U64] = { "U64", 8 },       [CXR_DTYPE_F8_E4M3] = { "F8_E4M3", 1 },
  [CXR_DTYPE_F8_E5M2] = { "F8_E5M2", 1 },
};
G_STATIC_ASSERT (G_N_ELEMENTS (dtype_info) == CXR_DTYPE_F8_E5M2 + 1);

/**
 * cxr_dtype_get_size:
 * @dtype: a dtype
 *
 * Returns: the size of one element in bytes
 */
gsize
cxr_dtype_get_size (CxrDType dtype)
{
  g_return_val_if_fail ((guint) dtype < G_N_ELEMENTS (dtype_info), 0);
  return dtype_info[dtype].size;
}

/**
 * cxr_dtype_get_name:
 * @dtype: a dtype
 *
 * Returns: (transfer none): the dtype's name in safetensors files ("F32",
 *   "BF16", ...)
 */
const gchar *
cxr_dtype_get_name (CxrDType dtype)
{
  g_return_val_if_fail ((guint) dtype < G_N_ELEMENTS (dtype_info), NULL);
  return dtype_info[dtype].name;
}

/**
 * cxr_dtype_from_name:
 * @name: a safetensors dtype name, such as "F16"
 * @dtype: (out): the dtype
 *
 * Returns: %TRUE if @name is a dtype
 */
gboolean
cxr_dtype_from_name (const gchar *name, CxrDType *dtype)
{
  g_return_val_if_fail (name != NULL, FALSE);
  for (guint i = 0; i < G_N_ELEMENTS (dtype_info); i++)
    if (g_str_equal (name, dtype_info[i].name))
      {
        *dtype = (CxrDType) i;
        return TRUE;
      }
  return FALSE;
}

static gboolean
dtype_is_integer (CxrDType dtype)
{
  switch (dtype)
    {
    case CXR_DTYPE_I64: case CXR_DTYPE_I32: case CXR_DTYPE_I16: case CXR_DTYPE_I8:
    case CXR_DTYPE_U8: case CXR_DTYPE_BOOL: case CXR_DTYPE_U16: case CXR_DTYPE_U32:
    case CXR_DTYPE_U64:
      return TRUE;
    default:
      return FALSE;
    }
}

/* --------------------------------------------------------- half floats */

static inline guint32
f32_bits (gfloat f)
{
  guint32 u;
  memcpy (&u, &f, 4);
  return u;
}

static inline gfloat
bits_f32 (guint32 u)
{
  gfloat f;
  memcpy (&f, &u, 4);
  return f;
}

static gfloat
f16_to_f32 (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000) << 16;
  guint32 exponent = (h >> 10) & 0x1f;
  guint32 mantissa = h & 0x3ff;

  if (exponent == 0x1f) /* inf or NaN */
    return bits_f32 (sign | 0x7f800000 | (mantissa << 13));
  if (exponent == 0)
    {
      /* zero or subnormal: mantissa * 2^-24, exact in f32 */
      gfloat v = (gfloat) mantissa * 5.9604644775390625e-08f;
      return sign ? -v : v;
    }
  return bits_f32 (sign | ((exponent + 112) << 23) | (mantissa << 13));
}

/* Round to nearest, ties to even, as numpy and PyTorch do. */
static guint16
f32_to_f16 (gfloat f)
{
  guint32 u = f32_bits (f);
  guint32 sign = (u >> 16) & 0x8000;
  guint32 abs = u & 0x7fffffff;

  if (abs > 0x7f800000) /* NaN: keep it quiet and non-zero */
    return (guint16) (sign | 0x7e00 | ((abs >> 13) & 0x3ff));
  if (abs >= 0x477ff000) /* rounds to 65520 or more: infinity */
    return (guint16) (sign | 0x7c00);
  if (abs < 0x38800000)
    {
      /* subnormal or zero in f16: value / 2^-24, rounded to even */
      gfloat scaled = bits_f32 (abs) * 16777216.0f; /* exact: a power of two */
      guint32 m = (guint32) scaled;
      gfloat rest = scaled - (gfloat) m;
      if (rest > 0.5f || (rest == 0.5f && (m & 1)))
        m++;
      return (guint16) (sign | m);
    }
  {
    guint32 mantissa = abs & 0x7fffff;
    guint32 exponent = (abs >> 23) - 112;
    guint32 h = (exponent << 10) | (mantissa >> 13);
    guint32 rest = mantissa & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
      h++; /* a carry into the exponent is still right */
    return (guint16) (sign | h);
  }
}

static gfloat
bf16_to_f32 (guint16 b)
{
  return bits_f32 ((guint32) b << 16);
}

static guint16
f32_to_bf16 (gfloat f)
{
  guint32 u = f32_bits (f);

  if ((u & 0x7fffffff) > 0x7f800000)
    return (guint16) ((u >> 16) | 0x40); /* quiet NaN */
  u += 0x7fff + ((u >> 16) & 1);
  return (guint16) (u >> 16);
}

/* OCP 8-bit floats: E4M3 (bias 7, no infinities, S.1111.111 is NaN) and
 * E5M2 (bias 15, IEEE-like). Read only. */
static gfloat
f8_to_f32 (guint8 v, gboolean e4m3)
{
  gint exp_bits = e4m3 ? 4 : 5, man_bits = e4m3 ? 3 : 2, bias = e4m3 ? 7 : 15;
  gint e = (v >> man_bits) & ((1 << exp_bits) - 1);
  gint m = v & ((1 << man_bits) - 1);
  gfloat sign = (v & 0x80) ? -1.0f : 1.0f;

  if (e4m3 && e == 15 && m == 7)
    return NAN;
  if (!e4m3 && e == 31)
    return m ? NAN : sign * INFINITY;
  if (e == 0)
    return sign * ldexpf ((gfloat) m, 1 - bias - man_bits);
  return sign * ldexpf (1.0f + (gfloat) m / (gfloat) (1 << man_bits), e - bias);
}

/* ------------------------------------------------------ element access */

static gdouble
read_double (CxrDType dtype, const guint8 *p)
{
  switch (dtype)
    {
    case CXR_DTYPE_F32: { gfloat v; memcpy (&v, p, 4); return v; }
    case CXR_DTYPE_F16: { guint16 v; memcpy (&v, p, 2); return f16_to_f32 (v); }
    case CXR_DTYPE_BF16: { guint16 v; memcpy (&v, p, 2); return bf16_to_f32 (v); }
    case CXR_DTYPE_F64: { gdouble v; memcpy (&v, p, 8); return v; }
    case CXR_DTYPE_I64: { gint64 v; memcpy (&v, p, 8); return (gdouble) v; }
    case CXR_DTYPE_I32: { gint32 v; memcpy (&v, p, 4); return v; }
    case CXR_DTYPE_I16: { gint16 v; memcpy (&v, p, 2); return v; }
    case CXR_DTYPE_I8: return (gint8) p[0];
    case CXR_DTYPE_U8: return p[0];
    case CXR_DTYPE_BOOL: return p[0] != 0;
    case CXR_DTYPE_U16: { guint16 v; memcpy (&v, p, 2); return v; }
    case CXR_DTYPE_U32: { guint32 v; memcpy (&v, p, 4); return v; }
    case CXR_DTYPE_U64: { guint64 v; memcpy (&v, p, 8); return (gdouble) v; }
    case CXR_DTYPE_F8_E4M3: return f8_to_f32 (p[0], TRUE);
    case CXR_DTYPE_F8_E5M2: return f8_to_f32 (p[0], FALSE);
    default: g_return_val_if_reached (0);
    }
}

static void
write_double (CxrDType dtype, guint8 *p, gdouble d)
{
  switch (dtype)
    {
    case CXR_DTYPE_F32: { gfloat v = (gfloat) d; memcpy (p, &v, 4); return; }
    case CXR_DTYPE_F16: { guint16 v = f32_to_f16 ((gfloat) d); memcpy (p, &v, 2); return; }
    case CXR_DTYPE_BF16: { guint16 v = f32_to_bf16 ((gfloat) d); memcpy (p, &v, 2); return; }
    case CXR_DTYPE_F64: memcpy (p, &d, 8); return;
    default: g_return_if_reached ();
    }
}

static gint64
read_int (CxrDType dtype, const guint8 *p)
{
  switch (dtype)
    {
    case CXR_DTYPE_I64: { gint64 v; memcpy (&v, p, 8); return v; }
    case CXR_DTYPE_I32: { gint32 v; memcpy (&v, p, 4); return v; }
    case CXR_DTYPE_I16: { gint16 v; memcpy (&v, p, 2); return v; }
    case CXR_DTYPE_I8: return (gint8) p[0];
    case CXR_DTYPE_U8: return p[0];
    case CXR_DTYPE_BOOL: return p[0] != 0;
    case CXR_DTYPE_U16: { guint16 v; memcpy (&v, p, 2); return v; }
    case CXR_DTYPE_U32: { guint32 v; memcpy (&v, p, 4); return v; }
    case CXR_DTYPE_U64: { guint64 v; memcpy (&v, p, 8); return (gint64) v; }
    default: g_return_val_if_reached (0);
    }
}

/* Integers wrap as C casts do (the same as numpy's astype). */
static void
write_int (CxrDType dtype, guint8 *p, gint64 v)
{
  switch (dtype)
    {
    case CXR_DTYPE_I64: memcpy (p, &v, 8); return;
    case CXR_DTYPE_I32: { gint32 x = (gint32) v; memcpy (p, &x, 4); return; }
    case CXR_DTYPE_I16: { gint16 x = (gint16) v; memcpy (p, &x, 2); return; }
    case CXR_DTYPE_I8: p[0] = (guint8) (gint8) v; return;
    case CXR_DTYPE_U8: p[0] = (guint8) v; return;
    case CXR_DTYPE_BOOL: p[0] = v != 0; return;
    case CXR_DTYPE_U16: { guint16 x = (guint16) v; memcpy (p, &x, 2); return; }
    case CXR_DTYPE_U32: { guint32 x = (guint32) v; memcpy (p, &x, 4); return; }
    case CXR_DTYPE_U64: { guint64 x = (guint64) v; memcpy (p, &x, 8); return; }
    default: g_return_if_reached ();
    }
}

/* ------------------------------------------------------------- storage */

/* Bytes of tensor storage the engine owns now, and the most it owned at
 * once since the last reset (borrowed memory, such as a mapped weights
 * file, is not counted). */
static guint64 allocated_bytes;
static guint64 peak_bytes;

static void
count_allocation (gint64 delta)
{
  guint64 now = __atomic_add_fetch (&allocated_bytes, (guint64) delta, __ATOMIC_RELAXED);
  guint64 peak = __atomic_load_n (&peak_bytes, __ATOMIC_RELAXED);

  while (delta > 0 && now > peak &&
         !__atomic_compare_exchange_n (&peak_bytes, &peak, now, TRUE, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    ;
}

/**
 * cxr_tensor_get_allocated_bytes:
 *
 * Returns: the bytes of tensor storage the engine holds now
 */
guint64
cxr_tensor_get_allocated_bytes (void)
{
  return __atomic_load_n (&allocated_bytes, __ATOMIC_RELAXED);
}

/**
 * cxr_tensor_get_peak_bytes:
 *
 * Returns: the most bytes of tensor storage held at once since the last
 *   cxr_tensor_reset_peak_bytes(): the engine's peak memory
 */
guint64
cxr_tensor_get_peak_bytes (void)
{
  return __atomic_load_n (&peak_bytes, __ATOMIC_RELAXED);
}

/**
 * cxr_tensor_reset_peak_bytes:
 *
 * Starts a new peak from what is held now.
 */
void
cxr_tensor_reset_peak_bytes (void)
{
  __atomic_store_n (&peak_bytes, cxr_tensor_get_allocated_bytes (), __ATOMIC_RELAXED);
}

/* The block cache. A step of training or sampling frees and allocates
 * the same activations again and again; blocks this large come from mmap
 * in malloc, and a fresh mapping is zeroed one page fault at a time (the
 * faults took half the time of an Inception-v3 forward pass). So blocks
 * of at least CACHE_MIN_BYTES are kept when freed, by size class (eight
 * classes per power of two: at most 1/8 of a block unused), and handed
 * out again. The cache holds at most as many bytes as the engine ever
 * held at once, the sizes freed last first: a block that does not fit
 * frees blocks of other sizes to make room. cxr_tensor_release_cache()
 * empties it. ASan builds and
 * CXRGEN_TENSOR_CACHE=0 leave it off, so freed memory is really freed. */
#define CACHE_MIN_BYTES ((gsize) 64 * 1024)

static GMutex cache_lock;
static GHashTable *cache;       /* size class -> GSList of blocks */
static guint64 cached_bytes, most_held;

static gboolean
cache_enabled (void)
{
  static gsize decided = 0;
  static gboolean enabled;

  if (g_once_init_enter (&decided))
    {
#if defined(__SANITIZE_ADDRESS__)
      enabled = FALSE;
#else
      const gchar *env = g_getenv ("CXRGEN_TENSOR_CACHE");
      enabled = !(env && g_str_equal (env, "0"));
#endif
      g_once_init_leave (&decided, 1);
    }
  return enabled;
}

static gsize
size_class (gsize size)
{
  guint bits;
  gsize step;

  if (size < CACHE_MIN_BYTES)
    return size;
  bits = g_bit_storage (size);  /* 2^(bits-1) <= size < 2^bits */
  step = (gsize) 1 << (bits - 4);
  return (size + step - 1) / step * step;
}

static gpointer
block_take (gsize capacity)
{
  gpointer block = NULL;

  if (capacity < CACHE_MIN_BYTES || !cache_enabled ())
    return NULL;
  g_mutex_lock (&cache_lock);
  if (cache)
    {
      GSList *list = g_hash_table_lookup (cache, GSIZE_TO_POINTER (capacity));
      if (list)
        {
          block = list->data;
          list = g_slist_delete_link (list, list);
          g_hash_table_insert (cache, GSIZE_TO_POINTER (capacity), list);
          cached_bytes -= capacity;
        }
    }
  g_mutex_unlock (&cache_lock);
  return block;
}

/* Frees cached blocks of other sizes than @capacity until @capacity more
 * fit under the cap: the sizes asked for now (a new model, a new batch
 * size) replace those of before, rather than being refused room by them.
 * Called with the lock held. */
static void
cache_make_room (gsize capacity)
{
  GHashTableIter iter;
  gpointer key, value;

  if (cache == NULL)
    return;
  g_hash_table_iter_init (&iter, cache);
  while (cached_bytes + capacity > most_held && g_hash_table_iter_next (&iter, &key, &value))
    {
      GSList *list = value;
      if (GPOINTER_TO_SIZE (key) == capacity)
        continue;
      while (list && cached_bytes + capacity > most_held)
        {
          g_aligned_free (list->data);
          list = g_slist_delete_link (list, list);
          cached_bytes -= GPOINTER_TO_SIZE (key);
        }
      if (list)
        g_hash_table_iter_replace (&iter, list);
      else
        g_hash_table_iter_remove (&iter);
    }
}

/* Keeps @block if there is room, made by freeing blocks of other sizes
 * if need be, else frees it. */
static void
block_give (gpointer block, gsize capacity)
{
  gboolean kept = FALSE;

  if (capacity >= CACHE_MIN_BYTES && cache_enabled ())
    {
      g_mutex_lock (&cache_lock);
      if (capacity <= most_held)
        cache_make_room (capacity);
      if (cached_bytes + capacity <= most_held)
        {
          if (cache == NULL)
            cache = g_hash_table_new (g_direct_hash, g_direct_equal);
          g_hash_table_insert (cache, GSIZE_TO_POINTER (capacity),
                               g_slist_prepend (g_hash_table_lookup (cache, GSIZE_TO_POINTER (capacity)), block));
          cached_bytes += capacity;
          kept = TRUE;
        }
      g_mutex_unlock (&cache_lock);
    }
  if (!kept)
    g_aligned_free (block);
}

static void
free_list (gpointer key, gpointer value, gpointer user_data)
{
  g_slist_free_full (value, g_aligned_free);
}

/**
 * cxr_tensor_release_cache:
 *
 * Frees the blocks of tensor storage the engine keeps for reuse (see
 * cxr_tensor_get_cached_bytes()), as between two phases of a run whose
 * tensors differ in size.
 */
void
cxr_tensor_release_cache (void)
{
  g_mutex_lock (&cache_lock);
  if (cache)
    {
      g_hash_table_foreach (cache, free_list, NULL);
      g_hash_table_remove_all (cache);
    }
  cached_bytes = 0;
  g_mutex_unlock (&cache_lock);
}

/**
 * cxr_tensor_get_cached_bytes:
 *
 * Freed tensor storage of 64 KiB or more is kept and reused for the next
 * tensor of its size class, so a loop that allocates the same sizes every
 * step stops asking the system for memory. The cache never holds more
 * than the most the engine held at once; CXRGEN_TENSOR_CACHE=0 turns it
 * off.
 *
 * Returns: the bytes kept for reuse now (not counted in
 *   cxr_tensor_get_allocated_bytes())
 */
guint64
cxr_tensor_get_cached_bytes (void)
{
  guint64 bytes;

  g_mutex_lock (&cache_lock);
  bytes = cached_bytes;
  g_mutex_unlock (&cache_lock);
  return bytes;
}

/* @zeroed: whether the caller needs zeros, or writes every byte itself */
static CxrStorage *
storage_new_full (gsize size, gboolean zeroed)
{
  CxrStorage *storage = g_new0 (CxrStorage, 1);
  gsize capacity = size_class (MAX (size, 1));
  guint64 held;

  g_atomic_ref_count_init (&storage->ref);
  storage->size = size;
  storage->capacity = capacity;
  storage->data = block_take (capacity);
  if (storage->data == NULL)
    storage->data = zeroed ? g_aligned_alloc0 (1, capacity, 64) : g_aligned_alloc (1, capacity, 64);
  else if (zeroed)
    memset (storage->data, 0, size);
  storage->owns_data = TRUE;
  count_allocation ((gint64) size);
  held = cxr_tensor_get_allocated_bytes ();
  if (held > __atomic_load_n (&most_held, __ATOMIC_RELAXED))
    __atomic_store_n (&most_held, held, __ATOMIC_RELAXED);
  return storage;
}

static CxrStorage *
storage_new (gsize size)
{
  return storage_new_full (size, TRUE);
}

static CxrStorage *
storage_ref (CxrStorage *storage)
{
  g_atomic_ref_count_inc (&storage->ref);
  return storage;
}

static void
storage_unref (CxrStorage *storage)
{
  if (!g_atomic_ref_count_dec (&storage->ref))
    return;
  if (storage->owns_data)
    {
      block_give (storage->data, storage->capacity);
      count_allocation (-(gint64) storage->size);
    }
  if (storage->owner_free)
    storage->owner_free (storage->owner);
  g_free (storage);
}

/* -------------------------------------------------------------- tensors */

static gboolean
check_shape (const gint64 *shape, guint ndim, CxrDType dtype, gsize *n_bytes, GError **error)
{
  guint64 numel = 1;

  if (ndim > CXR_TENSOR_MAX_DIMS)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "%u dimensions: a tensor has at most %d", ndim, CXR_TENSOR_MAX_DIMS);
      return FALSE;
    }
  for (guint i = 0; i < ndim; i++)
    {
      if (shape[i] < 0)
        {
          g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                       "dimension %u is %" G_GINT64_FORMAT ": sizes cannot be negative", i, shape[i]);
          return FALSE;
        }
      if (shape[i] > 0 && numel > (G_MAXINT64 / 16) / (guint64) shape[i])
        {
          g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                       "the shape has too many elements");
          return FALSE;
        }
      numel *= (guint64) shape[i];
    }
  if (n_bytes)
    *n_bytes = (gsize) numel * cxr_dtype_get_size (dtype);
  return TRUE;
}

static CxrTensor *
tensor_alloc (CxrDType dtype, const gint64 *shape, guint ndim)
{
  CxrTensor *self = g_new0 (CxrTensor, 1);
  gint64 stride = 1;

  g_atomic_ref_count_init (&self->ref);
  self->dtype = dtype;
  self->ndim = ndim;
  for (guint i = ndim; i > 0; i--)
    {
      self->shape[i - 1] = shape[i - 1];
      self->strides[i - 1] = stride;
      stride *= MAX (shape[i - 1], 1);
    }
  return self;
}

/**
 * cxr_tensor_new:
 * @dtype: the element type
 * @shape: (array length=ndim): the size of each dimension
 * @ndim: the number of dimensions, at most %CXR_TENSOR_MAX_DIMS
 *
 * Creates a contiguous tensor of zeros.
 *
 * Returns: (transfer full): the tensor
 */
CxrTensor *
cxr_tensor_new (CxrDType dtype, const gint64 *shape, guint ndim)
{
  CxrTensor *self;
  gsize n_bytes = 0;

  g_return_val_if_fail ((guint) dtype < G_N_ELEMENTS (dtype_info), NULL);
  g_return_val_if_fail (shape != NULL || ndim == 0, NULL);
  g_return_val_if_fail (check_shape (shape, ndim, dtype, &n_bytes, NULL), NULL);
  self = tensor_alloc (dtype, shape, ndim);
  self->storage = storage_new (n_bytes);
  return self;
}

/* A tensor whose elements the caller writes, every one of them (an op's
 * output): not zeroed. */
CxrTensor *
_cxr_tensor_new_uninitialized (CxrDType dtype, const gint64 *shape, guint ndim)
{
  CxrTensor *self;
  gsize n_bytes = 0;

  g_return_val_if_fail (check_shape (shape, ndim, dtype, &n_bytes, NULL), NULL);
  self = tensor_alloc (dtype, shape, ndim);
  self->storage = storage_new_full (n_bytes, FALSE);
  return self;
}

CxrTensor *
_cxr_tensor_new_uninitialized_like (CxrTensor *x)
{
  guint nd;
  const gint64 *shape = cxr_tensor_get_shape (x, &nd);

  return _cxr_tensor_new_uninitialized (CXR_DTYPE_F32, shape, nd);
}

/**
 * cxr_tensor_new_from_data:
 * @dtype: the element type
 * @shape: (array length=ndim): the size of each dimension
 * @ndim: the number of dimensions
 * @data: (array length=n_bytes): the elements, row-major, native byte order
 * @n_bytes: their size: the number of elements times the dtype's size
 * @error: return location for a #GError
 *
 * Creates a tensor holding a copy of @data.
 *
 * Returns: (transfer full): the tensor, or %NULL with @error set
 */
CxrTensor *
cxr_tensor_new_from_data (CxrDType dtype, const gint64 *shape, guint ndim, const guint8 *data,
                          gsize n_bytes, GError **error)
{
  CxrTensor *self;
  gsize expected = 0;

  g_return_val_if_fail ((guint) dtype < G_N_ELEMENTS (dtype_info), NULL);
  if (!check_shape (shape, ndim, dtype, &expected, error))
    return NULL;
  if (n_bytes != expected)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "%" G_GSIZE_FORMAT " bytes for %" G_GSIZE_FORMAT " bytes of %s elements",
                   n_bytes, expected, cxr_dtype_get_name (dtype));
      return NULL;
    }
  self = cxr_tensor_new (dtype, shape, ndim);
  if (n_bytes > 0)
    memcpy (self->storage->data, data, n_bytes);
  return self;
}

/**
 * cxr_tensor_new_from_bytes:
 * @dtype: the element type
 * @shape: (array length=ndim): the size of each dimension
 * @ndim: the number of dimensions
 * @bytes: the elements, row-major, native byte order
 * @error: return location for a #GError
 *
 * Creates a tensor over @bytes without copying; the tensor keeps a
 * reference to @bytes. The tensor must not be written to.
 *
 * Returns: (transfer full): the tensor, or %NULL with @error set
 */
CxrTensor *
cxr_tensor_new_from_bytes (CxrDType dtype, const gint64 *shape, guint ndim, GBytes *bytes,
                           GError **error)
{
  gsize expected = 0, size = 0;
  gconstpointer data;

  g_return_val_if_fail (bytes != NULL, NULL);
  if (!check_shape (shape, ndim, dtype, &expected, error))
    return NULL;
  data = g_bytes_get_data (bytes, &size);
  if (size != expected)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "%" G_GSIZE_FORMAT " bytes for %" G_GSIZE_FORMAT " bytes of %s elements", size,
                   expected, cxr_dtype_get_name (dtype));
      return NULL;
    }
  return cxr_tensor_new_wrapped (dtype, shape, ndim, (gpointer) data, size, g_bytes_ref (bytes),
                                 (GDestroyNotify) g_bytes_unref);
}

/**
 * cxr_tensor_new_wrapped: (skip)
 * @dtype: the element type
 * @shape: (array length=ndim): the size of each dimension
 * @ndim: the number of dimensions
 * @data: the elements, row-major; must hold the shape's bytes
 * @n_bytes: the size of @data
 * @owner: (nullable): what keeps @data alive
 * @owner_free: (nullable): releases @owner when the last view goes
 *
 * Creates a tensor over memory someone else owns, such as a mapped file.
 * The caller has checked that @n_bytes fits the shape.
 *
 * Returns: (transfer full): the tensor
 */
CxrTensor *
cxr_tensor_new_wrapped (CxrDType dtype, const gint64 *shape, guint ndim, gpointer data,
                        gsize n_bytes, gpointer owner, GDestroyNotify owner_free)
{
  CxrTensor *self;
  CxrStorage *storage;
  gsize expected = 0;

  g_return_val_if_fail (check_shape (shape, ndim, dtype, &expected, NULL) && expected == n_bytes, NULL);
  self = tensor_alloc (dtype, shape, ndim);
  storage = g_new0 (CxrStorage, 1);
  g_atomic_ref_count_init (&storage->ref);
  storage->data = data;
  storage->size = n_bytes;
  storage->owner = owner;
  storage->owner_free = owner_free;
  self->storage = storage;
  return self;
}

/**
 * cxr_tensor_ref:
 * @self: a tensor
 *
 * Returns: (transfer full): @self
 */
CxrTensor *
cxr_tensor_ref (CxrTensor *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref);
  return self;
}

/**
 * cxr_tensor_unref:
 * @self: (transfer full): a tensor
 *
 * Drops a reference; the storage goes with its last view.
 */
void
cxr_tensor_unref (CxrTensor *self)
{
  g_return_if_fail (self != NULL);
  if (!g_atomic_ref_count_dec (&self->ref))
    return;
  storage_unref (self->storage);
  g_clear_pointer (&self->grad, cxr_tensor_unref);
  g_free (self);
}

/**
 * cxr_tensor_get_dtype:
 * @self: a tensor
 *
 * Returns: the element type
 */
CxrDType
cxr_tensor_get_dtype (CxrTensor *self)
{
  g_return_val_if_fail (self != NULL, CXR_DTYPE_F32);
  return self->dtype;
}

/**
 * cxr_tensor_get_ndim:
 * @self: a tensor
 *
 * Returns: the number of dimensions
 */
guint
cxr_tensor_get_ndim (CxrTensor *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->ndim;
}

/**
 * cxr_tensor_get_shape:
 * @self: a tensor
 * @ndim: (out) (optional): the number of dimensions
 *
 * Returns: (transfer none) (array length=ndim): the size of each dimension
 */
const gint64 *
cxr_tensor_get_shape (CxrTensor *self, guint *ndim)
{
  g_return_val_if_fail (self != NULL, NULL);
  if (ndim)
    *ndim = self->ndim;
  return self->shape;
}

/**
 * cxr_tensor_get_strides:
 * @self: a tensor
 * @ndim: (out) (optional): the number of dimensions
 *
 * Returns: (transfer none) (array length=ndim): the step of each
 *   dimension, in elements
 */
const gint64 *
cxr_tensor_get_strides (CxrTensor *self, guint *ndim)
{
  g_return_val_if_fail (self != NULL, NULL);
  if (ndim)
    *ndim = self->ndim;
  return self->strides;
}

/**
 * cxr_tensor_get_dim:
 * @self: a tensor
 * @dim: a dimension; negative counts from the last
 *
 * Returns: the size of dimension @dim
 */
gint64
cxr_tensor_get_dim (CxrTensor *self, gint dim)
{
  g_return_val_if_fail (self != NULL, 0);
  if (dim < 0)
    dim += (gint) self->ndim;
  g_return_val_if_fail (dim >= 0 && (guint) dim < self->ndim, 0);
  return self->shape[dim];
}

/**
 * cxr_tensor_get_numel:
 * @self: a tensor
 *
 * Returns: the number of elements
 */
gint64
cxr_tensor_get_numel (CxrTensor *self)
{
  gint64 n = 1;

  g_return_val_if_fail (self != NULL, 0);
  for (guint i = 0; i < self->ndim; i++)
    n *= self->shape[i];
  return n;
}

/**
 * cxr_tensor_get_nbytes:
 * @self: a tensor
 *
 * Returns: the size of the elements in bytes (of the view, not the storage)
 */
gsize
cxr_tensor_get_nbytes (CxrTensor *self)
{
  return (gsize) cxr_tensor_get_numel (self) * cxr_dtype_get_size (cxr_tensor_get_dtype (self));
}

/**
 * cxr_tensor_is_contiguous:
 * @self: a tensor
 *
 * Returns: whether the elements lie row-major without gaps
 */
gboolean
cxr_tensor_is_contiguous (CxrTensor *self)
{
  gint64 expected = 1;

  g_return_val_if_fail (self != NULL, FALSE);
  for (guint i = self->ndim; i > 0; i--)
    {
      if (self->shape[i - 1] != 1 && self->strides[i - 1] != expected)
        return FALSE;
      expected *= self->shape[i - 1];
    }
  return TRUE;
}

/**
 * cxr_tensor_get_data: (skip)
 * @self: a tensor
 *
 * Returns: the address of the first element of the view
 */
gpointer
cxr_tensor_get_data (CxrTensor *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->storage->data + self->offset * (gint64) cxr_dtype_get_size (self->dtype);
}

/**
 * cxr_tensor_describe:
 * @self: a tensor
 *
 * Returns: (transfer full): the dtype and shape, such as "F32[2, 3]"
 */
gchar *
cxr_tensor_describe (CxrTensor *self)
{
  g_autofree gchar *shape = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  shape = _cxr_describe_shape (self->shape, self->ndim);
  return g_strconcat (cxr_dtype_get_name (self->dtype), shape, NULL);
}

/**
 * cxr_tensor_replace: (skip)
 * @slot: where a tensor (or %NULL) is held
 * @value: (transfer full) (nullable): the tensor to hold instead
 *
 * Unrefs what @slot holds and stores @value, so a chain of ops reads
 * `cxr_tensor_replace (&x, cxr_op_silu (tape, x, error));` without leaks
 * (@value is computed from the old tensor before it is let go).
 */
void
cxr_tensor_replace (CxrTensor **slot, CxrTensor *value)
{
  CxrTensor *old = *slot;

  *slot = value;
  if (old)
    cxr_tensor_unref (old);
}

/* "[2, 3]": a shape as errors show it */
gchar *
_cxr_describe_shape (const gint64 *shape, guint ndim)
{
  GString *out = g_string_new ("[");

  for (guint i = 0; i < ndim; i++)
    g_string_append_printf (out, "%s%" G_GINT64_FORMAT, i ? ", " : "", shape[i]);
  g_string_append_c (out, ']');
  return g_string_free (out, FALSE);
}

/* Calls @func with the byte offset (from the view's first element) of
 * every element, in row-major order. */
typedef void (*ElementFunc) (gint64 index, gint64 byte_offset, gpointer user_data);

static void
for_each_element (CxrTensor *self, ElementFunc func, gpointer user_data)
{
  gint64 counter[CXR_TENSOR_MAX_DIMS] = { 0 };
  gint64 numel = cxr_tensor_get_numel (self);
  gint64 size = (gint64) cxr_dtype_get_size (self->dtype);
  gint64 offset = 0;

  for (gint64 n = 0; n < numel; n++)
    {
      func (n, offset * size, user_data);
      for (gint d = (gint) self->ndim - 1; d >= 0; d--)
        {
          counter[d]++;
          offset += self->strides[d];
          if (counter[d] < self->shape[d])
            break;
          offset -= self->strides[d] * counter[d];
          counter[d] = 0;
        }
    }
}

typedef struct {
  const guint8 *src;
  guint8 *dst;
  gsize size;
} CopyData;

static void
copy_element (gint64 index, gint64 byte_offset, gpointer user_data)
{
  CopyData *c = user_data;
  memcpy (c->dst + index * (gint64) c->size, c->src + byte_offset, c->size);
}

/**
 * cxr_tensor_contiguous:
 * @self: a tensor
 *
 * Returns: (transfer full): @self if it is contiguous, else a contiguous
 *   copy
 */
CxrTensor *
cxr_tensor_contiguous (CxrTensor *self)
{
  CxrTensor *copy;
  CopyData c;

  g_return_val_if_fail (self != NULL, NULL);
  if (cxr_tensor_is_contiguous (self))
    return cxr_tensor_ref (self);
  copy = cxr_tensor_new (self->dtype, self->shape, self->ndim);
  c.src = cxr_tensor_get_data (self);
  c.dst = copy->storage->data;
  c.size = cxr_dtype_get_size (self->dtype);
  for_each_element (self, copy_element, &c);
  return copy;
}

/**
 * cxr_tensor_to_bytes:
 * @self: a tensor
 *
 * Returns: (transfer full): a copy of the elements, row-major, in the
 *   tensor's dtype and native byte order
 */
GBytes *
cxr_tensor_to_bytes (CxrTensor *self)
{
  g_autoptr (CxrTensor) c = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  c = cxr_tensor_contiguous (self);
  return g_bytes_new (cxr_tensor_get_data (c), cxr_tensor_get_nbytes (c));
}

typedef struct {
  CxrDType from, to;
  const guint8 *src;
  guint8 *dst;
} ConvertData;

static void
convert_float_element (gint64 index, gint64 byte_offset, gpointer user_data)
{
  ConvertData *c = user_data;
  write_double (c->to, c->dst + index * (gint64) cxr_dtype_get_size (c->to),
                read_double (c->from, c->src + byte_offset));
}

static void
convert_int_element (gint64 index, gint64 byte_offset, gpointer user_data)
{
  ConvertData *c = user_data;
  write_int (c->to, c->dst + index * (gint64) cxr_dtype_get_size (c->to),
             read_int (c->from, c->src + byte_offset));
}

/* Float to integer: truncation toward zero, as a C cast; NaN and values
 * out of range are refused by the caller's check. */
static void
convert_to_int_element (gint64 index, gint64 byte_offset, gpointer user_data)
{
  ConvertData *c = user_data;
  write_int (c->to, c->dst + index * (gint64) cxr_dtype_get_size (c->to),
             (gint64) read_double (c->from, c->src + byte_offset));
}

static void
check_finite_element (gint64 index, gint64 byte_offset, gpointer user_data)
{
  ConvertData *c = user_data;
  gdouble v = read_double (c->from, c->src + byte_offset);
  if (!isfinite (v) || v >= 9.2e18 || v <= -9.2e18)
    c->dst = NULL; /* flags a value that has no integer */
}

/**
 * cxr_tensor_to_dtype:
 * @self: a tensor
 * @dtype: the dtype to convert to
 * @error: return location for a #GError
 *
 * Converts the elements: floats round to nearest, ties to even (so f32 to
 * f16 and bf16 match numpy and PyTorch); integers convert exactly or wrap
 * as C casts do; floats to integers truncate toward zero. Converting to
 * the 8-bit float dtypes is not supported, nor floats that are NaN,
 * infinite or out of range to integers.
 *
 * Returns: (transfer full): a new contiguous tensor (or @self when it
 *   already has @dtype and is contiguous), or %NULL with @error set
 */
CxrTensor *
cxr_tensor_to_dtype (CxrTensor *self, CxrDType dtype, GError **error)
{
  CxrTensor *out;
  ConvertData c;
  gboolean from_int, to_int;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail ((guint) dtype < G_N_ELEMENTS (dtype_info), NULL);
  if (dtype == self->dtype)
    return cxr_tensor_contiguous (self);
  if (dtype == CXR_DTYPE_F8_E4M3 || dtype == CXR_DTYPE_F8_E5M2)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_DTYPE,
                   "converting to %s is not supported", cxr_dtype_get_name (dtype));
      return NULL;
    }
  from_int = dtype_is_integer (self->dtype);
  to_int = dtype_is_integer (dtype);
  c.from = self->dtype;
  c.to = dtype;
  c.src = cxr_tensor_get_data (self);
  if (to_int && !from_int)
    {
      c.dst = (guint8 *) 1;
      for_each_element (self, check_finite_element, &c);
      if (c.dst == NULL)
        {
          g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_DTYPE,
                       "a value of the %s tensor is NaN, infinite or too large for %s",
                       cxr_dtype_get_name (self->dtype), cxr_dtype_get_name (dtype));
          return NULL;
        }
    }
  out = cxr_tensor_new (dtype, self->shape, self->ndim);
  c.dst = out->storage->data;
  if (from_int && to_int)
    for_each_element (self, convert_int_element, &c);
  else if (to_int)
    for_each_element (self, convert_to_int_element, &c);
  else
    for_each_element (self, convert_float_element, &c);
  return out;
}

static CxrTensor *
view_of (CxrTensor *self)
{
  CxrTensor *view = g_new0 (CxrTensor, 1);

  *view = *self;
  g_atomic_ref_count_init (&view->ref);
  view->storage = storage_ref (self->storage);
  view->requires_grad = FALSE;
  view->grad = NULL;
  return view;
}

static gboolean
normalize_dim (CxrTensor *self, gint *dim, GError **error)
{
  gint d = *dim < 0 ? *dim + (gint) self->ndim : *dim;

  if (d < 0 || (guint) d >= self->ndim)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "dimension %d is out of range for a tensor of %u dimensions", *dim, self->ndim);
      return FALSE;
    }
  *dim = d;
  return TRUE;
}

/**
 * cxr_tensor_reshape:
 * @self: a tensor
 * @shape: (array length=ndim): the new shape; one size may be -1, inferred
 * @ndim: the number of dimensions
 * @error: return location for a #GError
 *
 * Returns: (transfer full): a view with the new shape when @self is
 *   contiguous, else a contiguous copy; or %NULL with @error set when the
 *   sizes do not match
 */
CxrTensor *
cxr_tensor_reshape (CxrTensor *self, const gint64 *shape, guint ndim, GError **error)
{
  gint64 resolved[CXR_TENSOR_MAX_DIMS];
  gint64 known = 1, numel;
  gint infer = -1;
  g_autoptr (CxrTensor) base = NULL;
  CxrTensor *view;

  g_return_val_if_fail (self != NULL, NULL);
  if (ndim > CXR_TENSOR_MAX_DIMS)
    return check_shape (shape, ndim, self->dtype, NULL, error), NULL;
  numel = cxr_tensor_get_numel (self);
  for (guint i = 0; i < ndim; i++)
    {
      resolved[i] = shape[i];
      if (shape[i] == -1 && infer < 0)
        infer = (gint) i;
      else if (shape[i] < 0)
        return check_shape (shape, ndim, self->dtype, NULL, error), NULL;
      else
        known *= shape[i];
    }
  if (infer >= 0)
    resolved[infer] = known > 0 ? numel / known : 0;
  if ((infer >= 0 && (known == 0 || numel % known != 0)) ||
      (infer < 0 && known != numel) || (infer >= 0 && resolved[infer] * known != numel))
    {
      g_autofree gchar *from = cxr_tensor_describe (self);
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "cannot reshape %s (%" G_GINT64_FORMAT " elements) to %u dimensions of "
                   "another count", from, numel, ndim);
      return NULL;
    }
  base = cxr_tensor_contiguous (self);
  view = view_of (base);
  view->ndim = ndim;
  {
    gint64 stride = 1;
    for (guint i = ndim; i > 0; i--)
      {
        view->shape[i - 1] = resolved[i - 1];
        view->strides[i - 1] = stride;
        stride *= MAX (resolved[i - 1], 1);
      }
  }
  return view;
}

/**
 * cxr_tensor_permute:
 * @self: a tensor
 * @dims: (array length=n_dims): the old dimension of each new one
 * @n_dims: the number of dimensions of @self
 * @error: return location for a #GError
 *
 * Returns: (transfer full): a view with the dimensions reordered, or
 *   %NULL with @error set when @dims is not a permutation
 */
CxrTensor *
cxr_tensor_permute (CxrTensor *self, const gint *dims, guint n_dims, GError **error)
{
  gboolean seen[CXR_TENSOR_MAX_DIMS] = { FALSE };
  CxrTensor *view;

  g_return_val_if_fail (self != NULL, NULL);
  if (n_dims != self->ndim)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "a permutation of %u dimensions for a tensor of %u", n_dims, self->ndim);
      return NULL;
    }
  for (guint i = 0; i < n_dims; i++)
    {
      gint d = dims[i];
      if (!normalize_dim (self, &d, error))
        return NULL;
      if (seen[d])
        {
          g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                       "dimension %d appears twice in the permutation", d);
          return NULL;
        }
      seen[d] = TRUE;
    }
  view = view_of (self);
  for (guint i = 0; i < n_dims; i++)
    {
      gint d = dims[i] < 0 ? dims[i] + (gint) self->ndim : dims[i];
      view->shape[i] = self->shape[d];
      view->strides[i] = self->strides[d];
    }
  return view;
}

/**
 * cxr_tensor_transpose:
 * @self: a tensor
 * @dim0: a dimension
 * @dim1: another dimension
 * @error: return location for a #GError
 *
 * Returns: (transfer full): a view with @dim0 and @dim1 swapped, or %NULL
 *   with @error set
 */
CxrTensor *
cxr_tensor_transpose (CxrTensor *self, gint dim0, gint dim1, GError **error)
{
  gint dims[CXR_TENSOR_MAX_DIMS];

  g_return_val_if_fail (self != NULL, NULL);
  if (!normalize_dim (self, &dim0, error) || !normalize_dim (self, &dim1, error))
    return NULL;
  for (guint i = 0; i < self->ndim; i++)
    dims[i] = (gint) i;
  dims[dim0] = dim1;
  dims[dim1] = dim0;
  return cxr_tensor_permute (self, dims, self->ndim, error);
}

/**
 * cxr_tensor_slice:
 * @self: a tensor
 * @dim: the dimension to slice
 * @start: the first index; negative counts from the end
 * @stop: one past the last index; negative counts from the end; clamped
 * @step: the step, at least 1
 * @error: return location for a #GError
 *
 * Slices one dimension as Python's `start:stop:step` does.
 *
 * Returns: (transfer full): a view, or %NULL with @error set
 */
CxrTensor *
cxr_tensor_slice (CxrTensor *self, gint dim, gint64 start, gint64 stop, gint64 step, GError **error)
{
  CxrTensor *view;
  gint64 size;

  g_return_val_if_fail (self != NULL, NULL);
  if (!normalize_dim (self, &dim, error))
    return NULL;
  if (step < 1)
    {
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "a slice step of %" G_GINT64_FORMAT ": it must be at least 1", step);
      return NULL;
    }
  size = self->shape[dim];
  if (start < 0)
    start += size;
  if (stop < 0)
    stop += size;
  start = CLAMP (start, 0, size);
  stop = CLAMP (stop, 0, size);
  view = view_of (self);
  view->shape[dim] = stop > start ? (stop - start + step - 1) / step : 0;
  if (view->shape[dim] > 0)
    view->offset += start * self->strides[dim];
  view->strides[dim] = self->strides[dim] * step;
  return view;
}

/**
 * cxr_tensor_new_like:
 * @self: a tensor
 *
 * Returns: (transfer full): a contiguous f32 tensor of zeros with the shape
 *   of @self
 */
CxrTensor *
cxr_tensor_new_like (CxrTensor *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return cxr_tensor_new (CXR_DTYPE_F32, self->shape, self->ndim);
}

/**
 * cxr_tensor_fill:
 * @self: a contiguous f32 tensor
 * @value: the value
 *
 * Sets every element to @value.
 */
void
cxr_tensor_fill (CxrTensor *self, gfloat value)
{
  gfloat *data;
  gint64 n;

  g_return_if_fail (self != NULL && self->dtype == CXR_DTYPE_F32 && cxr_tensor_is_contiguous (self));
  data = cxr_tensor_get_data (self);
  n = cxr_tensor_get_numel (self);
  for (gint64 i = 0; i < n; i++)
    data[i] = value;
}

/**
 * cxr_tensor_set_data:
 * @self: a contiguous tensor
 * @data: (array length=n_bytes): new elements, row-major, in its dtype
 * @n_bytes: their size, which must be the tensor's
 * @error: return location for a #GError
 *
 * Overwrites the elements in place (every view of the storage sees them).
 *
 * Returns: %TRUE on success
 */
gboolean
cxr_tensor_set_data (CxrTensor *self, const guint8 *data, gsize n_bytes, GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  if (!cxr_tensor_is_contiguous (self) || n_bytes != cxr_tensor_get_nbytes (self))
    {
      g_autofree gchar *d = cxr_tensor_describe (self);
      g_set_error (error, CXR_TENSOR_ERROR, CXR_TENSOR_ERROR_SHAPE,
                   "set_data: %" G_GSIZE_FORMAT " bytes for %s (%" G_GSIZE_FORMAT " bytes%s)", n_bytes, d,
                   cxr_tensor_get_nbytes (self), cxr_tensor_is_contiguous (self) ? "" : ", not contiguous");
      return FALSE;
    }
  if (n_bytes > 0)
    memcpy (cxr_tensor_get_data (self), data, n_bytes);
  return TRUE;
}

/**
 * cxr_tensor_get_item:
 * @self: a tensor
 * @index: (array length=n_index): one index per dimension
 * @n_index: the number of dimensions
 *
 * Returns: the element at @index, as a float
 */
gfloat
cxr_tensor_get_item (CxrTensor *self, const gint64 *index, guint n_index)
{
  gint64 offset = 0;

  g_return_val_if_fail (self != NULL && n_index == self->ndim, NAN);
  for (guint i = 0; i < n_index; i++)
    {
      g_return_val_if_fail (index[i] >= 0 && index[i] < self->shape[i], NAN);
      offset += index[i] * self->strides[i];
    }
  return (gfloat) read_double (self->dtype, (const guint8 *) cxr_tensor_get_data (self) +
                                              offset * (gint64) cxr_dtype_get_size (self->dtype));
}

/**
 * cxr_tensor_set_requires_grad:
 * @self: a tensor, a leaf such as a parameter or an input
 * @requires_grad: whether backward passes compute its gradient
 *
 * Marks a leaf tensor so that ops recorded on a #CxrTape track it and
 * cxr_tape_backward() accumulates its gradient.
 */
void
cxr_tensor_set_requires_grad (CxrTensor *self, gboolean requires_grad)
{
  g_return_if_fail (self != NULL);
  self->requires_grad = requires_grad;
}

/**
 * cxr_tensor_get_requires_grad:
 * @self: a tensor
 *
 * Returns: whether backward passes compute the tensor's gradient
 */
gboolean
cxr_tensor_get_requires_grad (CxrTensor *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return self->requires_grad;
}

/**
 * cxr_tensor_get_grad:
 * @self: a tensor
 *
 * Returns: (transfer none) (nullable): the gradient accumulated so far,
 *   or %NULL if none was computed
 */
CxrTensor *
cxr_tensor_get_grad (CxrTensor *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->grad;
}

/**
 * cxr_tensor_set_grad:
 * @self: a tensor
 * @grad: (nullable): a contiguous f32 tensor of the same shape, or %NULL
 *
 * Sets where the gradient accumulates: a model points each parameter's
 * gradient into one flat buffer this way.
 */
void
cxr_tensor_set_grad (CxrTensor *self, CxrTensor *grad)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (grad == NULL || (grad->dtype == CXR_DTYPE_F32 &&
                                     cxr_tensor_get_numel (grad) == cxr_tensor_get_numel (self)));
  if (grad)
    cxr_tensor_ref (grad);
  g_clear_pointer (&self->grad, cxr_tensor_unref);
  self->grad = grad;
}

/**
 * cxr_tensor_zero_grad:
 * @self: a tensor
 *
 * Sets the accumulated gradient, if any, to zeros.
 */
void
cxr_tensor_zero_grad (CxrTensor *self)
{
  g_return_if_fail (self != NULL);
  if (self->grad)
    memset (cxr_tensor_get_data (self->grad), 0, cxr_tensor_get_nbytes (self->grad));
}
