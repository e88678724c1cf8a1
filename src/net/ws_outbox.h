#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hub/connection.h"
#include "net/ws_codec.h"

namespace parley::net {

/// The outbound queue of one WebSocket connection: frames waiting to be written, sent with as
/// few gathered `sendmsg` calls as the socket allows.
///
/// Its size counts what the server really holds for the peer, not only payload bytes: each
/// frame's header and a fixed per-entry overhead (the queue slot, the shared string's control
/// block and heap header). Without that, a client that never reads and streams empty pings
/// grew the server by gigabytes while the queue's "bytes" stayed at zero.
///
/// Pongs are coalesced: RFC 6455 (section 5.5.3) lets an endpoint answer only the most recent
/// ping, so at most one pong waits outside the queue, replaced by each new ping and moved into
/// the queue when the socket can take it, or when another frame is queued after it (so that a
/// pong keeps its place before what was queued later).
///
/// Not thread-safe: one session's thread owns it.
class WsOutbox {
 public:
  /// Bytes to send as they are (the handshake response), not a frame.
  static constexpr uint8_t kRawBytes = 0xFF;
  /// What one queued entry costs beyond its bytes.
  static constexpr size_t kEntryOverheadBytes = 64;

  /// What a frame of `payload_bytes` (opcode `opcode`) costs while it is queued.
  static constexpr size_t Cost(size_t payload_bytes, uint8_t opcode) {
    return payload_bytes + kEntryOverheadBytes +
           (opcode == kRawBytes ? 0 : ws::HeaderBytes(payload_bytes));
  }

  /// Appends a frame (or raw bytes) after everything queued, a pending pong included.
  void Push(Frame bytes, uint8_t opcode);
  /// Sets the payload of the pong to send next, replacing one not yet queued.
  void SetPong(std::string_view payload);

  /// The cost of everything held: queued frames and a pending pong.
  size_t queued_bytes() const { return queued_bytes_ + (pong_pending_ ? pong_cost() : 0); }
  /// True when nothing is left to send.
  bool empty() const { return head_ == queue_.size() && !pong_pending_; }
  /// Frames queued and not yet wholly sent (a pending pong not counted).
  size_t queued_frames() const { return queue_.size() - head_; }

  enum class SendResult { kAllSent, kWouldBlock, kFailed, kStopped };
  /// Writes to `fd` (non-blocking) until the queue is empty or the socket is full.
  /// `on_sent(opcode)` is called for each frame wholly sent; when it returns false, sending
  /// stops there (kStopped): e.g. after a close frame.
  template <class OnSent>
  SendResult Send(int fd, OnSent&& on_sent) {
    for (;;) {
      QueuePendingPong();
      if (head_ == queue_.size()) {
        Compact();
        return SendResult::kAllSent;
      }
      size_t total = 0;
      const ssize_t sent = SendSome(fd, total);
      if (sent < 0) return sent == kWouldBlock ? SendResult::kWouldBlock : SendResult::kFailed;
      if (!Advance(static_cast<size_t>(sent), on_sent)) return SendResult::kStopped;
      if (static_cast<size_t>(sent) < total) return SendResult::kWouldBlock;
    }
  }

  /// Drops everything (the connection ended).
  void Clear();

 private:
  struct Outgoing {
    Frame bytes;
    uint8_t opcode;  // an ws::Opcode, or kRawBytes
  };
  // Frames per gathered send (two iovecs each: header and payload).
  static constexpr size_t kFramesPerSend = 64;
  static constexpr ssize_t kWouldBlock = -2;

  size_t pong_cost() const { return Cost(pong_.size(), static_cast<uint8_t>(ws::Opcode::kPong)); }
  void QueuePendingPong();
  void Append(Frame bytes, uint8_t opcode);
  // One sendmsg of up to kFramesPerSend frames; sets `total` to the bytes offered. Returns
  // the bytes sent, kWouldBlock, or -1 on a socket error.
  ssize_t SendSome(int fd, size_t& total);
  // Drops the `sent` bytes from the front, calling on_sent per finished frame; false if it
  // asked to stop.
  template <class OnSent>
  bool Advance(size_t sent, OnSent& on_sent) {
    while (sent > 0) {
      const Outgoing& out = queue_[head_];
      const size_t wire =
          out.bytes->size() + (out.opcode == kRawBytes ? 0 : ws::HeaderBytes(out.bytes->size()));
      const size_t left = wire - head_sent_;
      if (sent < left) {
        head_sent_ += sent;
        return true;
      }
      sent -= left;
      head_sent_ = 0;
      queued_bytes_ -= Cost(out.bytes->size(), out.opcode);
      const uint8_t opcode = out.opcode;
      queue_[head_].bytes.reset();
      ++head_;
      if (!on_sent(opcode)) return false;
    }
    Compact();
    return true;
  }
  // Keeps a slow reader's queue from growing at the front.
  void Compact();

  std::vector<Outgoing> queue_;
  size_t head_ = 0;       // first unsent entry of queue_
  size_t head_sent_ = 0;  // bytes of it already sent
  size_t queued_bytes_ = 0;
  std::string pong_;
  bool pong_pending_ = false;
};

}  // namespace parley::net
