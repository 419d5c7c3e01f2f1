// Handshakes per second and transport frames per second.
//
// BM_InitiatorHandshake is the number to compare with Baileys: the client's whole share of a
// handshake (a fresh ephemeral key pair, the framed client hello, reading the framed server hello
// and verifying its certificate chain, the client finish with a 400-byte payload, the split into
// transport keys) against server hellos recorded beforehand, so that no server work is counted.
// bench/baileys_noise.mjs runs Baileys' makeNoiseHandler over the same recorded server hellos: set
// WA_NOISE_TRANSCRIPTS to a file; it is written on first use and read afterwards (and without
// it the transcripts are made in memory). A recorded server hello is bound to the client
// ephemeral key it answered, so the replayed initiator uses the recorded key; it still generates
// one per handshake, and drops it, so that the cost of a real connection's key stays in.
//
// BM_Handshake runs both roles in one process (fresh keys each time), BM_TransportSealFrame the
// send path of a frame after the handshake (seal + length prefix, as Baileys' encodeFrame),
// BM_TransportSealOpen seal and open, BM_FrameReader the frame cutter.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <boost/json.hpp>

#include "wa/noise/frame.h"
#include "wa/noise/handshake.h"

namespace wa::noise {
namespace {

constexpr std::uint64_t kNow = 1750000000;
constexpr std::size_t kTranscriptCount = 64;
constexpr std::size_t kPayloadSize = 400;  // about a ClientPayload

struct Server {
  crypto::KeyPair root = crypto::GenerateKeyPair();
  crypto::KeyPair static_key = crypto::GenerateKeyPair();
  Bytes chain = MakeCertChain(root, crypto::GenerateKeyPair(), static_key.public_key,
                              {.not_before = kNow - 60, .not_after = kNow + 60});
};

std::pair<TransportCiphers, TransportCiphers> Connect(const Server& server,
                                                       const crypto::KeyPair& client_static,
                                                       ByteView payload) {
  Initiator client({.static_key = client_static, .trust_root = server.root.public_key,
                    .now_unix = kNow});
  Responder responder({.static_key = server.static_key, .cert_chain = server.chain});
  auto hello = responder.ReadClientHello(client.ClientHello().value());
  if (!client.ReadServerHello(hello.value())) std::abort();
  if (!responder.ReadClientFinish(client.ClientFinish(payload).value())) std::abort();
  return {client.Split().value(), responder.Split().value()};
}

// Recorded handshakes: what the client needs to replay each one, and what it must send last.
struct Transcript {
  crypto::KeyPair ephemeral;
  Bytes server_frame;   // the server hello as it arrives: 3-byte length + HandshakeMessage
  Bytes client_finish;  // the HandshakeMessage the client answers with (for cross-checks)
};

struct Transcripts {
  crypto::Key32 root{};
  crypto::KeyPair client_static;
  std::uint64_t now_unix = kNow;
  Bytes payload;
  std::vector<Transcript> items;
};

Transcripts Record() {
  const Server server;
  Transcripts t;
  t.root = server.root.public_key;
  t.client_static = crypto::GenerateKeyPair();
  t.payload = Bytes(kPayloadSize, 0x42);
  for (std::size_t i = 0; i < kTranscriptCount; ++i) {
    Initiator client({.static_key = t.client_static, .trust_root = t.root, .now_unix = t.now_unix});
    Responder responder({.static_key = server.static_key, .cert_chain = server.chain});
    Bytes hello = responder.ReadClientHello(client.ClientHello().value()).value();
    if (!client.ReadServerHello(hello)) std::abort();
    Bytes finish = client.ClientFinish(t.payload).value();
    if (!responder.ReadClientFinish(finish)) std::abort();
    t.items.push_back({client.ephemeral(), EncodeFrame(hello).value(), std::move(finish)});
  }
  return t;
}

std::string Hex(ByteView b) { return base::ToHex(b); }

template <std::size_t N>
std::array<std::uint8_t, N> FixedFromHex(const boost::json::value& v) {
  auto bytes = base::FromHex(v.as_string());
  if (!bytes || bytes->size() != N) std::abort();
  std::array<std::uint8_t, N> out;
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

Bytes BytesFromHex(const boost::json::value& v) {
  auto bytes = base::FromHex(v.as_string());
  if (!bytes) std::abort();
  return std::move(*bytes);
}

void Write(const Transcripts& t, const char* path) {
  boost::json::array items;
  for (const Transcript& item : t.items) {
    items.push_back({{"ephemeral_private", Hex(item.ephemeral.private_key)},
                     {"ephemeral_public", Hex(item.ephemeral.public_key)},
                     {"server_frame", Hex(item.server_frame)},
                     {"client_finish", Hex(item.client_finish)}});
  }
  boost::json::object doc{{"root_public", Hex(t.root)},
                          {"client_static_private", Hex(t.client_static.private_key)},
                          {"client_static_public", Hex(t.client_static.public_key)},
                          {"now_unix", t.now_unix},
                          {"payload", Hex(t.payload)},
                          {"transcripts", std::move(items)}};
  std::ofstream out(path);
  out << boost::json::serialize(doc) << "\n";
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", path);
    std::exit(2);
  }
}

Transcripts Read(std::ifstream& in) {
  std::stringstream ss;
  ss << in.rdbuf();
  auto doc = boost::json::parse(ss.str()).as_object();
  Transcripts t;
  t.root = FixedFromHex<32>(doc.at("root_public"));
  t.client_static = {FixedFromHex<32>(doc.at("client_static_private")),
                     FixedFromHex<32>(doc.at("client_static_public"))};
  t.now_unix = doc.at("now_unix").to_number<std::uint64_t>();
  t.payload = BytesFromHex(doc.at("payload"));
  for (const auto& v : doc.at("transcripts").as_array()) {
    const auto& o = v.as_object();
    t.items.push_back({{FixedFromHex<32>(o.at("ephemeral_private")), FixedFromHex<32>(o.at("ephemeral_public"))},
                       BytesFromHex(o.at("server_frame")),
                       BytesFromHex(o.at("client_finish"))});
  }
  if (t.items.empty()) std::abort();
  return t;
}

const Transcripts& LoadTranscripts() {
  static const Transcripts transcripts = [] {
    const char* path = std::getenv("WA_NOISE_TRANSCRIPTS");
    if (!path) return Record();
    if (std::ifstream in(path); in) return Read(in);
    Transcripts t = Record();
    Write(t, path);
    return t;
  }();
  return transcripts;
}

// The client's share of one handshake, as a connection runs it; returns its transport keys.
TransportCiphers ClientHandshake(const Transcripts& t, const Transcript& item) {
  crypto::KeyPair fresh = crypto::GenerateKeyPair();  // see the header comment
  benchmark::DoNotOptimize(fresh);
  Initiator client({.static_key = t.client_static, .ephemeral = item.ephemeral, .trust_root = t.root,
                    .now_unix = t.now_unix});
  FrameWriter writer(MakeIntroHeader().value());
  auto hello_frame = writer.Encode(client.ClientHello().value());
  benchmark::DoNotOptimize(hello_frame);
  FrameReader reader;
  if (!reader.Feed(item.server_frame)) std::abort();
  auto server_hello = reader.Next().value();
  if (!server_hello || !client.ReadServerHello(*server_hello)) std::abort();
  Bytes finish = client.ClientFinish(t.payload).value();
  auto finish_frame = writer.Encode(finish);
  benchmark::DoNotOptimize(finish_frame);
  return client.Split().value();
}

void BM_InitiatorHandshake(benchmark::State& state) {
  const Transcripts& t = LoadTranscripts();
  // The replay must give the recorded answer, or the numbers measure something else.
  for (const Transcript& item : t.items) {
    Initiator client({.static_key = t.client_static, .ephemeral = item.ephemeral, .trust_root = t.root,
                      .now_unix = t.now_unix});
    (void)client.ClientHello();
    FrameReader reader;
    if (!reader.Feed(item.server_frame)) std::abort();
    if (!client.ReadServerHello(*reader.Next().value()) || client.ClientFinish(t.payload).value() != item.client_finish) {
      std::fprintf(stderr, "replayed handshake differs from the recording\n");
      std::abort();
    }
  }
  std::size_t i = 0;
  for (auto _ : state) {
    auto keys = ClientHandshake(t, t.items[i++ % t.items.size()]);
    benchmark::DoNotOptimize(keys);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_InitiatorHandshake)->Unit(benchmark::kMicrosecond);

void BM_Handshake(benchmark::State& state) {
  const Server server;
  const crypto::KeyPair client_static = crypto::GenerateKeyPair();
  const Bytes payload(kPayloadSize, 0x42);
  for (auto _ : state) {
    auto pair = Connect(server, client_static, payload);
    benchmark::DoNotOptimize(pair);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Handshake)->Unit(benchmark::kMicrosecond);

// A frame out after the handshake: seal, then the 3-byte length in front (a new buffer each,
// as Baileys' encodeFrame allocates one).
void BM_TransportSealFrame(benchmark::State& state) {
  const Transcripts& t = LoadTranscripts();
  TransportCiphers keys = ClientHandshake(t, t.items[0]);
  const Bytes plaintext(static_cast<std::size_t>(state.range(0)), 0x17);
  for (auto _ : state) {
    auto sealed = keys.send.Encrypt(plaintext);
    auto frame = EncodeFrame(sealed.value());
    benchmark::DoNotOptimize(frame);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_TransportSealFrame)->Arg(64)->Arg(1024)->Arg(16384);

void BM_TransportSealOpen(benchmark::State& state) {
  const Server server;
  auto [client, responder] = Connect(server, crypto::GenerateKeyPair(), Bytes(10));
  const Bytes plaintext(static_cast<std::size_t>(state.range(0)), 0x17);
  for (auto _ : state) {
    auto sealed = client.send.Encrypt(plaintext);
    auto opened = responder.recv.Decrypt(*sealed);
    benchmark::DoNotOptimize(opened);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_TransportSealOpen)->Arg(64)->Arg(1024)->Arg(16384);

void BM_FrameReader(benchmark::State& state) {
  Bytes stream;
  for (int i = 0; i < 1000; ++i) {
    if (!AppendFrame(stream, Bytes(static_cast<std::size_t>(state.range(0)), 1))) std::abort();
  }
  const std::size_t chunk = 4096;
  for (auto _ : state) {
    FrameReader reader({.max_frame_size = kMaxFrameSize});
    std::size_t frames = 0;
    for (std::size_t at = 0; at < stream.size(); at += chunk) {
      if (!reader.Feed(ByteView(stream).subspan(at, std::min(chunk, stream.size() - at)))) {
        std::abort();
      }
      while (auto f = reader.Next().value()) ++frames;
    }
    benchmark::DoNotOptimize(frames);
  }
  state.SetItemsProcessed(state.iterations() * 1000);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(stream.size()));
}
BENCHMARK(BM_FrameReader)->Arg(64)->Arg(1024);

}  // namespace
}  // namespace wa::noise

BENCHMARK_MAIN();
