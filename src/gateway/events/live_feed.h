// One live stream's view of the events (GET /v1/sessions/{id}/events): the events of one session
// of one account, optionally of some types only, first replayed from the log after a resume point
// and then live from the bus, with no gap and no duplicate between the two. It subscribes when
// constructed, before the replay reads the log: whatever is published meanwhile is kept, and what
// the replay already sent (seq up to the last replayed one) is dropped from it. The log is
// written by one writer at a time, so seqs commit in order and nothing below that mark can still
// be on its way.
//
// A reader that falls behind must not grow memory without bound: more than `max_pending` queued
// events mark the feed overflowed (the stream ends; the client resumes with Last-Event-ID).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "gateway/events/bus.h"
#include "gateway/store/events.h"

namespace gateway::events {

class LiveFeed {
 public:
  struct Filter {
    std::string account_id;
    std::string session_id;
    std::set<std::string> types;  // empty: all
  };

  LiveFeed(Bus& bus, Filter filter, std::size_t max_pending);
  ~LiveFeed();
  LiveFeed(const LiveFeed&) = delete;
  LiveFeed& operator=(const LiveFeed&) = delete;

  bool Matches(const store::EventRow& row) const;

  // Called on the publisher's thread after an event was queued (it should only wake the reader).
  void SetWaker(std::function<void()> waker);

  // Sends the session's logged events after `after_seq`, in order, page by page; `send` returns
  // false to stop early (the peer is gone). An error: the log could not be read.
  using Send = std::function<boost::asio::awaitable<bool>(const store::EventRow&)>;
  boost::asio::awaitable<base::error_code> Replay(store::EventStore& log, std::int64_t after_seq,
                                                  Send send);

  // The events the bus delivered since the last call, in arrival order, without those the replay
  // already sent.
  std::vector<store::EventRow> Take();
  bool overflowed() const;

 private:
  Bus& bus_;
  const Filter filter_;
  const std::size_t max_pending_;
  int token_ = 0;
  mutable std::mutex mu_;
  std::vector<store::EventRow> pending_;  // mu_
  std::int64_t replayed_up_to_ = 0;       // mu_
  bool overflowed_ = false;               // mu_
  std::function<void()> waker_;           // mu_
};

}  // namespace gateway::events
