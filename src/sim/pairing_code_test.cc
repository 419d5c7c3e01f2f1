#include "sim/pairing_code.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <fstream>
#include <sstream>

namespace sim::pairing_code {
namespace {

namespace crypto = wa::crypto;

boost::json::value LoadVector(const std::string& name) {
  std::ifstream f(std::string(WA_SHARED_DIR) + "/protocol/vectors/" + name);
  std::stringstream text;
  text << f.rdbuf();
  return boost::json::parse(text.str());
}

base::Bytes Hex(const boost::json::value& v) {
  auto bytes = base::FromHex(std::string_view(v.as_string()));
  EXPECT_TRUE(bytes.has_value()) << v;
  return bytes.value_or(base::Bytes{});
}

crypto::Key32 Key(const boost::json::value& v) {
  auto b = Hex(v);
  crypto::Key32 k{};
  EXPECT_EQ(b.size(), k.size());
  std::copy_n(b.begin(), std::min(b.size(), k.size()), k.begin());
  return k;
}

class PairCodeVectors : public ::testing::Test {
 protected:
  void SetUp() override {
    doc_ = LoadVector("pairing.json");
    v_ = doc_.at("pair_code").as_object();
    keys_ = doc_.at("keys").as_object();
  }
  std::string Code() const { return std::string(v_.at("code").as_string()); }
  boost::json::value doc_;
  boost::json::object v_, keys_;
};

TEST_F(PairCodeVectors, EncodesTheCodeFromFiveBytes) {
  EXPECT_EQ(Encode(Hex(v_.at("code_source_bytes"))), Code());
}

TEST(PairCode, NormalizeAcceptsTheDisplayFormAndLowerCase) {
  EXPECT_EQ(Normalize("2WG3TG3C"), "2WG3TG3C");
  EXPECT_EQ(Normalize("2WG3-TG3C"), "2WG3TG3C");
  EXPECT_EQ(Normalize("2wg3-tg3c"), "2WG3TG3C");
  EXPECT_EQ(Normalize(""), std::nullopt);
  EXPECT_EQ(Normalize("2WG3TG3"), std::nullopt);     // 7 symbols
  EXPECT_EQ(Normalize("2WG3TG3CC"), std::nullopt);   // 9 symbols
  EXPECT_EQ(Normalize("2WG-3TG3C"), std::nullopt);   // dash in the wrong place
  EXPECT_EQ(Normalize("2WG3--TG3C"), std::nullopt);
  EXPECT_EQ(Normalize("0WG3TG3C"), std::nullopt);    // 0, O, I and U are not in the alphabet
  EXPECT_EQ(Normalize("OWG3TG3C"), std::nullopt);
  EXPECT_EQ(Normalize("IWG3TG3C"), std::nullopt);
  EXPECT_EQ(Normalize("UWG3TG3C"), std::nullopt);
  EXPECT_EQ(Normalize("2WG3 TG3C"), std::nullopt);
}

TEST_F(PairCodeVectors, CodeKeyMatchesBothWrappings) {
  for (const char* side : {"companion_wrap", "primary_wrap"}) {
    const auto& w = v_.at(side).as_object();
    EXPECT_EQ(CodeKey(Code(), Hex(w.at("salt"))), Hex(w.at("pbkdf2_key"))) << side;
  }
}

TEST_F(PairCodeVectors, PhoneUnwrapsTheCompanionEphemeralAndWrapsItsOwn) {
  const auto& cw = v_.at("companion_wrap").as_object();
  auto companion_pub = UnwrapKey(Code(), Hex(cw.at("wrapped")));
  ASSERT_TRUE(companion_pub);
  EXPECT_EQ(*companion_pub, Key(v_.at("companion_ephemeral").at("public")));

  const auto& pw = v_.at("primary_wrap").as_object();
  auto primary_pub = Key(v_.at("primary_ephemeral").at("public"));
  EXPECT_EQ(WrapKey(Code(), Hex(pw.at("salt")), Hex(pw.at("iv")), primary_pub),
            Hex(pw.at("wrapped")));
}

TEST_F(PairCodeVectors, UnwrapRejectsWrongSizesAndYieldsAnotherKeyForAWrongCode) {
  auto wrapped = Hex(v_.at("companion_wrap").at("wrapped"));
  EXPECT_FALSE(UnwrapKey(Code(), base::ByteView(wrapped).first(79)));
  auto other = UnwrapKey("2WG3TG3D", wrapped);
  ASSERT_TRUE(other);  // CTR cannot tell: the mismatch only shows at the bundle
  EXPECT_NE(*other, Key(v_.at("companion_ephemeral").at("public")));
}

TEST_F(PairCodeVectors, PhoneOpensTheKeyBundleAndDerivesTheAdvSecret) {
  // The phone's ephemeral secret from its own private key and the unwrapped companion key.
  auto companion_pub = UnwrapKey(Code(), Hex(v_.at("companion_wrap").at("wrapped")));
  ASSERT_TRUE(companion_pub);
  auto shared = crypto::SharedSecret(Key(v_.at("primary_ephemeral").at("private")), *companion_pub);
  ASSERT_TRUE(shared);
  EXPECT_EQ(base::Bytes(shared->begin(), shared->end()), Hex(v_.at("ephemeral_shared_secret")));

  const auto& kb = v_.at("key_bundle").as_object();
  EXPECT_EQ(BundleKey(*shared, Hex(kb.at("salt"))), Hex(kb.at("encryption_key")));
  auto bundle = OpenKeyBundle(*shared, Hex(kb.at("wrapped")));
  ASSERT_TRUE(bundle) << bundle.error().message();
  EXPECT_EQ(bundle->companion_identity, Key(keys_.at("companion_identity").at("public")));
  EXPECT_EQ(bundle->primary_identity, Key(keys_.at("primary_identity").at("public")));
  EXPECT_EQ(bundle->adv_random, Key(v_.at("adv_secret_random")));

  // identityShared on the phone: primary identity private x companion identity public.
  auto identity_shared = crypto::SharedSecret(Key(keys_.at("primary_identity").at("private")),
                                              bundle->companion_identity);
  ASSERT_TRUE(identity_shared);
  EXPECT_EQ(base::Bytes(identity_shared->begin(), identity_shared->end()),
            Hex(v_.at("identity_shared_secret")));
  EXPECT_EQ(AdvSecret(*shared, *identity_shared, bundle->adv_random), Hex(v_.at("adv_secret")));
}

TEST_F(PairCodeVectors, SealKeyBundleReproducesTheCompanionsBytes) {
  const auto& kb = v_.at("key_bundle").as_object();
  KeyBundle bundle{Key(keys_.at("companion_identity").at("public")),
                   Key(keys_.at("primary_identity").at("public")), Key(v_.at("adv_secret_random"))};
  auto sealed = SealKeyBundle(Hex(v_.at("ephemeral_shared_secret")), Hex(kb.at("salt")),
                              Hex(kb.at("iv")), bundle);
  ASSERT_TRUE(sealed);
  EXPECT_EQ(*sealed, Hex(kb.at("wrapped")));
}

TEST_F(PairCodeVectors, AWrongCodeShowsAsAnAuthenticationFailureOfTheBundle) {
  // The phone typed another code: it unwraps a different companion key, so its ephemeral secret
  // differs from the one the companion sealed the bundle with.
  auto wrong_pub = UnwrapKey("ABCDEFGH", Hex(v_.at("companion_wrap").at("wrapped")));
  ASSERT_TRUE(wrong_pub);
  auto wrong_shared =
      crypto::SharedSecret(Key(v_.at("primary_ephemeral").at("private")), *wrong_pub);
  ASSERT_TRUE(wrong_shared);
  auto bundle = OpenKeyBundle(*wrong_shared, Hex(v_.at("key_bundle").at("wrapped")));
  ASSERT_FALSE(bundle);
  EXPECT_EQ(bundle.error(), crypto::MakeError(crypto::Errc::kAuthFailed));

  auto wrapped = Hex(v_.at("key_bundle").at("wrapped"));
  EXPECT_EQ(OpenKeyBundle(Hex(v_.at("ephemeral_shared_secret")), base::ByteView(wrapped).first(155))
                .error(),
            crypto::MakeError(crypto::Errc::kBadInputLength));
}

}  // namespace
}  // namespace sim::pairing_code
