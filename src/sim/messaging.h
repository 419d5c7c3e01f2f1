// The World's messaging state (02-messaging.md §9.1): a bounded log of routed messages (for
// `sender` receipts that name no device, and for the control API's debug view), presence, the
// accounts that talked to each other (device-change notifications go to them), counters, and the
// stanzas a companion still has to acknowledge. The behaviour lives in messaging.cc
// (server duties) and world_phone.cc (the simulated phones); both are World members.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wa/binary/node.h"

namespace sim {

// A stanza sent to a companion that the server keeps until the companion acks it (or sends a
// receipt for it): when the connection closes first it goes back to the offline queue.
struct PendingStanza {
  std::uint64_t connection_id = 0;
  wa::binary::Node node;
};

// What the server did with one <message> id.
struct RoutedMessage {
  std::string id;
  std::string from;  // the sending device
  std::string to;    // the stanza's `to`
  std::int64_t t = 0;
  struct Delivery {
    std::string device;  // the receiving device
    std::string enc;     // the enc types it got, comma-separated ("pkmsg", "msg", "skmsg")
  };
  std::vector<Delivery> deliveries;
};

// The most recent routed messages by id; the oldest are forgotten beyond `limit`.
class RoutingLog {
 public:
  explicit RoutingLog(std::size_t limit) : limit_(limit) {}
  // The record for `id`, created (evicting the oldest) if new. A re-send of the same id (a
  // retry) adds to the existing record.
  RoutedMessage& Record(const std::string& id);
  const RoutedMessage* Find(std::string_view id) const;
  std::size_t size() const { return by_id_.size(); }

 private:
  std::size_t limit_;
  std::map<std::string, RoutedMessage, std::less<>> by_id_;
  std::deque<std::string> order_;
};

struct MessagingStats {
  std::uint64_t messages_routed = 0;  // <message> stanzas accepted from a device
  std::uint64_t receipts_routed = 0;  // <receipt> stanzas accepted from a device
  std::uint64_t notifications_sent = 0;
  std::uint64_t enc_pkmsg = 0;  // delivered <enc> by type
  std::uint64_t enc_msg = 0;
  std::uint64_t enc_skmsg = 0;
  std::uint64_t bundles_served = 0;   // prekey bundles handed out (iq and phones)
  std::uint64_t undeliverable = 0;    // addressed devices that do not exist or may not be
  std::uint64_t offline_dropped = 0;  // queued stanzas dropped because a queue was full
  std::uint64_t presence_relayed = 0;
  std::uint64_t chatstates_relayed = 0;
  std::uint64_t phone_decrypt_failures = 0;
  // Messages phones dropped because they already held the id from the same sender.
  std::uint64_t phone_duplicates = 0;
  // Retry receipts routed (from phones and companions): each one is a message some device could
  // not decrypt.
  std::uint64_t retry_receipts = 0;
  // usync queries that asked for device lists, and the users they named: a client that caches
  // device lists asks only for users it does not know.
  std::uint64_t usync_device_queries = 0;
  std::uint64_t usync_device_users = 0;
};

struct MessagingState {
  static constexpr std::size_t kRoutingLogLimit = 4096;
  // Per companion: beyond these the oldest entries are dropped (and counted).
  static constexpr std::size_t kOfflineLimit = 5000;
  static constexpr std::size_t kUnackedLimit = 1000;

  RoutingLog log{kRoutingLogLimit};
  MessagingStats stats;
  // Presence (§6): devices that announced themselves available, when each account was last
  // seen, and subscriptions (target account -> connection ids and back).
  std::set<std::pair<std::string, std::uint16_t>> available;
  std::map<std::string, std::int64_t> last_seen;
  std::map<std::string, std::set<std::uint64_t>> subscribers;
  std::map<std::uint64_t, std::set<std::string>> subscriptions;
  // Accounts that exchanged messages: they may cache each other's device lists.
  std::map<std::string, std::set<std::string>> peers;
};

}  // namespace sim
