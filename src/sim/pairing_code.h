// The cryptography of linking by pairing code (01-connection.md §6), phone side first: reading
// the code a user types, wrapping and unwrapping ephemeral keys with it (PBKDF2 + AES-CTR),
// opening the companion's key bundle (HKDF + AES-GCM) and deriving the ADV secret that keys the
// pair-success HMAC. Pure functions, safe on any thread; the World runs the exchange
// (world_link_code.cc). The companion-side helpers exist so that tests can play the companion.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/crypto/crypto.h"

namespace sim::pairing_code {

// 5 bits per symbol, MSB first; no 0, I, O, U (not the standard Crockford alphabet).
inline constexpr std::string_view kAlphabet = "123456789ABCDEFGHJKLMNPQRSTVWXYZ";
inline constexpr std::size_t kCodeLength = 8;
inline constexpr unsigned kPbkdf2Iterations = 131072;  // 2 << 16
inline constexpr std::size_t kWrappedKeySize = 80;      // salt 32 | iv 16 | AES-CTR(key) 32
inline constexpr std::size_t kWrappedBundleSize = 156;  // salt 32 | iv 12 | GCM(96) + tag 16

// What a phone accepts as typed: 8 symbols of kAlphabet, optionally "XXXX-XXXX" (whatsmeow's
// display form), lower case folded to upper case as the phone's code field does. Returns the
// 8-symbol code, or nullopt.
std::optional<std::string> Normalize(std::string_view typed);

// The companion's encoding of 5 random bytes (Baileys bytesToCrockford, whatsmeow base32).
std::string Encode(base::ByteView five_bytes);

// PBKDF2-HMAC-SHA256(code, salt, 131072, 32): the costly step (tens to hundreds of ms).
base::Bytes CodeKey(std::string_view code, base::ByteView salt);

// salt ‖ iv ‖ AES-256-CTR(CodeKey(code, salt), iv, public_key).
base::Bytes WrapKey(std::string_view code, base::ByteView salt, base::ByteView iv,
                    base::ByteView public_key);
// The 32-byte key inside an 80-byte wrapping. AES-CTR has no tag: a wrong code yields another
// key, never an error; only kBadInputLength for a wrapping of the wrong size.
base::Result<wa::crypto::Key32> UnwrapKey(std::string_view code, base::ByteView wrapped);

// What the companion encrypts for the phone in companion_finish.
struct KeyBundle {
  wa::crypto::Key32 companion_identity{};
  wa::crypto::Key32 primary_identity{};
  wa::crypto::Key32 adv_random{};
};
// AES-GCM key of the bundle: HKDF-SHA256(ephemeral_shared, salt,
// "link_code_pairing_key_bundle_encryption_key", 32).
base::Bytes BundleKey(base::ByteView ephemeral_shared, base::ByteView salt);
// Opens a 156-byte wrapped bundle. kAuthFailed is what a wrong code looks like to the phone: the
// two sides derived different ephemeral secrets.
base::Result<KeyBundle> OpenKeyBundle(base::ByteView ephemeral_shared, base::ByteView wrapped);
// The companion's side: salt ‖ iv ‖ AES-GCM(companion identity ‖ primary identity ‖ adv random).
base::Result<base::Bytes> SealKeyBundle(base::ByteView ephemeral_shared, base::ByteView salt,
                                        base::ByteView iv, const KeyBundle& bundle);

// HKDF-SHA256(ephemeral_shared ‖ identity_shared ‖ adv_random, no salt, "adv_secret", 32).
base::Bytes AdvSecret(base::ByteView ephemeral_shared, base::ByteView identity_shared,
                      base::ByteView adv_random);

}  // namespace sim::pairing_code
