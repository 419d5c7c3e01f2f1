#include "gateway/webhooks/signer.h"

#include <gtest/gtest.h>

#include "base/bytes.h"

namespace gateway::webhooks {
namespace {

// The Standard Webhooks test vector (shared/reference/payments-and-email.md §3.1).
TEST(Signer, MatchesTheStandardWebhooksVector) {
  auto sig = Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                  R"({"test": 2432232314})");
  ASSERT_TRUE(sig);
  EXPECT_EQ(*sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(Signer, HeaderListsOneSignaturePerSecretSpaceSeparated) {
  std::string a = NewSecret(), b = NewSecret();
  auto header = SignatureHeader({a, b, "whsec_!!"}, "evt_1", 1700000000, "{}");
  auto space = header.find(' ');
  ASSERT_NE(space, std::string::npos);
  EXPECT_EQ(header.substr(0, space), *Sign(a, "evt_1", 1700000000, "{}"));
  EXPECT_EQ(header.substr(space + 1), *Sign(b, "evt_1", 1700000000, "{}"));
  EXPECT_NE(*Sign(a, "evt_1", 1700000000, "{}"), *Sign(a, "evt_1", 1700000001, "{}"));
}

TEST(Signer, NewSecretsAreValidAndDistinct) {
  auto s = NewSecret();
  EXPECT_EQ(s.rfind("whsec_", 0), 0u);
  EXPECT_TRUE(ValidSecret(s));
  EXPECT_EQ(base::FromBase64(s.substr(6))->size(), 32u);
  EXPECT_NE(s, NewSecret());
  EXPECT_FALSE(ValidSecret("whsec_c2hvcnQ="));  // 5 bytes
  EXPECT_FALSE(ValidSecret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
}

}  // namespace
}  // namespace gateway::webhooks
