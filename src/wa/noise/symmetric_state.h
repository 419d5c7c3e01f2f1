// The Noise SymmetricState as WhatsApp runs it (01-connection.md §2.2), shared by both handshake
// roles: h and ck start as the 32-byte protocol name itself (not hashed), MixKey is HKDF-SHA256
// with ck as salt and empty info, and one nonce counter serves encrypt and decrypt alike until the
// next MixKey. AES-256-GCM with IV = 8 zero bytes || n (big-endian) and AAD = h.
// Spec: docs/protocol/noise-and-frames.md
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/crypto/crypto.h"

namespace wa::noise {

using base::Bytes;
using base::ByteView;

// "Noise_XX_25519_AESGCM_SHA256" padded with four NULs to exactly 32 bytes.
inline constexpr std::string_view kNoiseProtocolName{"Noise_XX_25519_AESGCM_SHA256\0\0\0\0", 32};

// The 12-byte AES-GCM IV for counter `n`: eight zero bytes, then n as uint32 big-endian.
std::array<std::uint8_t, 12> CounterIv(std::uint32_t n);

class SymmetricState {
 public:
  SymmetricState();

  void MixHash(ByteView data);
  void MixKey(ByteView input_key_material);
  // MixKey(X25519(private_key, public_key)); kBadKeyLength or kWeakKey on a bad public key.
  base::Result<void> MixDh(const crypto::Key32& private_key, ByteView public_key);
  // kWrongState before the first MixKey (never the case in XX).
  base::Result<Bytes> EncryptAndHash(ByteView plaintext);
  // kDecryptFailed when the tag does not verify; the state is then unusable.
  base::Result<Bytes> DecryptAndHash(ByteView ciphertext);
  // HKDF(salt = ck, ikm = empty) -> (initiator-to-responder key, responder-to-initiator key).
  std::pair<crypto::Key32, crypto::Key32> Split() const;

  const crypto::Digest32& h() const { return h_; }
  const crypto::Key32& ck() const { return ck_; }
  const crypto::Key32& k() const { return k_; }
  std::uint32_t n() const { return n_; }

 private:
  crypto::Digest32 h_;
  crypto::Key32 ck_;
  crypto::Key32 k_{};
  bool has_key_ = false;
  std::uint32_t n_ = 0;
};

}  // namespace wa::noise
