// One client connection to the simulated chat endpoint: the Noise responder, the frame layer,
// the node codec and an outgoing queue. Protocol decisions are the World's: the connection hands
// it every decoded node and sends what it is told. wasim runs on one thread, so neither class
// needs locks; a Connection is owned by its I/O coroutine and referenced weakly elsewhere.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "wa/binary/node.h"
#include "wa/noise/frame.h"
#include "wa/noise/handshake.h"
#include "wa/proto/client_payload.pb.h"

namespace sim {

class World;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class State {
    kHandshake,  // Noise in progress
    kUnpaired,   // registration payload: pair-device sent, waiting for a scan or a code
    kPairing,    // pair-success sent, waiting for pair-device-sign
    kOnline,     // logged in as a linked device
    kClosing,    // a final stanza is queued; the socket closes once it is written
  };

  Connection(World& world, boost::asio::any_io_executor ex, std::uint64_t id,
             std::string peer);

  // Bytes of one WebSocket message from the client. Returns false when the connection must close
  // (protocol violation); the reason was logged.
  bool OnBytes(base::ByteView chunk);

  // Queues a node (encrypted once the handshake is done). Injected faults (faults.h) may lose
  // it before encryption — so the Noise counters stay in step — or delay it.
  void Send(const wa::binary::Node& node);
  // Queues a final node (stream:error, failure, xmlstreamend) and closes after writing it.
  void SendAndClose(const wa::binary::Node& node);
  // Closes without a final stanza (fault injection, shutdown).
  void Abort();
  // Closes the TCP connection at once, without a WebSocket close frame: a network failure as the
  // client sees it (dropped-connection faults, idle connections).
  void Drop();

  // An encrypted, framed message for the socket; `delay` is an injected fault that holds it (and,
  // as TCP keeps order, everything queued behind it) before it is written.
  struct OutFrame {
    base::Bytes bytes;
    std::chrono::milliseconds delay{0};
  };

  // For the I/O loop: waits until output is queued or the connection should close.
  boost::asio::awaitable<void> WaitForOutput();
  std::deque<OutFrame>& outgoing() { return outgoing_; }
  bool close_requested() const { return close_requested_; }
  bool drop_requested() const { return drop_requested_; }

  std::uint64_t id() const { return id_; }
  const std::string& peer() const { return peer_; }
  State state() const { return state_; }
  void set_state(State s) { state_ = s; }

  // Set by the handshake.
  const wa::crypto::Key32& client_static() const { return client_static_; }
  const wa::proto::ClientPayload& payload() const { return payload_; }

  // Set by the World when a login succeeds: the account (phone number) and device id.
  std::string phone;
  std::uint16_t device = 0;
  // Pairing state (registration connections).
  std::vector<std::string> refs;
  std::string pair_success_iq_id;
  std::chrono::steady_clock::time_point last_frame_at;

 private:
  bool OnFrame(base::Bytes frame);
  void Push(base::Bytes frame, std::chrono::milliseconds delay = {});
  void SendStanza(const wa::binary::Node& node, bool may_fault);

  World& world_;
  std::uint64_t id_;
  std::string peer_;
  State state_ = State::kHandshake;
  wa::noise::FrameReader reader_;
  wa::noise::FrameWriter writer_;
  std::optional<wa::noise::Responder> responder_;
  bool server_hello_sent_ = false;
  std::optional<wa::noise::TransportCiphers> ciphers_;
  wa::crypto::Key32 client_static_{};
  wa::proto::ClientPayload payload_;
  std::deque<OutFrame> outgoing_;
  bool close_requested_ = false;
  bool drop_requested_ = false;
  boost::asio::steady_timer wake_;
};

}  // namespace sim
