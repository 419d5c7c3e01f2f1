// Handshakes per second (C++ initiator and responder in one process, fresh keys each time, as a
// real connection has) and transport frames per second.
#include <benchmark/benchmark.h>

#include "wa/noise/frame.h"
#include "wa/noise/handshake.h"

namespace wa::noise {
namespace {

constexpr std::uint64_t kNow = 1750000000;

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

void BM_Handshake(benchmark::State& state) {
  const Server server;
  const crypto::KeyPair client_static = crypto::GenerateKeyPair();
  const Bytes payload(400, 0x42);  // about a ClientPayload
  for (auto _ : state) {
    auto pair = Connect(server, client_static, payload);
    benchmark::DoNotOptimize(pair);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Handshake)->Unit(benchmark::kMicrosecond);

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
