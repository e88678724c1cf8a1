#include "api/ws_api.h"

namespace parley {

void WsApi::Add(std::string type, Handler handler) {
  handlers_.emplace(std::move(type), std::move(handler));
}

void WsApi::Dispatch(std::string_view text, const std::shared_ptr<Connection>& connection) const {
  boost::json::value id;
  auto frame = DecodeClientFrame(text, id);
  if (!frame.ok()) {
    connection->Deliver(ErrorFrame(id, frame.error()));
    return;
  }
  auto it = handlers_.find(frame->type);
  if (it == handlers_.end()) {
    connection->Deliver(
        ErrorFrame(id, Error::InvalidRequest("unknown request type: " + frame->type)));
    return;
  }
  it->second(*frame, connection);
}

}  // namespace parley
