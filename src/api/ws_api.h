#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "api/ws_frames.h"
#include "hub/connection.h"

namespace parley {

/// Dispatches an authenticated connection's requests by `type`. Handlers answer through the
/// connection (Deliver), so a handler may answer at once or later from another thread.
///
/// Built at start-up, then read-only: Dispatch may be called from any thread.
class WsApi {
 public:
  using Handler = std::function<void(const ClientFrame&, const std::shared_ptr<Connection>&)>;

  void Add(std::string type, Handler handler);

  /// Decodes `text` and runs its handler; a malformed frame or an unknown type gets an
  /// `error` reply and the connection stays up.
  void Dispatch(std::string_view text, const std::shared_ptr<Connection>& connection) const;

 private:
  std::unordered_map<std::string, Handler> handlers_;
};

}  // namespace parley
