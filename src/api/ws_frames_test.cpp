#include "api/ws_frames.h"

#include <gtest/gtest.h>

#include "api/ws_api.h"

namespace parley {
namespace {

namespace json = boost::json;

TEST(WsFramesTest, DecodesTypeIdAndFields) {
  json::value id;
  auto frame = DecodeClientFrame(R"({"type":"ping","id":7,"x":true})", id);
  ASSERT_TRUE(frame.ok());
  EXPECT_EQ(frame->type, "ping");
  EXPECT_EQ(frame->id, json::value(7));
  EXPECT_TRUE(frame->fields.contains("x"));
}

TEST(WsFramesTest, KeepsTheIdWhenTheRestIsWrong) {
  json::value id;
  auto frame = DecodeClientFrame(R"({"id":"req-1","type":5})", id);
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.error().message, "type must be a string");
  EXPECT_EQ(id, json::value("req-1"));
  EXPECT_EQ(
      *ErrorFrame(id, frame.error()),
      R"({"type":"error","re":"req-1","error":{"code":"invalid_request","message":"type must be a string"}})");
}

TEST(WsFramesTest, RejectsIdsThatAreNotStringsOrNumbers) {
  json::value id;
  EXPECT_FALSE(DecodeClientFrame(R"({"type":"ping","id":{"a":1}})", id).ok());
  EXPECT_TRUE(id.is_null());
  EXPECT_FALSE(
      DecodeClientFrame(R"({"type":"ping","id":")" + std::string(200, 'x') + "\"}", id).ok());
}

TEST(WsFramesTest, MalformedJsonGivesAnErrorWithoutRe) {
  json::value id;
  auto frame = DecodeClientFrame("{not json", id);
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(ErrorFrame(id, frame.error())->find("\"re\""), std::string::npos);
}

TEST(WsFramesTest, ReplyPutsTypeAndReFirst) {
  EXPECT_EQ(*ReplyFrame("pong", json::value(3)), R"({"type":"pong","re":3})");
  EXPECT_EQ(*ReplyFrame("ready", nullptr, {{"user_id", "u"}}), R"({"type":"ready","user_id":"u"})");
}

class CapturingConnection final : public Connection {
 public:
  void Deliver(Frame frame) override { frames.push_back(*frame); }
  void Close(int, std::string) override {}
  const std::string& user_id() const override { return id; }
  const std::string& device_id() const override { return id; }
  const std::string& session_id() const override { return id; }
  std::vector<std::string> frames;
  std::string id = "x";
};

TEST(WsApiTest, UnknownTypeGetsAnErrorAndKnownTypeRuns) {
  WsApi api;
  api.Add("ping", [](const ClientFrame& f, const std::shared_ptr<Connection>& c) {
    c->Deliver(ReplyFrame("pong", f.id));
  });
  auto conn = std::make_shared<CapturingConnection>();
  api.Dispatch(R"({"type":"dance","id":1})", conn);
  api.Dispatch(R"({"type":"ping","id":2})", conn);
  ASSERT_EQ(conn->frames.size(), 2u);
  EXPECT_EQ(
      conn->frames[0],
      R"({"type":"error","re":1,"error":{"code":"invalid_request","message":"unknown request type: dance"}})");
  EXPECT_EQ(conn->frames[1], R"({"type":"pong","re":2})");
}

}  // namespace
}  // namespace parley
