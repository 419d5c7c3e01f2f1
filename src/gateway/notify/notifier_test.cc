#include "gateway/notify/notifier.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <thread>

#include "gateway/store/sqlite/account_store.h"
#include "gateway/store/sqlite/email_store.h"
#include "gateway/store/sqlite/message_store.h"
#include "gateway/store/sqlite/session_state_test_util.h"
#include "gateway/store/sqlite/session_store.h"
#include "gateway/store/sqlite/sqlite_store.h"

namespace gateway::notify {
namespace {

namespace asio = boost::asio;
using store::sqlite::testing::RunTask;

// Records what it is given; fails while `down` is set (an SMTP server that is not there).
class FakeSender final : public Sender {
 public:
  base::Result<void, std::string> Send(const std::string& from, const std::string& rcpt,
                                       const std::string& message) override {
    std::lock_guard lock(mu_);
    ++calls_;
    if (down_) return std::string("smtp: connection refused");
    sent_.push_back({from, rcpt, message});
    return {};
  }
  struct Sent {
    std::string from, rcpt, message;
  };
  std::vector<Sent> sent() {
    std::lock_guard lock(mu_);
    return sent_;
  }
  int calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  void set_down(bool down) {
    std::lock_guard lock(mu_);
    down_ = down;
  }

 private:
  std::mutex mu_;
  std::vector<Sent> sent_;
  int calls_ = 0;
  bool down_ = false;
};

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class NotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("wagate-notifier-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::string err;
    auto s = store::sqlite::SqliteStore::Open({.path = dir_ / "t.db", .threads = 2}, &err);
    ASSERT_TRUE(s) << err;
    store_ = std::move(*s);
    ASSERT_TRUE(store_->Migrate(&err)) << err;
    accounts_ = std::make_unique<store::sqlite::SqliteAccountStore>(*store_);
    sessions_ = std::make_unique<store::sqlite::SqliteSessionStore>(*store_);
    messages_ = std::make_unique<store::sqlite::SqliteMessageStore>(*store_);
    emails_ = std::make_unique<store::sqlite::SqliteEmailStore>(*store_);
    asio::io_context setup;
    ASSERT_TRUE(RunTask(setup, accounts_->CreateAccount({.id = "acc_1", .email = "owner@example.org",
                                                         .password_hash = "x", .plan = "starter",
                                                         .created_ms = 1})));
    ASSERT_TRUE(RunTask(setup, sessions_->CreateSession({.id = "ses_1", .account_id = "acc_1",
                                                         .name = "Shop <main>", .desired = "running",
                                                         .status = "connected", .created_ms = 1})));
  }

  void Start(NotifierOptions options) {
    options.from = {"Gateway", "noreply@gw.example"};
    options.public_url = "https://dash.example";
    options.poll_interval = std::chrono::milliseconds(50);
    notifier_ = std::make_unique<Notifier>(
        ioc_, *emails_, *accounts_, *sessions_, *messages_, sender_, pool_,
        [](const std::string& plan) -> std::int64_t { return plan == "starter" ? 5 : 0; }, options);
    notifier_->Start();
    thread_ = std::thread([this] { ioc_.run(); });
  }

  void TearDown() override {
    if (notifier_) {
      asio::co_spawn(ioc_, notifier_->Shutdown(std::chrono::seconds(2)), [&](std::exception_ptr) {
        work_.reset();
      });
      thread_.join();
    }
    notifier_.reset();
    messages_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Polls until `pred` holds or 5 s pass.
  template <class P>
  bool WaitFor(P pred) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return pred();
  }

  void SetUsage(std::int64_t used) {
    auto month = MonthStartMs(NowMs());
    ASSERT_TRUE(store_->WithConnection([&](sqlite3* db) -> base::Result<void> {
      std::string sql = "INSERT OR REPLACE INTO account_usage(account_id, month_start_ms, messages) VALUES('acc_1', " +
                        std::to_string(month) + ", " + std::to_string(used) + ")";
      EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
      return {};
    }));
  }

  store::EventRow Status(const std::string& status, const std::string& id) {
    return {.id = id, .account_id = "acc_1", .session_id = "ses_1", .type = "session.status",
            .data = R"({"session_id":"ses_1","status":")" + status + R"(","reason":"logged_out","phone":"15550001"})",
            .created_ms = NowMs()};
  }
  store::EventRow Queued(const std::string& id) {
    return {.id = id, .account_id = "acc_1", .session_id = "ses_1", .type = "message.status",
            .data = R"({"id":"msg_1","status":"queued"})", .created_ms = NowMs()};
  }

  std::vector<store::EmailRow> Emails() {
    asio::io_context ioc;
    auto rows = RunTask(ioc, emails_->ListEmails("acc_1", 100));
    EXPECT_TRUE(rows);
    return rows ? *rows : std::vector<store::EmailRow>{};
  }

  std::filesystem::path dir_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
  std::thread thread_;
  base::BlockingPool pool_{1};
  std::unique_ptr<store::sqlite::SqliteStore> store_;
  std::unique_ptr<store::sqlite::SqliteAccountStore> accounts_;
  std::unique_ptr<store::sqlite::SqliteSessionStore> sessions_;
  std::unique_ptr<store::sqlite::SqliteMessageStore> messages_;
  std::unique_ptr<store::sqlite::SqliteEmailStore> emails_;
  FakeSender sender_;
  std::unique_ptr<Notifier> notifier_;
};

TEST_F(NotifierTest, LoggedOutSendsOneRelinkEmailToTheOwner) {
  Start({});
  notifier_->OnEvent(Status("logged_out", "evt_1"));
  ASSERT_TRUE(WaitFor([&] { return sender_.sent().size() == 1; }));
  auto sent = sender_.sent()[0];
  EXPECT_EQ(sent.from, "noreply@gw.example");
  EXPECT_EQ(sent.rcpt, "owner@example.org");
  EXPECT_NE(sent.message.find("To: <owner@example.org>\r\n"), std::string::npos);
  EXPECT_NE(sent.message.find("Subject: Re-link Shop <main>"), std::string::npos);
  EXPECT_NE(sent.message.find("https://dash.example/sessions/ses_1"), std::string::npos);
  EXPECT_NE(sent.message.find("Shop &lt;main&gt;"), std::string::npos);  // escaped in the HTML part
  ASSERT_TRUE(WaitFor([&] { auto e = Emails(); return e.size() == 1 && e[0].state == "sent"; }));
  // The same event again (read twice) and a later non-alert status: still one email.
  notifier_->OnEvent(Status("logged_out", "evt_1"));
  notifier_->OnEvent(Status("connected", "evt_2"));
  notifier_->OnEvent(Status("logged_out", "evt_1"));
  ASSERT_TRUE(WaitFor([&] { return notifier_->raised() == 1 && Emails().size() == 1; }));
  EXPECT_EQ(sender_.sent().size(), 1u);
}

TEST_F(NotifierTest, AnEmailWaitsInTheOutboxWhileSmtpIsDownAndIsSentWhenItIsBack) {
  sender_.set_down(true);
  Start({.retry_first = std::chrono::milliseconds(20), .retry_max = std::chrono::milliseconds(40)});
  notifier_->OnEvent(Status("logged_out", "evt_1"));
  ASSERT_TRUE(WaitFor([&] { return sender_.calls() >= 3; }));
  auto rows = Emails();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, "pending");
  EXPECT_GE(rows[0].attempts, 2);
  EXPECT_NE(rows[0].last_error.find("connection refused"), std::string::npos);
  sender_.set_down(false);
  ASSERT_TRUE(WaitFor([&] { return sender_.sent().size() == 1; }));
  ASSERT_TRUE(WaitFor([&] { auto e = Emails(); return e.size() == 1 && e[0].state == "sent"; }));
}

TEST_F(NotifierTest, GivesUpAfterMaxAttempts) {
  sender_.set_down(true);
  Start({.retry_first = std::chrono::milliseconds(10), .retry_max = std::chrono::milliseconds(10),
         .max_attempts = 3});
  notifier_->OnEvent(Status("logged_out", "evt_1"));
  ASSERT_TRUE(WaitFor([&] { auto e = Emails(); return e.size() == 1 && e[0].state == "dead"; }));
  EXPECT_EQ(Emails()[0].attempts, 3);
  EXPECT_EQ(sender_.calls(), 3);
}

TEST_F(NotifierTest, QuotaAt80And100PercentOnceEach) {
  Start({});
  SetUsage(3);
  notifier_->OnEvent(Queued("evt_1"));
  // Nothing at 60 %: wait until the usage was read (a later event proves the earlier ran).
  notifier_->OnEvent(Status("connected", "evt_x"));
  SetUsage(4);
  notifier_->OnEvent(Queued("evt_2"));
  ASSERT_TRUE(WaitFor([&] { return sender_.sent().size() == 1; }));
  EXPECT_NE(sender_.sent()[0].message.find("4 of the 5 messages"), std::string::npos);
  notifier_->OnEvent(Queued("evt_3"));  // still 4: no second 80 % email
  SetUsage(5);
  notifier_->OnEvent(Queued("evt_4"));
  ASSERT_TRUE(WaitFor([&] { return sender_.sent().size() == 2; }));
  EXPECT_NE(sender_.sent()[1].message.find("used up"), std::string::npos);
  notifier_->OnEvent(Queued("evt_5"));
  notifier_->OnEvent(Queued("evt_6"));
  ASSERT_TRUE(WaitFor([&] { return notifier_->raised() == 2; }));
  auto rows = Emails();
  ASSERT_EQ(rows.size(), 2u);
  std::set<std::string> kinds = {rows[0].kind, rows[1].kind};
  EXPECT_EQ(kinds, (std::set<std::string>{"quota_80", "quota_100"}));
}

TEST_F(NotifierTest, DisconnectedTooLongIsOneEmailPerOutage) {
  Start({.disconnected_after = std::chrono::milliseconds(100)});
  auto t0 = std::chrono::steady_clock::now();
  notifier_->OnEvent(Status("disconnected", "evt_1"));
  ASSERT_TRUE(WaitFor([&] { return sender_.sent().size() == 1; }));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100));
  EXPECT_NE(sender_.sent()[0].message.find("disconnected"), std::string::npos);
  // A short outage (reconnected in time) sends nothing.
  notifier_->OnEvent(Status("connected", "evt_2"));
  notifier_->OnEvent(Status("disconnected", "evt_3"));
  notifier_->OnEvent(Status("connected", "evt_4"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // longer than the delay: proves no email
  EXPECT_EQ(sender_.sent().size(), 1u);
  EXPECT_EQ(notifier_->raised(), 1);
}

TEST_F(NotifierTest, EndpointDisabledEmailNamesTheUrl) {
  Start({});
  store::WebhookEndpointRow e{.id = "whk_1", .account_id = "acc_1", .url = "https://hooks.example/in?a=1&b=2",
                              .disabled = true, .disabled_reason = "failing for 72 h", .updated_ms = 42};
  notifier_->OnEndpointDisabled(e);
  notifier_->OnEndpointDisabled(e);
  ASSERT_TRUE(WaitFor([&] { return sender_.sent().size() == 1; }));
  const std::string m = sender_.sent()[0].message;
  EXPECT_NE(m.find("Webhook endpoint disabled"), std::string::npos);
  EXPECT_NE(m.find("a=3D1&amp;b=3D2"), std::string::npos);  // HTML part, quoted-printable
  ASSERT_TRUE(WaitFor([&] { return Emails().size() == 1; }));
}

}  // namespace
}  // namespace gateway::notify
