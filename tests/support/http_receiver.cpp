#include "support/http_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <stdexcept>

namespace parley::e2e {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct HttpReceiver::Impl {
  int listen_fd = -1;
};

std::string ReceivedRequest::Header(std::string_view name) const {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto it = headers.find(lower);
  return it == headers.end() ? "" : it->second;
}

HttpReceiver::HttpReceiver(int default_status)
    : impl_(std::make_unique<Impl>()), default_status_(default_status) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("bind/listen failed");
  }
  impl_->listen_fd = fd;
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

HttpReceiver::~HttpReceiver() {
  std::vector<std::thread> connections;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    // Unblocks readers of idle connections; held ones wake from the condition variable.
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  changed_.notify_all();
  ::shutdown(impl_->listen_fd, SHUT_RDWR);  // unblocks accept()
  acceptor_.join();
  ::close(impl_->listen_fd);
  {
    std::lock_guard lock(mu_);
    connections.swap(connections_);
  }
  for (std::thread& t : connections) t.join();
}

std::string HttpReceiver::Url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

void HttpReceiver::FailNext(int n, int status) {
  std::lock_guard lock(mu_);
  fail_left_ = n;
  fail_status_ = status;
}

void HttpReceiver::Hold() {
  std::lock_guard lock(mu_);
  hold_ = true;
}

void HttpReceiver::Release(int status) {
  {
    std::lock_guard lock(mu_);
    hold_ = false;
    release_status_ = status;
  }
  changed_.notify_all();
}

std::vector<ReceivedRequest> HttpReceiver::WaitFor(size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!changed_.wait_for(lock, timeout, [&] { return requests_.size() >= n; })) {
    throw std::runtime_error("HttpReceiver: waited for " + std::to_string(n) + " requests, got " +
                             std::to_string(requests_.size()));
  }
  return requests_;
}

std::vector<ReceivedRequest> HttpReceiver::Requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

void HttpReceiver::AcceptLoop() {
  while (true) {
    const int fd = ::accept4(impl_->listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    std::lock_guard lock(mu_);
    if (stopping_) {
      if (fd >= 0) ::close(fd);
      return;
    }
    if (fd < 0) continue;
    open_fds_.push_back(fd);
    connections_.emplace_back([this, fd] { Serve(fd); });
  }
}

void HttpReceiver::Serve(int fd) {
  net::io_context ioc;
  tcp::socket socket(ioc);
  beast::error_code ec;
  socket.assign(tcp::v4(), fd, ec);
  if (ec) ::close(fd);
  if (!ec) {
    beast::flat_buffer buffer;
    http::request_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    http::read(socket, buffer, parser, ec);
    if (!ec) {
      const auto& req = parser.get();
      ReceivedRequest got;
      got.method = std::string(req.method_string());
      got.target = std::string(req.target());
      got.body = req.body();
      for (const auto& field : req) {
        std::string name(field.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        got.headers[name] = std::string(field.value());
      }
      int status = default_status_;
      {
        std::unique_lock lock(mu_);
        requests_.push_back(std::move(got));
        changed_.notify_all();
        if (hold_) {
          changed_.wait(lock, [&] { return !hold_ || stopping_; });
          status = release_status_;
        } else if (fail_left_ > 0) {
          --fail_left_;
          status = fail_status_;
        }
      }
      http::response<http::string_body> res{static_cast<http::status>(status), 11};
      res.set(http::field::connection, "close");
      res.body() = "";
      res.prepare_payload();
      http::write(socket, res, ec);
    }
  }
  std::lock_guard lock(mu_);
  // Forget the fd before closing it, so that the destructor never shuts down a number the OS
  // has handed to someone else.
  open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
  socket.close(ec);
}

}  // namespace parley::e2e
