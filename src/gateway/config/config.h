// wagate's configuration: one table of keys, each with a default, a validator, an environment
// variable and a TOML name. Sources layer as flags > environment > file > defaults; an unknown
// key or a bad value is an error naming the key and the expected form (docs/configuration.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/log.h"

namespace gateway::config {

// A plan's limits (issue: plans and quotas). Over `sessions` or `messages_per_month` the API
// answers 402; over `requests_per_minute` (per API key) 429.
struct Plan {
  std::string name;
  int sessions = 0;
  long long messages_per_month = 0;
  int requests_per_minute = 0;
};

struct Config {
  // [server]
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8080;
  int shutdown_timeout_ms = 10000;
  int threads = 0;  // 0: one per core
  std::size_t max_body_bytes = 1 << 20;
  // top level
  std::filesystem::path data_dir = "data";
  // [log]
  std::string log_level = "info";
  base::LogFormat log_format = base::LogFormat::kText;
  // [store]
  std::filesystem::path sqlite_path;  // empty: <data_dir>/wagate.db
  int store_threads = 2;
  // [security]
  std::string master_key_hex;  // empty: read or create <data_dir>/master.key
  std::string operator_token;  // empty: the operator API (/v1/admin) is disabled
  // [whatsapp]: where real sessions connect (empty root key: WhatsApp's production root)
  std::string whatsapp_url = "wss://web.whatsapp.com/ws/chat";
  std::string whatsapp_root_key_hex;
  // [sandbox]: a wasim standing in for WhatsApp (sessions created with "sandbox": true)
  std::string sandbox_chat_url;      // empty: no sandbox
  std::string sandbox_root_key_hex;  // wasim prints it and serves it at /v1/root-key
  std::string sandbox_ca_file;       // wasim's TLS certificate, for wss://
  std::string sandbox_control_url;   // wasim's control API (shown to users, for scanning)
  std::string sandbox_wasim;         // "auto" or a path: wagate starts this wasim when chat_url is empty
  bool sandbox_default = false;      // new sessions are sandbox sessions unless they say not
  // [history]: history sync after linking (docs/configuration.md)
  std::string history_sync = "off";  // off | recent | full: sessions that do not choose
  int history_downloads = 4;         // history chunks downloaded and parsed at once, process-wide
  // [metrics] and live streams
  bool metrics_enabled = true;         // GET /metrics is served
  std::string metrics_token;           // non-empty: /metrics needs Authorization: Bearer <token>
  int stream_heartbeat_ms = 15000;     // SSE comment / WebSocket ping interval of event streams
  // [webhooks] (docs/configuration.md)
  int webhooks_timeout_ms = 10000;
  long long webhooks_retry_first_delay_ms = 5000;
  long long webhooks_retry_max_delay_ms = 8LL * 3600 * 1000;
  long long webhooks_retry_window_ms = 72LL * 3600 * 1000;
  long long webhooks_disable_after_ms = 72LL * 3600 * 1000;
  int webhooks_concurrency = 4;           // in-flight deliveries per endpoint
  int webhooks_poll_interval_ms = 1000;   // how often the log is read without a wake-up
  std::string webhooks_allow_private;     // CIDR blocks and host names the SSRF guard lets through
  std::string webhooks_ca_file;           // extra trusted CA certificates (PEM)
  // [email] alerts over SMTP (docs/configuration.md); empty smtp_url: no email
  std::string email_smtp_url;
  std::string email_username;
  std::string email_password;
  std::string email_from = "whatsappAPI <noreply@localhost>";
  bool email_starttls = true;             // smtp:// must upgrade with STARTTLS
  std::string email_public_url = "http://localhost:8080";  // the dashboard's base URL for links
  std::string email_ca_file;              // extra trusted CA (PEM) for the SMTP server
  int email_disconnected_after_minutes = 10;
  int email_timeout_ms = 30000;
  long long email_retry_first_delay_ms = 30000;
  // [outbox] and [messages]
  long long outbox_logged_out_grace_ms = 600000;  // then a logged-out session's queue fails
  long long outbox_sweep_ms = 10000;
  int lookups_per_hour = 30;       // contact lookups per session
  int messages_retention_days = 30;
  // [plans.<name>] and [accounts]
  std::vector<Plan> plans = {{"starter", 2, 10000, 120},
                             {"pro", 10, 200000, 600},
                             {"enterprise", 1000, 10000000, 6000}};
  std::string default_plan = "starter";

  const Plan* FindPlan(std::string_view name) const {
    for (const auto& p : plans) {
      if (p.name == name) return &p;
    }
    return nullptr;
  }

  std::filesystem::path SqlitePath() const {
    return sqlite_path.empty() ? data_dir / "wagate.db" : sqlite_path;
  }
};

// Where each value may come from. `env` holds the process environment (name -> value); only
// WAGATE_* names are read. `flags` are "key=value" settings from the command line, in order.
struct Sources {
  std::optional<std::filesystem::path> file;
  std::map<std::string, std::string> env;
  std::vector<std::pair<std::string, std::string>> flags;
};

struct Effective {
  Config config;
  // key -> (printable value, origin: "default", "file", "env", "flag"); secrets masked.
  std::vector<std::pair<std::string, std::pair<std::string, std::string>>> values;
};

// The one-line error is ready for stderr ("config: server.listen: expected host:port ...").
struct Error {
  std::string message;
};

std::variant<Effective, Error> Load(const Sources& sources);

// Reads environ into a map (for Sources::env).
std::map<std::string, std::string> ProcessEnvironment();

// The effective configuration as TOML, each line commented with its origin.
std::string Print(const Effective& effective);

// Every key with its environment variable and help, for --help and the docs.
struct KeyInfo {
  std::string name;
  std::string env;
  std::string help;
  std::string default_value;
  bool secret;
};
std::vector<KeyInfo> Keys();

}  // namespace gateway::config
