// The outbox (issue 7): accepts messages durably (the 202 comes after the commit), sends each
// session's queue through its client at the pace its settings allow, follows every message
// through sent, delivered, read and played, stores received messages before they are
// acknowledged, and turns each change into an event (message.status, message.received).
//
// One Dispatcher per running session (SessionPlugin::Attach), on its own strand: a session's
// pacing never delays another. While a session is disconnected its messages wait (the queue's
// age is in its health view); messages of a logged-out session fail after a grace period. A
// message's WhatsApp id is fixed at enqueue, so a resend after a crash is the same message to
// the recipient, who drops the duplicate.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/http/problem.h"
#include "base/result.h"
#include "gateway/accounts/limits.h"
#include "gateway/events/bus.h"
#include "gateway/outbox/pacer.h"
#include "gateway/sessions/manager.h"
#include "gateway/store/messages.h"
#include "gateway/store/sessions.h"

namespace gateway::outbox {

using base::http::ApiError;

struct Options {
  std::chrono::milliseconds logged_out_grace{10 * 60 * 1000};
  std::chrono::hours retention{24 * 30};
  std::chrono::hours idempotency_ttl{24};
  // Contact lookups per session: `lookup_burst` at once, refilled over `lookup_period`.
  double lookup_burst = 30;
  std::chrono::milliseconds lookup_period{60 * 60 * 1000};
  // Retry of a send that failed for a transient reason.
  std::chrono::milliseconds retry_min{1000};
  std::chrono::milliseconds retry_max{30000};
  int max_attempts = 8;  // for errors that are not about the connection
  std::chrono::milliseconds sweep_every{10000};
  // Pacing defaults for sessions that set none (speed defaults live in the session manager).
  Pacing defaults;
};

struct SendRequest {
  std::string to;
  std::string type = "text";
  std::string text;
  std::string reply_to;  // our message id or a WhatsApp id
  std::vector<std::string> mentions;
  std::optional<std::int64_t> expires_ms;
  std::string idempotency_key;
  std::string request_hash;
  std::int64_t monthly_limit = 0;  // the account's plan (0: none)
};

struct Accepted {
  store::MessageRow message;
  bool replayed = false;
};

struct Health {
  store::SendingStats today;
  std::int64_t daily_limit = 0;  // effective today (warm-up included); 0: none
  std::int64_t first_contact_daily_limit = 0;
  std::string risk;              // low | medium | high
  std::vector<std::string> reasons;
};

// Normalises a recipient: an international phone number (digits, optional +, spaces, dashes,
// dots, parentheses) or a user JID (…@s.whatsapp.net, …@lid). Errors: 422 invalid_recipient, or
// 422 groups_unsupported for a group JID.
base::Result<std::string, ApiError> RecipientJid(const std::string& to);

class Outbox final : public sessions::SessionPlugin {
 public:
  Outbox(boost::asio::io_context& ioc, store::MessageStore& messages, store::SessionStore& sessions,
         events::Bus& bus, Options options);
  ~Outbox() override;

  // The sweeper (logged-out grace, retention). Shutdown stops it; dispatchers end with Detach.
  void Start();
  boost::asio::awaitable<void> Shutdown();

  // SessionPlugin
  void Attach(const store::SessionRow& row, wa::client::Client& client) override;
  void OnEvent(const std::string& session_id, const wa::client::Event& event) override;
  boost::asio::awaitable<void> Detach(std::string session_id) override;

  boost::asio::awaitable<base::Result<Accepted, ApiError>> Send(store::SessionRow session,
                                                                SendRequest request);
  boost::asio::awaitable<base::Result<store::MessageRow, ApiError>> Get(std::string account_id,
                                                                       std::string session_id,
                                                                       std::string id);
  boost::asio::awaitable<base::Result<store::MessageRow, ApiError>> Cancel(std::string account_id,
                                                                          std::string session_id,
                                                                          std::string id);
  boost::asio::awaitable<base::Result<Health, ApiError>> HealthOf(store::SessionRow session);
  // Takes one contact lookup from the session's budget (429 lookup_budget_exhausted).
  base::Result<void, ApiError> TakeLookup(const std::string& session_id);

  // The session's pacing (its speed and pacing settings over the defaults).
  Pacing PacingOf(const store::SessionRow& row) const;

  store::MessageStore& messages() { return messages_; }

  // Since start (metrics).
  struct Counters {
    std::uint64_t sent = 0;
    std::uint64_t failed = 0;
    std::uint64_t received = 0;
    std::uint64_t history = 0;  // messages stored from history syncs
    // Waiting messages of all sessions and the oldest one's created_ms, as of the last sweep.
    std::int64_t queued = 0;
    std::int64_t oldest_queued_ms = 0;
  };
  Counters counters() const;

  class Dispatcher;

 private:
  void Publish(const std::vector<store::EventRow>& events);
  boost::asio::awaitable<base::Result<void>> Receive(store::MessageRow row);
  boost::asio::awaitable<void> Sweep();
  std::shared_ptr<Dispatcher> Find(const std::string& session_id) const;

  boost::asio::io_context& ioc_;
  store::MessageStore& messages_;
  store::SessionStore& sessions_;
  events::Bus& bus_;
  Options options_;
  accounts::KeyedLimiter lookups_;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Dispatcher>> dispatchers_;  // mu_
  Counters counters_;                                               // mu_
  std::map<std::string, std::int64_t> logged_out_;  // session -> since (ms); mu_
  std::shared_ptr<bool> sweeping_;
  friend class Dispatcher;
};

}  // namespace gateway::outbox
