#include "support/parleyd_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace parley::e2e {
namespace {

constexpr std::chrono::milliseconds kShutdownTimeout{15'000};
constexpr std::string_view kListeningPrefix = "listening on http://";
constexpr std::string_view kMetricsPrefix = "metrics on http://";
constexpr size_t kMaxLogPrinted = size_t{64} * 1024;

std::string ParleydPath() {
  if (const char* path = std::getenv("PARLEY_E2E_PARLEYD"); path != nullptr && *path != '\0') {
    return path;
  }
#ifdef PARLEYD_PATH
  return PARLEYD_PATH;
#else
  throw std::runtime_error(
      "the e2e support library was built without parleyd; set PARLEY_E2E_PARLEYD");
#endif
}

// The test defaults: fast hashing and rate limits that tests never reach.
const std::vector<std::pair<std::string, std::string>>& TestDefaults() {
  static const std::vector<std::pair<std::string, std::string>> defaults = {
      {"--argon2-ops-limit", "2"},
      {"--argon2-mem-limit", "19922944"},
      {"--rate-auth-ip-per-min", "100000"},
      {"--rate-auth-ip-burst", "100000"},
      {"--rate-auth-user-per-min", "100000"},
      {"--rate-auth-user-burst", "100000"},
      {"--rate-search-per-min", "100000"},
      {"--rate-search-burst", "100000"},
      {"--rate-auth-user-fresh-per-min", "100000"},
      {"--rate-auth-user-fresh-burst", "100000"},
      {"--rate-auth-user-ip-per-min", "100000"},
      {"--rate-auth-user-ip-burst", "100000"},
      {"--rate-refresh-per-min", "100000"},
      {"--rate-refresh-burst", "100000"},
      {"--metrics-token", std::string(kTestMetricsToken)},
  };
  return defaults;
}

bool HasFlag(const std::vector<std::string>& args, std::string_view flag) {
  return std::any_of(args.begin(), args.end(), [&](const std::string& arg) {
    return arg == flag || (arg.size() > flag.size() && arg.compare(0, flag.size(), flag) == 0 &&
                           arg[flag.size()] == '=');
  });
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

void PrintTo(const ExitStatus& status, std::ostream* os) {
  switch (status.kind) {
    case ExitStatus::Kind::kRunning:
      *os << "still running";
      break;
    case ExitStatus::Kind::kExited:
      *os << "exited with code " << status.value;
      break;
    case ExitStatus::Kind::kSignaled:
      *os << "killed by signal " << status.value << " (" << strsignal(status.value) << ")";
      break;
  }
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "parley-e2e-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp: " + std::string(std::strerror(errno)));
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

namespace {
ParleydOptions WithArgs(std::vector<std::string> args) {
  ParleydOptions options;
  options.args = std::move(args);
  return options;
}
}  // namespace

ParleydProcess::ParleydProcess(std::vector<std::string> args)
    : ParleydProcess(WithArgs(std::move(args))) {}

ParleydProcess::ParleydProcess(ParleydOptions options)
    : ParleydProcess(SpawnTag{}, std::move(options)) {
  if (!WaitListening()) {
    Kill();
    const ExitStatus status = WaitExit();
    exit_observed_ = true;
    std::ostringstream why;
    why << "parleyd did not start listening (";
    PrintTo(status, &why);
    why << "); its stderr:\n" << StderrLog();
    throw std::runtime_error(why.str());
  }
}

std::unique_ptr<ParleydProcess> ParleydProcess::Spawn(ParleydOptions options) {
  return std::unique_ptr<ParleydProcess>(new ParleydProcess(SpawnTag{}, std::move(options)));
}

ParleydProcess::ParleydProcess(SpawnTag /*tag*/, ParleydOptions options) {
  data_dir_ = options.data_dir.empty() ? root_.path() / "data" : options.data_dir;
  std::filesystem::create_directories(data_dir_);
  stderr_path_ = root_.path() / "parleyd.stderr";

  // Everything the child needs is prepared before fork: between fork and exec the child
  // may only make async-signal-safe calls.
  std::vector<std::string> args = {ParleydPath()};
  auto add_default = [&](std::string_view flag, std::string value) {
    if (!HasFlag(options.args, flag)) {
      args.emplace_back(flag);
      args.push_back(std::move(value));
    }
  };
  add_default("--listen", "127.0.0.1:0");
  add_default("--data-dir", data_dir_.string());
  if (options.test_defaults) {
    for (const auto& [flag, value] : TestDefaults()) add_default(flag, value);
  }
  if (const char* level = std::getenv("PARLEY_E2E_LOG_LEVEL"); level != nullptr && *level) {
    add_default("--log-level", level);
  }
  args.insert(args.end(), options.args.begin(), options.args.end());
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "PARLEY_", 7) != 0) env.emplace_back(*e);
  }
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  std::array<int, 2> out{};
  if (pipe2(out.data(), O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  const int err_fd = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (err_fd < 0 || null_fd < 0) throw std::runtime_error("cannot open the child's files");
  const pid_t parent = getpid();
  const rlimit files{static_cast<rlim_t>(options.max_open_files),
                     static_cast<rlim_t>(options.max_open_files)};

  pid_ = fork();
  if (pid_ == 0) {
    // The server must not outlive a test process that crashed or was killed.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    if (files.rlim_cur != 0 && setrlimit(RLIMIT_NOFILE, &files) != 0) _exit(126);
    dup2(null_fd, STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    execve(argv[0], argv.data(), envp.data());
    constexpr std::string_view kMessage = "parley e2e: execve of parleyd failed\n";
    [[maybe_unused]] const ssize_t n = write(STDERR_FILENO, kMessage.data(), kMessage.size());
    _exit(127);
  }
  const int fork_errno = errno;
  ::close(out[1]);
  ::close(err_fd);
  ::close(null_fd);
  if (pid_ < 0) {
    ::close(out[0]);
    throw std::runtime_error("fork: " + std::string(std::strerror(fork_errno)));
  }
  stdout_fd_ = out[0];

  reaper_ = std::thread([this] {
    int raw = 0;
    while (waitpid(pid_, &raw, 0) < 0 && errno == EINTR) {
    }
    ExitStatus status;
    if (WIFEXITED(raw)) {
      status = {ExitStatus::Kind::kExited, WEXITSTATUS(raw)};
    } else if (WIFSIGNALED(raw)) {
      status = {ExitStatus::Kind::kSignaled, WTERMSIG(raw)};
    }
    {
      std::lock_guard lock(mu_);
      exit_status_ = status;
    }
    exited_cv_.notify_all();
  });
}

ParleydProcess::~ParleydProcess() {
  if (pid_ > 0 && !exit_observed_) {
    ExitStatus status = WaitExit(std::chrono::milliseconds(0));
    if (status.kind == ExitStatus::Kind::kRunning) {
      Terminate();
      status = WaitExit(kShutdownTimeout);
      if (status.kind == ExitStatus::Kind::kRunning) {
        Kill();
        status = WaitExit(kShutdownTimeout);
        ADD_FAILURE() << "parleyd did not exit within " << kShutdownTimeout.count()
                      << " ms of SIGTERM at the end of the test";
      } else if (!status.ExitedWith(0)) {
        ADD_FAILURE() << "parleyd " << ::testing::PrintToString(status)
                      << " after SIGTERM at the end of the test";
      }
    } else if (!killed_by_test_ && !status.ExitedWith(0)) {
      ADD_FAILURE() << "parleyd ended during the test: " << ::testing::PrintToString(status);
    }
  }
  if (reaper_.joinable()) reaper_.join();
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
  if (::testing::Test::HasFailure()) {
    std::string log = StderrLog();
    if (log.size() > kMaxLogPrinted) log = "[...]\n" + log.substr(log.size() - kMaxLogPrinted);
    std::cerr << "----- parleyd stderr (" << stderr_path_.string() << ") -----\n"
              << log << "----- end of parleyd stderr -----\n";
  }
}

uint16_t ParleydProcess::Port() const {
  if (!port_) throw std::runtime_error("parleyd has not reported its port");
  return *port_;
}

std::optional<uint16_t> ParleydProcess::WaitListening(std::chrono::milliseconds timeout) {
  if (port_) return port_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (const size_t nl = stdout_buffer_.find('\n'); nl != std::string::npos) {
      const std::string line = stdout_buffer_.substr(0, nl);
      stdout_buffer_.erase(0, nl + 1);
      if (line.rfind(kMetricsPrefix, 0) == 0) {
        // "metrics on http://HOST:PORT/metrics"
        const size_t slash = line.rfind('/');
        const size_t colon = line.rfind(':', slash);
        uint16_t port = 0;
        if (colon != std::string::npos &&
            std::from_chars(line.data() + colon + 1, line.data() + slash, port).ec == std::errc{}) {
          metrics_port_ = port;
        }
        continue;
      }
      const size_t colon = line.rfind(':');
      uint16_t port = 0;
      if (line.rfind(kListeningPrefix, 0) != 0 || colon == std::string::npos ||
          std::from_chars(line.data() + colon + 1, line.data() + line.size(), port).ec !=
              std::errc{} ||
          port == 0) {
        throw std::runtime_error("unexpected first line on parleyd's stdout: " + line);
      }
      port_ = port;
      return port_;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{.fd = stdout_fd_, .events = POLLIN, .revents = 0};
    const int ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    std::array<char, 512> chunk{};
    const ssize_t n = ::read(stdout_fd_, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;  // stdout closed: parleyd exited
    stdout_buffer_.append(chunk.data(), static_cast<size_t>(n));
  }
}

std::string ParleydProcess::StderrLog() const { return ReadFile(stderr_path_); }

void ParleydProcess::Signal(int signo) {
  std::lock_guard lock(mu_);
  // Once reaped, the pid may belong to another process.
  if (!exit_status_ && pid_ > 0) ::kill(pid_, signo);
}

void ParleydProcess::Terminate() { Signal(SIGTERM); }

void ParleydProcess::Kill() {
  killed_by_test_ = true;
  Signal(SIGKILL);
}

ExitStatus ParleydProcess::WaitExit(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  exited_cv_.wait_for(lock, timeout, [&] { return exit_status_.has_value(); });
  if (!exit_status_) return ExitStatus{};
  if (timeout.count() > 0) exit_observed_ = true;
  return *exit_status_;
}

}  // namespace parley::e2e
