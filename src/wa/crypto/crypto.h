// Cryptographic primitives used by the WhatsApp protocol, as thin wrappers over OpenSSL 3,
// libsodium and libsignal-protocol-c's curve code. Nothing here is a hand-written primitive.
//
// Keys are raw bytes: X25519 keys are 32 bytes with no 0x05 type prefix (the Signal layer adds
// it where its wire format wants it). "Signature" is the XEdDSA Curve25519 signature that Signal
// and WhatsApp use: made with an X25519 private key, checked with the X25519 public key, 64
// bytes, the Edwards sign bit carried in bit 7 of byte 63 (01-connection.md, Conventions).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <system_error>

#include "base/bytes.h"
#include "base/result.h"

namespace wa::crypto {

using base::Bytes;
using base::ByteView;

using Key32 = std::array<std::uint8_t, 32>;
using Signature = std::array<std::uint8_t, 64>;
using Digest32 = std::array<std::uint8_t, 32>;

enum class Errc {
  kBadKeyLength = 1,   // a key or iv of the wrong size
  kAuthFailed,         // AES-GCM tag or MAC mismatch
  kBadPadding,         // AES-CBC PKCS#7 padding invalid
  kWeakKey,            // X25519 produced the all-zero shared secret (low-order point)
  kBadInputLength,     // ciphertext shorter than a tag, not a multiple of the block size, ...
  kBackend,            // the underlying library reported an internal failure
};
const boost::system::error_category& Category();
inline boost::system::error_code MakeError(Errc e) {
  return {static_cast<int>(e), Category()};
}

struct KeyPair {
  Key32 private_key;  // clamped X25519 scalar
  Key32 public_key;   // X25519 u-coordinate
};

// Fills `out` from the OS CSPRNG (libsodium randombytes_buf).
void RandomBytes(std::span<std::uint8_t> out);
Bytes RandomBytes(std::size_t n);

// X25519.
KeyPair GenerateKeyPair();
KeyPair KeyPairFromPrivate(const Key32& private_key);  // clamps a copy first
base::Result<Key32> SharedSecret(const Key32& private_key, ByteView public_key);

// XEdDSA signatures (libsignal-protocol-c curve code; the nonce is randomised, so signatures are
// valid but not byte-identical to a deterministic signer's: compare by verifying).
// Sign clamps a copy of the key first. Verify answers false (never an error) for a key that is
// not 32 bytes or a signature that is not 64. The signal_context Sign needs lives in
// wa/crypto/signal_provider.h.
Signature Sign(const Key32& private_key, ByteView message);
bool Verify(ByteView public_key, ByteView message, ByteView signature);

// Hashes and MACs.
Digest32 Sha256(ByteView data);
std::array<std::uint8_t, 64> Sha512(ByteView data);
Digest32 HmacSha256(ByteView key, ByteView data);
// MD5 is only used for ClientPayload's buildHash (MD5 of the version string, 01-connection.md
// §3.4); it protects nothing.
std::array<std::uint8_t, 16> Md5(ByteView data);
std::array<std::uint8_t, 64> HmacSha512(ByteView key, ByteView data);

// Incremental SHA-256 (Noise handshake hash, media file hashes).
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(ByteView data);
  Digest32 Finish();  // also resets the stream for a new message

 private:
  void* ctx_;  // EVP_MD_CTX
};

// HKDF-SHA256 (RFC 5869), extract and expand; `length` <= 255 * 32 (checked: aborts). An empty
// salt means 32 zero bytes, as in the RFC.
Bytes Hkdf(ByteView ikm, ByteView salt, ByteView info, std::size_t length);

// PBKDF2-HMAC-SHA256 (pairing-code key wrapping); `iterations` > 0 (checked: aborts).
Bytes Pbkdf2Sha256(ByteView password, ByteView salt, unsigned iterations, std::size_t length);

// AES-256-GCM with a 12-byte iv and a 16-byte tag appended to the ciphertext.
base::Result<Bytes> AesGcmEncrypt(ByteView key, ByteView iv, ByteView plaintext, ByteView aad);
base::Result<Bytes> AesGcmDecrypt(ByteView key, ByteView iv, ByteView ciphertext_and_tag,
                                  ByteView aad);

// AES-256-CBC with PKCS#7 padding and a 16-byte iv.
base::Result<Bytes> AesCbcEncrypt(ByteView key, ByteView iv, ByteView plaintext);
base::Result<Bytes> AesCbcDecrypt(ByteView key, ByteView iv, ByteView ciphertext);

// AES-256-CTR (pairing-code ephemeral key wrapping), 16-byte iv; encrypt == decrypt.
base::Result<Bytes> AesCtr(ByteView key, ByteView iv, ByteView data);

// Constant-time equality.
bool ConstantTimeEqual(ByteView a, ByteView b);

}  // namespace wa::crypto

template <>
struct boost::system::is_error_code_enum<wa::crypto::Errc> : std::true_type {};
namespace wa::crypto {
inline boost::system::error_code make_error_code(Errc e) { return MakeError(e); }
}  // namespace wa::crypto
