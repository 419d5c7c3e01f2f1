// The simulated WhatsApp network's state and server behaviour (connection layer,
// shared/protocol/01-connection.md §9): phones (primary devices) and their linked companions,
// QR refs, pairing, login, keepalive, the post-login iqs, offline queues and stream errors.
// Runs on wasim's single thread; the chat listener and the control API call into it.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/blocking_pool.h"
#include "base/bytes.h"
#include "base/result.h"
#include "sim/faults.h"
#include "sim/media_store.h"
#include "sim/messaging.h"
#include "sim/phone.h"
#include "wa/binary/node.h"
#include "wa/crypto/crypto.h"
#include "wa/noise/handshake.h"

namespace wa::proto {
class Message;
}  // namespace wa::proto

namespace sim {

class Connection;

struct Stats {
  std::uint64_t connections_total = 0;
  std::uint64_t connections_open = 0;
  std::uint64_t handshakes = 0;
  std::uint64_t frames_in = 0;
  std::uint64_t frames_out = 0;
  std::uint64_t stanzas_routed = 0;
  std::uint64_t pairings = 0;
  std::uint64_t logins = 0;
  std::uint64_t login_failures = 0;
  // Injected faults and the idle sweep.
  std::uint64_t frames_lost = 0;
  std::uint64_t frames_delayed = 0;
  std::uint64_t connections_refused = 0;
  std::uint64_t connections_dropped = 0;
  std::uint64_t idle_closed = 0;
};

struct WorldOptions {
  wa::crypto::KeyPair noise_root;   // signs the intermediate certificate
  int refs_per_connection = 6;
  std::chrono::seconds first_ref_ttl{60};
  std::chrono::seconds next_ref_ttl{20};
  std::chrono::seconds pair_sign_timeout{20};
  // How long the phone waits for companion_finish after primary_hello (pairing code).
  std::chrono::seconds code_finish_timeout{30};
  // Connections that send nothing for this long are dropped; zero disables the sweep. Clients
  // ping every 20-30 s (01-connection.md §7.4).
  std::chrono::milliseconds idle_timeout{90'000};
  std::uint64_t fault_seed = 0;  // initial seed of the fault PRNG (POST /v1/faults may reseed)
  MediaOptions media;            // the media host (media_store.h)
};

struct SignedPreKey {
  std::uint32_t id = 0;
  base::Bytes public_key;  // 32
  base::Bytes signature;   // 64
};

// A companion (linked device) of a phone.
struct Companion {
  std::uint16_t device_id = 0;
  wa::crypto::Key32 noise_key{};  // the companion's Noise static key, fixed at registration
  base::Bytes identity_key;       // 32, no 0x05
  std::uint32_t registration_id = 0;
  SignedPreKey signed_prekey;
  std::map<std::uint32_t, base::Bytes> prekeys;  // one-time prekeys by id
  std::string platform;           // DeviceProps.os + platform type, for the devices list
  std::uint32_t key_index = 0;
  base::Bytes adv_identity;       // ADVSignedDeviceIdentity with the device signature
  std::int64_t linked_at = 0;
  std::weak_ptr<Connection> connection;
  bool history_sent = false;  // the phone sent its history sync after linking (world_history.cc)
  std::deque<wa::binary::Node> offline;  // stanzas waiting for the next login
  std::vector<PendingStanza> unacked;     // sent, not yet acked (messaging.cc)

  // Its prekey bundle without a one-time prekey (identity and signed prekey, device `device_id`);
  // none when its keys are not all of their sizes.
  std::optional<wa::signal::PreKeyBundle> SignedBundle() const;
};

// History sync after linking (world_history.cc): synthetic conversations the phone holds besides
// the real ones (seeded through the control API for tests and benchmarks), how many conversations
// go in one chunk, and the hist_sync receipts the phone got back.
struct HistorySeed {
  int conversations = 0;
  int messages = 0;  // per conversation
  int chunk_conversations = 10;
};
struct HistoryReceipt {
  std::string id;      // the notification message's id
  std::string device;  // the companion that sent the receipt
  std::int64_t t = 0;  // when wasim got it, unix seconds
};
struct HistoryNotice {
  std::string id;  // the peer message's id
  std::string device;
  std::string sync_type;
  std::uint32_t chunk_order = 0;
  std::uint32_t progress = 0;
  std::size_t conversations = 0;
  std::size_t messages = 0;
  std::uint64_t blob_bytes = 0;  // the encrypted blob uploaded
};

struct Phone {
  std::string number;
  std::string name;
  std::string lid;                  // 15-digit LID user
  wa::crypto::KeyPair identity;     // the account's identity key (signs ADV identities)
  std::uint32_t adv_raw_id = 0;
  std::uint32_t next_key_index = 1;
  std::uint16_t next_device_id = 1;
  std::map<std::uint16_t, Companion> companions;
  std::unique_ptr<PhoneClient> client;  // device 0 as a Signal client (phone.h)
  HistorySeed history_seed;
  std::vector<HistoryNotice> history_sent;
  std::vector<HistoryReceipt> history_receipts;
};

// Why a control-API operation failed: an HTTP status and a stable problem code.
struct ControlError {
  int status;
  std::string code;
  std::string detail;
};
template <class T>
using ControlResult = base::Result<T, ControlError>;

class World {
 public:
  World(boost::asio::any_io_executor ex, WorldOptions options);
  ~World();

  // For each new connection: the server's static key and certificate chain, fresh ephemeral.
  wa::noise::ResponderOptions ResponderOptions() const;
  const wa::crypto::KeyPair& noise_root() const { return options_.noise_root; }

  void OnOpened(const std::shared_ptr<Connection>& conn);
  void OnHandshake(Connection& conn);
  void OnNode(Connection& conn, const wa::binary::Node& node);
  void OnClosed(Connection& conn);

  // Control API.
  struct PhoneInfo {
    std::string phone, jid, lid, name;
    wa::crypto::Key32 identity_key{};  // the account's identity public key (signs ADV identities)
    std::uint64_t duplicates = 0;      // resent messages the phone dropped (phone.h AddInbox)
  };
  ControlResult<PhoneInfo> CreatePhone(const std::string& number, const std::string& name);
  ControlResult<PhoneInfo> GetPhone(const std::string& number) const;
  // Links the companion that shows `qr`; completes when the companion has signed (or failed).
  boost::asio::awaitable<ControlResult<std::string>> Scan(std::string number, std::string qr);
  // The phone's user types `code` (pairing code, 01-connection.md §6) for the companion that
  // most recently asked to link with this number; completes like Scan. world_link_code.cc.
  boost::asio::awaitable<ControlResult<std::string>> EnterPairingCode(std::string number,
                                                                      std::string code);
  struct DeviceInfo {
    std::string jid, lid, platform;
    std::int64_t linked_at;
    bool connected;
  };
  ControlResult<std::vector<DeviceInfo>> Devices(const std::string& number) const;
  ControlResult<void> Unlink(const std::string& number, const std::string& device_jid);

  // Faults (faults.h): the persistent ones live in faults(); ApplyFaults also carries out a
  // request's one-shot actions. What they did:
  struct FaultOutcome {
    std::size_t dropped = 0;
    std::size_t stream_errors = 0;
    std::size_t corruptions_pending = 0;  // corrupt_next_message faults not yet carried out
  };
  ControlResult<FaultOutcome> ApplyFaults(const FaultRequest& request);
  // Carries out a pending corrupt_next_message fault for (phone, device) on `message`, if any.
  bool TakeCorruption(const std::string& phone, std::uint16_t device, wa::binary::Node& message);
  Faults& faults() { return faults_; }

  // Idle connections: StartIdleSweep arms a timer that calls CloseIdle periodically.
  void StartIdleSweep();
  // Drops every connection whose last incoming frame is older than the idle timeout at `now`;
  // returns how many.
  std::size_t CloseIdle(std::chrono::steady_clock::time_point now);

  Stats& stats() { return stats_; }
  std::size_t device_count() const;
  std::size_t offline_queue_depth() const;

  // Messaging (messaging.cc, world_phone.cc). The phone sends `text` to `to` (a phone number or
  // a user JID, PN or LID), end-to-end encrypted to every device of the recipient and to its own
  // companions; returns the message id and server timestamp.
  struct SentInfo {
    std::string id;
    std::int64_t t;
  };
  ControlResult<SentInfo> SendText(const std::string& number, const std::string& to,
                                   const std::string& text);
  // What the phone received (decrypted), oldest first, received at or after `since_ms`.
  ControlResult<std::vector<InboxEntry>> Inbox(const std::string& number,
                                               std::int64_t since_ms) const;
  // Chat states (typing) companions of other accounts sent to the phone, oldest first.
  ControlResult<std::vector<ChatStateEntry>> ChatStates(const std::string& number) const;
  // The phone reads received messages: read receipts to their senders. Returns how many
  // receipt stanzas were sent (one per sending device, batching ids).
  ControlResult<std::size_t> MarkRead(const std::string& number,
                                      const std::vector<std::string>& ids);
  const RoutedMessage* FindRouted(std::string_view id) const { return messaging_.log.Find(id); }
  // A phone's Signal client (tests, debugging); null for an unknown number.
  PhoneClient* phone_client(const std::string& number) {
    auto it = phones_.find(number);
    return it == phones_.end() ? nullptr : it->second.client.get();
  }
  const MessagingStats& messaging_stats() const { return messaging_.stats; }

  // Media (world_media.cc). The phone fetches `url` (loopback only, fetch.h), encrypts it,
  // uploads it to wasim's media host and sends the media message to `to` like SendText.
  struct MediaSend {
    std::string type;  // image, video, ptv, audio, document, sticker
    std::string url;
    std::string caption, file_name, mime;
    bool ptt = false;  // audio as a voice note
    std::optional<std::uint32_t> seconds;
  };
  boost::asio::awaitable<ControlResult<SentInfo>> SendMedia(std::string number, std::string to,
                                                            MediaSend media);
  MediaStore& media() { return media_; }

  // History sync (world_history.cc): seed synthetic conversations; what was sent and receipted.
  ControlResult<void> SeedHistory(const std::string& number, HistorySeed seed);
  ControlResult<const Phone*> HistoryOf(const std::string& number) const;
  struct QueueDepths {
    std::size_t messages = 0, receipts = 0, notifications = 0, unacked = 0;
  };
  QueueDepths queue_depths() const;

 private:
  struct PendingPair;
  struct CodeLink;

  // Sends pair-success for `number` to a companion waiting on `conn` (HMAC keyed by
  // `adv_secret`) and waits for its pair-device-sign: the common end of both linking paths.
  boost::asio::awaitable<ControlResult<std::string>> LinkCompanion(std::shared_ptr<Connection> conn,
                                                                   std::string number,
                                                                   base::Bytes adv_secret);
  void HandleLinkCodeReg(Connection& conn, const wa::binary::Node& iq);
  void ForgetCodeLink(Connection& conn);
  void ArmIdleSweep();
  std::vector<std::shared_ptr<Connection>> FaultTargets(const FaultTarget& target) const;

  void SendPairDevice(Connection& conn);
  void HandleIq(Connection& conn, const wa::binary::Node& iq);
  void HandlePairDeviceSign(Connection& conn, const wa::binary::Node& iq);
  void Login(Connection& conn);
  void RemoveCompanion(Phone& phone, std::uint16_t device_id, bool notify);
  void ReplyResult(Connection& conn, const wa::binary::Node& iq,
                   wa::binary::Node::Children children = {});
  void ReplyError(Connection& conn, const wa::binary::Node& iq, int code, std::string_view text);
  Phone* FindPhone(const std::string& number);
  std::shared_ptr<Connection> FindConnection(std::uint64_t id) const;
  std::string NextIqId();
  static std::int64_t Now();

  // --- messaging: server duties (messaging.cc) ---
  // Hooks from the connection layer: stanzas of a logged-in companion other than iq; iqs the
  // connection layer does not know (both return false when the stanza is not theirs); the
  // offline backlog at login (returns its size); a closed connection; a linked or removed
  // companion.
  bool HandleMessagingNode(Connection& conn, const wa::binary::Node& node);
  bool HandleMessagingIq(Connection& conn, const wa::binary::Node& iq);
  std::size_t FlushOffline(Connection& conn, Companion& companion);
  void MessagingClosed(Connection& conn);
  void DevicesChanged(Phone& phone, std::uint16_t device, bool added, std::uint32_t key_index);
  // Routing, for companions and phones alike: `sender` is the account, `device` its device.
  void RouteMessage(Phone& sender, std::uint16_t device, const wa::binary::Node& message);
  void RouteReceipt(Phone& sender, std::uint16_t device, const wa::binary::Node& receipt);
  // The one place a stanza reaches a device: a connected companion now (kept until acked), an
  // offline companion at its next login, a phone through the event loop (world_phone.cc).
  void Deliver(Phone& account, std::uint16_t device, wa::binary::Node stanza);
  // The account a user or device JID (s.whatsapp.net or lid) belongs to.
  Phone* ResolveAccount(const wa::binary::Jid& jid);
  // Device ids of an account: 0 (the phone) and its companions.
  static std::vector<std::uint16_t> DeviceIds(const Phone& phone);
  // One prekey bundle for a device (consumes a one-time prekey; tells a companion when its stock
  // runs low). nullopt for an unknown device.
  std::optional<wa::signal::PreKeyBundle> TakeBundle(Phone& account, std::uint16_t device);
  void ServeBundles(Connection& conn, const wa::binary::Node& iq);
  void AnswerUsync(Connection& conn, const wa::binary::Node& iq);
  void RemoveUnacked(Phone& account, std::uint16_t device, std::string_view tag,
                     const std::vector<std::string>& ids);
  void HandlePresence(Connection& conn, Phone& sender, std::uint16_t device,
                      const wa::binary::Node& presence);
  void HandleChatState(Phone& sender, const wa::binary::Node& chatstate);
  void BroadcastPresence(const Phone& account);
  wa::binary::Node PresenceOf(const Phone& account) const;

  // --- media (world_media.cc) ---
  bool HandleMediaIq(Connection& conn, const wa::binary::Node& iq);
  // What the phone makes of a received media message: it downloads the file from the media host
  // and verifies it. nullopt when `message` carries no media.
  std::optional<InboxMedia> PhoneReceiveMedia(const wa::proto::Message& message);

  // --- history sync (world_history.cc) ---
  // The phone sends companion `device` its history: chunks of conversations (INITIAL_BOOTSTRAP,
  // then RECENT) and a PUSH_NAME chunk, each blob uploaded to the media host and announced in a
  // peer message.
  void SendHistory(Phone& phone, std::uint16_t device);
  void RecordHistoryReceipt(Phone& phone, const wa::binary::Node& receipt);

  // --- messaging: the simulated phones (world_phone.cc) ---
  // The account `to` names (digits or a user JID without device).
  ControlResult<Phone*> ResolveRecipient(const std::string& to);
  // Encrypts `message` from the phone to every device of `peer` and to the phone's companions
  // (as DeviceSentMessage) and routes it; `type` is the stanza type, `mediatype` (may be empty)
  // the <enc>s' attribute.
  SentInfo PhoneSend(Phone& phone, Phone& peer, const wa::proto::Message& message,
                     std::string_view type, std::string_view mediatype);
  void PhoneReceive(const std::string& number, const wa::binary::Node& stanza);
  void PhoneOnMessage(Phone& phone, const wa::binary::Node& message);
  void PhoneOnRetry(Phone& phone, const wa::binary::Node& receipt);
  // Encrypts padded `message` for one device, fetching a bundle first when there is no session.
  base::Result<wa::signal::EncryptedMessage> PhoneEncrypt(Phone& phone, Phone& account,
                                                          std::uint16_t device,
                                                          base::ByteView message);

  boost::asio::any_io_executor ex_;
  WorldOptions options_;
  wa::crypto::KeyPair server_static_;
  base::Bytes cert_chain_;
  std::map<std::string, Phone> phones_;           // by phone number
  std::map<std::string, std::string> lid_to_phone_;
  std::map<std::uint64_t, std::weak_ptr<Connection>> connections_;
  struct RefInfo {
    std::uint64_t connection_id;
    std::chrono::steady_clock::time_point expires;
  };
  std::map<std::string, RefInfo> refs_;
  std::map<std::uint64_t, std::shared_ptr<PendingPair>> pending_pairs_;  // by connection id
  std::map<std::uint64_t, std::shared_ptr<CodeLink>> code_links_;        // by connection id
  std::uint64_t next_code_link_ = 1;
  std::uint64_t next_iq_ = 1;
  Stats stats_;
  Faults faults_;
  // corrupt_next_message faults waiting for their message: (phone number, device).
  std::multiset<std::pair<std::string, std::uint16_t>> corrupt_next_;
  MessagingState messaging_;
  MediaStore media_;
  boost::asio::steady_timer idle_timer_;
  // PBKDF2 with 131072 iterations takes 50-200 ms: run it off wasim's one thread.
  base::BlockingPool kdf_pool_{1};
};

}  // namespace sim
