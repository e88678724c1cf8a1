// End-to-end: what the server shows and to whom. The WebSocket Origin check against the
// server's public origin (never the Host header), /metrics only on an internal listener or
// with the operator's token, and owner-only files in the data dir.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "support/http_client.h"
#include "support/matchers.h"
#include "support/parleyd_process.h"
#include "support/raw_http.h"
#include "support/test_user.h"

namespace parley::e2e {
namespace {

using ::testing::HasSubstr;

// The status of a WebSocket upgrade sent with these Host and Origin headers (no Origin
// header when `origin` is empty): 101 when the socket opens.
int UpgradeStatus(uint16_t port, const std::string& host, const std::string& origin) {
  RawHttpConnection conn(port);
  EXPECT_TRUE(conn.connected()) << conn.error();
  std::string request = "GET /v1/ws HTTP/1.1\r\nHost: " + host +
                        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        "Sec-WebSocket-Version: 13\r\n";
  if (!origin.empty()) request += "Origin: " + origin + "\r\n";
  conn.Send(request + "\r\n");
  return StatusOf(conn.ReadHead());
}

TEST(HttpOriginE2eTest, DefaultPublicOriginIsTheListenAddressWithTheBoundPort) {
  ParleydProcess server;
  const std::string port = std::to_string(server.Port());
  const std::string host = "127.0.0.1:" + port;

  EXPECT_EQ(UpgradeStatus(server.Port(), host, ""), 101);  // not a browser
  EXPECT_EQ(UpgradeStatus(server.Port(), host, "http://127.0.0.1:" + port), 101);
  EXPECT_EQ(UpgradeStatus(server.Port(), host, "http://localhost:" + port), 101);
  EXPECT_EQ(UpgradeStatus(server.Port(), host, "HTTP://LOCALHOST:" + port), 101);

  EXPECT_EQ(UpgradeStatus(server.Port(), host, "https://127.0.0.1:" + port), 403);  // scheme
  EXPECT_EQ(UpgradeStatus(server.Port(), host, "http://127.0.0.1:1"), 403);         // port
  EXPECT_EQ(UpgradeStatus(server.Port(), host, "http://127.0.0.1"), 403);
  EXPECT_EQ(UpgradeStatus(server.Port(), host, "null"), 403);
}

TEST(HttpOriginE2eTest, ADnsRebindingPageIsRefusedThoughItsHostHeaderMatches) {
  ParleydProcess server;
  const std::string port = std::to_string(server.Port());
  // The page at http://evil.example:PORT resolves its own name to 127.0.0.1: the browser
  // sends the attacker's name in both Origin and Host.
  EXPECT_EQ(UpgradeStatus(server.Port(), "evil.example:" + port, "http://evil.example:" + port),
            403);
}

TEST(HttpOriginE2eTest, ConfiguredPublicOriginAndAllowListReplaceTheDefault) {
  ParleydProcess server({"--public-origin", "https://chat.example.com", "--allowed-origins",
                         "http://localhost:3000"});
  const std::string host = "chat.example.com";
  EXPECT_EQ(UpgradeStatus(server.Port(), host, "https://chat.example.com"), 101);
  EXPECT_EQ(UpgradeStatus(server.Port(), host, "https://chat.example.com:443"), 101);
  EXPECT_EQ(UpgradeStatus(server.Port(), host, "http://localhost:3000"), 101);
  EXPECT_EQ(UpgradeStatus(server.Port(), host, "http://chat.example.com"), 403);
  EXPECT_EQ(UpgradeStatus(server.Port(), host, "http://127.0.0.1:" + std::to_string(server.Port())),
            403);
}

TEST(HttpMetricsE2eTest, PublicListenerServesMetricsOnlyWithTheOperatorToken) {
  ParleydProcess server;
  HttpClient http(server.Port());

  EXPECT_THAT(http.Get("/metrics"), IsHttpError(404, "not_found"));
  EXPECT_THAT(http.Get("/metrics", "wrong-token-wrong-token"), IsHttpError(404, "not_found"));
  const HttpResponse metrics = http.Get("/metrics", kTestMetricsToken);
  EXPECT_THAT(metrics, HasStatus(200));
  EXPECT_THAT(metrics.body, HasSubstr("parley_connection_cap{cap=\"per_ip\"} 256"));
}

TEST(HttpMetricsE2eTest, WithoutATokenThePublicListenerNeverServesMetrics) {
  ParleydProcess server({"--metrics-token", ""});
  HttpClient http(server.Port());
  EXPECT_THAT(http.Get("/metrics"), IsHttpError(404, "not_found"));
  EXPECT_THAT(http.Get("/metrics", ""), IsHttpError(404, "not_found"));
  EXPECT_THAT(http.Get("/healthz"), HasStatus(200));
}

TEST(HttpMetricsE2eTest, TheInternalListenerServesOnlyTheOpsRoutes) {
  ParleydProcess server({"--metrics-token", "", "--metrics-listen", "127.0.0.1:0"});
  ASSERT_TRUE(server.MetricsPort().has_value());
  HttpClient internal(*server.MetricsPort());

  const HttpResponse metrics = internal.Get("/metrics");
  EXPECT_THAT(metrics, HasStatus(200));
  EXPECT_THAT(metrics.body, HasSubstr("# TYPE parley_http_requests_total counter"));
  EXPECT_THAT(internal.Get("/healthz"), HasStatus(200));
  EXPECT_THAT(internal.Get("/readyz"), HasStatus(200));
  EXPECT_THAT(internal.Post("/v1/auth/register", {{"username", "x"}, {"password", "p"}}),
              IsHttpError(404, "not_found"));
  EXPECT_EQ(UpgradeStatus(*server.MetricsPort(), "127.0.0.1", ""), 404);
  EXPECT_THAT(HttpClient(server.Port()).Get("/metrics"), IsHttpError(404, "not_found"));
}

TEST(HttpFilesE2eTest, TheDataDirAndEveryFileInItAreOwnerOnly) {
  ParleydProcess server;
  TestUser alice(server.Port(), "alice");
  ASSERT_THAT(alice.Register(), HasStatus(201));
  (void)alice.Login();  // writes tokens: the WAL exists by now

  namespace fs = std::filesystem;
  struct stat dir {};
  ASSERT_EQ(::stat(server.DataDir().c_str(), &dir), 0);
  EXPECT_EQ(dir.st_mode & 0777, 0700u);
  int files = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(server.DataDir())) {
    struct stat st {};
    ASSERT_EQ(::stat(entry.path().c_str(), &st), 0);
    SCOPED_TRACE(entry.path().string());
    EXPECT_EQ(st.st_mode & 077, 0u) << "mode " << std::oct << (st.st_mode & 0777);
    ++files;
  }
  for (const char* name : {"parley.db", "parley.db-wal", "parley.db-shm", "jwt.key"}) {
    EXPECT_TRUE(fs::exists(server.DataDir() / name)) << name;
  }
  EXPECT_GE(files, 4);
}

}  // namespace
}  // namespace parley::e2e
