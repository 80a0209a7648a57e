// kiln conformance DIR...: the ONNX operator test cases on the CPU reference backend.
#include <iostream>

#include "commands.h"
#include "conformance/runner.h"
#include "kiln/builder.h"

namespace kiln::tool {
namespace {

const CommandRegistrar kRegistrar({
    .name = "conformance",
    .help = "Run ONNX test cases (model.onnx + test_data_set_*) and compare with their expected outputs",
    .setup =
        [](CLI::App& app) {
          auto options = std::make_shared<conformance::Options>();
          app.add_option("dirs", options->roots, "Folders searched for test cases")->required();
          app.add_option("--filter", options->filter, "Only cases whose folder name matches this regex");
          app.add_option("--rtol", options->rtol, "Relative tolerance")->capture_default_str();
          app.add_option("--atol", options->atol, "Absolute tolerance")->capture_default_str();
          auto device = std::make_shared<std::string>("reference");
          app.add_option("--device", *device,
                         "reference: the CPU reference backend (the oracle); cpu or gpu: build and run an engine "
                         "per case on that device")
              ->check(CLI::IsMember({"reference", "cpu", "gpu"}))
              ->capture_default_str();
          return [options, device] {
            options->engine = *device != "reference";
            options->device = *device == "gpu" ? DeviceKind::kGPU : DeviceKind::kCPU;
            if (options->device == DeviceKind::kGPU && !Builder::gpuAvailable()) {
              std::cerr << "kiln conformance: no GPU on this machine; skipped\n";
              return 77;  // the conventional "skipped" exit code (ctest SKIP_RETURN_CODE)
            }
            conformance::Summary summary = conformance::run(*options);
            if (verbosity() == Verbosity::kQuiet) {
              std::cout << "conformance: " << summary.passed << " passed, " << summary.failed << " failed, "
                        << summary.unsupported << " unsupported\n";
            } else {
              conformance::printReport(summary, std::cout, verbosity() == Verbosity::kVerbose);
            }
            return summary.failed > 0 ? 1 : 0;
          };
        },
});

}  // namespace
}  // namespace kiln::tool
