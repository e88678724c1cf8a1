#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <string_view>

#include "net/gateway_context.h"

namespace parley::net {

/// Close codes of the contract and of this gateway (docs/PROTOCOL.md lists them).
inline constexpr int kCloseGoingAway = 1001;    // server draining
inline constexpr int kCloseAuthFailed = 4401;   // bad token, or first frame not auth
inline constexpr int kCloseAuthTimeout = 4408;  // no auth frame in time
inline constexpr int kCloseHeartbeat = 4000;    // silent for longer than 2 x heartbeat_ms
inline constexpr int kCloseRateLimited = 4429;  // kept sending far over the frame rate

/// Takes over a socket whose upgrade request was accepted (`client_key`: its valid
/// Sec-WebSocket-Key; `early_bytes`: what the HTTP session read past the request, i.e. frames
/// sent before the 101): answers 101, waits for the auth frame, then serves requests through
/// the WsApi until either side closes. `ticket` moves to authenticated on `ready` and is
/// released when the session ends. Runs entirely on `worker`'s thread; other threads reach
/// it only through Connection::Deliver/Close.
void StartWsSession(GatewayContext& context, Worker& worker, boost::asio::ip::tcp::socket socket,
                    std::string_view client_key, std::string_view early_bytes,
                    ConnectionLimits::Ticket ticket);

}  // namespace parley::net
