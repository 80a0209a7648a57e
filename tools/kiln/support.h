// What the subcommands share: shapes on the command line, .npy files, engines from .onnx or
// .plan files, and I/O buffers bound to a context. support.cpp needs only the kiln library
// (fuzz/ compiles it alone into its .npy reader target): nothing of support2.h or main.cpp.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/kiln.h"

namespace kiln::tool {

//! "1x3x224x224" -> {1,3,224,224}; "scalar" or "" -> {}. Throws kInvalidArgument.
Dims parseDims(const std::string& text);
//! "NAME:1x3x224x224" (several may be joined by ','); appends to `out`.
void parseShapes(const std::string& text, std::map<std::string, Dims>& out);

//! Values of shape inputs: "NAME:1,2,3[;NAME2:4,5]" ("NAME:" gives none: an empty input).
//! Throws kInvalidArgument quoting `text`.
using ShapeValues = std::map<std::string, std::vector<int64_t>>;
ShapeValues parseShapeValues(const std::string& text);
//! The same for a build, where an item may also be a range "NAME:MIN/OPT/MAX" ("k:1/4/8").
using ShapeValueRanges = std::map<std::string, ProfileShapeValues>;
ShapeValueRanges parseShapeValueRanges(const std::string& text);

//! A host tensor as read from / written to .npy files.
struct HostTensor {
  DataType type = DataType::kFLOAT;
  Dims dims;
  std::vector<std::byte> bytes;
};
HostTensor readNpy(const std::string& path);
//! Written atomically.
void writeNpy(const std::string& path, const HostTensor& tensor);
//! Random values (uniform in [-1, 1] for floats, small non-negative ints, random bools).
HostTensor randomTensor(DataType type, const Dims& dims, uint32_t seed);

//! True when `path` names an ONNX model (by extension or content) rather than a plan.
bool isOnnxModel(const std::string& path);

//! What one input takes: its type, its dims (-1: dynamic) and, for an engine, the MIN and
//! MAX shapes of each optimization profile (for a model: none, any size fits).
struct InputSpec {
  std::string name;
  DataType type = DataType::kFLOAT;
  Dims dims;
  std::vector<std::pair<Dims, Dims>> profiles;
};
std::vector<InputSpec> inputSpecs(const Engine& engine);
std::vector<InputSpec> inputSpecs(const Network& network);

//! The --input NAME=FILE.npy values, read. kInvalidArgument on a value that is not NAME=FILE.
struct GivenInputs {
  std::map<std::string, HostTensor> tensors;
  std::map<std::string, std::string> files;  // NAME -> FILE, for messages
};
GivenInputs readGivenInputs(const std::vector<std::string>& flags);

//! kInvalidArgument, before anything is run, unless every --input and --shapes name is one of
//! `inputs` (the message lists them; `owner` is "engine" or "model") and every given file
//! fits its input: the same type, rank and fixed dims, inside a profile, as --shapes says.
void checkInputs(const std::vector<InputSpec>& inputs, const std::string& owner,
                 const std::map<std::string, Dims>& shapes, const GivenInputs& given);

//! Builds (for an .onnx, reporting to `progress`) or loads (for a .plan) an engine, after
//! checkInputs. For models, dynamic inputs get a one-profile range from `shapes`.
//! For models, `values` fix the shape inputs (--shape-values; else an integer --input given
//! for a shape input); a shape input without values is the build's error.
Engine loadOrBuild(const std::string& path, const std::map<std::string, Dims>& shapes, DeviceKind device,
                   const std::string& weights = "", std::string* build_report = nullptr, const GivenInputs& given = {},
                   ProgressMonitor* progress = nullptr, const ShapeValues& values = {});

//! Gives every shape input of `engine` its values in `context`: from `values`, else from an
//! --input file given for it, else (when the context has none yet) profile 0's. Throws
//! kInvalidArgument for a name in `values` that is no shape input.
void setShapeValues(const Engine& engine, ExecutionContext& context, const ShapeValues& values,
                    const GivenInputs& given);

//! Device and pinned host buffers for every I/O tensor of a context, sized for its current
//! shapes, bound with setTensorAddress.
class IoBuffers {
 public:
  IoBuffers(Engine& engine, ExecutionContext& context);
  //! Inputs from `given` (by name) or random; copies them to the device on `stream`.
  void setInputs(const std::map<std::string, HostTensor>& given, Stream& stream, uint32_t seed = 1);
  void uploadInputs(Stream& stream);
  void downloadOutputs(Stream& stream);
  HostTensor output(const std::string& name) const;
  std::vector<std::string> inputNames() const;
  std::vector<std::string> outputNames() const;
  size_t inputBytes() const;
  size_t outputBytes() const;

 private:
  struct Io {
    std::string name;
    bool input = false;
    DataType type = DataType::kFLOAT;
    Dims dims;
    size_t bytes = 0;
    DeviceBuffer device;
    PinnedBuffer host;
  };
  Engine& engine_;
  ExecutionContext& context_;
  std::vector<Io> io_;
};

//! "1.23 ms" style.
std::string formatMs(double ms);
std::string formatBytes(size_t bytes);

}  // namespace kiln::tool
