// Owns the coroutines it spawns: none is detached. It counts the live ones, logs and counts an
// exception escaping one (an exception is a bug, docs/design/errors.md), and lets shutdown wait
// for all of them with a deadline.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <utility>

namespace base {

class TaskGroup {
 public:
  explicit TaskGroup(std::string name) : state_(std::make_shared<State>()) {
    state_->name = std::move(name);
  }

  template <class Executor, class Awaitable>
  void Spawn(Executor ex, Awaitable task) {
    state_->live.fetch_add(1, std::memory_order_relaxed);
    boost::asio::co_spawn(std::move(ex), std::move(task),
                          [state = state_](std::exception_ptr e) {
                            if (e) OnException(*state, e);
                            state->live.fetch_sub(1, std::memory_order_acq_rel);
                          });
  }

  std::size_t Live() const { return state_->live.load(std::memory_order_acquire); }
  std::size_t Failures() const { return state_->failures.load(std::memory_order_relaxed); }

  // Polls until no task is live or the timeout passes; true when the group drained.
  boost::asio::awaitable<bool> WaitEmpty(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
    while (Live() > 0) {
      if (std::chrono::steady_clock::now() >= deadline) co_return false;
      timer.expires_after(std::chrono::milliseconds(5));
      co_await timer.async_wait(boost::asio::use_awaitable);
    }
    co_return true;
  }

 private:
  struct State {
    std::string name;
    std::atomic<std::size_t> live{0};
    std::atomic<std::size_t> failures{0};
  };
  static void OnException(State& state, std::exception_ptr e);

  std::shared_ptr<State> state_;
};

}  // namespace base
