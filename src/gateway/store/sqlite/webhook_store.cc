#include "gateway/store/sqlite/webhook_store.h"

#include <map>

#include "gateway/store/ids.h"
#include "gateway/store/sealer.h"
#include "gateway/store/sqlite/on_pool.h"
#include "gateway/store/sqlite/sql.h"

namespace gateway::store::sqlite {

namespace asio = boost::asio;

namespace {

constexpr const char* kEndpointColumns =
    "e.id, e.account_id, e.session_id, e.url, e.events, e.description, e.sealed_secret, "
    "e.sealed_previous, e.previous_until_ms, e.disabled, e.disabled_reason, e.failing_since_ms, "
    "e.created_ms, e.updated_ms";
constexpr int kEndpointColumnCount = 14;
constexpr const char* kDeliveryColumns =
    "d.id, d.endpoint_id, d.account_id, d.session_id, d.event_seq, d.event_id, d.event_type, "
    "d.body, d.state, d.ordered, d.attempts, d.window_start_ms, d.next_attempt_ms, d.last_status, "
    "d.last_error, d.created_ms, d.updated_ms";

std::string JoinEvents(const std::vector<std::string>& events) {
  std::string out;
  for (const auto& e : events) {
    if (!out.empty()) out += ',';
    out += e;
  }
  return out;
}

std::vector<std::string> SplitEvents(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    auto comma = text.find(',', start);
    out.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

base::Bytes SecretAad(std::string_view id, std::string_view column) {
  return Aad({"webhook_endpoints", id, column});
}

base::Bytes Seal(const base::Bytes& master, const std::string& id, std::string_view column,
                 const std::string& secret) {
  return Sealer(master, id).Seal(base::AsBytes(secret), SecretAad(id, column));
}

base::Result<std::string> Open(const base::Bytes& master, const std::string& id,
                               std::string_view column, const base::Bytes& sealed) {
  auto plain = Sealer(master, id).Open(sealed, SecretAad(id, column));
  if (!plain) return plain.error();
  return std::string(base::AsChars(*plain));
}

// Reads the endpoint columns starting at `at`.
base::Result<WebhookEndpointRow> ReadEndpoint(Stmt& s, int at, const base::Bytes& master) {
  WebhookEndpointRow r;
  r.id = s.Text(at + 0);
  r.account_id = s.Text(at + 1);
  r.session_id = s.Text(at + 2);
  r.url = s.Text(at + 3);
  r.events = SplitEvents(s.Text(at + 4));
  r.description = s.Text(at + 5);
  auto secret = Open(master, r.id, "secret", s.Blob(at + 6));
  if (!secret) return secret.error();
  r.secret = std::move(*secret);
  if (sqlite3_column_type(s.get(), at + 7) != SQLITE_NULL) {
    auto previous = Open(master, r.id, "previous", s.Blob(at + 7));
    if (!previous) return previous.error();
    r.previous_secret = std::move(*previous);
  }
  r.previous_until_ms = s.Int(at + 8);
  r.disabled = s.Int(at + 9) != 0;
  r.disabled_reason = s.Text(at + 10);
  r.failing_since_ms = s.Int(at + 11);
  r.created_ms = s.Int(at + 12);
  r.updated_ms = s.Int(at + 13);
  return r;
}

WebhookDeliveryRow ReadDelivery(Stmt& s, int at) {
  WebhookDeliveryRow d;
  d.id = s.Text(at + 0);
  d.endpoint_id = s.Text(at + 1);
  d.account_id = s.Text(at + 2);
  d.session_id = s.Text(at + 3);
  d.event_seq = s.Int(at + 4);
  d.event_id = s.Text(at + 5);
  d.event_type = s.Text(at + 6);
  d.body = s.Text(at + 7);
  d.state = s.Text(at + 8);
  d.ordered = s.Int(at + 9) != 0;
  d.attempts = static_cast<int>(s.Int(at + 10));
  d.window_start_ms = s.Int(at + 11);
  d.next_attempt_ms = s.Int(at + 12);
  d.last_status = static_cast<int>(s.Int(at + 13));
  d.last_error = s.Text(at + 14);
  d.created_ms = s.Int(at + 15);
  d.updated_ms = s.Int(at + 16);
  return d;
}

base::Result<std::vector<WebhookEndpointRow>> SelectEndpoints(
    sqlite3* db, const base::Bytes& master, const std::string& where,
    const std::function<void(Stmt&)>& bind) {
  std::string sql = std::string("SELECT ") + kEndpointColumns + " FROM webhook_endpoints e " + where;
  Stmt s(db, sql.c_str());
  if (!s.ok()) return ErrorOf(db);
  bind(s);
  std::vector<WebhookEndpointRow> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    auto row = ReadEndpoint(s, 0, master);
    if (!row) return row.error();
    out.push_back(std::move(*row));
  }
  if (rc != SQLITE_DONE) return ErrorOf(db);
  return out;
}

base::Result<std::optional<WebhookEndpointRow>> EndpointById(sqlite3* db, const base::Bytes& master,
                                                             const std::string& id) {
  auto rows = SelectEndpoints(db, master, "WHERE e.id = ?", [&](Stmt& s) { s.Bind(1, id); });
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<WebhookEndpointRow>();
  return std::optional<WebhookEndpointRow>(std::move(rows->front()));
}

base::Result<void> LoadAttempts(sqlite3* db, WebhookDeliveryRow& d) {
  Stmt s(db,
         "SELECT n, at_ms, status_code, latency_ms, error FROM webhook_attempts "
         "WHERE delivery_id = ? ORDER BY n");
  if (!s.ok()) return ErrorOf(db);
  s.Bind(1, d.id);
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    d.attempt_log.push_back({static_cast<int>(s.Int(0)), s.Int(1), static_cast<int>(s.Int(2)),
                             s.Int(3), s.Text(4)});
  }
  if (rc != SQLITE_DONE) return ErrorOf(db);
  return {};
}

base::Result<std::optional<WebhookDeliveryRow>> DeliveryOf(sqlite3* db, const std::string& account_id,
                                                           const std::string& endpoint_id,
                                                           const std::string& delivery_id) {
  std::string sql = std::string("SELECT ") + kDeliveryColumns +
                    " FROM webhook_deliveries d WHERE d.id = ? AND d.endpoint_id = ? AND "
                    "d.account_id = ?";
  Stmt s(db, sql.c_str());
  if (!s.ok()) return ErrorOf(db);
  s.Bind(1, delivery_id);
  s.Bind(2, endpoint_id);
  s.Bind(3, account_id);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<WebhookDeliveryRow>();
  if (rc != SQLITE_ROW) return ErrorOf(db);
  auto d = ReadDelivery(s, 0);
  if (auto loaded = LoadAttempts(db, d); !loaded) return loaded.error();
  return std::optional<WebhookDeliveryRow>(std::move(d));
}

// Adds to a session's counters (creating the row).
base::Result<void> AddStats(sqlite3* db, const std::string& account_id, const std::string& session_id,
                            long long events, long long messages, long long deliveries,
                            long long delivered, long long dead) {
  return Change(db,
                "INSERT INTO webhook_session_stats(account_id, session_id, events, "
                "messages_received, deliveries, delivered, dead) VALUES(?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(account_id, session_id) DO UPDATE SET "
                "events = events + excluded.events, "
                "messages_received = messages_received + excluded.messages_received, "
                "deliveries = deliveries + excluded.deliveries, "
                "delivered = delivered + excluded.delivered, dead = dead + excluded.dead",
                [&](Stmt& s) {
                  s.Bind(1, account_id);
                  s.Bind(2, session_id);
                  s.Bind(3, events);
                  s.Bind(4, messages);
                  s.Bind(5, deliveries);
                  s.Bind(6, delivered);
                  s.Bind(7, dead);
                });
}

}  // namespace

asio::awaitable<base::Result<void>> SqliteWebhookStore::CreateEndpoint(WebhookEndpointRow row) {
  auto fn = [row = std::move(row), master = master_key_](sqlite3* db) {
    return Change(db,
                  "INSERT INTO webhook_endpoints(id, account_id, session_id, url, events, "
                  "description, sealed_secret, sealed_previous, previous_until_ms, disabled, "
                  "disabled_reason, failing_since_ms, created_ms, updated_ms) "
                  "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  [&](Stmt& s) {
                    s.Bind(1, row.id);
                    s.Bind(2, row.account_id);
                    s.Bind(3, row.session_id);
                    s.Bind(4, row.url);
                    s.Bind(5, JoinEvents(row.events));
                    s.Bind(6, row.description);
                    s.BindBlob(7, Seal(master, row.id, "secret", row.secret));
                    if (!row.previous_secret.empty()) {
                      s.BindBlob(8, Seal(master, row.id, "previous", row.previous_secret));
                    }
                    s.Bind(9, static_cast<long long>(row.previous_until_ms));
                    s.Bind(10, static_cast<long long>(row.disabled));
                    s.Bind(11, row.disabled_reason);
                    s.Bind(12, static_cast<long long>(row.failing_since_ms));
                    s.Bind(13, static_cast<long long>(row.created_ms));
                    s.Bind(14, static_cast<long long>(row.updated_ms));
                  });
  };
  co_return co_await OnPool<void>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::optional<WebhookEndpointRow>>> SqliteWebhookStore::GetEndpoint(
    std::string account_id, std::string id) {
  auto fn = [account_id = std::move(account_id), id = std::move(id),
             master = master_key_](sqlite3* db) -> base::Result<std::optional<WebhookEndpointRow>> {
    auto rows = SelectEndpoints(db, master, "WHERE e.id = ? AND e.account_id = ?", [&](Stmt& s) {
      s.Bind(1, id);
      s.Bind(2, account_id);
    });
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<WebhookEndpointRow>();
    return std::optional<WebhookEndpointRow>(std::move(rows->front()));
  };
  co_return co_await OnPool<std::optional<WebhookEndpointRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::vector<WebhookEndpointRow>>> SqliteWebhookStore::ListEndpoints(
    std::string account_id, std::string after_id, int limit) {
  auto fn = [account_id = std::move(account_id), after_id = std::move(after_id), limit,
             master = master_key_](sqlite3* db) {
    return SelectEndpoints(db, master, "WHERE e.account_id = ? AND e.id > ? ORDER BY e.id LIMIT ?",
                           [&](Stmt& s) {
                             s.Bind(1, account_id);
                             s.Bind(2, after_id);
                             s.Bind(3, static_cast<long long>(limit));
                           });
  };
  co_return co_await OnPool<std::vector<WebhookEndpointRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<void>> SqliteWebhookStore::UpdateEndpoint(WebhookEndpointRow row,
                                                                      std::int64_t resume_at_ms) {
  auto fn = [row = std::move(row), resume_at_ms, master = master_key_](sqlite3* db) {
    return InTransaction(db, [&]() -> base::Result<void> {
      auto updated = Change(
          db,
          "UPDATE webhook_endpoints SET session_id = ?, url = ?, events = ?, description = ?, "
          "sealed_secret = ?, sealed_previous = ?, previous_until_ms = ?, disabled = ?, "
          "disabled_reason = ?, failing_since_ms = ?, updated_ms = ? WHERE id = ? AND account_id = ?",
          [&](Stmt& s) {
            s.Bind(1, row.session_id);
            s.Bind(2, row.url);
            s.Bind(3, JoinEvents(row.events));
            s.Bind(4, row.description);
            s.BindBlob(5, Seal(master, row.id, "secret", row.secret));
            if (!row.previous_secret.empty()) {
              s.BindBlob(6, Seal(master, row.id, "previous", row.previous_secret));
            }
            s.Bind(7, static_cast<long long>(row.previous_until_ms));
            s.Bind(8, static_cast<long long>(row.disabled));
            s.Bind(9, row.disabled_reason);
            s.Bind(10, static_cast<long long>(row.failing_since_ms));
            s.Bind(11, static_cast<long long>(row.updated_ms));
            s.Bind(12, row.id);
            s.Bind(13, row.account_id);
          });
      if (!updated || resume_at_ms <= 0) return updated;
      return Change(db,
                    "UPDATE webhook_deliveries SET window_start_ms = ?, next_attempt_ms = ? "
                    "WHERE endpoint_id = ? AND state IN ('pending', 'retrying')",
                    [&](Stmt& s) {
                      s.Bind(1, static_cast<long long>(resume_at_ms));
                      s.Bind(2, static_cast<long long>(resume_at_ms));
                      s.Bind(3, row.id);
                    });
    });
  };
  co_return co_await OnPool<void>(store_, std::move(fn));
}

asio::awaitable<base::Result<bool>> SqliteWebhookStore::DeleteEndpoint(std::string account_id,
                                                                      std::string id) {
  auto fn = [account_id = std::move(account_id), id = std::move(id)](sqlite3* db) -> base::Result<bool> {
    Stmt s(db, "DELETE FROM webhook_endpoints WHERE id = ? AND account_id = ?");
    using Out = base::Result<bool>;
    if (!s.ok()) return Out(boost::system::in_place_error, ErrorOf(db));
    s.Bind(1, id);
    s.Bind(2, account_id);
    if (s.Step() != SQLITE_DONE) return Out(boost::system::in_place_error, ErrorOf(db));
    return sqlite3_changes(db) > 0;
  };
  co_return co_await OnPool<bool>(store_, std::move(fn));
}

namespace {

base::Result<std::int64_t> ReadFanOutCursor(sqlite3* db) {
  Stmt s(db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'webhooks_fanout_seq'");
  if (!s.ok()) return ErrorOf(db);
  int rc = s.Step();
  if (rc == SQLITE_ROW) return static_cast<std::int64_t>(s.Int(0));
  if (rc != SQLITE_DONE) return ErrorOf(db);
  return std::int64_t{0};
}

}  // namespace

base::Result<WebhookFanOut> FanOutInTransaction(sqlite3* db, const base::Bytes& master, int limit,
                                                std::int64_t now_ms, std::vector<DueWebhookDelivery>* made_out) {
  WebhookFanOut out;
  auto start = ReadFanOutCursor(db);
  if (!start) return start.error();
  out = {0, 0, *start};
  std::vector<EventRow> events;
  {
    Stmt s(db,
           "SELECT seq, id, account_id, session_id, type, data, created_ms FROM events "
           "WHERE seq > ? ORDER BY seq LIMIT ?");
    if (!s.ok()) return ErrorOf(db);
    s.Bind(1, static_cast<long long>(*start));
    s.Bind(2, static_cast<long long>(limit));
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      events.push_back({s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), s.Text(5), s.Int(6)});
    }
    if (rc != SQLITE_DONE) return ErrorOf(db);
  }
  if (events.empty()) return out;
  std::map<std::string, std::vector<WebhookEndpointRow>> by_account;
  Stmt ins(db,
           "INSERT OR IGNORE INTO webhook_deliveries(id, endpoint_id, account_id, session_id, "
           "event_seq, event_id, event_type, body, state, ordered, attempts, window_start_ms, "
           "next_attempt_ms, created_ms, updated_ms) "
           "VALUES(?, ?, ?, ?, ?, ?, ?, ?, 'pending', 1, 0, ?, ?, ?, ?)");
  if (!ins.ok()) return ErrorOf(db);
  for (const auto& e : events) {
    auto found = by_account.find(e.account_id);
    if (found == by_account.end()) {
      auto rows = SelectEndpoints(db, master, "WHERE e.account_id = ?",
                                  [&](Stmt& s) { s.Bind(1, e.account_id); });
      if (!rows) return rows.error();
      found = by_account.emplace(e.account_id, std::move(*rows)).first;
    }
    auto recipients = WebhookRecipients(found->second, e);
    std::string body = recipients.empty() ? std::string() : WebhookBody(e);
    int made = 0;
    for (const auto* endpoint : recipients) {
      ins.Reset();
      std::string delivery_id = NewOrderedId("dlv_");
      ins.Bind(1, delivery_id);
      ins.Bind(2, endpoint->id);
      ins.Bind(3, e.account_id);
      ins.Bind(4, e.session_id);
      ins.Bind(5, static_cast<long long>(e.seq));
      ins.Bind(6, e.id);
      ins.Bind(7, e.type);
      ins.Bind(8, body);
      for (int i : {9, 10, 11, 12}) ins.Bind(i, static_cast<long long>(now_ms));
      if (ins.Step() != SQLITE_DONE) return ErrorOf(db);
      int inserted = sqlite3_changes(db);
      made += inserted;
      if (made_out && inserted > 0) {
        DueWebhookDelivery due;
        WebhookDeliveryRow& d = due.delivery;
        d.id = std::move(delivery_id);
        d.endpoint_id = endpoint->id;
        d.account_id = e.account_id;
        d.session_id = e.session_id;
        d.event_seq = e.seq;
        d.event_id = e.id;
        d.event_type = e.type;
        d.body = body;
        d.state = "pending";
        d.ordered = true;
        d.window_start_ms = d.next_attempt_ms = d.created_ms = d.updated_ms = now_ms;
        due.endpoint = *endpoint;
        made_out->push_back(std::move(due));
      }
    }
    bool message = e.type == "message.received";
    if (auto added = AddStats(db, e.account_id, e.session_id, 1, message ? 1 : 0, made, 0, 0); !added) {
      return added.error();
    }
    out.events++;
    out.deliveries += made;
    out.cursor = e.seq;
  }
  auto moved = Change(db, "UPDATE meta SET value = CAST(? AS TEXT) WHERE key = 'webhooks_fanout_seq'",
                      [&](Stmt& s) { s.Bind(1, static_cast<long long>(out.cursor)); });
  if (!moved) return moved.error();
  return out;
}

asio::awaitable<base::Result<WebhookFanOut>> SqliteWebhookStore::FanOut(int limit, std::int64_t now_ms) {
  auto fn = [limit, now_ms, master = master_key_](sqlite3* db) -> base::Result<WebhookFanOut> {
    // A read without the write lock first: most wake-ups find nothing new (the message store's
    // writer fans its events out in its own commits).
    auto cursor = ReadFanOutCursor(db);
    if (!cursor) return cursor.error();
    {
      Stmt probe(db, "SELECT 1 FROM events WHERE seq > ? LIMIT 1");
      if (!probe.ok()) return ErrorOf(db);
      probe.Bind(1, static_cast<long long>(*cursor));
      int rc = probe.Step();
      if (rc == SQLITE_DONE) return WebhookFanOut{0, 0, *cursor};
      if (rc != SQLITE_ROW) return ErrorOf(db);
    }
    WebhookFanOut out;
    auto done = InTransaction(db, [&]() -> base::Result<void> {
      auto fanned = FanOutInTransaction(db, master, limit, now_ms);  // the cursor again, under the lock
      if (!fanned) return fanned.error();
      out = *fanned;
      return {};
    });
    if (!done) return done.error();
    return out;
  };
  co_return co_await OnPool<WebhookFanOut>(store_, std::move(fn));
}

asio::awaitable<base::Result<DueWebhookBatch>> SqliteWebhookStore::DueDeliveries(std::int64_t now_ms,
                                                                                int limit) {
  auto fn = [now_ms, limit, master = master_key_](sqlite3* db) -> base::Result<DueWebhookBatch> {
    DueWebhookBatch out;
    std::string sql =
        std::string("SELECT ") + kDeliveryColumns + ", " + kEndpointColumns +
        " FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id "
        "WHERE d.state IN ('pending', 'retrying') AND d.next_attempt_ms <= ? AND e.disabled = 0 "
        "AND (d.ordered = 0 OR NOT EXISTS (SELECT 1 FROM webhook_deliveries p "
        "WHERE p.endpoint_id = d.endpoint_id AND p.session_id = d.session_id "
        "AND p.state IN ('pending', 'retrying') AND p.ordered = 1 AND p.event_seq < d.event_seq)) "
        "ORDER BY d.next_attempt_ms, d.event_seq LIMIT ?";
    Stmt s(db, sql.c_str());
    if (!s.ok()) return ErrorOf(db);
    s.Bind(1, static_cast<long long>(now_ms));
    s.Bind(2, static_cast<long long>(limit));
    std::map<std::string, WebhookEndpointRow> endpoints;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      DueWebhookDelivery due;
      due.delivery = ReadDelivery(s, 0);
      auto known = endpoints.find(due.delivery.endpoint_id);
      if (known == endpoints.end()) {
        auto endpoint = ReadEndpoint(s, 17, master);
        if (!endpoint) return endpoint.error();
        known = endpoints.emplace(endpoint->id, std::move(*endpoint)).first;
      }
      due.endpoint = known->second;
      out.due.push_back(std::move(due));
    }
    if (rc != SQLITE_DONE) return ErrorOf(db);
    static_assert(kEndpointColumnCount == 14);
    Stmt next(db,
              "SELECT MIN(d.next_attempt_ms) FROM webhook_deliveries d JOIN webhook_endpoints e "
              "ON e.id = d.endpoint_id WHERE d.state IN ('pending', 'retrying') "
              "AND d.next_attempt_ms > ? AND e.disabled = 0");
    if (!next.ok()) return ErrorOf(db);
    next.Bind(1, static_cast<long long>(now_ms));
    if (next.Step() != SQLITE_ROW) return ErrorOf(db);
    out.next_due_ms = next.Int(0);
    return out;
  };
  co_return co_await OnPool<DueWebhookBatch>(store_, std::move(fn));
}

namespace {

// One attempt's record inside an open transaction.
base::Result<void> RecordOne(sqlite3* db, const base::Bytes& master, const WebhookAttemptOutcome& o,
                             WebhookAttemptRecorded& out) {
  Stmt cur(db, "SELECT attempts, account_id, session_id FROM webhook_deliveries WHERE id = ?");
  if (!cur.ok()) return ErrorOf(db);
  cur.Bind(1, o.delivery_id);
  int rc = cur.Step();
  if (rc == SQLITE_DONE) return {};  // the endpoint was deleted meanwhile
  if (rc != SQLITE_ROW) return ErrorOf(db);
  int n = static_cast<int>(cur.Int(0)) + 1;
  std::string account_id = cur.Text(1), session_id = cur.Text(2);
  const auto& a = o.attempt;
  auto added = Change(db,
                      "INSERT OR REPLACE INTO webhook_attempts(delivery_id, n, at_ms, "
                      "status_code, latency_ms, error) VALUES(?, ?, ?, ?, ?, ?)",
                      [&](Stmt& s) {
                        s.Bind(1, o.delivery_id);
                        s.Bind(2, static_cast<long long>(n));
                        s.Bind(3, static_cast<long long>(a.at_ms));
                        s.Bind(4, static_cast<long long>(a.status_code));
                        s.Bind(5, static_cast<long long>(a.latency_ms));
                        s.Bind(6, a.error);
                      });
  if (!added) return added;
  auto moved = Change(db,
                      "UPDATE webhook_deliveries SET state = ?, attempts = ?, next_attempt_ms = ?, "
                      "last_status = ?, last_error = ?, updated_ms = ? WHERE id = ?",
                      [&](Stmt& s) {
                        s.Bind(1, o.new_state);
                        s.Bind(2, static_cast<long long>(n));
                        s.Bind(3, static_cast<long long>(o.next_attempt_ms));
                        s.Bind(4, static_cast<long long>(a.status_code));
                        s.Bind(5, a.error);
                        s.Bind(6, static_cast<long long>(a.at_ms + a.latency_ms));
                        s.Bind(7, o.delivery_id);
                      });
  if (!moved) return moved;
  bool delivered = o.new_state == "delivered";
  bool dead = o.new_state == "dead";
  if (delivered || dead) {
    if (auto s = AddStats(db, account_id, session_id, 0, 0, 0, delivered, dead); !s) return s;
  }
  auto endpoint = EndpointById(db, master, o.endpoint_id);
  if (!endpoint) return endpoint.error();
  if (!*endpoint) return {};
  auto& e = **endpoint;
  if (delivered) {
    e.failing_since_ms = 0;
  } else if (e.failing_since_ms == 0) {
    e.failing_since_ms = a.at_ms;
  }
  if (!e.disabled && !delivered &&
      (o.disable_now ||
       (o.disable_after_ms > 0 && a.at_ms - e.failing_since_ms >= o.disable_after_ms))) {
    e.disabled = true;
    e.disabled_reason = o.disable_now ? "the endpoint answered 410 Gone"
                                      : "failing continuously since " + std::to_string(e.failing_since_ms);
    out.endpoint_disabled_now = true;
  }
  auto health = Change(db,
                       "UPDATE webhook_endpoints SET failing_since_ms = ?, disabled = ?, "
                       "disabled_reason = ? WHERE id = ?",
                       [&](Stmt& s) {
                         s.Bind(1, static_cast<long long>(e.failing_since_ms));
                         s.Bind(2, static_cast<long long>(e.disabled));
                         s.Bind(3, e.disabled_reason);
                         s.Bind(4, e.id);
                       });
  if (!health) return health;
  out.endpoint = std::move(e);
  return {};
}

}  // namespace

asio::awaitable<base::Result<WebhookAttemptRecorded>> SqliteWebhookStore::RecordAttempt(
    WebhookAttemptOutcome outcome) {
  auto fn = [o = std::move(outcome), master = master_key_](sqlite3* db) -> base::Result<WebhookAttemptRecorded> {
    WebhookAttemptRecorded out;
    auto done = InTransaction(db, [&]() -> base::Result<void> { return RecordOne(db, master, o, out); });
    if (!done) return done.error();
    return out;
  };
  co_return co_await OnPool<WebhookAttemptRecorded>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::vector<WebhookAttemptRecorded>>> SqliteWebhookStore::RecordAttempts(
    std::vector<WebhookAttemptOutcome> outcomes) {
  auto record = [os = std::move(outcomes), master = master_key_](sqlite3* db)
      -> base::Result<std::vector<WebhookAttemptRecorded>> {
    std::vector<WebhookAttemptRecorded> out(os.size());
    for (std::size_t i = 0; i < os.size(); ++i) {
      if (auto one = RecordOne(db, master, os[i], out[i]); !one) return one.error();
    }
    return out;
  };
  if (GroupWriter* writer = store_.group_writer()) {
    // With the messages' commit (one fsync for both, no wait for the write lock).
    co_return co_await OnWriter<std::vector<WebhookAttemptRecorded>>(*writer, std::move(record));
  }
  auto fn = [record = std::move(record)](sqlite3* db) -> base::Result<std::vector<WebhookAttemptRecorded>> {
    base::Result<std::vector<WebhookAttemptRecorded>> out;
    auto done = InTransaction(db, [&]() -> base::Result<void> {
      out = record(db);
      if (!out) return out.error();
      return {};
    });
    if (!done) return done.error();
    return out;
  };
  co_return co_await OnPool<std::vector<WebhookAttemptRecorded>>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::vector<WebhookDeliveryRow>>> SqliteWebhookStore::LaneDeliveries(
    std::string endpoint_id, std::string session_id, std::int64_t after_seq, std::int64_t now_ms, int limit) {
  auto fn = [endpoint_id = std::move(endpoint_id), session_id = std::move(session_id), after_seq, now_ms,
             limit](sqlite3* db) -> base::Result<std::vector<WebhookDeliveryRow>> {
    std::string sql = std::string("SELECT ") + kDeliveryColumns +
                      " FROM webhook_deliveries d WHERE d.endpoint_id = ? AND d.session_id = ? "
                      "AND d.state IN ('pending', 'retrying') AND d.ordered = 1 AND d.event_seq > ? "
                      "ORDER BY d.event_seq LIMIT ?";
    Stmt s(db, sql.c_str());
    if (!s.ok()) return ErrorOf(db);
    s.Bind(1, endpoint_id);
    s.Bind(2, session_id);
    s.Bind(3, static_cast<long long>(after_seq));
    s.Bind(4, static_cast<long long>(limit));
    std::vector<WebhookDeliveryRow> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      auto d = ReadDelivery(s, 0);
      if (d.next_attempt_ms > now_ms) break;  // a later retry holds the lane
      out.push_back(std::move(d));
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return ErrorOf(db);
    return out;
  };
  co_return co_await OnPool<std::vector<WebhookDeliveryRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::vector<WebhookDeliveryRow>>> SqliteWebhookStore::ListDeliveries(
    std::string account_id, std::string endpoint_id, std::string after_id, std::string state, int limit) {
  auto fn = [account_id = std::move(account_id), endpoint_id = std::move(endpoint_id),
             after_id = std::move(after_id), state = std::move(state),
             limit](sqlite3* db) -> base::Result<std::vector<WebhookDeliveryRow>> {
    std::string sql = std::string("SELECT ") + kDeliveryColumns +
                      " FROM webhook_deliveries d WHERE d.endpoint_id = ? AND d.account_id = ? "
                      "AND (? = '' OR d.state = ?) AND (? = '' OR d.event_seq < "
                      "(SELECT event_seq FROM webhook_deliveries WHERE id = ? AND endpoint_id = ?)) "
                      "ORDER BY d.event_seq DESC LIMIT ?";
    Stmt s(db, sql.c_str());
    if (!s.ok()) return ErrorOf(db);
    s.Bind(1, endpoint_id);
    s.Bind(2, account_id);
    s.Bind(3, state);
    s.Bind(4, state);
    s.Bind(5, after_id);
    s.Bind(6, after_id);
    s.Bind(7, endpoint_id);
    s.Bind(8, static_cast<long long>(limit));
    std::vector<WebhookDeliveryRow> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadDelivery(s, 0));
    if (rc != SQLITE_DONE) return ErrorOf(db);
    for (auto& d : out) {
      if (auto loaded = LoadAttempts(db, d); !loaded) return loaded.error();
    }
    return out;
  };
  co_return co_await OnPool<std::vector<WebhookDeliveryRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::optional<WebhookDeliveryRow>>> SqliteWebhookStore::GetDelivery(
    std::string account_id, std::string endpoint_id, std::string delivery_id) {
  auto fn = [account_id = std::move(account_id), endpoint_id = std::move(endpoint_id),
             delivery_id = std::move(delivery_id)](sqlite3* db) {
    return DeliveryOf(db, account_id, endpoint_id, delivery_id);
  };
  co_return co_await OnPool<std::optional<WebhookDeliveryRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::optional<WebhookDeliveryRow>>> SqliteWebhookStore::ReplayDelivery(
    std::string account_id, std::string endpoint_id, std::string delivery_id, std::int64_t now_ms) {
  auto fn = [account_id = std::move(account_id), endpoint_id = std::move(endpoint_id),
             delivery_id = std::move(delivery_id),
             now_ms](sqlite3* db) -> base::Result<std::optional<WebhookDeliveryRow>> {
    std::optional<WebhookDeliveryRow> out;
    auto done = InTransaction(db, [&]() -> base::Result<void> {
      auto found = DeliveryOf(db, account_id, endpoint_id, delivery_id);
      if (!found) return found.error();
      if (!*found) return {};
      const auto& d = **found;
      // The counters describe current states: a finished delivery sent again is open again.
      bool was_delivered = d.state == "delivered", was_dead = d.state == "dead";
      if (was_delivered || was_dead) {
        auto s = AddStats(db, d.account_id, d.session_id, 0, 0, 0, was_delivered ? -1 : 0, was_dead ? -1 : 0);
        if (!s) return s;
      }
      auto moved = Change(db,
                          "UPDATE webhook_deliveries SET state = 'pending', "
                          "ordered = CASE WHEN state IN ('delivered', 'dead') THEN 0 ELSE ordered END, "
                          "window_start_ms = ?, next_attempt_ms = ?, updated_ms = ? WHERE id = ?",
                          [&](Stmt& s) {
                            for (int i : {1, 2, 3}) s.Bind(i, static_cast<long long>(now_ms));
                            s.Bind(4, d.id);
                          });
      if (!moved) return moved;
      auto again = DeliveryOf(db, account_id, endpoint_id, delivery_id);
      if (!again) return again.error();
      out = std::move(*again);
      return {};
    });
    if (!done) return done.error();
    return out;
  };
  co_return co_await OnPool<std::optional<WebhookDeliveryRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<WebhookSessionStats>> SqliteWebhookStore::SessionStats(std::string account_id,
                                                                                   std::string session_id) {
  auto fn = [account_id = std::move(account_id),
             session_id = std::move(session_id)](sqlite3* db) -> base::Result<WebhookSessionStats> {
    Stmt s(db,
           "SELECT events, messages_received, deliveries, delivered, dead FROM webhook_session_stats "
           "WHERE account_id = ? AND session_id = ?");
    if (!s.ok()) return ErrorOf(db);
    s.Bind(1, account_id);
    s.Bind(2, session_id);
    int rc = s.Step();
    if (rc == SQLITE_DONE) return WebhookSessionStats{};
    if (rc != SQLITE_ROW) return ErrorOf(db);
    return WebhookSessionStats{s.Int(0), s.Int(1), s.Int(2), s.Int(3), s.Int(4)};
  };
  co_return co_await OnPool<WebhookSessionStats>(store_, std::move(fn));
}

}  // namespace gateway::store::sqlite
