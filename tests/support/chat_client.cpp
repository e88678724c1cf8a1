#include "support/chat_client.h"

#include <algorithm>
#include <boost/json.hpp>
#include <sstream>
#include <stdexcept>

namespace parley::e2e {

namespace json = boost::json;

namespace {

// The largest history page the server serves.
constexpr int kMaxHistoryPage = 200;
// Stands for "no such conversation" in DrainEvents' barrier request.
constexpr std::string_view kNoConversation = "c_e2e_barrier_no_such_conversation";

std::string Describe(const WsFrame& frame) {
  std::ostringstream os;
  PrintTo(frame, &os);
  return os.str();
}

std::string Describe(const HttpResponse& response) {
  std::ostringstream os;
  PrintTo(response, &os);
  return os.str();
}

const json::value& FieldOf(const json::value& object, std::string_view key) {
  const auto* o = object.if_object();
  const json::value* v = o ? o->if_contains(key) : nullptr;
  if (v == nullptr) {
    throw std::runtime_error("no field \"" + std::string(key) + "\" in " + json::serialize(object));
  }
  return *v;
}

}  // namespace

std::vector<std::string> UnlimitedChatArgs() {
  return {"--rate-send-per-min",   "1000000", "--rate-send-burst",   "1000000",
          "--rate-typing-per-min", "1000000", "--rate-typing-burst", "1000000",
          "--rate-frames-per-min", "1000000", "--rate-frames-burst", "1000000"};
}

std::vector<std::string> UnlimitedChatArgs(const std::vector<std::string>& overrides) {
  std::vector<std::string> args = UnlimitedChatArgs();
  for (size_t i = 0; i + 1 < overrides.size(); i += 2) {
    auto it = std::find(args.begin(), args.end(), overrides[i]);
    if (it != args.end()) {
      *(it + 1) = overrides[i + 1];
    } else {
      args.push_back(overrides[i]);
      args.push_back(overrides[i + 1]);
    }
  }
  return args;
}

int64_t IntField(const json::value& object, std::string_view key) {
  const json::value& v = FieldOf(object, key);
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) return static_cast<int64_t>(v.get_uint64());
  throw std::runtime_error("field \"" + std::string(key) + "\" is no integer in " +
                           json::serialize(object));
}

std::string StringField(const json::value& object, std::string_view key) {
  const json::value& v = FieldOf(object, key);
  if (!v.is_string()) {
    throw std::runtime_error("field \"" + std::string(key) + "\" is no string in " +
                             json::serialize(object));
  }
  return std::string(v.get_string());
}

ChatClient::ChatClient(uint16_t port, const TestUser& user, std::string_view device)
    : port_(port), username_(user.username()), tokens_(user.Login(device)), http_(port) {
  ws_ = user.ConnectWs(tokens_);
}

json::value ChatClient::Start(json::object frame) {
  json::value id = next_id_++;
  frame["id"] = id;
  ws_.Send(frame);
  return id;
}

WsFrame ChatClient::ReadFrame(std::chrono::milliseconds timeout) {
  while (true) {
    WsFrame frame = ws_.Next(timeout);
    if (frame.Type() != "presence") return frame;
  }
}

WsFrame ChatClient::Await(const json::value& id, std::chrono::milliseconds timeout) {
  auto answers = [&](const WsFrame& frame) {
    const auto* object = frame.json.if_object();
    const json::value* re = object ? object->if_contains("re") : nullptr;
    return re != nullptr && *re == id;
  };
  // Replies need not come in request order (an error may overtake an earlier ack), so the
  // reply may already be queued.
  if (auto it = std::find_if(queued_.begin(), queued_.end(), answers); it != queued_.end()) {
    WsFrame frame = std::move(*it);
    queued_.erase(it);
    return frame;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    WsFrame frame = ReadFrame(std::max(left, std::chrono::milliseconds(0)));
    if (frame.kind != WsFrame::Kind::kText) return frame;  // closed or timed out: say so
    if (answers(frame)) return frame;
    queued_.push_back(std::move(frame));
  }
}

WsFrame ChatClient::Request(json::object frame) { return Await(Start(std::move(frame))); }

WsFrame ChatClient::SendMessage(std::string_view conv, std::string_view client_msg_id,
                                std::string_view body, int64_t reply_to) {
  json::object frame{
      {"type", "send"}, {"conv", conv}, {"client_msg_id", client_msg_id}, {"body", body}};
  if (reply_to != 0) frame["reply_to"] = reply_to;
  return Request(std::move(frame));
}

WsFrame ChatClient::Edit(std::string_view conv, int64_t seq, std::string_view body) {
  return Request({{"type", "edit"}, {"conv", conv}, {"seq", seq}, {"body", body}});
}

WsFrame ChatClient::Delete(std::string_view conv, int64_t seq) {
  return Request({{"type", "delete"}, {"conv", conv}, {"seq", seq}});
}

WsFrame ChatClient::React(std::string_view conv, int64_t seq, std::string_view emoji) {
  return Request({{"type", "react"}, {"conv", conv}, {"seq", seq}, {"emoji", emoji}});
}

WsFrame ChatClient::History(std::string_view conv, json::object range) {
  range["type"] = "history";
  range["conv"] = conv;
  return Request(std::move(range));
}

WsFrame ChatClient::Sync() { return Request({{"type", "sync"}}); }

WsFrame ChatClient::Read(std::string_view conv, int64_t seq) {
  return Request({{"type", "read"}, {"conv", conv}, {"seq", seq}});
}

WsFrame ChatClient::Delivered(std::string_view conv, int64_t seq) {
  return Request({{"type", "delivered"}, {"conv", conv}, {"seq", seq}});
}

WsFrame ChatClient::Typing(std::string_view conv) {
  return Request({{"type", "typing"}, {"conv", conv}});
}

WsFrame ChatClient::Next(std::chrono::milliseconds timeout) {
  if (!queued_.empty()) {
    WsFrame frame = std::move(queued_.front());
    queued_.pop_front();
    return frame;
  }
  return ReadFrame(timeout);
}

std::vector<WsFrame> ChatClient::DrainEvents() {
  const WsFrame barrier = Request({{"type", "read"}, {"conv", kNoConversation}, {"seq", 0}});
  if (barrier.Type() != "error") {
    throw std::runtime_error("the barrier request got " + Describe(barrier) +
                             " instead of a not_found error");
  }
  std::vector<WsFrame> events(std::make_move_iterator(queued_.begin()),
                              std::make_move_iterator(queued_.end()));
  queued_.clear();
  return events;
}

void ChatClient::Disconnect() { ws_.Close(1000); }

void ChatClient::Reconnect() {
  queued_.clear();
  WsClient ws;
  ws.Connect(port_);
  const WsFrame reply = ws.Authenticate(tokens_.access_token);
  if (reply.Type() != "ready") {
    throw std::runtime_error("WebSocket auth of " + username_ + " got " + Describe(reply));
  }
  ws_ = std::move(ws);
}

HttpResponse ChatClient::Get(std::string_view target) const {
  return http_.Get(target, tokens_.access_token);
}

HttpResponse ChatClient::Post(std::string_view target, const json::value& body) const {
  return http_.Post(target, body, tokens_.access_token);
}

HttpResponse ChatClient::Patch(std::string_view target, const json::value& body) const {
  return http_.Send("PATCH", target, json::serialize(body), tokens_.access_token);
}

HttpResponse ChatClient::Put(std::string_view target, const json::value& body) const {
  return http_.Send("PUT", target, json::serialize(body), tokens_.access_token);
}

HttpResponse ChatClient::Delete(std::string_view target) const {
  return http_.Delete(target, tokens_.access_token);
}

std::string ChatClient::CreateGroup(std::string_view title,
                                    const std::vector<std::string>& members) {
  json::array ids;
  for (const auto& m : members) ids.emplace_back(m);
  const HttpResponse response =
      Post("/v1/conversations", {{"type", "group"}, {"title", title}, {"members", std::move(ids)}});
  if (response.status != 201) {
    throw std::runtime_error("creating a group failed: " + Describe(response));
  }
  return StringField(FieldOf(response.json, "conversation"), "id");
}

std::string ChatClient::CreateDirect(const std::string& peer) {
  const HttpResponse response =
      Post("/v1/conversations", {{"type", "direct"}, {"members", json::array{peer}}});
  if (response.status != 201 && response.status != 200) {
    throw std::runtime_error("creating a direct conversation failed: " + Describe(response));
  }
  return StringField(FieldOf(response.json, "conversation"), "id");
}

std::vector<json::object> ChatClient::FetchLog(std::string_view conv) const {
  std::vector<json::object> log;
  int64_t after = 0;
  while (true) {
    const HttpResponse page = Get("/v1/conversations/" + std::string(conv) +
                                  "/messages?after_seq=" + std::to_string(after) +
                                  "&limit=" + std::to_string(kMaxHistoryPage));
    if (page.status != 200) throw std::runtime_error("reading the log failed: " + Describe(page));
    const json::value& messages = FieldOf(page.json, "messages");
    if (!messages.is_array()) throw std::runtime_error("messages is no array: " + page.body);
    for (const json::value& entry : messages.get_array()) {
      log.push_back(entry.as_object());
      after = IntField(entry, "seq");
    }
    const json::value& has_more = FieldOf(page.json, "has_more");
    if (!has_more.is_bool()) throw std::runtime_error("has_more is no bool: " + page.body);
    if (!has_more.get_bool() || messages.get_array().empty()) return log;
  }
}

}  // namespace parley::e2e
