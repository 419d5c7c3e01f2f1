// The World through real Connections held in memory (test_companion.h): linking a companion by
// QR and by pairing code (the messages on the wire, the signatures and MACs the phone makes, the
// control-call outcomes and errors), injected faults, and the idle sweep.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>

#include "sim/pairing_code.h"
#include "sim/test_companion.h"

namespace sim {
namespace {

namespace asio = boost::asio;
namespace crypto = wa::crypto;
using testing::FindNode;
using testing::TestCompanion;
using wa::binary::Jid;
using wa::binary::Node;
using wa::binary::Value;

constexpr char kPhone[] = "15550001111";

class LinkTest : public ::testing::Test {
 protected:
  LinkTest() : world_(ioc_.get_executor(), {.noise_root = crypto::GenerateKeyPair()}) {
    auto phone = world_.CreatePhone(kPhone, "Alice");
    EXPECT_TRUE(phone);
    phone_identity_ = phone->identity_key;
  }

  // Runs the io_context until `done` holds; false after `timeout` (the KDF thread needs real
  // time, so this polls with a deadline).
  bool RunUntil(const std::function<bool()>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      ioc_.run_for(std::chrono::milliseconds(2));
      if (ioc_.stopped()) ioc_.restart();
    }
    return true;
  }

  using Outcome = std::shared_ptr<std::optional<ControlResult<std::string>>>;
  Outcome Spawn(asio::awaitable<ControlResult<std::string>> call) {
    auto out = std::make_shared<std::optional<ControlResult<std::string>>>();
    asio::co_spawn(ioc_, std::move(call), [out](std::exception_ptr e, ControlResult<std::string> r) {
      ASSERT_FALSE(e);
      *out = std::move(r);
    });
    return out;
  }

  // Receives until a node matching (tag, first child) arrives; collects everything in `seen`.
  const Node* Await(TestCompanion& c, std::string_view tag, std::string_view child) {
    const Node* found = nullptr;
    RunUntil([&] {
      auto got = c.Receive();
      for (auto& n : got) seen_.push_back(std::move(n));
      found = FindNode(seen_, tag, child);
      return found != nullptr;
    });
    return found;
  }

  // Links `c` to kPhone by QR and logs it in on a new connection `online` (same keys).
  void LinkAndLogin(TestCompanion& c, TestCompanion& online) {
    ASSERT_TRUE(c.Register());
    std::string qr = FirstRef(c) + "," + base::ToBase64(c.noise.public_key) + "," +
                     base::ToBase64(c.identity.public_key) + "," + base::ToBase64(c.adv_secret) +
                     ",1";
    auto outcome = Spawn(world_.Scan(kPhone, qr));
    const Node* ps = Await(c, "iq", "pair-success");
    ASSERT_TRUE(ps);
    Node reply;
    ASSERT_TRUE(c.SignPairSuccess(*ps, phone_identity_, &reply));
    c.Send(reply);
    ASSERT_TRUE(RunUntil([&] { return outcome->has_value(); }));
    ASSERT_TRUE(**outcome);
    c.Close();
    online.noise = c.noise;
    online.identity = c.identity;
    ASSERT_TRUE(online.Login(kPhone, 1));
    ASSERT_TRUE(FindNode(online.Receive(), "success"));
    seen_.clear();
  }

  static Node Ping(std::string id) {
    return Node("iq", {{"to", Jid::Server()}, {"type", "get"}, {"id", std::move(id)}, {"xmlns", "w:p"}},
                {Node("ping")});
  }

  std::string FirstRef(TestCompanion& c) {
    auto nodes = c.Receive();
    const Node* iq = FindNode(nodes, "iq", "pair-device");
    if (!iq) return {};
    auto ref = iq->children()[0].children()[0].ContentText();
    return ref ? std::string(*ref) : std::string();
  }

  asio::io_context ioc_;
  World world_;
  crypto::Key32 phone_identity_{};
  std::vector<Node> seen_;
};

// Completes a link once pair-success is in: signs, sends pair-device-sign, waits for the call.
void FinishLink(LinkTest* t, TestCompanion& c, const Node& pair_success,
                const crypto::Key32& phone_identity) {
  Node reply;
  ASSERT_TRUE(c.SignPairSuccess(pair_success, phone_identity, &reply));
  c.Send(reply);
  (void)t;
}

TEST_F(LinkTest, QrScanLinksWithAVerifiableAdvIdentityAndA515) {
  TestCompanion c(world_, ioc_.get_executor(), 1);
  ASSERT_TRUE(c.Register());
  std::string ref = FirstRef(c);
  ASSERT_FALSE(ref.empty());
  std::string qr = "https://wa.me/settings/linked_devices#" + ref + "," +
                   base::ToBase64(c.noise.public_key) + "," +
                   base::ToBase64(c.identity.public_key) + "," + base::ToBase64(c.adv_secret) +
                   ",1";
  auto outcome = Spawn(world_.Scan(kPhone, qr));
  const Node* ps = Await(c, "iq", "pair-success");
  ASSERT_TRUE(ps);
  const Node* device = ps->children()[0].Child("device");
  ASSERT_TRUE(device);
  EXPECT_EQ(device->AttrOr("jid"), "15550001111:1@s.whatsapp.net");
  FinishLink(this, c, *ps, phone_identity_);
  ASSERT_TRUE(RunUntil([&] { return outcome->has_value(); }));
  ASSERT_TRUE(**outcome) << (*outcome)->error().detail;
  EXPECT_EQ(***outcome, "15550001111:1@s.whatsapp.net");
  const Node* end = Await(c, "stream:error", "");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->AttrOr("code"), "515");
  EXPECT_TRUE(c.conn->close_requested());

  // The linked device logs in with the same Noise key.
  TestCompanion again(world_, ioc_.get_executor(), 2);
  again.noise = c.noise;
  ASSERT_TRUE(again.Login(kPhone, 1));
  auto nodes = again.Receive();
  ASSERT_TRUE(FindNode(nodes, "success"));
  auto devices = world_.Devices(kPhone);
  ASSERT_TRUE(devices);
  ASSERT_EQ(devices->size(), 1u);
  EXPECT_EQ((*devices)[0].platform, "chrome (Mac OS)");
  EXPECT_TRUE((*devices)[0].connected);
}

TEST_F(LinkTest, ATamperedDeviceSignatureIsRefused) {
  TestCompanion c(world_, ioc_.get_executor(), 1);
  ASSERT_TRUE(c.Register());
  std::string qr = FirstRef(c) + "," + base::ToBase64(c.noise.public_key) + "," +
                   base::ToBase64(c.identity.public_key) + "," + base::ToBase64(c.adv_secret) +
                   ",1";
  auto outcome = Spawn(world_.Scan(kPhone, qr));
  const Node* ps = Await(c, "iq", "pair-success");
  ASSERT_TRUE(ps);
  Node reply;
  ASSERT_TRUE(c.SignPairSuccess(*ps, phone_identity_, &reply));
  // Flip a bit of the device signature.
  auto* identity = &(*reply.mutable_children())[0];
  auto* dev = &(*identity->mutable_children())[0];
  wa::proto::ADVSignedDeviceIdentity signed_identity;
  ASSERT_TRUE(signed_identity.ParseFromArray(dev->bytes()->data(),
                                             static_cast<int>(dev->bytes()->size())));
  std::string sig = signed_identity.device_signature();
  sig[10] ^= 1;
  signed_identity.set_device_signature(sig);
  dev->content = testing::ProtoBytes(signed_identity);
  c.Send(reply);
  ASSERT_TRUE(RunUntil([&] { return outcome->has_value(); }));
  ASSERT_FALSE(**outcome);
  EXPECT_EQ((*outcome)->error().code, "pairing_rejected");
  EXPECT_TRUE(world_.Devices(kPhone)->empty());
}

// --- pairing code --------------------------------------------------------------------------

// The companion's side of §6 (what Baileys and whatsmeow do).
struct CodeCompanion {
  std::string code = pairing_code::Encode(crypto::RandomBytes(5));
  crypto::KeyPair ephemeral = crypto::GenerateKeyPair();

  Node Hello(const TestCompanion& c, std::string_view phone, std::string_view id = "hello-1") const {
    auto wrapped = pairing_code::WrapKey(code, crypto::RandomBytes(32), crypto::RandomBytes(16),
                                         ephemeral.public_key);
    return Node("iq",
                {{"to", Jid::Server()}, {"type", "set"}, {"id", std::string(id)}, {"xmlns", "md"}},
                {Node("link_code_companion_reg",
                      {{"jid", Jid::User(std::string(phone))},
                       {"stage", "companion_hello"},
                       {"should_show_push_notification", "true"}},
                      {Node("link_code_pairing_wrapped_companion_ephemeral_pub", {}, wrapped),
                       Node("companion_server_auth_key_pub", {},
                            base::Bytes(c.noise.public_key.begin(), c.noise.public_key.end())),
                       Node("companion_platform_id", {}, Value("1")),
                       Node("companion_platform_display", {}, Value("Chrome (Mac OS)")),
                       // whatsmeow's byte form of the nonce (Baileys sends the string "0").
                       Node("link_code_pairing_nonce", {}, base::Bytes{0})})});
  }

  // Answers primary_hello: seals the key bundle, and sets the companion's new ADV secret.
  ::testing::AssertionResult Finish(TestCompanion& c, const Node& notification, Node* finish) {
    const Node& reg = notification.children()[0];
    auto ref = reg.Child("link_code_pairing_ref")->ContentBytes();
    auto wrapped = reg.Child("link_code_pairing_wrapped_primary_ephemeral_pub")->ContentBytes();
    auto primary_identity = reg.Child("primary_identity_pub")->ContentBytes();
    if (!ref || !wrapped || !primary_identity) {
      return ::testing::AssertionFailure() << "primary_hello lacks a child: " << notification;
    }
    auto primary_pub = pairing_code::UnwrapKey(code, *wrapped);
    if (!primary_pub) return ::testing::AssertionFailure() << "unwrap failed";
    auto shared = crypto::SharedSecret(ephemeral.private_key, *primary_pub);
    if (!shared) return ::testing::AssertionFailure() << "low-order primary ephemeral";
    pairing_code::KeyBundle bundle;
    bundle.companion_identity = c.identity.public_key;
    std::copy_n(primary_identity->begin(), 32, bundle.primary_identity.begin());
    crypto::RandomBytes(bundle.adv_random);
    auto sealed = pairing_code::SealKeyBundle(*shared, crypto::RandomBytes(32),
                                              crypto::RandomBytes(12), bundle);
    auto identity_shared = crypto::SharedSecret(c.identity.private_key, *primary_identity);
    if (!sealed || !identity_shared) return ::testing::AssertionFailure() << "seal failed";
    c.adv_secret = pairing_code::AdvSecret(*shared, *identity_shared, bundle.adv_random);
    *finish = Node(
        "iq", {{"to", Jid::Server()}, {"type", "set"}, {"id", "finish-1"}, {"xmlns", "md"}},
        {Node("link_code_companion_reg",
              {{"jid", Jid::User(kPhone)}, {"stage", "companion_finish"}},
              {Node("link_code_pairing_wrapped_key_bundle", {}, *sealed),
               Node("companion_identity_public", {},
                    base::Bytes(c.identity.public_key.begin(), c.identity.public_key.end())),
               Node("link_code_pairing_ref", {}, base::Bytes(ref->begin(), ref->end()))})});
    return ::testing::AssertionSuccess();
  }
};

const Node* ResultOf(const std::vector<Node>& nodes, std::string_view id) {
  for (const auto& n : nodes) {
    if (n.tag == "iq" && n.AttrOr("id") == id) return &n;
  }
  return nullptr;
}

TEST_F(LinkTest, PairingCodeLinksLikeAQrScan) {
  TestCompanion c(world_, ioc_.get_executor(), 1);
  ASSERT_TRUE(c.Register());
  auto qr_adv_secret = c.adv_secret;
  CodeCompanion cc;
  c.Send(cc.Hello(c, kPhone));
  auto nodes = c.Receive();
  const Node* hello_result = ResultOf(nodes, "hello-1");
  ASSERT_TRUE(hello_result);
  ASSERT_EQ(hello_result->AttrOr("type"), "result");
  const Node* ref_node = hello_result->Child("link_code_companion_reg")
                             ? hello_result->Child("link_code_companion_reg")->Child("link_code_pairing_ref")
                             : nullptr;
  ASSERT_TRUE(ref_node && ref_node->ContentBytes());

  // The user types the code in the display form.
  auto outcome = Spawn(world_.EnterPairingCode(kPhone, cc.code.substr(0, 4) + "-" + cc.code.substr(4)));
  const Node* primary_hello = Await(c, "notification", "link_code_companion_reg");
  ASSERT_TRUE(primary_hello);
  EXPECT_EQ(primary_hello->AttrOr("type"), "link_code_companion_reg");
  const Node& reg = primary_hello->children()[0];
  EXPECT_EQ(reg.AttrOr("stage"), "primary_hello");
  EXPECT_EQ(base::AsChars(*reg.Child("link_code_pairing_ref")->ContentBytes()),
            base::AsChars(*ref_node->ContentBytes()));
  auto primary_identity = reg.Child("primary_identity_pub")->ContentBytes();
  ASSERT_TRUE(primary_identity);
  EXPECT_TRUE(crypto::ConstantTimeEqual(*primary_identity, phone_identity_));
  EXPECT_EQ(reg.Child("link_code_pairing_wrapped_primary_ephemeral_pub")->ContentBytes()->size(),
            pairing_code::kWrappedKeySize);

  Node finish;
  ASSERT_TRUE(cc.Finish(c, *primary_hello, &finish));
  EXPECT_NE(c.adv_secret, qr_adv_secret);
  c.Send(finish);
  const Node* finish_result = Await(c, "iq", "pair-success");
  ASSERT_TRUE(finish_result);
  const Node* ack = ResultOf(seen_, "finish-1");
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->AttrOr("type"), "result");
  // pair-success is keyed by the derived ADV secret (SignPairSuccess checks the HMAC with it).
  FinishLink(this, c, *finish_result, phone_identity_);
  ASSERT_TRUE(RunUntil([&] { return outcome->has_value(); }));
  ASSERT_TRUE(**outcome) << (*outcome)->error().detail;
  EXPECT_EQ(***outcome, "15550001111:1@s.whatsapp.net");
  const Node* end = Await(c, "stream:error", "");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->AttrOr("code"), "515");
  EXPECT_EQ(world_.Devices(kPhone)->size(), 1u);

  // The code is used up.
  auto again = Spawn(world_.EnterPairingCode(kPhone, cc.code));
  ASSERT_TRUE(RunUntil([&] { return again->has_value(); }));
  ASSERT_FALSE(**again);
  EXPECT_EQ((*again)->error().code, "no_waiting_companion");
}

TEST_F(LinkTest, AWrongCodeFailsCleanlyAndTheRightOneStillLinks) {
  TestCompanion c(world_, ioc_.get_executor(), 1);
  ASSERT_TRUE(c.Register());
  CodeCompanion cc;
  c.Send(cc.Hello(c, kPhone));
  (void)c.Receive();
  std::string wrong = cc.code == "ABCDEFGH" ? "ABCDEFGJ" : "ABCDEFGH";
  auto outcome = Spawn(world_.EnterPairingCode(kPhone, wrong));
  const Node* primary_hello = Await(c, "notification", "link_code_companion_reg");
  ASSERT_TRUE(primary_hello);
  Node finish;
  ASSERT_TRUE(cc.Finish(c, *primary_hello, &finish));  // the companion cannot tell
  c.Send(finish);
  ASSERT_TRUE(RunUntil([&] { return outcome->has_value(); }));
  ASSERT_FALSE(**outcome);
  EXPECT_EQ((*outcome)->error().status, 422);
  EXPECT_EQ((*outcome)->error().code, "wrong_code");
  auto nodes = c.Receive();
  const Node* error = ResultOf(nodes, "finish-1");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->AttrOr("type"), "error");
  EXPECT_EQ(error->Child("error")->AttrOr("code"), "401");
  EXPECT_FALSE(FindNode(nodes, "iq", "pair-success"));
  EXPECT_FALSE(c.conn->close_requested());
  EXPECT_TRUE(world_.Devices(kPhone)->empty());

  // The user retypes the right code: a new primary_hello, and the link completes.
  seen_.clear();
  auto retry = Spawn(world_.EnterPairingCode(kPhone, cc.code));
  primary_hello = Await(c, "notification", "link_code_companion_reg");
  ASSERT_TRUE(primary_hello);
  ASSERT_TRUE(cc.Finish(c, *primary_hello, &finish));
  c.Send(finish);
  const Node* ps = Await(c, "iq", "pair-success");
  ASSERT_TRUE(ps);
  FinishLink(this, c, *ps, phone_identity_);
  ASSERT_TRUE(RunUntil([&] { return retry->has_value(); }));
  ASSERT_TRUE(**retry) << (*retry)->error().detail;
}

TEST_F(LinkTest, CompanionHelloIsValidated) {
  TestCompanion c(world_, ioc_.get_executor(), 1);
  ASSERT_TRUE(c.Register());
  (void)c.Receive();
  CodeCompanion cc;

  // No account for this number.
  c.Send(cc.Hello(c, "15559999999", "h-unknown"));
  // A Noise key other than the connection's.
  Node other_key = cc.Hello(c, kPhone, "h-key");
  (*(*other_key.mutable_children())[0].mutable_children())[1].content = crypto::RandomBytes(32);
  c.Send(other_key);
  // A wrapped key of the wrong size.
  Node short_wrap = cc.Hello(c, kPhone, "h-size");
  (*(*short_wrap.mutable_children())[0].mutable_children())[0].content = crypto::RandomBytes(79);
  c.Send(short_wrap);
  // A finish with no primary_hello before it.
  Node early = cc.Hello(c, kPhone, "h-early");
  early.mutable_children()->at(0).SetAttr("stage", "companion_finish");
  c.Send(early);

  auto nodes = c.Receive();
  auto code_of = [&](std::string_view id) -> std::string {
    const Node* r = ResultOf(nodes, id);
    if (!r || r->AttrOr("type") != "error" || !r->Child("error")) return "none";
    return std::string(r->Child("error")->AttrOr("code"));
  };
  EXPECT_EQ(code_of("h-unknown"), "404");
  EXPECT_EQ(code_of("h-key"), "400");
  EXPECT_EQ(code_of("h-size"), "400");
  EXPECT_EQ(code_of("h-early"), "400");

  // None of them left a companion waiting.
  auto none = Spawn(world_.EnterPairingCode(kPhone, cc.code));
  ASSERT_TRUE(RunUntil([&] { return none->has_value(); }));
  ASSERT_FALSE(**none);
  EXPECT_EQ((*none)->error().code, "no_waiting_companion");
}

TEST_F(LinkTest, EnterPairingCodeErrors) {
  auto no_phone = Spawn(world_.EnterPairingCode("15559999999", "ABCDEFGH"));
  auto bad_code = Spawn(world_.EnterPairingCode(kPhone, "ABCD-EFG0"));
  auto nobody = Spawn(world_.EnterPairingCode(kPhone, "abcd-efgh"));
  ASSERT_TRUE(RunUntil([&] { return no_phone->has_value() && bad_code->has_value() && nobody->has_value(); }));
  EXPECT_EQ((*no_phone)->error().code, "phone_not_found");
  EXPECT_EQ((*bad_code)->error().code, "invalid_code");
  EXPECT_EQ((*bad_code)->error().status, 422);
  EXPECT_EQ((*nobody)->error().code, "no_waiting_companion");
  EXPECT_EQ((*nobody)->error().status, 404);
}

TEST_F(LinkTest, TheCompanionDisconnectingEndsTheCall) {
  TestCompanion c(world_, ioc_.get_executor(), 1);
  ASSERT_TRUE(c.Register());
  CodeCompanion cc;
  c.Send(cc.Hello(c, kPhone));
  (void)c.Receive();
  auto outcome = Spawn(world_.EnterPairingCode(kPhone, cc.code));
  ASSERT_TRUE(Await(c, "notification", "link_code_companion_reg"));
  c.Close();
  ASSERT_TRUE(RunUntil([&] { return outcome->has_value(); }));
  ASSERT_FALSE(**outcome);
  EXPECT_EQ((*outcome)->error().code, "companion_disconnected");
}

}  // namespace
}  // namespace sim

// --- faults ------------------------------------------------------------------------------------

namespace sim {
namespace {

using namespace std::chrono_literals;

TEST_F(LinkTest, LostStanzasLeaveTheNoiseCountersInStep) {
  TestCompanion c(world_, ioc_.get_executor(), 1);
  ASSERT_TRUE(c.Register());
  (void)c.Receive();
  ASSERT_TRUE(world_.ApplyFaults({.frame_loss_probability = 1}));
  c.Send(Ping("p1"));
  c.Send(Ping("p2"));
  EXPECT_TRUE(c.Receive().empty());
  EXPECT_EQ(world_.stats().frames_lost, 2u);
  world_.faults().Clear();
  c.Send(Ping("p3"));
  auto nodes = c.Receive();  // decrypts: the lost stanzas never used a counter
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].AttrOr("id"), "p3");
  EXPECT_FALSE(c.conn->close_requested());
}

TEST_F(LinkTest, DelayedStanzasCarryTheirDelayToTheWriter) {
  TestCompanion c(world_, ioc_.get_executor(), 1);
  ASSERT_TRUE(c.Register());
  (void)c.Receive();
  ASSERT_TRUE(world_.ApplyFaults({.frame_delay = 250ms}));
  c.Send(Ping("p1"));
  ASSERT_EQ(c.conn->outgoing().size(), 1u);
  EXPECT_EQ(c.conn->outgoing().front().delay, 250ms);
  EXPECT_EQ(world_.stats().frames_delayed, 1u);
  auto nodes = c.Receive();
  ASSERT_EQ(nodes.size(), 1u);
}

TEST_F(LinkTest, StreamErrorsAndDropsReachTheirTargetsOnly) {
  TestCompanion linking(world_, ioc_.get_executor(), 1);
  TestCompanion online(world_, ioc_.get_executor(), 2);
  LinkAndLogin(linking, online);
  TestCompanion bystander(world_, ioc_.get_executor(), 3);
  ASSERT_TRUE(bystander.Register());
  (void)bystander.Receive();

  // An unknown device: nothing at all happens (the stream error is not sent either).
  FaultRequest bad;
  bad.stream_error = StreamErrorFault{.target = {.all = true}, .code = 503};
  bad.drop_connections = FaultTarget{.phone = kPhone, .device = 9};
  auto refused = world_.ApplyFaults(bad);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "device_not_found");
  EXPECT_TRUE(online.Receive().empty());
  FaultRequest unknown_phone;
  unknown_phone.drop_connections = FaultTarget{.phone = "15559999999"};
  EXPECT_EQ(world_.ApplyFaults(unknown_phone).error().code, "phone_not_found");

  // 503 to device 1 of the phone.
  FaultRequest e503;
  e503.stream_error = StreamErrorFault{.target = {.phone = kPhone, .device = 1}, .code = 503};
  auto out = world_.ApplyFaults(e503);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->stream_errors, 1u);
  auto nodes = online.Receive();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].tag, "stream:error");
  EXPECT_EQ(nodes[0].AttrOr("code"), "503");
  EXPECT_TRUE(online.conn->close_requested());
  EXPECT_FALSE(online.conn->drop_requested());
  EXPECT_FALSE(bystander.conn->close_requested());
  online.Close();

  // conflict replaced, no code, to every connection; then drop all.
  FaultRequest replaced;
  replaced.stream_error = StreamErrorFault{.target = {.all = true}, .conflict = "replaced"};
  out = world_.ApplyFaults(replaced);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->stream_errors, 1u);
  nodes = bystander.Receive();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_FALSE(nodes[0].HasAttr("code"));
  ASSERT_TRUE(nodes[0].Child("conflict"));
  EXPECT_EQ(nodes[0].Child("conflict")->AttrOr("type"), "replaced");

  TestCompanion fresh(world_, ioc_.get_executor(), 4);
  ASSERT_TRUE(fresh.Register());
  out = world_.ApplyFaults({.drop_connections = FaultTarget{.all = true}});
  ASSERT_TRUE(out);
  EXPECT_EQ(out->dropped, 1u);  // the bystander is already closing
  EXPECT_TRUE(fresh.conn->drop_requested());
  EXPECT_TRUE(fresh.conn->outgoing().empty());
  EXPECT_EQ(world_.stats().connections_dropped, 1u);
}

// --- idle sweep ----------------------------------------------------------------------------------

TEST_F(LinkTest, CloseIdleDropsOnlySilentConnections) {
  World world(ioc_.get_executor(),
              {.noise_root = crypto::GenerateKeyPair(), .idle_timeout = 1000ms});
  TestCompanion silent(world, ioc_.get_executor(), 1);
  TestCompanion talking(world, ioc_.get_executor(), 2);
  ASSERT_TRUE(silent.Register());
  ASSERT_TRUE(talking.Register());
  auto now = std::chrono::steady_clock::now();
  silent.conn->last_frame_at = now - 1001ms;
  talking.conn->last_frame_at = now - 1000ms;  // exactly at the limit: still allowed
  EXPECT_EQ(world.CloseIdle(now), 1u);
  EXPECT_TRUE(silent.conn->drop_requested());
  EXPECT_FALSE(talking.conn->close_requested());
  EXPECT_EQ(world.stats().idle_closed, 1u);
  EXPECT_EQ(world.CloseIdle(now), 0u);  // already closing
  // A frame from the client resets its clock.
  talking.conn->last_frame_at = now - 5000ms;
  talking.Send(Ping("p"));
  EXPECT_EQ(world.CloseIdle(std::chrono::steady_clock::now()), 0u);
}

TEST_F(LinkTest, IdleSweepTimerDropsASilentConnectionButNotAPingingOne) {
  World world(ioc_.get_executor(), {.noise_root = crypto::GenerateKeyPair(), .idle_timeout = 150ms});
  world.StartIdleSweep();
  TestCompanion silent(world, ioc_.get_executor(), 1);
  TestCompanion pinging(world, ioc_.get_executor(), 2);
  ASSERT_TRUE(silent.Register());
  ASSERT_TRUE(pinging.Register());
  int n = 0;
  auto last_ping = std::chrono::steady_clock::now();
  ASSERT_TRUE(RunUntil(
      [&] {
        if (std::chrono::steady_clock::now() - last_ping > 30ms) {
          pinging.Send(Ping("p" + std::to_string(n++)));
          (void)pinging.Receive();
          last_ping = std::chrono::steady_clock::now();
        }
        return silent.conn->drop_requested();
      },
      5s));
  EXPECT_FALSE(pinging.conn->close_requested());
  EXPECT_EQ(world.stats().idle_closed, 1u);
}

}  // namespace
}  // namespace sim
