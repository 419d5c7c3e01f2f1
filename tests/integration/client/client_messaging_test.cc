// wa::client::Client messaging against a real wasim process: a linked client and a second phone
// (the peer) exchange 1,000 messages each way with nothing lost, duplicated or reordered, also
// across a dropped connection; a message that the other side cannot decrypt once (wasim's
// corrupt_next_message fault) arrives after a retry round in both directions; two linked clients
// exchange a reply with mentions and read receipts; OnWhatsApp; chat state.
//
// The peer phone sends through the control API (POST /v1/phones/{p}/messages) and what it
// received is read back with GET /v1/phones/{p}/messages.
#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "wa/client/client.h"
#include "wa/client/errors.h"
#include "wa/client/messages.h"
#include "wasim_fixture.h"

namespace wa::itest {
namespace {

using namespace std::chrono_literals;

constexpr int kCount = 1000;

class MessagingTest : public LinkedTest {
 protected:
  void SetUp() override {
    LinkedTest::SetUp();
    if (HasFatalFailure()) return;
    Link(MakeConfig(false));
    if (HasFatalFailure()) return;
    peer_ = NewPhone();
    device_id_ = std::stoi(jid_.substr(jid_.find(':') + 1));
  }

  std::unique_ptr<Client> StartClient(Device& device, Recorder& events) {
    auto c = MakeClient(device, events, MakeConfig(false));
    c->Start();
    EXPECT_TRUE(events.Wait<client::Connected>()) << events.Log();
    return c;
  }

  // The phone `from` sends `text` to `to`; returns the message id ("" on failure).
  std::string PhoneSends(const std::string& from, const std::string& to, const std::string& text) {
    auto r = wasim_->Control("POST", "/v1/phones/" + from + "/messages",
                             json::object{{"to", to}, {"text", text}});
    EXPECT_EQ(r.status, 201) << r.body;
    auto v = r.Json();
    return v.is_object() && v.as_object().contains("id") ? std::string(v.at("id").as_string())
                                                         : std::string();
  }

  // What the phone received and decrypted, oldest first.
  std::vector<json::object> Inbox(const std::string& phone) {
    auto r = wasim_->Control("GET", "/v1/phones/" + phone + "/messages");
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<json::object> out;
    auto v = r.Json();
    if (!v.is_array()) return out;
    for (const auto& m : v.as_array()) out.push_back(m.as_object());
    return out;
  }

  // Polls the inbox of `phone` until `done` holds for it (or 60 s pass).
  bool WaitInbox(const std::string& phone,
                 const std::function<bool(const std::vector<json::object>&)>& done) {
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done(Inbox(phone))) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  static std::vector<json::object> FromCompanion(const std::vector<json::object>& inbox,
                                                 const std::string& prefix) {
    std::vector<json::object> out;
    for (const auto& m : inbox) {
      if (std::string(m.at("text").as_string()).rfind(prefix, 0) == 0) out.push_back(m);
    }
    return out;
  }

  void Fault(const json::object& body) {
    auto r = wasim_->Control("POST", "/v1/faults", body);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  // Sends `text` with a fixed id until the server has it: a send that failed before the stanza
  // left is repeated; one whose fate is unknown (connection lost before the ack) is repeated
  // only when the peer phone did not get it. Returns false after 60 s.
  bool SendSurely(Client& c, Recorder& events, const std::string& text, const std::string& id) {
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
      client::SendTextRequest request;
      request.to = peer_;
      request.text = text;
      request.id = id;
      auto r = thread_.Await(c.SendText(request));
      if (r) return true;
      if (r.error() == client::Errc::kDisconnected || r.error() == client::Errc::kTimeout) {
        // Wait for the next login, then ask the phone.
        auto connected = events.Count<client::Connected>();
        events.WaitCount<client::Connected>(connected + 1, 20s);
        for (const auto& m : Inbox(peer_)) {
          if (m.at("id").as_string() == id) return true;
        }
        continue;
      }
      std::this_thread::sleep_for(20ms);  // not connected: the stanza never left
    }
    return false;
  }

  // Links a second client device to `phone`; its first client is stopped.
  std::unique_ptr<Device> LinkDevice(const std::string& phone) {
    auto device = std::make_unique<Device>(Credentials::New());
    EXPECT_TRUE(device->devices.Save(Credentials(*device->devices.Load().value())));
    Recorder events;
    auto c = MakeClient(*device, events, MakeConfig(false));
    c->Start();
    Scan(phone, events);
    EXPECT_TRUE(events.Wait<client::Connected>()) << events.Log();
    thread_.Await(c->Stop());
    return device;
  }

  std::string peer_;
  int device_id_ = 0;
};

TEST_F(MessagingTest, AThousandMessagesEachWayArriveOnceAndInOrder) {
  Recorder events;
  auto c = StartClient(*device_, events);

  // Phone -> client.
  std::vector<std::string> ids;
  for (int i = 0; i < kCount; ++i) {
    ids.push_back(PhoneSends(peer_, phone_, "p2c " + std::to_string(i)));
    ASSERT_FALSE(ids.back().empty());
  }
  ASSERT_TRUE(events.WaitCount<client::Message>(kCount, 120s)) << events.Count<client::Message>();
  std::this_thread::sleep_for(500ms);  // a duplicate would show up by now
  auto messages = events.All<client::Message>();
  ASSERT_EQ(messages.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    const auto& m = messages[static_cast<std::size_t>(i)];
    ASSERT_EQ(m.id, ids[static_cast<std::size_t>(i)]) << i;
    EXPECT_EQ(m.text, "p2c " + std::to_string(i));
    EXPECT_EQ(m.chat.ToString(), peer_ + "@s.whatsapp.net");
    EXPECT_EQ(m.sender.ToString(), peer_ + "@s.whatsapp.net");
    EXPECT_FALSE(m.from_me);
    ASSERT_TRUE(m.sender_pn);
    EXPECT_EQ(m.sender_pn->ToString(), peer_ + "@s.whatsapp.net");
    EXPECT_EQ(m.push_name, "Phone " + peer_);
    EXPECT_GT(m.timestamp, 0);
    EXPECT_FALSE(m.raw.empty());
  }

  // Client -> phone.
  std::vector<std::string> sent;
  for (int i = 0; i < kCount; ++i) {
    client::SendTextRequest request;
    request.to = i % 2 ? "+" + peer_ : peer_ + "@s.whatsapp.net";
    request.text = "c2p " + std::to_string(i);
    auto r = thread_.Await(c->SendText(request));
    ASSERT_TRUE(r) << i << ": " << r.error().message();
    EXPECT_EQ(r->id.size(), 22u);
    EXPECT_EQ(r->id.substr(0, 4), "3EB0");
    EXPECT_GT(r->timestamp, 0);
    sent.push_back(r->id);
  }
  std::vector<json::object> got;
  ASSERT_TRUE(WaitInbox(peer_, [&](const std::vector<json::object>& inbox) {
    got = FromCompanion(inbox, "c2p ");
    return got.size() >= static_cast<std::size_t>(kCount);
  })) << got.size();
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kCount));
  std::set<std::string> unique;
  for (int i = 0; i < kCount; ++i) {
    const auto& m = got[static_cast<std::size_t>(i)];
    EXPECT_EQ(m.at("text").as_string(), "c2p " + std::to_string(i));
    EXPECT_EQ(m.at("id").as_string(), sent[static_cast<std::size_t>(i)]);
    EXPECT_EQ(m.at("from_device").as_string(),
              phone_ + ":" + std::to_string(device_id_) + "@s.whatsapp.net");
    unique.insert(std::string(m.at("id").as_string()));
  }
  EXPECT_EQ(unique.size(), static_cast<std::size_t>(kCount));
  // The server acked each, and our own phone got each as a DeviceSentMessage copy.
  auto acks = events.All<client::MessageAck>();
  EXPECT_EQ(acks.size(), static_cast<std::size_t>(kCount));
  for (const auto& a : acks) EXPECT_FALSE(a.error);
  auto own = Inbox(phone_);
  ASSERT_FALSE(own.empty());
  EXPECT_TRUE(own.back().at("from_me").as_bool());
  EXPECT_EQ(own.back().at("chat").as_string(), peer_ + "@s.whatsapp.net");
  EXPECT_EQ(own.back().at("text").as_string(), "c2p " + std::to_string(kCount - 1));
  // Delivery receipts from the peer's phone came back for every id.
  auto all_delivered = [&] {
    std::set<std::string> delivered;
    for (const auto& r : events.All<client::Receipt>()) {
      if (r.type == client::ReceiptType::kDelivered && r.chat.user() == peer_) {
        delivered.insert(r.ids.begin(), r.ids.end());
      }
    }
    for (const auto& id : sent) {
      if (!delivered.contains(id)) return false;
    }
    return true;
  };
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!all_delivered() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(all_delivered());
  thread_.Await(c->Stop());
}

TEST_F(MessagingTest, ADroppedConnectionLosesAndDuplicatesNothing) {
  Recorder events;
  auto c = StartClient(*device_, events);
  json::object drop{{"drop_connections", json::object{{"phone", phone_}, {"device", device_id_}}}};

  std::vector<std::string> ids;
  for (int i = 0; i < kCount; ++i) {
    ids.push_back(PhoneSends(peer_, phone_, "p2c " + std::to_string(i)));
    if (i == kCount / 2) Fault(drop);
  }
  ASSERT_TRUE(events.WaitCount<client::Message>(kCount, 120s)) << events.Count<client::Message>();
  std::this_thread::sleep_for(500ms);
  auto messages = events.All<client::Message>();
  ASSERT_EQ(messages.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(messages[static_cast<std::size_t>(i)].id, ids[static_cast<std::size_t>(i)]) << i;
  }
  EXPECT_GE(events.Count<client::Disconnected>(), 1u);
  EXPECT_GE(events.Count<client::Connected>(), 2u);
  // What the phone sent while we were away came from the offline queue.
  std::size_t offline = 0;
  for (const auto& m : messages) offline += m.offline;
  EXPECT_GT(offline, 0u);

  std::vector<std::string> sent;
  for (int i = 0; i < kCount; ++i) {
    std::string id = client::NewMessageId(phone_, 1700000000 + i);
    ASSERT_TRUE(SendSurely(*c, events, "c2p " + std::to_string(i), id)) << i;
    sent.push_back(id);
    if (i == kCount / 2) Fault(drop);
  }
  std::vector<json::object> got;
  ASSERT_TRUE(WaitInbox(peer_, [&](const std::vector<json::object>& inbox) {
    got = FromCompanion(inbox, "c2p ");
    return got.size() >= static_cast<std::size_t>(kCount);
  })) << got.size();
  std::this_thread::sleep_for(500ms);
  got = FromCompanion(Inbox(peer_), "c2p ");
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(got[static_cast<std::size_t>(i)].at("id").as_string(), sent[static_cast<std::size_t>(i)]);
    EXPECT_EQ(got[static_cast<std::size_t>(i)].at("text").as_string(), "c2p " + std::to_string(i));
  }
  EXPECT_GE(events.Count<client::Connected>(), 3u);
  thread_.Await(c->Stop());
}

TEST_F(MessagingTest, UndecryptableMessagesArriveAfterARetryRoundBothWays) {
  Recorder events;
  auto c = StartClient(*device_, events);
  // Sessions first, so that the broken messages are `msg`s of a running session.
  PhoneSends(peer_, phone_, "hello");
  ASSERT_TRUE(events.Wait<client::Message>(1));
  client::SendTextRequest hello;
  hello.to = peer_;
  hello.text = "hello back";
  ASSERT_TRUE(thread_.Await(c->SendText(hello)));

  // The phone cannot decrypt our message once: its retry receipt makes us encrypt it again.
  Fault(json::object{{"corrupt_next_message", json::object{{"phone", peer_}, {"device", 0}}}});
  client::SendTextRequest request;
  request.to = peer_;
  request.text = "retry me";
  auto sent = thread_.Await(c->SendText(request));
  ASSERT_TRUE(sent);
  std::vector<json::object> got;
  ASSERT_TRUE(WaitInbox(peer_, [&](const std::vector<json::object>& inbox) {
    got = FromCompanion(inbox, "retry me");
    return !got.empty();
  }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(FromCompanion(Inbox(peer_), "retry me").size(), 1u);
  EXPECT_EQ(got[0].at("id").as_string(), sent->id);
  bool retried = false;
  for (const auto& r : events.All<client::Receipt>()) {
    retried |= r.type == client::ReceiptType::kRetry && r.ids[0] == sent->id;
  }
  EXPECT_TRUE(retried);

  // We cannot decrypt the phone's message once: our retry receipt makes it encrypt again.
  Fault(json::object{{"corrupt_next_message", json::object{{"phone", phone_}, {"device", device_id_}}}});
  std::string id = PhoneSends(peer_, phone_, "again");
  ASSERT_TRUE(events.Wait<client::Message>(2)) << events.Log();
  std::this_thread::sleep_for(300ms);
  auto messages = events.All<client::Message>();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1].id, id);
  EXPECT_EQ(messages[1].text, "again");

  // Twice in a row each way: the second retry receipt carries <keys>, and the sender builds a
  // fresh session from them (we from the phone's, the phone from ours).
  for (int i = 0; i < 2; ++i) {
    Fault(json::object{{"corrupt_next_message", json::object{{"phone", peer_}, {"device", 0}}}});
  }
  request.text = "retry me twice";
  sent = thread_.Await(c->SendText(request));
  ASSERT_TRUE(sent);
  ASSERT_TRUE(WaitInbox(peer_, [&](const std::vector<json::object>& inbox) {
    return !FromCompanion(inbox, "retry me twice").empty();
  }));
  for (int i = 0; i < 2; ++i) {
    Fault(json::object{{"corrupt_next_message", json::object{{"phone", phone_}, {"device", device_id_}}}});
  }
  id = PhoneSends(peer_, phone_, "again twice");
  ASSERT_TRUE(events.Wait<client::Message>(3)) << events.Log();
  EXPECT_EQ(events.All<client::Message>()[2].text, "again twice");
  // The sessions still work afterwards, both ways.
  request.text = "after";
  ASSERT_TRUE(thread_.Await(c->SendText(request)));
  ASSERT_TRUE(WaitInbox(peer_, [&](const std::vector<json::object>& inbox) {
    return !FromCompanion(inbox, "after").empty();
  }));
  PhoneSends(peer_, phone_, "after");
  ASSERT_TRUE(events.Wait<client::Message>(4)) << events.Log();
  EXPECT_EQ(events.All<client::Message>()[3].text, "after");

  // A pkmsg that cannot be decrypted: a fresh peer whose first message is corrupted.
  std::string third = NewPhone();
  Fault(json::object{{"corrupt_next_message", json::object{{"phone", phone_}, {"device", device_id_}}}});
  id = PhoneSends(third, phone_, "first contact");
  ASSERT_TRUE(events.Wait<client::Message>(5)) << events.Log();
  messages = events.All<client::Message>();
  EXPECT_EQ(messages[4].id, id);
  EXPECT_EQ(messages[4].text, "first contact");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(events.Count<client::Message>(), 5u);
  thread_.Await(c->Stop());
}

TEST_F(MessagingTest, AMessageTheHandlerRefusesComesBackUntilItIsTaken) {
  Recorder events;
  auto c = MakeClient(*device_, events, MakeConfig(false));
  std::atomic<int> calls{0};
  // Refuses the second message the first time it sees it (as a gateway whose database is
  // briefly down), then takes everything.
  std::string refuse_text = "m1";
  c->SetMessageHandler([&calls, refuse_text, refused = std::make_shared<bool>(false)](
                           const client::Message& m) -> asio::awaitable<base::Result<void>> {
    ++calls;
    if (m.text == refuse_text && !*refused) {
      *refused = true;
      co_return client::MakeError(client::Errc::kServerError);
    }
    co_return base::Result<void>();
  });
  c->Start();
  ASSERT_TRUE(events.Wait<client::Connected>()) << events.Log();
  auto commits_before = device_->state.commits();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(PhoneSends(peer_, phone_, "m" + std::to_string(i)));
  // m0 and m2 come through; m1 waits for the server to deliver it again (on the next login).
  ASSERT_TRUE(events.Wait<client::Message>(2)) << events.Log();
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(events.Count<client::Message>(), 2u);
  c->DropConnectionForTesting();
  ASSERT_TRUE(events.Wait<client::Message>(3)) << events.Log();
  std::this_thread::sleep_for(300ms);
  auto messages = events.All<client::Message>();
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0].id, ids[0]);
  EXPECT_EQ(messages[1].id, ids[2]);
  EXPECT_EQ(messages[2].id, ids[1]);
  EXPECT_EQ(messages[2].text, "m1");
  EXPECT_EQ(calls.load(), 4);
  thread_.Await(c->Stop());
  // Each message was committed before its receipt (messages that arrive together share a
  // commit, m1 came again on its own); the store was asked to prefetch first.
  EXPECT_GE(device_->state.commits() - commits_before, 2u);
  EXPECT_GT(device_->state.prefetches(), 0u);
}

TEST_F(MessagingTest, MessagesWaitingTogetherShareOneCommitAndKeepTheirOrder) {
  // Sent while the client is away, they arrive in a burst from the offline queue: the handler
  // takes them concurrently (one store write for the gateway), their ratchet steps share
  // commits, and events and receipts keep the arrival order.
  constexpr int kBurst = 12;
  std::vector<std::string> ids;
  for (int i = 0; i < kBurst; ++i) ids.push_back(PhoneSends(peer_, phone_, "b" + std::to_string(i)));
  Recorder events;
  auto c = MakeClient(*device_, events, MakeConfig(false));
  auto in_handler = std::make_shared<std::atomic<int>>(0);
  auto most_at_once = std::make_shared<std::atomic<int>>(0);
  c->SetMessageHandler([in_handler, most_at_once](const client::Message&) -> asio::awaitable<base::Result<void>> {
    int now = ++*in_handler;
    int seen = most_at_once->load();
    while (now > seen && !most_at_once->compare_exchange_weak(seen, now)) {
    }
    // A store write takes a while: the others of the batch are in their handlers meanwhile.
    asio::steady_timer wait(co_await asio::this_coro::executor, 20ms);
    co_await wait.async_wait(asio::use_awaitable);
    --*in_handler;
    co_return base::Result<void>();
  });
  auto commits_before = device_->state.commits();
  c->Start();
  ASSERT_TRUE(events.WaitCount<client::Message>(kBurst, 30s)) << events.Log();
  auto messages = events.All<client::Message>();
  ASSERT_EQ(messages.size(), static_cast<std::size_t>(kBurst));
  for (int i = 0; i < kBurst; ++i) EXPECT_EQ(messages[static_cast<std::size_t>(i)].id, ids[static_cast<std::size_t>(i)]) << i;
  EXPECT_GT(most_at_once->load(), 1);
  EXPECT_LT(device_->state.commits() - commits_before, static_cast<std::uint64_t>(kBurst));
  // Dropped at once, likely before some receipts left (they wait for the commit): the server
  // delivers those again on the next connection, and none reaches the owner twice.
  c->DropConnectionForTesting();
  std::string marker = PhoneSends(peer_, phone_, "after");
  ASSERT_TRUE(events.WaitCount<client::Message>(kBurst + 1, 20s)) << events.Log();
  std::this_thread::sleep_for(300ms);
  messages = events.All<client::Message>();
  ASSERT_EQ(messages.size(), static_cast<std::size_t>(kBurst + 1));
  EXPECT_EQ(messages.back().id, marker);
  thread_.Await(c->Stop());
}

TEST_F(MessagingTest, TwoClientsExchangeARepliesWithMentionsAndReadReceipts) {
  auto peer_device = LinkDevice(peer_);
  Recorder events, peer_events;
  auto c = StartClient(*device_, events);
  auto p = StartClient(*peer_device, peer_events);

  client::SendTextRequest question;
  question.to = peer_;
  question.text = "lunch?";
  auto asked = thread_.Await(c->SendText(question));
  ASSERT_TRUE(asked) << asked.error().message();
  auto received = peer_events.Wait<client::Message>();
  ASSERT_TRUE(received) << peer_events.Log();
  EXPECT_EQ(received->id, asked->id);
  EXPECT_EQ(received->text, "lunch?");
  EXPECT_EQ(received->sender.ToString(), jid_);
  EXPECT_FALSE(received->quoted);

  client::SendTextRequest reply;
  reply.to = phone_ + "@s.whatsapp.net";
  reply.text = "@" + phone_ + " yes";
  reply.quoted = client::QuotedMessage{received->id, phone_, received->text};
  reply.mentions = {phone_};
  auto answered = thread_.Await(p->SendText(reply));
  ASSERT_TRUE(answered) << answered.error().message();
  auto got = events.Wait<client::Message>();
  ASSERT_TRUE(got) << events.Log();
  EXPECT_EQ(got->id, answered->id);
  EXPECT_EQ(got->text, "@" + phone_ + " yes");
  ASSERT_TRUE(got->quoted);
  EXPECT_EQ(got->quoted->id, asked->id);
  EXPECT_EQ(got->quoted->participant, phone_ + "@s.whatsapp.net");
  EXPECT_EQ(got->quoted->text, "lunch?");
  EXPECT_EQ(got->mentions, std::vector<std::string>{phone_ + "@s.whatsapp.net"});
  EXPECT_TRUE(got->sender_pn);
  EXPECT_TRUE(got->sender_lid);  // learned from usync

  // Our own phone's copy of what we sent reaches the peer's... and the peer's own copy comes
  // to its phone: both phones list the messages.
  auto peer_inbox = Inbox(peer_);
  ASSERT_FALSE(FromCompanion(peer_inbox, "lunch?").empty());
  ASSERT_FALSE(FromCompanion(peer_inbox, "@").empty());
  EXPECT_TRUE(FromCompanion(peer_inbox, "@")[0].at("from_me").as_bool());

  // The peer's client marks our question read; we get a read receipt.
  ASSERT_TRUE(thread_.Await(p->MarkRead(phone_ + "@s.whatsapp.net", "", {asked->id})));
  auto deadline = std::chrono::steady_clock::now() + 20s;
  bool read = false;
  while (!read && std::chrono::steady_clock::now() < deadline) {
    for (const auto& r : events.All<client::Receipt>()) {
      read |= r.type == client::ReceiptType::kRead && r.ids[0] == asked->id;
    }
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(read) << events.Log();

  // Presence: we subscribe to the peer (raw stanzas: the client has no presence API yet) and see
  // it come online when its client announces itself.
  binary::Node subscribe("presence", {{"type", "subscribe"}, {"to", binary::Jid::User(peer_)}});
  ASSERT_TRUE(thread_.Await(c->SendNode(subscribe)));
  auto first = events.Wait<client::Presence>();
  ASSERT_TRUE(first) << events.Log();
  EXPECT_EQ(first->from.user(), peer_);
  binary::Node available("presence", {{"type", "available"}, {"name", "Peer"}});
  ASSERT_TRUE(thread_.Await(p->SendNode(available)));
  auto online = events.Wait<client::Presence>(2);
  ASSERT_TRUE(online) << events.Log();
  EXPECT_EQ(online->from.user(), peer_);
  EXPECT_TRUE(online->available);

  // Chat state reaches the other connected client.
  ASSERT_TRUE(thread_.Await(p->SendChatState(phone_, client::ChatStateKind::kComposing)));
  auto typing = events.Wait<client::ChatState>();
  ASSERT_TRUE(typing) << events.Log();
  EXPECT_EQ(typing->chat.user(), peer_);
  EXPECT_EQ(typing->state, client::ChatStateKind::kComposing);
  thread_.Await(p->Stop());
  thread_.Await(c->Stop());
}

// A device linked to the peer after we cached its device list: the server's devices
// notification (acknowledged) makes the next send ask again, so the new device gets it.
TEST_F(MessagingTest, ADeviceListChangeIsSeenOnTheNextSend) {
  Recorder events;
  auto c = StartClient(*device_, events);
  client::SendTextRequest request;
  request.to = peer_;
  request.text = "before";
  ASSERT_TRUE(thread_.Await(c->SendText(request)));
  auto peer_device = LinkDevice(peer_);
  auto unacked = [&] { return Stats().at("queues").at("unacked").as_int64(); };
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (unacked() != 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(unacked(), 0);  // our client acked the notification

  Recorder peer_events;
  auto p = StartClient(*peer_device, peer_events);
  request.text = "after";
  auto sent = thread_.Await(c->SendText(request));
  ASSERT_TRUE(sent);
  auto got = peer_events.Wait<client::Message>();
  ASSERT_TRUE(got) << peer_events.Log();
  EXPECT_EQ(got->id, sent->id);
  EXPECT_EQ(got->text, "after");
  thread_.Await(p->Stop());
  thread_.Await(c->Stop());
}

// Addressed by LID: the device list and sessions are the LID's; the phone gets the message.
TEST_F(MessagingTest, SendsToALid) {
  Recorder events;
  auto c = StartClient(*device_, events);
  auto info = wasim_->Control("GET", "/v1/phones/" + peer_).Json();
  std::string lid(info.at("lid").as_string());
  client::SendTextRequest request;
  request.to = lid;
  request.text = "by lid";
  auto sent = thread_.Await(c->SendText(request));
  ASSERT_TRUE(sent) << sent.error().message();
  ASSERT_TRUE(WaitInbox(peer_, [&](const std::vector<json::object>& inbox) {
    return !FromCompanion(inbox, "by lid").empty();
  }));
  auto acks = events.All<client::MessageAck>();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].chat.ToString(), lid);
  thread_.Await(c->Stop());
}

// What our own phone sends comes to us as a DeviceSentMessage copy: from_me, in the peer's chat.
TEST_F(MessagingTest, OurPhonesMessagesArriveFromMe) {
  Recorder events;
  auto c = StartClient(*device_, events);
  std::string id = PhoneSends(phone_, peer_, "from my phone");
  auto got = events.Wait<client::Message>();
  ASSERT_TRUE(got) << events.Log();
  EXPECT_EQ(got->id, id);
  EXPECT_TRUE(got->from_me);
  EXPECT_EQ(got->text, "from my phone");
  EXPECT_EQ(got->chat.ToString(), peer_ + "@s.whatsapp.net");
  EXPECT_EQ(got->sender.ToString(), phone_ + "@s.whatsapp.net");
  thread_.Await(c->Stop());
}

TEST_F(MessagingTest, ReadReceiptsFromThePhone) {
  Recorder events;
  auto c = StartClient(*device_, events);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    client::SendTextRequest request;
    request.to = peer_;
    request.text = "read me " + std::to_string(i);
    auto r = thread_.Await(c->SendText(request));
    ASSERT_TRUE(r);
    ids.push_back(r->id);
  }
  ASSERT_TRUE(WaitInbox(peer_, [&](const std::vector<json::object>& inbox) {
    return FromCompanion(inbox, "read me").size() == 3;
  }));
  auto r = wasim_->Control("POST", "/v1/phones/" + peer_ + "/read",
                           json::object{{"ids", json::array{ids[0].c_str(), ids[1].c_str(), ids[2].c_str()}}});
  ASSERT_EQ(r.status, 200) << r.body;
  std::set<std::string> read;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (read.size() < 3 && std::chrono::steady_clock::now() < deadline) {
    for (const auto& receipt : events.All<client::Receipt>()) {
      if (receipt.type != client::ReceiptType::kRead) continue;
      EXPECT_EQ(receipt.chat.user(), peer_);
      EXPECT_GT(receipt.timestamp, 0);
      read.insert(receipt.ids.begin(), receipt.ids.end());
    }
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(read, std::set<std::string>(ids.begin(), ids.end())) << events.Log();
  thread_.Await(c->Stop());
}

TEST_F(MessagingTest, OnWhatsAppTellsKnownFromUnknownNumbers) {
  Recorder events;
  auto c = StartClient(*device_, events);
  std::vector<std::string> asked{"+" + peer_, "15559990000"};
  auto r = thread_.Await(c->OnWhatsApp(asked));
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].phone, peer_);
  EXPECT_TRUE((*r)[0].exists);
  EXPECT_EQ((*r)[0].jid.ToString(), peer_ + "@s.whatsapp.net");
  EXPECT_EQ((*r)[1].phone, "15559990000");
  EXPECT_FALSE((*r)[1].exists);
  std::vector<std::string> bad{"12"};
  EXPECT_EQ(thread_.Await(c->OnWhatsApp(bad)).error(), client::Errc::kInvalidPhone);
  thread_.Await(c->Stop());
}

}  // namespace
}  // namespace wa::itest
