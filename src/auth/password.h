#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace parley {

/// Argon2id cost. OWASP's floor is ops_limit 2 with mem_limit 19 MiB; production uses the
/// values from Config (argon2_ops_limit, argon2_mem_limit).
struct PasswordParams {
  uint64_t ops_limit;
  size_t mem_limit;  // bytes
};

/// Hashes and checks passwords with Argon2id (libsodium's crypto_pwhash, encoded strings
/// "$argon2id$v=19$m=...,t=...,p=1$salt$hash" that carry their own salt and cost).
///
/// Thread-safety: every method is const and may be called concurrently. Cost: each Hash,
/// Verify and VerifyAgainstDummy call allocates mem_limit bytes and burns tens of milliseconds
/// of CPU, so callers must run them off the I/O threads and bound how many run at once.
class PasswordHasher {
 public:
  /// Hashes a random password once, so that VerifyAgainstDummy has a hash with these exact
  /// parameters. Start-up code: throws std::runtime_error if libsodium rejects the parameters
  /// or cannot allocate mem_limit.
  explicit PasswordHasher(PasswordParams params);

  /// A fresh salt and an encoded "$argon2id$..." string. kInternal if libsodium fails, which
  /// in practice means it could not allocate mem_limit bytes.
  [[nodiscard]] Result<std::string> Hash(std::string_view password) const;

  /// True iff `password` matches `encoded_hash`. The cost is read from the hash, not from this
  /// hasher's params, so hashes made with older params still verify. Malformed or truncated
  /// hashes return false.
  [[nodiscard]] bool Verify(std::string_view encoded_hash, std::string_view password) const;

  /// Does the work of one Verify against a fixed hash and returns false. Call it when the
  /// username is unknown, so that the response time does not reveal which usernames exist.
  /// Not [[nodiscard]]: it is called for the time it takes, and the answer is always false.
  bool VerifyAgainstDummy(std::string_view password) const;

  /// True if `encoded_hash` names another algorithm or other params than this hasher's, or
  /// they cannot be read. Only the algorithm and params are looked at (a hash with a damaged
  /// salt or digest may answer false), so ask only after a successful Verify, then rehash.
  [[nodiscard]] bool NeedsRehash(std::string_view encoded_hash) const;

 private:
  PasswordParams params_;
  std::string dummy_hash_;  // written once in the constructor, read-only afterwards
};

}  // namespace parley
