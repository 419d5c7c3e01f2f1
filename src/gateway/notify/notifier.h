// Email alerts to account owners (issue 8): a session logged out (re-link it), a session unable
// to reconnect for `disconnected_after`, a webhook endpoint disabled, and the monthly messages
// quota at 80 % and 100 %.
//
// Alerts come from the events bus (session.status; message.status "queued" marks an account
// whose monthly usage is re-read) and from the webhook service's on_disabled hook. AlertRules
// decides; the email is rendered once and written to the email outbox (store/emails.h) with a
// dedupe key, then the sender loop hands due emails to SMTP on a blocking pool and retries
// failures with backoff, so an SMTP outage or a restart loses no alert. All state lives on one
// strand; the entry points only post to it.
//
// What is in memory only: the start of a running outage (after a restart, the outage clock
// starts again when the session next reports "disconnected").
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <set>
#include <string>

#include "base/blocking_pool.h"
#include "gateway/notify/mailer.h"
#include "gateway/notify/message.h"
#include "gateway/notify/rules.h"
#include "gateway/store/accounts.h"
#include "gateway/store/emails.h"
#include "gateway/store/events.h"
#include "gateway/store/messages.h"
#include "gateway/store/sessions.h"
#include "gateway/store/webhooks.h"

namespace gateway::notify {

struct NotifierOptions {
  Address from;
  std::string public_url;  // the dashboard's base URL for links
  std::chrono::milliseconds disconnected_after{std::chrono::minutes(10)};
  // Sending: the delay after the first failure, doubling up to retry_max; dead after max_attempts.
  std::chrono::milliseconds retry_first{std::chrono::seconds(30)};
  std::chrono::milliseconds retry_max{std::chrono::hours(1)};
  int max_attempts = 48;
  // How often the outbox is re-read without a wake-up (emails written by another process).
  std::chrono::milliseconds poll_interval{std::chrono::seconds(10)};
};

class Notifier {
 public:
  // Everything passed must outlive the notifier. `monthly_limit(plan)` is the plan's messages
  // per month (0: none). `now_ms` (unix ms) is injectable for tests.
  Notifier(boost::asio::io_context& ioc, store::EmailStore& emails, store::AccountStore& accounts,
           store::SessionStore& sessions, store::MessageStore& messages, Sender& sender,
           base::BlockingPool& smtp_pool, std::function<std::int64_t(const std::string&)> monthly_limit,
           NotifierOptions options, std::function<std::int64_t()> now_ms = nullptr);

  // Bus listener (any thread): parses what it needs and posts to the strand.
  void OnEvent(const store::EventRow& event);
  // The webhook service's on_disabled hook (any thread).
  void OnEndpointDisabled(const store::WebhookEndpointRow& endpoint);

  void Start();
  // Stops the loop; an SMTP send in progress finishes on the pool (bounded by its timeout) and
  // an email whose send was not recorded is sent again after a restart.
  boost::asio::awaitable<void> Shutdown(std::chrono::milliseconds timeout);

  // Counters for tests and metrics.
  std::int64_t sent() const { return sent_.load(); }
  std::int64_t failed_attempts() const { return failed_.load(); }
  std::int64_t raised() const { return raised_.load(); }

 private:
  boost::asio::awaitable<void> Run();
  boost::asio::awaitable<void> Raise(Alert alert, AlertFacts facts);
  boost::asio::awaitable<void> CheckUsage(std::string account_id);
  boost::asio::awaitable<void> SendDue();
  void Wake();
  std::int64_t Now() const { return now_ms_(); }

  boost::asio::io_context& ioc_;
  store::EmailStore& emails_;
  store::AccountStore& accounts_;
  store::SessionStore& sessions_;
  store::MessageStore& messages_;
  Sender& sender_;
  base::BlockingPool& pool_;
  std::function<std::int64_t(const std::string&)> monthly_limit_;
  NotifierOptions options_;
  std::function<std::int64_t()> now_ms_;

  // strand_ only.
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::steady_timer timer_;
  AlertRules rules_;
  std::set<std::string> usage_dirty_;  // accounts whose monthly usage is to be re-read
  std::vector<std::pair<Alert, AlertFacts>> raise_queue_;
  bool started_ = false;
  bool running_ = false;
  bool stopping_ = false;
  bool wake_requested_ = false;

  std::atomic<std::int64_t> sent_{0};
  std::atomic<std::int64_t> failed_{0};
  std::atomic<std::int64_t> raised_{0};
};

}  // namespace gateway::notify
