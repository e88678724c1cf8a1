#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace parley::bench {

/// Everything parley_bench can be told (main.cpp maps each to a flag; `--help` lists them).
struct Options {
  // What to run, against what.
  std::string workload;           // seed, w1, w2, w3, w4, w5
  std::string target = "parley";  // parley: the real server; bare: bench/bare_relay; xmpp: a peer
  std::string url;                // http://127.0.0.1:PORT; filled from the spawned server if any
  pid_t server_pid = 0;           // for CPU and RSS; filled from the spawned server if any
  std::string server_name;        // shown in reports; default: the target
  std::vector<std::string> server_argv;  // after `--`: the server to start and stop
  std::string server_log;                // the spawned server's stderr; empty = inherited

  // --target xmpp: ejabberd or Prosody over XMPP-over-WebSocket (RFC 7395, xmpp_fleet.h).
  std::string xmpp_domain = "localhost";  // the XMPP host users belong to
  std::string xmpp_muc;                   // MUC service; empty = "conference." + xmpp_domain
  std::string xmpp_path = "/ws";          // the WebSocket path (a ws:// --url sets it)
  std::string xmpp_password = "pw";       // every bench user's password

  // Client machinery.
  int threads = 0;                // io threads; 0 = the CPUs this process may run on
  int source_addrs = 0;           // 127.0.0.x source addresses; 0 = one per 16k connections, >= 2
  int connect_concurrency = 256;  // connections between TCP connect and `ready` at once

  // Timing (seconds).
  double duration = 10;  // each measured phase
  double warmup = 2;     // before each measured phase, not recorded

  // W1: idle connections.
  int conns = 5000;
  double hold = 3;  // idle time before the server's memory is read

  // W2 / W3 / W4 / W5 messaging.
  int pairs = 500;                // W2: pairs of users, one direct conversation each
  int window = 10;                // sends (or history reads) in flight per sending connection
  std::vector<double> fractions;  // W2/W3: fixed-rate phases at these fractions of the peak
  double rate = 0;                // fixed total rate (messages/s, W3: posts/s); 0 = find peak
  int body_bytes = 100;           // message body size
  int groups = 100;               // W3/W4
  int group_size = 100;           // W3/W4
  int posters = 5;                // W3: posting members per group
  int missed = 20;                // W4: messages each reconnecting client has missed
  bool sync_members = true;       // W4: resync with full summaries (false: "members": false)
  int observer_pairs = 50;        // W4: untouched pairs whose latency is watched
  double observer_rate = 500;     // W4: their total messages/s
  int readers = 200;              // W5: connections reading history
  int page = 50;                  // W5: entries per page
  int prefill = 200;              // W5: entries each read conversation holds at least

  // Abuse: a bystander's latency while each attack runs (abuse.h).
  std::vector<std::string> attacks;   // empty = all (AttackNames())
  int bystander_pairs = 4;            // pairs of bystander users, one WebSocket each
  double bystander_login_rate = 0.4;  // bystander logins/s (30/min per IP by default)
  int abuse_conns = 2000;             // connection flood: connections held at once
  int prefill_pairs = 50;             // conversations given `prefill` messages first (search)

  // Seeding (through the HTTP API).
  std::string seed_file;     // reuse / extend; empty = seed afresh and keep nothing
  int seed_concurrency = 8;  // parallel HTTP clients
  std::string seed_prefix;   // username prefix; empty = random per seed file
  std::string password = "bench-password-1";

  // Output.
  std::string json_path;
  std::string markdown_path;  // a table fragment for docs/BENCHMARKS.md
  bool check = false;         // exit non-zero on errors, losses or no progress (the smoke test)
  bool quiet = false;
};

}  // namespace parley::bench
