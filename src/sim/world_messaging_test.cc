// Two simulated phones in one World, no sockets: what one sends is really encrypted for the
// other's device 0 and really decrypted there, with pkmsg first and msg once both sides spoke.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "sim/phone.h"
#include "sim/world.h"
#include "wa/signal/address.h"

namespace sim {
namespace {

constexpr const char* kAlice = "15550001111";
constexpr const char* kBob = "15550002222";

class WasimMessaging : public ::testing::Test {
 protected:
  WasimMessaging()
      : world_(ioc_.get_executor(), {.noise_root = wa::crypto::GenerateKeyPair(),
                                     .idle_timeout = std::chrono::milliseconds(0)}) {
    EXPECT_TRUE(world_.CreatePhone(kAlice, "Alice"));
    EXPECT_TRUE(world_.CreatePhone(kBob, "Bob"));
  }

  // Runs what the phones do in answer (they get stanzas through the event loop) until idle.
  void Settle() {
    ioc_.restart();
    ioc_.run();
  }

  std::string Send(const char* from, const std::string& to, const std::string& text) {
    auto sent = world_.SendText(from, to, text);
    EXPECT_TRUE(sent) << (sent ? "" : sent.error().code);
    Settle();
    return sent ? sent->id : std::string();
  }

  std::vector<InboxEntry> InboxOf(const char* number) {
    auto inbox = world_.Inbox(number, 0);
    EXPECT_TRUE(inbox);
    return inbox ? *inbox : std::vector<InboxEntry>{};
  }

  std::string EncOf(const std::string& id) {
    const RoutedMessage* routed = world_.FindRouted(id);
    if (!routed || routed->deliveries.size() != 1) return "?";
    return routed->deliveries[0].enc;
  }

  boost::asio::io_context ioc_;
  World world_;
};

TEST_F(WasimMessaging, PhonesExchangeEncryptedTextPkmsgFirstThenMsg) {
  EXPECT_EQ(world_.phone_client(kBob)->uploaded_pre_keys(), 0u);  // made on first demand
  auto first = Send(kAlice, kBob, "hello Bob");
  // One of Bob's one-time prekeys went into Alice's session.
  EXPECT_EQ(world_.phone_client(kBob)->uploaded_pre_keys(), PhoneClient::kPreKeyBatch - 1);
  auto reply = Send(kBob, kAlice, "hi Alice");
  auto second = Send(kAlice, "15550002222@s.whatsapp.net", "how are you?");

  auto bob = InboxOf(kBob);
  ASSERT_EQ(bob.size(), 2u);
  EXPECT_EQ(bob[0].id, first);
  EXPECT_EQ(bob[0].text, "hello Bob");
  EXPECT_EQ(bob[0].from, "15550001111@s.whatsapp.net");
  EXPECT_EQ(bob[0].from_device, "15550001111@s.whatsapp.net");
  EXPECT_EQ(bob[0].enc, "pkmsg");
  EXPECT_FALSE(bob[0].from_me);
  EXPECT_EQ(bob[1].text, "how are you?");
  EXPECT_EQ(bob[1].enc, "msg");
  auto alice = InboxOf(kAlice);
  ASSERT_EQ(alice.size(), 1u);
  EXPECT_EQ(alice[0].id, reply);
  EXPECT_EQ(alice[0].text, "hi Alice");
  EXPECT_EQ(alice[0].enc, "msg");  // Bob answers on the session Alice's pkmsg built

  // What the server saw on the way.
  EXPECT_EQ(EncOf(first), "pkmsg");
  EXPECT_EQ(EncOf(reply), "msg");
  EXPECT_EQ(EncOf(second), "msg");
  const auto& stats = world_.messaging_stats();
  EXPECT_EQ(stats.messages_routed, 3u);
  EXPECT_EQ(stats.enc_pkmsg, 1u);
  EXPECT_EQ(stats.enc_msg, 2u);
  EXPECT_EQ(stats.receipts_routed, 3u);  // one delivery receipt per message
  EXPECT_EQ(stats.phone_decrypt_failures, 0u);
  EXPECT_EQ(stats.retry_receipts, 0u);
}

TEST_F(WasimMessaging, LidAddressingReachesTheSameAccount) {
  auto bob = world_.GetPhone(kBob);
  ASSERT_TRUE(bob);
  Send(kAlice, bob->lid, "by lid");
  auto inbox = InboxOf(kBob);
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].text, "by lid");
  EXPECT_EQ(inbox[0].from, "15550001111@s.whatsapp.net");
}

TEST_F(WasimMessaging, ReadReceiptsAreRoutedForReceivedIdsOnly) {
  auto a = Send(kAlice, kBob, "one");
  auto b = Send(kAlice, kBob, "two");
  auto before = world_.messaging_stats().receipts_routed;
  auto read = world_.MarkRead(kBob, {a, b});
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, 1u);  // both ids batched in one receipt to Alice
  Settle();
  EXPECT_EQ(world_.messaging_stats().receipts_routed, before + 1);

  auto unknown = world_.MarkRead(kBob, {"3EB0NOPE"});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "message_not_found");
  EXPECT_EQ(world_.MarkRead(kBob, {}).error().code, "invalid_ids");
}

TEST_F(WasimMessaging, RetryReceiptsRebuildALostSession) {
  Send(kAlice, kBob, "first");
  Send(kBob, kAlice, "answer");
  // Bob loses his session with Alice's phone: her next msg cannot be decrypted. His first retry
  // receipt carries no keys (Alice re-encrypts on the same session, which fails again), the
  // second carries a fresh bundle, from which Alice builds a new session: a pkmsg gets through.
  auto address = wa::signal::Address::ForDevice(kAlice, wa::signal::Domain::kPn, 0);
  ASSERT_TRUE(address);
  ASSERT_TRUE(world_.phone_client(kBob)->protocol().DeleteSession(*address));
  auto lost = Send(kAlice, kBob, "lost and found");

  EXPECT_EQ(world_.messaging_stats().phone_decrypt_failures, 2u);
  EXPECT_EQ(world_.messaging_stats().retry_receipts, 2u);
  auto inbox = InboxOf(kBob);
  ASSERT_EQ(inbox.size(), 2u);
  EXPECT_EQ(inbox[1].id, lost);
  EXPECT_EQ(inbox[1].text, "lost and found");
  EXPECT_EQ(inbox[1].enc, "pkmsg");
  const RoutedMessage* routed = world_.FindRouted(lost);
  ASSERT_TRUE(routed);
  ASSERT_EQ(routed->deliveries.size(), 3u);  // the send and two re-sends
  EXPECT_EQ(routed->deliveries[2].enc, "pkmsg");
}

TEST_F(WasimMessaging, BadSendsAreProblems) {
  EXPECT_EQ(world_.SendText("19999999999", kBob, "x").error().code, "phone_not_found");
  EXPECT_EQ(world_.SendText(kAlice, "15557777777", "x").error().code, "recipient_not_found");
  EXPECT_EQ(world_.SendText(kAlice, "15550002222:3@s.whatsapp.net", "x").error().code,
            "invalid_recipient");
  EXPECT_EQ(world_.SendText(kAlice, "not a jid", "x").error().code, "invalid_recipient");
  EXPECT_EQ(world_.SendText(kAlice, kBob, "").error().code, "invalid_text");
  EXPECT_EQ(world_.Inbox("19999999999", 0).error().code, "phone_not_found");
  EXPECT_EQ(world_.messaging_stats().messages_routed, 0u);
}

TEST_F(WasimMessaging, InboxFiltersBySince) {
  Send(kAlice, kBob, "old");
  auto inbox = InboxOf(kBob);
  ASSERT_EQ(inbox.size(), 1u);
  auto later = world_.Inbox(kBob, inbox[0].received_ms + 1);
  ASSERT_TRUE(later);
  EXPECT_TRUE(later->empty());
  auto same = world_.Inbox(kBob, inbox[0].received_ms);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->size(), 1u);
}


// The phone's duplicate window is its inbox: a resend is dropped while the first copy is held,
// the same id from another sender is another message, and an id evicted from the inbox no
// longer counts as seen.
TEST(PhoneClientInbox, DropsResentIdsPerSenderWithinTheInbox) {
  PhoneClient phone(wa::crypto::GenerateKeyPair());
  auto entry = [](std::string from, std::string id) {
    InboxEntry e;
    e.from = std::move(from);
    e.id = std::move(id);
    return e;
  };
  EXPECT_TRUE(phone.AddInbox(entry("1@s.whatsapp.net", "A")));
  EXPECT_FALSE(phone.AddInbox(entry("1@s.whatsapp.net", "A")));
  EXPECT_TRUE(phone.AddInbox(entry("2@s.whatsapp.net", "A")));
  EXPECT_EQ(phone.duplicates(), 1u);
  EXPECT_EQ(phone.inbox().size(), 2u);
  EXPECT_TRUE(phone.HasReceived("1@s.whatsapp.net", "A"));
  EXPECT_FALSE(phone.HasReceived("1@s.whatsapp.net", "B"));

  for (std::size_t i = 0; i < PhoneClient::kInboxLimit; ++i) {
    ASSERT_TRUE(phone.AddInbox(entry("3@s.whatsapp.net", std::to_string(i))));
  }
  EXPECT_EQ(phone.inbox().size(), PhoneClient::kInboxLimit);
  EXPECT_FALSE(phone.HasReceived("1@s.whatsapp.net", "A"));  // evicted
  EXPECT_TRUE(phone.AddInbox(entry("1@s.whatsapp.net", "A")));
  EXPECT_FALSE(phone.AddInbox(entry("3@s.whatsapp.net", "5")));
  EXPECT_EQ(phone.duplicates(), 2u);
}

}  // namespace
}  // namespace sim
