// In-process fan-out of events that are already committed to the event log (store/events.h):
// producers append, then Publish; listeners (webhook delivery, live SSE/WebSocket streams,
// metrics) are called synchronously on the publisher's thread and must only queue work or wake a
// coroutine. A listener that missed something (a crash, a slow consumer) catches up from the log
// by seq, so the bus itself may drop nothing and keeps no history.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "gateway/store/events.h"

namespace gateway::events {

// Event type names (the webhook and stream `type`).
inline constexpr const char* kMessageReceived = "message.received";
inline constexpr const char* kMessageStatus = "message.status";
inline constexpr const char* kSessionStatus = "session.status";
inline constexpr const char* kSessionQr = "session.qr";
inline constexpr const char* kSessionHistory = "session.history";
inline constexpr const char* kWebhookTest = "webhook.test";

class Bus {
 public:
  using Listener = std::function<void(const store::EventRow&)>;

  // Returns a token for Unsubscribe.
  int Subscribe(Listener listener);
  void Unsubscribe(int token);
  // Calls every listener with each event, in order.
  void Publish(const std::vector<store::EventRow>& events);
  // The highest seq published so far in this process.
  std::int64_t last_seq() const;

 private:
  mutable std::mutex mu_;
  int next_token_ = 1;
  std::map<int, std::shared_ptr<Listener>> listeners_;  // mu_
  std::int64_t last_seq_ = 0;                           // mu_
};

}  // namespace gateway::events
