// Tenants in the store: accounts, API keys and dashboard logins (migration 3). The account
// service (gateway/accounts) owns the rules; this interface only keeps the rows. Every method
// runs on the store's pool; times are unix milliseconds.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "gateway/store/store.h"

namespace gateway::store {

struct AccountRow {
  std::string id;
  std::string email;  // lower-cased
  std::string password_hash;
  std::string plan;
  bool suspended = false;
  std::int64_t created_ms = 0;
};

struct ApiKeyRow {
  std::string id;
  std::string account_id;
  std::string name;
  std::string prefix;
  base::Bytes secret_hash;  // SHA-256 of the secret
  bool read_only = false;
  std::vector<std::string> session_ids;  // empty: every session of the account
  std::int64_t created_ms = 0;
  std::optional<std::int64_t> last_used_ms;
  std::optional<std::int64_t> revoked_ms;
};

struct WebSessionRow {
  base::Bytes token_hash;  // SHA-256 of the cookie's token
  std::string account_id;
  std::string csrf_token;
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;
};

class AccountStore {
 public:
  virtual ~AccountStore() = default;

  // kConflict when the email is taken.
  virtual boost::asio::awaitable<base::Result<void>> CreateAccount(AccountRow row) = 0;
  virtual boost::asio::awaitable<base::Result<std::optional<AccountRow>>> FindAccountByEmail(
      std::string email) = 0;
  virtual boost::asio::awaitable<base::Result<std::optional<AccountRow>>> GetAccount(
      std::string id) = 0;
  // False when there is no such account.
  virtual boost::asio::awaitable<base::Result<bool>> SetSuspended(std::string id,
                                                                  bool suspended) = 0;

  virtual boost::asio::awaitable<base::Result<void>> CreateApiKey(ApiKeyRow row) = 0;
  // Revoked keys too (the caller decides); nullopt when no key has this hash.
  virtual boost::asio::awaitable<base::Result<std::optional<ApiKeyRow>>> FindApiKeyByHash(
      base::Bytes secret_hash) = 0;
  // Newest first, revoked ones included.
  virtual boost::asio::awaitable<base::Result<std::vector<ApiKeyRow>>> ListApiKeys(
      std::string account_id) = 0;
  // Sets revoked_ms if the key belongs to the account and is not revoked yet; nullopt when the
  // account has no such key, else the key's row (as it is after the call).
  virtual boost::asio::awaitable<base::Result<std::optional<ApiKeyRow>>> RevokeApiKey(
      std::string account_id, std::string key_id, std::int64_t at_ms) = 0;
  // Records when keys were last used (batched by the caller; one transaction).
  virtual boost::asio::awaitable<base::Result<void>> TouchApiKeys(
      std::vector<std::pair<std::string, std::int64_t>> last_used) = 0;

  virtual boost::asio::awaitable<base::Result<void>> CreateWebSession(WebSessionRow row) = 0;
  // Expired rows are not returned.
  virtual boost::asio::awaitable<base::Result<std::optional<WebSessionRow>>> FindWebSession(
      base::Bytes token_hash, std::int64_t now_ms) = 0;
  virtual boost::asio::awaitable<base::Result<void>> DeleteWebSession(base::Bytes token_hash) = 0;
};

}  // namespace gateway::store
