#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace parley::e2e {

/// How long any single wait in the end-to-end harness may take before the test fails
/// instead of hanging.
inline constexpr std::chrono::milliseconds kDefaultTimeout{10'000};

/// The --metrics-token the test defaults give parleyd: tests read /metrics on the public
/// listener with `Authorization: Bearer kTestMetricsToken`.
inline constexpr std::string_view kTestMetricsToken = "e2e-metrics-token-not-a-secret";

/// How a child process ended, or that it had not ended when we stopped waiting.
struct ExitStatus {
  enum class Kind { kRunning, kExited, kSignaled };
  Kind kind = Kind::kRunning;
  int value = 0;  // the exit code (kExited) or the signal number (kSignaled)

  bool ExitedWith(int code) const { return kind == Kind::kExited && value == code; }
};
void PrintTo(const ExitStatus& status, std::ostream* os);

/// A temporary directory, removed with everything in it when this object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct ParleydOptions {
  /// Extra flags, e.g. {"--auth-timeout-ms", "300"}. A flag given here replaces the test
  /// default of the same name (see `test_defaults`).
  std::vector<std::string> args;
  /// Where parleyd keeps its data. Empty: a fresh directory inside the process's own
  /// temporary directory. Give a TempDir's path to reuse data across restarts.
  std::filesystem::path data_dir;
  /// Adds fast password hashing and rate limits too high to matter, so that tests are quick
  /// and never limited unless they ask to be.
  bool test_defaults = true;
  /// RLIMIT_NOFILE (soft and hard) for the child; 0 keeps the test process's limit.
  uint64_t max_open_files = 0;
};

/// One parleyd child process, started on 127.0.0.1 port 0 with its own temporary directory.
///
/// The child's stdout is a pipe read (with blocking reads bounded by poll) for the one line
/// `listening on http://127.0.0.1:PORT`; its stderr goes to a file in the temporary
/// directory, printed when the current test has failed. PARLEY_* environment variables are
/// not passed on, so the developer's environment cannot change what a test runs against;
/// PARLEY_E2E_LOG_LEVEL, if set, is passed as --log-level.
///
/// On destruction a still-running parleyd gets SIGTERM and must exit 0 within 15 s (this
/// catches crashes, hangs on shutdown and LeakSanitizer reports in every test); a parleyd
/// that died on its own without the test waiting for it is a test failure too. Then the
/// temporary directory is removed.
///
/// Not thread-safe: one test thread uses it. A reaper thread waits for the child.
class ParleydProcess {
 public:
  /// Starts parleyd and waits for it to listen. Throws std::runtime_error (with the child's
  /// stderr) if it exits first or does not listen within 30 s.
  explicit ParleydProcess(std::vector<std::string> args = {});
  explicit ParleydProcess(ParleydOptions options);
  /// Starts parleyd without waiting for it to listen, for tests of start-up failures.
  static std::unique_ptr<ParleydProcess> Spawn(ParleydOptions options);

  ~ParleydProcess();
  ParleydProcess(const ParleydProcess&) = delete;
  ParleydProcess& operator=(const ParleydProcess&) = delete;

  /// The port parleyd listens on. Throws if it has not said so (see WaitListening).
  uint16_t Port() const;
  /// Reads the child's stdout until the listening line; nullopt if the child closed stdout
  /// (exited) first or the timeout passed.
  std::optional<uint16_t> WaitListening(
      std::chrono::milliseconds timeout = std::chrono::milliseconds(30'000));

  /// The metrics listener's port, when parleyd was started with --metrics-listen (it prints
  /// `metrics on http://HOST:PORT/metrics` before the listening line).
  std::optional<uint16_t> MetricsPort() const { return metrics_port_; }

  pid_t Pid() const { return pid_; }
  const std::filesystem::path& DataDir() const { return data_dir_; }
  /// Everything parleyd has written to stderr so far.
  std::string StderrLog() const;

  /// Sends SIGTERM (a graceful drain) / SIGKILL. No-ops once the child has been reaped.
  void Terminate();
  void Kill();
  /// Waits for the child to end; kind kRunning if it is still running after `timeout`.
  ExitStatus WaitExit(std::chrono::milliseconds timeout = kDefaultTimeout);

 private:
  struct SpawnTag {};
  ParleydProcess(SpawnTag /*tag*/, ParleydOptions options);
  void Signal(int signo);

  TempDir root_;
  std::filesystem::path data_dir_;
  std::filesystem::path stderr_path_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string stdout_buffer_;
  std::optional<uint16_t> port_;
  std::optional<uint16_t> metrics_port_;
  bool killed_by_test_ = false;
  bool exit_observed_ = false;  // the test called WaitExit and saw the child end

  mutable std::mutex mu_;
  std::condition_variable exited_cv_;
  std::optional<ExitStatus> exit_status_;  // guarded by mu_; set by the reaper
  std::thread reaper_;
};

}  // namespace parley::e2e
