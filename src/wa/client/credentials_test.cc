#include "wa/client/credentials.h"

#include <gtest/gtest.h>

#include "wa/client/errors.h"
#include "wa/client/memory_device_store.h"

namespace wa::client {
namespace {

Credentials Paired() {
  Credentials c = Credentials::New();
  c.me = binary::Jid::User("15550001111", 4);
  c.lid = binary::Jid::Lid("123456789012345", 4);
  c.account = {1, 2, 3};
  c.platform = "android";
  c.business_name = "Shop";
  c.push_name = "Pat";
  c.routing_info = {8, 8, 8};
  c.next_pre_key_id = 813;
  c.first_unuploaded_pre_key_id = 813;
  c.server_time_offset_ms = -1234;
  return c;
}

TEST(Credentials, NewHasConsistentKeys) {
  Credentials c = Credentials::New();
  EXPECT_FALSE(c.paired());
  EXPECT_EQ(crypto::KeyPairFromPrivate(c.noise_key.private_key).public_key, c.noise_key.public_key);
  EXPECT_EQ(crypto::KeyPairFromPrivate(c.identity_key.private_key).public_key,
            c.identity_key.public_key);
  EXPECT_EQ(c.signed_pre_key.id, 1u);
  EXPECT_TRUE(signal::VerifySignedPreKey(c.identity_key.public_key,
                                         c.signed_pre_key.key_pair.public_key,
                                         c.signed_pre_key.signature));
  EXPECT_GE(c.registration_id, 1u);
  EXPECT_LE(c.registration_id, signal::kMaxRegistrationId);
  EXPECT_NE(c.adv_secret, crypto::Key32{});
  EXPECT_NE(Credentials::New().noise_key.public_key, c.noise_key.public_key);
}

TEST(Credentials, EncodeDecodeRoundTrip) {
  for (const Credentials& c : {Credentials::New(), Paired()}) {
    auto decoded = DecodeCredentials(EncodeCredentials(c));
    ASSERT_TRUE(decoded) << decoded.error().message();
    EXPECT_TRUE(*decoded == c);
  }
  auto d = DecodeCredentials(EncodeCredentials(Paired()));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->me->device(), 4);
  EXPECT_EQ(d->me->form(), binary::Jid::Form::kAd);
}

TEST(Credentials, DecodeRejectsDamage) {
  std::string good = EncodeCredentials(Paired());
  auto expect_bad = [](const std::string& text) {
    auto d = DecodeCredentials(text);
    EXPECT_FALSE(d) << text;
    if (!d) {
      EXPECT_EQ(d.error(), MakeError(Errc::kBadCredentials));
    }
  };
  expect_bad("");
  expect_bad("[]");
  expect_bad("{\"version\":2}");
  auto replace = [&](std::string from, std::string to) {
    std::string s = good;
    auto pos = s.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    if (pos != std::string::npos) s.replace(pos, from.size(), to);
    return s;
  };
  expect_bad(replace("\"version\":1", "\"version\":\"1\""));
  expect_bad(replace("\"adv_secret\":\"", "\"adv_secret\":\"00"));
  expect_bad(replace("\"me\":\"15550001111:4@s.whatsapp.net\"", "\"me\":\"nojid\""));
  expect_bad(replace("\"registration_id\":", "\"registration_idx\":"));
}

TEST(MemoryDeviceStore, SaveLoadWipe) {
  MemoryDeviceStore store;
  auto empty = store.Load();
  ASSERT_TRUE(empty);
  EXPECT_FALSE(*empty);
  Credentials c = Paired();
  ASSERT_TRUE(store.Save(c));
  auto loaded = store.Load();
  ASSERT_TRUE(loaded && *loaded);
  EXPECT_TRUE(**loaded == c);
  EXPECT_EQ(store.saves(), 1u);
  store.FailNextSave(MakeError(Errc::kTimeout));
  EXPECT_FALSE(store.Save(c));
  EXPECT_TRUE(store.Save(c));
  ASSERT_TRUE(store.Wipe());
  EXPECT_TRUE(store.empty());
  EXPECT_EQ(store.wipes(), 1u);
}

}  // namespace
}  // namespace wa::client
