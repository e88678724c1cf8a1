#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "net/gateway_context.h"

namespace parley::net {

/// Serves one accepted TCP connection: HTTP/1.1 keep-alive requests until the peer goes,
/// a timeout passes, or the request is a WebSocket upgrade to /v1/ws, which hands the socket
/// to a WsSession (with `ticket`, the connection's place in the ConnectionLimits). Runs
/// entirely on `worker`'s thread. `internal`: accepted on the metrics listener, which serves
/// only /metrics, /healthz and /readyz (no upgrades).
void StartHttpSession(GatewayContext& context, Worker& worker, boost::asio::ip::tcp::socket socket,
                      ConnectionLimits::Ticket ticket, bool internal);

}  // namespace parley::net
