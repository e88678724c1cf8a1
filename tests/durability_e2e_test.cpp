// End-to-end: an ack means durable. parleyd is restarted, gracefully or with kill -9, on the
// same data directory, and everything it acknowledged must still be there, at the same seq,
// with nothing duplicated when clients retry what was not acknowledged.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <csignal>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "support/chat_client.h"
#include "support/chat_matchers.h"
#include "support/http_client.h"
#include "support/matchers.h"
#include "support/parleyd_process.h"
#include "support/test_user.h"
#include "support/ws_client.h"

namespace parley::e2e {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;

ParleydOptions OnDisk(const TempDir& data) {
  ParleydOptions options;
  options.data_dir = data.path();
  options.args = UnlimitedChatArgs({"--durability", "full"});
  return options;
}

// What an ack promised: this message, at this seq, under this id.
struct Acked {
  int64_t seq = 0;
  std::string msg_id;
};

MATCHER_P(IsSignaled, signo, "was killed by signal " + ::testing::PrintToString(signo)) {
  return arg.kind == ExitStatus::Kind::kSignaled && arg.value == signo;
}

TEST(DurabilityE2eTest, ARetryAfterARestartGetsTheFirstAck) {
  TempDir data;
  std::string bob_id;
  std::string conv;
  std::optional<WsFrame> graceful_ack;
  std::optional<WsFrame> crash_ack;
  {
    ParleydProcess server(OnDisk(data));
    TestUser alice_user(server.Port(), "alice");
    TestUser bob_user(server.Port(), "bob");
    ASSERT_THAT(alice_user.Register(), HasStatus(201));
    ASSERT_THAT(bob_user.Register(), HasStatus(201));
    bob_id = bob_user.id();
    ChatClient alice(server.Port(), alice_user);
    conv = alice.CreateDirect(bob_id);
    graceful_ack = alice.SendMessage(conv, "before-restart", "said before a restart");
    ASSERT_THAT(*graceful_ack, IsAck());
    server.Terminate();
    EXPECT_THAT(alice.ws().ExpectClose(), IsClosed(1001));
    ASSERT_THAT(server.WaitExit(), ExitedWith(0));
  }
  {
    ParleydProcess server(OnDisk(data));
    ChatClient alice(server.Port(), TestUser(server.Port(), "alice"));
    const WsFrame retry = alice.SendMessage(conv, "before-restart", "said before a restart");
    EXPECT_THAT(retry, IsFrameWith("ack", {{"seq", graceful_ack->json.at("seq")},
                                           {"msg_id", graceful_ack->json.at("msg_id")},
                                           {"ts", graceful_ack->json.at("ts")}}));
    crash_ack = alice.SendMessage(conv, "before-crash", "said before a crash");
    ASSERT_THAT(*crash_ack, IsAck());
    server.Kill();
    ASSERT_THAT(server.WaitExit(), IsSignaled(SIGKILL));
  }
  ParleydProcess server(OnDisk(data));
  ChatClient alice(server.Port(), TestUser(server.Port(), "alice"));

  const WsFrame retry = alice.SendMessage(conv, "before-crash", "said before a crash");

  EXPECT_THAT(retry, IsFrameWith("ack", {{"seq", crash_ack->json.at("seq")},
                                         {"msg_id", crash_ack->json.at("msg_id")}}));
  EXPECT_THAT(alice.FetchLog(conv),
              ElementsAre(EntryHas({{"seq", 1}, {"kind", "member"}}),
                          EntryHas({{"seq", 2}, {"body", "said before a restart"}}),
                          EntryHas({{"seq", 3}, {"body", "said before a crash"}})));
}

// Regression: shutting down with sends in flight was a heap-use-after-free (ASan, exit 1):
// App::Parts destroyed the gateway's io_contexts before the chat service, whose destructor
// finishes queued sends and answers them through those io_contexts.
TEST(DurabilityE2eTest, SigtermWithSendsInFlightKeepsEveryAckAndExitsZero) {
  constexpr int kSends = 300;
  TempDir data;
  std::string conv;
  std::map<std::string, Acked> acked;
  {
    ParleydProcess server(OnDisk(data));
    TestUser alice_user(server.Port(), "alice");
    TestUser bob_user(server.Port(), "bob");
    ASSERT_THAT(alice_user.Register(), HasStatus(201));
    ASSERT_THAT(bob_user.Register(), HasStatus(201));
    ChatClient alice(server.Port(), alice_user);
    conv = alice.CreateDirect(bob_user.id());
    alice.DrainEvents();
    std::map<int64_t, std::string> in_flight;
    for (int i = 0; i < kSends; ++i) {
      const std::string cmid = "m" + std::to_string(i);
      in_flight[alice
                    .Start({{"type", "send"},
                            {"conv", conv},
                            {"client_msg_id", cmid},
                            {"body", "message " + cmid}})
                    .as_int64()] = cmid;
    }
    WsFrame frame = alice.Next();
    ASSERT_THAT(frame, IsAck());
    server.Terminate();  // with most of the sends still queued
    for (; frame.kind != WsFrame::Kind::kClosed; frame = alice.Next()) {
      ASSERT_THAT(frame, IsAck());
      acked[in_flight.at(IntField(frame.json, "re"))] = {IntField(frame.json, "seq"),
                                                         StringField(frame.json, "msg_id")};
    }
    EXPECT_THAT(frame, IsClosed(1001));
    EXPECT_THAT(server.WaitExit(), ExitedWith(0));
  }
  ParleydProcess server(OnDisk(data));
  ChatClient alice(server.Port(), TestUser(server.Port(), "alice"));
  const std::vector<json::object> log = alice.FetchLog(conv);
  for (const auto& [cmid, ack] : acked) {
    ASSERT_LE(ack.seq, static_cast<int64_t>(log.size())) << cmid << " was acknowledged, then lost";
    EXPECT_THAT(log[ack.seq - 1], EntryHas({{"client_msg_id", cmid}, {"body", "message " + cmid}}));
  }
}

// The log holds seqs 1..N without a gap; every acknowledged message is at its seq with its
// id and body; every message is one the test sent, exactly once.
void ExpectLogKeepsEveryAck(const std::vector<json::object>& log,
                            const std::map<std::string, Acked>& acked,
                            const std::map<std::string, std::string>& bodies,
                            const std::string& sender) {
  for (size_t i = 0; i < log.size(); ++i) {
    ASSERT_EQ(IntField(log[i], "seq"), static_cast<int64_t>(i + 1)) << "a gap before " << i + 1;
  }
  std::set<std::string> seen;
  for (size_t i = 1; i < log.size(); ++i) {
    const std::string cmid = StringField(log[i], "client_msg_id");
    ASSERT_TRUE(bodies.contains(cmid)) << json::serialize(log[i]);
    EXPECT_THAT(log[i],
                EntryHas({{"kind", "message"}, {"sender", sender}, {"body", bodies.at(cmid)}}));
    EXPECT_TRUE(seen.insert(cmid).second) << cmid << " is in the log twice";
  }
  for (const auto& [cmid, ack] : acked) {
    ASSERT_LE(ack.seq, static_cast<int64_t>(log.size())) << cmid << " was acknowledged, then lost";
    EXPECT_THAT(log[ack.seq - 1], EntryHas({{"client_msg_id", cmid}, {"id", ack.msg_id}}));
  }
}

TEST(DurabilityE2eTest, EveryAcknowledgedMessageSurvivesKillNine) {
  constexpr int kRounds = 5;
  constexpr int kBurst = 200;
  constexpr size_t kWindow = 50;
  TempDir data;
  std::string alice_id;
  std::string conv;
  std::map<std::string, Acked> acked;         // client_msg_id -> what its ack said
  std::map<std::string, std::string> bodies;  // client_msg_id -> body, of everything sent
  std::set<std::string> unacked;              // sent, never acknowledged

  for (int round = 0; round <= kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ParleydProcess server(OnDisk(data));
    TestUser alice_user(server.Port(), "alice");
    TestUser bob_user(server.Port(), "bob");
    if (round == 0) {
      ASSERT_THAT(alice_user.Register(), HasStatus(201));
      ASSERT_THAT(bob_user.Register(), HasStatus(201));
      alice_id = alice_user.id();
    }
    ChatClient alice(server.Port(), alice_user);
    if (round == 0) conv = alice.CreateDirect(bob_user.id());
    alice.DrainEvents();  // of the conversation's creation: from here on only acks come

    // After the crash: everything acknowledged is there, and retries duplicate nothing.
    ExpectLogKeepsEveryAck(alice.FetchLog(conv), acked, bodies, alice_id);
    if (::testing::Test::HasFatalFailure()) return;
    for (const std::string& cmid : unacked) {
      const WsFrame ack = alice.SendMessage(conv, cmid, bodies[cmid]);
      ASSERT_THAT(ack, IsAck());
      acked[cmid] = {IntField(ack.json, "seq"), StringField(ack.json, "msg_id")};
    }
    unacked.clear();
    int retried = 0;
    for (const auto& [cmid, ack] : acked) {
      if (retried++ % 37 != 0) continue;  // a sample of the acknowledged ones
      EXPECT_THAT(alice.SendMessage(conv, cmid, bodies[cmid]),
                  IsFrameWith("ack", {{"seq", ack.seq}, {"msg_id", ack.msg_id}}));
    }
    ExpectLogKeepsEveryAck(alice.FetchLog(conv), acked, bodies, alice_id);
    if (round == kRounds) break;

    // A burst with a window of sends in flight, killed mid-way: after a varying number of
    // acks, so that the kill lands at different points of the group commit.
    const size_t kill_after = 100 + static_cast<size_t>(round) * 17;
    std::map<int64_t, std::string> in_flight;  // request id -> client_msg_id
    int next = 0;
    size_t acks_this_round = 0;
    bool killed = false;
    while (true) {
      while (!killed && next < kBurst && in_flight.size() < kWindow) {
        const std::string cmid = "r" + std::to_string(round) + "-" + std::to_string(next);
        bodies[cmid] = "round " + std::to_string(round) + " message " + std::to_string(next) + " " +
                       std::string(static_cast<size_t>(next % 7) * 10, '.');
        const json::value id = alice.Start(
            {{"type", "send"}, {"conv", conv}, {"client_msg_id", cmid}, {"body", bodies[cmid]}});
        in_flight[id.as_int64()] = cmid;
        ++next;
      }
      const WsFrame frame = alice.Next();
      if (frame.kind == WsFrame::Kind::kClosed) break;
      ASSERT_THAT(frame, IsAck()) << "the server answered something else while up";
      const auto it = in_flight.find(IntField(frame.json, "re"));
      ASSERT_NE(it, in_flight.end()) << ::testing::PrintToString(frame);
      acked[it->second] = {IntField(frame.json, "seq"), StringField(frame.json, "msg_id")};
      in_flight.erase(it);
      if (!killed && ++acks_this_round >= kill_after) {
        ASSERT_FALSE(in_flight.empty()) << "the kill should land with sends in flight";
        server.Kill();
        killed = true;
      }
      // Acks that were on their way when the server died are still acks: keep reading
      // until the connection ends.
    }
    ASSERT_TRUE(killed) << "the connection ended before the kill";
    ASSERT_THAT(server.WaitExit(), IsSignaled(SIGKILL));
    for (const auto& entry : in_flight) unacked.insert(entry.second);
  }
  EXPECT_TRUE(unacked.empty());
  EXPECT_GE(acked.size(), static_cast<size_t>(kRounds) * 100);
}

}  // namespace
}  // namespace parley::e2e
