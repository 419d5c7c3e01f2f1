// When an alert is due, as pure bookkeeping over the events it is shown and the time it is
// given (no clock, no I/O), so every rule is tested with a manual clock. Each alert carries a
// dedupe key; the email outbox stores at most one email per key, which makes "once per outage",
// "once per month" and "once per disabling" hold across restarts too.
//
// Not thread-safe: the notifier calls it from its strand.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gateway/notify/templates.h"

namespace gateway::notify {

struct Alert {
  AlertKind kind;
  std::string account_id;
  std::string session_id;    // session alerts
  std::string dedupe_key;
  std::string reason;
  std::int64_t since_ms = 0;  // disconnected: when the outage began
  std::int64_t used = 0;      // quota
  std::int64_t limit = 0;
};

class AlertRules {
 public:
  explicit AlertRules(std::chrono::milliseconds disconnected_after)
      : disconnected_after_ms_(disconnected_after.count()) {}

  // A session.status event. A logged-out status is an alert at once (keyed by the event, so the
  // same event read twice is one email), unless its reason is "logout_requested" (the owner
  // logged it out through the API). "disconnected" starts an outage clock unless one runs;
  // any other status ends it.
  std::optional<Alert> OnSessionStatus(const std::string& account_id, const std::string& session_id,
                                       const std::string& status, const std::string& reason,
                                       const std::string& event_id, std::int64_t at_ms);
  // Outages that have lasted `disconnected_after` at `now_ms`; each outage is returned once.
  std::vector<Alert> Due(std::int64_t now_ms);
  // When the next outage becomes due (for the notifier's timer).
  std::optional<std::int64_t> NextDue() const;
  // The session is gone (deleted): forget its outage.
  void Forget(const std::string& session_id) { outages_.erase(session_id); }

  // The account's sent messages this month against its plan's limit (0: none). Returns the
  // highest threshold reached — 100 % when full, else 80 % — keyed by account and month. A jump
  // straight past both thresholds is one email (100 %), not two.
  std::optional<Alert> OnUsage(const std::string& account_id, std::int64_t used, std::int64_t limit,
                               std::int64_t month_start_ms) const;

  std::size_t outages() const { return outages_.size(); }

 private:
  struct Outage {
    std::string account_id;
    std::string reason;
    std::int64_t since_ms = 0;
    bool alerted = false;
  };
  std::int64_t disconnected_after_ms_;
  std::map<std::string, Outage> outages_;  // by session id
};

// Unix ms of the first instant of the UTC month containing `now_ms`.
std::int64_t MonthStartMs(std::int64_t now_ms);

}  // namespace gateway::notify
