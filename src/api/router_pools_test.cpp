// Router::PoolFor: which pool runs a handler, and the bounded queue of kHashing handlers.

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <future>
#include <latch>

#include "api/router.h"

namespace parley {
namespace {

// Runs `route`'s handler on the pool PoolFor picks, as the gateway does, and waits.
HttpReply RunThere(const Router& router, const Router::Route& route,
                   boost::asio::thread_pool& fallback) {
  std::promise<HttpReply> done;
  boost::asio::post(router.PoolFor(route, fallback), [&] {
    HttpRequest request;
    done.set_value(route.handler(request));
  });
  return done.get_future().get();
}

class RouterPoolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HandlerPools pools;
    pools.reads = &reads_;
    pools.writes = &writes_;
    pools.hashing = &hashing_;
    pools.hashing_max_pending = 2;
    pools.hashing_retry_after_ms = 750;
    pools.hashing_pending = &pending_;
    pools.hashing_refused = &refused_;
    router_.SetPools(pools);
  }
  void TearDown() override {
    for (auto* pool : {&reads_, &writes_, &hashing_, &fallback_}) pool->join();
  }

  const Router::Route& RouteOf(std::string method, std::string path) {
    HttpRequest request;
    request.method = std::move(method);
    request.path = std::move(path);
    const Router::Route* route = router_.Find(request).route;
    EXPECT_NE(route, nullptr);
    return *route;
  }

  boost::asio::thread_pool reads_{1}, writes_{1}, hashing_{1}, fallback_{1};
  Gauge pending_;
  Counter refused_;
  Router router_;
};

TEST_F(RouterPoolsTest, StorageReadsAndWritesHaveTheirOwnPools) {
  auto where = [this](HttpRequest&) {
    HttpReply reply;
    reply.body = reads_.get_executor().running_in_this_thread()    ? "reads"
                 : writes_.get_executor().running_in_this_thread() ? "writes"
                                                                   : "elsewhere";
    return reply;
  };
  router_.Add("GET", "/v1/things", HandlerKind::kBlocking, where);
  router_.Add("POST", "/v1/things", HandlerKind::kBlocking, where);
  EXPECT_EQ(RunThere(router_, RouteOf("GET", "/v1/things"), fallback_).body, "reads");
  EXPECT_EQ(RunThere(router_, RouteOf("POST", "/v1/things"), fallback_).body, "writes");
  EXPECT_EQ(&router_.ReadPool(fallback_), &reads_);
}

TEST_F(RouterPoolsTest, HashingRunsOnItsPoolAndPastTheQueueIsRefusedAtOnce) {
  std::latch release(1);
  router_.Add("POST", "/v1/auth/login", HandlerKind::kHashing, [&](HttpRequest&) {
    EXPECT_TRUE(hashing_.get_executor().running_in_this_thread());
    release.wait();
    return HttpReply::Json(200, "hashed");
  });
  const Router::Route& login = RouteOf("POST", "/v1/auth/login");

  // Two places: one running (blocked on the latch), one waiting.
  std::promise<HttpReply> first, second;
  for (auto* done : {&first, &second}) {
    boost::asio::post(router_.PoolFor(login, fallback_), [&login, done] {
      HttpRequest request;
      done->set_value(login.handler(request));
    });
  }
  EXPECT_EQ(pending_.Value(), 2);
  // The third is sent elsewhere and answered 503 without hashing.
  const HttpReply refused = RunThere(router_, login, fallback_);
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.body.find("\"retry_after_ms\":750"), std::string::npos) << refused.body;
  EXPECT_EQ(refused_.Value(), 1u);

  release.count_down();
  EXPECT_EQ(first.get_future().get().body, "hashed");
  EXPECT_EQ(second.get_future().get().body, "hashed");
  EXPECT_EQ(pending_.Value(), 0);
  // The places are back.
  EXPECT_EQ(RunThere(router_, login, fallback_).body, "hashed");
}

TEST(RouterNoPoolsTest, WithoutPoolsEverythingRunsOnTheFallback) {
  Router router;
  router.Add("POST", "/v1/auth/login", HandlerKind::kHashing,
             [](HttpRequest&) { return HttpReply::Json(200, "hashed"); });
  HttpRequest request;
  request.method = "POST";
  request.path = "/v1/auth/login";
  const Router::Route* route = router.Find(request).route;
  ASSERT_NE(route, nullptr);
  boost::asio::thread_pool fallback(1);
  EXPECT_EQ(&router.PoolFor(*route, fallback), &fallback);
  EXPECT_EQ(route->handler(request).body, "hashed");
  fallback.join();
}

}  // namespace
}  // namespace parley
