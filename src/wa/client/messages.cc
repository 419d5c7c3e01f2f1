#include "wa/client/messages.h"

#include <algorithm>
#include <charconv>

#include "wa/client/errors.h"
#include "wa/client/pairing.h"
#include "wa/crypto/crypto.h"

namespace wa::client {

namespace {

std::optional<std::uint32_t> ParseUint(std::string_view s) {
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string UpperHex(base::ByteView bytes) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

Node UsyncIq(Node usync) {
  return Node("iq", {{"id", ""}, {"xmlns", "usync"}, {"type", "get"}, {"to", Jid::Server()}},
              Node::Children{std::move(usync)});
}

const Node* UsyncList(const Node& result) {
  const Node* usync = result.Child("usync");
  return usync ? usync->Child("list") : nullptr;
}

}  // namespace

// --- ids and padding -------------------------------------------------------------------------

std::string MessageIdV2(std::string_view own_user, std::int64_t unix_seconds,
                        base::ByteView random) {
  std::uint8_t data[44] = {};
  auto seconds = static_cast<std::uint64_t>(unix_seconds);
  for (int i = 0; i < 8; ++i) data[i] = static_cast<std::uint8_t>(seconds >> (56 - 8 * i));
  // Baileys writes user + "@c.us" at offset 8 (cut at the buffer's end), then the random bytes
  // at offset 28 over whatever a long user left there.
  std::string tail = std::string(own_user) + "@c.us";
  for (std::size_t i = 0; i < tail.size() && 8 + i < sizeof data; ++i) {
    data[8 + i] = static_cast<std::uint8_t>(tail[i]);
  }
  for (std::size_t i = 0; i < 16 && i < random.size(); ++i) data[28 + i] = random[i];
  auto digest = crypto::Sha256(data);
  return "3EB0" + UpperHex(base::ByteView(digest.data(), 9));
}

std::string NewMessageId(std::string_view own_user, std::int64_t unix_seconds) {
  std::uint8_t random[16];
  crypto::RandomBytes(random);
  return MessageIdV2(own_user, unix_seconds, random);
}

base::Bytes PadMessage(base::ByteView message, std::uint8_t random) {
  std::uint8_t n = static_cast<std::uint8_t>((random & 0x0F) + 1);
  base::Bytes out(message.begin(), message.end());
  out.insert(out.end(), n, n);
  return out;
}

base::Result<base::ByteView> UnpadMessage(base::ByteView padded) {
  if (padded.empty()) return MakeError(Errc::kProtocol);
  std::uint8_t n = padded.back();
  if (n == 0 || n > padded.size()) return MakeError(Errc::kProtocol);
  for (std::size_t i = padded.size() - n; i < padded.size(); ++i) {
    if (padded[i] != n) return MakeError(Errc::kProtocol);
  }
  return padded.first(padded.size() - n);
}

// --- recipients ------------------------------------------------------------------------------

base::Result<Jid> ParseRecipient(std::string_view to) {
  if (to.find('@') == std::string_view::npos) {
    std::string digits = NormalizePhone(to);
    if (digits.empty()) return MakeError(Errc::kInvalidRecipient);
    return Jid::User(digits);
  }
  std::string text(to);
  if (text.ends_with("@c.us")) text = text.substr(0, text.size() - 5) + "@s.whatsapp.net";
  auto jid = Jid::Parse(text);
  if (!jid || jid->user().empty() || (!jid->IsUser() && !jid->IsLid())) {
    return MakeError(Errc::kInvalidRecipient);
  }
  if (jid->IsUser() && NormalizePhone(jid->user()) != jid->user()) {
    return MakeError(Errc::kInvalidRecipient);
  }
  return jid->ToNonAd();
}

// --- usync -----------------------------------------------------------------------------------

Node UsyncDevicesQuery(std::span<const Jid> users, std::string_view sid) {
  Node::Children list;
  for (const Jid& user : users) list.push_back(Node("user", {{"jid", user}}));
  return UsyncIq(Node("usync",
                      {{"context", "message"},
                       {"mode", "query"},
                       {"sid", sid},
                       {"last", "true"},
                       {"index", "0"}},
                      Node::Children{Node("query", {},
                                          Node::Children{Node("devices", {{"version", "2"}}),
                                                         Node("lid")}),
                                     Node("list", {}, std::move(list))}));
}

base::Result<std::vector<UsyncDevices>> ParseUsyncDevices(const Node& result) {
  const Node* list = UsyncList(result);
  if (!list) return MakeError(Errc::kProtocol);
  std::vector<UsyncDevices> out;
  for (const Node* user : list->ChildrenByTag("user")) {
    auto jid = user->GetJid("jid");
    const Node* devices = user->Child("devices");
    if (!jid || jid->user().empty() || !devices || devices->Child("error")) continue;
    UsyncDevices entry;
    entry.user = jid->ToNonAd();
    if (const Node* device_list = devices->Child("device-list")) {
      for (const Node* device : device_list->ChildrenByTag("device")) {
        auto id = ParseUint(device->AttrOr("id"));
        if (!id || *id > 255) continue;
        // Baileys skips companions without a key index: sending to them is a bad request.
        if (*id != 0 && !device->HasAttr("key-index")) continue;
        entry.devices.push_back(static_cast<std::uint16_t>(*id));
      }
    }
    if (const Node* index = devices->Child("key-index-list")) {
      std::string_view ts = index->AttrOr("ts");
      std::int64_t v = 0;
      auto [p, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), v);
      if (ec == std::errc() && p == ts.data() + ts.size() && v > 0) entry.key_index_ts = v;
    }
    std::sort(entry.devices.begin(), entry.devices.end());
    entry.devices.erase(std::unique(entry.devices.begin(), entry.devices.end()),
                        entry.devices.end());
    if (const Node* lid = user->Child("lid")) {
      if (auto val = lid->GetJid("val"); val && val->IsLid() && !val->user().empty()) {
        entry.lid = val->ToNonAd();
      }
    }
    out.push_back(std::move(entry));
  }
  return out;
}

Node UsyncContactQuery(std::span<const std::string> phones, std::string_view sid) {
  Node::Children list;
  for (const auto& phone : phones) {
    list.push_back(Node("user", {}, Node::Children{Node("contact", {}, base::ToBytes("+" + phone))}));
  }
  return UsyncIq(Node("usync",
                      {{"context", "interactive"},
                       {"mode", "query"},
                       {"sid", sid},
                       {"last", "true"},
                       {"index", "0"}},
                      Node::Children{Node("query", {}, Node::Children{Node("contact")}),
                                     Node("list", {}, std::move(list))}));
}

base::Result<std::vector<ContactStatus>> ParseUsyncContacts(const Node& result,
                                                            std::span<const std::string> asked) {
  const Node* list = UsyncList(result);
  if (!list) return MakeError(Errc::kProtocol);
  std::vector<ContactStatus> out;
  auto users = list->ChildrenByTag("user");
  for (std::size_t i = 0; i < users.size(); ++i) {
    const Node* user = users[i];
    const Node* contact = user->Child("contact");
    auto jid = user->GetJid("jid");
    if (!contact || !jid) continue;
    ContactStatus status;
    status.jid = jid->ToNonAd();
    status.exists = contact->AttrOr("type") == "in";
    if (auto echoed = contact->ContentText(); echoed && !echoed->empty()) {
      std::string_view text = *echoed;
      if (auto at = text.find('@'); at != std::string_view::npos) text = text.substr(0, at);
      status.phone = NormalizePhone(text);
    }
    if (status.phone.empty() && i < asked.size()) status.phone = asked[i];
    out.push_back(std::move(status));
  }
  return out;
}

// --- prekey bundles --------------------------------------------------------------------------

Node PreKeyBundleQuery(std::span<const Jid> devices, bool identity_reason) {
  Node::Children users;
  for (const Jid& device : devices) {
    Node user("user", {{"jid", device}});
    if (identity_reason) user.SetAttr("reason", "identity");
    users.push_back(std::move(user));
  }
  return Node("iq", {{"id", ""}, {"xmlns", "encrypt"}, {"type", "get"}, {"to", Jid::Server()}},
              Node::Children{Node("key", {}, std::move(users))});
}

base::Result<signal::PreKeyBundle> ParseBundle(const Node& holder,
                                               std::optional<std::uint32_t> registration_id,
                                               std::uint32_t device_id) {
  auto bytes_of = [](const Node* parent, std::string_view tag) -> std::optional<base::ByteView> {
    const Node* n = parent ? parent->Child(tag) : nullptr;
    return n ? n->ContentBytes() : std::nullopt;
  };
  signal::PreKeyBundle bundle;
  bundle.device_id = device_id;
  if (auto reg = bytes_of(&holder, "registration")) {
    auto parsed = signal::ParseRegistrationId(*reg);
    if (!parsed) return parsed.error();
    bundle.registration_id = *parsed;
  } else if (registration_id) {
    bundle.registration_id = *registration_id;
  } else {
    return MakeError(Errc::kProtocol);
  }
  auto identity = bytes_of(&holder, "identity");
  if (!identity) return MakeError(Errc::kProtocol);
  auto identity_key = signal::ParseWireKey(*identity);
  if (!identity_key) return identity_key.error();
  bundle.identity_key = *identity_key;
  const Node* skey = holder.Child("skey");
  auto skey_id = bytes_of(skey, "id");
  auto skey_value = bytes_of(skey, "value");
  auto skey_signature = bytes_of(skey, "signature");
  if (!skey_id || !skey_value || !skey_signature) return MakeError(Errc::kProtocol);
  auto sid = signal::ParseKeyId(*skey_id);
  if (!sid) return sid.error();
  auto spk = signal::ParseWireKey(*skey_value);
  if (!spk) return spk.error();
  auto signature = signal::ParseWireSignature(*skey_signature);
  if (!signature) return signature.error();
  bundle.signed_pre_key_id = *sid;
  bundle.signed_pre_key = *spk;
  bundle.signed_pre_key_signature = *signature;
  if (const Node* key = holder.Child("key")) {
    auto id = bytes_of(key, "id");
    auto value = bytes_of(key, "value");
    if (!id || !value) return MakeError(Errc::kProtocol);
    auto kid = signal::ParseKeyId(*id);
    if (!kid) return kid.error();
    auto pk = signal::ParseWireKey(*value);
    if (!pk) return pk.error();
    bundle.pre_key = signal::PreKeyPublic{*kid, *pk};
  }
  return bundle;
}

base::Result<std::vector<FetchedBundle>> ParsePreKeyBundles(const Node& result) {
  const Node* list = result.Child("list");
  if (!list) return MakeError(Errc::kProtocol);
  std::vector<FetchedBundle> out;
  for (const Node* user : list->ChildrenByTag("user")) {
    auto jid = user->GetJid("jid");
    if (!jid) continue;
    FetchedBundle fetched{*jid, MakeError(Errc::kServerError)};
    if (!user->Child("error")) fetched.bundle = ParseBundle(*user, std::nullopt, jid->device());
    out.push_back(std::move(fetched));
  }
  return out;
}

// --- messages --------------------------------------------------------------------------------

proto::Message BuildTextMessage(std::string_view text, const TextExtras& extras,
                                base::ByteView message_secret) {
  proto::Message message;
  auto* extended = message.mutable_extended_text_message();
  extended->set_text(std::string(text));
  if (extras.quoted || !extras.mentions.empty()) {
    auto* context = extended->mutable_context_info();
    if (extras.quoted) {
      context->set_stanza_id(extras.quoted->id);
      if (!extras.quoted->participant.empty()) context->set_participant(extras.quoted->participant);
      context->mutable_quoted_message()->set_conversation(extras.quoted->text);
    }
    for (const auto& jid : extras.mentions) context->add_mentioned_jid(jid);
  }
  if (!message_secret.empty()) {
    message.mutable_message_context_info()->set_message_secret(
        std::string(message_secret.begin(), message_secret.end()));
  }
  return message;
}

proto::Message WrapDeviceSent(const proto::Message& message, const Jid& destination) {
  proto::Message wrapper;
  auto* sent = wrapper.mutable_device_sent_message();
  sent->set_destination_jid(destination.ToString());
  *sent->mutable_message() = message;
  if (message.has_message_context_info()) {
    *wrapper.mutable_message_context_info() = message.message_context_info();
  }
  return wrapper;
}

ReadText ReadTextContent(const proto::Message& message) {
  ReadText out;
  const proto::ContextInfo* context = nullptr;
  if (message.has_extended_text_message()) {
    out.text = message.extended_text_message().text();
    if (message.extended_text_message().has_context_info()) {
      context = &message.extended_text_message().context_info();
    }
  } else if (message.has_conversation()) {
    out.text = message.conversation();
  }
  if (context) {
    if (context->has_stanza_id()) {
      QuotedMessage quoted;
      quoted.id = context->stanza_id();
      quoted.participant = context->participant();
      if (context->has_quoted_message()) {
        quoted.text = ReadTextContent(context->quoted_message()).text;
      }
      out.extras.quoted = std::move(quoted);
    }
    out.extras.mentions.assign(context->mentioned_jid().begin(), context->mentioned_jid().end());
  }
  return out;
}

ReceiptType ParseReceiptType(std::string_view type) {
  if (type.empty()) return ReceiptType::kDelivered;
  if (type == "inactive") return ReceiptType::kInactive;
  if (type == "read") return ReceiptType::kRead;
  if (type == "read-self") return ReceiptType::kReadSelf;
  if (type == "played") return ReceiptType::kPlayed;
  if (type == "sender") return ReceiptType::kSender;
  if (type == "retry") return ReceiptType::kRetry;
  if (type == "peer_msg") return ReceiptType::kPeerMsg;
  return ReceiptType::kOther;
}

}  // namespace wa::client
