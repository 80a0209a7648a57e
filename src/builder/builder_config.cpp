#include "backends/backend.h"
#include "kiln/builder.h"
#include "kiln/errors.h"

namespace kiln {

const ProfileDims& OptimizationProfile::dimensions(const std::string& input) const {
  auto it = dims_.find(input);
  if (it == dims_.end()) throw Error(ErrorCode::kInvalidArgument, "the profile has no dimensions for input '" + input + "'");
  return it->second;
}

const ProfileShapeValues& OptimizationProfile::shapeValues(const std::string& input) const {
  auto it = values_.find(input);
  if (it == values_.end())
    throw Error(ErrorCode::kInvalidArgument, "the profile has no shape values for input '" + input + "'");
  return it->second;
}

BuilderConfig::BuilderConfig() : device_(Builder::gpuAvailable() ? DeviceKind::kGPU : DeviceKind::kCPU) {
  sources_ = (1u << kNumTacticSources) - 1u;
}

void BuilderConfig::setFlag(BuilderFlag flag, bool on) {
  uint32_t bit = 1u << static_cast<uint32_t>(flag);
  flags_ = on ? (flags_ | bit) : (flags_ & ~bit);
}

bool BuilderConfig::getFlag(BuilderFlag flag) const { return (flags_ >> static_cast<uint32_t>(flag)) & 1u; }

int32_t BuilderConfig::addOptimizationProfile(const OptimizationProfile& profile) {
  profiles_.push_back(profile);
  return static_cast<int32_t>(profiles_.size() - 1);
}

void BuilderConfig::setTacticSource(TacticSource source, bool enabled) {
  uint32_t bit = 1u << static_cast<uint32_t>(source);
  sources_ = enabled ? (sources_ | bit) : (sources_ & ~bit);
}

bool BuilderConfig::tacticSourceEnabled(TacticSource source) const {
  return (sources_ >> static_cast<uint32_t>(source)) & 1u;
}

void BuilderConfig::setOptimizationLevel(int32_t level) {
  if (level < 0 || level > 5)
    throw Error(ErrorCode::kInvalidArgument, "optimization level " + std::to_string(level) + " is out of range (0 to 5)");
  opt_level_ = level;
}

void BuilderConfig::setLayerPrecision(const std::string& pattern, DataType precision, PrecisionMode mode) {
  if (precision != DataType::kFLOAT && precision != DataType::kHALF && precision != DataType::kBF16)
    throw Error(ErrorCode::kInvalidArgument, "layer precision for '" + pattern + "' must be float32, float16 or bfloat16, not " +
                                                 std::string(toString(precision)));
  if (pattern.empty()) throw Error(ErrorCode::kInvalidArgument, "an empty layer-name pattern for a layer precision");
  layer_precisions_.push_back({pattern, precision, mode});
}

bool Builder::gpuAvailable() { return backend::gpuDevice() != nullptr; }

}  // namespace kiln
