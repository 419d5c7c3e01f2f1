// History sync after linking, the phone's side: once a new companion has uploaded its prekeys,
// the phone gathers its conversations — what it received (its inbox), what it sent (its sent ring)
// and any synthetic ones seeded through the control API — and sends them in chunks of
// HistorySeed::chunk_conversations: the first INITIAL_BOOTSTRAP, the rest RECENT, then one
// PUSH_NAME chunk with the names of the accounts it talked to. Each chunk is a HistorySync,
// zlib-compressed, media-encrypted (md-msg-hist) and uploaded to wasim's media host; a peer message
// (category="peer") from device 0 carries its HistorySyncNotification to the companion, which
// answers with a hist_sync receipt that the phone records.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "sim/message_wire.h"
#include "sim/world.h"
#include "wa/client/history.h"
#include "wa/media/cipher.h"
#include "wa/media/keys.h"
#include "wa/proto/history.pb.h"
#include "wa/proto/message.pb.h"
#include "wa/signal/address.h"

namespace sim {

using wa::binary::Jid;
using wa::binary::Node;

namespace {

struct Chat {
  std::string jid;
  std::string name;
  std::vector<wa::proto::WebMessageInfo> messages;  // oldest first
  std::int64_t last = 0;
};

wa::proto::WebMessageInfo Info(const std::string& chat, bool from_me, const std::string& id,
                               std::int64_t t, const wa::proto::Message& message,
                               const std::string& push_name) {
  wa::proto::WebMessageInfo info;
  auto* key = info.mutable_key();
  key->set_remote_jid(chat);
  key->set_from_me(from_me);
  key->set_id(id);
  *info.mutable_message() = message;
  info.set_message_timestamp(static_cast<std::uint64_t>(t));
  info.set_status(from_me ? 3 : 0);  // SERVER_ACK for our own
  if (!from_me && !push_name.empty()) info.set_push_name(push_name);
  return info;
}

}  // namespace

ControlResult<void> World::SeedHistory(const std::string& number, HistorySeed seed) {
  Phone* phone = FindPhone(number);
  if (!phone) return ControlError{404, "phone_not_found", "no simulated phone " + number};
  if (seed.conversations < 0 || seed.conversations > 100000 || seed.messages < 0 ||
      seed.messages > 100000 || seed.chunk_conversations < 1 ||
      std::int64_t{seed.conversations} * seed.messages > 10'000'000) {
    return ControlError{422, "invalid_history_seed",
                        "conversations and messages must be 0..100000 (at most 10,000,000 "
                        "messages in all) and chunk_conversations at least 1"};
  }
  phone->history_seed = seed;
  return {};
}

ControlResult<const Phone*> World::HistoryOf(const std::string& number) const {
  auto it = phones_.find(number);
  if (it == phones_.end()) {
    return ControlError{404, "phone_not_found", "no simulated phone " + number};
  }
  return &it->second;
}

void World::RecordHistoryReceipt(Phone& phone, const Node& receipt) {
  auto from = receipt.GetJid("from");
  phone.history_receipts.push_back(HistoryReceipt{std::string(receipt.AttrOr("id")),
                                                  from ? from->ToString() : std::string(),
                                                  Now()});
}

void World::SendHistory(Phone& phone, std::uint16_t device) {
  // The phone's real conversations, keyed by chat JID.
  std::map<std::string, Chat> chats;
  std::map<std::string, std::string> names;  // chat JID -> push name
  for (const auto& entry : phone.client->inbox()) {
    Chat& chat = chats[entry.chat];
    chat.jid = entry.chat;
    wa::proto::Message message;
    message.set_conversation(entry.text);
    std::string push;
    if (!entry.from_me) {
      if (auto jid = Jid::Parse(entry.from); jid) {
        if (Phone* sender = ResolveAccount(*jid)) push = sender->name;
      }
      if (!push.empty()) names[entry.chat] = push;
    }
    chat.messages.push_back(Info(entry.chat, entry.from_me, entry.id, entry.t, message, push));
    chat.last = std::max(chat.last, entry.t);
  }
  for (const auto& sent : phone.client->sent()) {
    Chat& chat = chats[sent.chat];
    chat.jid = sent.chat;
    wa::proto::Message message;
    if (!message.ParseFromArray(sent.message.data(), static_cast<int>(sent.message.size()))) {
      continue;
    }
    message.clear_message_context_info();
    chat.messages.push_back(Info(sent.chat, true, sent.id, sent.t, message, ""));
    chat.last = std::max(chat.last, sent.t);
  }
  for (auto& [jid, chat] : chats) {
    std::stable_sort(chat.messages.begin(), chat.messages.end(),
                     [](const auto& a, const auto& b) {
                       return a.message_timestamp() < b.message_timestamp();
                     });
    if (auto n = names.find(jid); n != names.end()) chat.name = n->second;
  }
  std::vector<Chat> ordered;
  for (auto& [jid, chat] : chats) ordered.push_back(std::move(chat));
  // Newest conversation first, as phones send them.
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const Chat& a, const Chat& b) { return a.last > b.last; });

  const HistorySeed& seed = phone.history_seed;
  const std::int64_t now = Now();
  const int real = static_cast<int>(ordered.size());
  const int total = real + seed.conversations;
  const int per_chunk = std::max(1, seed.chunk_conversations);
  const int chunks = std::max(1, (total + per_chunk - 1) / per_chunk);
  Jid target = Jid::User(phone.number, static_cast<std::uint8_t>(device));

  // A synthetic conversation i (0-based among the seeded ones), made when its chunk is built so
  // that a large seed never exists in memory at once.
  auto synthetic = [&](int i) {
    Chat chat;
    char digits[16];
    std::snprintf(digits, sizeof digits, "1999%07d", i);
    chat.jid = Jid::User(digits).ToString();
    chat.name = "Seed contact " + std::to_string(i);
    for (int m = 0; m < seed.messages; ++m) {
      wa::proto::Message message;
      message.set_conversation("seed message " + std::to_string(m) + " in chat " +
                               std::to_string(i));
      char id[32];
      std::snprintf(id, sizeof id, "3EB0%08X%08X", static_cast<unsigned>(i),
                    static_cast<unsigned>(m));
      bool from_me = m % 2 == 1;
      std::int64_t t = now - 86400 - std::int64_t{seed.messages - m} * 60 - i;
      chat.messages.push_back(Info(chat.jid, from_me, id, t, message, chat.name));
    }
    return chat;
  };

  auto send_chunk = [&](wa::proto::HistorySync& sync, std::size_t conversations,
                        std::size_t messages) {
    std::string plain;
    sync.SerializeToString(&plain);
    base::Bytes compressed = wa::client::ZlibCompress(base::AsBytes(plain));
    plain.clear();
    plain.shrink_to_fit();
    base::Bytes media_key = wa::media::NewMediaKey();
    auto keys = wa::media::ExpandMediaKey(media_key, wa::media::MediaType::kHistory);
    auto encrypted = wa::media::Encrypt(compressed, *keys);
    auto t = std::chrono::steady_clock::now();
    auto conn = media_.IssueConn(t);
    auto url = wa::media::UploadUrl(media_.options().host, wa::media::MediaType::kHistory,
                                    encrypted.hashes.file_enc_sha256, conn.auth);
    auto parts = url ? wa::media::SplitUrl(*url) : base::Result<wa::media::UrlParts>(url.error());
    if (!parts) return;
    std::uint64_t blob_bytes = encrypted.data.size();
    auto stored = media_.Upload(parts->target, std::string(base::AsChars(encrypted.data)), t);
    if (!stored) {
      spdlog::warn("phone {}: history chunk upload refused: {}", phone.number,
                   stored.error().message);
      return;
    }
    wa::proto::Message message;
    auto* protocol = message.mutable_protocol_message();
    protocol->set_type(wa::proto::Message::ProtocolMessage::HISTORY_SYNC_NOTIFICATION);
    auto* n = protocol->mutable_history_sync_notification();
    const auto& h = encrypted.hashes;
    n->set_file_sha256(std::string(base::AsChars(base::ByteView(h.file_sha256))));
    n->set_file_length(h.file_length);
    n->set_media_key(std::string(base::AsChars(media_key)));
    n->set_file_enc_sha256(std::string(base::AsChars(base::ByteView(h.file_enc_sha256))));
    n->set_direct_path(stored->direct_path);
    n->set_sync_type(sync.sync_type());
    n->set_chunk_order(sync.chunk_order());
    n->set_progress(sync.progress());
    std::string bytes;
    message.SerializeToString(&bytes);
    auto enc = PhoneEncrypt(phone, phone, device, base::AsBytes(bytes));
    if (!enc) {
      spdlog::warn("phone {}: cannot encrypt the history notification for device {}: {}",
                   phone.number, device, enc.error().message());
      return;
    }
    std::string id = wire::NewMessageId(phone.number);
    Node enc_node("enc", {{"v", "2"}, {"type", std::string(wa::signal::EncType(enc->type))}},
                  enc->ciphertext);
    Node stanza("message",
                {{"id", id}, {"to", Jid::User(phone.number)}, {"type", "text"},
                 {"category", "peer"}},
                {Node("participants", {}, {Node("to", {{"jid", target}}, {std::move(enc_node)})})});
    phone.history_sent.push_back(HistoryNotice{
        id, target.ToString(),
        std::string(wa::client::HistorySyncTypeName(sync.sync_type())), sync.chunk_order(),
        sync.progress(), conversations, messages, blob_bytes});
    RouteMessage(phone, 0, stanza);
  };

  // The phone's session with its new companion, from the companion's signed prekey alone: the
  // history is the phone's own doing and takes none of the one-time prekeys the companion just
  // uploaded (so its prekey count stays what it uploaded).
  if (auto address = wa::signal::Address::ForDevice(phone.number, wa::signal::Domain::kPn, device)) {
    auto& protocol = phone.client->protocol();
    auto has = protocol.HasSession(*address);
    auto it = phone.companions.find(device);
    auto bundle = it != phone.companions.end() ? it->second.SignedBundle() : std::nullopt;
    if (has && !*has && bundle) {
      if (auto built = protocol.ProcessPreKeyBundle(*address, *bundle); !built) {
        spdlog::warn("phone {}: no session with device {} for its history: {}", phone.number,
                     device, built.error().message());
      }
    }
  }

  int next = 0;
  for (int c = 0; c < chunks; ++c) {
    wa::proto::HistorySync sync;
    sync.set_sync_type(c == 0 ? wa::proto::Message::INITIAL_BOOTSTRAP
                              : wa::proto::Message::RECENT);
    sync.set_chunk_order(static_cast<std::uint32_t>(c + 1));
    sync.set_progress(static_cast<std::uint32_t>((c + 1) * 100 / chunks));
    std::size_t messages = 0, conversations = 0;
    for (int k = 0; k < per_chunk && next < total; ++k, ++next) {
      Chat chat = next < real ? std::move(ordered[static_cast<std::size_t>(next)])
                              : synthetic(next - real);
      auto* conversation = sync.add_conversations();
      conversation->set_id(chat.jid);
      if (!chat.name.empty()) conversation->set_name(chat.name);
      if (auto jid = Jid::Parse(chat.jid); jid) {
        if (Phone* peer = ResolveAccount(*jid); peer && !peer->lid.empty()) {
          conversation->set_pn_jid(Jid::User(peer->number).ToString());
          conversation->set_lid_jid(Jid::Lid(peer->lid).ToString());
        }
      }
      std::uint64_t order = 1;
      for (auto& info : chat.messages) {
        conversation->set_last_msg_timestamp(info.message_timestamp());
        conversation->set_conversation_timestamp(info.message_timestamp());
        auto* item = conversation->add_messages();
        item->set_msg_order_id(order++);
        *item->mutable_message() = std::move(info);
        messages++;
      }
      conversations++;
    }
    send_chunk(sync, conversations, messages);
  }

  // PUSH_NAME: the accounts this phone talked to.
  wa::proto::HistorySync push;
  push.set_sync_type(wa::proto::Message::PUSH_NAME);
  push.set_chunk_order(1);
  push.set_progress(100);
  for (const auto& [jid, name] : names) {
    auto* p = push.add_pushnames();
    p->set_id(jid);
    p->set_pushname(name);
  }
  send_chunk(push, 0, 0);
}

}  // namespace sim
