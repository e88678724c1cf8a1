#include "auth/password.h"

#include <sodium.h>

#include <stdexcept>

#include "common/random.h"

namespace parley {
namespace {

// Returns false if libsodium fails (bad params or out of memory).
bool HashInto(std::string_view password, const PasswordParams& params, std::string& out) {
  char encoded[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(encoded, password.data(), password.size(), params.ops_limit,
                            params.mem_limit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return false;
  }
  out.assign(encoded);
  return true;
}

bool VerifyEncoded(std::string_view encoded_hash, std::string_view password) {
  // libsodium reads the hash as a C string and never writes longer ones than this; anything
  // longer is not ours, and rejecting it early keeps a garbage row from costing a parse.
  if (encoded_hash.size() >= crypto_pwhash_STRBYTES) return false;
  const std::string terminated(encoded_hash);
  return crypto_pwhash_str_verify(terminated.c_str(), password.data(), password.size()) == 0;
}

}  // namespace

PasswordHasher::PasswordHasher(PasswordParams params) : params_(params) {
  InitCrypto();
  // A random password, so that no one can know a password that matches the dummy hash.
  if (!HashInto(RandomToken(16), params_, dummy_hash_)) {
    throw std::runtime_error(
        "argon2id hashing failed: check argon2_ops_limit/argon2_mem_limit and available memory");
  }
}

Result<std::string> PasswordHasher::Hash(std::string_view password) const {
  std::string out;
  if (!HashInto(password, params_, out)) {
    return Error::Internal("password hashing failed (out of memory?)");
  }
  return out;
}

bool PasswordHasher::Verify(std::string_view encoded_hash, std::string_view password) const {
  return VerifyEncoded(encoded_hash, password);
}

bool PasswordHasher::VerifyAgainstDummy(std::string_view password) const {
  // The result is discarded on purpose: only the time spent matters.
  [[maybe_unused]] const bool matched = VerifyEncoded(dummy_hash_, password);
  return false;
}

bool PasswordHasher::NeedsRehash(std::string_view encoded_hash) const {
  if (encoded_hash.size() >= crypto_pwhash_STRBYTES) return true;
  const std::string terminated(encoded_hash);
  // 0 means "same algorithm and params"; 1 means different; -1 means malformed.
  return crypto_pwhash_str_needs_rehash(terminated.c_str(), params_.ops_limit, params_.mem_limit) !=
         0;
}

}  // namespace parley
