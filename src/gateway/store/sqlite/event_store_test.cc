#include "gateway/store/sqlite/event_store.h"

#include <gtest/gtest.h>

#include "gateway/store/sqlite/session_state_test_util.h"
#include "gateway/store/sqlite/sql.h"

namespace gateway::store::sqlite {
namespace {

using testing::RunTask;

class EventStoreTest : public testing::MigratedStoreTest {
 protected:
  void SetUp() override {
    MigratedStoreTest::SetUp();
    if (HasFatalFailure()) return;
    events_ = std::make_unique<SqliteEventStore>(*store_);
  }
  void TearDown() override {
    events_.reset();
  }

  EventRow Make(std::string account, std::string session, std::string type, std::int64_t at = 0) {
    return EventRow{.account_id = std::move(account), .session_id = std::move(session),
                    .type = std::move(type), .data = R"({"n":1})", .created_ms = at};
  }

  std::unique_ptr<SqliteEventStore> events_;
};

TEST_F(EventStoreTest, AppendAssignsIncreasingSeqsAndReadsBackInOrder) {
  EXPECT_EQ(*RunTask(ioc_, events_->LastEventSeq()), 0);
  auto first = RunTask(ioc_, events_->AppendEvents({Make("acc_1", "ses_a", "session.status"),
                                                    Make("acc_1", "ses_b", "message.status")}));
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 2u);
  EXPECT_LT((*first)[0].seq, (*first)[1].seq);
  EXPECT_EQ((*first)[0].id.rfind("evt_", 0), 0u);
  EXPECT_NE((*first)[0].id, (*first)[1].id);
  EXPECT_GT((*first)[0].created_ms, 0);
  auto second = RunTask(ioc_, events_->AppendEvents({Make("acc_2", "ses_a", "message.received")}));
  ASSERT_TRUE(second);

  auto all = RunTask(ioc_, events_->EventsAfter(0, 10));
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[2].type, "message.received");
  EXPECT_EQ((*all)[2].data, R"({"n":1})");
  auto tail = RunTask(ioc_, events_->EventsAfter((*first)[1].seq, 10));
  ASSERT_TRUE(tail);
  ASSERT_EQ(tail->size(), 1u);
  EXPECT_EQ((*tail)[0].account_id, "acc_2");
  EXPECT_EQ(RunTask(ioc_, events_->EventsAfter(0, 2))->size(), 2u);
  EXPECT_EQ(*RunTask(ioc_, events_->LastEventSeq()), (*second)[0].seq);

  // A session's stream sees only its own account's events for that session.
  auto mine = RunTask(ioc_, events_->SessionEventsAfter("acc_1", "ses_a", 0, 10));
  ASSERT_TRUE(mine);
  ASSERT_EQ(mine->size(), 1u);
  EXPECT_EQ((*mine)[0].type, "session.status");
}

TEST_F(EventStoreTest, EventSeqOfFindsOnlyTheAccountsOwnEvents) {
  auto rows = RunTask(ioc_, events_->AppendEvents({Make("acc_1", "s", "t"), Make("acc_2", "s", "t")}));
  ASSERT_TRUE(rows);
  auto mine = RunTask(ioc_, events_->EventSeqOf("acc_1", (*rows)[0].id));
  ASSERT_TRUE(mine);
  EXPECT_EQ(*mine, std::optional<std::int64_t>((*rows)[0].seq));
  EXPECT_EQ(*RunTask(ioc_, events_->EventSeqOf("acc_1", (*rows)[1].id)), std::nullopt);
  EXPECT_EQ(*RunTask(ioc_, events_->EventSeqOf("acc_1", "evt_nope")), std::nullopt);
}

TEST_F(EventStoreTest, PruneKeepsRecentAndUnfinishedEventsAndNeverReusesASeq) {
  auto rows = RunTask(ioc_, events_->AppendEvents({Make("a", "s", "t", 100), Make("a", "s", "t", 200),
                                                   Make("a", "s", "t", 300)}));
  ASSERT_TRUE(rows);
  // Older than 250 ms and finished by every reader up to the second: only the first goes.
  auto pruned = RunTask(ioc_, events_->PruneEvents(250, (*rows)[0].seq));
  ASSERT_TRUE(pruned);
  EXPECT_EQ(*pruned, 1);
  EXPECT_EQ(RunTask(ioc_, events_->EventsAfter(0, 10))->size(), 2u);
  ASSERT_TRUE(RunTask(ioc_, events_->PruneEvents(1000, (*rows)[2].seq)));
  EXPECT_TRUE(RunTask(ioc_, events_->EventsAfter(0, 10))->empty());
  EXPECT_EQ(*RunTask(ioc_, events_->LastEventSeq()), (*rows)[2].seq);
  auto next = RunTask(ioc_, events_->AppendEvents({Make("a", "s", "t")}));
  ASSERT_TRUE(next);
  EXPECT_GT((*next)[0].seq, (*rows)[2].seq);
}

TEST_F(EventStoreTest, AFailedTransactionAppendsNothing) {
  auto fail = [](sqlite3* db) -> base::Result<void> {
    return InTransaction(db, [&]() -> base::Result<void> {
      EventRow e{.account_id = "a", .session_id = "s", .type = "t", .data = "{}"};
      if (auto added = AppendEventTx(db, e); !added) return added;
      return make_error_code(Errc::kIo);
    });
  };
  auto ran = store_->WithConnection(fail);
  ASSERT_FALSE(ran);
  EXPECT_EQ(ran.error(), Errc::kIo);
  EXPECT_TRUE(RunTask(ioc_, events_->EventsAfter(0, 10))->empty());
}

}  // namespace
}  // namespace gateway::store::sqlite
