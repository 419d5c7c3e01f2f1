// The client's state machine over an in-memory connection (wa/testing/fake_connector.h): the test
// plays the server node by node. Covers QR and pairing-code linking (with the phone's side of the
// crypto), what is persisted before which reply, login and the post-login queries, prekey
// uploads, the iq waiter table, every connection end of the reaction table, keepalive and
// reconnect.
#include "wa/client/client.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <map>

#include "wa/client/errors.h"
#include "wa/client/memory_contact_store.h"
#include "wa/client/memory_device_store.h"
#include "wa/client/pairing.h"
#include "wa/proto/adv.pb.h"
#include "wa/proto/client_payload.pb.h"
#include "wa/client/messages.h"
#include "wa/signal/memory_store.h"
#include "wa/signal/prekey_message.h"
#include "wa/signal/test_party.h"
#include "wa/testing/fake_connector.h"

namespace wa::client {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using binary::Jid;
using binary::Node;
using wa::testing::FakeChannel;

#define CO_ASSERT(cond)                      \
  do {                                       \
    if (!(cond)) {                           \
      ADD_FAILURE() << "failed: " #cond;     \
      co_return;                             \
    }                                        \
  } while (0)

std::string Serialize(const google::protobuf::MessageLite& m) {
  std::string s;
  m.SerializeToString(&s);
  return s;
}

base::Bytes Concat(std::initializer_list<base::ByteView> parts) {
  base::Bytes out;
  for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Node ServerIq(std::string type, std::string id, Node::Children children = {}) {
  Node n("iq", {{"from", Jid::Server()}, {"type", std::move(type)}, {"id", std::move(id)}});
  if (!children.empty()) n.content = std::move(children);
  return n;
}

Node ResultFor(const Node& request, Node::Children children = {}) {
  return ServerIq("result", std::string(request.AttrOr("id")), std::move(children));
}

// The phone's side of §5.6: an ADV identity for `companion`, signed by `phone` and MACed with
// `adv_secret`, inside a pair-success iq.
Node PairSuccess(const crypto::Key32& companion_identity, const crypto::KeyPair& phone,
                 const crypto::Key32& adv_secret, std::uint32_t key_index = 2) {
  wa::proto::ADVDeviceIdentity device;
  device.set_raw_id(77);
  device.set_timestamp(1700000000);
  device.set_key_index(key_index);
  device.set_account_type(wa::proto::E2EE);
  device.set_device_type(wa::proto::E2EE);
  std::string details = Serialize(device);
  auto sig = crypto::Sign(phone.private_key,
                          Concat({base::Bytes{6, 0}, base::AsBytes(details), companion_identity}));
  wa::proto::ADVSignedDeviceIdentity account;
  account.set_details(details);
  account.set_account_signature_key(std::string(base::AsChars(phone.public_key)));
  account.set_account_signature(std::string(base::AsChars(sig)));
  std::string account_bytes = Serialize(account);
  auto mac = crypto::HmacSha256(adv_secret, base::AsBytes(account_bytes));
  wa::proto::ADVSignedDeviceIdentityHMAC container;
  container.set_details(account_bytes);
  container.set_hmac(std::string(base::AsChars(mac)));
  container.set_account_type(wa::proto::E2EE);
  auto bytes = base::ToBytes(Serialize(container));
  Node iq = ServerIq("set", "pair-1");
  iq.SetAttr("xmlns", "md");
  iq.SetAttr("t", "1700000000");
  iq.content = Node::Children{Node(
      "pair-success", {},
      Node::Children{Node("device-identity", {}, bytes), Node("platform", {{"name", "android"}}),
                     Node("device", {{"jid", Jid::User("15550001111", 5)},
                                     {"lid", Jid::Lid("123456789012345", 5)}})})};
  return iq;
}

// The test's separate device and Signal stores as one StateStore; counts the commits.
class SplitStateStore final : public StateStore {
 public:
  SplitStateStore(DeviceStore& devices, signal::Store& signal) : devices_(devices), signal_(signal) {}
  signal::Store& signal_store() override { return signal_; }
  DeviceStore& device_store() override { return devices_; }
  ContactStore& contact_store() override { return contacts_; }
  asio::awaitable<base::Result<void>> Prefetch(const PrefetchRequest&) override {
    co_return base::Result<void>();
  }
  asio::awaitable<base::Result<void>> Commit() override {
    ++commits;
    if (on_commit) on_commit();
    co_return base::Result<void>();
  }
  std::size_t commits = 0;
  std::function<void()> on_commit;

 private:
  DeviceStore& devices_;
  signal::Store& signal_;
  MemoryContactStore contacts_;
};

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    creds_ = Credentials::New();
    devices_ = std::make_unique<MemoryDeviceStore>(creds_);
    signal_ = std::make_unique<signal::MemoryStore>(creds_.identity_key, creds_.registration_id);
    connector_ = std::make_shared<wa::testing::FakeConnector>(ioc_.get_executor());
    config_.backoff.initial = 5ms;
    config_.backoff.max = 20ms;
    config_.timeouts.keepalive_min = config_.timeouts.keepalive_max = 1h;
    config_.timeouts.close = 200ms;
  }

  void UsePairedCredentials() {
    creds_.me = Jid::User("15550001111", 5);
    creds_.lid = Jid::Lid("123456789012345", 5);
    creds_.account = {1, 2, 3};
    devices_ = std::make_unique<MemoryDeviceStore>(creds_);
  }

  void MakeClient() {
    client_.reset();  // the old client refers to the old state store
    state_ = std::make_unique<SplitStateStore>(*devices_, *signal_);
    client_ = std::make_unique<Client>(ioc_.get_executor(), config_, *state_,
                                       [this](const Event& e) { events_.push_back(e); },
                                       connector_);
  }

  // Runs `body`, then stops the client; fails the test if that takes more than 20 s.
  void Run(std::function<asio::awaitable<void>()> body) {
    bool done = false;
    std::exception_ptr error;
    asio::co_spawn(
        ioc_,
        [&]() -> asio::awaitable<void> {
          co_await body();
          if (client_) co_await client_->Stop();
        },
        [&](std::exception_ptr e) {
          error = e;
          done = true;
        });
    ioc_.restart();  // a second Run in the same test
    ioc_.run_for(20s);
    ASSERT_TRUE(done) << "the test body did not finish";
    if (error) std::rethrow_exception(error);
  }

  asio::awaitable<bool> WaitFor(std::function<bool()> pred, std::chrono::milliseconds timeout = 5s) {
    asio::steady_timer timer(ioc_);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= deadline) co_return false;
      timer.expires_after(1ms);
      co_await timer.async_wait(asio::use_awaitable);
    }
    co_return true;
  }

  asio::awaitable<std::shared_ptr<FakeChannel>> ChannelAt(std::size_t i) {
    co_await WaitFor([&] { return connector_->channels.size() > i; });
    if (connector_->channels.size() <= i) co_return nullptr;
    co_return connector_->channels[i];
  }

  // The next node the client sent on `ch` (after the ones already taken) that matches.
  asio::awaitable<std::optional<Node>> NextSent(FakeChannel& ch, std::function<bool(const Node&)> pred,
                                                std::chrono::milliseconds timeout = 5s) {
    std::size_t& cursor = cursors_[&ch];
    std::optional<Node> found;
    co_await WaitFor(
        [&] {
          for (std::size_t i = cursor; i < ch.sent.size(); ++i) {
            if (pred(ch.sent[i])) {
              found = ch.sent[i];
              cursor = i + 1;
              return true;
            }
          }
          return false;
        },
        timeout);
    co_return found;
  }

  static std::function<bool(const Node&)> IqWith(std::string_view xmlns, std::string_view child = {}) {
    return [xmlns = std::string(xmlns), child = std::string(child)](const Node& n) {
      return n.tag == "iq" && n.AttrOr("xmlns") == xmlns &&
             (child.empty() || (!n.children().empty() && n.children()[0].tag == child));
    };
  }

  template <class T>
  std::vector<T> EventsOf() const {
    std::vector<T> out;
    for (const auto& e : events_) {
      if (auto* t = std::get_if<T>(&e)) out.push_back(*t);
    }
    return out;
  }
  template <class T>
  asio::awaitable<bool> WaitEvent(std::size_t count = 1, std::chrono::milliseconds timeout = 5s) {
    co_return co_await WaitFor([&] { return EventsOf<T>().size() >= count; }, timeout);
  }

  // The server's part of a login: success, answers to count/upload/passive, offline marker.
  asio::awaitable<void> ServeLogin(FakeChannel& ch, int server_prekeys, bool expect_upload) {
    std::size_t connected_before = EventsOf<Connected>().size();
    ch.Push(Node("success", {{"t", "1700000100"}, {"lid", Jid::Lid("123456789012345")}}));
    auto count = co_await NextSent(ch, IqWith("encrypt", "count"));
    CO_ASSERT(count);
    ch.Push(ResultFor(*count, {Node("count", {{"value", std::to_string(server_prekeys)}})}));
    if (expect_upload) {
      auto upload = co_await NextSent(ch, IqWith("encrypt", "registration"));
      CO_ASSERT(upload);
      ch.Push(ResultFor(*upload));
    }
    auto passive = co_await NextSent(ch, IqWith("passive", "active"));
    CO_ASSERT(passive);
    ch.Push(ResultFor(*passive));
    auto digest = co_await NextSent(ch, IqWith("encrypt", "digest"));
    CO_ASSERT(digest);
    ch.Push(ResultFor(*digest, {Node("digest")}));
    ch.Push(Node("ib", {{"from", Jid::Server()}}, Node::Children{Node("offline", {{"count", "0"}})}));
    CO_ASSERT(co_await WaitEvent<Connected>(connected_before + 1));
  }

  // Background calls (a coroutine lambda inside a coroutine trips GCC 12, so members do it).
  asio::awaitable<void> SendIqInto(std::optional<base::Result<Node, IqError>>* out, Node iq) {
    *out = co_await client_->SendIq(std::move(iq));
  }
  asio::awaitable<void> PairingCodeInto(std::optional<base::Result<std::string>>* out, std::string phone) {
    *out = co_await client_->RequestPairingCode(std::move(phone));
  }
  asio::awaitable<void> LogoutInto(std::optional<base::Result<void>>* out) {
    *out = co_await client_->Logout();
  }
  asio::awaitable<void> RotateInto(std::optional<base::Result<void>>* out) {
    *out = co_await client_->RotateSignedPreKey();
  }
  void Spawn(asio::awaitable<void> task) { asio::co_spawn(ioc_, std::move(task), asio::detached); }

  std::optional<Credentials> Stored() {
    auto loaded = devices_->Load();
    return loaded ? *loaded : std::nullopt;
  }

  static wa::proto::ClientPayload PayloadOf(const ConnectRequest& r) {
    wa::proto::ClientPayload p;
    EXPECT_TRUE(p.ParseFromArray(r.client_payload.data(), static_cast<int>(r.client_payload.size())));
    return p;
  }

  asio::io_context ioc_;
  Config config_;
  Credentials creds_;
  std::unique_ptr<MemoryDeviceStore> devices_;
  std::unique_ptr<signal::MemoryStore> signal_;
  std::unique_ptr<SplitStateStore> state_;
  std::shared_ptr<wa::testing::FakeConnector> connector_;
  std::unique_ptr<Client> client_;
  std::vector<Event> events_;
  std::map<FakeChannel*, std::size_t> cursors_;
};

TEST_F(ClientTest, LinksByQrThenLogsInAndUploadsPreKeys) {
  MakeClient();
  auto phone = crypto::GenerateKeyPair();
  Run([&]() -> asio::awaitable<void> {
    client_->Start();
    auto ch = co_await ChannelAt(0);
    CO_ASSERT(ch);
    auto reg = PayloadOf(connector_->requests[0]);
    EXPECT_TRUE(reg.has_device_pairing_data());
    EXPECT_FALSE(reg.has_username());
    EXPECT_EQ(connector_->requests[0].noise_key.public_key, creds_.noise_key.public_key);

    Node pair_device = ServerIq("set", "refs-1");
    pair_device.SetAttr("xmlns", "md");
    pair_device.content = Node::Children{Node(
        "pair-device", {},
        Node::Children{Node("ref", {}, base::ToBytes("2@first")), Node("ref", {}, base::ToBytes("2@second"))})};
    ch->Push(pair_device);
    auto ack = co_await NextSent(*ch, [](const Node& n) { return n.AttrOr("id") == "refs-1"; });
    CO_ASSERT(ack);
    EXPECT_EQ(ack->AttrOr("type"), "result");
    CO_ASSERT(co_await WaitEvent<Qr>());
    Qr qr = EventsOf<Qr>()[0];
    EXPECT_EQ(qr.code, MakeQrString("2@first", creds_.noise_key.public_key,
                                    creds_.identity_key.public_key, creds_.adv_secret, "1"));
    EXPECT_EQ(qr.expires_in, 60s);
    EXPECT_EQ(client_->state(), State::kPairing);

    // The reply must not leave before the credentials are durable.
    bool saved_before_reply = false;
    ch->on_send = [&](const Node& n) {
      if (n.Child("pair-device-sign")) saved_before_reply = Stored() && Stored()->paired();
    };
    ch->Push(PairSuccess(creds_.identity_key.public_key, phone, creds_.adv_secret));
    auto sign = co_await NextSent(*ch, [](const Node& n) { return n.Child("pair-device-sign") != nullptr; });
    CO_ASSERT(sign);
    EXPECT_TRUE(saved_before_reply);
    EXPECT_EQ(sign->AttrOr("id"), "pair-1");
    const Node* identity = sign->Child("pair-device-sign")->Child("device-identity");
    CO_ASSERT(identity && identity->bytes());
    EXPECT_EQ(identity->AttrOr("key-index"), "2");
    wa::proto::ADVSignedDeviceIdentity reply;
    CO_ASSERT(reply.ParseFromArray(identity->bytes()->data(), static_cast<int>(identity->bytes()->size())));
    EXPECT_FALSE(reply.has_account_signature_key());
    auto device_msg = Concat({base::Bytes{6, 1}, base::AsBytes(reply.details()),
                              creds_.identity_key.public_key, phone.public_key});
    EXPECT_TRUE(crypto::Verify(creds_.identity_key.public_key, device_msg,
                               base::AsBytes(reply.device_signature())));
    CO_ASSERT(co_await WaitEvent<Paired>());
    EXPECT_EQ(EventsOf<Paired>()[0].jid, Jid::User("15550001111", 5));
    EXPECT_EQ(EventsOf<Paired>()[0].platform, "android");
    // The primary's identity is trusted as device 0 of the account.
    auto trusted = signal_->GetIdentity(*signal::Address::ForDevice("123456789012345", signal::Domain::kLid, 0));
    CO_ASSERT(trusted && *trusted);
    EXPECT_EQ(**trusted, phone.public_key);

    ch->Push(Node("stream:error", {{"code", "515"}}));
    ch->ServerClose();
    auto login_ch = co_await ChannelAt(1);
    CO_ASSERT(login_ch);
    auto login = PayloadOf(connector_->requests[1]);
    EXPECT_EQ(login.username(), 15550001111u);
    EXPECT_EQ(login.device(), 5u);
    EXPECT_TRUE(login.passive());
    auto restart = EventsOf<Disconnected>();
    CO_ASSERT(restart.size() == 1);
    EXPECT_EQ(restart[0].reason, DisconnectReason::kRestartRequired);
    EXPECT_TRUE(restart[0].will_retry);
    EXPECT_EQ(restart[0].retry_in, 0ms);

    // Prekeys are stored, and their counter saved, before the upload leaves.
    std::size_t keys_at_upload = 0;
    std::uint32_t next_id_at_upload = 0;
    login_ch->on_send = [&](const Node& n) {
      if (n.Child("registration")) {
        keys_at_upload = signal_->pre_key_count();
        next_id_at_upload = Stored()->next_pre_key_id;
      }
    };
    login_ch->Push(Node("success", {{"t", "1700000100"}, {"lid", Jid::Lid("123456789012345")}}));
    auto count = co_await NextSent(*login_ch, IqWith("encrypt", "count"));
    CO_ASSERT(count);
    login_ch->Push(ResultFor(*count, {Node("count", {{"value", "0"}})}));
    auto upload = co_await NextSent(*login_ch, IqWith("encrypt", "registration"));
    CO_ASSERT(upload);
    EXPECT_EQ(upload->Child("list")->children().size(), 812u);
    EXPECT_EQ(keys_at_upload, 812u);
    EXPECT_EQ(next_id_at_upload, 813u);
    EXPECT_EQ(Stored()->first_unuploaded_pre_key_id, 1u);  // not acknowledged yet
    login_ch->Push(ResultFor(*upload));
    auto passive = co_await NextSent(*login_ch, IqWith("passive", "active"));
    CO_ASSERT(passive);
    EXPECT_TRUE(EventsOf<Connected>().empty());  // not before the offline backlog
    login_ch->Push(ResultFor(*passive));
    // The server does not know our bundle: another upload follows, with new ids.
    auto digest = co_await NextSent(*login_ch, IqWith("encrypt", "digest"));
    CO_ASSERT(digest);
    login_ch->Push(ResultFor(*digest));
    auto reupload = co_await NextSent(*login_ch, IqWith("encrypt", "registration"));
    CO_ASSERT(reupload);
    EXPECT_EQ(base::ToHex(*reupload->Child("list")->children()[0].Child("id")->bytes()), "00032d");
    login_ch->Push(ResultFor(*reupload));
    login_ch->Push(Node("ib", {}, Node::Children{Node("offline", {{"count", "3"}})}));
    CO_ASSERT(co_await WaitEvent<Connected>());
    EXPECT_EQ(EventsOf<OfflineSyncCompleted>()[0].count, 3);
    CO_ASSERT(co_await WaitFor([&] { return Stored()->first_unuploaded_pre_key_id == 863; }));
    EXPECT_EQ(signal_->pre_key_count(), 862u);
    EXPECT_EQ(client_->state(), State::kConnected);
  });
  auto last = EventsOf<Disconnected>().back();
  EXPECT_EQ(last.reason, DisconnectReason::kStopped);
  EXPECT_FALSE(last.will_retry);
  EXPECT_TRUE(connector_->channels[1]->closed_by_client());
  EXPECT_EQ(client_->state(), State::kStopped);
}

TEST_F(ClientTest, LogsInWithStoredCredentialsWithoutUpload) {
  UsePairedCredentials();
  MakeClient();
  Run([&]() -> asio::awaitable<void> {
    client_->Start();
    auto ch = co_await ChannelAt(0);
    CO_ASSERT(ch);
    EXPECT_TRUE(PayloadOf(connector_->requests[0]).has_username());
    co_await ServeLogin(*ch, 40, false);
    EXPECT_EQ(signal_->pre_key_count(), 0u);
  });
}

TEST_F(ClientTest, TopsUpBelowTheThresholdReusingUnacknowledgedKeys) {
  UsePairedCredentials();
  config_.prekeys.top_up = 10;
  MakeClient();
  Run([&]() -> asio::awaitable<void> {
    client_->Start();
    auto ch = co_await ChannelAt(0);
    CO_ASSERT(ch);
    ch->Push(Node("success", {{"t", "1700000100"}}));
    auto count = co_await NextSent(*ch, IqWith("encrypt", "count"));
    CO_ASSERT(count);
    ch->Push(ResultFor(*count, {Node("count", {{"value", "4"}})}));
    // The first attempt is refused; the retry carries the same ids.
    auto first = co_await NextSent(*ch, IqWith("encrypt", "registration"));
    CO_ASSERT(first);
    EXPECT_EQ(first->Child("list")->children().size(), 10u);
    ch->Push(ServerIq("error", std::string(first->AttrOr("id")),
                      {Node("error", {{"code", "500"}, {"text", "internal"}})}));
    auto second = co_await NextSent(*ch, IqWith("encrypt", "registration"), 3s);
    CO_ASSERT(second);
    EXPECT_NE(second->AttrOr("id"), first->AttrOr("id"));
    EXPECT_EQ(base::ToHex(*second->Child("list")->children()[0].Child("id")->bytes()), "000001");
    EXPECT_EQ(base::ToHex(*second->Child("list")->children()[9].Child("id")->bytes()), "00000a");
    EXPECT_EQ(Stored()->next_pre_key_id, 11u);
    ch->Push(ResultFor(*second));
    CO_ASSERT(co_await WaitFor([&] { return Stored()->first_unuploaded_pre_key_id == 11; }));

    // A prekey-low notification is acknowledged and tops up with new ids.
    ch->Push(Node("notification", {{"from", Jid::Server()}, {"type", "encrypt"}, {"id", "n1"}},
                  Node::Children{Node("count", {{"value", "1"}})}));
    auto notif_ack = co_await NextSent(*ch, [](const Node& n) { return n.tag == "ack"; });
    CO_ASSERT(notif_ack);
    EXPECT_EQ(notif_ack->AttrOr("class"), "notification");
    EXPECT_EQ(notif_ack->AttrOr("id"), "n1");
    auto third = co_await NextSent(*ch, IqWith("encrypt", "registration"));
    CO_ASSERT(third);
    EXPECT_EQ(base::ToHex(*third->Child("list")->children()[0].Child("id")->bytes()), "00000b");
    EXPECT_EQ(signal_->pre_key_count(), 20u);
  });
}

TEST_F(ClientTest, IqWaiterTable) {
  UsePairedCredentials();
  MakeClient();
  Run([&]() -> asio::awaitable<void> {
    Node probe("iq", {{"type", "get"}, {"xmlns", "x"}});
    auto none = co_await client_->SendIq(probe);
    CO_ASSERT(!none);
    EXPECT_EQ(none.error().kind, IqError::Kind::kNotConnected);
    client_->Start();
    auto ch = co_await ChannelAt(0);
    CO_ASSERT(ch);
    co_await ServeLogin(*ch, 40, false);

    // An error answer.
    std::optional<base::Result<Node, IqError>> answer;
    Spawn(SendIqInto(&answer, Node("iq", {{"type", "get"}, {"xmlns", "test"}})));
    auto req = co_await NextSent(*ch, IqWith("test"));
    CO_ASSERT(req);
    EXPECT_FALSE(req->AttrOr("id").empty());
    ch->Push(ServerIq("error", std::string(req->AttrOr("id")),
                      {Node("error", {{"code", "404"}, {"text", "item-not-found"}})}));
    CO_ASSERT(co_await WaitFor([&] { return answer.has_value(); }));
    CO_ASSERT(!*answer);
    EXPECT_EQ(answer->error().kind, IqError::Kind::kServer);
    EXPECT_EQ(answer->error().code, 404);
    EXPECT_EQ(answer->error().text, "item-not-found");

    // A result.
    answer.reset();
    Spawn(SendIqInto(&answer, Node("iq", {{"type", "get"}, {"xmlns", "test"}})));
    req = co_await NextSent(*ch, IqWith("test"));
    CO_ASSERT(req);
    ch->Push(ResultFor(*req, {Node("thing")}));
    CO_ASSERT(co_await WaitFor([&] { return answer.has_value(); }));
    CO_ASSERT(*answer);
    EXPECT_TRUE((*answer)->Child("thing"));

    // No answer: a timeout, distinct from a disconnect.
    Node unanswered("iq", {{"type", "get"}, {"xmlns", "test"}});
    auto late = co_await client_->SendIq(unanswered, 30ms);
    CO_ASSERT(!late);
    EXPECT_EQ(late.error().kind, IqError::Kind::kTimeout);
    EXPECT_EQ(late.error().ToErrorCode(), MakeError(Errc::kTimeout));

    answer.reset();
    Spawn(SendIqInto(&answer, Node("iq", {{"type", "get"}, {"xmlns", "test"}})));
    CO_ASSERT(co_await NextSent(*ch, IqWith("test")));
    ch->ServerClose();
    CO_ASSERT(co_await WaitFor([&] { return answer.has_value(); }));
    CO_ASSERT(!*answer);
    EXPECT_EQ(answer->error().kind, IqError::Kind::kDisconnected);
  });
}

TEST_F(ClientTest, DeviceRemovedWipesAndStops) {
  UsePairedCredentials();
  MakeClient();
  Run([&]() -> asio::awaitable<void> {
    client_->Start();
    auto ch = co_await ChannelAt(0);
    CO_ASSERT(ch);
    co_await ServeLogin(*ch, 40, false);
    ch->Push(Node("stream:error", {{"code", "401"}},
                  Node::Children{Node("conflict", {{"type", "device_removed"}})}));
    ch->ServerClose();
    CO_ASSERT(co_await WaitEvent<LoggedOut>());
    CO_ASSERT(co_await WaitFor([&] { return client_->state() == State::kStopped; }));
  });
  EXPECT_TRUE(devices_->empty());
  EXPECT_FALSE(EventsOf<LoggedOut>()[0].on_connect);
  auto last = EventsOf<Disconnected>().back();
  EXPECT_EQ(last.reason, DisconnectReason::kLoggedOut);
  EXPECT_EQ(last.code, 401);
  EXPECT_FALSE(last.will_retry);
  EXPECT_EQ(connector_->requests.size(), 1u);
}

TEST_F(ClientTest, LoginRefusedWipes) {
  UsePairedCredentials();
  MakeClient();
  Run([&]() -> asio::awaitable<void> {
    client_->Start();
    auto ch = co_await ChannelAt(0);
    CO_ASSERT(ch);
    ch->Push(Node("failure", {{"reason", "401"}}));
    ch->ServerClose();
    CO_ASSERT(co_await WaitEvent<LoggedOut>());
  });
  EXPECT_TRUE(EventsOf<LoggedOut>()[0].on_connect);
  EXPECT_TRUE(devices_->empty());
}

// A connection end that must stop the client (never fight the other session, never retry a
// ban or an outdated version) and keep the credentials.
class TerminalTest : public ClientTest {
 protected:
  void Check(Node stanza, DisconnectReason reason, int code) {
    UsePairedCredentials();
    MakeClient();
    Run([&]() -> asio::awaitable<void> {
      client_->Start();
      auto ch = co_await ChannelAt(0);
      CO_ASSERT(ch);
      ch->Push(stanza);
      CO_ASSERT(co_await WaitFor([&] { return client_->state() == State::kStopped; }));
    });
    auto last = EventsOf<Disconnected>().back();
    EXPECT_EQ(last.reason, reason);
    EXPECT_EQ(last.code, code);
    EXPECT_FALSE(last.will_retry);
    EXPECT_EQ(connector_->requests.size(), 1u);
    EXPECT_FALSE(devices_->empty());
  }
};

TEST_F(TerminalTest, Replaced) {
  Check(Node("stream:error", {}, Node::Children{Node("conflict", {{"type", "replaced"}})}),
        DisconnectReason::kReplaced, 440);
  EXPECT_EQ(EventsOf<StreamReplaced>().size(), 1u);
}

TEST_F(TerminalTest, ClientOutdated) {
  Check(Node("failure", {{"reason", "405"}}), DisconnectReason::kClientOutdated, 405);
  EXPECT_EQ(EventsOf<ClientOutdated>().size(), 1u);
}

TEST_F(TerminalTest, TemporaryBan) {
  Check(Node("failure", {{"reason", "402"}, {"code", "101"}, {"expire", "60"}}),
        DisconnectReason::kTemporaryBan, 402);
  ASSERT_EQ(EventsOf<TemporaryBan>().size(), 1u);
  EXPECT_EQ(EventsOf<TemporaryBan>()[0].code, 101);
  EXPECT_EQ(EventsOf<TemporaryBan>()[0].expire, 60s);
}

TEST_F(TerminalTest, MultideviceMismatch) {
  Check(Node("ib", {}, Node::Children{Node("downgrade_webclient")}),
        DisconnectReason::kMultideviceMismatch, 411);
}

TEST_F(ClientTest, ReplacedEmitsStreamReplaced) {
  UsePairedCredentials();
  MakeClient();
  Run([&]() -> asio::awaitable<void> {
    client_->Start();
    auto ch = co_await ChannelAt(0);
    CO_ASSERT(ch);
    co_await ServeLogin(*ch, 40, false);
    ch->Push(Node("stream:error", {}, Node::Children{Node("conflict", {{"type", "replaced"}})}));
    CO_ASSERT(co_await WaitEvent<StreamReplaced>());
  });
}

TEST_F(ClientTest, ReconnectsWithBackoffAfterDropsAndConnectFailures) {
  UsePairedCredentials();
  connector_->failures = {MakeError(Errc::kTimeout), boost::asio::error::connection_refused};
  MakeClient();
  Run([&]() -> asio::awaitable<void> {
    client_->Start();
    auto ch = co_await ChannelAt(0);
    CO_ASSERT(ch);
    auto early = EventsOf<Disconnected>();
    CO_ASSERT(early.size() == 2);
    EXPECT_EQ(early[0].reason, DisconnectReason::kTimedOut);
    EXPECT_EQ(early[1].reason, DisconnectReason::kNetworkError);
    EXPECT_TRUE(early[0].will_retry && early[1].will_retry);
    EXPECT_GT(early[0].retry_in, 0ms);
    co_await ServeLogin(*ch, 40, false);
    ch->ServerClose();  // the network drops
    auto again = co_await ChannelAt(1);
    CO_ASSERT(again);
    auto drop = EventsOf<Disconnected>().back();
    EXPECT_EQ(drop.reason, DisconnectReason::kConnectionClosed);
    EXPECT_EQ(drop.code, 428);
    EXPECT_TRUE(drop.will_retry);
    // The attempt count was reset by the login: the delay is a first attempt's again.
    EXPECT_LE(drop.retry_in, config_.backoff.initial);
    co_await ServeLogin(*again, 40, false);
    EXPECT_EQ(EventsOf<Connected>().size(), 2u);
  });
}

TEST_F(ClientTest, KeepAlivePingsAndDetectsADeadConnection) {
  UsePairedCredentials();
  config_.timeouts.keepalive_min = 20ms;
  config_.timeouts.keepalive_max = 30ms;
  config_.timeouts.keepalive_grace = 20ms;
  MakeClient();
  Run([&]() -> asio::awaitable<void> {
    client_->Start();
    auto ch = co_await ChannelAt(0);
    CO_ASSERT(ch);
    auto ping = co_await NextSent(*ch, IqWith("w:p", "ping"));
    CO_ASSERT(ping);
    EXPECT_EQ(ping->AttrOr("type"), "get");
    // Silence: the connection is declared lost and replaced by a new one.
    auto next = co_await ChannelAt(1);
    CO_ASSERT(next);
    EXPECT_TRUE(ch->aborted);
    auto lost = EventsOf<Disconnected>()[0];
    EXPECT_EQ(lost.reason, DisconnectReason::kConnectionLost);
    EXPECT_EQ(lost.code, 408);
    EXPECT_TRUE(lost.will_retry);
  });
}

TEST_F(ClientTest, QrCodesRunOut) {
  config_.first_qr_ttl = 20ms;
  config_.next_qr_ttl = 10ms;
  MakeClient();
  Run([&]() -> asio::awaitable<void> {
    client_->Start();
    auto ch = co_await ChannelAt(0);
    CO_ASSERT(ch);
    Node pair_device = ServerIq("set", "refs-1");
    pair_device.content = Node::Children{Node(
        "pair-device", {},
        Node::Children{Node("ref", {}, base::ToBytes("2@a")), Node("ref", {}, base::ToBytes("2@b")),
                       Node("ref", {}, base::ToBytes("2@c"))})};
    ch->Push(pair_device);
    CO_ASSERT(co_await WaitEvent<QrTimeout>());
  });
  auto qrs = EventsOf<Qr>();
  ASSERT_EQ(qrs.size(), 3u);
  EXPECT_EQ(qrs[0].expires_in, 20ms);
  EXPECT_EQ(qrs[2].expires_in, 10ms);
  EXPECT_NE(qrs[2].code.find("#2@c,"), std::string::npos);
  auto last = EventsOf<Disconnected>().back();
  EXPECT_EQ(last.reason, DisconnectReason::kQrTimeout);
  EXPECT_FALSE(last.will_retry);
  EXPECT_FALSE(Stored()->paired());
}

TEST_F(ClientTest, RefusesAPairSuccessThatDoesNotVerify) {
  MakeClient();
  Run([&]() -> asio::awaitable<void> {
    client_->Start();
    auto ch = co_await ChannelAt(0);
    CO_ASSERT(ch);
    Node pair_device = ServerIq("set", "refs-1");
    pair_device.content = Node::Children{Node("pair-device", {}, Node::Children{Node("ref", {}, base::ToBytes("2@a"))})};
    ch->Push(pair_device);
    CO_ASSERT(co_await WaitEvent<Qr>());
    crypto::Key32 wrong_secret{};
    ch->Push(PairSuccess(creds_.identity_key.public_key, crypto::GenerateKeyPair(), wrong_secret));
    auto err = co_await NextSent(*ch, [](const Node& n) { return n.AttrOr("type") == "error"; });
    CO_ASSERT(err);
    EXPECT_EQ(err->Child("error")->AttrOr("code"), "401");
    EXPECT_EQ(err->Child("error")->AttrOr("text"), "hmac-mismatch");
    CO_ASSERT(co_await WaitEvent<PairingFailed>());
  });
  EXPECT_EQ(EventsOf<PairingFailed>()[0].reason, "hmac-mismatch");
  EXPECT_FALSE(Stored()->paired());
  EXPECT_FALSE(EventsOf<Disconnected>().back().will_retry);
}

TEST_F(ClientTest, LinksByPairingCode) {
  MakeClient();
  auto phone = crypto::GenerateKeyPair();
  Run([&]() -> asio::awaitable<void> {
    auto early = co_await client_->RequestPairingCode("15550001111");
    CO_ASSERT(!early);
    EXPECT_EQ(early.error(), MakeError(Errc::kWrongState));
    client_->Start();
    auto ch = co_await ChannelAt(0);
    CO_ASSERT(ch);
    Node pair_device = ServerIq("set", "refs-1");
    pair_device.content = Node::Children{Node("pair-device", {}, Node::Children{Node("ref", {}, base::ToBytes("2@a"))})};
    ch->Push(pair_device);
    CO_ASSERT(co_await WaitEvent<Qr>());
    auto bad = co_await client_->RequestPairingCode("012");
    CO_ASSERT(!bad);
    EXPECT_EQ(bad.error(), MakeError(Errc::kInvalidPhone));

    std::optional<base::Result<std::string>> code;
    Spawn(PairingCodeInto(&code, "+1 555 000 1111"));
    auto hello = co_await NextSent(*ch, IqWith("md", "link_code_companion_reg"));
    CO_ASSERT(hello);
    const Node& reg = hello->children()[0];
    EXPECT_EQ(reg.AttrOr("stage"), "companion_hello");
    EXPECT_EQ(reg.GetJid("jid"), Jid::User("15550001111"));
    auto noise = reg.Child("companion_server_auth_key_pub")->ContentBytes();
    CO_ASSERT(noise);
    EXPECT_TRUE(std::equal(noise->begin(), noise->end(), creds_.noise_key.public_key.begin()));
    base::Bytes wrapped_companion(reg.Child("link_code_pairing_wrapped_companion_ephemeral_pub")->bytes()->begin(),
                                  reg.Child("link_code_pairing_wrapped_companion_ephemeral_pub")->bytes()->end());
    base::Bytes ref = base::ToBytes("pairing-ref-1");
    ch->Push(ResultFor(*hello, {Node("link_code_companion_reg", {},
                                     Node::Children{Node("link_code_pairing_ref", {}, ref)})}));
    CO_ASSERT(co_await WaitFor([&] { return code.has_value(); }));
    CO_ASSERT(*code);
    EXPECT_EQ((*code)->size(), 8u);
    CO_ASSERT(co_await WaitEvent<PairingCode>());
    EXPECT_EQ(EventsOf<PairingCode>()[0].code, **code);

    // The phone: the user typed the code.
    auto companion_eph = UnwrapLinkingKey(**code, wrapped_companion);
    CO_ASSERT(companion_eph);
    auto primary_eph = crypto::GenerateKeyPair();
    auto wrapped_primary = WrapLinkingKey(**code, crypto::RandomBytes(32), crypto::RandomBytes(16),
                                          primary_eph.public_key);
    ch->Push(Node("notification",
                  {{"from", Jid::Server()}, {"type", "link_code_companion_reg"}, {"id", "lc-1"}},
                  Node::Children{Node(
                      "link_code_companion_reg", {{"stage", "primary_hello"}},
                      Node::Children{Node("link_code_pairing_ref", {}, ref),
                                     Node("link_code_pairing_wrapped_primary_ephemeral_pub", {}, wrapped_primary),
                                     Node("primary_identity_pub", {},
                                          base::Bytes(phone.public_key.begin(), phone.public_key.end()))})}));
    auto ack = co_await NextSent(*ch, [](const Node& n) { return n.tag == "ack"; });
    CO_ASSERT(ack);
    EXPECT_EQ(ack->AttrOr("id"), "lc-1");
    auto finish = co_await NextSent(*ch, IqWith("md", "link_code_companion_reg"));
    CO_ASSERT(finish);
    const Node& freg = finish->children()[0];
    EXPECT_EQ(freg.AttrOr("stage"), "companion_finish");
    auto bundle = freg.Child("link_code_pairing_wrapped_key_bundle")->ContentBytes();
    CO_ASSERT(bundle && bundle->size() == 32 + 12 + 96 + 16);
    // Unwrap as the phone does (§6.4) and derive the same ADV secret.
    auto eph_shared = crypto::SharedSecret(primary_eph.private_key, *companion_eph);
    CO_ASSERT(eph_shared);
    auto key = crypto::Hkdf(*eph_shared, bundle->subspan(0, 32),
                            base::AsBytes("link_code_pairing_key_bundle_encryption_key"), 32);
    auto plain = crypto::AesGcmDecrypt(key, bundle->subspan(32, 12), bundle->subspan(44), {});
    CO_ASSERT(plain && plain->size() == 96);
    EXPECT_TRUE(std::equal(plain->begin(), plain->begin() + 32, creds_.identity_key.public_key.begin()));
    EXPECT_TRUE(std::equal(plain->begin() + 32, plain->begin() + 64, phone.public_key.begin()));
    auto identity_shared = crypto::SharedSecret(phone.private_key, creds_.identity_key.public_key);
    CO_ASSERT(identity_shared);
    auto adv = crypto::Hkdf(Concat({*eph_shared, *identity_shared,
                                    base::ByteView(plain->data() + 64, 32)}),
                            {}, base::AsBytes("adv_secret"), 32);
    crypto::Key32 adv_secret;
    std::copy(adv.begin(), adv.end(), adv_secret.begin());
    ch->Push(ResultFor(*finish));
    ch->Push(PairSuccess(creds_.identity_key.public_key, phone, adv_secret));
    CO_ASSERT(co_await NextSent(*ch, [](const Node& n) { return n.Child("pair-device-sign") != nullptr; }));
    CO_ASSERT(co_await WaitEvent<Paired>());
    EXPECT_EQ(Stored()->adv_secret, adv_secret);
  });
}

TEST_F(ClientTest, LogoutRemovesTheDeviceAndWipes) {
  UsePairedCredentials();
  MakeClient();
  Run([&]() -> asio::awaitable<void> {
    client_->Start();
    auto ch = co_await ChannelAt(0);
    CO_ASSERT(ch);
    co_await ServeLogin(*ch, 40, false);
    std::optional<base::Result<void>> done;
    Spawn(LogoutInto(&done));
    auto remove = co_await NextSent(*ch, IqWith("md", "remove-companion-device"));
    CO_ASSERT(remove);
    EXPECT_EQ(remove->children()[0].GetJid("jid"), Jid::User("15550001111", 5));
    EXPECT_EQ(remove->children()[0].AttrOr("reason"), "user_initiated");
    ch->Push(ResultFor(*remove));
    ch->ServerClose();  // the server drops the connection right after, as wasim does
    CO_ASSERT(co_await WaitFor([&] { return done.has_value(); }));
    EXPECT_TRUE(*done);
  });
  EXPECT_TRUE(devices_->empty());
  ASSERT_EQ(EventsOf<LoggedOut>().size(), 1u);
  EXPECT_FALSE(EventsOf<Disconnected>().back().will_retry);
  EXPECT_EQ(connector_->requests.size(), 1u);
}

TEST_F(ClientTest, LogoutWipesEvenWithoutConfirmation) {
  UsePairedCredentials();
  MakeClient();
  Run([&]() -> asio::awaitable<void> {
    client_->Start();
    auto ch = co_await ChannelAt(0);
    CO_ASSERT(ch);
    co_await ServeLogin(*ch, 40, false);
    std::optional<base::Result<void>> done;
    Spawn(LogoutInto(&done));
    CO_ASSERT(co_await NextSent(*ch, IqWith("md", "remove-companion-device")));
    ch->ServerClose();  // gone before answering
    CO_ASSERT(co_await WaitFor([&] { return done.has_value(); }));
    CO_ASSERT(!*done);
    EXPECT_EQ(done->error(), MakeError(Errc::kDisconnected));
  });
  EXPECT_TRUE(devices_->empty());
  EXPECT_EQ(EventsOf<LoggedOut>().size(), 1u);
  EXPECT_EQ(connector_->requests.size(), 1u);  // no reconnect
}

TEST_F(ClientTest, RotatesTheSignedPreKey) {
  UsePairedCredentials();
  MakeClient();
  Run([&]() -> asio::awaitable<void> {
    client_->Start();
    auto ch = co_await ChannelAt(0);
    CO_ASSERT(ch);
    co_await ServeLogin(*ch, 40, false);
    std::optional<base::Result<void>> done;
    Spawn(RotateInto(&done));
    auto rotate = co_await NextSent(*ch, IqWith("encrypt", "rotate"));
    CO_ASSERT(rotate);
    const Node* skey = rotate->children()[0].Child("skey");
    CO_ASSERT(skey);
    EXPECT_EQ(base::ToHex(*skey->Child("id")->bytes()), "000002");
    // Stored before it is announced; the credentials follow once the server took it.
    EXPECT_TRUE(*signal_->ContainsSignedPreKey(2));
    EXPECT_EQ(Stored()->signed_pre_key.id, 1u);
    ch->Push(ResultFor(*rotate));
    CO_ASSERT(co_await WaitFor([&] { return done.has_value(); }));
    EXPECT_TRUE(*done);
    EXPECT_EQ(Stored()->signed_pre_key.id, 2u);
    EXPECT_TRUE(signal::VerifySignedPreKey(creds_.identity_key.public_key,
                                           Stored()->signed_pre_key.key_pair.public_key,
                                           Stored()->signed_pre_key.signature));
    EXPECT_TRUE(*signal_->ContainsSignedPreKey(1));  // the old one stays for late pkmsgs
  });
}

TEST_F(ClientTest, StoresRoutingInfoAndSendsItNextTime) {
  UsePairedCredentials();
  MakeClient();
  Run([&]() -> asio::awaitable<void> {
    client_->Start();
    auto ch = co_await ChannelAt(0);
    CO_ASSERT(ch);
    EXPECT_TRUE(connector_->requests[0].routing_info.empty());
    ch->Push(Node("ib", {}, Node::Children{Node("edge_routing", {}, Node::Children{Node("routing_info", {}, base::Bytes{8, 8, 8, 13, 16, 3})})}));
    CO_ASSERT(co_await WaitFor([&] { return !Stored()->routing_info.empty(); }));
    ch->ServerClose();
    CO_ASSERT(co_await ChannelAt(1));
    EXPECT_EQ(connector_->requests[1].routing_info, (base::Bytes{8, 8, 8, 13, 16, 3}));
  });
}

TEST_F(ClientTest, RefusesToStartOnMismatchedStores) {
  signal_ = std::make_unique<signal::MemoryStore>(signal::MemoryStore::Generate());
  MakeClient();
  Run([&]() -> asio::awaitable<void> {
    client_->Start();
    CO_ASSERT(co_await WaitEvent<Disconnected>());
  });
  EXPECT_EQ(EventsOf<Disconnected>()[0].reason, DisconnectReason::kStoreFailed);
  EXPECT_TRUE(connector_->requests.empty());
}

TEST_F(ClientTest, StopDuringBackoffIsPrompt) {
  UsePairedCredentials();
  config_.backoff.initial = 10s;
  config_.backoff.max = 10s;
  config_.backoff.jitter = 0;
  connector_->failures = {boost::asio::error::connection_refused};
  MakeClient();
  auto started = std::chrono::steady_clock::now();
  Run([&]() -> asio::awaitable<void> {
    client_->Start();
    CO_ASSERT(co_await WaitEvent<Disconnected>());
    EXPECT_EQ(client_->state(), State::kWaiting);
  });
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_EQ(EventsOf<Disconnected>().back().reason, DisconnectReason::kStopped);
}

}  // namespace
}  // namespace wa::client

namespace wa::client {
namespace {

// A peer (phone 15550002222) whose pkmsg to our device comes in, is delivered once with its
// receipt sent after the commit, comes in again after a restart (the ratchet step is committed:
// receipt, no event), and a corrupted one gets Baileys' retry receipts (count 1, then 2 with
// <keys>) and nacks.
TEST_F(ClientTest, ReceivesOnceRetriesUndecryptableAndAcksRedeliveries) {
  UsePairedCredentials();
  signal::PreKey pre_key{1, crypto::GenerateKeyPair()};
  ASSERT_TRUE(signal_->StorePreKey(pre_key));
  ASSERT_TRUE(signal_->StoreSignedPreKey(creds_.signed_pre_key));
  signal::testing::Party bob("15550002222");
  signal::PreKeyBundle ours;
  ours.registration_id = creds_.registration_id;
  ours.device_id = 5;
  ours.pre_key = signal::PreKeyPublic{1, pre_key.key_pair.public_key};
  ours.signed_pre_key_id = creds_.signed_pre_key.id;
  ours.signed_pre_key = creds_.signed_pre_key.key_pair.public_key;
  ours.signed_pre_key_signature = creds_.signed_pre_key.signature;
  ours.identity_key = creds_.identity_key.public_key;
  auto me = *signal::Address::ForDevice("15550001111", signal::Domain::kPn, 5);
  ASSERT_TRUE(bob.protocol.ProcessPreKeyBundle(me, ours));
  auto text = BuildTextMessage("hi", {}, {});
  auto enc = bob.protocol.Encrypt(me, PadMessage(base::ToBytes(Serialize(text)), 3));
  ASSERT_TRUE(enc);
  ASSERT_EQ(enc->type, signal::MessageType::kPkMsg);
  auto stanza = [](std::string id, base::Bytes ciphertext) {
    return Node("message",
                {{"id", id}, {"from", Jid::User("15550002222")}, {"t", "1700000000"},
                 {"type", "text"}, {"notify", "Bob"}},
                Node::Children{Node("enc", {{"v", "2"}, {"type", "pkmsg"}}, std::move(ciphertext))});
  };
  Node message = stanza("3EB0AAAAAAAAAAAAAAAAAA", enc->ciphertext);
  auto is_receipt = [](const Node& n) { return n.tag == "receipt"; };

  MakeClient();
  Run([&]() -> asio::awaitable<void> {
    client_->Start();
    auto ch = co_await ChannelAt(0);
    CO_ASSERT(ch);
    co_await ServeLogin(*ch, 40, false);
    std::vector<std::size_t> commit_marks;
    state_->on_commit = [&] { commit_marks.push_back(ch->sent.size()); };
    ch->Push(message);
    auto receipt = co_await NextSent(*ch, is_receipt);
    CO_ASSERT(receipt);
    EXPECT_EQ(receipt->AttrOr("id"), "3EB0AAAAAAAAAAAAAAAAAA");
    EXPECT_EQ(receipt->AttrOr("to"), "15550002222@s.whatsapp.net");
    EXPECT_FALSE(receipt->HasAttr("type"));
    // The ratchet step was committed before the receipt left.
    CO_ASSERT(!commit_marks.empty());
    std::size_t receipt_index = 0;
    for (std::size_t i = 0; i < ch->sent.size(); ++i) {
      if (ch->sent[i].tag == "receipt") receipt_index = i;
    }
    EXPECT_LE(commit_marks.back(), receipt_index);
    CO_ASSERT(co_await WaitEvent<Message>());
    state_->on_commit = nullptr;
  });
  auto got = EventsOf<Message>();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].text, "hi");
  EXPECT_EQ(got[0].sender.ToString(), "15550002222@s.whatsapp.net");
  EXPECT_EQ(got[0].push_name, "Bob");
  EXPECT_EQ(got[0].timestamp, 1700000000);
  EXPECT_FALSE(got[0].from_me);
  EXPECT_FALSE(*signal_->ContainsPreKey(1));  // consumed, and the consumption committed

  // A new client on the same stores (its in-memory dedupe is empty): the server delivers the
  // same stanza again. Signal reports the counter as used: a receipt, no second event.
  MakeClient();
  Run([&]() -> asio::awaitable<void> {
    client_->Start();
    auto ch = co_await ChannelAt(1);
    CO_ASSERT(ch);
    co_await ServeLogin(*ch, 40, false);
    ch->Push(message);
    auto receipt = co_await NextSent(*ch, is_receipt);
    CO_ASSERT(receipt);
    EXPECT_EQ(receipt->AttrOr("id"), "3EB0AAAAAAAAAAAAAAAAAA");

    // Undecryptable (a flipped MAC byte): retry receipt, then a nack.
    auto next = bob.protocol.Encrypt(me, PadMessage(base::ToBytes(Serialize(text)), 3));
    CO_ASSERT(next);
    auto inner = signal::PreKeyMessageInnerMessage(next->ciphertext);
    CO_ASSERT(inner);
    next->ciphertext[inner->offset + inner->size - 1] ^= 1;
    Node broken = stanza("3EB0BBBBBBBBBBBBBBBBBB", next->ciphertext);
    (*broken.mutable_children())[0].SetAttr("type", std::string(signal::EncType(next->type)));
    ch->Push(broken);
    auto retry = co_await NextSent(*ch, is_receipt);
    CO_ASSERT(retry);
    EXPECT_EQ(retry->AttrOr("type"), "retry");
    EXPECT_EQ(retry->AttrOr("id"), "3EB0BBBBBBBBBBBBBBBBBB");
    EXPECT_EQ(retry->AttrOr("to"), "15550002222@s.whatsapp.net");
    CO_ASSERT(retry->Child("retry"));
    EXPECT_EQ(retry->Child("retry")->AttrOr("count"), "1");
    EXPECT_EQ(retry->Child("retry")->AttrOr("t"), "1700000000");
    EXPECT_EQ(retry->Child("retry")->AttrOr("v"), "1");
    CO_ASSERT(retry->Child("registration"));
    EXPECT_EQ(*signal::ParseRegistrationId(*retry->Child("registration")->ContentBytes()),
              creds_.registration_id);
    EXPECT_FALSE(retry->Child("keys"));
    auto nack = co_await NextSent(*ch, [](const Node& n) { return n.tag == "ack"; });
    CO_ASSERT(nack);
    EXPECT_EQ(nack->AttrOr("class"), "message");
    EXPECT_EQ(nack->AttrOr("error"), "500");
    EXPECT_EQ(nack->AttrOr("from"), "15550001111:5@s.whatsapp.net");

    // Still broken on the re-send: count 2 carries a bundle to start over with.
    ch->Push(broken);
    retry = co_await NextSent(*ch, is_receipt);
    CO_ASSERT(retry && retry->Child("keys"));
    EXPECT_EQ(retry->Child("retry")->AttrOr("count"), "2");
    const Node* keys = retry->Child("keys");
    auto bundle = ParseBundle(*keys, creds_.registration_id, 5);
    CO_ASSERT(bundle);
    EXPECT_EQ(bundle->identity_key, creds_.identity_key.public_key);
    EXPECT_EQ(bundle->signed_pre_key_id, creds_.signed_pre_key.id);
    CO_ASSERT(bundle->pre_key);
    EXPECT_TRUE(*signal_->ContainsPreKey(bundle->pre_key->id));
    EXPECT_EQ(keys->Child("device-identity")->ContentBytes()->size(), creds_.account.size());

    // The sender starts over from that bundle: its pkmsg decrypts and is delivered.
    CO_ASSERT(bob.protocol.ProcessPreKeyBundle(me, *bundle));
    auto fresh = bob.protocol.Encrypt(me, PadMessage(base::ToBytes(Serialize(BuildTextMessage("again", {}, {}))), 0));
    CO_ASSERT(fresh && fresh->type == signal::MessageType::kPkMsg);
    Node resent = stanza("3EB0BBBBBBBBBBBBBBBBBB", fresh->ciphertext);
    (*resent.mutable_children())[0].SetAttr("count", "2");
    ch->Push(resent);
    CO_ASSERT(co_await WaitEvent<Message>(2));
  });
  got = EventsOf<Message>();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].id, "3EB0BBBBBBBBBBBBBBBBBB");
  EXPECT_EQ(got[1].text, "again");
}

}  // namespace
}  // namespace wa::client
