// The SQLite rows of accounts, API keys and dashboard logins (store/accounts.h).
#pragma once

#include "gateway/store/accounts.h"
#include "gateway/store/sqlite/sqlite_store.h"

namespace gateway::store::sqlite {

class SqliteAccountStore final : public AccountStore {
 public:
  // `store` must be migrated and outlive this object.
  explicit SqliteAccountStore(SqliteStore& store) : store_(store) {}

  boost::asio::awaitable<base::Result<void>> CreateAccount(AccountRow row) override;
  boost::asio::awaitable<base::Result<std::optional<AccountRow>>> FindAccountByEmail(
      std::string email) override;
  boost::asio::awaitable<base::Result<std::optional<AccountRow>>> GetAccount(
      std::string id) override;
  boost::asio::awaitable<base::Result<bool>> SetSuspended(std::string id, bool suspended) override;

  boost::asio::awaitable<base::Result<void>> CreateApiKey(ApiKeyRow row) override;
  boost::asio::awaitable<base::Result<std::optional<ApiKeyRow>>> FindApiKeyByHash(
      base::Bytes secret_hash) override;
  boost::asio::awaitable<base::Result<std::vector<ApiKeyRow>>> ListApiKeys(
      std::string account_id) override;
  boost::asio::awaitable<base::Result<std::optional<ApiKeyRow>>> RevokeApiKey(
      std::string account_id, std::string key_id, std::int64_t at_ms) override;
  boost::asio::awaitable<base::Result<void>> TouchApiKeys(
      std::vector<std::pair<std::string, std::int64_t>> last_used) override;

  boost::asio::awaitable<base::Result<void>> CreateWebSession(WebSessionRow row) override;
  boost::asio::awaitable<base::Result<std::optional<WebSessionRow>>> FindWebSession(
      base::Bytes token_hash, std::int64_t now_ms) override;
  boost::asio::awaitable<base::Result<void>> DeleteWebSession(base::Bytes token_hash) override;

 private:
  SqliteStore& store_;
};

}  // namespace gateway::store::sqlite
