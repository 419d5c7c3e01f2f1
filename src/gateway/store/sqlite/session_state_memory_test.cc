// How much memory an open SessionState costs: the gateway keeps one per linked number, thousands
// per process. Prints its measurements; asserts only on correctness (sizes are reported, not
// judged, as in wa/signal/memory_test.cc).
#include <malloc.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "gateway/store/sqlite/session_state_test_util.h"
#include "wa/binary/jid.h"

namespace gateway::store::sqlite {
namespace {

using testing::StateTest;
using wa::signal::Address;

long long HeapInUse() { return static_cast<long long>(mallinfo2().uordblks); }

// Credentials as a linked number has them: paired, with the account's signed identity.
wa::client::Credentials Linked(int i) {
  wa::client::Credentials c = wa::client::Credentials::New();
  std::string user = std::to_string(4915100000000LL + i);
  c.me = wa::binary::Jid::User(user, 12);
  c.lid = wa::binary::Jid::Lid(std::to_string(100000000000000LL + i), 12);
  c.account = wa::crypto::RandomBytes(190);
  c.platform = "android";
  c.push_name = "User " + std::to_string(i);
  c.routing_info = wa::crypto::RandomBytes(14);
  c.next_pre_key_id = 813;
  c.first_unuploaded_pre_key_id = 813;
  return c;
}

TEST_F(StateTest, MemoryOfAThousandIdleSessions) {
  constexpr int kSessions = 1000;
  constexpr std::size_t kRecord = 1500;  // a Signal session record after a few messages
  const Address peer("4915200000000", 0);
  {
    // Set up the file: credentials, the signed prekey, a few one-time prekeys and a session.
    std::vector<std::unique_ptr<SessionState>> states;
    for (int i = 0; i < kSessions; ++i) {
      states.push_back(Open("session-" + std::to_string(i)));
      SessionState& s = *states.back();
      auto creds = Linked(i);
      ASSERT_TRUE(s.Save(creds));
      ASSERT_TRUE(s.StoreSignedPreKey(creds.signed_pre_key));
      for (const auto& key : wa::signal::GeneratePreKeys(1, 20)) ASSERT_TRUE(s.StorePreKey(key));
      ASSERT_TRUE(s.StoreSession(peer, wa::crypto::RandomBytes(kRecord)));
      ASSERT_TRUE(s.SaveIdentity(peer, wa::signal::Key32{9}));
    }
    for (auto& s : states) ASSERT_TRUE(Commit(*s));
  }
  Reopen();
  wa::client::PrefetchRequest request;
  request.addresses = {peer};
  // A first pass fills SQLite's page caches (per connection, not per session) before measuring.
  for (int i = 0; i < kSessions; ++i) {
    auto s = Open("session-" + std::to_string(i));
    ASSERT_TRUE(Prefetch(*s, request));
  }
  std::vector<std::unique_ptr<SessionState>> states;
  states.reserve(kSessions);
  const long long h0 = HeapInUse();
  for (int i = 0; i < kSessions; ++i) states.push_back(Open("session-" + std::to_string(i)));
  const long long h1 = HeapInUse();
  // Each session then handles one message with the peer: session and identity cached.
  for (auto& s : states) {
    ASSERT_TRUE(Prefetch(*s, request));
    ASSERT_TRUE(s->LoadSession(peer)->has_value());
  }
  const long long h2 = HeapInUse();
  for (auto& s : states) {
    EXPECT_EQ(s->sync_reads(), 0u);
    EXPECT_TRUE(s->Load()->has_value());
    s->ReleaseCache();
  }
  const long long h3 = HeapInUse();
  if (h1 - h0 <= 0) {
    std::printf("[memory] heap accounting unavailable under this allocator\n");
    return;
  }
  std::printf(
      "[memory] open idle SessionState (credentials + signed prekey): %lld bytes/session\n"
      "[memory] with one %zu-byte Signal session and its identity cached: %lld bytes/session\n"
      "[memory] after ReleaseCache: %lld bytes/session\n"
      "[memory] sizeof(SessionState)=%zu sizeof(Credentials)=%zu\n",
      (h1 - h0) / kSessions, kRecord, (h2 - h0) / kSessions, (h3 - h0) / kSessions,
      sizeof(SessionState), sizeof(wa::client::Credentials));
}

}  // namespace
}  // namespace gateway::store::sqlite
