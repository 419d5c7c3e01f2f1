// Rate limits kept in process memory: a token bucket per key (API key requests, failed logins per
// account and per IP). Several gateway nodes each keep their own buckets; the shared limits of a
// cluster come with the Redis layer.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace gateway::accounts {

using Clock = std::chrono::steady_clock;

// `capacity` tokens, refilled continuously at `capacity` per `period`.
class TokenBucket {
 public:
  TokenBucket(double capacity, std::chrono::milliseconds period, Clock::time_point now)
      : capacity_(capacity), per_ms_(capacity / static_cast<double>(period.count())),
        tokens_(capacity), at_(now) {}

  struct Decision {
    bool allowed = false;
    long remaining = 0;       // whole tokens left after this request
    long reset_s = 0;         // seconds until the bucket is full again
    long retry_after_s = 0;   // when refused: seconds until one token is back
  };
  // Takes one token if there is one.
  Decision Take(Clock::time_point now);
  // What Take would decide, without taking.
  Decision Peek(Clock::time_point now);
  bool Full(Clock::time_point now) const;

 private:
  void Refill(Clock::time_point now);
  Decision Describe(bool allowed) const;

  double capacity_;
  double per_ms_;
  double tokens_;
  Clock::time_point at_;
};

// Buckets by key, thread-safe. When the map reaches `max_keys`, buckets that refilled completely
// are forgotten, and if that is not enough (a flood of distinct keys) all are: memory stays
// bounded, at the price of forgiving the keys seen so far.
class KeyedLimiter {
 public:
  KeyedLimiter(double capacity, std::chrono::milliseconds period, std::size_t max_keys = 100000)
      : capacity_(capacity), period_(period), max_keys_(max_keys) {}

  TokenBucket::Decision Take(std::string_view key, Clock::time_point now);
  TokenBucket::Decision Peek(std::string_view key, Clock::time_point now);
  void Forget(std::string_view key);
  std::size_t size();
  double capacity() const { return capacity_; }

 private:
  TokenBucket& BucketFor(std::string_view key, Clock::time_point now);

  double capacity_;
  std::chrono::milliseconds period_;
  std::size_t max_keys_;
  std::mutex mu_;
  std::unordered_map<std::string, TokenBucket> buckets_;  // guarded by mu_
};

}  // namespace gateway::accounts
