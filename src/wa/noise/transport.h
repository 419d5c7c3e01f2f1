// The transport phase after the handshake (01-connection.md §2.6): one AES-256-GCM key per
// direction, each with its own frame counter from 0, IV = 8 zero bytes || counter (uint32 BE),
// empty AAD, no rekeying. The counter is 32 bits on the wire; rather than wrap and reuse an IV
// (which both references would do), the cipher refuses the 2^32+1-th frame.
// Spec: docs/protocol/noise-and-frames.md
#pragma once

#include <cstdint>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/crypto/crypto.h"

namespace wa::noise {

using base::Bytes;
using base::ByteView;

// One direction of the transport. A decryption failure is fatal (the server closes the
// connection, whatsmeow's stream is dead because its counter has moved on): afterwards every
// call returns kCipherFailed.
class CipherState {
 public:
  static constexpr std::uint64_t kMaxFrames = std::uint64_t{1} << 32;

  explicit CipherState(const crypto::Key32& key) : key_(key) {}

  // plaintext -> ciphertext || 16-byte tag.
  base::Result<Bytes> Encrypt(ByteView plaintext);
  // kDecryptFailed on a bad tag or a frame shorter than a tag.
  base::Result<Bytes> Decrypt(ByteView ciphertext);

  const crypto::Key32& key() const { return key_; }
  // Frames processed so far = the counter of the next frame.
  std::uint64_t counter() const { return counter_; }
  bool failed() const { return failed_; }

  // Tests only: jump to a counter to check exhaustion without 2^32 frames.
  void SetCounterForTesting(std::uint64_t counter) { counter_ = counter; }

 private:
  crypto::Key32 key_;
  std::uint64_t counter_ = 0;
  bool failed_ = false;
};

// Both directions of one side of a connection.
struct TransportCiphers {
  CipherState send;
  CipherState recv;
};

}  // namespace wa::noise
