#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace parley::bench {

/// What /proc says about a process at one moment.
struct ProcSample {
  bool ok = false;
  double cpu_s = 0;     // user + system time of all its threads
  uint64_t rss_kb = 0;  // resident set size
  int threads = 0;
};

/// Reads /proc/PID/stat and /proc/PID/status. `ok` is false if the process is gone.
ProcSample SampleProcess(pid_t pid);

/// This process's own CPU time (user + system), for the client's cost.
double SelfCpuSeconds();

/// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft limit.
uint64_t RaiseFileLimit();

/// A server the bench started itself (the arguments after `--`), so that it knows its PID
/// and port and stops it afterwards.
///
/// The child's stdout is read until the line `listening on http://HOST:PORT` (parleyd and
/// bare_relay both print it); its stderr goes to `log_path` (or is inherited when empty). The
/// child gets SIGKILL if the bench dies (PR_SET_PDEATHSIG). Each argument has "{tmp}" replaced
/// with a fresh temporary directory that is removed at the end.
class ServerProcess {
 public:
  ServerProcess(std::vector<std::string> argv, std::string log_path);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  /// Starts the child and waits (at most `timeout_ms`) for its listening line. On failure
  /// returns false with `error` set, and the child is stopped.
  bool Start(int timeout_ms, std::string& error);
  /// SIGTERM, then waits up to `timeout_ms` for the exit; SIGKILL after that. Returns the exit
  /// code, or -1 if it had to be killed or died from a signal.
  int Stop(int timeout_ms);

  pid_t pid() const { return pid_; }
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }

 private:
  std::vector<std::string> argv_;
  std::string log_path_;
  std::string tmp_dir_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string host_;
  uint16_t port_ = 0;
  std::optional<int> exit_code_;
};

}  // namespace parley::bench
