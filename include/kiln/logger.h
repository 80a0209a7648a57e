// Where kiln's messages go. The default logger prints warnings and errors to stderr.
#pragma once

#include <cstdint>
#include <string_view>

namespace kiln {

enum class Severity : int32_t { kERROR = 0, kWARNING = 1, kINFO = 2, kVERBOSE = 3 };

class ILogger {
 public:
  virtual ~ILogger() = default;
  //! Called from any thread; must not throw.
  virtual void log(Severity severity, std::string_view message) noexcept = 0;
};

//! Installs `logger` (not owned; must outlive its use) or, with nullptr, the default logger.
void setLogger(ILogger* logger);
//! Messages above this severity are dropped by the default logger (default kWARNING).
void setLogLevel(Severity level);
Severity logLevel();

//! Sends a message to the installed logger (used by kiln itself and the tools).
void log(Severity severity, std::string_view message);

}  // namespace kiln
