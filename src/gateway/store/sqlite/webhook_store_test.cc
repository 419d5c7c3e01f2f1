#include "gateway/store/sqlite/webhook_store.h"

#include <gtest/gtest.h>

#include "gateway/store/sqlite/event_store.h"
#include "gateway/store/sqlite/message_store.h"
#include "gateway/store/sqlite/session_store.h"
#include "gateway/store/sqlite/session_state_test_util.h"
#include "gateway/store/sqlite/sql.h"

namespace gateway::store::sqlite {
namespace {

using testing::RunTask;

class WebhookStoreTest : public testing::MigratedStoreTest {
 protected:
  void SetUp() override {
    MigratedStoreTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(store_->WithConnection([](sqlite3* db) -> base::Result<void> {
      std::string e;
      if (!Exec(db,
                "INSERT INTO accounts(id, email, password_hash, plan, created_ms) VALUES"
                "('acc_1', 'a@x', 'h', 'starter', 1), ('acc_2', 'b@x', 'h', 'starter', 1)",
                &e)) {
        return make_error_code(Errc::kIo);
      }
      return {};
    }));
    hooks_ = std::make_unique<SqliteWebhookStore>(*store_, base::Bytes(32, 7));
    events_ = std::make_unique<SqliteEventStore>(*store_);
  }
  void TearDown() override {
    hooks_.reset();
    events_.reset();
  }

  WebhookEndpointRow Endpoint(std::string id, std::string account, std::string session,
                              std::vector<std::string> events) {
    WebhookEndpointRow r;
    r.id = std::move(id);
    r.account_id = std::move(account);
    r.session_id = std::move(session);
    r.url = "https://example.com/" + r.id;
    r.events = std::move(events);
    r.secret = "whsec_secret-of-" + r.id;
    r.created_ms = r.updated_ms = 1;
    return r;
  }

  void Append(std::string account, std::string session, std::string type, int n = 1) {
    std::vector<EventRow> rows;
    for (int i = 0; i < n; ++i) {
      rows.push_back({.account_id = account, .session_id = session, .type = type, .data = "{\"i\":" + std::to_string(i) + "}"});
    }
    ASSERT_TRUE(RunTask(ioc_, events_->AppendEvents(std::move(rows))));
  }

  std::unique_ptr<SqliteWebhookStore> hooks_;
  std::unique_ptr<SqliteEventStore> events_;
};

TEST_F(WebhookStoreTest, EndpointRoundTripWithSealedSecrets) {
  auto row = Endpoint("whk_a", "acc_1", "", {"message.received", "session.status"});
  row.description = "main";
  ASSERT_TRUE(RunTask(ioc_, hooks_->CreateEndpoint(row)));
  auto got = RunTask(ioc_, hooks_->GetEndpoint("acc_1", "whk_a"));
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->secret, row.secret);
  EXPECT_EQ((*got)->events, row.events);
  EXPECT_EQ((*got)->description, "main");
  EXPECT_TRUE((*got)->previous_secret.empty());
  EXPECT_FALSE(*RunTask(ioc_, hooks_->GetEndpoint("acc_2", "whk_a")));
  // The secret is not stored in clear.
  bool clear = true;
  ASSERT_TRUE(store_->WithConnection([&](sqlite3* db) -> base::Result<void> {
    Stmt s(db, "SELECT count(*) FROM webhook_endpoints WHERE instr(sealed_secret, CAST('secret-of' AS BLOB)) > 0");
    s.Step();
    clear = s.Int(0) > 0;
    return {};
  }));
  EXPECT_FALSE(clear);

  (*got)->previous_secret = (*got)->secret;
  (*got)->secret = "whsec_new";
  (*got)->previous_until_ms = 99;
  ASSERT_TRUE(RunTask(ioc_, hooks_->UpdateEndpoint(**got, 0)));
  auto rotated = RunTask(ioc_, hooks_->GetEndpoint("acc_1", "whk_a"));
  EXPECT_EQ((*rotated)->secret, "whsec_new");
  EXPECT_EQ((*rotated)->previous_secret, row.secret);
  EXPECT_EQ((*rotated)->previous_until_ms, 99);
  EXPECT_FALSE(*RunTask(ioc_, hooks_->DeleteEndpoint("acc_2", "whk_a")));
  EXPECT_TRUE(*RunTask(ioc_, hooks_->DeleteEndpoint("acc_1", "whk_a")));
  EXPECT_FALSE(*RunTask(ioc_, hooks_->GetEndpoint("acc_1", "whk_a")));
}

TEST_F(WebhookStoreTest, RecipientsPreferTheSessionsOwnEndpoints) {
  std::vector<WebhookEndpointRow> all = {Endpoint("whk_wide", "acc_1", "", {"session.status"}),
                                         Endpoint("whk_own", "acc_1", "ses_a", {"session.status"}),
                                         Endpoint("whk_msgs", "acc_1", "", {"message.received"}),
                                         Endpoint("whk_other", "acc_2", "", {"session.status"})};
  auto ids = [&](const EventRow& e) {
    std::vector<std::string> out;
    for (const auto* r : WebhookRecipients(all, e)) out.push_back(r->id);
    return out;
  };
  EXPECT_EQ(ids({.account_id = "acc_1", .session_id = "ses_a", .type = "session.status"}),
            std::vector<std::string>{"whk_own"});
  EXPECT_EQ(ids({.account_id = "acc_1", .session_id = "ses_b", .type = "session.status"}),
            std::vector<std::string>{"whk_wide"});
  EXPECT_EQ(ids({.account_id = "acc_1", .session_id = "ses_b", .type = "message.received"}),
            std::vector<std::string>{"whk_msgs"});
  EXPECT_TRUE(ids({.account_id = "acc_1", .session_id = "ses_b", .type = "session.qr"}).empty());
  EXPECT_EQ(ids({.account_id = "acc_2", .session_id = "ses_a", .type = "session.status"}),
            std::vector<std::string>{"whk_other"});
}

TEST_F(WebhookStoreTest, FanOutThenHeadsInOrderPerSessionThenDeadLetterAndReplay) {
  ASSERT_TRUE(RunTask(ioc_, hooks_->CreateEndpoint(Endpoint("whk_a", "acc_1", "", {"session.status"}))));
  Append("acc_1", "ses_a", "session.status", 3);
  Append("acc_1", "ses_b", "session.status", 2);
  Append("acc_1", "ses_a", "session.qr", 1);  // not subscribed
  Append("acc_2", "ses_z", "session.status", 1);  // no endpoint

  auto fanned = RunTask(ioc_, hooks_->FanOut(4, 1000));
  ASSERT_TRUE(fanned);
  EXPECT_EQ(fanned->events, 4);
  auto rest = RunTask(ioc_, hooks_->FanOut(100, 1000));
  EXPECT_EQ(rest->events, 3);
  EXPECT_EQ(fanned->deliveries + rest->deliveries, 5);
  EXPECT_EQ(RunTask(ioc_, hooks_->FanOut(100, 1000))->events, 0);  // the cursor moved

  // One head per session: ses_a's first and ses_b's first.
  auto due = RunTask(ioc_, hooks_->DueDeliveries(1000, 50));
  ASSERT_TRUE(due);
  ASSERT_EQ(due->due.size(), 2u);
  EXPECT_EQ(due->due[0].endpoint.secret, "whsec_secret-of-whk_a");
  std::string a_head = due->due[0].delivery.session_id == "ses_a" ? due->due[0].delivery.id : due->due[1].delivery.id;
  std::string b_head = due->due[0].delivery.session_id == "ses_b" ? due->due[0].delivery.id : due->due[1].delivery.id;

  // ses_a's head fails and retries later: the session's next one stays behind it.
  WebhookAttemptOutcome fail{.delivery_id = a_head, .endpoint_id = "whk_a",
                             .attempt = {0, 1000, 503, 12, ""}, .new_state = "retrying",
                             .next_attempt_ms = 5000, .disable_after_ms = 100000};
  auto rec = RunTask(ioc_, hooks_->RecordAttempt(fail));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->endpoint.failing_since_ms, 1000);
  WebhookAttemptOutcome ok{.delivery_id = b_head, .endpoint_id = "whk_a",
                           .attempt = {0, 1100, 200, 5, ""}, .new_state = "delivered"};
  ASSERT_TRUE(RunTask(ioc_, hooks_->RecordAttempt(ok)));
  due = RunTask(ioc_, hooks_->DueDeliveries(1200, 50));
  ASSERT_EQ(due->due.size(), 1u);
  EXPECT_EQ(due->due[0].delivery.session_id, "ses_b");
  EXPECT_EQ(due->next_due_ms, 5000);

  // Dead: the next of ses_a becomes its head.
  fail.attempt.at_ms = 5000;
  fail.new_state = "dead";
  ASSERT_TRUE(RunTask(ioc_, hooks_->RecordAttempt(fail)));
  due = RunTask(ioc_, hooks_->DueDeliveries(5000, 50));
  bool a_next = false;
  for (const auto& d : due->due) a_next = a_next || (d.delivery.session_id == "ses_a" && d.delivery.id != a_head);
  EXPECT_TRUE(a_next);

  auto stats = RunTask(ioc_, hooks_->SessionStats("acc_1", "ses_a"));
  EXPECT_EQ(stats->events, 4);
  EXPECT_EQ(stats->deliveries, 3);
  EXPECT_EQ(stats->dead, 1);

  auto got = RunTask(ioc_, hooks_->GetDelivery("acc_1", "whk_a", a_head));
  ASSERT_TRUE(got && *got);
  ASSERT_EQ((*got)->attempt_log.size(), 2u);
  EXPECT_EQ((*got)->attempt_log[0].status_code, 503);
  EXPECT_EQ((*got)->state, "dead");
  EXPECT_FALSE(*RunTask(ioc_, hooks_->ReplayDelivery("acc_2", "whk_a", a_head, 6000)));
  auto replayed = RunTask(ioc_, hooks_->ReplayDelivery("acc_1", "whk_a", a_head, 6000));
  ASSERT_TRUE(replayed && *replayed);
  EXPECT_EQ((*replayed)->state, "pending");
  EXPECT_FALSE((*replayed)->ordered);
  EXPECT_EQ(RunTask(ioc_, hooks_->SessionStats("acc_1", "ses_a"))->dead, 0);

  auto list = RunTask(ioc_, hooks_->ListDeliveries("acc_1", "whk_a", "", "", 2));
  ASSERT_EQ(list->size(), 2u);
  EXPECT_GT((*list)[0].event_seq, (*list)[1].event_seq);
  auto next = RunTask(ioc_, hooks_->ListDeliveries("acc_1", "whk_a", list->back().id, "", 10));
  EXPECT_EQ(next->size(), 3u);
  EXPECT_TRUE(RunTask(ioc_, hooks_->ListDeliveries("acc_2", "whk_a", "", "", 10))->empty());
}

TEST_F(WebhookStoreTest, FailingLongEnoughDisablesAndDisabledEndpointsHoldTheirDeliveries) {
  ASSERT_TRUE(RunTask(ioc_, hooks_->CreateEndpoint(Endpoint("whk_a", "acc_1", "", {"session.status"}))));
  Append("acc_1", "ses_a", "session.status", 1);
  Append("acc_1", "ses_b", "session.status", 1);
  ASSERT_TRUE(RunTask(ioc_, hooks_->FanOut(100, 0)));
  auto due = RunTask(ioc_, hooks_->DueDeliveries(0, 50));
  ASSERT_EQ(due->due.size(), 2u);
  WebhookAttemptOutcome o{.delivery_id = due->due[0].delivery.id, .endpoint_id = "whk_a",
                          .attempt = {0, 1000, 0, 10000, "timed out"}, .new_state = "retrying",
                          .next_attempt_ms = 2000, .disable_after_ms = 5000};
  EXPECT_FALSE(RunTask(ioc_, hooks_->RecordAttempt(o))->endpoint_disabled_now);
  o.attempt.at_ms = 6000;
  o.next_attempt_ms = 7000;
  auto rec = RunTask(ioc_, hooks_->RecordAttempt(o));
  EXPECT_TRUE(rec->endpoint_disabled_now);
  EXPECT_TRUE(rec->endpoint.disabled);
  EXPECT_TRUE(RunTask(ioc_, hooks_->DueDeliveries(10000, 50))->due.empty());
  EXPECT_EQ(RunTask(ioc_, hooks_->DueDeliveries(10000, 50))->next_due_ms, 0);

  auto e = **RunTask(ioc_, hooks_->GetEndpoint("acc_1", "whk_a"));
  e.disabled = false;
  e.failing_since_ms = 0;
  ASSERT_TRUE(RunTask(ioc_, hooks_->UpdateEndpoint(e, 20000)));
  due = RunTask(ioc_, hooks_->DueDeliveries(20000, 50));
  ASSERT_EQ(due->due.size(), 2u);
  for (const auto& d : due->due) EXPECT_EQ(d.delivery.window_start_ms, 20000);
}

TEST_F(WebhookStoreTest, LaneDeliveriesAndRecordAttemptsInOneTransaction) {
  ASSERT_TRUE(RunTask(ioc_, hooks_->CreateEndpoint(Endpoint("whk_a", "acc_1", "", {"session.status"}))));
  Append("acc_1", "ses_a", "session.status", 4);
  Append("acc_1", "ses_b", "session.status", 1);
  ASSERT_TRUE(RunTask(ioc_, hooks_->FanOut(100, 1000)));
  auto due = RunTask(ioc_, hooks_->DueDeliveries(1000, 50));
  ASSERT_TRUE(due);
  const WebhookDeliveryRow* head = nullptr;
  for (const auto& d : due->due) {
    if (d.delivery.session_id == "ses_a") head = &d.delivery;
  }
  ASSERT_NE(head, nullptr);
  // The lane after its head: ses_a's three others, in order; ses_b's is another lane.
  auto lane = RunTask(ioc_, hooks_->LaneDeliveries("whk_a", "ses_a", head->event_seq, 1000, 10));
  ASSERT_TRUE(lane);
  ASSERT_EQ(lane->size(), 3u);
  EXPECT_LT(head->event_seq, (*lane)[0].event_seq);
  EXPECT_LT((*lane)[0].event_seq, (*lane)[1].event_seq);
  EXPECT_EQ(RunTask(ioc_, hooks_->LaneDeliveries("whk_a", "ses_a", head->event_seq, 1000, 2))->size(), 2u);

  // The head and the next delivered, the third retrying later: one call, one transaction.
  std::vector<WebhookAttemptOutcome> outcomes = {
      {.delivery_id = head->id, .endpoint_id = "whk_a", .attempt = {0, 1000, 200, 1, ""}, .new_state = "delivered"},
      {.delivery_id = (*lane)[0].id, .endpoint_id = "whk_a", .attempt = {0, 1001, 204, 1, ""}, .new_state = "delivered"},
      {.delivery_id = (*lane)[1].id, .endpoint_id = "whk_a", .attempt = {0, 1002, 500, 1, "x"},
       .new_state = "retrying", .next_attempt_ms = 9000, .disable_after_ms = 100000}};
  auto recorded = RunTask(ioc_, hooks_->RecordAttempts(outcomes));
  ASSERT_TRUE(recorded);
  ASSERT_EQ(recorded->size(), 3u);
  EXPECT_EQ((*recorded)[2].endpoint.failing_since_ms, 1002);
  EXPECT_EQ(RunTask(ioc_, hooks_->SessionStats("acc_1", "ses_a"))->delivered, 2);
  // The retrying one now holds the lane: nothing after it is due, and it is not due before 9000.
  EXPECT_TRUE(RunTask(ioc_, hooks_->LaneDeliveries("whk_a", "ses_a", (*lane)[0].event_seq, 1500, 10))->empty());
  EXPECT_EQ(RunTask(ioc_, hooks_->LaneDeliveries("whk_a", "ses_a", (*lane)[0].event_seq, 9000, 10))->size(), 2u);
}

TEST_F(WebhookStoreTest, TheMessageWritersHookCommitsDeliveriesWithTheirEvents) {
  SqliteSessionStore sessions(*store_);
  ASSERT_TRUE(RunTask(ioc_, sessions.CreateSession(SessionRow{.id = "ses_1", .account_id = "acc_1", .name = "s",
                                                              .desired = "running", .status = "connected"})));
  ASSERT_TRUE(RunTask(ioc_, hooks_->CreateEndpoint(Endpoint("whk_a", "acc_1", "", {"message.received"}))));
  Append("acc_1", "ses_1", "session.status");  // another writer's event, before: fanned out with them
  SqliteMessageStore messages(*store_);
  bool fail = false;
  std::vector<DueWebhookDelivery> handed;  // what the after-commit step got (the worker, in wagate)
  messages.SetTransactionHook([this, &fail, &handed](sqlite3* db) -> base::Result<SqliteMessageStore::AfterCommit> {
    auto made = std::make_shared<std::vector<DueWebhookDelivery>>();
    auto fanned = FanOutInTransaction(db, hooks_->master_key(), 100, 1000, made.get());
    if (!fanned) return fanned.error();
    if (fail) return make_error_code(Errc::kIo);  // after writing: must be undone
    return SqliteMessageStore::AfterCommit([made, &handed] {
      for (auto& d : *made) handed.push_back(std::move(d));
    });
  });
  auto received = [&](std::string id) {
    MessageRow in{.id = id, .account_id = "acc_1", .session_id = "ses_1", .direction = "in", .wa_id = "W" + id,
                  .chat_jid = "15550002222@s.whatsapp.net", .text = id, .status = "received",
                  .created_ms = 10, .updated_ms = 10};
    auto stored = RunTask(ioc_, messages.StoreReceived(in));
    EXPECT_TRUE(stored && stored->inserted && stored->events.size() == 1u);
    return stored ? stored->events.at(0) : EventRow{};
  };

  // Committed together: due at once, without the worker's own fan-out, which finds nothing left.
  EventRow first = received("msg_1");
  auto due = RunTask(ioc_, hooks_->DueDeliveries(2000, 10));
  ASSERT_TRUE(due);
  ASSERT_EQ(due->due.size(), 1u);
  EXPECT_EQ(due->due[0].delivery.event_id, first.id);
  // Handed over once committed, as the worker would read it (the session.status event has no
  // subscriber here, so no delivery).
  ASSERT_EQ(handed.size(), 1u);
  EXPECT_EQ(handed[0].delivery.id, due->due[0].delivery.id);
  EXPECT_EQ(handed[0].delivery.body, due->due[0].delivery.body);
  EXPECT_EQ(handed[0].delivery.event_seq, due->due[0].delivery.event_seq);
  EXPECT_EQ(handed[0].delivery.state, "pending");
  EXPECT_TRUE(handed[0].delivery.ordered);
  EXPECT_EQ(handed[0].endpoint.id, "whk_a");
  EXPECT_EQ(handed[0].endpoint.secret, due->due[0].endpoint.secret);
  EXPECT_EQ(RunTask(ioc_, hooks_->FanOut(100, 2000))->events, 0);
  EXPECT_EQ(RunTask(ioc_, hooks_->SessionStats("acc_1", "ses_1"))->events, 2);

  // A failing hook leaves its rows and the cursor as they were; the message commits anyway and
  // the worker's fan-out makes its delivery.
  fail = true;
  EventRow second = received("msg_2");
  EXPECT_TRUE(RunTask(ioc_, messages.GetMessage("acc_1", "ses_1", "msg_2"))->has_value());
  EXPECT_EQ(RunTask(ioc_, hooks_->SessionStats("acc_1", "ses_1"))->deliveries, 1);
  EXPECT_EQ(handed.size(), 1u);  // nothing handed over from a rolled-back hook
  auto caught_up = RunTask(ioc_, hooks_->FanOut(100, 2000));
  EXPECT_EQ(caught_up->events, 1);
  EXPECT_EQ(caught_up->deliveries, 1);
  auto lane = RunTask(ioc_, hooks_->LaneDeliveries("whk_a", "ses_1", 0, 2000, 10));
  ASSERT_TRUE(lane);
  ASSERT_EQ(lane->size(), 2u);
  EXPECT_EQ((*lane)[0].event_id, first.id);
  EXPECT_EQ((*lane)[1].event_id, second.id);
}

}  // namespace
}  // namespace gateway::store::sqlite
