#include "ir/onnx_types.h"

namespace kiln::ir {
namespace {

//! Indexed by the ONNX number (0 is UNDEFINED).
constexpr std::string_view kNames[] = {
    "",          "float",      "uint8",      "int8",         "uint16",         "int16",      "int32",
    "int64",     "string",     "bool",       "float16",      "double",         "uint32",     "uint64",
    "complex64", "complex128", "bfloat16",   "float8e4m3fn", "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz",
    "uint4",     "int4",       "float4e2m1", "float8e8m0",   "uint2",          "int2"};

}  // namespace

std::optional<DataType> fromOnnxType(int64_t onnx_type) {
  switch (onnx_type) {
    case 1: return DataType::kFLOAT;
    case 2: return DataType::kUINT8;
    case 3: return DataType::kINT8;
    case 4: return DataType::kUINT16;
    case 5: return DataType::kINT16;
    case 6: return DataType::kINT32;
    case 7: return DataType::kINT64;
    case 9: return DataType::kBOOL;
    case 10: return DataType::kHALF;
    case 11: return DataType::kDOUBLE;
    case 12: return DataType::kUINT32;
    case 13: return DataType::kUINT64;
    case 16: return DataType::kBF16;
    default: return std::nullopt;
  }
}

int64_t toOnnxType(DataType type) {
  switch (type) {
    case DataType::kFLOAT: return 1;
    case DataType::kUINT8: return 2;
    case DataType::kINT8: return 3;
    case DataType::kUINT16: return 4;
    case DataType::kINT16: return 5;
    case DataType::kINT32: return 6;
    case DataType::kINT64: return 7;
    case DataType::kBOOL: return 9;
    case DataType::kHALF: return 10;
    case DataType::kDOUBLE: return 11;
    case DataType::kUINT32: return 12;
    case DataType::kUINT64: return 13;
    case DataType::kBF16: return 16;
  }
  return 0;
}

std::string_view onnxTypeName(int64_t onnx_type) {
  const int64_t count = static_cast<int64_t>(sizeof(kNames) / sizeof(kNames[0]));
  return onnx_type > 0 && onnx_type < count ? kNames[onnx_type] : std::string_view{};
}

}  // namespace kiln::ir
