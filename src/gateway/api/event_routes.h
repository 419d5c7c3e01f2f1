// GET /v1/sessions/{id}/events: a session's events as they happen (session.status, session.qr,
// message.received, message.status), over Server-Sent Events or a WebSocket (docs/api.md).
// Authentication and the 404 of a session outside the caller's reach happen before the stream
// starts. A fresh stream opens with the session's current state (a session.status snapshot and,
// while one shows, a session.qr snapshot; snapshots have "id": null since the log never held
// them); a resumed one (Last-Event-ID or ?after=) replays the log after that event instead, then
// goes live with no gap and no duplicate (events::LiveFeed).
//
// And GET /metrics: the registry in Prometheus text, when metrics.enabled, behind
// `Authorization: Bearer <metrics.token>` when one is set.
#pragma once

#include "base/http/push.h"
#include "base/http/server.h"
#include "base/http/router.h"
#include "base/metrics/registry.h"
#include "gateway/accounts/service.h"
#include "gateway/events/bus.h"
#include "gateway/sessions/manager.h"
#include "gateway/store/events.h"

namespace gateway::api {

struct StreamOptions {
  base::http::PushOptions push;
  std::size_t max_pending = 1000;  // events queued for one slow client before it is dropped
};

void AddEventRoutes(base::http::Router& router, accounts::AccountService& accounts,
                    sessions::SessionManager& sessions, store::EventStore& events,
                    events::Bus& bus, StreamOptions options);

struct MetricsOptions {
  bool enabled = true;
  std::string token;  // empty: no token needed
};

void AddMetricsRoute(base::http::Router& router, base::metrics::Registry& registry,
                     MetricsOptions options);

// The server's per-request hook feeding wagate_http_requests_total{route,method,status} and
// wagate_http_request_duration_seconds{route}; `route` is the matched pattern, "unmatched" when
// none matched.
std::function<void(const base::http::RequestRecord&)> HttpMetrics(base::metrics::Registry& registry);

}  // namespace gateway::api
