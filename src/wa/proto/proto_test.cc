// Byte-exact checks of our .proto subset against the Baileys-produced vectors: build each
// message from the vector's fields, serialize, compare; parse the vector's bytes back and
// re-serialize. Not covered here because they are not protobufs: message-proto.json's padding,
// message-id and participant-hash examples (client layer).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "base/bytes.h"
#include "wa/proto/adv.pb.h"
#include "wa/proto/client_payload.pb.h"
#include "wa/proto/handshake.pb.h"
#include "wa/proto/message.pb.h"

namespace wa::proto {
namespace {

namespace json = boost::json;

json::value LoadVector(const std::string& name) {
  const std::string path = std::string(WA_SHARED_DIR) + "/protocol/vectors/" + name;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

// Protobuf bytes fields are std::string.
std::string HexStr(std::string_view hex) {
  auto bytes = base::FromHex(hex);
  EXPECT_TRUE(bytes.has_value()) << "bad hex in test data: " << hex;
  return bytes ? std::string(bytes->begin(), bytes->end()) : std::string();
}
std::string Hex(const char* hex) { return HexStr(hex); }
std::string Hex(const json::value& v) { return HexStr(std::string_view(v.as_string())); }

std::string Str(const json::value& v) { return std::string(v.as_string()); }

// Standard base64 (the vectors' protobufjs JSON form of bytes fields).
std::string Base64(const json::value& v) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (char c : std::string_view(v.as_string())) {
    if (c == '=') break;
    const auto pos = kAlphabet.find(c);
    EXPECT_NE(pos, std::string_view::npos) << "bad base64 in test data";
    acc = (acc << 6) | static_cast<unsigned>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::string ToHex(const std::string& s) { return base::ToHex(base::AsBytes(s)); }

std::uint64_t U64(const json::value& v) {
  if (v.is_string()) return std::stoull(std::string(v.as_string()));
  return v.to_number<std::uint64_t>();
}

std::string BigEndian(std::uint64_t value, int width) {
  std::string out(static_cast<std::size_t>(width), '\0');
  for (int i = width - 1; i >= 0; --i, value >>= 8) out[i] = static_cast<char>(value & 0xff);
  return out;
}

// Parses `wire`, checks it re-serializes to the same bytes and returns the message.
template <class M>
M ParseExact(const std::string& wire) {
  M m;
  EXPECT_TRUE(m.ParseFromString(wire));
  EXPECT_EQ(ToHex(m.SerializeAsString()), ToHex(wire));
  return m;
}

// Every prefix and a few corrupted copies of `wire` must be handled without throwing.
template <class M>
void SurvivesHostileInput(const std::string& wire) {
  for (std::size_t n = 0; n < wire.size(); ++n) {
    M m;
    (void)m.ParseFromArray(wire.data(), static_cast<int>(n));
  }
  for (std::size_t i = 0; i < wire.size(); i += 7) {
    std::string bad = wire;
    bad[i] = static_cast<char>(bad[i] ^ 0xff);
    M m;
    (void)m.ParseFromString(bad);
  }
}

// ---------------------------------------------------------------------------------------------
// Handshake (noise-handshake.json)

TEST(ProtoHandshake, FramesRoundTrip) {
  const auto doc = LoadVector("noise-handshake.json");
  const auto& msgs = doc.at("handshake_messages");
  const auto& keys = doc.at("keys");

  HandshakeMessage hello;
  hello.mutable_client_hello()->set_ephemeral(Hex(keys.at("vector_client_ephemeral").at("public")));
  EXPECT_EQ(ToHex(hello.SerializeAsString()), std::string_view(msgs.at("client_hello_proto").as_string()));
  ParseExact<HandshakeMessage>(Hex(msgs.at("client_hello_proto")));

  const auto server = ParseExact<HandshakeMessage>(Hex(msgs.at("server_hello_proto")));
  ASSERT_TRUE(server.has_server_hello());
  EXPECT_FALSE(server.has_client_hello());
  EXPECT_EQ(server.server_hello().ephemeral(), Hex(keys.at("vector_server_ephemeral").at("public")));
  EXPECT_EQ(server.server_hello().static_().size(), 48u);
  EXPECT_FALSE(server.server_hello().payload().empty());

  const auto finish = ParseExact<HandshakeMessage>(Hex(msgs.at("client_finish_proto")));
  ASSERT_TRUE(finish.has_client_finish());
  EXPECT_EQ(finish.client_finish().static_().size(), 48u);
  // Rebuilt from its parts, the frame is the same.
  HandshakeMessage rebuilt;
  rebuilt.mutable_client_finish()->set_static_(finish.client_finish().static_());
  rebuilt.mutable_client_finish()->set_payload(finish.client_finish().payload());
  EXPECT_EQ(rebuilt.SerializeAsString(), Hex(msgs.at("client_finish_proto")));

  // The wire frames embed the same protobufs after the length prefix (and the intro header).
  const std::string frame1 = Hex(doc.at("wire").at("frame1_client_hello_with_intro"));
  EXPECT_EQ(frame1.substr(4 + 3), Hex(msgs.at("client_hello_proto")));

  SurvivesHostileInput<HandshakeMessage>(Hex(msgs.at("server_hello_proto")));
}

TEST(ProtoHandshake, CertChainBuiltFromItsFields) {
  const auto doc = LoadVector("noise-handshake.json");
  const auto& chain = doc.at("cert_chain");
  const auto& keys = doc.at("keys");

  CertChain::NoiseCertificate::Details intermediate;
  intermediate.set_serial(1);
  intermediate.set_issuer_serial(0);
  intermediate.set_key(Hex(keys.at("vector_test_intermediate").at("public")));
  intermediate.set_not_before(1700000000);
  intermediate.set_not_after(2000000000);
  EXPECT_EQ(ToHex(intermediate.SerializeAsString()),
            std::string_view(chain.at("intermediate_details").as_string()));

  CertChain::NoiseCertificate::Details leaf;
  leaf.set_serial(2);
  leaf.set_issuer_serial(1);
  leaf.set_key(Hex(keys.at("vector_server_static").at("public")));
  leaf.set_not_before(1700000000);
  leaf.set_not_after(2000000000);
  EXPECT_EQ(ToHex(leaf.SerializeAsString()), std::string_view(chain.at("leaf_details").as_string()));

  CertChain cert_chain;
  cert_chain.mutable_leaf()->set_details(leaf.SerializeAsString());
  cert_chain.mutable_leaf()->set_signature(Hex(chain.at("leaf_signature")));
  cert_chain.mutable_intermediate()->set_details(intermediate.SerializeAsString());
  cert_chain.mutable_intermediate()->set_signature(Hex(chain.at("intermediate_signature")));
  EXPECT_EQ(ToHex(cert_chain.SerializeAsString()),
            std::string_view(chain.at("cert_chain_proto").as_string()));

  const auto parsed = ParseExact<CertChain>(Hex(chain.at("cert_chain_proto")));
  CertChain::NoiseCertificate::Details details;
  ASSERT_TRUE(details.ParseFromString(parsed.intermediate().details()));
  EXPECT_EQ(details.issuer_serial(), 0u);
  EXPECT_TRUE(details.has_issuer_serial());  // proto2: an explicit 0 is present
  EXPECT_EQ(details.not_after(), 2000000000u);
  SurvivesHostileInput<CertChain>(Hex(chain.at("cert_chain_proto")));
}

// ---------------------------------------------------------------------------------------------
// ClientPayload (client-payload.json)

void FillCommon(const json::value& config, ClientPayload* p) {
  const auto& version = config.at("version").as_array();
  auto* ua = p->mutable_user_agent();
  ua->set_platform(ClientPayload::UserAgent::WEB);
  ua->mutable_app_version()->set_primary(static_cast<std::uint32_t>(version[0].as_int64()));
  ua->mutable_app_version()->set_secondary(static_cast<std::uint32_t>(version[1].as_int64()));
  ua->mutable_app_version()->set_tertiary(static_cast<std::uint32_t>(version[2].as_int64()));
  ua->set_mcc("000");
  ua->set_mnc("000");
  ua->set_os_version("0.1");
  ua->set_device("Desktop");
  ua->set_os_build_number("0.1");
  ua->set_release_channel(ClientPayload::UserAgent::RELEASE);
  ua->set_locale_language_iso_639_1("en");
  ua->set_locale_country_iso_3166_1_alpha_2(Str(config.at("countryCode")));
  p->mutable_web_info()->set_web_sub_platform(ClientPayload::WebInfo::WEB_BROWSER);
  p->set_connect_type(ClientPayload::WIFI_UNKNOWN);
  p->set_connect_reason(ClientPayload::USER_ACTIVATED);
}

TEST(ProtoClientPayload, DevicePropsFromJson) {
  const auto doc = LoadVector("client-payload.json");
  const auto& reg = doc.at("registration");
  const auto& j = reg.at("device_props_json");
  DeviceProps props;
  props.set_os(Str(j.at("os")));
  props.mutable_version()->set_primary(10);
  props.mutable_version()->set_secondary(15);
  props.mutable_version()->set_tertiary(7);
  EXPECT_EQ(j.at("version").at("tertiary").as_int64(), 7);
  props.set_platform_type(DeviceProps::CHROME);
  props.set_require_full_sync(j.at("requireFullSync").as_bool());
  const auto& h = j.at("historySyncConfig");
  auto* c = props.mutable_history_sync_config();
  c->set_storage_quota_mb(static_cast<std::uint32_t>(h.at("storageQuotaMb").as_int64()));
  c->set_inline_initial_payload_in_e2ee_msg(h.at("inlineInitialPayloadInE2EeMsg").as_bool());
  c->set_support_call_log_history(h.at("supportCallLogHistory").as_bool());
  c->set_support_bot_user_agent_chat_history(h.at("supportBotUserAgentChatHistory").as_bool());
  c->set_support_cag_reactions_and_polls(h.at("supportCagReactionsAndPolls").as_bool());
  c->set_support_biz_hosted_msg(h.at("supportBizHostedMsg").as_bool());
  c->set_support_recent_sync_chunk_message_count_tuning(
      h.at("supportRecentSyncChunkMessageCountTuning").as_bool());
  c->set_support_hosted_group_msg(h.at("supportHostedGroupMsg").as_bool());
  c->set_support_fbid_bot_chat_history(h.at("supportFbidBotChatHistory").as_bool());
  c->set_support_message_association(h.at("supportMessageAssociation").as_bool());
  c->set_support_group_history(h.at("supportGroupHistory").as_bool());
  EXPECT_EQ(ToHex(props.SerializeAsString()), std::string_view(reg.at("device_props").as_string()));
  const auto parsed = ParseExact<DeviceProps>(Hex(reg.at("device_props")));
  EXPECT_EQ(parsed.platform_type(), DeviceProps::CHROME);
  EXPECT_EQ(parsed.history_sync_config().storage_quota_mb(), 10240u);
}

TEST(ProtoClientPayload, RegistrationByteExact) {
  const auto doc = LoadVector("client-payload.json");
  const auto& reg = doc.at("registration");
  const auto& in = reg.at("inputs");
  ClientPayload p;
  p.set_passive(false);
  FillCommon(doc.at("config"), &p);
  auto* d = p.mutable_device_pairing_data();
  d->set_e_regid(BigEndian(U64(in.at("registration_id")), 4));
  d->set_e_keytype(std::string(1, '\x05'));
  d->set_e_ident(Hex(in.at("identity_public")));
  d->set_e_skey_id(BigEndian(U64(in.at("signed_prekey_id")), 3));
  d->set_e_skey_val(Hex(in.at("signed_prekey_public")));
  d->set_e_skey_sig(Hex(in.at("signed_prekey_signature")));
  d->set_build_hash(Hex(reg.at("build_hash")));
  d->set_device_props(Hex(reg.at("device_props")));
  p.set_pull(false);
  EXPECT_EQ(ToHex(p.SerializeAsString()), std::string_view(reg.at("client_payload").as_string()));

  // The JSON view of the same payload agrees with what we parse.
  const auto parsed = ParseExact<ClientPayload>(Hex(reg.at("client_payload")));
  const auto& j = reg.at("as_json");
  EXPECT_FALSE(parsed.has_username());
  EXPECT_TRUE(parsed.has_passive());
  EXPECT_FALSE(parsed.passive());
  EXPECT_EQ(parsed.device_pairing_data().e_regid(), Base64(j.at("devicePairingData").at("eRegid")));
  EXPECT_EQ(parsed.device_pairing_data().e_skey_id(),
            Base64(j.at("devicePairingData").at("eSkeyId")));
  EXPECT_EQ(parsed.device_pairing_data().device_props(),
            Base64(j.at("devicePairingData").at("deviceProps")));
  EXPECT_EQ(parsed.user_agent().app_version().tertiary(), 1043857760u);
  SurvivesHostileInput<ClientPayload>(Hex(reg.at("client_payload")));
}

TEST(ProtoClientPayload, LoginByteExact) {
  const auto doc = LoadVector("client-payload.json");
  const auto& login = doc.at("login");
  // me_jid "5511900000001:7@s.whatsapp.net" -> username and device.
  const std::string jid = Str(login.at("inputs").at("me_jid"));
  const auto colon = jid.find(':');
  const auto at = jid.find('@');
  ASSERT_NE(colon, std::string::npos);
  ASSERT_NE(at, std::string::npos);
  ClientPayload p;
  p.set_username(std::stoull(jid.substr(0, colon)));
  p.set_passive(true);
  FillCommon(doc.at("config"), &p);
  p.set_device(static_cast<std::uint32_t>(std::stoul(jid.substr(colon + 1, at - colon - 1))));
  p.set_pull(true);
  p.set_lid_db_migrated(false);
  EXPECT_EQ(ToHex(p.SerializeAsString()), std::string_view(login.at("client_payload").as_string()));

  const auto parsed = ParseExact<ClientPayload>(Hex(login.at("client_payload")));
  EXPECT_EQ(parsed.username(), U64(login.at("as_json").at("username")));
  EXPECT_EQ(parsed.device(), 7u);
  EXPECT_TRUE(parsed.has_lid_db_migrated());
  EXPECT_FALSE(parsed.has_device_pairing_data());
}

// The ClientPayload inside the Noise transcript is the registration payload of this file.
TEST(ProtoClientPayload, NoiseTranscriptCarriesTheRegistrationPayload) {
  const auto noise = LoadVector("noise-handshake.json");
  const auto payload = LoadVector("client-payload.json");
  EXPECT_EQ(noise.at("client_payload_registration_plaintext"),
            payload.at("registration").at("client_payload"));
}

// ---------------------------------------------------------------------------------------------
// ADV (pairing.json)

TEST(ProtoAdv, StructuresParseAndRebuild) {
  const auto doc = LoadVector("pairing.json");
  const auto& adv = doc.at("adv");
  const auto& j = adv.at("adv_device_identity_json");

  ADVDeviceIdentity identity;
  identity.set_raw_id(static_cast<std::uint32_t>(U64(j.at("rawId"))));
  identity.set_timestamp(U64(j.at("timestamp")));
  identity.set_key_index(static_cast<std::uint32_t>(U64(j.at("keyIndex"))));
  ASSERT_EQ(Str(j.at("accountType")), "E2EE");
  ASSERT_EQ(Str(j.at("deviceType")), "E2EE");
  identity.set_account_type(E2EE);
  identity.set_device_type(E2EE);
  EXPECT_EQ(ToHex(identity.SerializeAsString()),
            std::string_view(adv.at("adv_device_identity").as_string()));
  const auto parsed_identity = ParseExact<ADVDeviceIdentity>(Hex(adv.at("adv_device_identity")));
  EXPECT_EQ(parsed_identity.key_index(), 3u);

  const auto signed_identity =
      ParseExact<ADVSignedDeviceIdentity>(Hex(adv.at("adv_signed_device_identity")));
  EXPECT_EQ(signed_identity.details(), Hex(adv.at("adv_device_identity")));
  EXPECT_EQ(signed_identity.account_signature_key(),
            Hex(doc.at("keys").at("primary_identity").at("public")));
  EXPECT_EQ(signed_identity.account_signature(), Hex(adv.at("account_signature")));
  EXPECT_FALSE(signed_identity.has_device_signature());

  const auto hmac =
      ParseExact<ADVSignedDeviceIdentityHMAC>(Hex(adv.at("adv_signed_device_identity_hmac")));
  EXPECT_EQ(hmac.details(), Hex(adv.at("adv_signed_device_identity")));
  EXPECT_EQ(hmac.hmac(), Hex(adv.at("hmac")));
  EXPECT_TRUE(hmac.has_account_type());
  EXPECT_EQ(hmac.account_type(), E2EE);

  // The companion's reply: the signed identity without the account key, plus its signature.
  ADVSignedDeviceIdentity reply = signed_identity;
  reply.clear_account_signature_key();
  reply.set_device_signature(Hex(adv.at("reply_device_signature")));
  EXPECT_EQ(ToHex(reply.SerializeAsString()),
            std::string_view(adv.at("reply_signed_identity_without_account_key").as_string()));
  ParseExact<ADVSignedDeviceIdentity>(Hex(adv.at("reply_signed_identity_without_account_key")));

  SurvivesHostileInput<ADVSignedDeviceIdentityHMAC>(Hex(adv.at("adv_signed_device_identity_hmac")));
}

TEST(ProtoAdv, KeyIndexListPacksIndexes) {
  // Not in the vectors: checks that valid_indexes is packed as in WAProto.proto.
  ADVKeyIndexList list;
  list.set_raw_id(1);
  list.add_valid_indexes(0);
  list.add_valid_indexes(3);
  EXPECT_EQ(ToHex(list.SerializeAsString()), "0801220200" "03");
}

// ---------------------------------------------------------------------------------------------
// Message (message-proto.json)

void FillMedia(const json::value& j, Message::ImageMessage* m) {
  m->set_url(Str(j.at("url")));
  m->set_mimetype(Str(j.at("mimetype")));
  m->set_caption(Str(j.at("caption")));
  m->set_file_sha256(Base64(j.at("fileSha256")));
  m->set_file_length(U64(j.at("fileLength")));
  m->set_height(static_cast<std::uint32_t>(U64(j.at("height"))));
  m->set_width(static_cast<std::uint32_t>(U64(j.at("width"))));
  m->set_media_key(Base64(j.at("mediaKey")));
  m->set_file_enc_sha256(Base64(j.at("fileEncSha256")));
  m->set_direct_path(Str(j.at("directPath")));
  m->set_media_key_timestamp(static_cast<std::int64_t>(U64(j.at("mediaKeyTimestamp"))));
  m->set_jpeg_thumbnail(Base64(j.at("jpegThumbnail")));
}

void FillMedia(const json::value& j, Message::AudioMessage* m) {
  m->set_url(Str(j.at("url")));
  m->set_mimetype(Str(j.at("mimetype")));
  m->set_file_sha256(Base64(j.at("fileSha256")));
  m->set_file_length(U64(j.at("fileLength")));
  m->set_seconds(static_cast<std::uint32_t>(U64(j.at("seconds"))));
  m->set_ptt(j.at("ptt").as_bool());
  m->set_media_key(Base64(j.at("mediaKey")));
  m->set_file_enc_sha256(Base64(j.at("fileEncSha256")));
  m->set_direct_path(Str(j.at("directPath")));
  m->set_media_key_timestamp(static_cast<std::int64_t>(U64(j.at("mediaKeyTimestamp"))));
  m->set_waveform(Base64(j.at("waveform")));
}

// Builds the Message of one vector entry from its JSON, for the shapes the vectors contain.
bool BuildFromJson(const json::object& j, Message* m) {
  if (j.contains("conversation")) m->set_conversation(Str(j.at("conversation")));
  if (j.contains("extendedTextMessage")) {
    const auto& e = j.at("extendedTextMessage");
    auto* out = m->mutable_extended_text_message();
    out->set_text(Str(e.at("text")));
    if (e.as_object().contains("contextInfo")) {
      const auto& c = e.at("contextInfo");
      auto* ci = out->mutable_context_info();
      ci->set_stanza_id(Str(c.at("stanzaId")));
      ci->set_participant(Str(c.at("participant")));
      if (!BuildFromJson(c.at("quotedMessage").as_object(), ci->mutable_quoted_message())) {
        return false;
      }
      for (const auto& jid : c.at("mentionedJid").as_array()) ci->add_mentioned_jid(Str(jid));
    }
  }
  if (j.contains("messageContextInfo")) {
    m->mutable_message_context_info()->set_message_secret(
        Base64(j.at("messageContextInfo").at("messageSecret")));
  }
  if (j.contains("imageMessage")) FillMedia(j.at("imageMessage"), m->mutable_image_message());
  if (j.contains("audioMessage")) FillMedia(j.at("audioMessage"), m->mutable_audio_message());
  if (j.contains("deviceSentMessage")) {
    const auto& d = j.at("deviceSentMessage");
    auto* out = m->mutable_device_sent_message();
    out->set_destination_jid(Str(d.at("destinationJid")));
    if (!BuildFromJson(d.at("message").as_object(), out->mutable_message())) return false;
  }
  if (j.contains("senderKeyDistributionMessage")) {
    const auto& s = j.at("senderKeyDistributionMessage");
    auto* out = m->mutable_sender_key_distribution_message();
    out->set_group_id(Str(s.at("groupId")));
    out->set_axolotl_sender_key_distribution_message(
        Base64(s.at("axolotlSenderKeyDistributionMessage")));
  }
  if (j.contains("reactionMessage")) {
    const auto& r = j.at("reactionMessage");
    auto* out = m->mutable_reaction_message();
    out->mutable_key()->set_remote_jid(Str(r.at("key").at("remoteJid")));
    out->mutable_key()->set_from_me(r.at("key").at("fromMe").as_bool());
    out->mutable_key()->set_id(Str(r.at("key").at("id")));
    out->set_text(Str(r.at("text")));
    out->set_sender_timestamp_ms(static_cast<std::int64_t>(U64(r.at("senderTimestampMs"))));
  }
  static const char* const kKnown[] = {
      "conversation",  "extendedTextMessage", "messageContextInfo",           "imageMessage",
      "audioMessage",  "deviceSentMessage",   "senderKeyDistributionMessage", "reactionMessage"};
  for (const auto& [key, value] : j) {
    (void)value;
    if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown)) {
      ADD_FAILURE() << "vector uses a field this test does not build: " << key;
      return false;
    }
  }
  return true;
}

TEST(ProtoMessage, VectorsByteExact) {
  const auto doc = LoadVector("message-proto.json");
  const auto& messages = doc.at("messages").as_array();
  ASSERT_GE(messages.size(), 8u);
  for (const auto& v : messages) {
    SCOPED_TRACE(Str(v.at("name")));
    Message m;
    ASSERT_TRUE(BuildFromJson(v.at("json").as_object(), &m));
    const std::string wire = m.SerializeAsString();
    EXPECT_EQ(ToHex(wire), std::string_view(v.at("hex").as_string()));
    EXPECT_EQ(wire.size(), static_cast<std::size_t>(v.at("length").as_int64()));
    ParseExact<Message>(Hex(v.at("hex")));
    SurvivesHostileInput<Message>(Hex(v.at("hex")));
  }
}

TEST(ProtoMessage, ParsedFieldsOfTheReply) {
  const auto doc = LoadVector("message-proto.json");
  for (const auto& v : doc.at("messages").as_array()) {
    if (v.at("name") != "extended_text_reply_mention") continue;
    const auto m = ParseExact<Message>(Hex(v.at("hex")));
    const auto& ci = m.extended_text_message().context_info();
    EXPECT_EQ(ci.stanza_id(), "3EB0AABBCCDDEEFF001122");
    EXPECT_EQ(ci.quoted_message().conversation(), "Are you there?");
    ASSERT_EQ(ci.mentioned_jid_size(), 1);
    EXPECT_EQ(ci.mentioned_jid(0), "15550001111@s.whatsapp.net");
    EXPECT_FALSE(ci.has_remote_jid());
    return;
  }
  FAIL() << "vector extended_text_reply_mention missing";
}

TEST(ProtoMessage, UnknownFieldsSurviveARoundTrip) {
  // A Message with a field we do not model (pollUpdateMessage = 50, an empty submessage) and an
  // unknown field inside a known one (ExtendedTextMessage.inviteLinkGroupTypeV2 = 29). Unknown
  // fields are written after the known ones, so the round trip is exact for a sender that orders
  // fields by number (as Baileys and whatsmeow do); anything signed is kept as raw bytes anyway.
  const std::string wire = Hex("3206" "0a0148" "e80101" "920300");
  Message m;
  ASSERT_TRUE(m.ParseFromString(wire));
  EXPECT_EQ(m.extended_text_message().text(), "H");
  EXPECT_EQ(ToHex(m.SerializeAsString()), ToHex(wire));
}

TEST(ProtoMessage, ProtocolMessageShapes) {
  // Revoke: protocolMessage{key, type=REVOKE}; type 0 is emitted because it is set.
  Message revoke;
  auto* pm = revoke.mutable_protocol_message();
  pm->mutable_key()->set_remote_jid("15550001111@s.whatsapp.net");
  pm->mutable_key()->set_from_me(true);
  pm->mutable_key()->set_id("3EB0AA");
  pm->set_type(Message::ProtocolMessage::REVOKE);
  const std::string wire = revoke.SerializeAsString();
  EXPECT_EQ(ToHex(wire),
            "622a"                                                  // #12, 42 bytes
            "0a26"                                                  // key, 38 bytes
            "0a1a" + ToHex("15550001111@s.whatsapp.net") +          // remote_jid
            "1001"                                                  // from_me
            "1a06" + ToHex("3EB0AA") +                              // id
            "1000");                                                // type = REVOKE
  // App state key share with a packed fingerprint index list.
  Message share;
  auto* key = share.mutable_protocol_message()->mutable_app_state_sync_key_share()->add_keys();
  key->mutable_key_id()->set_key_id("K");
  key->mutable_key_data()->mutable_fingerprint()->add_device_indexes(0);
  key->mutable_key_data()->mutable_fingerprint()->add_device_indexes(2);
  Message back;
  ASSERT_TRUE(back.ParseFromString(share.SerializeAsString()));
  EXPECT_EQ(back.protocol_message().app_state_sync_key_share().keys(0).key_data().fingerprint()
                .device_indexes_size(),
            2);
  EXPECT_NE(ToHex(share.SerializeAsString()).find("1a020002"), std::string::npos);  // packed
}

}  // namespace
}  // namespace wa::proto
