#pragma once

// Blocking-with-deadline POSIX socket helpers for the attacks (abuse_attacks.cpp): connects
// from the attacker's own address, raw WebSocket frames, and reading how the server ended a
// connection. Every wait is bounded by kAttackTimeoutMs.

#include <cstdint>
#include <string>
#include <string_view>

#include "abuse_attacks.h"

namespace parley::bench {

constexpr int kAttackTimeoutMs = 5000;

/// Nanoseconds on the monotonic clock (the clock of AttackEnv::deadline_ns).
int64_t Now();

/// A short name for a socket error: "refused", "reset", "no port", "timeout", or strerror.
std::string ErrnoName(int e);

/// A non-blocking TCP socket from env.source (IP_BIND_ADDRESS_NO_PORT), connect started.
/// -1 with `why` on failure.
int StartConnect(const AttackEnv& env, std::string& why);
/// StartConnect and wait (bounded) for it to complete.
int Connect(const AttackEnv& env, std::string& why);

/// The upgrade request for /v1/ws (no Origin: not a browser).
std::string UpgradeRequest(const AttackEnv& env);
/// A masked client frame (payload < 64 KiB) with mask 0 (valid: the payload goes as it is).
std::string Frame(uint8_t first_byte, std::string_view payload);

/// Writes all of `data`; false on an error or kAttackTimeoutMs without progress.
bool WriteAll(int fd, std::string_view data);
/// Reads what the socket holds now (without waiting), at most 1 MiB.
std::string Drain(int fd);

/// How the server's frames in `in` (after the HTTP head, if there is one) ended: "close CODE"
/// for a close frame, else `otherwise`.
std::string CloseCode(std::string_view in, const std::string& otherwise);
/// What followed the HTTP head in `head`.
std::string HeadRest(const std::string& head);

}  // namespace parley::bench
