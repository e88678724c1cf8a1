#include "net/connection_limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <iterator>
#include <utility>

namespace parley::net {

std::string_view ConnectionLimits::RefusalName(Refusal refusal) {
  switch (refusal) {
    case Refusal::kNone:
      return "none";
    case Refusal::kPerIp:
      return "per_ip";
    case Refusal::kUnauthenticated:
      return "unauthenticated";
    case Refusal::kUnauthenticatedPerIp:
      return "unauthenticated_per_ip";
  }
  return "unknown";
}

std::string ConnectionLimits::KeyFor(std::string_view ip) {
  const std::string text(ip);
  in6_addr v6{};
  if (::inet_pton(AF_INET6, text.c_str(), &v6) != 1) return text;  // IPv4, or not an address
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    char v4[INET_ADDRSTRLEN];
    return ::inet_ntop(AF_INET, &v6.s6_addr[12], v4, sizeof v4) != nullptr ? v4 : text;
  }
  std::fill(std::begin(v6.s6_addr) + 8, std::end(v6.s6_addr), 0);
  char out[INET6_ADDRSTRLEN];
  if (::inet_ntop(AF_INET6, &v6, out, sizeof out) == nullptr) return text;
  return std::string(out) + "/64";
}

ConnectionLimits::Ticket::Ticket(Ticket&& other) noexcept
    : limits_(std::exchange(other.limits_, nullptr)),
      ip_(std::move(other.ip_)),
      authenticated_(other.authenticated_) {}

ConnectionLimits::Ticket& ConnectionLimits::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    Release();
    limits_ = std::exchange(other.limits_, nullptr);
    ip_ = std::move(other.ip_);
    authenticated_ = other.authenticated_;
  }
  return *this;
}

void ConnectionLimits::Ticket::Authenticated() {
  if (limits_ == nullptr || authenticated_) return;
  authenticated_ = true;
  limits_->MarkAuthenticated(ip_);
}

void ConnectionLimits::Ticket::Release() {
  if (limits_ == nullptr) return;
  std::exchange(limits_, nullptr)->Release(ip_, authenticated_);
}

ConnectionLimits::Ticket ConnectionLimits::TryAcquire(std::string_view ip, Refusal* refusal) {
  std::lock_guard lock(mu_);
  auto it = by_ip_.find(std::string(ip));
  const PerIp current = it == by_ip_.end() ? PerIp{} : it->second;
  *refusal = Refusal::kNone;
  if (caps_.per_ip != 0 && current.open >= caps_.per_ip) {
    *refusal = Refusal::kPerIp;
  } else if (caps_.unauthenticated_per_ip != 0 &&
             current.unauthenticated >= caps_.unauthenticated_per_ip) {
    *refusal = Refusal::kUnauthenticatedPerIp;
  } else if (caps_.unauthenticated != 0 && unauthenticated_ >= caps_.unauthenticated) {
    *refusal = Refusal::kUnauthenticated;
  }
  if (*refusal != Refusal::kNone) return Ticket();
  if (it == by_ip_.end()) it = by_ip_.emplace(std::string(ip), PerIp{}).first;
  ++it->second.open;
  ++it->second.unauthenticated;
  ++open_;
  AddUnauthenticated(1);
  return Ticket(this, it->first);
}

void ConnectionLimits::MarkAuthenticated(const std::string& ip) {
  std::lock_guard lock(mu_);
  auto it = by_ip_.find(ip);
  if (it == by_ip_.end()) return;
  --it->second.unauthenticated;
  AddUnauthenticated(-1);
}

void ConnectionLimits::Release(const std::string& ip, bool authenticated) {
  std::lock_guard lock(mu_);
  auto it = by_ip_.find(ip);
  if (it == by_ip_.end()) return;
  --it->second.open;
  --open_;
  if (!authenticated) {
    --it->second.unauthenticated;
    AddUnauthenticated(-1);
  }
  if (it->second.open == 0) by_ip_.erase(it);
}

void ConnectionLimits::AddUnauthenticated(int64_t delta) {
  unauthenticated_ = static_cast<size_t>(static_cast<int64_t>(unauthenticated_) + delta);
  if (gauge_ != nullptr) gauge_->Add(delta);
}

size_t ConnectionLimits::Open() const {
  std::lock_guard lock(mu_);
  return open_;
}

size_t ConnectionLimits::Unauthenticated() const {
  std::lock_guard lock(mu_);
  return unauthenticated_;
}

size_t ConnectionLimits::OpenFrom(std::string_view ip) const {
  std::lock_guard lock(mu_);
  auto it = by_ip_.find(std::string(ip));
  return it == by_ip_.end() ? 0 : it->second.open;
}

}  // namespace parley::net
