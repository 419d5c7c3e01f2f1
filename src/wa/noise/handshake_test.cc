// The Baileys transcript (vectors/noise-handshake.json) replayed byte for byte from both sides,
// plus the ways a handshake must fail cleanly.
#include "wa/noise/handshake.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <functional>
#include <sstream>

#include "wa/noise/errors.h"
#include "wa/noise/frame.h"
#include "wa/proto/handshake.pb.h"

namespace wa::noise {
namespace {

Bytes Hex(std::string_view s) {
  auto b = base::FromHex(s);
  EXPECT_TRUE(b.has_value()) << s;
  return b.value_or(Bytes{});
}

crypto::Key32 Key(std::string_view hex) {
  const Bytes b = Hex(hex);
  crypto::Key32 k{};
  EXPECT_EQ(b.size(), 32u);
  std::copy_n(b.begin(), std::min<std::size_t>(32, b.size()), k.begin());
  return k;
}

Bytes B(const crypto::Digest32& d) { return Bytes(d.begin(), d.end()); }

// The transcript, read at run time.
struct Transcript {
  boost::json::value json;

  static Transcript Load() {
    std::ifstream in(std::string(WA_SHARED_DIR) + "/protocol/vectors/noise-handshake.json");
    std::stringstream ss;
    ss << in.rdbuf();
    return {boost::json::parse(ss.str())};
  }
  Bytes At(std::string_view section, std::string_view field) const {
    return Hex(json.at(section).at(field).as_string());
  }
  crypto::KeyPair Pair(std::string_view name) const {
    const auto& k = json.at("keys").at(name);
    crypto::KeyPair pair{Key(k.at("private").as_string()), Key(k.at("public").as_string())};
    // The vector's public keys are what our X25519 derives from its private keys.
    EXPECT_EQ(crypto::KeyPairFromPrivate(pair.private_key).public_key, pair.public_key) << name;
    return pair;
  }
  crypto::Key32 Public(std::string_view name) const { return Pair(name).public_key; }
  Bytes TraceHash(std::size_t step) const {
    return Hex(json.at("responder_trace").as_array().at(step).at("h").as_string());
  }
  // A payload of wire.frameN (which carries its 3-byte length).
  Bytes WirePayload(std::string_view field) const {
    const Bytes framed = At("wire", field);
    FrameReader reader({.max_frame_size = kMaxFrameSize});
    EXPECT_TRUE(reader.Feed(framed));
    auto frame = reader.Next();
    EXPECT_TRUE(frame && *frame) << field;
    EXPECT_EQ(reader.buffered(), 0u) << field;
    return frame && *frame ? **frame : Bytes{};
  }
  Bytes ClientPayload() const {
    return Hex(json.at("client_payload_registration_plaintext").as_string());
  }

  // Inside both certificates' validity (1700000000 .. 2000000000).
  static constexpr std::uint64_t kNow = 1800000000;

  InitiatorOptions Initiator() const {
    return {.static_key = Pair("vector_client_noise_static"),
            .ephemeral = Pair("vector_client_ephemeral"),
            .trust_root = Public("vector_test_root"),
            .now_unix = kNow};
  }
  ResponderOptions Responder() const {
    return {.static_key = Pair("vector_server_static"),
            .cert_chain = At("cert_chain", "cert_chain_proto"),
            .ephemeral = Pair("vector_server_ephemeral")};
  }
};

class HandshakeVectorTest : public ::testing::Test {
 protected:
  Transcript v_ = Transcript::Load();
};

TEST_F(HandshakeVectorTest, InitiatorReproducesTheClientSide) {
  Initiator client(v_.Initiator());

  const Bytes hello = client.ClientHello().value();
  EXPECT_EQ(hello, v_.At("handshake_messages", "client_hello_proto"));
  EXPECT_EQ(B(client.handshake_hash()), v_.TraceHash(2));
  FrameWriter writer(MakeIntroHeader().value());
  EXPECT_EQ(writer.Encode(hello).value(), v_.At("wire", "frame1_client_hello_with_intro"));

  const Bytes server_hello = v_.WirePayload("frame2_server_hello");
  EXPECT_EQ(server_hello, v_.At("handshake_messages", "server_hello_proto"));
  auto result = client.ReadServerHello(server_hello);
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(result->server_static, v_.Public("vector_server_static"));
  EXPECT_EQ(B(client.handshake_hash()), v_.TraceHash(7));
  const VerifiedCertChain& certs = result->certificates;
  EXPECT_EQ(certs.intermediate.serial, 1u);
  EXPECT_EQ(certs.intermediate.issuer_serial, 0u);
  EXPECT_EQ(certs.intermediate.key, v_.Public("vector_test_intermediate"));
  EXPECT_EQ(certs.leaf.serial, 2u);
  EXPECT_EQ(certs.leaf.issuer_serial, 1u);
  EXPECT_EQ(certs.leaf.key, v_.Public("vector_server_static"));
  EXPECT_EQ(certs.leaf.not_before, 1700000000u);
  EXPECT_EQ(certs.leaf.not_after, 2000000000u);

  const Bytes finish = client.ClientFinish(v_.ClientPayload()).value();
  EXPECT_EQ(finish, v_.At("handshake_messages", "client_finish_proto"));
  EXPECT_EQ(writer.Encode(finish).value(), v_.At("wire", "frame3_client_finish"));
  EXPECT_EQ(B(client.handshake_hash()), v_.TraceHash(10));

  TransportCiphers t = client.Split().value();
  EXPECT_EQ(Bytes(t.send.key().begin(), t.send.key().end()),
            v_.At("transport", "client_write_key"));
  EXPECT_EQ(Bytes(t.recv.key().begin(), t.recv.key().end()),
            v_.At("transport", "client_read_key"));

  auto frame4 = t.recv.Decrypt(v_.WirePayload("frame4_server_success_encrypted"));
  ASSERT_TRUE(frame4);
  EXPECT_EQ(*frame4, v_.At("transport", "frame4_plaintext"));
  auto frame5 = t.recv.Decrypt(v_.WirePayload("frame5_server_iq_result_encrypted"));
  ASSERT_TRUE(frame5);  // no plaintext in the vector; authenticating at counter 1 is the check
  ASSERT_FALSE(frame5->empty());
  EXPECT_EQ((*frame5)[0], 0x00);  // an uncompressed binary node buffer
  EXPECT_EQ(t.recv.counter(), 2u);

  const Bytes frame6 = t.send.Encrypt(v_.At("transport", "frame6_plaintext")).value();
  EXPECT_EQ(writer.Encode(frame6).value(), v_.At("wire", "frame6_client_ping_encrypted"));
}

TEST_F(HandshakeVectorTest, ResponderReproducesTheServerSide) {
  // The first bytes a server sees: the intro header and the client hello.
  FrameReader reader({.expect_intro = true});
  ASSERT_TRUE(reader.Feed(v_.At("wire", "frame1_client_hello_with_intro")));
  auto hello = reader.Next();
  ASSERT_TRUE(hello && *hello);

  Responder server(v_.Responder());
  const Bytes server_hello = server.ReadClientHello(**hello).value();
  EXPECT_EQ(server_hello, v_.At("handshake_messages", "server_hello_proto"));
  EXPECT_EQ(EncodeFrame(server_hello).value(), v_.At("wire", "frame2_server_hello"));
  EXPECT_EQ(B(server.handshake_hash()), v_.TraceHash(7));

  auto finish = server.ReadClientFinish(v_.WirePayload("frame3_client_finish"));
  ASSERT_TRUE(finish) << finish.error().message();
  EXPECT_EQ(finish->client_static, v_.Public("vector_client_noise_static"));
  EXPECT_EQ(finish->client_payload, v_.ClientPayload());
  EXPECT_EQ(B(server.handshake_hash()), v_.TraceHash(10));

  TransportCiphers t = server.Split().value();
  EXPECT_EQ(Bytes(t.recv.key().begin(), t.recv.key().end()),
            v_.At("transport", "client_write_key"));
  EXPECT_EQ(Bytes(t.send.key().begin(), t.send.key().end()),
            v_.At("transport", "client_read_key"));

  const Bytes frame4 = t.send.Encrypt(v_.At("transport", "frame4_plaintext")).value();
  EXPECT_EQ(EncodeFrame(frame4).value(), v_.At("wire", "frame4_server_success_encrypted"));
  // Frame 5's plaintext is not in the vector: take it from the client side's view.
  CipherState client_recv(Key(base::ToHex(v_.At("transport", "client_read_key"))));
  client_recv.SetCounterForTesting(1);
  const Bytes frame5_plain =
      client_recv.Decrypt(v_.WirePayload("frame5_server_iq_result_encrypted")).value();
  EXPECT_EQ(EncodeFrame(t.send.Encrypt(frame5_plain).value()).value(),
            v_.At("wire", "frame5_server_iq_result_encrypted"));

  auto frame6 = t.recv.Decrypt(v_.WirePayload("frame6_client_ping_encrypted"));
  ASSERT_TRUE(frame6);
  EXPECT_EQ(*frame6, v_.At("transport", "frame6_plaintext"));
}

// Every step of responder_trace (h, ck, k, n), replayed on a bare SymmetricState.
TEST_F(HandshakeVectorTest, SymmetricStateFollowsTheTrace) {
  proto::HandshakeMessage server_hello, client_finish;
  const Bytes sh = v_.At("handshake_messages", "server_hello_proto");
  const Bytes cf = v_.At("handshake_messages", "client_finish_proto");
  ASSERT_TRUE(server_hello.ParseFromArray(sh.data(), static_cast<int>(sh.size())));
  ASSERT_TRUE(client_finish.ParseFromArray(cf.data(), static_cast<int>(cf.size())));
  const auto& trace = v_.json.at("responder_trace").as_array();
  ASSERT_EQ(trace.size(), 11u);

  const auto se = v_.Pair("vector_server_ephemeral");
  const auto ss = v_.Pair("vector_server_static");
  const auto ce = v_.Public("vector_client_ephemeral");
  const auto cs = v_.Public("vector_client_noise_static");

  SymmetricState s;
  std::size_t step = 0;
  auto check = [&] {
    const auto& t = trace.at(step);
    SCOPED_TRACE(std::string(t.at("step").as_string()));
    EXPECT_EQ(B(s.h()), Hex(t.at("h").as_string()));
    EXPECT_EQ(Bytes(s.ck().begin(), s.ck().end()), Hex(t.at("ck").as_string()));
    if (!t.at("k").is_null()) {
      EXPECT_EQ(Bytes(s.k().begin(), s.k().end()), Hex(t.at("k").as_string()));
    }
    EXPECT_EQ(s.n(), static_cast<std::uint32_t>(t.at("n").to_number<std::int64_t>()));
    ++step;
  };
  check();
  s.MixHash(kWaHeader);
  check();
  s.MixHash(ce);
  check();
  s.MixHash(se.public_key);
  check();
  ASSERT_TRUE(s.MixDh(se.private_key, ce));
  check();
  EXPECT_EQ(s.EncryptAndHash(ss.public_key).value(),
            base::ToBytes(server_hello.server_hello().static_()));
  check();
  ASSERT_TRUE(s.MixDh(ss.private_key, ce));
  check();
  EXPECT_EQ(s.EncryptAndHash(v_.At("cert_chain", "cert_chain_proto")).value(),
            base::ToBytes(server_hello.server_hello().payload()));
  check();
  EXPECT_EQ(s.DecryptAndHash(base::AsBytes(client_finish.client_finish().static_())).value(),
            Bytes(cs.begin(), cs.end()));
  check();
  ASSERT_TRUE(s.MixDh(se.private_key, cs));
  check();
  EXPECT_EQ(s.DecryptAndHash(base::AsBytes(client_finish.client_finish().payload())).value(),
            v_.ClientPayload());
  check();
  EXPECT_EQ(step, trace.size());
}

// ---------------------------------------------------------------------------------------------
// Failures

template <class T>
Errc ErrorOf(const base::Result<T>& r) {
  EXPECT_FALSE(r);
  if (r) return Errc{};
  EXPECT_EQ(&r.error().category(), &Category()) << r.error().message();
  return static_cast<Errc>(r.error().value());
}

TEST_F(HandshakeVectorTest, WrongTrustRootIsRejectedAndTheHandshakeStops) {
  for (const crypto::Key32& root :
       {kWhatsAppRootPublicKey, v_.Public("vector_test_intermediate")}) {
    InitiatorOptions options = v_.Initiator();
    options.trust_root = root;
    Initiator client(options);
    ASSERT_TRUE(client.ClientHello());
    EXPECT_EQ(ErrorOf(client.ReadServerHello(v_.At("handshake_messages", "server_hello_proto"))),
              Errc::kCertBadIntermediateSignature);
    EXPECT_EQ(ErrorOf(client.ClientFinish(v_.ClientPayload())), Errc::kWrongState);
    EXPECT_EQ(ErrorOf(client.Split()), Errc::kWrongState);
  }
}

TEST_F(HandshakeVectorTest, CertificateValidityUsesTheCallersClock) {
  for (const auto& [now, expected] : {std::pair{std::uint64_t{1699999999}, Errc::kCertNotYetValid},
                                      std::pair{std::uint64_t{2000000001}, Errc::kCertExpired}}) {
    InitiatorOptions options = v_.Initiator();
    options.now_unix = now;
    Initiator client(options);
    ASSERT_TRUE(client.ClientHello());
    EXPECT_EQ(ErrorOf(client.ReadServerHello(v_.At("handshake_messages", "server_hello_proto"))),
              expected);
  }
  for (std::uint64_t now : {1700000000u, 2000000000u}) {
    InitiatorOptions options = v_.Initiator();
    options.now_unix = now;
    Initiator client(options);
    ASSERT_TRUE(client.ClientHello());
    EXPECT_TRUE(client.ReadServerHello(v_.At("handshake_messages", "server_hello_proto")));
  }
}

TEST_F(HandshakeVectorTest, ServerHelloTamperingIsCaught) {
  const Bytes good = v_.At("handshake_messages", "server_hello_proto");
  proto::HandshakeMessage parsed;
  ASSERT_TRUE(parsed.ParseFromArray(good.data(), static_cast<int>(good.size())));
  auto reserialize = [](const proto::HandshakeMessage& m) { return base::ToBytes(m.SerializeAsString()); };

  struct Case {
    const char* what;
    std::function<void(proto::HandshakeMessage::ServerHello&)> edit;
    Errc expected;
  };
  const std::vector<Case> cases = {
      {"static ciphertext bit", [](auto& h) { (*h.mutable_static_())[5] ^= 1; },
       Errc::kDecryptFailed},
      {"static tag bit", [](auto& h) { h.mutable_static_()->back() ^= 0x80; },
       Errc::kDecryptFailed},
      {"payload bit", [](auto& h) { (*h.mutable_payload())[100] ^= 4; }, Errc::kDecryptFailed},
      {"payload truncated", [](auto& h) { h.mutable_payload()->resize(10); },
       Errc::kDecryptFailed},
      {"static shorter than a tag", [](auto& h) { h.mutable_static_()->resize(15); },
       Errc::kDecryptFailed},
      {"ephemeral bit", [](auto& h) { (*h.mutable_ephemeral())[0] ^= 1; },
       Errc::kDecryptFailed},
      {"ephemeral 31 bytes", [](auto& h) { h.mutable_ephemeral()->resize(31); },
       Errc::kBadKeyLength},
      {"ephemeral low order", [](auto& h) { h.set_ephemeral(std::string(32, '\0')); },
       Errc::kWeakKey},
      {"no static", [](auto& h) { h.clear_static_(); }, Errc::kMalformedHandshake},
      {"no payload", [](auto& h) { h.clear_payload(); }, Errc::kMalformedHandshake},
      {"no ephemeral", [](auto& h) { h.clear_ephemeral(); }, Errc::kMalformedHandshake},
  };
  for (const Case& c : cases) {
    proto::HandshakeMessage m = parsed;
    c.edit(*m.mutable_server_hello());
    Initiator client(v_.Initiator());
    ASSERT_TRUE(client.ClientHello());
    EXPECT_EQ(ErrorOf(client.ReadServerHello(reserialize(m))), c.expected) << c.what;
  }
  // A client hello where a server hello belongs.
  Initiator client(v_.Initiator());
  ASSERT_TRUE(client.ClientHello());
  EXPECT_EQ(ErrorOf(client.ReadServerHello(v_.At("handshake_messages", "client_hello_proto"))),
            Errc::kMalformedHandshake);
}

TEST_F(HandshakeVectorTest, EveryTruncatedMessageFailsCleanly) {
  const Bytes sh = v_.At("handshake_messages", "server_hello_proto");
  for (std::size_t n = 0; n < sh.size(); ++n) {
    Initiator client(v_.Initiator());
    ASSERT_TRUE(client.ClientHello());
    EXPECT_FALSE(client.ReadServerHello(ByteView(sh).first(n))) << n;
  }
  const Bytes ch = v_.At("handshake_messages", "client_hello_proto");
  for (std::size_t n = 0; n < ch.size(); ++n) {
    Responder server(v_.Responder());
    const Errc e = ErrorOf(server.ReadClientHello(ByteView(ch).first(n)));
    EXPECT_TRUE(e == Errc::kMalformedHandshake || e == Errc::kBadKeyLength) << n;
  }
  const Bytes cf = v_.At("handshake_messages", "client_finish_proto");
  for (std::size_t n = 0; n < cf.size(); ++n) {
    Responder server(v_.Responder());
    ASSERT_TRUE(server.ReadClientHello(ch));
    EXPECT_FALSE(server.ReadClientFinish(ByteView(cf).first(n))) << n;
  }
}

TEST_F(HandshakeVectorTest, ClientFinishTamperingIsCaught) {
  const Bytes cf = v_.At("handshake_messages", "client_finish_proto");
  for (std::size_t i : {std::size_t{5}, std::size_t{40}, std::size_t{60}, cf.size() - 1}) {
    Bytes bad = cf;
    bad[i] ^= 0x01;
    Responder server(v_.Responder());
    ASSERT_TRUE(server.ReadClientHello(v_.At("handshake_messages", "client_hello_proto")));
    EXPECT_EQ(ErrorOf(server.ReadClientFinish(bad)), Errc::kDecryptFailed) << i;
    EXPECT_EQ(ErrorOf(server.Split()), Errc::kWrongState);
  }
}

TEST_F(HandshakeVectorTest, StepsOutOfOrderAreRefused) {
  {
    Initiator client(v_.Initiator());
    EXPECT_EQ(ErrorOf(client.ReadServerHello(v_.At("handshake_messages", "server_hello_proto"))),
              Errc::kWrongState);
  }
  {
    Initiator client(v_.Initiator());
    ASSERT_TRUE(client.ClientHello());
    EXPECT_EQ(ErrorOf(client.ClientFinish({})), Errc::kWrongState);
  }
  {
    Initiator client(v_.Initiator());
    ASSERT_TRUE(client.ClientHello());
    ASSERT_TRUE(client.ReadServerHello(v_.At("handshake_messages", "server_hello_proto")));
    ASSERT_TRUE(client.ClientFinish(v_.ClientPayload()));
    ASSERT_TRUE(client.Split());
    EXPECT_EQ(ErrorOf(client.Split()), Errc::kWrongState);
  }
  {
    Responder server(v_.Responder());
    EXPECT_EQ(ErrorOf(server.ReadClientFinish(v_.At("handshake_messages", "client_finish_proto"))),
              Errc::kWrongState);
  }
}

}  // namespace
}  // namespace wa::noise
