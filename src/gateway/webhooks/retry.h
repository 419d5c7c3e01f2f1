// When a failed delivery is tried again: exponential backoff with jitter inside a retry window
// that starts at the delivery's first attempt (or its replay, or its endpoint's re-enabling).
// The last attempt is placed exactly at the window's end, so attempts always span the whole
// window; a failure at or after the end makes the delivery a dead letter.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace gateway::webhooks {

struct RetryPolicy {
  std::chrono::milliseconds first_delay{5000};
  double factor = 4.0;
  std::chrono::milliseconds max_delay{std::chrono::hours(8)};
  std::chrono::milliseconds window{std::chrono::hours(72)};
  double jitter = 0.2;  // each delay is scaled by a factor in [1 - jitter, 1 + jitter]
};

// The delay before attempt `failed_attempts + 1`, without jitter (failed_attempts >= 1).
std::chrono::milliseconds BaseDelay(const RetryPolicy& policy, int failed_attempts);

// After `failed_attempts` failures, the last at `now_ms`: when to try again (unix ms), or nullopt
// when the window is over. `random01` in [0, 1) picks the jitter.
std::optional<std::int64_t> NextAttempt(const RetryPolicy& policy, int failed_attempts,
                                        std::int64_t window_start_ms, std::int64_t now_ms,
                                        double random01);

}  // namespace gateway::webhooks
