// End-to-end: conversations and their logs as clients see them over WebSocket and HTTP:
// ordering and fan-out, idempotent sends, gap recovery, membership, receipts, edits,
// reactions, search, typing, rate limits and bad input.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <numeric>
#include <string>
#include <thread>
#include <utility>
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
using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

std::string ConvPath(const std::string& conv) { return "/v1/conversations/" + conv; }

int64_t SeqOf(const WsFrame& frame) { return IntField(frame.json, "seq"); }

std::vector<int64_t> Range(int64_t first, int64_t last) {
  std::vector<int64_t> out(static_cast<size_t>(std::max<int64_t>(0, last - first + 1)));
  std::iota(out.begin(), out.end(), first);
  return out;
}

std::vector<std::string> MemberIds(const json::value& conversation) {
  std::vector<std::string> ids;
  for (const json::value& id : conversation.at("members").as_array()) {
    ids.emplace_back(id.as_string());
  }
  return ids;
}

std::vector<int64_t> Seqs(const std::vector<json::object>& entries) {
  std::vector<int64_t> seqs;
  for (const auto& entry : entries) seqs.push_back(IntField(entry, "seq"));
  return seqs;
}

std::vector<json::object> Entries(const json::value& messages) {
  std::vector<json::object> out;
  for (const json::value& m : messages.as_array()) out.push_back(m.as_object());
  return out;
}

// `client` is online and a member of the conversation just created: it hears of it, first
// the conversation, then its first log entry.
void ExpectToHearCreated(ChatClient& client, const std::string& conv) {
  EXPECT_THAT(client.Next(), IsConversationEvent(conv));
  EXPECT_THAT(
      client.Next(),
      IsEvent("message", {{"conv", conv}, {"seq", 1}, {"kind", "member"}, {"action", "created"}}));
}

// The conversation as `client`'s user sees it in GET /v1/conversations; null when absent.
json::value Listed(const ChatClient& client, const std::string& conv) {
  const HttpResponse list = client.Get("/v1/conversations");
  EXPECT_THAT(list, HasStatus(200));
  if (list.status != 200) return nullptr;
  for (const json::value& c : list.json.at("conversations").as_array()) {
    if (c.at("id") == json::value(conv)) return c;
  }
  return nullptr;
}

class MessagingE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (TestUser* user : {&alice_, &bob_, &carol_}) ASSERT_THAT(user->Register(), HasStatus(201));
  }

  ChatClient Device(const TestUser& user, std::string_view name = "phone") {
    return ChatClient(server_.Port(), user, name);
  }

  ParleydProcess server_{UnlimitedChatArgs()};
  TestUser alice_{server_.Port(), "alice"};
  TestUser bob_{server_.Port(), "bob"};
  TestUser carol_{server_.Port(), "carol"};
};

// ---- Creating conversations ----

TEST_F(MessagingE2eTest, CreatingAConversationIsItsFirstLogEntry) {
  ChatClient alice = Device(alice_);

  const HttpResponse created =
      alice.Post("/v1/conversations",
                 {{"type", "group"}, {"title", "trip"}, {"members", {bob_.id(), carol_.id()}}});

  ASSERT_THAT(created, HasStatus(201));
  const json::value& conversation = created.json.at("conversation");
  const std::string conv(conversation.at("id").as_string());
  EXPECT_THAT(conversation, EntryHas({{"type", "group"}, {"title", "trip"}, {"last_seq", 1}}));
  EXPECT_THAT(MemberIds(conversation), UnorderedElementsAre(alice_.id(), bob_.id(), carol_.id()));
  EXPECT_EQ(conversation.at("roles").at(alice_.id()), "owner");
  EXPECT_EQ(conversation.at("roles").at(bob_.id()), "member");
  EXPECT_TRUE(conversation.at("receipts").at(bob_.id()).at("read_seq").is_int64());
  EXPECT_GT(IntField(conversation, "created_ms"), 0);
  ExpectToHearCreated(alice, conv);
  const HttpResponse got = alice.Get(ConvPath(conv));
  ASSERT_THAT(got, HasStatus(200));
  EXPECT_THAT(got.json.at("conversation"),
              EntryHas({{"id", conv}, {"type", "group"}, {"title", "trip"}, {"last_seq", 1}}));
  EXPECT_THAT(alice.FetchLog(conv), ElementsAre(EntryHas({{"seq", 1},
                                                          {"kind", "member"},
                                                          {"action", "created"},
                                                          {"sender", alice_.id()},
                                                          {"user", alice_.id()}})));
}

TEST_F(MessagingE2eTest, TheSameDirectConversationAgainIsTheExistingOne) {
  ChatClient alice = Device(alice_);
  ChatClient bob = Device(bob_);

  const HttpResponse first =
      alice.Post("/v1/conversations", {{"type", "direct"}, {"members", {bob_.id()}}});
  const HttpResponse again =
      alice.Post("/v1/conversations", {{"type", "direct"}, {"members", {bob_.id()}}});
  const HttpResponse from_bob =
      bob.Post("/v1/conversations", {{"type", "direct"}, {"members", {alice_.id()}}});

  ASSERT_THAT(first, HasStatus(201));
  const json::value id = first.json.at("conversation").at("id");
  EXPECT_THAT(again, HasStatus(200));
  EXPECT_EQ(again.json.at("conversation").at("id"), id);
  EXPECT_THAT(from_bob, HasStatus(200));
  EXPECT_EQ(from_bob.json.at("conversation").at("id"), id);
  EXPECT_THAT(alice.FetchLog(std::string(id.as_string())), SizeIs(1));
  EXPECT_THAT(alice.Post("/v1/conversations", {{"type", "direct"}, {"members", json::array{}}}),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(
      alice.Post("/v1/conversations", {{"type", "direct"}, {"members", {bob_.id(), carol_.id()}}}),
      IsHttpError(400, "invalid_request"));
  EXPECT_THAT(
      alice.Post("/v1/conversations", {{"type", "direct"}, {"members", {"u_nobody_at_all"}}}),
      IsHttpError(404, "not_found"));
}

// ---- Ordering and fan-out ----

struct SenderOutcome {
  std::map<int, int64_t> acked;      // index of the message sent -> its seq
  std::vector<json::object> events;  // the conversation's `message` events, as they came
  std::vector<int64_t> arrivals;     // the seqs of acks and events, as they came
  std::string failure;
};

std::string BodyOf(const std::string& sender, int index) {
  return sender + " says #" + std::to_string(index);
}

// Sends `count` messages keeping up to `window` unacknowledged, and reads the events of the
// others' messages, until every ack and `expected_events` events have come.
void SendAndListen(ChatClient& client, const std::string& name, const std::string& conv, int count,
                   size_t window, size_t expected_events, SenderOutcome& out) {
  try {
    std::map<int64_t, int> in_flight;  // request id -> index
    int next = 0;
    while (out.acked.size() < static_cast<size_t>(count) || out.events.size() < expected_events) {
      while (next < count && in_flight.size() < window) {
        const json::value id = client.Start({{"type", "send"},
                                             {"conv", conv},
                                             {"client_msg_id", name + "-" + std::to_string(next)},
                                             {"body", BodyOf(name, next)}});
        in_flight[id.as_int64()] = next++;
      }
      const WsFrame frame = client.Next();
      if (frame.Type() == "ack" && in_flight.contains(IntField(frame.json, "re"))) {
        const auto it = in_flight.find(IntField(frame.json, "re"));
        out.acked[it->second] = SeqOf(frame);
        out.arrivals.push_back(SeqOf(frame));
        in_flight.erase(it);
      } else if (frame.Type() == "message" && frame.json.at("conv") == json::value(conv)) {
        out.events.push_back(frame.json.as_object());
        out.arrivals.push_back(SeqOf(frame));
      } else {
        out.failure = name + " got an unexpected " + ::testing::PrintToString(frame);
        return;
      }
    }
  } catch (const std::exception& e) {
    out.failure = name + ": " + e.what();
  }
}

TEST_F(MessagingE2eTest, ConcurrentSendersAreSeenByEveryMemberOnceInSeqOrderWithoutGaps) {
  constexpr int kPerSender = 60;
  constexpr size_t kWindow = 10;
  TestUser dave(server_.Port(), "dave");
  ASSERT_THAT(dave.Register(), HasStatus(201));
  const std::vector<const TestUser*> users = {&alice_, &bob_, &carol_, &dave};
  std::vector<ChatClient> clients;
  for (const TestUser* user : users) clients.push_back(Device(*user));
  const std::string conv = clients[0].CreateGroup("busy", {bob_.id(), carol_.id(), dave.id()});
  for (ChatClient& client : clients) ExpectToHearCreated(client, conv);
  const size_t senders = clients.size();
  const int64_t last_seq = 1 + static_cast<int64_t>(senders) * kPerSender;

  std::vector<SenderOutcome> outcomes(senders);
  {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < senders; ++i) {
      threads.emplace_back(SendAndListen, std::ref(clients[i]), users[i]->username(), conv,
                           kPerSender, kWindow, (senders - 1) * kPerSender, std::ref(outcomes[i]));
    }
    for (auto& thread : threads) thread.join();
  }

  // What each seq should be, from the acks: together they are exactly 2..last_seq.
  std::map<int64_t, std::pair<std::string, std::string>> expected;  // seq -> sender, body
  for (size_t i = 0; i < senders; ++i) {
    ASSERT_EQ(outcomes[i].failure, "");
    ASSERT_EQ(outcomes[i].acked.size(), static_cast<size_t>(kPerSender));
    int64_t previous = 0;
    for (const auto& [index, seq] : outcomes[i].acked) {
      EXPECT_GT(seq, previous) << "one connection's messages are stored in the order it sent them";
      previous = seq;
      EXPECT_TRUE(
          expected.emplace(seq, std::pair(users[i]->id(), BodyOf(users[i]->username(), index)))
              .second)
          << "seq " << seq << " acknowledged twice";
    }
  }
  std::vector<int64_t> acked_seqs;
  for (const auto& entry : expected) acked_seqs.push_back(entry.first);
  EXPECT_EQ(acked_seqs, Range(2, last_seq));

  for (size_t i = 0; i < senders; ++i) {
    SCOPED_TRACE(users[i]->username());
    // On one connection, its own acks and the others' events come once each, in seq order.
    EXPECT_EQ(outcomes[i].arrivals, Range(2, last_seq));
    EXPECT_EQ(outcomes[i].events.size(), (senders - 1) * kPerSender);
    for (const json::object& event : outcomes[i].events) {
      const auto& [sender, body] = expected[IntField(event, "seq")];
      EXPECT_THAT(event, EntryHas({{"kind", "message"}, {"sender", sender}, {"body", body}}));
    }
  }
  const std::vector<json::object> log = clients[0].FetchLog(conv);
  EXPECT_EQ(Seqs(log), Range(1, last_seq));
  for (const json::object& entry : log) {
    if (IntField(entry, "seq") == 1) continue;
    const auto& [sender, body] = expected[IntField(entry, "seq")];
    EXPECT_THAT(entry, EntryHas({{"kind", "message"}, {"sender", sender}, {"body", body}}));
  }
}

TEST_F(MessagingE2eTest, TheSendingConnectionGetsTheAckAndTheOtherDevicesTheEvent) {
  ChatClient phone = Device(alice_, "phone");
  ChatClient laptop = Device(alice_, "laptop");
  ChatClient bob = Device(bob_);
  const std::string conv = phone.CreateDirect(bob_.id());
  for (ChatClient* client : {&phone, &laptop, &bob}) ExpectToHearCreated(*client, conv);

  const WsFrame ack = phone.SendMessage(conv, "hello-1", "hello bob");

  ASSERT_THAT(ack, IsFrameWith("ack", {{"conv", conv}, {"seq", 2}}));
  EXPECT_THAT(ack, IsAck());
  const json::object expected{{"conv", conv},
                              {"seq", 2},
                              {"kind", "message"},
                              {"sender", alice_.id()},
                              {"body", "hello bob"},
                              {"client_msg_id", "hello-1"},
                              {"id", ack.json.at("msg_id")},
                              {"ts", ack.json.at("ts")}};
  EXPECT_THAT(bob.DrainEvents(), ElementsAre(IsEvent("message", expected)));
  EXPECT_THAT(laptop.DrainEvents(), ElementsAre(IsEvent("message", expected)));
  EXPECT_THAT(phone.DrainEvents(), IsEmpty());
  EXPECT_THAT(phone.FetchLog(conv)[1], EntryHas(expected));
}

// ---- Idempotent sends ----

TEST_F(MessagingE2eTest, ASendRetriedWithTheSameClientMsgIdGetsTheFirstAck) {
  ChatClient alice = Device(alice_);
  ChatClient bob = Device(bob_);
  const std::string conv = alice.CreateDirect(bob_.id());
  ExpectToHearCreated(alice, conv);
  ExpectToHearCreated(bob, conv);

  const WsFrame first = alice.SendMessage(conv, "retry-1", "hello once");
  const WsFrame again = alice.SendMessage(conv, "retry-1", "hello once");
  const WsFrame other_body = alice.SendMessage(conv, "retry-1", "a different body");
  // Two sends of one id in flight together (a client that retried too early).
  const json::value id_a = alice.Start(
      {{"type", "send"}, {"conv", conv}, {"client_msg_id", "retry-2"}, {"body", "hello twice"}});
  const json::value id_b = alice.Start(
      {{"type", "send"}, {"conv", conv}, {"client_msg_id", "retry-2"}, {"body", "hello twice"}});
  const WsFrame pipelined_a = alice.Await(id_a);
  const WsFrame pipelined_b = alice.Await(id_b);
  const HttpResponse over_http = alice.Post(ConvPath(conv) + "/messages",
                                            {{"client_msg_id", "retry-1"}, {"body", "hello once"}});
  // The id is the sender's: bob using the same one sends a message of his own.
  const WsFrame bobs = bob.SendMessage(conv, "retry-1", "bob's own");

  ASSERT_THAT(first, IsAck());
  const json::object first_ack{{"conv", conv},
                               {"seq", first.json.at("seq")},
                               {"msg_id", first.json.at("msg_id")},
                               {"ts", first.json.at("ts")}};
  EXPECT_THAT(again, IsFrameWith("ack", first_ack));
  EXPECT_THAT(other_body, IsFrameWith("ack", first_ack));
  ASSERT_THAT(pipelined_a, IsAck());
  EXPECT_EQ(SeqOf(pipelined_a), SeqOf(first) + 1);
  EXPECT_THAT(pipelined_b, IsFrameWith("ack", {{"seq", pipelined_a.json.at("seq")},
                                               {"msg_id", pipelined_a.json.at("msg_id")}}));
  EXPECT_THAT(over_http, AnyOf(HasStatus(200), HasStatus(201)));
  EXPECT_THAT(over_http.json.at("message"),
              EntryHas({{"seq", first.json.at("seq")}, {"id", first.json.at("msg_id")}}));
  ASSERT_THAT(bobs, IsAck());
  EXPECT_EQ(SeqOf(bobs), SeqOf(pipelined_a) + 1);

  EXPECT_THAT(bob.DrainEvents(),
              ElementsAre(IsEvent("message", {{"seq", SeqOf(first)}, {"body", "hello once"}}),
                          IsEvent("message", {{"seq", SeqOf(pipelined_a)}})));
  EXPECT_THAT(alice.FetchLog(conv),
              ElementsAre(EntryHas({{"seq", 1}}),
                          EntryHas({{"client_msg_id", "retry-1"}, {"body", "hello once"}}),
                          EntryHas({{"client_msg_id", "retry-2"}, {"body", "hello twice"}}),
                          EntryHas({{"client_msg_id", "retry-1"}, {"body", "bob's own"}})));

  // Over HTTP a retry answers the original message in its current state.
  ASSERT_THAT(alice.Edit(conv, SeqOf(first), "hello, edited"), IsFrameWith("ack", {{"seq", 5}}));
  const HttpResponse after_edit = alice.Post(
      ConvPath(conv) + "/messages", {{"client_msg_id", "retry-1"}, {"body", "hello once"}});
  EXPECT_THAT(after_edit.json.at("message"),
              EntryHas({{"seq", first.json.at("seq")}, {"body", "hello, edited"}}));
  EXPECT_THAT(bob.DrainEvents(), ElementsAre(IsEvent("message", {{"seq", 5}, {"kind", "edit"}})));
  EXPECT_THAT(alice.FetchLog(conv), SizeIs(5));
}

TEST_F(MessagingE2eTest, AMisspeltFieldIsRefusedRatherThanIgnored) {
  ChatClient alice = Device(alice_);
  const std::string conv = alice.CreateDirect(bob_.id());
  ExpectToHearCreated(alice, conv);

  // A dropped `client_msg_id` would silently lose idempotency.
  const WsFrame send =
      alice.Request({{"type", "send"}, {"conv", conv}, {"client_msgid", "typo-1"}, {"body", "hi"}});
  const WsFrame history =
      alice.Request({{"type", "history"}, {"conv", conv}, {"afterseq", 0}, {"limit", 10}});
  const HttpResponse over_http =
      alice.Post(ConvPath(conv) + "/messages", {{"client_msgid", "typo-2"}, {"body", "hi"}});

  EXPECT_THAT(send, IsWsError("invalid_request"));
  EXPECT_THAT(history, IsWsError("invalid_request"));
  EXPECT_THAT(over_http, IsHttpError(400, "invalid_request"));
  EXPECT_THAT(alice.FetchLog(conv), SizeIs(1));
}

// ---- Gap recovery ----

TEST_F(MessagingE2eTest, AReconnectingClientFetchesEveryChangeItMissedAfterItsLastSeq) {
  ChatClient alice = Device(alice_);
  ChatClient bob = Device(bob_);
  const std::string conv = alice.CreateDirect(bob_.id());
  ExpectToHearCreated(alice, conv);
  ExpectToHearCreated(bob, conv);
  for (const char* body : {"first", "second", "third"}) {
    ASSERT_THAT(alice.SendMessage(conv, body, body), IsAck());
  }
  EXPECT_THAT(bob.Next(), IsEvent("message", {{"seq", 2}}));
  EXPECT_THAT(bob.Next(), IsEvent("message", {{"seq", 3}}));
  EXPECT_THAT(bob.Next(), IsEvent("message", {{"seq", 4}}));
  const int64_t bob_holds = 4;

  bob.Disconnect();
  EXPECT_THAT(alice.SendMessage(conv, "fourth", "fourth"), IsFrameWith("ack", {{"seq", 5}}));
  EXPECT_THAT(alice.Edit(conv, 2, "first, edited"), IsFrameWith("ack", {{"seq", 6}}));
  EXPECT_THAT(alice.Edit(conv, 3, "second, regretted"), IsFrameWith("ack", {{"seq", 7}}));
  EXPECT_THAT(alice.Delete(conv, 3), IsFrameWith("ack", {{"seq", 8}}));
  EXPECT_THAT(alice.React(conv, 5, "🎉"), IsFrameWith("ack", {{"seq", 9}}));
  EXPECT_THAT(alice.SendMessage(conv, "fifth", "fifth", 5), IsFrameWith("ack", {{"seq", 10}}));
  bob.Reconnect();

  const WsFrame sync = bob.Sync();
  ASSERT_THAT(sync, IsFrame("sync"));
  EXPECT_THAT(sync.json.at("conversations").as_array(),
              Contains(EntryHas({{"id", conv}, {"last_seq", 10}, {"unread", 4}})));

  std::vector<json::object> missed;
  int64_t after = bob_holds;
  bool has_more = true;
  while (has_more) {
    const WsFrame page = bob.History(conv, {{"after_seq", after}, {"limit", 2}});
    ASSERT_THAT(page, IsFrameWith("history", {{"conv", conv}}));
    const std::vector<json::object> entries = Entries(page.json.at("messages"));
    ASSERT_THAT(entries, Not(IsEmpty())) << "has_more promised more";
    missed.insert(missed.end(), entries.begin(), entries.end());
    after = IntField(entries.back(), "seq");
    has_more = page.json.at("has_more").as_bool();
  }
  ASSERT_THAT(missed, SizeIs(6));
  EXPECT_THAT(missed[0], EntryHas({{"seq", 5}, {"kind", "message"}, {"body", "fourth"}}));
  EXPECT_THAT(missed[0].at("reactions"), EntryHas({{"🎉", json::array{alice_.id()}}}));
  EXPECT_THAT(missed[1], EntryHas({{"seq", 6},
                                   {"kind", "edit"},
                                   {"sender", alice_.id()},
                                   {"target_seq", 2},
                                   {"body", "first, edited"}}));
  // The delete took the text of the message's edits too.
  EXPECT_THAT(missed[2], EntryHas({{"seq", 7}, {"kind", "edit"}, {"target_seq", 3}}));
  EXPECT_THAT(missed[2], HasNoBody());
  EXPECT_THAT(missed[3], EntryHas({{"seq", 8}, {"kind", "delete"}, {"target_seq", 3}}));
  EXPECT_THAT(
      missed[4],
      EntryHas(
          {{"seq", 9}, {"kind", "reaction"}, {"target_seq", 5}, {"emoji", "🎉"}, {"added", true}}));
  EXPECT_THAT(missed[5],
              EntryHas({{"seq", 10}, {"kind", "message"}, {"body", "fifth"}, {"reply_to", 5}}));

  // What bob held before is shown in its current state.
  const WsFrame held = bob.History(conv, {{"before_seq", bob_holds + 1}, {"limit", 50}});
  ASSERT_THAT(held, IsFrameWith("history", {{"has_more", false}}));
  const std::vector<json::object> old = Entries(held.json.at("messages"));
  EXPECT_EQ(Seqs(old), Range(1, 4));
  EXPECT_THAT(old[1], EntryHas({{"seq", 2}, {"body", "first, edited"}}));
  EXPECT_GT(IntField(old[1], "edited_ts"), 0);
  EXPECT_THAT(old[2], EntryHas({{"seq", 3}, {"kind", "message"}, {"deleted", true}}));
  EXPECT_THAT(old[2], HasNoBody());
  EXPECT_THAT(old[3], EntryHas({{"seq", 4}, {"body", "third"}}));
  // Scrolling back page by page ends where the log begins.
  const WsFrame back = bob.History(conv, {{"before_seq", 5}, {"limit", 2}});
  EXPECT_THAT(back, IsFrameWith("history", {{"has_more", true}}));
  EXPECT_EQ(Seqs(Entries(back.json.at("messages"))), Range(3, 4));
  const WsFrame start = bob.History(conv, {{"before_seq", 3}, {"limit", 2}});
  EXPECT_THAT(start, IsFrameWith("history", {{"has_more", false}}));
  EXPECT_EQ(Seqs(Entries(start.json.at("messages"))), Range(1, 2));
}

TEST_F(MessagingE2eTest, ASyncWithoutMembersHasEverythingButTheMemberLists) {
  ChatClient alice = Device(alice_);
  ChatClient bob = Device(bob_);
  const std::string conv = alice.CreateGroup("trip", {bob_.id(), carol_.id()});
  ExpectToHearCreated(bob, conv);
  ASSERT_THAT(alice.SendMessage(conv, "m1", "hello"), IsAck());

  const WsFrame light = bob.Request({{"type", "sync"}, {"members", false}});
  const WsFrame full = bob.Sync();

  ASSERT_THAT(light, IsFrame("sync"));
  ASSERT_THAT(full, IsFrame("sync"));
  const json::object& summary = light.json.at("conversations").as_array().at(0).as_object();
  EXPECT_THAT(summary, EntryHas({{"id", conv},
                                 {"type", "group"},
                                 {"title", "trip"},
                                 {"last_seq", 2},
                                 {"read_seq", 1},
                                 {"unread", 1}}));
  EXPECT_THAT(summary.at("last_message"), EntryHas({{"seq", 2}, {"body", "hello"}}));
  for (const char* field : {"members", "roles", "receipts"}) {
    EXPECT_FALSE(summary.contains(field)) << field;
  }
  // Everything else is what the full sync says.
  json::object trimmed = full.json.at("conversations").as_array().at(0).as_object();
  for (const char* field : {"members", "roles", "receipts"}) trimmed.erase(field);
  EXPECT_EQ(trimmed, summary);

  // Over HTTP too, and a bad flag is refused.
  const HttpResponse http =
      HttpClient(server_.Port()).Get("/v1/conversations?members=false", bob.tokens().access_token);
  ASSERT_THAT(http, HasStatus(200));
  EXPECT_EQ(http.json.at("conversations").as_array().at(0).as_object(), summary);
  EXPECT_THAT(
      HttpClient(server_.Port()).Get("/v1/conversations?members=maybe", bob.tokens().access_token),
      IsHttpError(400, "invalid_request"));
  EXPECT_THAT(bob.Request({{"type", "sync"}, {"members", "no"}}), IsWsError("invalid_request"));
}

// ---- Membership ----

TEST_F(MessagingE2eTest, ANonMemberCannotTellAGroupFromNoGroupAtAll) {
  ChatClient alice = Device(alice_);
  ChatClient carol = Device(carol_);
  const std::string conv = alice.CreateGroup("secret plans", {bob_.id()});
  ExpectToHearCreated(alice, conv);
  ASSERT_THAT(alice.SendMessage(conv, "pw", "the password is swordfish"), IsAck());
  const std::string nowhere = "c_no_such_conversation";

  struct Call {
    std::string method;
    std::string suffix;
    json::value body;
  };
  const std::vector<Call> calls = {
      {"GET", "", nullptr},
      {"PATCH", "", {{"title", "mine now"}}},
      {"GET", "/messages?after_seq=0&limit=50", nullptr},
      {"POST", "/messages", {{"client_msg_id", "x"}, {"body", "let me in"}}},
      {"PATCH", "/messages/2", {{"body", "edited by carol"}}},
      {"DELETE", "/messages/2", nullptr},
      {"POST", "/messages/2/reactions", {{"emoji", "👀"}}},
      {"POST", "/members", {{"user_id", carol_.id()}}},
      {"DELETE", "/members/" + bob_.id(), nullptr},
      {"PUT", "/members/" + carol_.id(), {{"role", "owner"}}},
      {"POST", "/read", {{"seq", 2}}},
  };
  for (const Call& call : calls) {
    SCOPED_TRACE(call.method + " " + call.suffix);
    const std::string body = call.body.is_null() ? "" : json::serialize(call.body);
    const std::string& token = carol.tokens().access_token;
    const HttpResponse real =
        carol.http().Send(call.method, ConvPath(conv) + call.suffix, body, token);
    const HttpResponse fake =
        carol.http().Send(call.method, ConvPath(nowhere) + call.suffix, body, token);
    EXPECT_THAT(real, IsHttpError(404, "not_found"));
    EXPECT_EQ(real.body, fake.body);
  }

  const std::vector<json::object> requests = {
      {{"type", "history"}, {"after_seq", 0}, {"limit", 50}},
      {{"type", "send"}, {"client_msg_id", "y"}, {"body", "let me in"}},
      {{"type", "edit"}, {"seq", 2}, {"body", "edited by carol"}},
      {{"type", "delete"}, {"seq", 2}},
      {{"type", "react"}, {"seq", 2}, {"emoji", "👀"}},
      {{"type", "read"}, {"seq", 2}},
      {{"type", "delivered"}, {"seq", 2}},
      {{"type", "typing"}},
  };
  for (json::object request : requests) {
    SCOPED_TRACE(json::serialize(request));
    json::object fake = request;
    request["conv"] = conv;
    fake["conv"] = nowhere;
    const WsFrame real_reply = carol.Request(request);
    const WsFrame fake_reply = carol.Request(fake);
    EXPECT_THAT(real_reply, IsWsError("not_found"));
    EXPECT_EQ(real_reply.json.at("error"), fake_reply.json.at("error"));
  }

  const HttpResponse search = carol.Get("/v1/search?q=swordfish");
  ASSERT_THAT(search, HasStatus(200));
  EXPECT_THAT(search.json.at("results").as_array(), IsEmpty());
  EXPECT_TRUE(Listed(carol, conv).is_null());
  EXPECT_THAT(carol.DrainEvents(), IsEmpty());
  // Nothing carol tried left a trace.
  const std::vector<json::object> log = alice.FetchLog(conv);
  EXPECT_EQ(Seqs(log), Range(1, 2));
  EXPECT_THAT(log[1], EntryHas({{"body", "the password is swordfish"}}));
  EXPECT_THAT(MemberIds(Listed(alice, conv)), UnorderedElementsAre(alice_.id(), bob_.id()));
}

TEST_F(MessagingE2eTest, AnAddedMemberHearsOnEveryDeviceAndARemovedOneHearsNothingMore) {
  ChatClient alice = Device(alice_);
  ChatClient bob = Device(bob_);
  ChatClient carol_phone = Device(carol_, "phone");
  ChatClient carol_laptop = Device(carol_, "laptop");
  const std::string conv = alice.CreateGroup("book club", {bob_.id()});
  ExpectToHearCreated(alice, conv);
  ExpectToHearCreated(bob, conv);
  ASSERT_THAT(alice.SendMessage(conv, "b1", "before carol"), IsAck());

  const HttpResponse added = alice.Post(ConvPath(conv) + "/members", {{"user_id", carol_.id()}});

  ASSERT_THAT(added, HasStatus(200));
  EXPECT_THAT(MemberIds(added.json.at("conversation")), Contains(carol_.id()));
  const json::object added_entry{{"conv", conv},        {"seq", 3},
                                 {"kind", "member"},    {"action", "added"},
                                 {"user", carol_.id()}, {"sender", alice_.id()}};
  for (ChatClient* device : {&carol_phone, &carol_laptop}) {
    const std::vector<WsFrame> events = device->DrainEvents();
    EXPECT_THAT(events, ElementsAre(IsEvent("message", added_entry), IsConversationEvent(conv)));
    if (events.size() == 2) {
      EXPECT_THAT(MemberIds(events[1].json.at("conversation")),
                  UnorderedElementsAre(alice_.id(), bob_.id(), carol_.id()));
    }
  }
  EXPECT_THAT(bob.DrainEvents(),
              ElementsAre(IsEvent("message", {{"seq", 2}}), IsEvent("message", added_entry),
                          IsConversationEvent(conv)));
  ASSERT_THAT(alice.SendMessage(conv, "b2", "welcome carol"), IsFrameWith("ack", {{"seq", 4}}));
  for (ChatClient* device : {&carol_phone, &carol_laptop}) {
    EXPECT_THAT(device->DrainEvents(),
                ElementsAre(IsEvent("message", {{"seq", 4}, {"body", "welcome carol"}})));
  }

  EXPECT_THAT(alice.Delete(ConvPath(conv) + "/members/" + carol_.id()), HasStatus(204));
  const json::object removed_entry{
      {"seq", 5}, {"kind", "member"}, {"action", "removed"}, {"user", carol_.id()}};
  for (ChatClient* device : {&carol_phone, &carol_laptop}) {
    const std::vector<WsFrame> events = device->DrainEvents();
    // The removed member hears of it, and of the group without her; then nothing more.
    EXPECT_THAT(events, ElementsAre(IsEvent("message", removed_entry), IsConversationEvent(conv)));
    if (events.size() == 2) {
      EXPECT_THAT(MemberIds(events[1].json.at("conversation")), Not(Contains(carol_.id())));
    }
  }
  ASSERT_THAT(alice.SendMessage(conv, "b3", "after carol"), IsFrameWith("ack", {{"seq", 6}}));
  ASSERT_THAT(alice.Edit(conv, 4, "welcome, and goodbye"), IsFrameWith("ack", {{"seq", 7}}));

  EXPECT_THAT(carol_phone.DrainEvents(), IsEmpty());
  EXPECT_THAT(carol_laptop.DrainEvents(), IsEmpty());
  EXPECT_THAT(bob.DrainEvents(),
              ElementsAre(IsEvent("message", {{"seq", 4}}), IsEvent("message", removed_entry),
                          IsConversationEvent(conv), IsEvent("message", {{"seq", 6}}),
                          IsEvent("message", {{"seq", 7}})));
  EXPECT_THAT(carol_phone.History(conv, {{"after_seq", 0}, {"limit", 50}}), IsWsError("not_found"));
  EXPECT_THAT(carol_phone.Get(ConvPath(conv)), IsHttpError(404, "not_found"));
  EXPECT_TRUE(Listed(carol_phone, conv).is_null());
}

TEST_F(MessagingE2eTest, OnlyOwnersAndAdminsManageMembersAndTheTitle) {
  ChatClient alice = Device(alice_);
  ChatClient bob = Device(bob_);
  const std::string conv = alice.CreateGroup("club", {bob_.id()});
  ExpectToHearCreated(bob, conv);

  EXPECT_THAT(bob.Post(ConvPath(conv) + "/members", {{"user_id", carol_.id()}}),
              IsHttpError(403, "forbidden"));
  EXPECT_THAT(bob.Patch(ConvPath(conv), {{"title", "bob's club"}}), IsHttpError(403, "forbidden"));
  EXPECT_THAT(bob.Put(ConvPath(conv) + "/members/" + bob_.id(), {{"role", "owner"}}),
              IsHttpError(403, "forbidden"));

  const HttpResponse promoted =
      alice.Put(ConvPath(conv) + "/members/" + bob_.id(), {{"role", "admin"}});
  ASSERT_THAT(promoted, HasStatus(200));
  EXPECT_EQ(promoted.json.at("conversation").at("roles").at(bob_.id()), "admin");
  EXPECT_THAT(bob.Post(ConvPath(conv) + "/members", {{"user_id", carol_.id()}}), HasStatus(200));
  const HttpResponse renamed = bob.Patch(ConvPath(conv), {{"title", "the club"}});
  ASSERT_THAT(renamed, HasStatus(200));
  EXPECT_EQ(renamed.json.at("conversation").at("title"), "the club");

  EXPECT_THAT(
      bob.DrainEvents(),
      ElementsAre(IsEvent("message", {{"seq", 2}, {"action", "role"}, {"role", "admin"}}),
                  IsConversationEvent(conv), IsEvent("message", {{"seq", 3}, {"action", "added"}}),
                  IsConversationEvent(conv),
                  IsEvent("message", {{"seq", 4}, {"kind", "rename"}, {"title", "the club"}}),
                  IsConversationEvent(conv)));
  EXPECT_THAT(Listed(alice, conv), EntryHas({{"title", "the club"}, {"last_seq", 4}}));
}

TEST_F(MessagingE2eTest, WhenTheLastOwnerLeavesTheLongestStandingMemberOwnsTheGroup) {
  ChatClient alice = Device(alice_);
  ChatClient bob = Device(bob_);
  const std::string conv = alice.CreateGroup("handover", {bob_.id(), carol_.id()});
  ExpectToHearCreated(bob, conv);
  const std::string direct = alice.CreateDirect(bob_.id());

  EXPECT_THAT(alice.Delete(ConvPath(conv) + "/members/" + alice_.id()), HasStatus(204));

  EXPECT_THAT(
      bob.DrainEvents(),
      ElementsAre(IsConversationEvent(direct), IsEvent("message", {{"conv", direct}}),
                  IsEvent("message",
                          {{"conv", conv}, {"seq", 2}, {"action", "left"}, {"user", alice_.id()}}),
                  IsEvent("message", {{"conv", conv},
                                      {"seq", 3},
                                      {"action", "role"},
                                      {"user", bob_.id()},
                                      {"role", "owner"}}),
                  IsConversationEvent(conv)));
  const json::value listed = Listed(bob, conv);
  EXPECT_THAT(MemberIds(listed), UnorderedElementsAre(bob_.id(), carol_.id()));
  EXPECT_EQ(listed.at("roles").at(bob_.id()), "owner");
  EXPECT_THAT(alice.Get(ConvPath(conv)), IsHttpError(404, "not_found"));
  EXPECT_THAT(alice.Delete(ConvPath(direct) + "/members/" + alice_.id()),
              IsHttpError(403, "forbidden"));
}

// ---- Receipts and unread counts ----

TEST_F(MessagingE2eTest, ReadReceiptsMoveOnlyForwardAndUnreadCountsFollow) {
  ChatClient alice = Device(alice_);
  ChatClient bob = Device(bob_);
  const std::string conv = alice.CreateDirect(bob_.id());
  ExpectToHearCreated(alice, conv);
  ExpectToHearCreated(bob, conv);
  for (const char* body : {"one", "two", "three"})
    ASSERT_THAT(alice.SendMessage(conv, body, body), IsAck());
  ASSERT_THAT(bob.DrainEvents(), SizeIs(3));

  EXPECT_THAT(Listed(bob, conv), EntryHas({{"last_seq", 4}, {"read_seq", 1}, {"unread", 3}}));
  EXPECT_THAT(Listed(bob, conv).at("last_message"), EntryHas({{"seq", 4}, {"body", "three"}}));
  EXPECT_THAT(Listed(alice, conv), EntryHas({{"read_seq", 4}, {"unread", 0}}));

  EXPECT_THAT(bob.Read(conv, 3), IsFrameWith("ok", {{"read_seq", 3}}));
  EXPECT_THAT(
      alice.DrainEvents(),
      ElementsAre(IsEvent("receipt", {{"conv", conv}, {"user", bob_.id()}, {"read_seq", 3}})));
  EXPECT_THAT(Listed(bob, conv), EntryHas({{"read_seq", 3}, {"unread", 1}}));

  // Never back: an older read changes nothing and tells nobody.
  EXPECT_THAT(bob.Read(conv, 2), IsFrameWith("ok", {{"read_seq", 3}}));
  EXPECT_THAT(alice.DrainEvents(), IsEmpty());
  EXPECT_THAT(Listed(bob, conv), EntryHas({{"read_seq", 3}, {"unread", 1}}));
  // Past the end reads up to the end.
  EXPECT_THAT(bob.Read(conv, 1000), IsFrameWith("ok", {{"read_seq", 4}}));
  EXPECT_THAT(alice.DrainEvents(),
              ElementsAre(IsEvent("receipt", {{"user", bob_.id()}, {"read_seq", 4}})));
  EXPECT_THAT(Listed(bob, conv), EntryHas({{"read_seq", 4}, {"unread", 0}}));

  // Sending moves the sender's own read_seq; the other side has one unread.
  ASSERT_THAT(bob.SendMessage(conv, "re", "got them"), IsFrameWith("ack", {{"seq", 5}}));
  EXPECT_THAT(Listed(bob, conv), EntryHas({{"read_seq", 5}, {"unread", 0}}));
  EXPECT_THAT(Listed(alice, conv), EntryHas({{"read_seq", 4}, {"unread", 1}}));

  const HttpResponse read = alice.Post(ConvPath(conv) + "/read", {{"seq", 5}});
  EXPECT_THAT(read, HasStatus(200));
  EXPECT_THAT(read.json, EntryHas({{"read_seq", 5}}));
  EXPECT_THAT(alice.DrainEvents(),
              ElementsAre(IsEvent("message", {{"seq", 5}, {"body", "got them"}}),
                          IsEvent("receipt", {{"user", alice_.id()}, {"read_seq", 5}})));
  EXPECT_THAT(bob.DrainEvents(),
              Contains(IsEvent("receipt", {{"user", alice_.id()}, {"read_seq", 5}})));
  const json::value receipts = Listed(bob, conv).at("receipts");
  EXPECT_THAT(receipts.at(alice_.id()), EntryHas({{"read_seq", 5}}));
  EXPECT_THAT(receipts.at(bob_.id()), EntryHas({{"read_seq", 5}}));

  // Delivery ticks in a direct conversation; a deleted message is not unread.
  ASSERT_THAT(alice.SendMessage(conv, "six", "six"), IsFrameWith("ack", {{"seq", 6}}));
  EXPECT_THAT(Listed(bob, conv), EntryHas({{"unread", 1}}));
  EXPECT_THAT(bob.Delivered(conv, 6), IsFrameWith("ok", {{"delivered_seq", 6}}));
  EXPECT_THAT(alice.DrainEvents(),
              ElementsAre(IsEvent("receipt",
                                  {{"user", bob_.id()}, {"read_seq", 5}, {"delivered_seq", 6}})));
  ASSERT_THAT(alice.Delete(conv, 6), IsAck());
  EXPECT_THAT(Listed(bob, conv), EntryHas({{"read_seq", 5}, {"unread", 0}}));
}

// ---- Edits, deletes, reactions and replies ----

TEST_F(MessagingE2eTest, EditsDeletesReactionsAndRepliesReachEveryoneAndShapeHistory) {
  ChatClient phone = Device(alice_, "phone");
  ChatClient laptop = Device(alice_, "laptop");
  ChatClient bob = Device(bob_);
  const std::string conv = phone.CreateGroup("edits", {bob_.id()});
  for (ChatClient* client : {&phone, &laptop, &bob}) ExpectToHearCreated(*client, conv);

  ASSERT_THAT(phone.SendMessage(conv, "a-1", "orignal"), IsFrameWith("ack", {{"seq", 2}}));
  ASSERT_THAT(bob.SendMessage(conv, "b-1", "a typo!", 2), IsFrameWith("ack", {{"seq", 3}}));
  ASSERT_THAT(phone.Edit(conv, 2, "original"), IsFrameWith("ack", {{"seq", 4}}));
  ASSERT_THAT(bob.React(conv, 2, "👍"), IsFrameWith("ack", {{"seq", 5}, {"added", true}}));
  ASSERT_THAT(phone.React(conv, 2, "👍"), IsFrameWith("ack", {{"seq", 6}}));
  ASSERT_THAT(phone.React(conv, 3, "❤️"), IsFrameWith("ack", {{"seq", 7}}));
  ASSERT_THAT(bob.React(conv, 2, "👍"),
              IsFrameWith("ack", {{"seq", 8}, {"added", false}}));       // takes it back
  ASSERT_THAT(phone.Delete(conv, 3), IsFrameWith("ack", {{"seq", 9}}));  // the owner moderates

  // What may not be done is refused, and stores nothing.
  EXPECT_THAT(bob.Edit(conv, 2, "hijacked"), IsWsError("forbidden"));
  EXPECT_THAT(bob.Delete(conv, 2), IsWsError("forbidden"));
  EXPECT_THAT(phone.Edit(conv, 1, "not a message"), IsWsError("invalid_request"));
  EXPECT_THAT(phone.Edit(conv, 99, "nothing there"), IsWsError("not_found"));
  EXPECT_THAT(phone.Delete(conv, 3), IsWsError("conflict"));
  EXPECT_THAT(bob.React(conv, 3, "👀"), IsWsError("conflict"));
  EXPECT_THAT(bob.SendMessage(conv, "b-2", "reply to nothing", 99), IsWsError("not_found"));

  const json::object e2{
      {"seq", 2}, {"kind", "message"}, {"sender", alice_.id()}, {"body", "orignal"}};
  const json::object e3{
      {"seq", 3}, {"kind", "message"}, {"sender", bob_.id()}, {"body", "a typo!"}, {"reply_to", 2}};
  const json::object e4{{"seq", 4}, {"kind", "edit"}, {"target_seq", 2}, {"body", "original"}};
  const json::object e5{{"seq", 5},        {"kind", "reaction"}, {"sender", bob_.id()},
                        {"target_seq", 2}, {"emoji", "👍"},       {"added", true}};
  const json::object e6{{"seq", 6},
                        {"kind", "reaction"},
                        {"sender", alice_.id()},
                        {"target_seq", 2},
                        {"added", true}};
  const json::object e7{{"seq", 7}, {"kind", "reaction"}, {"target_seq", 3}, {"emoji", "❤️"}};
  const json::object e8{
      {"seq", 8}, {"kind", "reaction"}, {"sender", bob_.id()}, {"target_seq", 2}, {"added", false}};
  const json::object e9{{"seq", 9}, {"kind", "delete"}, {"sender", alice_.id()}, {"target_seq", 3}};
  EXPECT_THAT(bob.DrainEvents(),
              ElementsAre(IsEvent("message", e2), IsEvent("message", e4), IsEvent("message", e6),
                          IsEvent("message", e7), IsEvent("message", e9)));
  EXPECT_THAT(laptop.DrainEvents(),
              ElementsAre(IsEvent("message", e2), IsEvent("message", e3), IsEvent("message", e4),
                          IsEvent("message", e5), IsEvent("message", e6), IsEvent("message", e7),
                          IsEvent("message", e8), IsEvent("message", e9)));
  EXPECT_THAT(phone.DrainEvents(),
              ElementsAre(IsEvent("message", e3), IsEvent("message", e5), IsEvent("message", e8)));

  const std::vector<json::object> log = bob.FetchLog(conv);
  ASSERT_EQ(Seqs(log), Range(1, 9));
  EXPECT_THAT(log[1], EntryHas({{"seq", 2}, {"body", "original"}}));
  EXPECT_GT(IntField(log[1], "edited_ts"), 0);
  EXPECT_EQ(log[1].at("reactions"), json::value(json::object{{"👍", json::array{alice_.id()}}}));
  EXPECT_THAT(log[2], EntryHas({{"seq", 3}, {"deleted", true}, {"reply_to", 2}}));
  EXPECT_THAT(log[2], HasNoBody());
  EXPECT_THAT(log[3], EntryHas(e4));
  EXPECT_THAT(log[8], EntryHas(e9));
}

TEST_F(MessagingE2eTest, EditsDeletesAndReactionsOverHttpAreLogEntriesToo) {
  ChatClient alice = Device(alice_);
  ChatClient bob = Device(bob_);
  const std::string conv = alice.CreateDirect(bob_.id());
  ExpectToHearCreated(bob, conv);

  const HttpResponse sent =
      alice.Post(ConvPath(conv) + "/messages", {{"client_msg_id", "h-1"}, {"body", "over http"}});
  const HttpResponse reply = bob.Post(
      ConvPath(conv) + "/messages", {{"client_msg_id", "h-2"}, {"body", "back"}, {"reply_to", 2}});
  const HttpResponse edited = alice.Patch(ConvPath(conv) + "/messages/2", {{"body", "over HTTP"}});
  const HttpResponse reacted =
      bob.Post(ConvPath(conv) + "/messages/2/reactions", {{"emoji", "🙂"}});
  const HttpResponse deleted = bob.Delete(ConvPath(conv) + "/messages/3");

  ASSERT_THAT(sent, HasStatus(201));
  EXPECT_THAT(sent.json.at("message"),
              EntryHas({{"seq", 2}, {"kind", "message"}, {"body", "over http"}}));
  ASSERT_THAT(reply, HasStatus(201));
  EXPECT_THAT(reply.json.at("message"), EntryHas({{"seq", 3}, {"reply_to", 2}}));
  ASSERT_THAT(edited, HasStatus(200));
  ASSERT_THAT(reacted, HasStatus(200));
  ASSERT_THAT(deleted, HasStatus(200));
  EXPECT_THAT(bob.Delete(ConvPath(conv) + "/messages/2"), IsHttpError(403, "forbidden"));
  EXPECT_THAT(bob.Delete(ConvPath(conv) + "/messages/abc"), IsHttpError(400, "invalid_request"));
  // Over HTTP nobody sent the request from a socket: every device hears of every change.
  EXPECT_THAT(bob.DrainEvents(),
              ElementsAre(IsEvent("message", {{"seq", 2}}), IsEvent("message", {{"seq", 3}}),
                          IsEvent("message", {{"seq", 4}, {"kind", "edit"}}),
                          IsEvent("message", {{"seq", 5}, {"kind", "reaction"}}),
                          IsEvent("message", {{"seq", 6}, {"kind", "delete"}})));
  const std::vector<json::object> log = alice.FetchLog(conv);
  ASSERT_EQ(Seqs(log), Range(1, 6));
  EXPECT_THAT(log[1], EntryHas({{"body", "over HTTP"}}));
  EXPECT_THAT(log[1].at("reactions"), EntryHas({{"🙂", json::array{bob_.id()}}}));
  EXPECT_THAT(log[2], AllOf(EntryHas({{"deleted", true}}), HasNoBody()));
}

// ---- Search ----

// Every page of GET /v1/search?q=query, following next_before; the bodies, in order.
std::vector<std::string> SearchAll(const ChatClient& client, const std::string& query, int limit) {
  std::vector<std::string> bodies;
  std::string before;
  for (int page = 0; page < 100; ++page) {
    const HttpResponse response =
        client.Get("/v1/search?q=" + query + "&limit=" + std::to_string(limit) + before);
    EXPECT_THAT(response, HasStatus(200));
    if (response.status != 200) break;
    const json::array& results = response.json.at("results").as_array();
    EXPECT_LE(results.size(), static_cast<size_t>(limit));
    if (results.empty()) break;
    for (const json::value& hit : results)
      bodies.emplace_back(hit.at("message").at("body").as_string());
    const json::value* next = response.json.as_object().if_contains("next_before");
    if (next == nullptr) break;
    before = "&before=" + std::to_string(next->as_int64());
  }
  return bodies;
}

TEST_F(MessagingE2eTest, SearchFindsWordPrefixesNewestFirstPageByPageAndForgetsDeletes) {
  ChatClient alice = Device(alice_);
  ChatClient carol = Device(carol_);
  const std::string conv = alice.CreateGroup("words", {bob_.id()});
  const std::string carols = carol.CreateDirect(alice_.id());
  for (const char* body :
       {"The quick brown fox", "a slow turtle", "quickly, before it rains",
        "QUICKSILVER is a metal", "nothing quick here", "quicker than you think"}) {
    ASSERT_THAT(alice.SendMessage(conv, body, body), IsAck());  // seqs 2..7
  }
  ASSERT_THAT(carol.SendMessage(carols, "c", "carol is quick too"), IsAck());

  EXPECT_THAT(
      SearchAll(alice, "quick", 2),
      ElementsAre("carol is quick too", "quicker than you think", "nothing quick here",
                  "QUICKSILVER is a metal", "quickly, before it rains", "The quick brown fox"));
  EXPECT_THAT(SearchAll(alice, "quick%20brown", 10), ElementsAre("The quick brown fox"));
  EXPECT_THAT(SearchAll(alice, "uick", 10), IsEmpty());
  EXPECT_THAT(SearchAll(alice, "turtle", 10), ElementsAre("a slow turtle"));
  // Only what the searcher may read.
  EXPECT_THAT(SearchAll(carol, "quick", 10), ElementsAre("carol is quick too"));

  const HttpResponse hit = alice.Get("/v1/search?q=turtle");
  ASSERT_THAT(hit, HasStatus(200));
  EXPECT_THAT(hit.json.at("results").at(0).at("message"),
              EntryHas({{"conv", conv}, {"seq", 3}, {"sender", alice_.id()}}));
  EXPECT_TRUE(hit.json.at("results").at(0).at("cursor").is_int64());

  ASSERT_THAT(alice.Delete(conv, 6), IsAck());                          // "nothing quick here"
  ASSERT_THAT(alice.Edit(conv, 4, "slowly, after it rains"), IsAck());  // was "quickly, ..."
  EXPECT_THAT(SearchAll(alice, "quick", 50),
              ElementsAre("carol is quick too", "quicker than you think", "QUICKSILVER is a metal",
                          "The quick brown fox"));
  EXPECT_THAT(SearchAll(alice, "slowly", 50), ElementsAre("slowly, after it rains"));
  EXPECT_THAT(SearchAll(alice, "nothing", 50), IsEmpty());

  EXPECT_THAT(alice.Get("/v1/search?q="), IsHttpError(400, "invalid_request"));
  EXPECT_THAT(alice.Get("/v1/search?q=quick&limit=0"), IsHttpError(400, "invalid_request"));
  EXPECT_THAT(alice.Get("/v1/search?q=quick&limit=500"), IsHttpError(400, "invalid_request"));
}

// ---- Typing ----

TEST_F(MessagingE2eTest, TypingReachesTheOtherMembersOnlyAndIsNotStored) {
  ChatClient phone = Device(alice_, "phone");
  ChatClient laptop = Device(alice_, "laptop");
  ChatClient bob = Device(bob_);
  ChatClient carol = Device(carol_);
  const std::string conv = phone.CreateDirect(bob_.id());
  for (ChatClient* client : {&phone, &laptop, &bob}) ExpectToHearCreated(*client, conv);

  EXPECT_THAT(phone.Typing(conv), IsFrame("ok"));
  phone.ws().Send({{"type", "typing"}, {"conv", conv}});  // no id: no reply

  // Drained first: its barrier follows the id-less typing through the server.
  EXPECT_THAT(phone.DrainEvents(), IsEmpty());
  EXPECT_THAT(bob.DrainEvents(),
              ElementsAre(IsEvent("typing", {{"conv", conv}, {"user", alice_.id()}}),
                          IsEvent("typing", {{"conv", conv}, {"user", alice_.id()}})));
  EXPECT_THAT(laptop.DrainEvents(), IsEmpty());
  EXPECT_THAT(carol.Typing(conv), IsWsError("not_found"));
  EXPECT_THAT(bob.DrainEvents(), IsEmpty());
  EXPECT_THAT(phone.FetchLog(conv), SizeIs(1));
}

// ---- Bad input ----

TEST_F(MessagingE2eTest, BadRequestsAreRefusedAndTheServerKeepsServing) {
  ChatClient alice = Device(alice_);
  const std::string conv = alice.CreateDirect(bob_.id());
  ExpectToHearCreated(alice, conv);
  ASSERT_THAT(alice.SendMessage(conv, "ok-1", "fine"), IsFrameWith("ack", {{"seq", 2}}));
  const std::string at_limit(16 * 1024, 'x');
  const std::string over_limit(16 * 1024 + 1, 'x');

  const std::vector<std::pair<json::object, std::string>> cases = {
      {{{"type", "send"}, {"conv", 123}, {"client_msg_id", "a"}, {"body", "hi"}},
       "invalid_request"},
      {{{"type", "send"}, {"conv", conv}, {"client_msg_id", 5}, {"body", "hi"}}, "invalid_request"},
      {{{"type", "send"}, {"conv", conv}, {"client_msg_id", "b"}, {"body", 42}}, "invalid_request"},
      {{{"type", "send"}, {"conv", conv}, {"client_msg_id", "c"}}, "invalid_request"},
      {{{"type", "send"}, {"conv", conv}, {"client_msg_id", "d"}, {"body", ""}}, "invalid_request"},
      {{{"type", "send"}, {"conv", conv}, {"client_msg_id", "e"}, {"body", over_limit}},
       "payload_too_large"},
      {{{"type", "send"}, {"conv", conv}, {"client_msg_id", std::string(129, 'k')}, {"body", "hi"}},
       "invalid_request"},
      {{{"type", "send"},
        {"conv", conv},
        {"client_msg_id", "f"},
        {"body", "hi"},
        {"reply_to", "2"}},
       "invalid_request"},
      {{{"type", "send"}, {"conv", conv}, {"client_msg_id", "g"}, {"body", "hi"}, {"reply_to", 1}},
       "invalid_request"},
      {{{"type", "send"}, {"conv", "c_nowhere"}, {"client_msg_id", "h"}, {"body", "hi"}},
       "not_found"},
      {{{"type", "edit"}, {"conv", conv}, {"seq", "2"}, {"body", "x"}}, "invalid_request"},
      {{{"type", "edit"}, {"conv", conv}, {"seq", 2.5}, {"body", "x"}}, "invalid_request"},
      {{{"type", "edit"}, {"conv", conv}, {"seq", 2}, {"body", ""}}, "invalid_request"},
      {{{"type", "edit"}, {"conv", conv}, {"seq", 2}, {"body", over_limit}}, "payload_too_large"},
      {{{"type", "delete"}, {"conv", conv}}, "invalid_request"},
      {{{"type", "react"}, {"conv", conv}, {"seq", 2}, {"emoji", ""}}, "invalid_request"},
      {{{"type", "react"}, {"conv", conv}, {"seq", 2}, {"emoji", "a b"}}, "invalid_request"},
      {{{"type", "react"}, {"conv", conv}, {"seq", 2}, {"emoji", std::string(33, 'e')}},
       "invalid_request"},
      {{{"type", "read"}, {"conv", conv}, {"seq", "2"}}, "invalid_request"},
      {{{"type", "history"}, {"conv", conv}, {"after_seq", 0}, {"before_seq", 5}, {"limit", 10}},
       "invalid_request"},
      {{{"type", "history"}, {"conv", conv}, {"after_seq", 0}, {"limit", 0}}, "invalid_request"},
      {{{"type", "history"}, {"conv", conv}, {"after_seq", 0}, {"limit", 500}}, "invalid_request"},
      {{{"type", "history"}, {"conv", conv}, {"after_seq", 0}, {"limit", 4294967297}},
       "invalid_request"},
      {{{"type", "history"}, {"conv", conv}, {"after_seq", -1}, {"limit", 10}}, "invalid_request"},
      {{{"type", "history"}, {"conv", conv}, {"after_seq", "0"}, {"limit", 10}}, "invalid_request"},
      {{{"type", "history"}, {"conv", 7}, {"after_seq", 0}, {"limit", 10}}, "invalid_request"},
      {{{"type", "typing"}, {"conv", json::array{}}}, "invalid_request"},
  };
  for (const auto& [request, code] : cases) {
    SCOPED_TRACE(json::serialize(request).substr(0, 200));
    EXPECT_THAT(alice.Request(request), IsWsError(code));
  }
  EXPECT_THAT(alice.SendMessage(conv, "ok-2", at_limit), IsFrameWith("ack", {{"seq", 3}}));
  EXPECT_THAT(alice.History(conv, {{"after_seq", 0}, {"limit", 200}}), IsFrame("history"));

  // A lone surrogate escape is no text: the frame is not JSON a client may send.
  alice.ws().SendText(R"({"type":"send","id":"u","conv":")" + conv +
                      R"(","client_msg_id":"u","body":"bad \udc00 text"})");
  EXPECT_THAT(alice.Next(), IsWsError("invalid_request"));

  // Over HTTP the same rules hold, and there is no WebSocket UTF-8 check in front of them.
  const std::string path = ConvPath(conv) + "/messages";
  const std::string& token = alice.tokens().access_token;
  EXPECT_THAT(
      alice.http().Send("POST", path, "{\"client_msg_id\":\"v\",\"body\":\"bad \xff\xfe\"}", token),
      IsHttpError(400, "invalid_request"));
  EXPECT_THAT(alice.Post(path, {{"client_msg_id", "w"}, {"body", over_limit}}),
              IsHttpError(413, "payload_too_large"));
  EXPECT_THAT(alice.Post(path, {{"client_msg_id", "w"}, {"body", ""}}),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(alice.Post(path, {{"client_msg_id", "w"}, {"body", "hi"}, {"sneaky", true}}),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(alice.Get(path + "?after_seq=1&before_seq=3"), IsHttpError(400, "invalid_request"));
  EXPECT_THAT(alice.Get(path + "?limit=0"), IsHttpError(400, "invalid_request"));
  EXPECT_THAT(alice.Get(path + "?limit=500"), IsHttpError(400, "invalid_request"));
  EXPECT_THAT(alice.Get(path + "?limit=ten"), IsHttpError(400, "invalid_request"));
  EXPECT_THAT(alice.Post(ConvPath(conv) + "/read", {{"seq", "2"}}),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(alice.Post(ConvPath(conv) + "/members", {{"user_id", 12}}),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(alice.Post("/v1/conversations", {{"type", "channel"}, {"members", json::array{}}}),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(HttpClient(server_.Port()).Get(path), IsHttpError(401, "unauthorized"));

  // Nothing of that was stored, and everyone is still served.
  EXPECT_EQ(Seqs(alice.FetchLog(conv)), Range(1, 3));
  EXPECT_THAT(alice.ws().Ping("still"), IsReply("pong", "still"));
  EXPECT_THAT(alice.SendMessage(conv, "ok-3", "still here"), IsFrameWith("ack", {{"seq", 4}}));
}

// ---- Rate limits ----

TEST(MessagingRateLimitE2eTest, SendsPastTheBurstAreRateLimitedWithRetryAfter) {
  // One token a minute after a burst of three: the fourth send cannot have earned one.
  ParleydProcess server(UnlimitedChatArgs({"--rate-send-per-min", "1", "--rate-send-burst", "3"}));
  TestUser alice_user(server.Port(), "alice");
  TestUser bob_user(server.Port(), "bob");
  ASSERT_THAT(alice_user.Register(), HasStatus(201));
  ASSERT_THAT(bob_user.Register(), HasStatus(201));
  ChatClient alice(server.Port(), alice_user);
  const std::string conv = alice.CreateDirect(bob_user.id());

  std::vector<json::value> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(alice.Start({{"type", "send"},
                               {"conv", conv},
                               {"client_msg_id", "quick-" + std::to_string(i)},
                               {"body", "quick " + std::to_string(i)}}));
  }

  for (int i = 0; i < 3; ++i) EXPECT_THAT(alice.Await(ids[i]), IsAck());
  const WsFrame limited = alice.Await(ids[3]);
  ASSERT_THAT(limited, IsWsErrorFor(ids[3], "rate_limited"));
  const json::value& retry_after = limited.json.at("error").at("retry_after_ms");
  ASSERT_TRUE(retry_after.is_int64()) << ::testing::PrintToString(limited);
  EXPECT_GT(retry_after.as_int64(), 0);
  EXPECT_LE(retry_after.as_int64(), 60'000);
  // The limit is the user's, whatever the way in.
  const HttpResponse over_http = alice.Post("/v1/conversations/" + conv + "/messages",
                                            {{"client_msg_id", "http"}, {"body", "via http"}});
  EXPECT_THAT(over_http, IsHttpError(429, "rate_limited"));
  EXPECT_THAT(alice.ws().Ping(1), IsReply("pong", 1));
  EXPECT_EQ(alice.FetchLog(conv).size(), 4u);
}

TEST(MessagingRateLimitE2eTest, AFloodOfFramesIsRefusedThenClosedWith4429) {
  ParleydProcess server(
      UnlimitedChatArgs({"--rate-frames-per-min", "60", "--rate-frames-burst", "5"}));
  TestUser alice(server.Port(), "alice");
  ASSERT_THAT(alice.Register(), HasStatus(201));
  WsClient flood = alice.ConnectWs(alice.Login());

  int served = 0;
  int refused = 0;
  WsFrame last;
  for (int i = 0; i < 1000 && last.kind != WsFrame::Kind::kClosed; ++i) {
    flood.Send({{"type", "ping"}, {"id", i}});
    last = flood.Next();
    if (last.Type() == "pong") {
      ++served;
    } else if (last.kind == WsFrame::Kind::kText) {
      ASSERT_THAT(last, IsWsErrorFor(i, "rate_limited"));
      EXPECT_GT(last.json.at("error").at("retry_after_ms").as_int64(), 0);
      ++refused;
    }
  }

  EXPECT_THAT(last, IsClosed(4429));
  EXPECT_GE(served, 5);
  EXPECT_GE(refused, 1);
  // Another connection of the same user is not punished.
  WsClient calm = alice.ConnectWs(alice.Login());
  EXPECT_THAT(calm.Ping("calm"), IsReply("pong", "calm"));
}

}  // namespace
}  // namespace parley::e2e
