// Value types shared by the whole public API: element types and dimensions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

//! Element type of a tensor. Values are stable: they are written into plans.
enum class DataType : int32_t {
  kFLOAT = 0,
  kHALF = 1,
  kBF16 = 2,
  kDOUBLE = 3,
  kINT8 = 4,
  kUINT8 = 5,
  kINT16 = 6,
  kUINT16 = 7,
  kINT32 = 8,
  kUINT32 = 9,
  kINT64 = 10,
  kUINT64 = 11,
  kBOOL = 12,
};

//! Size in bytes of one element of `type`.
size_t elementSize(DataType type);

//! Lower-case name used in messages and JSON ("float32", "float16", ...).
std::string_view toString(DataType type);

//! True for kFLOAT, kHALF, kBF16 and kDOUBLE.
bool isFloatingPoint(DataType type);

//! Dimensions of a tensor, outermost first. A negative entry is a dimension that is not
//! known until run time (a dynamic dimension); see Network::dimensionName for its name.
using Dims = std::vector<int64_t>;

//! Number of elements of a shape whose dimensions are all known; 1 for a scalar.
int64_t volume(const Dims& dims);

//! "1x3x224x224"; dynamic dimensions print as "?" (the form used by the command-line tool).
std::string toString(const Dims& dims);

//! A device's nominal peak rates (0 where unknown, e.g. on the CPU): what `kiln bench
//! --layer-times` measures each layer against.
struct DevicePeak {
  double tensor_flops = 0;  //!< dense FP16/BF16 tensor-core FLOP/s
  double fp32_flops = 0;    //!< FP32 FLOP/s without tensor cores
  double bytes_per_s = 0;   //!< device memory bandwidth
};

//! Where an engine runs.
enum class DeviceKind : int32_t {
  kCPU = 0,
  kGPU = 1,
};

}  // namespace kiln
