// End-to-end: search cannot stall the API (issue 17, defect 3). Thousands of messages of random
// words, worst-case searches in a burst, and a bystander whose conversation list must stay fast;
// a non-member's search costs what an empty account's does; the per-user rate limit answers 429.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "support/chat_client.h"
#include "support/chat_matchers.h"
#include "support/http_client.h"
#include "support/matchers.h"
#include "support/parleyd_process.h"
#include "support/test_user.h"

namespace parley::e2e {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

double Millis(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t index = std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  return values[index];
}

// Eight random six-letter words: most three-letter prefixes are some message's.
std::string RandomWords(uint32_t seed) {
  std::string text;
  uint32_t x = seed * 2654435761u + 7u;
  for (int w = 0; w < 8; ++w) {
    if (!text.empty()) text += ' ';
    for (int c = 0; c < 6; ++c) {
      x = x * 1103515245u + 12345u;
      text += static_cast<char>('a' + (x >> 16) % 26);
    }
  }
  return text;
}

// Sends `count` messages into `conv` over the client's WebSocket, pipelined in windows.
void SendMany(ChatClient& client, const std::string& conv, int count, uint32_t seed) {
  constexpr int kWindow = 200;
  for (int done = 0; done < count;) {
    std::vector<json::value> ids;
    const int n = std::min(kWindow, count - done);
    for (int i = 0; i < n; ++i) {
      const int k = done + i;
      ids.push_back(
          client.Start({{"type", "send"},
                        {"conv", conv},
                        {"client_msg_id", "m" + std::to_string(k)},
                        {"body", RandomWords(seed * 100'000 + static_cast<uint32_t>(k))}}));
    }
    for (const json::value& id : ids) {
      WsFrame reply = client.Await(id);
      ASSERT_EQ(StringField(reply.json, "type"), "ack") << json::serialize(reply.json);
    }
    done += n;
  }
}

class SearchE2eTest : public ::testing::Test {
 protected:
  // durability=normal: seeding is about volume, not fsyncs.
  ParleydProcess server_{UnlimitedChatArgs({"--durability", "normal"})};
};

TEST_F(SearchE2eTest, WorstCaseSearchesDoNotStallABystander) {
  constexpr int kAttackers = 4;
  constexpr int kMessagesEach = 1000;
  std::vector<TestUser> users;
  for (int i = 0; i < kAttackers; ++i)
    users.emplace_back(server_.Port(), "attacker" + std::to_string(i));
  TestUser bystander_user(server_.Port(), "bystander");
  TestUser friend_user(server_.Port(), "friend");
  TestUser empty_user(server_.Port(), "empty");
  for (TestUser& u : users) u.Register();
  bystander_user.Register();
  friend_user.Register();
  empty_user.Register();

  const auto seed_start = Clock::now();
  std::vector<ChatClient> attackers;
  for (int i = 0; i < kAttackers; ++i) {
    attackers.emplace_back(server_.Port(), users[static_cast<size_t>(i)]);
    const std::string conv = attackers.back().CreateGroup("flood", {});
    SendMany(attackers.back(), conv, kMessagesEach, static_cast<uint32_t>(i + 1));
  }
  ChatClient bystander(server_.Port(), bystander_user);
  const std::string small = bystander.CreateDirect(friend_user.id());
  ASSERT_THAT(bystander.SendMessage(small, "b1", "abcdef lunch at noon"), IsAck());
  ChatClient empty(server_.Port(), empty_user);
  std::cout << "seeded " << kAttackers * kMessagesEach << " messages in "
            << Millis(Clock::now() - seed_start) << " ms\n";

  auto list_latencies = [&](int count) {
    std::vector<double> ms;
    for (int i = 0; i < count; ++i) {
      const auto start = Clock::now();
      HttpResponse r = bystander.Get("/v1/conversations");
      ms.push_back(Millis(Clock::now() - start));
      EXPECT_EQ(r.status, 200);
    }
    return ms;
  };
  const std::vector<double> quiet = list_latencies(30);

  // The burst: every attacker runs worst-case searches back to back.
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::atomic<int> refused{0};
  std::vector<double> attacker_ms[kAttackers];
  std::vector<std::thread> threads;
  for (int i = 0; i < kAttackers; ++i) {
    threads.emplace_back([&, i] {
      const char* queries[] = {"a", "abc", "abc%20abd%20abe", "xyz%20qrs"};
      for (int n = 0; n < 40 && !stop; ++n) {
        const auto start = Clock::now();
        HttpResponse r = attackers[static_cast<size_t>(i)].Get(std::string("/v1/search?q=") +
                                                               queries[n % 4] + "&limit=50");
        attacker_ms[i].push_back(Millis(Clock::now() - start));
        if (r.status == 200) {
          ++answered;
        } else if (r.status == 429 || r.status == 503) {
          ++refused;
        } else {
          ADD_FAILURE() << "search answered " << r.status << " " << r.body;
        }
      }
    });
  }
  const std::vector<double> loaded = list_latencies(60);
  stop = true;
  for (std::thread& t : threads) t.join();

  std::vector<double> all_attacker;
  for (const auto& v : attacker_ms) all_attacker.insert(all_attacker.end(), v.begin(), v.end());
  std::cout << "bystander GET /v1/conversations p50/p99: quiet " << Percentile(quiet, 0.5) << "/"
            << Percentile(quiet, 0.99) << " ms, during the search burst " << Percentile(loaded, 0.5)
            << "/" << Percentile(loaded, 0.99) << " ms\n"
            << "attacker searches: " << answered << " answered, " << refused
            << " refused (429/503), p50/p99 " << Percentile(all_attacker, 0.5) << "/"
            << Percentile(all_attacker, 0.99) << " ms\n";
  EXPECT_GT(answered.load(), 0);
  // Was 3.5 s. Bounded by one search window at most, far under the 500 ms deadline.
  // (Measured ~50-100 ms under ASan on a shared 2-core machine; the bound leaves room for a
  // busy neighbour without letting the old 3.5 s stall pass.)
  EXPECT_LT(Percentile(loaded, 0.99), 400.0);
  // Each search ends by its deadline (500 ms) plus the time to answer.
  EXPECT_LT(Percentile(all_attacker, 0.99), 1'500.0);

  // A non-member pays for their own conversations only: about what an empty account pays.
  auto search_ms = [](ChatClient& client, const std::string& query) {
    std::vector<double> ms;
    for (int i = 0; i < 9; ++i) {
      const auto start = Clock::now();
      HttpResponse r = client.Get("/v1/search?q=" + query);
      ms.push_back(Millis(Clock::now() - start));
      EXPECT_EQ(r.status, 200) << r.body;
    }
    return Percentile(ms, 0.5);
  };
  const double non_member = search_ms(bystander, "abc");
  const double nobody = search_ms(empty, "abc");
  const double owner = search_ms(attackers[0], "abc");
  std::cout << "search 'abc' median: non-member (1 small conversation) " << non_member
            << " ms, empty account " << nobody << " ms, owner of 1000 messages " << owner
            << " ms\n";
  EXPECT_LT(non_member, nobody * 3 + 20);
  HttpResponse mine = bystander.Get("/v1/search?q=abcdef");
  ASSERT_EQ(mine.status, 200);
  EXPECT_EQ(mine.json.at("results").as_array().size(), 1u);
  EXPECT_FALSE(mine.json.at("truncated").as_bool());
}

TEST(SearchLimitsE2eTest, SearchesAreRateLimitedPerUserAndBadQueriesRefused) {
  ParleydProcess server(
      UnlimitedChatArgs({"--rate-search-per-min", "1", "--rate-search-burst", "2"}));
  TestUser alice_user(server.Port(), "alice");
  TestUser bob_user(server.Port(), "bob");
  alice_user.Register();
  bob_user.Register();
  ChatClient alice(server.Port(), alice_user);
  ChatClient bob(server.Port(), bob_user);
  EXPECT_THAT(alice.Get("/v1/search?q=hello"), HasStatus(200));
  EXPECT_THAT(alice.Get("/v1/search?q=hello"), HasStatus(200));
  HttpResponse limited = alice.Get("/v1/search?q=hello");
  EXPECT_THAT(limited, IsHttpError(429, "rate_limited"));
  EXPECT_GT(limited.json.at("error").at("retry_after_ms").as_int64(), 0);
  EXPECT_THAT(bob.Get("/v1/search?q=hello"), HasStatus(200));  // per user
  // More than 8 words is refused, before any work.
  EXPECT_THAT(bob.Get("/v1/search?q=a%20b%20c%20d%20e%20f%20g%20h%20i"),
              IsHttpError(400, "invalid_request"));
  HttpResponse metrics = HttpClient(server.Port()).Get("/metrics", kTestMetricsToken);
  EXPECT_THAT(metrics.body, ::testing::HasSubstr("parley_search_refused_total{reason=\"rate\"} 1"));
}

}  // namespace
}  // namespace parley::e2e
