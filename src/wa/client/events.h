// What a wa::Client tells its owner, as typed values delivered to one callback (the sink). The
// sink runs on the client's strand: it must not block (post heavy work elsewhere) and may call
// the client's methods (they post, never re-enter).
//
// Every connection end produces exactly one Disconnected; the specific events (LoggedOut,
// StreamReplaced, TemporaryBan, ClientOutdated, QrTimeout, PairingFailed) come right before it
// when they apply. Disconnected{will_retry = false} is the last event of a run.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>

#include "wa/binary/jid.h"

namespace wa::client {

// Why a connection ended; `code` in Disconnected is the Baileys-style numeric status
// (01-connection.md §8.3), the enum is the decision-relevant meaning.
enum class DisconnectReason {
  kStopped,              // Stop() was called
  kLoggedOut,            // 401: device removed, login refused as logged out, or our Logout()
  kForbidden,            // 403: the main device is gone ("LOCKED")
  kBanned,               // 406: unknown logout ("BANNED")
  kTemporaryBan,         // 402: temporarily banned (TemporaryBan event carries the details)
  kReplaced,             // 440: another connection with these credentials took over
  kClientOutdated,       // 405: the server rejects this WhatsApp Web version
  kMultideviceMismatch,  // 411: <ib><downgrade_webclient/>
  kRestartRequired,      // 515: reconnect at once (after pairing, sometimes later)
  kConnectionClosed,     // 428: the server closed the stream or the socket
  kConnectionLost,       // 408: no frame within the keepalive window, or a stalled write
  kTimedOut,             // 408: the connection could not be opened in time
  kNetworkError,         // 408: DNS, TCP, proxy, TLS or WebSocket upgrade failure
  kHandshakeFailed,      // 400: Noise handshake or certificate chain failure
  kServiceUnavailable,   // 503
  kBadSession,           // 500 or an unknown stream error
  kLoginFailed,          // another <failure reason=...> (400, 409, 415, 418, 501, ...)
  kQrTimeout,            // 408: every QR ref expired without a scan
  kPairingFailed,        // the pairing data did not verify; we answered with an error
  kStoreFailed,          // the device or Signal store failed; nothing safe to do but stop
  kConfigError,          // the configuration cannot work (bad URL, unreadable CA file)
};
std::string_view ToString(DisconnectReason reason);

// A QR code to show: the full string to render (01-connection.md §5.3).
struct Qr {
  std::string code;
  std::chrono::milliseconds expires_in{0};
};
// All refs expired without a scan; the client stops (start it again for new codes).
struct QrTimeout {};
// The 8-character code to type on the phone (RequestPairingCode returns it too).
struct PairingCode {
  std::string code;
};
// The phone accepted us; credentials are saved. A reconnect and login follow (515).
struct Paired {
  binary::Jid jid;
  binary::Jid lid;
  std::string platform;
  std::string business_name;
};
// pair-success did not verify (HMAC or signature): nothing was saved.
struct PairingFailed {
  std::string reason;
};
// Logged in, post-login queries done and the offline backlog delivered.
struct Connected {};
struct Disconnected {
  DisconnectReason reason = DisconnectReason::kConnectionClosed;
  int code = 0;
  bool will_retry = false;
  std::chrono::milliseconds retry_in{0};
};
// The credentials were wiped: re-link with new ones.
struct LoggedOut {
  DisconnectReason reason = DisconnectReason::kLoggedOut;
  int code = 401;
  bool on_connect = false;  // refused at login (<failure>) rather than removed while connected
};
struct StreamReplaced {};
struct TemporaryBan {
  int code = 0;                          // ban reason 101..106
  std::chrono::seconds expire{0};        // how long it lasts, as the server said
};
struct ClientOutdated {};
// A keepalive ping went unanswered (the connection is not dropped for this alone).
struct KeepAliveTimeout {
  int error_count = 0;
};
struct KeepAliveRestored {};
// The server's <ib><offline count/>: the queued stanzas were delivered.
struct OfflineSyncCompleted {
  int count = 0;
};

using Event = std::variant<Qr, QrTimeout, PairingCode, Paired, PairingFailed, Connected,
                           Disconnected, LoggedOut, StreamReplaced, TemporaryBan, ClientOutdated,
                           KeepAliveTimeout, KeepAliveRestored, OfflineSyncCompleted>;
using EventSink = std::function<void(const Event&)>;

// "Qr", "Disconnected{connection_lost, 408, retry in 1200 ms}", ... for logs and tests.
std::string Describe(const Event& event);

}  // namespace wa::client
