// The embedded store: one SQLite file in WAL mode with foreign keys on and a busy timeout. A
// bounded pool runs every statement; each pool thread uses its own connection, so readers never
// wait for each other and SQLite serialises writers. WAL checkpoints run on a thread of their own
// (see Checkpointer in the .cc), never inside a writer's commit.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "base/blocking_pool.h"
#include "gateway/store/store.h"

struct sqlite3;

namespace gateway::store::sqlite {

// A thread that commits writes of other threads in shared transactions: whatever queued while
// one commit ran goes into the next, so they share one fsync and never wait for the write lock
// behind each other. The message store's writer is the gateway's (message_store.h); the session
// states and the webhook records hand it their writes when it is set (SqliteStore::SetGroupWriter).
class GroupWriter {
 public:
  virtual ~GroupWriter() = default;
  // When a write's `finish` runs.
  enum class Wait {
    // Once its transaction is on disk (synced): it survives a power loss. What a caller has
    // promised to someone else (a 202, a delivery receipt) waits for this.
    kDurable,
    // Once its transaction committed: visible to every connection and safe from the process
    // being killed. A power loss within the next sync (milliseconds; one runs after every
    // commit) may undo it, and then always with every later transaction, never half of one.
    kCommitted,
  };
  // `apply` runs inside the next transaction on the writer's thread (no BEGIN/COMMIT of its own);
  // `finish` gets the outcome once that transaction reached `wait` or failed (a failed batch is
  // retried one job per transaction, so one job's failure is its own).
  using WriteFn = std::function<base::Result<void>(sqlite3*)>;
  using DoneFn = std::function<void(boost::system::error_code)>;
  virtual void Submit(WriteFn apply, DoneFn finish, Wait wait) = 0;
};

struct Options {
  std::filesystem::path path;
  int threads = 2;
};

class SqliteStore final : public Store {
 public:
  // Opens (creating if needed) and checks the file is a usable database; Migrate() must follow
  // before other use. `error_text` explains a failure in one line (path and SQLite's message).
  static base::Result<std::unique_ptr<SqliteStore>> Open(const Options& options,
                                                          std::string* error_text);
  ~SqliteStore() override;

  boost::asio::awaitable<base::Result<Health>> Check() override;

  // Applies pending migrations synchronously (start-up and `wagate migrate`); returns the
  // versions applied.
  base::Result<std::vector<int>> Migrate(std::string* error_text);
  MigrationState migrations() const { return migrations_; }
  const std::string& instance_id() const { return instance_id_; }

  // Reads or records the master key's check value: the first start records it, later starts
  // must present the same key.
  base::Result<void> VerifyMasterKeyCheck(const std::string& check_hex);

  // For the repositories built on this store (session_state.h). WithConnection runs `fn` on the
  // calling thread with a connection no other thread uses meanwhile: on the pool normally, on a
  // network thread only for a session state's counted read-through.
  base::Result<void> WithConnection(const std::function<base::Result<void>(sqlite3*)>& fn);
  base::BlockingPool& pool() { return pool_; }

  // The writer that takes other repositories' high-rate writes (session state commits, webhook
  // attempt records); null (the default, and after its owner is gone) means each commits alone.
  void SetGroupWriter(GroupWriter* writer) { group_writer_.store(writer); }
  GroupWriter* group_writer() const { return group_writer_.load(); }

  // WAL checkpoints run so far by the checkpoint thread (tests).
  std::uint64_t checkpoints() const;

 private:
  explicit SqliteStore(Options options);
  class Checkpointer;
  class Connections;

  Options options_;
  std::unique_ptr<Checkpointer> checkpointer_;
  std::unique_ptr<Connections> connections_;
  base::BlockingPool pool_;
  std::string instance_id_;
  MigrationState migrations_;
  std::atomic<GroupWriter*> group_writer_{nullptr};
};

}  // namespace gateway::store::sqlite
