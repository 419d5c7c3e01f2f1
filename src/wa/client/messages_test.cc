// The pure messaging helpers against Baileys 7.0.0-rc14's vectors (message-proto.json: message
// id v2, padding, text encodings) and hand-made server answers shaped like wasim's.
#include "wa/client/messages.h"

#include <gtest/gtest.h>

#include <set>

#include "wa/client/errors.h"
#include "wa/client/test_util.h"
#include "wa/signal/keys.h"

namespace wa::client {
namespace {

using testing::Hex;
using testing::LoadVector;

const boost::json::value& NamedMessage(const boost::json::value& file, std::string_view name) {
  for (const auto& m : file.at("messages").as_array()) {
    if (m.at("name").as_string() == name) return m;
  }
  ADD_FAILURE() << "no vector " << name;
  static const boost::json::value kNull;
  return kNull;
}

std::string Serialize(const proto::Message& m) {
  std::string out;
  EXPECT_TRUE(m.SerializeToString(&out));
  return out;
}

TEST(MessageId, MatchesBaileysV2Vector) {
  auto v = LoadVector("message-proto.json").at("message_id_v2").at("example");
  std::string id = MessageIdV2(std::string(v.at("user").as_string()), v.at("unix_seconds").as_int64(),
                               Hex(v.at("random_hex")));
  EXPECT_EQ(id, v.at("id").as_string());
}

TEST(MessageId, FreshIdsHaveTheReferenceShapeAndDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string id = NewMessageId("15550001111", 1700000000);
    ASSERT_EQ(id.size(), 22u);
    EXPECT_EQ(id.substr(0, 4), "3EB0");
    for (char c : id) EXPECT_TRUE(std::isdigit(c) || (c >= 'A' && c <= 'F')) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
  // A user longer than the 20-byte slot is cut by the random bytes, as in Baileys; still valid.
  EXPECT_EQ(NewMessageId("123456789012345678901234", 1).size(), 22u);
}

TEST(Padding, MatchesTheVectorAndRoundTrips) {
  auto v = LoadVector("message-proto.json").at("padding");
  auto random = Hex(v.at("example_random_byte_hex"));
  auto padded = PadMessage(Hex(v.at("unpadded_hex")), random[0]);
  EXPECT_EQ(padded, Hex(v.at("padded_hex")));
  EXPECT_EQ(padded.size() - Hex(v.at("unpadded_hex")).size(),
            static_cast<std::size_t>(v.at("pad_len").as_int64()));
  for (int r = 0; r < 256; ++r) {
    base::Bytes body{1, 2, 3};
    auto p = PadMessage(body, static_cast<std::uint8_t>(r));
    std::size_t n = p.size() - body.size();
    EXPECT_GE(n, 1u);
    EXPECT_LE(n, 16u);
    auto back = UnpadMessage(p);
    ASSERT_TRUE(back);
    EXPECT_EQ(base::Bytes(back->begin(), back->end()), body);
  }
}

TEST(Padding, UnpadIsStrict) {
  EXPECT_FALSE(UnpadMessage({}));
  EXPECT_FALSE(UnpadMessage(base::Bytes{1, 2, 0}));        // N = 0
  EXPECT_FALSE(UnpadMessage(base::Bytes{1, 5}));           // N > length
  EXPECT_FALSE(UnpadMessage(base::Bytes{1, 2, 3, 1, 3, 3}));  // not all equal to N
  auto whole = UnpadMessage(base::Bytes{2, 2});            // all padding: empty message
  ASSERT_TRUE(whole);
  EXPECT_TRUE(whole->empty());
}

TEST(Recipient, PhonesAndJids) {
  EXPECT_EQ(ParseRecipient("15550001111")->ToString(), "15550001111@s.whatsapp.net");
  EXPECT_EQ(ParseRecipient("+1 555-000-1111")->ToString(), "15550001111@s.whatsapp.net");
  EXPECT_EQ(ParseRecipient("15550001111@s.whatsapp.net")->ToString(), "15550001111@s.whatsapp.net");
  EXPECT_EQ(ParseRecipient("15550001111:3@s.whatsapp.net")->ToString(),
            "15550001111@s.whatsapp.net");
  EXPECT_EQ(ParseRecipient("15550001111@c.us")->ToString(), "15550001111@s.whatsapp.net");
  EXPECT_EQ(ParseRecipient("246595422485243@lid")->ToString(), "246595422485243@lid");
  for (const char* bad : {"", "+", "0123456789", "12345", "120363000000000000@g.us",
                          "status@broadcast", "abc@s.whatsapp.net", "@s.whatsapp.net"}) {
    EXPECT_EQ(ParseRecipient(bad).error(), Errc::kInvalidRecipient) << bad;
  }
}

TEST(Usync, DeviceQueryShape) {
  std::vector<Jid> users{Jid::User("15550002222"), Jid::User("15550001111")};
  Node iq = UsyncDevicesQuery(users, "sid-1");
  EXPECT_EQ(iq.AttrOr("xmlns"), "usync");
  EXPECT_EQ(iq.AttrOr("type"), "get");
  const Node* usync = iq.Child("usync");
  ASSERT_TRUE(usync);
  EXPECT_EQ(usync->AttrOr("context"), "message");
  EXPECT_EQ(usync->AttrOr("sid"), "sid-1");
  ASSERT_TRUE(usync->Child("query") && usync->Child("query")->Child("devices"));
  EXPECT_EQ(usync->Child("query")->Child("devices")->AttrOr("version"), "2");
  EXPECT_TRUE(usync->Child("query")->Child("lid"));
  auto listed = usync->Child("list")->ChildrenByTag("user");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0]->AttrOr("jid"), "15550002222@s.whatsapp.net");
}

Node DevicesAnswer() {
  auto device = [](const char* id, const char* key_index) {
    Node d("device", {{"id", id}});
    if (key_index) d.SetAttr("key-index", key_index);
    return d;
  };
  Node alice("user", {{"jid", Jid::User("15550001111")}},
             Node::Children{Node("devices", {},
                                 Node::Children{Node("device-list", {},
                                                     Node::Children{device("0", nullptr),
                                                                    device("3", "1"),
                                                                    device("5", nullptr)}),
                                                Node("key-index-list", {{"ts", "1700000123"}})}),
                            Node("lid", {{"val", Jid::Lid("246595422485243")}})});
  Node failed("user", {{"jid", Jid::User("15550003333")}},
              Node::Children{Node("devices", {},
                                  Node::Children{Node("error", {{"code", "404"}})})});
  return Node("iq", {{"type", "result"}},
              Node::Children{Node("usync", {},
                                  Node::Children{Node("list", {}, Node::Children{alice, failed})})});
}

TEST(Usync, ParsesDevicesAndLidsAndSkipsCompanionsWithoutKeyIndex) {
  auto parsed = ParseUsyncDevices(DevicesAnswer());
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->size(), 1u);  // the user with an <error> is left out
  EXPECT_EQ((*parsed)[0].user.ToString(), "15550001111@s.whatsapp.net");
  EXPECT_EQ((*parsed)[0].devices, (std::vector<std::uint16_t>{0, 3}));
  ASSERT_TRUE((*parsed)[0].lid);
  EXPECT_EQ((*parsed)[0].lid->ToString(), "246595422485243@lid");
  EXPECT_EQ((*parsed)[0].key_index_ts, 1700000123);
  EXPECT_FALSE(ParseUsyncDevices(Node("iq")));
}

TEST(Usync, ContactQueryAndAnswer) {
  std::vector<std::string> phones{"15550002222", "15557777777"};
  Node iq = UsyncContactQuery(phones, "s");
  auto users = iq.Child("usync")->Child("list")->ChildrenByTag("user");
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0]->Child("contact")->ContentText(), "+15550002222");
  Node answer(
      "iq", {{"type", "result"}},
      Node::Children{Node(
          "usync", {},
          Node::Children{Node(
              "list", {},
              Node::Children{
                  Node("user", {{"jid", Jid::User("15550002222")}},
                       Node::Children{Node("contact", {{"type", "in"}}, base::ToBytes("+15550002222"))}),
                  Node("user", {{"jid", Jid::User("15557777777")}},
                       Node::Children{Node("contact", {{"type", "out"}})})})})});
  auto parsed = ParseUsyncContacts(answer, phones);
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].phone, "15550002222");
  EXPECT_TRUE((*parsed)[0].exists);
  EXPECT_EQ((*parsed)[1].phone, "15557777777");  // by position: no echo
  EXPECT_FALSE((*parsed)[1].exists);
}

Node BundleUser(const Jid& jid, const signal::PreKeyBundle& b, bool with_key) {
  auto reg = signal::EncodeRegistrationId(b.registration_id);
  auto sid = signal::EncodeKeyId(b.signed_pre_key_id);
  Node::Children children{
      Node("registration", {}, base::Bytes(reg.begin(), reg.end())),
      Node("type", {}, base::Bytes{5}),
      Node("identity", {}, base::Bytes(b.identity_key.begin(), b.identity_key.end())),
      Node("skey", {},
           Node::Children{Node("id", {}, base::Bytes(sid->begin(), sid->end())),
                          Node("value", {}, base::Bytes(b.signed_pre_key.begin(), b.signed_pre_key.end())),
                          Node("signature", {},
                               base::Bytes(b.signed_pre_key_signature.begin(),
                                           b.signed_pre_key_signature.end()))})};
  if (with_key) {
    auto kid = signal::EncodeKeyId(b.pre_key->id);
    children.push_back(Node("key", {},
                            Node::Children{Node("id", {}, base::Bytes(kid->begin(), kid->end())),
                                           Node("value", {},
                                                base::Bytes(b.pre_key->public_key.begin(),
                                                            b.pre_key->public_key.end()))}));
  }
  return Node("user", {{"jid", jid}}, std::move(children));
}

TEST(Bundles, QueryAndAnswer) {
  std::vector<Jid> devices{Jid::User("15550002222"), Jid::User("15550001111", 3)};
  Node iq = PreKeyBundleQuery(devices, true);
  EXPECT_EQ(iq.AttrOr("xmlns"), "encrypt");
  auto users = iq.Child("key")->ChildrenByTag("user");
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[1]->AttrOr("jid"), "15550001111:3@s.whatsapp.net");
  EXPECT_EQ(users[1]->AttrOr("reason"), "identity");
  EXPECT_FALSE(PreKeyBundleQuery(devices, false).Child("key")->children()[0].HasAttr("reason"));

  signal::PreKeyBundle b;
  b.registration_id = 4321;
  b.signed_pre_key_id = 0x010203;
  b.signed_pre_key.fill(7);
  b.signed_pre_key_signature.fill(8);
  b.identity_key.fill(9);
  b.pre_key = signal::PreKeyPublic{77, {}};
  b.pre_key->public_key.fill(10);
  Node answer("iq", {{"type", "result"}},
              Node::Children{Node(
                  "list", {},
                  Node::Children{BundleUser(devices[0], b, true),
                                 BundleUser(devices[1], b, false),
                                 Node("user", {{"jid", Jid::User("15550001111", 9)}},
                                      Node::Children{Node("error", {{"code", "404"}})})})});
  auto parsed = ParsePreKeyBundles(answer);
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->size(), 3u);
  ASSERT_TRUE((*parsed)[0].bundle);
  EXPECT_EQ((*parsed)[0].bundle->registration_id, 4321u);
  EXPECT_EQ((*parsed)[0].bundle->signed_pre_key_id, 0x010203u);
  EXPECT_EQ((*parsed)[0].bundle->identity_key, b.identity_key);
  ASSERT_TRUE((*parsed)[0].bundle->pre_key);
  EXPECT_EQ((*parsed)[0].bundle->pre_key->id, 77u);
  ASSERT_TRUE((*parsed)[1].bundle);
  EXPECT_EQ((*parsed)[1].bundle->device_id, 3u);
  EXPECT_FALSE((*parsed)[1].bundle->pre_key);
  EXPECT_FALSE((*parsed)[2].bundle);
  // A retry receipt's <keys> has no <registration>: it comes from the receipt.
  Node keys = BundleUser(devices[0], b, true);
  keys.mutable_children()->erase(keys.mutable_children()->begin());
  EXPECT_FALSE(ParseBundle(keys, std::nullopt, 0));
  auto from_keys = ParseBundle(keys, 99u, 2);
  ASSERT_TRUE(from_keys);
  EXPECT_EQ(from_keys->registration_id, 99u);
  EXPECT_EQ(from_keys->device_id, 2u);
  // A malformed identity key.
  Node bad = BundleUser(devices[0], b, true);
  (*bad.mutable_children())[2] = Node("identity", {}, base::Bytes{1, 2, 3});
  EXPECT_FALSE(ParseBundle(bad, std::nullopt, 0));
}

TEST(TextMessage, ReplyWithMentionMatchesBaileysEncoding) {
  auto file = LoadVector("message-proto.json");
  const auto& v = NamedMessage(file, "extended_text_reply_mention");
  TextExtras extras;
  extras.quoted = QuotedMessage{"3EB0AABBCCDDEEFF001122", "15550001111@s.whatsapp.net",
                                "Are you there?"};
  extras.mentions = {"15550001111@s.whatsapp.net"};
  auto m = BuildTextMessage("@15550001111 yes", extras, {});
  EXPECT_EQ(base::ToHex(base::ToBytes(Serialize(m))), v.at("hex").as_string());
  auto read = ReadTextContent(m);
  EXPECT_EQ(read.text, "@15550001111 yes");
  ASSERT_TRUE(read.extras.quoted);
  EXPECT_EQ(read.extras.quoted->id, "3EB0AABBCCDDEEFF001122");
  EXPECT_EQ(read.extras.quoted->participant, "15550001111@s.whatsapp.net");
  EXPECT_EQ(read.extras.quoted->text, "Are you there?");
  EXPECT_EQ(read.extras.mentions, extras.mentions);
}

TEST(TextMessage, PlainTextAndSecretMatchBaileysEncoding) {
  auto file = LoadVector("message-proto.json");
  auto plain = BuildTextMessage("Hello", {}, {});
  EXPECT_EQ(base::ToHex(base::ToBytes(Serialize(plain))),
            NamedMessage(file, "extended_text_plain").at("hex").as_string());
  base::Bytes secret(32, 0x11);
  auto with_secret = BuildTextMessage("Hello", {}, secret);
  EXPECT_EQ(base::ToHex(base::ToBytes(Serialize(with_secret))),
            NamedMessage(file, "extended_text_with_secret").at("hex").as_string());
}

TEST(TextMessage, ConversationAndDeviceSentCopy) {
  auto file = LoadVector("message-proto.json");
  proto::Message conversation;
  auto bytes = Hex(NamedMessage(file, "conversation").at("hex"));
  ASSERT_TRUE(conversation.ParseFromString(std::string(bytes.begin(), bytes.end())));
  EXPECT_EQ(ReadTextContent(conversation).text, "Hello");
  EXPECT_FALSE(ReadTextContent(conversation).extras.quoted);

  auto dsm = WrapDeviceSent(conversation, Jid::User("15550001111"));
  EXPECT_EQ(base::ToHex(base::ToBytes(Serialize(dsm))),
            NamedMessage(file, "device_sent_message").at("hex").as_string());
  auto with_secret = WrapDeviceSent(BuildTextMessage("x", {}, base::Bytes(32, 1)),
                                    Jid::User("15550001111"));
  EXPECT_EQ(with_secret.message_context_info().message_secret().size(), 32u);
}

TEST(Receipts, TypeNames) {
  EXPECT_EQ(ParseReceiptType(""), ReceiptType::kDelivered);
  EXPECT_EQ(ParseReceiptType("read"), ReceiptType::kRead);
  EXPECT_EQ(ParseReceiptType("read-self"), ReceiptType::kReadSelf);
  EXPECT_EQ(ParseReceiptType("played"), ReceiptType::kPlayed);
  EXPECT_EQ(ParseReceiptType("sender"), ReceiptType::kSender);
  EXPECT_EQ(ParseReceiptType("retry"), ReceiptType::kRetry);
  EXPECT_EQ(ParseReceiptType("inactive"), ReceiptType::kInactive);
  EXPECT_EQ(ParseReceiptType("hist_sync"), ReceiptType::kOther);
  EXPECT_EQ(ToString(ReceiptType::kReadSelf), "read-self");
}

}  // namespace
}  // namespace wa::client
