// bare_relay: the transport ceiling for parley_bench's W2 and W3. A minimal Beast WebSocket
// server with no authentication, storage or JSON: each connection joins the room named in its
// URL (`/v1/ws?room=NAME`); its first frame is answered {"type":"ready"}; every later frame is
// answered {"type":"ack","re":ID} (ID copied from the frame's leading "id":) and passed on,
// unchanged, to every other connection in the room. The bench sends the same frames to it as to
// parleyd, so it runs unchanged.
//
// Two ways to write, to show what they cost:
//   --write-mode gather (default): each outgoing frame is encoded once (header + payload) and
//     shared by its recipients; a connection's queued frames leave in one gathered write.
//   --write-mode beast: one websocket::stream::async_write per frame, one in flight.
// Threads: --threads io_contexts; a connection lives on one. A frame for a room goes once to
// each other thread that has members of that room (one post per thread, not per recipient).
#include <CLI/CLI.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

using Bytes = std::shared_ptr<const std::string>;

bool g_gather = true;

/// A server-to-client text frame (never masked), header and payload in one string.
Bytes EncodeFrame(std::string_view payload) {
  auto out = std::make_shared<std::string>();
  const size_t n = payload.size();
  out->reserve(n + 10);
  out->push_back(static_cast<char>(0x81));
  if (n < 126) {
    out->push_back(static_cast<char>(n));
  } else if (n < 65536) {
    out->push_back(static_cast<char>(126));
    out->push_back(static_cast<char>(n >> 8));
    out->push_back(static_cast<char>(n & 0xff));
  } else {
    out->push_back(static_cast<char>(127));
    for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((uint64_t{n} >> (8 * i)) & 0xff));
  }
  out->append(payload);
  return out;
}

class Session;

/// One io thread: its io_context and the room members that live on it. Touched only on it.
struct Worker {
  asio::io_context io{1};
  std::unordered_map<std::string, std::vector<Session*>> rooms;
};

std::vector<std::unique_ptr<Worker>> g_workers;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, int worker) : ws_(std::move(socket)), worker_(worker) {}

  void Start() {
    http::async_read(
        ws_.next_layer(), buffer_, request_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRequest(ec); });
  }

  /// Queues a frame; on this session's thread.
  void Enqueue(const Bytes& frame, std::string_view payload) {
    if (ended_) return;
    if (g_gather) {
      queue_.push_back(frame);
    } else {
      plain_.emplace_back(payload);
    }
    if (!writing_) WriteNext();
  }

 private:
  void OnRequest(beast::error_code ec) {
    if (ec || !websocket::is_upgrade(request_)) return;
    const std::string target(request_.target());
    const size_t at = target.find("room=");
    if (at != std::string::npos) room_ = target.substr(at + 5, target.find('&', at) - at - 5);
    ws_.read_message_max(64 * 1024);
    ws_.auto_fragment(false);
    ws_.async_accept(request_, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->buffer_.consume(self->buffer_.size());
      self->Join();
      self->Read();
    });
  }

  void Join() {
    joined_ = true;
    if (!room_.empty()) g_workers[worker_]->rooms[room_].push_back(this);
  }

  void Leave() {
    ended_ = true;
    if (!joined_ || room_.empty()) return;
    auto& rooms = g_workers[worker_]->rooms;
    auto it = rooms.find(room_);
    if (it == rooms.end()) return;
    std::erase(it->second, this);
    if (it->second.empty()) rooms.erase(it);
  }

  void Read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Leave();  // closed or reset: the bench is done with it
      self->OnMessage();
      self->buffer_.consume(self->buffer_.size());
      self->Read();
    });
  }

  void OnMessage() {
    const std::string_view text(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    if (!greeted_) {
      greeted_ = true;
      constexpr std::string_view kReady = R"({"type":"ready"})";
      Enqueue(EncodeFrame(kReady), kReady);
      return;
    }
    // The ack: {"type":"ack","re":<the digits after "id":>}.
    std::string ack = R"({"type":"ack","re":)";
    const size_t at = text.find("\"id\":");
    size_t i = at == std::string_view::npos ? text.size() : at + 5;
    const size_t digits_start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '-'))
      ++i;
    ack.append(i > digits_start ? text.substr(digits_start, i - digits_start) : "null").append("}");
    Enqueue(EncodeFrame(ack), ack);

    if (room_.empty()) return;
    const Bytes frame = EncodeFrame(text);
    auto payload = std::string_view(*frame).substr(frame->size() - text.size());
    FanOut(*g_workers[worker_], room_, frame, payload, this);
    for (size_t w = 0; w < g_workers.size(); ++w) {
      if (static_cast<int>(w) == worker_) continue;
      asio::post(g_workers[w]->io, [w, room = room_, frame, payload] {
        FanOut(*g_workers[w], room, frame, payload, nullptr);
      });
    }
  }

  static void FanOut(Worker& worker, const std::string& room, const Bytes& frame,
                     std::string_view payload, const Session* except) {
    auto it = worker.rooms.find(room);
    if (it == worker.rooms.end()) return;
    for (Session* s : it->second) {
      if (s != except) s->Enqueue(frame, payload);
    }
  }

  void WriteNext() {
    if (g_gather) {
      if (queue_.empty()) return;
      writing_ = true;
      inflight_.swap(queue_);
      queue_.clear();
      buffers_.clear();
      for (const auto& f : inflight_) buffers_.emplace_back(asio::buffer(*f));
      asio::async_write(ws_.next_layer(), buffers_,
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          self->writing_ = false;
                          self->inflight_.clear();
                          if (ec) return;
                          self->WriteNext();
                        });
    } else {
      if (plain_.empty()) return;
      writing_ = true;
      ws_.text(true);
      ws_.async_write(asio::buffer(plain_.front()),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->writing_ = false;
                        self->plain_.pop_front();
                        if (ec) return;
                        self->WriteNext();
                      });
    }
  }

  // Reads go through Beast; in gather mode writes go straight to the socket underneath. Beast
  // itself writes only to answer a ping or a close, which the bench sends only when it is done
  // with the connection, so the two never interleave on a connection in use.
  websocket::stream<tcp::socket> ws_;
  int worker_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  std::string room_;
  bool joined_ = false;
  bool greeted_ = false;
  bool ended_ = false;
  bool writing_ = false;
  std::vector<Bytes> queue_;
  std::vector<Bytes> inflight_;
  std::vector<asio::const_buffer> buffers_;
  std::deque<std::string> plain_;  // beast mode: payloads waiting, front one in flight
};

void Accept(tcp::acceptor& acceptor, size_t& next) {
  const size_t w = next++ % g_workers.size();
  acceptor.async_accept(
      g_workers[w]->io, [&acceptor, &next, w](beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        if (!ec) {
          socket.set_option(tcp::no_delay(true), ec);
          std::make_shared<Session>(std::move(socket), static_cast<int>(w))->Start();
        }
        Accept(acceptor, next);
      });
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  int threads = 1;
  std::string write_mode = "gather";
  CLI::App app{
      "bare_relay: the transport ceiling for parley_bench (W2, W3); see the header of "
      "bare_relay.cpp"};
  app.add_option("--listen", listen, "HOST:PORT (port 0 picks one)");
  app.add_option("--threads", threads, "io threads")->check(CLI::Range(1, 64));
  app.add_option("--write-mode", write_mode, "gather or beast")
      ->check(CLI::IsMember({"gather", "beast"}));
  CLI11_PARSE(app, argc, argv);
  g_gather = write_mode == "gather";

  const size_t colon = listen.rfind(':');
  const std::string host = listen.substr(0, colon);
  const auto port = static_cast<uint16_t>(std::atoi(listen.c_str() + colon + 1));
  for (int i = 0; i < threads; ++i) g_workers.push_back(std::make_unique<Worker>());

  asio::io_context& main_io = g_workers[0]->io;
  tcp::acceptor acceptor(main_io);
  const tcp::endpoint endpoint(asio::ip::make_address(host), port);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);
  std::printf("listening on http://%s:%u\n", host.c_str(),
              static_cast<unsigned>(acceptor.local_endpoint().port()));
  std::fflush(stdout);

  size_t next = 0;
  Accept(acceptor, next);
  asio::signal_set signals(main_io, SIGTERM, SIGINT);
  signals.async_wait([&](beast::error_code, int) {
    for (auto& w : g_workers) w->io.stop();
  });
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([i] { g_workers[i]->io.run(); });
  main_io.run();
  for (auto& t : pool) t.join();
  // Sessions still open are dropped with the process: nothing is stored, nothing to flush.
  std::_Exit(0);
}
