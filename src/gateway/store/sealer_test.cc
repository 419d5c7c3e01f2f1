#include "gateway/store/sealer.h"

#include <gtest/gtest.h>

#include "gateway/store/store.h"

namespace gateway::store {
namespace {

base::Bytes Key(std::uint8_t fill) { return base::Bytes(32, fill); }

TEST(SealerTest, RoundTripsAndAddsTheDocumentedOverhead) {
  Sealer sealer(Key(7), "s1");
  base::Bytes plain = base::ToBytes("a private key of some sort");
  auto aad = Aad({"table", "s1", "row"});
  auto sealed = sealer.Seal(plain, aad);
  EXPECT_EQ(sealed.size(), plain.size() + Sealer::kOverhead);
  EXPECT_EQ(sealed[0], 0x01);
  EXPECT_EQ(std::search(sealed.begin(), sealed.end(), plain.begin(), plain.end()), sealed.end());
  auto opened = sealer.Open(sealed, aad);
  ASSERT_TRUE(opened);
  EXPECT_EQ(*opened, plain);
  // A fresh nonce each time.
  EXPECT_NE(sealer.Seal(plain, aad), sealed);
}

TEST(SealerTest, RefusesOtherKeysScopesRowsAndDamage) {
  Sealer sealer(Key(7), "s1");
  auto aad = Aad({"table", "s1", "row"});
  auto sealed = sealer.Seal(base::ToBytes("secret"), aad);
  auto refused = [&](const Sealer& s, base::ByteView value, base::ByteView a) {
    auto r = s.Open(value, a);
    return !r && r.error() == Errc::kUndecryptable;
  };
  EXPECT_TRUE(refused(Sealer(Key(8), "s1"), sealed, aad));  // another master key
  EXPECT_TRUE(refused(Sealer(Key(7), "s2"), sealed, aad));  // another session's key
  EXPECT_TRUE(refused(sealer, sealed, Aad({"table", "s1", "row2"})));
  // Length-prefixed parts: moving a boundary changes the AAD.
  EXPECT_TRUE(refused(sealer, sealed, Aad({"table", "s1r", "ow"})));
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    auto damaged = sealed;
    damaged[i] ^= 0x01;
    EXPECT_TRUE(refused(sealer, damaged, aad)) << i;
  }
  EXPECT_TRUE(refused(sealer, base::Bytes(sealed.begin(), sealed.begin() + 28), aad));
  EXPECT_TRUE(refused(sealer, base::Bytes(), aad));
}

}  // namespace
}  // namespace gateway::store
