// Building an engine: Builder + BuilderConfig + OptimizationProfile -> serialized plan.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/algorithm_selector.h"
#include "kiln/network.h"
#include "kiln/progress_monitor.h"
#include "kiln/tactic.h"
#include "kiln/timing_cache.h"
#include "kiln/types.h"

namespace kiln {

enum class BuilderFlag : int32_t {
  kFP16 = 0,                //!< allow float16 tactics
  kBF16 = 1,                //!< allow bfloat16 tactics
  kTF32 = 2,                //!< allow TF32 tensor cores for float32 (GPU)
  kREFIT = 3,               //!< the engine can be refitted with new weights
  kSTRIP_WEIGHTS = 4,       //!< with kREFIT: the plan leaves the weights out
  kVERSION_COMPATIBLE = 5,  //!< the plan may be loaded by later kiln versions
};

enum class HardwareCompatibility : int32_t {
  kSAME_ARCHITECTURE = 0,  //!< runs only on the GPU architecture it was built on (default)
  kAMPERE_PLUS = 1,        //!< only tactics valid on every sm >= 80 GPU
};

//! min/opt/max dims of one input in one profile.
struct ProfileDims {
  Dims min;
  Dims opt;
  Dims max;
};

//! min/opt/max values of one shape input in one profile: its entries in row-major order (a
//! scalar input has one).
struct ProfileShapeValues {
  std::vector<int64_t> min;
  std::vector<int64_t> opt;
  std::vector<int64_t> max;
};

//! Ranges of every dynamic input; tactics are timed at opt and valid over min..max.
class OptimizationProfile {
 public:
  void setDimensions(const std::string& input, ProfileDims dims) { dims_[input] = std::move(dims); }
  bool hasDimensions(const std::string& input) const { return dims_.count(input) != 0; }
  const ProfileDims& dimensions(const std::string& input) const;
  const std::map<std::string, ProfileDims>& all() const { return dims_; }

  //! Values of a *shape input*: an int32/int64 graph input whose values determine shapes (a
  //! Reshape's shape, a Slice's starts, a Reduce's axes, TopK's k, Tile's repeats, ... given by
  //! the user at run time, like TensorRT's shape tensors). The builder finds which inputs are
  //! shape inputs; every profile must give each of them values, or the build fails naming the
  //! input. min <= opt <= max, entry by entry, in lists of the input's element count; tactics
  //! are timed at opt and checked at min and max. With min = opt = max (the common case) the
  //! profile's shapes are fixed; a context runs it with values within min..max
  //! (ExecutionContext::setInputShapeValues). With a range, contexts plan their activation
  //! memory for the values they are given (as ContextMemory::kSHAPE_SIZED does): the engine's
  //! deviceMemorySize is what min, opt and max need, and values in between may need more (a
  //! kUSER_MANAGED context then fails naming the size). Dims for the input are optional:
  //! without setDimensions a 1-D input takes the number of values as its length. Values given
  //! for an input that is no shape input are ignored (the build logs a warning).
  void setShapeValues(const std::string& input, ProfileShapeValues values) { values_[input] = std::move(values); }
  void setShapeValues(const std::string& input, std::vector<int64_t> min, std::vector<int64_t> opt,
                      std::vector<int64_t> max) {
    setShapeValues(input, ProfileShapeValues{std::move(min), std::move(opt), std::move(max)});
  }
  bool hasShapeValues(const std::string& input) const { return values_.count(input) != 0; }
  //! Throws kInvalidArgument naming the input when it has none.
  const ProfileShapeValues& shapeValues(const std::string& input) const;
  const std::map<std::string, ProfileShapeValues>& allShapeValues() const { return values_; }

 private:
  std::map<std::string, ProfileDims> dims_;
  std::map<std::string, ProfileShapeValues> values_;
};

//! How strictly a precision set by BuilderConfig::setLayerPrecision binds.
enum class PrecisionMode : int32_t {
  kOBEY = 0,    //!< the layer computes in that precision (no tactic for it: the build fails naming it)
  kPREFER = 1,  //!< the precision guard may still pin the layer to float32 (said in the report)
};

class BuilderConfig {
 public:
  BuilderConfig();

  struct LayerPrecision {
    std::string pattern;                    //!< glob over layer names (* ? [...])
    DataType precision = DataType::kFLOAT;  //!< kFLOAT, kHALF or kBF16
    PrecisionMode mode = PrecisionMode::kOBEY;
  };
  //! Layers whose name matches `pattern` compute their float tensors in `precision`, whatever
  //! the kFP16/kBF16 flags say (later calls win where patterns overlap). A pattern that
  //! matches no layer is a build error naming it. kInvalidArgument for other precisions.
  void setLayerPrecision(const std::string& pattern, DataType precision, PrecisionMode mode = PrecisionMode::kOBEY);
  const std::vector<LayerPrecision>& layerPrecisions() const { return layer_precisions_; }

  //! The precision guard (on by default; it acts on kFP16/kBF16 builds): the builder runs the
  //! network on the CPU reference in float32 and in the reduced precision on sample inputs and
  //! pins to float32 every layer whose reduced output overflows, underflows or strays past 1e-2
  //! of float32, until the outputs agree. The build report lists them under `precision_guard`.
  void setPrecisionGuard(bool on) { precision_guard_ = on; }
  bool precisionGuard() const { return precision_guard_; }

  //! A sample input for the precision guard (raw little-endian values of `type`, row-major).
  //! Inputs without one get random values in [-1, 1] (zeros for integers) at optimization
  //! profile 0's opt shape, with a dynamic first dimension at 1 (else its min).
  struct CalibrationInput {
    std::string name;
    DataType type = DataType::kFLOAT;
    Dims shape;
    std::vector<std::byte> data;
  };
  void addCalibrationInput(CalibrationInput input) { calibration_.push_back(std::move(input)); }
  const std::vector<CalibrationInput>& calibrationInputs() const { return calibration_; }

  void setFlag(BuilderFlag flag, bool on = true);
  bool getFlag(BuilderFlag flag) const;

  //! Adds a profile; returns its index. Validated by the build (min <= opt <= max, every
  //! dynamic input covered, static dims respected).
  int32_t addOptimizationProfile(const OptimizationProfile& profile);
  const std::vector<OptimizationProfile>& profiles() const { return profiles_; }

  void setTacticSource(TacticSource source, bool enabled);
  bool tacticSourceEnabled(TacticSource source) const;

  //! Largest workspace a tactic may use, in bytes (default 1 GiB).
  void setWorkspaceLimit(size_t bytes) { workspace_limit_ = bytes; }
  size_t workspaceLimit() const { return workspace_limit_; }

  //! 0: first valid tactic, no timing. 1..5: more candidates and repeats (default 3). From 3
  //! on, a GPU build also times whether its channels-last form is faster than the network in
  //! NCHW (the build report's "layout"); at 1 and 2 the channels-last rule alone decides.
  void setOptimizationLevel(int32_t level);
  int32_t optimizationLevel() const { return opt_level_; }

  //! When set, the build writes the graph after each optimizer pass to this folder (created if
  //! needed), one "NN_<pass>.txt" file per pass. Empty (the default): nothing is written.
  void setGraphDumpDirectory(std::string dir) { graph_dump_dir_ = std::move(dir); }
  const std::string& graphDumpDirectory() const { return graph_dump_dir_; }

  void setHardwareCompatibility(HardwareCompatibility level) { hw_compat_ = level; }
  HardwareCompatibility hardwareCompatibility() const { return hw_compat_; }

  //! Where the engine runs (default: the GPU when one is present, else the CPU).
  void setDevice(DeviceKind device) { device_ = device; }
  DeviceKind device() const { return device_; }

  //! Not owned; must outlive the build. The cache is read and updated by the build.
  void setTimingCache(TimingCache* cache) { timing_cache_ = cache; }
  TimingCache* timingCache() const { return timing_cache_; }
  void setAlgorithmSelector(AlgorithmSelector* selector) { selector_ = selector; }
  AlgorithmSelector* algorithmSelector() const { return selector_; }
  void setProgressMonitor(ProgressMonitor* monitor) { monitor_ = monitor; }
  ProgressMonitor* progressMonitor() const { return monitor_; }

 private:
  uint32_t flags_ = 0;
  uint32_t sources_ = 0;
  std::vector<OptimizationProfile> profiles_;
  size_t workspace_limit_ = size_t{1} << 30;
  int32_t opt_level_ = 3;
  HardwareCompatibility hw_compat_ = HardwareCompatibility::kSAME_ARCHITECTURE;
  DeviceKind device_;
  TimingCache* timing_cache_ = nullptr;
  AlgorithmSelector* selector_ = nullptr;
  ProgressMonitor* monitor_ = nullptr;
  std::vector<LayerPrecision> layer_precisions_;
  bool precision_guard_ = true;
  std::vector<CalibrationInput> calibration_;
  std::string graph_dump_dir_;
};

class Builder {
 public:
  //! Builds and serializes an engine. `report_json`, when given, receives the build report:
  //! per layer its candidates, times, choice, source, cache hit or miss; top-level keys
  //! `timings`, `timing_cache` {hits, misses}, `wall_time_ms`, `peak_host_memory_bytes`,
  //! `peak_device_memory_bytes`. Throws kiln::Error (kBuildFailed, kCancelled,
  //! kInvalidArgument naming the profile or input, ...).
  static std::vector<std::byte> buildSerializedNetwork(const Network& network, const BuilderConfig& config,
                                                       std::string* report_json = nullptr);

  //! True when a CUDA GPU is usable (kiln built with CUDA and a device present).
  static bool gpuAvailable();
};

}  // namespace kiln
