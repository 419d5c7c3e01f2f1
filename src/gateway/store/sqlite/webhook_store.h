// The SQLite rows of webhook endpoints and deliveries (store/webhooks.h). Endpoint secrets are
// sealed (store/sealer.h) under a key scoped to the endpoint id, with AAD naming the table, the
// endpoint and the column, so a secret copied to another endpoint does not open.
#pragma once

#include "base/bytes.h"
#include "gateway/store/sqlite/sqlite_store.h"
#include "gateway/store/webhooks.h"

namespace gateway::store::sqlite {

// The fan-out (WebhookStore::FanOut) inside a write transaction the caller holds: delivery rows
// for up to `limit` events after the persisted cursor, and the cursor moved, so they commit or
// roll back together. The message store's writer runs it in its group commit, so the events it
// appends are ready to send when they commit, without a second commit on the way. With `made`,
// each delivery row it inserted is also appended there with its endpoint (what sending needs),
// for the caller to hand to the webhook worker once the transaction committed.
base::Result<WebhookFanOut> FanOutInTransaction(sqlite3* db, const base::Bytes& master, int limit,
                                                std::int64_t now_ms,
                                                std::vector<DueWebhookDelivery>* made = nullptr);

class SqliteWebhookStore final : public WebhookStore {
 public:
  // `master_key` is 32 bytes.
  SqliteWebhookStore(SqliteStore& store, base::Bytes master_key)
      : store_(store), master_key_(std::move(master_key)) {}

  boost::asio::awaitable<base::Result<void>> CreateEndpoint(WebhookEndpointRow row) override;
  boost::asio::awaitable<base::Result<std::optional<WebhookEndpointRow>>> GetEndpoint(
      std::string account_id, std::string id) override;
  boost::asio::awaitable<base::Result<std::vector<WebhookEndpointRow>>> ListEndpoints(
      std::string account_id, std::string after_id, int limit) override;
  boost::asio::awaitable<base::Result<void>> UpdateEndpoint(WebhookEndpointRow row,
                                                            std::int64_t resume_at_ms) override;
  boost::asio::awaitable<base::Result<bool>> DeleteEndpoint(std::string account_id,
                                                            std::string id) override;
  boost::asio::awaitable<base::Result<WebhookFanOut>> FanOut(int limit, std::int64_t now_ms) override;
  boost::asio::awaitable<base::Result<DueWebhookBatch>> DueDeliveries(std::int64_t now_ms,
                                                                     int limit) override;
  boost::asio::awaitable<base::Result<WebhookAttemptRecorded>> RecordAttempt(
      WebhookAttemptOutcome outcome) override;
  boost::asio::awaitable<base::Result<std::vector<WebhookAttemptRecorded>>> RecordAttempts(
      std::vector<WebhookAttemptOutcome> outcomes) override;
  boost::asio::awaitable<base::Result<std::vector<WebhookDeliveryRow>>> LaneDeliveries(
      std::string endpoint_id, std::string session_id, std::int64_t after_seq, std::int64_t now_ms,
      int limit) override;
  boost::asio::awaitable<base::Result<std::vector<WebhookDeliveryRow>>> ListDeliveries(
      std::string account_id, std::string endpoint_id, std::string after_id, std::string state,
      int limit) override;
  boost::asio::awaitable<base::Result<std::optional<WebhookDeliveryRow>>> GetDelivery(
      std::string account_id, std::string endpoint_id, std::string delivery_id) override;
  boost::asio::awaitable<base::Result<std::optional<WebhookDeliveryRow>>> ReplayDelivery(
      std::string account_id, std::string endpoint_id, std::string delivery_id,
      std::int64_t now_ms) override;
  boost::asio::awaitable<base::Result<WebhookSessionStats>> SessionStats(
      std::string account_id, std::string session_id) override;

  const base::Bytes& master_key() const { return master_key_; }

 private:
  SqliteStore& store_;
  base::Bytes master_key_;
};

}  // namespace gateway::store::sqlite
