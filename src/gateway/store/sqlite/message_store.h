// The SQLite messages (store/messages.h). Enqueue uses group commit: callers add their item to a
// queue that one writer thread drains, committing everything queued in one transaction (one
// fsync) with statements prepared once per batch, then resuming each caller on its own executor.
// So the cost of a durable enqueue falls as load rises instead of being one fsync each, and
// enqueues never occupy the store's pool, which stays free for reads.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "gateway/store/messages.h"
#include "gateway/store/sqlite/sqlite_store.h"

namespace gateway::store::sqlite {

class SqliteMessageStore final : public MessageStore {
 public:
  explicit SqliteMessageStore(SqliteStore& store);
  ~SqliteMessageStore() override;

  boost::asio::awaitable<base::Result<EnqueueOutcome>> Enqueue(EnqueueItem item) override;
  boost::asio::awaitable<base::Result<std::optional<MessageRow>>> GetMessage(
      std::string account_id, std::string session_id, std::string id) override;
  boost::asio::awaitable<base::Result<std::vector<MessageRow>>> ListMessages(
      std::string account_id, std::string session_id, std::string direction, std::int64_t before_n,
      int limit) override;
  boost::asio::awaitable<base::Result<std::vector<MessageRow>>> PendingOutgoing(
      std::string session_id, int limit) override;
  boost::asio::awaitable<base::Result<std::vector<EventRow>>> Advance(
      std::string session_id, std::vector<Transition> changes) override;
  boost::asio::awaitable<base::Result<std::vector<EventRow>>> AdvanceByWaIds(
      std::string session_id, std::vector<std::string> wa_ids, std::string status,
      std::int64_t at_ms) override;
  boost::asio::awaitable<base::Result<std::pair<bool, std::vector<EventRow>>>> Cancel(
      std::string session_id, std::string message_id, std::int64_t at_ms) override;
  boost::asio::awaitable<base::Result<std::vector<EventRow>>> FailPending(
      std::string session_id, std::string reason, std::string detail, std::int64_t at_ms) override;
  boost::asio::awaitable<base::Result<Received>> StoreReceived(MessageRow row) override;
  boost::asio::awaitable<base::Result<std::vector<std::pair<std::string, std::int64_t>>>>
  LoggedOutSessions() override;
  boost::asio::awaitable<base::Result<bool>> HasReceivedFrom(std::string session_id,
                                                              std::string chat_jid) override;
  boost::asio::awaitable<base::Result<SendingStats>> Stats(std::string session_id,
                                                           std::int64_t since_ms) override;
  boost::asio::awaitable<base::Result<std::int64_t>> CountOutgoing(std::string account_id,
                                                                  std::int64_t since_ms) override;
  boost::asio::awaitable<base::Result<std::int64_t>> Prune(std::int64_t messages_before_ms,
                                                          std::int64_t keys_before_ms) override;

  // Largest number of enqueues committed in one transaction so far (benchmarks, tests).
  std::size_t largest_batch() const;

 private:
  struct Pending {
    EnqueueItem item;
    std::function<void(base::Result<EnqueueOutcome>)> complete;
  };
  // Queues `item`; `complete` runs on the writer thread when its batch is done.
  template <class Token>
  auto AsyncEnqueue(EnqueueItem item, Token&& token) {
    return boost::asio::async_initiate<Token, void(base::Result<EnqueueOutcome>)>(
        [this](auto handler, EnqueueItem item) {
          using Handler = decltype(handler);
          auto work = boost::asio::make_work_guard(boost::asio::get_associated_executor(handler));
          auto h = std::make_shared<std::pair<Handler, decltype(work)>>(std::move(handler), std::move(work));
          Push(Pending{std::move(item), [h](base::Result<EnqueueOutcome> r) {
                         auto ex = h->second.get_executor();
                         boost::asio::post(ex, [h, r = std::move(r)]() mutable {
                           h->first(std::move(r));
                           h->second.reset();
                         });
                       }});
        },
        token, std::move(item));
  }
  void Push(Pending pending);
  void WriterLoop();
  std::vector<base::Result<EnqueueOutcome>> CommitBatch(sqlite3* db, std::vector<Pending>& batch);

  SqliteStore& store_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Pending> queue_;   // mu_
  bool stopping_ = false;        // mu_
  std::size_t largest_batch_ = 0;  // mu_
  std::thread writer_;
};

}  // namespace gateway::store::sqlite
