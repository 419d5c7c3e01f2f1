// The byte-moving half of a client connection, behind two small interfaces so that the client's
// state machine runs unchanged over the network or over an in-memory fake (wa/testing):
//
//   Connector::Connect  opens a connection and runs the Noise handshake with the given
//                       ClientPayload; it yields a Channel.
//   Channel             an encrypted stream of binary nodes: Read one, Send (queued, written in
//                       order), Close (drain the queue, close handshake), Abort (drop now).
//
// The network implementation: TCP (optionally through an HTTP CONNECT or SOCKS5 proxy), TLS for
// wss:// (system CAs plus an optional CA file, SNI, host name check), a WebSocket with the
// configured Origin carrying binary messages, frames via wa::noise::FrameWriter/FrameReader (the
// intro header, with the ED routing prefix when routing info is known), the Noise initiator and
// transport ciphers, and the node codec.
//
// Errors keep their causes apart: Errc::kTimeout when a deadline closed the socket,
// Errc::kCancelled when the owner aborted, Errc::kDisconnected when the peer or the network ended
// the stream; other failures keep their own category (asio, ssl, noise, binary).
//
// Threading: everything runs on the executor given to MakeNetworkConnector (the client's strand).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/binary/node.h"
#include "wa/client/config.h"
#include "wa/crypto/crypto.h"

namespace wa::client {

class Channel {
 public:
  virtual ~Channel() = default;

  // The next node from the server. After an error every later call returns an error too.
  virtual boost::asio::awaitable<base::Result<binary::Node>> Read() = 0;
  // Encrypts and queues `node`; nodes are written in the order Send was called. kDisconnected
  // once the channel is closing or closed.
  virtual base::Result<void> Send(const binary::Node& node) = 0;
  // Called on the channel's executor once the frame carrying a node has been written to the
  // socket, with the time the write completed; never called when the frame is dropped (abort).
  using WriteDone = std::function<void(std::chrono::steady_clock::time_point)>;
  // Like Send, and reports when the node's frame left (dispatch-latency metric). Channels that do
  // not track their writes report the moment the node was queued.
  virtual base::Result<void> SendTracked(const binary::Node& node, WriteDone done) {
    auto sent = Send(node);
    if (sent && done) done(std::chrono::steady_clock::now());
    return sent;
  }
  // Writes what is queued, then closes gracefully (bounded by Timeouts::close); Read then fails
  // with kDisconnected.
  virtual void Close() = 0;
  // Drops the connection now; pending and later Reads fail with `reason`.
  virtual void Abort(base::error_code reason) = 0;
  // When the write in progress started (nullopt when no write is in progress), so that a
  // watchdog can end a connection whose writes stall.
  virtual std::optional<std::chrono::steady_clock::time_point> write_started() const = 0;
};

// Lets the owner abort a Connect in progress (Stop during connect). Strand-only, like the rest.
class ConnectAbort {
 public:
  void Abort() {
    aborted_ = true;
    if (on_abort_) {
      auto fn = std::move(on_abort_);
      on_abort_ = nullptr;
      fn();
    }
  }
  bool aborted() const { return aborted_; }
  // The connector installs what aborting means for the step in progress (nullptr to clear).
  void OnAbort(std::function<void()> fn) { on_abort_ = std::move(fn); }

 private:
  bool aborted_ = false;
  std::function<void()> on_abort_;
};

struct ConnectRequest {
  base::Bytes client_payload;     // serialized ClientPayload (registration or login)
  crypto::KeyPair noise_key;      // the companion's static key
  base::Bytes routing_info;       // empty: plain "WA" intro header
  std::chrono::milliseconds timeout{20'000};  // open + proxy + TLS + upgrade + handshake
  std::shared_ptr<ConnectAbort> abort;        // optional
};

class Connector {
 public:
  virtual ~Connector() = default;
  virtual boost::asio::awaitable<base::Result<std::shared_ptr<Channel>>> Connect(
      ConnectRequest request) = 0;
};

// The network connector for `config` (URL, Origin, proxy, TLS trust, Noise trust root, send and
// close timeouts). Fails on a malformed URL or an unreadable CA file. `executor` must be a strand.
base::Result<std::shared_ptr<Connector>> MakeNetworkConnector(boost::asio::any_io_executor executor,
                                                              const Config& config);

}  // namespace wa::client
