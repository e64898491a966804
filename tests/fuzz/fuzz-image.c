/* tests/fuzz/fuzz-image.c: libFuzzer target for the PNG, JPEG and TIFF
 * decoders: every input gives an image or an error, never a crash.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <cxr.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autoptr (GBytes) bytes = g_bytes_new (data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (CxrImage) image = cxr_image_load_from_bytes (bytes, "fuzz", 8, &error);

  g_assert ((image == NULL) == (error != NULL));
  if (image != NULL && cxr_image_get_width (image) * cxr_image_get_height (image) < 4096 * 4096)
    {
      g_autoptr (CxrTensor) t = cxr_image_preprocess (image, 16, 1);
    }
  return 0;
}
