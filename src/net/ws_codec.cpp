#include "net/ws_codec.h"

#include <openssl/evp.h>

#include <cstring>

#include "common/utf8.h"

namespace parley::net::ws {
namespace {

constexpr std::string_view kHandshakeGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool IsBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

bool KnownOpcode(uint8_t op) { return op <= 0x2 || (op >= 0x8 && op <= 0xA); }

// Codes a peer may send in a close frame (RFC 6455 section 7.4).
bool ValidCloseCode(int code) {
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011);
}

}  // namespace

bool ValidClientKey(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (char c : key.substr(0, 22)) {
    if (!IsBase64Char(c)) return false;
  }
  return true;
}

std::string AcceptKey(std::string_view key) {
  std::string input(key);
  input += kHandshakeGuid;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_Digest(input.data(), input.size(), digest, &digest_len, EVP_sha1(), nullptr);
  unsigned char encoded[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(encoded, digest, static_cast<int>(digest_len));
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<size_t>(n));
}

size_t EncodeHeader(Opcode opcode, uint64_t payload_bytes, uint8_t* out) {
  out[0] = static_cast<uint8_t>(0x80 | static_cast<uint8_t>(opcode));
  const size_t length = HeaderBytes(payload_bytes);
  if (length == 2) {
    out[1] = static_cast<uint8_t>(payload_bytes);
  } else if (length == 4) {
    out[1] = 126;
    out[2] = static_cast<uint8_t>(payload_bytes >> 8);
    out[3] = static_cast<uint8_t>(payload_bytes);
  } else {
    out[1] = 127;
    for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<uint8_t>(payload_bytes >> (56 - 8 * i));
  }
  return length;
}

std::string ClosePayload(int code, std::string_view reason) {
  std::string out;
  out.push_back(static_cast<char>((code >> 8) & 0xFF));
  out.push_back(static_cast<char>(code & 0xFF));
  if (reason.size() > kMaxControlPayload - 2) {
    reason = reason.substr(0, kMaxControlPayload - 2);
    // Back off to the start of a character: never send a cut UTF-8 sequence.
    while (!reason.empty() && (static_cast<uint8_t>(reason.back()) & 0xC0) == 0x80)
      reason.remove_suffix(1);
    if (!reason.empty() && (static_cast<uint8_t>(reason.back()) & 0x80) != 0)
      reason.remove_suffix(1);
  }
  out.append(reason);
  return out;
}

ParseStatus ParseClientFrame(const uint8_t* data, size_t size, uint64_t max_payload,
                             ClientFrameHeader& out) {
  if (size < 2) return ParseStatus::kNeedMore;
  const uint8_t b0 = data[0];
  const uint8_t b1 = data[1];
  if ((b0 & 0x70) != 0) return ParseStatus::kProtocolError;  // no extension is negotiated
  const uint8_t op = b0 & 0x0F;
  if (!KnownOpcode(op)) return ParseStatus::kProtocolError;
  if ((b1 & 0x80) == 0) return ParseStatus::kProtocolError;  // clients must mask
  out.opcode = static_cast<Opcode>(op);
  out.fin = (b0 & 0x80) != 0;
  const bool control = op >= 0x8;
  uint64_t len = b1 & 0x7F;
  size_t pos = 2;
  if (control && (!out.fin || len > kMaxControlPayload)) return ParseStatus::kProtocolError;
  if (len == 126) {
    if (size < 4) return ParseStatus::kNeedMore;
    len = (uint64_t{data[2]} << 8) | data[3];
    if (len < 126) return ParseStatus::kProtocolError;  // not the minimal encoding
    pos = 4;
  } else if (len == 127) {
    if (size < 10) return ParseStatus::kNeedMore;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | data[2 + i];
    if (len <= 0xFFFF || (len >> 63) != 0) return ParseStatus::kProtocolError;
    pos = 10;
  }
  if (!control && len > max_payload) return ParseStatus::kTooBig;
  if (size < pos + 4) return ParseStatus::kNeedMore;
  std::memcpy(out.mask, data + pos, 4);
  pos += 4;
  out.header_bytes = pos;
  out.payload_bytes = len;
  if (size - pos < len) return ParseStatus::kNeedMore;
  return ParseStatus::kFrame;
}

void Unmask(uint8_t* payload, size_t size, const uint8_t mask[4]) {
  // Eight bytes at a time: the mask repeats every four, so a doubled key lines up.
  uint64_t key8 = 0;
  uint8_t key_bytes[8];
  for (int i = 0; i < 8; ++i) key_bytes[i] = mask[i % 4];
  std::memcpy(&key8, key_bytes, 8);
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t chunk;
    std::memcpy(&chunk, payload + i, 8);
    chunk ^= key8;
    std::memcpy(payload + i, &chunk, 8);
  }
  for (; i < size; ++i) payload[i] ^= mask[i % 4];
}

bool ParseClosePayload(const uint8_t* payload, size_t size, int& code) {
  if (size == 0) {
    code = 1005;
    return true;
  }
  if (size == 1) return false;
  code = (payload[0] << 8) | payload[1];
  if (!ValidCloseCode(code)) return false;
  return IsValidUtf8(std::string_view(reinterpret_cast<const char*>(payload) + 2, size - 2));
}

}  // namespace parley::net::ws
