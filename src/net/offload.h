#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <utility>

namespace parley::net {

/// Runs `work` on `pool` and resumes the calling coroutine on its own executor with the
/// result. For blocking calls (storage, Argon2id) that must never run on an io thread.
/// `work` must not throw: services return errors as values.
template <class R>
boost::asio::awaitable<R> Offload(boost::asio::thread_pool& pool, std::function<R()> work) {
  auto home = co_await boost::asio::this_coro::executor;
  co_return co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(R)>(
      [&pool, home](auto handler, std::function<R()> fn) {
        boost::asio::post(pool, [home, handler = std::move(handler), fn = std::move(fn)]() mutable {
          R result = fn();
          boost::asio::post(home, [handler = std::move(handler), result = std::move(result)]() mutable {
            std::move(handler)(std::move(result));
          });
        });
      },
      boost::asio::use_awaitable, std::move(work));
}

}  // namespace parley::net
