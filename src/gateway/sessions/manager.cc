#include "gateway/sessions/manager.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>

#include <boost/json.hpp>

#include "base/clock.h"
#include "base/bytes.h"
#include "gateway/store/api_error.h"
#include "gateway/store/ids.h"
#include "gateway/store/message_json.h"
#include "wa/client/client.h"
#include "wa/client/errors.h"

namespace gateway::sessions {

namespace asio = boost::asio;
using status = base::http::beast_http::status;

namespace {

ApiError NotFound() { return ApiError{status::not_found, "not_found", "no such session"}; }

bool HttpUrl(const std::string& url) {
  return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
}

}  // namespace

// One running session: its stored state, its client and what the client last said.
class SessionManager::Runner : public std::enable_shared_from_this<Runner> {
 public:
  Runner(SessionManager& manager, store::SessionRow row) : manager_(manager), row_(std::move(row)) {}

  const store::SessionRow& row() const { return row_; }
  std::unique_ptr<store::sqlite::SessionState> state;
  std::unique_ptr<wa::client::Client> client;
  // Set by SessionManager::Logout: the owner asked for it, so the status says so
  // (reason "logout_requested") and nobody is alerted to re-link.
  std::atomic<bool> logout_requested{false};

  void OnEvent(const wa::client::Event& event) {
    if (manager_.options_.plugin) manager_.options_.plugin->OnEvent(row_.id, event);
    std::unique_lock lock(mu_);
    std::string before = status_;
    if (const auto* qr = std::get_if<wa::client::Qr>(&event)) {
      status_ = "qr";
      qr_ = qr->code;
      qr_expires_ms_ = base::UnixMs() + qr->expires_in.count();
      boost::json::object data{{"session_id", row_.id}, {"qr", qr_},
                               {"expires_at", store::Rfc3339Ms(qr_expires_ms_)}};
      pending_events_.push_back(store::EventRow{.account_id = row_.account_id, .session_id = row_.id,
                                                .type = events::kSessionQr,
                                                .data = boost::json::serialize(data)});
      dirty_qr_ = true;
    } else if (const auto* h = std::get_if<wa::client::HistoryChunk>(&event)) {
      // Chunk boundaries only (each says the phone's overall progress); the per-conversation
      // progress stays in the engine, so a large history does not flood the event log.
      if (h->stage == wa::client::HistoryChunk::Stage::kProgress) return;
      boost::json::object data{{"session_id", row_.id},
                               {"stage", std::string(wa::client::ToString(h->stage))},
                               {"sync_type", h->sync_type},
                               {"chunk_order", h->chunk_order},
                               {"progress", h->progress},
                               {"conversations", h->conversations},
                               {"messages", h->messages}};
      if (!h->error.empty()) data["error"] = h->error;
      pending_events_.push_back(store::EventRow{.account_id = row_.account_id, .session_id = row_.id,
                                                .type = events::kSessionHistory,
                                                .data = boost::json::serialize(data),
                                                .created_ms = base::UnixMs()});
      lock.unlock();
      Persist();
      return;
    } else if (std::holds_alternative<wa::client::PairingCode>(event)) {
      status_ = "pairing";
    } else if (const auto* paired = std::get_if<wa::client::Paired>(&event)) {
      phone_ = std::string(paired->jid.user());
      jid_ = paired->jid.ToString();
      lid_ = paired->lid.ToString();
      qr_.clear();
      status_ = "starting";
    } else if (std::holds_alternative<wa::client::Connected>(event)) {
      status_ = "connected";
      reason_.clear();
      qr_.clear();
    } else if (const auto* out = std::get_if<wa::client::LoggedOut>(&event)) {
      logged_out_ = true;
      status_ = "logged_out";
      reason_ = logout_requested.load() ? "logout_requested" : std::string(wa::client::ToString(out->reason));
    } else if (const auto* d = std::get_if<wa::client::Disconnected>(&event)) {
      qr_.clear();
      if (d->will_retry) {
        status_ = "disconnected";
        reason_ = std::string(wa::client::ToString(d->reason));
      } else {
        ended_ = true;
        if (logged_out_) {
          status_ = "logged_out";
        } else if (d->reason == wa::client::DisconnectReason::kStopped) {
          status_ = "stopped";
        } else {
          status_ = "failed";
          reason_ = std::string(wa::client::ToString(d->reason));
        }
      }
    } else {
      return;
    }
    status_ms_ = base::UnixMs();
    if (status_ != before) {
      spdlog::info("session {}: {}{}", row_.id, status_, reason_.empty() ? "" : " (" + reason_ + ")");
      boost::json::object data{{"session_id", row_.id}, {"status", status_}, {"reason", reason_},
                               {"phone", phone_}};
      // The status event goes before a QR event of the same call (qr status, then its code).
      auto at = pending_events_.end();
      if (dirty_qr_) --at;
      pending_events_.insert(at, store::EventRow{.account_id = row_.account_id, .session_id = row_.id,
                                                 .type = events::kSessionStatus,
                                                 .data = boost::json::serialize(data),
                                                 .created_ms = status_ms_});
    }
    bool changed = status_ != before || dirty_qr_;
    dirty_qr_ = false;
    lock.unlock();
    if (changed) Persist();
  }

  SessionView View() const {
    std::lock_guard lock(mu_);
    SessionView v{row_, status_, status_ms_, reason_};
    if (!phone_.empty()) v.row.phone = phone_;
    if (!jid_.empty()) v.row.jid = jid_;
    if (!lid_.empty()) v.row.lid = lid_;
    return v;
  }

  QrView Qr() const {
    std::lock_guard lock(mu_);
    return QrView{status_, status_ == "qr" ? qr_ : std::string(), status_ == "qr" ? qr_expires_ms_ : 0};
  }

  std::string status() const {
    std::lock_guard lock(mu_);
    return status_;
  }
  bool ended() const {
    std::lock_guard lock(mu_);
    return ended_;
  }

  // Writes the latest status; one write at a time, the last one wins.
  void Persist() {
    {
      std::lock_guard lock(mu_);
      if (writing_) {
        dirty_ = true;
        return;
      }
      writing_ = true;
    }
    asio::co_spawn(manager_.ioc_, WriteLoop(shared_from_this()), asio::detached);
  }

  // Waits until no status write is in flight (before the session's row is deleted).
  asio::awaitable<void> Flushed() {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (!writing_) co_return;
      }
      timer.expires_after(std::chrono::milliseconds(5));
      co_await timer.async_wait(asio::use_awaitable);
    }
  }

 private:
  static asio::awaitable<void> WriteLoop(std::shared_ptr<Runner> self) {
    for (;;) {
      std::string st, phone, jid, lid;
      std::int64_t at = 0;
      std::vector<store::EventRow> events;
      {
        std::lock_guard lock(self->mu_);
        self->dirty_ = false;
        st = self->status_;
        at = self->status_ms_;
        phone = self->phone_;
        jid = self->jid_;
        lid = self->lid_;
        events.swap(self->pending_events_);
      }
      auto written = co_await self->manager_.rows_.SetStatus(self->row_.id, st, at, phone, jid, lid);
      if (!written) spdlog::warn("session {}: recording status failed: {}", self->row_.id, written.error().message());
      auto& opts = self->manager_.options_;
      if (opts.events && !events.empty()) {
        auto appended = co_await opts.events->AppendEvents(std::move(events));
        if (!appended) {
          spdlog::warn("session {}: recording events failed: {}", self->row_.id, appended.error().message());
        } else if (opts.bus) {
          opts.bus->Publish(*appended);
        }
      }
      std::lock_guard lock(self->mu_);
      if (!self->dirty_ && self->pending_events_.empty()) {
        self->writing_ = false;
        co_return;
      }
    }
  }

  SessionManager& manager_;
  store::SessionRow row_;
  mutable std::mutex mu_;
  std::string status_ = "starting";
  std::int64_t status_ms_ = base::UnixMs();
  std::string reason_;
  std::string qr_;
  std::int64_t qr_expires_ms_ = 0;
  std::string phone_, jid_, lid_;
  bool logged_out_ = false;
  bool ended_ = false;
  bool writing_ = false;
  bool dirty_ = false;
  bool dirty_qr_ = false;
  std::vector<store::EventRow> pending_events_;  // to append, in order
};

SessionManager::SessionManager(asio::io_context& ioc, store::SessionStore& rows,
                               store::sqlite::SessionStates& states, ManagerOptions options)
    : ioc_(ioc), rows_(rows), states_(states), options_(std::move(options)) {}

SessionManager::~SessionManager() = default;

std::size_t SessionManager::running() const {
  std::lock_guard lock(mu_);
  return runners_.size();
}

std::map<std::string, int> SessionManager::CountByStatus() const {
  std::map<std::string, int> counts;
  std::lock_guard lock(mu_);
  for (const auto& [id, r] : runners_) ++counts[r->status()];
  return counts;
}

std::optional<SessionView> SessionManager::Running(const std::string& account_id,
                                                  const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = runners_.find(id);
  if (it == runners_.end() || it->second->row().account_id != account_id) return std::nullopt;
  return it->second->View();
}

std::string SessionManager::LiveStatus(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = runners_.find(id);
  return it == runners_.end() ? std::string() : it->second->status();
}

asio::awaitable<base::Result<std::vector<wa::client::ContactStatus>, ApiError>> SessionManager::Lookup(
    std::string id, std::vector<std::string> phones) {
  std::shared_ptr<Runner> runner;
  {
    std::lock_guard lock(mu_);
    auto it = runners_.find(id);
    if (it != runners_.end()) runner = it->second;
  }
  if (!runner || runner->status() != "connected") {
    co_return ApiError{status::conflict, "not_connected", "the session is not connected to WhatsApp"};
  }
  auto found = co_await runner->client->OnWhatsApp(std::move(phones));
  if (!found) {
    if (found.error() == wa::client::MakeError(wa::client::Errc::kInvalidPhone)) {
      co_return ApiError{status::unprocessable_entity, "invalid_phone",
                         "phone must be an international number, e.g. +15550001111"};
    }
    co_return ApiError{status::bad_gateway, "lookup_failed",
                       "WhatsApp did not answer the lookup: " + found.error().message()};
  }
  co_return std::move(*found);
}

SessionView SessionManager::ViewOf(const store::SessionRow& row) const {
  {
    std::lock_guard lock(mu_);
    auto it = runners_.find(row.id);
    if (it != runners_.end()) return it->second->View();
  }
  return SessionView{row, row.status, row.status_ms, ""};
}

asio::awaitable<void> SessionManager::StartAll() {
  auto rows = co_await rows_.SuspendedAccounts();
  if (rows) {
    std::lock_guard lock(mu_);
    suspended_.insert(rows->begin(), rows->end());
  }
  auto wanted = co_await rows_.ListDesiredRunning();
  if (!wanted) {
    spdlog::error("sessions: cannot list sessions to start: {}", wanted.error().message());
  } else {
    for (const auto& row : *wanted) {
      bool skip;
      {
        std::lock_guard lock(mu_);
        skip = suspended_.count(row.account_id) > 0;
      }
      if (skip) continue;
      auto launched = co_await Launch(row);
      if (!launched) spdlog::error("session {}: cannot start: {}", row.id, launched.error().detail);
    }
    spdlog::info("sessions: {} started", running());
  }
  watch_alive_ = std::make_shared<bool>(true);
  asio::co_spawn(ioc_, WatchSuspensions(), asio::detached);
}

asio::awaitable<void> SessionManager::WatchSuspensions() {
  auto alive = watch_alive_;
  asio::steady_timer timer(ioc_);
  while (*alive) {
    timer.expires_after(options_.suspension_poll);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!*alive) break;
    auto now = co_await rows_.SuspendedAccounts();
    if (!now || !*alive) continue;
    std::set<std::string> current(now->begin(), now->end());
    std::vector<std::string> newly, lifted;
    {
      std::lock_guard lock(mu_);
      for (const auto& a : current) {
        if (!suspended_.count(a)) newly.push_back(a);
      }
      for (const auto& a : suspended_) {
        if (!current.count(a)) lifted.push_back(a);
      }
    }
    for (const auto& a : newly) co_await SuspendAccount(a);
    for (const auto& a : lifted) co_await ResumeAccount(a);
  }
}

asio::awaitable<void> SessionManager::SuspendAccount(std::string account_id) {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mu_);
    if (!suspended_.insert(account_id).second) co_return;
    for (const auto& [id, runner] : runners_) {
      if (runner->row().account_id == account_id) ids.push_back(id);
    }
  }
  spdlog::warn("sessions: account {} suspended: stopping {} session(s)", account_id, ids.size());
  for (const auto& id : ids) co_await Halt(id);
}

asio::awaitable<void> SessionManager::ResumeAccount(std::string account_id) {
  {
    std::lock_guard lock(mu_);
    if (!suspended_.erase(account_id)) co_return;
  }
  auto wanted = co_await rows_.ListDesiredRunning();
  if (!wanted) co_return;
  for (const auto& row : *wanted) {
    if (row.account_id != account_id) continue;
    auto launched = co_await Launch(row);
    if (!launched) spdlog::error("session {}: cannot start: {}", row.id, launched.error().detail);
  }
}

asio::awaitable<base::Result<void, ApiError>> SessionManager::Launch(const store::SessionRow& row) {
  {
    std::lock_guard lock(mu_);
    if (shutting_down_) co_return ApiError{status::service_unavailable, "shutting_down", "the gateway is stopping", 1};
    if (suspended_.count(row.account_id)) {
      co_return ApiError{status::forbidden, "account_suspended", "this account is suspended"};
    }
    if (runners_.count(row.id)) co_return base::Result<void, ApiError>{};
  }
  const Endpoint* endpoint = &options_.whatsapp;
  if (row.sandbox) {
    if (!options_.sandbox) {
      co_return ApiError{status::unprocessable_entity, "sandbox_unavailable",
                         "this gateway has no sandbox configured (sandbox.chat_url)"};
    }
    endpoint = &*options_.sandbox;
  }
  wa::client::Config config;
  config.url = endpoint->chat_url;
  if (!endpoint->root_key_hex.empty()) {
    auto key = base::FromHex(endpoint->root_key_hex);
    if (!key || key->size() != 32) {
      co_return ApiError{status::internal_server_error, "bad_endpoint", "the configured root key is not 32 bytes"};
    }
    std::copy(key->begin(), key->end(), config.trust_root.begin());
  }
  config.ca_file = endpoint->ca_file;
  if (!row.proxy.empty()) {
    auto proxy = wa::client::ParseProxyUrl(row.proxy);
    if (!proxy) co_return ApiError{status::unprocessable_entity, "invalid_proxy", "the session's proxy URL is not usable"};
    config.proxy = *proxy;
  }
  config.log_name = row.id;
  config.history_sync = options_.history_sync;
  if (auto mode = wa::client::ParseHistorySyncMode(row.history_sync)) config.history_sync = *mode;
  config.history_slots = options_.history_slots;
  if (options_.tune_client) options_.tune_client(config);

  auto opened = co_await states_.Open(row.id);
  if (!opened) {
    co_return ApiError{status::service_unavailable, "store_unavailable",
                       "the session's stored state cannot be opened: " + opened.error().message(), 1};
  }
  auto runner = std::make_shared<Runner>(*this, row);
  runner->state = std::move(*opened);
  // A session with no device yet (new, or logged out) gets fresh keys to register with.
  auto existing = runner->state->Load();
  if (!existing) {
    co_return ApiError{status::service_unavailable, "store_unavailable",
                       "the session's credentials cannot be read: " + existing.error().message(), 1};
  }
  if (!*existing) {
    auto saved = runner->state->Save(wa::client::Credentials::New());
    if (saved) saved = co_await runner->state->Commit();
    if (!saved) {
      co_return ApiError{status::service_unavailable, "store_unavailable",
                         "new credentials cannot be stored: " + saved.error().message(), 1};
    }
  }
  std::weak_ptr<Runner> weak = runner;
  runner->client = std::make_unique<wa::client::Client>(
      ioc_.get_executor(), std::move(config), *runner->state, [weak](const wa::client::Event& e) {
        if (auto r = weak.lock()) r->OnEvent(e);
      });
  {
    std::lock_guard lock(mu_);
    runners_[row.id] = runner;
  }
  if (options_.plugin) options_.plugin->Attach(row, *runner->client);
  runner->Persist();
  runner->client->Start();
  co_return base::Result<void, ApiError>{};
}

asio::awaitable<void> SessionManager::Halt(const std::string& id) {
  std::shared_ptr<Runner> runner;
  {
    std::lock_guard lock(mu_);
    auto it = runners_.find(id);
    if (it == runners_.end()) co_return;
    runner = it->second;
    runners_.erase(it);
  }
  if (options_.plugin) co_await options_.plugin->Detach(id);
  co_await runner->client->Stop();
  if (auto committed = co_await runner->state->Commit(); !committed) {
    spdlog::warn("session {}: final commit failed: {}", id, committed.error().message());
  }
  co_await runner->Flushed();
  runner->client.reset();
  runner->state.reset();
}

asio::awaitable<void> SessionManager::Shutdown() {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mu_);
    shutting_down_ = true;
    for (const auto& [id, r] : runners_) ids.push_back(id);
  }
  if (watch_alive_) *watch_alive_ = false;
  for (const auto& id : ids) co_await Halt(id);
}

asio::awaitable<base::Result<store::SessionRow, ApiError>> SessionManager::Load(
    std::string account_id, std::string id) {
  auto row = co_await rows_.GetSession(std::move(account_id), std::move(id));
  if (!row) co_return store::StoreError("sessions", row.error());
  if (!*row) co_return NotFound();
  co_return std::move(**row);
}

asio::awaitable<base::Result<SessionView, ApiError>> SessionManager::Create(std::string account_id,
                                                                          CreateRequest request) {
  auto bad = [](std::string code, std::string detail) {
    return ApiError{status::unprocessable_entity, std::move(code), std::move(detail)};
  };
  if (request.name.empty() || request.name.size() > 100) co_return bad("invalid_name", "name must be 1 to 100 characters");
  bool sandbox = request.sandbox.value_or(options_.sandbox_default);
  int min_delay = request.min_delay_ms.value_or(sandbox ? 200 : 3000);
  int max_delay = request.max_delay_ms.value_or(sandbox ? 800 : 8000);
  if (min_delay < 0 || max_delay > 600000 || min_delay > max_delay) {
    co_return bad("invalid_speed", "speed needs 0 <= min_delay_ms <= max_delay_ms <= 600000");
  }
  if (request.daily_limit && *request.daily_limit < 1) co_return bad("invalid_daily_limit", "daily_limit must be at least 1");
  if (!request.webhook_url.empty() && (!HttpUrl(request.webhook_url) || request.webhook_url.size() > 2048)) {
    co_return bad("invalid_webhook_url", "webhook_url must be an http:// or https:// URL");
  }
  if (!request.proxy.empty() && !wa::client::ParseProxyUrl(request.proxy)) {
    co_return bad("invalid_proxy", "proxy must be http://[user:pass@]host[:port] or socks5://[user:pass@]host:port");
  }
  if (sandbox && !options_.sandbox) {
    co_return bad("sandbox_unavailable", "this gateway has no sandbox configured (sandbox.chat_url)");
  }
  auto count = co_await rows_.CountSessions(account_id);
  if (!count) co_return store::StoreError("sessions", count.error());
  if (*count >= request.max_sessions) {
    co_return ApiError{status::payment_required, "plan_limit_sessions",
                       "your plan allows " + std::to_string(request.max_sessions) +
                           " sessions; delete one or upgrade"};
  }
  store::SessionRow row;
  row.id = store::NewId("ses_");
  row.account_id = account_id;
  row.name = std::move(request.name);
  row.sandbox = sandbox;
  row.webhook_url = std::move(request.webhook_url);
  row.proxy = std::move(request.proxy);
  row.min_delay_ms = min_delay;
  row.max_delay_ms = max_delay;
  row.pacing = std::move(request.pacing);
  row.history_sync = std::move(request.history_sync);
  row.daily_limit = request.daily_limit;
  row.desired = "running";
  row.status = "starting";
  row.status_ms = base::UnixMs();
  row.created_ms = row.status_ms;
  auto created = co_await rows_.CreateSession(row);
  if (!created) co_return store::StoreError("sessions", created.error());
  if (request.before_start) {
    auto prepared = co_await request.before_start(row);
    if (!prepared) {
      auto removed = co_await rows_.DeleteSession(row.id);
      if (!removed) spdlog::warn("session {}: removing it after a failed start failed: {}", row.id, removed.error().message());
      co_return prepared.error();
    }
  }
  auto launched = co_await Launch(row);
  if (!launched) co_return launched.error();
  co_return ViewOf(row);
}

asio::awaitable<base::Result<SessionView, ApiError>> SessionManager::Get(std::string account_id,
                                                                       std::string id) {
  auto row = co_await Load(std::move(account_id), std::move(id));
  if (!row) co_return row.error();
  co_return ViewOf(*row);
}

asio::awaitable<base::Result<SessionManager::Page, ApiError>> SessionManager::List(
    std::string account_id, std::string cursor, int limit) {
  auto rows = co_await rows_.ListSessions(std::move(account_id), std::move(cursor), limit + 1);
  if (!rows) co_return store::StoreError("sessions", rows.error());
  Page page;
  for (int i = 0; i < static_cast<int>(rows->size()) && i < limit; ++i) page.sessions.push_back(ViewOf((*rows)[i]));
  if (static_cast<int>(rows->size()) > limit) page.next_cursor = page.sessions.back().row.id;
  co_return page;
}

asio::awaitable<base::Result<SessionView, ApiError>> SessionManager::Start(std::string account_id,
                                                                         std::string id) {
  auto row = co_await Load(account_id, id);
  if (!row) co_return row.error();
  if (auto set = co_await rows_.SetDesired(id, "running"); !set) co_return store::StoreError("sessions", set.error());
  row->desired = "running";
  std::shared_ptr<Runner> existing;
  {
    std::lock_guard lock(mu_);
    auto it = runners_.find(id);
    if (it != runners_.end()) existing = it->second;
  }
  // A run that ended (logged out, failed) is replaced by a fresh one.
  if (existing && existing->ended()) co_await Halt(id);
  auto launched = co_await Launch(*row);
  if (!launched) co_return launched.error();
  co_return ViewOf(*row);
}

asio::awaitable<base::Result<SessionView, ApiError>> SessionManager::Stop(std::string account_id,
                                                                        std::string id) {
  auto row = co_await Load(account_id, id);
  if (!row) co_return row.error();
  if (auto set = co_await rows_.SetDesired(id, "stopped"); !set) co_return store::StoreError("sessions", set.error());
  row->desired = "stopped";
  co_await Halt(id);
  auto fresh = co_await Load(account_id, id);
  if (!fresh) co_return fresh.error();
  co_return ViewOf(*fresh);
}

asio::awaitable<base::Result<SessionView, ApiError>> SessionManager::Restart(std::string account_id,
                                                                           std::string id) {
  auto row = co_await Load(account_id, id);
  if (!row) co_return row.error();
  co_await Halt(id);
  co_return co_await Start(std::move(account_id), std::move(id));
}

asio::awaitable<base::Result<SessionView, ApiError>> SessionManager::Logout(std::string account_id,
                                                                          std::string id) {
  auto row = co_await Load(account_id, id);
  if (!row) co_return row.error();
  std::shared_ptr<Runner> runner;
  {
    std::lock_guard lock(mu_);
    auto it = runners_.find(id);
    if (it != runners_.end()) runner = it->second;
  }
  if (runner && runner->status() == "connected") {
    runner->logout_requested.store(true);
    auto out = co_await runner->client->Logout();
    if (!out) spdlog::warn("session {}: logout not confirmed by the server: {}", id, out.error().message());
  }
  co_await Halt(id);
  // Whatever was stored goes: a later start links anew.
  if (auto deleted = co_await states_.Delete(id); !deleted) co_return store::StoreError("sessions", deleted.error());
  if (auto set = co_await rows_.SetDesired(id, "stopped"); !set) co_return store::StoreError("sessions", set.error());
  if (auto set = co_await rows_.SetStatus(id, "logged_out", base::UnixMs(), "", "", ""); !set) {
    co_return store::StoreError("sessions", set.error());
  }
  auto fresh = co_await Load(account_id, id);
  if (!fresh) co_return fresh.error();
  co_return ViewOf(*fresh);
}

asio::awaitable<base::Result<void, ApiError>> SessionManager::Delete(std::string account_id,
                                                                   std::string id) {
  auto out = co_await Logout(account_id, id);
  if (!out) co_return out.error();
  if (auto deleted = co_await rows_.DeleteSession(id); !deleted) co_return store::StoreError("sessions", deleted.error());
  co_return base::Result<void, ApiError>{};
}

asio::awaitable<base::Result<QrView, ApiError>> SessionManager::Qr(std::string account_id,
                                                                 std::string id) {
  auto row = co_await Load(std::move(account_id), id);
  if (!row) co_return row.error();
  std::lock_guard lock(mu_);
  auto it = runners_.find(id);
  if (it == runners_.end()) co_return QrView{row->status, "", 0};
  co_return it->second->Qr();
}

asio::awaitable<base::Result<std::string, ApiError>> SessionManager::PairingCode(
    std::string account_id, std::string id, std::string phone) {
  auto row = co_await Load(std::move(account_id), id);
  if (!row) co_return row.error();
  std::string digits;
  for (char c : phone) {
    if (c >= '0' && c <= '9') digits.push_back(c);
    else if (c != '+' && c != ' ' && c != '-' && c != '(' && c != ')') digits = "x";
  }
  if (digits.size() < 7 || digits.size() > 15 || digits == "x") {
    co_return ApiError{status::unprocessable_entity, "invalid_phone",
                       "phone must be an international number, e.g. +15550001111"};
  }
  std::shared_ptr<Runner> runner;
  {
    std::lock_guard lock(mu_);
    auto it = runners_.find(id);
    if (it != runners_.end()) runner = it->second;
  }
  if (!runner || (runner->status() != "qr" && runner->status() != "pairing")) {
    co_return ApiError{status::conflict, "not_linking",
                       "a pairing code needs a running session that is waiting to be linked (status qr)"};
  }
  auto code = co_await runner->client->RequestPairingCode(digits);
  if (!code) {
    co_return ApiError{status::bad_gateway, "pairing_code_failed",
                       "WhatsApp did not accept the pairing request: " + code.error().message()};
  }
  co_return *code;
}

}  // namespace gateway::sessions
