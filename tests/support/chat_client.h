#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "support/http_client.h"
#include "support/parleyd_process.h"
#include "support/test_user.h"
#include "support/ws_client.h"

namespace parley::e2e {

/// parleyd flags that lift the per-user send and typing limits and the per-connection frame
/// limit out of reach, for messaging tests that send more than a person would.
std::vector<std::string> UnlimitedChatArgs();

/// UnlimitedChatArgs() with the flags in `overrides` ({flag, value, flag, value, ...})
/// replacing those of the same name, for a test about one of these limits.
std::vector<std::string> UnlimitedChatArgs(const std::vector<std::string>& overrides);

/// One device of one user, signed in: its WebSocket, with requests matched to their replies
/// and everything else kept in order as events, and the HTTP API with the device's token.
///
///   ChatClient alice(server.Port(), alice_user, "phone");
///   const std::string conv = alice.CreateGroup("trip", {bob_user.id()});
///   EXPECT_THAT(alice.SendMessage(conv, "c1", "hi"), IsAck());
///   EXPECT_THAT(bob.Next(), IsEvent("message", {{"seq", 2}, {"body", "hi"}}));
///
/// Requests get the ids 1, 2, 3, ... of this client. While a request waits for its reply,
/// the frames that come first (events, replies to earlier pipelined requests) are queued;
/// Next() hands them out in arrival order before reading the socket again. `presence`
/// events are dropped: they depend on who else is online, which these tests are not about.
///
/// Not thread-safe; one thread uses a client. Movable.
class ChatClient {
 public:
  /// Logs `user` in as a new device named `device` and opens an authenticated WebSocket.
  /// Throws std::runtime_error when the server does not answer as documented.
  ChatClient(uint16_t port, const TestUser& user, std::string_view device = "e2e");

  const std::string& user_id() const { return tokens_.user_id; }
  const Tokens& tokens() const { return tokens_; }
  WsClient& ws() { return ws_; }
  /// For requests the helpers below do not make (raw bodies); pass tokens().access_token.
  const HttpClient& http() const { return http_; }

  // ---- WebSocket requests. Each returns the reply (or error) to the request. ----

  /// Sends `frame` with the next request id added and returns that id without waiting.
  boost::json::value Start(boost::json::object frame);
  /// The reply to request `id`: taken from the queue if it came already (replies need not
  /// come in request order), else read, queueing the frames before it for Next().
  WsFrame Await(const boost::json::value& id, std::chrono::milliseconds timeout = kDefaultTimeout);
  /// Start + Await.
  WsFrame Request(boost::json::object frame);

  WsFrame SendMessage(std::string_view conv, std::string_view client_msg_id, std::string_view body,
                      int64_t reply_to = 0);
  WsFrame Edit(std::string_view conv, int64_t seq, std::string_view body);
  WsFrame Delete(std::string_view conv, int64_t seq);
  WsFrame React(std::string_view conv, int64_t seq, std::string_view emoji);
  /// `range` holds after_seq or before_seq and limit, as the request takes them.
  WsFrame History(std::string_view conv, boost::json::object range);
  WsFrame Sync();
  WsFrame Read(std::string_view conv, int64_t seq);
  WsFrame Delivered(std::string_view conv, int64_t seq);
  WsFrame Typing(std::string_view conv);

  // ---- Events ----

  /// The next frame not yet handed out: queued ones first, then the socket's; kTimeout when
  /// nothing comes in time.
  WsFrame Next(std::chrono::milliseconds timeout = kDefaultTimeout);
  /// Every frame the server sent to this connection for changes committed before this call,
  /// and not yet handed out; the queue is empty afterwards.
  ///
  /// How: a request that goes through the server's chat sequencer (a `read` of a conversation
  /// that does not exist) is answered by the sequencer after it has handed every earlier
  /// change's events to this connection, and a connection writes in order. So once its
  /// reply is read, nothing committed before the call is still on its way (unlike a ping,
  /// whose pong can overtake an event the sequencer is about to fan out).
  std::vector<WsFrame> DrainEvents();

  /// Closes the WebSocket (1000).
  void Disconnect();
  /// A new WebSocket for the same device and token, with an empty queue.
  void Reconnect();

  // ---- HTTP, with this device's access token ----

  HttpResponse Get(std::string_view target) const;
  HttpResponse Post(std::string_view target, const boost::json::value& body) const;
  HttpResponse Patch(std::string_view target, const boost::json::value& body) const;
  HttpResponse Put(std::string_view target, const boost::json::value& body) const;
  HttpResponse Delete(std::string_view target) const;

  /// POST /v1/conversations for a group with this user as owner; returns the conversation
  /// id. Throws unless the answer is 201 with a conversation.
  std::string CreateGroup(std::string_view title, const std::vector<std::string>& members);
  /// POST /v1/conversations for the direct conversation with `peer`; returns its id.
  std::string CreateDirect(const std::string& peer);

  /// Every entry of the conversation's log in seq order, read over HTTP page by page
  /// (after_seq, the largest pages the server allows). Throws unless every page is 200.
  std::vector<boost::json::object> FetchLog(std::string_view conv) const;

 private:
  WsFrame ReadFrame(std::chrono::milliseconds timeout);

  uint16_t port_;
  std::string username_;
  Tokens tokens_;
  WsClient ws_;
  HttpClient http_;
  int64_t next_id_ = 1;
  std::deque<WsFrame> queued_;
};

/// The integer `key` of a JSON object (a frame's json or an entry); throws when it is missing
/// or not an integer, so that a test fails with the reason instead of reading garbage.
int64_t IntField(const boost::json::value& object, std::string_view key);
/// The string `key` of a JSON object; throws like IntField.
std::string StringField(const boost::json::value& object, std::string_view key);

}  // namespace parley::e2e
