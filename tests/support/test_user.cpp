#include "support/test_user.h"

#include <boost/json.hpp>
#include <sstream>
#include <stdexcept>

namespace parley::e2e {
namespace {

std::string Describe(const HttpResponse& response) {
  std::ostringstream os;
  PrintTo(response, &os);
  return os.str();
}

std::string Describe(const WsFrame& frame) {
  std::ostringstream os;
  PrintTo(frame, &os);
  return os.str();
}

const boost::json::string* StringField(const boost::json::object& object, std::string_view key) {
  const auto* v = object.if_contains(key);
  return v ? v->if_string() : nullptr;
}

}  // namespace

std::optional<Tokens> Tokens::FromJson(const boost::json::value& body) {
  const auto* object = body.if_object();
  if (object == nullptr) return std::nullopt;
  const auto* user_id = StringField(*object, "user_id");
  const auto* device_id = StringField(*object, "device_id");
  const auto* access = StringField(*object, "access_token");
  const auto* refresh = StringField(*object, "refresh_token");
  const auto* expires_in = object->if_contains("expires_in");
  if (!user_id || !device_id || !access || !refresh || !expires_in || !expires_in->is_number()) {
    return std::nullopt;
  }
  boost::json::error_code ec;
  const auto seconds = expires_in->to_number<int64_t>(ec);
  if (ec) return std::nullopt;
  return Tokens{std::string(*user_id), std::string(*device_id), std::string(*access),
                std::string(*refresh), seconds};
}

TestUser::TestUser(uint16_t port, std::string username, std::string password)
    : http_(port), username_(std::move(username)), password_(std::move(password)) {}

HttpResponse TestUser::Register(std::optional<std::string> display_name) {
  boost::json::object body{{"username", username_}, {"password", password_}};
  if (display_name) body["display_name"] = *display_name;
  HttpResponse response = http_.Post("/v1/auth/register", body);
  if (response.status == 201) {
    if (const auto* object = response.json.if_object()) {
      if (const auto* id = StringField(*object, "user_id")) id_ = std::string(*id);
    }
  }
  return response;
}

HttpResponse TestUser::TryLogin(std::string_view device_name) const {
  return http_.Post(
      "/v1/auth/login",
      {{"username", username_}, {"password", password_}, {"device_name", device_name}});
}

Tokens TestUser::Login(std::string_view device_name) const {
  const HttpResponse response = TryLogin(device_name);
  std::optional<Tokens> tokens;
  if (response.status == 200) tokens = Tokens::FromJson(response.json);
  if (!tokens) {
    throw std::runtime_error("login of " + username_ + " failed: " + Describe(response));
  }
  return *tokens;
}

WsClient TestUser::ConnectWs(const Tokens& tokens) const {
  WsClient ws;
  ws.Connect(http_.port());
  const WsFrame reply = ws.Authenticate(tokens.access_token);
  if (reply.Type() != "ready") {
    throw std::runtime_error("WebSocket auth of " + username_ + " got " + Describe(reply));
  }
  return ws;
}

}  // namespace parley::e2e
