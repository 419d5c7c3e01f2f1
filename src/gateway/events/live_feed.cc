#include "gateway/events/live_feed.h"

#include <algorithm>

namespace gateway::events {

LiveFeed::LiveFeed(Bus& bus, Filter filter, std::size_t max_pending)
    : bus_(bus), filter_(std::move(filter)), max_pending_(max_pending) {
  token_ = bus_.Subscribe([this](const store::EventRow& row) {
    if (!Matches(row)) return;
    std::function<void()> wake;
    {
      std::lock_guard lock(mu_);
      if (overflowed_ || row.seq <= replayed_up_to_) return;
      if (pending_.size() >= max_pending_) {
        overflowed_ = true;
        pending_.clear();
      } else {
        pending_.push_back(row);
      }
      wake = waker_;
    }
    if (wake) wake();
  });
}

LiveFeed::~LiveFeed() { bus_.Unsubscribe(token_); }

bool LiveFeed::Matches(const store::EventRow& row) const {
  return row.account_id == filter_.account_id && row.session_id == filter_.session_id &&
         (filter_.types.empty() || filter_.types.count(row.type) > 0);
}

void LiveFeed::SetWaker(std::function<void()> waker) {
  bool wake_now;
  {
    std::lock_guard lock(mu_);
    waker_ = waker;
    wake_now = !pending_.empty() || overflowed_;
  }
  if (wake_now && waker) waker();
}

boost::asio::awaitable<base::error_code> LiveFeed::Replay(store::EventStore& log,
                                                         std::int64_t after_seq, Send send) {
  constexpr int kPage = 500;
  std::int64_t last = after_seq;
  for (;;) {
    auto page = co_await log.SessionEventsAfter(filter_.account_id, filter_.session_id, last, kPage);
    if (!page) co_return page.error();
    for (const auto& row : *page) {
      last = row.seq;
      {
        // Live copies of what is about to be sent are dropped from now on.
        std::lock_guard lock(mu_);
        replayed_up_to_ = last;
        std::erase_if(pending_, [&](const store::EventRow& r) { return r.seq <= last; });
      }
      if (!Matches(row)) continue;
      if (!co_await send(row)) co_return base::error_code();
    }
    if (static_cast<int>(page->size()) < kPage) break;
  }
  co_return base::error_code();
}

std::vector<store::EventRow> LiveFeed::Take() {
  std::lock_guard lock(mu_);
  std::vector<store::EventRow> out;
  out.swap(pending_);
  return out;
}

bool LiveFeed::overflowed() const {
  std::lock_guard lock(mu_);
  return overflowed_;
}

}  // namespace gateway::events
