#include "gateway/api/event_routes.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "gateway/api/auth.h"
#include "gateway/api/json.h"
#include "gateway/events/live_feed.h"

namespace gateway::api {

namespace asio = boost::asio;
namespace json = boost::json;
using verb = http::beast_http::verb;

namespace {

std::string QueryValue(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    std::string out;
    std::string_view v = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    // Commas may come percent-encoded.
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '%' && i + 2 < v.size() + 1 && (v.substr(i + 1, 2) == "2C" || v.substr(i + 1, 2) == "2c")) {
        out += ',';
        i += 2;
      } else {
        out += v[i];
      }
    }
    return out;
  }
  return {};
}

bool AllDigits(std::string_view s) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::string MessageJson(const json::value& id, std::string_view type, std::int64_t created_ms,
                        std::string_view data) {
  boost::system::error_code ec;
  json::value parsed = json::parse(data, ec);
  if (ec) parsed = json::string(data);
  return json::serialize(json::object{{"id", id},
                                      {"type", type},
                                      {"created_at", Rfc3339(created_ms)},
                                      {"data", std::move(parsed)}});
}

http::PushMessage MessageOf(const store::EventRow& row) {
  return {row.id, row.type, MessageJson(json::value(row.id), row.type, row.created_ms, row.data)};
}

http::PushMessage Snapshot(std::string_view type, std::int64_t at, const json::object& data) {
  return {"", std::string(type), MessageJson(nullptr, type, at, json::serialize(data))};
}

const std::set<std::string>& KnownTypes() {
  static const std::set<std::string> known = {events::kSessionStatus, events::kSessionQr,
                                              events::kMessageReceived, events::kMessageStatus,
                                              events::kSessionHistory};
  return known;
}

}  // namespace

void AddEventRoutes(http::Router& router, accounts::AccountService& accounts,
                    sessions::SessionManager& sessions, store::EventStore& log, events::Bus& bus,
                    StreamOptions options) {
  router.Add(verb::get, "/v1/sessions/{id}/events",
             [&accounts, &sessions, &log, &bus, options](http::Context& ctx) -> asio::awaitable<http::Response> {
    auto guard = co_await Guard(ctx, accounts, {});
    if (auto* res = std::get_if<http::Response>(&guard)) co_return std::move(*res);
    const Caller& caller = std::get<Caller>(guard);
    std::string id(ctx.Param("id"));
    auto fail = [&](http::Response res) {
      caller.Decorate(res);
      return res;
    };
    if (!caller.principal.AllowsSession(id)) {
      co_return fail(http::Problem(ctx.request, status::not_found, "not_found", "no such session"));
    }
    const std::string& account_id = caller.principal.account_id;

    std::set<std::string> types;
    std::string types_text = QueryValue(ctx.query, "types");
    for (std::size_t at = 0; !types_text.empty() && at <= types_text.size();) {
      auto comma = types_text.find(',', at);
      if (comma == std::string::npos) comma = types_text.size();
      std::string type = types_text.substr(at, comma - at);
      if (!KnownTypes().count(type)) {
        co_return fail(http::Problem(ctx.request, status::unprocessable_entity, "invalid_types",
                                     "types is a comma-separated list of session.status, session.qr, "
                                     "session.history, message.received, message.status"));
      }
      types.insert(type);
      at = comma + 1;
    }

    // The resume point: ?after= wins over the Last-Event-ID header (an EventSource reconnecting).
    std::string after = QueryValue(ctx.query, "after");
    if (after.empty()) after = Header(ctx.request, "Last-Event-ID");
    std::int64_t after_seq = -1;
    if (!after.empty()) {
      if (AllDigits(after)) {
        after_seq = std::stoll(after);
      } else {
        auto seq = co_await log.EventSeqOf(account_id, after);
        if (!seq) {
          co_return fail(http::Problem(ctx.request, status::service_unavailable, "store_unavailable",
                                       "the event log did not answer; try again"));
        }
        if (!*seq) {
          co_return fail(http::Problem(ctx.request, status::unprocessable_entity, "unknown_event",
                                       "no event " + after + " to resume after (unknown or expired); "
                                       "reconnect without it to start from the current state"));
        }
        after_seq = **seq;
      }
    }

    // Subscribed before the state is read: a change from now on is not missed.
    auto feed = std::make_shared<events::LiveFeed>(bus, events::LiveFeed::Filter{account_id, id, types},
                                                   options.max_pending);
    auto view = co_await sessions.Get(account_id, id);
    if (!view) co_return fail(http::Problem(ctx.request, view.error()));
    std::vector<http::PushMessage> snapshots;
    if (after_seq < 0) {
      auto want = [&](const char* type) { return types.empty() || types.count(type); };
      if (want(events::kSessionStatus)) {
        json::object data{{"session_id", id}, {"status", view->status}, {"reason", view->reason},
                          {"phone", view->row.phone}};
        snapshots.push_back(Snapshot(events::kSessionStatus, view->status_ms, data));
      }
      if (want(events::kSessionQr)) {
        auto qr = co_await sessions.Qr(account_id, id);
        if (qr && !qr->code.empty()) {
          json::object data{{"session_id", id}, {"qr", qr->code}, {"expires_at", Rfc3339(qr->expires_ms)}};
          snapshots.push_back(Snapshot(events::kSessionQr, view->status_ms, data));
        }
      }
    }

    bool websocket = http::IsWebSocketUpgrade(ctx.request);
    ctx.takeover = [feed, snapshots = std::move(snapshots), after_seq, &log, options,
                    session_id = id](http::Streaming& s) -> asio::awaitable<void> {
      auto opened = co_await http::Push::Open(s, options.push);
      if (!opened) co_return;
      http::Push& push = **opened;
      feed->SetWaker(push.Waker());
      bool up = true;
      for (const auto& m : snapshots) {
        if (auto ec = co_await push.Send(m)) up = false;
        if (!up) break;
      }
      if (up && after_seq >= 0) {
        events::LiveFeed::Send send = [&push](const store::EventRow& row) -> asio::awaitable<bool> {
          auto message = MessageOf(row);
          auto ec = co_await push.Send(message);
          co_return !ec;
        };
        auto ec = co_await feed->Replay(log, after_seq, std::move(send));
        if (ec) {
          spdlog::warn("events stream of {}: replay failed: {}", session_id, ec.message());
          up = false;
        }
      }
      while (up && !feed->overflowed()) {
        for (const auto& row : feed->Take()) {
          auto message = MessageOf(row);
          if (auto ec = co_await push.Send(message)) {
            up = false;
            break;
          }
        }
        if (!up || feed->overflowed()) break;
        up = co_await push.Wait();
      }
      if (feed->overflowed()) {
        spdlog::info("events stream of {}: the client fell more than {} events behind; closing it",
                     session_id, options.max_pending);
      }
      co_await push.Close();
    };
    http::Response res{websocket ? status::switching_protocols : status::ok, ctx.request.version()};
    caller.Decorate(res);
    co_return res;
  });
}

void AddMetricsRoute(http::Router& router, base::metrics::Registry& registry, MetricsOptions options) {
  router.Add(verb::get, "/metrics", [&registry, options](http::Context& ctx) -> asio::awaitable<http::Response> {
    if (!options.enabled) {
      co_return http::Problem(ctx.request, status::not_found, "not_found", "metrics are disabled");
    }
    if (!options.token.empty()) {
      std::string auth = Header(ctx.request, "Authorization");
      std::string want = "Bearer " + options.token;
      if (auth.size() != want.size() || CRYPTO_memcmp(auth.data(), want.data(), want.size()) != 0) {
        auto res = http::Problem(ctx.request, status::unauthorized, "unauthorized",
                                 "metrics need Authorization: Bearer <metrics.token>");
        res.set(http::beast_http::field::www_authenticate, "Bearer");
        co_return res;
      }
    }
    http::Response res{status::ok, ctx.request.version()};
    res.set(http::beast_http::field::content_type, base::metrics::kContentType);
    res.set(http::beast_http::field::cache_control, "no-store");
    res.body() = registry.Render();
    res.prepare_payload();
    co_return res;
  });
}

std::function<void(const http::RequestRecord&)> HttpMetrics(base::metrics::Registry& registry) {
  auto& requests = registry.Counter("wagate_http_requests_total", "HTTP requests answered, by route pattern, method and status.");
  auto& durations = registry.Histogram("wagate_http_request_duration_seconds",
                                       "Time from routing to the handler's answer (for streams: until the stream starts), by route pattern.");
  return [&requests, &durations](const http::RequestRecord& r) {
    std::string route = r.route.empty() ? "unmatched" : std::string(r.route);
    requests.Add({{"route", route}, {"method", std::string(r.method)}, {"status", std::to_string(r.status)}})
        .Increment();
    durations.Add({{"route", route}}, base::metrics::LatencyBuckets())
        .Observe(std::chrono::duration<double>(r.duration).count());
  };
}

}  // namespace gateway::api
