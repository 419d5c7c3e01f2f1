#include "gateway/api/account_routes.h"

#include <openssl/crypto.h>

#include "gateway/api/auth.h"
#include "gateway/api/json.h"

namespace gateway::api {

namespace asio = boost::asio;
namespace json = boost::json;
using verb = http::beast_http::verb;
using accounts::AccountService;

namespace {

json::object AccountJson(const accounts::AccountView& a) {
  return {{"id", a.id},
          {"email", a.email},
          {"plan", a.plan},
          {"suspended", a.suspended},
          {"created_at", Rfc3339(a.created_ms)}};
}

json::object KeyJson(const accounts::ApiKeyView& k) {
  json::array sessions;
  for (const auto& s : k.session_ids) sessions.emplace_back(s);
  json::object o{{"id", k.id},
                 {"name", k.name},
                 {"prefix", k.prefix},
                 {"read_only", k.read_only},
                 {"session_ids", std::move(sessions)},
                 {"created_at", Rfc3339(k.created_ms)},
                 {"last_used_at", nullptr},
                 {"revoked_at", nullptr}};
  if (k.last_used_ms) o["last_used_at"] = Rfc3339(*k.last_used_ms);
  if (k.revoked_ms) o["revoked_at"] = Rfc3339(*k.revoked_ms);
  return o;
}

bool Secure(const http::Request& req) { return Header(req, "X-Forwarded-Proto") == "https"; }

std::string SetCookie(const http::Request& req, std::string_view name, std::string_view value,
                      long max_age, bool http_only) {
  std::string c = std::string(name) + "=" + std::string(value) + "; Path=/; SameSite=Lax; Max-Age=" +
                  std::to_string(max_age);
  if (http_only) c += "; HttpOnly";
  if (Secure(req)) c += "; Secure";
  return c;
}

struct Credentials {
  std::string email, password;
};

// Parses {email, password}; nullopt plus the answer in `error` when malformed.
std::optional<Credentials> ReadCredentials(const http::Context& ctx, http::Response& error) {
  auto parsed = ParseObject(ctx);
  if (auto* res = std::get_if<http::Response>(&parsed)) {
    error = std::move(*res);
    return std::nullopt;
  }
  const auto& body = std::get<json::object>(parsed);
  Fields f(ctx.request, body);
  f.OnlyKnown({"email", "password"});
  Credentials c{f.String("email", true, 320), f.String("password", true, 1024)};
  if (auto bad = f.Done()) {
    error = std::move(*bad);
    return std::nullopt;
  }
  return c;
}

}  // namespace

void AddAccountRoutes(http::Router& router, AccountService& accounts, AccountRoutesOptions options) {
  router.Add(verb::post, "/v1/auth/signup",
             [&accounts](http::Context& ctx) -> asio::awaitable<http::Response> {
               http::Response error;
               auto creds = ReadCredentials(ctx, error);
               if (!creds) co_return error;
               auto made = co_await accounts.Signup(creds->email, creds->password, ctx.remote_ip);
               if (!made) co_return http::Problem(ctx.request, made.error());
               co_return JsonResponse(ctx.request, status::created,
                                      json::object{{"account", AccountJson(*made)}});
             });

  router.Add(verb::post, "/v1/auth/login",
             [&accounts, options](http::Context& ctx) -> asio::awaitable<http::Response> {
               http::Response error;
               auto creds = ReadCredentials(ctx, error);
               if (!creds) co_return error;
               auto login = co_await accounts.Login(creds->email, creds->password, ctx.remote_ip);
               if (!login) co_return http::Problem(ctx.request, login.error());
               auto res = JsonResponse(ctx.request, status::ok,
                                       json::object{{"account", AccountJson(login->account)},
                                                    {"csrf_token", login->csrf_token},
                                                    {"expires_at", Rfc3339(login->expires_ms)}});
               long age = static_cast<long>(options.cookie_max_age.count());
               res.insert(http::beast_http::field::set_cookie,
                          SetCookie(ctx.request, kSessionCookie, login->token, age, true));
               res.insert(http::beast_http::field::set_cookie,
                          SetCookie(ctx.request, kCsrfCookie, login->csrf_token, age, false));
               res.set(http::beast_http::field::cache_control, "no-store");
               co_return res;
             });

  router.Add(verb::post, "/v1/auth/logout",
             [&accounts](http::Context& ctx) -> asio::awaitable<http::Response> {
               co_await accounts.Logout(Cookie(ctx.request, kSessionCookie));
               http::Response res{status::no_content, ctx.request.version()};
               res.insert(http::beast_http::field::set_cookie,
                          SetCookie(ctx.request, kSessionCookie, "", 0, true));
               res.insert(http::beast_http::field::set_cookie,
                          SetCookie(ctx.request, kCsrfCookie, "", 0, false));
               res.prepare_payload();
               co_return res;
             });

  router.Add(verb::get, "/v1/me", [&accounts](http::Context& ctx) -> asio::awaitable<http::Response> {
    auto guard = co_await Guard(ctx, accounts, {});
    if (auto* res = std::get_if<http::Response>(&guard)) co_return std::move(*res);
    const Caller& caller = std::get<Caller>(guard);
    auto account = co_await accounts.GetAccount(caller.principal.account_id);
    if (!account) co_return http::Problem(ctx.request, account.error());
    json::object body = AccountJson(*account);
    const config::Plan* plan = accounts.PlanOf(caller.principal);
    body["limits"] = json::object{{"sessions", plan->sessions},
                                  {"messages_per_month", plan->messages_per_month},
                                  {"requests_per_minute", plan->requests_per_minute}};
    bool by_key = caller.principal.via == accounts::Principal::Via::kApiKey;
    body["auth"] = json::object{{"via", by_key ? "api_key" : "session"},
                                {"key_id", by_key ? json::value(caller.principal.key_id) : nullptr},
                                {"read_only", caller.principal.read_only}};
    auto res = JsonResponse(ctx.request, status::ok, body);
    caller.Decorate(res);
    co_return res;
  });

  router.Add(verb::post, "/v1/api-keys", [&accounts](http::Context& ctx) -> asio::awaitable<http::Response> {
    auto guard = co_await Guard(ctx, accounts, {.allow_cookie = true, .writes = true});
    if (auto* res = std::get_if<http::Response>(&guard)) co_return std::move(*res);
    const Caller& caller = std::get<Caller>(guard);
    auto parsed = ParseObject(ctx);
    if (auto* res = std::get_if<http::Response>(&parsed)) co_return std::move(*res);
    Fields f(ctx.request, std::get<json::object>(parsed));
    f.OnlyKnown({"name", "read_only", "session_ids"});
    std::string name = f.String("name", true, 100);
    bool read_only = f.Bool("read_only", false);
    auto sessions = f.Strings("session_ids", 100);
    if (auto bad = f.Done()) co_return std::move(*bad);
    auto created = co_await accounts.CreateKey(caller.principal, std::move(name), read_only,
                                               std::move(sessions));
    if (!created) co_return http::Problem(ctx.request, created.error());
    json::object body = KeyJson(created->key);
    body["secret"] = created->secret;
    auto res = JsonResponse(ctx.request, status::created, body);
    res.set(http::beast_http::field::cache_control, "no-store");
    caller.Decorate(res);
    co_return res;
  });

  router.Add(verb::get, "/v1/api-keys", [&accounts](http::Context& ctx) -> asio::awaitable<http::Response> {
    auto guard = co_await Guard(ctx, accounts, {});
    if (auto* res = std::get_if<http::Response>(&guard)) co_return std::move(*res);
    const Caller& caller = std::get<Caller>(guard);
    auto keys = co_await accounts.ListKeys(caller.principal);
    if (!keys) co_return http::Problem(ctx.request, keys.error());
    json::array data;
    for (const auto& k : *keys) data.push_back(KeyJson(k));
    // At most 100 live keys per account: one page holds them all.
    auto res = JsonResponse(ctx.request, status::ok,
                            json::object{{"data", std::move(data)}, {"next_cursor", nullptr}});
    caller.Decorate(res);
    co_return res;
  });

  router.Add(verb::delete_, "/v1/api-keys/{id}",
             [&accounts](http::Context& ctx) -> asio::awaitable<http::Response> {
               auto guard = co_await Guard(ctx, accounts, {.allow_cookie = true, .writes = true});
               if (auto* res = std::get_if<http::Response>(&guard)) co_return std::move(*res);
               const Caller& caller = std::get<Caller>(guard);
               auto revoked = co_await accounts.RevokeKey(caller.principal, std::string(ctx.Param("id")));
               if (!revoked) co_return http::Problem(ctx.request, revoked.error());
               auto res = JsonResponse(ctx.request, status::ok, KeyJson(*revoked));
               caller.Decorate(res);
               co_return res;
             });

  for (bool suspend : {true, false}) {
    std::string path = std::string("/v1/admin/accounts/{id}/") + (suspend ? "suspend" : "unsuspend");
    router.Add(verb::post, path,
               [&accounts, options, suspend](http::Context& ctx) -> asio::awaitable<http::Response> {
                 if (options.operator_token.empty()) {
                   co_return http::Problem(ctx.request, status::forbidden, "operator_api_disabled",
                                           "set security.operator_token to use the operator API");
                 }
                 std::string want = "Bearer " + options.operator_token;
                 std::string got = Header(ctx.request, "Authorization");
                 if (got.size() != want.size() ||
                     CRYPTO_memcmp(got.data(), want.data(), want.size()) != 0) {
                   co_return http::Problem(ctx.request, status::unauthorized, "unauthenticated",
                                           "the operator API needs Authorization: Bearer <operator token>");
                 }
                 auto changed = co_await accounts.SetSuspended(std::string(ctx.Param("id")), suspend);
                 if (!changed) co_return http::Problem(ctx.request, changed.error());
                 if (!*changed) {
                   co_return http::Problem(ctx.request, status::not_found, "not_found", "no such account");
                 }
                 auto account = co_await accounts.GetAccount(std::string(ctx.Param("id")));
                 if (!account) co_return http::Problem(ctx.request, account.error());
                 co_return JsonResponse(ctx.request, status::ok, AccountJson(*account));
               });
  }
}

}  // namespace gateway::api
