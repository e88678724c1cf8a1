// End-to-end: password guessing and login floods against a real parleyd (issue 17, defects 5
// and 9). Attackers connect from their own loopback addresses (127.0.0.x), so the server sees
// as many client IPs as the test wants.
//
// The servers here run the production guessing limits (test_defaults off) with fast Argon2
// parameters where hashing cost is not the point, and only with flags that every parleyd
// since the first release knows, so that the tests can be pointed at an older binary
// (PARLEY_E2E_PARLEYD) to show the defects.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/http_client.h"
#include "support/matchers.h"
#include "support/parleyd_process.h"
#include "support/test_user.h"

namespace parley::e2e {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::chrono::milliseconds kRequestTimeout{20'000};

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t index = static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

std::string Source(int i) { return "127.0.0." + std::to_string(i); }

int64_t RetryAfterMs(const HttpResponse& response) {
  const auto* error =
      response.json.is_object() ? response.json.as_object().if_contains("error") : nullptr;
  const auto* retry =
      error && error->is_object() ? error->as_object().if_contains("retry_after_ms") : nullptr;
  return retry && retry->is_number() ? retry->to_number<int64_t>() : -1;
}

// Counts what the attackers got back.
struct Tally {
  std::atomic<int> checked{0};      // 401: the password was checked and was wrong
  std::atomic<int> limited{0};      // 429
  std::atomic<int> unavailable{0};  // 503
  std::atomic<int> other{0};
  std::mutex mu;
  std::vector<double> latencies_ms;  // guarded by mu
  HttpResponse last_refusal;         // guarded by mu: the last 503
  HttpResponse last_other;           // guarded by mu: the last unexpected answer
  std::condition_variable counted;   // notified after every Count

  /// Waits until `done()` holds (it reads the counters) or `deadline`; returns done().
  template <class Done>
  bool WaitUntil(Clock::time_point deadline, Done done) {
    std::unique_lock lock(mu);
    return counted.wait_until(lock, deadline, done);
  }

  void Count(const HttpResponse& response, double latency_ms) {
    std::lock_guard lock(mu);
    latencies_ms.push_back(latency_ms);
    if (response.status == 401) {
      ++checked;
    } else if (response.status == 429) {
      ++limited;
    } else if (response.status == 503) {
      ++unavailable;
      last_refusal = response;
    } else {
      ++other;
      last_other = response;
    }
    counted.notify_all();
  }
};

// `threads` attackers, thread i from 127.0.0.(first_source + i), each sending login requests
// back to back until `stop`. `body(i, n)` is the n-th request of thread i.
class Attack {
 public:
  template <class Body>
  Attack(uint16_t port, int threads, int first_source, Body body) {
    for (int i = 0; i < threads; ++i) {
      workers_.emplace_back([this, port, i, first_source, body] {
        HttpClient client(port, kRequestTimeout, Source(first_source + i));
        for (int n = 0; !stop_.load(); ++n) {
          const auto started = Clock::now();
          const HttpResponse response = client.Post("/v1/auth/login", body(i, n));
          tally_.Count(response, Ms(Clock::now() - started));
        }
      });
    }
  }
  ~Attack() { Stop(); }

  void Stop() {
    stop_ = true;
    for (std::thread& worker : workers_) {
      if (worker.joinable()) worker.join();
    }
  }
  Tally& tally() { return tally_; }

 private:
  std::atomic<bool> stop_{false};
  Tally tally_;
  std::vector<std::thread> workers_;
};

// ---------------------------------------------------------------- defect 5: lockout

TEST(AuthAbuseE2eTest, StrangersGuessingCannotLockTheOwnerOutAndGuessesAreBounded) {
  // Production guessing limits; fast hashing and no per-IP limit, so that only the
  // username-level limits stand between the attackers and the victim.
  ParleydOptions options;
  options.test_defaults = false;
  options.args = {"--argon2-ops-limit",     "2",      "--argon2-mem-limit",   "19922944",
                  "--rate-auth-ip-per-min", "100000", "--rate-auth-ip-burst", "100000"};
  ParleydProcess server(options);
  TestUser victim(server.Port(), "victim");
  ASSERT_THAT(victim.Register(), HasStatus(201));

  constexpr int kAttackers = 16;  // 127.0.0.10 .. 127.0.0.25
  const auto attack_started = Clock::now();
  Attack attack(server.Port(), kAttackers, 10, [](int, int n) {
    return json::value{{"username", "victim"},
                       {"password", "wrong guess " + std::to_string(n)},
                       {"device_name", "attacker"}};
  });
  // The attack is under way once the username's budget is spent and the attackers are
  // being slowed down.
  ASSERT_TRUE(attack.tally().WaitUntil(Clock::now() + milliseconds(20'000), [&] {
    return attack.tally().limited.load() >= 50;
  })) << "the attack never got limited";
  // A measurement window, not a synchronisation: the owner walks into an attack that has
  // been going on for a while.
  std::this_thread::sleep_for(milliseconds(3'000));

  // The owner, with the right password, from a new IP and a new device. A client honours
  // retry_after_ms; the owner must be in within a few seconds.
  HttpClient owner(server.Port(), kRequestTimeout, Source(200));
  const auto owner_started = Clock::now();
  HttpResponse answer;
  int tries = 0;
  while (Clock::now() - owner_started < milliseconds(30'000)) {
    ++tries;
    answer = owner.Post("/v1/auth/login", {{"username", "victim"},
                                           {"password", victim.password()},
                                           {"device_name", "owner's new laptop"}});
    if (answer.status != 429) break;
    const int64_t retry = RetryAfterMs(answer);
    std::this_thread::sleep_for(milliseconds(std::clamp<int64_t>(retry, 1, 2'000)));
  }
  const double owner_ms = Ms(Clock::now() - owner_started);

  // Keep attacking for a while so that the guess rate is measured over a real stretch (a
  // measurement window).
  std::this_thread::sleep_until(attack_started + milliseconds(30'000));
  attack.Stop();
  const double attack_s = Ms(Clock::now() - attack_started) / 1000.0;
  const int checked = attack.tally().checked.load();
  const int total = checked + attack.tally().limited.load() + attack.tally().unavailable.load() +
                    attack.tally().other.load();
  const double checked_per_min = checked / attack_s * 60.0;
  std::cout << "[lockout] owner got a token after " << owner_ms << " ms in " << tries
            << " tries (status " << answer.status << "); " << kAttackers << " attackers sent "
            << total << " guesses in " << attack_s << " s, " << checked << " checked ("
            << checked_per_min << "/min), " << attack.tally().limited.load() << " slowed (429)\n";
  ::testing::Test::RecordProperty("owner_login_ms", static_cast<int>(owner_ms));
  ::testing::Test::RecordProperty("attack_checked_per_min", static_cast<int>(checked_per_min));

  ASSERT_THAT(answer, HasStatus(200));
  EXPECT_TRUE(Tokens::FromJson(answer.json).has_value());
  EXPECT_LT(owner_ms, 6'000);
  // Defaults: 10 checks at once and 6 a minute per username, plus at most one check per
  // attacking source from the fresh-source bucket (20 + 12 a minute) before it counts as
  // failing; +2 for refills racing the clock.
  const double bound = 10 + 6 * attack_s / 60.0 + kAttackers + 2;
  EXPECT_LE(checked, bound) << "per-username guessing is not bounded";
  EXPECT_EQ(attack.tally().other.load(), 0) << ::testing::PrintToString(attack.tally().last_other);
}

TEST(AuthAbuseE2eTest, WrongPasswordsForOneUsernameAreSlowedDownWithRetryAfter) {
  ParleydProcess server({"--rate-auth-user-per-min", "1", "--rate-auth-user-burst", "2",
                         "--rate-auth-user-fresh-burst", "1", "--rate-auth-user-fresh-per-min", "1",
                         "--rate-auth-user-ip-burst", "2", "--rate-auth-user-ip-per-min", "1"});
  TestUser alice(server.Port(), "alice");
  TestUser wrong(server.Port(), "alice", "not alice's password");
  TestUser bob(server.Port(), "bob");
  ASSERT_THAT(alice.Register(), HasStatus(201));
  ASSERT_THAT(bob.Register(), HasStatus(201));

  // Successful logins never count as failures.
  for (int i = 0; i < 5; ++i) ASSERT_THAT(alice.TryLogin(), HasStatus(200));
  EXPECT_THAT(wrong.TryLogin(), IsHttpError(401, "unauthorized"));
  EXPECT_THAT(wrong.TryLogin(), IsHttpError(401, "unauthorized"));
  const HttpResponse limited = wrong.TryLogin();
  ASSERT_THAT(limited, IsHttpError(429, "rate_limited"));
  EXPECT_GT(RetryAfterMs(limited), 0) << ::testing::PrintToString(limited);
  // Per username: another user still logs in from the same IP.
  EXPECT_THAT(bob.TryLogin(), HasStatus(200));
  // The same owner on another network is not locked out by this source's failures.
  HttpClient elsewhere(server.Port(), kRequestTimeout, Source(77));
  EXPECT_THAT(
      elsewhere.Post("/v1/auth/login", {{"username", "alice"}, {"password", alice.password()}}),
      HasStatus(200));
}

// ---------------------------------------------------------------- defect 9: pools

// A bystander's authenticated reads while attackers flood logins with unknown usernames
// (each costs a full Argon2id check, and no guessing limit applies to distinct usernames).
TEST(AuthAbuseE2eTest, LoginFloodDoesNotSlowABystandersReads) {
  // Production Argon2id cost (t=3, 64 MiB): what a flood really costs the server.
  ParleydOptions options;
  options.test_defaults = false;
  options.args = {"--rate-auth-ip-per-min",   "100000", "--rate-auth-ip-burst",   "100000",
                  "--rate-auth-user-per-min", "100000", "--rate-auth-user-burst", "100000"};
  ParleydProcess server(options);
  TestUser carol(server.Port(), "carol");
  TestUser dave(server.Port(), "dave");
  ASSERT_THAT(carol.Register(), HasStatus(201));
  ASSERT_THAT(dave.Register(), HasStatus(201));
  const Tokens tokens = carol.Login();
  HttpClient http(server.Port(), kRequestTimeout);
  ASSERT_THAT(http.Post("/v1/conversations", {{"type", "direct"}, {"members", {dave.id()}}},
                        tokens.access_token),
              HasStatus(201));
  // One login alone, for scale.
  const auto single_started = Clock::now();
  ASSERT_THAT(TestUser(server.Port(), "carol", "wrong password").TryLogin(), HasStatus(401));
  const double single_ms = Ms(Clock::now() - single_started);

  constexpr int kAttackers = 16;
  Attack attack(server.Port(), kAttackers, 30, [](int i, int n) {
    return json::value{{"username", "nobody" + std::to_string(i) + "x" + std::to_string(n)},
                       {"password", "wrong password"}};
  });
  // The flood is on once the first rejections come back.
  (void)attack.tally().WaitUntil(Clock::now() + milliseconds(20'000),
                                 [&] { return attack.tally().checked.load() >= kAttackers; });
  std::vector<double> bystander_ms;
  const int checked_before = attack.tally().checked.load();
  const auto measure_started = Clock::now();
  while (Clock::now() - measure_started < milliseconds(8'000)) {
    const auto started = Clock::now();
    const HttpResponse list = http.Get("/v1/conversations", tokens.access_token);
    bystander_ms.push_back(Ms(Clock::now() - started));
    ASSERT_THAT(list, HasStatus(200));
  }
  const double measured_ms = Ms(Clock::now() - measure_started);
  const int checked_during = attack.tally().checked.load() - checked_before;
  attack.Stop();

  const double p50 = Percentile(bystander_ms, 0.5);
  // What one check costs while the flood runs (the machine may be loaded by more than us).
  const double service_ms = measured_ms / std::max(1, checked_during);
  const double p99 = Percentile(bystander_ms, 0.99);
  const double flood_p99 = Percentile(attack.tally().latencies_ms, 0.99);
  std::cout << "[flood] one login alone " << single_ms << " ms; " << kAttackers << " attackers, "
            << attack.tally().checked.load() << " checked, " << attack.tally().unavailable.load()
            << " answered 503, flood login p99 " << flood_p99
            << " ms; bystander GET /v1/conversations x" << bystander_ms.size() << ": p50 " << p50
            << " ms, p99 " << p99 << " ms; one check every " << service_ms << " ms\n";
  ::testing::Test::RecordProperty("bystander_p99_ms", static_cast<int>(p99));
  EXPECT_LT(p99, 150) << "a login flood slows a bystander's reads";
  // The default queue (16 running or waiting) bounds how long a flood's login waits: behind
  // at most 16 checks.
  EXPECT_LT(flood_p99, 17 * service_ms * 1.5 + 1'000);
}

TEST(AuthAbuseE2eTest, LoginFloodPastTheHashQueueIsRefusedQuicklyWithRetryAfter) {
  ParleydProcess server({"--auth-hash-queue", "4", "--auth-hash-threads", "1", "--argon2-ops-limit",
                         "3", "--argon2-mem-limit", "67108864"});
  TestUser carol(server.Port(), "carol");
  ASSERT_THAT(carol.Register(), HasStatus(201));
  const auto single_started = Clock::now();
  ASSERT_THAT(TestUser(server.Port(), "carol", "wrong password").TryLogin(), HasStatus(401));
  const double single_ms = Ms(Clock::now() - single_started);

  constexpr int kAttackers = 16;
  Attack attack(server.Port(), kAttackers, 60, [](int i, int n) {
    return json::value{{"username", "nobody" + std::to_string(i) + "x" + std::to_string(n)},
                       {"password", "wrong password"}};
  });
  const auto deadline = Clock::now() + milliseconds(20'000);
  while ((attack.tally().unavailable.load() < 20 || attack.tally().checked.load() < 20) &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  attack.Stop();
  const double p99 = Percentile(attack.tally().latencies_ms, 0.99);
  std::cout << "[hash queue] one login " << single_ms
            << " ms; flood: " << attack.tally().checked.load() << " checked, "
            << attack.tally().unavailable.load() << " refused 503; login latency p99 " << p99
            << " ms\n";
  ASSERT_THAT(attack.tally().last_refusal, IsHttpError(503, "unavailable"));
  EXPECT_GT(RetryAfterMs(attack.tally().last_refusal), 0);
  EXPECT_GE(attack.tally().checked.load(), 20);
  EXPECT_GE(attack.tally().unavailable.load(), 20);
  // A request waits behind at most 4 checks on one thread: the queue bounds the latency.
  EXPECT_LT(p99, 5 * single_ms * 3 + 1'000);
  EXPECT_EQ(attack.tally().other.load(), 0) << ::testing::PrintToString(attack.tally().last_other);
}

}  // namespace
}  // namespace parley::e2e
