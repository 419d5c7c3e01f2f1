#include "gateway/accounts/limits.h"

#include <gtest/gtest.h>

namespace gateway::accounts {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(TokenBucket, SpendsThenRefillsAtTheRate) {
  Clock::time_point t0{};
  TokenBucket bucket(3, seconds(60), t0);  // 3 per minute: one every 20 s
  for (int i = 2; i >= 0; --i) {
    auto d = bucket.Take(t0);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, i);
  }
  auto refused = bucket.Take(t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_s, 20);
  EXPECT_EQ(refused.reset_s, 60);
  EXPECT_FALSE(bucket.Take(t0 + seconds(19)).allowed);
  EXPECT_TRUE(bucket.Take(t0 + seconds(20)).allowed);
  EXPECT_FALSE(bucket.Take(t0 + seconds(21)).allowed);
  // Never more than the capacity, however long it waits.
  EXPECT_TRUE(bucket.Full(t0 + seconds(3600)));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.Take(t0 + seconds(3600)).allowed);
  EXPECT_FALSE(bucket.Take(t0 + seconds(3600)).allowed);
}

TEST(TokenBucket, PeekDoesNotSpend) {
  Clock::time_point t0{};
  TokenBucket bucket(1, seconds(10), t0);
  EXPECT_TRUE(bucket.Peek(t0).allowed);
  EXPECT_TRUE(bucket.Peek(t0).allowed);
  EXPECT_TRUE(bucket.Take(t0).allowed);
  EXPECT_FALSE(bucket.Peek(t0).allowed);
}

TEST(KeyedLimiter, KeysAreIndependentAndMemoryIsBounded) {
  Clock::time_point t0{};
  KeyedLimiter limiter(1, seconds(60), 4);
  EXPECT_TRUE(limiter.Take("a", t0).allowed);
  EXPECT_FALSE(limiter.Take("a", t0).allowed);
  EXPECT_TRUE(limiter.Take("b", t0).allowed);
  limiter.Forget("a");
  EXPECT_TRUE(limiter.Take("a", t0).allowed);
  // Full buckets go first: "c" refilled, so it makes room while "a" and "b" stay limited.
  EXPECT_TRUE(limiter.Take("c", t0).allowed);
  EXPECT_TRUE(limiter.Take("d", t0 - seconds(120)).allowed);  // taken long ago: full again at t0
  EXPECT_TRUE(limiter.Take("e", t0).allowed);
  EXPECT_EQ(limiter.size(), 4u);
  EXPECT_FALSE(limiter.Take("a", t0).allowed);
  // A flood of distinct keys never grows the map past its bound.
  for (int i = 0; i < 100; ++i) {
    limiter.Take("k" + std::to_string(i), t0);
    EXPECT_LE(limiter.size(), 4u);
  }
}

}  // namespace
}  // namespace gateway::accounts
