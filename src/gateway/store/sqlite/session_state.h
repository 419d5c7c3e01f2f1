// The stored state of linked numbers in the SQLite store (docs/design/storage.md): per session
// (a linked number, keyed by the gateway's session id), a SessionState is the wa::client's
// DeviceStore, ContactStore and wa::signal::Store, served from a write-back cache, and its StateStore whose
// Prefetch/Commit move records between that cache and the database on the store's pool.
//
// - Reads come from the cache. A miss reads through to the database synchronously, on the
//   calling (network) thread, and is counted (sync_reads(), wagate_store_sync_reads_total): a
//   missing Prefetch shows up in metrics, not as a bug.
// - Writes go to the cache and a dirty set; Commit() writes the dirty set in one transaction.
//   Commits of all sessions that are waiting at the same moment share one transaction (group
//   commit). Alone (no GroupWriter), Commit returns once that transaction is durable
//   (synchronous=FULL). In the gateway's GroupWriter it returns once the transaction committed,
//   without waiting for the sync that follows every commit: a killed process loses exactly the
//   writes not yet committed, and a power loss at most the commits of the last sync's few
//   milliseconds besides, always a prefix of them (what WhatsApp's own clients and the
//   reference libraries accept for ratchet state: a step undone that way is a repeated message
//   key, which the peer rejects and the retry receipt repairs). Messages, receipts' causes and
//   everything promised to a client wait for durability (message_store.h).
// - Wipe() (DeviceStore) forgets the credentials and every Signal record of the session; the next
//   Commit removes all of its rows in the same transaction as any later writes.
// - Credentials and signed prekeys stay in memory while the state is open; sessions, peer
//   identities, sender keys, device lists and LID pairs are kept least-recently-used within
//   `cache_bytes`; one-time prekeys and sent messages are dropped as soon as a commit made them
//   durable (they are read at most once more: a pkmsg naming the prekey, a retry receipt).
//   Dirty records are never evicted.
// - Sent messages are bounded per session (`sent_messages`): each commit that wrote one removes
//   the session's rows beyond the newest `max_count` and those older than `max_age_ms` before
//   the newest.
// - Secrets (credentials, session and sender-key records, private keys, sent messages) are sealed under the
//   master key (gateway/store/sealer.h) with the row's identity as associated data.
//
// Threading: a SessionState is used from its owner's strand only, like the interfaces it
// implements. SessionStates (the factory, shared by all sessions of a store) is thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/intrusive/list.hpp>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "gateway/store/sealer.h"
#include "gateway/store/sqlite/sqlite_store.h"
#include "wa/client/contact_store.h"
#include "wa/client/credentials.h"
#include "wa/client/state_store.h"
#include "wa/client/store.h"
#include "wa/signal/store.h"

namespace gateway::store::sqlite {

struct SessionStateOptions {
  // Per session, the bytes of cached records (key, value and bookkeeping) above which the least
  // recently used clean ones are dropped after a commit, prefetch or read-through.
  std::size_t cache_bytes = 32 * 1024;
  wa::client::SentMessageBounds sent_messages;
};

struct SessionStateStats {
  std::uint64_t sync_reads = 0;          // cache misses read through on the calling thread
  std::uint64_t commits = 0;             // Commit calls that had something to write and succeeded
  std::uint64_t transactions = 0;        // committed write transactions (one fsync each)
  std::uint64_t failed_transactions = 0;
};

class SessionState;

class SessionStates {
 public:
  // `store` must be migrated and must outlive this object; `master_key` is 32 bytes.
  SessionStates(SqliteStore& store, base::ByteView master_key, SessionStateOptions options = {});
  // Waits for commits in progress. Every SessionState must be gone before.
  ~SessionStates();
  SessionStates(const SessionStates&) = delete;
  SessionStates& operator=(const SessionStates&) = delete;

  // Opens one session's state (loads its credentials and signed prekeys). A session with no rows
  // opens empty (DeviceStore::Load answers nullopt). kInUse if it is already open here;
  // kUndecryptable if its credentials do not open under the master key.
  boost::asio::awaitable<base::Result<std::unique_ptr<SessionState>>> Open(std::string session_id);
  // Removes every row of a session that is not open, in one transaction (kInUse if open).
  boost::asio::awaitable<base::Result<void>> Delete(std::string session_id);
  // Session ids that hold credentials, ascending.
  boost::asio::awaitable<base::Result<std::vector<std::string>>> List();

  SessionStateStats stats() const;

  class Committer;
  struct Batch;

 private:
  friend class SessionState;
  using Loaded = std::vector<std::pair<std::string, std::optional<base::Bytes>>>;

  bool Reserve(const std::string& session_id);
  void Release(const std::string& session_id);
  // Reads cache records (by cache key) of one session with a connection of the calling thread.
  base::Result<Loaded> ReadRecords(const std::string& session_id, const Sealer& sealer,
                                   const std::vector<std::string>& keys);

  SqliteStore& store_;
  base::Bytes master_key_;
  SessionStateOptions options_;
  std::unique_ptr<Committer> committer_;
  std::mutex open_mu_;
  std::set<std::string, std::less<>> open_;
  std::atomic<std::uint64_t> sync_reads_{0};
  std::atomic<std::uint64_t> commits_{0};
};

class SessionState final : public wa::client::StateStore,
                           public wa::signal::Store,
                           public wa::client::DeviceStore,
                           public wa::client::ContactStore {
 public:
  // Writes not committed are lost (as in a crash).
  ~SessionState() override;
  SessionState(const SessionState&) = delete;
  SessionState& operator=(const SessionState&) = delete;

  const std::string& session_id() const { return session_id_; }

  // --- wa::client::StateStore ---
  wa::signal::Store& signal_store() override { return *this; }
  wa::client::DeviceStore& device_store() override { return *this; }
  wa::client::ContactStore& contact_store() override { return *this; }
  boost::asio::awaitable<base::Result<void>> Prefetch(
      const wa::client::PrefetchRequest& request) override;
  boost::asio::awaitable<base::Result<void>> Commit() override;
  boost::asio::awaitable<base::Result<void>> CommitDurable() override;

  // --- wa::client::DeviceStore (durable after Commit) ---
  base::Result<std::optional<wa::client::Credentials>> Load() override;
  base::Result<void> Save(const wa::client::Credentials& credentials) override;
  base::Result<void> Wipe() override;

  // --- wa::client::ContactStore (durable after Commit) ---
  base::Result<void> PutLidMapping(std::string_view pn_user, std::string_view lid_user) override;
  base::Result<std::optional<std::string>> GetLidOfPn(std::string_view pn_user) override;
  base::Result<std::optional<std::string>> GetPnOfLid(std::string_view lid_user) override;
  base::Result<void> PutDeviceList(std::string_view user,
                                   const wa::client::DeviceList& list) override;
  base::Result<std::optional<wa::client::DeviceList>> GetDeviceList(
      std::string_view user) override;
  base::Result<void> InvalidateDeviceList(std::string_view user) override;
  base::Result<void> PutSentMessage(std::string_view id,
                                    const wa::client::SentMessageRecord& record) override;
  base::Result<std::optional<wa::client::SentMessageRecord>> GetSentMessage(
      std::string_view id) override;

  // --- wa::signal::Store (durable after Commit) ---
  // The identity and registration id are the credentials' (kNoCredentials before a Save).
  base::Result<wa::crypto::KeyPair> GetIdentityKeyPair() override;
  base::Result<std::uint32_t> GetRegistrationId() override;
  base::Result<std::optional<wa::signal::Key32>> GetIdentity(
      const wa::signal::Address& address) override;
  base::Result<void> SaveIdentity(const wa::signal::Address& address,
                                  const wa::signal::Key32& identity) override;
  base::Result<std::optional<base::Bytes>> LoadSession(
      const wa::signal::Address& address) override;
  base::Result<void> StoreSession(const wa::signal::Address& address,
                                  base::ByteView record) override;
  base::Result<bool> ContainsSession(const wa::signal::Address& address) override;
  base::Result<void> DeleteSession(const wa::signal::Address& address) override;
  base::Result<void> DeleteAllSessions(std::string_view name) override;
  base::Result<std::vector<std::uint32_t>> ListSessionDevices(std::string_view name) override;
  base::Result<std::optional<wa::signal::PreKey>> LoadPreKey(std::uint32_t id) override;
  base::Result<void> StorePreKey(const wa::signal::PreKey& key) override;
  base::Result<void> RemovePreKey(std::uint32_t id) override;
  base::Result<bool> ContainsPreKey(std::uint32_t id) override;
  base::Result<std::optional<wa::signal::SignedPreKey>> LoadSignedPreKey(std::uint32_t id) override;
  base::Result<void> StoreSignedPreKey(const wa::signal::SignedPreKey& key) override;
  base::Result<void> RemoveSignedPreKey(std::uint32_t id) override;
  base::Result<bool> ContainsSignedPreKey(std::uint32_t id) override;
  base::Result<std::vector<std::uint32_t>> ListSignedPreKeys() override;
  base::Result<std::optional<base::Bytes>> LoadSenderKey(
      std::string_view group_id, const wa::signal::Address& sender) override;
  base::Result<void> StoreSenderKey(std::string_view group_id, const wa::signal::Address& sender,
                                    base::ByteView record) override;
  base::Result<void> DeleteSenderKey(std::string_view group_id,
                                     const wa::signal::Address& sender) override;

  // --- Observation ---
  std::uint64_t sync_reads() const { return sync_reads_; }
  bool has_uncommitted() const { return dirty_count_ > 0 || wipe_seq_ != 0; }
  std::size_t cached_records() const { return entries_.size(); }
  std::size_t cached_bytes() const { return cached_bytes_; }
  // Drops every clean cached record (for a session gone idle); credentials and signed prekeys
  // stay.
  void ReleaseCache();

 private:
  friend class SessionStates;

  // One cached record. `value` nullopt: known to be absent (a deletion, when dirty).
  struct Entry {
    boost::intrusive::list_member_hook<> lru;
    const std::string* key = nullptr;
    std::optional<base::Bytes> value;
    std::uint64_t dirty_seq = 0;  // the uncommitted write's sequence number; 0 when clean
    std::uint64_t write_seq = 0;  // the last write's, kept after it is committed
  };
  using LruList = boost::intrusive::list<
      Entry, boost::intrusive::member_hook<Entry, boost::intrusive::list_member_hook<>,
                                           &Entry::lru>>;
  struct SignedEntry {
    std::uint32_t id = 0;
    std::optional<wa::signal::SignedPreKey> key;
    std::uint64_t dirty_seq = 0;
  };

  SessionState(SessionStates& states, std::string session_id);

  Entry* Find(const std::string& key);
  // The entry for `key`, reading it through on a miss.
  base::Result<Entry*> Get(const std::string& key);
  Entry& Insert(const std::string& key, std::optional<base::Bytes> value);
  void Write(const std::string& key, std::optional<base::Bytes> value);
  void Erase(Entry& entry);
  void Trim();
  // Applies this session's cached records of `name` to a device list read from the database.
  base::Bytes OverlayDeviceList(std::string_view name, base::ByteView stored) const;
  void UpdateDeviceList(const wa::signal::Address& address, bool present);
  SignedEntry* FindSigned(std::uint32_t id);
  void MarkCommitted(std::uint64_t seq);
  boost::asio::awaitable<base::Result<void>> CommitWith(bool durable);
  void MarkDirty(std::uint64_t& dirty_seq);

  SessionStates& states_;
  std::string session_id_;
  Sealer sealer_;
  std::optional<wa::client::Credentials> credentials_;
  std::uint64_t credentials_dirty_seq_ = 0;
  std::vector<SignedEntry> signed_pre_keys_;  // ascending ids
  std::unordered_map<std::string, Entry> entries_;
  LruList lru_;  // most recently used first
  std::size_t cached_bytes_ = 0;
  std::size_t dirty_count_ = 0;  // dirty entries, signed prekeys and credentials
  std::uint64_t write_seq_ = 0;
  std::uint64_t wipe_seq_ = 0;    // an uncommitted Wipe's sequence number
  std::uint64_t wipe_epoch_ = 0;  // Wipe calls so far
  // The highest write_seq of an entry dropped from the cache: a prefetch that started before it
  // may have read an older value from the database, so its results are discarded.
  std::uint64_t max_dropped_write_seq_ = 0;
  std::uint64_t sync_reads_ = 0;
};

}  // namespace gateway::store::sqlite
