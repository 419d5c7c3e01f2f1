#include "wa/signal/protocol.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "wa/signal/errors.h"
#include "wa/signal/test_party.h"

namespace wa::signal {
namespace {

using testing::AsString;
using testing::Party;
using testing::Text;

// A sends to B over an established session (pkmsg, reply, so both sides are on msg).
void Establish(Party& a, Party& b) {
  ASSERT_TRUE(a.protocol.ProcessPreKeyBundle(b.address, b.Bundle()).has_value());
  auto first = a.protocol.Encrypt(b.address, Text("hello"));
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->type, MessageType::kPkMsg);
  ASSERT_TRUE(b.protocol.Decrypt(a.address, first->type, first->ciphertext).has_value());
  auto reply = b.protocol.Encrypt(a.address, Text("hi"));
  ASSERT_TRUE(reply.has_value());
  ASSERT_EQ(reply->type, MessageType::kMsg);
  ASSERT_TRUE(a.protocol.Decrypt(b.address, reply->type, reply->ciphertext).has_value());
}

Bytes Numbered(int i) { return Text("message #" + std::to_string(i)); }

// The end offset of field 4 (the embedded WhisperMessage) of a serialized PreKeyWhisperMessage
// (0x33 ‖ protobuf), found by walking the protobuf; 0 if absent.
std::size_t InnerMessageEnd(const Bytes& pkmsg) {
  std::size_t pos = 1;
  auto varint = [&](std::uint64_t& v) {
    v = 0;
    for (int shift = 0; pos < pkmsg.size() && shift < 64; shift += 7) {
      const std::uint8_t b = pkmsg[pos++];
      v |= std::uint64_t{b & 0x7Fu} << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  };
  while (pos < pkmsg.size()) {
    std::uint64_t key = 0, value = 0;
    if (!varint(key)) return 0;
    if ((key & 7) == 0) {
      if (!varint(value)) return 0;
    } else if ((key & 7) == 2) {
      if (!varint(value) || value > pkmsg.size() - pos) return 0;
      pos += value;
      if ((key >> 3) == 4) return pos;
    } else {
      return 0;
    }
  }
  return 0;
}

TEST(EncType, Names) {
  EXPECT_EQ(EncType(MessageType::kPkMsg), "pkmsg");
  EXPECT_EQ(EncType(MessageType::kMsg), "msg");
  EXPECT_EQ(EncType(MessageType::kSkMsg), "skmsg");
  for (auto type : {MessageType::kPkMsg, MessageType::kMsg, MessageType::kSkMsg}) {
    EXPECT_EQ(ParseEncType(EncType(type)), type);
  }
  EXPECT_FALSE(ParseEncType("msmsg").has_value());
  EXPECT_FALSE(ParseEncType("").has_value());
}

TEST(Protocol, PkMsgUntilTheInitiatorHearsBack) {
  Party a("111"), b("222");
  const PreKeyBundle bundle = b.Bundle();
  ASSERT_TRUE(bundle.pre_key.has_value());
  const std::uint32_t pre_key_id = bundle.pre_key->id;

  auto identity = a.protocol.ProcessPreKeyBundle(b.address, bundle);
  ASSERT_TRUE(identity.has_value()) << identity.error().message();
  EXPECT_EQ(*identity, IdentityChange::kNew);
  EXPECT_EQ(*a.store.GetIdentity(b.address), bundle.identity_key);
  EXPECT_TRUE(*a.protocol.HasSession(b.address));
  EXPECT_FALSE(*b.protocol.HasSession(a.address));
  EXPECT_EQ(*a.protocol.RemoteRegistrationId(b.address), bundle.registration_id);

  // Until B answers, every message A sends carries the X3DH header.
  std::vector<EncryptedMessage> sent;
  for (int i = 0; i < 3; ++i) {
    auto m = a.protocol.Encrypt(b.address, Numbered(i));
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->type, MessageType::kPkMsg);
    sent.push_back(*m);
  }

  auto first = b.protocol.Decrypt(a.address, MessageType::kPkMsg, sent[0].ciphertext);
  ASSERT_TRUE(first.has_value()) << first.error().message();
  EXPECT_EQ(first->plaintext, Numbered(0));
  EXPECT_EQ(first->consumed_pre_key_id, pre_key_id);
  EXPECT_EQ(first->identity, IdentityChange::kNew);
  EXPECT_FALSE(*b.store.ContainsPreKey(pre_key_id));  // consumed
  EXPECT_EQ(*b.store.GetIdentity(a.address), a.store.GetIdentityKeyPair()->public_key);
  EXPECT_EQ(*b.protocol.RemoteRegistrationId(a.address), *a.store.GetRegistrationId());

  // Later pkmsgs of the same session reuse it: no prekey, no identity news.
  auto second = b.protocol.Decrypt(a.address, MessageType::kPkMsg, sent[1].ciphertext);
  ASSERT_TRUE(second.has_value()) << second.error().message();
  EXPECT_EQ(second->plaintext, Numbered(1));
  EXPECT_FALSE(second->consumed_pre_key_id.has_value());
  EXPECT_EQ(second->identity, IdentityChange::kUnchanged);

  // The responder sends msg straight away.
  auto reply = b.protocol.Encrypt(a.address, Text("reply"));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->type, MessageType::kMsg);
  // A still sends pkmsg until it has decrypted the reply...
  EXPECT_EQ(a.protocol.Encrypt(b.address, Text("x"))->type, MessageType::kPkMsg);
  auto got = a.protocol.Decrypt(b.address, MessageType::kMsg, reply->ciphertext);
  ASSERT_TRUE(got.has_value()) << got.error().message();
  EXPECT_EQ(AsString(got->plaintext), "reply");
  EXPECT_FALSE(got->consumed_pre_key_id.has_value());
  // ...and msg afterwards.
  auto after = a.protocol.Encrypt(b.address, Text("after"));
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->type, MessageType::kMsg);
  // The third pkmsg (sent before the reply) and the msg still decrypt at B.
  EXPECT_EQ(b.protocol.Decrypt(a.address, MessageType::kPkMsg, sent[2].ciphertext)->plaintext,
            Numbered(2));
  EXPECT_EQ(AsString(b.protocol.Decrypt(a.address, MessageType::kMsg, after->ciphertext)
                         ->plaintext),
            "after");
}

TEST(Protocol, BundleWithoutOneTimePreKey) {
  Party a("111"), b("222", 0, /*pre_keys=*/0);
  const PreKeyBundle bundle = b.Bundle();
  ASSERT_FALSE(bundle.pre_key.has_value());
  ASSERT_TRUE(a.protocol.ProcessPreKeyBundle(b.address, bundle).has_value());
  auto m = a.protocol.Encrypt(b.address, Text("no otk"));
  ASSERT_EQ(m->type, MessageType::kPkMsg);
  auto got = b.protocol.Decrypt(a.address, m->type, m->ciphertext);
  ASSERT_TRUE(got.has_value()) << got.error().message();
  EXPECT_EQ(AsString(got->plaintext), "no otk");
  EXPECT_FALSE(got->consumed_pre_key_id.has_value());
}

TEST(Protocol, ManyMessagesEachWay) {
  Party a("111", 2), b("222", 5);
  Establish(a, b);
  // Bursts of varying length in alternating directions: every burst after a turn is a ratchet
  // step.
  int n = 0;
  for (int round = 0; round < 20; ++round) {
    Party& from = round % 2 ? b : a;
    Party& to = round % 2 ? a : b;
    for (int i = 0; i < 1 + round % 7; ++i, ++n) {
      auto m = from.protocol.Encrypt(to.address, Numbered(n));
      ASSERT_TRUE(m.has_value());
      EXPECT_EQ(m->type, MessageType::kMsg);
      auto got = to.protocol.Decrypt(from.address, m->type, m->ciphertext);
      ASSERT_TRUE(got.has_value()) << got.error().message() << " at " << n;
      EXPECT_EQ(got->plaintext, Numbered(n));
    }
  }
  // Empty and large plaintexts.
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{100000}}) {
    const Bytes payload(size, 0xAB);
    auto m = a.protocol.Encrypt(b.address, payload);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(b.protocol.Decrypt(a.address, m->type, m->ciphertext)->plaintext, payload);
  }
}

TEST(Protocol, OutOfOrderWithinLimits) {
  Party a("111"), b("222");
  Establish(a, b);
  // Two sending chains of A (a turn of B in between), delivered shuffled together.
  std::vector<std::pair<int, Bytes>> pending;
  for (int i = 0; i < 30; ++i) pending.emplace_back(i, a.protocol.Encrypt(b.address, Numbered(i))->ciphertext);
  auto turn = b.protocol.Encrypt(a.address, Text("turn"));
  ASSERT_TRUE(a.protocol.Decrypt(b.address, turn->type, turn->ciphertext).has_value());
  for (int i = 30; i < 60; ++i) pending.emplace_back(i, a.protocol.Encrypt(b.address, Numbered(i))->ciphertext);
  std::mt19937 rng(12345);  // fixed seed: a fixed but arbitrary order
  std::shuffle(pending.begin(), pending.end(), rng);
  for (const auto& [i, ciphertext] : pending) {
    auto got = b.protocol.Decrypt(a.address, MessageType::kMsg, ciphertext);
    ASSERT_TRUE(got.has_value()) << got.error().message() << " for #" << i;
    EXPECT_EQ(got->plaintext, Numbered(i));
  }
  // Every one of them is now a duplicate.
  for (const auto& [i, ciphertext] : pending) {
    EXPECT_EQ(b.protocol.Decrypt(a.address, MessageType::kMsg, ciphertext).error(),
              Errc::kDuplicateMessage)
        << i;
  }
}

TEST(Protocol, DuplicatesAreDetected) {
  Party a("111"), b("222");
  ASSERT_TRUE(a.protocol.ProcessPreKeyBundle(b.address, b.Bundle()).has_value());
  auto pk = a.protocol.Encrypt(b.address, Text("once"));
  ASSERT_TRUE(b.protocol.Decrypt(a.address, MessageType::kPkMsg, pk->ciphertext).has_value());
  EXPECT_EQ(b.protocol.Decrypt(a.address, MessageType::kPkMsg, pk->ciphertext).error(),
            Errc::kDuplicateMessage);
  auto reply = b.protocol.Encrypt(a.address, Text("r"));
  ASSERT_TRUE(a.protocol.Decrypt(b.address, reply->type, reply->ciphertext).has_value());
  EXPECT_EQ(a.protocol.Decrypt(b.address, reply->type, reply->ciphertext).error(),
            Errc::kDuplicateMessage);
}

TEST(Protocol, MessageTooFarInTheFutureIsRejected) {
  Party a("111"), b("222");
  Establish(a, b);
  // A's current sending chain starts at counter 0 (it ratcheted on B's reply).
  std::vector<Bytes> chain;
  for (int i = 0; i <= 2001; ++i) chain.push_back(a.protocol.Encrypt(b.address, Numbered(i))->ciphertext);
  // Counter 2001 is 2001 ahead of the receiving chain: over libsignal's limit of 2000.
  EXPECT_EQ(b.protocol.Decrypt(a.address, MessageType::kMsg, chain[2001]).error(),
            Errc::kTooFarInFuture);
  // Exactly 2000 ahead is allowed (and stores 2000 skipped keys)...
  auto edge = b.protocol.Decrypt(a.address, MessageType::kMsg, chain[2000]);
  ASSERT_TRUE(edge.has_value()) << edge.error().message();
  EXPECT_EQ(edge->plaintext, Numbered(2000));
  // ...after which the rejected one is next in line, and skipped ones still decrypt.
  EXPECT_EQ(b.protocol.Decrypt(a.address, MessageType::kMsg, chain[2001])->plaintext,
            Numbered(2001));
  EXPECT_EQ(b.protocol.Decrypt(a.address, MessageType::kMsg, chain[0])->plaintext, Numbered(0));
  EXPECT_EQ(b.protocol.Decrypt(a.address, MessageType::kMsg, chain[1999])->plaintext,
            Numbered(1999));
}

TEST(Protocol, TamperedCiphertextIsRejectedWithoutHarm) {
  Party a("111"), b("222");
  Establish(a, b);
  auto m = a.protocol.Encrypt(b.address, Text("authentic"));
  ASSERT_TRUE(m.has_value());
  const Bytes good = m->ciphertext;

  Bytes bad_mac = good;
  bad_mac.back() ^= 0x01;
  EXPECT_EQ(b.protocol.Decrypt(a.address, MessageType::kMsg, bad_mac).error(), Errc::kInvalidMac);
  Bytes bad_body = good;
  bad_body[bad_body.size() - 8 - 3] ^= 0x80;  // inside the AES ciphertext, before the 8-byte MAC
  EXPECT_EQ(b.protocol.Decrypt(a.address, MessageType::kMsg, bad_body).error(), Errc::kInvalidMac);
  EXPECT_EQ(b.protocol.Decrypt(a.address, MessageType::kMsg, ByteView(good).first(good.size() - 9))
                .error(),
            Errc::kInvalidMessage);  // the protobuf lost its last byte
  EXPECT_EQ(b.protocol.Decrypt(a.address, MessageType::kMsg, ByteView(good).first(5)).error(),
            Errc::kInvalidMessage);
  EXPECT_EQ(b.protocol.Decrypt(a.address, MessageType::kMsg, Bytes{}).error(),
            Errc::kInvalidMessage);
  EXPECT_EQ(b.protocol.Decrypt(a.address, MessageType::kMsg, Bytes(40, 0x33)).error(),
            Errc::kInvalidMessage);
  EXPECT_EQ(b.protocol.Decrypt(a.address, MessageType::kPkMsg, Bytes(40, 0x33)).error(),
            Errc::kInvalidMessage);
  // A msg sent as pkmsg (and vice versa) does not parse as the other kind.
  EXPECT_FALSE(b.protocol.Decrypt(a.address, MessageType::kPkMsg, good).has_value());
  // None of that damaged the session.
  auto got = b.protocol.Decrypt(a.address, MessageType::kMsg, good);
  ASSERT_TRUE(got.has_value()) << got.error().message();
  EXPECT_EQ(AsString(got->plaintext), "authentic");
}

TEST(Protocol, VersionsOtherThanThree) {
  Party a("111"), b("222");
  Establish(a, b);
  Bytes m = a.protocol.Encrypt(b.address, Text("v"))->ciphertext;
  ASSERT_EQ(m[0], 0x33);
  for (std::uint8_t version : {0x11, 0x22}) {
    m[0] = version;
    EXPECT_EQ(b.protocol.Decrypt(a.address, MessageType::kMsg, m).error(), Errc::kLegacyVersion);
  }
  m[0] = 0x44;
  EXPECT_EQ(b.protocol.Decrypt(a.address, MessageType::kMsg, m).error(), Errc::kUnknownVersion);
  Party c("333");
  ASSERT_TRUE(c.protocol.ProcessPreKeyBundle(b.address, b.Bundle()).has_value());
  Bytes pk = c.protocol.Encrypt(b.address, Text("v"))->ciphertext;
  pk[0] = 0x22;
  EXPECT_EQ(b.protocol.Decrypt(c.address, MessageType::kPkMsg, pk).error(), Errc::kLegacyVersion);
  pk[0] = 0x44;
  EXPECT_EQ(b.protocol.Decrypt(c.address, MessageType::kPkMsg, pk).error(), Errc::kUnknownVersion);
}

TEST(Protocol, NoSession) {
  Party a("111"), b("222");
  EXPECT_EQ(a.protocol.Encrypt(b.address, Text("x")).error(), Errc::kNoSession);
  EXPECT_EQ(a.protocol.RemoteRegistrationId(b.address).error(), Errc::kNoSession);
  // A msg from someone we have no session with.
  Party c("333");
  Establish(c, b);
  auto m = c.protocol.Encrypt(b.address, Text("for b"));
  ASSERT_EQ(m->type, MessageType::kMsg);
  EXPECT_EQ(a.protocol.Decrypt(c.address, MessageType::kMsg, m->ciphertext).error(),
            Errc::kNoSession);
  EXPECT_EQ(a.protocol.Decrypt(c.address, MessageType::kSkMsg, m->ciphertext).error(),
            Errc::kInvalidArgument);
}

TEST(Protocol, UnknownPreKeyIds) {
  Party a("111"), b("222");
  // A one-time prekey B never issued.
  PreKeyBundle bundle = b.Bundle(false);
  bundle.pre_key = PreKeyPublic{999, crypto::GenerateKeyPair().public_key};
  ASSERT_TRUE(a.protocol.ProcessPreKeyBundle(b.address, bundle).has_value());
  auto m = a.protocol.Encrypt(b.address, Text("x"));
  EXPECT_EQ(b.protocol.Decrypt(a.address, MessageType::kPkMsg, m->ciphertext).error(),
            Errc::kInvalidKeyId);
  EXPECT_FALSE(*b.protocol.HasSession(a.address));
  EXPECT_FALSE(b.store.GetIdentity(a.address)->has_value());

  // A signed prekey id B does not hold.
  Party c("333");
  bundle = b.Bundle(false);
  bundle.signed_pre_key_id = 77;
  ASSERT_TRUE(c.protocol.ProcessPreKeyBundle(b.address, bundle).has_value());
  m = c.protocol.Encrypt(b.address, Text("x"));
  EXPECT_EQ(b.protocol.Decrypt(c.address, MessageType::kPkMsg, m->ciphertext).error(),
            Errc::kInvalidKeyId);

  // A one-time prekey already consumed by someone else (a server that served it twice).
  Party d("444"), e("555");
  bundle = b.Bundle();
  ASSERT_TRUE(d.protocol.ProcessPreKeyBundle(b.address, bundle).has_value());
  ASSERT_TRUE(e.protocol.ProcessPreKeyBundle(b.address, bundle).has_value());
  auto from_d = d.protocol.Encrypt(b.address, Text("d"));
  auto from_e = e.protocol.Encrypt(b.address, Text("e"));
  EXPECT_EQ(b.protocol.Decrypt(d.address, MessageType::kPkMsg, from_d->ciphertext)
                ->consumed_pre_key_id,
            bundle.pre_key->id);
  EXPECT_EQ(b.protocol.Decrypt(e.address, MessageType::kPkMsg, from_e->ciphertext).error(),
            Errc::kInvalidKeyId);
}

TEST(Protocol, BadBundleSignatureIsRefused) {
  Party a("111"), b("222");
  PreKeyBundle bundle = b.Bundle();
  bundle.signed_pre_key_signature[5] ^= 1;
  EXPECT_EQ(a.protocol.ProcessPreKeyBundle(b.address, bundle).error(), Errc::kInvalidKey);
  EXPECT_FALSE(*a.protocol.HasSession(b.address));
  EXPECT_FALSE(a.store.GetIdentity(b.address)->has_value());
  bundle = b.Bundle();
  bundle.identity_key = Party("999").store.GetIdentityKeyPair()->public_key;
  EXPECT_EQ(a.protocol.ProcessPreKeyBundle(b.address, bundle).error(), Errc::kInvalidKey);
}

TEST(Protocol, IdentityChangeIsReportedNotBlocked) {
  Party a("111"), b("222");
  Establish(a, b);
  const Key32 old_key = b.store.GetIdentityKeyPair()->public_key;

  // B reinstalls: same address, new identity and prekeys.
  Party b2("222");
  ASSERT_NE(b2.store.GetIdentityKeyPair()->public_key, old_key);
  auto change = a.protocol.ProcessPreKeyBundle(b2.address, b2.Bundle());
  ASSERT_TRUE(change.has_value());
  EXPECT_EQ(*change, IdentityChange::kChanged);
  EXPECT_EQ(*a.store.GetIdentity(b.address), b2.store.GetIdentityKeyPair()->public_key);
  auto m = a.protocol.Encrypt(b2.address, Text("to the new b"));
  EXPECT_EQ(m->type, MessageType::kPkMsg);
  auto got = b2.protocol.Decrypt(a.address, m->type, m->ciphertext);
  ASSERT_TRUE(got.has_value()) << got.error().message();
  EXPECT_EQ(AsString(got->plaintext), "to the new b");

  // Incoming: A reinstalls and writes to B first; B reports the change on the pkmsg.
  Party a2("111");
  ASSERT_TRUE(a2.protocol.ProcessPreKeyBundle(b2.address, b2.Bundle()).has_value());
  auto pk = a2.protocol.Encrypt(b2.address, Text("new a"));
  auto in = b2.protocol.Decrypt(a2.address, MessageType::kPkMsg, pk->ciphertext);
  ASSERT_TRUE(in.has_value()) << in.error().message();
  EXPECT_EQ(in->identity, IdentityChange::kChanged);
  EXPECT_EQ(*b2.store.GetIdentity(a.address), a2.store.GetIdentityKeyPair()->public_key);
}

TEST(Protocol, UnauthenticatedPkMsgDoesNotReplaceTheStoredIdentity) {
  // libsignal-protocol-c saves the identity in a pkmsg before checking the message's MAC; the
  // Protocol stages that save until the message authenticates.
  Party a("111"), b("222");
  Establish(a, b);
  const Key32 a_key = a.store.GetIdentityKeyPair()->public_key;
  Party mallory("111");
  ASSERT_TRUE(mallory.protocol.ProcessPreKeyBundle(b.address, b.Bundle()).has_value());
  Bytes forged = mallory.protocol.Encrypt(b.address, Text("x"))->ciphertext;
  const std::size_t mac_end = InnerMessageEnd(forged);
  ASSERT_GT(mac_end, 0u);
  forged[mac_end - 1] ^= 1;  // the last byte of the inner WhisperMessage's MAC
  EXPECT_EQ(b.protocol.Decrypt(a.address, MessageType::kPkMsg, forged).error(), Errc::kInvalidMac);
  EXPECT_EQ(*b.store.GetIdentity(a.address), a_key);
  // The real session is intact.
  auto m = a.protocol.Encrypt(b.address, Text("still me"));
  EXPECT_EQ(AsString(b.protocol.Decrypt(a.address, m->type, m->ciphertext)->plaintext),
            "still me");
}

TEST(Protocol, FreshSessionAfterDelete) {
  Party a("111"), b("222");
  Establish(a, b);
  ASSERT_TRUE(a.protocol.DeleteSession(b.address).has_value());
  EXPECT_FALSE(*a.protocol.HasSession(b.address));
  EXPECT_EQ(a.protocol.Encrypt(b.address, Text("x")).error(), Errc::kNoSession);

  const PreKeyBundle bundle = b.Bundle();
  auto identity = a.protocol.ProcessPreKeyBundle(b.address, bundle);
  ASSERT_TRUE(identity.has_value());
  EXPECT_EQ(*identity, IdentityChange::kUnchanged);  // the identity was kept
  auto pk = a.protocol.Encrypt(b.address, Text("again"));
  ASSERT_EQ(pk->type, MessageType::kPkMsg);
  auto got = b.protocol.Decrypt(a.address, pk->type, pk->ciphertext);
  ASSERT_TRUE(got.has_value()) << got.error().message();
  EXPECT_EQ(AsString(got->plaintext), "again");
  EXPECT_EQ(got->consumed_pre_key_id, bundle.pre_key->id);
  EXPECT_EQ(got->identity, IdentityChange::kUnchanged);
  auto reply = b.protocol.Encrypt(a.address, Text("welcome back"));
  EXPECT_EQ(AsString(a.protocol.Decrypt(b.address, reply->type, reply->ciphertext)->plaintext),
            "welcome back");
  EXPECT_EQ(a.protocol.Encrypt(b.address, Text("y"))->type, MessageType::kMsg);
}

TEST(Protocol, LateMessageForAReplacedSessionStillDecrypts) {
  Party a("111"), b("222");
  ASSERT_TRUE(a.protocol.ProcessPreKeyBundle(b.address, b.Bundle()).has_value());
  auto old_session = a.protocol.Encrypt(b.address, Text("old"));
  // A starts over (e.g. a retry asked for a new session) before B saw anything.
  ASSERT_TRUE(a.protocol.ProcessPreKeyBundle(b.address, b.Bundle()).has_value());
  auto new_session = a.protocol.Encrypt(b.address, Text("new"));
  EXPECT_EQ(AsString(b.protocol.Decrypt(a.address, MessageType::kPkMsg, new_session->ciphertext)
                         ->plaintext),
            "new");
  EXPECT_EQ(AsString(b.protocol.Decrypt(a.address, MessageType::kPkMsg, old_session->ciphertext)
                         ->plaintext),
            "old");
  // B now answers on the session it saw last (the old one); A finds it among its archived states.
  auto reply = b.protocol.Encrypt(a.address, Text("reply"));
  auto got = a.protocol.Decrypt(b.address, reply->type, reply->ciphertext);
  ASSERT_TRUE(got.has_value()) << got.error().message();
  EXPECT_EQ(AsString(got->plaintext), "reply");
  auto m = a.protocol.Encrypt(b.address, Text("onward"));
  EXPECT_EQ(m->type, MessageType::kMsg);
  EXPECT_EQ(AsString(b.protocol.Decrypt(a.address, m->type, m->ciphertext)->plaintext), "onward");
}

TEST(Protocol, BeforeCommitRunsFirstAndCanVeto) {
  Party a("111"), b("222");
  ASSERT_TRUE(a.protocol.ProcessPreKeyBundle(b.address, b.Bundle()).has_value());
  auto pk = a.protocol.Encrypt(b.address, Text("persist me"));
  const std::uint32_t pre_key_id = 1;
  ASSERT_TRUE(*b.store.ContainsPreKey(pre_key_id));

  const auto veto = make_error_code(boost::system::errc::io_error);
  int calls = 0;
  auto failed = b.protocol.Decrypt(a.address, MessageType::kPkMsg, pk->ciphertext,
                                   [&](ByteView plaintext) {
                                     ++calls;
                                     EXPECT_EQ(AsString(Bytes(plaintext.begin(), plaintext.end())),
                                               "persist me");
                                     // Nothing is committed yet.
                                     EXPECT_FALSE(*b.store.ContainsSession(a.address));
                                     EXPECT_TRUE(*b.store.ContainsPreKey(pre_key_id));
                                     return veto;
                                   });
  EXPECT_EQ(calls, 1);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error(), veto);
  EXPECT_FALSE(*b.store.ContainsSession(a.address));
  EXPECT_TRUE(*b.store.ContainsPreKey(pre_key_id));

  // Redelivered, it decrypts and commits.
  Bytes persisted;
  auto ok = b.protocol.Decrypt(a.address, MessageType::kPkMsg, pk->ciphertext,
                               [&](ByteView plaintext) {
                                 persisted.assign(plaintext.begin(), plaintext.end());
                                 return base::error_code();
                               });
  ASSERT_TRUE(ok.has_value()) << ok.error().message();
  EXPECT_EQ(AsString(persisted), "persist me");
  EXPECT_TRUE(*b.store.ContainsSession(a.address));
  EXPECT_FALSE(*b.store.ContainsPreKey(pre_key_id));
}

TEST(Protocol, BeforeCommitMayUseAnotherOwnersProtocol) {
  // E.g. a simulated phone whose hook hands the plaintext to another simulated device.
  Party a("111"), b("222"), c("333");
  Establish(a, b);
  Establish(c, b);
  auto m = a.protocol.Encrypt(b.address, Text("relay me"));
  std::optional<EncryptedMessage> relayed;
  auto got = b.protocol.Decrypt(a.address, m->type, m->ciphertext, [&](ByteView plaintext) {
    // A failing call on c's Protocol first: its error must not leak into b's call.
    EXPECT_EQ(c.protocol.Decrypt(a.address, MessageType::kMsg, Bytes(40, 0x33)).error(),
              Errc::kInvalidMessage);
    auto r = c.protocol.Encrypt(b.address, plaintext);
    EXPECT_TRUE(r.has_value());
    if (r) relayed = *r;
    return base::error_code();
  });
  ASSERT_TRUE(got.has_value()) << got.error().message();
  EXPECT_EQ(AsString(got->plaintext), "relay me");
  ASSERT_TRUE(relayed.has_value());
  EXPECT_EQ(AsString(b.protocol.Decrypt(c.address, relayed->type, relayed->ciphertext)->plaintext),
            "relay me");
}

// A store whose writes can be made to fail.
class FlakyStore final : public testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  bool fail_writes = false;
  base::error_code failure = make_error_code(boost::system::errc::no_space_on_device);

  base::Result<void> SaveIdentity(const Address& a, const Key32& k) override {
    if (fail_writes) return failure;
    return ForwardingStore::SaveIdentity(a, k);
  }
  base::Result<void> StoreSession(const Address& a, ByteView r) override {
    if (fail_writes) return failure;
    return ForwardingStore::StoreSession(a, r);
  }
  base::Result<void> RemovePreKey(std::uint32_t id) override {
    if (fail_writes) return failure;
    return ForwardingStore::RemovePreKey(id);
  }
  base::Result<void> StoreSenderKey(std::string_view g, const Address& a, ByteView r) override {
    if (fail_writes) return failure;
    return ForwardingStore::StoreSenderKey(g, a, r);
  }
};

TEST(Protocol, StoreErrorsPassThroughAndCommitNothing) {
  Party a("111"), b("222");
  FlakyStore flaky(b.store);
  Protocol b_flaky(flaky);
  ASSERT_TRUE(a.protocol.ProcessPreKeyBundle(b.address, b.Bundle()).has_value());
  auto pk = a.protocol.Encrypt(b.address, Text("x"));
  flaky.fail_writes = true;
  auto failed = b_flaky.Decrypt(a.address, MessageType::kPkMsg, pk->ciphertext);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error(), flaky.failure);
  EXPECT_FALSE(*b.store.ContainsSession(a.address));
  EXPECT_FALSE(b.store.GetIdentity(a.address)->has_value());
  flaky.fail_writes = false;
  auto ok = b_flaky.Decrypt(a.address, MessageType::kPkMsg, pk->ciphertext);
  ASSERT_TRUE(ok.has_value()) << ok.error().message();
  EXPECT_EQ(AsString(ok->plaintext), "x");

  // Encrypt does not advance the chain when the session write fails.
  flaky.fail_writes = true;
  EXPECT_EQ(b_flaky.Encrypt(a.address, Text("lost")).error(), flaky.failure);
  flaky.fail_writes = false;
  auto m = b_flaky.Encrypt(a.address, Text("kept"));
  EXPECT_EQ(AsString(a.protocol.Decrypt(b.address, m->type, m->ciphertext)->plaintext), "kept");
}

class DistrustfulStore final : public testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  base::Result<bool> IsTrustedIdentity(const Address&, const Key32&) override { return false; }
};

TEST(Protocol, AStoreMayRefuseAnIdentity) {
  Party a("111"), b("222");
  DistrustfulStore distrustful(a.store);
  Protocol strict(distrustful);
  EXPECT_EQ(strict.ProcessPreKeyBundle(b.address, b.Bundle()).error(), Errc::kUntrustedIdentity);
  ASSERT_TRUE(b.protocol.ProcessPreKeyBundle(a.address, a.Bundle()).has_value());
  auto pk = b.protocol.Encrypt(a.address, Text("x"));
  EXPECT_EQ(strict.Decrypt(b.address, MessageType::kPkMsg, pk->ciphertext).error(),
            Errc::kUntrustedIdentity);
}

TEST(Protocol, SessionsAreKeptPerDevice) {
  Party a("111"), b0("222", 0), b3("222", 3), b_lid("222", 0);
  const Address lid = *Address::ForDevice("222", Domain::kLid, 0);
  ASSERT_TRUE(a.protocol.ProcessPreKeyBundle(b0.address, b0.Bundle()).has_value());
  ASSERT_TRUE(a.protocol.ProcessPreKeyBundle(b3.address, b3.Bundle()).has_value());
  ASSERT_TRUE(a.protocol.ProcessPreKeyBundle(lid, b_lid.Bundle()).has_value());
  EXPECT_EQ(*a.store.ListSessionDevices("222"), (std::vector<std::uint32_t>{0, 3}));
  EXPECT_EQ(*a.store.ListSessionDevices("222_1"), (std::vector<std::uint32_t>{0}));
  // A message for device 3 does not decrypt at device 0.
  auto to3 = a.protocol.Encrypt(b3.address, Text("for 3"));
  EXPECT_FALSE(b0.protocol.Decrypt(a.address, MessageType::kPkMsg, to3->ciphertext).has_value());
  EXPECT_EQ(AsString(b3.protocol.Decrypt(a.address, MessageType::kPkMsg, to3->ciphertext)
                         ->plaintext),
            "for 3");
}

}  // namespace
}  // namespace wa::signal
