#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/gateway_context.h"

namespace parley::net {

/// Close codes of the contract and of this gateway (docs/PROTOCOL.md lists them).
inline constexpr int kCloseGoingAway = 1001;    // server draining
inline constexpr int kCloseAuthFailed = 4401;   // bad token, or first frame not auth
inline constexpr int kCloseAuthTimeout = 4408;  // no auth frame in time
inline constexpr int kCloseHeartbeat = 4000;    // silent for longer than 2 x heartbeat_ms
inline constexpr int kCloseRateLimited = 4429;  // kept sending far over the frame rate

/// Takes over an upgraded socket: completes the WebSocket handshake, waits for the auth
/// frame, then serves requests through the WsApi until either side closes. Runs entirely on
/// `worker`'s thread; other threads reach it only through Connection::Deliver/Close.
void StartWsSession(GatewayContext& context, Worker& worker, boost::asio::ip::tcp::socket socket,
                    boost::beast::http::request<boost::beast::http::string_body> upgrade);

}  // namespace parley::net
