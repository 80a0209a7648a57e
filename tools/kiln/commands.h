// The kiln command-line tool: one file per subcommand, each registering itself here.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace kiln::tool {

//! Log level shared by every subcommand (-v / -q).
enum class Verbosity { kQuiet = 0, kNormal = 1, kVerbose = 2 };
Verbosity verbosity();

//! A subcommand: `setup` adds its options to `app` and returns the function that runs it
//! (returning the process exit code). Errors are thrown as kiln::Error and printed by main.
struct Command {
  std::string name;
  std::string help;
  std::function<std::function<int()>(CLI::App& app)> setup;
};

struct CommandRegistrar {
  explicit CommandRegistrar(Command command);
};
const std::vector<Command>& commands();

}  // namespace kiln::tool
