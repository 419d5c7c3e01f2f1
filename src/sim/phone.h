// The Signal side of a simulated phone (02-messaging.md §9.2): the account's primary device 0 as
// a full Signal client. Its identity is the account identity key — the key that signs the
// companions' ADV identities — and it holds a registration id, a signed prekey and one-time
// prekeys in a wa::signal::MemoryStore, the sessions with every device it talked to, what it
// received (the inbox the control API shows) and what it sent recently (for retry receipts).
//
// Network-free: the World routes what the phone sends and hands it what it receives
// (world_phone.cc). Single-threaded like the rest of wasim. Memory stays small: prekeys are made
// in batches of kPreKeyBatch, the inbox and the sent ring are bounded.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <unordered_set>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "wa/crypto/crypto.h"
#include "wa/signal/keys.h"
#include "wa/signal/memory_store.h"
#include "wa/signal/protocol.h"

namespace sim {

// A media attachment the phone received: what the message said, and what the phone made of the
// file after downloading it from wasim's media host and verifying it (02-messaging.md §7.6).
struct InboxMedia {
  std::string type;  // image, video, ptv, audio, document, sticker
  std::string mime;
  std::uint64_t size = 0;  // fileLength of the message
  std::string sha256;      // hex SHA-256 of the decrypted file; empty when it could not be had
  std::string caption;
  std::string file_name;  // documents
  bool ptt = false;       // a voice note
  std::string error;      // empty, or why download or verification failed (media_not_found, ...)
};

// One message the phone received and decrypted.
struct InboxEntry {
  std::string id;
  std::string from;         // the sending user's PN JID (no device)
  std::string from_device;  // the exact sending device JID
  std::string chat;         // the chat: the sender for 1:1; the peer for copies of our own sends
  bool from_me = false;     // a DeviceSentMessage copy of what one of our companions sent
  std::string type;         // the stanza's type attribute: text, media, ...
  std::string text;         // conversation or extendedTextMessage.text, else empty
  std::optional<InboxMedia> media;
  std::string enc;               // "pkmsg" or "msg": how it travelled
  std::int64_t t = 0;            // server timestamp, unix seconds
  std::int64_t received_ms = 0;  // when the phone decrypted it, unix milliseconds
};

// A chat state (typing indicator) a companion of another account sent to this phone.
struct ChatStateEntry {
  std::string from;   // the sending user's PN JID
  std::string state;  // composing, recording (composing with media="audio") or paused
  std::int64_t timestamp_ms = 0;
};

// A message the phone sent, kept for retry receipts (whatsmeow keeps 256, Baileys a cache).
struct SentMessage {
  std::string id;
  std::string chat;     // destination user JID (PN)
  base::Bytes message;  // the serialized wa::proto::Message
  std::int64_t t = 0;
  std::string type = "text";  // the stanza type: text, media
  std::string mediatype;      // the <enc> mediatype attribute of media messages
};

class PhoneClient {
 public:
  static constexpr std::size_t kPreKeyBatch = 50;  // whatsmeow's WantedPreKeyCount
  static constexpr std::size_t kLowPreKeys = 5;    // MIN_PREKEY_COUNT
  // Large enough for the crash tests' 10,000-message runs to keep every message.
  static constexpr std::size_t kInboxLimit = 20000;
  static constexpr std::size_t kChatStateLimit = 1000;
  static constexpr std::size_t kSentLimit = 256;
  static constexpr int kMaxRetries = 5;

  explicit PhoneClient(const wa::crypto::KeyPair& identity);
  PhoneClient(const PhoneClient&) = delete;
  PhoneClient& operator=(const PhoneClient&) = delete;

  wa::signal::Protocol& protocol() { return protocol_; }
  wa::signal::MemoryStore& store() { return store_; }
  std::uint32_t registration_id() const { return registration_id_; }
  const wa::signal::SignedPreKey& signed_pre_key() const { return signed_pre_key_; }

  // The bundle the server hands out for device 0. Consumes one uploaded one-time prekey, topping
  // the stock up first when it runs low (as a phone does when the server says its count is low;
  // the first call makes the first batch).
  wa::signal::PreKeyBundle TakeBundle();
  std::size_t uploaded_pre_keys() const { return uploaded_.size(); }
  // A fresh one-time prekey kept only locally, for the <keys> of a retry receipt (§4.5).
  wa::signal::PreKey FreshPreKey();

  // Received messages, oldest first. A message whose id this phone already holds from the same
  // sender is dropped and counted, as a real phone drops a resend (the gateway resends with the
  // same id after a crash); returns false then. The window is the inbox itself.
  bool AddInbox(InboxEntry entry);
  bool HasReceived(std::string_view from, std::string_view id) const;
  std::uint64_t duplicates() const { return duplicates_; }

  // Chat states received, oldest first (the last kChatStateLimit).
  void AddChatState(ChatStateEntry entry);
  const std::deque<ChatStateEntry>& chat_states() const { return chat_states_; }
  const std::deque<InboxEntry>& inbox() const { return inbox_; }
  const InboxEntry* FindInbox(std::string_view id) const;

  // Sent messages, for re-encryption on retry receipts.
  void RememberSent(SentMessage sent);
  const SentMessage* FindSent(std::string_view id) const;
  const std::deque<SentMessage>& sent() const { return sent_; }

  // Retry receipts this phone sent per message id (it stops at kMaxRetries).
  int NextRetryCount(const std::string& id);

 private:
  void Refill();

  std::uint32_t registration_id_;
  wa::signal::MemoryStore store_;
  wa::signal::Protocol protocol_;
  wa::signal::SignedPreKey signed_pre_key_;
  std::uint32_t next_pre_key_id_ = 1;
  std::deque<std::uint32_t> uploaded_;    // ids the server may still hand out, oldest first
  std::deque<std::uint32_t> handed_out_;  // served but not (yet) used by a pkmsg
  std::deque<InboxEntry> inbox_;
  std::unordered_set<std::string> inbox_keys_;  // sender + id of every inbox entry
  std::uint64_t duplicates_ = 0;
  std::deque<ChatStateEntry> chat_states_;
  std::deque<SentMessage> sent_;
  std::map<std::string, int> retries_;
};

}  // namespace sim
