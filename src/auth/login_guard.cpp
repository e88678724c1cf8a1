#include "auth/login_guard.h"

#include <algorithm>

namespace parley {
namespace {

constexpr const char* kRefusedHelp = "Login attempts refused by a guessing limit, by limit";
constexpr const char* kChecksHelp = "Password checks admitted by the guessing limits, by bucket";

}  // namespace

LoginGuard::LoginGuard(const LoginGuardParams& params, const Clock& clock, MetricsRegistry& metrics)
    : ip_(params.ip, clock, params.max_keys),
      user_(params.user, clock, params.max_keys),
      user_fresh_(params.user_fresh, clock, params.max_keys),
      user_ip_(params.user_ip, clock, params.max_keys),
      refused_ip_(
          metrics.AddCounter("parley_auth_login_refused_total", kRefusedHelp, {{"limit", "ip"}})),
      refused_user_ip_(metrics.AddCounter("parley_auth_login_refused_total", kRefusedHelp,
                                          {{"limit", "user_ip"}})),
      refused_user_(
          metrics.AddCounter("parley_auth_login_refused_total", kRefusedHelp, {{"limit", "user"}})),
      checks_user_(
          metrics.AddCounter("parley_auth_login_checks_total", kChecksHelp, {{"lane", "user"}})),
      checks_fresh_(
          metrics.AddCounter("parley_auth_login_checks_total", kChecksHelp, {{"lane", "fresh"}})) {}

Status LoginGuard::TakeIp(std::string_view ip) {
  if (int64_t wait = ip_.Take(ip); wait > 0) {
    refused_ip_.Inc();
    return Error::RateLimited(wait);
  }
  return Status::Ok();
}

Result<LoginGuard::Ticket> LoginGuard::Admit(std::string_view username, std::string_view ip) {
  Ticket ticket;
  ticket.username = std::string(username);
  // Usernames never hold a space, so the pair key is unambiguous.
  ticket.pair = ticket.username + ' ' + std::string(ip);
  // Read before this attempt's own charge: has this source failed for this username lately?
  const bool fresh_source = user_ip_.IsFull(ticket.pair);
  if (int64_t wait = user_ip_.Take(ticket.pair); wait > 0) {
    refused_user_ip_.Inc();
    return Error::RateLimited(wait);
  }
  int64_t wait = user_.Take(username);
  if (wait == 0) {
    checks_user_.Inc();
    ticket.lane = Lane::kUser;
    return ticket;
  }
  if (fresh_source) {
    const int64_t fresh_wait = user_fresh_.Take(username);
    if (fresh_wait == 0) {
      checks_fresh_.Inc();
      ticket.lane = Lane::kFresh;
      return ticket;
    }
    wait = std::min(wait, fresh_wait);
  }
  // Nothing was checked, so nothing counts against this source.
  user_ip_.Refund(ticket.pair);
  refused_user_.Inc();
  return Error::RateLimited(wait);
}

void LoginGuard::Succeeded(const Ticket& ticket) {
  (ticket.lane == Lane::kUser ? user_ : user_fresh_).Refund(ticket.username);
  user_ip_.Forget(ticket.pair);
}

}  // namespace parley
