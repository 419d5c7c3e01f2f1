// The companion's side of linking (01-connection.md §5 QR code, §6 pairing code) as pure
// functions over bytes: the QR string, the ADV verification of <pair-success> and the reply's
// signed identity, and the pairing-code key wrapping and key-bundle derivation. No I/O, no
// clock; randomness is passed in so that the vectors in pairing.json reproduce byte for byte.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/crypto/crypto.h"

namespace wa::client {

using base::Bytes;
using base::ByteView;

// "https://wa.me/settings/linked_devices#<ref>,<noise pub b64>,<identity pub b64>,<adv b64>,<id>".
std::string MakeQrString(std::string_view ref, const crypto::Key32& noise_public,
                         const crypto::Key32& identity_public, const crypto::Key32& adv_secret,
                         std::string_view platform_id);

// Why a <pair-success> was refused, as whatsmeow answers it (iq error code and text).
struct PairError {
  int code = 500;    // 401 for a verification failure, 500 for malformed data
  std::string text;  // "hmac-mismatch", "signature-mismatch", "internal-error"
};

struct VerifiedDeviceIdentity {
  // ADVSignedDeviceIdentity with accountSignatureKey and our deviceSignature: what the client
  // stores (Credentials::account) and later sends in pkmsg stanzas.
  Bytes account;
  // The same without accountSignatureKey: the <device-identity> content of pair-device-sign.
  Bytes reply;
  std::uint32_t key_index = 0;
  crypto::Key32 account_signature_key{};  // the primary's identity key
  bool hosted = false;
};

// Checks <device-identity> (ADVSignedDeviceIdentityHMAC bytes): HMAC-SHA256 with the ADV secret
// (06 05 prefix for HOSTED accounts), the primary's XEdDSA account signature over
// 06 00 (06 05 hosted) || details || our identity public key, key and signature lengths; then
// signs 06 01 || details || our identity || account key with our identity key.
base::Result<VerifiedDeviceIdentity, PairError> VerifyDeviceIdentity(
    ByteView device_identity_hmac, const crypto::Key32& adv_secret,
    const crypto::KeyPair& identity);

// --- Pairing code (§6) ---

inline constexpr unsigned kPairingCodeIterations = 2u << 16;  // 131072

// 5 bytes -> 8 characters of "123456789ABCDEFGHJKLMNPQRSTVWXYZ", 5 bits each, MSB first.
std::string EncodeLinkingCode(ByteView five_bytes);

// salt(32) || iv(16) || AES-256-CTR(PBKDF2-SHA256(code, salt, 131072, 32), iv, public key).
Bytes WrapLinkingKey(std::string_view code, ByteView salt, ByteView iv,
                     const crypto::Key32& public_key);
// The inverse; kBadInputLength unless `wrapped` is 80 bytes.
base::Result<crypto::Key32> UnwrapLinkingKey(std::string_view code, ByteView wrapped);

struct CompanionFinish {
  Bytes wrapped_key_bundle;  // salt(32) || iv(12) || AES-GCM(identity || primary identity || random)
  crypto::Key32 adv_secret{};
};

// The companion's answer to primary_hello: the key bundle for the phone and the new ADV secret
// (HKDF of ephemeral DH || identity DH || adv_random, info "adv_secret").
base::Result<CompanionFinish> MakeCompanionFinish(const crypto::Key32& companion_ephemeral_private,
                                                  const crypto::Key32& primary_ephemeral_public,
                                                  const crypto::KeyPair& companion_identity,
                                                  const crypto::Key32& primary_identity_public,
                                                  ByteView adv_random, ByteView bundle_salt,
                                                  ByteView bundle_iv);

// A phone number as the pairing code wants it: digits only (spaces, '+', '-' and parentheses
// are dropped), more than 6 of them, not starting with 0 (whatsmeow's checks). Empty when invalid.
std::string NormalizePhone(std::string_view phone);

}  // namespace wa::client
