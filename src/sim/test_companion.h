// For sim's unit tests only (included by *_test.cc): a companion — the linked-device client —
// that talks to a World through a real Connection held in memory: Noise initiator, frames and the
// node codec, no sockets. Tests drive linking, login and faults with it deterministically, and
// check every signature and MAC the simulated phone makes (Baileys does not verify XEdDSA).
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <string>
#include <vector>

#include "sim/connection.h"
#include "sim/world.h"
#include "wa/binary/decoder.h"
#include "wa/binary/encoder.h"
#include "wa/binary/printer.h"
#include "wa/crypto/crypto.h"
#include "wa/noise/frame.h"
#include "wa/noise/handshake.h"
#include "wa/proto/adv.pb.h"
#include "wa/proto/client_payload.pb.h"

namespace sim::testing {

inline base::Bytes Cat(std::initializer_list<base::ByteView> parts) {
  base::Bytes out;
  for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

inline base::Bytes ProtoBytes(const google::protobuf::MessageLite& m) {
  base::Bytes out(m.ByteSizeLong());
  m.SerializeToArray(out.data(), static_cast<int>(out.size()));
  return out;
}

class TestCompanion {
 public:
  TestCompanion(World& world, boost::asio::any_io_executor ex, std::uint64_t id)
      : world_(world), ex_(std::move(ex)), id_(id) {}
  ~TestCompanion() {
    if (conn && open_) world_.OnClosed(*conn);
  }

  wa::crypto::KeyPair noise = wa::crypto::GenerateKeyPair();
  wa::crypto::KeyPair identity = wa::crypto::GenerateKeyPair();
  wa::crypto::KeyPair signed_prekey = wa::crypto::GenerateKeyPair();
  base::Bytes adv_secret = wa::crypto::RandomBytes(32);
  std::shared_ptr<Connection> conn;

  // Connects and completes the Noise handshake with a registration payload (a new companion).
  ::testing::AssertionResult Register() {
    wa::proto::ClientPayload payload;
    auto* reg = payload.mutable_device_pairing_data();
    reg->set_e_regid(std::string("\x00\x00\x04\xd2", 4));
    reg->set_e_keytype(std::string("\x05", 1));
    reg->set_e_ident(std::string(base::AsChars(identity.public_key)));
    reg->set_e_skey_id(std::string("\x00\x00\x01", 3));
    reg->set_e_skey_val(std::string(base::AsChars(signed_prekey.public_key)));
    auto sig = wa::crypto::Sign(identity.private_key,
                                Cat({base::Bytes{0x05}, signed_prekey.public_key}));
    reg->set_e_skey_sig(std::string(base::AsChars(sig)));
    wa::proto::DeviceProps props;
    props.set_os("Mac OS");
    props.set_platform_type(wa::proto::DeviceProps::CHROME);
    reg->set_device_props(props.SerializeAsString());
    return Handshake(payload);
  }

  // Connects and logs in as device `device` of `phone`.
  ::testing::AssertionResult Login(const std::string& phone, std::uint16_t device) {
    wa::proto::ClientPayload payload;
    payload.set_username(std::stoull(phone));
    payload.set_device(device);
    payload.set_passive(true);
    return Handshake(payload);
  }

  // The I/O loop's part when the socket goes away.
  void Close() {
    if (conn && open_) world_.OnClosed(*conn);
    open_ = false;
  }

  void Send(const wa::binary::Node& node) {
    auto sealed = ciphers_->send.Encrypt(wa::binary::Encode(node));
    ASSERT_TRUE(sealed);
    auto framed = writer_.Encode(*sealed);
    ASSERT_TRUE(framed);
    ASSERT_TRUE(conn->OnBytes(*framed));
  }

  // Everything the connection has queued since the last call, decrypted.
  std::vector<wa::binary::Node> Receive() {
    std::vector<wa::binary::Node> out;
    for (const auto& frame : TakeFrames()) {
      auto plain = ciphers_->recv.Decrypt(frame);
      EXPECT_TRUE(plain) << "a frame does not decrypt: the Noise counters are out of step";
      if (!plain) break;
      auto node = wa::binary::Decode(*plain);
      EXPECT_TRUE(node);
      if (node) out.push_back(std::move(*node));
    }
    return out;
  }

  // The pair-device-sign reply to a pair-success, after checking what a careful companion
  // checks (01-connection.md §5.6): the HMAC with `adv_secret`, the account signature by
  // `primary_identity`, then signing as the device.
  ::testing::AssertionResult SignPairSuccess(const wa::binary::Node& iq,
                                             base::ByteView primary_identity,
                                             wa::binary::Node* reply) {
    const auto* ps = iq.Child("pair-success");
    const auto* di = ps ? ps->Child("device-identity") : nullptr;
    auto bytes = di ? di->ContentBytes() : std::nullopt;
    wa::proto::ADVSignedDeviceIdentityHMAC container;
    if (!bytes || !container.ParseFromArray(bytes->data(), static_cast<int>(bytes->size()))) {
      return ::testing::AssertionFailure() << "no ADVSignedDeviceIdentityHMAC in " << iq;
    }
    auto mac = wa::crypto::HmacSha256(adv_secret, base::AsBytes(container.details()));
    if (!wa::crypto::ConstantTimeEqual(mac, base::AsBytes(container.hmac()))) {
      return ::testing::AssertionFailure() << "the pair-success HMAC does not match the adv secret";
    }
    wa::proto::ADVSignedDeviceIdentity signed_identity;
    wa::proto::ADVDeviceIdentity details;
    if (!signed_identity.ParseFromString(container.details()) ||
        !details.ParseFromString(signed_identity.details())) {
      return ::testing::AssertionFailure() << "ADV identity does not parse";
    }
    if (!wa::crypto::ConstantTimeEqual(base::AsBytes(signed_identity.account_signature_key()),
                                       primary_identity)) {
      return ::testing::AssertionFailure() << "accountSignatureKey is not the phone's identity";
    }
    auto details_bytes = base::AsBytes(signed_identity.details());
    if (!wa::crypto::Verify(primary_identity,
                            Cat({base::Bytes{0x06, 0x00}, details_bytes, identity.public_key}),
                            base::AsBytes(signed_identity.account_signature()))) {
      return ::testing::AssertionFailure() << "the account signature does not verify";
    }
    auto device_sig = wa::crypto::Sign(
        identity.private_key,
        Cat({base::Bytes{0x06, 0x01}, details_bytes, identity.public_key, primary_identity}));
    signed_identity.set_device_signature(std::string(base::AsChars(device_sig)));
    signed_identity.clear_account_signature_key();
    *reply = wa::binary::Node(
        "iq", {{"to", wa::binary::Jid::Server()}, {"type", "result"}, {"id", iq.AttrOr("id")}},
        {wa::binary::Node("pair-device-sign", {},
                          {wa::binary::Node("device-identity",
                                            {{"key-index", std::to_string(details.key_index())}},
                                            ProtoBytes(signed_identity))})});
    return ::testing::AssertionSuccess();
  }

 private:
  std::vector<base::Bytes> TakeFrames() {
    std::vector<base::Bytes> frames;
    for (auto& out : conn->outgoing()) EXPECT_TRUE(reader_.Feed(out.bytes));
    conn->outgoing().clear();
    for (;;) {
      auto next = reader_.Next();
      EXPECT_TRUE(next);
      if (!next || !*next) break;
      frames.push_back(std::move(**next));
    }
    return frames;
  }

  ::testing::AssertionResult Handshake(const wa::proto::ClientPayload& payload) {
    conn = std::make_shared<Connection>(world_, ex_, id_, "test:" + std::to_string(id_));
    world_.OnOpened(conn);
    open_ = true;
    wa::noise::Initiator initiator({.static_key = noise,
                                    .trust_root = world_.noise_root().public_key,
                                    .now_unix = static_cast<std::uint64_t>(std::time(nullptr))});
    auto hello = initiator.ClientHello();
    auto hello_frame = hello ? writer_.Encode(*hello) : base::Result<base::Bytes>(hello.error());
    if (!hello_frame || !conn->OnBytes(*hello_frame)) {
      return ::testing::AssertionFailure() << "client hello refused";
    }
    auto frames = TakeFrames();
    if (frames.size() != 1) return ::testing::AssertionFailure() << "expected one server hello";
    if (auto server = initiator.ReadServerHello(frames[0]); !server) {
      return ::testing::AssertionFailure() << "server hello: " << server.error().message();
    }
    auto finish = initiator.ClientFinish(ProtoBytes(payload));
    auto finish_frame = finish ? writer_.Encode(*finish) : base::Result<base::Bytes>(finish.error());
    if (!finish_frame) return ::testing::AssertionFailure() << "client finish failed";
    auto ciphers = initiator.Split();
    if (!ciphers) return ::testing::AssertionFailure() << "split failed";
    ciphers_.emplace(std::move(*ciphers));
    if (!conn->OnBytes(*finish_frame)) return ::testing::AssertionFailure() << "finish refused";
    return ::testing::AssertionSuccess();
  }

  World& world_;
  boost::asio::any_io_executor ex_;
  std::uint64_t id_;
  bool open_ = false;
  wa::noise::FrameWriter writer_{*wa::noise::MakeIntroHeader()};
  wa::noise::FrameReader reader_{{.expect_intro = false, .max_frame_size = wa::noise::kMaxFrameSize}};
  std::optional<wa::noise::TransportCiphers> ciphers_;
};

// The first node with this tag (and, for iqs, a first child with `child`), or null.
inline const wa::binary::Node* FindNode(const std::vector<wa::binary::Node>& nodes,
                                        std::string_view tag, std::string_view child = {}) {
  for (const auto& n : nodes) {
    if (n.tag != tag) continue;
    if (child.empty() || (!n.children().empty() && n.children()[0].tag == child)) return &n;
  }
  return nullptr;
}

}  // namespace sim::testing
