// Runs a function with a database connection on the store's pool and resumes the caller with its
// result: the shape of every repository method of the SQLite store. Private to this folder.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>

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

// `fn(sqlite3*)` runs inside a transaction of `writer` (GroupWriter: no BEGIN of its own) and
// the caller resumes with its result once that transaction is durable (or, with
// Wait::kCommitted, committed).
template <class T, class F>
boost::asio::awaitable<base::Result<T>> OnWriter(GroupWriter& writer, F fn,
                                                 GroupWriter::Wait wait = GroupWriter::Wait::kDurable) {
  auto out = std::make_shared<std::optional<base::Result<T>>>();
  GroupWriter::WriteFn apply = [fn = std::move(fn), out](sqlite3* db) -> base::Result<void> {
    auto r = fn(db);
    if (!r) return r.error();
    out->emplace(std::move(r));
    return {};
  };
  auto initiate = [&writer, out, wait](auto handler, GroupWriter::WriteFn apply) {
    auto work = boost::asio::make_work_guard(boost::asio::get_associated_executor(handler));
    auto h = std::make_shared<std::pair<decltype(handler), decltype(work)>>(std::move(handler), std::move(work));
    writer.Submit(std::move(apply), [h, out](boost::system::error_code ec) {
      base::Result<T> r = ec ? base::Result<T>(boost::system::in_place_error, ec) : std::move(**out);
      auto ex = h->second.get_executor();
      boost::asio::post(ex, [h, r = std::move(r)]() mutable {
        h->first(std::move(r));
        h->second.reset();
      });
    }, wait);
  };
  co_return co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(base::Result<T>)>(
      std::move(initiate), boost::asio::use_awaitable, std::move(apply));
}

}  // namespace gateway::store::sqlite
