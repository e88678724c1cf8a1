// parley_bench: the load generator. Wiring only: options, the server to start (if any), the
// seed, one workload, the report. The workloads are in workloads.cpp; docs/BENCHMARKS.md says
// what each measures and how to run the suite (scripts/bench).
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "options.h"
#include "report.h"
#include "seed.h"
#include "server_process.h"
#include "workloads.h"
#include "xmpp_fleet.h"

namespace {

namespace json = boost::json;
using parley::bench::Options;

/// http://HOST:PORT[/PATH]; with `path` (the XMPP target) also ws://HOST:PORT/PATH, whose path
/// goes there.
bool ParseUrl(const std::string& url, std::string& host, uint16_t& port, std::string* path) {
  std::string prefix = "http://";
  if (url.rfind(prefix, 0) != 0) {
    prefix = "ws://";
    if (path == nullptr || url.rfind(prefix, 0) != 0) return false;
  }
  std::string rest = url.substr(prefix.size());
  if (const size_t slash = rest.find('/'); slash != std::string::npos) {
    if (path != nullptr) *path = rest.substr(slash);
    rest.resize(slash);
  }
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos) return false;
  host = rest.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  port = static_cast<uint16_t>(std::atoi(rest.c_str() + colon + 1));
  return port != 0;
}

/// "GxS" → (G groups, S members).
bool ParseGroupSpec(const std::string& spec, int& groups, int& size) {
  const size_t x = spec.find('x');
  if (x == std::string::npos) return false;
  groups = std::atoi(spec.substr(0, x).c_str());
  size = std::atoi(spec.substr(x + 1).c_str());
  return groups > 0 && size >= 2;
}

json::object OptionsJson(const Options& o) {
  json::array fractions;
  for (double f : o.fractions) fractions.push_back(f);
  return {{"threads", o.threads},
          {"connect_concurrency", o.connect_concurrency},
          {"duration", o.duration},
          {"warmup", o.warmup},
          {"conns", o.conns},
          {"hold", o.hold},
          {"pairs", o.pairs},
          {"window", o.window},
          {"fractions", fractions},
          {"rate", o.rate},
          {"body_bytes", o.body_bytes},
          {"groups", o.groups},
          {"group_size", o.group_size},
          {"posters", o.posters},
          {"missed", o.missed},
          {"sync_members", o.sync_members},
          {"observer_pairs", o.observer_pairs},
          {"observer_rate", o.observer_rate},
          {"readers", o.readers},
          {"page", o.page},
          {"prefill", o.prefill},
          {"attacks", json::array(o.attacks.begin(), o.attacks.end())},
          {"bystander_pairs", o.bystander_pairs},
          {"bystander_login_rate", o.bystander_login_rate},
          {"abuse_conns", o.abuse_conns},
          {"prefill_pairs", o.prefill_pairs}};
}

/// The options only the XMPP target has (kept out of the other targets' reports).
json::object XmppOptionsJson(const Options& o) {
  return {{"domain", o.xmpp_domain},
          {"muc", o.xmpp_muc.empty() ? "conference." + o.xmpp_domain : o.xmpp_muc},
          {"path", o.xmpp_path}};
}

std::string NowIso() {
  const std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buf;
}

}  // namespace

int Main(int argc, char** argv) {
  Options opt;
  std::vector<std::string> seed_groups;
  std::vector<std::string> inputs;
  int stop_timeout_s = 15;
  CLI::App app{
      "parley_bench: load generator for parleyd (and the bare relay baseline).\n"
      "Runs one workload against a server given by --url, or starts the server given after --\n"
      "(it must print 'listening on http://HOST:PORT'; '{tmp}' in its arguments becomes a fresh\n"
      "temporary directory) and stops it at the end. See docs/BENCHMARKS.md."};
  app.add_option("-w,--workload", opt.workload,
                 "seed, w1 (idle), w2 (1:1), w3 (groups), w4 (reconnect storm), w5 (history), "
                 "abuse (a bystander while each attack runs); "
                 "report: --inputs JSON reports of one workload -> one Markdown table on stdout")
      ->required()
      ->check(CLI::IsMember({"seed", "w1", "w2", "w3", "w4", "w5", "abuse", "report"}));
  app.add_option("--inputs", inputs, "report: the JSON reports to put in one table");
  app.add_option("--server-stop-timeout", stop_timeout_s,
                 "seconds the started server gets to exit after SIGTERM");
  app.add_option("--target", opt.target,
                 "parley, bare (bench/bare_relay: no accounts, no seeding), or xmpp (ejabberd or "
                 "Prosody over RFC 7395; W1-W3; seed registers users u0.. and creates rooms)")
      ->check(CLI::IsMember({"parley", "bare", "xmpp"}));
  app.add_option("--url", opt.url,
                 "http://127.0.0.1:PORT of a running server (instead of -- COMMAND); xmpp: "
                 "ws://127.0.0.1:PORT/PATH");
  app.add_option("--xmpp-domain", opt.xmpp_domain, "xmpp: the users' domain (localhost)");
  app.add_option("--xmpp-muc", opt.xmpp_muc, "xmpp: the MUC service (conference.DOMAIN)");
  app.add_option("--xmpp-path", opt.xmpp_path,
                 "xmpp: the WebSocket path, when --url does not give one (/ws)");
  app.add_option("--xmpp-password", opt.xmpp_password, "xmpp: every bench user's password (pw)");
  app.add_option("--server-pid", opt.server_pid, "PID of that server, for its CPU time and RSS");
  app.add_option("--server-name", opt.server_name, "name shown in reports (default: the target)");
  app.add_option("--server-log", opt.server_log, "file for the started server's stderr");
  app.add_option("--threads", opt.threads,
                 "client io threads (0: one per CPU this process may use)");
  app.add_option("--source-addrs", opt.source_addrs,
                 "127.0.0.x source addresses to spread over (0: 4)");
  app.add_option("--connect-concurrency", opt.connect_concurrency,
                 "connections in the handshake at once");
  app.add_option("--duration", opt.duration, "seconds of each measured phase");
  app.add_option("--warmup", opt.warmup, "seconds before each measured phase");
  app.add_option("--conns", opt.conns, "W1: connections");
  app.add_option("--hold", opt.hold, "W1: idle seconds before reading the server's RSS");
  app.add_option("--pairs", opt.pairs, "W2: pairs of users (2 connections each)");
  app.add_option("--window", opt.window, "requests in flight per sending connection");
  app.add_option("--fractions", opt.fractions,
                 "W2/W3: fixed-rate phases at these fractions of the peak")
      ->delimiter(',');
  app.add_option("--rate", opt.rate,
                 "W2/W3: one fixed total rate (sends/s) instead of finding the peak");
  app.add_option("--body-bytes", opt.body_bytes, "message body size");
  app.add_option("--groups", opt.groups, "W3/W4: groups");
  app.add_option("--group-size", opt.group_size, "W3/W4: members per group");
  app.add_option("--posters", opt.posters, "W3: posting members per group");
  app.add_option("--missed", opt.missed, "W4: messages each client misses while away");
  app.add_option(
      "--sync-members", opt.sync_members,
      "W4: resync with member lists (true) or with \"members\": false (PROTOCOL.md, sync)");
  app.add_option("--observer-pairs", opt.observer_pairs,
                 "W4: untouched pairs watched during the storm");
  app.add_option("--observer-rate", opt.observer_rate, "W4: their total messages/s");
  app.add_option("--readers", opt.readers, "W5: connections reading history");
  app.add_option("--page", opt.page, "W5: entries per history page");
  app.add_option("--prefill", opt.prefill,
                 "W5: messages written to each read conversation first; abuse: to each "
                 "prefilled conversation");
  app.add_option("--attacks", opt.attacks,
                 "abuse: attacks to run after the baseline (all, or some of ping, fragments, "
                 "conns, login, search, groups)")
      ->delimiter(',');
  app.add_option("--bystander-pairs", opt.bystander_pairs,
                 "abuse: pairs of bystander users (one WebSocket each)");
  app.add_option("--bystander-login-rate", opt.bystander_login_rate,
                 "abuse: bystander logins per second (the server allows 30/min per IP)");
  app.add_option("--abuse-conns", opt.abuse_conns,
                 "abuse: connections the connection flood holds open");
  app.add_option("--prefill-pairs", opt.prefill_pairs,
                 "abuse: conversations besides the attacker's given --prefill messages first");
  app.add_option("--seed-file", opt.seed_file,
                 "users and conversations to reuse and extend (JSON)");
  app.add_option("--seed-concurrency", opt.seed_concurrency, "parallel HTTP clients while seeding");
  app.add_option("--seed-prefix", opt.seed_prefix, "username prefix for new users");
  app.add_option("--seed-groups", seed_groups, "seed: group sets to create, e.g. 100x100,1x5000")
      ->delimiter(',');
  app.add_option("--json", opt.json_path, "write the report as JSON here");
  app.add_option("--markdown", opt.markdown_path, "write the report's table as Markdown here");
  app.add_flag("--check", opt.check,
               "exit 1 on errors, losses or no progress; the server must exit 0");
  app.add_flag("-q,--quiet", opt.quiet, "no progress notes on stderr");
  // Everything after the first "--" is the server's command line, split off here rather than
  // left to CLI11 (2.1 mis-assigns it after a delimited vector option such as --fractions).
  int bench_argc = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--") {
      bench_argc = i;
      opt.server_argv.assign(argv + i + 1, argv + argc);
      break;
    }
  }
  CLI11_PARSE(app, bench_argc, argv);
  if (opt.server_name.empty()) opt.server_name = opt.target;

  if (opt.workload == "report") {
    std::vector<json::object> reports;
    for (const auto& path : inputs) {
      std::ifstream in(path);
      std::stringstream text;
      text << in.rdbuf();
      boost::system::error_code ec;
      json::value v = json::parse(text.str(), ec);
      if (ec || !v.is_object() || !v.as_object().contains("phases")) {
        std::fprintf(stderr, "parley_bench: %s is not a report\n", path.c_str());
        return 2;
      }
      reports.push_back(std::move(v.as_object()));
    }
    std::cout << parley::bench::MarkdownTable(reports);
    return 0;
  }

  const uint64_t files = parley::bench::RaiseFileLimit();
  if (!opt.quiet)
    std::fprintf(stderr, "parley_bench: %s against %s (open files: %llu)\n", opt.workload.c_str(),
                 opt.server_name.c_str(), static_cast<unsigned long long>(files));

  parley::bench::ServerRef server;
  std::unique_ptr<parley::bench::ServerProcess> process;
  if (!opt.server_argv.empty()) {
    process = std::make_unique<parley::bench::ServerProcess>(opt.server_argv, opt.server_log);
    std::string error;
    if (!process->Start(30'000, error)) {
      std::fprintf(stderr, "parley_bench: cannot start the server: %s\n", error.c_str());
      return 2;
    }
    server.host = process->host();
    server.port = process->port();
    server.pid = process->pid();
  } else if (!ParseUrl(opt.url, server.host, server.port,
                       opt.target == "xmpp" ? &opt.xmpp_path : nullptr)) {
    std::fprintf(stderr,
                 "parley_bench: give --url http://127.0.0.1:PORT or a server command after --\n");
    return 2;
  } else {
    server.pid = opt.server_pid;
  }

  int status = 0;
  json::object report{{"tool", "parley_bench"},     {"workload", opt.workload},
                      {"target", opt.target},       {"server", opt.server_name},
                      {"started", NowIso()},        {"machine", parley::bench::MachineFacts()},
                      {"options", OptionsJson(opt)}};
  if (opt.target == "xmpp") report["xmpp"] = XmppOptionsJson(opt);
  {
    parley::bench::Seed seed;
    std::string error;
    bool ok = true;
    if (opt.workload == "seed" && opt.target == "xmpp") {
      // Users u0..u<N-1> (N: --conns, or what --pairs and the group sets need) and the rooms.
      std::vector<std::pair<int, int>> sets;
      for (const std::string& spec : seed_groups) {
        int groups = 0, size = 0;
        if (!ParseGroupSpec(spec, groups, size)) {
          error = "bad --seed-groups entry " + spec + " (want GROUPSxSIZE)";
          ok = false;
          break;
        }
        sets.emplace_back(groups, size);
      }
      if (ok) {
        ok = parley::bench::SeedXmpp(opt, server, std::max(opt.conns, 2 * opt.pairs), sets, error);
      }
      if (ok) std::fprintf(stderr, "parley_bench: seed ready\n");
    } else if (opt.workload == "seed") {
      parley::bench::SeedNeeds needs;
      needs.users = std::min(opt.conns, 10'000);
      needs.pairs = std::max({opt.pairs, opt.observer_pairs, (opt.readers + 1) / 2});
      ok = parley::bench::EnsureSeed(opt, server.host, server.port, needs, seed, error);
      for (const std::string& spec : seed_groups) {
        parley::bench::SeedNeeds groups;
        if (!ok) break;
        if (!ParseGroupSpec(spec, groups.groups, groups.group_size)) {
          error = "bad --seed-groups entry " + spec + " (want GROUPSxSIZE)";
          ok = false;
          break;
        }
        ok = parley::bench::EnsureSeed(opt, server.host, server.port, groups, seed, error);
      }
      if (ok) std::fprintf(stderr, "parley_bench: seed ready\n");
    } else {
      const parley::bench::SeedNeeds needs = parley::bench::NeedsOf(opt);
      if (opt.target == "bare" || opt.target == "xmpp") {
        seed = parley::bench::BareSeed(needs);  // xmpp: the names the seed workload registered
      } else {
        ok = parley::bench::EnsureSeed(opt, server.host, server.port, needs, seed, error);
      }
      if (ok) ok = parley::bench::RunWorkload(opt, server, seed, report, error);
      if (ok) {
        std::cout << parley::bench::TextTable(report) << std::flush;
        if (!opt.json_path.empty()) {
          std::ofstream(opt.json_path) << json::serialize(report) << "\n";
        }
        if (!opt.markdown_path.empty()) {
          std::ofstream(opt.markdown_path) << parley::bench::MarkdownTable(report);
        }
        const auto& problems = report.at("problems").as_array();
        if (opt.check && !problems.empty()) status = 1;
      }
    }
    if (!ok) {
      std::fprintf(stderr, "parley_bench: %s\n", error.c_str());
      status = 2;
    }
  }

  if (process) {
    const int code = process->Stop(stop_timeout_s * 1000);
    if (code != 0) {
      std::fprintf(stderr, "parley_bench: the server exited with %d\n", code);
      if (opt.check && status == 0) status = 1;
    }
  }
  return status;
}

int main(int argc, char** argv) {
  // Workload and report code reports failures as values; this catches what a library throws
  // (an allocation failure, a malformed JSON file read with .at()) so the server still stops.
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parley_bench: %s\n", e.what());
    return 2;
  }
}
