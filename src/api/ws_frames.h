#pragma once

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"
#include "hub/connection.h"

namespace parley {

/// One decoded client WebSocket request: `{"type": .., "id": .., ...}`.
struct ClientFrame {
  std::string type;
  boost::json::value id;  // the request id (string or number), null when absent
  boost::json::object fields;
};

/// Decodes a text frame. On failure `id` is still set when the frame carried a usable one, so
/// that the error reply can name the request it answers. Never throws.
Result<ClientFrame> DecodeClientFrame(std::string_view text, boost::json::value& id);

/// `{"type":"error","re":<id>,"error":{..}}`; `re` is omitted when id is null.
Frame ErrorFrame(const boost::json::value& id, const Error& error);

/// Serializes `fields` with `"type": type` first and `"re": id` when id is not null.
Frame ReplyFrame(std::string_view type, const boost::json::value& id,
                 boost::json::object fields = {});

}  // namespace parley
