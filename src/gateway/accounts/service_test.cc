#include "gateway/accounts/service.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "gateway/store/sqlite/account_store.h"
#include "gateway/store/sqlite/session_state_test_util.h"

namespace gateway::accounts {
namespace {

namespace asio = boost::asio;
using store::sqlite::SqliteAccountStore;

template <class T>
T Await(asio::io_context& ioc, asio::awaitable<T> task) {
  return store::sqlite::testing::RunTask(ioc, std::move(task));
}

inline void Await(asio::io_context& ioc, asio::awaitable<void> task) {
  asio::co_spawn(ioc, std::move(task), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  ioc.restart();
  ioc.run();
}

class AccountServiceTest : public store::sqlite::testing::MigratedStoreTest {
 protected:
  void SetUp() override {
    MigratedStoreTest::SetUp();
    if (HasFatalFailure()) return;
    rows_ = std::make_unique<SqliteAccountStore>(*store_);
    config_.plans[0].requests_per_minute = 3;
    service_ = std::make_unique<AccountService>(
        *rows_, pool_, config_, ServiceOptions{}, [this] { return now_ms_; },
        [this] { return steady_; });
  }
  void TearDown() override {
    service_.reset();
    rows_.reset();
  }

  AccountView SignUp(const std::string& email, const std::string& ip = "10.0.0.1") {
    auto r = Await(ioc_, service_->Signup(email, kPassword, ip));
    EXPECT_TRUE(r) << (r ? "" : r.error().code);
    return r ? *r : AccountView{};
  }
  Principal WebLogin(const std::string& email) {
    auto login = Await(ioc_, service_->Login(email, kPassword, "10.0.0.1"));
    EXPECT_TRUE(login);
    auto p = Await(ioc_, service_->AuthenticateCookie(login->token));
    EXPECT_TRUE(p);
    return *p;
  }
  std::string Code(const base::Result<Principal, ApiError>& r) { return r ? "ok" : r.error().code; }

  static constexpr const char* kPassword = "correct horse battery";
  base::BlockingPool pool_{2};
  config::Config config_;
  std::unique_ptr<SqliteAccountStore> rows_;
  std::unique_ptr<AccountService> service_;
  std::int64_t now_ms_ = 1'700'000'000'000;
  Clock::time_point steady_{};
};

TEST_F(AccountServiceTest, SignupValidatesAndRefusesADuplicateEmail) {
  AccountView ada = SignUp("Ada@Example.com");
  EXPECT_EQ(ada.email, "ada@example.com");
  EXPECT_EQ(ada.plan, "starter");
  EXPECT_EQ(ada.id.substr(0, 4), "acc_");
  auto again = Await(ioc_, service_->Signup("ADA@example.com", kPassword, "10.0.0.2"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, "email_taken");
  EXPECT_EQ(again.error().status, base::http::beast_http::status::conflict);
  auto bad = Await(ioc_, service_->Signup("not-an-email", kPassword, "10.0.0.2"));
  EXPECT_EQ(bad.error().code, "invalid_email");
  auto weak = Await(ioc_, service_->Signup("bob@example.com", "short", "10.0.0.2"));
  EXPECT_EQ(weak.error().code, "weak_password");
  // The stored hash is argon2id, never the password.
  auto row = Await(ioc_, rows_->FindAccountByEmail("ada@example.com"));
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->password_hash.rfind("$argon2id$", 0), 0u);
}

TEST_F(AccountServiceTest, LoginLogoutAndTheCookiePrincipal) {
  AccountView ada = SignUp("ada@example.com");
  auto login = Await(ioc_, service_->Login("ADA@example.com", kPassword, "10.0.0.1"));
  ASSERT_TRUE(login);
  EXPECT_EQ(login->account.id, ada.id);
  EXPECT_FALSE(login->csrf_token.empty());
  auto p = Await(ioc_, service_->AuthenticateCookie(login->token));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->account_id, ada.id);
  EXPECT_EQ(p->csrf_token, login->csrf_token);
  Await(ioc_, service_->Logout(login->token));
  EXPECT_EQ(Code(Await(ioc_, service_->AuthenticateCookie(login->token))), "unauthenticated");
  // An expired login is refused too.
  auto again = Await(ioc_, service_->Login("ada@example.com", kPassword, "10.0.0.1"));
  now_ms_ += 15LL * 24 * 3600 * 1000;
  EXPECT_EQ(Code(Await(ioc_, service_->AuthenticateCookie(again->token))), "unauthenticated");
}

TEST_F(AccountServiceTest, FailedLoginsAreLimitedPerAccount) {
  SignUp("ada@example.com");
  auto wrong = [&](const char* ip) {
    return Await(ioc_, service_->Login("ada@example.com", "wrong password!", ip));
  };
  for (int i = 0; i < 5; ++i) EXPECT_EQ(wrong("10.0.0.1").error().code, "invalid_credentials");
  auto locked = wrong("10.0.0.9");
  EXPECT_EQ(locked.error().code, "too_many_login_attempts");
  EXPECT_EQ(locked.error().status, base::http::beast_http::status::too_many_requests);
  EXPECT_GT(locked.error().retry_after_s, 0);
  // Even the right password waits until a failure has expired (15 min / 5 = 3 min each).
  EXPECT_EQ(Await(ioc_, service_->Login("ada@example.com", kPassword, "10.0.0.1")).error().code,
            "too_many_login_attempts");
  steady_ += std::chrono::minutes(3);
  EXPECT_TRUE(Await(ioc_, service_->Login("ada@example.com", kPassword, "10.0.0.1")));
  // Unknown emails get the same answer as wrong passwords.
  EXPECT_EQ(Await(ioc_, service_->Login("nobody@example.com", kPassword, "10.0.0.2")).error().code,
            "invalid_credentials");
}

TEST_F(AccountServiceTest, ApiKeysAuthenticateUntilRevoked) {
  SignUp("ada@example.com");
  Principal web = WebLogin("ada@example.com");
  auto created = Await(ioc_, service_->CreateKey(web, "ci", false, {}));
  ASSERT_TRUE(created);
  EXPECT_EQ(created->key.prefix, created->secret.substr(0, 12));
  auto p = Await(ioc_, service_->AuthenticateBearer("Bearer " + created->secret));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->account_id, web.account_id);
  EXPECT_EQ(p->key_id, created->key.id);
  EXPECT_EQ(Code(Await(ioc_, service_->AuthenticateBearer(""))), "unauthenticated");
  EXPECT_EQ(Code(Await(ioc_, service_->AuthenticateBearer("Basic abc"))), "unauthenticated");
  EXPECT_EQ(Code(Await(ioc_, service_->AuthenticateBearer("Bearer wag_nope"))), "invalid_api_key");

  auto listed = Await(ioc_, service_->ListKeys(web));
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE((*listed)[0].last_used_ms);
  Await(ioc_, service_->FlushLastUsed());
  auto row = Await(ioc_, rows_->ListApiKeys(web.account_id));
  EXPECT_EQ((*row)[0].last_used_ms, now_ms_);

  // Another account cannot see or revoke it.
  SignUp("bob@example.com");
  Principal bob = WebLogin("bob@example.com");
  EXPECT_EQ(Await(ioc_, service_->ListKeys(bob))->size(), 0u);
  EXPECT_EQ(Await(ioc_, service_->RevokeKey(bob, created->key.id)).error().code, "not_found");
  // Revoking through the service takes effect at once, despite the cache.
  auto revoked = Await(ioc_, service_->RevokeKey(web, created->key.id));
  ASSERT_TRUE(revoked);
  EXPECT_TRUE(revoked->revoked_ms);
  EXPECT_EQ(Code(Await(ioc_, service_->AuthenticateBearer("Bearer " + created->secret))),
            "invalid_api_key");
}

TEST_F(AccountServiceTest, ARevocationByAnotherProcessTakesEffectWithinTheCacheTtl) {
  SignUp("ada@example.com");
  Principal web = WebLogin("ada@example.com");
  auto created = Await(ioc_, service_->CreateKey(web, "ci", false, {}));
  std::string bearer = "Bearer " + created->secret;
  ASSERT_TRUE(Await(ioc_, service_->AuthenticateBearer(bearer)));
  // Straight into the database, as `wagate admin` or another node would.
  ASSERT_TRUE(Await(ioc_, rows_->RevokeApiKey(web.account_id, created->key.id, now_ms_)));
  steady_ += std::chrono::milliseconds(499);
  EXPECT_TRUE(Await(ioc_, service_->AuthenticateBearer(bearer)));
  steady_ += std::chrono::milliseconds(2);
  EXPECT_EQ(Code(Await(ioc_, service_->AuthenticateBearer(bearer))), "invalid_api_key");
}

TEST_F(AccountServiceTest, SuspensionRefusesKeysAndLogins) {
  SignUp("ada@example.com");
  Principal web = WebLogin("ada@example.com");
  auto created = Await(ioc_, service_->CreateKey(web, "ci", false, {}));
  std::string bearer = "Bearer " + created->secret;
  ASSERT_TRUE(Await(ioc_, service_->AuthenticateBearer(bearer)));
  ASSERT_TRUE(*Await(ioc_, service_->SetSuspended(web.account_id, true)));
  EXPECT_EQ(Code(Await(ioc_, service_->AuthenticateBearer(bearer))), "account_suspended");
  EXPECT_EQ(Await(ioc_, service_->Login("ada@example.com", kPassword, "10.0.0.1")).error().code,
            "account_suspended");
  ASSERT_TRUE(*Await(ioc_, service_->SetSuspended(web.account_id, false)));
  EXPECT_TRUE(Await(ioc_, service_->AuthenticateBearer(bearer)));
  EXPECT_FALSE(*Await(ioc_, service_->SetSuspended("acc_missing", true)));
}

TEST_F(AccountServiceTest, ReadOnlyAndScopedKeys) {
  SignUp("ada@example.com");
  Principal web = WebLogin("ada@example.com");
  auto ro = Await(ioc_, service_->CreateKey(web, "reader", true, {}));
  auto ro_p = *Await(ioc_, service_->AuthenticateBearer("Bearer " + ro->secret));
  EXPECT_TRUE(ro_p.read_only);
  EXPECT_EQ(Await(ioc_, service_->CreateKey(ro_p, "x", false, {})).error().code, "read_only_key");
  EXPECT_EQ(Await(ioc_, service_->RevokeKey(ro_p, ro->key.id)).error().code, "read_only_key");

  auto scoped = Await(ioc_, service_->CreateKey(web, "one", false, {"ses_a"}));
  auto sp = *Await(ioc_, service_->AuthenticateBearer("Bearer " + scoped->secret));
  EXPECT_TRUE(sp.AllowsSession("ses_a"));
  EXPECT_FALSE(sp.AllowsSession("ses_b"));
  EXPECT_EQ(Await(ioc_, service_->CreateKey(sp, "x", false, {"ses_b"})).error().code, "scope_exceeded");
  auto inherited = Await(ioc_, service_->CreateKey(sp, "x", false, {}));
  ASSERT_TRUE(inherited);
  EXPECT_EQ(inherited->key.session_ids, std::vector<std::string>{"ses_a"});
  EXPECT_EQ(Await(ioc_, service_->CreateKey(web, "", false, {})).error().code, "invalid_name");
}

TEST_F(AccountServiceTest, RequestsAreLimitedPerKeyByPlan) {
  SignUp("ada@example.com");
  Principal web = WebLogin("ada@example.com");
  auto k1 = Await(ioc_, service_->CreateKey(web, "a", false, {}));
  auto k2 = Await(ioc_, service_->CreateKey(web, "b", false, {}));
  auto p1 = *Await(ioc_, service_->AuthenticateBearer("Bearer " + k1->secret));
  auto p2 = *Await(ioc_, service_->AuthenticateBearer("Bearer " + k2->secret));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(service_->TakeRequest(p1).allowed);  // starter: 3/min here
  auto refused = service_->TakeRequest(p1);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_s, 20);
  EXPECT_TRUE(service_->TakeRequest(p2).allowed);
  steady_ += std::chrono::seconds(20);
  EXPECT_TRUE(service_->TakeRequest(p1).allowed);
}

}  // namespace
}  // namespace gateway::accounts
