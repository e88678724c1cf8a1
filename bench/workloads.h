#pragma once

#include <sys/types.h>

#include <boost/json/object.hpp>
#include <string>

#include "options.h"
#include "seed.h"

namespace parley::bench {

/// Where the server is and what it runs on.
struct ServerRef {
  std::string host;
  uint16_t port = 0;
  pid_t pid = 0;  // 0: no server-side figures
};

/// Client io threads: opt.threads, or one per CPU this process may run on.
int ClientThreads(const Options& opt);

/// What a workload needs seeded, from the options.
SeedNeeds NeedsOf(const Options& opt);

/// Runs opt.workload against the server and returns its report: {"phases": [...],
/// "summary": {...}, "problems": [...]} (see docs/BENCHMARKS.md for the fields). A workload
/// that cannot run at all returns false with `error`.
bool RunWorkload(const Options& opt, const ServerRef& server, const Seed& seed,
                 boost::json::object& report, std::string& error);

}  // namespace parley::bench
