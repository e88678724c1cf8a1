#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "support/http_client.h"
#include "support/ws_client.h"

namespace parley::e2e {

/// What a successful login or refresh returns.
struct Tokens {
  std::string user_id;
  std::string device_id;
  std::string access_token;
  std::string refresh_token;
  int64_t expires_in = 0;

  /// Parses a login/refresh body; nullopt if a documented field is missing or mistyped.
  static std::optional<Tokens> FromJson(const boost::json::value& body);
};

/// A user of one parleyd, driven over HTTP and WebSocket the way a client would:
///   TestUser alice(server.Port(), "alice");
///   alice.Register();
///   Tokens phone = alice.Login("phone");
///   WsClient ws = alice.ConnectWs(phone);
/// The Try* calls return the raw response for tests about failures; the others throw
/// std::runtime_error when the server does not answer as documented.
class TestUser {
 public:
  static constexpr std::string_view kDefaultPassword = "correct horse battery staple";

  TestUser(uint16_t port, std::string username,
           std::string password = std::string(kDefaultPassword));

  /// POST /v1/auth/register. On 201 remembers the user id.
  HttpResponse Register(std::optional<std::string> display_name = std::nullopt);
  /// POST /v1/auth/login with this user's credentials.
  HttpResponse TryLogin(std::string_view device_name = "e2e") const;
  /// TryLogin that must answer 200 with the documented fields.
  Tokens Login(std::string_view device_name = "e2e") const;
  /// Opens /v1/ws and authenticates with the access token; throws unless `ready` comes back.
  WsClient ConnectWs(const Tokens& tokens) const;

  const std::string& username() const { return username_; }
  const std::string& password() const { return password_; }
  /// The user id from Register (empty before a successful Register).
  const std::string& id() const { return id_; }

 private:
  HttpClient http_;
  std::string username_;
  std::string password_;
  std::string id_;
};

}  // namespace parley::e2e
