#include "wa/client/payload.h"

#include <algorithm>
#include <charconv>

#include "wa/client/errors.h"
#include "wa/proto/client_payload.pb.h"

namespace wa::client {

namespace {

using wa::proto::ClientPayload;
using wa::proto::DeviceProps;

bool IsAndroid(const Browser& b) {
  std::string lower(b.name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("android") != std::string::npos;
}

std::string ToString(base::ByteView b) { return std::string(base::AsChars(b)); }

base::Bytes Serialize(const google::protobuf::MessageLite& m) {
  base::Bytes out(m.ByteSizeLong());
  m.SerializeToArray(out.data(), static_cast<int>(out.size()));
  return out;
}

// The fields registration and login share (Baileys getClientPayload).
void FillCommon(ClientPayload& p, const Config& config) {
  p.set_connect_type(ClientPayload::WIFI_UNKNOWN);
  p.set_connect_reason(ClientPayload::USER_ACTIVATED);
  auto* ua = p.mutable_user_agent();
  ua->set_platform(IsAndroid(config.browser) ? ClientPayload::UserAgent::ANDROID
                                             : ClientPayload::UserAgent::WEB);
  auto* v = ua->mutable_app_version();
  v->set_primary(config.version.primary);
  v->set_secondary(config.version.secondary);
  v->set_tertiary(config.version.tertiary);
  ua->set_mcc("000");
  ua->set_mnc("000");
  ua->set_os_version("0.1");
  ua->set_device("Desktop");
  ua->set_os_build_number("0.1");
  ua->set_release_channel(ClientPayload::UserAgent::RELEASE);
  ua->set_locale_language_iso_639_1("en");
  ua->set_locale_country_iso_3166_1_alpha_2(config.country_code);
  if (!IsAndroid(config.browser)) {
    auto sub = ClientPayload::WebInfo::WEB_BROWSER;
    if (config.sync_full_history && config.browser.name == "Desktop") {
      if (config.browser.os == "Mac OS") sub = ClientPayload::WebInfo::DARWIN;
      if (config.browser.os == "Windows") sub = ClientPayload::WebInfo::WIN32;
    }
    p.mutable_web_info()->set_web_sub_platform(sub);
  }
  if (!config.push_name.empty()) p.set_push_name(config.push_name);
}

}  // namespace

base::Bytes BuildDeviceProps(const Config& config) {
  DeviceProps props;
  props.set_os(config.browser.os);
  auto* v = props.mutable_version();
  v->set_primary(10);
  v->set_secondary(15);
  v->set_tertiary(7);
  std::string upper(config.browser.name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  DeviceProps::PlatformType type = DeviceProps::CHROME;
  if (upper == "ANDROID") {
    type = DeviceProps::ANDROID_PHONE;
  } else if (DeviceProps::PlatformType parsed; DeviceProps::PlatformType_Parse(upper, &parsed)) {
    // Baileys maps an unknown name and UNKNOWN (0, falsy in JS) to CHROME.
    if (parsed != DeviceProps::UNKNOWN) type = parsed;
  }
  props.set_platform_type(type);
  props.set_require_full_sync(config.sync_full_history);
  auto* h = props.mutable_history_sync_config();
  h->set_storage_quota_mb(10240);
  h->set_inline_initial_payload_in_e2ee_msg(true);
  h->set_support_call_log_history(false);
  h->set_support_bot_user_agent_chat_history(true);
  h->set_support_cag_reactions_and_polls(true);
  h->set_support_biz_hosted_msg(true);
  h->set_support_recent_sync_chunk_message_count_tuning(true);
  h->set_support_hosted_group_msg(true);
  h->set_support_fbid_bot_chat_history(true);
  h->set_support_message_association(true);
  h->set_support_group_history(false);
  return Serialize(props);
}

base::Bytes BuildRegistrationPayload(const Credentials& c, const Config& config) {
  ClientPayload p;
  FillCommon(p, config);
  p.set_passive(false);
  p.set_pull(false);
  auto* reg = p.mutable_device_pairing_data();
  auto regid = signal::EncodeRegistrationId(c.registration_id);
  reg->set_e_regid(ToString(regid));
  reg->set_e_keytype(std::string(1, static_cast<char>(signal::kKeyType)));
  reg->set_e_ident(ToString(c.identity_key.public_key));
  auto skey_id = signal::EncodeKeyId(c.signed_pre_key.id);
  reg->set_e_skey_id(skey_id ? ToString(*skey_id) : std::string(3, '\0'));
  reg->set_e_skey_val(ToString(c.signed_pre_key.key_pair.public_key));
  reg->set_e_skey_sig(ToString(c.signed_pre_key.signature));
  std::string version = config.version.ToString();
  reg->set_build_hash(ToString(crypto::Md5(base::AsBytes(version))));
  reg->set_device_props(ToString(BuildDeviceProps(config)));
  return Serialize(p);
}

base::Result<base::Bytes> BuildLoginPayload(const Credentials& c, const Config& config) {
  if (!c.me) return MakeError(Errc::kNoCredentials);
  const std::string& user = c.me->user();
  std::uint64_t username = 0;
  auto [ptr, ec] = std::from_chars(user.data(), user.data() + user.size(), username);
  if (ec != std::errc() || ptr != user.data() + user.size() || user.empty() ||
      c.me->server() != binary::kUserServer) {
    return MakeError(Errc::kBadCredentials);
  }
  ClientPayload p;
  FillCommon(p, config);
  p.set_username(username);
  p.set_passive(true);
  p.set_pull(true);
  p.set_device(c.me->device());
  p.set_lid_db_migrated(false);
  return Serialize(p);
}

std::string CompanionPlatformId(const Browser& browser) {
  if (browser.name == "Desktop") return browser.os == "Windows" ? "8" : "7";
  static constexpr std::pair<std::string_view, std::string_view> kIds[] = {
      {"Chrome", "1"}, {"Edge", "2"}, {"Firefox", "3"}, {"IE", "4"}, {"Opera", "5"}, {"Safari", "6"}};
  for (auto [name, id] : kIds) {
    if (browser.name == name) return std::string(id);
  }
  return "9";
}

std::string CompanionPlatformDisplay(const Browser& browser) {
  return browser.name + " (" + browser.os + ")";
}

}  // namespace wa::client
