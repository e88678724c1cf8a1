#pragma once

// GoogleMock matchers for end-to-end tests, so that expectations read like the protocol:
//   EXPECT_THAT(bob.Next(), IsReply("pong", 7));
//   EXPECT_THAT(http.Get("/nope"), IsHttpError(404, "not_found"));

#include <gmock/gmock.h>

#include <boost/json.hpp>
#include <string>

#include "support/http_client.h"
#include "support/parleyd_process.h"
#include "support/ws_client.h"

namespace parley::e2e {

namespace matchers_internal {

inline const boost::json::value* Field(const boost::json::value& v, std::string_view key) {
  const auto* object = v.if_object();
  return object ? object->if_contains(key) : nullptr;
}

inline bool IsErrorBody(const boost::json::value& v, std::string_view code) {
  const auto* error = Field(v, "error");
  if (error == nullptr) return false;
  const auto* c = Field(*error, "code");
  const auto* message = Field(*error, "message");
  return c != nullptr && c->is_string() && c->as_string() == code && message != nullptr &&
         message->is_string() && !message->as_string().empty();
}

}  // namespace matchers_internal

/// A JSON text frame whose `type` is `type`.
MATCHER_P(IsFrame, type, "is a JSON frame of type " + ::testing::PrintToString(type)) {
  return arg.kind == WsFrame::Kind::kText && arg.Type() == std::string(type);
}

/// A reply of `type` whose `re` is the request id `re` (a string or an integer).
MATCHER_P2(IsReply, type, re,
           "is a " + ::testing::PrintToString(type) +
               " reply with re=" + ::testing::PrintToString(re)) {
  if (arg.kind != WsFrame::Kind::kText || arg.Type() != std::string(type)) return false;
  const auto* got = matchers_internal::Field(arg.json, "re");
  return got != nullptr && *got == boost::json::value(re);
}

/// An error frame {"type":"error","error":{"code":code,"message":...}}, whatever its `re`.
MATCHER_P(IsWsError, code, "is an error frame with code " + ::testing::PrintToString(code)) {
  return arg.kind == WsFrame::Kind::kText && arg.Type() == "error" &&
         matchers_internal::IsErrorBody(arg.json, code);
}

/// An error frame answering the request with id `re`.
MATCHER_P2(IsWsErrorFor, re, code,
           "is an error frame with re=" + ::testing::PrintToString(re) + " and code " +
               ::testing::PrintToString(code)) {
  if (arg.kind != WsFrame::Kind::kText || arg.Type() != "error") return false;
  const auto* got = matchers_internal::Field(arg.json, "re");
  return got != nullptr && *got == boost::json::value(re) &&
         matchers_internal::IsErrorBody(arg.json, code);
}

/// The end of the connection with close code `code`.
MATCHER_P(IsClosed, code,
          "is the close of the connection with code " + ::testing::PrintToString(code)) {
  return arg.kind == WsFrame::Kind::kClosed && arg.close_code == code;
}

MATCHER_P(HasStatus, status, "has HTTP status " + ::testing::PrintToString(status)) {
  return arg.status == status;
}

/// An HTTP error: that status and the contract's body {"error":{"code","message"}}.
MATCHER_P2(IsHttpError, status, code,
           "is HTTP " + ::testing::PrintToString(status) + " with error code " +
               ::testing::PrintToString(code)) {
  return arg.status == status && matchers_internal::IsErrorBody(arg.json, code);
}

MATCHER_P(ExitedWith, code, "exited with code " + ::testing::PrintToString(code)) {
  return arg.ExitedWith(code);
}

}  // namespace parley::e2e
