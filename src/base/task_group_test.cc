#include "base/task_group.h"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <stdexcept>
#include <thread>

#include "base/blocking_pool.h"

namespace base {
namespace {

namespace asio = boost::asio;

TEST(TaskGroup, CountsLiveTasksAndFailures) {
  asio::io_context ioc;
  TaskGroup group("test");
  int done = 0;
  group.Spawn(ioc.get_executor(), [&]() -> asio::awaitable<void> {
    ++done;
    co_return;
  });
  group.Spawn(ioc.get_executor(), []() -> asio::awaitable<void> {
    throw std::runtime_error("boom");
    co_return;
  });
  EXPECT_EQ(group.Live(), 2u);
  ioc.run();
  EXPECT_EQ(done, 1);
  EXPECT_EQ(group.Live(), 0u);
  EXPECT_EQ(group.Failures(), 1u);
}

TEST(TaskGroup, WaitEmptyTimesOutWhileATaskLives) {
  asio::io_context ioc;
  TaskGroup group("test");
  asio::steady_timer blocker(ioc, std::chrono::hours(1));
  group.Spawn(ioc.get_executor(), [&]() -> asio::awaitable<void> {
    auto [ec] = co_await blocker.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
  });
  bool drained = true;
  bool drained_after_cancel = false;
  asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
    drained = co_await group.WaitEmpty(std::chrono::milliseconds(20));
    blocker.cancel();
    drained_after_cancel = co_await group.WaitEmpty(std::chrono::seconds(5));
  }, asio::detached);
  ioc.run();
  EXPECT_FALSE(drained);
  EXPECT_TRUE(drained_after_cancel);
}

TEST(BlockingPool, RunsOffTheCallerThreadAndResumesOnIt) {
  asio::io_context ioc;
  BlockingPool pool(1);
  std::thread::id caller, worker, resumed;
  asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
    caller = std::this_thread::get_id();
    int v = co_await pool.Run([&] {
      worker = std::this_thread::get_id();
      return 42;
    });
    resumed = std::this_thread::get_id();
    EXPECT_EQ(v, 42);
  }, asio::detached);
  ioc.run();
  EXPECT_NE(caller, worker);
  EXPECT_EQ(caller, resumed);
}

TEST(BlockingPool, OwnsWhatTheWorkCaptures) {
  // A by-value capture must live until the work has run (ASan catches a dangling closure).
  asio::io_context ioc;
  BlockingPool pool(1);
  std::string result;
  asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
    std::string text(64, 'x');
    // Named, not a temporary inside the co_await expression: g++ 12 destroys such temporaries
    // twice (GCC PR 101367).
    auto work = [text]() { return text + "!"; };
    result = co_await pool.Run(std::move(work));
  }, asio::detached);
  ioc.run();
  EXPECT_EQ(result, std::string(64, 'x') + "!");
}

}  // namespace
}  // namespace base
