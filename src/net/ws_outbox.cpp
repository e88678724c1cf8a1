#include "net/ws_outbox.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>

namespace parley::net {

void WsOutbox::Push(Frame bytes, uint8_t opcode) {
  QueuePendingPong();
  Append(std::move(bytes), opcode);
}

void WsOutbox::Append(Frame bytes, uint8_t opcode) {
  queued_bytes_ += Cost(bytes->size(), opcode);
  queue_.push_back({std::move(bytes), opcode});
}

void WsOutbox::SetPong(std::string_view payload) {
  pong_.assign(payload);
  pong_pending_ = true;
}

void WsOutbox::QueuePendingPong() {
  if (!pong_pending_) return;
  pong_pending_ = false;
  Append(MakeFrame(pong_), static_cast<uint8_t>(ws::Opcode::kPong));
  if (pong_.capacity() > ws::kMaxControlPayload) std::string().swap(pong_);
}

ssize_t WsOutbox::SendSome(int fd, size_t& total) {
  iovec iov[2 * kFramesPerSend];
  uint8_t headers[kFramesPerSend][ws::kMaxHeaderBytes];
  size_t iovs = 0;
  total = 0;
  size_t skip = head_sent_;
  for (size_t i = head_; i < queue_.size() && i - head_ < kFramesPerSend; ++i) {
    const Outgoing& out = queue_[i];
    const size_t frame_index = i - head_;
    size_t header_bytes = 0;
    if (out.opcode != kRawBytes) {
      header_bytes = ws::EncodeHeader(static_cast<ws::Opcode>(out.opcode), out.bytes->size(),
                                      headers[frame_index]);
    }
    std::string_view head(reinterpret_cast<const char*>(headers[frame_index]), header_bytes);
    std::string_view body(*out.bytes);
    // The first frame may be partly sent already.
    const size_t from_head = std::min(skip, head.size());
    head.remove_prefix(from_head);
    body.remove_prefix(skip - from_head);
    skip = 0;
    for (std::string_view part : {head, body}) {
      if (part.empty()) continue;
      iov[iovs++] = {const_cast<char*>(part.data()), part.size()};
      total += part.size();
    }
  }
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = iovs;
  for (;;) {
    const ssize_t sent = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (sent >= 0) return sent;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? kWouldBlock : -1;
  }
}

void WsOutbox::Compact() {
  if (head_ == queue_.size()) {
    queue_.clear();
    head_ = 0;
    if (queue_.capacity() > kFramesPerSend) std::vector<Outgoing>().swap(queue_);
  } else if (head_ >= kFramesPerSend && head_ * 2 >= queue_.size()) {
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

void WsOutbox::Clear() {
  std::vector<Outgoing>().swap(queue_);
  head_ = 0;
  head_sent_ = 0;
  queued_bytes_ = 0;
  pong_pending_ = false;
  std::string().swap(pong_);
}

}  // namespace parley::net
