#include "wa/signal/keys.h"

#include <gtest/gtest.h>

#include <set>

#include "wa/signal/errors.h"

namespace wa::signal {
namespace {

Bytes Filled(std::size_t n, std::uint8_t v) { return Bytes(n, v); }

TEST(Keys, RegistrationIdIsFourteenBitsNonZero) {
  for (int i = 0; i < 2000; ++i) {
    const std::uint32_t id = GenerateRegistrationId();
    EXPECT_GE(id, 1u);
    EXPECT_LE(id, kMaxRegistrationId);
  }
}

TEST(Keys, SignedPreKeySignatureCoversTypedPublicKey) {
  const crypto::KeyPair identity = GenerateIdentityKeyPair();
  const SignedPreKey spk = GenerateSignedPreKey(identity, 1, 1234);
  EXPECT_EQ(spk.id, 1u);
  EXPECT_EQ(spk.timestamp_ms, 1234u);
  EXPECT_TRUE(VerifySignedPreKey(identity.public_key, spk.key_pair.public_key, spk.signature));
  // The signature is over 0x05 ‖ pub (33 bytes), not over the raw 32 bytes.
  EXPECT_TRUE(crypto::Verify(identity.public_key, ToSignalKey(spk.key_pair.public_key),
                             spk.signature));
  EXPECT_FALSE(crypto::Verify(identity.public_key, spk.key_pair.public_key, spk.signature));
  // Another identity, another key, or a flipped bit do not verify.
  EXPECT_FALSE(VerifySignedPreKey(GenerateIdentityKeyPair().public_key, spk.key_pair.public_key,
                                  spk.signature));
  EXPECT_FALSE(VerifySignedPreKey(identity.public_key, crypto::GenerateKeyPair().public_key,
                                  spk.signature));
  crypto::Signature bad = spk.signature;
  bad[10] ^= 1;
  EXPECT_FALSE(VerifySignedPreKey(identity.public_key, spk.key_pair.public_key, bad));
  // The key pair is a usable X25519 pair.
  EXPECT_EQ(crypto::KeyPairFromPrivate(spk.key_pair.private_key).public_key,
            spk.key_pair.public_key);
}

TEST(Keys, PreKeyBatchesHaveIncreasingIdsAndWrap) {
  const std::vector<PreKey> keys = GeneratePreKeys(1, 5);
  ASSERT_EQ(keys.size(), 5u);
  std::set<Key32> publics;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(keys[i].id, i + 1);
    publics.insert(keys[i].key_pair.public_key);
  }
  EXPECT_EQ(publics.size(), 5u);  // distinct keys

  const std::vector<PreKey> wrapped = GeneratePreKeys(kMaxPreKeyId - 1, 4);
  ASSERT_EQ(wrapped.size(), 4u);
  EXPECT_EQ(wrapped[0].id, 0xFFFFFDu);
  EXPECT_EQ(wrapped[1].id, 0xFFFFFEu);
  EXPECT_EQ(wrapped[2].id, 1u);  // never 0xFFFFFF (libsignal's undeletable last-resort id) or 0
  EXPECT_EQ(wrapped[3].id, 2u);
  EXPECT_EQ(NextPreKeyId(0), 1u);
  EXPECT_EQ(NextPreKeyId(0xFFFFFF), 1u);
  EXPECT_EQ(NextPreKeyId(41), 42u);
}

TEST(Keys, SignalKeyForm) {
  const Key32 key = crypto::GenerateKeyPair().public_key;
  const SignalKey typed = ToSignalKey(key);
  EXPECT_EQ(typed[0], 0x05);
  EXPECT_EQ(Bytes(typed.begin() + 1, typed.end()), Bytes(key.begin(), key.end()));
  EXPECT_EQ(*FromSignalKey(typed), key);
  Bytes wrong_type(typed.begin(), typed.end());
  wrong_type[0] = 0x06;
  EXPECT_EQ(FromSignalKey(wrong_type).error(), Errc::kBadKeyLength);
  EXPECT_EQ(FromSignalKey(key).error(), Errc::kBadKeyLength);  // 32 bytes is the wire form
  EXPECT_EQ(FromSignalKey(Filled(34, 5)).error(), Errc::kBadKeyLength);
}

TEST(Keys, WireFieldLengthsAreExact) {
  EXPECT_TRUE(ParseWireKey(Filled(32, 1)).has_value());
  for (std::size_t n : {0u, 31u, 33u}) {
    EXPECT_EQ(ParseWireKey(Filled(n, 1)).error(), Errc::kBadKeyLength) << n;
  }
  EXPECT_TRUE(ParseWireSignature(Filled(64, 1)).has_value());
  for (std::size_t n : {0u, 63u, 65u}) {
    EXPECT_EQ(ParseWireSignature(Filled(n, 1)).error(), Errc::kBadSignatureLength) << n;
  }
  for (std::size_t n : {0u, 2u, 4u}) {
    EXPECT_EQ(ParseKeyId(Filled(n, 1)).error(), Errc::kBadIdLength) << n;
  }
  for (std::size_t n : {0u, 3u, 5u}) {
    EXPECT_EQ(ParseRegistrationId(Filled(n, 1)).error(), Errc::kBadIdLength) << n;
  }
  EXPECT_TRUE(IsKeyTypeByte(Bytes{5}));
  EXPECT_FALSE(IsKeyTypeByte(Bytes{6}));
  EXPECT_FALSE(IsKeyTypeByte(Bytes{5, 5}));
  EXPECT_FALSE(IsKeyTypeByte(Bytes{}));
}

TEST(Keys, IdsAreBigEndian) {
  EXPECT_EQ(*ParseKeyId(Bytes{0x01, 0x02, 0x03}), 0x010203u);
  EXPECT_EQ(*ParseRegistrationId(Bytes{0x00, 0x00, 0x3F, 0xFF}), 0x3FFFu);
  const auto id = EncodeKeyId(0xABCDEF);
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(Bytes(id->begin(), id->end()), (Bytes{0xAB, 0xCD, 0xEF}));
  EXPECT_EQ(*ParseKeyId(*id), 0xABCDEFu);
  EXPECT_EQ(EncodeKeyId(0x1000000).error(), Errc::kIdOutOfRange);
  const auto reg = EncodeRegistrationId(0x01020304);
  EXPECT_EQ(Bytes(reg.begin(), reg.end()), (Bytes{1, 2, 3, 4}));
  EXPECT_EQ(*ParseRegistrationId(reg), 0x01020304u);
}

}  // namespace
}  // namespace wa::signal
