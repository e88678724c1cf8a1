// End-to-end: HTTP/1.1 framing read strictly (RFC 9112). Each case sends raw bytes on a
// socket, with a request smuggled behind the ambiguous one, and checks that the server
// answers 400 once, closes the connection, and never answers the smuggled request.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/matchers.h"
#include "support/parleyd_process.h"
#include "support/raw_http.h"

namespace parley::e2e {
namespace {

// What a proxy in front of parleyd might forward as a second request on the connection.
std::string Smuggled() {
  return "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
         std::string(kTestMetricsToken) + "\r\n\r\n";
}

struct Case {
  std::string name;
  std::string bytes;
};

class HttpParsingE2eTest : public ::testing::Test {
 protected:
  // Sends `bytes`, reads until the server closes, and checks the one 400 and the close.
  void ExpectRefusedAndClosed(const Case& c) {
    SCOPED_TRACE(c.name);
    RawHttpConnection conn(server_.Port());
    ASSERT_TRUE(conn.connected()) << conn.error();
    ASSERT_TRUE(conn.Send(c.bytes));
    const std::string received = conn.ReadUntilClosed();
    EXPECT_TRUE(conn.closed()) << "the connection stayed open after the refusal";
    EXPECT_EQ(StatusOf(received), 400) << received;
    EXPECT_EQ(CountResponses(received), 1) << "something behind the refused request was served:\n"
                                           << received;
    EXPECT_THAT(received, ::testing::HasSubstr("invalid_request"));
    EXPECT_THAT(received, ::testing::Not(::testing::HasSubstr("parley_http_requests_total")));
  }

  void ExpectStillServing() {
    EXPECT_THAT(HttpClient(server_.Port()).Get("/healthz"), HasStatus(200));
  }

  ParleydProcess server_;
};

TEST_F(HttpParsingE2eTest, AmbiguousBodyFramingIsRefusedAndNothingBehindItIsServed) {
  const std::string post = "POST /v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  const std::string smuggled = Smuggled();
  const std::string chunk = "0\r\n\r\n";
  const std::vector<Case> cases = {
      {"TE chunked, identity", post + "Transfer-Encoding: chunked, identity\r\n\r\n" + smuggled},
      {"TE identity", post + "Transfer-Encoding: identity\r\n\r\n" + smuggled},
      {"TE gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n" + chunk + smuggled},
      {"TE twice", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" +
                       chunk + smuggled},
      {"TE obs-folded", post + "Transfer-Encoding:\r\n chunked\r\n\r\n" + chunk + smuggled},
      {"TE with Content-Length", post + "Content-Length: " + std::to_string(chunk.size()) +
                                     "\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + smuggled},
      {"TE on HTTP/1.0",
       "POST /v1/auth/login HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + smuggled},
      {"two Content-Length", post + "Content-Length: 0\r\nContent-Length: 0\r\n\r\n" + smuggled},
      {"Content-Length list", post + "Content-Length: 0, 0\r\n\r\n" + smuggled},
      {"Content-Length sign", post + "Content-Length: +0\r\n\r\n" + smuggled},
  };
  for (const Case& c : cases) ExpectRefusedAndClosed(c);
  ExpectStillServing();
}

TEST_F(HttpParsingE2eTest, LineSyntaxAProxyCouldReadDifferentlyIsRefused) {
  const std::string smuggled = Smuggled();
  const std::vector<Case> cases = {
      {"obs-fold in another field",
       "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: 1\r\n  2\r\n\r\n" + smuggled},
      {"whitespace before the first field",
       "GET /healthz HTTP/1.1\r\n Host: 127.0.0.1\r\n\r\n" + smuggled},
      {"space before the colon", "GET /healthz HTTP/1.1\r\nHost : 127.0.0.1\r\n\r\n" + smuggled},
      {"tab before the colon",
       "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length\t: 0\r\n\r\n" + smuggled},
      {"bare CR", "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\rX-A: b\r\n\r\n" + smuggled},
      {"bare LF", "GET /healthz HTTP/1.1\nHost: 127.0.0.1\n\n" + smuggled},
      {"NUL in a value", std::string("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a") + '\0' +
                             "b\r\n\r\n" + smuggled},
      {"control character in a value",
       "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\x01"
       "b\r\n\r\n" +
           smuggled},
      {"two spaces in the request line",
       "GET  /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + smuggled},
      {"HTTP/2.0 request line", "GET /healthz HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n" + smuggled},
  };
  for (const Case& c : cases) ExpectRefusedAndClosed(c);
  ExpectStillServing();
}

TEST_F(HttpParsingE2eTest, HostMustBeThereExactlyOnce) {
  const std::string smuggled = Smuggled();
  const std::vector<Case> cases = {
      {"no Host", "GET /healthz HTTP/1.1\r\n\r\n" + smuggled},
      {"empty Host", "GET /healthz HTTP/1.1\r\nHost:\r\n\r\n" + smuggled},
      {"two Hosts",
       "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n" + smuggled},
      {"same Host twice", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n" + smuggled},
      {"Host with userinfo", "GET /healthz HTTP/1.1\r\nHost: user@127.0.0.1\r\n\r\n" + smuggled},
      {"two Hosts on HTTP/1.0", "GET /healthz HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n" + smuggled},
  };
  for (const Case& c : cases) ExpectRefusedAndClosed(c);
  ExpectStillServing();
}

TEST_F(HttpParsingE2eTest, OnlyOriginFormTargetsAreServed) {
  const std::string smuggled = Smuggled();
  const std::vector<Case> cases = {
      {"absolute-form",
       "GET http://127.0.0.1/index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + smuggled},
      {"absolute-form to another host",
       "GET http://evil.example/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + smuggled},
      {"authority-form", "CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n" + smuggled},
      {"asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + smuggled},
      {"relative target", "GET healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + smuggled},
      {"fragment", "GET /healthz#x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + smuggled},
  };
  for (const Case& c : cases) ExpectRefusedAndClosed(c);
  ExpectStillServing();
}

TEST_F(HttpParsingE2eTest, WellFormedPipelinedRequestsAreStillServed) {
  RawHttpConnection conn(server_.Port());
  ASSERT_TRUE(conn.connected()) << conn.error();
  ASSERT_TRUE(
      conn.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                "POST /v1/auth/login HTTP/1.1\r\nhost: 127.0.0.1\r\nTransfer-Encoding: Chunked\r\n"
                "Content-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
                "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
  const std::string received = conn.ReadUntilClosed();
  EXPECT_EQ(CountResponses(received), 3) << received;
  EXPECT_EQ(StatusOf(received), 200) << received;
  EXPECT_THAT(received, ::testing::HasSubstr("HTTP/1.1 400"));  // {} has no username: handled
  EXPECT_THAT(received, ::testing::HasSubstr(R"({"status":"ready"})"));
}

}  // namespace
}  // namespace parley::e2e
