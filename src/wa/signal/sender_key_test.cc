// Sender keys (groups): distribution, skmsg both ways among three parties, and the failure modes.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "wa/signal/errors.h"
#include "wa/signal/protocol.h"
#include "wa/signal/test_party.h"

namespace wa::signal {
namespace {

using testing::AsString;
using testing::Party;
using testing::Text;

constexpr std::string_view kGroup = "120363012345678901@g.us";

Bytes Numbered(std::string_view who, int i) {
  return Text(std::string(who) + " #" + std::to_string(i));
}

// Every member's SKDM processed by every other member.
void Distribute(const std::vector<Party*>& members) {
  for (Party* from : members) {
    auto skdm = from->protocol.CreateSenderKeyDistribution(kGroup, from->address);
    ASSERT_TRUE(skdm.has_value()) << skdm.error().message();
    ASSERT_EQ((*skdm)[0], 0x33);
    for (Party* to : members) {
      if (to == from) continue;
      auto processed = to->protocol.ProcessSenderKeyDistribution(kGroup, from->address, *skdm);
      ASSERT_TRUE(processed.has_value()) << processed.error().message();
    }
  }
}

TEST(SenderKeys, ThreeMembersTalkBothWays) {
  Party a("111"), b("222", 3), c("333");
  Distribute({&a, &b, &c});
  std::vector<Party*> members = {&a, &b, &c};
  for (int round = 0; round < 30; ++round) {
    Party& from = *members[round % 3];
    auto skmsg = from.protocol.GroupEncrypt(kGroup, from.address, Numbered(from.address.name(), round));
    ASSERT_TRUE(skmsg.has_value()) << skmsg.error().message();
    EXPECT_EQ((*skmsg)[0], 0x33);
    for (Party* to : members) {
      if (to == &from) continue;
      auto got = to->protocol.GroupDecrypt(kGroup, from.address, *skmsg);
      ASSERT_TRUE(got.has_value()) << got.error().message() << " round " << round;
      EXPECT_EQ(*got, Numbered(from.address.name(), round));
    }
  }
  // Sender keys are per group: another group knows nothing of them.
  auto skmsg = a.protocol.GroupEncrypt(kGroup, a.address, Text("x"));
  EXPECT_EQ(b.protocol.GroupDecrypt("other@g.us", a.address, *skmsg).error(), Errc::kNoSession);
  // And per sender device: the same bytes attributed to another member do not decrypt.
  EXPECT_FALSE(b.protocol.GroupDecrypt(kGroup, c.address, *skmsg).has_value());
  EXPECT_EQ(AsString(*b.protocol.GroupDecrypt(kGroup, a.address, *skmsg)), "x");
}

TEST(SenderKeys, DistributionIsStableUntilRotated) {
  Party a("111"), b("222");
  auto first = a.protocol.CreateSenderKeyDistribution(kGroup, a.address);
  auto again = a.protocol.CreateSenderKeyDistribution(kGroup, a.address);
  ASSERT_TRUE(first.has_value() && again.has_value());
  EXPECT_EQ(*first, *again);  // same key id, iteration, chain key and signing key
  EXPECT_EQ(a.store.sender_key_count(), 1u);

  // A member who joins late gets the current state and reads from there on.
  auto m0 = a.protocol.GroupEncrypt(kGroup, a.address, Text("before b"));
  auto later = a.protocol.CreateSenderKeyDistribution(kGroup, a.address);
  EXPECT_NE(*later, *first);  // iteration moved on
  ASSERT_TRUE(b.protocol.ProcessSenderKeyDistribution(kGroup, a.address, *later).has_value());
  auto m1 = a.protocol.GroupEncrypt(kGroup, a.address, Text("after b"));
  EXPECT_EQ(AsString(*b.protocol.GroupDecrypt(kGroup, a.address, *m1)), "after b");
  EXPECT_EQ(b.protocol.GroupDecrypt(kGroup, a.address, *m0).error(), Errc::kDuplicateMessage);

  // Rotation: A forgets its key; the next distribution carries a new key id.
  ASSERT_TRUE(a.protocol.DeleteSenderKey(kGroup, a.address).has_value());
  EXPECT_EQ(a.protocol.GroupEncrypt(kGroup, a.address, Text("x")).error(), Errc::kNoSession);
  auto rotated = a.protocol.CreateSenderKeyDistribution(kGroup, a.address);
  ASSERT_TRUE(rotated.has_value());
  auto m2 = a.protocol.GroupEncrypt(kGroup, a.address, Text("new key"));
  EXPECT_EQ(b.protocol.GroupDecrypt(kGroup, a.address, *m2).error(), Errc::kInvalidKeyId);
  ASSERT_TRUE(b.protocol.ProcessSenderKeyDistribution(kGroup, a.address, *rotated).has_value());
  EXPECT_EQ(AsString(*b.protocol.GroupDecrypt(kGroup, a.address, *m2)), "new key");
}

TEST(SenderKeys, EncryptNeedsOwnKeyFirst) {
  Party a("111");
  EXPECT_EQ(a.protocol.GroupEncrypt(kGroup, a.address, Text("x")).error(), Errc::kNoSession);
}

TEST(SenderKeys, OutOfOrderDuplicatesAndTheFuture) {
  Party a("111"), b("222");
  Distribute({&a, &b});
  std::vector<std::pair<int, Bytes>> sent;
  for (int i = 0; i < 40; ++i) sent.emplace_back(i, *a.protocol.GroupEncrypt(kGroup, a.address, Numbered("a", i)));
  std::mt19937 rng(777);  // fixed seed
  std::shuffle(sent.begin(), sent.end(), rng);
  for (const auto& [i, skmsg] : sent) {
    auto got = b.protocol.GroupDecrypt(kGroup, a.address, skmsg);
    ASSERT_TRUE(got.has_value()) << got.error().message() << " for #" << i;
    EXPECT_EQ(*got, Numbered("a", i));
  }
  for (const auto& [i, skmsg] : sent) {
    EXPECT_EQ(b.protocol.GroupDecrypt(kGroup, a.address, skmsg).error(), Errc::kDuplicateMessage);
  }

  // Iteration 40 is next at B; 40 + 2001 is over the limit, 40 + 2000 is not.
  std::vector<Bytes> chain;
  for (int i = 0; i <= 2001; ++i) chain.push_back(*a.protocol.GroupEncrypt(kGroup, a.address, Numbered("f", i)));
  EXPECT_EQ(b.protocol.GroupDecrypt(kGroup, a.address, chain[2001]).error(), Errc::kTooFarInFuture);
  EXPECT_EQ(*b.protocol.GroupDecrypt(kGroup, a.address, chain[2000]), Numbered("f", 2000));
  EXPECT_EQ(*b.protocol.GroupDecrypt(kGroup, a.address, chain[2001]), Numbered("f", 2001));
}

TEST(SenderKeys, TamperedOrForeignMessagesAreRejected) {
  Party a("111"), b("222");
  Distribute({&a, &b});
  const Bytes good = *a.protocol.GroupEncrypt(kGroup, a.address, Text("signed"));
  Bytes bad_signature = good;
  bad_signature.back() ^= 1;
  EXPECT_EQ(b.protocol.GroupDecrypt(kGroup, a.address, bad_signature).error(), Errc::kInvalidMac);
  Bytes bad_body = good;
  bad_body[bad_body.size() - 64 - 2] ^= 1;  // inside the ciphertext, covered by the signature
  EXPECT_EQ(b.protocol.GroupDecrypt(kGroup, a.address, bad_body).error(), Errc::kInvalidMac);
  EXPECT_EQ(b.protocol.GroupDecrypt(kGroup, a.address, ByteView(good).first(10)).error(),
            Errc::kInvalidMessage);
  EXPECT_EQ(b.protocol.GroupDecrypt(kGroup, a.address, Bytes{}).error(), Errc::kInvalidMessage);
  Bytes old_version = good;
  old_version[0] = 0x22;
  EXPECT_EQ(b.protocol.GroupDecrypt(kGroup, a.address, old_version).error(), Errc::kLegacyVersion);
  // From a member whose key B never received.
  Party c("333");
  ASSERT_TRUE(c.protocol.CreateSenderKeyDistribution(kGroup, c.address).has_value());
  auto from_c = c.protocol.GroupEncrypt(kGroup, c.address, Text("c"));
  EXPECT_EQ(b.protocol.GroupDecrypt(kGroup, c.address, *from_c).error(), Errc::kNoSession);
  // A garbled distribution message.
  EXPECT_EQ(b.protocol.ProcessSenderKeyDistribution(kGroup, c.address, Bytes{0x33, 1, 2}).error(),
            Errc::kInvalidMessage);
  // None of it harmed the real state.
  EXPECT_EQ(AsString(*b.protocol.GroupDecrypt(kGroup, a.address, good)), "signed");
}

TEST(SenderKeys, BeforeCommitCanVeto) {
  Party a("111"), b("222");
  Distribute({&a, &b});
  const Bytes m = *a.protocol.GroupEncrypt(kGroup, a.address, Text("g"));
  const auto veto = make_error_code(boost::system::errc::io_error);
  EXPECT_EQ(b.protocol.GroupDecrypt(kGroup, a.address, m, [&](ByteView) { return veto; }).error(),
            veto);
  Bytes seen;
  auto ok = b.protocol.GroupDecrypt(kGroup, a.address, m, [&](ByteView p) {
    seen.assign(p.begin(), p.end());
    return base::error_code();
  });
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(AsString(seen), "g");
}

}  // namespace
}  // namespace wa::signal
