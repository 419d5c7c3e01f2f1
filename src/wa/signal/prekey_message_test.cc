#include "wa/signal/prekey_message.h"

#include <gtest/gtest.h>

#include "wa/signal/errors.h"
#include "wa/signal/test_party.h"

namespace wa::signal {
namespace {

using testing::Party;

// A real pkmsg from libsignal names the prekey the bundle offered; the parser agrees with what
// decryption then consumes.
TEST(PreKeyMessage, NamesTheOneTimePreKeyTheDecryptionConsumes) {
  Party alice("15550001111"), bob("15550002222");
  bob.next_pre_key = 7;
  ASSERT_TRUE(alice.protocol.ProcessPreKeyBundle(bob.address, bob.Bundle()));
  auto enc = alice.protocol.Encrypt(bob.address, base::ToBytes("hi"));
  ASSERT_TRUE(enc);
  ASSERT_EQ(enc->type, MessageType::kPkMsg);
  auto id = PreKeyMessagePreKeyId(enc->ciphertext);
  ASSERT_TRUE(id) << id.error().message();
  ASSERT_TRUE(id->has_value());
  EXPECT_EQ(**id, 7u);
  auto plain = bob.protocol.Decrypt(alice.address, MessageType::kPkMsg, enc->ciphertext);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->consumed_pre_key_id, *id);
}

// Damaging the last byte of the embedded message (its MAC) makes the pkmsg undecryptable even
// when the session it belongs to already exists (libsignal skips the prekey fields then).
TEST(PreKeyMessage, InnerMessageRangeCoversTheMac) {
  Party alice("15550001111"), bob("15550002222");
  ASSERT_TRUE(alice.protocol.ProcessPreKeyBundle(bob.address, bob.Bundle()));
  auto first = alice.protocol.Encrypt(bob.address, base::ToBytes("one"));
  ASSERT_TRUE(first);
  ASSERT_TRUE(bob.protocol.Decrypt(alice.address, MessageType::kPkMsg, first->ciphertext));
  auto second = alice.protocol.Encrypt(bob.address, base::ToBytes("two"));
  ASSERT_TRUE(second);
  ASSERT_EQ(second->type, MessageType::kPkMsg);
  auto range = PreKeyMessageInnerMessage(second->ciphertext);
  ASSERT_TRUE(range) << range.error().message();
  EXPECT_GT(range->size, 8u);
  EXPECT_LE(range->offset + range->size, second->ciphertext.size());
  EXPECT_EQ(second->ciphertext[range->offset], 0x33);  // a WhisperMessage starts with its version
  auto broken = second->ciphertext;
  broken[range->offset + range->size - 1] ^= 1;
  EXPECT_FALSE(bob.protocol.Decrypt(alice.address, MessageType::kPkMsg, broken));
  EXPECT_TRUE(bob.protocol.Decrypt(alice.address, MessageType::kPkMsg, second->ciphertext));
  EXPECT_EQ(PreKeyMessageInnerMessage(base::Bytes{0x33, 0x08, 0x01}).error(), Errc::kInvalidMessage);
}

TEST(PreKeyMessage, AbsentWithoutOneTimePreKey) {
  Party alice("15550001111"), bob("15550002222");
  ASSERT_TRUE(alice.protocol.ProcessPreKeyBundle(bob.address, bob.Bundle(false)));
  auto enc = alice.protocol.Encrypt(bob.address, base::ToBytes("hi"));
  ASSERT_TRUE(enc);
  auto id = PreKeyMessagePreKeyId(enc->ciphertext);
  ASSERT_TRUE(id);
  EXPECT_FALSE(id->has_value());
}

TEST(PreKeyMessage, HandBuiltFields) {
  // version 3, field 5 (registrationId) = 300, field 1 = 0x123456, field 2 (bytes, 2 long).
  base::Bytes msg{0x33, 0x28, 0xAC, 0x02, 0x08, 0xD6, 0xE8, 0x48, 0x12, 0x02, 0xAA, 0xBB};
  auto id = PreKeyMessagePreKeyId(msg);
  ASSERT_TRUE(id);
  EXPECT_EQ(id->value(), 0x123456u);
}

TEST(PreKeyMessage, RejectsMalformedInput) {
  EXPECT_EQ(PreKeyMessagePreKeyId({}).error(), Errc::kInvalidMessage);
  EXPECT_EQ(PreKeyMessagePreKeyId(base::Bytes{0x23, 0x08, 0x01}).error(), Errc::kLegacyVersion);
  EXPECT_EQ(PreKeyMessagePreKeyId(base::Bytes{0x43, 0x08, 0x01}).error(), Errc::kUnknownVersion);
  // Truncated varint, length past the end, a group wire type, field number 0.
  EXPECT_EQ(PreKeyMessagePreKeyId(base::Bytes{0x33, 0x08, 0x80}).error(), Errc::kInvalidMessage);
  EXPECT_EQ(PreKeyMessagePreKeyId(base::Bytes{0x33, 0x12, 0x05, 0x00}).error(),
            Errc::kInvalidMessage);
  EXPECT_EQ(PreKeyMessagePreKeyId(base::Bytes{0x33, 0x0B}).error(), Errc::kInvalidMessage);
  EXPECT_EQ(PreKeyMessagePreKeyId(base::Bytes{0x33, 0x00, 0x01}).error(), Errc::kInvalidMessage);
  // A prekey id over 32 bits.
  EXPECT_EQ(PreKeyMessagePreKeyId(base::Bytes{0x33, 0x08, 0x80, 0x80, 0x80, 0x80, 0x10}).error(),
            Errc::kInvalidMessage);
}

}  // namespace
}  // namespace wa::signal
