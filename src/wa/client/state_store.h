// The asynchronous side of a linked device's stored state (docs/design/storage.md). The client
// reads and writes its credentials, Signal keys and what it knows of its contacts (LID pairs,
// device lists, sent messages) through the synchronous DeviceStore, wa::signal::Store and
// ContactStore this object hands out; an implementation backed by a database serves those
// calls from a per-session write-back cache, and these two coroutines move data between that
// cache and the database off the network thread:
//
// - Prefetch(request) before a step that will touch known records (the recipient's devices when
//   sending; the sender's address and a pkmsg's prekey id when receiving), so the synchronous
//   calls hit memory. A record that was not prefetched still works (the implementation reads it
//   through, synchronously, and counts it), so a missing prefetch costs latency, not correctness.
// - Commit() after a step and before acknowledging the stanza that caused it: when it returns
//   success every write made through the synchronous interfaces before the call is committed:
//   a crash of the process loses exactly the uncommitted ones. Writes are NOT kept before that,
//   whatever the synchronous calls returned. DeviceStore::Wipe() is a write like the others.
//   An implementation may return before the disk has synced the commit, leaving the last
//   milliseconds of commits exposed to a power loss (the gateway's does: ratchet steps are
//   repaired by retry receipts; docs/design/storage.md).
// - CommitDurable() where a power loss must not undo the writes either: keys whose public
//   halves the server will hand out (prekeys, signed prekeys, a retry receipt's keys) and the
//   credentials of a new pairing. It also waits for earlier commits to reach the disk.
//
// Threading: everything, including the synchronous stores, is used from the owner's strand only.
// The object must outlive any Prefetch or Commit in progress. Neither coroutine is abandoned
// half-way when the awaiting coroutine is cancelled: a Commit that started completes, so a
// ratchet step and its commit are never split by cancellation (STYLE.md).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "wa/client/contact_store.h"
#include "wa/client/store.h"
#include "wa/signal/address.h"
#include "wa/signal/store.h"

namespace wa::client {

// One sender key: the member `sender` of group `group_id`.
struct SenderKeyId {
  std::string group_id;
  signal::Address sender;
};

// What the next synchronous step will read. Each list may be empty.
struct PrefetchRequest {
  std::vector<signal::Address> addresses;  // sessions and peer identities of these devices
  std::vector<std::uint32_t> pre_key_ids;  // one-time prekeys (a pkmsg names at most one)
  std::vector<SenderKeyId> sender_keys;
  // Names whose device list ListSessionDevices / DeleteAllSessions will need.
  std::vector<std::string> session_names;
  // ContactStore records: usync device lists (user JIDs), LID pairs (by PN user and by LID
  // user) and sent messages (ids).
  std::vector<std::string> device_lists;
  std::vector<std::string> lids_of_pns;
  std::vector<std::string> pns_of_lids;
  std::vector<std::string> sent_messages;
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  // The synchronous views; all live as long as this object.
  virtual signal::Store& signal_store() = 0;
  virtual DeviceStore& device_store() = 0;
  virtual ContactStore& contact_store() = 0;

  // Loads what `request` names and the cache lacks. `request` must stay valid until the
  // awaitable completes (callers pass a local and await at once). An error means the records
  // stay unloaded; the synchronous calls then read them through.
  virtual boost::asio::awaitable<base::Result<void>> Prefetch(const PrefetchRequest& request) = 0;
  // Commits every write made so far (see above). Failure leaves those writes pending: a later
  // Commit retries them.
  virtual boost::asio::awaitable<base::Result<void>> Commit() = 0;
  // Commit, and on disk before it returns. The default suits an implementation whose Commit
  // already waits for the disk.
  virtual boost::asio::awaitable<base::Result<void>> CommitDurable() { co_return co_await Commit(); }
};

}  // namespace wa::client
