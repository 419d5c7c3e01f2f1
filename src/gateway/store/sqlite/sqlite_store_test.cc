#include "gateway/store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <fstream>
#include <thread>

#include "gateway/store/sqlite/sql.h"

namespace gateway::store::sqlite {
namespace {

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("wagate-store-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path db() const { return dir_ / "t.db"; }

  std::unique_ptr<SqliteStore> OpenMigrated() {
    std::string err;
    auto s = SqliteStore::Open({.path = db(), .threads = 2}, &err);
    EXPECT_TRUE(s) << err;
    if (!s) return nullptr;
    auto applied = (*s)->Migrate(&err);
    EXPECT_TRUE(applied) << err;
    return std::move(*s);
  }

  static std::string Pragma(const std::filesystem::path& path, const char* sql) {
    sqlite3* h = nullptr;
    sqlite3_open(path.c_str(), &h);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(h, sql, -1, &st, nullptr);
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW) out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(h);
    return out;
  }

  std::filesystem::path dir_;
};

TEST_F(SqliteStoreTest, MigratesOnceAndKeepsInstanceId) {
  std::string id;
  {
    auto s = OpenMigrated();
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->migrations().UpToDate());
    EXPECT_EQ(s->migrations().current, SqliteMigrations().back().version);
    id = s->instance_id();
    EXPECT_EQ(id.size(), 32u);
  }
  std::string err;
  auto s = SqliteStore::Open({.path = db(), .threads = 1}, &err);
  ASSERT_TRUE(s) << err;
  auto applied = (*s)->Migrate(&err);
  ASSERT_TRUE(applied) << err;
  EXPECT_TRUE(applied->empty());
  EXPECT_EQ((*s)->instance_id(), id);
}

TEST_F(SqliteStoreTest, UsesWalMode) {
  auto s = OpenMigrated();
  ASSERT_TRUE(s);
  EXPECT_EQ(Pragma(db(), "PRAGMA journal_mode"), "wal");
}

TEST_F(SqliteStoreTest, CheckpointsRunOnTheirOwnThreadNotInTheCommit) {
  auto s = OpenMigrated();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->checkpoints(), 0u);
  // One commit that takes the WAL well past 1,000 pages (about 12 MB of 4 KiB blobs).
  ASSERT_TRUE(s->WithConnection([](sqlite3* db) -> base::Result<void> {
    const char* sql =
        "CREATE TABLE blobs(x BLOB); BEGIN; "
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
        "INSERT INTO blobs SELECT randomblob(4000) FROM n; COMMIT;";
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return make_error_code(Errc::kIo);
    return {};
  }));
  // The committing connection does not checkpoint (its WAL hook replaces SQLite's automatic
  // checkpoint): the checkpoint thread copies the pages into the database file.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (s->checkpoints() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(s->checkpoints(), 1u);
  EXPECT_GT(std::filesystem::file_size(db()), 10u << 20);
  // The rows are all there, read through another connection.
  EXPECT_EQ(Pragma(db(), "SELECT count(*) FROM blobs"), "3000");
}

TEST_F(SqliteStoreTest, PooledConnectionsKeepTheirPreparedStatements) {
  auto s = OpenMigrated();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->WithConnection([](sqlite3* db) -> base::Result<void> {
    const char* sql = "SELECT count(*) FROM meta WHERE key = ?";
    sqlite3_stmt* first = nullptr;
    sqlite3_stmt* second = nullptr;
    {
      Stmt a(db, sql);
      EXPECT_TRUE(a.ok());
      a.Bind(1, "instance_id");
      EXPECT_EQ(a.Step(), SQLITE_ROW);
      EXPECT_EQ(a.Int(0), 1);
      first = a.get();
    }
    {
      // Used again: the kept statement, reset and without the old binding.
      Stmt again(db, sql);
      EXPECT_EQ(again.get(), first);
      EXPECT_EQ(again.Step(), SQLITE_ROW);
      EXPECT_EQ(again.Int(0), 0);  // NULL key: no row matches
      {
        // The same text while that one is in use: a statement of its own, kept when done.
        Stmt b(db, sql);
        EXPECT_TRUE(b.ok());
        second = b.get();
        EXPECT_NE(second, first);
      }
      // `again` finds the place taken when it is done, and is finalized.
    }
    {
      Stmt third(db, sql);
      EXPECT_EQ(third.get(), second);
    }
    // Text that differs only in a literal is another statement; a bad one is not kept.
    {
      Stmt other(db, "SELECT count(*) FROM meta WHERE key = 'x'");
      EXPECT_NE(other.get(), second);
      Stmt bad(db, "SELECT nonsense FROM");
      EXPECT_FALSE(bad.ok());
    }
    // Bounded: statements built with ever new text stop being kept; each still works.
    for (int i = 0; i < 400; ++i) {
      std::string text = "SELECT " + std::to_string(i);
      Stmt one(db, text.c_str());
      EXPECT_EQ(one.Step(), SQLITE_ROW);
      EXPECT_EQ(one.Int(0), i);
    }
    return {};
  }));
  // A connection the store did not open prepares as before.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db().c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* seen = nullptr;
  {
    Stmt a(raw, "SELECT 1");
    seen = a.get();
    EXPECT_EQ(a.Step(), SQLITE_ROW);
  }
  EXPECT_EQ(sqlite3_next_stmt(raw, nullptr), nullptr);  // finalized, not kept
  (void)seen;
  sqlite3_close(raw);
}

TEST_F(SqliteStoreTest, CheckRunsOnThePoolAndReportsState) {
  auto s = OpenMigrated();
  ASSERT_TRUE(s);
  boost::asio::io_context ioc;
  base::Result<Health> health = make_error_code(Errc::kIo);
  boost::asio::co_spawn(ioc, [&]() -> boost::asio::awaitable<void> {
    health = co_await s->Check();
  }, boost::asio::detached);
  ioc.run();
  ASSERT_TRUE(health) << health.error().message();
  EXPECT_EQ(health->driver, "sqlite");
  EXPECT_TRUE(health->migrations.UpToDate());
  EXPECT_EQ(health->instance_id, s->instance_id());
}

TEST_F(SqliteStoreTest, RefusesANewerSchema) {
  {
    auto s = OpenMigrated();
    ASSERT_TRUE(s);
  }
  Pragma(db(), "INSERT INTO schema_migrations VALUES(9999, 'future', 0) RETURNING version");
  std::string err;
  auto s = SqliteStore::Open({.path = db(), .threads = 1}, &err);
  ASSERT_TRUE(s) << err;
  auto applied = (*s)->Migrate(&err);
  ASSERT_FALSE(applied);
  EXPECT_EQ(applied.error(), Errc::kSchemaTooNew);
  EXPECT_NE(err.find("9999"), std::string::npos) << err;
}

TEST_F(SqliteStoreTest, RejectsAFileThatIsNotADatabase) {
  std::ofstream(db()) << std::string(4096, 'x');
  std::string err;
  auto s = SqliteStore::Open({.path = db(), .threads = 1}, &err);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), Errc::kCorrupt);
  EXPECT_NE(err.find("t.db"), std::string::npos) << err;
}

TEST_F(SqliteStoreTest, MasterKeyCheckIsRecordedOnceThenEnforced) {
  auto s = OpenMigrated();
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->VerifyMasterKeyCheck("aaaa"));
  EXPECT_TRUE(s->VerifyMasterKeyCheck("aaaa"));
  auto r = s->VerifyMasterKeyCheck("bbbb");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::kMasterKeyMismatch);
}

}  // namespace
}  // namespace gateway::store::sqlite
