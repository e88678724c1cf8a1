#include "net/ws_outbox.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace parley::net {
namespace {

constexpr uint8_t kText = static_cast<uint8_t>(ws::Opcode::kText);
constexpr uint8_t kPong = static_cast<uint8_t>(ws::Opcode::kPong);
constexpr uint8_t kClose = static_cast<uint8_t>(ws::Opcode::kClose);

/// A connected pair of Unix stream sockets: the outbox writes to `server`, the test reads
/// `client`. The server end is non-blocking with a small send buffer, as a slow peer's is.
class SocketPair {
 public:
  SocketPair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    server = fds[0];
    client = fds[1];
    const int small = 4096;
    ::setsockopt(server, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    ::fcntl(server, F_SETFL, ::fcntl(server, F_GETFL) | O_NONBLOCK);
    ::fcntl(client, F_SETFL, ::fcntl(client, F_GETFL) | O_NONBLOCK);
  }
  ~SocketPair() {
    ::close(server);
    ::close(client);
  }
  /// Everything readable at the client end now.
  std::string Drain() const {
    std::string out;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(client, buf, sizeof buf);
      if (n <= 0) return out;
      out.append(buf, static_cast<size_t>(n));
    }
  }

  int server = -1;
  int client = -1;
};

/// The frames in `wire` (unmasked server frames), as (opcode, payload).
std::vector<std::pair<uint8_t, std::string>> Frames(const std::string& wire) {
  std::vector<std::pair<uint8_t, std::string>> out;
  size_t pos = 0;
  while (pos + 2 <= wire.size()) {
    const uint8_t opcode = static_cast<uint8_t>(wire[pos]) & 0x0F;
    uint64_t length = static_cast<uint8_t>(wire[pos + 1]) & 0x7F;
    size_t header = 2;
    if (length == 126) {
      length = (static_cast<uint8_t>(wire[pos + 2]) << 8) | static_cast<uint8_t>(wire[pos + 3]);
      header = 4;
    } else if (length == 127) {
      length = 0;
      for (int i = 0; i < 8; ++i) length = (length << 8) | static_cast<uint8_t>(wire[pos + 2 + i]);
      header = 10;
    }
    out.emplace_back(opcode, wire.substr(pos + header, length));
    pos += header + length;
  }
  EXPECT_EQ(pos, wire.size()) << "a partial frame at the end";
  return out;
}

auto Always() {
  return [](uint8_t) { return true; };
}

TEST(WsOutboxTest, AnEmptyFrameStillCostsItsHeaderAndEntry) {
  WsOutbox outbox;
  outbox.Push(MakeFrame(""), kPong);
  // The bug this guards against: a queue of empty pongs that counted as 0 bytes.
  EXPECT_EQ(outbox.queued_bytes(), 2 + WsOutbox::kEntryOverheadBytes);
  outbox.Push(MakeFrame(std::string(200, 'x')), kText);
  EXPECT_EQ(outbox.queued_bytes(), 2 + 64 + 200 + 4 + 64);
  EXPECT_EQ(outbox.queued_frames(), 2u);
}

TEST(WsOutboxTest, SendsEverythingInOrderAndReturnsToZero) {
  SocketPair pair;
  WsOutbox outbox;
  outbox.Push(MakeFrame("HTTP/1.1 101 ...\r\n\r\n"), WsOutbox::kRawBytes);
  outbox.Push(MakeFrame("one"), kText);
  outbox.Push(MakeFrame("two"), kText);
  std::vector<uint8_t> sent;
  EXPECT_EQ(outbox.Send(pair.server,
                        [&](uint8_t opcode) {
                          sent.push_back(opcode);
                          return true;
                        }),
            WsOutbox::SendResult::kAllSent);
  EXPECT_EQ(sent, (std::vector<uint8_t>{WsOutbox::kRawBytes, kText, kText}));
  EXPECT_EQ(outbox.queued_bytes(), 0u);
  EXPECT_TRUE(outbox.empty());
  const std::string wire = pair.Drain();
  ASSERT_EQ(wire.substr(0, 20), "HTTP/1.1 101 ...\r\n\r\n");
  const auto frames = Frames(wire.substr(20));
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].second, "one");
  EXPECT_EQ(frames[1].second, "two");
}

TEST(WsOutboxTest, PingsWhileThePeerDoesNotReadLeaveOnePongWaiting) {
  SocketPair pair;
  WsOutbox outbox;
  // Fill the socket so that nothing more can be written: a peer that does not read.
  outbox.Push(MakeFrame(std::string(1 << 20, 'x')), kText);
  ASSERT_EQ(outbox.Send(pair.server, Always()), WsOutbox::SendResult::kWouldBlock);
  const size_t backlog = outbox.queued_bytes();

  for (int i = 0; i < 100'000; ++i) outbox.SetPong("ping " + std::to_string(i));
  // However many pings came, the server holds one pong.
  EXPECT_EQ(outbox.queued_bytes(), backlog + WsOutbox::Cost(10, kPong));

  // The peer reads again: the big frame, then only the latest ping's pong.
  std::string wire;
  for (int round = 0; round < 10'000 && !outbox.empty(); ++round) {
    wire += pair.Drain();
    (void)outbox.Send(pair.server, Always());
  }
  wire += pair.Drain();
  ASSERT_TRUE(outbox.empty());
  const auto frames = Frames(wire);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[1].first, kPong);
  EXPECT_EQ(frames[1].second, "ping 99999");
  EXPECT_EQ(outbox.queued_bytes(), 0u);
}

TEST(WsOutboxTest, APartlySentFrameResumesWhereItStopped) {
  SocketPair pair;
  WsOutbox outbox;
  const std::string big(300'000, 'b');
  outbox.Push(MakeFrame(big), kText);
  outbox.Push(MakeFrame("after"), kText);
  std::string wire;
  int sends = 0;
  while (!outbox.empty()) {
    ++sends;
    (void)outbox.Send(pair.server, Always());
    wire += pair.Drain();
  }
  EXPECT_GT(sends, 1) << "the socket buffer should not take 300 KB at once";
  const auto frames = Frames(wire);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].second, big);
  EXPECT_EQ(frames[1].second, "after");
}

TEST(WsOutboxTest, StopsRightAfterTheFrameTheCallerStopsAt) {
  SocketPair pair;
  WsOutbox outbox;
  outbox.Push(MakeFrame(std::string("\x03\xe8", 2)), kClose);
  outbox.Push(MakeFrame("never"), kText);
  EXPECT_EQ(outbox.Send(pair.server, [](uint8_t opcode) { return opcode != kClose; }),
            WsOutbox::SendResult::kStopped);
  // Bytes of later frames may have reached the socket in the same send, but the caller has
  // been told where to stop, and the close frame went whole.
  const auto frames = Frames(pair.Drain());
  ASSERT_GE(frames.size(), 1u);
  EXPECT_EQ(frames[0].first, kClose);
}

TEST(WsOutboxTest, APongKeepsItsPlaceBeforeFramesQueuedAfterItsPing) {
  SocketPair pair;
  WsOutbox outbox;
  outbox.SetPong("early");
  outbox.SetPong("latest");
  outbox.Push(MakeFrame("ready"), kText);
  outbox.Push(MakeFrame(std::string("\x03\xe8", 2)), kClose);
  EXPECT_EQ(outbox.Send(pair.server, Always()), WsOutbox::SendResult::kAllSent);
  const auto frames = Frames(pair.Drain());
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].first, kPong);
  EXPECT_EQ(frames[0].second, "latest");
  EXPECT_EQ(frames[1].second, "ready");
  EXPECT_EQ(frames[2].first, kClose);
}

TEST(WsOutboxTest, ClearForgetsEverything) {
  WsOutbox outbox;
  outbox.Push(MakeFrame("x"), kText);
  outbox.SetPong("p");
  outbox.Clear();
  EXPECT_TRUE(outbox.empty());
  EXPECT_EQ(outbox.queued_bytes(), 0u);
}

}  // namespace
}  // namespace parley::net
