#include "gateway/store/sqlite/session_state.h"

#include <sqlite3.h>
#include <spdlog/spdlog.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <span>
#include <type_traits>

#include "gateway/store/sqlite/sql.h"
#include "wa/client/errors.h"

namespace gateway::store::sqlite {
namespace asio = boost::asio;
using base::Bytes;
using base::ByteView;
using wa::signal::Address;

namespace {

// --- Cache keys: a kind byte, then the row's key fields ---

constexpr char kSession = 's';
constexpr char kIdentity = 'i';
constexpr char kSenderKey = 'k';
constexpr char kPreKey = 'p';
constexpr char kDeviceList = 'd';  // the devices of one name that have a session
// ContactStore records. The PN -> LID row is the stored one; the LID -> PN entry is its mirror
// (the same wa_lid_map row read by the other key), written alongside but never stored itself.
constexpr char kLidOfPn = 'l';
constexpr char kPnOfLid = 'n';
constexpr char kUsyncDevices = 'u';  // a user's device list as usync answered it
constexpr char kSent = 'm';          // a sent message, by id

void PutU32(std::string& out, std::uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

std::uint32_t GetU32(std::string_view s, std::size_t at) {
  auto b = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[at + i]));
  };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

std::string AddressKey(char kind, const Address& a) {
  std::string key(1, kind);
  PutU32(key, a.device());
  key += a.name();
  return key;
}

std::string SessionKey(const Address& a) { return AddressKey(kSession, a); }
std::string IdentityKey(const Address& a) { return AddressKey(kIdentity, a); }

std::string SenderKeyKey(std::string_view group_id, const Address& sender) {
  std::string key(1, kSenderKey);
  PutU32(key, sender.device());
  PutU32(key, static_cast<std::uint32_t>(sender.name().size()));
  key += sender.name();
  key += group_id;
  return key;
}

std::string PreKeyKey(std::uint32_t id) {
  std::string key(1, kPreKey);
  PutU32(key, id);
  return key;
}

std::string NameKey(char kind, std::string_view name) {
  std::string key(1, kind);
  key += name;
  return key;
}

std::string DeviceListKey(std::string_view name) { return NameKey(kDeviceList, name); }

// A cache key taken apart (keys are made above, so they are well formed).
struct RowKey {
  char kind = 0;
  std::uint32_t number = 0;  // device or prekey id
  std::string_view name;
  std::string_view group;
};

RowKey DecodeKey(std::string_view key) {
  RowKey row;
  row.kind = key[0];
  switch (row.kind) {
    case kSession:
    case kIdentity:
      row.number = GetU32(key, 1);
      row.name = key.substr(5);
      break;
    case kSenderKey: {
      row.number = GetU32(key, 1);
      std::uint32_t n = GetU32(key, 5);
      row.name = key.substr(9, n);
      row.group = key.substr(9 + n);
      break;
    }
    case kPreKey: row.number = GetU32(key, 1); break;
    case kDeviceList:
    case kLidOfPn:
    case kPnOfLid:
    case kUsyncDevices:
    case kSent: row.name = key.substr(1); break;
  }
  return row;
}

// --- Value forms in the cache ---

// Prekey: private key || public key.
Bytes EncodeKeyPair(const wa::crypto::KeyPair& pair) {
  Bytes out(pair.private_key.begin(), pair.private_key.end());
  out.insert(out.end(), pair.public_key.begin(), pair.public_key.end());
  return out;
}

// Device list: ascending big-endian u32s.
std::vector<std::uint32_t> DecodeDevices(ByteView v) {
  std::vector<std::uint32_t> devices;
  for (std::size_t i = 0; i + 4 <= v.size(); i += 4) {
    devices.push_back(static_cast<std::uint32_t>(v[i]) << 24 | v[i + 1] << 16 | v[i + 2] << 8 |
                      v[i + 3]);
  }
  return devices;
}

Bytes EncodeDevices(const std::vector<std::uint32_t>& devices) {
  std::string s;
  for (std::uint32_t d : devices) PutU32(s, d);
  return Bytes(s.begin(), s.end());
}

// A usync device list: u64 key_index_ts || u64 fetched_ms || ascending big-endian u16 devices
// (the last part is the wa_device_lists.devices column).
constexpr std::size_t kUsyncHeader = 16;

void PutU64(std::string& out, std::uint64_t v) {
  PutU32(out, static_cast<std::uint32_t>(v >> 32));
  PutU32(out, static_cast<std::uint32_t>(v));
}

std::uint64_t GetU64(ByteView v, std::size_t at) {
  std::uint64_t out = 0;
  for (std::size_t i = 0; i < 8; ++i) out = out << 8 | v[at + i];
  return out;
}

Bytes EncodeUsyncDevices(const wa::client::DeviceList& list) {
  std::string s;
  PutU64(s, static_cast<std::uint64_t>(list.key_index_ts));
  PutU64(s, static_cast<std::uint64_t>(list.fetched_ms));
  for (std::uint16_t d : list.devices) {
    s.push_back(static_cast<char>(d >> 8));
    s.push_back(static_cast<char>(d));
  }
  return Bytes(s.begin(), s.end());
}

std::optional<wa::client::DeviceList> DecodeUsyncDevices(ByteView v) {
  if (v.size() < kUsyncHeader || (v.size() - kUsyncHeader) % 2 != 0) return std::nullopt;
  wa::client::DeviceList list;
  list.key_index_ts = static_cast<std::int64_t>(GetU64(v, 0));
  list.fetched_ms = static_cast<std::int64_t>(GetU64(v, 8));
  for (std::size_t i = kUsyncHeader; i < v.size(); i += 2) {
    list.devices.push_back(static_cast<std::uint16_t>(v[i] << 8 | v[i + 1]));
  }
  return list;
}

// What an entry costs: its key and value plus the hash node, list hook and bookkeeping.
constexpr std::size_t kEntryOverhead = 160;
std::size_t Cost(const std::string& key, const std::optional<Bytes>& value) {
  return kEntryOverhead + key.size() + (value ? value->capacity() : 0);
}

// --- Associated data of each sealed column: the table, the session and the row's key ---

Bytes SessionAad(std::string_view sid, std::string_view name, std::uint32_t device) {
  return Aad({"wa_signal_sessions", sid, name, std::to_string(device)});
}
Bytes SenderKeyAad(std::string_view sid, std::string_view group, std::string_view name,
                   std::uint32_t device) {
  return Aad({"wa_sender_keys", sid, group, name, std::to_string(device)});
}
Bytes PreKeyAad(std::string_view sid, std::uint32_t id, ByteView public_key) {
  return Aad({"wa_prekeys", sid, std::to_string(id), base::AsChars(public_key)});
}
Bytes SignedPreKeyAad(std::string_view sid, const wa::signal::SignedPreKey& key) {
  return Aad({"wa_signed_prekeys", sid, std::to_string(key.id),
              base::AsChars(key.key_pair.public_key), base::AsChars(key.signature),
              std::to_string(key.timestamp_ms)});
}
Bytes CredentialsAad(std::string_view sid) { return Aad({"wa_credentials", sid}); }
Bytes SentAad(std::string_view sid, std::string_view id) {
  return Aad({"wa_sent_messages", sid, id});
}

template <std::size_t N>
bool CopyExact(ByteView from, std::array<std::uint8_t, N>& to) {
  if (from.size() != N) return false;
  std::copy(from.begin(), from.end(), to.begin());
  return true;
}

base::error_code Corrupt() { return make_error_code(Errc::kCorrupt); }

// Credentials and signed prekeys of one session, read at Open.
struct Pinned {
  std::optional<wa::client::Credentials> credentials;
  std::vector<wa::signal::SignedPreKey> signed_pre_keys;
};

base::Result<Pinned> ReadPinned(sqlite3* db, const std::string& sid, const Sealer& sealer) {
  Pinned pinned;
  {
    Stmt s(db, "SELECT sealed FROM wa_credentials WHERE session_id = ?1");
    if (!s.ok()) return ErrorOf(db);
    s.Bind(1, sid);
    int rc = s.Step();
    if (rc == SQLITE_ROW) {
      auto plain = sealer.Open(s.Blob(0), CredentialsAad(sid));
      if (!plain) return plain.error();
      auto decoded = wa::client::DecodeCredentials(base::AsChars(*plain));
      if (!decoded) return decoded.error();
      pinned.credentials = std::move(*decoded);
    } else if (rc != SQLITE_DONE) {
      return ErrorOf(db);
    }
  }
  Stmt s(db,
         "SELECT id, public_key, sealed_private_key, signature, timestamp_ms"
         " FROM wa_signed_prekeys WHERE session_id = ?1 ORDER BY id");
  if (!s.ok()) return ErrorOf(db);
  s.Bind(1, sid);
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    wa::signal::SignedPreKey key;
    key.id = static_cast<std::uint32_t>(s.Int(0));
    key.timestamp_ms = static_cast<std::uint64_t>(s.Int(4));
    if (!CopyExact(s.Blob(1), key.key_pair.public_key) || !CopyExact(s.Blob(3), key.signature)) {
      return Corrupt();
    }
    auto priv = sealer.Open(s.Blob(2), SignedPreKeyAad(sid, key));
    if (!priv) return priv.error();
    if (!CopyExact(*priv, key.key_pair.private_key)) return Corrupt();
    pinned.signed_pre_keys.push_back(key);
  }
  if (rc != SQLITE_DONE) return ErrorOf(db);
  return pinned;
}

// Completion of one waiting Commit: resumes the waiter on its own executor, which is kept busy
// (outstanding work) until then so that its io_context does not run out of work meanwhile.
class Waiter {
 public:
  virtual ~Waiter() = default;
  virtual void Complete(base::Result<void> result) = 0;
};

template <class Handler>
class HandlerWaiter final : public Waiter {
 public:
  explicit HandlerWaiter(Handler handler)
      : handler_(std::move(handler)),
        work_(asio::prefer(asio::get_associated_executor(handler_),
                           asio::execution::outstanding_work.tracked)) {}

  void Complete(base::Result<void> result) override {
    auto work = std::move(work_);
    asio::post(work, [handler = std::move(handler_), result]() mutable {
      std::move(handler)(result);
    });
  }

 private:
  Handler handler_;
  std::decay_t<decltype(asio::prefer(std::declval<asio::associated_executor_t<Handler>>(),
                                     asio::execution::outstanding_work.tracked))>
      work_;
};

}  // namespace

// --- Group committer ---

struct SessionStates::Batch {
  std::string session_id;
  Sealer sealer;
  bool wipe = false;
  std::optional<std::string> credentials;  // EncodeCredentials' text
  std::vector<std::pair<std::string, std::optional<Bytes>>> records;  // cache key -> value
  std::vector<std::pair<std::uint32_t, std::optional<wa::signal::SignedPreKey>>> signed_pre_keys;
  // Set when the batch stores a sent message: the session's sent messages are trimmed to these.
  std::optional<wa::client::SentMessageBounds> trim_sent;
  // Finish once on disk, not once committed (CommitDurable; matters only in a GroupWriter).
  bool durable = false;
};

// Commits from every session queue here; one flush at a time runs on the store's pool and
// writes everything queued in one transaction, so commits that arrive while an fsync is under
// way share the next one.
class SessionStates::Committer {
 public:
  explicit Committer(SqliteStore& store) : store_(store) {}
  ~Committer() {
    std::unique_lock lock(mu_);
    idle_.wait(lock, [&] { return !flushing_ && outstanding_ == 0; });
  }

  // Completes with the batch's result once it is durable (or failed); never cancelled.
  template <class Token>
  auto Submit(Batch batch, Token&& token) {
    return asio::async_initiate<Token, void(base::Result<void>)>(
        [this](auto handler, Batch batch) {
          using H = std::decay_t<decltype(handler)>;
          Enqueue(std::move(batch), std::make_unique<HandlerWaiter<H>>(std::move(handler)));
        },
        token, std::move(batch));
  }

  std::uint64_t transactions() const { return transactions_; }
  std::uint64_t failed_transactions() const { return failed_; }

 private:
  struct Pending {
    Batch batch;
    std::unique_ptr<Waiter> waiter;
  };

  void Enqueue(Batch batch, std::unique_ptr<Waiter> waiter) {
    if (GroupWriter* writer = store_.group_writer()) {
      // In the gateway's shared writer: one transaction (one fsync) with the messages, webhook
      // records and other sessions' states queued meanwhile, and no wait for the write lock.
      auto job = std::make_shared<Pending>(Pending{std::move(batch), std::move(waiter)});
      {
        std::lock_guard lock(mu_);
        ++outstanding_;
      }
      writer->Submit(
          [job](sqlite3* db) -> base::Result<void> {
            Writer w(db);
            return w.Apply(job->batch);
          },
          [this, job](boost::system::error_code ec) {
            if (ec) {
              spdlog::warn("store: state commit of session {} failed: {}", job->batch.session_id, ec.message());
              ++failed_;
            } else {
              ++transactions_;
            }
            job->waiter->Complete(ec ? base::Result<void>(boost::system::in_place_error, ec) : base::Result<void>());
            std::lock_guard lock(mu_);
            if (--outstanding_ == 0) idle_.notify_all();
          },
          // A ratchet step needs its commit, not the sync that follows it (session_state.h).
          job->batch.durable ? GroupWriter::Wait::kDurable : GroupWriter::Wait::kCommitted);
      return;
    }
    std::lock_guard lock(mu_);
    queue_.push_back(Pending{std::move(batch), std::move(waiter)});
    if (!flushing_) {
      flushing_ = true;
      asio::post(store_.pool().executor(), [this] { Flush(); });
    }
  }

  void Flush() {
    for (;;) {
      std::vector<Pending> group;
      {
        std::lock_guard lock(mu_);
        if (queue_.empty()) {
          flushing_ = false;
          idle_.notify_all();
          return;
        }
        group.swap(queue_);
      }
      std::vector<base::Result<void>> results(group.size());
      auto all = Write(std::span<Pending>(group));
      if (!all && group.size() > 1) {
        // One batch must not fail the others: retry each in its own transaction.
        for (std::size_t i = 0; i < group.size(); ++i) {
          results[i] = Write(std::span<Pending>(group).subspan(i, 1));
        }
      } else {
        for (auto& r : results) r = all;
      }
      for (std::size_t i = 0; i < group.size(); ++i) group[i].waiter->Complete(results[i]);
    }
  }

  base::Result<void> Write(std::span<Pending> group) {
    auto result = store_.WithConnection([&](sqlite3* db) -> base::Result<void> {
      std::string err;
      if (!Exec(db, "BEGIN IMMEDIATE", &err)) return ErrorOf(db);
      Writer writer(db);
      base::Result<void> applied;
      for (Pending& p : group) {
        applied = writer.Apply(p.batch);
        if (!applied) break;
      }
      if (applied && !Exec(db, "COMMIT", &err)) applied = ErrorOf(db);
      if (!applied) {
        spdlog::warn("store: state commit of {} session(s) failed: {} ({})", group.size(),
                     applied.error().message(), sqlite3_errmsg(db));
        Exec(db, "ROLLBACK", nullptr);
      }
      return applied;
    });
    if (result) {
      ++transactions_;
    } else {
      ++failed_;
    }
    return result;
  }

  // Statements prepared once per transaction and reused for every row.
  class Writer {
   public:
    explicit Writer(sqlite3* db) : db_(db) {}

    base::Result<void> Apply(const Batch& b) {
      const std::string& sid = b.session_id;
      if (b.wipe) {
        static constexpr const char* kWipe[] = {
            "DELETE FROM wa_credentials WHERE session_id = ?1",
            "DELETE FROM wa_identities WHERE session_id = ?1",
            "DELETE FROM wa_signal_sessions WHERE session_id = ?1",
            "DELETE FROM wa_prekeys WHERE session_id = ?1",
            "DELETE FROM wa_signed_prekeys WHERE session_id = ?1",
            "DELETE FROM wa_sender_keys WHERE session_id = ?1",
            "DELETE FROM wa_lid_map WHERE session_id = ?1",
            "DELETE FROM wa_device_lists WHERE session_id = ?1",
            "DELETE FROM wa_sent_messages WHERE session_id = ?1",
        };
        for (std::size_t i = 0; i < std::size(kWipe); ++i) {
          Stmt* s = Get(kWipeFirst + i, kWipe[i]);
          if (!s) return ErrorOf(db_);
          s->Bind(1, sid);
          if (!Done(*s)) return ErrorOf(db_);
        }
      }
      if (b.credentials) {
        Stmt* s = Get(kCredentials,
                      "INSERT INTO wa_credentials(session_id, sealed) VALUES(?1, ?2)"
                      " ON CONFLICT(session_id) DO UPDATE SET sealed = excluded.sealed");
        if (!s) return ErrorOf(db_);
        s->Bind(1, sid);
        s->BindBlob(2, b.sealer.Seal(base::AsBytes(*b.credentials), CredentialsAad(sid)));
        if (!Done(*s)) return ErrorOf(db_);
      }
      for (const auto& [id, key] : b.signed_pre_keys) {
        Stmt* s;
        if (key) {
          s = Get(kSignedPut,
                  "INSERT INTO wa_signed_prekeys(session_id, id, public_key, sealed_private_key,"
                  " signature, timestamp_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"
                  " ON CONFLICT(session_id, id) DO UPDATE SET public_key = excluded.public_key,"
                  " sealed_private_key = excluded.sealed_private_key,"
                  " signature = excluded.signature, timestamp_ms = excluded.timestamp_ms");
          if (!s) return ErrorOf(db_);
          s->BindBlob(3, key->key_pair.public_key);
          s->BindBlob(4, b.sealer.Seal(key->key_pair.private_key, SignedPreKeyAad(sid, *key)));
          s->BindBlob(5, key->signature);
          s->Bind(6, static_cast<long long>(key->timestamp_ms));
        } else {
          s = Get(kSignedDel, "DELETE FROM wa_signed_prekeys WHERE session_id = ?1 AND id = ?2");
          if (!s) return ErrorOf(db_);
        }
        s->Bind(1, sid);
        s->Bind(2, static_cast<long long>(id));
        if (!Done(*s)) return ErrorOf(db_);
      }
      for (const auto& [key, value] : b.records) {
        if (auto r = ApplyRecord(b, key, value); !r) return r;
      }
      if (b.trim_sent) {
        // Beyond the newest max_count (rowids grow with each put), and older than max_age
        // before the newest.
        Stmt* s = Get(kSentTrim,
                      "DELETE FROM wa_sent_messages WHERE session_id = ?1 AND ("
                      " rowid <= (SELECT rowid FROM wa_sent_messages WHERE session_id = ?1"
                      "   ORDER BY rowid DESC LIMIT 1 OFFSET ?2)"
                      " OR sent_ms < (SELECT MAX(sent_ms) FROM wa_sent_messages"
                      "   WHERE session_id = ?1) - ?3)");
        if (!s) return ErrorOf(db_);
        s->Bind(1, sid);
        s->Bind(2, static_cast<long long>(b.trim_sent->max_count));
        s->Bind(3, static_cast<long long>(b.trim_sent->max_age_ms));
        if (!Done(*s)) return ErrorOf(db_);
      }
      return {};
    }

   private:
    enum : std::size_t {
      kCredentials,
      kSignedPut,
      kSignedDel,
      kSessionPut,
      kSessionDel,
      kIdentityPut,
      kIdentityDel,
      kSenderPut,
      kSenderDel,
      kPrePut,
      kPreDel,
      kLidPut,
      kLidDel,
      kUsyncPut,
      kUsyncDel,
      kSentPut,
      kSentDel,
      kSentTrim,
      kWipeFirst,
      kCount = kWipeFirst + 9,
    };

    base::Result<void> ApplyRecord(const Batch& b, const std::string& key,
                                   const std::optional<Bytes>& value) {
      const std::string& sid = b.session_id;
      RowKey row = DecodeKey(key);
      Stmt* s = nullptr;
      switch (row.kind) {
        case kSession:
          if (value) {
            s = Get(kSessionPut,
                    "INSERT INTO wa_signal_sessions(session_id, name, device, sealed)"
                    " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(session_id, name, device)"
                    " DO UPDATE SET sealed = excluded.sealed");
            if (s) s->BindBlob(4, b.sealer.Seal(*value, SessionAad(sid, row.name, row.number)));
          } else {
            s = Get(kSessionDel,
                    "DELETE FROM wa_signal_sessions"
                    " WHERE session_id = ?1 AND name = ?2 AND device = ?3");
          }
          if (s) {
            s->Bind(2, row.name);
            s->Bind(3, static_cast<long long>(row.number));
          }
          break;
        case kIdentity:
          if (value) {
            s = Get(kIdentityPut,
                    "INSERT INTO wa_identities(session_id, name, device, identity_key)"
                    " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(session_id, name, device)"
                    " DO UPDATE SET identity_key = excluded.identity_key");
            if (s) s->BindBlob(4, *value);
          } else {
            s = Get(kIdentityDel,
                    "DELETE FROM wa_identities"
                    " WHERE session_id = ?1 AND name = ?2 AND device = ?3");
          }
          if (s) {
            s->Bind(2, row.name);
            s->Bind(3, static_cast<long long>(row.number));
          }
          break;
        case kSenderKey:
          if (value) {
            s = Get(kSenderPut,
                    "INSERT INTO wa_sender_keys(session_id, group_id, sender_name, sender_device,"
                    " sealed) VALUES(?1, ?2, ?3, ?4, ?5)"
                    " ON CONFLICT(session_id, group_id, sender_name, sender_device)"
                    " DO UPDATE SET sealed = excluded.sealed");
            if (s) {
              s->BindBlob(5, b.sealer.Seal(*value,
                                           SenderKeyAad(sid, row.group, row.name, row.number)));
            }
          } else {
            s = Get(kSenderDel,
                    "DELETE FROM wa_sender_keys WHERE session_id = ?1 AND group_id = ?2"
                    " AND sender_name = ?3 AND sender_device = ?4");
          }
          if (s) {
            s->Bind(2, row.group);
            s->Bind(3, row.name);
            s->Bind(4, static_cast<long long>(row.number));
          }
          break;
        case kPreKey:
          if (value) {
            s = Get(kPrePut,
                    "INSERT INTO wa_prekeys(session_id, id, public_key, sealed_private_key)"
                    " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(session_id, id) DO UPDATE SET"
                    " public_key = excluded.public_key,"
                    " sealed_private_key = excluded.sealed_private_key");
            if (s) {
              ByteView pair = *value;
              ByteView priv = pair.subspan(0, 32), pub = pair.subspan(32, 32);
              s->BindBlob(3, pub);
              s->BindBlob(4, b.sealer.Seal(priv, PreKeyAad(sid, row.number, pub)));
            }
          } else {
            s = Get(kPreDel, "DELETE FROM wa_prekeys WHERE session_id = ?1 AND id = ?2");
          }
          if (s) s->Bind(2, static_cast<long long>(row.number));
          break;
        case kLidOfPn:
          if (value) {
            // OR REPLACE also drops the row that held this LID for another number.
            s = Get(kLidPut,
                    "INSERT OR REPLACE INTO wa_lid_map(session_id, pn_user, lid_user)"
                    " VALUES(?1, ?2, ?3)");
            if (s) s->Bind(3, base::AsChars(*value));
          } else {
            s = Get(kLidDel, "DELETE FROM wa_lid_map WHERE session_id = ?1 AND pn_user = ?2");
          }
          if (s) s->Bind(2, row.name);
          break;
        case kUsyncDevices:
          if (value) {
            if (value->size() < kUsyncHeader) return Corrupt();
            s = Get(kUsyncPut,
                    "INSERT INTO wa_device_lists(session_id, user_jid, devices, key_index_ts,"
                    " fetched_ms) VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(session_id, user_jid)"
                    " DO UPDATE SET devices = excluded.devices,"
                    " key_index_ts = excluded.key_index_ts, fetched_ms = excluded.fetched_ms");
            if (s) {
              s->BindBlob(3, ByteView(*value).subspan(kUsyncHeader));
              s->Bind(4, static_cast<long long>(GetU64(*value, 0)));
              s->Bind(5, static_cast<long long>(GetU64(*value, 8)));
            }
          } else {
            s = Get(kUsyncDel,
                    "DELETE FROM wa_device_lists WHERE session_id = ?1 AND user_jid = ?2");
          }
          if (s) s->Bind(2, row.name);
          break;
        case kSent:
          if (value) {
            if (value->size() < 8) return Corrupt();
            // OR REPLACE: a put again is a new row, so the newest by rowid is the latest put.
            s = Get(kSentPut,
                    "INSERT OR REPLACE INTO wa_sent_messages(session_id, message_id, sent_ms,"
                    " sealed) VALUES(?1, ?2, ?3, ?4)");
            if (s) {
              s->Bind(3, static_cast<long long>(GetU64(*value, 0)));
              s->BindBlob(4, b.sealer.Seal(*value, SentAad(sid, row.name)));
            }
          } else {
            s = Get(kSentDel,
                    "DELETE FROM wa_sent_messages WHERE session_id = ?1 AND message_id = ?2");
          }
          if (s) s->Bind(2, row.name);
          break;
        default:
          return {};  // device lists and LID -> PN mirrors are derived, never written
      }
      if (!s) return ErrorOf(db_);
      s->Bind(1, sid);
      if (!Done(*s)) return ErrorOf(db_);
      return {};
    }

    // The statement for `slot`, reset for new bindings; null if it does not prepare.
    Stmt* Get(std::size_t slot, const char* sql) {
      auto& s = stmts_[slot];
      if (!s) {
        s = std::make_unique<Stmt>(db_, sql);
      } else {
        s->Reset();
      }
      return s->ok() ? s.get() : nullptr;
    }
    static bool Done(Stmt& s) { return s.Step() == SQLITE_DONE; }

    sqlite3* db_;
    std::array<std::unique_ptr<Stmt>, kCount> stmts_;
  };

  SqliteStore& store_;
  std::mutex mu_;
  std::condition_variable idle_;
  std::vector<Pending> queue_;
  bool flushing_ = false;
  std::size_t outstanding_ = 0;  // batches handed to the store's GroupWriter, not finished
  std::atomic<std::uint64_t> transactions_{0};
  std::atomic<std::uint64_t> failed_{0};
};

// --- SessionStates ---

SessionStates::SessionStates(SqliteStore& store, base::ByteView master_key,
                             SessionStateOptions options)
    : store_(store),
      master_key_(master_key.begin(), master_key.end()),
      options_(options),
      committer_(std::make_unique<Committer>(store)) {
  if (master_key_.size() != 32) std::abort();
}

SessionStates::~SessionStates() = default;

bool SessionStates::Reserve(const std::string& session_id) {
  std::lock_guard lock(open_mu_);
  return open_.insert(session_id).second;
}

void SessionStates::Release(const std::string& session_id) {
  std::lock_guard lock(open_mu_);
  open_.erase(session_id);
}

SessionStateStats SessionStates::stats() const {
  SessionStateStats s;
  s.sync_reads = sync_reads_;
  s.commits = commits_;
  s.transactions = committer_->transactions();
  s.failed_transactions = committer_->failed_transactions();
  return s;
}

asio::awaitable<base::Result<std::unique_ptr<SessionState>>> SessionStates::Open(
    std::string session_id) {
  if (!Reserve(session_id)) co_return make_error_code(Errc::kInUse);
  std::unique_ptr<SessionState> state(new SessionState(*this, session_id));
  SqliteStore* store = &store_;
  Sealer sealer = state->sealer_;
  auto work = [store, session_id, sealer]() -> base::Result<Pinned> {
    base::Result<Pinned> pinned = Pinned{};
    auto r = store->WithConnection([&](sqlite3* db) -> base::Result<void> {
      pinned = ReadPinned(db, session_id, sealer);
      if (!pinned) return pinned.error();
      return {};
    });
    if (!r) return r.error();
    return pinned;
  };
  auto pinned = co_await store_.pool().Run(std::move(work));
  if (!pinned) co_return pinned.error();  // ~SessionState releases the id
  state->credentials_ = std::move(pinned->credentials);
  for (auto& key : pinned->signed_pre_keys) {
    state->signed_pre_keys_.push_back(SessionState::SignedEntry{key.id, key, 0});
  }
  co_return std::move(state);
}

asio::awaitable<base::Result<void>> SessionStates::Delete(std::string session_id) {
  if (!Reserve(session_id)) co_return make_error_code(Errc::kInUse);
  Batch batch{session_id, Sealer(master_key_, session_id)};
  batch.wipe = true;
  auto op = committer_->Submit(std::move(batch), asio::use_awaitable);
  base::Result<void> result = co_await std::move(op);
  Release(session_id);
  co_return result;
}

asio::awaitable<base::Result<std::vector<std::string>>> SessionStates::List() {
  SqliteStore* store = &store_;
  auto work = [store]() -> base::Result<std::vector<std::string>> {
    std::vector<std::string> ids;
    auto r = store->WithConnection([&](sqlite3* db) -> base::Result<void> {
      Stmt s(db, "SELECT session_id FROM wa_credentials ORDER BY session_id");
      if (!s.ok()) return ErrorOf(db);
      int rc;
      while ((rc = s.Step()) == SQLITE_ROW) ids.push_back(s.Text(0));
      if (rc != SQLITE_DONE) return ErrorOf(db);
      return {};
    });
    if (!r) return r.error();
    return ids;
  };
  co_return co_await store_.pool().Run(std::move(work));
}

base::Result<SessionStates::Loaded> SessionStates::ReadRecords(
    const std::string& sid, const Sealer& sealer, const std::vector<std::string>& keys) {
  Loaded loaded;
  loaded.reserve(keys.size());
  auto r = store_.WithConnection([&](sqlite3* db) -> base::Result<void> {
    // One read transaction: one WAL snapshot for all keys.
    std::string err;
    if (!Exec(db, "BEGIN", &err)) return ErrorOf(db);
    struct EndRead {
      sqlite3* db;
      ~EndRead() { Exec(db, "COMMIT", nullptr); }
    } end{db};
    std::array<std::unique_ptr<Stmt>, 9> stmts;
    auto get = [&](std::size_t slot, const char* sql) -> Stmt* {
      auto& s = stmts[slot];
      if (!s) {
        s = std::make_unique<Stmt>(db, sql);
      } else {
        s->Reset();
      }
      return s->ok() ? s.get() : nullptr;
    };
    for (const std::string& key : keys) {
      RowKey row = DecodeKey(key);
      Stmt* s = nullptr;
      switch (row.kind) {
        case kSession:
          s = get(0, "SELECT sealed FROM wa_signal_sessions"
                     " WHERE session_id = ?1 AND name = ?2 AND device = ?3");
          if (s) {
            s->Bind(2, row.name);
            s->Bind(3, static_cast<long long>(row.number));
          }
          break;
        case kIdentity:
          s = get(1, "SELECT identity_key FROM wa_identities"
                     " WHERE session_id = ?1 AND name = ?2 AND device = ?3");
          if (s) {
            s->Bind(2, row.name);
            s->Bind(3, static_cast<long long>(row.number));
          }
          break;
        case kSenderKey:
          s = get(2, "SELECT sealed FROM wa_sender_keys WHERE session_id = ?1 AND group_id = ?2"
                     " AND sender_name = ?3 AND sender_device = ?4");
          if (s) {
            s->Bind(2, row.group);
            s->Bind(3, row.name);
            s->Bind(4, static_cast<long long>(row.number));
          }
          break;
        case kPreKey:
          s = get(3, "SELECT public_key, sealed_private_key FROM wa_prekeys"
                     " WHERE session_id = ?1 AND id = ?2");
          if (s) s->Bind(2, static_cast<long long>(row.number));
          break;
        case kDeviceList:
          s = get(4, "SELECT device FROM wa_signal_sessions WHERE session_id = ?1 AND name = ?2"
                     " ORDER BY device");
          if (s) s->Bind(2, row.name);
          break;
        case kLidOfPn:
          s = get(5, "SELECT lid_user FROM wa_lid_map WHERE session_id = ?1 AND pn_user = ?2");
          if (s) s->Bind(2, row.name);
          break;
        case kPnOfLid:
          s = get(6, "SELECT pn_user FROM wa_lid_map WHERE session_id = ?1 AND lid_user = ?2");
          if (s) s->Bind(2, row.name);
          break;
        case kUsyncDevices:
          s = get(7, "SELECT devices, key_index_ts, fetched_ms FROM wa_device_lists"
                     " WHERE session_id = ?1 AND user_jid = ?2");
          if (s) s->Bind(2, row.name);
          break;
        case kSent:
          s = get(8, "SELECT sealed FROM wa_sent_messages"
                     " WHERE session_id = ?1 AND message_id = ?2");
          if (s) s->Bind(2, row.name);
          break;
      }
      if (!s) return ErrorOf(db);
      s->Bind(1, sid);
      int rc = s->Step();
      std::optional<Bytes> value;
      if (row.kind == kDeviceList) {
        std::vector<std::uint32_t> devices;
        for (; rc == SQLITE_ROW; rc = s->Step()) {
          devices.push_back(static_cast<std::uint32_t>(s->Int(0)));
        }
        if (rc != SQLITE_DONE) return ErrorOf(db);
        value = EncodeDevices(devices);
      } else if (rc == SQLITE_ROW) {
        switch (row.kind) {
          case kSession: {
            auto plain = sealer.Open(s->Blob(0), SessionAad(sid, row.name, row.number));
            if (!plain) return plain.error();
            value = std::move(*plain);
            break;
          }
          case kIdentity:
            value = s->Blob(0);
            if (value->size() != 32) return Corrupt();
            break;
          case kSenderKey: {
            auto plain =
                sealer.Open(s->Blob(0), SenderKeyAad(sid, row.group, row.name, row.number));
            if (!plain) return plain.error();
            value = std::move(*plain);
            break;
          }
          case kPreKey: {
            Bytes pub = s->Blob(0);
            if (pub.size() != 32) return Corrupt();
            auto priv = sealer.Open(s->Blob(1), PreKeyAad(sid, row.number, pub));
            if (!priv) return priv.error();
            if (priv->size() != 32) return Corrupt();
            value = std::move(*priv);
            value->insert(value->end(), pub.begin(), pub.end());
            break;
          }
          case kLidOfPn:
          case kPnOfLid: {
            std::string text = s->Text(0);
            value = Bytes(text.begin(), text.end());
            break;
          }
          case kUsyncDevices: {
            Bytes devices = s->Blob(0);
            if (devices.size() % 2 != 0) return Corrupt();
            std::string header;
            PutU64(header, static_cast<std::uint64_t>(s->Int(1)));
            PutU64(header, static_cast<std::uint64_t>(s->Int(2)));
            value = Bytes(header.begin(), header.end());
            value->insert(value->end(), devices.begin(), devices.end());
            break;
          }
          case kSent: {
            auto plain = sealer.Open(s->Blob(0), SentAad(sid, row.name));
            if (!plain) return plain.error();
            if (plain->size() < 8) return Corrupt();
            value = std::move(*plain);
            break;
          }
        }
      } else if (rc != SQLITE_DONE) {
        return ErrorOf(db);
      }
      loaded.emplace_back(key, std::move(value));
    }
    return {};
  });
  if (!r) return r.error();
  return loaded;
}

// --- SessionState ---

SessionState::SessionState(SessionStates& states, std::string session_id)
    : states_(states),
      session_id_(std::move(session_id)),
      sealer_(states.master_key_, session_id_) {}

SessionState::~SessionState() {
  lru_.clear();
  states_.Release(session_id_);
}

SessionState::Entry* SessionState::Find(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  Entry& e = it->second;
  lru_.erase(lru_.iterator_to(e));
  lru_.push_front(e);
  return &e;
}

SessionState::Entry& SessionState::Insert(const std::string& key, std::optional<Bytes> value) {
  auto [it, inserted] = entries_.try_emplace(key);
  Entry& e = it->second;
  if (inserted) {
    e.key = &it->first;
    lru_.push_front(e);
  } else {
    cached_bytes_ -= Cost(key, e.value);
  }
  e.value = std::move(value);
  cached_bytes_ += Cost(key, e.value);
  return e;
}

base::Result<SessionState::Entry*> SessionState::Get(const std::string& key) {
  if (Entry* e = Find(key)) return e;
  Trim();  // before inserting, so that the new entry is not the one dropped
  std::optional<Bytes> value;
  if (wipe_seq_ == 0) {
    // Not cached: read through, on this thread.
    ++sync_reads_;
    ++states_.sync_reads_;
    auto loaded = states_.ReadRecords(session_id_, sealer_, {key});
    if (!loaded) return loaded.error();
    value = std::move(loaded->front().second);
  }  // else the rows are gone as far as this session knows: a Wipe is waiting for its commit
  if (key[0] == kDeviceList) {
    value = OverlayDeviceList(DecodeKey(key).name, value ? *value : Bytes());
  }
  return &Insert(key, std::move(value));
}

void SessionState::MarkDirty(std::uint64_t& dirty_seq) {
  if (dirty_seq == 0) ++dirty_count_;
  dirty_seq = ++write_seq_;
}

void SessionState::Write(const std::string& key, std::optional<Bytes> value) {
  Entry* e = Find(key);
  if (!e) e = &Insert(key, std::nullopt);
  cached_bytes_ -= Cost(key, e->value);
  e->value = std::move(value);
  cached_bytes_ += Cost(key, e->value);
  MarkDirty(e->dirty_seq);
  e->write_seq = e->dirty_seq;
}

void SessionState::Erase(Entry& e) {
  lru_.erase(lru_.iterator_to(e));
  cached_bytes_ -= Cost(*e.key, e.value);
  if (e.dirty_seq != 0) --dirty_count_;
  max_dropped_write_seq_ = std::max(max_dropped_write_seq_, e.write_seq);
  entries_.erase(entries_.find(*e.key));
}

void SessionState::Trim() {
  // From the least recently used end, skipping dirty entries; `it` stays valid because only the
  // entry before it is erased.
  auto it = lru_.end();
  while (cached_bytes_ > states_.options_.cache_bytes && it != lru_.begin()) {
    auto prev = std::prev(it);
    if (prev->dirty_seq != 0) {
      it = prev;
    } else {
      Erase(*prev);
    }
  }
}

void SessionState::ReleaseCache() {
  for (auto it = lru_.begin(); it != lru_.end();) {
    Entry& e = *it++;
    if (e.dirty_seq == 0) Erase(e);
  }
}

Bytes SessionState::OverlayDeviceList(std::string_view name, ByteView stored) const {
  std::vector<std::uint32_t> devices = DecodeDevices(stored);
  for (const auto& [key, e] : entries_) {
    if (key[0] != kSession) continue;
    RowKey row = DecodeKey(key);
    if (row.name != name) continue;
    auto pos = std::lower_bound(devices.begin(), devices.end(), row.number);
    bool listed = pos != devices.end() && *pos == row.number;
    if (e.value && !listed) devices.insert(pos, row.number);
    if (!e.value && listed) devices.erase(pos);
  }
  return EncodeDevices(devices);
}

void SessionState::UpdateDeviceList(const Address& address, bool present) {
  auto it = entries_.find(DeviceListKey(address.name()));
  if (it == entries_.end()) return;
  Entry& e = it->second;
  std::vector<std::uint32_t> devices = DecodeDevices(e.value ? *e.value : Bytes());
  auto pos = std::lower_bound(devices.begin(), devices.end(), address.device());
  bool listed = pos != devices.end() && *pos == address.device();
  if (present == listed) return;
  if (present) {
    devices.insert(pos, address.device());
  } else {
    devices.erase(pos);
  }
  cached_bytes_ -= Cost(it->first, e.value);
  e.value = EncodeDevices(devices);
  cached_bytes_ += Cost(it->first, e.value);
}

SessionState::SignedEntry* SessionState::FindSigned(std::uint32_t id) {
  auto it = std::lower_bound(signed_pre_keys_.begin(), signed_pre_keys_.end(), id,
                             [](const SignedEntry& e, std::uint32_t v) { return e.id < v; });
  return it != signed_pre_keys_.end() && it->id == id ? &*it : nullptr;
}

void SessionState::MarkCommitted(std::uint64_t seq) {
  if (wipe_seq_ != 0 && wipe_seq_ <= seq) wipe_seq_ = 0;
  if (credentials_dirty_seq_ != 0 && credentials_dirty_seq_ <= seq) {
    credentials_dirty_seq_ = 0;
    --dirty_count_;
  }
  std::erase_if(signed_pre_keys_, [&](SignedEntry& e) {
    if (e.dirty_seq == 0 || e.dirty_seq > seq) return false;
    e.dirty_seq = 0;
    --dirty_count_;
    return !e.key.has_value();
  });
  for (auto it = lru_.begin(); it != lru_.end();) {
    Entry& e = *it++;
    if (e.dirty_seq != 0 && e.dirty_seq <= seq) {
      e.dirty_seq = 0;
      --dirty_count_;
    }
    // One-time prekeys and sent messages are not kept once durable: each is read at most once
    // more (a pkmsg naming the prekey; a retry receipt, and the client keeps recent sends).
    if (e.dirty_seq == 0 && ((*e.key)[0] == kPreKey || (*e.key)[0] == kSent)) Erase(e);
  }
  Trim();
}

asio::awaitable<base::Result<void>> SessionState::Prefetch(
    const wa::client::PrefetchRequest& request) {
  std::vector<std::string> keys;
  auto want = [&](std::string key) {
    if (!Find(key)) keys.push_back(std::move(key));
  };
  for (const Address& a : request.addresses) {
    want(SessionKey(a));
    want(IdentityKey(a));
  }
  for (std::uint32_t id : request.pre_key_ids) want(PreKeyKey(id));
  for (const auto& k : request.sender_keys) want(SenderKeyKey(k.group_id, k.sender));
  for (const auto& name : request.session_names) want(DeviceListKey(name));
  for (const auto& user : request.device_lists) want(NameKey(kUsyncDevices, user));
  for (const auto& pn : request.lids_of_pns) want(NameKey(kLidOfPn, pn));
  for (const auto& lid : request.pns_of_lids) want(NameKey(kPnOfLid, lid));
  for (const auto& id : request.sent_messages) want(NameKey(kSent, id));
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  if (keys.empty()) co_return base::Result<void>();

  SessionStates::Loaded loaded;
  if (wipe_seq_ == 0) {
    const std::uint64_t started = write_seq_;
    const std::uint64_t epoch = wipe_epoch_;
    SessionStates* states = &states_;
    auto work = [states, sid = session_id_, sealer = sealer_, keys = std::move(keys)]() {
      return states->ReadRecords(sid, sealer, keys);
    };
    auto read = co_await states_.store_.pool().Run(std::move(work));
    if (!read) co_return read.error();
    // A record written and dropped meanwhile may have been read before its commit landed.
    if (epoch != wipe_epoch_ || max_dropped_write_seq_ > started) co_return base::Result<void>();
    loaded = std::move(*read);
  } else {
    for (auto& key : keys) loaded.emplace_back(std::move(key), std::nullopt);
  }
  for (auto& [key, value] : loaded) {
    if (entries_.count(key)) continue;  // written or read through meanwhile: the cache wins
    if (key[0] == kDeviceList) {
      value = OverlayDeviceList(DecodeKey(key).name, value ? *value : Bytes());
    }
    Insert(key, std::move(value));
  }
  Trim();
  co_return base::Result<void>();
}

asio::awaitable<base::Result<void>> SessionState::Commit() {
  auto op = CommitWith(false);
  co_return co_await std::move(op);
}

asio::awaitable<base::Result<void>> SessionState::CommitDurable() {
  auto op = CommitWith(true);
  co_return co_await std::move(op);
}

asio::awaitable<base::Result<void>> SessionState::CommitWith(bool durable) {
  // Nothing to write: a durable commit still waits for the sync of earlier commits (an empty
  // batch in the writer's next transaction, synced with it).
  if (!has_uncommitted() && !durable) co_return base::Result<void>();
  const std::uint64_t seq = write_seq_;
  SessionStates::Batch batch{session_id_, sealer_};
  batch.durable = durable;
  batch.wipe = wipe_seq_ != 0;
  if (credentials_dirty_seq_ != 0 && credentials_) {
    batch.credentials = wa::client::EncodeCredentials(*credentials_);
  }
  for (const SignedEntry& e : signed_pre_keys_) {
    if (e.dirty_seq != 0) batch.signed_pre_keys.emplace_back(e.id, e.key);
  }
  // In write order: sent messages get ascending rowids, which the count bound goes by.
  std::vector<const Entry*> dirty;
  for (const Entry& e : lru_) {
    if (e.dirty_seq != 0) dirty.push_back(&e);
  }
  std::sort(dirty.begin(), dirty.end(),
            [](const Entry* a, const Entry* b) { return a->dirty_seq < b->dirty_seq; });
  for (const Entry* e : dirty) {
    batch.records.emplace_back(*e->key, e->value);
    if ((*e->key)[0] == kSent && e->value) batch.trim_sent = states_.options_.sent_messages;
  }
  auto op = states_.committer_->Submit(std::move(batch), asio::use_awaitable);
  base::Result<void> result = co_await std::move(op);
  if (!result) co_return result;
  ++states_.commits_;
  MarkCommitted(seq);
  co_return result;
}

// --- DeviceStore ---

base::Result<std::optional<wa::client::Credentials>> SessionState::Load() { return credentials_; }

base::Result<void> SessionState::Save(const wa::client::Credentials& credentials) {
  credentials_ = credentials;
  MarkDirty(credentials_dirty_seq_);
  return {};
}

base::Result<void> SessionState::Wipe() {
  lru_.clear();
  for (const auto& [key, e] : entries_) {
    max_dropped_write_seq_ = std::max(max_dropped_write_seq_, e.write_seq);
  }
  entries_.clear();
  cached_bytes_ = 0;
  signed_pre_keys_.clear();
  credentials_.reset();
  credentials_dirty_seq_ = 0;
  dirty_count_ = 0;
  wipe_seq_ = ++write_seq_;
  ++wipe_epoch_;
  return {};
}

// --- wa::client::ContactStore ---

namespace {

std::optional<std::string> AsText(const std::optional<Bytes>& value) {
  if (!value) return std::nullopt;
  return std::string(value->begin(), value->end());
}

}  // namespace

base::Result<void> SessionState::PutLidMapping(std::string_view pn_user,
                                               std::string_view lid_user) {
  auto old_lid = GetLidOfPn(pn_user);
  if (!old_lid) return old_lid.error();
  auto old_pn = GetPnOfLid(lid_user);
  if (!old_pn) return old_pn.error();
  if (*old_lid == lid_user && *old_pn == pn_user) return {};
  // The pairs this one replaces: their mirrors go (the row of the LID's old number is removed
  // by the new row's OR REPLACE, and again by its own deletion, in whichever order).
  if (*old_lid && **old_lid != lid_user) Write(NameKey(kPnOfLid, **old_lid), std::nullopt);
  if (*old_pn && **old_pn != pn_user) Write(NameKey(kLidOfPn, **old_pn), std::nullopt);
  Write(NameKey(kLidOfPn, pn_user), Bytes(lid_user.begin(), lid_user.end()));
  Write(NameKey(kPnOfLid, lid_user), Bytes(pn_user.begin(), pn_user.end()));
  return {};
}

base::Result<std::optional<std::string>> SessionState::GetLidOfPn(std::string_view pn_user) {
  auto e = Get(NameKey(kLidOfPn, pn_user));
  if (!e) return e.error();
  return AsText((*e)->value);
}

base::Result<std::optional<std::string>> SessionState::GetPnOfLid(std::string_view lid_user) {
  auto e = Get(NameKey(kPnOfLid, lid_user));
  if (!e) return e.error();
  return AsText((*e)->value);
}

base::Result<void> SessionState::PutDeviceList(std::string_view user,
                                               const wa::client::DeviceList& list) {
  Write(NameKey(kUsyncDevices, user), EncodeUsyncDevices(list));
  return {};
}

base::Result<std::optional<wa::client::DeviceList>> SessionState::GetDeviceList(
    std::string_view user) {
  auto e = Get(NameKey(kUsyncDevices, user));
  if (!e) return e.error();
  if (!(*e)->value) return std::optional<wa::client::DeviceList>();
  auto list = DecodeUsyncDevices(*(*e)->value);
  if (!list) return Corrupt();
  return list;
}

base::Result<void> SessionState::InvalidateDeviceList(std::string_view user) {
  std::string key = NameKey(kUsyncDevices, user);
  // Known absent and clean: nothing to write (a notification for a user we never asked about).
  if (Entry* e = Find(key); e && !e->value && e->dirty_seq == 0) return {};
  Write(key, std::nullopt);
  return {};
}

base::Result<void> SessionState::PutSentMessage(std::string_view id,
                                                const wa::client::SentMessageRecord& record) {
  std::string encoded = wa::client::EncodeSentMessage(record);
  Write(NameKey(kSent, id), Bytes(encoded.begin(), encoded.end()));
  return {};
}

base::Result<std::optional<wa::client::SentMessageRecord>> SessionState::GetSentMessage(
    std::string_view id) {
  auto e = Get(NameKey(kSent, id));
  if (!e) return e.error();
  if (!(*e)->value) return std::optional<wa::client::SentMessageRecord>();
  auto record = wa::client::DecodeSentMessage(base::AsChars(*(*e)->value));
  if (!record) return Corrupt();
  return record;
}

// --- wa::signal::Store ---

base::Result<wa::crypto::KeyPair> SessionState::GetIdentityKeyPair() {
  if (!credentials_) return wa::client::MakeError(wa::client::Errc::kNoCredentials);
  return credentials_->identity_key;
}

base::Result<std::uint32_t> SessionState::GetRegistrationId() {
  if (!credentials_) return wa::client::MakeError(wa::client::Errc::kNoCredentials);
  return credentials_->registration_id;
}

base::Result<std::optional<wa::signal::Key32>> SessionState::GetIdentity(const Address& address) {
  auto e = Get(IdentityKey(address));
  if (!e) return e.error();
  if (!(*e)->value) return std::optional<wa::signal::Key32>();
  wa::signal::Key32 key;
  if (!CopyExact(*(*e)->value, key)) return Corrupt();
  return std::optional<wa::signal::Key32>(key);
}

base::Result<void> SessionState::SaveIdentity(const Address& address,
                                              const wa::signal::Key32& identity) {
  Write(IdentityKey(address), Bytes(identity.begin(), identity.end()));
  return {};
}

base::Result<std::optional<Bytes>> SessionState::LoadSession(const Address& address) {
  auto e = Get(SessionKey(address));
  if (!e) return e.error();
  return (*e)->value;
}

base::Result<void> SessionState::StoreSession(const Address& address, ByteView record) {
  Write(SessionKey(address), Bytes(record.begin(), record.end()));
  UpdateDeviceList(address, true);
  return {};
}

base::Result<bool> SessionState::ContainsSession(const Address& address) {
  auto e = Get(SessionKey(address));
  if (!e) return {boost::system::in_place_error, e.error()};
  return (*e)->value.has_value();
}

base::Result<void> SessionState::DeleteSession(const Address& address) {
  Write(SessionKey(address), std::nullopt);
  UpdateDeviceList(address, false);
  return {};
}

base::Result<void> SessionState::DeleteAllSessions(std::string_view name) {
  auto devices = ListSessionDevices(name);
  if (!devices) return devices.error();
  for (std::uint32_t device : *devices) {
    if (auto r = DeleteSession(Address(std::string(name), device)); !r) return r;
  }
  return {};
}

base::Result<std::vector<std::uint32_t>> SessionState::ListSessionDevices(std::string_view name) {
  auto e = Get(DeviceListKey(name));
  if (!e) return e.error();
  return DecodeDevices((*e)->value ? *(*e)->value : Bytes());
}

base::Result<std::optional<wa::signal::PreKey>> SessionState::LoadPreKey(std::uint32_t id) {
  auto e = Get(PreKeyKey(id));
  if (!e) return e.error();
  const auto& value = (*e)->value;
  if (!value) return std::optional<wa::signal::PreKey>();
  if (value->size() != 64) return Corrupt();
  wa::signal::PreKey key;
  key.id = id;
  std::copy(value->begin(), value->begin() + 32, key.key_pair.private_key.begin());
  std::copy(value->begin() + 32, value->end(), key.key_pair.public_key.begin());
  return std::optional<wa::signal::PreKey>(key);
}

base::Result<void> SessionState::StorePreKey(const wa::signal::PreKey& key) {
  Write(PreKeyKey(key.id), EncodeKeyPair(key.key_pair));
  return {};
}

base::Result<void> SessionState::RemovePreKey(std::uint32_t id) {
  Write(PreKeyKey(id), std::nullopt);
  return {};
}

base::Result<bool> SessionState::ContainsPreKey(std::uint32_t id) {
  auto e = Get(PreKeyKey(id));
  if (!e) return {boost::system::in_place_error, e.error()};
  return (*e)->value.has_value();
}

base::Result<std::optional<wa::signal::SignedPreKey>> SessionState::LoadSignedPreKey(
    std::uint32_t id) {
  const SignedEntry* e = FindSigned(id);
  if (!e) return std::optional<wa::signal::SignedPreKey>();
  return e->key;
}

base::Result<void> SessionState::StoreSignedPreKey(const wa::signal::SignedPreKey& key) {
  SignedEntry* e = FindSigned(key.id);
  if (!e) {
    auto pos = std::lower_bound(signed_pre_keys_.begin(), signed_pre_keys_.end(), key.id,
                                [](const SignedEntry& s, std::uint32_t v) { return s.id < v; });
    e = &*signed_pre_keys_.insert(pos, SignedEntry{key.id, std::nullopt, 0});
  }
  e->key = key;
  MarkDirty(e->dirty_seq);
  return {};
}

base::Result<void> SessionState::RemoveSignedPreKey(std::uint32_t id) {
  SignedEntry* e = FindSigned(id);
  if (!e || !e->key) return {};
  e->key.reset();
  MarkDirty(e->dirty_seq);
  return {};
}

base::Result<bool> SessionState::ContainsSignedPreKey(std::uint32_t id) {
  const SignedEntry* e = FindSigned(id);
  return e && e->key.has_value();
}

base::Result<std::vector<std::uint32_t>> SessionState::ListSignedPreKeys() {
  std::vector<std::uint32_t> ids;
  for (const SignedEntry& e : signed_pre_keys_) {
    if (e.key) ids.push_back(e.id);
  }
  return ids;
}

base::Result<std::optional<Bytes>> SessionState::LoadSenderKey(std::string_view group_id,
                                                               const Address& sender) {
  auto e = Get(SenderKeyKey(group_id, sender));
  if (!e) return e.error();
  return (*e)->value;
}

base::Result<void> SessionState::StoreSenderKey(std::string_view group_id, const Address& sender,
                                                ByteView record) {
  Write(SenderKeyKey(group_id, sender), Bytes(record.begin(), record.end()));
  return {};
}

base::Result<void> SessionState::DeleteSenderKey(std::string_view group_id,
                                                 const Address& sender) {
  Write(SenderKeyKey(group_id, sender), std::nullopt);
  return {};
}

}  // namespace gateway::store::sqlite
