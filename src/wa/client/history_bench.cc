// History parser throughput: a generated HistorySync of 2,000 conversations x 50 text messages
// (about 8 MB inflated), zlib-compressed, parsed with HistoryParser one conversation at a time.
// Reports inflated bytes/s and conversations/s per CPU second, and the largest buffer the parser
// held for one item (the memory bound) as a counter.
#include <benchmark/benchmark.h>

#include <string>

#include "wa/client/history.h"

namespace wa::client {
namespace {

base::Bytes MakeBlob(int conversations, int messages, std::size_t* inflated) {
  proto::HistorySync sync;
  sync.set_sync_type(proto::Message::RECENT);
  for (int i = 0; i < conversations; ++i) {
    auto* c = sync.add_conversations();
    c->set_id("1555" + std::to_string(1000000 + i) + "@s.whatsapp.net");
    for (int m = 0; m < messages; ++m) {
      auto* info = c->add_messages()->mutable_message();
      info->mutable_key()->set_remote_jid(c->id());
      info->mutable_key()->set_from_me(m % 2 == 1);
      info->mutable_key()->set_id("3EB0" + std::to_string(i) + "X" + std::to_string(m));
      info->mutable_message()->set_conversation("history message " + std::to_string(m) +
                                                " of a conversation with some ordinary text");
      info->set_message_timestamp(1700000000 + static_cast<std::uint64_t>(m));
    }
  }
  std::string plain;
  sync.SerializeToString(&plain);
  *inflated = plain.size();
  return ZlibCompress(base::AsBytes(plain));
}

void BM_ParseHistory(benchmark::State& state) {
  std::size_t inflated = 0;
  const base::Bytes blob = MakeBlob(2000, 50, &inflated);
  std::size_t largest = 0;
  for (auto _ : state) {
    HistoryParser parser(blob);
    std::size_t conversations = 0;
    for (;;) {
      auto item = parser.Next();
      if (!item || !*item) break;
      conversations += std::holds_alternative<proto::Conversation>(**item);
    }
    benchmark::DoNotOptimize(conversations);
    largest = parser.largest_item_bytes();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * inflated));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 2000));
  state.counters["inflated_bytes"] = static_cast<double>(inflated);
  state.counters["compressed_bytes"] = static_cast<double>(blob.size());
  state.counters["largest_item_bytes"] = static_cast<double>(largest);
}
BENCHMARK(BM_ParseHistory)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace wa::client

BENCHMARK_MAIN();
