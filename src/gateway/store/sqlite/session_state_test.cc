#include "gateway/store/sqlite/session_state.h"

#include <gtest/gtest.h>

#include <chrono>

#include <mutex>

#include <condition_variable>

#include <boost/asio/co_spawn.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gateway/store/sqlite/message_store.h"
#include "gateway/store/sqlite/session_state_test_util.h"
#include "wa/client/errors.h"
#include "wa/signal/protocol.h"

namespace gateway::store::sqlite {
namespace {

namespace asio = boost::asio;
using base::Bytes;
using testing::MasterKey;
using testing::PoolBlocker;
using testing::StateTest;
using wa::client::Credentials;
using wa::client::PrefetchRequest;
using wa::signal::Address;
using wa::signal::MessageType;

Bytes Text(std::string_view s) { return base::ToBytes(s); }

Address Addr(std::string name, std::uint32_t device = 0) {
  return Address(std::move(name), device);
}

// A record with a recognisable, long enough pattern to search the raw file for.
Bytes Record(std::string_view tag, std::size_t size = 300) {
  std::string s;
  while (s.size() < size) s += tag;
  s.resize(size);
  return base::ToBytes(s);
}

bool Contains(const std::string& haystack, base::ByteView needle) {
  return haystack.find(base::AsChars(needle)) != std::string::npos;
}

// Fills a session's state with one of everything and commits it.
Credentials Populate(StateTest& t, SessionState& state, std::string_view tag) {
  Credentials creds = Credentials::New();
  EXPECT_TRUE(state.Save(creds));
  EXPECT_TRUE(state.StoreSignedPreKey(creds.signed_pre_key));
  for (const auto& key : wa::signal::GeneratePreKeys(1, 3)) EXPECT_TRUE(state.StorePreKey(key));
  EXPECT_TRUE(state.StoreSession(Addr("100", 1), Record(std::string(tag) + "-session")));
  EXPECT_TRUE(state.SaveIdentity(Addr("100", 1), wa::signal::Key32{1, 2, 3}));
  EXPECT_TRUE(state.StoreSenderKey("g1@g.us", Addr("100", 1), Record(std::string(tag) + "-sk")));
  EXPECT_TRUE(t.Commit(state));
  return creds;
}

long long Rows(StateTest& t, const std::string& table, const std::string& session_id) {
  return t.Query("SELECT count(*) FROM " + table + " WHERE session_id = '" + session_id + "'");
}

const char* const kTables[] = {"wa_credentials",    "wa_identities",  "wa_signal_sessions",
                               "wa_prekeys",        "wa_signed_prekeys", "wa_sender_keys"};

TEST_F(StateTest, MigrationAddsTheStateTables) {
  EXPECT_GE(store_->migrations().current, 2);
  for (const char* table : kTables) {
    EXPECT_EQ(Query(std::string("SELECT count(*) FROM ") + table), 0) << table;
  }
}

TEST_F(StateTest, CommittedStateSurvivesARestart) {
  Credentials creds;
  std::vector<wa::signal::PreKey> pre_keys = wa::signal::GeneratePreKeys(7, 2);
  {
    auto state = Open("s1");
    ASSERT_TRUE(state);
    EXPECT_FALSE(state->Load()->has_value());
    EXPECT_EQ(state->GetIdentityKeyPair().error(), wa::client::Errc::kNoCredentials);
    creds = Populate(*this, *state, "a");
    for (const auto& key : pre_keys) ASSERT_TRUE(state->StorePreKey(key));
    ASSERT_TRUE(state->StoreSession(Addr("100", 3), Record("other")));
    ASSERT_TRUE(Commit(*state));
    EXPECT_FALSE(state->has_uncommitted());
  }
  Reopen();
  auto state = Open("s1");
  ASSERT_TRUE(state);
  auto loaded = state->Load();
  ASSERT_TRUE(loaded && loaded->has_value());
  EXPECT_EQ(**loaded, creds);
  EXPECT_EQ(state->GetIdentityKeyPair()->public_key, creds.identity_key.public_key);
  EXPECT_EQ(state->GetIdentityKeyPair()->private_key, creds.identity_key.private_key);
  EXPECT_EQ(*state->GetRegistrationId(), creds.registration_id);
  auto spk = state->LoadSignedPreKey(creds.signed_pre_key.id);
  ASSERT_TRUE(spk && spk->has_value());
  EXPECT_EQ((*spk)->key_pair.private_key, creds.signed_pre_key.key_pair.private_key);
  EXPECT_EQ((*spk)->signature, creds.signed_pre_key.signature);
  EXPECT_EQ((*spk)->timestamp_ms, creds.signed_pre_key.timestamp_ms);
  EXPECT_EQ(*state->ListSignedPreKeys(), std::vector<std::uint32_t>{creds.signed_pre_key.id});
  for (const auto& key : pre_keys) {
    auto got = state->LoadPreKey(key.id);
    ASSERT_TRUE(got && got->has_value());
    EXPECT_EQ((*got)->key_pair.private_key, key.key_pair.private_key);
    EXPECT_EQ((*got)->key_pair.public_key, key.key_pair.public_key);
  }
  EXPECT_FALSE(state->LoadPreKey(99)->has_value());
  EXPECT_EQ(*state->LoadSession(Addr("100", 1)), Record("a-session"));
  EXPECT_EQ(*state->GetIdentity(Addr("100", 1)), (wa::signal::Key32{1, 2, 3}));
  EXPECT_EQ(*state->LoadSenderKey("g1@g.us", Addr("100", 1)), Record("a-sk"));
  EXPECT_FALSE(state->LoadSenderKey("g2@g.us", Addr("100", 1))->has_value());
  EXPECT_EQ(*state->ListSessionDevices("100"), (std::vector<std::uint32_t>{1, 3}));
}

TEST_F(StateTest, WritesAreNotDurableBeforeCommit) {
  {
    auto state = Open("s1");
    Populate(*this, *state, "a");
    ASSERT_TRUE(state->StoreSession(Addr("200"), Record("uncommitted")));
    ASSERT_TRUE(state->RemovePreKey(1));
    ASSERT_TRUE(state->Save(Credentials::New()));
    EXPECT_TRUE(state->has_uncommitted());
    // Served from the cache meanwhile.
    EXPECT_EQ(*state->LoadSession(Addr("200")), Record("uncommitted"));
    EXPECT_FALSE(state->LoadPreKey(1)->has_value());
    state.reset();  // dropped without a commit, as in a crash
    Reopen();
  }
  auto state = Open("s1");
  EXPECT_FALSE(state->LoadSession(Addr("200"))->has_value());
  EXPECT_TRUE(state->LoadPreKey(1)->has_value());
  EXPECT_EQ(Rows(*this, "wa_signal_sessions", "s1"), 1);
}

TEST_F(StateTest, ConversationOverTwoSqliteStatesContinuesAfterRestart) {
  const Address alice_addr = *Address::ForDevice("111", wa::signal::Domain::kPn, 0);
  const Address bob_addr = *Address::ForDevice("222", wa::signal::Domain::kPn, 0);
  std::map<std::uint32_t, wa::crypto::Key32> bob_pre_keys;  // what the server would hold
  Credentials bob_creds;
  {
    auto alice = Open("alice");
    auto bob = Open("bob");
    ASSERT_TRUE(alice && bob);
    for (auto* s : {alice.get(), bob.get()}) {
      Credentials c = Credentials::New();
      ASSERT_TRUE(s->Save(c));
      ASSERT_TRUE(s->StoreSignedPreKey(c.signed_pre_key));
      if (s == bob.get()) {
        bob_creds = c;
        for (const auto& key : wa::signal::GeneratePreKeys(1, 5)) {
          ASSERT_TRUE(s->StorePreKey(key));
          bob_pre_keys[key.id] = key.key_pair.public_key;
        }
      }
      ASSERT_TRUE(Commit(*s));
    }
  }
  Reopen();
  const std::uint64_t reads_before = states_->stats().sync_reads;
  {
    auto alice = Open("alice");
    auto bob = Open("bob");
    wa::signal::Protocol pa(*alice), pb(*bob);

    // Alice fetches Bob's bundle and sends a pkmsg naming prekey 1.
    wa::signal::PreKeyBundle bundle;
    bundle.registration_id = bob_creds.registration_id;
    bundle.device_id = 0;
    bundle.pre_key = wa::signal::PreKeyPublic{1, bob_pre_keys[1]};
    bundle.signed_pre_key_id = bob_creds.signed_pre_key.id;
    bundle.signed_pre_key = bob_creds.signed_pre_key.key_pair.public_key;
    bundle.signed_pre_key_signature = bob_creds.signed_pre_key.signature;
    bundle.identity_key = bob_creds.identity_key.public_key;
    PrefetchRequest to_bob;
    to_bob.addresses = {bob_addr};
    ASSERT_TRUE(Prefetch(*alice, to_bob));
    ASSERT_TRUE(pa.ProcessPreKeyBundle(bob_addr, bundle));
    auto first = pa.Encrypt(bob_addr, Text("hello bob"));
    ASSERT_TRUE(first);
    ASSERT_EQ(first->type, MessageType::kPkMsg);
    ASSERT_TRUE(Commit(*alice));

    // Bob knows the sender and the prekey id before decrypting.
    PrefetchRequest from_alice;
    from_alice.addresses = {alice_addr};
    from_alice.pre_key_ids = {1};
    ASSERT_TRUE(Prefetch(*bob, from_alice));
    auto got = pb.Decrypt(alice_addr, first->type, first->ciphertext);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(got->plaintext, Text("hello bob"));
    EXPECT_EQ(got->consumed_pre_key_id, std::optional<std::uint32_t>(1));
    ASSERT_TRUE(Commit(*bob));
    auto reply = pb.Encrypt(alice_addr, Text("hi alice"));
    ASSERT_TRUE(reply);
    ASSERT_TRUE(Commit(*bob));
    PrefetchRequest from_bob;
    from_bob.addresses = {bob_addr};
    ASSERT_TRUE(Prefetch(*alice, from_bob));
    auto got_reply = pa.Decrypt(bob_addr, reply->type, reply->ciphertext);
    ASSERT_TRUE(got_reply) << got_reply.error().message();
    EXPECT_EQ(got_reply->plaintext, Text("hi alice"));
    ASSERT_TRUE(Commit(*alice));
    // Every record was prefetched (or pinned): nothing was read on this thread.
    EXPECT_EQ(alice->sync_reads() + bob->sync_reads(), 0u);
  }
  EXPECT_EQ(states_->stats().sync_reads, reads_before);

  // Restart: the ratchets continue from the file, the consumed prekey is gone.
  for (int round = 0; round < 3; ++round) {
    Reopen();
    auto alice = Open("alice");
    auto bob = Open("bob");
    wa::signal::Protocol pa(*alice), pb(*bob);
    EXPECT_FALSE(bob->LoadPreKey(1)->has_value());
    EXPECT_TRUE(bob->LoadPreKey(2)->has_value());
    for (int i = 0; i < 5; ++i) {
      std::string text = "round " + std::to_string(round) + " message " + std::to_string(i);
      auto a2b = pa.Encrypt(bob_addr, Text(text));  // read through: counted, still correct
      ASSERT_TRUE(a2b);
      EXPECT_EQ(a2b->type, MessageType::kMsg);
      ASSERT_TRUE(Commit(*alice));
      auto in = pb.Decrypt(alice_addr, a2b->type, a2b->ciphertext);
      ASSERT_TRUE(in) << in.error().message();
      EXPECT_EQ(in->plaintext, Text(text));
      ASSERT_TRUE(Commit(*bob));
      auto b2a = pb.Encrypt(alice_addr, Text("re: " + text));
      ASSERT_TRUE(b2a);
      ASSERT_TRUE(Commit(*bob));
      auto back = pa.Decrypt(bob_addr, b2a->type, b2a->ciphertext);
      ASSERT_TRUE(back) << back.error().message();
      EXPECT_EQ(back->plaintext, Text("re: " + text));
      ASSERT_TRUE(Commit(*alice));
    }
    EXPECT_GT(alice->sync_reads(), 0u);
  }
}

TEST_F(StateTest, UncommittedRatchetStepIsRedoneAfterACrash) {
  const Address alice_addr("111", 0), bob_addr("222", 0);
  Bytes second;
  MessageType second_type = MessageType::kMsg;
  {
    auto alice = Open("alice");
    auto bob = Open("bob");
    wa::signal::Protocol pa(*alice), pb(*bob);
    Credentials ca = Credentials::New(), cb = Credentials::New();
    ASSERT_TRUE(alice->Save(ca) && bob->Save(cb));
    ASSERT_TRUE(bob->StoreSignedPreKey(cb.signed_pre_key));
    wa::signal::PreKeyBundle bundle{cb.registration_id, 0, std::nullopt, cb.signed_pre_key.id,
                                    cb.signed_pre_key.key_pair.public_key,
                                    cb.signed_pre_key.signature, cb.identity_key.public_key};
    ASSERT_TRUE(pa.ProcessPreKeyBundle(bob_addr, bundle));
    auto first = pa.Encrypt(bob_addr, Text("one"));
    ASSERT_TRUE(Commit(*alice) && Commit(*bob));
    ASSERT_TRUE(pb.Decrypt(alice_addr, first->type, first->ciphertext));
    ASSERT_TRUE(Commit(*bob));
    auto m = pa.Encrypt(bob_addr, Text("two"));
    ASSERT_TRUE(Commit(*alice));
    second = m->ciphertext;
    second_type = m->type;
    // Bob decrypts "two" but crashes before committing (so before acknowledging it).
    auto got = pb.Decrypt(alice_addr, second_type, second);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->plaintext, Text("two"));
    // A second decrypt in the same process is a duplicate: the cache has the new ratchet.
    EXPECT_FALSE(pb.Decrypt(alice_addr, second_type, second));
  }
  // Redelivery after the restart decrypts again: the old ratchet was still the durable one.
  Reopen();
  auto bob = Open("bob");
  wa::signal::Protocol pb(*bob);
  auto again = pb.Decrypt(alice_addr, second_type, second);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->plaintext, Text("two"));
}

TEST_F(StateTest, SecretsAreNotInTheFileInClear) {
  Credentials creds;
  wa::signal::PreKey pre_key = wa::signal::GeneratePreKeys(40, 1).front();
  {
    auto state = Open("s1");
    creds = Populate(*this, *state, "plain-marker");
    ASSERT_TRUE(state->StorePreKey(pre_key));
    ASSERT_TRUE(Commit(*state));
  }
  Close();
  std::string file = FileBytes();
  ASSERT_GT(file.size(), 4096u);
  // The search works: public keys are stored in clear.
  EXPECT_TRUE(Contains(file, pre_key.key_pair.public_key));
  EXPECT_TRUE(Contains(file, creds.signed_pre_key.key_pair.public_key));
  EXPECT_FALSE(Contains(file, pre_key.key_pair.private_key));
  EXPECT_FALSE(Contains(file, creds.signed_pre_key.key_pair.private_key));
  EXPECT_FALSE(Contains(file, base::AsBytes(base::ToHex(creds.identity_key.private_key))));
  EXPECT_FALSE(Contains(file, base::AsBytes(base::ToHex(creds.noise_key.private_key))));
  EXPECT_FALSE(Contains(file, base::AsBytes("plain-marker")));
  EXPECT_FALSE(Contains(file, base::AsBytes("noise_key")));  // a JSON key of the credentials
}

TEST_F(StateTest, AWrongMasterKeyFailsCleanly) {
  {
    auto state = Open("s1");
    Populate(*this, *state, "a");
    auto other = Open("s2");  // no credentials, one session
    ASSERT_TRUE(other->StoreSession(Addr("100"), Record("b")));
    ASSERT_TRUE(Commit(*other));
  }
  Reopen(MasterKey(0x43));
  auto opened = Run(states_->Open("s1"));
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error(), Errc::kUndecryptable);
  auto other = Open("s2");
  ASSERT_TRUE(other);
  auto session = other->LoadSession(Addr("100"));
  ASSERT_FALSE(session);
  EXPECT_EQ(session.error(), Errc::kUndecryptable);
  // The right key still opens both.
  other.reset();
  Reopen();
  EXPECT_TRUE(Open("s1"));
  EXPECT_EQ(*Open("s2")->LoadSession(Addr("100")), Record("b"));
}

TEST_F(StateTest, AValueMovedToAnotherRowFailsAuthentication) {
  {
    auto a = Open("a");
    Populate(*this, *a, "a");
    ASSERT_TRUE(a->StoreSession(Addr("100", 2), Record("a2")));
    ASSERT_TRUE(Commit(*a));
    auto b = Open("b");
    Populate(*this, *b, "b");
  }
  Close();
  // Another row of the same session.
  ASSERT_EQ(Exec("UPDATE wa_signal_sessions SET sealed = (SELECT sealed FROM wa_signal_sessions"
                 " WHERE session_id = 'a' AND device = 1) WHERE session_id = 'a' AND device = 2"),
            "");
  // The same row of another session.
  ASSERT_EQ(Exec("UPDATE wa_sender_keys SET sealed = (SELECT sealed FROM wa_sender_keys"
                 " WHERE session_id = 'a') WHERE session_id = 'b'"),
            "");
  ASSERT_EQ(Exec("UPDATE wa_credentials SET sealed = (SELECT sealed FROM wa_credentials"
                 " WHERE session_id = 'a') WHERE session_id = 'b'"),
            "");
  // A prekey's public key swapped for another's (the private key is bound to its public key).
  ASSERT_EQ(Exec("UPDATE wa_prekeys SET public_key = (SELECT public_key FROM wa_prekeys"
                 " WHERE session_id = 'a' AND id = 2) WHERE session_id = 'a' AND id = 1"),
            "");
  Reopen();
  auto a = Open("a");
  ASSERT_TRUE(a);
  EXPECT_EQ(*a->LoadSession(Addr("100", 1)), Record("a-session"));  // the original still opens
  auto moved = a->LoadSession(Addr("100", 2));
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error(), Errc::kUndecryptable);
  auto swapped = a->LoadPreKey(1);
  ASSERT_FALSE(swapped);
  EXPECT_EQ(swapped.error(), Errc::kUndecryptable);
  EXPECT_TRUE(a->LoadPreKey(2)->has_value());
  auto b = Run(states_->Open("b"));
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error(), Errc::kUndecryptable);
  ASSERT_EQ(Exec("DELETE FROM wa_credentials WHERE session_id = 'b'"), "");
  auto b2 = Open("b");
  auto sk = b2->LoadSenderKey("g1@g.us", Addr("100", 1));
  ASSERT_FALSE(sk);
  EXPECT_EQ(sk.error(), Errc::kUndecryptable);
}

TEST_F(StateTest, ConcurrentCommitsOfManySessionsShareTransactions) {
  constexpr int kSessions = 40;
  std::vector<std::unique_ptr<SessionState>> states;
  for (int i = 0; i < kSessions; ++i) {
    states.push_back(Open("s" + std::to_string(i)));
    ASSERT_TRUE(states.back()->StoreSession(Addr("100"), Record("v" + std::to_string(i))));
    ASSERT_TRUE(states.back()->StorePreKey(wa::signal::GeneratePreKeys(1, 1).front()));
  }
  const SessionStateStats before = states_->stats();
  int done = 0;
  for (auto& s : states) {
    asio::co_spawn(ioc_, s->Commit(), [&](std::exception_ptr e, base::Result<void> r) {
      EXPECT_FALSE(e);
      EXPECT_TRUE(r);
      ++done;
    });
  }
  ioc_.restart();
  ioc_.run();
  EXPECT_EQ(done, kSessions);
  const SessionStateStats after = states_->stats();
  EXPECT_EQ(after.commits - before.commits, static_cast<std::uint64_t>(kSessions));
  const auto transactions = after.transactions - before.transactions;
  EXPECT_GE(transactions, 1u);
  EXPECT_LT(transactions, static_cast<std::uint64_t>(kSessions));
  std::printf("[group commit] %d concurrent commits in %llu transactions\n", kSessions,
              static_cast<unsigned long long>(transactions));
  states.clear();
  Reopen();
  EXPECT_EQ(Query("SELECT count(*) FROM wa_signal_sessions"), kSessions);
  EXPECT_EQ(Query("SELECT count(*) FROM wa_prekeys"), kSessions);
  EXPECT_EQ(*Open("s7")->LoadSession(Addr("100")), Record("v7"));
}

TEST_F(StateTest, CommitsQueuedWhileThePoolIsBusyShareOneTransaction) {
  constexpr int kSessions = 25;
  std::vector<std::unique_ptr<SessionState>> states;
  for (int i = 0; i < kSessions; ++i) {
    states.push_back(Open("s" + std::to_string(i)));
    ASSERT_TRUE(states.back()->Save(Credentials::New()));
  }
  const SessionStateStats before = states_->stats();
  int done = 0;
  {
    PoolBlocker blocker(*store_);
    for (auto& s : states) {
      asio::co_spawn(ioc_, s->Commit(), [&](std::exception_ptr, base::Result<void> r) {
        EXPECT_TRUE(r);
        ++done;
      });
    }
    ioc_.restart();
    ioc_.poll();
    EXPECT_EQ(done, 0);  // nothing is acknowledged before it is durable
  }
  ioc_.run();
  EXPECT_EQ(done, kSessions);
  EXPECT_EQ(states_->stats().transactions - before.transactions, 1u);
  EXPECT_EQ(Query("SELECT count(*) FROM wa_credentials"), kSessions);
}

TEST_F(StateTest, AFailingBatchDoesNotFailTheOthersAndIsRetriedByTheNextCommit) {
  auto good = Open("good");
  auto bad = Open("bad");
  ASSERT_TRUE(good->StoreSession(Addr("100"), Record("g")));
  ASSERT_TRUE(bad->StoreSession(Addr("100"), Record("b")));
  ASSERT_EQ(Exec("CREATE TRIGGER refuse BEFORE INSERT ON wa_signal_sessions"
                 " WHEN NEW.session_id = 'bad' BEGIN SELECT RAISE(ABORT, 'refused'); END"),
            "");
  std::optional<base::Result<void>> good_result, bad_result;
  const SessionStateStats before = states_->stats();
  {
    // Both batches wait in the queue while the pool is busy, so they meet in one transaction.
    PoolBlocker blocker(*store_);
    asio::co_spawn(ioc_, good->Commit(), [&](std::exception_ptr, base::Result<void> r) {
      good_result = r;
    });
    asio::co_spawn(ioc_, bad->Commit(), [&](std::exception_ptr, base::Result<void> r) {
      bad_result = r;
    });
    ioc_.restart();
    ioc_.poll();
  }
  ioc_.run();
  ASSERT_TRUE(good_result && bad_result);
  EXPECT_TRUE(*good_result);
  EXPECT_FALSE(*bad_result);
  EXPECT_FALSE(good->has_uncommitted());
  EXPECT_TRUE(bad->has_uncommitted());
  // The shared transaction failed, then each batch was tried alone.
  EXPECT_EQ(states_->stats().failed_transactions - before.failed_transactions, 2u);
  EXPECT_EQ(states_->stats().transactions - before.transactions, 1u);
  EXPECT_EQ(Rows(*this, "wa_signal_sessions", "bad"), 0);
  // The write is still pending and served from the cache; the next commit carries it.
  EXPECT_EQ(*bad->LoadSession(Addr("100")), Record("b"));
  ASSERT_EQ(Exec("DROP TRIGGER refuse"), "");
  ASSERT_TRUE(Commit(*bad));
  EXPECT_FALSE(bad->has_uncommitted());
  EXPECT_EQ(Rows(*this, "wa_signal_sessions", "bad"), 1);
}

TEST_F(StateTest, WipeRemovesEverythingOfThatSessionAndNothingElse) {
  auto a = Open("a");
  auto b = Open("b");
  Populate(*this, *a, "a");
  Populate(*this, *b, "b");
  for (const char* table : kTables) ASSERT_GT(Rows(*this, table, "a"), 0) << table;
  const std::uint64_t reads = a->sync_reads();
  ASSERT_TRUE(a->Wipe());
  EXPECT_TRUE(a->has_uncommitted());
  EXPECT_FALSE(a->Load()->has_value());
  EXPECT_FALSE(a->GetIdentityKeyPair());
  // Gone for the session at once, without asking the database (its rows are still there).
  EXPECT_FALSE(a->LoadSession(Addr("100", 1))->has_value());
  EXPECT_FALSE(a->LoadPreKey(1)->has_value());
  EXPECT_TRUE(a->ListSessionDevices("100")->empty());
  EXPECT_TRUE(a->ListSignedPreKeys()->empty());
  EXPECT_EQ(a->sync_reads(), reads);
  EXPECT_GT(Rows(*this, "wa_signal_sessions", "a"), 0);
  ASSERT_TRUE(Commit(*a));
  for (const char* table : kTables) {
    EXPECT_EQ(Rows(*this, table, "a"), 0) << table;
    EXPECT_GT(Rows(*this, table, "b"), 0) << table;
  }
  // Writes after a wipe, committed with it, are all that is left.
  ASSERT_TRUE(a->Save(Credentials::New()));
  ASSERT_TRUE(a->StoreSession(Addr("300"), Record("after")));
  ASSERT_TRUE(a->Wipe());
  Credentials fresh = Credentials::New();
  ASSERT_TRUE(a->Save(fresh));
  ASSERT_TRUE(a->StoreSession(Addr("400"), Record("new")));
  ASSERT_TRUE(Commit(*a));
  a.reset();
  b.reset();
  Reopen();
  a = Open("a");
  EXPECT_EQ(**a->Load(), fresh);
  EXPECT_FALSE(a->LoadSession(Addr("300"))->has_value());
  EXPECT_EQ(*a->LoadSession(Addr("400")), Record("new"));
  EXPECT_EQ(*Open("b")->LoadSession(Addr("100", 1)), Record("b-session"));
  EXPECT_EQ(*Run(states_->List()), (std::vector<std::string>{"a", "b"}));
}

TEST_F(StateTest, DeleteRemovesAClosedSessionAndRefusesAnOpenOne) {
  auto a = Open("a");
  Populate(*this, *a, "a");
  auto refused = Run(states_->Delete("a"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), Errc::kInUse);
  auto twice = Run(states_->Open("a"));
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error(), Errc::kInUse);
  a.reset();
  ASSERT_TRUE(Run(states_->Delete("a")));
  for (const char* table : kTables) EXPECT_EQ(Rows(*this, table, "a"), 0) << table;
  EXPECT_TRUE(Run(states_->List())->empty());
  EXPECT_TRUE(Open("a"));
}

TEST_F(StateTest, CacheMissesReadThroughAndAreCounted) {
  {
    auto s = Open("s1");
    Populate(*this, *s, "a");
    ASSERT_TRUE(s->StoreSession(Addr("100", 2), Record("two")));
    ASSERT_TRUE(Commit(*s));
  }
  auto s = Open("s1");
  const std::uint64_t total = states_->stats().sync_reads;
  EXPECT_EQ(s->sync_reads(), 0u);
  EXPECT_EQ(*s->LoadSession(Addr("100", 1)), Record("a-session"));
  EXPECT_EQ(s->sync_reads(), 1u);
  EXPECT_EQ(*s->LoadSession(Addr("100", 1)), Record("a-session"));  // cached now
  EXPECT_TRUE(*s->ContainsSession(Addr("100", 1)));
  EXPECT_EQ(s->sync_reads(), 1u);
  // Absence is cached too.
  EXPECT_FALSE(*s->ContainsSession(Addr("555")));
  EXPECT_FALSE(s->LoadSession(Addr("555"))->has_value());
  EXPECT_EQ(s->sync_reads(), 2u);
  // Prefetched records cost no synchronous read.
  PrefetchRequest request;
  request.addresses = {Addr("100", 2), Addr("666")};
  request.pre_key_ids = {1, 2};
  request.sender_keys = {{"g1@g.us", Addr("100", 1)}};
  request.session_names = {"100"};
  ASSERT_TRUE(Prefetch(*s, request));
  EXPECT_EQ(*s->LoadSession(Addr("100", 2)), Record("two"));
  EXPECT_FALSE(*s->ContainsSession(Addr("666")));
  EXPECT_FALSE(s->GetIdentity(Addr("666"))->has_value());
  EXPECT_FALSE(s->GetIdentity(Addr("100", 2))->has_value());
  EXPECT_TRUE(s->LoadPreKey(2)->has_value());
  EXPECT_EQ(*s->LoadSenderKey("g1@g.us", Addr("100", 1)), Record("a-sk"));
  EXPECT_EQ(*s->ListSessionDevices("100"), (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(s->sync_reads(), 2u);
  // Not prefetched: one more each.
  EXPECT_TRUE(s->GetIdentity(Addr("100", 1))->has_value());
  EXPECT_TRUE(s->LoadPreKey(3)->has_value());
  EXPECT_EQ(s->sync_reads(), 4u);
  EXPECT_EQ(states_->stats().sync_reads - total, 4u);
  // A record evicted from the cache is read again.
  s->ReleaseCache();
  EXPECT_EQ(*s->LoadSession(Addr("100", 2)), Record("two"));
  EXPECT_EQ(s->sync_reads(), 5u);
}

TEST_F(StateTest, DeviceListsFollowUncommittedWrites) {
  {
    auto s = Open("s1");
    for (std::uint32_t d : {0u, 1u, 2u}) ASSERT_TRUE(s->StoreSession(Addr("u", d), Record("r")));
    ASSERT_TRUE(s->StoreSession(Addr("v", 0), Record("r")));
    ASSERT_TRUE(Commit(*s));
  }
  auto s = Open("s1");
  ASSERT_TRUE(s->StoreSession(Addr("u", 5), Record("r")));
  ASSERT_TRUE(s->DeleteSession(Addr("u", 1)));
  EXPECT_EQ(*s->ListSessionDevices("u"), (std::vector<std::uint32_t>{0, 2, 5}));
  ASSERT_TRUE(s->StoreSession(Addr("u", 3), Record("r")));
  EXPECT_EQ(*s->ListSessionDevices("u"), (std::vector<std::uint32_t>{0, 2, 3, 5}));
  ASSERT_TRUE(s->DeleteAllSessions("u"));
  EXPECT_TRUE(s->ListSessionDevices("u")->empty());
  EXPECT_FALSE(s->LoadSession(Addr("u", 0))->has_value());
  ASSERT_TRUE(Commit(*s));
  EXPECT_EQ(Rows(*this, "wa_signal_sessions", "s1"), 1);
  EXPECT_EQ(*s->ListSessionDevices("v"), std::vector<std::uint32_t>{0});
}

TEST_F(StateTest, TheCacheIsBoundedAndOneTimePrekeysLeaveOnceDurable) {
  options_.cache_bytes = 8 * 1024;
  Reopen();
  auto s = Open("s1");
  ASSERT_TRUE(s->Save(Credentials::New()));
  for (const auto& key : wa::signal::GeneratePreKeys(1, 200)) ASSERT_TRUE(s->StorePreKey(key));
  for (std::uint32_t d = 0; d < 60; ++d) {
    ASSERT_TRUE(s->StoreSession(Addr("u" + std::to_string(d)), Record("x", 500)));
  }
  // Dirty records are never dropped.
  EXPECT_EQ(s->cached_records(), 260u);
  EXPECT_GT(s->cached_bytes(), options_.cache_bytes);
  ASSERT_TRUE(Commit(*s));
  EXPECT_LE(s->cached_bytes(), options_.cache_bytes);
  EXPECT_GT(s->cached_records(), 0u);
  EXPECT_LT(s->cached_records(), 60u);
  // The most recent sessions stayed; the oldest were dropped and read through again.
  const std::uint64_t reads = s->sync_reads();
  EXPECT_EQ(*s->LoadSession(Addr("u59")), Record("x", 500));
  EXPECT_EQ(s->sync_reads(), reads);
  EXPECT_EQ(*s->LoadSession(Addr("u0")), Record("x", 500));
  EXPECT_EQ(s->sync_reads(), reads + 1);
  // A prekey read for a pkmsg is dropped by the commit that removes it: the next read goes to
  // the database again.
  EXPECT_TRUE(s->LoadPreKey(7)->has_value());
  ASSERT_TRUE(s->RemovePreKey(7));
  ASSERT_TRUE(Commit(*s));
  EXPECT_EQ(Query("SELECT count(*) FROM wa_prekeys"), 199);
  const std::uint64_t reads_after = s->sync_reads();
  EXPECT_FALSE(s->LoadPreKey(7)->has_value());
  EXPECT_EQ(s->sync_reads(), reads_after + 1);
}

TEST_F(StateTest, WritesDuringACommitStayPendingForTheNext) {
  auto s = Open("s1");
  ASSERT_TRUE(s->StoreSession(Addr("a"), Record("1")));
  bool first_done = false;
  asio::co_spawn(ioc_, s->Commit(), [&](std::exception_ptr, base::Result<void> r) {
    EXPECT_TRUE(r);
    first_done = true;
  });
  ioc_.restart();
  ioc_.poll();  // the batch is taken and queued; its transaction runs on the pool
  ASSERT_TRUE(s->StoreSession(Addr("a"), Record("2")));
  ioc_.run();
  ASSERT_TRUE(first_done);
  EXPECT_TRUE(s->has_uncommitted());
  EXPECT_EQ(*s->LoadSession(Addr("a")), Record("2"));
  ASSERT_TRUE(Commit(*s));
  EXPECT_FALSE(s->has_uncommitted());
  s.reset();
  Reopen();
  EXPECT_EQ(*Open("s1")->LoadSession(Addr("a")), Record("2"));
}

TEST_F(StateTest, WithAGroupWriterCommitsShareItsTransactions) {
  // The gateway's arrangement: the message store's writer commits the session states too.
  std::optional<SqliteMessageStore> writer;
  writer.emplace(*store_);
  store_->SetGroupWriter(&*writer);
  constexpr int kSessions = 30;
  std::vector<std::unique_ptr<SessionState>> states;
  for (int i = 0; i < kSessions; ++i) {
    states.push_back(Open("s" + std::to_string(i)));
    ASSERT_TRUE(states.back()->StoreSession(Addr("100"), Record("v" + std::to_string(i))));
  }
  // One that cannot be written fails alone.
  ASSERT_EQ(Exec("CREATE TRIGGER refuse BEFORE INSERT ON wa_signal_sessions"
                 " WHEN NEW.session_id = 's3' BEGIN SELECT RAISE(ABORT, 'refused'); END"),
            "");
  const SessionStateStats before = states_->stats();
  int done = 0, failed = 0;
  for (auto& s : states) {
    asio::co_spawn(ioc_, s->Commit(), [&](std::exception_ptr e, base::Result<void> r) {
      EXPECT_FALSE(e);
      ++(r ? done : failed);
    });
  }
  ioc_.restart();
  ioc_.run();
  EXPECT_EQ(done, kSessions - 1);
  EXPECT_EQ(failed, 1);
  EXPECT_TRUE(states[3]->has_uncommitted());
  EXPECT_GE(writer->largest_batch(), 2u);  // commits queued meanwhile joined one transaction
  const SessionStateStats after = states_->stats();
  EXPECT_EQ(after.transactions - before.transactions, static_cast<std::uint64_t>(kSessions - 1));
  EXPECT_EQ(after.failed_transactions - before.failed_transactions, 1u);
  ASSERT_EQ(Exec("DROP TRIGGER refuse"), "");
  ASSERT_TRUE(Commit(*states[3]));
  // Once the writer is gone (unset first, as the gateway does), commits run on their own again.
  store_->SetGroupWriter(nullptr);
  writer.reset();
  ASSERT_TRUE(states[0]->StoreSession(Addr("100"), Record("later")));
  ASSERT_TRUE(Commit(*states[0]));
  states.clear();
  Reopen();
  EXPECT_EQ(Query("SELECT count(*) FROM wa_signal_sessions"), kSessions);
  EXPECT_EQ(*Open("s3")->LoadSession(Addr("100")), Record("v3"));
  EXPECT_EQ(*Open("s0")->LoadSession(Addr("100")), Record("later"));
}


// In the group writer a ratchet step's Commit finishes once committed, while the sync that
// follows is held; CommitDurable (keys the server will hand out, pairing credentials) waits for
// that sync, also when it has nothing of its own left to write.
TEST_F(StateTest, InAGroupWriterCommitWaitsForTheCommitAndCommitDurableForTheDisk) {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::optional<SqliteMessageStore> writer;
  writer.emplace(*store_, [&] {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return open; });
    return true;
  });
  store_->SetGroupWriter(&*writer);
  auto release = [&](bool v) {
    {
      std::lock_guard lock(mu);
      open = v;
    }
    cv.notify_all();
  };
  auto s = Open("s1");
  ASSERT_TRUE(s->StoreSession(Addr("100"), Record("step")));
  ASSERT_TRUE(Commit(*s)) << "a ratchet step waited for the held sync";
  EXPECT_FALSE(s->has_uncommitted());
  EXPECT_EQ(Query("SELECT count(*) FROM wa_signal_sessions WHERE session_id = 's1'"), 1);

  for (bool with_writes : {true, false}) {
    if (with_writes) {
      ASSERT_TRUE(s->StoreSession(Addr("200"), Record("keys")));
    }
    std::optional<base::Result<void>> durable;
    asio::co_spawn(ioc_, s->CommitDurable(), [&](std::exception_ptr, base::Result<void> r) { durable.emplace(r); });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
    while (std::chrono::steady_clock::now() < deadline) {
      ioc_.restart();
      ioc_.run_for(std::chrono::milliseconds(5));
    }
    EXPECT_FALSE(durable) << "CommitDurable finished before the sync (writes: " << with_writes << ")";
    release(true);
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!durable && std::chrono::steady_clock::now() < deadline) {
      ioc_.restart();
      ioc_.run_for(std::chrono::milliseconds(5));
    }
    ASSERT_TRUE(durable);
    EXPECT_TRUE(*durable);
    release(false);
  }
  EXPECT_EQ(Query("SELECT count(*) FROM wa_signal_sessions WHERE session_id = 's1'"), 2);
  release(true);
  store_->SetGroupWriter(nullptr);
  writer.reset();
}

}  // namespace
}  // namespace gateway::store::sqlite
