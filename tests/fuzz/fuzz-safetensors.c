/* tests/fuzz/fuzz-safetensors.c: libFuzzer target for the safetensors
 * reader (and the JSON parser under it). Every input must give a file or an
 * error, never a crash; a file's tensors must all read and convert.
 *   make fuzz-run FUZZ_SECONDS=30
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <cxr.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autoptr (GBytes) bytes = g_bytes_new (data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrSafetensors) file = cxr_safetensors_new_from_bytes (bytes, "fuzz", &error);
  g_auto (GStrv) names = NULL;

  if (file == NULL)
    {
      g_assert (error != NULL);
      return 0;
    }
  names = cxr_safetensors_list_names (file);
  for (guint i = 0; names[i]; i++)
    {
      g_autoptr (GError) tensor_error = NULL;
      g_autoptr (CxrTensor) t = cxr_safetensors_get_tensor (file, names[i], &tensor_error);
      g_autoptr (CxrTensor) f = NULL;

      if (t == NULL)
        continue;
      if (cxr_tensor_get_numel (t) <= (1 << 16))
        f = cxr_tensor_to_dtype (t, CXR_DTYPE_F32, NULL);
    }
  return 0;
}
