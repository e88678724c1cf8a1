#include "auth/auth_service.h"

#include <sodium.h>

#include "common/random.h"
#include "common/text_rules.h"
#include "common/utf8.h"

namespace parley {
namespace {

constexpr size_t kMinPassword = 8;
constexpr size_t kMaxPassword = 256;
constexpr size_t kMaxDisplayName = 64;
constexpr size_t kMaxDeviceName = 64;
constexpr size_t kRefreshTokenBytes = 32;
constexpr int64_t kSweepIntervalMs = 60'000;
// Rows of each kind one sweep deletes at most: keeps a sweep short under the store's lock.
constexpr int64_t kSweepLimit = 1'000;

Status CheckPassword(std::string_view password) {
  if (password.size() < kMinPassword || password.size() > kMaxPassword) {
    return Error::InvalidRequest("password must be 8 to 256 bytes long");
  }
  return Status::Ok();
}

Error BadCredentials() { return Error::Unauthorized("invalid username or password"); }
Error BadRefresh() { return Error::Unauthorized("invalid or expired refresh token"); }

}  // namespace

AuthService::AuthService(AccountStore& store, const PasswordHasher& hasher, const JwtSigner& signer,
                         LoginGuard& guard, RateLimiter& refresh_limiter, const Clock& clock,
                         Options options, MetricsRegistry& metrics)
    : store_(store),
      hasher_(hasher),
      signer_(signer),
      guard_(guard),
      refresh_limiter_(refresh_limiter),
      clock_(clock),
      options_(options),
      devices_evicted_(
          metrics.AddCounter("parley_auth_devices_evicted_total",
                             "Devices revoked because a login passed max_devices_per_user")),
      refresh_refused_(metrics.AddCounter("parley_auth_refresh_refused_total",
                                          "Refreshes refused by the per-device refresh limit")),
      swept_tokens_(metrics.AddCounter("parley_auth_swept_total",
                                       "Dead rows deleted by the session sweep, by table",
                                       {{"table", "refresh_tokens"}})),
      swept_devices_(metrics.AddCounter("parley_auth_swept_total",
                                        "Dead rows deleted by the session sweep, by table",
                                        {{"table", "devices"}})) {}

Result<std::string> AuthService::NormalizeUsername(std::string_view username) {
  if (username.size() < 3 || username.size() > 32) {
    return Error::InvalidRequest("username must be 3 to 32 characters of a-z, 0-9, _ . -");
  }
  std::string out;
  out.reserve(username.size());
  for (char c : username) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return Error::InvalidRequest("username must be 3 to 32 characters of a-z, 0-9, _ . -");
    out.push_back(c);
  }
  return out;
}

Result<User> AuthService::Register(std::string_view username, std::string_view password,
                                   std::string_view display_name, std::string_view client_ip) {
  if (Status s = guard_.TakeIp(client_ip); !s.ok()) return s.error();
  auto normalized = NormalizeUsername(username);
  if (!normalized.ok()) return std::move(normalized).error();
  if (Status s = CheckPassword(password); !s.ok()) return s.error();
  std::string display(display_name.empty() ? std::string_view(*normalized) : display_name);
  if (Status s = CheckLabel(display, kMaxDisplayName, "display_name"); !s.ok()) return s.error();
  // Nobody may be called "alice" while alice exists (issue 17 #14).
  if (Status s = CheckNotAnotherUsername(
          display, *normalized,
          [&](std::string_view name) { return store_.FindUserByUsername(name).ok(); });
      !s.ok()) {
    return s.error();
  }

  auto hash = hasher_.Hash(password);
  if (!hash.ok()) return std::move(hash).error();
  NewUser user{NewId('u'), *normalized, std::move(display), std::move(*hash), clock_.NowMs()};
  auto created = store_.CreateUser(user);
  if (!created.ok() && created.error().code == ErrorCode::kConflict) {
    return Error::Conflict("username is taken");
  }
  return created;
}

Result<Tokens> AuthService::Login(std::string_view username, std::string_view password,
                                  std::string_view device_name, std::string_view client_ip) {
  if (Status s = guard_.TakeIp(client_ip); !s.ok()) return s.error();
  auto normalized = NormalizeUsername(username);
  if (!normalized.ok()) {
    hasher_.VerifyAgainstDummy(password);
    return BadCredentials();
  }
  if (password.size() > kMaxPassword) return BadCredentials();
  if (Status s = CheckLabel(device_name, kMaxDeviceName, "device_name"); !s.ok()) return s.error();
  // Unknown usernames are limited exactly like known ones, so the limits say nothing about
  // which usernames exist.
  auto ticket = guard_.Admit(*normalized, client_ip);
  if (!ticket.ok()) return std::move(ticket).error();

  auto found = store_.FindUserByUsername(*normalized);
  if (!found.ok()) {
    if (found.error().code != ErrorCode::kNotFound) return std::move(found).error();
    hasher_.VerifyAgainstDummy(password);
    return BadCredentials();
  }
  if (!hasher_.Verify(found->password_hash, password)) return BadCredentials();
  guard_.Succeeded(*ticket);

  const int64_t now = clock_.NowMs();
  MaybeSweep(now);
  auto device = store_.CreateDevice(NewId('d'), found->user.id,
                                    device_name.empty() ? "unnamed device" : device_name, now);
  if (!device.ok()) return std::move(device).error();
  // The cap evicts the least recently used devices; the new one is the most recent.
  auto evicted =
      store_.EvictDevicesBeyond(found->user.id, static_cast<size_t>(options_.max_devices_per_user));
  if (!evicted.ok()) return std::move(evicted).error();
  devices_evicted_.Inc(evicted->size());
  Revoked(found->user.id, *evicted);
  Tokens tokens = IssueTokens(found->user.id, device->id, RandomToken(kRefreshTokenBytes));
  const int64_t expires = now + int64_t{options_.refresh_token_ttl_s} * 1000;
  if (Status s =
          store_.AddRefreshToken(HashRefreshToken(tokens.refresh_token), device->id, expires);
      !s.ok()) {
    return s.error();
  }
  return tokens;
}

Result<Tokens> AuthService::Refresh(std::string_view refresh_token) {
  if (refresh_token.empty() || refresh_token.size() > 256) return BadRefresh();
  const int64_t now = clock_.NowMs();
  MaybeSweep(now);
  const std::string old_hash = HashRefreshToken(refresh_token);
  // Limited per device, looked up by the token: an unknown token costs one indexed read and
  // is refused below without touching any bucket.
  if (auto device = store_.FindRefreshTokenDevice(old_hash); device.ok()) {
    if (int64_t wait = refresh_limiter_.Take(*device); wait > 0) {
      refresh_refused_.Inc();
      return Error::RateLimited(wait);
    }
  } else if (device.error().code != ErrorCode::kNotFound) {
    return std::move(device).error();
  }
  const std::string next = RandomToken(kRefreshTokenBytes);
  auto rotated = store_.RotateRefreshToken(old_hash, HashRefreshToken(next),
                                           now + int64_t{options_.refresh_token_ttl_s} * 1000, now);
  if (!rotated.ok()) return std::move(rotated).error();
  switch (rotated->outcome) {
    case RotateOutcome::kRotated:
      break;
    case RotateOutcome::kReused:
      // Someone holds a copy of this device's refresh token: end the session everywhere.
      if (on_revoked_) on_revoked_(rotated->user_id, rotated->device_id);
      return Error::Unauthorized("refresh token reused: the session has been revoked");
    case RotateOutcome::kRevoked:
      return Error::Unauthorized("the session has been revoked");
    case RotateOutcome::kUnknown:
    case RotateOutcome::kExpired:
      return BadRefresh();
  }
  return IssueTokens(rotated->user_id, rotated->device_id, next);
}

Result<AccessClaims> AuthService::Authenticate(std::string_view access_token) {
  auto claims = signer_.Verify(access_token);
  if (!claims.ok()) return claims;
  auto device = store_.FindDevice(claims->device_id);
  if (!device.ok()) {
    if (device.error().code == ErrorCode::kNotFound) {
      return Error::Unauthorized("unknown session");
    }
    return std::move(device).error();
  }
  if (device->revoked || device->user_id != claims->user_id) {
    return Error::Unauthorized("the session has been revoked");
  }
  return claims;
}

Status AuthService::Logout(const AccessClaims& claims) {
  Status revoked = store_.RevokeDevice(claims.device_id, clock_.NowMs());
  if (revoked.ok()) Revoked(claims.user_id, {claims.device_id});
  return revoked;
}

Result<std::vector<Device>> AuthService::ListDevices(const AccessClaims& claims) {
  return store_.ListDevices(claims.user_id);
}

Status AuthService::RevokeDevice(const AccessClaims& claims, std::string_view device_id) {
  auto device = store_.FindDevice(device_id);
  // Another user's device answers like a missing one: ids are not to be probed.
  if (!device.ok() || device->user_id != claims.user_id || device->revoked) {
    if (device.ok() || device.error().code == ErrorCode::kNotFound) {
      return Error::NotFound("no such device");
    }
    return device.error();
  }
  if (Status s = store_.RevokeDevice(device_id, clock_.NowMs()); !s.ok()) return s;
  Revoked(claims.user_id, {device->id});
  return Status::Ok();
}

Result<int64_t> AuthService::LogoutAll(const AccessClaims& claims, bool keep_current) {
  auto revoked = store_.RevokeOtherDevices(
      claims.user_id, keep_current ? std::string_view(claims.device_id) : std::string_view(),
      clock_.NowMs());
  if (!revoked.ok()) return std::move(revoked).error();
  Revoked(claims.user_id, *revoked);
  return static_cast<int64_t>(revoked->size());
}

Status AuthService::ChangePassword(const AccessClaims& claims, std::string_view current_password,
                                   std::string_view new_password, std::string_view client_ip) {
  if (Status s = guard_.TakeIp(client_ip); !s.ok()) return s;
  if (Status s = CheckPassword(new_password); !s.ok()) return s;
  if (current_password.size() > kMaxPassword) {
    return Error::Unauthorized("current_password is wrong");
  }
  auto found = store_.FindCredentialsById(claims.user_id);
  if (!found.ok()) return found.error();
  // A stolen access token must not become an oracle for the password.
  auto ticket = guard_.Admit(found->user.username, client_ip);
  if (!ticket.ok()) return ticket.error();
  if (!hasher_.Verify(found->password_hash, current_password)) {
    return Error::Unauthorized("current_password is wrong");
  }
  guard_.Succeeded(*ticket);
  auto hash = hasher_.Hash(new_password);
  if (!hash.ok()) return hash.error();
  if (Status s = store_.SetPasswordHash(claims.user_id, *hash); !s.ok()) return s;
  auto revoked = store_.RevokeOtherDevices(claims.user_id, claims.device_id, clock_.NowMs());
  if (!revoked.ok()) return revoked.error();
  Revoked(claims.user_id, *revoked);
  return Status::Ok();
}

void AuthService::Revoked(const std::string& user_id, const std::vector<std::string>& device_ids) {
  if (!on_revoked_) return;
  for (const std::string& device_id : device_ids) on_revoked_(user_id, device_id);
}

void AuthService::MaybeSweep(int64_t now_ms) {
  int64_t due = next_sweep_ms_.load(std::memory_order_relaxed);
  if (now_ms < due) return;
  if (!next_sweep_ms_.compare_exchange_strong(due, now_ms + kSweepIntervalMs)) return;
  // A device revoked, or idle with no refresh token, for longer than an access token lives
  // can have no usable token left: nothing it held can ever be presented successfully again.
  const int64_t dead_before = now_ms - int64_t{options_.access_token_ttl_s} * 1000;
  auto swept = store_.Sweep(now_ms, dead_before, kSweepLimit);
  if (!swept.ok()) return;  // a busy database: the next sweep tries again
  swept_tokens_.Inc(static_cast<uint64_t>(swept->tokens));
  swept_devices_.Inc(static_cast<uint64_t>(swept->devices));
}

Result<User> AuthService::GetUser(std::string_view user_id) {
  auto user = store_.FindUserById(user_id);
  if (!user.ok() && user.error().code == ErrorCode::kNotFound) {
    return Error::NotFound("no such user");
  }
  return user;
}

Result<User> AuthService::FindUserByUsername(std::string_view username) {
  auto normalized = NormalizeUsername(username);
  if (!normalized.ok()) return Error::NotFound("no such user");
  auto found = store_.FindUserByUsername(*normalized);
  if (!found.ok()) {
    if (found.error().code == ErrorCode::kNotFound) return Error::NotFound("no such user");
    return std::move(found).error();
  }
  return std::move(found->user);
}

Tokens AuthService::IssueTokens(const std::string& user_id, const std::string& device_id,
                                std::string refresh_token) const {
  Tokens tokens;
  tokens.user_id = user_id;
  tokens.device_id = device_id;
  tokens.access_token = signer_.Issue(user_id, device_id, options_.access_token_ttl_s);
  tokens.refresh_token = std::move(refresh_token);
  tokens.expires_in = options_.access_token_ttl_s;
  return tokens;
}

std::string AuthService::HashRefreshToken(std::string_view token) const {
  // Refresh tokens are 256-bit random: a plain SHA-256 is enough to make a stolen database
  // useless for replay, with no need for a slow hash.
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(token.data()), token.size());
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
  return std::string(hex, crypto_hash_sha256_BYTES * 2);
}

}  // namespace parley
