// Per-client configuration of the connection layer: where to connect (URL, Origin, proxy, TLS
// trust), whom to trust (the Noise root), how to present ourselves (version, browser, push name)
// and how patient to be (timeouts, keepalive, reconnect backoff). Nothing here is global: every
// wa::Client gets its own copy, so one process can talk to WhatsApp and to wasim at once.
//
// Defaults follow the references (01-connection.md §1.1, §3.2, §7.4): Baileys 7.0.0-rc14's URL,
// Origin, version 2.3000.1043857760 and browser ["Mac OS", "Chrome", "14.4.1"].
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "wa/client/history.h"
#include "wa/crypto/crypto.h"
#include "wa/media/transport.h"
#include "wa/noise/cert_chain.h"

namespace boost::asio::ssl {
class context;
}

namespace wa::client {

inline constexpr std::string_view kDefaultUrl = "wss://web.whatsapp.com/ws/chat";
inline constexpr std::string_view kDefaultOrigin = "https://web.whatsapp.com";

// An HTTP CONNECT or SOCKS5 (RFC 1928, username/password RFC 1929) proxy.
struct ProxyConfig {
  enum class Kind { kHttp, kSocks5 };
  Kind kind = Kind::kHttp;
  std::string host;
  std::uint16_t port = 0;
  std::string username;  // empty: no authentication
  std::string password;

  friend bool operator==(const ProxyConfig&, const ProxyConfig&) = default;
};

// "http://[user:pass@]host:port" or "socks5://[user:pass@]host:port" ("socks5h" is accepted as a
// synonym: the proxy always resolves the target name). User and password are percent-decoded; a
// port is required for socks5 (1080 is not assumed) and defaults to 80 for http.
base::Result<ProxyConfig> ParseProxyUrl(std::string_view url);

// The WebSocket endpoint, parsed.
struct Endpoint {
  bool tls = true;
  std::string host;     // without brackets for IPv6 literals
  std::uint16_t port = 443;
  std::string target;   // path and query, at least "/"

  // "host" or "host:port" as the Host header wants it (brackets around IPv6 literals).
  std::string HostHeader() const;
};
base::Result<Endpoint> ParseWebSocketUrl(std::string_view url);

// WhatsApp Web version sent in the ClientPayload; its MD5 is the registration's build hash.
struct AppVersion {
  std::uint32_t primary = 2;
  std::uint32_t secondary = 3000;
  std::uint32_t tertiary = 1043857760;
  std::string ToString() const;  // "2.3000.1043857760"
};

// Baileys' browser triple [os, browser, version]; the browser name selects DeviceProps'
// platform type and the QR/pairing-code platform id.
struct Browser {
  std::string os = "Mac OS";
  std::string name = "Chrome";
  std::string version = "14.4.1";
};

struct Timeouts {
  // WebSocket open, proxy, TLS and Noise handshake together (Baileys connectTimeoutMs).
  std::chrono::milliseconds connect{20'000};
  // Default wait for an iq answer (Baileys defaultQueryTimeoutMs).
  std::chrono::milliseconds iq{60'000};
  // A write that has not completed after this much time means a dead peer (Baileys' 20 s
  // per-send timeout).
  std::chrono::milliseconds send{20'000};
  // Keepalive pings go out every keepalive_min..keepalive_max, drawn at random each time
  // (whatsmeow's 20-30 s) rather than at Baileys' fixed 30 s: thousands of clients that
  // reconnected together would otherwise ping in lockstep forever. Set both equal for a fixed
  // interval.
  std::chrono::milliseconds keepalive_min{20'000};
  std::chrono::milliseconds keepalive_max{30'000};
  // No frame of any kind for keepalive_max + keepalive_grace ends the connection as lost
  // (Baileys: interval + 5 s, status 408).
  std::chrono::milliseconds keepalive_grace{5'000};
  // A ping unanswered this long is reported (KeepAliveTimeout event, whatsmeow's 10 s).
  std::chrono::milliseconds ping{10'000};
  // A graceful close (WebSocket close handshake) gets this long before the socket is dropped.
  std::chrono::milliseconds close{3'000};
  // After <success>: how long to wait for <ib><offline/> before reporting Connected anyway.
  std::chrono::milliseconds offline_backlog{30'000};
};

// Delay before reconnect attempt n (1-based): min(max, initial * multiplier^(n-1)), of which the
// last `jitter` fraction is random (equal jitter), so that clients dropped together do not
// return together. The attempt count resets once a connection logs in.
struct Backoff {
  std::chrono::milliseconds initial{1'000};
  std::chrono::milliseconds max{60'000};
  double multiplier = 2.0;
  double jitter = 0.5;  // 0..1
};
// `random01` in [0, 1).
std::chrono::milliseconds BackoffDelay(const Backoff& backoff, int attempt, double random01);

struct PreKeyPolicy {
  std::uint32_t initial_upload = 812;  // first upload (server count 0), both references
  std::uint32_t min_on_server = 5;     // upload when the server holds fewer (whatsmeow)
  std::uint32_t top_up = 50;           // later uploads (whatsmeow WantedPreKeyCount)
  // After login, ask the server for its key-bundle digest and re-upload when it has none
  // (Baileys digestKeyBundle; whatsmeow does not). One extra round trip per login.
  bool check_digest = true;
};

struct Config {
  std::string url{kDefaultUrl};
  std::string origin{kDefaultOrigin};
  // Root of the Noise certificate chain: production WhatsApp, or a simulator's.
  crypto::Key32 trust_root = noise::kWhatsAppRootPublicKey;
  // TLS trust for wss://: the system CAs plus, if set, the PEM certificates in ca_file (e.g.
  // wasim's self-signed certificate). Clients with the same trust should share one context:
  // pass it in tls_context (made with MakeTlsContext) and ca_file is not read.
  std::string ca_file;
  std::shared_ptr<boost::asio::ssl::context> tls_context;
  std::optional<ProxyConfig> proxy;

  AppVersion version;
  Browser browser;
  std::string country_code = "US";
  std::string push_name;         // sent in the ClientPayload when not empty
  bool sync_full_history = true;  // DeviceProps.requireFullSync (Baileys' default)

  Timeouts timeouts;
  Backoff backoff;
  PreKeyPolicy prekeys;
  // QR rotation: the first code lives 60 s, each later one 20 s (both references).
  std::chrono::milliseconds first_qr_ttl{60'000};
  std::chrono::milliseconds next_qr_ttl{20'000};
  // History sync after linking (history.h): off by default — the notifications are acknowledged
  // (hist_sync receipt) and nothing is downloaded. recent/full download, verify and parse the
  // chunks as a stream and emit HistoryChunk/HistoryMessages/HistoryPushNames events.
  HistorySyncMode history_sync = HistorySyncMode::kOff;
  HistoryLimits history_limits;
  // A notification whose blob is larger than this is not downloaded (HistoryChunk kFailed).
  std::uint64_t history_max_blob_bytes = std::uint64_t{128} << 20;
  // Messages per HistoryMessages event (a long conversation is split).
  std::size_t history_batch = 200;
  // Shared by every client of a process: how many download and parse a chunk at once (null: no
  // bound). A client waiting for a slot polls every history_slot_poll.
  std::shared_ptr<HistorySlots> history_slots;
  std::chrono::milliseconds history_slot_poll{100};
  // Media downloads (history blobs); null: HTTPS with this config's TLS trust
  // (media_http.h), at most media_timeout per request.
  std::shared_ptr<media::Transport> media_transport;
  std::chrono::milliseconds media_timeout{120'000};
  // Log lines carry this (e.g. the gateway's session id).
  std::string log_name;
};

// A TLS client context trusting the system CAs and, if `ca_file` is not empty, that PEM file too.
// Peer verification is on; buffers are released while idle (SSL_MODE_RELEASE_BUFFERS) so that an
// idle connection holds no 16 KB record buffers.
base::Result<std::shared_ptr<boost::asio::ssl::context>> MakeTlsContext(const std::string& ca_file);

}  // namespace wa::client
