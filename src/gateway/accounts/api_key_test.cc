#include "gateway/accounts/api_key.h"

#include <gtest/gtest.h>

#include <set>

namespace gateway::accounts {
namespace {

TEST(ApiKey, HasTheDocumentedFormAndVerifies) {
  NewApiKey key = GenerateApiKey();
  ASSERT_EQ(key.secret.size(), kApiKeyLength);
  EXPECT_EQ(key.secret.substr(0, 4), "wag_");
  EXPECT_EQ(key.prefix, key.secret.substr(0, kApiKeyDisplayChars));
  EXPECT_EQ(key.secret_hash.size(), 32u);
  auto hash = HashApiKey(key.secret);
  ASSERT_TRUE(hash);
  EXPECT_EQ(*hash, key.secret_hash);
}

TEST(ApiKey, KeysAreDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(GenerateApiKey().secret);
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(ApiKey, EveryCharacterChangeBreaksTheChecksum) {
  NewApiKey key = GenerateApiKey();
  int caught = 0, tried = 0;
  for (std::size_t i = kApiKeyPrefix.size(); i < key.secret.size(); ++i) {
    std::string changed = key.secret;
    changed[i] = changed[i] == 'a' ? 'b' : 'a';
    ++tried;
    if (!HashApiKey(changed)) ++caught;
  }
  // CRC32 detects every single-character change.
  EXPECT_EQ(caught, tried);
}

TEST(ApiKey, RefusesForeignForms) {
  NewApiKey key = GenerateApiKey();
  EXPECT_FALSE(HashApiKey(""));
  EXPECT_FALSE(HashApiKey(key.secret.substr(1)));
  EXPECT_FALSE(HashApiKey("xag_" + key.secret.substr(4)));
  EXPECT_FALSE(HashApiKey(key.secret + "0"));
  std::string bad = key.secret;
  bad[10] = '-';
  EXPECT_FALSE(HashApiKey(bad));
}

}  // namespace
}  // namespace gateway::accounts
