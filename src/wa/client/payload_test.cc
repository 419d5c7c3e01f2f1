// ClientPayload byte-exact against Baileys 7.0.0-rc14 (vectors/client-payload.json), with the
// vector's keys and ids.
#include "wa/client/payload.h"

#include <gtest/gtest.h>

#include "wa/client/test_util.h"
#include "wa/proto/client_payload.pb.h"

namespace wa::client {
namespace {

using testing::Hex;
using testing::LoadVector;

Config VectorConfig(const boost::json::value& v) {
  Config config;
  const auto& c = v.at("config");
  const auto& version = c.at("version").as_array();
  config.version = {static_cast<std::uint32_t>(version[0].as_int64()),
                    static_cast<std::uint32_t>(version[1].as_int64()),
                    static_cast<std::uint32_t>(version[2].as_int64())};
  const auto& browser = c.at("browser").as_array();
  config.browser = {std::string(browser[0].as_string()), std::string(browser[1].as_string()),
                    std::string(browser[2].as_string())};
  config.sync_full_history = c.at("syncFullHistory").as_bool();
  config.country_code = std::string(c.at("countryCode").as_string());
  return config;
}

TEST(Payload, DefaultsAreTheVectorConfiguration) {
  auto v = LoadVector("client-payload.json");
  Config vector = VectorConfig(v);
  Config defaults;
  EXPECT_EQ(defaults.version.ToString(), vector.version.ToString());
  EXPECT_EQ(defaults.browser.os, vector.browser.os);
  EXPECT_EQ(defaults.browser.name, vector.browser.name);
  EXPECT_EQ(defaults.browser.version, vector.browser.version);
  EXPECT_EQ(defaults.sync_full_history, vector.sync_full_history);
  EXPECT_EQ(defaults.country_code, vector.country_code);
}

TEST(Payload, RegistrationByteExact) {
  auto v = LoadVector("client-payload.json");
  const auto& in = v.at("registration").at("inputs");
  Credentials creds;
  creds.registration_id = static_cast<std::uint32_t>(in.at("registration_id").as_int64());
  creds.identity_key.public_key = testing::Key(in.at("identity_public"));
  creds.signed_pre_key.id = static_cast<std::uint32_t>(in.at("signed_prekey_id").as_int64());
  creds.signed_pre_key.key_pair.public_key = testing::Key(in.at("signed_prekey_public"));
  auto sig = Hex(in.at("signed_prekey_signature"));
  ASSERT_EQ(sig.size(), 64u);
  std::copy(sig.begin(), sig.end(), creds.signed_pre_key.signature.begin());
  Config config = VectorConfig(v);

  EXPECT_EQ(base::ToHex(BuildDeviceProps(config)),
            std::string(v.at("registration").at("device_props").as_string()));
  EXPECT_EQ(base::ToHex(BuildRegistrationPayload(creds, config)),
            std::string(v.at("registration").at("client_payload").as_string()));
}

TEST(Payload, LoginByteExact) {
  auto v = LoadVector("client-payload.json");
  Credentials creds;
  auto me = binary::Jid::Parse(std::string(v.at("login").at("inputs").at("me_jid").as_string()));
  ASSERT_TRUE(me);
  creds.me = *me;
  auto payload = BuildLoginPayload(creds, VectorConfig(v));
  ASSERT_TRUE(payload);
  EXPECT_EQ(base::ToHex(*payload), std::string(v.at("login").at("client_payload").as_string()));
}

TEST(Payload, LoginNeedsAPhoneDevice) {
  Credentials creds;
  EXPECT_FALSE(BuildLoginPayload(creds, Config{}));
  creds.me = binary::Jid::Lid("123456789012345", 7);
  EXPECT_FALSE(BuildLoginPayload(creds, Config{}));
  creds.me = binary::Jid::User("abc", 7);
  EXPECT_FALSE(BuildLoginPayload(creds, Config{}));
}

TEST(Payload, PushNameAndAndroidBrowser) {
  Config config;
  config.push_name = "Shop";
  config.browser.name = "Android";
  Credentials creds;
  creds.me = binary::Jid::User("15550001111", 3);
  auto bytes = BuildLoginPayload(creds, config);
  ASSERT_TRUE(bytes);
  wa::proto::ClientPayload p;
  ASSERT_TRUE(p.ParseFromArray(bytes->data(), static_cast<int>(bytes->size())));
  EXPECT_EQ(p.push_name(), "Shop");
  EXPECT_EQ(p.user_agent().platform(), wa::proto::ClientPayload::UserAgent::ANDROID);
  EXPECT_FALSE(p.has_web_info());  // Baileys omits webInfo for Android browsers
  EXPECT_EQ(p.username(), 15550001111u);
  EXPECT_EQ(p.device(), 3u);

  wa::proto::DeviceProps props;
  auto raw = BuildDeviceProps(config);
  ASSERT_TRUE(props.ParseFromArray(raw.data(), static_cast<int>(raw.size())));
  EXPECT_EQ(props.platform_type(), wa::proto::DeviceProps::ANDROID_PHONE);
}

TEST(Payload, PlatformIds) {
  EXPECT_EQ(CompanionPlatformId({"Mac OS", "Chrome", "1"}), "1");
  EXPECT_EQ(CompanionPlatformId({"Mac OS", "Safari", "1"}), "6");
  EXPECT_EQ(CompanionPlatformId({"Windows", "Desktop", "1"}), "8");
  EXPECT_EQ(CompanionPlatformId({"Mac OS", "Desktop", "1"}), "7");
  EXPECT_EQ(CompanionPlatformId({"Ubuntu", "Brave", "1"}), "9");
  EXPECT_EQ(CompanionPlatformDisplay({"Mac OS", "Chrome", "1"}), "Chrome (Mac OS)");
}

}  // namespace
}  // namespace wa::client
