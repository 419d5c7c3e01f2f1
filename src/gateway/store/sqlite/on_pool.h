// Runs a function with a database connection on the store's pool and resumes the caller with its
// result: the shape of every repository method of the SQLite store. Private to this folder.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <utility>

#include "base/result.h"
#include "gateway/store/sqlite/sqlite_store.h"

struct sqlite3;

namespace gateway::store::sqlite {

// `fn(sqlite3*)` returns base::Result<T>. Callers pass a named lambda, not a temporary inside
// their own co_await expression (g++ 12 destroys such temporaries twice).
template <class T, class F>
boost::asio::awaitable<base::Result<T>> OnPool(SqliteStore& store, F fn) {
  auto work = [&store, fn = std::move(fn)]() -> base::Result<T> {
    std::optional<base::Result<T>> out;
    auto ran = store.WithConnection([&](sqlite3* db) -> base::Result<void> {
      out.emplace(fn(db));
      return {};
    });
    if (!ran) return base::Result<T>(boost::system::in_place_error, ran.error());
    return std::move(*out);
  };
  co_return co_await store.pool().Run(std::move(work));
}

}  // namespace gateway::store::sqlite
