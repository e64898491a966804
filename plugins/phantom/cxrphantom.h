/* plugins/phantom/cxrphantom.h: phantom-source.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cxr.h>

G_BEGIN_DECLS

#define CXR_TYPE_PHANTOM_SOURCE (cxr_phantom_source_get_type ())
G_DECLARE_FINAL_TYPE (CxrPhantomSource, cxr_phantom_source, CXR, PHANTOM_SOURCE, CxrStage)

G_END_DECLS
