// The SessionManager runs one wa::Client per session that its owner wants running, on the
// gateway's io_context: it creates sessions, starts them at boot, stops, restarts, logs out and
// deletes them, keeps each one's status (persisted as it changes) and its current QR code, asks
// for pairing codes, and stops a suspended account's sessions within a second (it polls the
// store, so `wagate admin suspend` from another process works too).
//
// Status values (the API's): starting, qr, pairing, connected, disconnected (dropped, will
// reconnect), logged_out (unlinked: credentials wiped), stopped, failed (a terminal error:
// reason in the view).
//
// Threading: public coroutines may be called from any thread; the runners' state is guarded by
// a mutex; each client runs on its own strand.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/http/problem.h"
#include "base/result.h"
#include "gateway/events/bus.h"
#include "gateway/store/events.h"
#include "gateway/store/sessions.h"
#include "gateway/store/sqlite/session_state.h"
#include "wa/client/config.h"
#include "wa/client/events.h"
#include "wa/client/messages.h"

namespace wa::client {
class Client;
}

namespace gateway::sessions {

using base::http::ApiError;

// Where clients connect: WhatsApp, or a wasim for sandbox sessions.
struct Endpoint {
  std::string chat_url;
  std::string root_key_hex;  // empty: WhatsApp's production root
  std::string ca_file;
};

// Work that runs beside each running session's client (the outbox: its dispatcher and the
// receiver of its messages). Attach comes before the client starts (so it may set the message
// handler), OnEvent gets every client event on the client's strand, Detach comes before the
// client stops and must end all use of it.
class SessionPlugin {
 public:
  virtual ~SessionPlugin() = default;
  virtual void Attach(const store::SessionRow& row, wa::client::Client& client) = 0;
  virtual void OnEvent(const std::string& session_id, const wa::client::Event& event) = 0;
  virtual boost::asio::awaitable<void> Detach(std::string session_id) = 0;
};

struct ManagerOptions {
  Endpoint whatsapp{std::string(wa::client::kDefaultUrl), "", ""};
  std::optional<Endpoint> sandbox;
  bool sandbox_default = false;
  std::chrono::milliseconds suspension_poll{250};
  // Tests shorten the client's timers through this.
  std::function<void(wa::client::Config&)> tune_client;
  // Where session.status and session.qr events go (both or neither).
  store::EventStore* events = nullptr;
  events::Bus* bus = nullptr;
  SessionPlugin* plugin = nullptr;
  // History sync for sessions that do not choose, and the process-wide download bound.
  wa::client::HistorySyncMode history_sync = wa::client::HistorySyncMode::kOff;
  std::shared_ptr<wa::client::HistorySlots> history_slots;
};

struct CreateRequest {
  std::string name;
  std::optional<bool> sandbox;
  std::string webhook_url;
  std::string proxy;
  // Unset: 3-8 s for WhatsApp (safe for a new number), 0.2-0.8 s in the sandbox.
  std::optional<int> min_delay_ms;
  std::optional<int> max_delay_ms;
  std::optional<std::int64_t> daily_limit;
  std::string pacing = "{}";  // validated JSON (outbox::PacingFromJson)
  std::string history_sync;   // off | recent | full (validated); empty: ManagerOptions' default
  // Runs after the session is stored and before it starts (e.g. its own webhook endpoint, so
  // that endpoint hears every event of the session); an error removes the session again.
  std::function<boost::asio::awaitable<base::Result<void, ApiError>>(const store::SessionRow&)> before_start;
  int max_sessions = 0;  // the account's plan limit
};

struct SessionView {
  store::SessionRow row;    // configuration, desired, phone/jid/lid
  std::string status;       // live when running, else the stored one
  std::int64_t status_ms = 0;
  std::string reason;       // why it failed or disconnected, when known
};

struct QrView {
  std::string status;
  std::string code;  // empty unless status is qr
  std::int64_t expires_ms = 0;
};

class SessionManager {
 public:
  SessionManager(boost::asio::io_context& ioc, store::SessionStore& rows,
                 store::sqlite::SessionStates& states, ManagerOptions options);
  ~SessionManager();

  // Starts every session whose owner wants it running, and the suspension watch.
  boost::asio::awaitable<void> StartAll();
  // Stops every client (their state is committed) and the watch.
  boost::asio::awaitable<void> Shutdown();

  boost::asio::awaitable<base::Result<SessionView, ApiError>> Create(std::string account_id,
                                                                     CreateRequest request);
  boost::asio::awaitable<base::Result<SessionView, ApiError>> Get(std::string account_id,
                                                                  std::string id);
  struct Page {
    std::vector<SessionView> sessions;
    std::string next_cursor;  // empty: last page
  };
  boost::asio::awaitable<base::Result<Page, ApiError>> List(std::string account_id,
                                                            std::string cursor, int limit);
  boost::asio::awaitable<base::Result<SessionView, ApiError>> Start(std::string account_id,
                                                                    std::string id);
  boost::asio::awaitable<base::Result<SessionView, ApiError>> Stop(std::string account_id,
                                                                   std::string id);
  boost::asio::awaitable<base::Result<SessionView, ApiError>> Restart(std::string account_id,
                                                                      std::string id);
  // Unlinks the device (the phone stops listing it); the session stays, logged_out.
  boost::asio::awaitable<base::Result<SessionView, ApiError>> Logout(std::string account_id,
                                                                     std::string id);
  // Logs out if linked, then removes the session and all of its stored state.
  boost::asio::awaitable<base::Result<void, ApiError>> Delete(std::string account_id,
                                                              std::string id);
  boost::asio::awaitable<base::Result<QrView, ApiError>> Qr(std::string account_id, std::string id);
  boost::asio::awaitable<base::Result<std::string, ApiError>> PairingCode(std::string account_id,
                                                                          std::string id,
                                                                          std::string phone);

  // The kill switch: stops the account's running sessions (they start again on unsuspend).
  boost::asio::awaitable<void> SuspendAccount(std::string account_id);
  boost::asio::awaitable<void> ResumeAccount(std::string account_id);

  // Number of running clients (metrics, tests).
  std::size_t running() const;
  // The view of a running session of the account, from memory (the hot path of sends);
  // nullopt when it is not running here (then Get reads the store).
  std::optional<SessionView> Running(const std::string& account_id, const std::string& id) const;
  // Running sessions by live status (metrics).
  std::map<std::string, int> CountByStatus() const;
  // The live status of a running session; empty when it is not running.
  std::string LiveStatus(const std::string& id) const;
  // Asks WhatsApp which of `phones` have an account, through the session's client (409
  // not_connected unless the session is connected).
  boost::asio::awaitable<base::Result<std::vector<wa::client::ContactStatus>, ApiError>> Lookup(
      std::string id, std::vector<std::string> phones);

  class Runner;

 private:
  boost::asio::awaitable<base::Result<store::SessionRow, ApiError>> Load(std::string account_id,
                                                                         std::string id);
  boost::asio::awaitable<base::Result<void, ApiError>> Launch(const store::SessionRow& row);
  boost::asio::awaitable<void> Halt(const std::string& id);
  SessionView ViewOf(const store::SessionRow& row) const;
  boost::asio::awaitable<void> WatchSuspensions();

  boost::asio::io_context& ioc_;
  store::SessionStore& rows_;
  store::sqlite::SessionStates& states_;
  ManagerOptions options_;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Runner>> runners_;  // by session id; mu_
  std::set<std::string> suspended_;                          // account ids; mu_
  bool shutting_down_ = false;                               // mu_
  std::shared_ptr<bool> watch_alive_;
};

}  // namespace gateway::sessions
