#include "gateway/store/sqlite/message_store.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "gateway/store/sqlite/event_store.h"
#include "gateway/store/sqlite/session_state_test_util.h"
#include "gateway/store/sqlite/session_store.h"
#include "gateway/store/sqlite/sql.h"

namespace gateway::store::sqlite {
namespace {

using testing::RunTask;

class MessageStoreTest : public testing::MigratedStoreTest {
 protected:
  void SetUp() override {
    MigratedStoreTest::SetUp();
    if (HasFatalFailure()) return;
    messages_ = std::make_unique<SqliteMessageStore>(*store_);
    SqliteSessionStore sessions(*store_);
    ASSERT_TRUE(store_->WithConnection([](sqlite3* db) -> base::Result<void> {
      if (!Exec(db, "INSERT INTO accounts(id, email, password_hash, plan, created_ms) VALUES('acc_1', 'a@x', 'h', 'starter', 1)", nullptr)) return ErrorOf(db);
      return {};
    }));
    ASSERT_TRUE(RunTask(ioc_, sessions.CreateSession(SessionRow{.id = "ses_1", .account_id = "acc_1", .name = "s",
                                                                .desired = "running", .status = "connected"})));
  }
  void TearDown() override {
    messages_.reset();
  }

  static MessageRow Out(std::string id, std::string wa_id, std::string text = "hi") {
    return MessageRow{.id = std::move(id), .account_id = "acc_1", .session_id = "ses_1", .direction = "out",
                      .wa_id = std::move(wa_id), .chat_jid = "15550002222@s.whatsapp.net", .text = std::move(text),
                      .status = "queued", .created_ms = 1000, .updated_ms = 1000};
  }
  EnqueueOutcome Enqueue(MessageRow m, std::optional<IdempotencyKey> key = std::nullopt, std::int64_t limit = 0) {
    auto r = RunTask(ioc_, messages_->Enqueue(EnqueueItem{.message = std::move(m), .idempotency = std::move(key),
                                                          .month_start_ms = 0, .monthly_limit = limit}));
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : EnqueueOutcome{};
  }
  std::vector<std::string> Statuses(const std::vector<EventRow>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) {
      auto v = boost::json::parse(e.data).as_object();
      out.emplace_back(v.at("status").as_string());
    }
    return out;
  }

  std::unique_ptr<SqliteMessageStore> messages_;
};

TEST_F(MessageStoreTest, ConcurrentEnqueuesShareTransactionsAndAllLand) {
  constexpr int kCount = 400;
  int done = 0;
  std::set<std::string> ids;
  for (int i = 0; i < kCount; ++i) {
    auto task = messages_->Enqueue(EnqueueItem{.message = Out("msg_" + std::to_string(i), "WA" + std::to_string(i))});
    boost::asio::co_spawn(ioc_, std::move(task), [&](std::exception_ptr e, base::Result<EnqueueOutcome> r) {
      ASSERT_FALSE(e);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->kind, EnqueueOutcome::Kind::kQueued);
      ASSERT_EQ(r->events.size(), 1u);
      ids.insert(r->message.id);
      ++done;
    });
  }
  ioc_.restart();
  ioc_.run();
  EXPECT_EQ(done, kCount);
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kCount));
  EXPECT_GT(messages_->largest_batch(), 1u);  // group commit happened
  auto pending = RunTask(ioc_, messages_->PendingOutgoing("ses_1", 1000));
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), static_cast<std::size_t>(kCount));
  for (std::size_t i = 1; i < pending->size(); ++i) EXPECT_LT((*pending)[i - 1].n, (*pending)[i].n);
  SqliteEventStore events(*store_);
  EXPECT_EQ(RunTask(ioc_, events.EventsAfter(0, 1000))->size(), static_cast<std::size_t>(kCount));
  EXPECT_EQ(*RunTask(ioc_, messages_->CountOutgoing("acc_1", 0)), kCount);
}

TEST_F(MessageStoreTest, IdempotencyKeysReplayOrConflictAndTheMonthlyLimitHolds) {
  auto first = Enqueue(Out("msg_a", "WA1"), IdempotencyKey{"k1", "hash1"});
  EXPECT_EQ(first.kind, EnqueueOutcome::Kind::kQueued);
  auto again = Enqueue(Out("msg_b", "WA2"), IdempotencyKey{"k1", "hash1"});
  EXPECT_EQ(again.kind, EnqueueOutcome::Kind::kReplayed);
  EXPECT_EQ(again.message.id, "msg_a");
  EXPECT_TRUE(again.events.empty());
  EXPECT_EQ(Enqueue(Out("msg_c", "WA3"), IdempotencyKey{"k1", "other"}).kind, EnqueueOutcome::Kind::kKeyConflict);
  EXPECT_FALSE(*RunTask(ioc_, messages_->GetMessage("acc_1", "ses_1", "msg_b")));
  EXPECT_EQ(Enqueue(Out("msg_d", "WA4"), std::nullopt, 2).kind, EnqueueOutcome::Kind::kQueued);
  EXPECT_EQ(Enqueue(Out("msg_e", "WA5"), std::nullopt, 2).kind, EnqueueOutcome::Kind::kOverMonthlyLimit);
  EXPECT_FALSE(*RunTask(ioc_, messages_->GetMessage("acc_1", "ses_1", "msg_e")));
}

TEST_F(MessageStoreTest, StatusesOnlyMoveForwardAndEachStepIsAnEvent) {
  Enqueue(Out("msg_a", "WA1"));
  using T = MessageStore::Transition;
  auto ev = RunTask(ioc_, messages_->Advance("ses_1", {T{.message_id = "msg_a", .status = "sending", .at_ms = 2000, .attempts_inc = 1},
                                                       T{.message_id = "msg_a", .status = "sent", .at_ms = 2001, .wa_timestamp = 2, .first_contact = true}}));
  ASSERT_TRUE(ev);
  EXPECT_EQ(Statuses(*ev), (std::vector<std::string>{"sending", "sent"}));
  // A read receipt before the delivery receipt: read; the late delivered changes nothing.
  ev = RunTask(ioc_, messages_->AdvanceByWaIds("ses_1", {"WA1", "WA-unknown"}, "read", 3000));
  EXPECT_EQ(Statuses(*ev), (std::vector<std::string>{"read"}));
  ev = RunTask(ioc_, messages_->AdvanceByWaIds("ses_1", {"WA1"}, "delivered", 3001));
  EXPECT_TRUE(ev->empty());
  // A sent message can no longer fail or be cancelled.
  ev = RunTask(ioc_, messages_->Advance("ses_1", {T{.message_id = "msg_a", .status = "failed", .at_ms = 4000, .error_code = "x"}}));
  EXPECT_TRUE(ev->empty());
  auto cancel = RunTask(ioc_, messages_->Cancel("ses_1", "msg_a", 4001));
  ASSERT_TRUE(cancel);
  EXPECT_FALSE(cancel->first);
  auto m = **RunTask(ioc_, messages_->GetMessage("acc_1", "ses_1", "WA1"));
  EXPECT_EQ(m.status, "read");
  EXPECT_EQ(m.attempts, 1);
  EXPECT_TRUE(m.first_contact);
  EXPECT_EQ(m.sent_ms, 2001);
  std::vector<std::string> history;
  for (const auto& h : m.history) history.push_back(h.status);
  EXPECT_EQ(history, (std::vector<std::string>{"queued", "sending", "sent", "read"}));
  // A receipt for a message still queued implies it was sent.
  Enqueue(Out("msg_b", "WA2"));
  ev = RunTask(ioc_, messages_->AdvanceByWaIds("ses_1", {"WA2"}, "delivered", 5000));
  EXPECT_EQ(Statuses(*ev), (std::vector<std::string>{"sent", "delivered"}));
}

TEST_F(MessageStoreTest, CancelAndFailPendingEndOnlyWaitingMessages) {
  Enqueue(Out("msg_a", "WA1"));
  Enqueue(Out("msg_b", "WA2"));
  Enqueue(Out("msg_c", "WA3"));
  auto cancel = RunTask(ioc_, messages_->Cancel("ses_1", "msg_a", 2000));
  ASSERT_TRUE(cancel);
  EXPECT_TRUE(cancel->first);
  EXPECT_EQ(Statuses(cancel->second), (std::vector<std::string>{"failed"}));
  using T = MessageStore::Transition;
  ASSERT_TRUE(RunTask(ioc_, messages_->Advance("ses_1", {T{.message_id = "msg_b", .status = "sent", .at_ms = 2001}})));
  auto failed = RunTask(ioc_, messages_->FailPending("ses_1", "logged_out", "gone", 3000));
  ASSERT_TRUE(failed);
  ASSERT_EQ(failed->size(), 1u);  // only msg_c was still waiting
  auto c = **RunTask(ioc_, messages_->GetMessage("acc_1", "ses_1", "msg_c"));
  EXPECT_EQ((c.status + "/" + c.error_code), "failed/logged_out");
  EXPECT_TRUE(RunTask(ioc_, messages_->PendingOutgoing("ses_1", 10))->empty());
}

TEST_F(MessageStoreTest, ExpireQueuedFailsOnlyQueuedMessagesWhoseTimePassed) {
  auto with_expiry = [](std::string id, std::string wa_id, std::int64_t expires_ms) {
    MessageRow m = Out(std::move(id), std::move(wa_id));
    m.expires_ms = expires_ms;
    return m;
  };
  Enqueue(with_expiry("msg_due", "WA1", 5000));
  Enqueue(with_expiry("msg_later", "WA2", 9000));
  Enqueue(Out("msg_never", "WA3"));
  Enqueue(with_expiry("msg_sending", "WA4", 4000));
  using T = MessageStore::Transition;
  ASSERT_TRUE(RunTask(ioc_, messages_->Advance("ses_1", {T{.message_id = "msg_sending", .status = "sending",
                                                           .at_ms = 3000, .attempts_inc = 1}})));
  EXPECT_TRUE(RunTask(ioc_, messages_->SessionsWithExpired(4999))->empty());
  EXPECT_EQ(*RunTask(ioc_, messages_->SessionsWithExpired(5000)), (std::vector<std::string>{"ses_1"}));
  auto events = RunTask(ioc_, messages_->ExpireQueued("ses_1", 6000));
  ASSERT_TRUE(events);
  ASSERT_EQ(Statuses(*events), (std::vector<std::string>{"failed"}));
  auto due = **RunTask(ioc_, messages_->GetMessage("acc_1", "ses_1", "msg_due"));
  EXPECT_EQ(due.status + "/" + due.error_code, "failed/expired");
  EXPECT_EQ(due.updated_ms, 6000);
  for (const char* id : {"msg_later", "msg_never"}) {
    EXPECT_EQ((**RunTask(ioc_, messages_->GetMessage("acc_1", "ses_1", id))).status, "queued") << id;
  }
  // A message being sent is its dispatcher's to finish.
  EXPECT_EQ((**RunTask(ioc_, messages_->GetMessage("acc_1", "ses_1", "msg_sending"))).status, "sending");
  EXPECT_TRUE(RunTask(ioc_, messages_->SessionsWithExpired(6000))->empty());
  EXPECT_TRUE(RunTask(ioc_, messages_->ExpireQueued("ses_1", 6000))->empty());
  EXPECT_EQ(*RunTask(ioc_, messages_->SessionsWithExpired(9000)), (std::vector<std::string>{"ses_1"}));
}

TEST_F(MessageStoreTest, ReceivedMessagesAreStoredOnceAndAnnounced) {
  MessageRow in{.id = "msg_in1", .account_id = "acc_1", .session_id = "ses_1", .direction = "in", .wa_id = "X1",
                .chat_jid = "15550002222@s.whatsapp.net", .sender_pn = "15550002222@s.whatsapp.net",
                .text = "hello", .status = "received", .created_ms = 10, .updated_ms = 10};
  auto first = RunTask(ioc_, messages_->StoreReceived(in));
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->inserted);
  ASSERT_EQ(first->events.size(), 1u);
  EXPECT_EQ(first->events[0].type, "message.received");
  in.id = "msg_in2";  // the same WhatsApp message delivered again
  auto again = RunTask(ioc_, messages_->StoreReceived(in));
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->inserted);
  EXPECT_TRUE(again->events.empty());
  EXPECT_EQ(again->message.id, "msg_in1");
  EXPECT_TRUE(*RunTask(ioc_, messages_->HasReceivedFrom("ses_1", "15550002222@s.whatsapp.net")));
  EXPECT_FALSE(*RunTask(ioc_, messages_->HasReceivedFrom("ses_1", "15550003333@s.whatsapp.net")));
  // A LID chat whose sender's number is known counts for that number too.
  MessageRow lid{.id = "msg_in3", .account_id = "acc_1", .session_id = "ses_1", .direction = "in", .wa_id = "X3",
                 .chat_jid = "99887766@lid", .sender_pn = "15550004444@s.whatsapp.net", .text = "hi",
                 .status = "received", .created_ms = 11, .updated_ms = 11};
  ASSERT_TRUE(RunTask(ioc_, messages_->StoreReceived(lid)));
  EXPECT_TRUE(*RunTask(ioc_, messages_->HasReceivedFrom("ses_1", "99887766@lid")));
  EXPECT_TRUE(*RunTask(ioc_, messages_->HasReceivedFrom("ses_1", "15550004444@s.whatsapp.net")));
  EXPECT_FALSE(*RunTask(ioc_, messages_->HasReceivedFrom("ses_2", "15550004444@s.whatsapp.net")));
  // Both halves are index lookups, not a scan of the session's received messages.
  ASSERT_TRUE(store_->WithConnection([](sqlite3* db) -> base::Result<void> {
    std::string plan;
    std::string sql = std::string("EXPLAIN QUERY PLAN ") + SqliteMessageStore::kReceivedFromSql;
    Stmt s(db, sql.c_str());
    EXPECT_TRUE(s.ok()) << sqlite3_errmsg(db);
    while (s.Step() == SQLITE_ROW) plan += s.Text(3) + "\n";
    EXPECT_NE(plan.find("messages_in_by_chat (session_id=? AND chat_jid=?)"), std::string::npos) << plan;
    EXPECT_NE(plan.find("messages_by_sender_pn (session_id=? AND sender_pn=?)"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("messages_by_wa_id"), std::string::npos) << plan;
    return {};
  }));
  auto listed = RunTask(ioc_, messages_->ListMessages("acc_1", "ses_1", "in", 0, 10));
  ASSERT_EQ(listed->size(), 2u);  // msg_in1 and the LID chat's
  EXPECT_TRUE(RunTask(ioc_, messages_->ListMessages("acc_2", "ses_1", "", 0, 10))->empty());
}

TEST_F(MessageStoreTest, AFailingWriteFailsAloneNotItsBatch) {
  ASSERT_TRUE(store_->WithConnection([](sqlite3* db) -> base::Result<void> {
    if (!Exec(db, "CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.id = 'msg_bad' "
                  "BEGIN SELECT RAISE(ABORT, 'refused'); END", nullptr)) {
      return ErrorOf(db);
    }
    return {};
  }));
  std::map<std::string, bool> ok;
  for (const char* id : {"msg_1", "msg_bad", "msg_2"}) {
    auto task = messages_->Enqueue(EnqueueItem{.message = Out(id, std::string("WA_") + id)});
    boost::asio::co_spawn(ioc_, std::move(task), [&ok, id](std::exception_ptr, base::Result<EnqueueOutcome> r) {
      ok[id] = r.has_value();
    });
  }
  ioc_.restart();
  ioc_.run();
  EXPECT_TRUE(ok["msg_1"]);
  EXPECT_FALSE(ok["msg_bad"]);
  EXPECT_TRUE(ok["msg_2"]);
  EXPECT_EQ(RunTask(ioc_, messages_->PendingOutgoing("ses_1", 10))->size(), 2u);
}


// The writer commits without waiting for the disk and a thread of its own syncs afterwards:
// a write that needs only its commit (a Signal state step) finishes while the sync is held,
// a durable one (an enqueue: the 202) only after it, and a failed sync fails the durable ones.
TEST_F(MessageStoreTest, CommitsAreSyncedAfterwardsAndOnlyDurableWritesWaitForTheSync) {
  EXPECT_TRUE(Enqueue(Out("msg_0", "WA0")).message.id == "msg_0");
  EXPECT_GE(messages_->syncs(), 1u) << "the default store syncs the WAL after its commits";

  std::mutex mu;
  std::condition_variable cv;
  bool open = false, refuse = false;
  auto sync = [&] {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return open; });
    return !refuse;
  };
  messages_ = std::make_unique<SqliteMessageStore>(*store_, sync);
  auto poll_until = [&](const std::function<bool()>& cond) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!cond() && std::chrono::steady_clock::now() < deadline) {
      ioc_.restart();
      ioc_.run_for(std::chrono::milliseconds(5));
    }
    return cond();
  };
  auto visible = [&](const std::string& id) {
    bool found = false;
    EXPECT_TRUE(store_->WithConnection([&](sqlite3* db) -> base::Result<void> {
      Stmt s(db, "SELECT 1 FROM messages WHERE id = ?");
      s.Bind(1, id);
      found = s.Step() == SQLITE_ROW;
      return {};
    }));
    return found;
  };
  auto round = [&](const std::string& id, bool fail) {
    std::atomic<int> committed{0};
    std::optional<base::Result<EnqueueOutcome>> enqueued;
    messages_->Submit(
        [id](sqlite3* db) -> base::Result<void> {
          return Change(db, "UPDATE sessions SET name = ? WHERE id = 'ses_1'", [&](Stmt& s) { s.Bind(1, id); });
        },
        [&committed](boost::system::error_code ec) { committed = ec ? -1 : 1; }, GroupWriter::Wait::kCommitted);
    boost::asio::co_spawn(ioc_, messages_->Enqueue(EnqueueItem{.message = Out(id, "WA_" + id)}),
                          [&](std::exception_ptr, base::Result<EnqueueOutcome> r) { enqueued.emplace(std::move(r)); });
    ASSERT_TRUE(poll_until([&] { return committed != 0 && visible(id); }));
    EXPECT_EQ(committed, 1);
    ioc_.restart();
    ioc_.run_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(enqueued) << "a durable write finished before its sync";
    {
      std::lock_guard lock(mu);
      open = true;
      refuse = fail;
    }
    cv.notify_all();
    ASSERT_TRUE(poll_until([&] { return enqueued.has_value(); }));
    EXPECT_EQ(enqueued->has_value(), !fail);
    if (fail) {
      EXPECT_EQ(enqueued->error(), boost::system::errc::io_error);
    }
    std::lock_guard lock(mu);
    open = false;
  };
  round("msg_1", false);
  round("msg_2", true);
  {
    std::lock_guard lock(mu);
    open = true;
    refuse = false;
  }
  cv.notify_all();
  messages_.reset();
}

}  // namespace
}  // namespace gateway::store::sqlite
