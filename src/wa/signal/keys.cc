#include "wa/signal/keys.h"

#include <cstring>

#include "base/check.h"
#include "wa/signal/errors.h"

namespace wa::signal {

crypto::KeyPair GenerateIdentityKeyPair() { return crypto::GenerateKeyPair(); }

std::uint32_t GenerateRegistrationId() {
  for (;;) {
    std::array<std::uint8_t, 2> r;
    crypto::RandomBytes(r);
    const std::uint32_t id = ((std::uint32_t{r[0]} << 8) | r[1]) & kMaxRegistrationId;
    if (id != 0) return id;
  }
}

SignedPreKey GenerateSignedPreKey(const crypto::KeyPair& identity, std::uint32_t id,
                                  std::uint64_t timestamp_ms) {
  WA_CHECK(id >= 1 && id <= kMaxWireKeyId);
  SignedPreKey key;
  key.id = id;
  key.key_pair = crypto::GenerateKeyPair();
  const SignalKey typed = ToSignalKey(key.key_pair.public_key);
  key.signature = crypto::Sign(identity.private_key, typed);
  key.timestamp_ms = timestamp_ms;
  return key;
}

std::uint32_t NextPreKeyId(std::uint32_t id) {
  return (id >= 1 && id < kMaxPreKeyId) ? id + 1 : 1;
}

std::vector<PreKey> GeneratePreKeys(std::uint32_t first_id, std::size_t count) {
  WA_CHECK(first_id >= 1 && first_id <= kMaxPreKeyId);
  std::vector<PreKey> keys;
  keys.reserve(count);
  std::uint32_t id = first_id;
  for (std::size_t i = 0; i < count; ++i) {
    keys.push_back(PreKey{id, crypto::GenerateKeyPair()});
    id = NextPreKeyId(id);
  }
  return keys;
}

bool VerifySignedPreKey(const Key32& identity_key, const Key32& signed_pre_key,
                        ByteView signature) {
  const SignalKey typed = ToSignalKey(signed_pre_key);
  return crypto::Verify(identity_key, typed, signature);
}

SignalKey ToSignalKey(const Key32& key) {
  SignalKey out;
  out[0] = kKeyType;
  std::memcpy(out.data() + 1, key.data(), key.size());
  return out;
}

base::Result<Key32> FromSignalKey(ByteView key) {
  if (key.size() != 33 || key[0] != kKeyType) return MakeError(Errc::kBadKeyLength);
  Key32 out;
  std::memcpy(out.data(), key.data() + 1, out.size());
  return out;
}

base::Result<Key32> ParseWireKey(ByteView bytes) {
  if (bytes.size() != 32) return MakeError(Errc::kBadKeyLength);
  Key32 out;
  std::memcpy(out.data(), bytes.data(), out.size());
  return out;
}

base::Result<crypto::Signature> ParseWireSignature(ByteView bytes) {
  if (bytes.size() != 64) return MakeError(Errc::kBadSignatureLength);
  crypto::Signature out;
  std::memcpy(out.data(), bytes.data(), out.size());
  return out;
}

base::Result<std::uint32_t> ParseKeyId(ByteView bytes) {
  if (bytes.size() != 3) return MakeError(Errc::kBadIdLength);
  return (std::uint32_t{bytes[0]} << 16) | (std::uint32_t{bytes[1]} << 8) | bytes[2];
}

base::Result<std::uint32_t> ParseRegistrationId(ByteView bytes) {
  if (bytes.size() != 4) return MakeError(Errc::kBadIdLength);
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) |
         (std::uint32_t{bytes[2]} << 8) | bytes[3];
}

bool IsKeyTypeByte(ByteView bytes) { return bytes.size() == 1 && bytes[0] == kKeyType; }

base::Result<std::array<std::uint8_t, 3>> EncodeKeyId(std::uint32_t id) {
  if (id > kMaxWireKeyId) return MakeError(Errc::kIdOutOfRange);
  return std::array<std::uint8_t, 3>{static_cast<std::uint8_t>(id >> 16),
                                     static_cast<std::uint8_t>(id >> 8),
                                     static_cast<std::uint8_t>(id)};
}

std::array<std::uint8_t, 4> EncodeRegistrationId(std::uint32_t id) {
  return {static_cast<std::uint8_t>(id >> 24), static_cast<std::uint8_t>(id >> 16),
          static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id)};
}

}  // namespace wa::signal
