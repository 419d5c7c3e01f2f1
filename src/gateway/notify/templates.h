// The alert emails' words: one template per alert kind, each with a plain-text and an HTML
// body. Everything that comes from users (session names, URLs, reasons) is HTML-escaped in the
// HTML part; the plain-text part carries it verbatim.
#pragma once

#include <cstdint>
#include <string>

namespace gateway::notify {

enum class AlertKind { kLoggedOut, kDisconnected, kEndpointDisabled, kQuota80, kQuota100 };

// "logged_out", "disconnected", "endpoint_disabled", "quota_80", "quota_100".
const char* KindName(AlertKind kind);

// What a template may mention; each kind uses some of these.
struct AlertFacts {
  AlertKind kind = AlertKind::kLoggedOut;
  std::string account_email;
  std::string session_id;
  std::string session_name;   // may be empty: the id is used
  std::string session_phone;
  std::string reason;         // why the session went (wa::client reason), or why an endpoint was disabled
  std::int64_t since_ms = 0;  // when the outage began (disconnected)
  int minutes = 0;            // how long it has lasted (disconnected)
  std::string endpoint_id;
  std::string endpoint_url;
  std::int64_t used = 0;      // quota
  std::int64_t limit = 0;
  std::string plan;
  std::string public_url;     // the dashboard's base URL, without a trailing '/'
};

struct Content {
  std::string subject;
  std::string text;
  std::string html;
};

Content RenderAlert(const AlertFacts& facts);

// `{public_url}/sessions/{id}`: where the owner re-links a session.
std::string RelinkUrl(const std::string& public_url, const std::string& session_id);

}  // namespace gateway::notify
