// End-to-end: the life of a parleyd process: start-up, health, metrics, graceful drain on
// SIGTERM, and data that survives a restart.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "support/http_client.h"
#include "support/matchers.h"
#include "support/parleyd_process.h"
#include "support/test_user.h"
#include "support/ws_client.h"

namespace parley::e2e {
namespace {

using ::testing::HasSubstr;

TEST(LifecycleE2eTest, HealthzAndReadyzAnswer200) {
  ParleydProcess server;
  HttpClient http(server.Port());

  EXPECT_THAT(http.Get("/healthz"), HasStatus(200));
  EXPECT_THAT(http.Get("/readyz"), HasStatus(200));
}

TEST(LifecycleE2eTest, MetricsAreInPrometheusTextFormat) {
  ParleydProcess server;
  HttpClient http(server.Port());
  ASSERT_THAT(http.Get("/healthz"), HasStatus(200));
  ASSERT_THAT(http.Get("/v1/nowhere"), HasStatus(404));

  const HttpResponse metrics = http.Get("/metrics", kTestMetricsToken);

  ASSERT_THAT(metrics, HasStatus(200));
  EXPECT_THAT(metrics.Header("Content-Type"), HasSubstr("text/plain"));
  EXPECT_THAT(metrics.body, HasSubstr("# TYPE parley_http_requests_total counter"));
  EXPECT_THAT(metrics.body, HasSubstr("parley_http_requests_total"));
}

TEST(LifecycleE2eTest, SigtermClosesSocketsWith1001AndExitsZero) {
  ParleydProcess server;
  TestUser alice(server.Port(), "alice");
  ASSERT_THAT(alice.Register(), HasStatus(201));
  WsClient phone = alice.ConnectWs(alice.Login("phone"));
  WsClient laptop = alice.ConnectWs(alice.Login("laptop"));
  WsClient unauthenticated;
  unauthenticated.Connect(server.Port());
  // Barrier: both devices are fully registered with the server before it is told to stop.
  ASSERT_THAT(phone.Ping(1), IsReply("pong", 1));
  ASSERT_THAT(laptop.Ping(1), IsReply("pong", 1));

  server.Terminate();

  EXPECT_THAT(phone.ExpectClose(), IsClosed(1001));
  EXPECT_THAT(laptop.ExpectClose(), IsClosed(1001));
  EXPECT_THAT(unauthenticated.ExpectClose(), IsClosed(1001));
  EXPECT_THAT(server.WaitExit(), ExitedWith(0));
}

TEST(LifecycleE2eTest, SigtermWithNoClientsExitsZero) {
  ParleydProcess server;
  ASSERT_THAT(HttpClient(server.Port()).Get("/healthz"), HasStatus(200));

  server.Terminate();

  EXPECT_THAT(server.WaitExit(), ExitedWith(0));
}

TEST(LifecycleE2eTest, AccountsSurviveARestart) {
  TempDir data;
  ParleydOptions options;
  options.data_dir = data.path();
  std::string alice_id;
  {
    ParleydProcess first(options);
    TestUser alice(first.Port(), "alice");
    ASSERT_THAT(alice.Register(), HasStatus(201));
    alice_id = alice.id();
    first.Terminate();
    ASSERT_THAT(first.WaitExit(), ExitedWith(0));
  }

  ParleydProcess second(options);
  TestUser alice(second.Port(), "alice");
  const Tokens tokens = alice.Login();

  EXPECT_EQ(tokens.user_id, alice_id);
  EXPECT_THAT(alice.Register(), IsHttpError(409, "conflict"));
  EXPECT_THAT(HttpClient(second.Port()).Get("/v1/users/" + alice_id, tokens.access_token),
              HasStatus(200));
}

TEST(LifecycleE2eTest, AnInvalidConfigurationFailsToStart) {
  ParleydOptions options;
  options.args = {"--listen", "not-an-address"};
  auto server = ParleydProcess::Spawn(options);

  EXPECT_EQ(server->WaitListening(), std::nullopt);
  const ExitStatus status = server->WaitExit();
  EXPECT_EQ(status.kind, ExitStatus::Kind::kExited) << ::testing::PrintToString(status);
  EXPECT_NE(status.value, 0);
  EXPECT_FALSE(server->StderrLog().empty());
}

}  // namespace
}  // namespace parley::e2e
