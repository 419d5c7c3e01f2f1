// The server's messaging duties (02-messaging.md §9.1): prekey bundles, USync, routing of
// <message> and <receipt> to every addressed device with the server ack, acks from companions,
// offline queues kept until acked, presence and chat state, device-change notifications.
//
// Routing has one funnel so that groups can join later without a rewrite: RouteMessage and
// RouteReceipt resolve who gets a stanza to (account, device) pairs, and Deliver is the only
// place that hands a stanza to a device (connection, offline queue or simulated phone).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <charconv>

#include "sim/connection.h"
#include "sim/message_wire.h"
#include "sim/world.h"
#include "wa/signal/address.h"

namespace sim {

namespace asio = boost::asio;
using wa::binary::Jid;
using wa::binary::Node;
using wa::binary::Value;

namespace {

constexpr std::size_t kLowPreKeyCount = 5;  // the prekey-low notification threshold (§1.3)

// Whether any device of the account announced itself available (the set is ordered by number).
bool AnyAvailable(const MessagingState& m, const std::string& number) {
  auto it = m.available.lower_bound({number, 0});
  return it != m.available.end() && it->first == number;
}

bool MustBeAcked(std::string_view tag) {
  return tag == "message" || tag == "receipt" || tag == "notification";
}

base::Bytes AsOwnedBytes(base::ByteView b) { return base::Bytes(b.begin(), b.end()); }

// The JID of `device` of `account` in the addressing domain of a conversation (PN or LID).
Jid DeviceJid(const Phone& account, std::uint16_t device, bool lid) {
  auto d = static_cast<std::uint8_t>(device);
  return lid ? Jid::Lid(account.lid, d) : Jid::User(account.number, d);
}

Jid UserJid(const Phone& account, bool lid) {
  return lid ? Jid::Lid(account.lid) : Jid::User(account.number);
}

// Ids named by a receipt: `id` and its <list><item id/></list>.
std::vector<std::string> ReceiptIds(const Node& receipt) {
  std::vector<std::string> ids{std::string(receipt.AttrOr("id"))};
  if (const Node* list = receipt.Child("list")) {
    for (const Node* item : list->ChildrenByTag("item")) {
      if (auto id = item->GetAttr("id"); id && !id->empty()) ids.emplace_back(*id);
    }
  }
  return ids;
}

Node BundleNode(const Jid& jid, const wa::signal::PreKeyBundle& b) {
  auto reg = wa::signal::EncodeRegistrationId(b.registration_id);
  Node::Children children;
  children.emplace_back("registration", std::vector<wa::binary::Attr>{},
                        base::Bytes(reg.begin(), reg.end()));
  children.emplace_back("type", std::vector<wa::binary::Attr>{}, base::Bytes{wa::signal::kKeyType});
  children.emplace_back("identity", std::vector<wa::binary::Attr>{}, AsOwnedBytes(b.identity_key));
  auto skey_id = wa::signal::EncodeKeyId(b.signed_pre_key_id);
  children.push_back(
      Node("skey", {},
           {Node("id", {}, skey_id ? base::Bytes(skey_id->begin(), skey_id->end()) : base::Bytes{}),
            Node("value", {}, AsOwnedBytes(b.signed_pre_key)),
            Node("signature", {}, AsOwnedBytes(b.signed_pre_key_signature))}));
  if (b.pre_key) {
    auto key_id = wa::signal::EncodeKeyId(b.pre_key->id);
    children.push_back(
        Node("key", {},
             {Node("id", {}, key_id ? base::Bytes(key_id->begin(), key_id->end()) : base::Bytes{}),
              Node("value", {}, AsOwnedBytes(b.pre_key->public_key))}));
  }
  return Node("user", {{"jid", jid}}, std::move(children));
}

// "+15551234567", "15551234567", "15551234567@c.us" -> "15551234567" (§2.5).
std::optional<std::string> ContactNumber(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (auto at = text.find('@'); at != std::string_view::npos) text = text.substr(0, at);
  if (text.empty() || text.size() > 20 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::string(text);
}

}  // namespace

// --- small pieces ---------------------------------------------------------------------------

RoutedMessage& RoutingLog::Record(const std::string& id) {
  if (auto it = by_id_.find(id); it != by_id_.end()) return it->second;
  while (by_id_.size() >= limit_ && !order_.empty()) {
    by_id_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(id);
  auto& record = by_id_[id];
  record.id = id;
  return record;
}

const RoutedMessage* RoutingLog::Find(std::string_view id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second;
}

Phone* World::ResolveAccount(const Jid& jid) {
  if (jid.server() == wa::binary::kUserServer) return FindPhone(jid.user());
  if (jid.server() == wa::binary::kLidServer) {
    auto it = lid_to_phone_.find(jid.user());
    return it == lid_to_phone_.end() ? nullptr : FindPhone(it->second);
  }
  return nullptr;
}

std::vector<std::uint16_t> World::DeviceIds(const Phone& phone) {
  std::vector<std::uint16_t> ids{0};
  for (const auto& [id, _] : phone.companions) ids.push_back(id);
  return ids;
}

World::QueueDepths World::queue_depths() const {
  QueueDepths q;
  for (const auto& [_, phone] : phones_) {
    for (const auto& [__, c] : phone.companions) {
      for (const auto& node : c.offline) {
        if (node.tag == "message") {
          q.messages++;
        } else if (node.tag == "receipt") {
          q.receipts++;
        } else {
          q.notifications++;
        }
      }
      q.unacked += c.unacked.size();
    }
  }
  return q;
}

// --- delivery -------------------------------------------------------------------------------

void World::Deliver(Phone& account, std::uint16_t device, Node stanza) {
  stats_.stanzas_routed++;
  if (device == 0) {
    if (stanza.tag == "ack") return;  // the simulated phone waits for no server acks
    // Through the event loop, as over a network: a phone's answer (a receipt) never re-enters
    // the routing that is still delivering to it.
    asio::post(ex_, [this, number = account.number, stanza = std::move(stanza)] {
      PhoneReceive(number, stanza);
    });
    return;
  }
  auto it = account.companions.find(device);
  if (it == account.companions.end()) {
    messaging_.stats.undeliverable++;
    return;
  }
  Companion& companion = it->second;
  bool keep = MustBeAcked(stanza.tag);
  if (auto conn = companion.connection.lock();
      conn && conn->state() == Connection::State::kOnline) {
    conn->Send(stanza);
    if (keep) {
      companion.unacked.push_back({conn->id(), std::move(stanza)});
      if (companion.unacked.size() > MessagingState::kUnackedLimit) {
        companion.unacked.erase(companion.unacked.begin());
        messaging_.stats.offline_dropped++;
      }
    }
    return;
  }
  if (!keep) return;  // presence, chat state and acks are not kept for offline devices
  companion.offline.push_back(std::move(stanza));
  if (companion.offline.size() > MessagingState::kOfflineLimit) {
    companion.offline.pop_front();
    messaging_.stats.offline_dropped++;
  }
}

std::size_t World::FlushOffline(Connection& conn, Companion& companion) {
  std::size_t n = companion.offline.size();
  while (!companion.offline.empty()) {
    Node node = std::move(companion.offline.front());
    companion.offline.pop_front();
    node.SetAttr("offline", "1");  // §4.7: delivered from the offline queue
    conn.Send(node);
    companion.unacked.push_back({conn.id(), std::move(node)});
  }
  return n;
}

void World::MessagingClosed(Connection& conn) {
  if (auto subs = messaging_.subscriptions.find(conn.id());
      subs != messaging_.subscriptions.end()) {
    for (const auto& target : subs->second) messaging_.subscribers[target].erase(conn.id());
    messaging_.subscriptions.erase(subs);
  }
  if (conn.phone.empty()) return;
  Phone* phone = FindPhone(conn.phone);
  if (!phone) return;
  auto it = phone->companions.find(conn.device);
  if (it == phone->companions.end()) return;
  Companion& companion = it->second;

  // What this connection was sent but never acknowledged goes out again: on the companion's
  // newer connection if it already has one (a replaced connection), else at its next login.
  std::vector<Node> again;
  std::erase_if(companion.unacked, [&](PendingStanza& p) {
    if (p.connection_id != conn.id()) return false;
    again.push_back(std::move(p.node));
    return true;
  });
  auto current = companion.connection.lock();
  if (current.get() == &conn) {
    companion.connection.reset();  // nothing more goes out on it
    current.reset();
  }
  if (current && current->state() == Connection::State::kOnline) {
    for (auto& node : again) {
      current->Send(node);
      companion.unacked.push_back({current->id(), std::move(node)});
    }
  } else {
    companion.offline.insert(companion.offline.begin(), std::make_move_iterator(again.begin()),
                             std::make_move_iterator(again.end()));
  }

  auto key = std::make_pair(phone->number, conn.device);
  if (messaging_.available.erase(key)) {
    if (!AnyAvailable(messaging_, phone->number)) {
      messaging_.last_seen[phone->number] = Now();
      BroadcastPresence(*phone);
    }
  }
}

void World::RemoveUnacked(Phone& account, std::uint16_t device, std::string_view tag,
                          const std::vector<std::string>& ids) {
  auto it = account.companions.find(device);
  if (it == account.companions.end()) return;
  auto& unacked = it->second.unacked;
  for (const auto& id : ids) {
    auto found = std::find_if(unacked.begin(), unacked.end(), [&](const PendingStanza& p) {
      return p.node.tag == tag && p.node.AttrOr("id") == id;
    });
    if (found != unacked.end()) unacked.erase(found);
  }
}

// --- dispatch -------------------------------------------------------------------------------

bool World::HandleMessagingNode(Connection& conn, const Node& node) {
  const std::string& tag = node.tag;
  if (tag != "message" && tag != "receipt" && tag != "ack" && tag != "presence" &&
      tag != "chatstate") {
    return false;
  }
  if (conn.state() != Connection::State::kOnline) return true;  // not logged in: ignored
  Phone* phone = FindPhone(conn.phone);
  if (!phone || !phone->companions.count(conn.device)) return true;
  if (tag == "message") {
    RouteMessage(*phone, conn.device, node);
  } else if (tag == "receipt") {
    RouteReceipt(*phone, conn.device, node);
  } else if (tag == "ack") {
    // The companion acknowledges a message, receipt or notification we delivered (§4.6).
    RemoveUnacked(*phone, conn.device, node.AttrOr("class"), {std::string(node.AttrOr("id"))});
  } else if (tag == "presence") {
    HandlePresence(conn, *phone, conn.device, node);
  } else {
    HandleChatState(*phone, node);
  }
  return true;
}

bool World::HandleMessagingIq(Connection& conn, const Node& iq) {
  auto type = iq.AttrOr("type");
  auto xmlns = iq.AttrOr("xmlns");
  if (xmlns == "encrypt" && type == "get" && iq.Child("key")) {
    ServeBundles(conn, iq);
  } else if (xmlns == "usync" && type == "get") {
    AnswerUsync(conn, iq);
  } else if (xmlns == "privacy" && type == "set" && iq.Child("tokens")) {
    // Trusted-contact tokens (tctoken) are not simulated: accept and issue none, so clients
    // keep sending without <tctoken>, as to a contact that never got one.
    ReplyResult(conn, iq);
  } else {
    return false;
  }
  return true;
}

// --- prekeys --------------------------------------------------------------------------------

std::optional<wa::signal::PreKeyBundle> Companion::SignedBundle() const {
  if (identity_key.size() != 32 || signed_prekey.public_key.size() != 32 || signed_prekey.signature.size() != 64) {
    return std::nullopt;
  }
  wa::signal::PreKeyBundle b;
  b.registration_id = registration_id;
  b.device_id = device_id;
  std::copy_n(identity_key.begin(), 32, b.identity_key.begin());
  b.signed_pre_key_id = signed_prekey.id;
  std::copy_n(signed_prekey.public_key.begin(), 32, b.signed_pre_key.begin());
  std::copy_n(signed_prekey.signature.begin(), 64, b.signed_pre_key_signature.begin());
  return b;
}

std::optional<wa::signal::PreKeyBundle> World::TakeBundle(Phone& account, std::uint16_t device) {
  messaging_.stats.bundles_served++;
  if (device == 0) return account.client->TakeBundle();
  auto it = account.companions.find(device);
  if (it == account.companions.end()) return std::nullopt;
  Companion& c = it->second;
  auto bundle = c.SignedBundle();
  if (!bundle) return std::nullopt;
  wa::signal::PreKeyBundle& b = *bundle;
  if (!c.prekeys.empty()) {
    // Each one-time prekey goes to one requester only (§1.6).
    auto first = c.prekeys.begin();
    if (first->second.size() == 32) {
      wa::signal::PreKeyPublic pre{first->first, {}};
      std::copy_n(first->second.begin(), 32, pre.public_key.begin());
      b.pre_key = pre;
    }
    c.prekeys.erase(first);
    // Tell the device when its stock crosses below the threshold and when it is gone (§1.3);
    // not on every fetch, so a burst of fetches does not cause a burst of uploads.
    if (c.prekeys.size() == kLowPreKeyCount - 1 || c.prekeys.empty()) {
      messaging_.stats.notifications_sent++;
      Deliver(account, device,
              Node("notification",
                   {{"id", NextIqId()},
                    {"type", "encrypt"},
                    {"from", Jid::Server()},
                    {"t", std::to_string(Now())}},
                   {Node("count", {{"value", std::to_string(c.prekeys.size())}})}));
    }
  }
  return bundle;
}

void World::ServeBundles(Connection& conn, const Node& iq) {
  Node::Children users;
  for (const Node* user : iq.Child("key")->ChildrenByTag("user")) {
    auto jid = user->GetJid("jid");
    if (!jid) {
      ReplyError(conn, iq, 400, "bad-request");
      return;
    }
    Phone* account = ResolveAccount(*jid);
    std::optional<wa::signal::PreKeyBundle> bundle;
    if (account) bundle = TakeBundle(*account, jid->device());
    if (bundle) {
      users.push_back(BundleNode(*jid, *bundle));  // the jid echoes the request (§1.6)
    } else {
      users.push_back(Node("user", {{"jid", *jid}},
                           {Node("error", {{"code", "404"}, {"text", "item-not-found"}})}));
    }
  }
  ReplyResult(conn, iq, {Node("list", {}, std::move(users))});
}

// --- USync (§2) ---------------------------------------------------------------------------

void World::AnswerUsync(Connection& conn, const Node& iq) {
  const Node* usync = iq.Child("usync");
  const Node* query = usync ? usync->Child("query") : nullptr;
  const Node* list = usync ? usync->Child("list") : nullptr;
  if (!query || !list) {
    ReplyError(conn, iq, 400, "bad-request");
    return;
  }
  bool want_devices = query->Child("devices") != nullptr;
  bool want_lid = query->Child("lid") != nullptr;
  bool want_contact = query->Child("contact") != nullptr;
  if (want_devices) {
    messaging_.stats.usync_device_queries++;
    messaging_.stats.usync_device_users += list->ChildrenByTag("user").size();
  }

  Node::Children users;
  for (const Node* user : list->ChildrenByTag("user")) {
    std::optional<Jid> jid = user->GetJid("jid");
    const Node* contact = user->Child("contact");
    std::optional<std::string> contact_text;
    if (contact) {
      if (auto text = contact->ContentText()) contact_text = std::string(*text);
    }
    if (!jid && contact_text) {
      if (auto number = ContactNumber(*contact_text)) jid = Jid::User(*number);
    }
    if (!jid) continue;  // neither a jid nor a phone number: nothing to answer for
    Phone* account = ResolveAccount(*jid);
    bool by_lid = jid->server() == wa::binary::kLidServer;
    Node::Children parts;
    if (want_devices) {
      if (account) {
        Node::Children devices;
        devices.push_back(Node("device", {{"id", "0"}}));
        std::vector<std::uint32_t> indexes;
        std::uint32_t current = 0;
        std::int64_t ts = 0;
        for (const auto& [id, c] : account->companions) {
          // key-index on every non-zero device: Baileys skips devices without it (§2.2).
          devices.push_back(Node(
              "device", {{"id", std::to_string(id)}, {"key-index", std::to_string(c.key_index)}}));
          indexes.push_back(c.key_index);
          current = std::max(current, c.key_index);
          ts = std::max(ts, c.linked_at);
        }
        if (ts == 0) ts = Now();
        parts.push_back(Node(
            "devices", {},
            {Node("device-list", {}, std::move(devices)),
             Node("key-index-list", {{"ts", std::to_string(ts)}},
                  wire::SignedKeyIndexList(account->identity, account->adv_raw_id,
                                           static_cast<std::uint64_t>(ts), current, indexes))}));
      } else {
        parts.push_back(Node("devices", {}, {Node("device-list")}));
      }
    }
    if (want_lid && account && !by_lid) {
      parts.push_back(Node("lid", {{"val", Jid::Lid(account->lid)}}));
    }
    if (want_contact) {
      Node answer("contact", {{"type", account ? "in" : "out"}});
      if (contact_text) answer.content = base::ToBytes(*contact_text);  // echo (§2.5)
      parts.push_back(std::move(answer));
    }
    // A contact query answers with the account's PN JID; other queries echo the request.
    Jid answer_jid = (!user->GetJid("jid") && account) ? Jid::User(account->number) : *jid;
    users.push_back(Node("user", {{"jid", answer_jid}}, std::move(parts)));
  }
  std::vector<wa::binary::Attr> attrs;
  for (const char* key : {"sid", "context", "mode"}) {
    if (auto v = usync->GetAttr(key)) attrs.push_back({key, std::string(*v)});
  }
  attrs.push_back({"index", "0"});
  attrs.push_back({"last", "true"});
  ReplyResult(conn, iq, {Node("usync", std::move(attrs), {Node("list", {}, std::move(users))})});
}

// --- messages (§3.4, §3.5, §9.1.5) ---------------------------------------------------------

void World::RouteMessage(Phone& sender, std::uint16_t device, const Node& message) {
  std::string id(message.AttrOr("id"));
  if (id.empty()) return;  // nothing to ack or route
  auto to = message.GetJid("to");
  auto t = Now();
  Node ack("ack", {{"id", id}, {"class", "message"}});
  if (to) ack.SetAttr("from", *to);
  ack.SetAttr("t", std::to_string(t));
  if (!to || (to->server() != wa::binary::kUserServer && to->server() != wa::binary::kLidServer)) {
    // Groups, broadcast lists and newsletters are not simulated yet: refuse like a stanza the
    // server cannot route (SMAX_INVALID).
    ack.SetAttr("error", "479");
    Deliver(sender, device, std::move(ack));
    return;
  }
  messaging_.stats.messages_routed++;
  Phone* dest = ResolveAccount(*to);
  bool lid = to->server() == wa::binary::kLidServer;
  Jid from = DeviceJid(sender, device, lid);
  auto category = message.AttrOr("category");
  RoutedMessage& record = messaging_.log.Record(id);
  record.from = from.ToString();
  record.to = to->ToString();
  record.t = t;

  // Who gets what: each <to jid> of <participants> with its own <enc>s, or — a single <enc>
  // without <participants> — the device `to` names (a retry re-send), or the own phone for a
  // peer message.
  std::vector<std::pair<Jid, std::vector<const Node*>>> targets;
  if (const Node* participants = message.Child("participants")) {
    for (const Node* p : participants->ChildrenByTag("to")) {
      if (auto jid = p->GetJid("jid")) targets.emplace_back(*jid, p->ChildrenByTag("enc"));
    }
  } else {
    Jid target = *to;
    if (category == "peer") target = UserJid(sender, lid);  // to the own phone only
    targets.emplace_back(target, message.ChildrenByTag("enc"));
  }
  const Node* device_identity = message.Child("device-identity");

  for (auto& [jid, encs] : targets) {
    Phone* owner = ResolveAccount(jid);
    std::uint16_t target_device = jid.device();
    bool own = owner == &sender;
    bool known = owner && (target_device == 0 || owner->companions.count(target_device));
    // A device may be addressed only if it belongs to the recipient or to the sender's own
    // account, and is not the sending device itself (§9.1.5).
    if (!known || encs.empty() || (own && target_device == device) || (!own && owner != dest) ||
        (category == "peer" && !own)) {
      messaging_.stats.undeliverable++;
      spdlog::debug("message {}: {} is not a deliverable device", id, jid.ToString());
      continue;
    }
    Node out("message", {{"id", id},
                         {"from", from},
                         {"t", std::to_string(t)},
                         {"type", std::string(message.AttrOr("type", "text"))}});
    if (auto r = message.GetJid("recipient")) {
      out.SetAttr("recipient", *r);  // a retry re-send to an own device keeps the chat
    } else if (own && dest != &sender) {
      out.SetAttr("recipient", to->ToNonAd());  // a copy for the sender's other devices
    }
    if (!own) out.SetAttr("notify", sender.name);
    for (const char* key : {"category", "edit", "expiration"}) {
      if (auto v = message.GetAttr(key)) out.SetAttr(key, std::string(*v));
    }
    Node::Children children;
    std::string kinds;
    for (const Node* enc : encs) {
      children.push_back(*enc);
      auto kind = enc->AttrOr("type");
      if (kind == "pkmsg") {
        messaging_.stats.enc_pkmsg++;
      } else if (kind == "msg") {
        messaging_.stats.enc_msg++;
      } else if (kind == "skmsg") {
        messaging_.stats.enc_skmsg++;
      }
      kinds += (kinds.empty() ? "" : ",") + std::string(kind);
    }
    if (device_identity) children.push_back(*device_identity);
    out.content = std::move(children);
    record.deliveries.push_back({jid.ToString(), std::move(kinds)});
    TakeCorruption(owner->number, target_device, out);
    Deliver(*owner, target_device, std::move(out));
  }
  if (dest && dest != &sender) {
    messaging_.peers[sender.number].insert(dest->number);
    messaging_.peers[dest->number].insert(sender.number);
  }
  Deliver(sender, device, std::move(ack));
}

// --- receipts (§4.4, §4.5, §9.1.6) ---------------------------------------------------------

void World::RouteReceipt(Phone& sender, std::uint16_t device, const Node& receipt) {
  std::string id(receipt.AttrOr("id"));
  if (id.empty()) return;
  messaging_.stats.receipts_routed++;
  std::string type(receipt.AttrOr("type"));
  auto ids = ReceiptIds(receipt);
  if (type == "retry") messaging_.stats.retry_receipts++;
  auto to = receipt.GetJid("to");
  // Any receipt but a retry or a media re-upload request means the device has the message: it
  // needs no redelivery (§4.3).
  if (type != "retry" && type != "server-error") RemoveUnacked(sender, device, "message", ids);

  // The server's ack of the receipt; clients ignore it (§4.4).
  Node ack("ack", {{"id", id}, {"class", "receipt"}});
  ack.SetAttr("from", to ? *to : Jid::Server());
  if (!type.empty()) ack.SetAttr("type", type);
  Deliver(sender, device, std::move(ack));

  bool lid = to && to->server() == wa::binary::kLidServer;
  Node relay("receipt", {{"id", id}, {"from", DeviceJid(sender, device, lid)}});
  // `inactive` tells the server the receiver is not in the foreground; the sender learns of a
  // plain delivery (Baileys maps no status to "inactive", and its senders do see delivery ticks
  // from inactive receivers).
  if (!type.empty() && type != "inactive") relay.SetAttr("type", type);
  if (auto t = receipt.GetAttr("t")) relay.SetAttr("t", std::string(*t));
  if (auto p = receipt.GetJid("participant")) relay.SetAttr("participant", *p);
  auto recipient = receipt.GetJid("recipient");
  if (receipt.has_children()) {
    relay.content = Node::Children(receipt.children().begin(), receipt.children().end());
  }

  if (type == "retry" || type == "sender" || type == "peer_msg" || type == "hist_sync" ||
      type == "server-error") {
    // For one device: the one that sent the message. Baileys leaves `to` out of 1:1 `sender`
    // receipts, so the routing log names the sender then.
    std::optional<Jid> target = to;
    if (!target) {
      if (const RoutedMessage* routed = messaging_.log.Find(id)) {
        if (auto parsed = Jid::Parse(routed->from); parsed) target = *parsed;
      }
    }
    Phone* owner = target ? ResolveAccount(*target) : nullptr;
    if (!owner || (owner == &sender && target->device() == device)) {
      messaging_.stats.undeliverable++;
      return;
    }
    if (recipient) relay.SetAttr("recipient", *recipient);
    Deliver(*owner, target->device(), std::move(relay));
    return;
  }
  if (!to) return;
  Phone* owner = ResolveAccount(*to);
  if (!owner) {
    messaging_.stats.undeliverable++;
    return;
  }
  if (type != "read-self") {
    // Delivery, read and played receipts reach every device of the message's sender.
    for (auto d : DeviceIds(*owner)) {
      if (owner == &sender && d == device) continue;
      Node copy = relay;
      if (owner == &sender && recipient) copy.SetAttr("recipient", *recipient);
      Deliver(*owner, d, std::move(copy));
    }
  }
  if ((type == "read" || type == "read-self" || type == "played") && owner != &sender) {
    // The reader's other devices learn that the chat was read there (recipient = the chat).
    for (auto d : DeviceIds(sender)) {
      if (d == device) continue;
      Node copy = relay;
      copy.SetAttr("recipient", to->ToNonAd());
      Deliver(sender, d, std::move(copy));
    }
  }
}

// --- presence and chat state (§6) ------------------------------------------------------------

Node World::PresenceOf(const Phone& account) const {
  Node presence("presence", {{"from", Jid::User(account.number)}});
  if (!AnyAvailable(messaging_, account.number)) {
    presence.SetAttr("type", "unavailable");
    auto seen = messaging_.last_seen.find(account.number);
    if (seen != messaging_.last_seen.end()) presence.SetAttr("last", std::to_string(seen->second));
  }
  return presence;
}

void World::BroadcastPresence(const Phone& account) {
  auto it = messaging_.subscribers.find(account.number);
  if (it == messaging_.subscribers.end()) return;
  Node presence = PresenceOf(account);
  for (auto id : it->second) {
    if (auto conn = FindConnection(id); conn && conn->state() == Connection::State::kOnline) {
      conn->Send(presence);
      messaging_.stats.presence_relayed++;
    }
  }
}

void World::HandlePresence(Connection& conn, Phone& sender, std::uint16_t device,
                           const Node& presence) {
  auto type = presence.AttrOr("type");
  if (type == "subscribe" || type == "unsubscribe") {
    auto to = presence.GetJid("to");
    Phone* target = to ? ResolveAccount(*to) : nullptr;
    if (!target) return;
    if (type == "unsubscribe") {
      messaging_.subscribers[target->number].erase(conn.id());
      messaging_.subscriptions[conn.id()].erase(target->number);
      return;
    }
    messaging_.subscribers[target->number].insert(conn.id());
    messaging_.subscriptions[conn.id()].insert(target->number);
    conn.Send(PresenceOf(*target));  // the current state right away
    messaging_.stats.presence_relayed++;
    return;
  }
  if (!type.empty() && type != "available" && type != "unavailable") return;
  Node before = PresenceOf(sender);
  auto key = std::make_pair(sender.number, device);
  if (type == "unavailable") {
    messaging_.available.erase(key);
    messaging_.last_seen[sender.number] = Now();
  } else {
    messaging_.available.insert(key);
  }
  if (PresenceOf(sender) != before) BroadcastPresence(sender);
}

void World::HandleChatState(Phone& sender, const Node& chatstate) {
  auto to = chatstate.GetJid("to");
  Phone* dest = to ? ResolveAccount(*to) : nullptr;
  if (!dest || dest == &sender || chatstate.children().empty()) return;
  bool lid = to->server() == wa::binary::kLidServer;
  Node out("chatstate", {{"from", UserJid(sender, lid)}}, Node::Children{chatstate.children()[0]});
  // The phone (device 0) shows it too: recorded for GET /v1/phones/{phone}/chatstates.
  const Node& what = chatstate.children()[0];
  std::string state = what.tag;
  if (state == "composing" && what.AttrOr("media") == "audio") state = "recording";
  dest->client->AddChatState({Jid::User(sender.number).ToString(), std::move(state), 0});
  for (const auto& [id, c] : dest->companions) {
    // Typing is only shown live: connected devices get it, nobody queues it.
    if (auto conn = c.connection.lock(); conn && conn->state() == Connection::State::kOnline) {
      conn->Send(out);
      messaging_.stats.chatstates_relayed++;
    }
  }
}

// --- device lists (§2.3) ------------------------------------------------------------------

void World::DevicesChanged(Phone& phone, std::uint16_t device, bool added,
                           std::uint32_t key_index) {
  std::vector<Jid> jids;
  std::vector<std::uint32_t> indexes;
  std::uint32_t current = 0;
  for (auto d : DeviceIds(phone)) {
    jids.push_back(Jid::User(phone.number, static_cast<std::uint8_t>(d)));
    if (d != 0) {
      indexes.push_back(phone.companions.at(d).key_index);
      current = std::max(current, phone.companions.at(d).key_index);
    }
  }
  auto now = Now();
  Node entry("device",
             {{"jid", DeviceJid(phone, device, false)}, {"lid", DeviceJid(phone, device, true)}});
  if (added) entry.SetAttr("key-index", std::to_string(key_index));
  Node change(added ? "add" : "remove", {{"device_hash", wire::ParticipantHashV2(jids)}},
              {std::move(entry),
               Node("key-index-list", {{"ts", std::to_string(now)}},
                    wire::SignedKeyIndexList(phone.identity, phone.adv_raw_id,
                                             static_cast<std::uint64_t>(now), current, indexes))});
  // The account's own companions and those of every account it talked to: both may cache the
  // device list. Phones read the registry and need no notice.
  std::vector<Phone*> audience{&phone};
  if (auto peers = messaging_.peers.find(phone.number); peers != messaging_.peers.end()) {
    for (const auto& number : peers->second) {
      if (Phone* p = FindPhone(number)) audience.push_back(p);
    }
  }
  for (Phone* p : audience) {
    for (auto& [id, _] : p->companions) {
      if (p == &phone && id == device) continue;
      messaging_.stats.notifications_sent++;
      Deliver(*p, id,
              Node("notification",
                   {{"id", NextIqId()},
                    {"type", "devices"},
                    {"from", Jid::User(phone.number)},
                    {"lid", Jid::Lid(phone.lid)},
                    {"t", std::to_string(now)}},
                   {change}));
    }
  }
}

}  // namespace sim
