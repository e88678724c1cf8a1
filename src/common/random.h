#pragma once

#include <cstddef>
#include <string>

namespace parley {

/// Initialises libsodium once; safe to call from any thread, any number of times. Every
/// function here calls it, so callers need it only before using libsodium directly.
void InitCrypto();

/// `bytes` bytes from the OS CSPRNG (libsodium), hex encoded. Used for opaque IDs.
std::string RandomHex(size_t bytes);

/// `bytes` bytes from the OS CSPRNG, base64url encoded without padding. Used for secrets
/// handed to clients (refresh tokens).
std::string RandomToken(size_t bytes);

/// A new opaque ID with a one-letter kind prefix, e.g. NewId('u') -> "u_3f9a...". 16 random
/// bytes: collisions are not a concern.
std::string NewId(char kind);

}  // namespace parley
