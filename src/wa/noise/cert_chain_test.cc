#include "wa/noise/cert_chain.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <functional>
#include <sstream>

#include "wa/noise/errors.h"
#include "wa/proto/handshake.pb.h"

namespace wa::noise {
namespace {

Bytes Hex(std::string_view s) {
  auto b = base::FromHex(s);
  EXPECT_TRUE(b.has_value()) << s;
  return b.value_or(Bytes{});
}

crypto::Key32 Key(std::string_view hex) {
  const Bytes b = Hex(hex);
  crypto::Key32 k{};
  std::copy_n(b.begin(), std::min<std::size_t>(32, b.size()), k.begin());
  return k;
}

// Deterministic keys: clamp(SHA-256(label)), the vectors' own convention.
crypto::KeyPair LabelKey(std::string_view label) {
  return crypto::KeyPairFromPrivate(crypto::Sha256(base::AsBytes(label)));
}

Errc ErrorOf(const base::Result<VerifiedCertChain>& r) {
  EXPECT_FALSE(r);
  if (r) return Errc{};
  return static_cast<Errc>(r.error().value());
}

constexpr std::uint64_t kNow = 1800000000;

class CertChainVectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ifstream in(std::string(WA_SHARED_DIR) + "/protocol/vectors/noise-handshake.json");
    std::stringstream ss;
    ss << in.rdbuf();
    json_ = boost::json::parse(ss.str());
  }
  Bytes Chain(std::string_view field) { return Hex(json_.at("cert_chain").at(field).as_string()); }
  crypto::Key32 Public(std::string_view name) {
    return Key(json_.at("keys").at(name).at("public").as_string());
  }
  boost::json::value json_;
};

TEST_F(CertChainVectorTest, EncodingMatchesTheVectorByteForByte) {
  const CertDetails intermediate{1, 0, Public("vector_test_intermediate"), 1700000000,
                                 2000000000};
  const CertDetails leaf{2, 1, Public("vector_server_static"), 1700000000, 2000000000};
  EXPECT_EQ(EncodeCertDetails(intermediate), Chain("intermediate_details"));
  EXPECT_EQ(EncodeCertDetails(leaf), Chain("leaf_details"));
  EXPECT_EQ(EncodeCertChain({Chain("leaf_details"), Chain("leaf_signature")},
                            {Chain("intermediate_details"), Chain("intermediate_signature")}),
            Chain("cert_chain_proto"));
}

TEST_F(CertChainVectorTest, VectorChainVerifiesAgainstItsRootOnly) {
  auto ok = VerifyCertChain(Chain("cert_chain_proto"), Public("vector_server_static"),
                            Public("vector_test_root"), kNow);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->leaf.key, Public("vector_server_static"));
  EXPECT_EQ(ok->intermediate.key, Public("vector_test_intermediate"));
  EXPECT_EQ(ErrorOf(VerifyCertChain(Chain("cert_chain_proto"), Public("vector_server_static"),
                                    kWhatsAppRootPublicKey, kNow)),
            Errc::kCertBadIntermediateSignature);
  EXPECT_EQ(ErrorOf(VerifyCertChain(Chain("cert_chain_proto"), Public("vector_client_noise_static"),
                                    Public("vector_test_root"), kNow)),
            Errc::kCertLeafKeyMismatch);
}

TEST(CertChainConstantsTest, ProductionRootIsTheReferencesConstant) {
  EXPECT_EQ(base::ToHex(kWhatsAppRootPublicKey),
            "142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b");
  EXPECT_EQ(kRootSerial, 0u);
}

class CertChainTest : public ::testing::Test {
 protected:
  const crypto::KeyPair root_ = LabelKey("cert test root");
  const crypto::KeyPair intermediate_ = LabelKey("cert test intermediate");
  const crypto::KeyPair server_ = LabelKey("cert test server static");
  const CertChainOptions options_{.intermediate_serial = 7,
                                  .leaf_serial = 9,
                                  .not_before = kNow - 100,
                                  .not_after = kNow + 100};

  base::Result<VerifiedCertChain> Verify(const Bytes& chain, std::uint64_t now = kNow) {
    return VerifyCertChain(chain, server_.public_key, root_.public_key, now);
  }
  // A chain built by hand from (possibly wrong) details, signed by the given keys.
  Bytes Build(const CertDetails& inter, const CertDetails& leaf, const crypto::Key32& inter_signer,
              const crypto::Key32& leaf_signer) {
    SignedCert i{EncodeCertDetails(inter), {}};
    SignedCert l{EncodeCertDetails(leaf), {}};
    auto si = crypto::Sign(inter_signer, i.details);
    auto sl = crypto::Sign(leaf_signer, l.details);
    i.signature.assign(si.begin(), si.end());
    l.signature.assign(sl.begin(), sl.end());
    return EncodeCertChain(l, i);
  }
  CertDetails InterDetails() const {
    return {7, kRootSerial, intermediate_.public_key, kNow - 100, kNow + 100};
  }
  CertDetails LeafDetails() const { return {9, 7, server_.public_key, kNow - 100, kNow + 100}; }
};

TEST_F(CertChainTest, MadeChainVerifies) {
  const Bytes chain = MakeCertChain(root_, intermediate_, server_.public_key, options_);
  auto r = Verify(chain);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->intermediate.serial, 7u);
  EXPECT_EQ(r->intermediate.issuer_serial, kRootSerial);
  EXPECT_EQ(r->intermediate.key, intermediate_.public_key);
  EXPECT_EQ(r->leaf.serial, 9u);
  EXPECT_EQ(r->leaf.issuer_serial, 7u);
  EXPECT_EQ(r->leaf.key, server_.public_key);
  EXPECT_EQ(r->leaf.not_before, kNow - 100);
  EXPECT_EQ(r->leaf.not_after, kNow + 100);
  // The hand-built path agrees with MakeCertChain.
  EXPECT_TRUE(Verify(Build(InterDetails(), LeafDetails(), root_.private_key,
                           intermediate_.private_key)));
}

TEST_F(CertChainTest, ValidityWindowIsInclusive) {
  const Bytes chain = MakeCertChain(root_, intermediate_, server_.public_key, options_);
  EXPECT_TRUE(Verify(chain, kNow - 100));
  EXPECT_TRUE(Verify(chain, kNow + 100));
  EXPECT_EQ(ErrorOf(Verify(chain, kNow - 101)), Errc::kCertNotYetValid);
  EXPECT_EQ(ErrorOf(Verify(chain, kNow + 101)), Errc::kCertExpired);
  // Leaf validity is checked on its own.
  CertDetails leaf = LeafDetails();
  leaf.not_after = kNow - 1;
  EXPECT_EQ(ErrorOf(Verify(Build(InterDetails(), leaf, root_.private_key,
                                 intermediate_.private_key))),
            Errc::kCertExpired);
}

TEST_F(CertChainTest, EachRuleIsEnforced) {
  const auto& rp = root_.private_key;
  const auto& ip = intermediate_.private_key;

  // Wrong signers.
  EXPECT_EQ(ErrorOf(Verify(Build(InterDetails(), LeafDetails(), ip, ip))),
            Errc::kCertBadIntermediateSignature);
  EXPECT_EQ(ErrorOf(Verify(Build(InterDetails(), LeafDetails(), rp, rp))),
            Errc::kCertBadLeafSignature);
  // Intermediate issued by someone other than the root serial.
  CertDetails inter = InterDetails();
  inter.issuer_serial = 1;
  EXPECT_EQ(ErrorOf(Verify(Build(inter, LeafDetails(), rp, ip))),
            Errc::kCertBadIntermediateIssuer);
  // Leaf naming another issuer.
  CertDetails leaf = LeafDetails();
  leaf.issuer_serial = 8;
  EXPECT_EQ(ErrorOf(Verify(Build(InterDetails(), leaf, rp, ip))), Errc::kCertBadLeafIssuer);
  // Leaf binding another key than the handshake's server static.
  EXPECT_EQ(ErrorOf(Verify(MakeCertChain(root_, intermediate_, root_.public_key, options_))),
            Errc::kCertLeafKeyMismatch);
  EXPECT_EQ(ErrorOf(VerifyCertChain(MakeCertChain(root_, intermediate_, server_.public_key, options_),
                                    intermediate_.public_key, root_.public_key, kNow)),
            Errc::kCertLeafKeyMismatch);
}

TEST_F(CertChainTest, TamperedBytesAreCaught) {
  const Bytes good = MakeCertChain(root_, intermediate_, server_.public_key, options_);
  proto::CertChain chain;
  ASSERT_TRUE(chain.ParseFromArray(good.data(), static_cast<int>(good.size())));
  {
    proto::CertChain c = chain;
    (*c.mutable_leaf()->mutable_details())[10] ^= 1;
    EXPECT_EQ(ErrorOf(Verify(base::ToBytes(c.SerializeAsString()))),
              Errc::kCertBadLeafSignature);
  }
  {
    proto::CertChain c = chain;
    (*c.mutable_intermediate()->mutable_details())[10] ^= 1;
    EXPECT_EQ(ErrorOf(Verify(base::ToBytes(c.SerializeAsString()))),
              Errc::kCertBadIntermediateSignature);
  }
  {
    proto::CertChain c = chain;
    (*c.mutable_leaf()->mutable_signature())[3] ^= 1;
    EXPECT_EQ(ErrorOf(Verify(base::ToBytes(c.SerializeAsString()))),
              Errc::kCertBadLeafSignature);
  }
  {
    proto::CertChain c = chain;
    c.mutable_leaf()->mutable_signature()->pop_back();
    EXPECT_EQ(ErrorOf(Verify(base::ToBytes(c.SerializeAsString()))),
              Errc::kCertBadSignatureLength);
  }
  {
    proto::CertChain c = chain;
    c.mutable_intermediate()->mutable_signature()->push_back('x');
    EXPECT_EQ(ErrorOf(Verify(base::ToBytes(c.SerializeAsString()))),
              Errc::kCertBadSignatureLength);
  }
  for (auto clear : std::vector<std::function<void(proto::CertChain&)>>{
           [](auto& c) { c.clear_leaf(); },
           [](auto& c) { c.clear_intermediate(); },
           [](auto& c) { c.mutable_leaf()->clear_details(); },
           [](auto& c) { c.mutable_leaf()->clear_signature(); },
           [](auto& c) { c.mutable_intermediate()->clear_details(); },
           [](auto& c) { c.mutable_intermediate()->clear_signature(); },
       }) {
    proto::CertChain c = chain;
    clear(c);
    EXPECT_EQ(ErrorOf(Verify(base::ToBytes(c.SerializeAsString()))), Errc::kCertMalformed);
  }
  EXPECT_EQ(ErrorOf(Verify(Hex("ffffffff"))), Errc::kCertMalformed);
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(Verify(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)))) << n;
  }
}

TEST_F(CertChainTest, IntermediateKeyMustBe32Bytes) {
  proto::CertChain::NoiseCertificate::Details d;
  d.set_serial(7);
  d.set_issuer_serial(kRootSerial);
  d.set_key(std::string(31, 'k'));
  d.set_not_before(kNow - 100);
  d.set_not_after(kNow + 100);
  SignedCert inter{base::ToBytes(d.SerializeAsString()), {}};
  const auto sig = crypto::Sign(root_.private_key, inter.details);
  inter.signature.assign(sig.begin(), sig.end());
  SignedCert leaf{EncodeCertDetails(LeafDetails()), Bytes(64, 0)};
  EXPECT_EQ(ErrorOf(Verify(EncodeCertChain(leaf, inter))), Errc::kCertBadIntermediateKey);
}

}  // namespace
}  // namespace wa::noise
