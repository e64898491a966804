/* cxr-image.h: grayscale radiographs: decoding, encoding, preprocessing.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <glib-object.h>

#include "tensor/cxr-tensor.h"

G_BEGIN_DECLS

/**
 * CxrImageFormat:
 * @CXR_IMAGE_FORMAT_UNKNOWN: not an image format cxrgen reads
 * @CXR_IMAGE_FORMAT_PNG: PNG, 8 or 16 bits
 * @CXR_IMAGE_FORMAT_JPEG: baseline or progressive JPEG, 8 bits
 * @CXR_IMAGE_FORMAT_TIFF: TIFF, 8 or 16 bits, strips or tiles
 * @CXR_IMAGE_FORMAT_DICOM: a DICOM Part 10 file with a monochrome image
 *   (through DCMTK; written as a secondary capture of a synthetic image)
 *
 * The file formats of images.
 */
typedef enum {
  CXR_IMAGE_FORMAT_UNKNOWN,
  CXR_IMAGE_FORMAT_PNG,
  CXR_IMAGE_FORMAT_JPEG,
  CXR_IMAGE_FORMAT_TIFF,
  CXR_IMAGE_FORMAT_DICOM,
} CxrImageFormat;

#define CXR_TYPE_IMAGE (cxr_image_get_type ())
G_DECLARE_FINAL_TYPE (CxrImage, cxr_image, CXR, IMAGE, GObject)

CxrImage *cxr_image_new (guint width, guint height, guint bit_depth);
CxrImage *cxr_image_load (const gchar *path, guint min_size, GError **error);
CxrImage *cxr_image_load_from_bytes (GBytes *bytes, const gchar *origin, guint min_size,
                                     GError **error);
CxrImage *cxr_image_load_windowed (const gchar *path, gdouble center, gdouble width, GError **error);
CxrImageFormat cxr_image_format_from_data (const guint8 *data, gsize length);
gboolean cxr_image_save (CxrImage *self, const gchar *path, CxrImageFormat format, GError **error);

guint cxr_image_get_width (CxrImage *self);
guint cxr_image_get_height (CxrImage *self);
guint cxr_image_get_bit_depth (CxrImage *self);
const gchar *cxr_image_get_path (CxrImage *self);
gfloat *cxr_image_get_pixels (CxrImage *self);
CxrTensor *cxr_image_to_tensor (CxrImage *self);
CxrImage *cxr_image_new_from_tensor (CxrTensor *tensor, guint bit_depth, GError **error);

CxrImage *cxr_image_resize (CxrImage *self, guint width, guint height);
CxrImage *cxr_image_center_crop (CxrImage *self, guint width, guint height);
CxrTensor *cxr_image_preprocess (CxrImage *self, guint size, guint channels);
CxrTensor *cxr_image_preprocess_clip (CxrImage *self, guint size);

gboolean cxr_report_save_dicom_sr (const gchar *path, const gchar *text, const gchar *image_path,
                                   GError **error);

G_END_DECLS
