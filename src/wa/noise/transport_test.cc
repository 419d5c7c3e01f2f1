// C++ initiator <-> C++ responder with fresh keys, then the transport both ways, through the
// frame codec with awkward chunking.
#include "wa/noise/transport.h"

#include <gtest/gtest.h>

#include <random>

#include "wa/noise/errors.h"
#include "wa/noise/frame.h"
#include "wa/noise/handshake.h"

namespace wa::noise {
namespace {

constexpr std::uint64_t kNow = 1750000000;

// Keys from a seeded generator: deterministic, yet different per seed.
crypto::KeyPair SeededKey(std::mt19937_64& rng) {
  crypto::Key32 priv;
  for (auto& b : priv) b = static_cast<std::uint8_t>(rng());
  return crypto::KeyPairFromPrivate(priv);
}

Bytes SeededBytes(std::mt19937_64& rng, std::size_t n) {
  Bytes b(n);
  for (auto& x : b) x = static_cast<std::uint8_t>(rng());
  return b;
}

struct Pair {
  TransportCiphers client;
  TransportCiphers server;
  crypto::Key32 client_static;
  Bytes received_payload;
};

Pair Handshake(std::mt19937_64& rng) {
  const crypto::KeyPair root = SeededKey(rng);
  const crypto::KeyPair intermediate = SeededKey(rng);
  const crypto::KeyPair server_static = SeededKey(rng);
  const crypto::KeyPair client_static = SeededKey(rng);
  const Bytes chain = MakeCertChain(root, intermediate, server_static.public_key,
                                    {.not_before = kNow - 10, .not_after = kNow + 10});
  Initiator client({.static_key = client_static,
                    .ephemeral = SeededKey(rng),
                    .trust_root = root.public_key,
                    .now_unix = kNow});
  Responder server(
      {.static_key = server_static, .cert_chain = chain, .ephemeral = SeededKey(rng)});
  const Bytes payload = SeededBytes(rng, 300);

  // Through the frame codec, as over a socket.
  FrameWriter client_writer(MakeIntroHeader().value());
  FrameWriter server_writer;
  FrameReader server_reader({.expect_intro = true});
  FrameReader client_reader;
  auto pass = [](FrameReader& reader, const Bytes& wire) {
    EXPECT_TRUE(reader.Feed(wire));
    auto frame = reader.Next();
    EXPECT_TRUE(frame && *frame);
    return frame && *frame ? **frame : Bytes{};
  };

  const Bytes hello = pass(server_reader, client_writer.Encode(client.ClientHello().value()).value());
  const Bytes server_hello =
      pass(client_reader, server_writer.Encode(server.ReadClientHello(hello).value()).value());
  auto verified = client.ReadServerHello(server_hello);
  EXPECT_TRUE(verified) << verified.error().message();
  EXPECT_EQ(verified->server_static, server_static.public_key);
  const Bytes finish =
      pass(server_reader, client_writer.Encode(client.ClientFinish(payload).value()).value());
  auto done = server.ReadClientFinish(finish);
  EXPECT_TRUE(done) << done.error().message();
  EXPECT_EQ(done->client_static, client_static.public_key);
  EXPECT_EQ(done->client_payload, payload);
  EXPECT_EQ(client.handshake_hash(), server.handshake_hash());
  return {client.Split().value(), server.Split().value(), done->client_static,
          done->client_payload};
}

TEST(TransportTest, ThousandFramesEachWayThroughTheFrameCodec) {
  for (std::uint64_t seed : {1, 2, 3}) {
    std::mt19937_64 rng(seed);
    Pair p = Handshake(rng);
    ASSERT_FALSE(HasFailure());

    for (int direction = 0; direction < 2; ++direction) {
      CipherState& send = direction == 0 ? p.client.send : p.server.send;
      CipherState& recv = direction == 0 ? p.server.recv : p.client.recv;
      std::vector<Bytes> sent;
      Bytes wire;
      for (int i = 0; i < 1000; ++i) {
        sent.push_back(SeededBytes(rng, i % 50 == 0 ? 0 : rng() % (i % 97 == 0 ? 20000 : 600)));
        ASSERT_TRUE(AppendFrame(wire, send.Encrypt(sent.back()).value()));
      }
      FrameReader reader({.max_frame_size = kMaxFrameSize});
      std::vector<Bytes> got;
      for (std::size_t at = 0; at < wire.size();) {
        // Mostly small reads that split frames, sometimes large ones that coalesce many.
        const std::size_t n = std::min<std::size_t>(
            wire.size() - at, rng() % 4 == 0 ? 1 + rng() % 50000 : 1 + rng() % 300);
        ASSERT_TRUE(reader.Feed(ByteView(wire).subspan(at, n)));
        at += n;
        for (;;) {
          auto frame = reader.Next();
          ASSERT_TRUE(frame);
          if (!*frame) break;
          auto plain = recv.Decrypt(**frame);
          ASSERT_TRUE(plain) << "frame " << got.size();
          got.push_back(std::move(*plain));
        }
      }
      EXPECT_EQ(got, sent);
      EXPECT_EQ(send.counter(), 1000u);
      EXPECT_EQ(recv.counter(), 1000u);
    }
  }
}

TEST(TransportTest, DirectionsUseDifferentKeys) {
  std::mt19937_64 rng(7);
  Pair p = Handshake(rng);
  EXPECT_EQ(p.client.send.key(), p.server.recv.key());
  EXPECT_EQ(p.client.recv.key(), p.server.send.key());
  EXPECT_NE(p.client.send.key(), p.client.recv.key());
  // A frame sent by the client cannot be read by the client's own receive side.
  const Bytes c = p.client.send.Encrypt(base::AsBytes("hello")).value();
  auto r = p.client.recv.Decrypt(c);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::kDecryptFailed);
}

TEST(TransportTest, TamperedFrameKillsTheStream) {
  std::mt19937_64 rng(11);
  Pair p = Handshake(rng);
  const Bytes first = p.client.send.Encrypt(base::AsBytes("first")).value();
  const Bytes second = p.client.send.Encrypt(base::AsBytes("second")).value();
  Bytes bad = first;
  bad[2] ^= 0x40;
  auto r = p.server.recv.Decrypt(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::kDecryptFailed);
  EXPECT_TRUE(p.server.recv.failed());
  // Even the genuine frame is refused now: the stream is dead.
  auto again = p.server.recv.Decrypt(first);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), Errc::kCipherFailed);
}

TEST(TransportTest, ReplayedReorderedAndTruncatedFramesFail) {
  std::mt19937_64 rng(12);
  Pair p = Handshake(rng);
  const Bytes a = p.client.send.Encrypt(base::AsBytes("a")).value();
  const Bytes b = p.client.send.Encrypt(base::AsBytes("b")).value();

  CipherState reorder = p.server.recv;
  EXPECT_EQ(reorder.Decrypt(b).error(), Errc::kDecryptFailed);

  CipherState replay = p.server.recv;
  ASSERT_TRUE(replay.Decrypt(a));
  EXPECT_EQ(replay.Decrypt(a).error(), Errc::kDecryptFailed);

  for (std::size_t n : {std::size_t{0}, std::size_t{15}, std::size_t{16}, a.size() - 1}) {
    CipherState truncated = p.server.recv;
    EXPECT_EQ(truncated.Decrypt(ByteView(a).first(n)).error(), Errc::kDecryptFailed) << n;
  }
  // Empty plaintexts are legal frames (16-byte tag only).
  const Bytes empty = p.server.send.Encrypt({}).value();
  EXPECT_EQ(empty.size(), 16u);
  EXPECT_EQ(p.client.recv.Decrypt(empty).value(), Bytes{});
}

TEST(TransportTest, CounterStopsBeforeTheIvWouldRepeat) {
  std::mt19937_64 rng(13);
  Pair p = Handshake(rng);
  p.client.send.SetCounterForTesting(CipherState::kMaxFrames - 1);
  p.server.recv.SetCounterForTesting(CipherState::kMaxFrames - 1);
  // The last frame (counter 0xffffffff) is still fine and both sides agree on its IV.
  const Bytes last = p.client.send.Encrypt(base::AsBytes("last")).value();
  EXPECT_EQ(p.server.recv.Decrypt(last).value(), base::ToBytes("last"));
  // Counter 2^32 would be IV 0 again.
  auto r = p.client.send.Encrypt(base::AsBytes("wrapped"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::kCounterExhausted);
  auto d = p.server.recv.Decrypt(last);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error(), Errc::kCounterExhausted);
}

TEST(TransportTest, CounterIvLayout) {
  const auto iv = CounterIv(0x01020304);
  EXPECT_EQ(Bytes(iv.begin(), iv.end()), base::FromHex("000000000000000001020304").value());
}

}  // namespace
}  // namespace wa::noise
