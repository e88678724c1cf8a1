#pragma once

// The attacks of the abuse workload (abuse.h): each runs from one source address of its own on
// threads of its own, at nice 19 so that the bystander sharing the client's CPU is not slowed
// by the attacker's client work, and stops by itself at its deadline (or at Stop). Plain POSIX
// sockets: an attacker needs to do what a well-behaved client never does (never read, send
// endless fragments, hold idle connections), which an event-driven client hides.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace parley::bench {

/// The attacks, in the order the workload runs them (group spam last: the groups it creates
/// stay, and every later `sync` of the bystander would carry them).
const std::vector<std::string>& AttackNames();  // ping, fragments, conns, login, search, groups

/// What an attack did and what the server answered. Threads of the attack write; the main
/// thread reads after Stop.
struct AttackCounters {
  std::atomic<uint64_t> connects{0};        // TCP connections made
  std::atomic<uint64_t> connect_failed{0};  // refused, timed out, no port
  std::atomic<uint64_t> frames{0};          // WebSocket frames written (whole ones)
  std::atomic<uint64_t> bytes{0};           // bytes written
  std::atomic<uint64_t> requests{0};        // HTTP requests answered or failed
  std::atomic<uint64_t> max_open{0};        // connections open at once, at most
  std::mutex mu;
  std::map<std::string, uint64_t> outcomes;  // "HTTP 429", "close 4429", "eof", ... -> count

  void Count(const std::string& what, uint64_t n = 1);
};

/// Everything an attack needs to know. Addresses are dotted IPv4.
struct AttackEnv {
  std::string host;  // the server
  uint16_t port = 0;
  std::string source;                     // the attacker's address (127.0.0.x)
  std::string token;                      // an access token of the attacker's own account
  std::vector<std::string> victim_names;  // the bystander's usernames
  std::vector<std::string> victim_ids;    // ... and user ids
  int conns = 2000;                       // connection flood: connections held at once
  int64_t deadline_ns = 0;                // NowNs() after which it stops by itself
};

/// A running attack. Stop (or the destructor) ends it and joins its threads.
class Attack {
 public:
  virtual ~Attack() = default;
  virtual void Stop() = 0;
  AttackCounters& counters() { return counters_; }

 protected:
  AttackCounters counters_;
};

/// Starts the attack `name` (one of AttackNames()). Returns null for an unknown name.
std::unique_ptr<Attack> StartAttack(const std::string& name, const AttackEnv& env);

}  // namespace parley::bench
