#pragma once

// GoogleMock matchers for messaging frames and log entries, on top of matchers.h:
//   EXPECT_THAT(alice.SendMessage(conv, "c1", "hi"), IsAck());
//   EXPECT_THAT(bob.Next(), IsEvent("message", {{"seq", 2}, {"kind", "message"}}));
//   EXPECT_THAT(log[1], EntryHas({{"kind", "edit"}, {"target_seq", 2}}));

#include <gmock/gmock.h>

#include <boost/json.hpp>
#include <string>

#include "support/matchers.h"
#include "support/ws_client.h"

namespace parley::e2e {

namespace chat_matchers_internal {

// Every field of `expected` is in `actual` with an equal value; writes the first that is not.
inline bool HasAll(const boost::json::value& actual, const boost::json::object& expected,
                   ::testing::MatchResultListener* listener) {
  const auto* object = actual.if_object();
  if (object == nullptr) {
    *listener << "which is no JSON object";
    return false;
  }
  for (const auto& field : expected) {
    const boost::json::value* got = object->if_contains(field.key());
    if (got == nullptr) {
      *listener << "which has no \"" << std::string(field.key()) << "\"";
      return false;
    }
    if (*got != field.value()) {
      *listener << "whose \"" << std::string(field.key()) << "\" is "
                << boost::json::serialize(*got);
      return false;
    }
  }
  return true;
}

MATCHER_P2(IsFrameWithMatcher, type, fields,
           "is a " + ::testing::PrintToString(type) + " frame with " +
               boost::json::serialize(fields)) {
  if (arg.kind != WsFrame::Kind::kText || arg.Type() != type) {
    *result_listener << "which is not a " << type << " frame";
    return false;
  }
  return HasAll(arg.json, fields, result_listener);
}

MATCHER_P(EntryHasMatcher, fields, "is an object with " + boost::json::serialize(fields)) {
  return HasAll(boost::json::value(arg), fields, result_listener);
}

}  // namespace chat_matchers_internal

/// A JSON text frame of `type` that has every field of `fields` with that value (and maybe
/// more fields).
inline auto IsFrameWith(std::string type, boost::json::object fields = {}) {
  return chat_matchers_internal::IsFrameWithMatcher(std::move(type), std::move(fields));
}

/// An event pushed by the server: the same as IsFrameWith, named for what it is.
inline auto IsEvent(std::string type, boost::json::object fields = {}) {
  return IsFrameWith(std::move(type), std::move(fields));
}

/// An `ack` with a seq and a msg_id (and `fields`, if given).
MATCHER(IsAck, "is an ack with a seq and a msg_id") {
  if (arg.kind != WsFrame::Kind::kText || arg.Type() != "ack") return false;
  const auto& object = arg.json.as_object();
  const auto* seq = object.if_contains("seq");
  const auto* msg_id = object.if_contains("msg_id");
  return seq != nullptr && seq->is_int64() && seq->get_int64() >= 1 && msg_id != nullptr &&
         msg_id->is_string() && !msg_id->get_string().empty();
}

/// A `conversation` event about the conversation `conv`.
MATCHER_P(IsConversationEvent, conv,
          "is a conversation event about " + ::testing::PrintToString(conv)) {
  if (arg.kind != WsFrame::Kind::kText || arg.Type() != "conversation") return false;
  const auto* conversation = arg.json.as_object().if_contains("conversation");
  const auto* object = conversation ? conversation->if_object() : nullptr;
  const auto* id = object ? object->if_contains("id") : nullptr;
  return id != nullptr && *id == boost::json::value(conv);
}

/// A log entry (or any JSON object) that has every field of `fields` with that value.
inline auto EntryHas(boost::json::object fields) {
  return chat_matchers_internal::EntryHasMatcher(std::move(fields));
}

/// A log entry whose body is gone: absent or null.
MATCHER(HasNoBody, "has no body") {
  const boost::json::value* body = arg.if_contains("body");
  return body == nullptr || body->is_null();
}

}  // namespace parley::e2e
