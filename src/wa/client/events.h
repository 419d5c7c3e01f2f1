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
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/bytes.h"
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

// --- messaging ---

// The server's <ack class="message"> for a message we sent: `error` is its error code when the
// server refused the stanza (463, 479, ...), and then nobody received it.
struct MessageAck {
  std::string id;
  binary::Jid chat;
  std::optional<int> error;
};

enum class ReceiptType {
  kDelivered,  // no type attribute
  kInactive,   // delivered to a device that is not "available"
  kRead,
  kReadSelf,   // read, with read receipts turned off (own devices only)
  kPlayed,
  kSender,     // our own other device got the DeviceSentMessage copy
  kRetry,      // handled by the client (re-encryption); reported too
  kPeerMsg,
  kOther,      // any other type (hist_sync, server-error, ...): see type_text
};
std::string_view ToString(ReceiptType type);

// A receipt for messages we sent (or, from our own devices, for messages we received).
struct Receipt {
  std::vector<std::string> ids;  // the receipt's id, then its <list><item id> entries
  binary::Jid chat;              // the conversation the ids belong to
  binary::Jid from;              // the device (or user) that sent the receipt
  ReceiptType type = ReceiptType::kDelivered;
  std::string type_text;         // the raw type attribute
  std::int64_t timestamp = 0;    // unix seconds (`t`), 0 when absent
};

// The message a reply quotes (ContextInfo stanzaId, participant, quotedMessage).
struct QuotedMessage {
  std::string id;
  std::string participant;  // the quoted author's user JID
  std::string text;         // the quoted text (conversation), may be empty
};

// A received message, after decryption. The gateway persists it in the client's message handler
// (client.h) before the client acknowledges it.
struct Message {
  std::string id;
  binary::Jid chat;     // the other party (for from_me, the chat our other device wrote to)
  binary::Jid sender;   // the sending device as the stanza named it
  std::optional<binary::Jid> sender_pn;   // the sender's phone-number user JID, when known
  std::optional<binary::Jid> sender_lid;  // the sender's LID user JID, when known
  bool from_me = false;
  bool offline = false;          // delivered from the offline queue
  std::int64_t timestamp = 0;    // unix seconds (`t`)
  // Unix ms when the client read the stanza off the connection (its frame decrypted and
  // decoded), before any queueing, decryption or store work: where receive latency starts.
  std::int64_t received_ms = 0;
  std::string push_name;         // `notify`
  std::string text;              // conversation or extendedTextMessage.text ("" otherwise)
  std::optional<QuotedMessage> quoted;
  std::vector<std::string> mentions;  // mentionedJid
  base::Bytes raw;               // the serialized wa::proto::Message (DeviceSentMessage unwrapped)
};

enum class ChatStateKind { kComposing, kRecording, kPaused };
std::string_view ToString(ChatStateKind kind);

// Someone is typing (or stopped) in `chat`.
struct ChatState {
  binary::Jid chat;
  binary::Jid from;  // the typist: `participant` in groups, else the chat
  ChatStateKind state = ChatStateKind::kPaused;
};

// A contact's availability.
struct Presence {
  binary::Jid from;
  bool available = false;
  std::optional<std::int64_t> last_seen;  // `last`, unix seconds, when given as a number
};

// --- history sync (history.h) ---

// One history chunk (one HistorySyncNotification) as it goes: kStarted when its download begins,
// kProgress after each batch, kFinished when parsed to the end, kFailed when the download, the
// verification or the parse failed (`error`), kSkipped when Config::history_sync does not want
// its sync type (it was acknowledged, nothing was downloaded). `progress` is the phone's percent
// for the whole sync (0-100, as the notification says).
struct HistoryChunk {
  enum class Stage { kStarted, kProgress, kFinished, kFailed, kSkipped };
  Stage stage = Stage::kStarted;
  std::string sync_type;  // "INITIAL_BOOTSTRAP", "RECENT", "FULL", "PUSH_NAME", ...
  std::uint32_t chunk_order = 0;
  std::uint32_t progress = 0;
  std::uint64_t conversations = 0;  // so far in this chunk
  std::uint64_t messages = 0;
  std::uint64_t skipped_conversations = 0;  // over the size cap
  std::string error;
};
std::string_view ToString(HistoryChunk::Stage stage);

// Messages of one conversation from a history chunk (a long conversation comes in several
// batches). Each is a Message like a live one: sender by PN and LID where known, from_me for our
// own, raw the serialized Message; `offline` is false and `push_name` the WebMessageInfo's.
struct HistoryMessages {
  std::string sync_type;
  std::uint32_t chunk_order = 0;
  binary::Jid chat;
  std::string chat_name;  // the conversation's name or display name, may be empty
  std::optional<binary::Jid> chat_pn;
  std::optional<binary::Jid> chat_lid;
  std::vector<Message> messages;
};

// Push names from a PUSH_NAME chunk (or any chunk that carries them), in batches.
struct HistoryPushNames {
  std::vector<std::pair<binary::Jid, std::string>> names;
};

using Event = std::variant<Qr, QrTimeout, PairingCode, Paired, PairingFailed, Connected,
                           Disconnected, LoggedOut, StreamReplaced, TemporaryBan, ClientOutdated,
                           KeepAliveTimeout, KeepAliveRestored, OfflineSyncCompleted, MessageAck,
                           Receipt, Message, ChatState, Presence, HistoryChunk, HistoryMessages,
                           HistoryPushNames>;
using EventSink = std::function<void(const Event&)>;

// "Qr", "Disconnected{connection_lost, 408, retry in 1200 ms}", ... for logs and tests.
std::string Describe(const Event& event);

}  // namespace wa::client
