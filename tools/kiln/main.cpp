// kiln: build, run, benchmark and inspect inference engines.
#include <iostream>

#include "commands.h"
#include "kiln/errors.h"
#include "kiln/logger.h"

namespace kiln::tool {

namespace {
Verbosity g_verbosity = Verbosity::kNormal;
std::vector<Command>& registry() {
  static std::vector<Command> list;
  return list;
}
}  // namespace

Verbosity verbosity() { return g_verbosity; }
CommandRegistrar::CommandRegistrar(Command command) { registry().push_back(std::move(command)); }
const std::vector<Command>& commands() { return registry(); }

}  // namespace kiln::tool

int main(int argc, char** argv) {
  using namespace kiln::tool;
  CLI::App app{"kiln: an inference optimizer and runtime for ONNX models"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every subcommand");
  struct Runner {
    CLI::App* app;
    CLI::Option* verbose;
    CLI::Option* quiet;
    std::function<int()> run;
  };
  std::vector<Runner> runners;
  for (const Command& c : commands()) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    CLI::Option* v = sub->add_flag("-v,--verbose")->description("More output");
    CLI::Option* q = sub->add_flag("-q,--quiet")->description("Errors only");
    v->excludes(q);
    runners.push_back({sub, v, q, c.setup(*sub)});
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "kiln: " << e.what() << "\n";
    return 1;
  }
  for (Runner& r : runners) {
    if (!r.app->parsed()) continue;
    if (r.verbose->count()) g_verbosity = Verbosity::kVerbose;
    if (r.quiet->count()) g_verbosity = Verbosity::kQuiet;
    // The library's messages follow the same switch in every subcommand.
    kiln::setLogLevel(g_verbosity == Verbosity::kVerbose ? kiln::Severity::kVERBOSE
                      : g_verbosity == Verbosity::kQuiet ? kiln::Severity::kERROR
                                                         : kiln::Severity::kWARNING);
    CLI::App* sub = r.app;
    try {
      return r.run();
    } catch (const kiln::Error& e) {
      std::cerr << "kiln " << sub->get_name() << ": error: " << e.what() << "\n";
      return 1;
    } catch (const std::exception& e) {
      std::cerr << "kiln " << sub->get_name() << ": error: " << e.what() << "\n";
      return 1;
    }
  }
  return 1;
}
