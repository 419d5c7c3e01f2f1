#include "gateway/outbox/outbox.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <climits>
#include <set>
#include <unordered_set>

#include "base/clock.h"
#include "gateway/store/api_error.h"
#include "gateway/store/ids.h"
#include "wa/client/client.h"
#include "wa/client/errors.h"
#include "wa/client/messages.h"

namespace gateway::outbox {

namespace asio = boost::asio;
using status = base::http::beast_http::status;
using store::MessageRow;

namespace {

ApiError Unprocessable(std::string code, std::string detail) {
  return ApiError{status::unprocessable_entity, std::move(code), std::move(detail)};
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Unix ms of the first day of the UTC month containing `now_ms`.
std::int64_t MonthStart(std::int64_t now_ms) {
  std::time_t secs = static_cast<std::time_t>(now_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  tm.tm_mday = 1;
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

// What a failed send means for the message.
enum class Verdict { kWaitForConnection, kRetry, kFail };
struct Failure {
  Verdict verdict;
  std::string code;
  std::string detail;
};

Failure Classify(const boost::system::error_code& ec) {
  using wa::client::Errc;
  if (ec.category() == wa::client::Category()) {
    switch (static_cast<Errc>(ec.value())) {
      case Errc::kNotConnected:
      case Errc::kDisconnected:
      case Errc::kTimeout:
      case Errc::kCancelled:
        return {Verdict::kWaitForConnection, "", ""};
      case Errc::kInvalidRecipient:
      case Errc::kInvalidPhone:
        return {Verdict::kFail, "invalid_number", "the recipient is not a valid WhatsApp address"};
      case Errc::kNoDevices:
        return {Verdict::kFail, "not_on_whatsapp", "the number has no WhatsApp account"};
      case Errc::kMessageRejected:
        return {Verdict::kFail, "rejected", "WhatsApp refused the message: " + ec.message()};
      default:
        break;
    }
  }
  return {Verdict::kRetry, "send_failed", ec.message()};
}

}  // namespace

base::Result<std::string, ApiError> RecipientJid(const std::string& to) {
  auto at = to.find('@');
  if (at == std::string::npos) {
    std::string digits;
    for (std::size_t i = 0; i < to.size(); ++i) {
      char c = to[i];
      if (c >= '0' && c <= '9') {
        digits.push_back(c);
      } else if (c == '+' && digits.empty() && i == to.find_first_not_of(' ')) {
        continue;
      } else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')') {
        return Unprocessable("invalid_recipient", "to must be an international phone number (e.g. +15550001111) or a user JID");
      }
    }
    if (digits.size() < 7 || digits.size() > 15 || digits[0] == '0') {
      return Unprocessable("invalid_recipient", "a phone number needs 7 to 15 digits with the country code and no leading 0");
    }
    return digits + "@s.whatsapp.net";
  }
  std::string user = to.substr(0, at);
  std::string server = to.substr(at + 1);
  if (server == "g.us") {
    return Unprocessable("groups_unsupported", "sending to groups is not supported yet");
  }
  auto colon = user.find(':');
  if (colon != std::string::npos) user.resize(colon);  // a device JID names its user
  if ((server == "s.whatsapp.net" || server == "lid") && AllDigits(user) && user.size() <= 20) {
    return user + "@" + server;
  }
  return Unprocessable("invalid_recipient", "to must be a phone number or a JID ending in @s.whatsapp.net or @lid");
}

// --- the dispatcher ------------------------------------------------------------------------

class Outbox::Dispatcher : public std::enable_shared_from_this<Dispatcher> {
 public:
  Dispatcher(Outbox& outbox, store::SessionRow row, wa::client::Client& client)
      : outbox_(outbox), row_(std::move(row)), client_(client),
        strand_(asio::make_strand(outbox.ioc_)), timer_(strand_), rng_(std::random_device{}()) {
    pacing_ = outbox_.PacingOf(row_);
  }

  void Start() {
    asio::co_spawn(strand_, Run(shared_from_this()), asio::detached);
  }

  void Wake() {
    asio::post(strand_, [self = shared_from_this()] {
      self->woken_ = true;
      self->timer_.cancel();
    });
  }

  // A message was queued. While disconnected nothing is sent, and the loop wakes only to expire
  // messages (a scan of up to kExpiryScan queued rows): a message without expires_at changes
  // nothing there, so it does not wake it. Otherwise every send to a disconnected session with a
  // long queue re-read a thousand rows.
  void Enqueued(std::optional<std::int64_t> expires_ms) {
    asio::post(strand_, [self = shared_from_this(), expires_ms] {
      if (!self->connected_ && !expires_ms) return;
      self->woken_ = true;
      self->timer_.cancel();
    });
  }

  void SetConnected(bool connected) {
    asio::post(strand_, [self = shared_from_this(), connected] {
      self->connected_ = connected;
      self->woken_ = true;
      self->timer_.cancel();
    });
  }

  // A message from the session's chats was stored (any thread): chats found unknown before may
  // be known now.
  void Received() { received_.fetch_add(1); }

  asio::awaitable<void> Stop() {
    asio::post(strand_, [self = shared_from_this()] {
      self->stopping_ = true;
      self->timer_.cancel();
    });
    asio::steady_timer poll(co_await asio::this_coro::executor);
    while (!finished_.load()) {
      poll.expires_after(std::chrono::milliseconds(5));
      co_await poll.async_wait(asio::use_awaitable);
    }
  }

 private:
  // Sleeps until `ms` passed, a Wake, a connection change or Stop.
  asio::awaitable<void> WaitFor(std::int64_t ms) {
    if (woken_ || stopping_) {
      woken_ = false;
      co_return;
    }
    timer_.expires_after(std::chrono::milliseconds(std::clamp<std::int64_t>(ms, 0, 3600000)));
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    woken_ = false;
  }

  // Sleeps `ms` whatever happens, except Stop (typing must last its time).
  asio::awaitable<void> Sleep(std::int64_t ms) {
    std::int64_t until = base::UnixMs() + ms;
    while (!stopping_) {
      std::int64_t left = until - base::UnixMs();
      if (left <= 0) break;
      timer_.expires_after(std::chrono::milliseconds(left));
      boost::system::error_code ec;
      co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  asio::awaitable<void> LoadDay(std::int64_t now) {
    day_start_ = DayStart(pacing_, now);
    next_day_ = NextDayStart(pacing_, now);
    auto stats = co_await outbox_.messages_.Stats(row_.id, day_start_);
    if (stats) {
      sent_today_ = stats->sent_since;
      first_today_ = stats->first_contacts_since;
    } else {
      sent_today_ = first_today_ = 0;
    }
  }

  // Whether `chat` ever wrote to the session. Both answers are remembered: a chat that wrote
  // stays known, and "unknown" holds until the session stores a received message, so a bulk
  // send to new numbers costs no store read per message.
  asio::awaitable<bool> Known(const std::string& chat) {
    if (known_chats_.count(chat)) co_return true;
    std::uint64_t seen = received_.load();
    if (seen != unknown_as_of_) {
      unknown_chats_.clear();
      unknown_as_of_ = seen;
    }
    if (unknown_chats_.count(chat)) co_return false;
    auto known = co_await outbox_.messages_.HasReceivedFrom(row_.id, chat);
    if (known && *known) {
      known_chats_.insert(chat);
      co_return true;
    }
    // Only an answer no receipt overtook: a message stored during the read may be from `chat`.
    if (known && received_.load() == seen) {
      if (unknown_chats_.size() >= kUnknownChats) unknown_chats_.clear();
      unknown_chats_.insert(chat);
    }
    co_return false;
  }

  // The strings are views (literals, or a Failure that outlives the call): no temporaries with
  // destructors in the callers' co_await expressions (g++ 12).
  asio::awaitable<void> Change(const std::string& message_id, std::string_view to_status, std::string_view code = {},
                               std::string_view detail = {}, int attempts_inc = 0, std::int64_t wa_ts = 0,
                               bool first_contact = false) {
    store::MessageStore::Transition t{.message_id = message_id, .status = std::string(to_status), .at_ms = base::UnixMs(),
                                      .error_code = std::string(code), .error_detail = std::string(detail),
                                      .attempts_inc = attempts_inc, .wa_timestamp = wa_ts,
                                      .first_contact = first_contact};
    std::vector<store::MessageStore::Transition> changes{std::move(t)};
    auto events = co_await outbox_.messages_.Advance(row_.id, std::move(changes));
    if (!events) {
      spdlog::warn("session {}: recording a status of {} failed: {}", row_.id, message_id, events.error().message());
      co_return;
    }
    outbox_.Publish(*events);
  }

  // While disconnected nothing is sent, but expires_at still holds: fails the queued messages
  // whose time passed and returns how long until the next one does (capped at an hour).
  asio::awaitable<std::int64_t> ExpireDue() {
    auto pending = co_await outbox_.messages_.PendingOutgoing(row_.id, kExpiryScan);
    if (!pending) co_return 1000;
    std::int64_t now = base::UnixMs();
    std::int64_t next = now + 3600000;
    for (const auto& m : *pending) {
      if (m.status != "queued" || !m.expires_ms) continue;
      if (*m.expires_ms <= now) {
        outbox_.ForgetAccepted(m.id);
        co_await Change(m.id, "failed", "expired", "expires_at passed before the message could be sent");
      } else {
        next = std::min(next, *m.expires_ms);
      }
    }
    co_return next - now;
  }

  // Detached: owns its id.
  asio::awaitable<void> MarkSending(std::string message_id) {
    co_await Change(message_id, "sending", "", "", 1);
  }

  static asio::awaitable<void> Run(std::shared_ptr<Dispatcher> self) {
    try {
      co_await self->Loop();
    } catch (const std::exception& e) {
      spdlog::error("session {}: dispatcher ended: {}", self->row_.id, e.what());
    }
    self->finished_ = true;
  }

  asio::awaitable<void> Loop() {
    co_await LoadDay(base::UnixMs());
    backoff_ = outbox_.options_.retry_min.count();
    while (!stopping_) {
      if (retry_at_ > 0) {
        // A pipelined send failed: nothing goes before its backoff passed.
        co_await Backoff();
        continue;
      }
      if (in_flight_.size() >= kMaxInFlight) {
        co_await WaitFor(1000);
        continue;
      }
      if (!connected_) {
        std::int64_t wait = co_await ExpireDue();
        co_await WaitFor(wait);
        continue;
      }
      std::int64_t now = base::UnixMs();
      if (now >= next_day_) co_await LoadDay(now);
      auto pending = co_await outbox_.messages_.PendingOutgoing(row_.id, 64);
      if (!pending) {
        co_await WaitFor(1000);
        continue;
      }
      if (pending->empty()) {
        co_await WaitFor(3600000);
        continue;
      }
      // The first message that may go now; a chat held back holds all of its later messages,
      // so each chat keeps its order.
      std::set<std::string> held;
      std::int64_t earliest = LLONG_MAX;
      const MessageRow* pick = nullptr;
      for (const auto& m : *pending) {
        if (held.count(m.chat_jid) || in_flight_.count(m.id)) continue;
        if (m.status == "queued" && m.expires_ms && *m.expires_ms <= now) {
          outbox_.ForgetAccepted(m.id);
          co_await Change(m.id, "failed", "expired", "expires_at passed before the message could be sent");
          continue;
        }
        auto last = last_to_.find(m.chat_jid);
        if (pacing_.recipient_gap_ms > 0 && last != last_to_.end() &&
            last->second + pacing_.recipient_gap_ms > now) {
          earliest = std::min(earliest, last->second + pacing_.recipient_gap_ms);
          held.insert(m.chat_jid);
          continue;
        }
        if (pacing_.first_contact_daily_limit > 0 && first_today_ >= pacing_.first_contact_daily_limit &&
            !(co_await Known(m.chat_jid))) {
          earliest = std::min(earliest, next_day_);
          held.insert(m.chat_jid);
          continue;
        }
        pick = &m;
        break;
      }
      if (!pick) {
        co_await WaitFor(earliest == LLONG_MAX ? 1000 : earliest - now);
        continue;
      }
      // Session-wide gates: the daily cap, quiet hours, the delay since the last send.
      std::int64_t gate = now;
      std::int64_t cap = EffectiveDailyLimit(pacing_, row_.linked_ms, now);
      if (cap > 0 && sent_today_ >= cap) gate = next_day_;
      if (auto quiet = QuietUntil(pacing_, std::max(gate, now))) gate = std::max(gate, *quiet);
      int typing = TypingMs(pacing_, pick->text.size(), last_send_ms_ > 0 ? delay_ms_ : pacing_.typing_max_ms);
      std::int64_t send_at = last_send_ms_ > 0 ? std::max(gate, last_send_ms_ + delay_ms_) : gate;
      std::int64_t typing_at = std::max(now, send_at - typing);
      if (send_at > now && typing_at > now) {
        co_await WaitFor(typing_at - now);
        continue;  // something may have changed meanwhile: choose again
      }
      MessageRow m = *pick;
      bool first_contact = !(co_await Known(m.chat_jid));
      if (typing > 0 && m.attempts == 0) {
        auto said = co_await client_.SendChatState(m.chat_jid, wa::client::ChatStateKind::kComposing);
        // Typing lasts its time even when the delay since the last send has already passed
        // (the first message, or one queued after a pause): nobody types in zero ms.
        std::int64_t typed_at = std::max(send_at, base::UnixMs() + typing);
        if (said) co_await Sleep(std::max<std::int64_t>(typed_at - base::UnixMs(), 0));
      } else if (send_at > now) {
        co_await Sleep(send_at - now);
      }
      if (stopping_) break;
      // Not awaited: the WhatsApp id is fixed, so a crash between this and the send only resends
      // the same message; the writer keeps this change before the "sent" that follows.
      asio::co_spawn(strand_, MarkSending(m.id), asio::detached);
      bool pipelined = Pipelined(typing, now);
      in_flight_.insert(m.id);
      if (!pipelined) {
        auto send = SendOne(std::move(m), first_contact, nullptr);
        Outcome outcome = co_await std::move(send);
        if (outcome == Outcome::kRetry) co_await Backoff();
        continue;
      }
      // Nothing paces this session: the next message goes as soon as this one's stanza is
      // written, without waiting for the server's ack and the "sent" record (the socket keeps
      // the order). A failure after the write waits for the backoff before anything else goes.
      auto written = std::make_shared<Written>(strand_);
      asio::co_spawn(strand_, SendDetached(shared_from_this(), std::move(m), first_contact, written), asio::detached);
      while (!written->done && !stopping_) {
        written->timer.expires_after(std::chrono::hours(1));
        boost::system::error_code ec;
        co_await written->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
    }
    // Sends still waiting for their acks finish before the loop is done (the client fails them
    // once it stops, which follows; a crash here only resends them under the same id).
    asio::steady_timer poll(strand_);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!in_flight_.empty() && std::chrono::steady_clock::now() < deadline) {
      poll.expires_after(std::chrono::milliseconds(5));
      boost::system::error_code ec;
      co_await poll.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }


  // Set once a pipelined send's stanza is written (or its send ended before that).
  struct Written {
    explicit Written(asio::strand<asio::io_context::executor_type>& strand) : timer(strand) {}
    void Done() {
      done = true;
      timer.cancel();
    }
    asio::steady_timer timer;
    bool done = false;
  };

  // A pipelined send, owning its dispatcher while it runs.
  static asio::awaitable<void> SendDetached(std::shared_ptr<Dispatcher> self, MessageRow m, bool first_contact,
                                            std::shared_ptr<Written> written) {
    auto send = self->SendOne(std::move(m), first_contact, std::move(written));
    co_await std::move(send);
  }

  // Whether this send may overlap the next: no delay between sends, no typing, no per-recipient
  // gap and no cap that in-flight sends could overshoot.
  bool Pipelined(int typing, std::int64_t now) const {
    return typing == 0 && pacing_.min_delay_ms == 0 && pacing_.max_delay_ms == 0 && pacing_.recipient_gap_ms == 0 &&
           pacing_.first_contact_daily_limit == 0 && EffectiveDailyLimit(pacing_, row_.linked_ms, now) == 0 &&
           in_flight_.size() < kMaxInFlight;
  }

  enum class Outcome { kSent, kFailed, kRetry };

  // Sends `m` and records the outcome (sent, failed, or left for a retry).
  asio::awaitable<Outcome> SendOne(MessageRow m, bool first_contact, std::shared_ptr<Written> written) {
    wa::client::SendTextRequest request{.to = m.chat_jid, .text = m.text, .mentions = m.mentions, .id = m.wa_id};
    if (!m.quoted_id.empty()) {
      request.quoted = wa::client::QuotedMessage{m.quoted_id, m.quoted_participant, m.quoted_text};
    }
    if (outbox_.options_.on_dispatched || written) {
      request.on_written = [outbox = &outbox_, id = m.id, written, strand = strand_](std::chrono::steady_clock::time_point at) {
        if (written) asio::post(strand, [written] { written->Done(); });
        if (!outbox->options_.on_dispatched) return;
        std::chrono::steady_clock::time_point accepted;
        {
          std::lock_guard lock(outbox->accepted_mu_);
          auto it = outbox->accepted_.find(id);
          if (it == outbox->accepted_.end()) return;  // accepted before a restart, or sent already
          accepted = it->second;
          outbox->accepted_.erase(it);
        }
        outbox->options_.on_dispatched(at - accepted);
      };
    }
    auto send = client_.SendText(std::move(request));
    auto sent = co_await std::move(send);
    if (written) written->Done();  // ended before the write (a failure): the loop goes on
    Outcome outcome = Outcome::kSent;
    if (sent) {
      co_await Change(m.id, "sent", "", "", 0, sent->timestamp, first_contact);
      std::int64_t at = base::UnixMs();
      ++sent_today_;
      if (first_contact) ++first_today_;
      last_send_ms_ = at;
      last_to_[m.chat_jid] = at;
      delay_ms_ = DrawDelay(pacing_, rng_);
      backoff_ = outbox_.options_.retry_min.count();
      std::lock_guard lock(outbox_.mu_);
      ++outbox_.counters_.sent;
    } else {
      Failure f = Classify(sent.error());
      spdlog::info("session {}: sending {} failed: {}", row_.id, m.id, sent.error().message());
      if (f.verdict == Verdict::kRetry && m.attempts + 1 >= outbox_.options_.max_attempts) f.verdict = Verdict::kFail;
      if (f.verdict == Verdict::kFail) {
        outbox_.ForgetAccepted(m.id);
        co_await Change(m.id, "failed", f.code, f.detail);
        std::lock_guard lock(outbox_.mu_);
        ++outbox_.counters_.failed;
        outcome = Outcome::kFailed;
      } else {
        outcome = Outcome::kRetry;
        retry_at_ = std::max(retry_at_, base::UnixMs() + backoff_);
      }
    }
    in_flight_.erase(m.id);
    woken_ = true;  // a slot is free, or the backoff starts
    timer_.cancel();
    co_return outcome;
  }

  // Waits out the backoff a failed send set, doubling it for the next failure.
  asio::awaitable<void> Backoff() {
    std::int64_t wait = retry_at_ - base::UnixMs();
    backoff_ = std::min<std::int64_t>(backoff_ * 2, outbox_.options_.retry_max.count());
    retry_at_ = 0;
    if (wait > 0) co_await WaitFor(wait);
  }

  // Waiting messages checked for expiry per pass while disconnected.
  static constexpr int kExpiryScan = 1000;
  // Chats remembered as unknown at most (bulk sends to new numbers).
  static constexpr std::size_t kUnknownChats = 10000;
  // Pipelined sends of one session waiting for their acks at most.
  static constexpr std::size_t kMaxInFlight = 16;

  Outbox& outbox_;
  store::SessionRow row_;
  wa::client::Client& client_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;
  std::mt19937_64 rng_;
  Pacing pacing_;
  // On the strand:
  bool woken_ = false;
  bool connected_ = false;
  bool stopping_ = false;
  std::int64_t day_start_ = 0, next_day_ = 0;
  std::int64_t sent_today_ = 0, first_today_ = 0;
  std::int64_t last_send_ms_ = 0;
  int delay_ms_ = 0;
  std::map<std::string, std::int64_t> last_to_;
  std::set<std::string> known_chats_;
  std::unordered_set<std::string> unknown_chats_;  // as of unknown_as_of_
  std::uint64_t unknown_as_of_ = 0;
  std::atomic<std::uint64_t> received_{0};
  std::atomic<bool> finished_{false};
  std::set<std::string> in_flight_;  // message ids being sent (ack not yet in)
  std::int64_t backoff_ = 0;         // the next retry's wait, ms
  std::int64_t retry_at_ = 0;        // set by a failed send: nothing goes before it
};

// --- the outbox ----------------------------------------------------------------------------

Outbox::Outbox(asio::io_context& ioc, store::MessageStore& messages, store::SessionStore& sessions,
               events::Bus& bus, Options options)
    : ioc_(ioc), messages_(messages), sessions_(sessions), bus_(bus), options_(std::move(options)),
      lookups_(options_.lookup_burst, options_.lookup_period) {}

Outbox::~Outbox() = default;

Pacing Outbox::PacingOf(const store::SessionRow& row) const {
  Pacing p = options_.defaults;
  p.min_delay_ms = row.min_delay_ms;
  p.max_delay_ms = row.max_delay_ms;
  p.daily_limit = row.daily_limit.value_or(0);
  boost::system::error_code ec;
  auto v = boost::json::parse(row.pacing, ec);
  if (!ec && v.is_object()) {
    auto parsed = PacingFromJson(v.as_object(), p);
    if (parsed) p = *parsed;
  }
  return p;
}

void Outbox::Publish(const std::vector<store::EventRow>& events) { bus_.Publish(events); }

void Outbox::ForgetAccepted(const std::string& message_id) {
  std::lock_guard lock(accepted_mu_);
  accepted_.erase(message_id);
}

std::shared_ptr<Outbox::Dispatcher> Outbox::Find(const std::string& session_id) const {
  std::lock_guard lock(mu_);
  auto it = dispatchers_.find(session_id);
  return it == dispatchers_.end() ? nullptr : it->second;
}

Outbox::Counters Outbox::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

namespace {

// A message the engine received (live, or from a history sync) as a row of the message store.
MessageRow RowOf(const wa::client::Message& m, const std::string& account_id, const std::string& session_id,
                 std::int64_t created_ms) {
  MessageRow r;
  r.id = store::NewOrderedId("msg_");
  r.account_id = account_id;
  r.session_id = session_id;
  r.direction = m.from_me ? "out" : "in";
  r.wa_id = m.id;
  r.chat_jid = m.chat.ToString();
  r.sender_jid = m.sender.ToString();
  if (m.sender_pn) r.sender_pn = m.sender_pn->ToString();
  if (m.sender_lid) r.sender_lid = m.sender_lid->ToString();
  r.push_name = m.push_name;
  r.type = m.text.empty() ? "unsupported" : "text";
  r.text = m.text;
  if (m.quoted) {
    r.quoted_id = m.quoted->id;
    r.quoted_participant = m.quoted->participant;
    r.quoted_text = m.quoted->text;
  }
  r.mentions = m.mentions;
  // Written on our phone: already sent when we hear of it.
  r.status = m.from_me ? "sent" : "received";
  r.wa_timestamp = m.timestamp;
  r.created_ms = r.updated_ms = created_ms;
  if (m.from_me) r.sent_ms = created_ms;
  return r;
}

}  // namespace

void Outbox::Attach(const store::SessionRow& row, wa::client::Client& client) {
  auto d = std::make_shared<Dispatcher>(*this, row, client);
  {
    std::lock_guard lock(mu_);
    dispatchers_[row.id] = d;
  }
  std::string account_id = row.account_id, session_id = row.id;
  client.SetMessageHandler([this, account_id, session_id](const wa::client::Message& m) {
    // When the stanza was read off the connection: the message's created_at and its
    // message.received event's timestamp, so that event's latency counts the receive path too.
    MessageRow r = RowOf(m, account_id, session_id, m.received_ms > 0 ? m.received_ms : base::UnixMs());
    return Receive(std::move(r));
  });
  // History sync batches: stored as they come (the engine waits for each), source "history",
  // no message.received events.
  client.SetHistoryHandler([this, account_id, session_id](const wa::client::HistoryMessages& batch)
                               -> asio::awaitable<base::Result<void>> {
    std::vector<MessageRow> rows;
    rows.reserve(batch.messages.size());
    std::int64_t now = base::UnixMs();
    for (const auto& m : batch.messages) {
      // Stored now (retention counts from here); `timestamp` keeps WhatsApp's time.
      MessageRow r = RowOf(m, account_id, session_id, now);
      r.to = m.from_me ? r.chat_jid : std::string();
      r.source = "history";
      rows.push_back(std::move(r));
    }
    auto stored = co_await messages_.StoreHistory(std::move(rows));
    if (!stored) co_return stored.error();
    std::lock_guard lock(mu_);
    counters_.history += static_cast<std::uint64_t>(*stored);
    co_return base::Result<void>{};
  });
  d->Start();
}

asio::awaitable<base::Result<void>> Outbox::Receive(MessageRow row) {
  auto stored = co_await messages_.StoreReceived(std::move(row));
  if (!stored) co_return stored.error();
  if (stored->inserted) {
    if (stored->message.direction == "in") {
      if (auto d = Find(stored->message.session_id)) d->Received();
    }
    Publish(stored->events);
    std::lock_guard lock(mu_);
    ++counters_.received;
  }
  co_return base::Result<void>{};
}

void Outbox::OnEvent(const std::string& session_id, const wa::client::Event& event) {
  if (std::holds_alternative<wa::client::Connected>(event)) {
    if (auto d = Find(session_id)) d->SetConnected(true);
    std::lock_guard lock(mu_);
    logged_out_.erase(session_id);
  } else if (std::holds_alternative<wa::client::Disconnected>(event)) {
    if (auto d = Find(session_id)) d->SetConnected(false);
  } else if (std::holds_alternative<wa::client::LoggedOut>(event)) {
    if (auto d = Find(session_id)) d->SetConnected(false);
    std::lock_guard lock(mu_);
    logged_out_.emplace(session_id, base::UnixMs());
  } else if (const auto* r = std::get_if<wa::client::Receipt>(&event)) {
    std::string to;
    switch (r->type) {
      case wa::client::ReceiptType::kDelivered:
      case wa::client::ReceiptType::kInactive: to = "delivered"; break;
      case wa::client::ReceiptType::kRead: to = "read"; break;
      case wa::client::ReceiptType::kPlayed: to = "played"; break;
      default: return;
    }
    // When we learned it: receipts carry whole seconds, which would order them before the
    // server ack of the same second.
    std::int64_t at = base::UnixMs();
    auto work = [](Outbox* self, std::string session, std::vector<std::string> ids, std::string st,
                   std::int64_t at_ms) -> asio::awaitable<void> {
      auto events = co_await self->messages_.AdvanceByWaIds(session, std::move(ids), std::move(st), at_ms);
      if (events) {
        self->Publish(*events);
      } else {
        spdlog::warn("session {}: recording a receipt failed: {}", session, events.error().message());
      }
    };
    asio::co_spawn(ioc_, work(this, session_id, r->ids, to, at), asio::detached);
  }
}

asio::awaitable<void> Outbox::Detach(std::string session_id) {
  std::shared_ptr<Dispatcher> d;
  {
    std::lock_guard lock(mu_);
    auto it = dispatchers_.find(session_id);
    if (it == dispatchers_.end()) co_return;
    d = it->second;
  }
  co_await d->Stop();
  // Listed until it stopped: the sweeper leaves the messages of a listed session to it.
  std::lock_guard lock(mu_);
  auto it = dispatchers_.find(session_id);
  if (it != dispatchers_.end() && it->second == d) dispatchers_.erase(it);
}

void Outbox::Start() {
  sweeping_ = std::make_shared<bool>(true);
  asio::co_spawn(ioc_, Sweep(), asio::detached);
}

asio::awaitable<void> Outbox::Shutdown() {
  if (sweeping_) *sweeping_ = false;
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, d] : dispatchers_) ids.push_back(id);
  }
  for (auto& id : ids) co_await Detach(id);
}

asio::awaitable<void> Outbox::Sweep() {
  auto alive = sweeping_;
  // Sessions that were logged out when the gateway stopped keep their grace from then.
  auto stale = co_await messages_.LoggedOutSessions();
  if (stale) {
    std::lock_guard lock(mu_);
    for (const auto& [id, at] : *stale) logged_out_.emplace(id, at);
  }
  asio::steady_timer timer(ioc_);
  std::int64_t last_prune = 0;
  while (*alive) {
    timer.expires_after(options_.sweep_every);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!*alive) break;
    std::int64_t now = base::UnixMs();
    std::vector<std::string> due;
    {
      std::lock_guard lock(mu_);
      for (auto it = logged_out_.begin(); it != logged_out_.end();) {
        if (it->second + options_.logged_out_grace.count() <= now) {
          due.push_back(it->first);
          it = logged_out_.erase(it);
        } else {
          ++it;
        }
      }
    }
    if (auto totals = co_await messages_.QueueTotals()) {
      std::lock_guard lock(mu_);
      counters_.queued = totals->first;
      counters_.oldest_queued_ms = totals->second;
    }
    for (const auto& id : due) {
      auto events = co_await messages_.FailPending(id, "logged_out",
                                                   "the session was logged out before the message could be sent", now);
      if (events) Publish(*events);
    }
    // expires_at holds where no dispatcher runs too (a stopped session); a running session's
    // dispatcher fails its own expired messages, connected or not.
    if (auto expiring = co_await messages_.SessionsWithExpired(now)) {
      for (const auto& id : *expiring) {
        if (Find(id)) continue;
        auto events = co_await messages_.ExpireQueued(id, now);
        if (events) {
          Publish(*events);
        } else {
          spdlog::warn("session {}: failing expired messages failed: {}", id, events.error().message());
        }
      }
    }
    if (now - last_prune > 3600000) {
      last_prune = now;
      {
        // Messages that were never written (failed for want of a session, or still held)
        // leave the dispatch-latency bookkeeping after a day.
        auto cutoff = std::chrono::steady_clock::now() - std::chrono::hours(24);
        std::lock_guard lock(accepted_mu_);
        std::erase_if(accepted_, [cutoff](const auto& e) { return e.second < cutoff; });
      }
      auto retention_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options_.retention).count();
      auto key_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options_.idempotency_ttl).count();
      auto pruned = co_await messages_.Prune(now - retention_ms, now - key_ms);
      if (pruned && *pruned > 0) spdlog::info("outbox: {} messages past retention removed", *pruned);
    }
  }
}

asio::awaitable<base::Result<Accepted, ApiError>> Outbox::Send(store::SessionRow session, SendRequest request) {
  if (request.type != "text") {
    co_return Unprocessable("unsupported_type", "type must be \"text\" (media types come later)");
  }
  if (request.text.empty() || request.text.size() > 65536) {
    co_return Unprocessable("invalid_text", "text must be 1 to 65536 bytes");
  }
  auto chat = RecipientJid(request.to);
  if (!chat) co_return chat.error();
  std::vector<std::string> mentions;
  if (request.mentions.size() > 256) co_return Unprocessable("invalid_mentions", "at most 256 mentions");
  for (const auto& m : request.mentions) {
    auto jid = RecipientJid(m);
    if (!jid) co_return Unprocessable("invalid_mentions", "mention '" + m + "' is not a phone number or user JID");
    mentions.push_back(*jid);
  }
  std::int64_t now = base::UnixMs();
  if (request.expires_ms && *request.expires_ms <= now) {
    co_return Unprocessable("invalid_expires_at", "expires_at is in the past");
  }
  MessageRow m;
  if (!request.reply_to.empty()) {
    auto quoted = co_await messages_.GetMessage(session.account_id, session.id, request.reply_to);
    if (!quoted) co_return store::StoreError("outbox", quoted.error());
    if (!*quoted) {
      co_return Unprocessable("reply_to_not_found", "reply_to names no message of this session (our id or WhatsApp id)");
    }
    const MessageRow& q = **quoted;
    m.quoted_id = q.wa_id;
    if (q.direction == "in") {
      m.quoted_participant = !q.sender_pn.empty() ? q.sender_pn : (!q.sender_lid.empty() ? q.sender_lid : q.chat_jid);
    } else {
      m.quoted_participant = session.jid.empty() ? "" : session.phone + "@s.whatsapp.net";
    }
    m.quoted_text = q.text;
  }
  m.id = store::NewOrderedId("msg_");
  m.account_id = session.account_id;
  m.session_id = session.id;
  m.direction = "out";
  m.wa_id = wa::client::NewMessageId(session.phone, now / 1000);
  m.chat_jid = *chat;
  m.to = request.to;
  m.type = "text";
  m.text = std::move(request.text);
  m.mentions = std::move(mentions);
  m.status = "queued";
  m.expires_ms = request.expires_ms;
  m.created_ms = m.updated_ms = now;
  store::EnqueueItem item{.message = std::move(m), .month_start_ms = MonthStart(now),
                          .monthly_limit = request.monthly_limit};
  if (!request.idempotency_key.empty()) {
    item.idempotency = store::IdempotencyKey{request.idempotency_key, request.request_hash};
  }
  auto outcome = co_await messages_.Enqueue(std::move(item));
  if (!outcome) co_return store::StoreError("outbox", outcome.error());
  switch (outcome->kind) {
    case store::EnqueueOutcome::Kind::kKeyConflict:
      co_return ApiError{status::conflict, "idempotency_key_reused",
                         "this Idempotency-Key was used with a different request in the last 24 hours"};
    case store::EnqueueOutcome::Kind::kOverMonthlyLimit:
      co_return ApiError{status::payment_required, "plan_limit_messages",
                         "your plan's messages for this month are used up; upgrade or wait for the next month"};
    case store::EnqueueOutcome::Kind::kReplayed:
      co_return Accepted{std::move(outcome->message), true};
    case store::EnqueueOutcome::Kind::kQueued:
      break;
  }
  Publish(outcome->events);
  if (auto d = Find(session.id)) {
    if (options_.on_dispatched) {
      std::lock_guard lock(accepted_mu_);
      accepted_.emplace(outcome->message.id, std::chrono::steady_clock::now());
    }
    d->Enqueued(outcome->message.expires_ms);
  }
  co_return Accepted{std::move(outcome->message), false};
}

asio::awaitable<base::Result<MessageRow, ApiError>> Outbox::Get(std::string account_id, std::string session_id,
                                                               std::string id) {
  auto m = co_await messages_.GetMessage(std::move(account_id), std::move(session_id), std::move(id));
  if (!m) co_return store::StoreError("outbox", m.error());
  if (!*m) co_return ApiError{status::not_found, "not_found", "no such message"};
  co_return std::move(**m);
}

asio::awaitable<base::Result<MessageRow, ApiError>> Outbox::Cancel(std::string account_id, std::string session_id,
                                                                  std::string id) {
  auto m = co_await Get(account_id, session_id, id);
  if (!m) co_return m.error();
  if (m->direction != "out") {
    co_return ApiError{status::conflict, "not_cancellable", "only outgoing messages can be cancelled"};
  }
  auto done = co_await messages_.Cancel(session_id, m->id, base::UnixMs());
  if (!done) co_return store::StoreError("outbox", done.error());
  if (!done->first) {
    co_return ApiError{status::conflict, "not_cancellable",
                       "the message is " + m->status + "; only a queued message can be cancelled"};
  }
  Publish(done->second);
  ForgetAccepted(m->id);
  if (auto d = Find(session_id)) d->Wake();
  co_return co_await Get(std::move(account_id), std::move(session_id), m->id);
}

base::Result<void, ApiError> Outbox::TakeLookup(const std::string& session_id) {
  auto d = lookups_.Take(session_id, accounts::Clock::now());
  if (d.allowed) return {};
  return ApiError{status::too_many_requests, "lookup_budget_exhausted",
                  "this session's number lookups are used up for now (bulk lookups get numbers banned)",
                  static_cast<int>(d.retry_after_s)};
}

asio::awaitable<base::Result<Health, ApiError>> Outbox::HealthOf(store::SessionRow session) {
  Pacing p = PacingOf(session);
  std::int64_t now = base::UnixMs();
  auto stats = co_await messages_.Stats(session.id, DayStart(p, now));
  if (!stats) co_return store::StoreError("outbox", stats.error());
  Health h;
  h.today = *stats;
  h.daily_limit = EffectiveDailyLimit(p, session.linked_ms, now);
  h.first_contact_daily_limit = p.first_contact_daily_limit;
  const auto& t = h.today;
  int score = 0;
  if (t.sent_since >= 10 && t.first_contacts_since * 2 > t.sent_since) {
    score += t.first_contacts_since * 5 > t.sent_since * 4 ? 2 : 1;
    h.reasons.push_back("most messages today went to chats that never wrote to this number");
  }
  if (t.sent_since >= 20 && t.received_since * 10 < t.sent_since) {
    ++score;
    h.reasons.push_back("few replies compared with messages sent today");
  }
  if (t.failed_since >= 5 && t.failed_since * 10 > t.sent_since + t.failed_since) {
    ++score;
    h.reasons.push_back("more than one message in ten failed today");
  }
  if (h.daily_limit > 0 && t.sent_since * 10 >= h.daily_limit * 9) {
    ++score;
    h.reasons.push_back("the daily limit is nearly reached");
  }
  if (t.oldest_queued_ms > 0 && now - t.oldest_queued_ms > 3600000) {
    h.reasons.push_back("messages have waited in the queue for more than an hour");
  }
  h.risk = score >= 2 ? "high" : (score == 1 ? "medium" : "low");
  co_return h;
}

}  // namespace gateway::outbox
