#include "gateway/accounts/limits.h"

#include <algorithm>
#include <cmath>

namespace gateway::accounts {

void TokenBucket::Refill(Clock::time_point now) {
  if (now <= at_) return;
  double elapsed_ms = std::chrono::duration<double, std::milli>(now - at_).count();
  tokens_ = std::min(capacity_, tokens_ + elapsed_ms * per_ms_);
  at_ = now;
}

TokenBucket::Decision TokenBucket::Describe(bool allowed) const {
  Decision d;
  d.allowed = allowed;
  d.remaining = static_cast<long>(std::floor(tokens_));
  d.reset_s = static_cast<long>(std::ceil((capacity_ - tokens_) / per_ms_ / 1000.0));
  if (!allowed) d.retry_after_s = std::max(1L, static_cast<long>(std::ceil((1.0 - tokens_) / per_ms_ / 1000.0)));
  return d;
}

TokenBucket::Decision TokenBucket::Take(Clock::time_point now) {
  Refill(now);
  if (tokens_ < 1.0) return Describe(false);
  tokens_ -= 1.0;
  return Describe(true);
}

TokenBucket::Decision TokenBucket::Peek(Clock::time_point now) {
  Refill(now);
  return Describe(tokens_ >= 1.0);
}

bool TokenBucket::Full(Clock::time_point now) const {
  double elapsed_ms = now > at_ ? std::chrono::duration<double, std::milli>(now - at_).count() : 0;
  return tokens_ + elapsed_ms * per_ms_ >= capacity_;
}

TokenBucket& KeyedLimiter::BucketFor(std::string_view key, Clock::time_point now) {
  auto it = buckets_.find(std::string(key));
  if (it != buckets_.end()) return it->second;
  if (buckets_.size() >= max_keys_) {
    std::erase_if(buckets_, [now](auto& entry) { return entry.second.Full(now); });
    if (buckets_.size() >= max_keys_) buckets_.clear();
  }
  return buckets_.emplace(std::string(key), TokenBucket(capacity_, period_, now)).first->second;
}

TokenBucket::Decision KeyedLimiter::Take(std::string_view key, Clock::time_point now) {
  std::lock_guard lock(mu_);
  return BucketFor(key, now).Take(now);
}

TokenBucket::Decision KeyedLimiter::Peek(std::string_view key, Clock::time_point now) {
  std::lock_guard lock(mu_);
  return BucketFor(key, now).Peek(now);
}

std::size_t KeyedLimiter::size() {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

void KeyedLimiter::Forget(std::string_view key) {
  std::lock_guard lock(mu_);
  buckets_.erase(std::string(key));
}

}  // namespace gateway::accounts
