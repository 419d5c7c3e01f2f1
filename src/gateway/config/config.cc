#include "gateway/config/config.h"

#include <boost/asio/ip/address.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <set>
#include <sstream>

#include "base/bytes.h"

extern char** environ;

namespace gateway::config {
namespace {

// A validator returns an error text (the expected form) or applies the value to the config.
using Apply = std::function<std::optional<std::string>(const std::string& value, Config& c)>;

enum class Kind { kString, kInt };

struct Spec {
  std::string name;  // TOML dotted name; env is WAGATE_ + upper-cased with '.' -> '_'
  Kind kind;
  std::string default_value;
  std::string help;
  bool secret;
  Apply apply;
};

std::string EnvName(const std::string& key) {
  std::string env = "WAGATE_";
  for (char c : key) env += (c == '.') ? '_' : static_cast<char>(std::toupper(c));
  return env;
}

std::optional<long long> ParseInt(const std::string& s) {
  long long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

Apply IntIn(long long lo, long long hi, std::function<void(Config&, long long)> set) {
  return [=](const std::string& v, Config& c) -> std::optional<std::string> {
    auto n = ParseInt(v);
    if (!n || *n < lo || *n > hi) {
      return "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
    }
    set(c, *n);
    return std::nullopt;
  };
}

// webhooks.allow_private: entries separated by commas or spaces, each an IP address with an
// optional /prefix, or a host name (gateway/webhooks/url_guard.h parses it for use).
bool ValidAllowlist(const std::string& v, std::string* err) {
  std::size_t i = 0;
  while (i < v.size()) {
    while (i < v.size() && (v[i] == ',' || v[i] == ' ')) ++i;
    std::size_t j = i;
    while (j < v.size() && v[j] != ',' && v[j] != ' ') ++j;
    if (j == i) break;
    std::string entry = v.substr(i, j - i);
    i = j;
    auto slash = entry.find('/');
    boost::system::error_code ec;
    auto addr = boost::asio::ip::make_address(entry.substr(0, slash), ec);
    if (!ec) {
      if (slash == std::string::npos) continue;
      auto bits = ParseInt(entry.substr(slash + 1));
      if (bits && *bits >= 0 && *bits <= (addr.is_v4() ? 32 : 128)) continue;
    } else if (slash == std::string::npos &&
               std::all_of(entry.begin(), entry.end(), [](char c) {
                 return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
               })) {
      continue;
    }
    *err = "'" + entry + "'";
    return false;
  }
  return true;
}

std::optional<std::string> ApplyListen(const std::string& v, Config& c) {
  const std::string form = "expected host:port with an IP address, e.g. 127.0.0.1:8080 or [::1]:8080";
  std::string host, port;
  if (!v.empty() && v.front() == '[') {
    auto close = v.find(']');
    if (close == std::string::npos || close + 1 >= v.size() || v[close + 1] != ':') return form;
    host = v.substr(1, close - 1);
    port = v.substr(close + 2);
  } else {
    auto colon = v.rfind(':');
    if (colon == std::string::npos) return form;
    host = v.substr(0, colon);
    port = v.substr(colon + 1);
    if (host.find(':') != std::string::npos) return form;  // bare IPv6 needs brackets
  }
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  auto p = ParseInt(port);
  if (ec || !p || *p < 0 || *p > 65535) return form;
  c.listen_host = host;
  c.listen_port = static_cast<std::uint16_t>(*p);
  return std::nullopt;
}

const std::vector<Spec>& Specs() {
  static const std::vector<Spec> specs = {
      {"server.listen", Kind::kString, "127.0.0.1:8080",
       "address and port of the HTTP API (port 0 picks a free one)", false, ApplyListen},
      {"server.shutdown_timeout_ms", Kind::kInt, "10000",
       "how long a graceful shutdown waits for in-flight requests", false,
       IntIn(0, 600000, [](Config& c, long long v) { c.shutdown_timeout_ms = int(v); })},
      {"server.threads", Kind::kInt, "0", "network threads (0: one per core)", false,
       IntIn(0, 256, [](Config& c, long long v) { c.threads = int(v); })},
      {"server.max_body_bytes", Kind::kInt, "1048576", "largest accepted request body", false,
       IntIn(1024, 1LL << 30, [](Config& c, long long v) { c.max_body_bytes = std::size_t(v); })},
      {"data_dir", Kind::kString, "data", "folder for the database and keys", false,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         if (v.empty()) return "expected a non-empty path";
         c.data_dir = v;
         return std::nullopt;
       }},
      {"log.level", Kind::kString, "info", "trace, debug, info, warn, error or off", false,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         static const std::set<std::string> ok = {"trace", "debug", "info", "warn", "error", "off"};
         if (!ok.count(v)) return "expected one of trace, debug, info, warn, error, off";
         c.log_level = v;
         return std::nullopt;
       }},
      {"log.format", Kind::kString, "text", "text or json (one JSON object per line)", false,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         if (v == "text") c.log_format = base::LogFormat::kText;
         else if (v == "json") c.log_format = base::LogFormat::kJson;
         else return "expected text or json";
         return std::nullopt;
       }},
      {"store.sqlite_path", Kind::kString, "", "SQLite database file (default: <data_dir>/wagate.db)",
       false,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         c.sqlite_path = v;
         return std::nullopt;
       }},
      {"store.threads", Kind::kInt, "2", "threads for blocking database work", false,
       IntIn(1, 64, [](Config& c, long long v) { c.store_threads = int(v); })},
      {"security.master_key", Kind::kString, "",
       "64 hex digits; encrypts secrets at rest (default: <data_dir>/master.key, created once)",
       true,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         if (!v.empty() && (v.size() != 64 || !base::FromHex(v))) return "expected 64 hex digits";
         c.master_key_hex = v;
         return std::nullopt;
       }},
      {"plans.starter.sessions", Kind::kInt, "2", "sessions (linked numbers) per account on starter", false,
       IntIn(0, 1000000, [](Config& c, long long v) { c.plans[0].sessions = int(v); })},
      {"plans.starter.messages_per_month", Kind::kInt, "10000", "messages sent per calendar month on starter", false,
       IntIn(0, 1LL << 40, [](Config& c, long long v) { c.plans[0].messages_per_month = v; })},
      {"plans.starter.requests_per_minute", Kind::kInt, "120", "API requests per minute per key on starter", false,
       IntIn(1, 1000000, [](Config& c, long long v) { c.plans[0].requests_per_minute = int(v); })},
      {"plans.pro.sessions", Kind::kInt, "10", "sessions (linked numbers) per account on pro", false,
       IntIn(0, 1000000, [](Config& c, long long v) { c.plans[1].sessions = int(v); })},
      {"plans.pro.messages_per_month", Kind::kInt, "200000", "messages sent per calendar month on pro", false,
       IntIn(0, 1LL << 40, [](Config& c, long long v) { c.plans[1].messages_per_month = v; })},
      {"plans.pro.requests_per_minute", Kind::kInt, "600", "API requests per minute per key on pro", false,
       IntIn(1, 1000000, [](Config& c, long long v) { c.plans[1].requests_per_minute = int(v); })},
      {"plans.enterprise.sessions", Kind::kInt, "1000", "sessions (linked numbers) per account on enterprise", false,
       IntIn(0, 1000000, [](Config& c, long long v) { c.plans[2].sessions = int(v); })},
      {"plans.enterprise.messages_per_month", Kind::kInt, "10000000", "messages sent per calendar month on enterprise", false,
       IntIn(0, 1LL << 40, [](Config& c, long long v) { c.plans[2].messages_per_month = v; })},
      {"plans.enterprise.requests_per_minute", Kind::kInt, "6000", "API requests per minute per key on enterprise", false,
       IntIn(1, 1000000, [](Config& c, long long v) { c.plans[2].requests_per_minute = int(v); })},
      {"whatsapp.url", Kind::kString, "wss://web.whatsapp.com/ws/chat", "WebSocket URL real sessions connect to", false,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         if (!v.empty() && v.rfind("ws://", 0) != 0 && v.rfind("wss://", 0) != 0) {
           return "expected a ws:// or wss:// URL";
         }
         c.whatsapp_url = v;
         return std::nullopt;
       }},
      {"whatsapp.root_key", Kind::kString, "", "Noise root public key, 64 hex digits (default: WhatsApp's)", false,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         if (!v.empty() && (v.size() != 64 || !base::FromHex(v))) return "expected 64 hex digits";
         c.whatsapp_root_key_hex = v;
         return std::nullopt;
       }},
      {"sandbox.chat_url", Kind::kString, "", "wasim's chat endpoint (ws:// or wss://); empty: no sandbox", false,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         if (!v.empty() && v.rfind("ws://", 0) != 0 && v.rfind("wss://", 0) != 0) {
           return "expected a ws:// or wss:// URL";
         }
         c.sandbox_chat_url = v;
         return std::nullopt;
       }},
      {"sandbox.root_key", Kind::kString, "", "wasim's Noise root public key (64 hex digits)", false,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         if (!v.empty() && (v.size() != 64 || !base::FromHex(v))) return "expected 64 hex digits";
         c.sandbox_root_key_hex = v;
         return std::nullopt;
       }},
      {"sandbox.ca_file", Kind::kString, "", "wasim's TLS certificate (PEM) for wss://", false,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         c.sandbox_ca_file = v;
         return std::nullopt;
       }},
      {"sandbox.control_url", Kind::kString, "", "wasim's control API URL (where a simulated phone scans)", false,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         c.sandbox_control_url = v;
         return std::nullopt;
       }},
      {"sandbox.wasim", Kind::kString, "",
       "when sandbox.chat_url is empty: start this wasim binary as the sandbox (\"auto\": the one beside wagate)",
       false,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         c.sandbox_wasim = v;
         return std::nullopt;
       }},
      {"sandbox.default", Kind::kInt, "0", "1: new sessions are sandbox sessions unless they say otherwise",
       false, IntIn(0, 1, [](Config& c, long long v) { c.sandbox_default = v != 0; })},
      {"history.sync", Kind::kString, "off",
       "history sync after linking for sessions that do not choose: off | recent | full", false,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         if (v != "off" && v != "recent" && v != "full") return "must be off, recent or full";
         c.history_sync = v;
         return std::nullopt;
       }},
      {"history.downloads", Kind::kInt, "4",
       "history chunks downloaded and parsed at once in the whole process (bounds memory when many "
       "numbers link together)",
       false, IntIn(1, 1000, [](Config& c, long long v) { c.history_downloads = static_cast<int>(v); })},
      {"outbox.logged_out_grace_ms", Kind::kInt, "600000",
       "how long a logged-out session's waiting messages wait for a re-link before they fail", false,
       IntIn(0, 30LL * 24 * 3600 * 1000, [](Config& c, long long v) { c.outbox_logged_out_grace_ms = v; })},
      {"outbox.sweep_ms", Kind::kInt, "10000", "how often the outbox checks grace periods and retention",
       false, IntIn(50, 3600000, [](Config& c, long long v) { c.outbox_sweep_ms = v; })},
      {"outbox.lookups_per_hour", Kind::kInt, "30",
       "number lookups (GET .../contacts/{phone}) per session per hour: bulk lookups get numbers banned",
       false, IntIn(1, 100000, [](Config& c, long long v) { c.lookups_per_hour = static_cast<int>(v); })},
      {"messages.retention_days", Kind::kInt, "30", "days messages stay listed (waiting ones stay until sent)",
       false, IntIn(1, 3650, [](Config& c, long long v) { c.messages_retention_days = static_cast<int>(v); })},
      {"security.operator_token", Kind::kString, "",
       "bearer token of the operator API (/v1/admin); empty disables it (at least 32 characters)",
       true,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         if (!v.empty() && v.size() < 32) return "expected at least 32 characters";
         c.operator_token = v;
         return std::nullopt;
       }},
      {"metrics.enabled", Kind::kInt, "1", "1: serve GET /metrics (Prometheus text); 0: answer 404", false,
       IntIn(0, 1, [](Config& c, long long v) { c.metrics_enabled = v != 0; })},
      {"metrics.token", Kind::kString, "", "bearer token /metrics requires (empty: none)", true,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         c.metrics_token = v;
         return std::nullopt;
       }},
      {"server.stream_heartbeat_ms", Kind::kInt, "15000",
       "heartbeat of event streams (SSE comment, WebSocket ping)", false,
       IntIn(100, 600000, [](Config& c, long long v) { c.stream_heartbeat_ms = int(v); })},
      {"webhooks.timeout_ms", Kind::kInt, "10000", "time limit of one webhook POST (resolve to response)", false,
       IntIn(100, 120000, [](Config& c, long long v) { c.webhooks_timeout_ms = static_cast<int>(v); })},
      {"webhooks.retry_first_delay_ms", Kind::kInt, "5000", "delay before the first retry (then x4 each time)", false,
       IntIn(1, 86400000, [](Config& c, long long v) { c.webhooks_retry_first_delay_ms = v; })},
      {"webhooks.retry_max_delay_ms", Kind::kInt, "28800000", "longest delay between two attempts", false,
       IntIn(1, 86400000, [](Config& c, long long v) { c.webhooks_retry_max_delay_ms = v; })},
      {"webhooks.retry_window_ms", Kind::kInt, "259200000",
       "how long a delivery is retried before it becomes a dead letter (default 72 h)", false,
       IntIn(0, 30LL * 86400000, [](Config& c, long long v) { c.webhooks_retry_window_ms = v; })},
      {"webhooks.disable_after_ms", Kind::kInt, "259200000",
       "an endpoint failing continuously this long is disabled (default 3 days)", false,
       IntIn(1, 365LL * 86400000, [](Config& c, long long v) { c.webhooks_disable_after_ms = v; })},
      {"webhooks.concurrency", Kind::kInt, "4", "deliveries in flight per endpoint (across sessions)", false,
       IntIn(1, 256, [](Config& c, long long v) { c.webhooks_concurrency = static_cast<int>(v); })},
      {"webhooks.poll_interval_ms", Kind::kInt, "1000", "how often the event log is read without a wake-up", false,
       IntIn(10, 60000, [](Config& c, long long v) { c.webhooks_poll_interval_ms = static_cast<int>(v); })},
      {"webhooks.allow_private", Kind::kString, "",
       "CIDR blocks and host names webhooks may reach although private or loopback (comma-separated)", false,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         std::string err;
         if (!ValidAllowlist(v, &err)) return "expected CIDR blocks or host names: " + err;
         c.webhooks_allow_private = v;
         return std::nullopt;
       }},
      {"webhooks.ca_file", Kind::kString, "", "extra CA certificates (PEM) trusted for https:// webhooks", false,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         c.webhooks_ca_file = v;
         return std::nullopt;
       }},
      {"email.smtp_url", Kind::kString, "",
       "SMTP server for alert emails: smtp://host:587 or smtps://host:465; empty: no email", false,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         if (!v.empty() && v.rfind("smtp://", 0) != 0 && v.rfind("smtps://", 0) != 0) {
           return "expected an smtp:// or smtps:// URL";
         }
         if (v == "smtp://" || v == "smtps://") return "expected a host after the scheme";
         c.email_smtp_url = v;
         return std::nullopt;
       }},
      {"email.username", Kind::kString, "", "SMTP AUTH user name (empty: no AUTH)", false,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         c.email_username = v;
         return std::nullopt;
       }},
      {"email.password", Kind::kString, "", "SMTP AUTH password", true,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         c.email_password = v;
         return std::nullopt;
       }},
      {"email.from", Kind::kString, "whatsappAPI <noreply@localhost>",
       "sender of alert emails: address or Name <address>", false,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         auto lt = v.rfind('<');
         std::string addr = lt == std::string::npos ? v : v.substr(lt + 1);
         if (!addr.empty() && addr.back() == '>') addr.pop_back();
         auto at = addr.find('@');
         if (at == std::string::npos || at == 0 || at + 1 >= addr.size() ||
             addr.find_first_of(" \r\n<>,\"") != std::string::npos ||
             v.find_first_of("\r\n") != std::string::npos) {
           return "expected an email address, optionally as Name <address>";
         }
         c.email_from = v;
         return std::nullopt;
       }},
      {"email.starttls", Kind::kInt, "1",
       "1: an smtp:// server must offer STARTTLS (refused otherwise); 0: plain SMTP (local relays, tests)",
       false, IntIn(0, 1, [](Config& c, long long v) { c.email_starttls = v != 0; })},
      {"email.public_url", Kind::kString, "http://localhost:8080",
       "the dashboard's public base URL, for links in emails", false,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) return "expected an http:// or https:// URL";
         c.email_public_url = v;
         return std::nullopt;
       }},
      {"email.ca_file", Kind::kString, "", "CA certificates (PEM) trusted for the SMTP server instead of the system's", false,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         c.email_ca_file = v;
         return std::nullopt;
       }},
      {"email.disconnected_after_minutes", Kind::kInt, "10",
       "a session unable to reconnect this long gets one email per outage", false,
       IntIn(1, 7 * 24 * 60, [](Config& c, long long v) { c.email_disconnected_after_minutes = static_cast<int>(v); })},
      {"email.timeout_ms", Kind::kInt, "30000", "time limit of one SMTP delivery (connect to the final reply)", false,
       IntIn(100, 600000, [](Config& c, long long v) { c.email_timeout_ms = static_cast<int>(v); })},
      {"email.retry_first_delay_ms", Kind::kInt, "30000",
       "delay before retrying a failed send (doubling up to 1 h; given up after 48 attempts)", false,
       IntIn(10, 3600000, [](Config& c, long long v) { c.email_retry_first_delay_ms = v; })},
      {"accounts.default_plan", Kind::kString, "starter", "plan of new accounts: starter, pro or enterprise",
       false,
       [](const std::string& v, Config& c) -> std::optional<std::string> {
         if (!c.FindPlan(v)) return "expected starter, pro or enterprise";
         c.default_plan = v;
         return std::nullopt;
       }},
  };
  return specs;
}

const Spec* FindSpec(const std::string& name) {
  for (const auto& s : Specs()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string KnownKeys() {
  std::string out;
  for (const auto& s : Specs()) {
    if (!out.empty()) out += ", ";
    out += s.name;
  }
  return out;
}

// Flattens a TOML table into dotted keys with their values as strings.
std::optional<Error> Flatten(const toml::table& table, const std::string& prefix,
                             const std::string& file,
                             std::vector<std::pair<std::string, std::string>>& out) {
  for (const auto& [k, node] : table) {
    std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const auto* sub = node.as_table()) {
      if (auto err = Flatten(*sub, key, file, out)) return err;
      continue;
    }
    const Spec* spec = FindSpec(key);
    if (!spec) {
      return Error{"config: " + file + ": unknown key '" + key + "' (known keys: " + KnownKeys() + ")"};
    }
    if (const auto* s = node.as_string()) {
      out.emplace_back(key, s->get());
    } else if (const auto* i = node.as_integer()) {
      out.emplace_back(key, std::to_string(i->get()));
    } else {
      std::string want = spec->kind == Kind::kInt ? "an integer" : "a string";
      return Error{"config: " + file + ": " + key + ": expected " + want};
    }
  }
  return std::nullopt;
}

std::string Mask(const Spec& spec, const std::string& v) {
  if (spec.secret && !v.empty()) return "********";
  return v;
}

}  // namespace

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

std::variant<Effective, Error> Load(const Sources& sources) {
  // Collect (key, value, origin) in precedence order: later entries win.
  struct Setting {
    std::string key, value, origin;
  };
  std::vector<Setting> settings;
  for (const auto& s : Specs()) settings.push_back({s.name, s.default_value, "default"});

  std::optional<std::filesystem::path> file = sources.file;
  if (!file) {
    if (auto it = sources.env.find("WAGATE_CONFIG"); it != sources.env.end() && !it->second.empty()) {
      file = it->second;
    }
  }
  if (file) {
    std::vector<std::pair<std::string, std::string>> values;
    try {
      toml::table table = toml::parse_file(file->string());
      if (auto err = Flatten(table, "", file->string(), values)) return *err;
    } catch (const toml::parse_error& e) {
      std::ostringstream msg;
      msg << "config: " << file->string() << ":" << e.source().begin.line << ":"
          << e.source().begin.column << ": " << e.description();
      return Error{msg.str()};
    }
    for (auto& [k, v] : values) settings.push_back({k, v, "file"});
  }

  for (const auto& [name, value] : sources.env) {
    if (name.rfind("WAGATE_", 0) != 0 || name == "WAGATE_CONFIG") continue;
    const Spec* match = nullptr;
    for (const auto& s : Specs()) {
      if (EnvName(s.name) == name) match = &s;
    }
    if (!match) {
      std::string known;
      for (const auto& s : Specs()) known += (known.empty() ? "" : ", ") + EnvName(s.name);
      return Error{"config: unknown environment variable " + name + " (known: WAGATE_CONFIG, " +
                   known + ")"};
    }
    settings.push_back({match->name, value, "env"});
  }

  for (const auto& [key, value] : sources.flags) {
    if (!FindSpec(key)) {
      return Error{"config: unknown key '" + key + "' (known keys: " + KnownKeys() + ")"};
    }
    settings.push_back({key, value, "flag"});
  }

  Effective eff;
  std::map<std::string, std::pair<std::string, std::string>> final_values;
  for (const auto& s : settings) {
    const Spec* spec = FindSpec(s.key);
    if (auto err = spec->apply(s.value, eff.config)) {
      std::string where = s.origin == "env"    ? " (from " + EnvName(s.key) + ")"
                          : s.origin == "file" ? " (from " + file->string() + ")"
                          : s.origin == "flag" ? " (from the command line)"
                                               : "";
      return Error{"config: " + s.key + "=\"" + Mask(*spec, s.value) + "\"" + where + ": " + *err};
    }
    final_values[s.key] = {Mask(*spec, s.value), s.origin};
  }
  for (const auto& spec : Specs()) eff.values.emplace_back(spec.name, final_values[spec.name]);
  return eff;
}

std::string Print(const Effective& effective) {
  // Group keys by their TOML table; top-level keys come first, as TOML requires.
  std::map<std::string, std::vector<std::string>> tables;
  std::map<std::string, std::pair<std::string, std::string>> values(effective.values.begin(),
                                                                    effective.values.end());
  for (const auto& [key, vo] : effective.values) {
    auto dot = key.rfind('.');
    tables[dot == std::string::npos ? "" : key.substr(0, dot)].push_back(key);
  }
  std::ostringstream out;
  for (const auto& [table, keys] : tables) {
    if (!table.empty()) out << "\n[" << table << "]\n";
    for (const auto& key : keys) {
      const auto& [value, origin] = values[key];
      std::string leaf = table.empty() ? key : key.substr(table.size() + 1);
      bool is_int = FindSpec(key)->kind == Kind::kInt;
      out << leaf << " = " << (is_int ? value : "\"" + value + "\"") << "  # " << origin << "\n";
    }
  }
  return out.str();
}

std::vector<KeyInfo> Keys() {
  std::vector<KeyInfo> keys;
  for (const auto& s : Specs()) {
    keys.push_back({s.name, EnvName(s.name), s.help, s.default_value, s.secret});
  }
  return keys;
}

}  // namespace gateway::config
