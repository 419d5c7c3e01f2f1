// Server push over a connection a handler took over (types.h, Context::takeover): Server-Sent
// Events (text/event-stream, one `id:`/`event:`/`data:` block per message, a comment line as
// heartbeat) or a WebSocket (one text frame per message, pings as heartbeat). The owner sends on
// the connection's strand and waits with Wait(), which returns when another thread called the
// waker, when a heartbeat was due (and sent), or with false when the stream must end: the peer
// went away, the server is draining, or a write failed. Close() ends it either way and joins the
// reader that watches the peer, so the takeover may return right after.
//
// Backpressure is the owner's: Send waits for the socket (bounded by write_timeout), so a slow
// reader slows the owner down and the owner caps whatever it queues meanwhile.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/http/types.h"
#include "base/result.h"

namespace base::http {

struct PushOptions {
  std::chrono::milliseconds heartbeat{15000};
  std::chrono::milliseconds write_timeout{10000};
  // WebSocket: how long the closing handshake may take before the socket is just closed.
  std::chrono::milliseconds close_timeout{2000};
};

struct PushMessage {
  std::string id;     // SSE `id:` (omitted when empty); Last-Event-ID of a reconnect
  std::string event;  // SSE `event:`
  std::string data;   // SSE `data:` lines; the WebSocket text frame
};

// The SSE wire form of one message / of a comment (heartbeat). Newlines in `data` become
// several `data:` lines; CR, LF and NUL in `id`/`event` are dropped (they would end the field).
std::string SseFrame(const PushMessage& message);
std::string SseComment(std::string_view text);

// The request asks to upgrade to a WebSocket (Connection: upgrade, Upgrade: websocket).
bool IsWebSocketUpgrade(const Request& request);

class Push {
 public:
  enum class Kind { kSse, kWebSocket };
  ~Push();
  Push(const Push&) = delete;
  Push& operator=(const Push&) = delete;

  // Answers the request: the WebSocket handshake for an upgrade request, else the SSE response
  // head (200, text/event-stream, no-store, chunked for HTTP/1.1). An error: the peer is gone or
  // the handshake failed.
  static boost::asio::awaitable<base::Result<std::unique_ptr<Push>>> Open(Streaming& streaming,
                                                                         PushOptions options);

  Kind kind() const;
  boost::asio::awaitable<base::error_code> Send(const PushMessage& message);
  // True: woken or a heartbeat went out, go on. False: end the stream.
  boost::asio::awaitable<bool> Wait();
  // Wakes Wait(); callable from any thread, also after the Push is gone.
  std::function<void()> Waker() const;
  // Ends the stream (the WebSocket closing handshake; SSE's last chunk) and joins the reader.
  boost::asio::awaitable<void> Close();

  struct State;

 private:
  explicit Push(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace base::http
