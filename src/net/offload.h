#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <utility>

namespace parley::net {

/// Posts `work` to `pool` and the completion back to `home`, where the awaiting coroutine
/// resumes with the result.
template <class R>
struct OffloadInitiation {
  boost::asio::thread_pool& pool;
  boost::asio::any_io_executor home;

  template <class Handler>
  void operator()(Handler handler, std::function<R()> work) const {
    boost::asio::post(pool, [home = home, handler = std::move(handler),
                             work = std::move(work)]() mutable {
      R result = work();
      boost::asio::post(home, [handler = std::move(handler), result = std::move(result)]() mutable {
        std::move(handler)(std::move(result));
      });
    });
  }
};

/// Runs `work` on `pool` and resumes the calling coroutine on its own executor with the
/// result. For blocking calls (storage, Argon2id) that must never run on an io thread.
/// `work` must not throw: services return errors as values.
///
/// Callers pass `work` as a named variable, never as a lambda temporary inside the co_await
/// expression: g++ 12 destroys such temporaries twice (a known coroutine bug), which is a
/// double free as soon as the lambda captures anything with a destructor. For the same
/// reason the initiation object here is a named local.
template <class R>
boost::asio::awaitable<R> Offload(boost::asio::thread_pool& pool, std::function<R()> work) {
  OffloadInitiation<R> initiation{pool, co_await boost::asio::this_coro::executor};
  R result = co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(R)>(
      initiation, boost::asio::use_awaitable, std::move(work));
  co_return result;
}

}  // namespace parley::net
