#include "gateway/notify/rules.h"

#include <ctime>

namespace gateway::notify {

std::int64_t MonthStartMs(std::int64_t now_ms) {
  std::time_t secs = static_cast<std::time_t>(now_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  tm.tm_mday = 1;
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

std::optional<Alert> AlertRules::OnSessionStatus(const std::string& account_id,
                                                 const std::string& session_id,
                                                 const std::string& status, const std::string& reason,
                                                 const std::string& event_id, std::int64_t at_ms) {
  if (status == "disconnected") {
    auto [it, fresh] = outages_.try_emplace(session_id);
    if (fresh) {
      it->second = Outage{account_id, reason, at_ms, false};
    } else if (!reason.empty()) {
      it->second.reason = reason;  // keep the outage's start, report the latest cause
    }
    return std::nullopt;
  }
  outages_.erase(session_id);
  // Logged out through the API (POST .../logout, DELETE): the owner did it, nothing to re-link.
  if (status != "logged_out" || reason == "logout_requested") return std::nullopt;
  return Alert{.kind = AlertKind::kLoggedOut, .account_id = account_id, .session_id = session_id,
               .dedupe_key = "logged_out:" + session_id + ":" + event_id, .reason = reason,
               .since_ms = at_ms};
}

std::vector<Alert> AlertRules::Due(std::int64_t now_ms) {
  std::vector<Alert> due;
  for (auto& [session_id, o] : outages_) {
    if (o.alerted || now_ms - o.since_ms < disconnected_after_ms_) continue;
    o.alerted = true;
    due.push_back(Alert{.kind = AlertKind::kDisconnected, .account_id = o.account_id,
                        .session_id = session_id,
                        .dedupe_key = "disconnected:" + session_id + ":" + std::to_string(o.since_ms),
                        .reason = o.reason, .since_ms = o.since_ms});
  }
  return due;
}

std::optional<std::int64_t> AlertRules::NextDue() const {
  std::optional<std::int64_t> next;
  for (const auto& [id, o] : outages_) {
    if (o.alerted) continue;
    std::int64_t at = o.since_ms + disconnected_after_ms_;
    if (!next || at < *next) next = at;
  }
  return next;
}

std::optional<Alert> AlertRules::OnUsage(const std::string& account_id, std::int64_t used,
                                         std::int64_t limit, std::int64_t month_start_ms) const {
  if (limit <= 0) return std::nullopt;
  AlertKind kind;
  const char* tag;
  if (used >= limit) {
    kind = AlertKind::kQuota100;
    tag = "quota_100:";
  } else if (used * 5 >= limit * 4) {  // 80 %, in integers
    kind = AlertKind::kQuota80;
    tag = "quota_80:";
  } else {
    return std::nullopt;
  }
  return Alert{.kind = kind, .account_id = account_id,
               .dedupe_key = tag + account_id + ":" + std::to_string(month_start_ms), .used = used,
               .limit = limit};
}

}  // namespace gateway::notify
