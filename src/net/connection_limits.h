#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "metrics/metrics.h"

namespace parley::net {

/// Caps on open client connections, by source IP and by authentication state, so that one
/// address (or a crowd that never authenticates) cannot take every socket the process has.
/// A connection is "unauthenticated" from accept until its WebSocket session is `ready`; a
/// plain HTTP connection stays unauthenticated for its whole life (its requests carry tokens,
/// the connection does not). A cap of 0 means unlimited.
struct ConnectionCaps {
  size_t per_ip = 256;                 // open connections from one IP, in any state
  size_t unauthenticated = 2048;       // unauthenticated connections, all IPs together
  size_t unauthenticated_per_ip = 64;  // unauthenticated connections from one IP
};

/// Counts open connections against ConnectionCaps. Thread-safe: TryAcquire runs on the
/// acceptor's thread, tickets are released or moved to authenticated on the worker threads.
/// One mutex, held for a hash lookup and a few increments.
class ConnectionLimits {
 public:
  /// Which cap refused a connection (kNone: admitted).
  enum class Refusal { kNone, kPerIp, kUnauthenticated, kUnauthenticatedPerIp };
  static std::string_view RefusalName(Refusal refusal);

  /// One admitted connection's place in the counts: move-only, released when destroyed (or by
  /// Release()). Authenticated() moves it out of the unauthenticated counts, once. An empty
  /// ticket (default-constructed or moved from) counts nothing; its calls are no-ops. A ticket
  /// must not outlive its ConnectionLimits. Not itself thread-safe: one owner at a time.
  class Ticket {
   public:
    Ticket() = default;
    ~Ticket() { Release(); }
    Ticket(Ticket&& other) noexcept;
    Ticket& operator=(Ticket&& other) noexcept;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;

    void Authenticated();
    void Release();
    explicit operator bool() const { return limits_ != nullptr; }

   private:
    friend class ConnectionLimits;
    Ticket(ConnectionLimits* limits, std::string ip) : limits_(limits), ip_(std::move(ip)) {}

    ConnectionLimits* limits_ = nullptr;
    std::string ip_;
    bool authenticated_ = false;
  };

  /// `unauthenticated_gauge`, when given, follows Unauthenticated() (for /metrics).
  explicit ConnectionLimits(ConnectionCaps caps, Gauge* unauthenticated_gauge = nullptr)
      : caps_(caps), gauge_(unauthenticated_gauge) {}
  ConnectionLimits(const ConnectionLimits&) = delete;
  ConnectionLimits& operator=(const ConnectionLimits&) = delete;

  /// The key connections from `ip` (textual IPv4 or IPv6) are counted under: the address for
  /// IPv4 (and IPv4-mapped IPv6), its /64 prefix for IPv6, since one subscriber usually holds
  /// a whole /64 and could otherwise take a new address per connection.
  static std::string KeyFor(std::string_view ip);

  /// Admits a new connection from `ip` (a KeyFor key, or any stable text form), or says which
  /// cap it would pass; on refusal `*refusal` is set and the ticket is empty.
  [[nodiscard]] Ticket TryAcquire(std::string_view ip, Refusal* refusal);

  const ConnectionCaps& caps() const { return caps_; }
  /// Current counts, for /metrics and tests.
  size_t Open() const;
  size_t Unauthenticated() const;
  size_t OpenFrom(std::string_view ip) const;

 private:
  struct PerIp {
    size_t open = 0;
    size_t unauthenticated = 0;
  };
  void MarkAuthenticated(const std::string& ip);
  void Release(const std::string& ip, bool authenticated);

  void AddUnauthenticated(int64_t delta);  // with mu_ held

  const ConnectionCaps caps_;
  Gauge* const gauge_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, PerIp> by_ip_;  // GUARDED_BY(mu_); no entry at zero
  size_t open_ = 0;                               // GUARDED_BY(mu_)
  size_t unauthenticated_ = 0;                    // GUARDED_BY(mu_)
};

}  // namespace parley::net
