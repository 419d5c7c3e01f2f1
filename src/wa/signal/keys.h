// Key material of a Signal device and the wire forms of its public parts (02-messaging.md §1.1).
//
// On the XMPP wire a public key is the raw 32 bytes (a separate <type> node carries 0x05), ids are
// 3 bytes big-endian and registration ids 4; inside Signal structures (and in libsignal's API) a
// public key is 33 bytes, 0x05 ‖ key. These pure helpers convert and validate; the stanza layer
// uses them so that every length rule is checked in one place.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/crypto/crypto.h"

namespace wa::signal {

using base::Bytes;
using base::ByteView;
using crypto::Key32;

// libsignal's "DJB" key type byte.
inline constexpr std::uint8_t kKeyType = 0x05;
using SignalKey = std::array<std::uint8_t, 33>;  // 0x05 ‖ 32-byte key

// Prekey ids run 1..kMaxPreKeyId and wrap to 1. 0xFFFFFF fits the 3-byte wire id but
// libsignal-protocol-c treats it as a "last resort" prekey and never deletes it after use, so it
// is never issued (libsignal's own key helper stops there too).
inline constexpr std::uint32_t kMaxPreKeyId = 0xFFFFFE;
inline constexpr std::uint32_t kMaxWireKeyId = 0xFFFFFF;
// Baileys' registration ids are 14 bits.
inline constexpr std::uint32_t kMaxRegistrationId = 0x3FFF;

// A one-time prekey.
struct PreKey {
  std::uint32_t id = 0;
  crypto::KeyPair key_pair;
};

// The signed prekey: signature = XEdDSA by the identity key over 0x05 ‖ public key.
struct SignedPreKey {
  std::uint32_t id = 0;
  crypto::KeyPair key_pair;
  crypto::Signature signature{};
  std::uint64_t timestamp_ms = 0;  // when it was made; informational (rotation policy)
};

// The public part of one prekey, as served in a bundle.
struct PreKeyPublic {
  std::uint32_t id = 0;
  Key32 public_key{};
};

// What the server serves for one device (<user> in an encrypt/get result, or <keys> in a retry
// receipt), already parsed and length-checked. Keys are raw 32-byte wire keys.
struct PreKeyBundle {
  std::uint32_t registration_id = 0;
  std::uint32_t device_id = 0;
  std::optional<PreKeyPublic> pre_key;  // absent when the device ran out of one-time prekeys
  std::uint32_t signed_pre_key_id = 0;
  Key32 signed_pre_key{};
  crypto::Signature signed_pre_key_signature{};
  Key32 identity_key{};
};

// Generation (OS CSPRNG).
crypto::KeyPair GenerateIdentityKeyPair();
// Random in 1..kMaxRegistrationId (Baileys: 16 random bits & 0x3FFF; 0 is skipped).
std::uint32_t GenerateRegistrationId();
// `id` must be in 1..kMaxWireKeyId (WA_CHECKed: ids are chosen by the caller, not by a peer).
SignedPreKey GenerateSignedPreKey(const crypto::KeyPair& identity, std::uint32_t id,
                                  std::uint64_t timestamp_ms = 0);
// `count` prekeys with ids first_id, NextPreKeyId(first_id), ...; first_id in 1..kMaxPreKeyId.
std::vector<PreKey> GeneratePreKeys(std::uint32_t first_id, std::size_t count);
// The id after `id`: id + 1, wrapping from kMaxPreKeyId (or anything out of range) to 1.
std::uint32_t NextPreKeyId(std::uint32_t id);

// Checks a signed prekey's signature (identity and key are raw 32-byte keys).
bool VerifySignedPreKey(const Key32& identity_key, const Key32& signed_pre_key,
                        ByteView signature);

// Wire <-> Signal key forms.
SignalKey ToSignalKey(const Key32& key);
// Exactly 33 bytes starting with 0x05, else kBadKeyLength.
base::Result<Key32> FromSignalKey(ByteView key);

// Wire field parsers: exact lengths, as Baileys and whatsmeow check.
base::Result<Key32> ParseWireKey(ByteView bytes);                  // 32 bytes
base::Result<crypto::Signature> ParseWireSignature(ByteView bytes);  // 64 bytes
base::Result<std::uint32_t> ParseKeyId(ByteView bytes);            // 3 bytes BE
base::Result<std::uint32_t> ParseRegistrationId(ByteView bytes);   // 4 bytes BE
// <type> content: exactly the single byte 0x05.
bool IsKeyTypeByte(ByteView bytes);

// Wire field encoders. An id above 24 bits is kIdOutOfRange.
base::Result<std::array<std::uint8_t, 3>> EncodeKeyId(std::uint32_t id);
std::array<std::uint8_t, 4> EncodeRegistrationId(std::uint32_t id);

}  // namespace wa::signal
