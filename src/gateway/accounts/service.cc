#include "gateway/accounts/service.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/clock.h"
#include "base/bytes.h"
#include "gateway/accounts/api_key.h"
#include "gateway/accounts/password.h"
#include "gateway/accounts/validation.h"
#include "gateway/store/api_error.h"
#include "gateway/store/ids.h"
#include "wa/crypto/crypto.h"

namespace gateway::accounts {

namespace asio = boost::asio;
using status = base::http::beast_http::status;

namespace {

ApiError BadCredentials() {
  return ApiError{status::unauthorized, "invalid_credentials", "email or password is wrong"};
}

base::Bytes Sha256Bytes(std::string_view s) {
  auto d = wa::crypto::Sha256(base::AsBytes(s));
  return base::Bytes(d.begin(), d.end());
}

AccountView View(const store::AccountRow& row) {
  return AccountView{row.id, row.email, row.plan, row.suspended, row.created_ms};
}

ApiKeyView View(const store::ApiKeyRow& row) {
  return ApiKeyView{row.id,           row.name,       row.prefix,      row.read_only,
                    row.session_ids,  row.created_ms, row.last_used_ms, row.revoked_ms};
}

ApiError Throttled(std::string detail, long retry_after_s) {
  return ApiError{status::too_many_requests, "too_many_login_attempts", std::move(detail),
                  static_cast<int>(retry_after_s)};
}

}  // namespace

bool Principal::AllowsSession(std::string_view session_id) const {
  if (session_ids.empty()) return true;
  return std::find(session_ids.begin(), session_ids.end(), session_id) != session_ids.end();
}

AccountService::AccountService(store::AccountStore& store, base::BlockingPool& hash_pool,
                               const config::Config& config, ServiceOptions options,
                               std::function<std::int64_t()> now_ms,
                               std::function<Clock::time_point()> steady)
    : store_(store),
      hash_pool_(hash_pool),
      config_(config),
      options_(options),
      now_ms_(now_ms ? std::move(now_ms) : base::UnixMs),
      steady_(steady ? std::move(steady) : [] { return Clock::now(); }),
      login_by_account_(options.login_failures_per_account, options.login_window),
      login_by_ip_(options.login_failures_per_ip, options.login_window),
      signup_by_ip_(options.signups_per_ip_per_hour, std::chrono::hours(1)) {}

asio::awaitable<base::Result<AccountView, ApiError>> AccountService::Signup(std::string email,
                                                                          std::string password,
                                                                          std::string ip) {
  auto normalized = NormalizeEmail(email);
  if (auto* invalid = std::get_if<Invalid>(&normalized)) {
    co_return ApiError{status::unprocessable_entity, invalid->code, invalid->detail};
  }
  std::string address = std::get<std::string>(std::move(normalized));
  if (auto weak = CheckPassword(password, address)) {
    co_return ApiError{status::unprocessable_entity, weak->code, weak->detail};
  }
  auto budget = signup_by_ip_.Take(ip, steady_());
  if (!budget.allowed) {
    co_return ApiError{status::too_many_requests, "too_many_signups",
                       "too many accounts were created from this address; try later",
                       static_cast<int>(budget.retry_after_s)};
  }
  auto existing = co_await store_.FindAccountByEmail(address);
  if (!existing) co_return store::StoreError("accounts", existing.error());
  if (*existing) {
    co_return ApiError{status::conflict, "email_taken", "an account with this email exists"};
  }
  auto hash_work = [password = std::move(password)] { return HashPassword(password); };
  auto hashed = co_await hash_pool_.Run(std::move(hash_work));
  if (!hashed) co_return store::StoreError("accounts", hashed.error());
  store::AccountRow row{.id = store::NewId("acc_"),
                        .email = address,
                        .password_hash = std::move(*hashed),
                        .plan = config_.default_plan,
                        .suspended = false,
                        .created_ms = now_ms_()};
  AccountView view = View(row);
  auto created = co_await store_.CreateAccount(std::move(row));
  if (!created) {
    if (created.error() == store::Errc::kConflict) {
      co_return ApiError{status::conflict, "email_taken", "an account with this email exists"};
    }
    co_return store::StoreError("accounts", created.error());
  }
  co_return view;
}

asio::awaitable<base::Result<LoginResult, ApiError>> AccountService::Login(std::string email,
                                                                         std::string password,
                                                                         std::string ip) {
  auto normalized = NormalizeEmail(email);
  // A malformed email cannot belong to an account: the same answer as a wrong password.
  std::string address =
      std::holds_alternative<std::string>(normalized) ? std::get<std::string>(normalized) : email;
  auto now = steady_();
  if (auto d = login_by_ip_.Peek(ip, now); !d.allowed) {
    co_return Throttled("too many failed logins from this address; try again later",
                        d.retry_after_s);
  }
  if (auto d = login_by_account_.Peek(address, now); !d.allowed) {
    co_return Throttled("too many failed logins for this account; try again later",
                        d.retry_after_s);
  }
  std::optional<store::AccountRow> account;
  if (std::holds_alternative<std::string>(normalized)) {
    auto found = co_await store_.FindAccountByEmail(address);
    if (!found) co_return store::StoreError("accounts", found.error());
    account = std::move(*found);
  }
  // Unknown emails cost the same hash as known ones, so timing does not tell them apart.
  std::string stored = account ? account->password_hash : DummyPasswordHash();
  auto verify_work = [stored = std::move(stored), password = std::move(password)] {
    return VerifyPassword(stored, password);
  };
  bool ok = co_await hash_pool_.Run(std::move(verify_work));
  if (!ok || !account) {
    login_by_ip_.Take(ip, steady_());
    login_by_account_.Take(address, steady_());
    co_return BadCredentials();
  }
  if (account->suspended) {
    co_return ApiError{status::forbidden, "account_suspended", "this account is suspended"};
  }
  login_by_account_.Forget(address);
  LoginResult result;
  result.account = View(*account);
  result.token = base::ToBase64Url(wa::crypto::RandomBytes(32));
  result.csrf_token = base::ToBase64Url(wa::crypto::RandomBytes(32));
  std::int64_t now_ms = now_ms_();
  result.expires_ms =
      now_ms + std::chrono::duration_cast<std::chrono::milliseconds>(options_.web_session_ttl).count();
  store::WebSessionRow row{.token_hash = Sha256Bytes(result.token),
                           .account_id = account->id,
                           .csrf_token = result.csrf_token,
                           .created_ms = now_ms,
                           .expires_ms = result.expires_ms};
  auto created = co_await store_.CreateWebSession(std::move(row));
  if (!created) co_return store::StoreError("accounts", created.error());
  co_return result;
}

asio::awaitable<void> AccountService::Logout(std::string token) {
  if (token.empty()) co_return;
  auto deleted = co_await store_.DeleteWebSession(Sha256Bytes(token));
  if (!deleted) spdlog::warn("accounts: logout could not delete the login: {}", deleted.error().message());
}

asio::awaitable<base::Result<Principal, ApiError>> AccountService::AuthenticateBearer(
    std::string authorization) {
  if (authorization.empty()) {
    co_return ApiError{status::unauthorized, "unauthenticated",
                       "send an API key as Authorization: Bearer wag_..."};
  }
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size() ||
      !std::equal(kScheme.begin(), kScheme.end(), authorization.begin(),
                  [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    co_return ApiError{status::unauthorized, "unauthenticated",
                       "the Authorization header must be 'Bearer <API key>'"};
  }
  std::string_view secret = std::string_view(authorization).substr(kScheme.size());
  while (!secret.empty() && secret.front() == ' ') secret.remove_prefix(1);
  auto hash = HashApiKey(secret);
  if (!hash) {
    co_return ApiError{status::unauthorized, "invalid_api_key",
                       "this is not a whatsappAPI key (wrong form or checksum)"};
  }
  std::string cache_key = base::ToHex(*hash);
  auto now = steady_();
  {
    std::lock_guard lock(mu_);
    auto it = key_cache_.find(cache_key);
    if (it != key_cache_.end() && now - it->second.fetched < options_.key_cache_ttl) {
      last_used_[it->second.principal.key_id] = now_ms_();
      co_return it->second.principal;
    }
  }
  auto loaded = co_await LoadKey(std::move(*hash));
  if (!loaded) {
    std::lock_guard lock(mu_);
    key_cache_.erase(cache_key);
    co_return loaded.error();
  }
  std::lock_guard lock(mu_);
  if (key_cache_.size() > 100000) key_cache_.clear();
  key_cache_[cache_key] = CachedKey{*loaded, now};
  last_used_[loaded->key_id] = now_ms_();
  co_return *loaded;
}

asio::awaitable<base::Result<Principal, ApiError>> AccountService::LoadKey(base::Bytes hash) {
  auto key = co_await store_.FindApiKeyByHash(std::move(hash));
  if (!key) co_return store::StoreError("accounts", key.error());
  if (!*key || (*key)->revoked_ms) {
    co_return ApiError{status::unauthorized, "invalid_api_key",
                       "this API key is unknown or was revoked"};
  }
  auto account = co_await store_.GetAccount((*key)->account_id);
  if (!account) co_return store::StoreError("accounts", account.error());
  if (!*account) {
    co_return ApiError{status::unauthorized, "invalid_api_key", "this API key's account is gone"};
  }
  if ((*account)->suspended) {
    co_return ApiError{status::forbidden, "account_suspended",
                       "this account is suspended; contact the operator"};
  }
  Principal p;
  p.via = Principal::Via::kApiKey;
  p.account_id = (*account)->id;
  p.plan = (*account)->plan;
  p.key_id = (*key)->id;
  p.read_only = (*key)->read_only;
  p.session_ids = (*key)->session_ids;
  co_return p;
}

asio::awaitable<base::Result<Principal, ApiError>> AccountService::AuthenticateCookie(
    std::string token) {
  if (token.empty()) {
    co_return ApiError{status::unauthorized, "unauthenticated", "log in first"};
  }
  auto found = co_await store_.FindWebSession(Sha256Bytes(token), now_ms_());
  if (!found) co_return store::StoreError("accounts", found.error());
  if (!*found) {
    co_return ApiError{status::unauthorized, "unauthenticated", "the login expired; log in again"};
  }
  auto account = co_await store_.GetAccount((*found)->account_id);
  if (!account) co_return store::StoreError("accounts", account.error());
  if (!*account) co_return ApiError{status::unauthorized, "unauthenticated", "log in first"};
  if ((*account)->suspended) {
    co_return ApiError{status::forbidden, "account_suspended", "this account is suspended"};
  }
  Principal p;
  p.via = Principal::Via::kWebSession;
  p.account_id = (*account)->id;
  p.plan = (*account)->plan;
  p.csrf_token = (*found)->csrf_token;
  co_return p;
}

asio::awaitable<base::Result<AccountView, ApiError>> AccountService::GetAccount(
    std::string account_id) {
  auto account = co_await store_.GetAccount(std::move(account_id));
  if (!account) co_return store::StoreError("accounts", account.error());
  if (!*account) co_return ApiError{status::not_found, "not_found", "no such account"};
  co_return View(**account);
}

asio::awaitable<base::Result<AccountService::CreatedKey, ApiError>> AccountService::CreateKey(
    const Principal& caller, std::string name, bool read_only,
    std::vector<std::string> session_ids) {
  if (caller.read_only) {
    co_return ApiError{status::forbidden, "read_only_key", "a read-only key cannot create keys"};
  }
  if (name.empty() || name.size() > 100) {
    co_return ApiError{status::unprocessable_entity, "invalid_name",
                       "name must be 1 to 100 characters"};
  }
  // A scoped key can only make keys within its own scope.
  if (!caller.session_ids.empty()) {
    if (session_ids.empty()) session_ids = caller.session_ids;
    for (const auto& id : session_ids) {
      if (!caller.AllowsSession(id)) {
        co_return ApiError{status::forbidden, "scope_exceeded",
                           "a scoped key can only create keys for its own sessions"};
      }
    }
  }
  if (caller.read_only) read_only = true;
  auto existing = co_await store_.ListApiKeys(caller.account_id);
  if (!existing) co_return store::StoreError("accounts", existing.error());
  auto live = std::count_if(existing->begin(), existing->end(),
                            [](const store::ApiKeyRow& k) { return !k.revoked_ms; });
  if (static_cast<std::size_t>(live) >= options_.max_keys_per_account) {
    co_return ApiError{status::unprocessable_entity, "too_many_keys",
                       "an account holds at most " + std::to_string(options_.max_keys_per_account) +
                           " active keys; revoke one first"};
  }
  NewApiKey secret = GenerateApiKey();
  store::ApiKeyRow row{.id = store::NewId("key_"),
                       .account_id = caller.account_id,
                       .name = std::move(name),
                       .prefix = secret.prefix,
                       .secret_hash = secret.secret_hash,
                       .read_only = read_only,
                       .session_ids = std::move(session_ids),
                       .created_ms = now_ms_()};
  ApiKeyView view = View(row);
  auto created = co_await store_.CreateApiKey(std::move(row));
  if (!created) co_return store::StoreError("accounts", created.error());
  co_return CreatedKey{std::move(view), std::move(secret.secret)};
}

asio::awaitable<base::Result<std::vector<ApiKeyView>, ApiError>> AccountService::ListKeys(
    const Principal& caller) {
  auto rows = co_await store_.ListApiKeys(caller.account_id);
  if (!rows) co_return store::StoreError("accounts", rows.error());
  std::vector<ApiKeyView> out;
  for (const auto& row : *rows) out.push_back(View(row));
  {
    // Last-used times not flushed yet are newer than the rows.
    std::lock_guard lock(mu_);
    for (auto& key : out) {
      if (auto it = last_used_.find(key.id); it != last_used_.end()) key.last_used_ms = it->second;
    }
  }
  co_return out;
}

asio::awaitable<base::Result<ApiKeyView, ApiError>> AccountService::RevokeKey(
    const Principal& caller, std::string key_id) {
  if (caller.read_only) {
    co_return ApiError{status::forbidden, "read_only_key", "a read-only key cannot revoke keys"};
  }
  auto revoked = co_await store_.RevokeApiKey(caller.account_id, key_id, now_ms_());
  if (!revoked) co_return store::StoreError("accounts", revoked.error());
  if (!*revoked) co_return ApiError{status::not_found, "not_found", "no such API key"};
  ForgetCached([&](const Principal& p) { return p.key_id == key_id; });
  co_return View(**revoked);
}

asio::awaitable<base::Result<bool, ApiError>> AccountService::SetSuspended(std::string account_id,
                                                                         bool suspended) {
  auto changed = co_await store_.SetSuspended(account_id, suspended);
  if (!changed) co_return store::StoreError("accounts", changed.error());
  ForgetCached([&](const Principal& p) { return p.account_id == account_id; });
  co_return *changed;
}

void AccountService::ForgetCached(const std::function<bool(const Principal&)>& which) {
  std::lock_guard lock(mu_);
  std::erase_if(key_cache_, [&](const auto& entry) { return which(entry.second.principal); });
}

const config::Plan* AccountService::PlanOf(const Principal& caller) const {
  const config::Plan* plan = config_.FindPlan(caller.plan);
  return plan ? plan : config_.FindPlan(config_.default_plan);
}

KeyedLimiter& AccountService::RequestLimiter(const config::Plan& plan) {
  std::lock_guard lock(mu_);
  auto& limiter = request_limiters_[plan.name];
  if (!limiter) {
    limiter = std::make_unique<KeyedLimiter>(plan.requests_per_minute, std::chrono::minutes(1));
  }
  return *limiter;
}

TokenBucket::Decision AccountService::TakeRequest(const Principal& caller) {
  const config::Plan* plan = PlanOf(caller);
  std::string key = caller.via == Principal::Via::kApiKey ? caller.key_id : "web:" + caller.account_id;
  return RequestLimiter(*plan).Take(key, steady_());
}

asio::awaitable<void> AccountService::FlushLastUsed() {
  std::vector<std::pair<std::string, std::int64_t>> batch;
  {
    std::lock_guard lock(mu_);
    batch.assign(last_used_.begin(), last_used_.end());
    last_used_.clear();
  }
  if (batch.empty()) co_return;
  auto touched = co_await store_.TouchApiKeys(batch);
  if (!touched) {
    spdlog::warn("accounts: recording keys' last use failed: {}", touched.error().message());
    std::lock_guard lock(mu_);
    for (auto& [id, at] : batch) last_used_.try_emplace(id, at);
  }
}

}  // namespace gateway::accounts
