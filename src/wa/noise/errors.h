// Error codes of the Noise layer (handshake, certificate chain, transport ciphers, framing).
// Every failure caused by the peer's bytes is one of these values; none throws.
#pragma once

#include <boost/system/error_code.hpp>

namespace wa::noise {

enum class Errc {
  kWrongState = 1,          // a handshake step called out of order or after a failure
  kMalformedHandshake,      // HandshakeMessage did not parse or lacks the part this step needs
  kBadKeyLength,            // an ephemeral or static key that is not 32 bytes
  kWeakKey,                 // X25519 gave the all-zero secret (low-order point)
  kDecryptFailed,           // AES-GCM authentication failed: tampered, truncated or wrong key
  kCertMalformed,           // CertChain/Details did not parse, or a certificate part is missing
  kCertBadSignatureLength,  // a certificate signature that is not 64 bytes
  kCertBadIntermediateSignature,  // the trust root did not sign the intermediate
  kCertBadIntermediateIssuer,     // intermediate issuer serial is not the root's (0)
  kCertBadIntermediateKey,        // intermediate key is not 32 bytes
  kCertBadLeafSignature,          // the intermediate did not sign the leaf
  kCertBadLeafIssuer,             // leaf issuer serial != intermediate serial
  kCertLeafKeyMismatch,           // leaf key != the server static key from the handshake
  kCertNotYetValid,               // now < notBefore
  kCertExpired,                   // now > notAfter
  kCounterExhausted,        // 2^32 frames in one direction: the next IV would repeat
  kCipherFailed,            // an earlier decrypt failed; the stream is dead
  kFrameTooLarge,           // a frame longer than the current limit (or than 24 bits can say)
  kBadIntroHeader,          // the client's first bytes are not "WA 06 03" (optionally after ED)
  kInternal,                // the crypto backend failed (not the peer's fault)
};

const boost::system::error_category& Category();
inline boost::system::error_code MakeError(Errc e) { return {static_cast<int>(e), Category()}; }

}  // namespace wa::noise

template <>
struct boost::system::is_error_code_enum<wa::noise::Errc> : std::true_type {};
namespace wa::noise {
inline boost::system::error_code make_error_code(Errc e) { return MakeError(e); }
}  // namespace wa::noise
