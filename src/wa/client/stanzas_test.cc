// The stanzas the client sends, byte-exact against Baileys' encodings in
// vectors/connection-nodes.json (ids taken from the vectors).
#include "wa/client/stanzas.h"

#include <gtest/gtest.h>

#include "wa/binary/encoder.h"
#include "wa/client/test_util.h"

namespace wa::client {
namespace {

using testing::ConnectionNode;
using testing::Hex;
using testing::LoadVector;

class StanzaVectors : public ::testing::Test {
 protected:
  void SetUp() override {
    nodes_ = LoadVector("connection-nodes.json");
    pairing_ = LoadVector("pairing.json");
  }
  std::string HexOf(std::string_view name) {
    return std::string(ConnectionNode(nodes_, name).at("hex").as_string());
  }
  std::string IdOf(std::string_view name) {
    return std::string(testing::DecodeHex(HexOf(name)).AttrOr("id"));
  }
  static std::string Enc(const binary::Node& n) { return base::ToHex(binary::Encode(n)); }
  boost::json::value nodes_, pairing_;
};

TEST_F(StanzaVectors, SimpleIqs) {
  EXPECT_EQ(Enc(stanzas::IqResult(IdOf("pair_device_ack"))), HexOf("pair_device_ack"));
  auto count = stanzas::PreKeyCount();
  count.SetAttr("id", IdOf("iq_prekey_count"));
  EXPECT_EQ(Enc(count), HexOf("iq_prekey_count"));
  auto passive = stanzas::Passive(true);
  passive.SetAttr("id", IdOf("iq_passive_active"));
  EXPECT_EQ(Enc(passive), HexOf("iq_passive_active"));
  auto remove = stanzas::RemoveCompanionDevice(binary::Jid::User("5511900000001", 7));
  remove.SetAttr("id", IdOf("remove_companion_device"));
  EXPECT_EQ(Enc(remove), HexOf("remove_companion_device"));
}

TEST_F(StanzaVectors, IbNodes) {
  EXPECT_EQ(Enc(stanzas::OfflineBatch(100)), HexOf("ib_offline_batch"));
  auto unified = testing::DecodeHex(HexOf("ib_unified_session"));
  EXPECT_EQ(Enc(stanzas::UnifiedSession(unified.children()[0].AttrOr("id"))),
            HexOf("ib_unified_session"));
  // (now + offset + 3 days) mod 7 days: one day after the epoch is 4 days.
  EXPECT_EQ(stanzas::UnifiedSessionId(86'400'000, 0), "345600000");
  EXPECT_EQ(stanzas::UnifiedSessionId(5 * 86'400'000LL, 1000), "86401000");
}

TEST_F(StanzaVectors, LinkCode) {
  const auto& keys = pairing_.at("keys");
  const auto& pc = pairing_.at("pair_code");
  auto phone = binary::Jid::User("5511900000001");
  auto hello = stanzas::LinkCodeCompanionHello(phone, Hex(pc.at("companion_wrap").at("wrapped")),
                                               testing::Pair(keys.at("companion_noise")).public_key,
                                               "1", "Chrome (Mac OS)");
  hello.SetAttr("id", IdOf("link_code_companion_hello"));
  EXPECT_EQ(Enc(hello), HexOf("link_code_companion_hello"));

  auto expected = testing::DecodeHex(HexOf("link_code_companion_finish"));
  const auto* reg = expected.Child("link_code_companion_reg");
  ASSERT_NE(reg, nullptr);
  auto ref = reg->Child("link_code_pairing_ref")->ContentBytes();
  ASSERT_TRUE(ref);
  auto finish = stanzas::LinkCodeCompanionFinish(
      phone, Hex(pc.at("key_bundle").at("wrapped")),
      testing::Pair(keys.at("companion_identity")).public_key, *ref);
  finish.SetAttr("id", IdOf("link_code_companion_finish"));
  EXPECT_EQ(Enc(finish), HexOf("link_code_companion_finish"));
}

TEST(Stanzas, PreKeyUploadShape) {
  auto identity = crypto::GenerateKeyPair();
  std::vector<signal::PreKey> keys = {{1, crypto::GenerateKeyPair()}, {0x010203, crypto::GenerateKeyPair()}};
  auto spk = signal::GenerateSignedPreKey(identity, 1);
  auto node = stanzas::PreKeyUpload(0x1234, identity.public_key, keys, spk);
  EXPECT_EQ(node.AttrOr("xmlns"), "encrypt");
  EXPECT_EQ(node.AttrOr("type"), "set");
  ASSERT_EQ(node.children().size(), 5u);
  EXPECT_EQ(node.children()[0].tag, "registration");
  EXPECT_EQ(base::ToHex(*node.children()[0].bytes()), "00001234");
  EXPECT_EQ(base::ToHex(*node.children()[1].bytes()), "05");
  EXPECT_EQ(*node.children()[2].bytes(), base::Bytes(identity.public_key.begin(), identity.public_key.end()));
  auto list = node.Child("list")->ChildrenByTag("key");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(base::ToHex(*list[1]->Child("id")->bytes()), "010203");
  EXPECT_EQ(list[1]->Child("value")->bytes()->size(), 32u);
  const auto* skey = node.Child("skey");
  EXPECT_EQ(base::ToHex(*skey->Child("id")->bytes()), "000001");
  EXPECT_EQ(skey->Child("signature")->bytes()->size(), 64u);
  // Survives the codec with its binary contents intact.
  auto decoded = binary::Decode(binary::Encode(node));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(binary::Encode(*decoded), binary::Encode(node));
}

TEST(Stanzas, AckCopiesWhatTheReferencesCopy) {
  binary::Node n("notification", {{"from", binary::Jid::Server()},
                                  {"type", "encrypt"},
                                  {"id", "123"},
                                  {"participant", "1555@s.whatsapp.net"},
                                  {"t", "1700000000"}});
  auto ack = stanzas::Ack(n);
  EXPECT_EQ(ack.tag, "ack");
  EXPECT_EQ(ack.AttrOr("id"), "123");
  EXPECT_EQ(ack.AttrOr("class"), "notification");
  EXPECT_EQ(ack.AttrOr("type"), "encrypt");
  EXPECT_EQ(ack.AttrOr("participant"), "1555@s.whatsapp.net");
  EXPECT_EQ(ack.GetJid("to"), binary::Jid::Server());
  EXPECT_FALSE(ack.HasAttr("t"));
  ASSERT_EQ(ack.attrs.size(), 5u);
  EXPECT_EQ(ack.attrs[0].key, "id");
  EXPECT_EQ(ack.attrs[1].key, "to");
  EXPECT_EQ(ack.attrs[2].key, "class");
}

}  // namespace
}  // namespace wa::client
