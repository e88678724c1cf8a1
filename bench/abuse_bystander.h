#pragma once

// The bystander of the abuse workload (abuse.h): a few ordinary users who, at a fixed modest
// rate, log in over HTTP, `sync` on an open WebSocket and send messages, each timed. It
// connects from 127.0.0.1 only; the attackers come from other addresses.

#include <boost/json/object.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "histogram.h"
#include "seed.h"
#include "workloads.h"

namespace parley::bench {

/// What the bystander saw since the last Take.
struct BystanderStats {
  Histogram login, sync, send;                // request -> answer, ns (successes only)
  uint64_t logins = 0, syncs = 0, sends = 0;  // successful answers
  uint64_t login_errors = 0, sync_errors = 0, send_errors = 0;
  uint64_t skipped = 0;                     // due while too many of its kind were unanswered
  uint64_t closed = 0;                      // WebSockets the server (or network) ended
  uint64_t reopened = 0;                    // ... and reopened
  uint64_t unanswered = 0;                  // at Take: requests in flight for more than a second
  std::map<std::string, uint64_t> reasons;  // "login: HTTP 429", "sync: rate_limited", ...

  void Merge(const BystanderStats& o);
  /// {"login_ms": {...}, "sync_ms": ..., "send_ms": ..., counts, "reasons": {...}}
  boost::json::object Json() const;
};

struct BystanderConfig {
  std::vector<int> users;          // seed user indices; user 2k and 2k+1 share pair_convs[k]
  std::vector<std::string> convs;  // the conversation of each user (its pair's)
  std::string password;
  double sends_per_s = 2;     // per connection
  double syncs_per_s = 1;     // per connection
  double logins_per_s = 0.4;  // in all (the server allows 30/min per IP by default)
};

class Bystander {
 public:
  Bystander(const ServerRef& server, const Seed& seed, BystanderConfig config);
  ~Bystander();
  Bystander(const Bystander&) = delete;
  Bystander& operator=(const Bystander&) = delete;

  /// Connects and authenticates every user (bounded by `timeout_s`), then starts the timed
  /// requests. False with `error` if not every connection became ready.
  bool Start(double timeout_s, std::string& error);
  /// What was seen since the previous Take (from any thread but the bystander's own).
  BystanderStats Take();
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::bench
