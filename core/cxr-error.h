/* cxr-error.h: error domains of libcxrgen.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(CXR_INSIDE) && !defined(CXR_COMPILATION)
#error "Only <cxr.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

/**
 * CXR_PIPELINE_ERROR:
 *
 * Error domain of pipeline files and graphs. Errors in this domain come
 * from #CxrPipelineError; their message starts with `FILE:LINE:` when the
 * pipeline came from a file.
 */
#define CXR_PIPELINE_ERROR (cxr_pipeline_error_quark ())

/**
 * CxrPipelineError:
 * @CXR_PIPELINE_ERROR_SYNTAX: the file is not a valid pipeline file
 * @CXR_PIPELINE_ERROR_NO_SUCH_STAGE: an unknown stage or model type, or a
 *   reference to a stage or model that the pipeline does not have
 * @CXR_PIPELINE_ERROR_NO_SUCH_PROPERTY: a key that the stage does not have
 * @CXR_PIPELINE_ERROR_BAD_VALUE: a value that does not parse as the
 *   property's type, or lies outside its range
 * @CXR_PIPELINE_ERROR_LINK: two ports that cannot be linked, an input that
 *   is missing, or a field a stage needs that its input does not carry
 * @CXR_PIPELINE_ERROR_CYCLE: the stages form a cycle
 * @CXR_PIPELINE_ERROR_VARIABLE: a `${VAR}` that is not defined
 *
 * Errors of pipeline files and graphs.
 */
typedef enum {
  CXR_PIPELINE_ERROR_SYNTAX,
  CXR_PIPELINE_ERROR_NO_SUCH_STAGE,
  CXR_PIPELINE_ERROR_NO_SUCH_PROPERTY,
  CXR_PIPELINE_ERROR_BAD_VALUE,
  CXR_PIPELINE_ERROR_LINK,
  CXR_PIPELINE_ERROR_CYCLE,
  CXR_PIPELINE_ERROR_VARIABLE,
} CxrPipelineError;

/**
 * CXR_PLUGIN_ERROR:
 *
 * Error domain of plugin loading. Errors in this domain come from
 * #CxrPluginError and name the plugin file.
 */
#define CXR_PLUGIN_ERROR (cxr_plugin_error_quark ())

/**
 * CxrPluginError:
 * @CXR_PLUGIN_ERROR_MODULE: the file could not be loaded as a module, or it
 *   exports no plugin descriptor
 * @CXR_PLUGIN_ERROR_ABI: the plugin was built for another plugin ABI
 * @CXR_PLUGIN_ERROR_NAME_MISMATCH: the descriptor's name differs from the
 *   name of the file
 * @CXR_PLUGIN_ERROR_INIT: the plugin's init function failed
 *
 * Errors of plugin loading.
 */
typedef enum {
  CXR_PLUGIN_ERROR_MODULE,
  CXR_PLUGIN_ERROR_ABI,
  CXR_PLUGIN_ERROR_NAME_MISMATCH,
  CXR_PLUGIN_ERROR_INIT,
} CxrPluginError;

/**
 * CXR_IO_ERROR:
 *
 * Error domain of reading and writing data files (CSV, images, reports).
 * Messages name the file and, where there is one, the line or row.
 */
#define CXR_IO_ERROR (cxr_io_error_quark ())

/**
 * CxrIoError:
 * @CXR_IO_ERROR_FAILED: reading or writing failed (see the message)
 * @CXR_IO_ERROR_PARSE: the data is malformed
 * @CXR_IO_ERROR_MISSING_COLUMN: a column that is needed is not in the file
 * @CXR_IO_ERROR_UNSUPPORTED: a valid file of a kind that is not supported
 *
 * Errors of data files.
 */
typedef enum {
  CXR_IO_ERROR_FAILED,
  CXR_IO_ERROR_PARSE,
  CXR_IO_ERROR_MISSING_COLUMN,
  CXR_IO_ERROR_UNSUPPORTED,
} CxrIoError;

/**
 * CXR_TENSOR_ERROR:
 *
 * Error domain of the tensor engine: shapes, dtypes and tensor files.
 */
#define CXR_TENSOR_ERROR (cxr_tensor_error_quark ())

/**
 * CxrTensorError:
 * @CXR_TENSOR_ERROR_SHAPE: shapes that do not fit the operation
 * @CXR_TENSOR_ERROR_DTYPE: a dtype the operation does not take
 * @CXR_TENSOR_ERROR_FORMAT: a malformed tensor file
 * @CXR_TENSOR_ERROR_OUT_OF_MEMORY: an allocation failed
 *
 * Errors of the tensor engine.
 */
typedef enum {
  CXR_TENSOR_ERROR_SHAPE,
  CXR_TENSOR_ERROR_DTYPE,
  CXR_TENSOR_ERROR_FORMAT,
  CXR_TENSOR_ERROR_OUT_OF_MEMORY,
} CxrTensorError;

/**
 * CXR_MODEL_ERROR:
 *
 * Error domain of models: configurations and weights.
 */
#define CXR_MODEL_ERROR (cxr_model_error_quark ())

/**
 * CxrModelError:
 * @CXR_MODEL_ERROR_CONFIG: a configuration key is unknown, missing or invalid
 * @CXR_MODEL_ERROR_MISSING_TENSOR: the weights lack a tensor the model needs
 * @CXR_MODEL_ERROR_SHAPE_MISMATCH: a tensor has another shape than expected
 * @CXR_MODEL_ERROR_NOT_READY: the model was used before it was prepared
 * @CXR_MODEL_ERROR_INPUT: an input is missing, unknown, or of the wrong
 *   shape or type
 *
 * Errors of models.
 */
typedef enum {
  CXR_MODEL_ERROR_CONFIG,
  CXR_MODEL_ERROR_MISSING_TENSOR,
  CXR_MODEL_ERROR_SHAPE_MISMATCH,
  CXR_MODEL_ERROR_NOT_READY,
  CXR_MODEL_ERROR_INPUT,
} CxrModelError;

/**
 * CXR_STAGE_ERROR:
 *
 * Error domain of stages at run time, for failures that belong to no
 * other domain.
 */
#define CXR_STAGE_ERROR (cxr_stage_error_quark ())

/**
 * CxrStageError:
 * @CXR_STAGE_ERROR_FAILED: the stage failed (see the message)
 * @CXR_STAGE_ERROR_MISSING_FIELD: a batch lacks a field the stage needs
 * @CXR_STAGE_ERROR_BAD_FIELD: a batch field has the wrong type or width
 *
 * Errors of stages at run time.
 */
typedef enum {
  CXR_STAGE_ERROR_FAILED,
  CXR_STAGE_ERROR_MISSING_FIELD,
  CXR_STAGE_ERROR_BAD_FIELD,
} CxrStageError;

GQuark cxr_pipeline_error_quark (void);
GQuark cxr_plugin_error_quark (void);
GQuark cxr_io_error_quark (void);
GQuark cxr_tensor_error_quark (void);
GQuark cxr_model_error_quark (void);
GQuark cxr_stage_error_quark (void);

G_END_DECLS
