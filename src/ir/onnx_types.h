// ONNX's TensorProto.DataType numbers and kiln's element types, in both directions: one table
// for the importer, the shape rules that read a type from an attribute (Cast's "to", BitCast,
// QuantizeLinear's output_dtype, ...) and the passes that write one (Cast, FusedMatMul's
// output_type).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "kiln/types.h"

namespace kiln::ir {

//! kiln's type for an ONNX data type number; nullopt for a number that is no ONNX type or a
//! type kiln does not store (string, complex, the float8, 4-bit and 2-bit types).
std::optional<DataType> fromOnnxType(int64_t onnx_type);

//! The ONNX data type number of a kiln type.
int64_t toOnnxType(DataType type);

//! ONNX's name for a data type number ("float8e4m3fn", "string", ...); "" for a number that
//! is no ONNX type.
std::string_view onnxTypeName(int64_t onnx_type);

}  // namespace kiln::ir
