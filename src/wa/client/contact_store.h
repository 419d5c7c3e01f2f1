// What a linked device remembers about the accounts it talks to, so that a restart does not start
// over (docs/design/storage.md): the LID <-> phone-number pairs the server taught us, the device
// list of each user (usync, 02-messaging.md §2) and the recent messages we sent, whose plaintext
// answers a peer's retry receipt by encrypting the message again (§3.6).
//
// Same rules as DeviceStore and wa::signal::Store: synchronous, used from the client's strand
// only, reached through StateStore::contact_store(), and durable only once StateStore::Commit()
// returned. An implementation backed by a database serves these calls from its write-back cache
// (StateStore::Prefetch names what the next step reads); a miss reads through.
//
// Users are named by their JIDs' text without device ("15550001111@s.whatsapp.net",
// "123456789012345@lid"); the LID map by the bare user parts ("15550001111" <-> "1234…").
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace wa::client {

// One user's devices as a usync answer listed them.
struct DeviceList {
  std::vector<std::uint16_t> devices;  // ascending; 0 is the phone
  std::int64_t key_index_ts = 0;       // <key-index-list ts>: when the list last changed
  std::int64_t fetched_ms = 0;         // unix ms of the answer

  friend bool operator==(const DeviceList&, const DeviceList&) = default;
};

// A message we sent, as needed to encrypt it again for one device.
struct SentMessageRecord {
  std::string chat;     // the recipient user (or our own for notes to self)
  std::string type;     // the stanza's type attribute ("text", "media")
  std::string message;  // the serialized wa::proto::Message, before the DeviceSent wrapping
  std::int64_t sent_ms = 0;

  friend bool operator==(const SentMessageRecord&, const SentMessageRecord&) = default;
};

// How many sent messages a store keeps per linked device: the newest `max_count`, none older
// than `max_age_ms` before the newest one (age is measured against the records' own times, so
// a store needs no clock). A retry receipt for an older message is acknowledged and ignored.
struct SentMessageBounds {
  std::size_t max_count = 1024;
  std::int64_t max_age_ms = 7LL * 24 * 3600 * 1000;
};

// Serialized form of a SentMessageRecord (for stores that keep bytes): u64 sent_ms, then chat,
// type and message, each u32-length-prefixed, all big-endian. Decode answers nullopt on
// anything malformed.
std::string EncodeSentMessage(const SentMessageRecord& record);
std::optional<SentMessageRecord> DecodeSentMessage(std::string_view encoded);

class ContactStore {
 public:
  virtual ~ContactStore() = default;

  // --- LID <-> phone number (bare user parts) ---
  // Records that `pn_user` is `lid_user`. A pair replaces any earlier pair of either side.
  virtual base::Result<void> PutLidMapping(std::string_view pn_user, std::string_view lid_user) = 0;
  virtual base::Result<std::optional<std::string>> GetLidOfPn(std::string_view pn_user) = 0;
  virtual base::Result<std::optional<std::string>> GetPnOfLid(std::string_view lid_user) = 0;

  // --- device lists (by user JID text) ---
  virtual base::Result<void> PutDeviceList(std::string_view user, const DeviceList& list) = 0;
  virtual base::Result<std::optional<DeviceList>> GetDeviceList(std::string_view user) = 0;
  // Forgets the list (a devices notification, a refused send): the next send asks again.
  virtual base::Result<void> InvalidateDeviceList(std::string_view user) = 0;

  // --- sent messages (by message id; ids are random, so unique per sender) ---
  // Keeps the record within the store's SentMessageBounds; a later put of the same id replaces
  // it.
  virtual base::Result<void> PutSentMessage(std::string_view id,
                                            const SentMessageRecord& record) = 0;
  virtual base::Result<std::optional<SentMessageRecord>> GetSentMessage(std::string_view id) = 0;
};

}  // namespace wa::client
