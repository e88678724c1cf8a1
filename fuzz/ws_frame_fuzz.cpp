// Feeds arbitrary bytes to the WebSocket client frame parser the way ws_session's Parse does:
// parse a frame, unmask its payload in place, advance, until the bytes run out or a frame is
// refused; fragmented messages are put together against the frame limit. Checks what the
// session relies on: a frame never reaches past the bytes it was parsed from, data frames
// respect the limit, control frames are final and short, and a frame is not whole before its
// last byte.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/utf8.h"
#include "net/ws_codec.h"

namespace {

namespace ws = parley::net::ws;

// Small, so that the fuzzer reaches the limit (a header announcing more, or fragments adding
// up to more) without megabyte inputs. ws_session uses --max-frame-bytes (64 KiB by default).
constexpr uint64_t kMaxMessage = 1024;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

bool IsControl(ws::Opcode op) { return static_cast<uint8_t>(op) >= 0x8; }

// The handshake key checks, on the first bytes.
void FuzzHandshakeKey(const uint8_t* data, size_t size) {
  const std::string_view key(reinterpret_cast<const char*>(data), size < 24 ? size : 24);
  if (!ws::ValidClientKey(key)) return;
  const std::string accept = ws::AcceptKey(key);
  Check(accept.size() == 28 && accept.back() == '=');  // base64 of a 20-byte SHA-1
}

// A received close payload: when it parses, its code comes back out of ClosePayload.
void FuzzClosePayload(const uint8_t* payload, size_t size) {
  int code = 0;
  if (!ws::ParseClosePayload(payload, size, code)) return;
  if (size == 0) {
    Check(code == 1005);
    return;
  }
  const std::string_view reason(reinterpret_cast<const char*>(payload) + 2, size - 2);
  const std::string again = ws::ClosePayload(code, reason);
  Check(again.size() <= ws::kMaxControlPayload);
  int code_again = 0;
  Check(ws::ParseClosePayload(reinterpret_cast<const uint8_t*>(again.data()), again.size(),
                              code_again));
  Check(code_again == code);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* input, size_t size) {
  FuzzHandshakeKey(input, size);

  std::vector<uint8_t> buffer(input, input + size);  // unmasked in place, like the session's
  uint8_t* data = buffer.data();
  size_t pos = 0;
  std::string message;  // a fragmented message being put together
  bool in_message = false;
  bool message_text = false;

  while (pos < size) {
    ws::ClientFrameHeader header;
    const uint64_t room = kMaxMessage - message.size();
    const size_t left = size - pos;
    const ws::ParseStatus status = ws::ParseClientFrame(data + pos, left, room, header);
    if (status == ws::ParseStatus::kTooBig) {
      Check(!IsControl(static_cast<ws::Opcode>(data[pos] & 0x0F)));
      break;
    }
    if (status != ws::ParseStatus::kFrame) break;  // kNeedMore, kProtocolError: the session stops

    // The frame lies within the bytes it was parsed from.
    Check(header.header_bytes >= 6 && header.header_bytes <= 14);
    Check(header.header_bytes <= left);
    Check(header.payload_bytes <= left - header.header_bytes);
    const size_t frame_bytes = header.header_bytes + static_cast<size_t>(header.payload_bytes);
    if (IsControl(header.opcode)) {
      Check(header.fin);
      Check(header.payload_bytes <= ws::kMaxControlPayload);
    } else {
      Check(header.payload_bytes <= room);
    }
    // Not whole one byte earlier: the session keeps such a prefix and waits for the rest.
    ws::ClientFrameHeader shorter;
    Check(ws::ParseClientFrame(data + pos, frame_bytes - 1, room, shorter) ==
          ws::ParseStatus::kNeedMore);

    // Unmask in place; the word-at-a-time loop must match a byte-at-a-time one.
    uint8_t* payload = data + pos + header.header_bytes;
    const size_t payload_bytes = static_cast<size_t>(header.payload_bytes);
    std::vector<uint8_t> expected(payload, payload + payload_bytes);
    for (size_t i = 0; i < payload_bytes; ++i) expected[i] ^= header.mask[i % 4];
    ws::Unmask(payload, payload_bytes, header.mask);
    Check(payload_bytes == 0 || std::memcmp(payload, expected.data(), payload_bytes) == 0);
    pos += frame_bytes;

    const std::string_view bytes(reinterpret_cast<const char*>(payload), payload_bytes);
    switch (header.opcode) {
      case ws::Opcode::kClose:
        FuzzClosePayload(payload, payload_bytes);
        return 0;  // the session reads nothing after a close
      case ws::Opcode::kPing:
      case ws::Opcode::kPong:
        continue;
      case ws::Opcode::kText:
      case ws::Opcode::kBinary:
        if (in_message) return 0;  // 1002
        if (header.fin) {
          if (header.opcode == ws::Opcode::kText) (void)parley::IsValidUtf8(bytes);
          continue;
        }
        in_message = true;
        message_text = header.opcode == ws::Opcode::kText;
        message.assign(bytes);
        continue;
      case ws::Opcode::kContinuation:
        if (!in_message) return 0;  // 1002
        message.append(bytes);
        Check(message.size() <= kMaxMessage);
        if (!header.fin) continue;
        in_message = false;
        if (message_text) (void)parley::IsValidUtf8(message);
        message.clear();
        continue;
    }
    __builtin_trap();  // ParseClientFrame let an unknown opcode through
  }
  return 0;
}
