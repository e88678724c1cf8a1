#include "abuse_bystander.h"

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <mutex>
#include <thread>

#include "fleet.h"
#include "http_client.h"
#include "ws_conn.h"

namespace parley::bench {

namespace json = boost::json;
namespace asio = boost::asio;

namespace {

constexpr int kMaxInflight = 8;  // per kind and connection; more due are skipped
constexpr int64_t kSecond = 1'000'000'000;

json::object LatencyJson(const Histogram& h) {
  auto ms = [](uint64_t ns) { return std::round(static_cast<double>(ns) / 1e3) / 1e3; };
  return {{"count", h.Count()},
          {"p50", ms(h.Quantile(0.50))},
          {"p99", ms(h.Quantile(0.99))},
          {"max", ms(h.Max())}};
}

// Request ids carry their send time and their kind: id = time_ns * 2 + kind.
enum Kind : int64_t { kSend = 0, kSync = 1 };

}  // namespace

void BystanderStats::Merge(const BystanderStats& o) {
  login.Merge(o.login);
  sync.Merge(o.sync);
  send.Merge(o.send);
  logins += o.logins;
  syncs += o.syncs;
  sends += o.sends;
  login_errors += o.login_errors;
  sync_errors += o.sync_errors;
  send_errors += o.send_errors;
  skipped += o.skipped;
  closed += o.closed;
  reopened += o.reopened;
  unanswered += o.unanswered;
  for (const auto& [k, v] : o.reasons) reasons[k] += v;
}

json::object BystanderStats::Json() const {
  json::object reasons_json;
  for (const auto& [k, v] : reasons) reasons_json[k] = v;
  return {{"login_ms", LatencyJson(login)},
          {"sync_ms", LatencyJson(sync)},
          {"send_ms", LatencyJson(send)},
          {"login_errors", login_errors},
          {"sync_errors", sync_errors},
          {"send_errors", send_errors},
          {"skipped", skipped},
          {"closed", closed},
          {"reopened", reopened},
          {"unanswered", unanswered},
          {"reasons", std::move(reasons_json)}};
}

/// Everything but the login thread runs on the Runner's one io thread, so the connections and
/// `ws_stats_` need no lock; the login thread has `login_stats_` under `login_mu_`.
class Bystander::Impl : public WsHandler {
 public:
  Impl(const ServerRef& server, const Seed& seed, BystanderConfig config)
      : server_(server),
        seed_(seed),
        config_(std::move(config)),
        runner_(1),
        endpoint_(asio::ip::make_address(server.host), server.port),
        host_header_(server.host + ":" + std::to_string(server.port)),
        ticker_(runner_.io(0)) {
    conns_.resize(config_.users.size());
  }

  ~Impl() override { Stop(); }

  bool Start(double timeout_s, std::string& error) {
    asio::post(runner_.io(0), [this] {
      for (size_t i = 0; i < conns_.size(); ++i) Open(i);
      Tick();
    });
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (ready_ < static_cast<int>(conns_.size())) {
      if (std::chrono::steady_clock::now() >= deadline) {
        error = "the bystander's connections did not all become ready (" +
                std::to_string(ready_.load()) + " of " + std::to_string(conns_.size()) + ")";
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    login_thread_ = std::thread([this] { LoginLoop(); });
    return true;
  }

  BystanderStats Take() {
    BystanderStats out;
    runner_.OnEach([&](int) {
      const int64_t now = NowNs();
      for (const Conn& c : conns_) {
        for (int64_t id : c.inflight) out.unanswered += now - id / 2 > kSecond ? 1 : 0;
      }
      out.Merge(ws_stats_);
      ws_stats_ = BystanderStats{};
    });
    std::lock_guard lock(login_mu_);
    out.Merge(login_stats_);
    login_stats_ = BystanderStats{};
    return out;
  }

  void Stop() {
    if (stopped_.exchange(true)) return;
    if (login_thread_.joinable()) login_thread_.join();
    runner_.OnEach([this](int) {
      ticker_.cancel();
      for (Conn& c : conns_) {
        if (c.ws) c.ws->Drop();
      }
    });
    runner_.Stop();
  }

 private:
  struct Conn {
    std::shared_ptr<WsConn> ws;
    bool ready = false;
    int64_t reopen_at = 0;  // after a close: when to reconnect
    int64_t next_send = 0;
    int64_t next_sync = 0;
    int64_t last_ns = 0;  // send time of the latest request id
    uint64_t msg_no = 0;
    std::vector<int64_t> inflight;  // ids of unanswered requests
  };

  void Open(size_t i) {
    Conn& c = conns_[i];
    c.ws = std::make_shared<WsConn>(runner_.io(0), *this, static_cast<uint32_t>(i), 0);
    c.ready = false;
    c.inflight.clear();
    c.ws->Start(endpoint_, asio::ip::address_v4::loopback(), "/v1/ws", host_header_);
  }

  void OnOpen(WsConn& conn) override {
    const SeedUser& user = seed_.users[config_.users[conn.index()]];
    conn.SendText("{\"type\":\"auth\",\"token\":\"" + user.token + "\"}");
  }

  void OnText(WsConn& conn, std::string_view text) override {
    Conn& c = conns_[conn.index()];
    if (c.ws.get() != &conn) return;
    const std::string_view type = FrameType(text);
    if (type == "ready") {
      if (!c.ready) {
        c.ready = true;
        const int64_t now = NowNs();
        c.next_send = now + static_cast<int64_t>(conn.index()) * 37'000'000;
        c.next_sync = now + static_cast<int64_t>(conn.index()) * 53'000'000;
        if (first_ready_[conn.index()]) {
          ++ws_stats_.reopened;
        } else {
          first_ready_[conn.index()] = true;
          ++ready_;
        }
      }
      return;
    }
    if (type != "ack" && type != "sync" && type != "error") return;  // events: not ours
    int64_t re = 0;
    if (!FindInt(text, "\"re\":", re)) {
      if (type == "error") ws_stats_.reasons["error without re"]++;
      return;
    }
    const auto it = std::find(c.inflight.begin(), c.inflight.end(), re);
    if (it == c.inflight.end()) return;
    c.inflight.erase(it);
    const bool sync = re % 2 == kSync;
    if (type == "error") {
      ++(sync ? ws_stats_.sync_errors : ws_stats_.send_errors);
      const std::string_view code = FindString(text, "\"code\":\"");
      ws_stats_.reasons[std::string(sync ? "sync: " : "send: ") + std::string(code)]++;
      return;
    }
    const int64_t took = NowNs() - re / 2;
    if (sync) {
      ws_stats_.sync.Record(took);
      ++ws_stats_.syncs;
    } else {
      ws_stats_.send.Record(took);
      ++ws_stats_.sends;
    }
  }

  void OnClosed(WsConn& conn, std::string_view why) override {
    Conn& c = conns_[conn.index()];
    if (c.ws.get() != &conn) return;
    ++ws_stats_.closed;
    ws_stats_.reasons["ws " + std::string(why)]++;
    for (int64_t id : c.inflight) {
      ++(id % 2 == kSync ? ws_stats_.sync_errors : ws_stats_.send_errors);
      ws_stats_.reasons[id % 2 == kSync ? "sync: connection lost" : "send: connection lost"]++;
    }
    c.inflight.clear();
    c.ready = false;
    c.ws.reset();
    c.reopen_at = NowNs() + kSecond;  // at most one reconnect a second
  }

  void Issue(Conn& c, size_t i, Kind kind, int64_t now) {
    int pending = 0;
    for (int64_t id : c.inflight) pending += id % 2 == kind ? 1 : 0;
    if (pending >= kMaxInflight) {
      ++ws_stats_.skipped;
      return;
    }
    c.last_ns = std::max(now, c.last_ns + 1);  // ids unique on the connection
    const int64_t id_value = c.last_ns * 2 + kind;
    const std::string id = std::to_string(id_value);
    if (kind == kSync) {
      c.ws->SendText("{\"type\":\"sync\",\"id\":" + id + "}");
    } else {
      c.ws->SendText("{\"type\":\"send\",\"id\":" + id + ",\"conv\":\"" + config_.convs[i] +
                     "\",\"body\":\"bystander " + std::to_string(i) + " says hello " +
                     std::to_string(c.msg_no++) + "\"}");
    }
    c.inflight.push_back(id_value);
  }

  void Tick() {
    if (stopped_) return;
    const int64_t now = NowNs();
    const auto send_every = static_cast<int64_t>(1e9 / std::max(0.001, config_.sends_per_s));
    const auto sync_every = static_cast<int64_t>(1e9 / std::max(0.001, config_.syncs_per_s));
    for (size_t i = 0; i < conns_.size(); ++i) {
      Conn& c = conns_[i];
      if (!c.ws) {
        if (now >= c.reopen_at) Open(i);
        continue;
      }
      if (!c.ready) continue;
      // After a stall, start again from now instead of catching up in a burst.
      if (now - c.next_send > kSecond) c.next_send = now;
      if (now - c.next_sync > kSecond) c.next_sync = now;
      for (; c.next_send <= now && c.ws; c.next_send += send_every) Issue(c, i, kSend, now);
      for (; c.next_sync <= now && c.ws; c.next_sync += sync_every) Issue(c, i, kSync, now);
    }
    ticker_.expires_after(std::chrono::milliseconds(2));
    ticker_.async_wait([this](boost::system::error_code ec) {
      if (!ec) Tick();
    });
  }

  void LoginLoop() {
    HttpClient http(server_.host, server_.port, 10'000);
    const auto every = static_cast<int64_t>(1e9 / std::max(0.001, config_.logins_per_s));
    int64_t next = NowNs();
    uint64_t n = 0;
    while (!stopped_) {
      if (NowNs() < next) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      next += every;
      const SeedUser& user = seed_.users[config_.users[n++ % config_.users.size()]];
      const json::object body{
          {"username", user.name}, {"password", config_.password}, {"device_name", "bystander"}};
      const int64_t t0 = NowNs();
      const HttpResponse r = http.Request("POST", "/v1/auth/login", json::serialize(body));
      const int64_t took = NowNs() - t0;
      std::string token;
      if (r.status == 200) {
        boost::system::error_code ec;
        const json::value v = json::parse(r.body, ec);
        if (!ec && v.is_object() && v.as_object().contains("access_token"))
          token = std::string(v.at("access_token").as_string());
      }
      {
        std::lock_guard lock(login_mu_);
        if (!token.empty()) {
          login_stats_.login.Record(took);
          ++login_stats_.logins;
        } else {
          ++login_stats_.login_errors;
          login_stats_.reasons[r.status == 0 ? "login: " + r.error
                                             : "login: HTTP " + std::to_string(r.status)]++;
        }
      }
      // Each login makes a device: log it out again, so that the runs leave none behind.
      if (!token.empty()) http.Request("POST", "/v1/auth/logout", "", token);
      if (NowNs() - next > 5 * kSecond) next = NowNs();  // a long stall: no burst after it
    }
  }

  ServerRef server_;
  const Seed& seed_;
  BystanderConfig config_;
  Runner runner_;
  asio::ip::tcp::endpoint endpoint_;
  std::string host_header_;
  asio::steady_timer ticker_;
  std::vector<Conn> conns_;
  std::map<size_t, bool> first_ready_;
  std::atomic<int> ready_{0};
  std::atomic<bool> stopped_{false};
  BystanderStats ws_stats_;
  std::mutex login_mu_;
  BystanderStats login_stats_;
  std::thread login_thread_;
};

Bystander::Bystander(const ServerRef& server, const Seed& seed, BystanderConfig config)
    : impl_(std::make_unique<Impl>(server, seed, std::move(config))) {}

Bystander::~Bystander() = default;

bool Bystander::Start(double timeout_s, std::string& error) {
  return impl_->Start(timeout_s, error);
}

BystanderStats Bystander::Take() { return impl_->Take(); }

void Bystander::Stop() { impl_->Stop(); }

}  // namespace parley::bench
