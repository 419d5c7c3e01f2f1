// Accounts, API keys and dashboard logins: the rules behind /v1/auth, /v1/me and /v1/api-keys,
// and the authentication every other route starts with. Errors come back as base::http::ApiError
// with the stable codes of docs/api.md.
//
// Authentication is on the hot path of every request, so a verified API key is cached for
// `key_cache_ttl` (500 ms): revoking or suspending through this service takes effect at once;
// the same change made by another process (`wagate admin suspend`, another node) within the TTL,
// which keeps the "within 1 s". Password hashing runs on `hash_pool`, never on the
// network threads.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/blocking_pool.h"
#include "base/http/problem.h"
#include "base/result.h"
#include "gateway/accounts/limits.h"
#include "gateway/config/config.h"
#include "gateway/store/accounts.h"

namespace gateway::accounts {

using base::http::ApiError;

// Who is calling, once authenticated.
struct Principal {
  enum class Via { kApiKey, kWebSession };
  Via via = Via::kApiKey;
  std::string account_id;
  std::string plan;
  std::string key_id;                     // kApiKey
  bool read_only = false;                 // kApiKey
  std::vector<std::string> session_ids;   // kApiKey: empty = every session
  std::string csrf_token;                 // kWebSession

  bool AllowsSession(std::string_view session_id) const;
};

struct AccountView {
  std::string id;
  std::string email;
  std::string plan;
  bool suspended = false;
  std::int64_t created_ms = 0;
};

struct ApiKeyView {
  std::string id;
  std::string name;
  std::string prefix;
  bool read_only = false;
  std::vector<std::string> session_ids;
  std::int64_t created_ms = 0;
  std::optional<std::int64_t> last_used_ms;
  std::optional<std::int64_t> revoked_ms;
};

struct LoginResult {
  AccountView account;
  std::string token;  // the cookie's value
  std::string csrf_token;
  std::int64_t expires_ms = 0;
};

struct ServiceOptions {
  std::chrono::milliseconds key_cache_ttl{500};
  std::chrono::hours web_session_ttl{24 * 14};
  // Failed logins allowed per account and per client address in `login_window`.
  int login_failures_per_account = 5;
  int login_failures_per_ip = 30;
  std::chrono::minutes login_window{15};
  int signups_per_ip_per_hour = 20;
  std::size_t max_keys_per_account = 100;
};

class AccountService {
 public:
  // `store`, `hash_pool` and `config` must outlive the service. `now_ms` (unix ms) and
  // `steady` are injectable for tests.
  AccountService(store::AccountStore& store, base::BlockingPool& hash_pool,
                 const config::Config& config, ServiceOptions options = {},
                 std::function<std::int64_t()> now_ms = nullptr,
                 std::function<Clock::time_point()> steady = nullptr);

  boost::asio::awaitable<base::Result<AccountView, ApiError>> Signup(std::string email,
                                                                     std::string password,
                                                                     std::string ip);
  boost::asio::awaitable<base::Result<LoginResult, ApiError>> Login(std::string email,
                                                                    std::string password,
                                                                    std::string ip);
  boost::asio::awaitable<void> Logout(std::string token);

  // `Authorization: Bearer <key>` (the header's value is passed whole, or empty when absent).
  boost::asio::awaitable<base::Result<Principal, ApiError>> AuthenticateBearer(
      std::string authorization);
  // The dashboard cookie's token.
  boost::asio::awaitable<base::Result<Principal, ApiError>> AuthenticateCookie(std::string token);

  boost::asio::awaitable<base::Result<AccountView, ApiError>> GetAccount(std::string account_id);

  struct CreatedKey {
    ApiKeyView key;
    std::string secret;
  };
  boost::asio::awaitable<base::Result<CreatedKey, ApiError>> CreateKey(
      const Principal& caller, std::string name, bool read_only,
      std::vector<std::string> session_ids);
  boost::asio::awaitable<base::Result<std::vector<ApiKeyView>, ApiError>> ListKeys(
      const Principal& caller);
  boost::asio::awaitable<base::Result<ApiKeyView, ApiError>> RevokeKey(const Principal& caller,
                                                                       std::string key_id);

  // The kill switch; false when the account does not exist.
  boost::asio::awaitable<base::Result<bool, ApiError>> SetSuspended(std::string account_id,
                                                                    bool suspended);

  // One request against the caller's per-key budget (its plan's requests_per_minute).
  TokenBucket::Decision TakeRequest(const Principal& caller);
  const config::Plan* PlanOf(const Principal& caller) const;

  // Writes the batched last-used times (call periodically and at shutdown).
  boost::asio::awaitable<void> FlushLastUsed();

 private:
  struct CachedKey {
    Principal principal;
    Clock::time_point fetched;
  };
  boost::asio::awaitable<base::Result<Principal, ApiError>> LoadKey(base::Bytes hash);
  void ForgetCached(const std::function<bool(const Principal&)>& which);
  KeyedLimiter& RequestLimiter(const config::Plan& plan);

  store::AccountStore& store_;
  base::BlockingPool& hash_pool_;
  const config::Config& config_;
  ServiceOptions options_;
  std::function<std::int64_t()> now_ms_;
  std::function<Clock::time_point()> steady_;

  KeyedLimiter login_by_account_;
  KeyedLimiter login_by_ip_;
  KeyedLimiter signup_by_ip_;

  std::mutex mu_;
  std::unordered_map<std::string, CachedKey> key_cache_;           // by hash (hex); mu_
  std::unordered_map<std::string, std::int64_t> last_used_;        // by key id; mu_
  std::unordered_map<std::string, std::unique_ptr<KeyedLimiter>> request_limiters_;  // by plan; mu_
};

}  // namespace gateway::accounts
