// Linking computations against Baileys' vectors (vectors/pairing.json): the QR string, ADV
// verification of pair-success and the signed reply, and every pairing-code step.
#include "wa/client/pairing.h"

#include <gtest/gtest.h>

#include "wa/client/stanzas.h"
#include "wa/client/test_util.h"
#include "wa/binary/encoder.h"
#include "wa/proto/adv.pb.h"

namespace wa::client {
namespace {

using testing::Hex;
using testing::Key;
using testing::LoadVector;
using testing::Pair;

class PairingVectors : public ::testing::Test {
 protected:
  void SetUp() override { v_ = LoadVector("pairing.json"); }
  const boost::json::value& At(std::string_view a) const { return v_.at(a); }
  boost::json::value v_;
};

TEST_F(PairingVectors, QrString) {
  const auto& keys = At("keys");
  std::string qr = MakeQrString(std::string(At("qr").at("ref").as_string()),
                                Pair(keys.at("companion_noise")).public_key,
                                Pair(keys.at("companion_identity")).public_key,
                                Key(keys.at("adv_secret")), "1");
  EXPECT_EQ(qr, std::string(At("qr").at("string").as_string()));
}

TEST_F(PairingVectors, VerifiesAndSignsLikeBaileys) {
  const auto& keys = At("keys");
  const auto& adv = At("adv");
  auto identity = Pair(keys.at("companion_identity"));
  auto verified = VerifyDeviceIdentity(Hex(adv.at("adv_signed_device_identity_hmac")),
                                       Key(keys.at("adv_secret")), identity);
  ASSERT_TRUE(verified) << verified.error().text;
  EXPECT_EQ(verified->key_index, 3u);
  EXPECT_FALSE(verified->hosted);
  EXPECT_EQ(verified->account_signature_key, Pair(keys.at("primary_identity")).public_key);

  // Our XEdDSA nonce is random, so the device signature differs from Baileys' deterministic
  // one byte for byte; it must verify over the vector's message, and everything else must match.
  wa::proto::ADVSignedDeviceIdentity reply, expected;
  ASSERT_TRUE(reply.ParseFromArray(verified->reply.data(), static_cast<int>(verified->reply.size())));
  auto expected_bytes = Hex(adv.at("reply_signed_identity_without_account_key"));
  ASSERT_TRUE(expected.ParseFromArray(expected_bytes.data(), static_cast<int>(expected_bytes.size())));
  EXPECT_FALSE(reply.has_account_signature_key());
  EXPECT_EQ(reply.details(), expected.details());
  EXPECT_EQ(reply.account_signature(), expected.account_signature());
  EXPECT_TRUE(crypto::Verify(identity.public_key, Hex(adv.at("device_signature_message")),
                             base::AsBytes(reply.device_signature())));
  // With Baileys' signature in place, the re-encoding is byte-identical.
  reply.set_device_signature(std::string(base::AsChars(Hex(adv.at("reply_device_signature")))));
  std::string reencoded;
  reply.SerializeToString(&reencoded);
  EXPECT_EQ(base::ToHex(base::AsBytes(reencoded)), base::ToHex(expected_bytes));

  wa::proto::ADVSignedDeviceIdentity account;
  ASSERT_TRUE(account.ParseFromArray(verified->account.data(), static_cast<int>(verified->account.size())));
  EXPECT_EQ(account.account_signature_key(),
            std::string(base::AsChars(Pair(keys.at("primary_identity")).public_key)));
  EXPECT_EQ(account.details(), expected.details());
  EXPECT_TRUE(crypto::Verify(identity.public_key, Hex(adv.at("device_signature_message")),
                             base::AsBytes(account.device_signature())));

  // The reply stanza with Baileys' bytes (its id is the vector's).
  auto expected_node = testing::DecodeHex(std::string_view(adv.at("reply_node_hex").as_string()));
  auto node = stanzas::PairDeviceSign(expected_node.AttrOr("id"), 3, expected_bytes);
  EXPECT_EQ(base::ToHex(binary::Encode(node)), std::string(adv.at("reply_node_hex").as_string()));
}

TEST_F(PairingVectors, RejectsWrongHmacAndSignature) {
  const auto& keys = At("keys");
  const auto& adv = At("adv");
  auto identity = Pair(keys.at("companion_identity"));
  auto container_bytes = Hex(adv.at("adv_signed_device_identity_hmac"));

  crypto::Key32 wrong_secret = Key(keys.at("adv_secret"));
  wrong_secret[0] ^= 1;
  auto bad_mac = VerifyDeviceIdentity(container_bytes, wrong_secret, identity);
  ASSERT_FALSE(bad_mac);
  EXPECT_EQ(bad_mac.error().code, 401);
  EXPECT_EQ(bad_mac.error().text, "hmac-mismatch");

  // A correctly MACed identity whose account signature does not cover our identity key.
  wa::proto::ADVSignedDeviceIdentity account;
  auto signed_bytes = Hex(adv.at("adv_signed_device_identity"));
  ASSERT_TRUE(account.ParseFromArray(signed_bytes.data(), static_cast<int>(signed_bytes.size())));
  std::string sig = account.account_signature();
  sig[5] ^= 0x40;
  account.set_account_signature(sig);
  std::string tampered;
  account.SerializeToString(&tampered);
  wa::proto::ADVSignedDeviceIdentityHMAC container;
  container.set_details(tampered);
  auto mac = crypto::HmacSha256(Key(keys.at("adv_secret")), base::AsBytes(tampered));
  container.set_hmac(std::string(base::AsChars(mac)));
  std::string container_tampered;
  container.SerializeToString(&container_tampered);
  auto bad_sig = VerifyDeviceIdentity(base::AsBytes(container_tampered), Key(keys.at("adv_secret")),
                                      identity);
  ASSERT_FALSE(bad_sig);
  EXPECT_EQ(bad_sig.error().text, "signature-mismatch");

  // Another companion (different identity) must not accept this device identity.
  auto other = crypto::GenerateKeyPair();
  auto not_ours = VerifyDeviceIdentity(container_bytes, Key(keys.at("adv_secret")), other);
  ASSERT_FALSE(not_ours);
  EXPECT_EQ(not_ours.error().text, "signature-mismatch");

  EXPECT_EQ(VerifyDeviceIdentity(Hex(std::string_view("ff01")), Key(keys.at("adv_secret")), identity).error().code, 500);
}

TEST_F(PairingVectors, HostedAccountsUseThePrefixedMac) {
  const auto& keys = At("keys");
  auto identity = Pair(keys.at("companion_identity"));
  auto primary = Pair(keys.at("primary_identity"));
  wa::proto::ADVDeviceIdentity device;
  device.set_raw_id(1);
  device.set_key_index(2);
  device.set_account_type(wa::proto::HOSTED);
  device.set_device_type(wa::proto::HOSTED);
  std::string details;
  device.SerializeToString(&details);
  base::Bytes msg{6, 5};
  msg.insert(msg.end(), details.begin(), details.end());
  msg.insert(msg.end(), identity.public_key.begin(), identity.public_key.end());
  auto account_sig = crypto::Sign(primary.private_key, msg);
  wa::proto::ADVSignedDeviceIdentity account;
  account.set_details(details);
  account.set_account_signature_key(std::string(base::AsChars(primary.public_key)));
  account.set_account_signature(std::string(base::AsChars(account_sig)));
  std::string account_bytes;
  account.SerializeToString(&account_bytes);
  base::Bytes mac_input{6, 5};
  mac_input.insert(mac_input.end(), account_bytes.begin(), account_bytes.end());
  auto mac = crypto::HmacSha256(Key(keys.at("adv_secret")), mac_input);
  wa::proto::ADVSignedDeviceIdentityHMAC container;
  container.set_details(account_bytes);
  container.set_hmac(std::string(base::AsChars(mac)));
  container.set_account_type(wa::proto::HOSTED);
  std::string bytes;
  container.SerializeToString(&bytes);
  auto verified = VerifyDeviceIdentity(base::AsBytes(bytes), Key(keys.at("adv_secret")), identity);
  ASSERT_TRUE(verified) << verified.error().text;
  EXPECT_TRUE(verified->hosted);
  EXPECT_EQ(verified->key_index, 2u);
}

TEST_F(PairingVectors, PairingCode) {
  const auto& pc = At("pair_code");
  EXPECT_EQ(EncodeLinkingCode(Hex(pc.at("code_source_bytes"))), std::string(pc.at("code").as_string()));
  std::string code(pc.at("code").as_string());

  const auto& cw = pc.at("companion_wrap");
  auto companion_eph = Pair(pc.at("companion_ephemeral"));
  auto wrapped = WrapLinkingKey(code, Hex(cw.at("salt")), Hex(cw.at("iv")), companion_eph.public_key);
  EXPECT_EQ(base::ToHex(wrapped), std::string(cw.at("wrapped").as_string()));

  auto primary_eph = UnwrapLinkingKey(code, Hex(pc.at("primary_wrap").at("wrapped")));
  ASSERT_TRUE(primary_eph);
  EXPECT_EQ(*primary_eph, Pair(pc.at("primary_ephemeral")).public_key);
  EXPECT_FALSE(UnwrapLinkingKey(code, Hex(std::string_view("00"))));

  const auto& kb = pc.at("key_bundle");
  auto finish = MakeCompanionFinish(companion_eph.private_key, *primary_eph,
                                    Pair(At("keys").at("companion_identity")),
                                    Pair(At("keys").at("primary_identity")).public_key,
                                    Hex(pc.at("adv_secret_random")), Hex(kb.at("salt")),
                                    Hex(kb.at("iv")));
  ASSERT_TRUE(finish);
  EXPECT_EQ(base::ToHex(finish->wrapped_key_bundle), std::string(kb.at("wrapped").as_string()));
  EXPECT_EQ(base::ToHex(finish->adv_secret), std::string(pc.at("adv_secret").as_string()));
}

TEST(Pairing, LinkingCodeAlphabet) {
  EXPECT_EQ(EncodeLinkingCode(base::Bytes{0, 0, 0, 0, 0}), "11111111");
  EXPECT_EQ(EncodeLinkingCode(base::Bytes{0xff, 0xff, 0xff, 0xff, 0xff}), "ZZZZZZZZ");
}

TEST(Pairing, NormalizePhone) {
  EXPECT_EQ(NormalizePhone("+1 (555) 000-1111"), "15550001111");
  EXPECT_EQ(NormalizePhone("123456"), "");        // too short
  EXPECT_EQ(NormalizePhone("0155500011"), "");    // leading zero
  EXPECT_EQ(NormalizePhone("1555abc0001"), "");   // letters
}

}  // namespace
}  // namespace wa::client
