#include "gateway/app/app.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <filesystem>
#include <set>

#include "gateway/api/openapi.h"
#include "gateway/store/sqlite/account_store.h"
#include "gateway/store/sqlite/event_store.h"
#include "gateway/store/sqlite/session_state.h"
#include "gateway/store/sqlite/session_store.h"
#include "gateway/store/sqlite/message_store.h"
#include "gateway/store/sqlite/sqlite_store.h"
#include "gateway/store/sqlite/webhook_store.h"

namespace gateway::app {
namespace {

// Every route the server answers is documented, with the same methods, and the document lists
// nothing the server does not answer.
TEST(OpenApi, DocumentsExactlyTheRoutesOfTheRouter) {
  auto dir = std::filesystem::temp_directory_path() / ("wagate-app-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string err;
  auto store = store::sqlite::SqliteStore::Open({.path = dir / "t.db", .threads = 1}, &err);
  ASSERT_TRUE(store) << err;
  ASSERT_TRUE((*store)->Migrate(&err)) << err;
  store::sqlite::SqliteAccountStore rows(**store);
  base::BlockingPool pool(1);
  config::Config config;
  accounts::AccountService accounts(rows, pool, config);
  store::sqlite::SessionStates states(**store, base::Bytes(32, 1));
  store::sqlite::SqliteSessionStore session_rows(**store);
  boost::asio::io_context ioc;
  sessions::SessionManager sessions(ioc, session_rows, states, {});
  store::sqlite::SqliteMessageStore message_rows(**store);
  events::Bus bus;
  outbox::Outbox outbox(ioc, message_rows, session_rows, bus, {});
  store::sqlite::SqliteWebhookStore webhook_rows(**store, base::Bytes(32, 1));
  webhooks::Service hooks(ioc, webhook_rows, session_rows, {});
  store::sqlite::SqliteEventStore event_log(**store);
  base::metrics::Registry metrics;
  auto router = MakeRouter(**store, accounts, sessions, outbox, hooks, config, event_log, bus, metrics);

  std::set<std::pair<std::string, std::string>> served;
  for (const auto& route : router.routes()) {
    std::string method(boost::beast::http::to_string(route.method));
    for (auto& c : method) c = static_cast<char>(std::tolower(c));
    served.emplace(route.pattern, method);
  }
  auto doc = boost::json::parse(api::OpenApiDocument()).as_object();
  EXPECT_EQ(doc.at("openapi").as_string(), "3.1.0");
  std::set<std::pair<std::string, std::string>> documented;
  for (const auto& [path, item] : doc.at("paths").as_object()) {
    for (const auto& [method, op] : item.as_object()) {
      if (method == "parameters") continue;
      documented.emplace(std::string(path), std::string(method));
      EXPECT_TRUE(op.as_object().contains("responses")) << path << " " << method;
    }
  }
  for (const auto& r : served) EXPECT_TRUE(documented.count(r)) << "undocumented: " << r.second << " " << r.first;
  for (const auto& r : documented) EXPECT_TRUE(served.count(r)) << "documented, not served: " << r.second << " " << r.first;
  EXPECT_FALSE(served.empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace gateway::app
