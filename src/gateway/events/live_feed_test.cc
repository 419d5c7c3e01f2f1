#include "gateway/events/live_feed.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <filesystem>
#include <thread>

#include "gateway/store/sqlite/event_store.h"
#include "gateway/store/sqlite/session_state_test_util.h"

namespace gateway::events {
namespace {

namespace asio = boost::asio;
using store::EventRow;
using store::sqlite::testing::RunTask;

class LiveFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("wagate-live-feed-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::string err;
    auto s = store::sqlite::SqliteStore::Open({.path = dir_ / "t.db", .threads = 2}, &err);
    ASSERT_TRUE(s) << err;
    store_ = std::move(*s);
    ASSERT_TRUE(store_->Migrate(&err)) << err;
    log_ = std::make_unique<store::sqlite::SqliteEventStore>(*store_);
  }
  void TearDown() override {
    log_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Appends to the log, then publishes: what every producer does.
  std::vector<EventRow> Produce(asio::io_context& ioc, std::vector<EventRow> rows) {
    auto appended = RunTask(ioc, log_->AppendEvents(std::move(rows)));
    EXPECT_TRUE(appended);
    bus_.Publish(*appended);
    return *appended;
  }

  static EventRow Row(std::string account, std::string session, std::string type) {
    return EventRow{.account_id = std::move(account), .session_id = std::move(session),
                    .type = std::move(type), .data = "{}"};
  }

  std::filesystem::path dir_;
  asio::io_context ioc_;
  std::unique_ptr<store::sqlite::SqliteStore> store_;
  std::unique_ptr<store::sqlite::SqliteEventStore> log_;
  Bus bus_;
};

// Events keep coming while the feed replays: every one of the session's events after the resume
// point arrives exactly once, in seq order, across the replay and the live part.
TEST_F(LiveFeedTest, ReplayThenLiveHasNoGapAndNoDuplicate) {
  auto before = Produce(ioc_, {Row("acc", "ses", "session.status"), Row("acc", "ses", "session.qr"),
                               Row("acc", "other", "session.qr"), Row("acc2", "ses", "session.qr"),
                               Row("acc", "ses", "session.status")});
  std::int64_t resume = before[0].seq;

  std::atomic<bool> replay_started{false};
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    asio::io_context ioc;
    while (!replay_started.load()) std::this_thread::yield();
    for (int i = 0; i < 150; ++i) {
      Produce(ioc, {Row("acc", "ses", i % 2 ? "session.status" : "message.received"),
                    Row("acc", "ses2", "session.status")});
    }
    stop = true;
  });

  LiveFeed feed(bus_, {"acc", "ses", {}}, 10000);
  std::vector<std::int64_t> got;
  auto send = [&](const EventRow& row) -> asio::awaitable<bool> {
    replay_started = true;
    got.push_back(row.seq);
    // Slow reader: the producer gets ahead of the replay.
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(std::chrono::milliseconds(2));
    co_await t.async_wait(asio::use_awaitable);
    co_return true;
  };
  auto replayed = RunTask(ioc_, feed.Replay(*log_, resume, send));
  ASSERT_FALSE(replayed) << replayed.message();
  replay_started = true;
  producer.join();
  for (const auto& row : feed.Take()) got.push_back(row.seq);
  EXPECT_FALSE(feed.overflowed());

  auto all = RunTask(ioc_, log_->SessionEventsAfter("acc", "ses", resume, 100000));
  ASSERT_TRUE(all);
  std::vector<std::int64_t> want;
  for (const auto& r : *all) want.push_back(r.seq);
  EXPECT_EQ(want.size(), 2u + 150u);  // two logged before the feed, 150 during
  EXPECT_EQ(got, want);
}

TEST_F(LiveFeedTest, FiltersByTypeAndWakesTheReader) {
  LiveFeed feed(bus_, {"acc", "ses", {"session.qr"}}, 100);
  std::atomic<int> wakes{0};
  feed.SetWaker([&] { ++wakes; });
  Produce(ioc_, {Row("acc", "ses", "session.status"), Row("acc", "ses", "session.qr")});
  auto rows = feed.Take();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].type, "session.qr");
  EXPECT_EQ(wakes.load(), 1);
  EXPECT_TRUE(feed.Take().empty());
}

TEST_F(LiveFeedTest, ASlowReaderOverflowsInsteadOfGrowing) {
  LiveFeed feed(bus_, {"acc", "ses", {}}, 3);
  for (int i = 0; i < 5; ++i) Produce(ioc_, {Row("acc", "ses", "message.received")});
  EXPECT_TRUE(feed.overflowed());
  EXPECT_TRUE(feed.Take().empty());
}

}  // namespace
}  // namespace gateway::events
