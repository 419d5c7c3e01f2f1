#include "gateway/webhooks/service.h"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>

#include "base/clock.h"
#include "base/log.h"
#include "gateway/store/api_error.h"
#include "gateway/store/ids.h"
#include "gateway/webhooks/signer.h"

namespace gateway::webhooks {

namespace asio = boost::asio;
using status = boost::beast::http::status;
using store::WebhookEndpointRow;

namespace {

// An ordered lane: one endpoint's deliveries of one session, sent one at a time in event order.
std::string LaneOf(const std::string& endpoint_id, const std::string& session_id) {
  return endpoint_id + "\n" + session_id;
}

ApiError NotFound(std::string what) { return {status::not_found, "not_found", "no such " + what}; }
ApiError Invalid(std::string code, std::string detail) {
  return {status::unprocessable_entity, std::move(code), std::move(detail)};
}
}  // namespace

const std::vector<std::string>& SubscribableEvents() {
  static const std::vector<std::string> events = {"message.received", "message.status", "session.status",
                                                  "session.qr", "session.history"};
  return events;
}

std::string Health(const WebhookEndpointRow& e) {
  if (e.disabled) return "disabled";
  if (e.failing_since_ms > 0) return "failing";
  return "healthy";
}

Service::Service(asio::io_context& ioc, store::WebhookStore& store, store::SessionStore& sessions,
                 ServiceOptions options, std::function<std::int64_t()> now_ms)
    : ioc_(ioc),
      store_(store),
      sessions_(sessions),
      options_(std::move(options)),
      now_ms_(now_ms ? std::move(now_ms) : base::UnixMs),
      client_(options_.allow, options_.ca_file, options_.timeout),
      strand_(asio::make_strand(ioc)),
      timer_(strand_),
      random_(std::random_device{}()) {}

Service::~Service() = default;

// ---- API ----

asio::awaitable<std::optional<ApiError>> Service::CheckUrl(const std::string& url) {
  auto parsed = ParseWebhookUrl(url, options_.allow);
  if (!parsed) co_return Invalid(parsed.error().code, parsed.error().detail);
  auto resolved = co_await CheckResolved(*parsed, options_.allow, std::chrono::seconds(5));
  if (resolved) co_return Invalid(resolved->code, resolved->detail);
  co_return std::nullopt;
}

std::optional<ApiError> Service::CheckEvents(std::vector<std::string>& events) const {
  const auto& known = SubscribableEvents();
  if (events.empty()) return Invalid("invalid_events", "events must list at least one event type");
  for (const auto& e : events) {
    if (std::find(known.begin(), known.end(), e) == known.end()) {
      return Invalid("invalid_events", "unknown event type '" + e +
                                           "' (message.received, message.status, session.status, session.qr, "
                                           "session.history)");
    }
  }
  std::sort(events.begin(), events.end());
  events.erase(std::unique(events.begin(), events.end()), events.end());
  return std::nullopt;
}

asio::awaitable<base::Result<CreatedEndpoint, ApiError>> Service::CreateEndpoint(std::string account_id,
                                                                                EndpointSpec spec) {
  if (spec.events.empty()) spec.events = {"message.received", "message.status", "session.status"};
  if (auto bad = CheckEvents(spec.events)) co_return *bad;
  if (!spec.session_id.empty()) {
    auto session = co_await sessions_.GetSession(account_id, spec.session_id);
    if (!session) co_return store::StoreError("webhooks", session.error());
    if (!*session) co_return Invalid("invalid_session_id", "no such session: " + spec.session_id);
  }
  if (auto bad = co_await CheckUrl(spec.url)) co_return *bad;
  auto existing = co_await store_.ListEndpoints(account_id, "", options_.max_endpoints_per_account + 1);
  if (!existing) co_return store::StoreError("webhooks", existing.error());
  if (static_cast<int>(existing->size()) >= options_.max_endpoints_per_account) {
    co_return Invalid("too_many_webhooks", "an account may have at most " +
                                               std::to_string(options_.max_endpoints_per_account) + " webhooks");
  }
  WebhookEndpointRow row;
  row.id = store::NewId("whk_");
  row.account_id = std::move(account_id);
  row.session_id = std::move(spec.session_id);
  row.url = std::move(spec.url);
  row.events = std::move(spec.events);
  row.description = std::move(spec.description);
  row.secret = NewSecret();
  row.created_ms = row.updated_ms = Now();
  auto made = co_await store_.CreateEndpoint(row);
  if (!made) co_return store::StoreError("webhooks", made.error());
  std::string secret = row.secret;
  co_return CreatedEndpoint{std::move(row), std::move(secret)};
}

asio::awaitable<base::Result<std::vector<WebhookEndpointRow>, ApiError>> Service::ListEndpoints(
    std::string account_id, std::string cursor, int limit) {
  auto rows = co_await store_.ListEndpoints(std::move(account_id), std::move(cursor), limit);
  if (!rows) co_return store::StoreError("webhooks", rows.error());
  co_return std::move(*rows);
}

asio::awaitable<base::Result<WebhookEndpointRow, ApiError>> Service::GetEndpoint(std::string account_id,
                                                                                std::string id) {
  auto row = co_await store_.GetEndpoint(std::move(account_id), std::move(id));
  if (!row) co_return store::StoreError("webhooks", row.error());
  if (!*row) co_return NotFound("webhook");
  co_return std::move(**row);
}

asio::awaitable<base::Result<WebhookEndpointRow, ApiError>> Service::UpdateEndpoint(std::string account_id,
                                                                                   std::string id,
                                                                                   EndpointPatch patch) {
  auto found = co_await GetEndpoint(account_id, id);
  if (!found) co_return found.error();
  WebhookEndpointRow row = std::move(*found);
  if (patch.events) {
    if (auto bad = CheckEvents(*patch.events)) co_return *bad;
    row.events = std::move(*patch.events);
  }
  if (patch.url) {
    if (auto bad = co_await CheckUrl(*patch.url)) co_return *bad;
    row.url = std::move(*patch.url);
  }
  if (patch.description) row.description = std::move(*patch.description);
  std::int64_t now = Now();
  std::int64_t resume_at = 0;
  if (patch.enabled) {
    if (*patch.enabled && row.disabled) {
      // Re-enabled: what waited is delivered now, with a fresh retry window.
      row.disabled = false;
      row.disabled_reason.clear();
      row.failing_since_ms = 0;
      resume_at = now;
    } else if (!*patch.enabled && !row.disabled) {
      row.disabled = true;
      row.disabled_reason = "disabled by the owner";
    }
  }
  row.updated_ms = now;
  auto saved = co_await store_.UpdateEndpoint(row, resume_at);
  if (!saved) co_return store::StoreError("webhooks", saved.error());
  if (resume_at > 0 || patch.url) Wake();
  co_return row;
}

asio::awaitable<base::Result<void, ApiError>> Service::DeleteEndpoint(std::string account_id, std::string id) {
  auto deleted = co_await store_.DeleteEndpoint(std::move(account_id), std::move(id));
  if (!deleted) co_return store::StoreError("webhooks", deleted.error());
  if (!*deleted) co_return NotFound("webhook");
  co_return base::Result<void, ApiError>();
}

asio::awaitable<base::Result<CreatedEndpoint, ApiError>> Service::RotateSecret(std::string account_id,
                                                                              std::string id) {
  auto found = co_await GetEndpoint(std::move(account_id), std::move(id));
  if (!found) co_return found.error();
  WebhookEndpointRow row = std::move(*found);
  std::int64_t now = Now();
  row.previous_secret = row.secret;
  row.previous_until_ms = now + options_.rotation_overlap.count();
  row.secret = NewSecret();
  row.updated_ms = now;
  auto saved = co_await store_.UpdateEndpoint(row, 0);
  if (!saved) co_return store::StoreError("webhooks", saved.error());
  std::string secret = row.secret;
  co_return CreatedEndpoint{std::move(row), std::move(secret)};
}

std::vector<std::string> Service::SigningSecrets(const WebhookEndpointRow& e, std::int64_t now_ms) const {
  std::vector<std::string> secrets{e.secret};
  if (!e.previous_secret.empty() && now_ms < e.previous_until_ms) secrets.push_back(e.previous_secret);
  return secrets;
}

asio::awaitable<base::Result<TestResult, ApiError>> Service::Test(std::string account_id, std::string id) {
  auto found = co_await GetEndpoint(std::move(account_id), std::move(id));
  if (!found) co_return found.error();
  const WebhookEndpointRow& e = *found;
  auto url = ParseWebhookUrl(e.url, options_.allow);
  if (!url) co_return Invalid(url.error().code, url.error().detail);
  store::EventRow event;
  event.id = store::NewOrderedId("evt_");
  event.account_id = e.account_id;
  event.type = "webhook.test";
  event.created_ms = Now();
  event.data = "{\"webhook_id\":\"" + e.id + "\"}";
  std::string body = store::WebhookBody(event);
  std::int64_t ts = event.created_ms / 1000;
  std::vector<std::pair<std::string, std::string>> headers = {
      {"webhook-id", event.id},
      {"webhook-timestamp", std::to_string(ts)},
      {"webhook-signature", SignatureHeader(SigningSecrets(e, event.created_ms), event.id, ts, body)}};
  auto sent = co_await client_.Post(*url, std::move(headers), std::move(body));
  co_return TestResult{event.id, sent.status, sent.latency_ms, sent.error};
}

asio::awaitable<base::Result<DeliveryPage, ApiError>> Service::ListDeliveries(std::string account_id,
                                                                             std::string endpoint_id,
                                                                             std::string cursor,
                                                                             std::string state, int limit) {
  auto found = co_await GetEndpoint(account_id, endpoint_id);
  if (!found) co_return found.error();
  auto rows = co_await store_.ListDeliveries(std::move(account_id), std::move(endpoint_id), std::move(cursor),
                                             std::move(state), limit + 1);
  if (!rows) co_return store::StoreError("webhooks", rows.error());
  DeliveryPage page;
  if (static_cast<int>(rows->size()) > limit) {
    rows->resize(limit);
    page.next_cursor = rows->back().id;
  }
  page.deliveries = std::move(*rows);
  co_return page;
}

asio::awaitable<base::Result<store::WebhookDeliveryRow, ApiError>> Service::Replay(std::string account_id,
                                                                                  std::string endpoint_id,
                                                                                  std::string delivery_id) {
  auto replayed = co_await store_.ReplayDelivery(std::move(account_id), std::move(endpoint_id),
                                                 std::move(delivery_id), Now());
  if (!replayed) co_return store::StoreError("webhooks", replayed.error());
  if (!*replayed) co_return NotFound("delivery");
  Wake();
  co_return std::move(**replayed);
}

asio::awaitable<base::Result<store::WebhookSessionStats, ApiError>> Service::SessionStats(std::string account_id,
                                                                                         std::string session_id) {
  auto session = co_await sessions_.GetSession(account_id, session_id);
  if (!session) co_return store::StoreError("webhooks", session.error());
  if (!*session) co_return NotFound("session");
  auto stats = co_await store_.SessionStats(std::move(account_id), std::move(session_id));
  if (!stats) co_return store::StoreError("webhooks", stats.error());
  co_return *stats;
}

// ---- Worker ----

void Service::Start() {
  asio::dispatch(strand_, [this] {
    if (started_) return;
    started_ = running_ = true;
    asio::co_spawn(strand_, Run(), [this](std::exception_ptr e) {
      if (e) spdlog::error("webhooks: the delivery worker failed: {}", base::ExceptionText(e));
      running_ = false;
    });
  });
}

void Service::Wake() {
  if (wake_posted_.exchange(true)) return;
  asio::post(strand_, [this] {
    wake_posted_.store(false);
    WakeNow();
  });
}

void Service::WakeNow() {
  wake_requested_ = true;
  timer_.cancel();
}

void Service::WakeFor(std::int64_t event_seq) {
  asio::post(strand_, [this, event_seq] {
    if (event_seq > offered_seq_) WakeNow();
  });
}

void Service::Offer(std::vector<store::DueWebhookDelivery> made, std::int64_t fanned_to_seq) {
  asio::post(strand_, [this, made = std::move(made), fanned_to_seq]() mutable {
    if (stopping_ || !running_) return;
    offered_seq_ = std::max(offered_seq_, fanned_to_seq);
    static const std::set<std::string> kNone;
    for (auto& due : made) {
      const auto& d = due.delivery;
      std::string lane = LaneOf(d.endpoint_id, d.session_id);
      if (due.endpoint.disabled) {
        clean_lanes_.erase(lane);  // it waits for the endpoint's re-enabling
        continue;
      }
      if (busy_lanes_.count(lane)) {
        // The lane's read-ahead may have looked before this committed: the pump looks after it.
        offered_while_busy_.insert(lane);
        clean_lanes_.erase(lane);
        continue;
      }
      Launch started = clean_lanes_.count(lane) ? TryStart(due, kNone) : Launch::kNotHead;
      if (started != Launch::kStarted) {
        // Open and not in flight: the lane is not clean until the pump has sent it.
        clean_lanes_.erase(lane);
        needs_pump_ = true;
        if (started == Launch::kCapped) contended_.insert(d.endpoint_id);
      }
    }
    if (needs_pump_) WakeNow();
  });
}

asio::awaitable<void> Service::Run() {
  while (!stopping_) {
    wake_requested_ = false;
    std::int64_t next_due = co_await PumpOnce();
    if (stopping_) break;
    if (wake_requested_) continue;
    auto wait = options_.poll_interval;
    if (next_due > 0) {
      wait = std::min(wait, std::chrono::milliseconds(std::max<std::int64_t>(0, next_due - Now())));
    }
    timer_.expires_after(wait);
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<std::int64_t> Service::PumpOnce() {
  for (int round = 0; round < 8; ++round) {
    auto fanned = co_await store_.FanOut(options_.fanout_batch, Now());
    if (!fanned) {
      spdlog::warn("webhooks: fan-out failed: {}", fanned.error().message());
      break;
    }
    if (fanned->events < options_.fanout_batch) break;
    if (round == 7) wake_requested_ = true;  // more to fan out: come back after sending
  }
  int capacity = options_.max_in_flight - static_cast<int>(in_flight_.size());
  if (capacity <= 0) co_return 0;
  // Attempts recorded while the read runs may show in it as still open, having left unrecorded_
  // meanwhile: RecordLoop notes them in recorded_during_read_ and they are skipped below (sent
  // twice otherwise). Reading again instead would starve the pump while a busy lane commits
  // every few milliseconds.
  reading_due_ = true;
  auto batch = co_await store_.DueDeliveries(Now(), capacity + static_cast<int>(in_flight_.size()));
  reading_due_ = false;
  std::set<std::string> recorded_meanwhile;
  recorded_meanwhile.swap(recorded_during_read_);
  if (!batch) {
    spdlog::warn("webhooks: reading due deliveries failed: {}", batch.error().message());
    co_return Now() + options_.poll_interval.count();
  }
  if (!recorded_meanwhile.empty()) wake_requested_ = true;  // what they unblocked is read next
  contended_.clear();
  needs_pump_ = false;  // everything due is looked at now
  for (auto& due : batch->due) {
    if (stopping_) break;
    switch (TryStart(due, recorded_meanwhile)) {
      case Launch::kCapped:
        contended_.insert(due.delivery.endpoint_id);
        needs_pump_ = true;  // when an attempt ends, the pump looks again
        break;
      case Launch::kAwaitsRecord:
        needs_pump_ = true;  // when its record commits (RecordLoop), the lane's next is read
        break;
      default:
        break;
    }
  }
  co_return batch->next_due_ms;
}

Service::Launch Service::TryStart(store::DueWebhookDelivery& due, const std::set<std::string>& recorded_meanwhile) {
  const auto& d = due.delivery;
  if (static_cast<int>(in_flight_.size()) >= options_.max_in_flight) return Launch::kCapped;
  if (in_flight_.count(d.id)) return Launch::kBusy;
  if (unrecorded_.count(d.id) || recorded_meanwhile.count(d.id)) return Launch::kAwaitsRecord;
  std::string lane = LaneOf(d.endpoint_id, d.session_id);
  if (d.ordered && busy_lanes_.count(lane)) return Launch::kBusy;
  int& running = per_endpoint_[d.endpoint_id];
  if (running >= options_.per_endpoint_concurrency) return Launch::kCapped;
  ++running;
  in_flight_.insert(d.id);
  bool knows_lane = false;
  if (d.ordered) {
    busy_lanes_.insert(lane);
    knows_lane = clean_lanes_.erase(lane) > 0;  // clean until now; until this run ends well
  }
  std::uint64_t token = next_token_++;
  auto& signal = cancels_[token];
  signal = std::make_unique<asio::cancellation_signal>();
  auto copy = due;
  asio::co_spawn(strand_, Attempt(std::move(due), knows_lane),
                 asio::bind_cancellation_slot(signal->slot(), [this, copy = std::move(copy), token](std::exception_ptr e) {
                   if (e && !stopping_) {
                     spdlog::error("webhooks: delivery {} failed: {}", copy.delivery.id, base::ExceptionText(e));
                   }
                   Finished(copy, token);
                 }));
  return Launch::kStarted;
}

void Service::Finished(const store::DueWebhookDelivery& due, std::uint64_t token) {
  const auto& d = due.delivery;
  in_flight_.erase(d.id);
  const std::string lane = LaneOf(d.endpoint_id, d.session_id);
  if (d.ordered) busy_lanes_.erase(lane);
  if (auto it = per_endpoint_.find(d.endpoint_id); it != per_endpoint_.end() && --it->second <= 0) {
    per_endpoint_.erase(it);
  }
  cancels_.erase(token);
  if (d.ordered) {
    if (offered_while_busy_.erase(lane)) {
      clean_lanes_.erase(lane);
      needs_pump_ = true;
    }
  }
  // A lane that ended clean and nothing left waiting: no need to read the due deliveries again.
  if (!stopping_ && needs_pump_) WakeNow();
}

asio::awaitable<void> Service::Attempt(store::DueWebhookDelivery due, bool knows_lane) {
  const store::WebhookEndpointRow e = due.endpoint;
  store::WebhookDeliveryRow d = due.delivery;
  const std::string lane_key = LaneOf(e.id, d.session_id);
  std::deque<store::WebhookDeliveryRow> lane;  // the lane's next deliveries, read ahead
  // Whether everything open in the lane after `lane` is known to come as an offer (the run
  // began at a clean lane's head, or a read-ahead found the rest): then the store is read only
  // when an offer came while this run was sending.
  for (int run = 1;; ++run) {
    std::int64_t started = Now();
    std::int64_t ts = started / 1000;
    PostResult sent;
    auto url = ParseWebhookUrl(e.url, options_.allow);
    if (!url) {
      sent.error = url.error().code + ": " + url.error().detail;
    } else {
      std::vector<std::pair<std::string, std::string>> headers = {
          {"webhook-id", d.event_id},
          {"webhook-timestamp", std::to_string(ts)},
          {"webhook-signature", SignatureHeader(SigningSecrets(e, started), d.event_id, ts, d.body)}};
      sent = co_await client_.Post(*url, std::move(headers), d.body);
    }
    if (stopping_) co_return;  // cancelled by shutdown: left open, sent again after a restart
    attempts_made_.fetch_add(1);

    store::WebhookAttemptOutcome o;
    o.delivery_id = d.id;
    o.endpoint_id = e.id;
    o.attempt = {0, started, sent.status, sent.latency_ms, sent.error};
    o.disable_after_ms = options_.disable_after.count();
    std::int64_t now = Now();
    bool ok = sent.status >= 200 && sent.status < 300;
    if (ok) {
      o.new_state = "delivered";
    } else if (sent.status == 410) {
      // Gone: the receiver asks us to stop. The delivery waits for the endpoint's re-enabling.
      o.disable_now = true;
      o.new_state = "retrying";
      o.next_attempt_ms = now;
    } else {
      std::uniform_real_distribution<double> unit(0.0, 1.0);
      auto next = NextAttempt(options_.retry, d.attempts + 1, d.window_start_ms, now, unit(random_));
      if (next) {
        if (sent.retry_after_s > 0) {
          *next = std::min(std::max(*next, now + sent.retry_after_s * std::int64_t{1000}),
                           d.window_start_ms + options_.retry.window.count());
        }
        o.new_state = "retrying";
        o.next_attempt_ms = *next;
      } else {
        o.new_state = "dead";
      }
    }
    QueueRecord(std::move(o));
    // A delivered event lets its lane go on at once: the next one is sent while this one's
    // record waits for the next group commit. Until that commit the delivery is still open in
    // the store, so the pump skips it (unrecorded_); a crash before it means one more delivery
    // of an event the receiver has (at least once, deduplicated on webhook-id), never a loss.
    if (!d.ordered) co_return;
    // Ends of an ordered run: the pump looks at the lane again unless it ended clean (its last
    // delivery succeeded and nothing more was open).
    if (!ok || run >= kMaxLaneRun || (run >= kContendedLaneRun && contended_.count(e.id))) {
      needs_pump_ = true;
      co_return;
    }
    // Offers that arrive while the store is read may be missing from what it returns: read
    // again until none came meanwhile.
    while (lane.empty() && (!knows_lane || offered_while_busy_.count(lane_key))) {
      offered_while_busy_.erase(lane_key);
      constexpr int kReadAhead = 64;
      auto next = co_await store_.LaneDeliveries(e.id, d.session_id, d.event_seq, Now(), kReadAhead);
      if (!next || stopping_) {
        needs_pump_ = true;
        co_return;
      }
      lane.assign(next->begin(), next->end());
      knows_lane = static_cast<int>(next->size()) < kReadAhead;
    }
    if (lane.empty()) {
      clean_lanes_.insert(lane_key);
      co_return;
    }
    if (lane.front().next_attempt_ms > Now()) {
      needs_pump_ = true;
      co_return;
    }
    d = std::move(lane.front());
    lane.pop_front();
  }
}

void Service::QueueRecord(store::WebhookAttemptOutcome outcome) {
  unrecorded_.insert(outcome.delivery_id);
  records_.push_back(std::move(outcome));
  if (recording_) return;
  recording_ = true;
  asio::co_spawn(strand_, RecordLoop(), [this](std::exception_ptr e) {
    if (e) spdlog::error("webhooks: recording attempts failed: {}", base::ExceptionText(e));
    recording_ = false;
  });
}

asio::awaitable<void> Service::RecordLoop() {
  // One transaction for whatever finished meanwhile: a busy lane costs one commit per batch,
  // not one per delivery.
  while (!records_.empty()) {
    std::vector<store::WebhookAttemptOutcome> batch;
    batch.swap(records_);
    auto recorded = co_await store_.RecordAttempts(batch);
    if (!recorded) {
      // Left open in the store: they are attempted again (at least once).
      spdlog::warn("webhooks: recording {} attempts failed: {}", batch.size(), recorded.error().message());
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      unrecorded_.erase(batch[i].delivery_id);
      if (reading_due_) recorded_during_read_.insert(batch[i].delivery_id);
      if (!recorded) continue;
      const auto& r = (*recorded)[i];
      if (r.endpoint_disabled_now) {
        spdlog::warn("webhooks: endpoint {} of account {} disabled: {}", r.endpoint.id, r.endpoint.account_id,
                     r.endpoint.disabled_reason);
        if (options_.on_disabled) options_.on_disabled(r.endpoint);
      }
    }
    bool all_delivered = true;
    for (const auto& o : batch) all_delivered = all_delivered && o.new_state == "delivered";
    if (!stopping_ && (needs_pump_ || !all_delivered || !recorded)) WakeNow();
  }
}

asio::awaitable<void> Service::Shutdown(std::chrono::milliseconds timeout) {
  co_await asio::dispatch(strand_, asio::use_awaitable);
  stopping_ = true;
  timer_.cancel();
  for (auto& [token, signal] : cancels_) signal->emit(asio::cancellation_type::terminal);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  asio::steady_timer wait(strand_);
  while ((running_ || !in_flight_.empty() || recording_) && std::chrono::steady_clock::now() < deadline) {
    wait.expires_after(std::chrono::milliseconds(5));
    boost::system::error_code ec;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace gateway::webhooks
