// A bounded pool of threads for blocking work (SQLite, argon2, ffmpeg), so that no blocking call
// runs on the network threads (ARCHITECTURE.md, principle 4). `co_await pool.Run(fn)` runs fn on
// the pool and resumes the caller on its own executor.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <type_traits>
#include <utility>

namespace base {

class BlockingPool {
 public:
  explicit BlockingPool(std::size_t threads) : pool_(threads) {}
  ~BlockingPool() { Stop(); }
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F>> Run(F fn) {
    // The closure becomes a parameter of the coroutine Invoke, which its frame owns; a capturing
    // lambda coroutine would only reference a closure that co_spawn destroys early.
    // Caller beware (g++ 12, GCC PR 101367): do not write the lambda as a temporary inside the
    // co_await expression (`co_await pool.Run([s] {...})`) when its captures have destructors;
    // g++ destroys such temporaries twice. Name it first: `auto work = [s] {...};`.
    return boost::asio::co_spawn(pool_.get_executor(), Invoke<F>(std::move(fn)),
                                 boost::asio::use_awaitable);
  }

  // Waits for queued work to finish, then joins the threads. Idempotent.
  void Stop() {
    pool_.join();
  }

  boost::asio::thread_pool::executor_type executor() { return pool_.get_executor(); }

 private:
  template <class F>
  static boost::asio::awaitable<std::invoke_result_t<F>> Invoke(F fn) {
    co_return fn();
  }

  boost::asio::thread_pool pool_;
};

}  // namespace base
