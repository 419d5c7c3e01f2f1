#include "gateway/notify/notifier.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/clock.h"
#include "base/log.h"
#include "gateway/store/ids.h"

namespace gateway::notify {

namespace asio = boost::asio;

namespace {

std::string StringField(const boost::json::object& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().as_string());
}

std::string Domain(const std::string& addr) {
  auto at = addr.rfind('@');
  return at == std::string::npos ? "localhost" : addr.substr(at + 1);
}

}  // namespace

Notifier::Notifier(asio::io_context& ioc, store::EmailStore& emails, store::AccountStore& accounts,
                   store::SessionStore& sessions, store::MessageStore& messages, Sender& sender,
                   base::BlockingPool& smtp_pool,
                   std::function<std::int64_t(const std::string&)> monthly_limit,
                   NotifierOptions options, std::function<std::int64_t()> now_ms)
    : ioc_(ioc),
      emails_(emails),
      accounts_(accounts),
      sessions_(sessions),
      messages_(messages),
      sender_(sender),
      pool_(smtp_pool),
      monthly_limit_(std::move(monthly_limit)),
      options_(std::move(options)),
      now_ms_(now_ms ? std::move(now_ms) : std::function<std::int64_t()>(base::UnixMs)),
      strand_(asio::make_strand(ioc)),
      timer_(strand_),
      rules_(options_.disconnected_after) {}

void Notifier::OnEvent(const store::EventRow& event) {
  bool status = event.type == "session.status";
  if (!status && event.type != "message.status") return;
  boost::system::error_code ec;
  auto parsed = boost::json::parse(event.data, ec);
  if (ec || !parsed.is_object()) return;
  const auto& o = parsed.as_object();
  if (status) {
    std::string st = StringField(o, "status");
    std::string reason = StringField(o, "reason");
    std::string phone = StringField(o, "phone");
    asio::post(strand_, [this, event, st = std::move(st), reason = std::move(reason),
                         phone = std::move(phone)] {
      auto alert = rules_.OnSessionStatus(event.account_id, event.session_id, st, reason, event.id,
                                          event.created_ms);
      if (alert) {
        AlertFacts facts{.kind = alert->kind, .session_phone = phone, .reason = reason};
        raise_queue_.emplace_back(std::move(*alert), std::move(facts));
      }
      Wake();
    });
    return;
  }
  // An accepted outgoing message counts against the month: re-read the account's usage.
  if (StringField(o, "status") != "queued") return;
  asio::post(strand_, [this, account = event.account_id] {
    usage_dirty_.insert(account);
    Wake();
  });
}

void Notifier::OnEndpointDisabled(const store::WebhookEndpointRow& endpoint) {
  asio::post(strand_, [this, endpoint] {
    Alert alert{.kind = AlertKind::kEndpointDisabled, .account_id = endpoint.account_id,
                .dedupe_key = "endpoint_disabled:" + endpoint.id + ":" + std::to_string(endpoint.updated_ms),
                .reason = endpoint.disabled_reason};
    AlertFacts facts{.kind = AlertKind::kEndpointDisabled, .reason = endpoint.disabled_reason,
                     .endpoint_id = endpoint.id, .endpoint_url = endpoint.url};
    raise_queue_.emplace_back(std::move(alert), std::move(facts));
    Wake();
  });
}

void Notifier::Wake() {
  // strand_ only.
  wake_requested_ = true;
  timer_.cancel();
}

void Notifier::Start() {
  asio::dispatch(strand_, [this] {
    if (started_) return;
    started_ = running_ = true;
    asio::co_spawn(strand_, Run(), [this](std::exception_ptr e) {
      if (e) spdlog::error("email: the alert loop failed: {}", base::ExceptionText(e));
      running_ = false;
    });
  });
}

asio::awaitable<void> Notifier::Shutdown(std::chrono::milliseconds timeout) {
  co_await asio::dispatch(strand_, asio::use_awaitable);
  stopping_ = true;
  timer_.cancel();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  asio::steady_timer wait(strand_);
  while (running_ && std::chrono::steady_clock::now() < deadline) {
    wait.expires_after(std::chrono::milliseconds(5));
    boost::system::error_code ec;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<void> Notifier::Run() {
  while (!stopping_) {
    wake_requested_ = false;
    while (!raise_queue_.empty() && !stopping_) {
      auto [alert, facts] = std::move(raise_queue_.front());
      raise_queue_.erase(raise_queue_.begin());
      co_await Raise(std::move(alert), std::move(facts));
    }
    while (!usage_dirty_.empty() && !stopping_) {
      std::string account = *usage_dirty_.begin();
      usage_dirty_.erase(usage_dirty_.begin());
      co_await CheckUsage(std::move(account));
    }
    auto due = rules_.Due(Now());
    for (auto& alert : due) {
      if (stopping_) break;
      AlertFacts facts{.kind = alert.kind, .reason = alert.reason, .since_ms = alert.since_ms};
      co_await Raise(std::move(alert), std::move(facts));
    }
    if (stopping_) break;
    co_await SendDue();
    if (stopping_ || wake_requested_) continue;

    std::int64_t now = Now();
    std::int64_t next = now + options_.poll_interval.count();
    if (auto due = rules_.NextDue()) next = std::min(next, *due);
    auto email_due = co_await emails_.NextEmailDue();
    if (email_due && *email_due) next = std::min(next, **email_due);
    if (stopping_ || wake_requested_) continue;
    timer_.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(0, next - now)));
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<void> Notifier::CheckUsage(std::string account_id) {
  auto account = co_await accounts_.GetAccount(account_id);
  if (!account || !*account) co_return;
  std::int64_t limit = monthly_limit_ ? monthly_limit_((*account)->plan) : 0;
  if (limit <= 0) co_return;
  std::int64_t month = MonthStartMs(Now());
  auto used = co_await messages_.CountOutgoing(account_id, month);
  if (!used) {
    spdlog::warn("email: cannot read the monthly usage of {}: {}", account_id, used.error().message());
    co_return;
  }
  auto alert = rules_.OnUsage(account_id, *used, limit, month);
  if (!alert) co_return;
  AlertFacts facts{.kind = alert->kind, .used = *used, .limit = limit, .plan = (*account)->plan};
  co_await Raise(std::move(*alert), std::move(facts));
}

asio::awaitable<void> Notifier::Raise(Alert alert, AlertFacts facts) {
  // Most triggers repeat (usage is re-read on every send): skip the lookups when done already.
  auto exists = co_await emails_.HasEmail(alert.dedupe_key);
  if (!exists) {
    spdlog::warn("email: cannot check alert {}: {}", alert.dedupe_key, exists.error().message());
    co_return;
  }
  if (*exists) co_return;
  auto account = co_await accounts_.GetAccount(alert.account_id);
  if (!account || !*account) co_return;
  if (!ValidAddr((*account)->email)) {
    spdlog::warn("email: account {} has no usable email address; alert {} dropped", alert.account_id,
                 KindName(alert.kind));
    co_return;
  }
  facts.kind = alert.kind;
  facts.account_email = (*account)->email;
  facts.public_url = options_.public_url;
  if (!alert.session_id.empty()) {
    facts.session_id = alert.session_id;
    auto session = co_await sessions_.GetSession(alert.account_id, alert.session_id);
    if (session && *session) {
      facts.session_name = (*session)->name;
      if (facts.session_phone.empty()) facts.session_phone = (*session)->phone;
    }
  }
  if (alert.kind == AlertKind::kDisconnected) {
    facts.minutes = static_cast<int>(options_.disconnected_after.count() / 60000);
  }
  Content content = RenderAlert(facts);
  std::int64_t now = Now();
  Mail mail{.from = options_.from,
            .to = Address{"", facts.account_email},
            .subject = content.subject,
            .text = content.text,
            .html = content.html,
            .date_ms = now,
            .message_id = store::NewId("") + "@" + Domain(options_.from.addr),
            .boundary = "=_wagate_" + store::NewId("")};
  store::EmailRow row{.dedupe_key = alert.dedupe_key, .account_id = alert.account_id,
                      .kind = KindName(alert.kind), .rcpt = facts.account_email,
                      .message = Render(mail), .next_attempt_ms = now, .created_ms = now};
  auto added = co_await emails_.EnqueueEmail(std::move(row));
  if (!added) {
    spdlog::error("email: cannot queue alert {}: {}", alert.dedupe_key, added.error().message());
    co_return;
  }
  if (*added) {
    raised_.fetch_add(1);
    spdlog::info("email: queued {} alert for account {}", KindName(alert.kind), alert.account_id);
  }
}

asio::awaitable<void> Notifier::SendDue() {
  auto due = co_await emails_.DueEmails(Now(), 20);
  if (!due) {
    spdlog::warn("email: cannot read the email outbox: {}", due.error().message());
    co_return;
  }
  for (auto& row : *due) {
    if (stopping_) co_return;
    // No `this`: a send still running at shutdown finishes on the pool after the notifier is gone.
    auto work = [sender = &sender_, from = options_.from.addr, rcpt = row.rcpt, message = row.message]() {
      return sender->Send(from, rcpt, message);
    };
    auto result = co_await pool_.Run(std::move(work));
    int attempts = row.attempts + 1;
    std::int64_t now = Now();
    if (result) {
      sent_.fetch_add(1);
      auto marked = co_await emails_.MarkEmailSent(row.id, attempts, now);
      if (!marked) spdlog::error("email: sent {} but cannot record it: {}", row.id, marked.error().message());
      continue;
    }
    failed_.fetch_add(1);
    bool dead = attempts >= options_.max_attempts;
    std::int64_t delay = options_.retry_first.count();
    for (int i = 1; i < attempts && delay < options_.retry_max.count(); ++i) delay *= 2;
    delay = std::min<std::int64_t>(delay, options_.retry_max.count());
    spdlog::warn("email: sending {} ({}) failed (attempt {}): {}{}", row.id, row.kind, attempts,
                 result.error(), dead ? "; giving up" : "");
    auto marked = co_await emails_.MarkEmailFailed(row.id, attempts, now + delay, result.error(), dead);
    if (!marked) spdlog::error("email: cannot record a failed send of {}: {}", row.id, marked.error().message());
  }
}

}  // namespace gateway::notify
