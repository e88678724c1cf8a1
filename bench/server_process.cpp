#include "server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace parley::bench {
namespace {

constexpr std::string_view kListening = "listening on http://";

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string ReplaceAll(std::string text, std::string_view from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

}  // namespace

ProcSample SampleProcess(pid_t pid) {
  ProcSample s;
  const std::string stat = ReadWhole("/proc/" + std::to_string(pid) + "/stat");
  // The command name (field 2) is in parentheses and may hold spaces: parse after the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return s;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  // Fields from 3 (state) on; utime and stime are fields 14 and 15, num_threads is 20.
  unsigned long long utime = 0, stime = 0;
  long threads = 0;
  for (int i = 3; i <= 20 && fields >> field; ++i) {
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 20) threads = std::strtol(field.c_str(), nullptr, 10);
  }
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  s.cpu_s = static_cast<double>(utime + stime) / ticks;
  s.threads = static_cast<int>(threads);
  std::istringstream status(ReadWhole("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kb = std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  s.ok = true;
  return s;
}

double SelfCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

uint64_t RaiseFileLimit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

ServerProcess::ServerProcess(std::vector<std::string> argv, std::string log_path)
    : argv_(std::move(argv)), log_path_(std::move(log_path)) {}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !exit_code_) Stop(15'000);
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
  if (!tmp_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(tmp_dir_, ec);
  }
}

bool ServerProcess::Start(int timeout_ms, std::string& error) {
  bool uses_tmp = false;
  for (const auto& arg : argv_) uses_tmp = uses_tmp || arg.find("{tmp}") != std::string::npos;
  if (uses_tmp) {
    std::string pattern = (std::filesystem::temp_directory_path() / "parley-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      error = std::string("mkdtemp: ") + std::strerror(errno);
      return false;
    }
    tmp_dir_ = pattern;
    for (auto& arg : argv_) arg = ReplaceAll(arg, "{tmp}", tmp_dir_);
  }

  // Everything is prepared before fork: the child may only make async-signal-safe calls.
  std::vector<char*> args;
  for (auto& arg : argv_) args.push_back(arg.data());
  args.push_back(nullptr);
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    error = "pipe2 failed";
    return false;
  }
  int log_fd = -1;
  if (!log_path_.empty()) {
    log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      error = "cannot open " + log_path_ + ": " + std::strerror(errno);
      return false;
    }
  }
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(out[1], STDOUT_FILENO);
    if (log_fd >= 0) dup2(log_fd, STDERR_FILENO);
    execvp(args[0], args.data());
    _exit(127);
  }
  ::close(out[1]);
  if (log_fd >= 0) ::close(log_fd);
  if (pid_ < 0) {
    ::close(out[0]);
    error = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  stdout_fd_ = out[0];

  std::string line_buffer;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const size_t at = line_buffer.find(kListening);
    if (at != std::string::npos) {
      const size_t end = line_buffer.find('\n', at);
      if (end != std::string::npos) {
        const std::string address =
            line_buffer.substr(at + kListening.size(), end - at - kListening.size());
        const size_t colon = address.rfind(':');
        host_ = address.substr(0, colon);
        port_ = static_cast<uint16_t>(std::atoi(address.c_str() + colon + 1));
        return true;
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    pollfd p{stdout_fd_, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) {
      error = "the server did not print its listening line in time";
      break;
    }
    char chunk[512];
    const ssize_t n = ::read(stdout_fd_, chunk, sizeof chunk);
    if (n <= 0) {
      error = "the server exited before listening";
      break;
    }
    line_buffer.append(chunk, static_cast<size_t>(n));
  }
  Stop(5'000);
  return false;
}

int ServerProcess::Stop(int timeout_ms) {
  if (pid_ <= 0) return -1;
  if (exit_code_) return *exit_code_;
  ::kill(pid_, SIGTERM);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (r < 0 && errno != EINTR) {
      exit_code_ = -1;
      return -1;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      exit_code_ = -1;
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a child's exit
  }
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return *exit_code_;
}

}  // namespace parley::bench
