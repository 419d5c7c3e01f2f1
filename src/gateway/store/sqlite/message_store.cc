#include "gateway/store/sqlite/message_store.h"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <unordered_map>

#include "gateway/store/message_json.h"
#include "gateway/store/sqlite/event_store.h"
#include "gateway/store/sqlite/on_pool.h"
#include "gateway/store/sqlite/sql.h"

namespace gateway::store::sqlite {

namespace asio = boost::asio;

namespace {

constexpr const char* kColumns =
    "n, id, account_id, session_id, direction, wa_id, chat_jid, recipient, sender_jid, sender_pn, "
    "sender_lid, push_name, type, body, quoted_id, quoted_participant, quoted_text, mentions, "
    "status, error_code, error_detail, expires_ms, attempts, first_contact, wa_timestamp, "
    "created_ms, updated_ms, sent_ms, source";

std::string MentionsJson(const std::vector<std::string>& mentions) {
  boost::json::array a;
  for (const auto& m : mentions) a.emplace_back(m);
  return boost::json::serialize(a);
}

std::vector<std::string> ParseMentions(const std::string& text) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& e : v.as_array()) {
    if (e.is_string()) out.emplace_back(e.as_string());
  }
  return out;
}

MessageRow Read(Stmt& s) {
  MessageRow m;
  m.n = s.Int(0);
  m.id = s.Text(1);
  m.account_id = s.Text(2);
  m.session_id = s.Text(3);
  m.direction = s.Text(4);
  m.wa_id = s.Text(5);
  m.chat_jid = s.Text(6);
  m.to = s.Text(7);
  m.sender_jid = s.Text(8);
  m.sender_pn = s.Text(9);
  m.sender_lid = s.Text(10);
  m.push_name = s.Text(11);
  m.type = s.Text(12);
  m.text = s.Text(13);
  m.quoted_id = s.Text(14);
  m.quoted_participant = s.Text(15);
  m.quoted_text = s.Text(16);
  m.mentions = ParseMentions(s.Text(17));
  m.status = s.Text(18);
  m.error_code = s.Text(19);
  m.error_detail = s.Text(20);
  if (sqlite3_column_type(s.get(), 21) != SQLITE_NULL) m.expires_ms = s.Int(21);
  m.attempts = s.Int(22);
  m.first_contact = s.Int(23) != 0;
  m.wa_timestamp = s.Int(24);
  m.created_ms = s.Int(25);
  m.updated_ms = s.Int(26);
  m.sent_ms = s.Int(27);
  m.source = s.Text(28);
  return m;
}

base::Result<std::vector<MessageRow>> Select(sqlite3* db, const std::string& where,
                                             const std::function<void(Stmt&)>& bind) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM messages " + where;
  Stmt s(db, sql.c_str());
  if (!s.ok()) return ErrorOf(db);
  bind(s);
  std::vector<MessageRow> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(Read(s));
  if (rc != SQLITE_DONE) return ErrorOf(db);
  return out;
}

constexpr const char* kInsertMessage =
    "INSERT INTO messages(id, account_id, session_id, direction, wa_id, chat_jid, recipient, "
    "sender_jid, sender_pn, sender_lid, push_name, type, body, quoted_id, quoted_participant, "
    "quoted_text, mentions, status, expires_ms, wa_timestamp, created_ms, updated_ms, sent_ms, "
    "source) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr const char* kAddHistory =
    "INSERT OR IGNORE INTO message_status(message_id, status, at_ms) VALUES(?, ?, ?)";
constexpr const char* kFindKey =
    "SELECT request_hash, message_id FROM idempotency_keys WHERE account_id = ? AND key = ?";
constexpr const char* kUsage = "SELECT messages FROM account_usage WHERE account_id = ? AND month_start_ms = ?";
constexpr const char* kSaveKey =
    "INSERT OR REPLACE INTO idempotency_keys(account_id, key, request_hash, message_id, created_ms) "
    "VALUES(?, ?, ?, ?, ?)";
constexpr const char* kCount =
    "INSERT INTO account_usage(account_id, month_start_ms, messages) VALUES(?, ?, 1) "
    "ON CONFLICT(account_id, month_start_ms) DO UPDATE SET messages = messages + 1";
constexpr const char* kUpdateStatus =
    "UPDATE messages SET status = ?, updated_ms = ?, attempts = ?, error_code = ?, error_detail = ?, "
    "sent_ms = ?, wa_timestamp = ?, first_contact = ? WHERE id = ?";
// kColumns, spelled out so the statements are constants the cache can key on.
#define WA_MESSAGE_COLUMNS                                                                          \
  "n, id, account_id, session_id, direction, wa_id, chat_jid, recipient, sender_jid, sender_pn, " \
  "sender_lid, push_name, type, body, quoted_id, quoted_participant, quoted_text, mentions, "      \
  "status, error_code, error_detail, expires_ms, attempts, first_contact, wa_timestamp, "          \
  "created_ms, updated_ms, sent_ms, source"
constexpr const char* kById = "SELECT " WA_MESSAGE_COLUMNS " FROM messages WHERE id = ?";
constexpr const char* kOutById =
    "SELECT " WA_MESSAGE_COLUMNS " FROM messages WHERE session_id = ? AND direction = 'out' AND id = ?";
constexpr const char* kOutByWaId =
    "SELECT " WA_MESSAGE_COLUMNS " FROM messages WHERE session_id = ? AND direction = ? AND wa_id = ?";
#undef WA_MESSAGE_COLUMNS

// Binds `m` to a prepared kInsertMessage and runs it.
base::Result<void> BindAndInsert(sqlite3* db, Stmt& s, MessageRow& m) {
  s.Bind(1, m.id);
  s.Bind(2, m.account_id);
  s.Bind(3, m.session_id);
  s.Bind(4, m.direction);
  s.Bind(5, m.wa_id);
  s.Bind(6, m.chat_jid);
  s.Bind(7, m.to);
  s.Bind(8, m.sender_jid);
  s.Bind(9, m.sender_pn);
  s.Bind(10, m.sender_lid);
  s.Bind(11, m.push_name);
  s.Bind(12, m.type);
  s.Bind(13, m.text);
  s.Bind(14, m.quoted_id);
  s.Bind(15, m.quoted_participant);
  s.Bind(16, m.quoted_text);
  s.Bind(17, MentionsJson(m.mentions));
  s.Bind(18, m.status);
  if (m.expires_ms) s.Bind(19, static_cast<long long>(*m.expires_ms));
  s.Bind(20, static_cast<long long>(m.wa_timestamp));
  s.Bind(21, static_cast<long long>(m.created_ms));
  s.Bind(22, static_cast<long long>(m.updated_ms));
  s.Bind(23, static_cast<long long>(m.sent_ms));
  s.Bind(24, m.source);
  if (s.Step() != SQLITE_DONE) return ErrorOf(db);
  m.n = sqlite3_last_insert_rowid(db);
  return {};
}

// Position of an outgoing status in the lifecycle; failed ends it from queued or sending only.
int Rank(const std::string& status) {
  static const char* kOrder[] = {"queued", "sending", "sent", "delivered", "read", "played"};
  for (int i = 0; i < 6; ++i) {
    if (status == kOrder[i]) return i;
  }
  return -1;
}

bool Forward(const std::string& from, const std::string& to) {
  if (to == "failed") return from == "queued" || from == "sending";
  if (from == "failed") return false;
  int a = Rank(from), b = Rank(to);
  if (b < 0) return false;
  // "sending" is re-entered on every attempt: a change of attempts only.
  return b > a || (b == a && to == "sending");
}

}  // namespace

// The writer's statements, prepared on first use and reused (reset) after, across batches. Only for statements whose rows are read
// to the end before the same statement is used again.
class SqliteMessageStore::Statements {
 public:
  explicit Statements(sqlite3* db) : db_(db) {}
  sqlite3* db() const { return db_; }
  // Null when it does not prepare (the caller returns ErrorOf(db)).
  Stmt* Get(const char* sql) {
    auto& s = cache_[sql];
    if (!s) {
      s = std::make_unique<Stmt>(db_, sql);
    } else {
      s->Reset();
    }
    return s->ok() ? s.get() : nullptr;
  }
  void ResetAll() {
    for (auto& [sql, s] : cache_) s->Reset();
  }

 private:
  sqlite3* db_;
  std::unordered_map<const char*, std::unique_ptr<Stmt>> cache_;
};

namespace {

using Statements = SqliteMessageStore::Statements;

base::Result<std::optional<MessageRow>> FindOne(Statements& st, const char* sql,
                                                const std::function<void(Stmt&)>& bind) {
  Stmt* s = st.Get(sql);
  if (!s) return ErrorOf(st.db());
  bind(*s);
  int rc = s->Step();
  if (rc == SQLITE_DONE) return std::optional<MessageRow>();
  if (rc != SQLITE_ROW) return ErrorOf(st.db());
  return std::optional<MessageRow>(Read(*s));
}

base::Result<void> AddHistory(Statements& st, const std::string& message_id, const std::string& status,
                              std::int64_t at_ms) {
  Stmt* s = st.Get(kAddHistory);
  if (!s) return ErrorOf(st.db());
  s->Bind(1, message_id);
  s->Bind(2, status);
  s->Bind(3, static_cast<long long>(at_ms));
  if (s->Step() != SQLITE_DONE) return ErrorOf(st.db());
  return {};
}

base::Result<void> AddEvent(Statements& st, std::vector<EventRow>& events, EventRow e) {
  Stmt* s = st.Get(kInsertEvent);
  if (!s) return ErrorOf(st.db());
  if (auto added = InsertEvent(st.db(), *s, e); !added) return added;
  events.push_back(std::move(e));
  return {};
}

// Applies one change to `m`; appends its event to `events`.
base::Result<void> Apply(Statements& st, MessageRow& m, const MessageStore::Transition& t,
                         std::vector<EventRow>& events) {
  if (!Forward(m.status, t.status)) return {};
  bool new_status = m.status != t.status;
  m.status = t.status;
  m.updated_ms = t.at_ms;
  m.attempts += t.attempts_inc;
  if (t.status == "failed") {
    m.error_code = t.error_code;
    m.error_detail = t.error_detail;
  }
  if (t.status == "sent") {
    m.sent_ms = t.at_ms;
    m.wa_timestamp = t.wa_timestamp;
    m.first_contact = t.first_contact;
  }
  Stmt* s = st.Get(kUpdateStatus);
  if (!s) return ErrorOf(st.db());
  s->Bind(1, m.status);
  s->Bind(2, static_cast<long long>(m.updated_ms));
  s->Bind(3, static_cast<long long>(m.attempts));
  s->Bind(4, m.error_code);
  s->Bind(5, m.error_detail);
  s->Bind(6, static_cast<long long>(m.sent_ms));
  s->Bind(7, static_cast<long long>(m.wa_timestamp));
  s->Bind(8, static_cast<long long>(m.first_contact));
  s->Bind(9, m.id);
  if (s->Step() != SQLITE_DONE) return ErrorOf(st.db());
  if (!new_status) return {};
  if (auto h = AddHistory(st, m.id, m.status, t.at_ms); !h) return h;
  return AddEvent(st, events,
                  EventRow{.account_id = m.account_id, .session_id = m.session_id, .type = "message.status",
                           .data = MessageStatusEventData(m, t.at_ms), .created_ms = t.at_ms});
}

// One enqueue inside the batch's transaction.
base::Result<EnqueueOutcome> EnqueueOne(Statements& st, const EnqueueItem& item) {
  EnqueueOutcome out;
  MessageRow m = item.message;
  if (item.idempotency) {
    Stmt* k = st.Get(kFindKey);
    if (!k) return ErrorOf(st.db());
    k->Bind(1, m.account_id);
    k->Bind(2, item.idempotency->key);
    int rc = k->Step();
    if (rc == SQLITE_ROW) {
      if (k->Text(0) != item.idempotency->request_hash) {
        out.kind = EnqueueOutcome::Kind::kKeyConflict;
        return out;
      }
      std::string first_id = k->Text(1);
      auto first = FindOne(st, kById, [&](Stmt& s) { s.Bind(1, first_id); });
      if (!first) return first.error();
      if (*first) {
        out.kind = EnqueueOutcome::Kind::kReplayed;
        out.message = std::move(**first);
        return out;
      }
      // The first message is gone (retention): the key is spent; a new message below.
    } else if (rc != SQLITE_DONE) {
      return ErrorOf(st.db());
    }
  }
  if (item.monthly_limit > 0) {
    Stmt* u = st.Get(kUsage);
    if (!u) return ErrorOf(st.db());
    u->Bind(1, m.account_id);
    u->Bind(2, static_cast<long long>(item.month_start_ms));
    int rc = u->Step();
    std::int64_t used = rc == SQLITE_ROW ? u->Int(0) : 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return ErrorOf(st.db());
    if (used >= item.monthly_limit) {
      out.kind = EnqueueOutcome::Kind::kOverMonthlyLimit;
      return out;
    }
  }
  Stmt* insert = st.Get(kInsertMessage);
  if (!insert) return ErrorOf(st.db());
  if (auto ins = BindAndInsert(st.db(), *insert, m); !ins) return ins.error();
  if (auto h = AddHistory(st, m.id, m.status, m.created_ms); !h) return h.error();
  if (item.idempotency) {
    Stmt* k = st.Get(kSaveKey);
    if (!k) return ErrorOf(st.db());
    k->Bind(1, m.account_id);
    k->Bind(2, item.idempotency->key);
    k->Bind(3, item.idempotency->request_hash);
    k->Bind(4, m.id);
    k->Bind(5, static_cast<long long>(m.created_ms));
    if (k->Step() != SQLITE_DONE) return ErrorOf(st.db());
  }
  Stmt* c = st.Get(kCount);
  if (!c) return ErrorOf(st.db());
  c->Bind(1, m.account_id);
  c->Bind(2, static_cast<long long>(item.month_start_ms));
  if (c->Step() != SQLITE_DONE) return ErrorOf(st.db());
  auto added = AddEvent(st, out.events,
                        EventRow{.account_id = m.account_id, .session_id = m.session_id, .type = "message.status",
                                 .data = MessageStatusEventData(m, m.created_ms), .created_ms = m.created_ms});
  if (!added) return added.error();
  out.kind = EnqueueOutcome::Kind::kQueued;
  out.message = std::move(m);
  return out;
}

// The batch's hook inside a savepoint: its failure undoes only its own writes. Returns what is
// to run once the transaction commits.
SqliteMessageStore::AfterCommit RunHook(sqlite3* db, const SqliteMessageStore::TransactionHook& hook) {
  std::string err;
  if (!Exec(db, "SAVEPOINT in_transaction", &err)) {
    spdlog::warn("message store: savepoint failed: {}", err);
    return nullptr;
  }
  SqliteMessageStore::AfterCommit after;
  if (auto ran = hook(db); !ran) {
    spdlog::warn("message store: the in-transaction hook failed (left to its owner): {}", ran.error().message());
    Exec(db, "ROLLBACK TO in_transaction", nullptr);
  } else {
    after = std::move(*ran);
  }
  Exec(db, "RELEASE in_transaction", nullptr);
  return after;
}

// Lets the writer's connection commit without syncing when the database is a WAL file, whose
// sync the sync thread then does; otherwise SQLite keeps syncing each commit itself.
bool DeferSyncs(sqlite3* db) {
  std::string mode;
  {
    Stmt s(db, "PRAGMA journal_mode");
    if (!s.ok() || s.Step() != SQLITE_ROW) return false;
    mode = s.Text(0);
  }
  const char* file = sqlite3_db_filename(db, "main");
  if (mode != "wal" || !file || !*file) return false;
  return Exec(db, "PRAGMA synchronous=NORMAL", nullptr);
}

}  // namespace

SqliteMessageStore::SqliteMessageStore(SqliteStore& store, SyncFn sync) : store_(store), sync_(std::move(sync)) {
  if (!sync_) sync_ = [this] { return SyncWal(); };
  syncer_ = std::thread([this] { SyncLoop(); });
  writer_ = std::thread([this] { WriterLoop(); });
}

SqliteMessageStore::~SqliteMessageStore() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  writer_.join();
  // The writer is gone: the sync thread finishes what it handed over, then stops.
  {
    std::lock_guard lock(sync_mu_);
    sync_stopping_ = true;
  }
  sync_wake_.notify_all();
  syncer_.join();
  if (wal_fd_ >= 0) ::close(wal_fd_);
}

std::size_t SqliteMessageStore::largest_batch() const {
  std::lock_guard lock(mu_);
  return largest_batch_;
}

std::uint64_t SqliteMessageStore::syncs() const {
  std::lock_guard lock(sync_mu_);
  return syncs_;
}

void SqliteMessageStore::Settle(std::vector<DoneFn> committed, std::vector<DoneFn> durable, AfterCommit after) {
  for (auto& f : committed) f({});
  if (!deferred_sync_) {
    // SQLite synced the commit itself (synchronous=FULL): durable already.
    if (after) after();
    for (auto& f : durable) f({});
    return;
  }
  {
    std::lock_guard lock(sync_mu_);
    unsynced_.push_back(Committed{std::move(durable), std::move(after)});
  }
  sync_wake_.notify_one();
}

void SqliteMessageStore::SyncLoop() {
  std::deque<Committed> mine;
  for (;;) {
    {
      std::unique_lock lock(sync_mu_);
      sync_wake_.wait(lock, [&] { return sync_stopping_ || !unsynced_.empty(); });
      if (unsynced_.empty()) return;  // stopping, nothing left
      mine.swap(unsynced_);
    }
    // One sync covers every commit taken: they were all written before it started.
    bool synced = sync_();
    {
      std::lock_guard lock(sync_mu_);
      ++syncs_;
    }
    boost::system::error_code ec;
    if (!synced) {
      ec = make_error_code(boost::system::errc::io_error);
      spdlog::error("message store: syncing the WAL failed; {} commits are not known to be on disk", mine.size());
    }
    for (auto& c : mine) {
      // The hook's deliveries are in the database either way; without the sync they are left
      // to the webhook worker's own reading, after whatever made the disk fail is fixed.
      if (synced && c.after) c.after();
      for (auto& f : c.durable) f(ec);
    }
    mine.clear();
  }
}

// fdatasync of the WAL file through a descriptor of our own: Linux syncs the file, whichever
// descriptor wrote it. The file is checked to be the same one on each sync (SQLite deletes and
// recreates it only when every connection closed, but a stale descriptor must never pass for a
// sync), and its directory entry is synced when it is first (or newly) opened. Closing this
// descriptor would drop the process's POSIX locks on the file, but SQLite takes none on the
// WAL (its locks are on the database and -shm files).
bool SqliteMessageStore::SyncWal() {
  std::string path;
  {
    std::lock_guard lock(sync_mu_);
    path = wal_path_;
  }
  if (path.empty()) return false;
  struct stat now{};
  if (::stat(path.c_str(), &now) != 0) {
    spdlog::error("message store: cannot find the WAL file {}: {}", path, std::strerror(errno));
    return false;
  }
  if (wal_fd_ < 0 || static_cast<unsigned long>(now.st_ino) != wal_inode_) {
    if (wal_fd_ >= 0) ::close(wal_fd_);
    wal_fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);  // some systems sync only writable ones
    if (wal_fd_ < 0) {
      spdlog::error("message store: cannot open the WAL file {}: {}", path, std::strerror(errno));
      return false;
    }
    struct stat opened{};
    if (::fstat(wal_fd_, &opened) != 0) return false;
    wal_inode_ = static_cast<unsigned long>(opened.st_ino);
    std::string dir = std::filesystem::path(path).parent_path().string();
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return false;
    bool dir_ok = ::fsync(dfd) == 0;
    ::close(dfd);
    if (!dir_ok) return false;
  }
  if (::fdatasync(wal_fd_) != 0) {
    spdlog::error("message store: fdatasync of {} failed: {}", path, std::strerror(errno));
    return false;
  }
  return true;
}

void SqliteMessageStore::SetTransactionHook(TransactionHook hook) {
  std::lock_guard lock(mu_);
  in_transaction_ = std::move(hook);
}

void SqliteMessageStore::Push(Job job) {
  {
    std::unique_lock lock(mu_);
    if (stopping_) {
      // The writer has drained its queue and is gone (or about to be): refused, not left waiting.
      lock.unlock();
      job.finish(make_error_code(boost::system::errc::operation_canceled));
      return;
    }
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void SqliteMessageStore::Submit(WriteFn apply, DoneFn finish, Wait wait) {
  Push(Job{std::move(apply), std::move(finish), wait});
}

bool SqliteMessageStore::NextBatch(std::vector<Job>& batch, TransactionHook& hook) {
  std::unique_lock lock(mu_);
  wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
  if (queue_.empty()) return false;  // stopping, nothing left
  batch.swap(queue_);
  largest_batch_ = std::max(largest_batch_, batch.size());
  hook = in_transaction_;
  return true;
}

void SqliteMessageStore::RunBatch(sqlite3* db, Statements& st, std::vector<Job>& batch,
                                  const TransactionHook& hook) {
  AfterCommit after;
  auto together = InTransaction(db, [&]() -> base::Result<void> {
    for (auto& job : batch) {
      if (auto applied = job.apply(st.db()); !applied) return applied;
    }
    if (hook) after = RunHook(db, hook);
    return {};
  });
  std::vector<DoneFn> committed, durable;
  auto route = [&](Job& job) {
    (job.wait == Wait::kCommitted ? committed : durable).push_back(std::move(job.finish));
  };
  if (together) {
    for (auto& job : batch) route(job);
    Settle(std::move(committed), std::move(durable), std::move(after));
    return;
  }
  // One job failed the batch: each alone, so the others are not refused with it.
  for (auto& job : batch) {
    auto alone = InTransaction(db, [&]() -> base::Result<void> { return job.apply(db); });
    if (!alone) {
      job.finish(alone.error());
      continue;
    }
    route(job);
    Settle(std::move(committed), std::move(durable), nullptr);
    committed.clear();
    durable.clear();
  }
}

void SqliteMessageStore::WriterLoop() {
  std::vector<Job> batch;
  TransactionHook hook;
  bool more = true;
  while (more) {
    // One connection for as long as the writer runs: its page cache stays warm (it is the main
    // writer of these tables, so other commits rarely invalidate it) and each statement is
    // prepared once, not once per batch.
    auto ran = store_.WithConnection([&](sqlite3* db) -> base::Result<void> {
      deferred_sync_ = DeferSyncs(db);
      if (deferred_sync_) {
        std::lock_guard lock(sync_mu_);
        wal_path_ = sqlite3_filename_wal(sqlite3_db_filename(db, "main"));
      }
      Statements st(db);
      statements_ = &st;
      while ((more = NextBatch(batch, hook))) {
        RunBatch(db, st, batch, hook);
        st.ResetAll();  // no statement keeps a read snapshot open between batches
        batch.clear();
      }
      statements_ = nullptr;
      // The connection goes back to the pool as it came: committing with its own sync.
      if (deferred_sync_) Exec(db, "PRAGMA synchronous=FULL", nullptr);
      return {};
    });
    if (!ran) {
      // No connection: the next batch is refused, then opening is tried again.
      if (!(more = NextBatch(batch, hook))) break;
      for (auto& job : batch) job.finish(ran.error());
      batch.clear();
    }
  }
}

template <class T>
asio::awaitable<base::Result<T>> SqliteMessageStore::Write(std::function<base::Result<T>(Statements&)> fn) {
  auto with_statements = [this, fn = std::move(fn)](sqlite3*) { return fn(*statements_); };
  co_return co_await OnWriter<T>(*this, std::move(with_statements));
}

asio::awaitable<base::Result<EnqueueOutcome>> SqliteMessageStore::Enqueue(EnqueueItem item) {
  std::function<base::Result<EnqueueOutcome>(Statements&)> fn = [item = std::move(item)](Statements& st) {
    return EnqueueOne(st, item);
  };
  co_return co_await Write<EnqueueOutcome>(std::move(fn));
}

asio::awaitable<base::Result<std::optional<MessageRow>>> SqliteMessageStore::GetMessage(
    std::string account_id, std::string session_id, std::string id) {
  auto fn = [=](sqlite3* db) -> base::Result<std::optional<MessageRow>> {
    const char* column = id.rfind("msg_", 0) == 0 ? "id" : "wa_id";
    auto rows = Select(db, std::string("WHERE account_id = ? AND session_id = ? AND ") + column +
                               " = ? ORDER BY n LIMIT 1",
                       [&](Stmt& s) {
                         s.Bind(1, account_id);
                         s.Bind(2, session_id);
                         s.Bind(3, id);
                       });
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<MessageRow>();
    MessageRow m = std::move(rows->front());
    Stmt hist(db, "SELECT status, at_ms FROM message_status WHERE message_id = ?");
    if (!hist.ok()) return ErrorOf(db);
    hist.Bind(1, m.id);
    int rc;
    while ((rc = hist.Step()) == SQLITE_ROW) m.history.push_back({hist.Text(0), hist.Int(1)});
    if (rc != SQLITE_DONE) return ErrorOf(db);
    // Ordered by time, then by the lifecycle (changes can share a millisecond).
    std::stable_sort(m.history.begin(), m.history.end(), [](const StatusChange& a, const StatusChange& b) {
      if (a.at_ms != b.at_ms) return a.at_ms < b.at_ms;
      int ra = a.status == "failed" ? 99 : Rank(a.status);
      int rb = b.status == "failed" ? 99 : Rank(b.status);
      return ra < rb;
    });
    return std::optional<MessageRow>(std::move(m));
  };
  co_return co_await OnPool<std::optional<MessageRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::vector<MessageRow>>> SqliteMessageStore::ListMessages(
    std::string account_id, std::string session_id, std::string direction, std::int64_t before_n,
    int limit) {
  auto fn = [=](sqlite3* db) -> base::Result<std::vector<MessageRow>> {
    std::string where = "WHERE session_id = ? AND account_id = ? AND n < ?";
    if (!direction.empty()) where += " AND direction = ?";
    where += " ORDER BY n DESC LIMIT ?";
    return Select(db, where, [&](Stmt& s) {
      int i = 1;
      s.Bind(i++, session_id);
      s.Bind(i++, account_id);
      s.Bind(i++, static_cast<long long>(before_n > 0 ? before_n : INT64_MAX));
      if (!direction.empty()) s.Bind(i++, direction);
      s.Bind(i++, static_cast<long long>(limit));
    });
  };
  co_return co_await OnPool<std::vector<MessageRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::vector<MessageRow>>> SqliteMessageStore::PendingOutgoing(
    std::string session_id, int limit) {
  auto fn = [=](sqlite3* db) -> base::Result<std::vector<MessageRow>> {
    return Select(db,
                  "WHERE session_id = ? AND direction = 'out' AND status IN ('queued', 'sending') "
                  "ORDER BY n LIMIT ?",
                  [&](Stmt& s) {
                    s.Bind(1, session_id);
                    s.Bind(2, static_cast<long long>(limit));
                  });
  };
  co_return co_await OnPool<std::vector<MessageRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::vector<EventRow>>> SqliteMessageStore::Advance(
    std::string session_id, std::vector<Transition> changes) {
  std::function<base::Result<std::vector<EventRow>>(Statements&)> fn =
      [session_id, changes = std::move(changes)](Statements& st) -> base::Result<std::vector<EventRow>> {
    std::vector<EventRow> events;
    for (const auto& t : changes) {
      auto m = FindOne(st, kOutById, [&](Stmt& s) {
        s.Bind(1, session_id);
        s.Bind(2, t.message_id);
      });
      if (!m) return m.error();
      if (!*m) continue;
      if (auto a = Apply(st, **m, t, events); !a) return a.error();
    }
    return events;
  };
  co_return co_await Write<std::vector<EventRow>>(std::move(fn));
}

asio::awaitable<base::Result<std::vector<EventRow>>> SqliteMessageStore::AdvanceByWaIds(
    std::string session_id, std::vector<std::string> wa_ids, std::string status, std::int64_t at_ms) {
  std::function<base::Result<std::vector<EventRow>>(Statements&)> fn =
      [=](Statements& st) -> base::Result<std::vector<EventRow>> {
    std::vector<EventRow> events;
    for (const auto& wa_id : wa_ids) {
      auto m = FindOne(st, kOutByWaId, [&](Stmt& s) {
        s.Bind(1, session_id);
        s.Bind(2, "out");
        s.Bind(3, wa_id);
      });
      if (!m) return m.error();
      if (!*m) continue;
      // A receipt can outrun the server ack (both are in flight): it implies sent.
      if ((*m)->status == "queued" || (*m)->status == "sending") {
        MessageStore::Transition sent{.message_id = (*m)->id, .status = "sent", .at_ms = at_ms};
        sent.wa_timestamp = at_ms / 1000;
        if (auto a = Apply(st, **m, sent, events); !a) return a.error();
      }
      MessageStore::Transition t{.message_id = (*m)->id, .status = status, .at_ms = at_ms};
      if (auto a = Apply(st, **m, t, events); !a) return a.error();
    }
    return events;
  };
  co_return co_await Write<std::vector<EventRow>>(std::move(fn));
}

asio::awaitable<base::Result<std::pair<bool, std::vector<EventRow>>>> SqliteMessageStore::Cancel(
    std::string session_id, std::string message_id, std::int64_t at_ms) {
  using Out = std::pair<bool, std::vector<EventRow>>;
  std::function<base::Result<Out>(Statements&)> fn = [=](Statements& st) -> base::Result<Out> {
    Out out{false, {}};
    auto m = FindOne(st, kOutById, [&](Stmt& s) {
      s.Bind(1, session_id);
      s.Bind(2, message_id);
    });
    if (!m) return m.error();
    if (!*m || (*m)->status != "queued") return out;
    MessageStore::Transition t{.message_id = message_id, .status = "failed", .at_ms = at_ms,
                               .error_code = "cancelled", .error_detail = "cancelled by the API"};
    if (auto a = Apply(st, **m, t, out.second); !a) return a.error();
    out.first = true;
    return out;
  };
  co_return co_await Write<Out>(std::move(fn));
}

asio::awaitable<base::Result<std::vector<EventRow>>> SqliteMessageStore::FailPending(
    std::string session_id, std::string reason, std::string detail, std::int64_t at_ms) {
  std::function<base::Result<std::vector<EventRow>>(Statements&)> fn =
      [=](Statements& st) -> base::Result<std::vector<EventRow>> {
    std::vector<EventRow> events;
    auto rows = Select(st.db(),
                       "WHERE session_id = ? AND direction = 'out' AND status IN ('queued', 'sending') ORDER BY n",
                       [&](Stmt& s) { s.Bind(1, session_id); });
    if (!rows) return rows.error();
    for (auto& m : *rows) {
      MessageStore::Transition t{.message_id = m.id, .status = "failed", .at_ms = at_ms,
                                 .error_code = reason, .error_detail = detail};
      if (auto a = Apply(st, m, t, events); !a) return a.error();
    }
    return events;
  };
  co_return co_await Write<std::vector<EventRow>>(std::move(fn));
}

asio::awaitable<base::Result<std::vector<std::string>>> SqliteMessageStore::SessionsWithExpired(
    std::int64_t now_ms) {
  using Out = std::vector<std::string>;
  auto fn = [now_ms](sqlite3* db) -> base::Result<Out> {
    // The waiting-messages index (messages_pending) covers the scan.
    Stmt s(db,
           "SELECT DISTINCT session_id FROM messages WHERE direction = 'out' AND status IN ('queued', 'sending') "
           "AND status = 'queued' AND expires_ms IS NOT NULL AND expires_ms <= ?");
    if (!s.ok()) return ErrorOf(db);
    s.Bind(1, static_cast<long long>(now_ms));
    Out out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) out.push_back(s.Text(0));
    if (rc != SQLITE_DONE) return ErrorOf(db);
    return out;
  };
  co_return co_await OnPool<Out>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::vector<EventRow>>> SqliteMessageStore::ExpireQueued(std::string session_id,
                                                                                       std::int64_t at_ms) {
  std::function<base::Result<std::vector<EventRow>>(Statements&)> fn =
      [=](Statements& st) -> base::Result<std::vector<EventRow>> {
    std::vector<EventRow> events;
    auto rows = Select(st.db(),
                       "WHERE session_id = ? AND direction = 'out' AND status IN ('queued', 'sending') AND "
                       "status = 'queued' AND expires_ms IS NOT NULL AND expires_ms <= ? ORDER BY n",
                       [&](Stmt& s) {
                         s.Bind(1, session_id);
                         s.Bind(2, static_cast<long long>(at_ms));
                       });
    if (!rows) return rows.error();
    for (auto& m : *rows) {
      MessageStore::Transition t{.message_id = m.id, .status = "failed", .at_ms = at_ms, .error_code = "expired",
                                 .error_detail = "expires_at passed before the message could be sent"};
      if (auto a = Apply(st, m, t, events); !a) return a.error();
    }
    return events;
  };
  co_return co_await Write<std::vector<EventRow>>(std::move(fn));
}

asio::awaitable<base::Result<MessageStore::Received>> SqliteMessageStore::StoreReceived(MessageRow row) {
  std::function<base::Result<Received>(Statements&)> fn = [row = std::move(row)](Statements& st) -> base::Result<Received> {
    Received out;
    auto existing = FindOne(st, kOutByWaId, [&](Stmt& s) {
      s.Bind(1, row.session_id);
      s.Bind(2, row.direction);
      s.Bind(3, row.wa_id);
    });
    if (!existing) return existing.error();
    if (*existing) {
      out.message = std::move(**existing);
      return out;
    }
    out.message = row;
    Stmt* insert = st.Get(kInsertMessage);
    if (!insert) return ErrorOf(st.db());
    if (auto ins = BindAndInsert(st.db(), *insert, out.message); !ins) return ins.error();
    if (auto h = AddHistory(st, out.message.id, out.message.status, out.message.created_ms); !h) return h.error();
    // Our own phone's messages are recorded, not announced as received.
    if (out.message.direction == "in") {
      auto added = AddEvent(st, out.events,
                            EventRow{.account_id = out.message.account_id, .session_id = out.message.session_id,
                                     .type = "message.received", .data = MessageReceivedEventData(out.message),
                                     .created_ms = out.message.created_ms});
      if (!added) return added.error();
    }
    out.inserted = true;
    return out;
  };
  co_return co_await Write<Received>(std::move(fn));
}

asio::awaitable<base::Result<std::int64_t>> SqliteMessageStore::StoreHistory(
    std::vector<MessageRow> rows) {
  std::function<base::Result<std::int64_t>(Statements&)> fn =
      [rows = std::move(rows)](Statements& st) mutable -> base::Result<std::int64_t> {
    std::int64_t inserted = 0;
    for (auto& row : rows) {
      auto existing = FindOne(st, kOutByWaId, [&](Stmt& s) {
        s.Bind(1, row.session_id);
        s.Bind(2, row.direction);
        s.Bind(3, row.wa_id);
      });
      if (!existing) return existing.error();
      if (*existing) continue;
      row.source = "history";
      Stmt* insert = st.Get(kInsertMessage);
      if (!insert) return ErrorOf(st.db());
      if (auto ins = BindAndInsert(st.db(), *insert, row); !ins) return ins.error();
      if (auto h = AddHistory(st, row.id, row.status, row.created_ms); !h) return h.error();
      inserted++;
    }
    return inserted;
  };
  co_return co_await Write<std::int64_t>(std::move(fn));
}

asio::awaitable<base::Result<std::vector<std::pair<std::string, std::int64_t>>>>
SqliteMessageStore::LoggedOutSessions() {
  using Out = std::vector<std::pair<std::string, std::int64_t>>;
  auto fn = [](sqlite3* db) -> base::Result<Out> {
    Stmt s(db,
           "SELECT s.id, s.status_ms FROM sessions s WHERE s.status = 'logged_out' AND EXISTS "
           "(SELECT 1 FROM messages m WHERE m.session_id = s.id AND m.direction = 'out' AND "
           "m.status IN ('queued', 'sending'))");
    if (!s.ok()) return ErrorOf(db);
    Out out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) out.emplace_back(s.Text(0), s.Int(1));
    if (rc != SQLITE_DONE) return ErrorOf(db);
    return out;
  };
  co_return co_await OnPool<Out>(store_, std::move(fn));
}

asio::awaitable<base::Result<bool>> SqliteMessageStore::HasReceivedFrom(std::string session_id,
                                                                        std::string chat_jid) {
  auto fn = [=](sqlite3* db) -> base::Result<bool> {
    Stmt s(db, kReceivedFromSql);
    if (!s.ok()) return base::Result<bool>(boost::system::in_place_error, ErrorOf(db));
    s.Bind(1, session_id);
    s.Bind(2, chat_jid);
    int rc = s.Step();
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) return base::Result<bool>(boost::system::in_place_error, ErrorOf(db));
    return false;
  };
  co_return co_await OnPool<bool>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::pair<std::int64_t, std::int64_t>>> SqliteMessageStore::QueueTotals() {
  using Out = std::pair<std::int64_t, std::int64_t>;
  auto fn = [](sqlite3* db) -> base::Result<Out> {
    Stmt s(db,
           "SELECT COUNT(*), COALESCE(MIN(created_ms), 0) FROM messages WHERE direction = 'out' AND "
           "status IN ('queued', 'sending')");
    if (!s.ok() || s.Step() != SQLITE_ROW) return ErrorOf(db);
    return Out{s.Int(0), s.Int(1)};
  };
  co_return co_await OnPool<Out>(store_, std::move(fn));
}

asio::awaitable<base::Result<SendingStats>> SqliteMessageStore::Stats(std::string session_id,
                                                                      std::int64_t since_ms) {
  auto fn = [=](sqlite3* db) -> base::Result<SendingStats> {
    SendingStats st;
    Stmt s(db,
           "SELECT "
           "  COALESCE(SUM(direction = 'out' AND sent_ms >= ?1), 0), "
           "  COALESCE(SUM(direction = 'out' AND sent_ms >= ?1 AND first_contact = 1), 0), "
           "  COALESCE(SUM(direction = 'in' AND created_ms >= ?1), 0), "
           "  COALESCE(SUM(direction = 'out' AND status = 'failed' AND updated_ms >= ?1), 0) "
           "FROM messages WHERE session_id = ?2 AND (created_ms >= ?1 OR sent_ms >= ?1 OR updated_ms >= ?1)");
    if (!s.ok()) return ErrorOf(db);
    s.Bind(1, static_cast<long long>(since_ms));
    s.Bind(2, session_id);
    if (s.Step() != SQLITE_ROW) return ErrorOf(db);
    st.sent_since = s.Int(0);
    st.first_contacts_since = s.Int(1);
    st.received_since = s.Int(2);
    st.failed_since = s.Int(3);
    Stmt q(db,
           "SELECT COUNT(*), COALESCE(MIN(created_ms), 0) FROM messages WHERE session_id = ? AND "
           "direction = 'out' AND status IN ('queued', 'sending')");
    if (!q.ok()) return ErrorOf(db);
    q.Bind(1, session_id);
    if (q.Step() != SQLITE_ROW) return ErrorOf(db);
    st.queued = q.Int(0);
    st.oldest_queued_ms = q.Int(1);
    return st;
  };
  co_return co_await OnPool<SendingStats>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::int64_t>> SqliteMessageStore::CountOutgoing(std::string account_id,
                                                                            std::int64_t since_ms) {
  auto fn = [=](sqlite3* db) -> base::Result<std::int64_t> {
    Stmt s(db, "SELECT COALESCE(SUM(messages), 0) FROM account_usage WHERE account_id = ? AND month_start_ms >= ?");
    if (!s.ok()) return ErrorOf(db);
    s.Bind(1, account_id);
    s.Bind(2, static_cast<long long>(since_ms));
    if (s.Step() != SQLITE_ROW) return ErrorOf(db);
    return static_cast<std::int64_t>(s.Int(0));
  };
  co_return co_await OnPool<std::int64_t>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::int64_t>> SqliteMessageStore::Prune(std::int64_t messages_before_ms,
                                                                    std::int64_t keys_before_ms) {
  auto fn = [=](sqlite3* db) -> base::Result<std::int64_t> {
    std::int64_t removed = 0;
    auto done = InTransaction(db, [&]() -> base::Result<void> {
      Stmt m(db,
             "DELETE FROM messages WHERE created_ms < ? AND NOT (direction = 'out' AND status IN "
             "('queued', 'sending'))");
      if (!m.ok()) return ErrorOf(db);
      m.Bind(1, static_cast<long long>(messages_before_ms));
      if (m.Step() != SQLITE_DONE) return ErrorOf(db);
      removed = sqlite3_changes(db);
      Stmt k(db, "DELETE FROM idempotency_keys WHERE created_ms < ?");
      if (!k.ok()) return ErrorOf(db);
      k.Bind(1, static_cast<long long>(keys_before_ms));
      if (k.Step() != SQLITE_DONE) return ErrorOf(db);
      return {};
    });
    if (!done) return done.error();
    return removed;
  };
  co_return co_await OnPool<std::int64_t>(store_, std::move(fn));
}

}  // namespace gateway::store::sqlite
