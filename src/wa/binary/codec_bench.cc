// Encode and decode throughput over a fixed set of nodes: the JSON lines written by
//   node tests/interop/binary_gen.mjs --seed 42 --count 10000 --out FILE
// (bench/run-codec-bench.sh makes the file and runs this and bench/baileys_codec.mjs on it).
// The file is named by $WA_CODEC_BENCH_FILE. Reports nodes/s (top-level nodes of the file, each
// with its children) and bytes/s (frame bytes), per CPU second.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <boost/json.hpp>

#include "base/bytes.h"
#include "wa/binary/decoder.h"
#include "wa/binary/encoder.h"
#include "wa/binary/node_json.h"

namespace wa::binary {
namespace {

struct Corpus {
  std::vector<Node> nodes;         // built from the strings (what a sender encodes)
  std::vector<base::Bytes> frames; // Baileys' bytes (what a receiver decodes)
  // The same frames back to back in one buffer, as they arrive in a receive buffer (and as
  // bench/baileys_codec.mjs holds them): decoding reads them in order from here.
  base::Bytes stream;
  std::vector<base::ByteView> views;
  std::size_t total_bytes = 0;
};

const Corpus& LoadCorpus() {
  static const Corpus corpus = [] {
    Corpus c;
    const char* path = std::getenv("WA_CODEC_BENCH_FILE");
    if (!path) {
      std::fprintf(stderr,
                   "set WA_CODEC_BENCH_FILE to a file made by\n"
                   "  node tests/interop/binary_gen.mjs --seed 42 --count 10000 --out FILE\n"
                   "(or run bench/run-codec-bench.sh)\n");
      std::exit(2);
    }
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      auto doc = boost::json::parse(line).as_object();
      auto node = NodeFromJson(doc.at("node"));
      auto bytes = base::FromHex(doc.at("hex").as_string());
      if (!node || !bytes) std::abort();
      c.total_bytes += bytes->size();
      c.nodes.push_back(std::move(*node));
      c.frames.push_back(std::move(*bytes));
    }
    if (c.nodes.empty()) {
      std::fprintf(stderr, "no nodes in %s\n", path);
      std::exit(2);
    }
    c.stream.reserve(c.total_bytes);
    for (const base::Bytes& frame : c.frames) c.stream.insert(c.stream.end(), frame.begin(), frame.end());
    std::size_t at = 0;
    for (const base::Bytes& frame : c.frames) {
      c.views.push_back(base::ByteView(c.stream).subspan(at, frame.size()));
      at += frame.size();
    }
    // The file must be what the encoder under test writes; otherwise the numbers mean nothing.
    for (std::size_t i = 0; i < c.nodes.size(); ++i) {
      if (Encode(c.nodes[i]) != c.frames[i]) std::abort();
    }
    return c;
  }();
  return corpus;
}

void Report(benchmark::State& state, const Corpus& c) {
  auto n = static_cast<double>(c.nodes.size());
  auto bytes = static_cast<double>(c.total_bytes);
  state.counters["nodes/s"] = benchmark::Counter(n, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1024);
}

void BM_EncodeAll(benchmark::State& state) {
  const Corpus& c = LoadCorpus();
  for (auto _ : state) {
    for (const Node& node : c.nodes) {
      base::Bytes out = Encode(node);
      benchmark::DoNotOptimize(out.data());
    }
  }
  Report(state, c);
}
BENCHMARK(BM_EncodeAll)->Unit(benchmark::kMillisecond);

// Encoding into one reused buffer: what a send loop that keeps its buffer costs.
void BM_EncodeAllReusedBuffer(benchmark::State& state) {
  const Corpus& c = LoadCorpus();
  base::Bytes out;
  for (auto _ : state) {
    for (const Node& node : c.nodes) {
      out.clear();
      out.push_back(0);
      EncodeNode(node, out);
      benchmark::DoNotOptimize(out.data());
    }
  }
  Report(state, c);
}
BENCHMARK(BM_EncodeAllReusedBuffer)->Unit(benchmark::kMillisecond);

void BM_DecodeAll(benchmark::State& state) {
  const Corpus& c = LoadCorpus();
  for (auto _ : state) {
    for (base::ByteView frame : c.views) {
      auto node = Decode(frame);
      if (!node) std::abort();
      benchmark::DoNotOptimize(node->tag.data());
    }
  }
  Report(state, c);
}
BENCHMARK(BM_DecodeAll)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace wa::binary

BENCHMARK_MAIN();
