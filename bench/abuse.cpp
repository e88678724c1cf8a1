#include "abuse.h"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

#include "abuse_attacks.h"
#include "abuse_bystander.h"
#include "fleet.h"
#include "server_process.h"

namespace parley::bench {
namespace {

namespace json = boost::json;

double Round(double v, int digits) {
  const double f = std::pow(10.0, digits);
  return std::round(v * f) / f;
}

/// "1.2M" / "34k" / "560": counts short enough for a table cell.
std::string Short(uint64_t v) {
  char buf[32];
  if (v >= 10'000'000) {
    std::snprintf(buf, sizeof buf, "%.0fM", static_cast<double>(v) / 1e6);
  } else if (v >= 1'000'000) {
    std::snprintf(buf, sizeof buf, "%.1fM", static_cast<double>(v) / 1e6);
  } else if (v >= 10'000) {
    std::snprintf(buf, sizeof buf, "%.0fk", static_cast<double>(v) / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v));
  }
  return buf;
}

/// Writes `prefill` messages into each prefilled conversation (the attacker's and
/// opt.prefill_pairs more), both members sending, paced below the shipped per-user send limit
/// (20/s), so that search has an index to scan. Bodies are the fleet's: the send time, then
/// "xxx...": the search flood's "x" matches every one of them.
void Prefill(const Options& opt, const ServerRef& server, const Seed& seed, int first_pair,
             int pairs, json::object& summary, json::array& problems) {
  if (opt.prefill <= 0 || pairs <= 0) return;
  Options o = opt;
  o.window = 4;
  o.connect_concurrency = 64;
  Runner runner(ClientThreads(opt));
  Fleet fleet(runner, o, server, seed);
  for (int k = first_pair; k < first_pair + pairs; ++k) {
    fleet.AddSlot(static_cast<uint32_t>(2 * k), seed.pair_convs[k], Role::kSender);
    fleet.AddSlot(static_cast<uint32_t>(2 * k + 1), seed.pair_convs[k], Role::kSender);
  }
  std::vector<uint32_t> all(fleet.slots().size());
  for (uint32_t i = 0; i < all.size(); ++i) all[i] = i;
  const auto t0 = std::chrono::steady_clock::now();
  fleet.Connect(all);
  if (!fleet.WaitConnected(static_cast<int64_t>(all.size()), 60) || fleet.failed_count() > 0) {
    problems.emplace_back("prefill: connecting failed");
  } else {
    fleet.StartPacing();
    const int64_t each = (opt.prefill + 1) / 2;
    fleet.StartSending(Role::kSender, 15.0 * static_cast<double>(all.size()), each);
    const auto deadline = t0 + std::chrono::seconds(120);
    for (;;) {
      const int64_t busy = fleet.SumOnEach([&](int t) {
        int64_t n = 0;
        for (const Slot& s : fleet.slots()) {
          if (s.thread == t && s.ready && (s.budget != 0 || s.inflight > 0)) ++n;
        }
        return n;
      });
      if (busy == 0) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        problems.emplace_back("prefill: did not finish within 120 s");
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    fleet.StopSending(Role::kSender);
  }
  const ThreadStats st = runner.Take();
  summary["prefill_messages"] = st.acked;
  summary["prefill_s"] =
      Round(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1);
  fleet.Shutdown();
  runner.Stop();
}

std::string ServerDid(const std::map<std::string, uint64_t>& outcomes) {
  std::vector<std::pair<uint64_t, std::string>> sorted;
  for (const auto& [k, v] : outcomes) sorted.emplace_back(v, k);
  std::sort(sorted.rbegin(), sorted.rend());
  std::string out;
  for (size_t i = 0; i < sorted.size() && i < 3; ++i) {
    if (!out.empty()) out += "; ";
    out += sorted[i].second + " ×" + Short(sorted[i].first);
  }
  return out.empty() ? "nothing (no refusal, no close)" : out;
}

std::string AttackDid(const std::string& name, AttackCounters& c) {
  std::string out;
  if (name == "ping" || name == "fragments") {
    out = Short(c.frames) + " frames, " + Short(c.bytes) + " B, " + Short(c.connects) + " conns";
  } else if (name == "conns") {
    out = Short(c.max_open) + " held, " + Short(c.connects) + " opened";
  } else {
    out = Short(c.requests) + " requests";
  }
  if (c.connect_failed > 0) out += ", " + Short(c.connect_failed) + " connects failed";
  return out;
}

json::object AttackJson(AttackCounters& c) {
  json::object outcomes;
  std::lock_guard lock(c.mu);
  for (const auto& [k, v] : c.outcomes) outcomes[k] = v;
  return {{"connects", c.connects.load()},  {"connect_failed", c.connect_failed.load()},
          {"frames", c.frames.load()},      {"bytes", c.bytes.load()},
          {"requests", c.requests.load()},  {"max_open", c.max_open.load()},
          {"outcomes", std::move(outcomes)}};
}

/// Sleeps `seconds`, reading the server every 100 ms; returns its peak RSS (KiB).
uint64_t WatchServer(pid_t pid, double seconds) {
  uint64_t peak = 0;
  const auto end = std::chrono::steady_clock::now() +
                   std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                       std::chrono::duration<double>(seconds));
  for (;;) {
    if (pid > 0) {
      const ProcSample s = SampleProcess(pid);
      if (s.ok) peak = std::max(peak, s.rss_kb);
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= end) break;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(end - now, std::chrono::milliseconds(100)));
  }
  return peak;
}

}  // namespace

int AbusePairsNeeded(const Options& opt) {
  return opt.bystander_pairs + 1 + std::max(0, opt.prefill_pairs);
}

bool RunAbuse(const Options& opt, const ServerRef& server, const Seed& seed, json::object& report,
              std::string& error) {
  if (static_cast<int>(seed.pair_convs.size()) < AbusePairsNeeded(opt)) {
    error = "the seed has too few pairs";
    return false;
  }
  std::vector<std::string> attacks;
  for (const std::string& name : AttackNames()) {  // always in AttackNames()'s order
    if (opt.attacks.empty() ||
        std::find(opt.attacks.begin(), opt.attacks.end(), "all") != opt.attacks.end() ||
        std::find(opt.attacks.begin(), opt.attacks.end(), name) != opt.attacks.end()) {
      attacks.push_back(name);
    }
  }
  for (const std::string& name : opt.attacks) {
    if (name != "all" &&
        std::find(AttackNames().begin(), AttackNames().end(), name) == AttackNames().end()) {
      error = "unknown attack " + name;
      return false;
    }
  }
  json::array phases, problems;
  json::object summary;
  const int bp = opt.bystander_pairs;
  Prefill(opt, server, seed, bp, 1 + std::max(0, opt.prefill_pairs), summary, problems);

  BystanderConfig config;
  for (int k = 0; k < bp; ++k) {
    for (int side = 0; side < 2; ++side) {
      config.users.push_back(2 * k + side);
      config.convs.push_back(seed.pair_convs[k]);
    }
  }
  config.password = opt.password;
  config.logins_per_s = opt.bystander_login_rate;
  Bystander bystander(server, seed, config);
  if (!bystander.Start(30, error)) return false;

  AttackEnv env;
  env.host = server.host;
  env.port = server.port;
  env.token = seed.users[2 * bp].token;  // the attacker: the first user after the bystanders
  // The client's own sockets come from the same 20,000 open files (../shared/MACHINE.md).
  env.conns = std::clamp(opt.abuse_conns, 1, 15'000);
  for (int u : config.users) {
    env.victim_names.push_back(seed.users[u].name);
    env.victim_ids.push_back(seed.users[u].id);
  }

  std::vector<std::string> names{"baseline"};
  names.insert(names.end(), attacks.begin(), attacks.end());
  uint64_t logins_ok = 0, syncs_ok = 0, sends_ok = 0;
  for (const std::string& name : names) {
    if (!opt.quiet) std::fprintf(stderr, "abuse: %s for %.0f s\n", name.c_str(), opt.duration);
    std::unique_ptr<Attack> attack;
    std::string source;
    if (name != "baseline") {
      const auto at = std::find(AttackNames().begin(), AttackNames().end(), name);
      source = "127.0.0." + std::to_string(2 + (at - AttackNames().begin()));
      env.source = source;
      env.deadline_ns = NowNs() + static_cast<int64_t>((opt.warmup + opt.duration + 5) * 1e9);
      attack = StartAttack(name, env);
    }
    WatchServer(0, opt.warmup);
    bystander.Take();
    const ProcSample s0 = server.pid > 0 ? SampleProcess(server.pid) : ProcSample{};
    const int64_t t0 = NowNs();
    const uint64_t peak_kb = WatchServer(server.pid, opt.duration);
    const BystanderStats st = bystander.Take();
    const ProcSample s1 = server.pid > 0 ? SampleProcess(server.pid) : ProcSample{};
    const double seconds = static_cast<double>(NowNs() - t0) / 1e9;
    if (attack) attack->Stop();

    json::object phase{{"name", name},
                       {"source", source.empty() ? "-" : source},
                       {"seconds", Round(seconds, 3)},
                       {"bystander", st.Json()}};
    if (attack) {
      phase["attack"] = AttackJson(attack->counters());
      phase["attack_did"] = AttackDid(name, attack->counters());
      std::lock_guard lock(attack->counters().mu);
      phase["server_did"] = ServerDid(attack->counters().outcomes);
    } else {
      phase["attack_did"] = "-";
      phase["server_did"] = "-";
    }
    if (s0.ok && s1.ok) {
      phase["server"] = json::object{{"cpu_s", Round(s1.cpu_s - s0.cpu_s, 3)},
                                     {"cores", Round((s1.cpu_s - s0.cpu_s) / seconds, 3)},
                                     {"rss_kb_peak", std::max(peak_kb, s1.rss_kb)},
                                     {"rss_kb_end", s1.rss_kb},
                                     {"threads", s1.threads}};
    }
    // --check asks only that the tool works: a phase in which the bystander neither got an
    // answer nor waited for one did not measure anything. A server that makes the bystander
    // wait is what the phase measures (`unanswered`), not a failure of the run.
    if (st.syncs + st.sends + st.logins == 0 && st.unanswered == 0)
      problems.emplace_back(name + ": the bystander sent nothing");
    logins_ok += st.logins;
    syncs_ok += st.syncs;
    sends_ok += st.sends;
    phases.push_back(std::move(phase));
    attack.reset();
    // Let the server settle (the attacker's sockets close) before the next phase.
    WatchServer(0, std::max(1.0, opt.warmup));
  }
  bystander.Stop();
  if (logins_ok == 0) problems.emplace_back("the bystander never logged in");
  if (syncs_ok == 0) problems.emplace_back("the bystander never got a sync answer");
  if (sends_ok == 0) problems.emplace_back("the bystander never got an ack");

  // Each latency's ratio to the baseline's.
  const json::object& base = phases.at(0).as_object().at("bystander").as_object();
  for (auto& p : phases) {
    json::object& by = p.as_object()["bystander"].as_object();
    for (const char* kind : {"login_ms", "sync_ms", "send_ms"}) {
      const double b = base.at(kind).at("p99").to_number<double>();
      json::object& l = by[kind].as_object();
      if (b > 0 && l.at("count").to_number<int64_t>() > 0)
        l["p99_x"] = Round(l.at("p99").to_number<double>() / b, 2);
    }
  }
  summary["attacks"] = json::array(attacks.begin(), attacks.end());
  summary["bystander_connections"] = config.users.size();
  report["phases"] = std::move(phases);
  report["summary"] = std::move(summary);
  report["problems"] = std::move(problems);
  return true;
}

}  // namespace parley::bench
