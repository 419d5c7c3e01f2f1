#include "gateway/store/webhooks.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace gateway::store {

std::vector<const WebhookEndpointRow*> WebhookRecipients(
    const std::vector<WebhookEndpointRow>& all, const EventRow& event) {
  bool session_has_own = false;
  if (!event.session_id.empty()) {
    for (const auto& e : all) {
      if (e.account_id == event.account_id && e.session_id == event.session_id) {
        session_has_own = true;
        break;
      }
    }
  }
  std::vector<const WebhookEndpointRow*> out;
  for (const auto& e : all) {
    if (e.account_id != event.account_id) continue;
    if (session_has_own ? e.session_id != event.session_id : !e.session_id.empty()) continue;
    if (std::find(e.events.begin(), e.events.end(), event.type) == e.events.end()) continue;
    out.push_back(&e);
  }
  return out;
}

std::string WebhookBody(const EventRow& event) {
  std::time_t secs = static_cast<std::time_t>(event.created_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(event.created_ms % 1000));
  // The type is a fixed name ([a-z._]) and data is the stored JSON object: no escaping needed.
  std::string body = "{\"type\":\"";
  body += event.type;
  body += "\",\"timestamp\":\"";
  body += stamp;
  body += "\",\"data\":";
  body += event.data.empty() ? "{}" : event.data;
  body += "}";
  return body;
}

}  // namespace gateway::store
