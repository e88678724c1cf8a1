#include "net/ws_codec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace parley::net::ws {
namespace {

// A client frame as a browser would send it: masked with `mask`.
std::vector<uint8_t> ClientFrame(Opcode opcode, std::string_view payload, bool fin = true,
                                 const uint8_t mask[4] = nullptr) {
  static const uint8_t kDefaultMask[4] = {0x37, 0xfa, 0x21, 0x3d};
  if (mask == nullptr) mask = kDefaultMask;
  std::vector<uint8_t> out;
  out.push_back(static_cast<uint8_t>((fin ? 0x80 : 0) | static_cast<uint8_t>(opcode)));
  const size_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<uint8_t>(0x80 | n));
  } else if (n <= 0xFFFF) {
    out.push_back(0x80 | 126);
    out.push_back(static_cast<uint8_t>(n >> 8));
    out.push_back(static_cast<uint8_t>(n));
  } else {
    out.push_back(0x80 | 127);
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<uint8_t>(uint64_t{n} >> (8 * i)));
  }
  out.insert(out.end(), mask, mask + 4);
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(payload[i]) ^ mask[i % 4]);
  return out;
}

TEST(WsCodecTest, AcceptKeyMatchesTheRfcExample) {
  // RFC 6455 section 1.3.
  EXPECT_TRUE(ValidClientKey("dGhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_EQ(AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WsCodecTest, MalformedClientKeysAreRefused) {
  EXPECT_FALSE(ValidClientKey(""));
  EXPECT_FALSE(ValidClientKey("dGhlIHNhbXBsZSBub25jZQ"));    // no padding
  EXPECT_FALSE(ValidClientKey("dGhlIHNhbXBsZSBub25jZQ=x"));  // bad padding
  EXPECT_FALSE(ValidClientKey("dGhlIHNhbXBsZS Bub25jZQ=="));
}

TEST(WsCodecTest, HeadersUseTheShortestLengthEncoding) {
  uint8_t h[kMaxHeaderBytes];
  ASSERT_EQ(EncodeHeader(Opcode::kText, 125, h), 2u);
  EXPECT_EQ(h[0], 0x81);
  EXPECT_EQ(h[1], 125);
  ASSERT_EQ(EncodeHeader(Opcode::kText, 126, h), 4u);
  EXPECT_EQ(h[1], 126);
  EXPECT_EQ((h[2] << 8) | h[3], 126);
  ASSERT_EQ(EncodeHeader(Opcode::kClose, 65536, h), 10u);
  EXPECT_EQ(h[0], 0x88);
  EXPECT_EQ(h[1], 127);
  EXPECT_EQ(h[7], 1);  // 65536 = 0x0000000000010000
  EXPECT_EQ(h[8], 0);
}

TEST(WsCodecTest, AMaskedFrameParsesAndUnmasks) {
  for (size_t size : {0u, 5u, 125u, 126u, 1000u, 70000u}) {
    std::string payload(size, 'a');
    for (size_t i = 0; i < size; ++i) payload[i] = static_cast<char>('a' + i % 26);
    auto bytes = ClientFrame(Opcode::kText, payload);
    ClientFrameHeader h;
    ASSERT_EQ(ParseClientFrame(bytes.data(), bytes.size(), 1 << 20, h), ParseStatus::kFrame)
        << size;
    EXPECT_EQ(h.payload_bytes, size);
    EXPECT_EQ(h.header_bytes + size, bytes.size());
    uint8_t* p = bytes.data() + h.header_bytes;
    Unmask(p, size, h.mask);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(p), size), payload);
  }
}

TEST(WsCodecTest, EveryPrefixOfAFrameNeedsMore) {
  auto bytes = ClientFrame(Opcode::kText, std::string(300, 'x'));
  ClientFrameHeader h;
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(ParseClientFrame(bytes.data(), n, 1 << 20, h), ParseStatus::kNeedMore) << n;
  }
}

TEST(WsCodecTest, WhatAClientMustNotSendIsAProtocolError) {
  ClientFrameHeader h;
  auto unmasked = ClientFrame(Opcode::kText, "hi");
  unmasked[1] &= 0x7F;
  EXPECT_EQ(ParseClientFrame(unmasked.data(), unmasked.size(), 100, h),
            ParseStatus::kProtocolError);

  auto rsv = ClientFrame(Opcode::kText, "hi");
  rsv[0] |= 0x40;  // compression was not negotiated
  EXPECT_EQ(ParseClientFrame(rsv.data(), rsv.size(), 100, h), ParseStatus::kProtocolError);

  auto unknown = ClientFrame(static_cast<Opcode>(0x3), "hi");
  EXPECT_EQ(ParseClientFrame(unknown.data(), unknown.size(), 100, h), ParseStatus::kProtocolError);

  auto fragmented_ping = ClientFrame(Opcode::kPing, "hi", /*fin=*/false);
  EXPECT_EQ(ParseClientFrame(fragmented_ping.data(), fragmented_ping.size(), 100, h),
            ParseStatus::kProtocolError);

  auto long_ping = ClientFrame(Opcode::kPing, std::string(126, 'p'));
  EXPECT_EQ(ParseClientFrame(long_ping.data(), long_ping.size(), 1000, h),
            ParseStatus::kProtocolError);
}

TEST(WsCodecTest, ATooBigFrameIsRefusedFromItsHeaderAlone) {
  auto bytes = ClientFrame(Opcode::kText, std::string(70000, 'x'));
  ClientFrameHeader h;
  // Only the header has arrived: the limit applies before the payload is buffered.
  EXPECT_EQ(ParseClientFrame(bytes.data(), 14, 65536, h), ParseStatus::kTooBig);
  // Control frames are bounded by their own rule, not by the data limit.
  auto ping = ClientFrame(Opcode::kPing, "abc");
  EXPECT_EQ(ParseClientFrame(ping.data(), ping.size(), 0, h), ParseStatus::kFrame);
}

TEST(WsCodecTest, ClosePayloadsRoundTripAndBadOnesAreRefused) {
  const std::string payload = ClosePayload(4401, "unauthorized");
  int code = 0;
  ASSERT_TRUE(
      ParseClosePayload(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), code));
  EXPECT_EQ(code, 4401);
  EXPECT_EQ(payload.substr(2), "unauthorized");

  ASSERT_TRUE(ParseClosePayload(nullptr, 0, code));
  EXPECT_EQ(code, 1005);
  const uint8_t one_byte[] = {0x03};
  EXPECT_FALSE(ParseClosePayload(one_byte, 1, code));
  const uint8_t reserved[] = {0x03, 0xED};  // 1005 may not be sent
  EXPECT_FALSE(ParseClosePayload(reserved, 2, code));
  const uint8_t bad_utf8[] = {0x03, 0xE8, 0xC3};
  EXPECT_FALSE(ParseClosePayload(bad_utf8, 3, code));
}

TEST(WsCodecTest, ALongCloseReasonIsCutOnACharacterBoundary) {
  std::string reason;
  for (int i = 0; i < 100; ++i) reason += "\xC3\xA9";  // é, two bytes each
  const std::string payload = ClosePayload(1000, reason);
  EXPECT_LE(payload.size(), kMaxControlPayload);
  int code = 0;
  EXPECT_TRUE(
      ParseClosePayload(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), code));
}

}  // namespace
}  // namespace parley::net::ws
