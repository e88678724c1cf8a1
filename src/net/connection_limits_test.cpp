#include "net/connection_limits.h"

#include <gtest/gtest.h>

#include <thread>
#include <utility>
#include <vector>

namespace parley::net {
namespace {

using Refusal = ConnectionLimits::Refusal;

ConnectionLimits::Ticket Admit(ConnectionLimits& limits, std::string_view ip) {
  Refusal refusal = Refusal::kNone;
  ConnectionLimits::Ticket ticket = limits.TryAcquire(ip, &refusal);
  EXPECT_EQ(refusal, Refusal::kNone);
  EXPECT_TRUE(ticket);
  return ticket;
}

Refusal Refused(ConnectionLimits& limits, std::string_view ip) {
  Refusal refusal = Refusal::kNone;
  ConnectionLimits::Ticket ticket = limits.TryAcquire(ip, &refusal);
  EXPECT_FALSE(ticket);
  return refusal;
}

TEST(ConnectionLimitsTest, PerIpCapRefusesThatIpOnlyAndFreesOnRelease) {
  ConnectionLimits limits({.per_ip = 2, .unauthenticated = 0, .unauthenticated_per_ip = 0});
  auto a = Admit(limits, "10.0.0.1");
  auto b = Admit(limits, "10.0.0.1");
  EXPECT_EQ(Refused(limits, "10.0.0.1"), Refusal::kPerIp);
  auto other = Admit(limits, "10.0.0.2");

  a.Release();
  auto c = Admit(limits, "10.0.0.1");
  EXPECT_EQ(limits.OpenFrom("10.0.0.1"), 2u);
  EXPECT_EQ(limits.Open(), 3u);
}

TEST(ConnectionLimitsTest, AuthenticatedConnectionsLeaveTheUnauthenticatedCounts) {
  ConnectionLimits limits({.per_ip = 0, .unauthenticated = 3, .unauthenticated_per_ip = 2});
  auto a = Admit(limits, "10.0.0.1");
  auto b = Admit(limits, "10.0.0.1");
  EXPECT_EQ(Refused(limits, "10.0.0.1"), Refusal::kUnauthenticatedPerIp);

  a.Authenticated();
  a.Authenticated();  // once only
  EXPECT_EQ(limits.Unauthenticated(), 1u);
  auto c = Admit(limits, "10.0.0.1");
  auto d = Admit(limits, "10.0.0.2");
  EXPECT_EQ(Refused(limits, "10.0.0.3"), Refusal::kUnauthenticated);

  // Releasing an authenticated ticket frees its open slot but no unauthenticated one.
  a.Release();
  EXPECT_EQ(Refused(limits, "10.0.0.3"), Refusal::kUnauthenticated);
  d.Release();
  auto e = Admit(limits, "10.0.0.3");
  EXPECT_EQ(limits.Open(), 3u);
  EXPECT_EQ(limits.Unauthenticated(), 3u);
}

TEST(ConnectionLimitsTest, PerIpCapCountsAuthenticatedConnectionsToo) {
  ConnectionLimits limits({.per_ip = 1, .unauthenticated = 0, .unauthenticated_per_ip = 0});
  auto a = Admit(limits, "::1");
  a.Authenticated();
  EXPECT_EQ(Refused(limits, "::1"), Refusal::kPerIp);
}

TEST(ConnectionLimitsTest, IPv6AddressesCountByTheirSlash64) {
  EXPECT_EQ(ConnectionLimits::KeyFor("10.1.2.3"), "10.1.2.3");
  EXPECT_EQ(ConnectionLimits::KeyFor("::ffff:10.1.2.3"), "10.1.2.3");
  EXPECT_EQ(ConnectionLimits::KeyFor("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(ConnectionLimits::KeyFor("2001:db8:1:2::1"),
            ConnectionLimits::KeyFor("2001:db8:1:2::2"));
  EXPECT_NE(ConnectionLimits::KeyFor("2001:db8:1:2::1"),
            ConnectionLimits::KeyFor("2001:db8:1:3::1"));
  EXPECT_EQ(ConnectionLimits::KeyFor("::1"), "::/64");
}

TEST(ConnectionLimitsTest, ZeroCapsAreUnlimited) {
  ConnectionLimits limits({.per_ip = 0, .unauthenticated = 0, .unauthenticated_per_ip = 0});
  std::vector<ConnectionLimits::Ticket> tickets;
  for (int i = 0; i < 1000; ++i) tickets.push_back(Admit(limits, "10.0.0.1"));
  EXPECT_EQ(limits.Open(), 1000u);
}

TEST(ConnectionLimitsTest, MovedTicketsReleaseOnceAndTheGaugeFollows) {
  Gauge gauge;
  ConnectionLimits limits({.per_ip = 0, .unauthenticated = 0, .unauthenticated_per_ip = 0}, &gauge);
  {
    ConnectionLimits::Ticket moved;
    {
      auto a = Admit(limits, "10.0.0.1");
      EXPECT_EQ(gauge.Value(), 1);
      moved = std::move(a);
    }
    EXPECT_EQ(limits.Open(), 1u);
    ConnectionLimits::Ticket again(std::move(moved));
    again.Authenticated();
    EXPECT_EQ(gauge.Value(), 0);
    auto b = Admit(limits, "10.0.0.1");
    EXPECT_EQ(gauge.Value(), 1);
  }
  EXPECT_EQ(limits.Open(), 0u);
  EXPECT_EQ(limits.Unauthenticated(), 0u);
  EXPECT_EQ(gauge.Value(), 0);
  EXPECT_EQ(limits.OpenFrom("10.0.0.1"), 0u);
}

TEST(ConnectionLimitsTest, ConcurrentAcquireNeverPassesTheCap) {
  ConnectionLimits limits({.per_ip = 50, .unauthenticated = 0, .unauthenticated_per_ip = 0});
  std::vector<std::thread> threads;
  std::vector<std::vector<ConnectionLimits::Ticket>> held(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        Refusal refusal = Refusal::kNone;
        auto ticket = limits.TryAcquire("10.0.0.9", &refusal);
        if (ticket) held[t].push_back(std::move(ticket));
        if (i % 3 == 0 && !held[t].empty()) held[t].pop_back();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  size_t total = 0;
  for (auto& tickets : held) total += tickets.size();
  EXPECT_LE(total, 50u);
  EXPECT_EQ(limits.Open(), total);
  held.clear();
  EXPECT_EQ(limits.Open(), 0u);
}

}  // namespace
}  // namespace parley::net
