#include "sim/world.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "sim/connection.h"
#include "wa/noise/cert_chain.h"
#include "wa/proto/adv.pb.h"

namespace sim {

namespace asio = boost::asio;
using wa::binary::Jid;
using wa::binary::Node;

namespace {

constexpr std::string_view kQrPrefix = "https://wa.me/settings/linked_devices#";

base::Bytes Concat(std::initializer_list<base::ByteView> parts) {
  base::Bytes out;
  for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::uint32_t BigEndian(base::ByteView b) {
  std::uint32_t v = 0;
  for (auto c : b) v = v << 8 | c;
  return v;
}

base::Bytes Serialize(const google::protobuf::MessageLite& m) {
  base::Bytes out(m.ByteSizeLong());
  m.SerializeToArray(out.data(), static_cast<int>(out.size()));
  return out;
}

std::string RandomDigits(int n) {
  auto bytes = wa::crypto::RandomBytes(static_cast<std::size_t>(n));
  std::string out;
  for (int i = 0; i < n; ++i) out += static_cast<char>('0' + bytes[static_cast<std::size_t>(i)] % 10);
  if (out[0] == '0') out[0] = '1';
  return out;
}

bool ValidPhoneNumber(std::string_view s) {
  return s.size() >= 7 && s.size() <= 15 && s[0] != '0' &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The pieces of a QR string (01-connection.md §5.3).
struct QrParts {
  std::string ref;
  base::Bytes noise_pub, identity_pub, adv_secret;
  std::string platform;
};

std::optional<QrParts> ParseQr(std::string_view qr) {
  if (qr.substr(0, kQrPrefix.size()) == kQrPrefix) qr.remove_prefix(kQrPrefix.size());
  std::vector<std::string_view> parts;
  while (true) {
    auto comma = qr.find(',');
    parts.push_back(qr.substr(0, comma));
    if (comma == std::string_view::npos) break;
    qr.remove_prefix(comma + 1);
  }
  if (parts.size() != 5 || parts[0].empty()) return std::nullopt;
  QrParts out;
  out.ref = std::string(parts[0]);
  auto noise = base::FromBase64(parts[1]);
  auto ident = base::FromBase64(parts[2]);
  auto adv = base::FromBase64(parts[3]);
  if (!noise || !ident || !adv || noise->size() != 32 || ident->size() != 32 || adv->size() != 32) {
    return std::nullopt;
  }
  out.noise_pub = std::move(*noise);
  out.identity_pub = std::move(*ident);
  out.adv_secret = std::move(*adv);
  out.platform = std::string(parts[4]);
  return out;
}

std::string PlatformName(const wa::proto::ClientPayload& payload) {
  wa::proto::DeviceProps props;
  const auto& reg = payload.device_pairing_data();
  if (!props.ParseFromString(reg.device_props())) return "unknown";
  std::string browser = wa::proto::DeviceProps::PlatformType_Name(props.platform_type());
  std::transform(browser.begin(), browser.end(), browser.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return props.os().empty() ? browser : browser + " (" + props.os() + ")";
}

}  // namespace

struct World::PendingPair {
  std::string phone;
  std::uint16_t device_id;
  std::uint32_t key_index;
  base::Bytes details;            // ADVDeviceIdentity bytes sent
  base::Bytes account_signature;  // sent
  std::string iq_id;
  asio::steady_timer done;
  std::optional<ControlResult<std::string>> outcome;

  explicit PendingPair(asio::any_io_executor ex) : done(ex) {}
  void Finish(ControlResult<std::string> r) {
    if (outcome) return;
    outcome = std::move(r);
    done.cancel();
  }
};

World::World(asio::any_io_executor ex, WorldOptions options)
    : ex_(std::move(ex)),
      options_(std::move(options)),
      faults_(options_.fault_seed),
      media_(options_.media),
      idle_timer_(ex_) {
  server_static_ = wa::crypto::GenerateKeyPair();
  auto intermediate = wa::crypto::GenerateKeyPair();
  auto now = static_cast<std::uint64_t>(Now());
  cert_chain_ = wa::noise::MakeCertChain(
      options_.noise_root, intermediate, server_static_.public_key,
      {.not_before = now - 86400, .not_after = now + 10ull * 365 * 86400});
}

World::~World() = default;

std::int64_t World::Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

wa::noise::ResponderOptions World::ResponderOptions() const {
  return {.static_key = server_static_, .cert_chain = cert_chain_, .ephemeral = std::nullopt};
}

std::string World::NextIqId() { return "sim." + std::to_string(next_iq_++); }

Phone* World::FindPhone(const std::string& number) {
  auto it = phones_.find(number);
  return it == phones_.end() ? nullptr : &it->second;
}

std::shared_ptr<Connection> World::FindConnection(std::uint64_t id) const {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second.lock();
}

void World::OnOpened(const std::shared_ptr<Connection>& conn) {
  connections_[conn->id()] = conn;
  stats_.connections_total++;
  stats_.connections_open++;
}

void World::OnClosed(Connection& conn) {
  connections_.erase(conn.id());
  stats_.connections_open--;
  for (const auto& ref : conn.refs) refs_.erase(ref);
  if (auto it = pending_pairs_.find(conn.id()); it != pending_pairs_.end()) {
    it->second->Finish(ControlError{409, "companion_disconnected",
                                    "the companion disconnected before it confirmed the link"});
    pending_pairs_.erase(it);
  }
  ForgetCodeLink(conn);
  MessagingClosed(conn);
}

// --- handshake and login ---------------------------------------------------------------

void World::OnHandshake(Connection& conn) {
  stats_.handshakes++;
  const auto& payload = conn.payload();
  if (payload.has_username()) {
    Login(conn);
    return;
  }
  if (!payload.has_device_pairing_data()) {
    spdlog::info("conn {}: ClientPayload is neither a login nor a registration", conn.id());
    conn.SendAndClose(Node("failure", {{"reason", "400"}}));
    return;
  }
  const auto& reg = payload.device_pairing_data();
  auto ident = base::AsBytes(reg.e_ident());
  auto skey = Concat({base::Bytes{0x05}, base::AsBytes(reg.e_skey_val())});
  if (reg.e_regid().size() != 4 || reg.e_ident().size() != 32 || reg.e_skey_id().size() != 3 ||
      reg.e_skey_val().size() != 32 || reg.e_skey_sig().size() != 64 ||
      !wa::crypto::Verify(ident, skey, base::AsBytes(reg.e_skey_sig()))) {
    spdlog::info("conn {}: registration data is malformed or its signed prekey does not verify",
                 conn.id());
    conn.SendAndClose(Node("failure", {{"reason", "400"}}));
    return;
  }
  conn.set_state(Connection::State::kUnpaired);
  SendPairDevice(conn);
}

void World::SendPairDevice(Connection& conn) {
  Node::Children refs;
  auto now = std::chrono::steady_clock::now();
  for (int i = 0; i < options_.refs_per_connection; ++i) {
    std::string ref = "2@" + base::ToBase64(wa::crypto::RandomBytes(24));
    auto ttl = options_.first_ref_ttl + i * options_.next_ref_ttl;
    refs_[ref] = {conn.id(), now + ttl};
    conn.refs.push_back(ref);
    refs.emplace_back("ref", std::vector<wa::binary::Attr>{}, base::ToBytes(ref));
  }
  conn.Send(Node("iq",
                 {{"from", Jid::Server()}, {"type", "set"}, {"id", NextIqId()}, {"xmlns", "md"},
                  {"t", std::to_string(Now())}},
                 {Node("pair-device", {}, std::move(refs))}));
}

void World::Login(Connection& conn) {
  const auto& payload = conn.payload();
  std::string number = std::to_string(payload.username());
  auto device_id = static_cast<std::uint16_t>(payload.device());
  Phone* phone = FindPhone(number);
  Companion* companion = nullptr;
  if (phone) {
    auto it = phone->companions.find(device_id);
    if (it != phone->companions.end()) companion = &it->second;
  }
  if (!companion || !wa::crypto::ConstantTimeEqual(companion->noise_key, conn.client_static())) {
    stats_.login_failures++;
    spdlog::info("conn {}: login of {}:{} refused: {}", conn.id(), number, device_id,
                 companion ? "noise key differs from the registered one" : "no such device");
    conn.SendAndClose(Node("failure", {{"reason", "401"}}));
    return;
  }
  // One connection per device: the newer one replaces the older (§8.1 conflict replaced).
  if (auto old = companion->connection.lock(); old && old.get() != &conn) {
    old->SendAndClose(Node("stream:error", {}, {Node("conflict", {{"type", "replaced"}})}));
  }
  companion->connection = conn.shared_from_this();
  conn.phone = number;
  conn.device = device_id;
  conn.set_state(Connection::State::kOnline);
  stats_.logins++;
  conn.Send(Node("success", {{"t", std::to_string(Now())},
                             {"lid", Jid::Lid(phone->lid)},
                             {"display_name", phone->name},
                             {"props", "1"},
                             {"abprops", "1"},
                             {"location", "us"},
                             {"creation", std::to_string(companion->linked_at)}}));
  std::size_t n = FlushOffline(conn, *companion);  // kept until acked: messaging.cc
  conn.Send(Node("ib", {}, {Node("offline", {{"count", std::to_string(n)}})}));
}

// --- stanzas ------------------------------------------------------------------------------

void World::OnNode(Connection& conn, const Node& node) {
  if (node.tag == "iq") {
    HandleIq(conn, node);
  } else if (node.tag == "ib") {
    // unified_session and offline_batch need no answer here.
  } else if (HandleMessagingNode(conn, node)) {
    // message, receipt, ack, presence, chatstate: messaging.cc
  } else {
    spdlog::debug("conn {}: <{}> not handled by the connection layer", conn.id(), node.tag);
  }
}

void World::ReplyResult(Connection& conn, const Node& iq, Node::Children children) {
  Node reply("iq", {{"from", Jid::Server()}, {"type", "result"}, {"id", iq.AttrOr("id")}});
  if (!children.empty()) reply.content = std::move(children);
  conn.Send(reply);
}

void World::ReplyError(Connection& conn, const Node& iq, int code, std::string_view text) {
  conn.Send(Node("iq", {{"from", Jid::Server()}, {"type", "error"}, {"id", iq.AttrOr("id")}},
                 {Node("error", {{"code", std::to_string(code)}, {"text", std::string(text)}})}));
}

void World::HandleIq(Connection& conn, const Node& iq) {
  auto type = iq.AttrOr("type");
  auto xmlns = iq.AttrOr("xmlns");
  auto id = iq.AttrOr("id");
  if (type == "result" || type == "error") {
    if (auto it = pending_pairs_.find(conn.id());
        it != pending_pairs_.end() && it->second->iq_id == id) {
      HandlePairDeviceSign(conn, iq);
    }
    return;  // acknowledgements of our pair-device and other server iqs
  }
  if (xmlns == "w:p") {  // keepalive, in every state
    ReplyResult(conn, iq);
    return;
  }
  if (xmlns == "md" && type == "set" && iq.Child("link_code_companion_reg")) {
    HandleLinkCodeReg(conn, iq);  // pairing code, world_link_code.cc
    return;
  }
  if (conn.state() != Connection::State::kOnline) {
    ReplyError(conn, iq, 401, "not-authorized");
    return;
  }
  Phone& phone = phones_.at(conn.phone);
  Companion& me = phone.companions.at(conn.device);
  const Node* first = iq.children().empty() ? nullptr : &iq.children()[0];
  std::string_view child = first ? std::string_view(first->tag) : std::string_view{};

  if (xmlns == "encrypt" && type == "get" && child == "count") {
    ReplyResult(conn, iq, {Node("count", {{"value", std::to_string(me.prekeys.size())}})});
  } else if (xmlns == "encrypt" && type == "set" && iq.Child("list")) {
    // Prekey upload (02-messaging.md §1.2): every size is checked before anything is stored.
    const Node* list = iq.Child("list");
    std::map<std::uint32_t, base::Bytes> keys;
    for (const Node* key : list->ChildrenByTag("key")) {
      auto kid = key->Child("id") ? key->Child("id")->ContentBytes() : std::nullopt;
      auto val = key->Child("value") ? key->Child("value")->ContentBytes() : std::nullopt;
      if (!kid || !val || kid->size() != 3 || val->size() != 32) {
        ReplyError(conn, iq, 400, "bad-request");
        return;
      }
      keys[BigEndian(*kid)] = base::Bytes(val->begin(), val->end());
    }
    if (const Node* skey = iq.Child("skey")) {
      auto kid = skey->Child("id") ? skey->Child("id")->ContentBytes() : std::nullopt;
      auto val = skey->Child("value") ? skey->Child("value")->ContentBytes() : std::nullopt;
      auto sig = skey->Child("signature") ? skey->Child("signature")->ContentBytes() : std::nullopt;
      if (!kid || !val || !sig || kid->size() != 3 || val->size() != 32 || sig->size() != 64 ||
          !wa::crypto::Verify(me.identity_key, Concat({base::Bytes{0x05}, *val}), *sig)) {
        ReplyError(conn, iq, 400, "bad-request");
        return;
      }
      me.signed_prekey = {BigEndian(*kid), base::Bytes(val->begin(), val->end()),
                          base::Bytes(sig->begin(), sig->end())};
    }
    for (auto& [k, v] : keys) me.prekeys[k] = std::move(v);
    ReplyResult(conn, iq);
    // A newly linked companion's first prekey upload: it can now be written to, and the phone
    // sends it the history (as a real phone does right after linking).
    if (!me.history_sent && !me.prekeys.empty()) {
      me.history_sent = true;
      SendHistory(phone, conn.device);
    }
  } else if (xmlns == "encrypt" && type == "set" && child == "rotate") {
    const Node* skey = first->Child("skey");
    auto kid = skey && skey->Child("id") ? skey->Child("id")->ContentBytes() : std::nullopt;
    auto val = skey && skey->Child("value") ? skey->Child("value")->ContentBytes() : std::nullopt;
    auto sig = skey && skey->Child("signature") ? skey->Child("signature")->ContentBytes() : std::nullopt;
    if (!kid || !val || !sig || kid->size() != 3 || val->size() != 32 || sig->size() != 64 ||
        !wa::crypto::Verify(me.identity_key, Concat({base::Bytes{0x05}, *val}), *sig)) {
      ReplyError(conn, iq, 400, "bad-request");
      return;
    }
    me.signed_prekey = {BigEndian(*kid), base::Bytes(val->begin(), val->end()),
                        base::Bytes(sig->begin(), sig->end())};
    ReplyResult(conn, iq);
  } else if (xmlns == "encrypt" && type == "get" && child == "digest") {
    ReplyResult(conn, iq, {Node("digest")});
  } else if (xmlns == "passive" && type == "set") {
    ReplyResult(conn, iq);
  } else if (xmlns == "abt" && type == "get") {
    ReplyResult(conn, iq, {Node("props", {{"protocol", "1"}, {"hash", "wasim"}})});
  } else if (xmlns == "blocklist" && type == "get") {
    ReplyResult(conn, iq, {Node("list")});
  } else if (xmlns == "privacy" && type == "get") {
    Node::Children categories;
    for (const char* name : {"last", "online", "profile", "status", "readreceipts", "groupadd"}) {
      categories.emplace_back("category",
                              std::vector<wa::binary::Attr>{{"name", name}, {"value", "all"}});
    }
    ReplyResult(conn, iq, {Node("privacy", {}, std::move(categories))});
  } else if (HandleMessagingIq(conn, iq)) {
    // prekey bundles, usync, privacy tokens: messaging.cc
  } else if (HandleMediaIq(conn, iq)) {
    // media_conn: world_media.cc
  } else if (xmlns == "md" && type == "set" && child == "remove-companion-device") {
    // The companion logs itself out: confirm, then close once the confirmation is written.
    std::uint16_t device = conn.device;
    conn.SendAndClose(
        Node("iq", {{"from", Jid::Server()}, {"type", "result"}, {"id", iq.AttrOr("id")}}));
    RemoveCompanion(phone, device, false);
  } else {
    ReplyError(conn, iq, 501, "feature-not-implemented");
  }
}

// --- linking by QR ------------------------------------------------------------------------

asio::awaitable<ControlResult<std::string>> World::Scan(std::string number, std::string qr) {
  Phone* phone = FindPhone(number);
  if (!phone) co_return ControlError{404, "phone_not_found", "no simulated phone " + number};
  auto parts = ParseQr(qr);
  if (!parts) {
    co_return ControlError{422, "invalid_qr",
                           "expected <prefix#>ref,noise key,identity key,adv secret,platform "
                           "with 32-byte base64 keys"};
  }
  auto ref = refs_.find(parts->ref);
  if (ref == refs_.end() || ref->second.expires < std::chrono::steady_clock::now()) {
    co_return ControlError{404, "qr_not_found",
                           "no connected companion is showing this QR (unknown or expired ref)"};
  }
  auto conn = FindConnection(ref->second.connection_id);
  if (!conn || conn->state() != Connection::State::kUnpaired) {
    co_return ControlError{409, "qr_not_pairable", "the companion showing this QR is not waiting"};
  }
  const auto& reg = conn->payload().device_pairing_data();
  if (!wa::crypto::ConstantTimeEqual(parts->noise_pub, conn->client_static()) ||
      !wa::crypto::ConstantTimeEqual(parts->identity_pub, base::AsBytes(reg.e_ident()))) {
    co_return ControlError{422, "qr_keys_mismatch",
                           "the QR's keys are not those of the companion that shows its ref"};
  }
  co_return co_await LinkCompanion(std::move(conn), std::move(number), std::move(parts->adv_secret));
}

asio::awaitable<ControlResult<std::string>> World::LinkCompanion(std::shared_ptr<Connection> conn,
                                                                 std::string number,
                                                                 base::Bytes adv_secret) {
  Phone* phone = FindPhone(number);
  if (!phone) co_return ControlError{404, "phone_not_found", "no simulated phone " + number};
  if (conn->state() != Connection::State::kUnpaired) {
    co_return ControlError{409, "companion_not_pairable",
                           "the companion is no longer waiting to be linked"};
  }
  auto companion_identity = base::AsBytes(conn->payload().device_pairing_data().e_ident());
  if (phone->next_device_id > 255) {
    co_return ControlError{409, "too_many_devices", "this phone has no free device id"};
  }

  auto pending = std::make_shared<PendingPair>(ex_);
  pending->phone = number;
  pending->device_id = phone->next_device_id++;
  pending->key_index = phone->next_key_index++;
  pending->iq_id = NextIqId();

  wa::proto::ADVDeviceIdentity identity;
  identity.set_raw_id(phone->adv_raw_id);
  identity.set_timestamp(static_cast<std::uint64_t>(Now()));
  identity.set_key_index(pending->key_index);
  identity.set_account_type(wa::proto::E2EE);
  identity.set_device_type(wa::proto::E2EE);
  pending->details = Serialize(identity);
  auto signature = wa::crypto::Sign(
      phone->identity.private_key,
      Concat({base::Bytes{0x06, 0x00}, pending->details, companion_identity}));
  pending->account_signature.assign(signature.begin(), signature.end());

  wa::proto::ADVSignedDeviceIdentity signed_identity;
  signed_identity.set_details(std::string(base::AsChars(pending->details)));
  signed_identity.set_account_signature_key(
      std::string(base::AsChars(phone->identity.public_key)));
  signed_identity.set_account_signature(std::string(base::AsChars(pending->account_signature)));
  auto signed_bytes = Serialize(signed_identity);
  auto hmac = wa::crypto::HmacSha256(adv_secret, signed_bytes);
  wa::proto::ADVSignedDeviceIdentityHMAC container;
  container.set_details(std::string(base::AsChars(signed_bytes)));
  container.set_hmac(std::string(base::AsChars(hmac)));
  container.set_account_type(wa::proto::E2EE);

  auto device = static_cast<std::uint8_t>(pending->device_id);
  conn->Send(Node(
      "iq",
      {{"from", Jid::Server()}, {"type", "set"}, {"id", pending->iq_id}, {"xmlns", "md"},
       {"t", std::to_string(Now())}},
      {Node("pair-success", {},
            {Node("device-identity", {}, Serialize(container)),
             Node("platform", {{"name", "android"}}),
             Node("device", {{"jid", Jid::User(number, device)},
                             {"lid", Jid::Lid(phone->lid, device)}})})}));
  conn->set_state(Connection::State::kPairing);
  pending_pairs_[conn->id()] = pending;

  pending->done.expires_after(options_.pair_sign_timeout);
  auto [ec] = co_await pending->done.async_wait(asio::as_tuple(asio::use_awaitable));
  (void)ec;
  if (!pending->outcome) {
    pending_pairs_.erase(conn->id());
    conn->Abort();
    co_return ControlError{504, "pairing_timeout",
                           "the companion did not confirm the link (pair-device-sign) in time"};
  }
  co_return std::move(*pending->outcome);
}

void World::HandlePairDeviceSign(Connection& conn, const Node& iq) {
  auto it = pending_pairs_.find(conn.id());
  auto pending = it->second;
  pending_pairs_.erase(it);
  auto fail = [&](std::string detail) {
    spdlog::info("conn {}: pairing refused: {}", conn.id(), detail);
    pending->Finish(ControlError{409, "pairing_rejected", std::move(detail)});
    conn.Abort();
  };
  if (iq.AttrOr("type") == "error") {
    const Node* error = iq.Child("error");
    fail("the companion answered pair-success with error " +
         std::string(error ? error->AttrOr("code") : "?") + " " +
         std::string(error ? error->AttrOr("text") : ""));
    return;
  }
  const Node* sign = iq.Child("pair-device-sign");
  const Node* identity_node = sign ? sign->Child("device-identity") : nullptr;
  auto bytes = identity_node ? identity_node->ContentBytes() : std::nullopt;
  wa::proto::ADVSignedDeviceIdentity reply;
  if (!bytes || !reply.ParseFromArray(bytes->data(), static_cast<int>(bytes->size()))) {
    fail("pair-device-sign carries no ADVSignedDeviceIdentity");
    return;
  }
  Phone* phone = FindPhone(pending->phone);
  const auto& reg = conn.payload().device_pairing_data();
  auto companion_identity = base::AsBytes(reg.e_ident());
  auto key_index = identity_node->AttrOr("key-index");
  if (!phone || reply.details() != base::AsChars(pending->details) ||
      reply.account_signature() != std::string(base::AsChars(pending->account_signature)) ||
      key_index != std::to_string(pending->key_index)) {
    fail("the signed identity differs from the one sent (details, signature or key-index)");
    return;
  }
  auto message = Concat({base::Bytes{0x06, 0x01}, pending->details, companion_identity,
                         phone->identity.public_key});
  if (!wa::crypto::Verify(companion_identity, message, base::AsBytes(reply.device_signature()))) {
    fail("the device signature does not verify with the companion's identity key");
    return;
  }

  Companion companion;
  companion.device_id = pending->device_id;
  companion.noise_key = conn.client_static();
  companion.identity_key.assign(companion_identity.begin(), companion_identity.end());
  companion.registration_id = BigEndian(base::AsBytes(reg.e_regid()));
  companion.signed_prekey = {BigEndian(base::AsBytes(reg.e_skey_id())),
                             base::ToBytes(reg.e_skey_val()), base::ToBytes(reg.e_skey_sig())};
  companion.platform = PlatformName(conn.payload());
  companion.key_index = pending->key_index;
  reply.set_account_signature_key(std::string(base::AsChars(phone->identity.public_key)));
  companion.adv_identity = Serialize(reply);
  companion.linked_at = Now();
  phone->companions[companion.device_id] = std::move(companion);
  stats_.pairings++;
  DevicesChanged(*phone, pending->device_id, true, pending->key_index);

  std::string device_jid =
      Jid::User(phone->number, static_cast<std::uint8_t>(pending->device_id)).ToString();
  spdlog::info("phone {}: linked companion {} ({})", phone->number, device_jid,
               phone->companions[pending->device_id].platform);
  // The companion must reconnect and log in (§5.7).
  conn.SendAndClose(Node("stream:error", {{"code", "515"}}));
  pending->Finish(device_jid);
}

// --- phones and devices ------------------------------------------------------------------------

ControlResult<World::PhoneInfo> World::CreatePhone(const std::string& number,
                                                   const std::string& name) {
  if (!ValidPhoneNumber(number)) {
    return ControlError{422, "invalid_phone",
                        "phone must be 7-15 digits in international form without '+', e.g. "
                        "15550001111"};
  }
  if (phones_.count(number)) {
    return ControlError{409, "phone_exists", "a simulated phone " + number + " already exists"};
  }
  Phone phone;
  phone.number = number;
  phone.name = name.empty() ? number : name;
  do {
    phone.lid = RandomDigits(15);
  } while (lid_to_phone_.count(phone.lid));
  phone.identity = wa::crypto::GenerateKeyPair();
  phone.client = std::make_unique<PhoneClient>(phone.identity);  // its Signal identity too
  auto raw = wa::crypto::RandomBytes(4);
  phone.adv_raw_id = BigEndian(raw);
  lid_to_phone_[phone.lid] = number;
  phones_[number] = std::move(phone);
  return GetPhone(number);
}

ControlResult<World::PhoneInfo> World::GetPhone(const std::string& number) const {
  auto it = phones_.find(number);
  if (it == phones_.end()) return ControlError{404, "phone_not_found", "no simulated phone " + number};
  const Phone& p = it->second;
  return PhoneInfo{p.number, Jid::User(p.number).ToString(), Jid::Lid(p.lid).ToString(), p.name,
                   p.identity.public_key, p.client->duplicates()};
}

ControlResult<std::vector<World::DeviceInfo>> World::Devices(const std::string& number) const {
  auto it = phones_.find(number);
  if (it == phones_.end()) return ControlError{404, "phone_not_found", "no simulated phone " + number};
  std::vector<DeviceInfo> out;
  for (const auto& [id, c] : it->second.companions) {
    auto dev = static_cast<std::uint8_t>(id);
    out.push_back({Jid::User(number, dev).ToString(), Jid::Lid(it->second.lid, dev).ToString(),
                   c.platform, c.linked_at, !c.connection.expired()});
  }
  return out;
}

ControlResult<void> World::Unlink(const std::string& number, const std::string& device_jid) {
  Phone* phone = FindPhone(number);
  if (!phone) return ControlError{404, "phone_not_found", "no simulated phone " + number};
  auto jid = Jid::Parse(device_jid);
  if (!jid || (jid->user() != phone->number && jid->user() != phone->lid) ||
      !phone->companions.count(jid->device())) {
    return ControlError{404, "device_not_found",
                        device_jid + " is not a linked device of " + number};
  }
  RemoveCompanion(*phone, jid->device(), true);
  return {};
}

void World::RemoveCompanion(Phone& phone, std::uint16_t device_id, bool notify) {
  auto it = phone.companions.find(device_id);
  if (it == phone.companions.end()) return;
  if (auto conn = it->second.connection.lock(); conn && notify) {
    // §8.4: removed from the phone while connected.
    conn->SendAndClose(Node("stream:error", {{"code", "401"}},
                            {Node("conflict", {{"type", "device_removed"}})}));
  }
  auto key_index = it->second.key_index;
  phone.companions.erase(it);
  spdlog::info("phone {}: unlinked device {}", phone.number, device_id);
  DevicesChanged(phone, device_id, false, key_index);
}

std::size_t World::device_count() const {
  std::size_t n = 0;
  for (const auto& [_, p] : phones_) n += 1 + p.companions.size();
  return n;
}

std::size_t World::offline_queue_depth() const {
  std::size_t n = 0;
  for (const auto& [_, p] : phones_) {
    for (const auto& [__, c] : p.companions) n += c.offline.size();
  }
  return n;
}

}  // namespace sim
