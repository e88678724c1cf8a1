#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

/// The WebSocket wire format (RFC 6455) as the server needs it: the opening handshake's key,
/// server frame headers, and client frame headers. Pure functions, no I/O.
///
/// Why not Beast's websocket::stream: it writes one message per call (one send per frame) and
/// keeps ~3 KB of buffers per connection. Parley writes every frame queued for a connection
/// with one gathered send and reads through a buffer shared by its worker thread, which is
/// what the benchmarks' per-connection memory and deliveries per CPU-second depend on
/// (docs/BENCHMARKS.md). Beast still parses the HTTP upgrade request.
namespace parley::net::ws {

enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

/// Longest server frame header: 2 bytes + 8 bytes of 64-bit length (servers never mask).
inline constexpr size_t kMaxHeaderBytes = 10;
/// Control frames carry at most this many payload bytes.
inline constexpr size_t kMaxControlPayload = 125;

/// True when `key` is a Sec-WebSocket-Key a client may send: base64 of 16 bytes.
bool ValidClientKey(std::string_view key);
/// The Sec-WebSocket-Accept value answering `key` (RFC 6455 section 4.2.2).
std::string AcceptKey(std::string_view key);

/// The length of a server frame header for a payload of `payload_bytes`: 2, 4 or 10.
constexpr size_t HeaderBytes(uint64_t payload_bytes) {
  return payload_bytes < 126 ? 2 : payload_bytes <= 0xFFFF ? 4 : 10;
}

/// Writes the header of a final, unmasked frame; returns its length (HeaderBytes).
size_t EncodeHeader(Opcode opcode, uint64_t payload_bytes, uint8_t* out);

/// A close frame's payload: the code in network order, then the reason (cut to fit 125 bytes
/// on a character boundary).
std::string ClosePayload(int code, std::string_view reason);

struct ClientFrameHeader {
  Opcode opcode = Opcode::kText;
  bool fin = true;
  size_t header_bytes = 0;
  uint64_t payload_bytes = 0;
  uint8_t mask[4] = {0, 0, 0, 0};
};

enum class ParseStatus {
  kFrame,          // a whole frame (header and payload) is in the buffer
  kNeedMore,       // not yet: read more
  kProtocolError,  // not a valid client frame: close with 1002
  kTooBig,         // the payload is over the limit: close with 1009
};

/// Reads one client frame from the start of `data`. Enforces what RFC 6455 asks of a client:
/// frames masked, no extension bits, known opcodes, control frames final and at most 125 bytes.
/// `max_payload` bounds data frames; a header that announces more is refused before its payload
/// arrives.
ParseStatus ParseClientFrame(const uint8_t* data, size_t size, uint64_t max_payload,
                             ClientFrameHeader& out);

/// Unmasks `size` payload bytes in place.
void Unmask(uint8_t* payload, size_t size, const uint8_t mask[4]);

/// Checks a received close frame's payload (empty, or a valid code and UTF-8 reason) and reads
/// its code (1005, "no status", when empty).
bool ParseClosePayload(const uint8_t* payload, size_t size, int& code);

}  // namespace parley::net::ws
