#include "gateway/api/session_routes.h"

#include <charconv>

#include "gateway/api/auth.h"
#include "gateway/api/json.h"
#include "gateway/api/qr_image.h"
#include "gateway/api/session_scope.h"
#include "gateway/outbox/pacer.h"
#include "wa/client/history.h"

namespace gateway::api {

namespace asio = boost::asio;
namespace json = boost::json;
using verb = http::beast_http::verb;
using sessions::SessionManager;
using sessions::SessionView;

namespace {

// The proxy URL without its password.
std::string MaskProxy(const std::string& proxy) {
  auto scheme = proxy.find("://");
  auto at = proxy.rfind('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return proxy;
  auto colon = proxy.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return proxy;
  return proxy.substr(0, colon + 1) + "****" + proxy.substr(at);
}

json::object PacingJson(const std::string& stored) {
  boost::system::error_code ec;
  auto v = json::parse(stored, ec);
  outbox::Pacing p;
  if (!ec && v.is_object()) {
    if (auto parsed = outbox::PacingFromJson(v.as_object(), p)) p = *parsed;
  }
  return outbox::PacingToJson(p);
}

json::object SessionJson(const SessionView& v) {
  const auto& r = v.row;
  json::object o{{"id", r.id},
                 {"name", r.name},
                 {"status", v.status},
                 {"status_since", Rfc3339(v.status_ms)},
                 {"reason", v.reason.empty() ? json::value(nullptr) : json::value(v.reason)},
                 {"sandbox", r.sandbox},
                 {"phone", r.phone.empty() ? json::value(nullptr) : json::value(r.phone)},
                 {"jid", r.jid.empty() ? json::value(nullptr) : json::value(r.jid)},
                 {"lid", r.lid.empty() ? json::value(nullptr) : json::value(r.lid)},
                 {"webhook_url", r.webhook_url.empty() ? json::value(nullptr) : json::value(r.webhook_url)},
                 {"proxy", r.proxy.empty() ? json::value(nullptr) : json::value(MaskProxy(r.proxy))},
                 {"speed", json::object{{"min_delay_ms", r.min_delay_ms}, {"max_delay_ms", r.max_delay_ms}}},
                 {"daily_limit", r.daily_limit ? json::value(*r.daily_limit) : json::value(nullptr)},
                 {"pacing", PacingJson(r.pacing)},
                 {"history_sync", r.history_sync.empty() ? json::value(nullptr) : json::value(r.history_sync)},
                 {"desired", r.desired},
                 {"created_at", Rfc3339(r.created_ms)}};
  return o;
}

}  // namespace

std::string QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
  }
  return {};
}

void AddSessionRoutes(http::Router& router, accounts::AccountService& accounts, SessionManager& sessions,
                      webhooks::Service& hooks) {
  router.Add(verb::post, "/v1/sessions", [&accounts, &sessions, &hooks](http::Context& ctx) -> asio::awaitable<http::Response> {
    auto guard = co_await Guard(ctx, accounts, {.allow_cookie = true, .writes = true});
    if (auto* res = std::get_if<http::Response>(&guard)) co_return std::move(*res);
    const Caller& caller = std::get<Caller>(guard);
    if (!caller.principal.session_ids.empty()) {
      co_return http::Problem(ctx.request, status::forbidden, "scope_exceeded",
                              "a key scoped to some sessions cannot create sessions");
    }
    auto parsed = ParseObject(ctx);
    if (auto* res = std::get_if<http::Response>(&parsed)) co_return std::move(*res);
    const auto& body = std::get<json::object>(parsed);
    Fields f(ctx.request, body);
    f.OnlyKnown({"name", "sandbox", "webhook_url", "proxy", "speed", "daily_limit", "pacing",
                 "history_sync"});
    sessions::CreateRequest req;
    req.name = f.String("name", true, 100);
    if (body.contains("sandbox") && !body.at("sandbox").is_null()) req.sandbox = f.Bool("sandbox", false);
    req.webhook_url = f.String("webhook_url", false, 2048);
    req.proxy = f.String("proxy", false, 2048);
    req.history_sync = f.String("history_sync", false, 16);
    if (auto bad = f.Done()) co_return std::move(*bad);
    if (!req.history_sync.empty() && !wa::client::ParseHistorySyncMode(req.history_sync)) {
      co_return http::Problem(ctx.request, status::unprocessable_entity, "invalid_history_sync",
                              "history_sync must be off, recent or full");
    }
    if (const auto* speed = body.if_contains("speed"); speed && !speed->is_null()) {
      const auto* o = speed->if_object();
      const json::value* lo = o ? o->if_contains("min_delay_ms") : nullptr;
      const json::value* hi = o ? o->if_contains("max_delay_ms") : nullptr;
      if (!lo || !hi || !lo->is_int64() || !hi->is_int64()) {
        co_return http::Problem(ctx.request, status::unprocessable_entity, "invalid_speed",
                                "speed must be {\"min_delay_ms\": <int>, \"max_delay_ms\": <int>}");
      }
      req.min_delay_ms = static_cast<int>(std::clamp<std::int64_t>(lo->as_int64(), -1, 1 << 30));
      req.max_delay_ms = static_cast<int>(std::clamp<std::int64_t>(hi->as_int64(), -1, 1 << 30));
    }
    if (const auto* limit = body.if_contains("daily_limit"); limit && !limit->is_null()) {
      if (!limit->is_int64()) {
        co_return http::Problem(ctx.request, status::unprocessable_entity, "invalid_daily_limit",
                                "daily_limit must be an integer");
      }
      req.daily_limit = limit->as_int64();
    }
    if (const auto* pacing = body.if_contains("pacing"); pacing && !pacing->is_null()) {
      if (!pacing->is_object()) {
        co_return http::Problem(ctx.request, status::unprocessable_entity, "invalid_pacing",
                                "pacing must be an object");
      }
      auto parsed = outbox::PacingFromJson(pacing->as_object(), outbox::Pacing{});
      if (!parsed) co_return http::Problem(ctx.request, parsed.error());
      req.pacing = json::serialize(outbox::PacingToJson(*parsed));
    }
    req.max_sessions = accounts.PlanOf(caller.principal)->sessions;
    std::optional<webhooks::CreatedEndpoint> endpoint;
    if (!req.webhook_url.empty()) {
      std::string account_id = caller.principal.account_id;
      std::string url = req.webhook_url;
      req.before_start = [&hooks, &endpoint, account_id, url](const store::SessionRow& row)
          -> asio::awaitable<base::Result<void, http::ApiError>> {
        webhooks::EndpointSpec spec{.url = url, .description = "session " + row.name, .session_id = row.id};
        auto made = co_await hooks.CreateEndpoint(account_id, std::move(spec));
        if (!made) co_return made.error();
        endpoint = std::move(*made);
        co_return base::Result<void, http::ApiError>{};
      };
    }
    auto made = co_await sessions.Create(caller.principal.account_id, std::move(req));
    if (!made) co_return http::Problem(ctx.request, made.error());
    json::object created = SessionJson(*made);
    if (endpoint) created["webhook"] = json::object{{"id", endpoint->endpoint.id}, {"secret", endpoint->secret}};
    auto res = JsonResponse(ctx.request, status::created, created);
    res.set(http::beast_http::field::location, "/v1/sessions/" + made->row.id);
    caller.Decorate(res);
    co_return res;
  });

  router.Add(verb::get, "/v1/sessions", [&accounts, &sessions](http::Context& ctx) -> asio::awaitable<http::Response> {
    auto guard = co_await Guard(ctx, accounts, {});
    if (auto* res = std::get_if<http::Response>(&guard)) co_return std::move(*res);
    const Caller& caller = std::get<Caller>(guard);
    int limit = 50;
    std::string limit_text = QueryParam(ctx.query, "limit");
    if (!limit_text.empty()) {
      auto [end, ec] = std::from_chars(limit_text.data(), limit_text.data() + limit_text.size(), limit);
      if (ec != std::errc() || end != limit_text.data() + limit_text.size() || limit < 1 || limit > 200) {
        co_return http::Problem(ctx.request, status::unprocessable_entity, "invalid_limit",
                                "limit must be an integer from 1 to 200");
      }
    }
    auto page = co_await sessions.List(caller.principal.account_id, QueryParam(ctx.query, "cursor"), limit);
    if (!page) co_return http::Problem(ctx.request, page.error());
    json::array data;
    for (const auto& s : page->sessions) {
      if (caller.principal.AllowsSession(s.row.id)) data.push_back(SessionJson(s));
    }
    auto res = JsonResponse(ctx.request, status::ok,
                            json::object{{"data", std::move(data)},
                                         {"next_cursor", page->next_cursor.empty() ? json::value(nullptr)
                                                                                    : json::value(page->next_cursor)}});
    caller.Decorate(res);
    co_return res;
  });

  router.Add(verb::get, "/v1/sessions/{id}", [&accounts, &sessions](http::Context& ctx) {
    return WithSession(ctx, accounts, false, [sm = &sessions](http::Context& ctx, const Caller& caller, std::string id) -> asio::awaitable<http::Response> {
      auto view = co_await sm->Get(caller.principal.account_id, std::move(id));
      if (!view) co_return http::Problem(ctx.request, view.error());
      co_return JsonResponse(ctx.request, status::ok, SessionJson(*view));
    });
  });

  router.Add(verb::delete_, "/v1/sessions/{id}", [&accounts, &sessions](http::Context& ctx) {
    return WithSession(ctx, accounts, true, [sm = &sessions](http::Context& ctx, const Caller& caller, std::string id) -> asio::awaitable<http::Response> {
      auto done = co_await sm->Delete(caller.principal.account_id, std::move(id));
      if (!done) co_return http::Problem(ctx.request, done.error());
      http::Response res{status::no_content, ctx.request.version()};
      res.prepare_payload();
      co_return res;
    });
  });

  using Action = asio::awaitable<base::Result<SessionView, base::http::ApiError>> (SessionManager::*)(std::string, std::string);
  const std::pair<const char*, Action> actions[] = {{"start", &SessionManager::Start},
                                                    {"stop", &SessionManager::Stop},
                                                    {"restart", &SessionManager::Restart},
                                                    {"logout", &SessionManager::Logout}};
  for (const auto& [name, action] : actions) {
    Action act = action;
    router.Add(verb::post, std::string("/v1/sessions/{id}/") + name, [&accounts, &sessions, act](http::Context& ctx) {
      return WithSession(ctx, accounts, true, [sm = &sessions, act](http::Context& ctx, const Caller& caller, std::string id) -> asio::awaitable<http::Response> {
        auto view = co_await (sm->*act)(caller.principal.account_id, std::move(id));
        if (!view) co_return http::Problem(ctx.request, view.error());
        co_return JsonResponse(ctx.request, status::ok, SessionJson(*view));
      });
    });
  }

  router.Add(verb::get, "/v1/sessions/{id}/qr", [&accounts, &sessions](http::Context& ctx) {
    return WithSession(ctx, accounts, false, [sm = &sessions](http::Context& ctx, const Caller& caller, std::string id) -> asio::awaitable<http::Response> {
      auto qr = co_await sm->Qr(caller.principal.account_id, std::move(id));
      if (!qr) co_return http::Problem(ctx.request, qr.error());
      std::string accept = Header(ctx.request, "Accept");
      bool png = accept.find("image/png") != std::string::npos;
      bool svg = !png && accept.find("image/svg+xml") != std::string::npos;
      if (png || svg) {
        if (qr->code.empty()) {
          co_return http::Problem(ctx.request, status::conflict, "no_qr",
                                  "the session shows no QR code (status " + qr->status + ")");
        }
        auto image = png ? QrPng(qr->code) : QrSvg(qr->code);
        if (!image) co_return http::Problem(ctx.request, status::internal_server_error, "qr_failed", "the QR code could not be drawn");
        http::Response res{status::ok, ctx.request.version()};
        res.set(http::beast_http::field::content_type, png ? "image/png" : "image/svg+xml");
        res.set(http::beast_http::field::cache_control, "no-store");
        res.body() = std::move(*image);
        res.prepare_payload();
        co_return res;
      }
      json::object body{{"status", qr->status},
                        {"qr", qr->code.empty() ? json::value(nullptr) : json::value(qr->code)},
                        {"expires_at", qr->code.empty() ? json::value(nullptr) : json::value(Rfc3339(qr->expires_ms))}};
      auto res = JsonResponse(ctx.request, status::ok, body);
      res.set(http::beast_http::field::cache_control, "no-store");
      co_return res;
    });
  });

  router.Add(verb::post, "/v1/sessions/{id}/pairing-code", [&accounts, &sessions](http::Context& ctx) {
    return WithSession(ctx, accounts, true, [sm = &sessions](http::Context& ctx, const Caller& caller, std::string id) -> asio::awaitable<http::Response> {
      auto parsed = ParseObject(ctx);
      if (auto* res = std::get_if<http::Response>(&parsed)) co_return std::move(*res);
      Fields f(ctx.request, std::get<json::object>(parsed));
      f.OnlyKnown({"phone"});
      std::string phone = f.String("phone", true, 32);
      if (auto bad = f.Done()) co_return std::move(*bad);
      auto code = co_await sm->PairingCode(caller.principal.account_id, std::move(id), std::move(phone));
      if (!code) co_return http::Problem(ctx.request, code.error());
      co_return JsonResponse(ctx.request, status::ok, json::object{{"code", *code}});
    });
  });
}

}  // namespace gateway::api
