// Feeds arbitrary bytes to the WebSocket request decoder and dispatcher, as a client could.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/ws_api.h"
#include "api/ws_frames.h"
#include "common/utf8.h"

namespace {

class NullConnection final : public parley::Connection {
 public:
  void Deliver(parley::Frame frame) override { delivered += frame->size(); }
  void Close(int, std::string) override {}
  const std::string& user_id() const override { return id_; }
  const std::string& device_id() const override { return id_; }
  const std::string& session_id() const override { return id_; }
  size_t delivered = 0;

 private:
  std::string id_ = "fuzz";
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const parley::WsApi* api = [] {
    auto* a = new parley::WsApi();
    a->Add("ping", [](const parley::ClientFrame& f, const std::shared_ptr<parley::Connection>& c) {
      c->Deliver(parley::ReplyFrame("pong", f.id));
    });
    return a;
  }();
  auto connection = std::make_shared<NullConnection>();
  api->Dispatch(text, connection);
  // Every reply must be something a client can parse again.
  boost::json::value id;
  auto frame = parley::DecodeClientFrame(text, id);
  if (!frame.ok()) {
    const parley::Frame reply = parley::ErrorFrame(id, frame.error());
    if (!parley::IsValidUtf8(*reply) && parley::IsValidUtf8(text)) __builtin_trap();
  }
  return 0;
}
