// End-to-end: the lifecycle of sessions (issue 17, defect 10): the device list, revoking one
// device, logging out everywhere, changing the password, the per-user device cap, the refresh
// limit, and tables that stay bounded however often a client logs in or refreshes.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <boost/json.hpp>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "support/http_client.h"
#include "support/matchers.h"
#include "support/parleyd_process.h"
#include "support/test_user.h"
#include "support/ws_client.h"

namespace parley::e2e {
namespace {

namespace json = boost::json;

// Rows of the server's database matching `sql` (a SELECT COUNT(*)), read through a read-only
// connection of the test's own while parleyd runs (WAL lets readers in).
int64_t CountRows(const ParleydProcess& server, const std::string& sql) {
  sqlite3* db = nullptr;
  const std::string path = (server.DataDir() / "parley.db").string();
  int64_t count = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5'000);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      count = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return count;
}

class DevicesE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_THAT(alice_.Register(), HasStatus(201)); }

  HttpResponse Devices(const Tokens& tokens) {
    return http_.Get("/v1/devices", tokens.access_token);
  }
  HttpResponse Refresh(const std::string& refresh_token) {
    return http_.Post("/v1/auth/refresh", {{"refresh_token", refresh_token}});
  }
  HttpResponse Me(const Tokens& tokens) {
    return http_.Get("/v1/users/" + tokens.user_id, tokens.access_token);
  }
  std::vector<std::string> DeviceIds(const Tokens& tokens) {
    const HttpResponse list = Devices(tokens);
    EXPECT_THAT(list, HasStatus(200));
    std::vector<std::string> ids;
    if (list.status != 200) return ids;
    for (const json::value& d : list.json.at("devices").as_array()) {
      ids.emplace_back(d.at("id").as_string());
    }
    return ids;
  }

  ParleydProcess server_;
  HttpClient http_{server_.Port()};
  TestUser alice_{server_.Port(), "alice"};
};

TEST_F(DevicesE2eTest, DeviceListShowsThisUsersDevicesAndWhichIsCurrent) {
  const Tokens phone = alice_.Login("phone");
  const Tokens laptop = alice_.Login("laptop");
  TestUser bob(server_.Port(), "bob");
  ASSERT_THAT(bob.Register(), HasStatus(201));
  bob.Login("bob's phone");

  const HttpResponse list = Devices(laptop);

  ASSERT_THAT(list, HasStatus(200));
  const json::array& devices = list.json.at("devices").as_array();
  ASSERT_EQ(devices.size(), 2u) << list.body;
  // Most recently used first.
  EXPECT_EQ(devices[0].at("id"), json::value(laptop.device_id));
  EXPECT_EQ(devices[0].at("name"), json::value("laptop"));
  EXPECT_EQ(devices[0].at("current"), json::value(true));
  EXPECT_EQ(devices[1].at("id"), json::value(phone.device_id));
  EXPECT_EQ(devices[1].at("name"), json::value("phone"));
  EXPECT_EQ(devices[1].at("current"), json::value(false));
  for (const json::value& d : devices) {
    EXPECT_TRUE(d.at("created_ts").is_int64());
    EXPECT_GE(d.at("last_used_ts").as_int64(), d.at("created_ts").as_int64());
  }
  EXPECT_THAT(http_.Get("/v1/devices"), IsHttpError(401, "unauthorized"));
}

TEST_F(DevicesE2eTest, RevokingADeviceEndsItsTokensAndClosesItsSockets) {
  const Tokens phone = alice_.Login("phone");
  const Tokens laptop = alice_.Login("laptop");
  WsClient phone_ws = alice_.ConnectWs(phone);
  WsClient laptop_ws = alice_.ConnectWs(laptop);

  EXPECT_THAT(http_.Delete("/v1/devices/" + phone.device_id, laptop.access_token), HasStatus(204));

  EXPECT_THAT(phone_ws.ExpectClose(), IsClosed(4401));
  EXPECT_THAT(Me(phone), IsHttpError(401, "unauthorized"));
  EXPECT_THAT(Refresh(phone.refresh_token), IsHttpError(401, "unauthorized"));
  EXPECT_THAT(DeviceIds(laptop), ::testing::ElementsAre(laptop.device_id));
  EXPECT_THAT(laptop_ws.Ping("still-here"), IsReply("pong", "still-here"));
  // Gone, unknown, or someone else's: all the same answer.
  EXPECT_THAT(http_.Delete("/v1/devices/" + phone.device_id, laptop.access_token),
              IsHttpError(404, "not_found"));
  EXPECT_THAT(http_.Delete("/v1/devices/d_nonexistent", laptop.access_token),
              IsHttpError(404, "not_found"));
  TestUser bob(server_.Port(), "bob");
  ASSERT_THAT(bob.Register(), HasStatus(201));
  const Tokens bobs = bob.Login();
  EXPECT_THAT(http_.Delete("/v1/devices/" + laptop.device_id, bobs.access_token),
              IsHttpError(404, "not_found"));
  EXPECT_THAT(Me(laptop), HasStatus(200));
}

TEST_F(DevicesE2eTest, LogoutAllEndsEveryOtherSessionOrAllOfThem) {
  const Tokens phone = alice_.Login("phone");
  const Tokens tablet = alice_.Login("tablet");
  const Tokens laptop = alice_.Login("laptop");
  WsClient phone_ws = alice_.ConnectWs(phone);
  WsClient tablet_ws = alice_.ConnectWs(tablet);
  WsClient laptop_ws = alice_.ConnectWs(laptop);

  const HttpResponse others =
      http_.Post("/v1/auth/logout-all", {{"keep_current", true}}, laptop.access_token);

  ASSERT_THAT(others, HasStatus(200));
  EXPECT_EQ(others.json.at("revoked"), json::value(2));
  EXPECT_THAT(phone_ws.ExpectClose(), IsClosed(4401));
  EXPECT_THAT(tablet_ws.ExpectClose(), IsClosed(4401));
  EXPECT_THAT(Me(phone), IsHttpError(401, "unauthorized"));
  EXPECT_THAT(Refresh(tablet.refresh_token), IsHttpError(401, "unauthorized"));
  EXPECT_THAT(laptop_ws.Ping("still-here"), IsReply("pong", "still-here"));

  const HttpResponse all = http_.Send("POST", "/v1/auth/logout-all", "", laptop.access_token);
  ASSERT_THAT(all, HasStatus(200));
  EXPECT_EQ(all.json.at("revoked"), json::value(1));
  EXPECT_THAT(laptop_ws.ExpectClose(), IsClosed(4401));
  EXPECT_THAT(Me(laptop), IsHttpError(401, "unauthorized"));
  EXPECT_THAT(
      http_.Post("/v1/auth/logout-all", {{"keep_current", "yes"}}, alice_.Login().access_token),
      IsHttpError(400, "invalid_request"));
}

TEST_F(DevicesE2eTest, ChangingThePasswordRevokesEveryOtherDevice) {
  const Tokens phone = alice_.Login("phone");
  const Tokens laptop = alice_.Login("laptop");
  WsClient phone_ws = alice_.ConnectWs(phone);
  const std::string next = "a brand new passphrase";

  EXPECT_THAT(http_.Post("/v1/auth/password",
                         {{"current_password", "not the password"}, {"new_password", next}},
                         laptop.access_token),
              IsHttpError(401, "unauthorized"));
  EXPECT_THAT(http_.Post("/v1/auth/password",
                         {{"current_password", alice_.password()}, {"new_password", "short"}},
                         laptop.access_token),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(http_.Post("/v1/auth/password", {{"new_password", next}}, laptop.access_token),
              IsHttpError(400, "invalid_request"));
  EXPECT_THAT(Me(phone), HasStatus(200));  // failed attempts changed nothing

  EXPECT_THAT(http_.Post("/v1/auth/password",
                         {{"current_password", alice_.password()}, {"new_password", next}},
                         laptop.access_token),
              HasStatus(204));

  EXPECT_THAT(phone_ws.ExpectClose(), IsClosed(4401));
  EXPECT_THAT(Me(phone), IsHttpError(401, "unauthorized"));
  EXPECT_THAT(Refresh(phone.refresh_token), IsHttpError(401, "unauthorized"));
  EXPECT_THAT(Me(laptop), HasStatus(200));
  EXPECT_THAT(alice_.TryLogin(), IsHttpError(401, "unauthorized"));
  EXPECT_THAT(TestUser(server_.Port(), "alice", next).TryLogin(), HasStatus(200));
}

TEST(DevicesLimitsE2eTest, AThousandLoginsLeaveAtMostTheCapOfDevices) {
  ParleydProcess server({"--max-devices-per-user", "100", "--auth-hash-threads", "2"});
  TestUser alice(server.Port(), "alice");
  ASSERT_THAT(alice.Register(), HasStatus(201));
  const Tokens first = alice.Login("first");
  WsClient first_ws = alice.ConnectWs(first);

  constexpr int kLogins = 1'000;
  constexpr int kThreads = 4;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kLogins; i += kThreads) {
        if (alice.TryLogin("login " + std::to_string(i)).status == 200) ++ok;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const Tokens last = alice.Login("last");

  HttpClient http(server.Port());
  const HttpResponse list = http.Get("/v1/devices", last.access_token);
  ASSERT_THAT(list, HasStatus(200));
  const size_t listed = list.json.at("devices").as_array().size();
  const int64_t live = CountRows(server, "SELECT COUNT(*) FROM devices WHERE revoked_ms IS NULL");
  const int64_t rows = CountRows(server, "SELECT COUNT(*) FROM devices");
  std::cout << "[device cap] " << ok.load() + 2 << " logins: " << listed << " devices listed, "
            << live << " live rows, " << rows << " device rows in all\n";
  EXPECT_EQ(ok.load(), kLogins);
  EXPECT_EQ(listed, 100u);
  EXPECT_EQ(live, 100);
  EXPECT_EQ(rows, 100);  // evicted devices are deleted, not left behind
  // The least recently used went first, and its socket with it.
  EXPECT_THAT(first_ws.ExpectClose(), IsClosed(4401));
  EXPECT_THAT(http.Get("/v1/users/" + first.user_id, first.access_token),
              IsHttpError(401, "unauthorized"));
  EXPECT_THAT(http.Get("/v1/users/" + last.user_id, last.access_token), HasStatus(200));
}

TEST(DevicesLimitsE2eTest, ManyRefreshesLeaveABoundedTokenTable) {
  ParleydProcess server;
  TestUser alice(server.Port(), "alice");
  ASSERT_THAT(alice.Register(), HasStatus(201));
  Tokens tokens = alice.Login();
  HttpClient http(server.Port());

  constexpr int kRefreshes = 1'500;
  for (int i = 0; i < kRefreshes; ++i) {
    const HttpResponse refreshed =
        http.Post("/v1/auth/refresh", {{"refresh_token", tokens.refresh_token}});
    ASSERT_THAT(refreshed, HasStatus(200)) << "refresh " << i;
    tokens = *Tokens::FromJson(refreshed.json);
  }
  const int64_t rows = CountRows(server, "SELECT COUNT(*) FROM refresh_tokens");
  std::cout << "[refresh] " << kRefreshes << " refreshes: " << rows << " refresh token rows\n";
  EXPECT_GE(rows, 1);
  EXPECT_LE(rows, 8);
  EXPECT_THAT(http.Get("/v1/users/" + tokens.user_id, tokens.access_token), HasStatus(200));
}

TEST(DevicesLimitsE2eTest, RefreshesPerDeviceAreRateLimited) {
  ParleydProcess server({"--rate-refresh-per-min", "1", "--rate-refresh-burst", "3"});
  TestUser alice(server.Port(), "alice");
  ASSERT_THAT(alice.Register(), HasStatus(201));
  Tokens phone = alice.Login("phone");
  const Tokens laptop = alice.Login("laptop");
  HttpClient http(server.Port());

  for (int i = 0; i < 3; ++i) {
    const HttpResponse refreshed =
        http.Post("/v1/auth/refresh", {{"refresh_token", phone.refresh_token}});
    ASSERT_THAT(refreshed, HasStatus(200));
    phone = *Tokens::FromJson(refreshed.json);
  }
  const HttpResponse limited =
      http.Post("/v1/auth/refresh", {{"refresh_token", phone.refresh_token}});
  ASSERT_THAT(limited, IsHttpError(429, "rate_limited"));
  EXPECT_GT(limited.json.at("error").at("retry_after_ms").to_number<int64_t>(), 0);
  // Refused, not consumed: the token is still the live one, and no reuse was detected.
  EXPECT_THAT(http.Get("/v1/users/" + phone.user_id, phone.access_token), HasStatus(200));
  // Per device: the laptop refreshes.
  EXPECT_THAT(http.Post("/v1/auth/refresh", {{"refresh_token", laptop.refresh_token}}),
              HasStatus(200));
}

}  // namespace
}  // namespace parley::e2e
