#include "gateway/events/bus.h"

#include <algorithm>
#include <memory>

namespace gateway::events {

int Bus::Subscribe(Listener listener) {
  std::lock_guard lock(mu_);
  int token = next_token_++;
  listeners_[token] = std::make_shared<Listener>(std::move(listener));
  return token;
}

void Bus::Unsubscribe(int token) {
  std::lock_guard lock(mu_);
  listeners_.erase(token);
}

void Bus::Publish(const std::vector<store::EventRow>& events) {
  if (events.empty()) return;
  // Listeners run outside the lock, so one may subscribe or unsubscribe from inside a call.
  std::vector<std::shared_ptr<Listener>> now;
  {
    std::lock_guard lock(mu_);
    for (const auto& e : events) last_seq_ = std::max(last_seq_, e.seq);
    now.reserve(listeners_.size());
    for (const auto& [token, l] : listeners_) now.push_back(l);
  }
  for (const auto& l : now) {
    for (const auto& e : events) (*l)(e);
  }
}

std::int64_t Bus::last_seq() const {
  std::lock_guard lock(mu_);
  return last_seq_;
}

}  // namespace gateway::events
