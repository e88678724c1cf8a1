#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace parley {

/// The version line printed by --version.
inline constexpr std::string_view kParleydVersion = "parleyd 0.1.0";

/// What main() should do after reading its command line.
struct CommandLine {
  /// True when main() should print `output` and return `exit_code` without starting:
  /// after --help or --version (exit_code 0, text for stdout), or after a bad flag or an
  /// invalid configuration (exit_code 2, a message for stderr).
  bool exit_now = false;
  int exit_code = 0;
  std::string output;
  /// The validated configuration; meaningful only when exit_now is false.
  Config config;
};

/// Parses parleyd's flags with CLI11: --config FILE, and one flag per Config field named
/// --<field-with-dashes> (--listen, --data-dir, --threads, --max-frame-bytes, ...);
/// --allowed-origins may repeat and takes comma lists. Layers, lowest first: built-in
/// defaults < the --config file < `env` ("KEY=VALUE" strings, as in `environ`) < flags, and
/// then validates the result. Never calls exit() and never throws on bad input; reads no
/// process state, so tests pass argv and env explicitly.
CommandLine ParseCommandLine(int argc, const char* const* argv,
                             const std::vector<std::string>& env);

}  // namespace parley
