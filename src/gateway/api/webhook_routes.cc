#include "gateway/api/webhook_routes.h"

#include <charconv>

#include "base/clock.h"
#include "gateway/api/auth.h"
#include "gateway/api/json.h"

namespace gateway::api {

namespace asio = boost::asio;
namespace json = boost::json;
using verb = http::beast_http::verb;
using store::WebhookDeliveryRow;
using store::WebhookEndpointRow;
using webhooks::Service;

namespace {

json::value OrNull(const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); }

json::object EndpointJson(const WebhookEndpointRow& e, std::int64_t now_ms) {
  json::array events;
  for (const auto& t : e.events) events.emplace_back(t);
  bool overlap = !e.previous_secret.empty() && now_ms < e.previous_until_ms;
  return json::object{{"id", e.id},
                      {"url", e.url},
                      {"events", std::move(events)},
                      {"description", e.description},
                      {"session_id", OrNull(e.session_id)},
                      {"health", webhooks::Health(e)},
                      {"disabled_reason", OrNull(e.disabled_reason)},
                      {"failing_since", e.failing_since_ms > 0 ? json::value(Rfc3339(e.failing_since_ms)) : json::value(nullptr)},
                      {"previous_secret_expires_at", overlap ? json::value(Rfc3339(e.previous_until_ms)) : json::value(nullptr)},
                      {"created_at", Rfc3339(e.created_ms)},
                      {"updated_at", Rfc3339(e.updated_ms)}};
}

json::object DeliveryJson(const WebhookDeliveryRow& d) {
  json::array attempts;
  for (const auto& a : d.attempt_log) {
    attempts.push_back(json::object{{"n", a.n},
                                    {"at", Rfc3339(a.at_ms)},
                                    {"status_code", a.status_code > 0 ? json::value(a.status_code) : json::value(nullptr)},
                                    {"latency_ms", a.latency_ms},
                                    {"error", OrNull(a.error)}});
  }
  bool open = d.state == "pending" || d.state == "retrying";
  return json::object{{"id", d.id},
                      {"webhook_id", d.endpoint_id},
                      {"event_id", d.event_id},
                      {"event_type", d.event_type},
                      {"session_id", OrNull(d.session_id)},
                      {"state", d.state},
                      {"attempt_count", d.attempts},
                      {"next_attempt_at", open ? json::value(Rfc3339(d.next_attempt_ms)) : json::value(nullptr)},
                      {"last_status", d.last_status > 0 ? json::value(d.last_status) : json::value(nullptr)},
                      {"last_error", OrNull(d.last_error)},
                      {"attempts", std::move(attempts)},
                      {"created_at", Rfc3339(d.created_ms)},
                      {"updated_at", Rfc3339(d.updated_ms)}};
}

std::string Query(std::string_view query, std::string_view name) {
  for (std::size_t start = 0; start <= query.size();) {
    auto amp = query.find('&', start);
    std::string_view pair = query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return {};
}

// A key scoped to some sessions sees only the endpoints of those sessions.
bool Visible(const accounts::Principal& p, const WebhookEndpointRow& e) {
  if (p.session_ids.empty()) return true;
  return !e.session_id.empty() && p.AllowsSession(e.session_id);
}

std::optional<int> Limit(const http::Context& ctx) {
  std::string text = Query(ctx.query, "limit");
  if (text.empty()) return 50;
  int limit = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
  if (ec != std::errc() || end != text.data() + text.size() || limit < 1 || limit > 200) return std::nullopt;
  return limit;
}

http::Response BadLimit(const http::Context& ctx) {
  return http::Problem(ctx.request, status::unprocessable_entity, "invalid_limit", "limit must be an integer from 1 to 200");
}

// Guard, then the endpoint named by {id} when the caller may see it; `body` gets both.
template <class Body>
asio::awaitable<http::Response> WithEndpoint(http::Context& ctx, accounts::AccountService& accounts, Service& hooks,
                                             bool writes, Body body) {
  auto guard = co_await Guard(ctx, accounts, {.allow_cookie = true, .writes = writes});
  if (auto* res = std::get_if<http::Response>(&guard)) co_return std::move(*res);
  const Caller& caller = std::get<Caller>(guard);
  auto found = co_await hooks.GetEndpoint(caller.principal.account_id, std::string(ctx.Param("id")));
  http::Response res;
  if (!found) {
    res = http::Problem(ctx.request, found.error());
  } else if (!Visible(caller.principal, *found)) {
    res = http::Problem(ctx.request, status::not_found, "not_found", "no such webhook");
  } else {
    res = co_await body(ctx, caller, *found);
  }
  caller.Decorate(res);
  co_return res;
}

std::optional<http::Response> ReadEvents(const http::Context& ctx, const json::object& body,
                                         std::optional<std::vector<std::string>>& out) {
  const auto* v = body.if_contains("events");
  if (!v || v->is_null()) return std::nullopt;
  const auto* arr = v->if_array();
  if (!arr || arr->size() > 16) {
    return http::Problem(ctx.request, status::unprocessable_entity, "invalid_events",
                         "events must be an array of event type names");
  }
  std::vector<std::string> events;
  for (const auto& item : *arr) {
    if (!item.is_string()) {
      return http::Problem(ctx.request, status::unprocessable_entity, "invalid_events",
                           "events must be an array of event type names");
    }
    events.emplace_back(item.as_string());
  }
  out = std::move(events);
  return std::nullopt;
}

}  // namespace

void AddWebhookRoutes(http::Router& router, accounts::AccountService& accounts, Service& hooks) {
  router.Add(verb::post, "/v1/webhooks", [&accounts, &hooks](http::Context& ctx) -> asio::awaitable<http::Response> {
    auto guard = co_await Guard(ctx, accounts, {.allow_cookie = true, .writes = true});
    if (auto* res = std::get_if<http::Response>(&guard)) co_return std::move(*res);
    const Caller& caller = std::get<Caller>(guard);
    auto parsed = ParseObject(ctx);
    if (auto* res = std::get_if<http::Response>(&parsed)) co_return std::move(*res);
    const auto& body = std::get<json::object>(parsed);
    Fields f(ctx.request, body);
    f.OnlyKnown({"url", "events", "description", "session_id"});
    webhooks::EndpointSpec spec;
    spec.url = f.String("url", true, 2048);
    spec.description = f.String("description", false, 500);
    spec.session_id = f.String("session_id", false, 64);
    if (auto bad = f.Done()) co_return std::move(*bad);
    std::optional<std::vector<std::string>> events;
    if (auto bad = ReadEvents(ctx, body, events)) co_return std::move(*bad);
    if (events) {
      if (events->empty()) {
        co_return http::Problem(ctx.request, status::unprocessable_entity, "invalid_events",
                                "events must list at least one event type");
      }
      spec.events = std::move(*events);
    }
    if (!caller.principal.session_ids.empty() &&
        (spec.session_id.empty() || !caller.principal.AllowsSession(spec.session_id))) {
      co_return http::Problem(ctx.request, status::forbidden, "scope_exceeded",
                              "a key scoped to some sessions may only add webhooks of those sessions");
    }
    auto made = co_await hooks.CreateEndpoint(caller.principal.account_id, std::move(spec));
    if (!made) co_return http::Problem(ctx.request, made.error());
    auto out = EndpointJson(made->endpoint, base::UnixMs());
    out["secret"] = made->secret;
    auto res = JsonResponse(ctx.request, status::created, out);
    res.set(http::beast_http::field::location, "/v1/webhooks/" + made->endpoint.id);
    caller.Decorate(res);
    co_return res;
  });

  router.Add(verb::get, "/v1/webhooks", [&accounts, &hooks](http::Context& ctx) -> asio::awaitable<http::Response> {
    auto guard = co_await Guard(ctx, accounts, {});
    if (auto* res = std::get_if<http::Response>(&guard)) co_return std::move(*res);
    const Caller& caller = std::get<Caller>(guard);
    auto limit = Limit(ctx);
    if (!limit) co_return BadLimit(ctx);
    auto rows = co_await hooks.ListEndpoints(caller.principal.account_id, Query(ctx.query, "cursor"), *limit + 1);
    if (!rows) co_return http::Problem(ctx.request, rows.error());
    std::string next;
    if (static_cast<int>(rows->size()) > *limit) {
      rows->resize(*limit);
      next = rows->back().id;
    }
    json::array data;
    auto now = base::UnixMs();
    for (const auto& e : *rows) {
      if (Visible(caller.principal, e)) data.push_back(EndpointJson(e, now));
    }
    auto res = JsonResponse(ctx.request, status::ok, json::object{{"data", std::move(data)}, {"next_cursor", OrNull(next)}});
    caller.Decorate(res);
    co_return res;
  });

  router.Add(verb::get, "/v1/webhooks/{id}", [&accounts, &hooks](http::Context& ctx) {
    return WithEndpoint(ctx, accounts, hooks, false,
                        [](http::Context& ctx, const Caller&, const WebhookEndpointRow& e) -> asio::awaitable<http::Response> {
                          co_return JsonResponse(ctx.request, status::ok, EndpointJson(e, base::UnixMs()));
                        });
  });

  router.Add(verb::patch, "/v1/webhooks/{id}", [&accounts, &hooks](http::Context& ctx) {
    return WithEndpoint(ctx, accounts, hooks, true,
                        [h = &hooks](http::Context& ctx, const Caller& caller, const WebhookEndpointRow& e) -> asio::awaitable<http::Response> {
                          auto parsed = ParseObject(ctx);
                          if (auto* res = std::get_if<http::Response>(&parsed)) co_return std::move(*res);
                          const auto& body = std::get<json::object>(parsed);
                          Fields f(ctx.request, body);
                          f.OnlyKnown({"url", "events", "description", "enabled"});
                          webhooks::EndpointPatch patch;
                          if (body.contains("url")) patch.url = f.String("url", true, 2048);
                          if (body.contains("description")) patch.description = f.String("description", false, 500);
                          if (body.contains("enabled")) patch.enabled = f.Bool("enabled", true);
                          if (auto bad = f.Done()) co_return std::move(*bad);
                          if (auto bad = ReadEvents(ctx, body, patch.events)) co_return std::move(*bad);
                          auto updated = co_await h->UpdateEndpoint(caller.principal.account_id, e.id, std::move(patch));
                          if (!updated) co_return http::Problem(ctx.request, updated.error());
                          co_return JsonResponse(ctx.request, status::ok, EndpointJson(*updated, base::UnixMs()));
                        });
  });

  router.Add(verb::delete_, "/v1/webhooks/{id}", [&accounts, &hooks](http::Context& ctx) {
    return WithEndpoint(ctx, accounts, hooks, true,
                        [h = &hooks](http::Context& ctx, const Caller& caller, const WebhookEndpointRow& e) -> asio::awaitable<http::Response> {
                          auto deleted = co_await h->DeleteEndpoint(caller.principal.account_id, e.id);
                          if (!deleted) co_return http::Problem(ctx.request, deleted.error());
                          http::Response res{status::no_content, ctx.request.version()};
                          res.prepare_payload();
                          co_return res;
                        });
  });

  router.Add(verb::post, "/v1/webhooks/{id}/rotate-secret", [&accounts, &hooks](http::Context& ctx) {
    return WithEndpoint(ctx, accounts, hooks, true,
                        [h = &hooks](http::Context& ctx, const Caller& caller, const WebhookEndpointRow& e) -> asio::awaitable<http::Response> {
                          auto rotated = co_await h->RotateSecret(caller.principal.account_id, e.id);
                          if (!rotated) co_return http::Problem(ctx.request, rotated.error());
                          auto out = EndpointJson(rotated->endpoint, base::UnixMs());
                          out["secret"] = rotated->secret;
                          co_return JsonResponse(ctx.request, status::ok, out);
                        });
  });

  router.Add(verb::post, "/v1/webhooks/{id}/test", [&accounts, &hooks](http::Context& ctx) {
    return WithEndpoint(ctx, accounts, hooks, true,
                        [h = &hooks](http::Context& ctx, const Caller& caller, const WebhookEndpointRow& e) -> asio::awaitable<http::Response> {
                          auto tested = co_await h->Test(caller.principal.account_id, e.id);
                          if (!tested) co_return http::Problem(ctx.request, tested.error());
                          const auto& t = *tested;
                          json::object out{{"event_id", t.webhook_id},
                                           {"ok", t.status_code >= 200 && t.status_code < 300},
                                           {"status_code", t.status_code > 0 ? json::value(t.status_code) : json::value(nullptr)},
                                           {"latency_ms", t.latency_ms},
                                           {"error", OrNull(t.error)}};
                          co_return JsonResponse(ctx.request, status::ok, out);
                        });
  });

  router.Add(verb::get, "/v1/webhooks/{id}/deliveries", [&accounts, &hooks](http::Context& ctx) {
    return WithEndpoint(ctx, accounts, hooks, false,
                        [h = &hooks](http::Context& ctx, const Caller& caller, const WebhookEndpointRow& e) -> asio::awaitable<http::Response> {
                          auto limit = Limit(ctx);
                          if (!limit) co_return BadLimit(ctx);
                          std::string state = Query(ctx.query, "state");
                          if (!state.empty() && state != "pending" && state != "retrying" && state != "delivered" &&
                              state != "dead") {
                            co_return http::Problem(ctx.request, status::unprocessable_entity, "invalid_state",
                                                    "state must be pending, retrying, delivered or dead");
                          }
                          auto page = co_await h->ListDeliveries(caller.principal.account_id, e.id,
                                                                 Query(ctx.query, "cursor"), std::move(state), *limit);
                          if (!page) co_return http::Problem(ctx.request, page.error());
                          json::array data;
                          for (const auto& d : page->deliveries) data.push_back(DeliveryJson(d));
                          co_return JsonResponse(ctx.request, status::ok,
                                                 json::object{{"data", std::move(data)}, {"next_cursor", OrNull(page->next_cursor)}});
                        });
  });

  router.Add(verb::post, "/v1/webhooks/{id}/deliveries/{delivery_id}/replay", [&accounts, &hooks](http::Context& ctx) {
    return WithEndpoint(ctx, accounts, hooks, true,
                        [h = &hooks](http::Context& ctx, const Caller& caller, const WebhookEndpointRow& e) -> asio::awaitable<http::Response> {
                          auto replayed = co_await h->Replay(caller.principal.account_id, e.id,
                                                             std::string(ctx.Param("delivery_id")));
                          if (!replayed) co_return http::Problem(ctx.request, replayed.error());
                          co_return JsonResponse(ctx.request, status::accepted, DeliveryJson(*replayed));
                        });
  });

  router.Add(verb::get, "/v1/sessions/{id}/webhook-stats", [&accounts, &hooks](http::Context& ctx) -> asio::awaitable<http::Response> {
    auto guard = co_await Guard(ctx, accounts, {});
    if (auto* res = std::get_if<http::Response>(&guard)) co_return std::move(*res);
    const Caller& caller = std::get<Caller>(guard);
    std::string id(ctx.Param("id"));
    http::Response res;
    if (!caller.principal.AllowsSession(id)) {
      res = http::Problem(ctx.request, status::not_found, "not_found", "no such session");
    } else {
      auto stats = co_await hooks.SessionStats(caller.principal.account_id, id);
      if (!stats) {
        res = http::Problem(ctx.request, stats.error());
      } else {
        const auto& s = *stats;
        res = JsonResponse(ctx.request, status::ok,
                           json::object{{"session_id", id},
                                        {"events", s.events},
                                        {"messages_received", s.messages_received},
                                        {"deliveries", s.deliveries},
                                        {"delivered", s.delivered},
                                        {"dead", s.dead},
                                        {"open", s.deliveries - s.delivered - s.dead}});
      }
    }
    caller.Decorate(res);
    co_return res;
  });
}

}  // namespace gateway::api
