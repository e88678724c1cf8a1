#include "api/router.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

HttpReply Named(std::string name) { return HttpReply::Json(200, std::move(name)); }

HttpRequest Get(std::string path) {
  HttpRequest req;
  req.method = "GET";
  req.path = std::move(path);
  return req;
}

Router MakeRouter() {
  Router router;
  router.Add("GET", "/v1/users/{user_id}", HandlerKind::kBlocking,
             [](HttpRequest&) { return Named("get-user"); });
  router.Add("POST", "/v1/auth/login", HandlerKind::kBlocking,
             [](HttpRequest&) { return Named("login"); });
  router.Add("GET", "/healthz", HandlerKind::kInline, [](HttpRequest&) { return Named("health"); });
  return router;
}

TEST(RouterTest, MatchesLiteralAndCapturedSegments) {
  Router router = MakeRouter();
  HttpRequest req = Get("/v1/users/u_42");
  auto match = router.Find(req);
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.route->handler(req).body, "get-user");
  EXPECT_EQ(req.params["user_id"], "u_42");
  EXPECT_EQ(match.route->kind, HandlerKind::kBlocking);
}

TEST(RouterTest, UnknownPathHasNoAllowedMethods) {
  Router router = MakeRouter();
  for (const char* path : {"/", "/v1", "/v1/users", "/v1/users/a/b", "/healthz/x", "/nope"}) {
    HttpRequest req = Get(path);
    auto match = router.Find(req);
    EXPECT_EQ(match.route, nullptr) << path;
    EXPECT_TRUE(match.allowed.empty()) << path;
  }
}

TEST(RouterTest, WrongMethodListsTheAllowedOnes) {
  Router router = MakeRouter();
  HttpRequest req = Get("/v1/auth/login");
  auto match = router.Find(req);
  EXPECT_EQ(match.route, nullptr);
  EXPECT_EQ(match.allowed, "POST");
}

TEST(RouterTest, TrailingSlashAndDoubleSlashesAreTheSamePath) {
  Router router = MakeRouter();
  HttpRequest req = Get("/healthz/");
  EXPECT_NE(router.Find(req).route, nullptr);
}

TEST(RouterTest, FallbackServesUnmatchedGetsButNeverApiPaths) {
  Router router = MakeRouter();
  router.SetFallback(HandlerKind::kBlocking, [](HttpRequest&) { return Named("static"); });
  HttpRequest page = Get("/app/index.html");
  auto match = router.Find(page);
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.route->handler(page).body, "static");

  HttpRequest api = Get("/v1/nope");
  EXPECT_EQ(router.Find(api).route, nullptr);
  HttpRequest post = Get("/app/index.html");
  post.method = "POST";
  EXPECT_EQ(router.Find(post).route, nullptr);
  HttpRequest wrong_method = Get("/v1/auth/login");  // exists with POST: still a 405
  EXPECT_EQ(router.Find(wrong_method).allowed, "POST");
}

}  // namespace
}  // namespace parley
