// How much memory one Signal owner costs: the gateway runs thousands of wa::Clients per process,
// wasim thousands of phones. Prints its measurements; asserts only on correctness (sizes are
// reported, not judged, and nothing here depends on timing).
#include <malloc.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "wa/signal/protocol.h"
#include "wa/signal/test_party.h"

namespace wa::signal {
namespace {

using testing::Party;
using testing::Text;

long long HeapInUse() { return static_cast<long long>(mallinfo2().uordblks); }

struct Owner {
  explicit Owner(int i)
      : address(*Address::ForDevice(std::to_string(100000 + i), Domain::kPn, 1)),
        store(MemoryStore::Generate()),
        protocol(store) {}
  Address address;
  MemoryStore store;
  Protocol protocol;
};

TEST(Memory, ThousandOwnersWithASessionEach) {
  constexpr int kOwners = 1000;
  // The peer every owner talks to; no one-time prekeys so all 1,000 X3DH runs use the signed one.
  Party peer("999", 0, 0);
  const PreKeyBundle bundle = peer.Bundle(false);
  std::vector<std::unique_ptr<Owner>> owners;
  owners.reserve(kOwners);

  // Protocol objects alone (over one shared store).
  MemoryStore shared = MemoryStore::Generate();
  std::vector<std::unique_ptr<Protocol>> bare;
  bare.reserve(kOwners);
  const long long before_bare = HeapInUse();
  for (int i = 0; i < kOwners; ++i) bare.push_back(std::make_unique<Protocol>(shared));
  const long long bare_bytes = HeapInUse() - before_bare;
  bare.clear();

  // Owners with one session each. Heap deltas are taken around each step so that the peer's
  // side and the messages in flight are not charged to the owner.
  long long pending_bytes = 0;      // owner after ProcessPreKeyBundle + first pkmsg
  long long established_bytes = 0;  // owner after also decrypting the peer's reply
  long long peer_bytes = 0;         // the peer's session with that owner
  for (int i = 0; i < kOwners; ++i) {
    const long long h0 = HeapInUse();
    owners.push_back(std::make_unique<Owner>(i));
    Owner& o = *owners.back();
    ASSERT_TRUE(o.protocol.ProcessPreKeyBundle(peer.address, bundle).has_value());
    auto m = o.protocol.Encrypt(peer.address, Text("hello"));
    ASSERT_TRUE(m.has_value());
    ASSERT_EQ(m->type, MessageType::kPkMsg);
    const long long h1 = HeapInUse();
    auto in = peer.protocol.Decrypt(o.address, MessageType::kPkMsg, m->ciphertext);
    ASSERT_TRUE(in.has_value()) << in.error().message();
    in = {};
    auto reply = peer.protocol.Encrypt(o.address, Text("hi"));
    ASSERT_TRUE(reply.has_value());
    const long long h2 = HeapInUse();
    m = {};  // frees the pkmsg
    const long long h3 = HeapInUse();
    auto got = o.protocol.Decrypt(peer.address, reply->type, reply->ciphertext);
    ASSERT_TRUE(got.has_value()) << got.error().message();
    got = {};
    ASSERT_EQ(o.protocol.Encrypt(peer.address, Text("x"))->type, MessageType::kMsg);
    const long long h4 = HeapInUse();
    reply = {};  // frees the reply
    const long long h5 = HeapInUse();
    const long long m_bytes = h2 - h3, reply_bytes = h4 - h5;
    pending_bytes += (h1 - h0) - m_bytes;
    peer_bytes += (h2 - h1) - reply_bytes;
    established_bytes += (h1 - h0) - m_bytes + (h4 - h3);
  }
  std::size_t records = 0;
  for (const auto& o : owners) {
    records += o->store.record_bytes();
    EXPECT_EQ(o->store.session_count(), 1u);
  }

  if (bare_bytes <= 0) {
    // Sanitizer allocators do not feed mallinfo2.
    std::printf("[memory] heap accounting unavailable under this allocator\n");
    return;
  }
  std::printf(
      "[memory] Protocol object alone (incl. libsignal store context): %lld bytes/owner\n"
      "[memory] owner (MemoryStore + Protocol + 1 session), pkmsg pending: %lld bytes/owner\n"
      "[memory] owner after one message each way: %lld bytes/owner (session record %zu bytes)\n"
      "[memory] the peer's side of each session: %lld bytes\n"
      "[memory] sizeof(Protocol)=%zu sizeof(MemoryStore)=%zu\n",
      bare_bytes / kOwners, pending_bytes / kOwners, established_bytes / kOwners,
      records / kOwners, peer_bytes / kOwners, sizeof(Protocol), sizeof(MemoryStore));
  EXPECT_EQ(peer.store.session_count(), static_cast<std::size_t>(kOwners));
}

TEST(Memory, SenderKeyRecordOfASenderThatSkipsIterations) {
  // Baileys' GroupCipher sends iterations 0, 2, 4, ...; a receiver keeps every skipped message
  // key (libsignal-protocol-c: up to 2000 per sender-key state), so its record for such a sender
  // grows until that cap. Simulated here by delivering every second message.
  Party a("111"), b("222");
  constexpr std::string_view kGroup = "1@g.us";
  auto skdm = a.protocol.CreateSenderKeyDistribution(kGroup, a.address);
  ASSERT_TRUE(b.protocol.ProcessSenderKeyDistribution(kGroup, a.address, *skdm).has_value());
  constexpr int kDelivered = 500;
  std::size_t at_100 = 0;
  for (int i = 0; i < kDelivered; ++i) {
    ASSERT_TRUE(a.protocol.GroupEncrypt(kGroup, a.address, Text("skipped")).has_value());
    auto m = a.protocol.GroupEncrypt(kGroup, a.address, Text("delivered"));
    auto got = b.protocol.GroupDecrypt(kGroup, a.address, *m);
    ASSERT_TRUE(got.has_value()) << got.error().message() << " at " << i;
    if (i == 99) at_100 = b.store.record_bytes();
  }
  const std::size_t at_end = b.store.record_bytes();
  const double per_key = static_cast<double>(at_end - at_100) / (kDelivered - 100);
  std::printf(
      "[memory] receiver's sender-key record for a sender skipping every other iteration: "
      "%zu bytes after 100 messages, %zu after %d (%.1f bytes per skipped key; ~%.0f KB at "
      "libsignal's cap of 2000 keys); the sender's own record: %zu bytes\n",
      at_100, at_end, kDelivered, per_key, per_key * 2000 / 1024, a.store.record_bytes());
  EXPECT_GT(at_end, at_100);
}

}  // namespace
}  // namespace wa::signal
