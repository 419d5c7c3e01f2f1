#include "wa/signal/memory_store.h"

#include <gtest/gtest.h>

namespace wa::signal {
namespace {

TEST(MemoryStore, SessionsByAddress) {
  MemoryStore store = MemoryStore::Generate();
  const Address a0("1", 0), a2("1", 2), other("1_1", 2);
  EXPECT_FALSE(store.LoadSession(a0)->has_value());
  EXPECT_FALSE(*store.ContainsSession(a0));
  ASSERT_TRUE(store.StoreSession(a2, Bytes{1, 2}).has_value());
  ASSERT_TRUE(store.StoreSession(a0, Bytes{3}).has_value());
  ASSERT_TRUE(store.StoreSession(other, Bytes{4}).has_value());
  EXPECT_EQ(**store.LoadSession(a2), (Bytes{1, 2}));
  ASSERT_TRUE(store.StoreSession(a2, Bytes{5}).has_value());  // overwrite
  EXPECT_EQ(**store.LoadSession(a2), (Bytes{5}));
  EXPECT_EQ(*store.ListSessionDevices("1"), (std::vector<std::uint32_t>{0, 2}));
  EXPECT_EQ(*store.ListSessionDevices("1_1"), (std::vector<std::uint32_t>{2}));
  EXPECT_TRUE(store.ListSessionDevices("2")->empty());
  ASSERT_TRUE(store.DeleteSession(a0).has_value());
  EXPECT_FALSE(*store.ContainsSession(a0));
  ASSERT_TRUE(store.DeleteAllSessions("1").has_value());
  EXPECT_FALSE(*store.ContainsSession(a2));
  EXPECT_TRUE(*store.ContainsSession(other));  // another name is untouched
  EXPECT_EQ(store.session_count(), 1u);
}

TEST(MemoryStore, IdentitiesAndTrust) {
  const crypto::KeyPair own = GenerateIdentityKeyPair();
  MemoryStore store(own, 1234);
  EXPECT_EQ(store.GetIdentityKeyPair()->public_key, own.public_key);
  EXPECT_EQ(*store.GetRegistrationId(), 1234u);
  const Address peer("9", 0);
  EXPECT_FALSE(store.GetIdentity(peer)->has_value());
  const Key32 key = crypto::GenerateKeyPair().public_key;
  ASSERT_TRUE(store.SaveIdentity(peer, key).has_value());
  EXPECT_EQ(**store.GetIdentity(peer), key);
  // Trust on first use and on change (WhatsApp reports, does not block).
  EXPECT_TRUE(*store.IsTrustedIdentity(peer, crypto::GenerateKeyPair().public_key));
}

TEST(MemoryStore, PreKeysAndSignedPreKeys) {
  MemoryStore store = MemoryStore::Generate();
  for (const PreKey& k : GeneratePreKeys(7, 3)) ASSERT_TRUE(store.StorePreKey(k).has_value());
  EXPECT_EQ(store.pre_key_count(), 3u);
  EXPECT_TRUE(*store.ContainsPreKey(8));
  EXPECT_EQ((*store.LoadPreKey(9))->id, 9u);
  ASSERT_TRUE(store.RemovePreKey(8).has_value());
  EXPECT_FALSE(*store.ContainsPreKey(8));
  EXPECT_FALSE(store.LoadPreKey(8)->has_value());

  const crypto::KeyPair identity = *store.GetIdentityKeyPair();
  ASSERT_TRUE(store.StoreSignedPreKey(GenerateSignedPreKey(identity, 2)).has_value());
  ASSERT_TRUE(store.StoreSignedPreKey(GenerateSignedPreKey(identity, 1)).has_value());
  EXPECT_EQ(*store.ListSignedPreKeys(), (std::vector<std::uint32_t>{1, 2}));
  EXPECT_TRUE(*store.ContainsSignedPreKey(2));
  ASSERT_TRUE(store.RemoveSignedPreKey(1).has_value());
  EXPECT_EQ(*store.ListSignedPreKeys(), (std::vector<std::uint32_t>{2}));
}

TEST(MemoryStore, SenderKeysByGroupAndSender) {
  MemoryStore store = MemoryStore::Generate();
  const Address s1("1", 0), s2("1", 1);
  ASSERT_TRUE(store.StoreSenderKey("g1", s1, Bytes{1}).has_value());
  ASSERT_TRUE(store.StoreSenderKey("g1", s2, Bytes{2}).has_value());
  ASSERT_TRUE(store.StoreSenderKey("g2", s1, Bytes{3}).has_value());
  EXPECT_EQ(**store.LoadSenderKey("g1", s1), (Bytes{1}));
  EXPECT_EQ(**store.LoadSenderKey("g1", s2), (Bytes{2}));
  EXPECT_EQ(**store.LoadSenderKey("g2", s1), (Bytes{3}));
  EXPECT_FALSE(store.LoadSenderKey("g2", s2)->has_value());
  ASSERT_TRUE(store.DeleteSenderKey("g1", s1).has_value());
  EXPECT_FALSE(store.LoadSenderKey("g1", s1)->has_value());
  EXPECT_EQ(store.sender_key_count(), 2u);
}

}  // namespace
}  // namespace wa::signal
