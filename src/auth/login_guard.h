#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/rate_limiter.h"
#include "common/clock.h"
#include "common/status.h"
#include "metrics/metrics.h"

namespace parley {

/// The limits on password guessing (docs/SECURITY.md, "Password guessing").
struct LoginGuardParams {
  BucketParams ip;            // every register and login attempt, per client IP
  BucketParams user;          // password checks per username, from any IP
  BucketParams user_fresh;    // further checks per username, only for IPs that have not failed
  BucketParams user_ip;       // password checks per (username, IP)
  size_t max_keys = 100'000;  // per table
};

/// Decides whether a password check may run, so that guessing is bounded without letting
/// strangers lock the owner out of an account.
///
/// - Per IP, every attempt costs a token (`ip`).
/// - Per (username, IP), every check costs a token (`user_ip`): one source that keeps failing
///   for one username is refused for a while. Other sources are not affected.
/// - Per username, every check costs a token (`user`): this is the budget that bounds
///   distributed guessing, whatever the number of IPs. When it is spent, the username is
///   under attack: sources that have failed for it wait for `user` to refill (retry_after_ms,
///   6 per minute by default), while sources with no failure on record for it (the owner on a
///   new network, a new device) draw from a second bucket, `user_fresh`, that the attacker's
///   failing sources cannot touch. An attacker with N sources gets at most N checks from it
///   before all N are failing sources.
/// - A check whose password was right is refunded: successful logins never count, and they
///   clear the failures of that (username, IP).
///
/// So the checks against one username are at most user.burst + user.per_minute per minute
/// plus user_fresh.burst + user_fresh.per_minute per minute, and in practice at most one per
/// attacking source from `user_fresh`. Refusals are kRateLimited with the wait until the
/// next check could run: attempts are slowed down, never refused indefinitely.
///
/// Thread-safety: every method may be called concurrently (the tables are RateLimiters).
/// Memory: four tables of at most `max_keys` buckets each.
class LoginGuard {
 public:
  enum class Lane { kUser, kFresh };

  /// What Admit charged; hand it back to Succeeded when the password was right.
  struct Ticket {
    std::string username;
    std::string pair;
    Lane lane = Lane::kUser;
  };

  /// Registers parley_auth_login_refused_total{limit} and parley_auth_login_checks_total{lane}.
  LoginGuard(const LoginGuardParams& params, const Clock& clock, MetricsRegistry& metrics);

  /// Charges one attempt to `ip`. kRateLimited when its bucket is empty.
  Status TakeIp(std::string_view ip);

  /// Before a password check for `username` (normalized) from `ip`: the check may run (the
  /// ticket), or kRateLimited with the wait.
  Result<Ticket> Admit(std::string_view username, std::string_view ip);

  /// The password was right: nothing of this check counts.
  void Succeeded(const Ticket& ticket);

 private:
  RateLimiter ip_;
  RateLimiter user_;
  RateLimiter user_fresh_;
  RateLimiter user_ip_;
  Counter& refused_ip_;
  Counter& refused_user_ip_;
  Counter& refused_user_;
  Counter& checks_user_;
  Counter& checks_fresh_;
};

}  // namespace parley
