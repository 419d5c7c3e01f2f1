#include "gateway/api/auth.h"

#include <openssl/crypto.h>

#include "gateway/api/json.h"

namespace gateway::api {

namespace asio = boost::asio;

void Caller::Decorate(base::http::Response& res) const {
  for (const auto& [name, value] : headers) res.set(name, value);
}

asio::awaitable<std::variant<Caller, base::http::Response>> Guard(
    base::http::Context& ctx, accounts::AccountService& accounts, GuardOptions options) {
  const auto& req = ctx.request;
  std::string authorization = Header(req, "Authorization");
  std::string cookie = options.allow_cookie ? Cookie(req, kSessionCookie) : std::string();
  base::Result<accounts::Principal, base::http::ApiError> who =
      base::http::ApiError{status::unauthorized, "unauthenticated", ""};
  if (!authorization.empty() || cookie.empty()) {
    who = co_await accounts.AuthenticateBearer(authorization);
  } else {
    who = co_await accounts.AuthenticateCookie(cookie);
    if (who && options.writes) {
      std::string sent = Header(req, kCsrfHeader);
      const std::string& want = who->csrf_token;
      if (sent.size() != want.size() || CRYPTO_memcmp(sent.data(), want.data(), want.size()) != 0) {
        co_return base::http::Problem(
            req, status::forbidden, "csrf_failed",
            std::string("dashboard requests that change something must send the ") + kCsrfHeader +
                " header from the login answer");
      }
    }
  }
  if (!who) {
    auto res = base::http::Problem(req, who.error());
    if (who.error().status == status::unauthorized) {
      res.set(base::http::beast_http::field::www_authenticate, "Bearer realm=\"wagate\"");
    }
    co_return res;
  }
  if (options.writes && who->read_only) {
    co_return base::http::Problem(req, status::forbidden, "read_only_key",
                                  "this API key is read-only");
  }
  Caller caller{std::move(*who), {}};
  auto budget = accounts.TakeRequest(caller.principal);
  const config::Plan* plan = accounts.PlanOf(caller.principal);
  caller.headers = {{"RateLimit-Limit", std::to_string(plan->requests_per_minute)},
                    {"RateLimit-Remaining", std::to_string(budget.remaining)},
                    {"RateLimit-Reset", std::to_string(budget.reset_s)},
                    {"RateLimit-Policy", std::to_string(plan->requests_per_minute) + ";w=60"}};
  if (!budget.allowed) {
    auto res = base::http::Problem(
        req, base::http::ApiError{status::too_many_requests, "rate_limited",
                                  "this key made more than " +
                                      std::to_string(plan->requests_per_minute) +
                                      " requests in a minute (plan " + plan->name + ")",
                                  static_cast<int>(budget.retry_after_s)});
    caller.Decorate(res);
    co_return res;
  }
  co_return caller;
}

}  // namespace gateway::api
