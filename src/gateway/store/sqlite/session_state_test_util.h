// Test helpers (not part of the library): a migrated SQLite store in a temporary directory with
// the SessionStates over it, a way to run one coroutine to completion, and raw SQL access.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <condition_variable>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "gateway/store/sqlite/session_state.h"
#include "gateway/store/sqlite/sqlite_store.h"

namespace gateway::store::sqlite::testing {

inline base::Bytes MasterKey(std::uint8_t fill = 0x42) { return base::Bytes(32, fill); }

// Runs `task` on `ioc` until it completes and returns its value.
template <class T>
T RunTask(boost::asio::io_context& ioc, boost::asio::awaitable<T> task) {
  std::optional<T> out;
  std::exception_ptr error;
  boost::asio::co_spawn(ioc, std::move(task), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) out.emplace(std::move(value));
  });
  ioc.restart();
  ioc.run();
  if (error) std::rethrow_exception(error);
  return std::move(*out);
}

// Occupies every thread of a store's pool until destroyed, so that work posted meanwhile (a
// group commit's flush) waits: tests use it to gather commits deterministically.
class PoolBlocker {
 public:
  explicit PoolBlocker(SqliteStore& store, int threads = 2) {
    for (int i = 0; i < threads; ++i) {
      boost::asio::post(store.pool().executor(), [this] {
        std::unique_lock lock(mu_);
        ++blocked_;
        cv_.notify_all();
        cv_.wait(lock, [this] { return released_; });
        --blocked_;
        cv_.notify_all();
      });
    }
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return blocked_ == threads; });
  }
  ~PoolBlocker() {
    std::unique_lock lock(mu_);
    released_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return blocked_ == 0; });  // they use this object until then
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int blocked_ = 0;
  bool released_ = false;
};

// A migrated SQLite store in a temporary directory of its own, for the repositories' tests;
// derived fixtures add their repositories in SetUp (after calling this one). The directory goes
// when the fixture does, after the derived fixture's members (which use the store) are gone.
class MigratedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("wagate-store-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::string err;
    auto s = SqliteStore::Open({.path = dir_ / "t.db", .threads = 2}, &err);
    ASSERT_TRUE(s) << err;
    store_ = std::move(*s);
    ASSERT_TRUE(store_->Migrate(&err)) << err;
  }
  ~MigratedStoreTest() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  boost::asio::io_context ioc_;
  std::unique_ptr<SqliteStore> store_;
};

class StateTest : public ::testing::Test {
 public:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("wagate-state-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    Reopen();
  }
  void TearDown() override {
    Close();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path db() const { return dir_ / "state.db"; }

  // A process restart: everything closed, then opened again from the file.
  void Reopen(const base::Bytes& master_key = MasterKey()) {
    Close();
    std::string err;
    auto opened = SqliteStore::Open({.path = db(), .threads = 2}, &err);
    ASSERT_TRUE(opened) << err;
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->Migrate(&err)) << err;
    states_ = std::make_unique<SessionStates>(*store_, master_key, options_);
  }
  void Close() {
    states_.reset();
    store_.reset();
  }

  template <class T>
  T Run(boost::asio::awaitable<T> task) {
    return RunTask(ioc_, std::move(task));
  }

  std::unique_ptr<SessionState> Open(const std::string& session_id) {
    auto opened = Run(states_->Open(session_id));
    EXPECT_TRUE(opened) << session_id << ": " << opened.error().message();
    return opened ? std::move(*opened) : nullptr;
  }
  base::Result<void> Commit(SessionState& state) { return Run(state.Commit()); }
  base::Result<void> Prefetch(SessionState& state, const wa::client::PrefetchRequest& request) {
    return Run(state.Prefetch(request));
  }

  // One integer from raw SQL on a connection of its own.
  long long Query(const std::string& sql) {
    sqlite3* h = nullptr;
    sqlite3_open(db().c_str(), &h);
    sqlite3_stmt* st = nullptr;
    long long out = -1;
    if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      out = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    return out;
  }
  // Runs raw SQL; returns SQLite's message on failure, "" on success.
  std::string Exec(const std::string& sql) {
    sqlite3* h = nullptr;
    sqlite3_open(db().c_str(), &h);
    char* msg = nullptr;
    std::string out;
    if (sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
      out = msg ? msg : "error";
    }
    sqlite3_free(msg);
    sqlite3_close(h);
    return out;
  }
  // Every byte of the database and its WAL.
  std::string FileBytes() const {
    std::string all;
    for (const char* suffix : {"", "-wal"}) {
      std::ifstream f(db().string() + suffix, std::ios::binary);
      all.append(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
    return all;
  }

  std::filesystem::path dir_;
  SessionStateOptions options_;
  boost::asio::io_context ioc_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<SessionStates> states_;
};

}  // namespace gateway::store::sqlite::testing
