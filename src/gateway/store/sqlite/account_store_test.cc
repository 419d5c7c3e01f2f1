#include "gateway/store/sqlite/account_store.h"

#include <gtest/gtest.h>

#include "gateway/store/sqlite/session_state_test_util.h"

namespace gateway::store::sqlite {
namespace {

using testing::RunTask;

class AccountStoreTest : public testing::MigratedStoreTest {
 protected:
  void SetUp() override {
    MigratedStoreTest::SetUp();
    if (HasFatalFailure()) return;
    rows_ = std::make_unique<SqliteAccountStore>(*store_);
  }
  void TearDown() override {
    rows_.reset();
  }

  std::unique_ptr<SqliteAccountStore> rows_;
};

TEST_F(AccountStoreTest, AccountsKeysAndLoginsRoundTrip) {
  AccountRow ada{.id = "acc_1", .email = "ada@example.com", .password_hash = "h", .plan = "pro",
                 .suspended = false, .created_ms = 5};
  ASSERT_TRUE(RunTask(ioc_, rows_->CreateAccount(ada)));
  auto dup = RunTask(ioc_, rows_->CreateAccount(AccountRow{.id = "acc_2", .email = "ada@example.com",
                                                           .password_hash = "h", .plan = "pro"}));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error(), Errc::kConflict);
  auto found = RunTask(ioc_, rows_->FindAccountByEmail("ada@example.com"));
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->id, "acc_1");
  EXPECT_EQ((*found)->plan, "pro");
  EXPECT_FALSE(*RunTask(ioc_, rows_->FindAccountByEmail("bob@example.com")));
  EXPECT_TRUE(*RunTask(ioc_, rows_->SetSuspended("acc_1", true)));
  EXPECT_TRUE((*RunTask(ioc_, rows_->GetAccount("acc_1")))->suspended);

  ApiKeyRow key{.id = "key_1", .account_id = "acc_1", .name = "ci", .prefix = "wag_abcd",
                .secret_hash = base::Bytes(32, 7), .read_only = true,
                .session_ids = {"ses_a", "ses_b"}, .created_ms = 10};
  ASSERT_TRUE(RunTask(ioc_, rows_->CreateApiKey(key)));
  auto by_hash = RunTask(ioc_, rows_->FindApiKeyByHash(base::Bytes(32, 7)));
  ASSERT_TRUE(by_hash && *by_hash);
  EXPECT_EQ((*by_hash)->session_ids, (std::vector<std::string>{"ses_a", "ses_b"}));
  EXPECT_TRUE((*by_hash)->read_only);
  EXPECT_FALSE((*by_hash)->revoked_ms);
  ASSERT_TRUE(RunTask(ioc_, rows_->TouchApiKeys({{"key_1", 20}, {"key_missing", 30}})));
  ASSERT_TRUE(RunTask(ioc_, rows_->TouchApiKeys({{"key_1", 15}})));  // never goes back
  EXPECT_EQ((*RunTask(ioc_, rows_->ListApiKeys("acc_1")))[0].last_used_ms, 20);
  EXPECT_FALSE(*RunTask(ioc_, rows_->RevokeApiKey("acc_other", "key_1", 40)));
  auto revoked = RunTask(ioc_, rows_->RevokeApiKey("acc_1", "key_1", 40));
  ASSERT_TRUE(revoked && *revoked);
  EXPECT_EQ((*revoked)->revoked_ms, 40);
  // A second revoke keeps the first time.
  EXPECT_EQ((*RunTask(ioc_, rows_->RevokeApiKey("acc_1", "key_1", 50)))->revoked_ms, 40);

  WebSessionRow login{.token_hash = base::Bytes(32, 9), .account_id = "acc_1", .csrf_token = "c",
                      .created_ms = 100, .expires_ms = 200};
  ASSERT_TRUE(RunTask(ioc_, rows_->CreateWebSession(login)));
  EXPECT_TRUE(*RunTask(ioc_, rows_->FindWebSession(base::Bytes(32, 9), 150)));
  EXPECT_FALSE(*RunTask(ioc_, rows_->FindWebSession(base::Bytes(32, 9), 200)));
  ASSERT_TRUE(RunTask(ioc_, rows_->DeleteWebSession(base::Bytes(32, 9))));
  EXPECT_FALSE(*RunTask(ioc_, rows_->FindWebSession(base::Bytes(32, 9), 150)));
}

}  // namespace
}  // namespace gateway::store::sqlite
