#include "net/http_request_check.h"

#include <gtest/gtest.h>

#include <string>

namespace parley::net {
namespace {

constexpr uint64_t kBodyLimit = 1024;

// "" when the bytes would be served, else the refusal's message.
std::string Refusal(std::string_view bytes) {
  auto error = CheckRequestBytes(bytes, kBodyLimit);
  return error ? error->message : "";
}

TEST(HttpRequestCheckTest, OrdinaryRequestsPass) {
  EXPECT_EQ(Refusal("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"), "");
  EXPECT_EQ(Refusal("\r\nGET / HTTP/1.1\r\nHost: localhost\r\n\r\n"), "");
  EXPECT_EQ(Refusal("GET /x?a=1&b=%20 HTTP/1.0\r\n\r\n"), "");
  EXPECT_EQ(Refusal("POST /v1/auth/login HTTP/1.1\r\nHost: [::1]:80\r\nContent-Length: 2\r\n"
                    "Content-Type: application/json\r\n\r\n{}"),
            "");
  EXPECT_EQ(Refusal("POST /v1/x HTTP/1.1\r\nHost: a\r\ntransfer-encoding: Chunked\r\n\r\n"
                    "2\r\n{}\r\n0\r\n\r\n"),
            "");
  EXPECT_EQ(Refusal("GET / HTTP/1.1\r\nHost: a\r\nX-Tab:\tvalue\xc3\xa9\r\n\r\n"), "");
}

TEST(HttpRequestCheckTest, FramingAProxyCouldReadDifferentlyIsRefused) {
  const std::string head = "POST /v1/auth/login HTTP/1.1\r\nHost: a\r\n";
  for (const std::string fields : {
           "Transfer-Encoding: chunked, identity\r\n",
           "Transfer-Encoding: identity\r\n",
           "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
           "Transfer-Encoding: gzip, chunked\r\n",
           "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
           "Content-Length: 5\r\nContent-Length: 5\r\n",
           "Content-Length: 5, 5\r\n",
           "Content-Length: +5\r\n",
           "Content-Length: 0x5\r\n",
           "Content-Length:\r\n",
       }) {
    EXPECT_NE(Refusal(head + fields + "\r\nhello"), "") << fields;
  }
  EXPECT_NE(Refusal("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), "");
}

TEST(HttpRequestCheckTest, ObsFoldAndBadLineSyntaxAreRefused) {
  for (const char* bytes : {
           "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n chunked\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\tfolded\r\n\r\n",
           "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
           "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",
           "GET / HTTP/1.1\nHost: a\n\n",
           "GET / HTTP/1.1\r\nHost: a\n\r\n",
           "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
           "GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
           "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n",
           "GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n",
       }) {
    EXPECT_NE(Refusal(bytes), "") << bytes;
  }
  EXPECT_NE(Refusal(std::string("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 29)), "");
}

TEST(HttpRequestCheckTest, HostMustBeThereOnceAndValid) {
  EXPECT_NE(Refusal("GET / HTTP/1.1\r\n\r\n"), "");
  EXPECT_NE(Refusal("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), "");
  EXPECT_NE(Refusal("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), "");
  EXPECT_NE(Refusal("GET / HTTP/1.1\r\nHost:\r\n\r\n"), "");
  EXPECT_NE(Refusal("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n"), "");
  EXPECT_NE(Refusal("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), "");
  EXPECT_NE(Refusal("GET / HTTP/1.1\r\nHost: a:port\r\n\r\n"), "");
  EXPECT_NE(Refusal("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), "");
}

TEST(HttpRequestCheckTest, OnlyOriginFormTargetsAreServed) {
  for (const char* target :
       {"http://a/index.html", "a:80", "*", "index.html", "/a#frag", "/a%zz"}) {
    EXPECT_NE(Refusal("GET " + std::string(target) + " HTTP/1.1\r\nHost: a\r\n\r\n"), "") << target;
  }
}

TEST(HttpRequestCheckTest, RepeatedSingletonFieldsAreRefused) {
  EXPECT_NE(Refusal("GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer x\r\n"
                    "Authorization: Bearer y\r\n\r\n"),
            "");
  EXPECT_NE(Refusal("GET /v1/ws HTTP/1.1\r\nHost: a\r\nOrigin: http://a\r\n"
                    "Origin: http://b\r\n\r\n"),
            "");
}

TEST(HttpRequestCheckTest, ScannerRefusesEarlyAndBoundsTheHead) {
  RequestHeadScanner scanner;
  EXPECT_EQ(scanner.Feed("GET / HTTP/1.1\r"), RequestHeadScanner::State::kIncomplete);
  EXPECT_EQ(scanner.Feed("GET / HTTP/1.1\r\nHost: a\r"), RequestHeadScanner::State::kIncomplete);
  EXPECT_EQ(scanner.Feed("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /metrics"),
            RequestHeadScanner::State::kComplete);
  EXPECT_EQ(scanner.head_length(), 27u);

  RequestHeadScanner big;
  const std::string huge = "GET / HTTP/1.1\r\nX: " + std::string(kMaxRequestHeadBytes, 'a');
  EXPECT_EQ(big.Feed(huge), RequestHeadScanner::State::kInvalid);
}

}  // namespace
}  // namespace parley::net
