#include <algorithm>
#include <limits>
#include <sstream>

#include "kiln/errors.h"
#include "kiln/types.h"

namespace kiln {

size_t elementSize(DataType type) {
  switch (type) {
    case DataType::kFLOAT: return 4;
    case DataType::kHALF: return 2;
    case DataType::kBF16: return 2;
    case DataType::kDOUBLE: return 8;
    case DataType::kINT8: return 1;
    case DataType::kUINT8: return 1;
    case DataType::kINT16: return 2;
    case DataType::kUINT16: return 2;
    case DataType::kINT32: return 4;
    case DataType::kUINT32: return 4;
    case DataType::kINT64: return 8;
    case DataType::kUINT64: return 8;
    case DataType::kBOOL: return 1;
  }
  throw Error(ErrorCode::kInternal, "elementSize: bad data type");
}

std::string_view toString(DataType type) {
  switch (type) {
    case DataType::kFLOAT: return "float32";
    case DataType::kHALF: return "float16";
    case DataType::kBF16: return "bfloat16";
    case DataType::kDOUBLE: return "float64";
    case DataType::kINT8: return "int8";
    case DataType::kUINT8: return "uint8";
    case DataType::kINT16: return "int16";
    case DataType::kUINT16: return "uint16";
    case DataType::kINT32: return "int32";
    case DataType::kUINT32: return "uint32";
    case DataType::kINT64: return "int64";
    case DataType::kUINT64: return "uint64";
    case DataType::kBOOL: return "bool";
  }
  return "invalid";
}

bool isFloatingPoint(DataType type) {
  return type == DataType::kFLOAT || type == DataType::kHALF || type == DataType::kBF16 ||
         type == DataType::kDOUBLE;
}

int64_t volume(const Dims& dims) {
  for (int64_t d : dims)
    if (d < 0) throw Error(ErrorCode::kInvalidArgument, "volume of a shape with a dynamic dimension: " + toString(dims));
  if (std::find(dims.begin(), dims.end(), 0) != dims.end()) return 0;
  int64_t n = 1;
  for (int64_t d : dims) {
    // Shapes come from files (models, plans): a product past int64 is an error, not an overflow.
    if (n > std::numeric_limits<int64_t>::max() / d)
      throw Error(ErrorCode::kInvalidArgument, "shape " + toString(dims) + " has more than 2^63 - 1 elements");
    n *= d;
  }
  return n;
}

std::string toString(const Dims& dims) {
  if (dims.empty()) return "scalar";
  std::ostringstream os;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) os << 'x';
    if (dims[i] < 0) os << '?';
    else os << dims[i];
  }
  return os.str();
}

std::string_view toString(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kInvalidModel: return "invalid model";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kInvalidPlan: return "invalid plan";
    case ErrorCode::kInvalidCache: return "invalid timing cache";
    case ErrorCode::kIo: return "i/o error";
    case ErrorCode::kBuildFailed: return "build failed";
    case ErrorCode::kCancelled: return "cancelled";
    case ErrorCode::kRuntime: return "runtime error";
    case ErrorCode::kInternal: return "internal error";
  }
  return "error";
}

}  // namespace kiln
