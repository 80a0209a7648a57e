// Calls a generic lambda with the C++ element type of a DataType:
//   dispatchType(t, [&]<typename T>() { ... });
// Half and BFloat16 convert to and from float implicitly, so generic arithmetic works.
#pragma once

#include <cstdint>
#include <string>

#include "ir/half.h"
#include "kiln/errors.h"
#include "kiln/types.h"

namespace kiln::ir {

template <typename F>
decltype(auto) dispatchType(DataType type, F&& f) {
  switch (type) {
    case DataType::kFLOAT: return f.template operator()<float>();
    case DataType::kHALF: return f.template operator()<Half>();
    case DataType::kBF16: return f.template operator()<BFloat16>();
    case DataType::kDOUBLE: return f.template operator()<double>();
    case DataType::kINT8: return f.template operator()<int8_t>();
    case DataType::kUINT8: return f.template operator()<uint8_t>();
    case DataType::kINT16: return f.template operator()<int16_t>();
    case DataType::kUINT16: return f.template operator()<uint16_t>();
    case DataType::kINT32: return f.template operator()<int32_t>();
    case DataType::kUINT32: return f.template operator()<uint32_t>();
    case DataType::kINT64: return f.template operator()<int64_t>();
    case DataType::kUINT64: return f.template operator()<uint64_t>();
    case DataType::kBOOL: return f.template operator()<bool>();
  }
  throw Error(ErrorCode::kInternal, "dispatchType: bad data type " + std::to_string(static_cast<int>(type)));
}

//! Only the floating-point types (float, double, Half, BFloat16).
template <typename F>
decltype(auto) dispatchFloat(DataType type, F&& f) {
  switch (type) {
    case DataType::kFLOAT: return f.template operator()<float>();
    case DataType::kHALF: return f.template operator()<Half>();
    case DataType::kBF16: return f.template operator()<BFloat16>();
    case DataType::kDOUBLE: return f.template operator()<double>();
    default: break;
  }
  throw Error(ErrorCode::kUnsupported, std::string("expected a floating-point type, got ") +
                                           std::string(toString(type)));
}

//! Accumulator type for a reduction or product over T: double for floats, T's wide form else.
template <typename T>
using Accumulator = std::conditional_t<std::is_integral_v<T>,
                                       std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>, double>;

}  // namespace kiln::ir
