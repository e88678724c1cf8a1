// End-to-end: who may put a user into a group (the `group_adds` privacy setting), the
// invitations an add becomes when the setting does not allow it, and the paged conversation
// list and sync that a flood of groups cannot make huge (issue 17 #6).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <iostream>
#include <set>
#include <string>
#include <string_view>
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
using ::testing::IsEmpty;
using ::testing::SizeIs;

TestUser Registered(uint16_t port, std::string name) {
  TestUser user(port, std::move(name));
  const HttpResponse r = user.Register();
  if (r.status != 201) throw std::runtime_error("register failed: " + r.body);
  return user;
}

json::object Group(std::string_view title, const std::vector<std::string>& members) {
  json::array ids;
  for (const auto& m : members) ids.emplace_back(m);
  return {{"type", "group"}, {"title", title}, {"members", std::move(ids)}};
}

bool IsMember(const json::value& conversation, const std::string& user) {
  for (const auto& m : conversation.at("members").as_array()) {
    if (m == json::value(user)) return true;
  }
  return false;
}

// The invitations GET /v1/invitations lists for `client`.
json::array Invitations(const ChatClient& client) {
  const HttpResponse r = client.Get("/v1/invitations");
  if (r.status != 200) throw std::runtime_error("GET /v1/invitations: " + r.body);
  return r.json.at("invitations").as_array();
}

// The next event of `type` on `client`, other frames skipped.
WsFrame NextOf(ChatClient& client, std::string_view type) {
  while (true) {
    WsFrame frame = client.Next();
    if (frame.kind != WsFrame::Kind::kText || frame.Type() == type) return frame;
  }
}

class InvitationsE2eTest : public ::testing::Test {
 protected:
  InvitationsE2eTest()
      : server_(UnlimitedChatArgs()),
        victim_user_(Registered(server_.Port(), "victim")),
        friend_user_(Registered(server_.Port(), "friend")),
        stranger_user_(Registered(server_.Port(), "stranger")),
        victim_(server_.Port(), victim_user_),
        friend_(server_.Port(), friend_user_),
        stranger_(server_.Port(), stranger_user_) {
    // The victim opened a chat with their friend: the friend is a contact.
    victim_.CreateDirect(friend_user_.id());
  }

  void SetGroupAdds(std::string_view value) {
    const HttpResponse r = victim_.Put("/v1/settings/privacy", {{"group_adds", value}});
    ASSERT_THAT(r, HasStatus(200));
    EXPECT_EQ(r.json.at("group_adds"), json::value(value));
  }

  ParleydProcess server_;
  TestUser victim_user_;
  TestUser friend_user_;
  TestUser stranger_user_;
  ChatClient victim_;
  ChatClient friend_;
  ChatClient stranger_;
};

TEST_F(InvitationsE2eTest, TheSettingIsReadAndWrittenAndChecked) {
  const HttpResponse initial = victim_.Get("/v1/settings/privacy");
  ASSERT_THAT(initial, HasStatus(200));
  EXPECT_EQ(initial.json.at("group_adds"), "anyone");  // the server's default_group_adds
  SetGroupAdds("nobody");
  EXPECT_EQ(victim_.Get("/v1/settings/privacy").json.at("group_adds"), "nobody");
  EXPECT_THAT(victim_.Put("/v1/settings/privacy", {{"group_adds", "everyone"}}),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(victim_.Put("/v1/settings/privacy", {{"group_add", "anyone"}}),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(HttpClient(server_.Port()).Get("/v1/settings/privacy"),
              IsHttpError(401, "unauthorized"));
}

TEST_F(InvitationsE2eTest, AnyoneLetsAStrangerAddDirectly) {
  SetGroupAdds("anyone");
  const HttpResponse created =
      stranger_.Post("/v1/conversations", Group("open", {victim_user_.id()}));
  ASSERT_THAT(created, HasStatus(201));
  EXPECT_TRUE(IsMember(created.json.at("conversation"), victim_user_.id()));
  EXPECT_FALSE(created.json.as_object().contains("invited"));
  EXPECT_THAT(Invitations(victim_), IsEmpty());
}

TEST_F(InvitationsE2eTest, ContactsTurnsAStrangersAddIntoAnInvitationAndAcceptJoins) {
  SetGroupAdds("contacts");
  // A friend (they share a conversation) adds directly.
  const HttpResponse by_friend =
      friend_.Post("/v1/conversations", Group("friends", {victim_user_.id()}));
  ASSERT_THAT(by_friend, HasStatus(201));
  EXPECT_TRUE(IsMember(by_friend.json.at("conversation"), victim_user_.id()));

  // A stranger's add, at creation, becomes an invitation, announced to the victim's devices.
  const HttpResponse created =
      stranger_.Post("/v1/conversations", Group("prizes", {victim_user_.id()}));
  ASSERT_THAT(created, HasStatus(201));
  const std::string conv(created.json.at("conversation").at("id").as_string());
  EXPECT_FALSE(IsMember(created.json.at("conversation"), victim_user_.id()));
  EXPECT_EQ(created.json.at("invited"), json::array{json::value(victim_user_.id())});
  const WsFrame event = NextOf(victim_, "invitation");
  ASSERT_THAT(event, IsEvent("invitation"));
  EXPECT_THAT(event.json.at("invitation"),
              EntryHas({{"conv", json::value(conv)},
                        {"title", "prizes"},
                        {"inviter", json::value(stranger_user_.id())}}));
  const std::string id(event.json.at("invitation").at("id").as_string());

  // Not a member: the group is invisible, the stranger cannot see the victim's presence, and
  // nobody else can use the invitation.
  EXPECT_THAT(victim_.Get("/v1/conversations/" + conv), IsHttpError(404, "not_found"));
  EXPECT_THAT(stranger_.Get("/v1/users/" + victim_user_.id() + "/presence"),
              IsHttpError(404, "not_found"));
  ASSERT_THAT(Invitations(victim_), SizeIs(1));
  EXPECT_THAT(friend_.Post("/v1/invitations/" + id + "/accept", json::object{}),
              IsHttpError(404, "not_found"));

  const HttpResponse accepted = victim_.Post("/v1/invitations/" + id + "/accept", json::object{});
  ASSERT_THAT(accepted, HasStatus(200));
  EXPECT_TRUE(IsMember(accepted.json.at("conversation"), victim_user_.id()));
  EXPECT_THAT(victim_.Get("/v1/conversations/" + conv), HasStatus(200));
  EXPECT_THAT(stranger_.Get("/v1/users/" + victim_user_.id() + "/presence"), HasStatus(200));
  EXPECT_THAT(Invitations(victim_), IsEmpty());
  EXPECT_THAT(victim_.Post("/v1/invitations/" + id + "/accept", json::object{}),
              IsHttpError(404, "not_found"));
  // The log records the add, as any other.
  const std::vector<json::object> log = stranger_.FetchLog(conv);
  EXPECT_THAT(log.back(), EntryHas({{"kind", "member"},
                                    {"user", json::value(victim_user_.id())},
                                    {"action", "added"},
                                    {"sender", json::value(stranger_user_.id())}}));
}

TEST_F(InvitationsE2eTest, AStrangersUnansweredDirectChatDoesNotMakeThemAContact) {
  SetGroupAdds("contacts");
  // Anyone may open a direct conversation with anyone: that alone must not open the door.
  const std::string direct = stranger_.CreateDirect(victim_user_.id());
  ASSERT_THAT(stranger_.SendMessage(direct, "s1", "hi, remember me?"), IsAck());
  const HttpResponse first =
      stranger_.Post("/v1/conversations", Group("prizes", {victim_user_.id()}));
  ASSERT_THAT(first, HasStatus(201));
  EXPECT_FALSE(IsMember(first.json.at("conversation"), victim_user_.id()));
  EXPECT_EQ(first.json.at("invited"), json::array{json::value(victim_user_.id())});
  // Once the victim answers, the stranger is a contact.
  ASSERT_THAT(victim_.SendMessage(direct, "v1", "oh hi"), IsAck());
  const HttpResponse second =
      stranger_.Post("/v1/conversations", Group("real party", {victim_user_.id()}));
  ASSERT_THAT(second, HasStatus(201));
  EXPECT_TRUE(IsMember(second.json.at("conversation"), victim_user_.id()));
}

TEST_F(InvitationsE2eTest, NobodyInvitesEvenFriendsAndDeclineRemoves) {
  SetGroupAdds("nobody");
  const std::string conv = friend_.CreateGroup("book club", {});
  const HttpResponse add =
      friend_.Post("/v1/conversations/" + conv + "/members", {{"user_id", victim_user_.id()}});
  ASSERT_THAT(add, HasStatus(202));
  EXPECT_EQ(add.json.at("invited"), json::value(victim_user_.id()));
  EXPECT_FALSE(IsMember(add.json.at("conversation"), victim_user_.id()));
  // Asking twice does not make two.
  EXPECT_THAT(
      friend_.Post("/v1/conversations/" + conv + "/members", {{"user_id", victim_user_.id()}}),
      HasStatus(202));
  const json::array pending = Invitations(victim_);
  ASSERT_THAT(pending, SizeIs(1));
  const std::string id(pending[0].at("id").as_string());

  EXPECT_THAT(stranger_.Delete("/v1/invitations/" + id), IsHttpError(404, "not_found"));
  EXPECT_THAT(victim_.Delete("/v1/invitations/" + id), HasStatus(204));
  EXPECT_THAT(Invitations(victim_), IsEmpty());
  EXPECT_THAT(victim_.Post("/v1/invitations/" + id + "/accept", json::object{}),
              IsHttpError(404, "not_found"));
  EXPECT_THAT(victim_.Get("/v1/conversations/" + conv), IsHttpError(404, "not_found"));
}

TEST(InvitationsBoundE2eTest, PendingInvitationsPerUserAreBounded) {
  ParleydProcess server(
      UnlimitedChatArgs({"--default-group-adds", "nobody", "--max-pending-invitations", "3"}));
  TestUser victim_user = Registered(server.Port(), "victim");
  TestUser spammer_user = Registered(server.Port(), "spammer");
  ChatClient victim(server.Port(), victim_user);
  ChatClient spammer(server.Port(), spammer_user);
  std::vector<std::string> convs;
  for (int i = 0; i < 10; ++i) {
    const HttpResponse r =
        spammer.Post("/v1/conversations", Group("spam " + std::to_string(i), {victim_user.id()}));
    ASSERT_THAT(r, HasStatus(201));
    convs.emplace_back(r.json.at("conversation").at("id").as_string());
  }
  const json::array pending = Invitations(victim);
  std::cout << "10 invitations sent, " << pending.size() << " kept\n";
  ASSERT_THAT(pending, SizeIs(3));
  // The newest stay.
  EXPECT_EQ(pending[2].at("conv"), json::value(convs[9]));
  EXPECT_EQ(pending[0].at("conv"), json::value(convs[7]));
  const HttpResponse list = victim.Get("/v1/conversations");
  EXPECT_THAT(list.json.at("conversations").as_array(), IsEmpty());
}

TEST_F(InvitationsE2eTest, ManyGroupsAreLeftInOneCall) {
  std::vector<std::string> convs;
  json::array ids;
  for (int i = 0; i < 5; ++i) {
    convs.push_back(stranger_.CreateGroup("spam " + std::to_string(i), {victim_user_.id()}));
    ids.emplace_back(convs.back());
  }
  ids.emplace_back("c_nonexistent");
  const HttpResponse r = victim_.Post("/v1/conversations/leave", {{"ids", ids}});
  ASSERT_THAT(r, HasStatus(200));
  EXPECT_THAT(r.json.at("left").as_array(), SizeIs(5));
  ASSERT_THAT(r.json.at("failed").as_array(), SizeIs(1));
  EXPECT_THAT(r.json.at("failed").at(0),
              EntryHas({{"id", "c_nonexistent"}, {"code", "not_found"}}));
  for (const std::string& conv : convs) {
    EXPECT_THAT(victim_.Get("/v1/conversations/" + conv), IsHttpError(404, "not_found"));
  }
  json::array too_many;
  for (int i = 0; i < 501; ++i) too_many.emplace_back("c_" + std::to_string(i));
  EXPECT_THAT(victim_.Post("/v1/conversations/leave", {{"ids", too_many}}),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(victim_.Post("/v1/conversations/leave", {{"ids", json::array{}}}),
              IsHttpError(400, "invalid_request"));
}

// ---------------------------------------------------------------------------------------------
// Paging of the conversation list and sync.

// Every conversation id over GET /v1/conversations page by page, with `between` run after
// each page; fails on a repeat.
std::vector<std::string> ListAll(const ChatClient& client, int limit,
                                 const std::function<void(int page)>& between, int* pages) {
  std::vector<std::string> ids;
  std::set<std::string> seen;
  std::string after;
  *pages = 0;
  while (true) {
    std::string target = "/v1/conversations?members=false&limit=" + std::to_string(limit);
    if (!after.empty()) target += "&after=" + after;
    const HttpResponse r = client.Get(target);
    EXPECT_THAT(r, HasStatus(200));
    if (r.status != 200) return ids;
    ++*pages;
    const json::array& page = r.json.at("conversations").as_array();
    EXPECT_LE(page.size(), static_cast<size_t>(limit));
    for (const auto& c : page) {
      const std::string id(c.at("id").as_string());
      EXPECT_TRUE(seen.insert(id).second) << "repeated: " << id;
      ids.push_back(id);
    }
    if (!r.json.at("has_more").as_bool()) {
      EXPECT_FALSE(r.json.as_object().contains("next_cursor"));
      return ids;
    }
    after = std::string(r.json.at("next_cursor").as_string());
    between(*pages);
  }
}

TEST(ConversationPagingE2eTest, PagesMissNothingAndRepeatNothingWhileGroupsAreCreated) {
  ParleydProcess server(
      UnlimitedChatArgs({"--rate-conversations-burst", "1000", "--conversations-page-size", "10"}));
  TestUser victim_user = Registered(server.Port(), "victim");
  TestUser other_user = Registered(server.Port(), "other");
  ChatClient victim(server.Port(), victim_user);
  ChatClient other(server.Port(), other_user);
  std::set<std::string> expected;
  for (int i = 0; i < 23; ++i) {
    expected.insert(other.CreateGroup("g" + std::to_string(i), {victim_user.id()}));
  }

  // A default page is the configured size, and a larger limit is refused.
  const HttpResponse first = victim.Get("/v1/conversations");
  ASSERT_THAT(first, HasStatus(200));
  EXPECT_THAT(first.json.at("conversations").as_array(), SizeIs(10));
  EXPECT_TRUE(first.json.at("has_more").as_bool());
  EXPECT_THAT(victim.Get("/v1/conversations?limit=11"), IsHttpError(400, "invalid_request"));
  EXPECT_THAT(victim.Get("/v1/conversations?limit=3&after=garbage"),
              IsHttpError(400, "invalid_request"));

  // Between pages: new groups, and activity that moves old ones to the top of the list.
  int created = 0;
  int pages = 0;
  const std::vector<std::string> got = ListAll(
      victim, 4,
      [&](int page) {
        expected.insert(other.CreateGroup("new" + std::to_string(page), {victim_user.id()}));
        ++created;
        ASSERT_THAT(other.SendMessage(*expected.begin(), "m" + std::to_string(page), "bump"),
                    IsAck());
      },
      &pages);
  std::cout << "paged " << got.size() << " conversations in " << pages << " pages, " << created
            << " created between pages\n";
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), expected);
  EXPECT_EQ(got.size(), expected.size());

  // Sync over the WebSocket pages the same way.
  std::set<std::string> synced;
  std::string after;
  for (int i = 0; i < 100; ++i) {
    json::object request{{"type", "sync"}, {"limit", 7}, {"members", false}};
    if (!after.empty()) request["after"] = after;
    const WsFrame reply = victim.Request(request);
    ASSERT_THAT(reply, IsFrameWith("sync"));
    for (const auto& c : reply.json.at("conversations").as_array()) {
      EXPECT_TRUE(synced.insert(std::string(c.at("id").as_string())).second);
    }
    if (!reply.json.at("has_more").as_bool()) break;
    after = std::string(reply.json.at("next_cursor").as_string());
  }
  EXPECT_EQ(synced, expected);
  EXPECT_THAT(victim.Request({{"type", "sync"}, {"limit", 11}}), IsWsError("invalid_request"));
}

}  // namespace
}  // namespace parley::e2e
