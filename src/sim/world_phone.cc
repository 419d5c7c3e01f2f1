// The simulated phones as Signal clients (02-messaging.md §9.2): a phone sends through the same
// routing as a companion (RouteMessage from device 0), and what is delivered to device 0 arrives
// here through the event loop: it decrypts, unpads and parses messages, keeps them in its inbox,
// answers with delivery (or retry) receipts, and re-encrypts on retry receipts for what it sent.
#include <spdlog/spdlog.h>

#include <charconv>

#include "sim/message_wire.h"
#include "sim/world.h"
#include "wa/proto/message.pb.h"
#include "wa/signal/address.h"

namespace sim {

using wa::binary::Jid;
using wa::binary::Node;
using wa::signal::Address;
using wa::signal::Domain;

namespace {

std::int64_t IntAttr(const Node& node, std::string_view key) {
  auto text = node.AttrOr(key);
  std::int64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

base::Bytes Serialize(const google::protobuf::MessageLite& m) {
  base::Bytes out(m.ByteSizeLong());
  m.SerializeToArray(out.data(), static_cast<int>(out.size()));
  return out;
}

// What the sender's other devices get instead of the message (§3.3).
base::Bytes DeviceSentCopy(const std::string& destination, base::ByteView message_bytes) {
  wa::proto::Message copy;
  auto* dsm = copy.mutable_device_sent_message();
  dsm->set_destination_jid(destination);
  dsm->mutable_message()->ParseFromArray(message_bytes.data(),
                                         static_cast<int>(message_bytes.size()));
  if (dsm->message().has_message_context_info()) {
    *copy.mutable_message_context_info() = dsm->message().message_context_info();
  }
  return Serialize(copy);
}

Node EncNode(const wa::signal::EncryptedMessage& enc) {
  return Node("enc", {{"v", "2"}, {"type", std::string(wa::signal::EncType(enc.type))}},
              enc.ciphertext);
}

template <std::size_t N>
base::Bytes Owned(const std::array<std::uint8_t, N>& a) {
  return base::Bytes(a.begin(), a.end());
}

// The bundle in a retry receipt's <keys> (§4.5); nullopt when anything is malformed.
std::optional<wa::signal::PreKeyBundle> RetryBundle(const Node& receipt, const Node& keys,
                                                    std::uint32_t device) {
  auto bytes = [](const Node* n) { return n ? n->ContentBytes() : std::nullopt; };
  auto reg = bytes(receipt.Child("registration"));
  auto identity = bytes(keys.Child("identity"));
  const Node* skey = keys.Child("skey");
  if (!reg || !identity || !skey) return std::nullopt;
  auto reg_id = wa::signal::ParseRegistrationId(*reg);
  auto identity_key = wa::signal::ParseWireKey(*identity);
  auto skey_id = bytes(skey->Child("id"));
  auto skey_value = bytes(skey->Child("value"));
  auto skey_sig = bytes(skey->Child("signature"));
  if (!reg_id || !identity_key || !skey_id || !skey_value || !skey_sig) return std::nullopt;
  auto sid = wa::signal::ParseKeyId(*skey_id);
  auto spub = wa::signal::ParseWireKey(*skey_value);
  auto ssig = wa::signal::ParseWireSignature(*skey_sig);
  if (!sid || !spub || !ssig) return std::nullopt;
  wa::signal::PreKeyBundle b;
  b.registration_id = *reg_id;
  b.device_id = device;
  b.identity_key = *identity_key;
  b.signed_pre_key_id = *sid;
  b.signed_pre_key = *spub;
  b.signed_pre_key_signature = *ssig;
  if (const Node* key = keys.Child("key")) {
    auto kid = bytes(key->Child("id"));
    auto kvalue = bytes(key->Child("value"));
    if (!kid || !kvalue) return std::nullopt;
    auto id = wa::signal::ParseKeyId(*kid);
    auto pub = wa::signal::ParseWireKey(*kvalue);
    if (!id || !pub) return std::nullopt;
    b.pre_key = wa::signal::PreKeyPublic{*id, *pub};
  }
  return b;
}

}  // namespace

// --- control API ----------------------------------------------------------------------------

ControlResult<Phone*> World::ResolveRecipient(const std::string& to) {
  std::optional<Jid> chat;
  if (!to.empty() &&
      std::all_of(to.begin(), to.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    chat = Jid::User(to);
  } else if (auto parsed = Jid::Parse(to); parsed && parsed->device() == 0 &&
                                           (parsed->server() == wa::binary::kUserServer ||
                                            parsed->server() == wa::binary::kLidServer ||
                                            parsed->server() == wa::binary::kLegacyUserServer)) {
    chat = parsed->server() == wa::binary::kLegacyUserServer ? Jid::User(parsed->user())
                                                             : parsed->ToNonAd();
  }
  if (!chat) {
    return ControlError{422, "invalid_recipient",
                        "\"to\" must be a phone number (digits) or a user JID "
                        "(number@s.whatsapp.net or lid@lid) without a device"};
  }
  Phone* peer = ResolveAccount(*chat);
  if (!peer) {
    return ControlError{404, "recipient_not_found", chat->ToString() + " is not on the network"};
  }
  return peer;
}

ControlResult<World::SentInfo> World::SendText(const std::string& number, const std::string& to,
                                               const std::string& text) {
  Phone* phone = FindPhone(number);
  if (!phone) return ControlError{404, "phone_not_found", "no simulated phone " + number};
  if (text.empty() || text.size() > 65536) {
    return ControlError{422, "invalid_text", "\"text\" must be 1 to 65536 bytes"};
  }
  auto peer = ResolveRecipient(to);
  if (!peer) return peer.error();
  wa::proto::Message message;
  message.set_conversation(text);
  return PhoneSend(*phone, **peer, message, "text", "");
}

World::SentInfo World::PhoneSend(Phone& phone, Phone& peer, const wa::proto::Message& content,
                                 std::string_view type, std::string_view mediatype) {
  wa::proto::Message message = content;
  auto secret = wa::crypto::RandomBytes(32);
  message.mutable_message_context_info()->set_message_secret(std::string(base::AsChars(secret)));
  base::Bytes bytes = Serialize(message);
  std::string destination = Jid::User(peer.number).ToString();
  base::Bytes copy = DeviceSentCopy(destination, bytes);

  std::string id = wire::NewMessageId(phone.number);
  // Every device of the recipient, and the phone's own companions (§3.3, §9.2.5). Always PN
  // addressed: the phone keys its sessions by phone number.
  std::vector<std::pair<Phone*, std::uint16_t>> targets;
  for (auto d : DeviceIds(peer)) {
    if (&peer != &phone || d != 0) targets.emplace_back(&peer, d);
  }
  if (&peer != &phone) {
    for (const auto& [d, _] : phone.companions) targets.emplace_back(&phone, d);
  }
  Node::Children participants;
  for (auto [account, device] : targets) {
    bool own = account == &phone;
    auto enc = PhoneEncrypt(phone, *account, device, own ? copy : bytes);
    if (!enc) {
      spdlog::warn("phone {}: cannot encrypt for {}:{}: {}", phone.number, account->number, device,
                   enc.error().message());
      continue;
    }
    Node enc_node = EncNode(*enc);
    if (!mediatype.empty()) enc_node.SetAttr("mediatype", std::string(mediatype));
    participants.push_back(
        Node("to", {{"jid", Jid::User(account->number, static_cast<std::uint8_t>(device))}},
             {std::move(enc_node)}));
  }
  auto t = Now();
  phone.client->RememberSent(
      {id, destination, bytes, t, std::string(type), std::string(mediatype)});
  Node stanza("message", {{"id", id}, {"to", Jid::User(peer.number)}, {"type", std::string(type)}},
              {Node("participants", {}, std::move(participants))});
  RouteMessage(phone, 0, stanza);
  return SentInfo{id, t};
}

ControlResult<std::vector<InboxEntry>> World::Inbox(const std::string& number,
                                                    std::int64_t since_ms) const {
  auto it = phones_.find(number);
  if (it == phones_.end())
    return ControlError{404, "phone_not_found", "no simulated phone " + number};
  std::vector<InboxEntry> out;
  for (const auto& entry : it->second.client->inbox()) {
    if (entry.received_ms >= since_ms) out.push_back(entry);
  }
  return out;
}

ControlResult<std::vector<ChatStateEntry>> World::ChatStates(const std::string& number) const {
  auto it = phones_.find(number);
  if (it == phones_.end())
    return ControlError{404, "phone_not_found", "no simulated phone " + number};
  const auto& states = it->second.client->chat_states();
  return std::vector<ChatStateEntry>(states.begin(), states.end());
}

ControlResult<std::size_t> World::MarkRead(const std::string& number,
                                           const std::vector<std::string>& ids) {
  Phone* phone = FindPhone(number);
  if (!phone) return ControlError{404, "phone_not_found", "no simulated phone " + number};
  if (ids.empty()) return ControlError{422, "invalid_ids", "\"ids\" must list message ids"};
  // Batched per chat as Baileys' readMessages does: one receipt per sender with <list>.
  std::map<std::string, std::vector<std::string>> by_chat;
  for (const auto& id : ids) {
    const InboxEntry* entry = phone->client->FindInbox(id);
    if (!entry) {
      return ControlError{404, "message_not_found",
                          "phone " + number + " received no message " + id};
    }
    if (entry->from_me) continue;  // our own sends (copies) are not read
    auto& list = by_chat[entry->from];
    if (std::find(list.begin(), list.end(), id) == list.end()) list.push_back(id);
  }
  auto t = std::to_string(Now());
  for (const auto& [chat, list] : by_chat) {
    auto jid = Jid::Parse(chat);
    if (!jid) continue;
    Node receipt("receipt", {{"id", list[0]}, {"to", *jid}, {"type", "read"}, {"t", t}});
    if (list.size() > 1) {
      Node::Children items;
      for (std::size_t i = 1; i < list.size(); ++i)
        items.push_back(Node("item", {{"id", list[i]}}));
      receipt.content = Node::Children{Node("list", {}, std::move(items))};
    }
    RouteReceipt(*phone, 0, receipt);
  }
  // (in_place_value: a bare size_t would also convert to ControlError's status.)
  return ControlResult<std::size_t>(boost::system::in_place_value, by_chat.size());
}

// --- the phone as a Signal client -------------------------------------------------------------

base::Result<wa::signal::EncryptedMessage> World::PhoneEncrypt(Phone& phone, Phone& account,
                                                               std::uint16_t device,
                                                               base::ByteView message) {
  auto address = Address::ForDevice(account.number, Domain::kPn, device);
  if (!address) return address.error();
  auto& protocol = phone.client->protocol();
  auto has = protocol.HasSession(*address);
  if (!has) return has.error();
  if (!*has) {
    // No session yet: fetch the device's bundle like a client's encrypt/get (§1.6).
    auto bundle = TakeBundle(account, device);
    if (!bundle) return wa::signal::MakeError(wa::signal::Errc::kNoSession);
    if (auto built = protocol.ProcessPreKeyBundle(*address, *bundle); !built) return built.error();
  }
  auto random = wa::crypto::RandomBytes(1);
  return protocol.Encrypt(*address, wire::Pad(message, random[0]));
}

void World::PhoneReceive(const std::string& number, const Node& stanza) {
  Phone* phone = FindPhone(number);
  if (!phone) return;
  if (stanza.tag == "message") {
    PhoneOnMessage(*phone, stanza);
  } else if (stanza.tag == "receipt" && stanza.AttrOr("type") == "retry") {
    PhoneOnRetry(*phone, stanza);
  } else if (stanza.tag == "receipt" && stanza.AttrOr("type") == "hist_sync") {
    RecordHistoryReceipt(*phone, stanza);
  }
  // Other receipts, notifications: the phone keeps no device-list cache and shows no ticks.
}

void World::PhoneOnMessage(Phone& phone, const Node& message) {
  std::string id(message.AttrOr("id"));
  auto from = message.GetJid("from");
  Phone* sender = from ? ResolveAccount(*from) : nullptr;
  if (id.empty() || !sender) return;
  std::uint16_t device = from->device();
  auto address = Address::ForDevice(sender->number, Domain::kPn, device);
  if (!address) return;
  auto recipient = message.GetJid("recipient");
  bool peer = message.AttrOr("category") == "peer";

  InboxEntry entry;
  entry.id = id;
  entry.from = Jid::User(sender->number).ToString();
  entry.from_device = Jid::User(sender->number, static_cast<std::uint8_t>(device)).ToString();
  entry.chat = entry.from;
  entry.type = std::string(message.AttrOr("type", "text"));
  entry.t = IntAttr(message, "t");

  wa::proto::Message content;
  bool decrypted = false, duplicate = false;
  auto& protocol = phone.client->protocol();
  for (const Node* enc : message.ChildrenByTag("enc")) {
    auto kind = wa::signal::ParseEncType(enc->AttrOr("type"));
    auto bytes = enc->ContentBytes();
    if (!kind || *kind == wa::signal::MessageType::kSkMsg || !bytes) continue;  // groups: later
    auto plain = protocol.Decrypt(*address, *kind, *bytes);
    if (!plain) {
      if (plain.error() == wa::signal::Errc::kDuplicateMessage) {
        duplicate = true;  // a redelivery: acknowledge again, store nothing (§4.3)
      } else {
        spdlog::info("phone {}: cannot decrypt {} {} from {}: {}", phone.number,
                     enc->AttrOr("type"), id, entry.from_device, plain.error().message());
      }
      continue;
    }
    auto body = wire::Unpad(plain->plaintext);
    wa::proto::Message part;
    if (!body || !part.ParseFromArray(body->data(), static_cast<int>(body->size()))) {
      spdlog::info("phone {}: message {} from {} is not a padded Message", phone.number, id,
                   entry.from_device);
      continue;
    }
    if (part.has_device_sent_message()) {
      // A companion of ours sent this to someone: we get the copy (§4.1).
      entry.from_me = true;
      entry.chat = part.device_sent_message().destination_jid();
      wa::proto::Message inner = part.device_sent_message().message();
      part = std::move(inner);
    }
    content.MergeFrom(part);
    entry.enc = std::string(wa::signal::EncType(*kind));
    decrypted = true;
  }

  if (!decrypted && !duplicate) {
    // Nothing decrypted: a retry receipt asks the sender to encrypt again, with a fresh bundle
    // from the second attempt on (§4.5).
    messaging_.stats.phone_decrypt_failures++;
    int count = phone.client->NextRetryCount(id);
    if (count > PhoneClient::kMaxRetries) return;
    Node receipt("receipt", {{"id", id}, {"to", *from}, {"type", "retry"}});
    if (recipient) receipt.SetAttr("recipient", *recipient);
    auto reg = wa::signal::EncodeRegistrationId(phone.client->registration_id());
    Node::Children children{Node("retry", {{"count", std::to_string(count)},
                                           {"id", id},
                                           {"t", std::string(message.AttrOr("t"))},
                                           {"v", "1"}}),
                            Node("registration", {}, Owned(reg))};
    if (count > 1) {
      auto fresh = phone.client->FreshPreKey();
      const auto& skey = phone.client->signed_pre_key();
      auto kid = wa::signal::EncodeKeyId(fresh.id);
      auto sid = wa::signal::EncodeKeyId(skey.id);
      children.push_back(Node("keys", {},
                              {Node("type", {}, base::Bytes{wa::signal::kKeyType}),
                               Node("identity", {}, Owned(phone.identity.public_key)),
                               Node("key", {},
                                    {Node("id", {}, kid ? Owned(*kid) : base::Bytes{}),
                                     Node("value", {}, Owned(fresh.key_pair.public_key))}),
                               Node("skey", {},
                                    {Node("id", {}, sid ? Owned(*sid) : base::Bytes{}),
                                     Node("value", {}, Owned(skey.key_pair.public_key)),
                                     Node("signature", {}, Owned(skey.signature))})}));
    }
    receipt.content = std::move(children);
    RouteReceipt(phone, 0, receipt);
    return;
  }
  if (decrypted && !peer && !content.has_protocol_message()) {
    if (content.has_conversation()) {
      entry.text = content.conversation();
    } else if (content.has_extended_text_message()) {
      entry.text = content.extended_text_message().text();
    }
    // A resend of a message the phone holds (same sender, same id) is acknowledged again but
    // not shown twice: AddInbox drops and counts it; its media is not fetched again.
    if (!phone.client->HasReceived(entry.from, entry.id)) {
      entry.media = PhoneReceiveMedia(content);  // downloads and verifies (world_media.cc)
    }
    if (!phone.client->AddInbox(std::move(entry))) messaging_.stats.phone_duplicates++;
  }
  // The delivery receipt doubles as the ack (§4.4); copies of our own sends get `sender`.
  Node receipt("receipt", {{"id", id}, {"to", *from}});
  if (peer) {
    receipt.SetAttr("type", "peer_msg");
  } else if (sender == &phone) {
    receipt.SetAttr("type", "sender");
    if (recipient) receipt.SetAttr("recipient", *recipient);
  }
  RouteReceipt(phone, 0, receipt);
}

void World::PhoneOnRetry(Phone& phone, const Node& receipt) {
  std::string id(receipt.AttrOr("id"));
  auto from = receipt.GetJid("from");
  Phone* requester = from ? ResolveAccount(*from) : nullptr;
  const Node* retry = receipt.Child("retry");
  const SentMessage* sent = phone.client->FindSent(id);
  if (!requester || !retry || !sent) return;
  auto count = IntAttr(*retry, "count");
  if (count > PhoneClient::kMaxRetries) return;
  std::uint16_t device = from->device();
  auto address = Address::ForDevice(requester->number, Domain::kPn, device);
  if (!address) return;
  auto& protocol = phone.client->protocol();

  // A new session from the bundle in <keys>; or, when the requester's registration id changed
  // or it asked more than once, a fresh one from the server (§3.6).
  bool rebuilt = false;
  if (const Node* keys = receipt.Child("keys")) {
    if (auto bundle = RetryBundle(receipt, *keys, device)) {
      rebuilt = static_cast<bool>(protocol.ProcessPreKeyBundle(*address, *bundle));
    }
  }
  if (!rebuilt) {
    std::optional<std::uint32_t> reg;
    if (const Node* r = receipt.Child("registration"); r && r->ContentBytes()) {
      if (auto parsed = wa::signal::ParseRegistrationId(*r->ContentBytes())) reg = *parsed;
    }
    auto current = protocol.RemoteRegistrationId(*address);
    if (count >= 2 || !current || (reg && *reg != *current)) (void)protocol.DeleteSession(*address);
  }
  bool own = requester == &phone;
  base::Bytes bytes = own ? DeviceSentCopy(sent->chat, sent->message) : sent->message;
  auto enc = PhoneEncrypt(phone, *requester, device, bytes);
  if (!enc) {
    spdlog::info("phone {}: cannot re-encrypt {} for {}: {}", phone.number, id, from->ToString(),
                 enc.error().message());
    return;
  }
  Node enc_node = EncNode(*enc);
  enc_node.SetAttr("count", std::to_string(count));
  if (!sent->mediatype.empty()) enc_node.SetAttr("mediatype", sent->mediatype);
  Node out("message",
           {{"id", id},
            {"to", Jid::User(requester->number, static_cast<std::uint8_t>(device))},
            {"type", sent->type},
            {"device_fanout", "false"}},
           {std::move(enc_node)});
  if (own) {
    if (auto chat = Jid::Parse(sent->chat)) out.SetAttr("recipient", *chat);
  }
  RouteMessage(phone, 0, out);
}

}  // namespace sim
