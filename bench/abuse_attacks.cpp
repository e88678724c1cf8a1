#include "abuse_attacks.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <functional>
#include <thread>

#include "attack_socket.h"
#include "http_client.h"

namespace parley::bench {
namespace {

namespace json = boost::json;

// New TCP connections per second an attack may open after its first burst. One source address
// has ~28k ephemeral ports, and every connection the server closes first holds its port pair in
// TIME_WAIT for 60 s; 250/s over a minute stays below that, so a phase never ends in
// EADDRNOTAVAIL of the client's own making.
constexpr double kConnectsPerSecond = 250;
constexpr int kHttpClients = 4;  // concurrent HTTP clients of the request floods
// Bounds in count, besides the deadline: what one attack may send in one phase.
constexpr uint64_t kMaxRequests = 2'000'000;
constexpr uint64_t kMaxBytes = uint64_t{16} << 30;

/// The attacker's threads yield to everything else on the client's CPU.
void LowerPriority() { ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 19); }

/// A token bucket for connects, shared by an attack's threads: `burst` at once, then
/// kConnectsPerSecond.
class ConnectBudget {
 public:
  explicit ConnectBudget(double burst) : tokens_(burst), burst_(burst), last_(Now()) {}

  /// Waits for a token; false once `stop` is set or the deadline has passed.
  bool Acquire(const std::atomic<bool>& stop, int64_t deadline) {
    for (;;) {
      if (stop || Now() >= deadline) return false;
      {
        std::lock_guard lock(mu_);
        const int64_t now = Now();
        tokens_ =
            std::min(burst_, tokens_ + static_cast<double>(now - last_) / 1e9 * kConnectsPerSecond);
        last_ = now;
        if (tokens_ >= 1) {
          tokens_ -= 1;
          return true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

 private:
  std::mutex mu_;
  double tokens_;
  double burst_;
  int64_t last_;
};

/// Connects and upgrades; the socket, or -1 with the outcome counted. `head` gets the bytes
/// read (the 101 and whatever followed).
int OpenWebSocket(const AttackEnv& env, AttackCounters& c, std::string& head) {
  std::string why;
  const int fd = Connect(env, why);
  if (fd < 0) {
    ++c.connect_failed;
    c.Count("connect: " + why);
    return -1;
  }
  ++c.connects;
  head.clear();
  if (WriteAll(fd, UpgradeRequest(env))) {
    const int64_t until = Now() + int64_t{kAttackTimeoutMs} * 1'000'000;
    while (head.find("\r\n\r\n") == std::string::npos && Now() < until && head.size() < 65536) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) == 1) {
        const std::string more = Drain(fd);
        if (more.empty()) break;
        head += more;
      }
    }
  }
  if (head.rfind("HTTP/1.1 101", 0) == 0) return fd;
  c.Count(head.empty() ? "no upgrade answer" : "upgrade answered " + head.substr(9, 3));
  ::close(fd);
  return -1;
}

class ThreadedAttack : public Attack {
 public:
  ~ThreadedAttack() override { Stop(); }
  void Stop() override {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  void Run(int n, std::function<void()> body) {
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([body] {
        LowerPriority();
        body();
      });
    }
  }

 protected:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

bool Running(const std::atomic<bool>& stop, const AttackEnv& env, const AttackCounters& c) {
  return !stop && Now() < env.deadline_ns && c.requests < kMaxRequests && c.bytes < kMaxBytes;
}

/// Streams `unit` (whole frames) on the socket as fast as it takes them until the server ends
/// the connection; then reads what it had sent to learn how. `in` holds what was read after
/// the upgrade's head; with `read`, the socket is read while streaming (else it never is, and
/// what the server sent waits in the kernel until the end).
void Stream(int fd, const std::string& unit, std::string in, bool read,
            const std::atomic<bool>& stop, const AttackEnv& env, AttackCounters& c) {
  std::string burst;
  while (burst.size() < 65536) burst += unit;
  size_t off = 0;
  uint64_t written = 0;
  std::string outcome = "stopped";
  while (Running(stop, env, c)) {
    const ssize_t n = ::send(fd, burst.data() + off, burst.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off = (off + static_cast<size_t>(n)) % burst.size();
      written += static_cast<uint64_t>(n);
      c.bytes += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      outcome = ErrnoName(errno);
      break;
    }
    pollfd p{fd, static_cast<short>(POLLOUT | POLLRDHUP | (read ? POLLIN : 0)), 0};
    ::poll(&p, 1, 50);
    if (read && (p.revents & POLLIN) != 0 && in.size() < (1u << 20)) in += Drain(fd);
    if ((p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
      outcome = "eof";
      break;
    }
  }
  c.frames += written / unit.size();
  in += Drain(fd);
  c.Count(CloseCode(in, outcome == "stopped" ? "open at the end" : outcome));
  ::close(fd);
}

// ---------------------------------------------------------------------------------------------

class PingFlood : public ThreadedAttack {
 public:
  explicit PingFlood(const AttackEnv& env) : env_(env), budget_(4) {
    Run(1, [this] {
      const std::string auth = Frame(0x81, "{\"type\":\"auth\",\"token\":\"" + env_.token + "\"}");
      const std::string ping = Frame(0x89, "");  // 0x89 0x80 + mask
      while (budget_.Acquire(stop_, env_.deadline_ns)) {
        std::string head;
        const int fd = OpenWebSocket(env_, counters_, head);
        if (fd < 0) continue;
        if (!WriteAll(fd, auth)) {
          ::close(fd);
          continue;
        }
        ++counters_.frames;
        Stream(fd, ping, HeadRest(head), /*read=*/false, stop_, env_, counters_);
      }
    });
  }
  ~PingFlood() override { Stop(); }

 private:
  AttackEnv env_;
  ConnectBudget budget_;
};

class FragmentFlood : public ThreadedAttack {
 public:
  explicit FragmentFlood(const AttackEnv& env) : env_(env), budget_(4) {
    Run(1, [this] {
      const std::string first = Frame(0x01, "{");  // text, not final
      const std::string more = Frame(0x00, "");    // continuation, not final, empty
      while (budget_.Acquire(stop_, env_.deadline_ns)) {
        std::string head;
        const int fd = OpenWebSocket(env_, counters_, head);
        if (fd < 0) continue;
        if (!WriteAll(fd, first)) {
          ::close(fd);
          continue;
        }
        ++counters_.frames;
        Stream(fd, more, HeadRest(head), /*read=*/true, stop_, env_, counters_);
      }
    });
  }
  ~FragmentFlood() override { Stop(); }

 private:
  AttackEnv env_;
  ConnectBudget budget_;
};

/// Holds env.conns connections open: even ones idle TCP, odd ones WebSocket upgrades that never
/// authenticate. Whatever the server closes is reopened (within the connect budget).
class ConnectionFlood : public ThreadedAttack {
 public:
  explicit ConnectionFlood(const AttackEnv& env) : env_(env) {
    Run(1, [this] { Loop(); });
  }
  ~ConnectionFlood() override { Stop(); }

 private:
  struct Conn {
    int fd = -1;
    bool connected = false;
    int64_t started = 0;
    std::string in;
  };

  void Open(size_t i) {
    Conn& c = conns_[i];
    std::string why;
    c = Conn{};
    c.fd = StartConnect(env_, why);
    if (c.fd < 0) {
      ++counters_.connect_failed;
      counters_.Count("connect: " + why);
      return;
    }
    c.started = Now();
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = i;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
    ++open_;
  }

  void Close(size_t i, const std::string& outcome) {
    Conn& c = conns_[i];
    if (c.fd < 0) return;
    counters_.Count(outcome);
    ::epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.fd = -1;
    --open_;
  }

  void Loop() {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    conns_.resize(static_cast<size_t>(std::max(1, env_.conns)));
    const std::string upgrade = UpgradeRequest(env_);
    std::vector<epoll_event> events(256);
    size_t next = 0;  // round-robin over slots to reopen
    while (Running(stop_, env_, counters_)) {
      // Reopen closed slots while the connect budget allows, without blocking the loop.
      for (size_t k = 0; k < conns_.size(); ++k) {
        const size_t i = (next + k) % conns_.size();
        if (conns_[i].fd >= 0) continue;
        if (!TakeToken()) break;
        Open(i);
        next = i + 1;
      }
      counters_.max_open = std::max<uint64_t>(counters_.max_open, static_cast<uint64_t>(open_));
      const int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 20);
      for (int e = 0; e < n; ++e) {
        const size_t i = events[e].data.u64;
        Conn& c = conns_[i];
        if (c.fd < 0) continue;
        if (!c.connected && (events[e].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) {
          int err = 0;
          socklen_t len = sizeof err;
          ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err != 0) {
            ++counters_.connect_failed;
            Close(i, "connect: " + ErrnoName(err));
            continue;
          }
          c.connected = true;
          ++counters_.connects;
          epoll_event ev{};
          ev.events = EPOLLIN | EPOLLRDHUP;
          ev.data.u64 = i;
          ::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
          if (i % 2 == 1 && WriteAll(c.fd, upgrade)) counters_.bytes += upgrade.size();
        }
        if ((events[e].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
          c.in += Drain(c.fd);
          // A close frame ends the connection for the attacker as much as a TCP close does
          // (the server may wait for the echo of its close before it hangs up).
          const std::string code = CloseCode(c.in, "");
          if (!code.empty()) {
            Close(i, code);
          } else if ((events[e].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
            std::string otherwise = i % 2 == 1 ? "ws closed" : "tcp closed";
            if (i % 2 == 0 && c.in.rfind("HTTP/1.1 ", 0) == 0)
              otherwise = "tcp answered " + c.in.substr(9, 3);
            Close(i, otherwise);
          }
        }
      }
      // Connects the server never completes (a full backlog) are given up after a while.
      const int64_t now = Now();
      for (size_t i = 0; i < conns_.size(); ++i) {
        if (conns_[i].fd >= 0 && !conns_[i].connected &&
            now - conns_[i].started > int64_t{kAttackTimeoutMs} * 1'000'000) {
          ++counters_.connect_failed;
          Close(i, "connect: timeout");
        }
      }
    }
    for (size_t i = 0; i < conns_.size(); ++i) {
      if (conns_[i].fd >= 0) {
        ::close(conns_[i].fd);
        conns_[i].fd = -1;
      }
    }
    ::close(ep_);
  }

  /// ConnectBudget without the wait: a slot that gets no token waits for the next loop.
  bool TakeToken() {
    const int64_t now = Now();
    tokens_ = std::min(static_cast<double>(env_.conns),
                       tokens_ + static_cast<double>(now - last_) / 1e9 * kConnectsPerSecond);
    last_ = now;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

  AttackEnv env_;
  std::vector<Conn> conns_;
  int ep_ = -1;
  int64_t open_ = 0;
  double tokens_ = static_cast<double>(env_.conns);
  int64_t last_ = Now();
};

/// kHttpClients clients sending `request(i)` back to back, each counted by its answer.
class HttpFlood : public ThreadedAttack {
 public:
  using Make =
      std::function<void(uint64_t n, std::string& method, std::string& target, std::string& body)>;
  HttpFlood(const AttackEnv& env, int clients, Make make)
      : env_(env), make_(std::move(make)), budget_(clients) {
    Run(clients, [this] {
      HttpClient http(env_.host, env_.port, kAttackTimeoutMs, env_.source);
      std::string method, target, body;
      bool fresh = true;
      while (Running(stop_, env_, counters_)) {
        // A new connection costs a port: after a failure the client waits for the budget.
        if (fresh && !budget_.Acquire(stop_, env_.deadline_ns)) break;
        make_(next_++, method, target, body);
        const HttpResponse r = http.Request(method, target, body, env_.token);
        ++counters_.requests;
        counters_.bytes += target.size() + body.size();
        fresh = r.status == 0;
        counters_.Count(r.status == 0 ? "no answer: " + r.error
                                      : "HTTP " + std::to_string(r.status));
      }
    });
  }
  ~HttpFlood() override { Stop(); }

 private:
  AttackEnv env_;
  Make make_;
  ConnectBudget budget_;
  std::atomic<uint64_t> next_{0};
};

std::unique_ptr<Attack> LoginFlood(const AttackEnv& env) {
  AttackEnv e = env;
  e.token.clear();
  return std::make_unique<HttpFlood>(
      e, kHttpClients,
      [names = env.victim_names](uint64_t n, std::string& method, std::string& target,
                                 std::string& body) {
        method = "POST";
        target = "/v1/auth/login";
        body = json::serialize(json::object{{"username", names[n % names.size()]},
                                            {"password", "not-the-password-" + std::to_string(n)},
                                            {"device_name", "attacker"}});
      });
}

std::unique_ptr<Attack> SearchFlood(const AttackEnv& env) {
  // Words that match every message (the bench's bodies: a number, then "xxx..."), prefixes
  // that match many words, and the longest query allowed: 128 one-letter prefixes, each
  // expanded over the whole index.
  std::string longest;
  for (int i = 0; i < 128; ++i) {
    longest += static_cast<char>('a' + i % 26);
    longest += "%20";
  }
  std::vector<std::string> queries{"x", "a", "1", "x%201", longest};
  return std::make_unique<HttpFlood>(
      env, kHttpClients,
      [queries](uint64_t n, std::string& method, std::string& target, std::string& body) {
        method = "GET";
        target = "/v1/search?limit=50&q=" + queries[n % queries.size()];
        body.clear();
      });
}

std::unique_ptr<Attack> GroupSpam(const AttackEnv& env) {
  json::array members;
  for (const auto& id : env.victim_ids) members.emplace_back(id);
  return std::make_unique<HttpFlood>(
      env, 2, [members](uint64_t n, std::string& method, std::string& target, std::string& body) {
        method = "POST";
        target = "/v1/conversations";
        body = json::serialize(json::object{
            {"type", "group"}, {"title", "spam " + std::to_string(n)}, {"members", members}});
      });
}

}  // namespace

void AttackCounters::Count(const std::string& what, uint64_t n) {
  std::lock_guard lock(mu);
  outcomes[what] += n;
}

const std::vector<std::string>& AttackNames() {
  static const std::vector<std::string> names{"ping",  "fragments", "conns",
                                              "login", "search",    "groups"};
  return names;
}

std::unique_ptr<Attack> StartAttack(const std::string& name, const AttackEnv& env) {
  if (name == "ping") return std::make_unique<PingFlood>(env);
  if (name == "fragments") return std::make_unique<FragmentFlood>(env);
  if (name == "conns") return std::make_unique<ConnectionFlood>(env);
  if (name == "login") return LoginFlood(env);
  if (name == "search") return SearchFlood(env);
  if (name == "groups") return GroupSpam(env);
  return nullptr;
}

}  // namespace parley::bench
