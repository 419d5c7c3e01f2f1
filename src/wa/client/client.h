// wa::client::Client — one linked WhatsApp device's connection: it connects (network or an
// injected Connector), registers (QR or pairing code) or logs in, keeps the connection alive,
// reconnects with backoff, answers the server where the connection layer must, matches iq
// answers to requests, and reports what happens as typed events (events.h).
//
// Threading: the client makes its own strand on the executor it is given and does everything on
// it; no mutex, no thread of its own. Public methods may be called from any thread: they post to
// the strand (awaitables resume the caller on its own executor). Thousands of clients share a few
// threads; an idle connected client holds a socket, a TLS session (tls_stream.h: no record
// buffers while idle), a WebSocket, a few suspended coroutines and its credentials: about 43 KB
// of heap over wss and 20 KB over ws, measured with 200 clients against wasim
// (tests/integration/client, MemoryOfIdleConnectedClients).
//
// Stores: the StateStore (state_store.h: the DeviceStore and wa::signal::Store it hands out, and
// its Prefetch/Commit) must outlive the client and must only be used by it while it runs (see
// credentials.h for who owns which key). Stop() must complete before it is destroyed, and before
// the client itself is. Every handler that changes stored state awaits Commit() before it sends
// the ack, receipt or reply for the stanza that caused the change.
//
// Lifecycle: Start() runs until a terminal condition (Stop, logout, replaced, banned, outdated,
// QR timeout...), reconnecting on its own otherwise; the last event of a run is
// Disconnected{will_retry = false}. A logged-out client has wiped its credentials: link again
// with new Credentials (and a new Signal store) in a new Client.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "wa/binary/node.h"
#include "wa/client/config.h"
#include "wa/client/events.h"
#include "wa/client/messages.h"
#include "wa/client/state_store.h"
#include "wa/client/store.h"
#include "wa/client/transport.h"
#include "wa/signal/store.h"

namespace wa::client {

// Why an iq got no result: the server's <error code text/>, or a local cause.
struct IqError {
  enum class Kind { kServer, kTimeout, kDisconnected, kCancelled, kNotConnected };
  Kind kind = Kind::kServer;
  int code = 0;       // kServer: the error's code attribute
  std::string text;   // kServer: the error's text attribute
  binary::Node node;  // kServer: the whole answer

  base::error_code ToErrorCode() const;
  std::string Describe() const;
};

// A text message to send. `to`: a phone number ("15550001111", "+1 555 000 1111") or a user
// JID (PN or LID). `quoted` makes it a reply; `mentions` are phone numbers or user JIDs (the
// text itself should contain "@<number>" where each is shown). `id` may be set by the caller
// (e.g. to retry a send idempotently); empty means a fresh one in the reference's format.
struct SendTextRequest {
  std::string to;
  std::string text;
  std::optional<QuotedMessage> quoted;
  std::vector<std::string> mentions;
  std::string id;
};

// A message the server accepted: its id and the server's timestamp (unix seconds).
struct SentMessage {
  std::string id;
  std::int64_t timestamp = 0;
};

// Gets each received message before it is acknowledged (the gateway persists it here). An
// error leaves the message unacknowledged and its ratchet step uncommitted, so the server
// delivers it again (at the latest on the next connection). Runs on the client's strand.
using MessageHandler = std::function<boost::asio::awaitable<base::Result<void>>(const Message&)>;

// Gets each batch of history messages (HistoryMessages, events.h) before the HistoryMessages
// event, and the parse of the chunk waits for it: a slow store slows the history down instead of
// letting batches pile up in memory. An error is logged and the batch is not retried (the phone
// does not send a chunk twice). Runs on the client's strand.
using HistoryHandler =
    std::function<boost::asio::awaitable<base::Result<void>>(const HistoryMessages&)>;

enum class State {
  kIdle,        // not started
  kConnecting,  // opening the connection / handshaking
  kPairing,     // registration connection: showing QR codes, waiting for the phone
  kLoggingIn,   // <success> received, post-login queries running
  kConnected,   // logged in and caught up (Connected was emitted)
  kWaiting,     // disconnected, waiting to reconnect
  kStopped,     // the run ended
};

class Client {
 public:
  // `connector` defaults to the network (MakeNetworkConnector with `config`); tests inject one.
  Client(boost::asio::any_io_executor executor, Config config, StateStore& store, EventSink sink,
         std::shared_ptr<Connector> connector = nullptr);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Starts the run (no-op if running). Problems are reported as events, never thrown.
  void Start();
  // Ends the connection cleanly (WebSocket close) and waits for the run to finish; bounded by
  // the close timeout plus a grace period, after which the socket is dropped.
  boost::asio::awaitable<void> Stop();

  // Companion-initiated logout: remove-companion-device, then the credentials are wiped,
  // LoggedOut{kLoggedOut} and the run ends. Needs a logged-in connection (kNotConnected).
  // The credentials are wiped even when the server does not confirm (like Baileys, which ends
  // with 401 without waiting): the error (kTimeout, kDisconnected, kServerError) then says that
  // the phone may still list the device.
  boost::asio::awaitable<base::Result<void>> Logout();

  // Link with a phone number instead of a QR code (01-connection.md §6): needs a registration
  // connection showing QR codes (State::kPairing); returns the 8-character code (also emitted as
  // a PairingCode event) once the server accepted the request.
  boost::asio::awaitable<base::Result<std::string>> RequestPairingCode(std::string phone);

  // Replaces the signed prekey (02-messaging.md §1.5): id + 1, uploaded with <rotate>, saved in
  // the credentials once the server accepted it; the old one stays in the Signal store. Neither
  // reference rotates on a timer, so the owner decides when (kNotConnected when not logged in).
  boost::asio::awaitable<base::Result<void>> RotateSignedPreKey();

  // --- messaging (02-messaging.md §2-§4, §6) ---

  // Set before Start(); optional. Message events are emitted after the handler succeeded.
  void SetMessageHandler(MessageHandler handler);
  // Set before Start(); optional.
  void SetHistoryHandler(HistoryHandler handler);

  // Encrypts `request` for every device of the recipient and our own other devices and returns
  // once the server acknowledged the stanza (kMessageRejected when its ack carried an error; a
  // MessageAck event reports either). kNotConnected unless logged in; kInvalidRecipient.
  boost::asio::awaitable<base::Result<SentMessage>> SendText(SendTextRequest request);
  // Which of `phones` have WhatsApp (usync contact query). kInvalidPhone for a malformed one.
  boost::asio::awaitable<base::Result<std::vector<ContactStatus>>> OnWhatsApp(
      std::vector<std::string> phones);
  // Typing indicator to `to` (phone or user JID): composing, recording or paused.
  boost::asio::awaitable<base::Result<void>> SendChatState(std::string to, ChatStateKind state);
  // Read receipts for `ids` in `chat` (a user JID or phone; `sender` only matters in groups).
  boost::asio::awaitable<base::Result<void>> MarkRead(std::string chat, std::string sender,
                                                      std::vector<std::string> ids);

  // Sends an iq (its `id` is filled in when empty) and waits for the answer with that id:
  // type="result" -> the node; type="error" -> IqError{kServer, code, text}.
  boost::asio::awaitable<base::Result<binary::Node, IqError>> SendIq(
      binary::Node iq, std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  // Queues a stanza on the current connection (kNotConnected when there is none).
  boost::asio::awaitable<base::Result<void>> SendNode(binary::Node node);

  State state() const;
  // A copy of the credentials as the client holds them (after Start loaded them).
  boost::asio::awaitable<std::optional<Credentials>> GetCredentials();

  // Tests only: drops the current connection as a network failure would.
  void DropConnectionForTesting();

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace wa::client
