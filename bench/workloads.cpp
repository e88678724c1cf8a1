#include "workloads.h"

#include <sched.h>

#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

#include "abuse.h"
#include "fleet.h"
#include "server_process.h"
#include "xmpp_fleet.h"

namespace parley::bench {

int ClientThreads(const Options& opt) {
  if (opt.threads > 0) return opt.threads;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return 1;
}

namespace {

namespace json = boost::json;

void Sleep(double seconds) {
  if (seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

double Ms(uint64_t ns) { return std::round(static_cast<double>(ns) / 1e3) / 1e3; }

json::object Latency(const Histogram& h) {
  return {{"count", h.Count()},
          {"p50", Ms(h.Quantile(0.50))},
          {"p90", Ms(h.Quantile(0.90))},
          {"p99", Ms(h.Quantile(0.99))},
          {"p999", Ms(h.Quantile(0.999))},
          {"max", Ms(h.Max())},
          {"mean", Ms(static_cast<uint64_t>(h.Mean()))}};
}

double Round(double v, int digits = 1) {
  const double f = std::pow(10.0, digits);
  return std::round(v * f) / f;
}

/// `count` per `unit` (seconds, or CPU seconds), rounded to 0.1.
double Per(uint64_t count, double unit) { return Round(static_cast<double>(count) / unit); }

/// One measured stretch: stats are taken at Begin and at End, and the server sampled at both.
class Window {
 public:
  Window(Runner& runner, const ServerRef& server) : runner_(runner), server_(server) {}

  void Begin() {
    runner_.Take();  // drop what came before
    t0_ = NowNs();
    s0_ = server_.pid > 0 ? SampleProcess(server_.pid) : ProcSample{};
    c0_ = SelfCpuSeconds();
  }

  /// The phase's report. `unit_recipients`: deliveries each acked send should make (for the
  /// per-CPU figures of sends); 0 to skip.
  json::object End(const std::string& name, ThreadStats* out = nullptr) {
    ThreadStats st = runner_.Take();
    const int64_t t1 = NowNs();
    const ProcSample s1 = server_.pid > 0 ? SampleProcess(server_.pid) : ProcSample{};
    const double c1 = SelfCpuSeconds();
    const double seconds = static_cast<double>(t1 - t0_) / 1e9;
    json::object phase{{"name", name},
                       {"seconds", Round(seconds, 3)},
                       {"sent", st.sent},
                       {"acked", st.acked},
                       {"delivered", st.delivered},
                       {"errors", st.errors},
                       {"skipped", st.skipped},
                       {"opened", st.opened},
                       {"open_failed", st.open_failed},
                       {"closed_unexpected", st.closed_unexpected},
                       {"pages", st.pages},
                       {"page_entries", st.page_entries},
                       {"resynced", st.resynced},
                       {"rate", json::object{{"sent", Per(st.sent, seconds)},
                                             {"acked", Per(st.acked, seconds)},
                                             {"delivered", Per(st.delivered, seconds)},
                                             {"pages", Per(st.pages, seconds)},
                                             {"opened", Per(st.opened, seconds)}}},
                       {"ack_ms", Latency(st.ack)},
                       {"delivery_ms", Latency(st.delivery)},
                       {"op_ms", Latency(st.op)},
                       {"resync_ms", Latency(st.resync)},
                       {"client_cpu_s", Round(c1 - c0_, 3)},
                       {"client_cores", Round((c1 - c0_) / seconds, 3)}};
    if (s0_.ok && s1.ok) {
      const double cpu = s1.cpu_s - s0_.cpu_s;
      json::object server{{"cpu_s", Round(cpu, 3)},
                          {"cores", Round(cpu / seconds, 3)},
                          {"rss_kb", s1.rss_kb},
                          {"threads", s1.threads}};
      if (cpu > 0) {
        server["per_cpu_s"] = json::object{{"acked", Per(st.acked, cpu)},
                                           {"delivered", Per(st.delivered, cpu)},
                                           {"pages", Per(st.pages, cpu)},
                                           {"opened", Per(st.opened, cpu)}};
      }
      phase["server"] = std::move(server);
    }
    json::object reasons;
    for (const auto& [k, v] : st.reasons) reasons[k] = v;
    phase["reasons"] = std::move(reasons);
    if (out != nullptr) *out = std::move(st);
    return phase;
  }

 private:
  Runner& runner_;
  const ServerRef& server_;
  int64_t t0_ = 0;
  ProcSample s0_;
  double c0_ = 0;
};

void Note(const Options& opt, const char* fmt, const std::string& a = "", double b = 0) {
  if (!opt.quiet) {
    std::fprintf(stderr, fmt, a.c_str(), b);
    std::fputc('\n', stderr);
  }
}

double ConnectTimeout(int64_t n) { return 60.0 + static_cast<double>(n) / 100.0; }

bool ConnectAll(Fleet& fleet, const std::vector<uint32_t>& which, json::array& problems) {
  const int64_t before = fleet.ready_count() + fleet.failed_count();
  fleet.Connect(which);
  const auto n = static_cast<int64_t>(which.size());
  // The peers take longer: an XMPP login is five round trips, and a MUC join is announced to
  // every occupant already in the room.
  const double timeout = ConnectTimeout(n) * (fleet.opt().target == "xmpp" ? 3 : 1);
  if (!fleet.WaitConnected(before + n, timeout)) {
    problems.emplace_back("connecting timed out: " + std::to_string(fleet.ready_count()) + " of " +
                          std::to_string(n) + " ready");
    return false;
  }
  if (fleet.failed_count() > 0) {
    problems.emplace_back(std::to_string(fleet.failed_count()) + " connections failed");
    return false;
  }
  return true;
}

std::vector<uint32_t> AllSlots(Fleet& fleet) {
  std::vector<uint32_t> all(fleet.slots().size());
  for (uint32_t i = 0; i < all.size(); ++i) all[i] = i;
  return all;
}

/// Waits for in-flight requests to be answered and for deliveries to catch up with acks
/// (`recipients` deliveries per acked send), each at most 10 s. Adds a problem on loss.
void Drain(Fleet& fleet, int recipients, json::array& problems, json::object& summary) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (fleet.Inflight() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const int64_t inflight = fleet.Inflight();
  if (inflight > 0) problems.emplace_back(std::to_string(inflight) + " requests never answered");
  if (recipients <= 0) return;
  int64_t expected = 0;
  int64_t delivered = 0;
  const auto deadline2 = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    fleet.runner().Take();
    const ThreadStats& total = fleet.runner().Total();
    expected = static_cast<int64_t>(total.acked) * recipients;
    delivered = static_cast<int64_t>(total.delivered);
    if (delivered >= expected || std::chrono::steady_clock::now() >= deadline2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  summary["acked_total"] = fleet.runner().Total().acked;
  summary["delivered_total"] = delivered;
  summary["missing_deliveries"] = std::max<int64_t>(0, expected - delivered);
  if (delivered < expected) {
    problems.emplace_back(std::to_string(expected - delivered) + " of " + std::to_string(expected) +
                          " deliveries never arrived");
  }
  if (delivered > expected) {
    problems.emplace_back(std::to_string(delivered - expected) +
                          " more deliveries than acked sends");
  }
}

void CheckPhase(const json::object& phase, json::array& problems) {
  const std::string name(phase.at("name").as_string());
  for (const char* key : {"errors", "closed_unexpected", "open_failed"}) {
    const auto v = phase.at(key).to_number<int64_t>();
    if (v > 0) problems.emplace_back(name + ": " + std::to_string(v) + " " + key);
  }
}

// ---------------------------------------------------------------------------------------------
// W1: idle connections.

bool RunW1(const Options& opt, const ServerRef& server, const Seed& seed, json::object& report) {
  Runner runner(ClientThreads(opt));
  const std::unique_ptr<Fleet> fleet_of_target = MakeFleet(runner, opt, server, seed);
  Fleet& fleet = *fleet_of_target;
  const auto users = static_cast<uint32_t>(seed.users.size());
  for (int i = 0; i < opt.conns; ++i)
    fleet.AddSlot(static_cast<uint32_t>(i) % users, "", Role::kIdle);
  json::array phases, problems;
  json::object summary;

  Window window(runner, server);
  const ProcSample base = server.pid > 0 ? SampleProcess(server.pid) : ProcSample{};
  window.Begin();
  fleet.Connect(AllSlots(fleet));
  // Memory at half and at all of them: the second half's growth is the marginal cost of a
  // connection, free of what the first connections warmed up (pools, caches).
  ProcSample half;
  int64_t half_count = 0;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(ConnectTimeout(opt.conns));
  while (fleet.ready_count() + fleet.failed_count() < opt.conns &&
         std::chrono::steady_clock::now() < deadline) {
    if (half_count == 0 && fleet.ready_count() >= opt.conns / 2 && server.pid > 0) {
      half_count = fleet.ready_count();
      half = SampleProcess(server.pid);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  json::object connect = window.End("connect+auth");
  CheckPhase(connect, problems);
  const int64_t opened = fleet.ready_count();
  if (opened < opt.conns) {
    problems.emplace_back(std::to_string(opened) + " of " + std::to_string(opt.conns) +
                          " connected");
  }
  phases.push_back(connect);

  window.Begin();
  Sleep(opt.hold);
  json::object idle = window.End("idle");
  CheckPhase(idle, problems);
  if (server.pid > 0 && base.ok && opened > 0) {
    const ProcSample full = SampleProcess(server.pid);
    summary["server_rss_kb_before"] = base.rss_kb;
    summary["server_rss_kb_after"] = full.rss_kb;
    summary["rss_per_conn_bytes"] =
        Round(static_cast<double>(full.rss_kb - std::min(full.rss_kb, base.rss_kb)) * 1024.0 /
                  static_cast<double>(opened),
              0);
    if (half.ok && opened > half_count) {
      summary["rss_per_conn_marginal_bytes"] =
          Round(static_cast<double>(full.rss_kb - std::min(full.rss_kb, half.rss_kb)) * 1024.0 /
                    static_cast<double>(opened - half_count),
                0);
    }
  }
  phases.push_back(idle);
  summary["connections"] = opened;
  summary["users"] = std::min<int64_t>(users, opt.conns);
  summary["connect_auth_per_s"] = connect.at("rate").at("opened");
  fleet.Shutdown();
  runner.Stop();
  report["phases"] = std::move(phases);
  report["summary"] = std::move(summary);
  report["problems"] = std::move(problems);
  return true;
}

// ---------------------------------------------------------------------------------------------
// W2 and W3: messages through the server, at the peak and at fixed rates.

bool WaitFor(const std::function<bool()>& done, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

/// Runs the peak phase and then one fixed-rate phase per fraction (or one at opt.rate).
/// `recipients`: deliveries per send.
void RunMessagingPhases(const Options& opt, const ServerRef& server, Fleet& fleet, int recipients,
                        json::array& phases, json::array& problems, json::object& summary) {
  Runner& runner = fleet.runner();
  Window window(runner, server);
  fleet.StartPacing();
  double peak = 0;  // sends acked per second at the peak
  if (opt.rate <= 0) {
    Note(opt, "%s: peak for %.0f s", "phase", opt.warmup + opt.duration);
    fleet.StartSending(Role::kSender, 0);
    Sleep(opt.warmup);
    window.Begin();
    Sleep(opt.duration);
    json::object phase = window.End("peak");
    peak = phase.at("rate").at("acked").to_number<double>();
    if (opt.target == "xmpp" && recipients > 0) {
      // ejabberd acks a message (XEP-0198) once the sender's session has passed it on, so at
      // the peak its acks run ahead of its deliveries: what it sustains is the lesser.
      peak = std::min(peak, phase.at("rate").at("delivered").to_number<double>() / recipients);
    }
    CheckPhase(phase, problems);
    phases.push_back(std::move(phase));
  }
  std::vector<std::pair<std::string, double>> fixed;
  if (opt.rate > 0) {
    fixed.emplace_back("fixed " + std::to_string(static_cast<int64_t>(opt.rate)) + "/s", opt.rate);
  } else {
    for (double f : opt.fractions) {
      fixed.emplace_back(std::to_string(static_cast<int>(std::lround(f * 100))) + "% of peak",
                         f * peak);
    }
  }
  for (const auto& [name, rate] : fixed) {
    if (rate <= 0) continue;
    // Start each fixed rate from an empty pipeline: the peak's backlog must not count as its
    // latency.
    fleet.StopSending(Role::kSender);
    WaitFor([&] { return fleet.Inflight() == 0; }, 30);
    Note(opt, "phase: %s", name);
    fleet.StartSending(Role::kSender, rate);
    Sleep(opt.warmup);
    window.Begin();
    Sleep(opt.duration);
    json::object phase = window.End(name);
    phase["target_rate"] = Round(rate);
    CheckPhase(phase, problems);
    phases.push_back(std::move(phase));
  }
  fleet.StopSending(Role::kSender);
  Drain(fleet, recipients, problems, summary);
  summary["peak_sends_per_s"] = Round(peak);
  summary["peak_deliveries_per_s"] = Round(peak * recipients);
  for (const auto& p : phases) {
    if (const auto* s = p.as_object().if_contains("server")) {
      if (p.at("name").as_string() == "peak" && s->as_object().contains("per_cpu_s")) {
        summary["peak_delivered_per_server_cpu_s"] = s->at("per_cpu_s").at("delivered");
        summary["peak_server_cores"] = s->at("cores");
      }
    }
  }
  for (const auto& p : phases) {
    if (p.at("name").as_string() == "connect+auth") continue;
    if (p.at("delivered").to_number<int64_t>() == 0) {
      problems.emplace_back(std::string(p.at("name").as_string()) + ": nothing delivered");
    }
  }
}

bool RunW2(const Options& opt, const ServerRef& server, const Seed& seed, json::object& report,
           std::string& error) {
  if (static_cast<int>(seed.pair_convs.size()) < opt.pairs) {
    error = "the seed has too few pairs";
    return false;
  }
  Runner runner(ClientThreads(opt));
  const std::unique_ptr<Fleet> fleet_of_target = MakeFleet(runner, opt, server, seed);
  Fleet& fleet = *fleet_of_target;
  for (int k = 0; k < opt.pairs; ++k) {
    fleet.AddSlot(static_cast<uint32_t>(2 * k), seed.pair_convs[k], Role::kSender);
    fleet.AddSlot(static_cast<uint32_t>(2 * k + 1), seed.pair_convs[k], Role::kSender);
  }
  json::array phases, problems;
  json::object summary;
  Window window(runner, server);
  window.Begin();
  const bool connected = ConnectAll(fleet, AllSlots(fleet), problems);
  phases.push_back(window.End("connect+auth"));
  if (connected) RunMessagingPhases(opt, server, fleet, 1, phases, problems, summary);
  fleet.Shutdown();
  runner.Stop();
  summary["connections"] = 2 * opt.pairs;
  report["phases"] = std::move(phases);
  report["summary"] = std::move(summary);
  report["problems"] = std::move(problems);
  return true;
}

bool RunW3(const Options& opt, const ServerRef& server, const Seed& seed, json::object& report,
           std::string& error) {
  const SeedGroupSet* set = seed.Groups(opt.group_size);
  if (set == nullptr || static_cast<int>(set->convs.size()) < opt.groups) {
    error = "the seed has too few groups of " + std::to_string(opt.group_size);
    return false;
  }
  if (opt.posters < 1 || opt.posters > opt.group_size) {
    error = "--posters must be between 1 and the group size";
    return false;
  }
  Runner runner(ClientThreads(opt));
  const std::unique_ptr<Fleet> fleet_of_target = MakeFleet(runner, opt, server, seed);
  Fleet& fleet = *fleet_of_target;
  for (int g = 0; g < opt.groups; ++g) {
    for (int m = 0; m < opt.group_size; ++m) {
      fleet.AddSlot(static_cast<uint32_t>(set->first[g] + m), set->convs[g],
                    m < opt.posters ? Role::kSender : Role::kIdle);
    }
  }
  json::array phases, problems;
  json::object summary;
  Window window(runner, server);
  window.Begin();
  const bool connected = ConnectAll(fleet, AllSlots(fleet), problems);
  phases.push_back(window.End("connect+auth"));
  if (connected)
    RunMessagingPhases(opt, server, fleet, opt.group_size - 1, phases, problems, summary);
  fleet.Shutdown();
  runner.Stop();
  summary["connections"] = opt.groups * opt.group_size;
  report["phases"] = std::move(phases);
  report["summary"] = std::move(summary);
  report["problems"] = std::move(problems);
  return true;
}

// ---------------------------------------------------------------------------------------------
// W4: a reconnect storm.

/// Resyncing clients follow PROTOCOL.md §8.2: connect, auth, `sync`, then `history` after the
/// last seq they hold, page by page, until they hold the conversation's last_seq.
class StormFleet : public Fleet {
 public:
  using Fleet::Fleet;

  std::atomic<int64_t> synced{0};
  std::atomic<int64_t> sync_failed{0};
  std::atomic<int64_t> last_done_ns{0};
  int64_t storm_start_ns = 0;  // written by the main thread before the storm's Connect

 protected:
  void OnReady(Slot& slot) override {
    if (slot.role != Role::kResyncer) return;
    slot.stage = 1;
    slot.conn->SendText(opt().sync_members ? "{\"type\":\"sync\",\"id\":\"y\"}"
                                           : "{\"type\":\"sync\",\"id\":\"y\",\"members\":false}");
  }

  void OnFrame(Slot& slot, std::string_view type, std::string_view text) override {
    if (slot.role != Role::kResyncer) return;
    if (type == "sync" && slot.stage == 1) {
      boost::system::error_code ec;
      json::value v = json::parse(text, ec);
      int64_t last_seq = -1;
      if (!ec && v.is_object()) {
        if (const json::value* convs = v.as_object().if_contains("conversations");
            convs && convs->is_array()) {
          for (const auto& c : convs->as_array()) {
            const json::value* id = c.is_object() ? c.as_object().if_contains("id") : nullptr;
            if (id != nullptr && id->is_string() && id->get_string() == slot.conv) {
              last_seq = c.at("last_seq").to_number<int64_t>();
            }
          }
        }
      }
      if (last_seq < 0) return Failed(slot, "sync without the conversation");
      slot.want_seq = last_seq;
      NextPage(slot);
    } else if (type == "history" && slot.stage == 2) {
      boost::system::error_code ec;
      json::value v = json::parse(text, ec);
      if (ec || !v.is_object() || !v.as_object().contains("messages"))
        return Failed(slot, "bad history");
      int64_t top = slot.held_seq;
      for (const auto& m : v.at("messages").as_array()) {
        top = std::max(top, m.at("seq").to_number<int64_t>());
      }
      const bool more = v.as_object().contains("has_more") && v.at("has_more").as_bool();
      ThreadStats& st = St(slot);
      ++st.pages;
      st.page_entries += v.at("messages").as_array().size();
      if (top == slot.held_seq && more) return Failed(slot, "history made no progress");
      slot.held_seq = top;
      NextPage(slot);
    }
  }

 private:
  void NextPage(Slot& slot) {
    if (slot.held_seq >= slot.want_seq) {
      slot.stage = 3;
      const int64_t now = NowNs();
      ThreadStats& st = St(slot);
      ++st.resynced;
      st.resync.Record(now - (storm_start_ns > 0 ? storm_start_ns : slot.started_ns));
      int64_t prev = last_done_ns.load();
      while (now > prev && !last_done_ns.compare_exchange_weak(prev, now)) {
      }
      ++synced;
      return;
    }
    slot.stage = 2;
    std::string frame = "{\"type\":\"history\",\"id\":\"h\",\"conv\":\"" + slot.conv +
                        "\",\"after_seq\":" + std::to_string(slot.held_seq) + ",\"limit\":50}";
    slot.conn->SendText(frame);
  }

  void Failed(Slot& slot, std::string_view why) {
    St(slot).Count(why);
    ++St(slot).errors;
    slot.stage = 4;
    ++sync_failed;
  }
};

bool RunW4(const Options& opt, const ServerRef& server, const Seed& seed, json::object& report,
           std::string& error) {
  const SeedGroupSet* set = seed.Groups(opt.group_size);
  if (set == nullptr || static_cast<int>(set->convs.size()) < opt.groups) {
    error = "the seed has too few groups of " + std::to_string(opt.group_size);
    return false;
  }
  if (static_cast<int>(seed.pair_convs.size()) < opt.observer_pairs) {
    error = "the seed has too few pairs for the observers";
    return false;
  }
  Runner runner(ClientThreads(opt));
  StormFleet fleet(runner, opt, server, seed);
  std::vector<uint32_t> storm;
  for (int g = 0; g < opt.groups; ++g) {
    for (int m = 0; m < opt.group_size; ++m) {
      storm.push_back(
          fleet.AddSlot(static_cast<uint32_t>(set->first[g] + m), set->convs[g], Role::kResyncer));
    }
  }
  // A second connection of each group's first member posts what the others will miss.
  std::vector<uint32_t> posters;
  for (int g = 0; g < opt.groups; ++g) {
    posters.push_back(
        fleet.AddSlot(static_cast<uint32_t>(set->first[g]), set->convs[g], Role::kSender));
  }
  // Untouched pairs that keep talking through the storm (extra connections of their users).
  for (int k = 0; k < opt.observer_pairs; ++k) {
    for (int side = 0; side < 2; ++side) {
      fleet.AddSlot(static_cast<uint32_t>(2 * k + side), seed.pair_convs[k], Role::kReader);
    }
  }
  for (auto& slot : fleet.slots()) {
    slot.measure_delivery = slot.role == Role::kReader;  // observers only
  }
  json::array phases, problems;
  json::object summary;
  Window window(runner, server);
  fleet.StartPacing();

  // Everyone connects; the storm clients sync once so that they hold their group's log.
  Note(opt, "%s: connecting and syncing", "w4");
  window.Begin();
  std::vector<uint32_t> all = AllSlots(fleet);
  if (!ConnectAll(fleet, all, problems) ||
      !WaitFor(
          [&] { return fleet.synced + fleet.sync_failed >= static_cast<int64_t>(storm.size()); },
          ConnectTimeout(static_cast<int64_t>(storm.size())))) {
    problems.emplace_back("the initial sync did not finish");
  }
  phases.push_back(window.End("connect+sync"));
  if (!problems.empty()) {
    fleet.Shutdown();
    runner.Stop();
    report["phases"] = std::move(phases);
    report["problems"] = std::move(problems);
    report["summary"] = std::move(summary);
    return true;
  }

  // Observers talk at a fixed rate (readers here send messages, not history requests).
  fleet.StartSending(Role::kReader, opt.observer_rate);
  Sleep(opt.warmup);
  window.Begin();
  Sleep(std::max(1.0, opt.duration / 2));
  json::object before = window.End("observers before the storm");
  CheckPhase(before, problems);
  phases.push_back(std::move(before));

  // Drop every storm client at once, then post what they will have missed.
  Note(opt, "%s: dropping and posting %.0f messages per group", "w4", opt.missed);
  window.Begin();
  runner.OnEach([&](int t) {
    for (uint32_t i : storm) {
      Slot& slot = fleet.slots()[i];
      if (slot.thread != t) continue;
      slot.dropped = true;
      slot.ready = false;
      slot.stage = 0;
      if (slot.conn) slot.conn->Drop();
    }
  });
  fleet.StartSending(Role::kSender, 0, opt.missed);
  const bool posted = WaitFor(
      [&] {
        const int64_t acked = fleet.SumOnEach([&](int t) {
          int64_t n = 0;
          for (uint32_t i : posters) n += fleet.slots()[i].thread == t ? fleet.slots()[i].acked : 0;
          return n;
        });
        return acked >= static_cast<int64_t>(posters.size()) * opt.missed;
      },
      30);
  fleet.StopSending(Role::kSender);
  if (!posted) problems.emplace_back("the posters' messages were not all acked");
  phases.push_back(window.End("drop and post"));

  // The storm: everyone reconnects at once and resyncs.
  Note(opt, "%s: storm of %.0f reconnects", "w4", static_cast<double>(storm.size()));
  fleet.synced = 0;
  fleet.sync_failed = 0;
  fleet.last_done_ns = 0;
  window.Begin();
  fleet.storm_start_ns = NowNs();
  const int64_t storm_start = fleet.storm_start_ns;
  const int64_t failed_before = fleet.failed_count();
  fleet.Connect(storm);
  const bool storm_done = WaitFor(
      [&] {
        return fleet.synced + fleet.sync_failed + (fleet.failed_count() - failed_before) >=
               static_cast<int64_t>(storm.size());
      },
      ConnectTimeout(static_cast<int64_t>(storm.size())));
  json::object storm_phase = window.End("storm");
  CheckPhase(storm_phase, problems);
  if (!storm_done) problems.emplace_back("the storm did not finish in time");
  const double resync_s = static_cast<double>(fleet.last_done_ns - storm_start) / 1e9;
  const int64_t synced = fleet.synced;
  storm_phase["observer_delivery_ms"] = storm_phase.at("delivery_ms");
  phases.push_back(std::move(storm_phase));

  // Every storm client must now hold what was posted while it was away.
  const int64_t short_clients = fleet.SumOnEach([&](int t) {
    int64_t n = 0;
    for (uint32_t i : storm) {
      const Slot& slot = fleet.slots()[i];
      if (slot.thread == t && (slot.stage != 3 || slot.held_seq < slot.want_seq)) ++n;
    }
    return n;
  });
  if (short_clients > 0)
    problems.emplace_back(std::to_string(short_clients) + " clients did not resync");
  fleet.StopSending(Role::kReader);
  Drain(fleet, 0, problems, summary);
  fleet.Shutdown();
  runner.Stop();

  summary["storm_clients"] = storm.size();
  summary["missed_each"] = opt.missed;
  summary["resynced"] = synced;
  summary["resync_all_s"] = Round(resync_s, 3);
  summary["resync_per_s"] = resync_s > 0 ? Round(static_cast<double>(synced) / resync_s) : 0.0;
  report["phases"] = std::move(phases);
  report["summary"] = std::move(summary);
  report["problems"] = std::move(problems);
  return true;
}

// ---------------------------------------------------------------------------------------------
// W5: history pages.

class HistoryFleet : public Fleet {
 public:
  using Fleet::Fleet;

 protected:
  void OnFrame(Slot& slot, std::string_view type, std::string_view text) override {
    if (type != "history") return;
    ThreadStats& st = St(slot);
    int64_t re = 0;
    if (FindInt(text, "\"re\":", re)) st.ack.Record(NowNs() - re);
    ++st.pages;
    size_t entries = 0;
    for (size_t at = text.find("\"seq\":"); at != std::string_view::npos;
         at = text.find("\"seq\":", at + 6)) {
      ++entries;
    }
    st.page_entries += entries;
    ++st.acked;
    if (slot.inflight > 0) --slot.inflight;
    if (slot.active && slot.interval_ns == 0) Fill(slot);
  }
};

bool RunW5(const Options& opt, const ServerRef& server, const Seed& seed, json::object& report,
           std::string& error) {
  const int pairs = (opt.readers + 1) / 2;
  if (static_cast<int>(seed.pair_convs.size()) < pairs) {
    error = "the seed has too few pairs";
    return false;
  }
  Runner runner(ClientThreads(opt));
  HistoryFleet fleet(runner, opt, server, seed);
  for (int i = 0; i < opt.readers; ++i) {
    fleet.AddSlot(static_cast<uint32_t>(i), seed.pair_convs[i / 2], Role::kReader);
  }
  json::array phases, problems;
  json::object summary;
  Window window(runner, server);
  window.Begin();
  const bool connected = ConnectAll(fleet, AllSlots(fleet), problems);
  phases.push_back(window.End("connect+auth"));
  if (connected) {
    // Prefill: the first reader of each pair sends `prefill` messages; its acks tell the seq.
    Note(opt, "%s: prefilling %.0f entries per conversation", "w5", opt.prefill);
    window.Begin();
    runner.OnEach([&](int t) {
      for (auto& slot : fleet.slots()) {
        if (slot.thread != t) continue;
        const bool first = (&slot - fleet.slots().data()) % 2 == 0;
        slot.history = false;
        slot.budget = first ? opt.prefill : 0;
      }
    });
    fleet.StartSending(Role::kReader, 0, Fleet::kKeepBudget);
    const bool filled = WaitFor(
        [&] {
          const int64_t done = fleet.SumOnEach([&](int t) {
            int64_t n = 0;
            for (const auto& slot : fleet.slots()) {
              if (slot.thread == t && slot.budget == 0 && slot.inflight == 0) ++n;
            }
            return n;
          });
          return done >= opt.readers;
        },
        120);
    fleet.StopSending(Role::kReader);
    if (!filled) problems.emplace_back("prefill did not finish");
    phases.push_back(window.End("prefill"));
    // Both readers of a pair read the same conversation: share the length the acks told.
    runner.OnEach([](int) {});
    for (size_t i = 1; i < fleet.slots().size(); i += 2)
      fleet.slots()[i].last_seq = fleet.slots()[i - 1].last_seq;
    runner.OnEach([&](int t) {
      for (auto& slot : fleet.slots()) {
        if (slot.thread == t) slot.history = true;
      }
    });

    Note(opt, "%s: reading pages for %.0f s", "w5", opt.warmup + opt.duration);
    fleet.StartSending(Role::kReader, 0);
    Sleep(opt.warmup);
    window.Begin();
    Sleep(opt.duration);
    json::object phase = window.End("history");
    CheckPhase(phase, problems);
    if (phase.at("pages").to_number<int64_t>() == 0) problems.emplace_back("no history pages read");
    summary["pages_per_s"] = phase.at("rate").at("pages");
    summary["entries_per_page"] = phase.at("pages").to_number<double>() > 0
                                      ? Round(phase.at("page_entries").to_number<double>() /
                                              phase.at("pages").to_number<double>())
                                      : 0.0;
    phases.push_back(std::move(phase));
    fleet.StopSending(Role::kReader);
    Drain(fleet, 0, problems, summary);
  }
  fleet.Shutdown();
  runner.Stop();
  summary["connections"] = opt.readers;
  report["phases"] = std::move(phases);
  report["summary"] = std::move(summary);
  report["problems"] = std::move(problems);
  return true;
}

}  // namespace

SeedNeeds NeedsOf(const Options& opt) {
  SeedNeeds needs;
  if (opt.workload == "w1") needs.users = std::min(opt.conns, 10'000);
  if (opt.workload == "w2") needs.pairs = opt.pairs;
  if (opt.workload == "w3" || opt.workload == "w4") {
    needs.groups = opt.groups;
    needs.group_size = opt.group_size;
  }
  if (opt.workload == "w4") needs.pairs = opt.observer_pairs;
  if (opt.workload == "w5") needs.pairs = (opt.readers + 1) / 2;
  if (opt.workload == "abuse") needs.pairs = AbusePairsNeeded(opt);
  return needs;
}

bool RunWorkload(const Options& opt, const ServerRef& server, const Seed& seed,
                 json::object& report, std::string& error) {
  if (seed.users.empty()) {
    error = "no users to connect as";
    return false;
  }
  if (opt.workload == "w1") return RunW1(opt, server, seed, report);
  if (opt.workload == "w2") return RunW2(opt, server, seed, report, error);
  if (opt.workload == "w3") return RunW3(opt, server, seed, report, error);
  if (opt.target == "bare") {
    error = opt.workload + " needs history and sync, which the bare relay does not have";
    return false;
  }
  if (opt.target == "xmpp") {
    error = opt.workload + " needs Parley's history and sync; the XMPP target runs W1-W3 only";
    return false;
  }
  if (opt.workload == "w4") return RunW4(opt, server, seed, report, error);
  if (opt.workload == "w5") return RunW5(opt, server, seed, report, error);
  if (opt.workload == "abuse") return RunAbuse(opt, server, seed, report, error);
  error = "unknown workload " + opt.workload;
  return false;
}

}  // namespace parley::bench
