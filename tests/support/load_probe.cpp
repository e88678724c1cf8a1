#include "support/load_probe.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace parley::e2e {
namespace {

using Clock = std::chrono::steady_clock;

int64_t StatusField(const std::string& status, std::string_view name) {
  const size_t at = status.find(std::string(name) + ":");
  if (at == std::string::npos) throw std::runtime_error("no " + std::string(name) + " in status");
  return std::stoll(status.substr(at + name.size() + 1));
}

double Percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t index = std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()));
  return sorted[index];
}

}  // namespace

ProcessStats ProcessStats::Of(pid_t pid) {
  std::ifstream status_file("/proc/" + std::to_string(pid) + "/status");
  std::ifstream stat_file("/proc/" + std::to_string(pid) + "/stat");
  if (!status_file || !stat_file) throw std::runtime_error("cannot read /proc for the server");
  std::stringstream status;
  status << status_file.rdbuf();
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  ProcessStats out;
  out.rss_kb = StatusField(status.str(), "VmRSS");
  out.hwm_kb = StatusField(status.str(), "VmHWM");
  // Fields after the command name, which is in parentheses and may hold spaces: utime and
  // stime are the 14th and 15th fields of the line.
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= 13; ++i) rest >> field;
  int64_t utime = 0;
  int64_t stime = 0;
  rest >> utime >> stime;
  out.cpu_s = static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  return out;
}

void PrintTo(const LatencyStats& s, std::ostream* os) { *os << s; }

std::ostream& operator<<(std::ostream& os, const LatencyStats& s) {
  return os << s.count << " calls (" << s.failures << " failed), p50 " << s.p50_ms << " ms, p99 "
            << s.p99_ms << " ms, max " << s.max_ms << " ms";
}

Bystander::Bystander(std::function<bool()> call, size_t max_calls)
    : call_(std::move(call)), max_calls_(max_calls) {
  thread_ = std::thread([this] {
    while (!stop_ && latencies_ms_.size() < max_calls_) {
      const auto start = Clock::now();
      const bool ok = call_();
      latencies_ms_.push_back(
          std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      if (!ok) ++failures_;
    }
  });
}

Bystander::~Bystander() {
  if (thread_.joinable()) (void)Stop();
}

LatencyStats Bystander::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  return Summarize(latencies_ms_, failures_);
}

LatencyStats Bystander::Measure(const std::function<bool()>& call, size_t calls) {
  std::vector<double> latencies_ms;
  size_t failures = 0;
  for (size_t i = 0; i < calls; ++i) {
    const auto start = Clock::now();
    if (!call()) ++failures;
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  return Summarize(std::move(latencies_ms), failures);
}

LatencyStats Summarize(std::vector<double> sorted, size_t failures) {
  std::sort(sorted.begin(), sorted.end());
  LatencyStats out;
  out.count = sorted.size();
  out.failures = failures;
  out.p50_ms = Percentile(sorted, 0.50);
  out.p99_ms = Percentile(sorted, 0.99);
  out.max_ms = sorted.empty() ? 0 : sorted.back();
  return out;
}

uint64_t Flood(int fd, std::string_view chunk, std::chrono::milliseconds limit, uint64_t max_bytes,
               std::string* error) {
  const auto deadline = Clock::now() + limit;
  uint64_t sent = 0;
  size_t offset = 0;
  while (sent < max_bytes) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    pollfd pfd{fd, POLLOUT, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, 100)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    if ((pfd.revents & (POLLERR | POLLHUP)) != 0) {
      if (error != nullptr) *error = "the connection was closed";
      break;
    }
    const ssize_t n =
        ::send(fd, chunk.data() + offset, chunk.size() - offset, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      if (error != nullptr) *error = std::string("send: ") + std::strerror(errno);
      break;
    }
    sent += static_cast<uint64_t>(n);
    offset = (offset + static_cast<size_t>(n)) % chunk.size();
  }
  return sent;
}

}  // namespace parley::e2e
