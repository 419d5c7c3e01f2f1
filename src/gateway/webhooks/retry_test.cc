#include "gateway/webhooks/retry.h"

#include <gtest/gtest.h>

namespace gateway::webhooks {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

TEST(Retry, DelaysGrowExponentiallyUpToTheCap) {
  RetryPolicy p;
  EXPECT_EQ(BaseDelay(p, 1), milliseconds(5000));
  EXPECT_EQ(BaseDelay(p, 2), milliseconds(20000));
  EXPECT_EQ(BaseDelay(p, 3), milliseconds(80000));
  EXPECT_EQ(BaseDelay(p, 30), p.max_delay);
}

TEST(Retry, JitterStaysWithinItsBounds) {
  RetryPolicy p;
  for (double r : {0.0, 0.25, 0.5, 0.999}) {
    auto next = NextAttempt(p, 2, 0, 1000, r);
    ASSERT_TRUE(next);
    auto delay = *next - 1000;
    EXPECT_GE(delay, 16000);
    EXPECT_LE(delay, 24000);
  }
  EXPECT_LT(*NextAttempt(p, 2, 0, 1000, 0.0), *NextAttempt(p, 2, 0, 1000, 0.99));
}

// Always failing: the attempts cover the whole window (the last one at its end) and then stop.
TEST(Retry, AttemptsSpanTheWholeWindowThenDeadLetter) {
  RetryPolicy p;
  p.window = hours(24);
  std::int64_t now = 1'000'000, start = now;
  int attempts = 1;
  std::int64_t last = now;
  while (auto next = NextAttempt(p, attempts, start, now, 0.5)) {
    EXPECT_GT(*next, now);
    now = *next;
    last = now;
    ++attempts;
    ASSERT_LT(attempts, 100);
  }
  EXPECT_EQ(last - start, hours(24) / milliseconds(1));
  EXPECT_GE(attempts, 8);
  EXPECT_LE(attempts, 20);
  EXPECT_FALSE(NextAttempt(p, attempts, start, start + 24 * 3600 * 1000, 0.5));
}

}  // namespace
}  // namespace gateway::webhooks
