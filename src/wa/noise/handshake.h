// Noise_XX_25519_AESGCM_SHA256 as WhatsApp runs it (01-connection.md §2.3), both roles, as pure
// state machines over HandshakeMessage bytes: they never touch sockets or clocks, so async code
// drives them between reads and writes (framing is frame.h's job). Keys are injectable so that
// tests replay the Baileys transcript byte for byte.
//
//   Initiator (companion)                     Responder (server / simulator)
//   ClientHello()            -- e -->         ReadClientHello() returns the ServerHello
//   ReadServerHello()  <-- e, ee, s, es --    (payload: certificate chain)
//   ClientFinish(payload)    -- s, se -->     ReadClientFinish() -> client static, payload
//   Split()                                   Split()
//
// The prologue is the 4-byte "WA 06 03" header, never the ED routing prefix. Any failure leaves
// the object failed: later calls return kWrongState.
// Spec: docs/protocol/noise-and-frames.md
#pragma once

#include <cstdint>
#include <optional>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/crypto/crypto.h"
#include "wa/noise/cert_chain.h"
#include "wa/noise/symmetric_state.h"
#include "wa/noise/transport.h"

namespace wa::noise {

struct InitiatorOptions {
  crypto::KeyPair static_key;                // the companion's persistent noise key
  std::optional<crypto::KeyPair> ephemeral;  // fresh per connection unless fixed by a test
  crypto::Key32 trust_root = kWhatsAppRootPublicKey;
  std::uint64_t now_unix = 0;                // the caller's clock, for certificate validity
};

struct ServerHelloResult {
  crypto::Key32 server_static;
  VerifiedCertChain certificates;
};

class Initiator {
 public:
  explicit Initiator(InitiatorOptions options);

  // HandshakeMessage{client_hello{ephemeral}}: the first frame's payload.
  base::Result<Bytes> ClientHello();
  // Decrypts the server static and certificate chain and verifies the chain against the trust
  // root; the HandshakeMessage must carry server_hello.
  base::Result<ServerHelloResult> ReadServerHello(ByteView handshake_message);
  // HandshakeMessage{client_finish{static, payload}} with `client_payload` (serialized
  // ClientPayload) encrypted.
  base::Result<Bytes> ClientFinish(ByteView client_payload);
  // The transport ciphers; once, after ClientFinish.
  base::Result<TransportCiphers> Split();

  const crypto::KeyPair& ephemeral() const { return ephemeral_; }
  // The handshake hash h, for tests and channel binding.
  const crypto::Digest32& handshake_hash() const { return state_.h(); }

 private:
  enum class Step { kHello, kServerHello, kFinish, kSplit, kDone, kFailed };
  boost::system::error_code Fail(boost::system::error_code ec);

  InitiatorOptions options_;
  crypto::KeyPair ephemeral_;
  SymmetricState state_;
  Step step_ = Step::kHello;
  crypto::Key32 server_ephemeral_{};
};

struct ResponderOptions {
  crypto::KeyPair static_key;                // the server's Noise static key
  Bytes cert_chain;                          // serialized CertChain whose leaf binds static_key
  std::optional<crypto::KeyPair> ephemeral;  // fresh per connection unless fixed by a test
};

struct ClientFinishResult {
  crypto::Key32 client_static;  // the companion's noise key (authenticated by the handshake)
  Bytes client_payload;         // serialized ClientPayload
};

class Responder {
 public:
  explicit Responder(ResponderOptions options);

  // Takes HandshakeMessage{client_hello}; returns HandshakeMessage{server_hello}.
  base::Result<Bytes> ReadClientHello(ByteView handshake_message);
  base::Result<ClientFinishResult> ReadClientFinish(ByteView handshake_message);
  base::Result<TransportCiphers> Split();

  const crypto::KeyPair& ephemeral() const { return ephemeral_; }
  const crypto::Digest32& handshake_hash() const { return state_.h(); }

 private:
  enum class Step { kHello, kFinish, kSplit, kDone, kFailed };
  boost::system::error_code Fail(boost::system::error_code ec);

  ResponderOptions options_;
  crypto::KeyPair ephemeral_;
  SymmetricState state_;
  Step step_ = Step::kHello;
};

}  // namespace wa::noise
