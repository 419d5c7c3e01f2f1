// Messaging with companions through real Connections held in memory (test_companion.h): a test
// companion with its own wa::signal client uploads prekeys, receives and decrypts what phones
// send, acks it or not (offline queue, redelivery), sends with <participants> and gets the server
// ack, receipts, device notifications, presence and chat state — the exact stanzas on the wire.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>

#include "sim/message_wire.h"
#include "sim/test_companion.h"
#include "wa/proto/message.pb.h"
#include "wa/signal/address.h"
#include "wa/signal/memory_store.h"
#include "wa/signal/protocol.h"

namespace sim {
namespace {

namespace asio = boost::asio;
namespace crypto = wa::crypto;
using testing::FindNode;
using testing::TestCompanion;
using wa::binary::Jid;
using wa::binary::Node;

constexpr char kAlice[] = "15550001111";
constexpr char kBob[] = "15550002222";
constexpr std::uint32_t kCompanionRegistration = 1234;  // TestCompanion's e_regid

// A linked companion: its connection and its Signal client (the keys it registered with).
struct Companion {
  std::unique_ptr<TestCompanion> link;
  std::unique_ptr<wa::signal::MemoryStore> store;
  std::unique_ptr<wa::signal::Protocol> signal;
  std::vector<Node> seen;  // everything received so far
};

class WasimCompanionMessaging : public ::testing::Test {
 protected:
  WasimCompanionMessaging()
      : world_(ioc_.get_executor(), {.noise_root = crypto::GenerateKeyPair(),
                                     .idle_timeout = std::chrono::milliseconds(0)}) {
    for (const char* number : {kAlice, kBob}) {
      auto phone = world_.CreatePhone(number, number == std::string(kAlice) ? "Alice" : "Bob");
      EXPECT_TRUE(phone);
      identities_[number] = phone->identity_key;
    }
  }

  bool RunUntil(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      ioc_.run_for(std::chrono::milliseconds(2));
      if (ioc_.stopped()) ioc_.restart();
    }
    return true;
  }

  // Runs what is ready (the phones' answers travel through the event loop).
  void Settle() {
    ioc_.restart();
    while (ioc_.poll() > 0) {
    }
  }

  // Links a companion to `phone` by QR and logs it in on a second connection.
  void Link(Companion& c, const char* phone, std::uint16_t device) {
    auto reg = std::make_unique<TestCompanion>(world_, ioc_.get_executor(), next_conn_++);
    ASSERT_TRUE(reg->Register());
    auto nodes = reg->Receive();
    const Node* pd = FindNode(nodes, "iq", "pair-device");
    ASSERT_TRUE(pd);
    auto ref = pd->children()[0].children()[0].ContentText();
    ASSERT_TRUE(ref);
    std::string qr = std::string(*ref) + "," + base::ToBase64(reg->noise.public_key) + "," +
                     base::ToBase64(reg->identity.public_key) + "," +
                     base::ToBase64(reg->adv_secret) + ",1";
    auto outcome = std::make_shared<std::optional<ControlResult<std::string>>>();
    asio::co_spawn(ioc_, world_.Scan(phone, qr),
                   [outcome](std::exception_ptr, ControlResult<std::string> r) { *outcome = r; });
    const Node* ps = nullptr;
    std::vector<Node> got;
    ASSERT_TRUE(RunUntil([&] {
      for (auto& n : reg->Receive()) got.push_back(std::move(n));
      ps = FindNode(got, "iq", "pair-success");
      return ps != nullptr;
    }));
    Node reply;
    ASSERT_TRUE(reg->SignPairSuccess(*ps, identities_[phone], &reply));
    reg->Send(reply);
    ASSERT_TRUE(RunUntil([&] { return outcome->has_value(); }));
    ASSERT_TRUE(**outcome);
    reg->Close();
    c.link = std::make_unique<TestCompanion>(world_, ioc_.get_executor(), next_conn_++);
    c.link->noise = reg->noise;
    c.link->identity = reg->identity;
    c.link->signed_prekey = reg->signed_prekey;
    ASSERT_TRUE(c.link->Login(phone, device));
    ASSERT_TRUE(FindNode(c.link->Receive(), "success"));
    c.store = std::make_unique<wa::signal::MemoryStore>(reg->identity, kCompanionRegistration);
    wa::signal::SignedPreKey spk;
    spk.id = 1;
    spk.key_pair = reg->signed_prekey;
    spk.signature = crypto::Sign(reg->identity.private_key,
                                 testing::Cat({base::Bytes{0x05}, reg->signed_prekey.public_key}));
    ASSERT_TRUE(c.store->StoreSignedPreKey(spk));
    c.signal = std::make_unique<wa::signal::Protocol>(*c.store);
  }

  // Logs `c` in again on a new connection (same keys), as after a restart.
  void Relogin(Companion& c, const char* phone, std::uint16_t device) {
    auto next = std::make_unique<TestCompanion>(world_, ioc_.get_executor(), next_conn_++);
    next->noise = c.link->noise;
    next->identity = c.link->identity;
    next->signed_prekey = c.link->signed_prekey;
    c.link = std::move(next);
    ASSERT_TRUE(c.link->Login(phone, device));
  }

  // Uploads `count` one-time prekeys (ids from 1) as Baileys does after login (§1.2).
  void UploadPreKeys(Companion& c, std::size_t count) {
    Node::Children keys;
    for (const auto& key : wa::signal::GeneratePreKeys(1, count)) {
      ASSERT_TRUE(c.store->StorePreKey(key));
      auto id = wa::signal::EncodeKeyId(key.id);
      keys.push_back(Node("key", {},
                          {Node("id", {}, base::Bytes(id->begin(), id->end())),
                           Node("value", {}, testing::Cat({key.key_pair.public_key}))}));
    }
    auto spk = c.store->LoadSignedPreKey(1);
    auto reg = wa::signal::EncodeRegistrationId(kCompanionRegistration);
    c.link->Send(Node("iq",
                      {{"id", "up"}, {"xmlns", "encrypt"}, {"type", "set"}, {"to", Jid::Server()}},
                      {Node("registration", {}, base::Bytes(reg.begin(), reg.end())),
                       Node("type", {}, base::Bytes{0x05}),
                       Node("identity", {}, testing::Cat({c.link->identity.public_key})),
                       Node("list", {}, std::move(keys)),
                       Node("skey", {},
                            {Node("id", {}, base::Bytes{0, 0, 1}),
                             Node("value", {}, testing::Cat({(*spk)->key_pair.public_key})),
                             Node("signature", {}, testing::Cat({(*spk)->signature}))})}));
    auto result = Receive(c);
    const Node* iq = FindById(result, "up");
    ASSERT_TRUE(iq);
    ASSERT_EQ(iq->AttrOr("type"), "result");
  }

  std::vector<Node> Receive(Companion& c) {
    auto got = c.link->Receive();
    for (const auto& n : got) c.seen.push_back(n);
    return got;
  }

  static const Node* FindById(const std::vector<Node>& nodes, std::string_view id) {
    for (const auto& n : nodes) {
      if (n.AttrOr("id") == id) return &n;
    }
    return nullptr;
  }

  static std::vector<const Node*> Tagged(const std::vector<Node>& nodes, std::string_view tag) {
    std::vector<const Node*> out;
    for (const auto& n : nodes) {
      if (n.tag == tag) out.push_back(&n);
    }
    return out;
  }

  // Decrypts the single <enc> of a delivered message from `sender` (device `device`).
  std::optional<wa::proto::Message> Decrypt(Companion& c, const Node& message,
                                            const std::string& sender, std::uint32_t device) {
    const Node* enc = message.Child("enc");
    if (!enc) return std::nullopt;
    auto type = wa::signal::ParseEncType(enc->AttrOr("type"));
    auto address = wa::signal::Address::ForDevice(sender, wa::signal::Domain::kPn, device);
    auto plain = c.signal->Decrypt(*address, *type, *enc->ContentBytes());
    EXPECT_TRUE(plain) << (plain ? "" : plain.error().message());
    if (!plain) return std::nullopt;
    auto body = wire::Unpad(plain->plaintext);
    wa::proto::Message m;
    if (!body || !m.ParseFromArray(body->data(), static_cast<int>(body->size())))
      return std::nullopt;
    return m;
  }

  asio::io_context ioc_;
  World world_;
  std::map<std::string, crypto::Key32> identities_;
  std::uint64_t next_conn_ = 1;
};

TEST_F(WasimCompanionMessaging, CompanionDecryptsWhatAPhoneSendsAndItsReceiptIsTheAck) {
  Companion alice;
  Link(alice, kAlice, 1);
  UploadPreKeys(alice, PhoneClient::kLowPreKeys);
  auto sent = world_.SendText(kBob, kAlice, "hi companion");
  ASSERT_TRUE(sent);
  Settle();

  auto got = Receive(alice);
  const Node* message = FindById(got, sent->id);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->tag, "message");
  EXPECT_EQ(message->AttrOr("from"), "15550002222@s.whatsapp.net");
  EXPECT_TRUE(message->FindAttr("from")->is_jid());  // 01-connection.md §4.8
  EXPECT_EQ(message->AttrOr("type"), "text");
  EXPECT_EQ(message->AttrOr("notify"), "Bob");
  EXPECT_EQ(message->AttrOr("t"), std::to_string(sent->t));
  ASSERT_TRUE(message->Child("enc"));
  EXPECT_EQ(message->Child("enc")->AttrOr("type"), "pkmsg");
  EXPECT_EQ(message->Child("enc")->AttrOr("v"), "2");
  ASSERT_TRUE(message->Child("enc")->bytes());  // binary, never a string (§4.8)
  auto content = Decrypt(alice, *message, kBob, 0);
  ASSERT_TRUE(content);
  EXPECT_EQ(content->conversation(), "hi companion");
  EXPECT_EQ(content->message_context_info().message_secret().size(), 32u);

  // Bob's phone fetched Alice's companion bundle: one of the 5 prekeys is gone, and the server
  // said so because the stock fell below 5 (§1.3).
  const Node* low = nullptr;
  for (const Node* n : Tagged(got, "notification")) {
    if (n->AttrOr("type") == "encrypt") low = n;
  }
  ASSERT_TRUE(low);
  EXPECT_EQ(low->AttrOr("from"), "@s.whatsapp.net");
  ASSERT_TRUE(low->Child("count"));
  EXPECT_EQ(low->Child("count")->AttrOr("value"), "4");
  alice.link->Send(Node("iq",
                        {{"id", "c"}, {"xmlns", "encrypt"}, {"type", "get"}, {"to", Jid::Server()}},
                        {Node("count")}));
  auto count_nodes = Receive(alice);
  const Node* count = FindById(count_nodes, "c");
  ASSERT_TRUE(count);
  EXPECT_EQ(count->Child("count")->AttrOr("value"), "4");

  // Until the companion answers, the server keeps the message and the notification.
  EXPECT_EQ(world_.queue_depths().unacked, 2u);
  alice.link->Send(
      Node("receipt", {{"id", sent->id}, {"to", Jid::User(kBob)}, {"type", "inactive"}}));
  alice.link->Send(Node("ack", {{"id", std::string(low->AttrOr("id"))},
                                {"class", "notification"},
                                {"type", "encrypt"},
                                {"to", Jid::Server()}}));
  EXPECT_EQ(world_.queue_depths().unacked, 0u);
  auto ack_nodes = Receive(alice);
  const Node* ack = FindById(ack_nodes, sent->id);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->tag, "ack");
  EXPECT_EQ(ack->AttrOr("class"), "receipt");

  // Phone A got the message too, from its own decryption.
  auto inbox = world_.Inbox(kAlice, 0);
  ASSERT_TRUE(inbox);
  ASSERT_EQ(inbox->size(), 1u);
  EXPECT_EQ((*inbox)[0].text, "hi companion");
}

TEST_F(WasimCompanionMessaging, CorruptNextMessageBreaksExactlyOneDelivery) {
  Companion alice;
  Link(alice, kAlice, 1);
  UploadPreKeys(alice, 10);
  FaultRequest unknown;
  unknown.corrupt_next_message = FaultTarget{.phone = kAlice, .device = 7};
  EXPECT_EQ(world_.ApplyFaults(unknown).error().code, "device_not_found");
  FaultRequest corrupt;
  corrupt.corrupt_next_message = FaultTarget{.phone = kAlice, .device = 1};
  auto applied = world_.ApplyFaults(corrupt);
  ASSERT_TRUE(applied);
  EXPECT_EQ(applied->corruptions_pending, 1u);

  auto first = world_.SendText(kBob, kAlice, "broken");
  ASSERT_TRUE(first);
  Settle();
  auto got = Receive(alice);
  const Node* message = FindById(got, first->id);
  ASSERT_TRUE(message && message->Child("enc"));
  auto address = wa::signal::Address::ForDevice(kBob, wa::signal::Domain::kPn, 0);
  auto type = wa::signal::ParseEncType(message->Child("enc")->AttrOr("type"));
  auto plain = alice.signal->Decrypt(*address, *type, *message->Child("enc")->ContentBytes());
  ASSERT_FALSE(plain);
  // The phone itself got its own copy intact.
  auto inbox = world_.Inbox(kAlice, 0);
  ASSERT_TRUE(inbox);
  ASSERT_EQ(inbox->size(), 1u);
  EXPECT_EQ((*inbox)[0].text, "broken");

  // One-shot: the next message decrypts.
  auto second = world_.SendText(kBob, kAlice, "fine");
  ASSERT_TRUE(second);
  Settle();
  got = Receive(alice);
  message = FindById(got, second->id);
  ASSERT_TRUE(message);
  auto content = Decrypt(alice, *message, kBob, 0);
  ASSERT_TRUE(content);
  EXPECT_EQ(content->conversation(), "fine");
}

TEST_F(WasimCompanionMessaging, OfflineMessagesWaitForLoginAndComeBackUntilAcked) {
  Companion alice;
  Link(alice, kAlice, 1);
  UploadPreKeys(alice, 10);
  alice.link->Close();
  auto sent = world_.SendText(kBob, kAlice, "while offline");
  ASSERT_TRUE(sent);
  Settle();
  EXPECT_EQ(world_.queue_depths().messages, 1u);

  // Login: the backlog, marked offline, then <ib><offline count/>.
  Relogin(alice, kAlice, 1);
  auto got = Receive(alice);
  const Node* message = FindById(got, sent->id);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->AttrOr("offline"), "1");
  const Node* ib = FindNode(got, "ib");
  ASSERT_TRUE(ib && ib->Child("offline"));
  EXPECT_EQ(ib->Child("offline")->AttrOr("count"), "1");
  EXPECT_GT(ib - got.data(), message - got.data());
  EXPECT_EQ(world_.queue_depths().messages, 0u);

  // The connection drops before the companion acks: the message is queued again...
  alice.link->Close();
  EXPECT_EQ(world_.queue_depths().messages, 1u);
  Relogin(alice, kAlice, 1);
  got = Receive(alice);
  message = FindById(got, sent->id);
  ASSERT_TRUE(message);
  auto content = Decrypt(alice, *message, kBob, 0);
  ASSERT_TRUE(content);
  EXPECT_EQ(content->conversation(), "while offline");
  // ...until it is acked (a nack counts too: the device has seen it).
  alice.link->Send(Node("ack", {{"id", sent->id}, {"class", "message"}, {"to", Jid::User(kBob)}}));
  alice.link->Close();
  EXPECT_EQ(world_.queue_depths().messages, 0u);
  EXPECT_EQ(world_.queue_depths().unacked, 0u);
}

TEST_F(WasimCompanionMessaging, CompanionSendsThroughUsyncAndBundlesAndGetsAcksAndReceipts) {
  Companion alice;
  Link(alice, kAlice, 1);
  auto alice_info = world_.GetPhone(kAlice);
  auto bob_info = world_.GetPhone(kBob);

  // USync (§2.2): own account and the peer, devices and LIDs.
  alice.link->Send(
      Node("iq", {{"id", "u"}, {"xmlns", "usync"}, {"type", "get"}, {"to", Jid::Server()}},
           {Node("usync",
                 {{"context", "message"},
                  {"mode", "query"},
                  {"sid", "s1"},
                  {"last", "true"},
                  {"index", "0"}},
                 {Node("query", {}, {Node("devices", {{"version", "2"}}), Node("lid")}),
                  Node("list", {},
                       {Node("user", {{"jid", Jid::User(kAlice)}}),
                        Node("user", {{"jid", Jid::User(kBob)}})})})}));
  auto usync_result_nodes = Receive(alice);
  const Node* usync_result = FindById(usync_result_nodes, "u");
  ASSERT_TRUE(usync_result);
  const Node* users =
      usync_result->Child("usync") ? usync_result->Child("usync")->Child("list") : nullptr;
  ASSERT_TRUE(users);
  ASSERT_EQ(users->children().size(), 2u);
  const Node& a = users->children()[0];
  EXPECT_EQ(a.AttrOr("jid"), "15550001111@s.whatsapp.net");
  auto devices = a.Child("devices")->Child("device-list")->ChildrenByTag("device");
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_EQ(devices[0]->AttrOr("id"), "0");
  EXPECT_FALSE(devices[0]->HasAttr("key-index"));
  EXPECT_EQ(devices[1]->AttrOr("id"), "1");
  EXPECT_EQ(devices[1]->AttrOr("key-index"), "1");
  ASSERT_TRUE(a.Child("devices")->Child("key-index-list"));
  EXPECT_TRUE(a.Child("devices")->Child("key-index-list")->bytes());
  EXPECT_EQ(a.Child("lid")->AttrOr("val"), alice_info->lid);
  EXPECT_TRUE(a.Child("lid")->FindAttr("val")->is_jid());
  const Node& b = users->children()[1];
  EXPECT_EQ(b.Child("devices")->Child("device-list")->children().size(), 1u);
  EXPECT_EQ(b.Child("lid")->AttrOr("val"), bob_info->lid);

  // Bundles (§1.6), one by LID, one by PN, one for a device that does not exist.
  alice.link->Send(
      Node("iq", {{"id", "k"}, {"xmlns", "encrypt"}, {"type", "get"}, {"to", Jid::Server()}},
           {Node("key", {},
                 {Node("user", {{"jid", *Jid::Parse(bob_info->lid)}, {"reason", "identity"}}),
                  Node("user", {{"jid", Jid::User(kAlice)}}),
                  Node("user", {{"jid", Jid::User(kBob, 9)}})})}));
  auto bundles_nodes = Receive(alice);
  const Node* bundles = FindById(bundles_nodes, "k");
  ASSERT_TRUE(bundles && bundles->Child("list"));
  auto listed = bundles->Child("list")->ChildrenByTag("user");
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[0]->AttrOr("jid"), bob_info->lid);  // echoes the request
  EXPECT_EQ(listed[1]->AttrOr("jid"), "15550001111@s.whatsapp.net");
  EXPECT_EQ(listed[2]->Child("error")->AttrOr("code"), "404");
  for (int i = 0; i < 2; ++i) {
    const Node* u = listed[static_cast<std::size_t>(i)];
    for (const char* tag : {"registration", "type", "identity", "skey", "key"}) {
      ASSERT_TRUE(u->Child(tag)) << tag;
    }
    wa::signal::PreKeyBundle bundle;
    bundle.registration_id =
        *wa::signal::ParseRegistrationId(*u->Child("registration")->ContentBytes());
    bundle.identity_key = *wa::signal::ParseWireKey(*u->Child("identity")->ContentBytes());
    const Node* skey = u->Child("skey");
    bundle.signed_pre_key_id = *wa::signal::ParseKeyId(*skey->Child("id")->ContentBytes());
    bundle.signed_pre_key = *wa::signal::ParseWireKey(*skey->Child("value")->ContentBytes());
    bundle.signed_pre_key_signature =
        *wa::signal::ParseWireSignature(*skey->Child("signature")->ContentBytes());
    const Node* key = u->Child("key");
    bundle.pre_key =
        wa::signal::PreKeyPublic{*wa::signal::ParseKeyId(*key->Child("id")->ContentBytes()),
                                 *wa::signal::ParseWireKey(*key->Child("value")->ContentBytes())};
    // The phone's Signal identity is the account key that signed our ADV identity.
    EXPECT_EQ(bundle.identity_key, identities_[i == 0 ? kBob : kAlice]);
    auto address =
        wa::signal::Address::ForDevice(i == 0 ? kBob : kAlice, wa::signal::Domain::kPn, 0);
    ASSERT_TRUE(alice.signal->ProcessPreKeyBundle(*address, bundle));
  }

  // The message: to Bob's phone, and the DeviceSentMessage copy to Alice's own phone (§3.3).
  wa::proto::Message m;
  m.mutable_extended_text_message()->set_text("from the companion");
  wa::proto::Message copy;
  copy.mutable_device_sent_message()->set_destination_jid("15550002222@s.whatsapp.net");
  *copy.mutable_device_sent_message()->mutable_message() = m;
  auto encrypt = [&](const char* user, const wa::proto::Message& what) {
    auto address = wa::signal::Address::ForDevice(user, wa::signal::Domain::kPn, 0);
    auto enc = alice.signal->Encrypt(*address, wire::Pad(testing::ProtoBytes(what), 7));
    EXPECT_TRUE(enc);
    return Node("enc", {{"v", "2"}, {"type", std::string(wa::signal::EncType(enc->type))}},
                enc->ciphertext);
  };
  std::string id = wire::NewMessageId(kAlice);
  alice.link->Send(Node("message", {{"id", id}, {"to", Jid::User(kBob)}, {"type", "text"}},
                        {Node("participants", {},
                              {Node("to", {{"jid", Jid::User(kBob)}}, {encrypt(kBob, m)}),
                               Node("to", {{"jid", Jid::User(kAlice)}}, {encrypt(kAlice, copy)}),
                               Node("to", {{"jid", Jid::User(kAlice, 1)}},
                                    {encrypt(kAlice, copy)})}),  // itself: refused
                         Node("device-identity", {}, base::Bytes{1, 2, 3})}));

  // The server ack (§3.5): exactly id, class, from = the stanza's to, t.
  auto got = Receive(alice);
  const Node* ack = FindById(got, id);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->tag, "ack");
  ASSERT_EQ(ack->attrs.size(), 4u) << *ack;
  EXPECT_EQ(ack->AttrOr("class"), "message");
  EXPECT_EQ(ack->AttrOr("from"), "15550002222@s.whatsapp.net");
  EXPECT_TRUE(ack->FindAttr("from")->is_jid());
  EXPECT_FALSE(ack->AttrOr("t").empty());
  EXPECT_EQ(world_.messaging_stats().undeliverable, 1u);

  Settle();
  auto bob_inbox = world_.Inbox(kBob, 0);
  ASSERT_TRUE(bob_inbox);
  ASSERT_EQ(bob_inbox->size(), 1u);
  EXPECT_EQ((*bob_inbox)[0].text, "from the companion");
  EXPECT_EQ((*bob_inbox)[0].from_device, "15550001111:1@s.whatsapp.net");
  EXPECT_EQ((*bob_inbox)[0].enc, "pkmsg");
  auto alice_inbox = world_.Inbox(kAlice, 0);
  ASSERT_TRUE(alice_inbox);
  ASSERT_EQ(alice_inbox->size(), 1u);
  EXPECT_TRUE((*alice_inbox)[0].from_me);
  EXPECT_EQ((*alice_inbox)[0].chat, "15550002222@s.whatsapp.net");

  // Receipts (§4.4): Bob's delivery, then Alice's phone's `sender` receipt for its copy.
  got = Receive(alice);
  auto receipts = Tagged(got, "receipt");
  ASSERT_EQ(receipts.size(), 2u);
  const Node* sender = receipts[0]->AttrOr("type") == "sender" ? receipts[0] : receipts[1];
  const Node* delivery = sender == receipts[0] ? receipts[1] : receipts[0];
  EXPECT_EQ(delivery->AttrOr("id"), id);
  EXPECT_EQ(delivery->AttrOr("from"), "15550002222@s.whatsapp.net");
  EXPECT_FALSE(delivery->HasAttr("type"));
  EXPECT_EQ(sender->AttrOr("from"), "15550001111@s.whatsapp.net");
  EXPECT_EQ(sender->AttrOr("recipient"), "15550002222@s.whatsapp.net");

  ASSERT_TRUE(world_.MarkRead(kBob, {id}));
  Settle();
  got = Receive(alice);
  receipts = Tagged(got, "receipt");
  ASSERT_EQ(receipts.size(), 1u);
  EXPECT_EQ(receipts[0]->AttrOr("type"), "read");
  EXPECT_EQ(receipts[0]->AttrOr("from"), "15550002222@s.whatsapp.net");
  EXPECT_FALSE(receipts[0]->AttrOr("t").empty());
}

TEST_F(WasimCompanionMessaging, LinkingAndUnlinkingNotifyTheOtherDevices) {
  Companion first, second;
  Link(first, kAlice, 1);
  Link(second, kAlice, 2);
  auto got = Receive(first);
  auto notes = Tagged(got, "notification");
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0]->AttrOr("type"), "devices");
  EXPECT_EQ(notes[0]->AttrOr("from"), "15550001111@s.whatsapp.net");
  const Node* add = notes[0]->Child("add");
  ASSERT_TRUE(add);
  EXPECT_EQ(
      add->AttrOr("device_hash"),
      wire::ParticipantHashV2({Jid::User(kAlice), Jid::User(kAlice, 1), Jid::User(kAlice, 2)}));
  ASSERT_TRUE(add->Child("device"));
  EXPECT_EQ(add->Child("device")->AttrOr("jid"), "15550001111:2@s.whatsapp.net");
  EXPECT_EQ(add->Child("device")->AttrOr("key-index"), "2");
  EXPECT_TRUE(add->Child("key-index-list"));

  ASSERT_TRUE(world_.Unlink(kAlice, "15550001111:2@s.whatsapp.net"));
  got = Receive(first);
  notes = Tagged(got, "notification");
  ASSERT_EQ(notes.size(), 1u);
  const Node* remove = notes[0]->Child("remove");
  ASSERT_TRUE(remove);
  EXPECT_EQ(remove->AttrOr("device_hash"),
            wire::ParticipantHashV2({Jid::User(kAlice), Jid::User(kAlice, 1)}));
  EXPECT_EQ(remove->Child("device")->AttrOr("jid"), "15550001111:2@s.whatsapp.net");
}

TEST_F(WasimCompanionMessaging, PresenceAndChatStateReachConnectedDevices) {
  Companion alice, bob;
  Link(alice, kAlice, 1);
  Link(bob, kBob, 1);
  bob.link->Send(Node("presence", {{"type", "subscribe"}, {"to", Jid::User(kAlice)}}));
  auto got = Receive(bob);
  ASSERT_EQ(Tagged(got, "presence").size(), 1u);
  EXPECT_EQ(Tagged(got, "presence")[0]->AttrOr("from"), "15550001111@s.whatsapp.net");
  EXPECT_EQ(Tagged(got, "presence")[0]->AttrOr("type"), "unavailable");

  alice.link->Send(Node("presence", {{"type", "available"}, {"name", "Alice"}}));
  got = Receive(bob);
  ASSERT_EQ(Tagged(got, "presence").size(), 1u);
  EXPECT_FALSE(Tagged(got, "presence")[0]->HasAttr("type"));  // available

  alice.link->Send(Node("chatstate", {{"from", Jid::User(kAlice, 1)}, {"to", Jid::User(kBob)}},
                        {Node("composing")}));
  got = Receive(bob);
  auto states = Tagged(got, "chatstate");
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(states[0]->AttrOr("from"), "15550001111@s.whatsapp.net");
  ASSERT_EQ(states[0]->children().size(), 1u);
  EXPECT_EQ(states[0]->children()[0].tag, "composing");

  // Going away: subscribers learn it with a last-seen time.
  alice.link->Send(Node("presence", {{"type", "unavailable"}}));
  got = Receive(bob);
  ASSERT_EQ(Tagged(got, "presence").size(), 1u);
  EXPECT_EQ(Tagged(got, "presence")[0]->AttrOr("type"), "unavailable");
  EXPECT_FALSE(Tagged(got, "presence")[0]->AttrOr("last").empty());

  // Chat state is for connected devices only: nothing is queued for later.
  bob.link->Close();
  auto relayed = world_.messaging_stats().chatstates_relayed;
  alice.link->Send(Node("chatstate", {{"to", Jid::User(kBob)}}, {Node("paused")}));
  EXPECT_EQ(world_.messaging_stats().chatstates_relayed, relayed);
  auto q = world_.queue_depths();
  EXPECT_EQ(q.messages + q.receipts + q.notifications, 0u);
}

TEST_F(WasimCompanionMessaging, ContactQueryTellsWhoIsOnTheNetwork) {
  Companion alice;
  Link(alice, kAlice, 1);
  alice.link->Send(Node(
      "iq", {{"id", "c"}, {"xmlns", "usync"}, {"type", "get"}, {"to", Jid::Server()}},
      {Node(
          "usync",
          {{"context", "interactive"},
           {"mode", "query"},
           {"sid", "s"},
           {"last", "true"},
           {"index", "0"}},
          {Node("query", {}, {Node("contact")}),
           Node("list", {},
                {Node("user", {}, {Node("contact", {}, base::ToBytes("+15550002222"))}),
                 Node("user", {}, {Node("contact", {}, base::ToBytes("15557777777@c.us"))})})})}));
  auto result_nodes = Receive(alice);
  const Node* result = FindById(result_nodes, "c");
  ASSERT_TRUE(result);
  auto users = result->Child("usync")->Child("list")->ChildrenByTag("user");
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0]->AttrOr("jid"), "15550002222@s.whatsapp.net");
  EXPECT_EQ(users[0]->Child("contact")->AttrOr("type"), "in");
  EXPECT_EQ(users[0]->Child("contact")->ContentText(), "+15550002222");
  EXPECT_EQ(users[1]->AttrOr("jid"), "15557777777@s.whatsapp.net");
  EXPECT_EQ(users[1]->Child("contact")->AttrOr("type"), "out");
}


TEST_F(WasimCompanionMessaging, APhoneDropsAResentIdFromTheSameSenderAndCountsIt) {
  Companion alice;
  Link(alice, kAlice, 1);
  auto bob_address = wa::signal::Address::ForDevice(kBob, wa::signal::Domain::kPn, 0);
  ASSERT_TRUE(alice.signal->ProcessPreKeyBundle(*bob_address, world_.phone_client(kBob)->TakeBundle()));
  // Each send is a fresh encryption (a new ratchet step) of the same id, as the gateway's
  // resend after a crash: it decrypts, and the phone shows it once.
  auto send = [&](const std::string& id, const std::string& text) {
    wa::proto::Message m;
    m.set_conversation(text);
    auto enc = alice.signal->Encrypt(*bob_address, wire::Pad(testing::ProtoBytes(m), 3));
    ASSERT_TRUE(enc);
    alice.link->Send(Node(
        "message", {{"id", id}, {"to", Jid::User(kBob)}, {"type", "text"}},
        {Node("participants", {},
              {Node("to", {{"jid", Jid::User(kBob)}},
                    {Node("enc", {{"v", "2"}, {"type", std::string(wa::signal::EncType(enc->type))}},
                          enc->ciphertext)})})}));
    Receive(alice);
    Settle();
  };
  std::string first = wire::NewMessageId(kAlice);
  std::string second = wire::NewMessageId(kAlice);
  send(first, "once");
  send(first, "once");
  send(second, "other");
  send(first, "once");
  auto inbox = world_.Inbox(kBob, 0);
  ASSERT_TRUE(inbox);
  ASSERT_EQ(inbox->size(), 2u);
  EXPECT_EQ((*inbox)[0].id, first);
  EXPECT_EQ((*inbox)[1].id, second);
  EXPECT_EQ(world_.GetPhone(kBob)->duplicates, 2u);
  EXPECT_EQ(world_.messaging_stats().phone_duplicates, 2u);
  EXPECT_EQ(world_.messaging_stats().phone_decrypt_failures, 0u);
  EXPECT_EQ(world_.GetPhone(kAlice)->duplicates, 0u);
}

TEST_F(WasimCompanionMessaging, APhoneRecordsTheChatStatesItReceives) {
  Companion alice;
  Link(alice, kAlice, 1);
  EXPECT_TRUE(world_.ChatStates(kBob)->empty());
  auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  alice.link->Send(Node("chatstate", {{"to", Jid::User(kBob)}}, {Node("composing")}));
  alice.link->Send(Node("chatstate", {{"to", Jid::User(kBob)}}, {Node("paused")}));
  alice.link->Send(
      Node("chatstate", {{"to", Jid::User(kBob)}}, {Node("composing", {{"media", "audio"}})}));
  // To oneself: not recorded (nor relayed).
  alice.link->Send(Node("chatstate", {{"to", Jid::User(kAlice)}}, {Node("composing")}));
  Settle();
  auto states = world_.ChatStates(kBob);
  ASSERT_TRUE(states);
  ASSERT_EQ(states->size(), 3u);
  std::vector<std::string> seen;
  for (const auto& s : *states) {
    EXPECT_EQ(s.from, "15550001111@s.whatsapp.net");
    EXPECT_GE(s.timestamp_ms, before);
    seen.push_back(s.state);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"composing", "paused", "recording"}));
  EXPECT_LE((*states)[0].timestamp_ms, (*states)[2].timestamp_ms);
  EXPECT_TRUE(world_.ChatStates(kAlice)->empty());
  EXPECT_EQ(world_.ChatStates("19999999999").error().code, "phone_not_found");

  // Bounded: the oldest go first.
  for (std::size_t i = 0; i < PhoneClient::kChatStateLimit; ++i) {
    alice.link->Send(Node("chatstate", {{"to", Jid::User(kBob)}}, {Node("paused")}));
  }
  Settle();
  states = world_.ChatStates(kBob);
  ASSERT_EQ(states->size(), PhoneClient::kChatStateLimit);
  EXPECT_EQ(states->front().state, "paused");
}

}  // namespace
}  // namespace sim
