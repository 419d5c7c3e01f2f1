#include "gateway/webhooks/retry.h"

#include <algorithm>
#include <cmath>

namespace gateway::webhooks {

std::chrono::milliseconds BaseDelay(const RetryPolicy& policy, int failed_attempts) {
  double delay = static_cast<double>(policy.first_delay.count()) *
                 std::pow(policy.factor, std::max(0, failed_attempts - 1));
  double cap = static_cast<double>(policy.max_delay.count());
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(delay, cap)));
}

std::optional<std::int64_t> NextAttempt(const RetryPolicy& policy, int failed_attempts,
                                        std::int64_t window_start_ms, std::int64_t now_ms,
                                        double random01) {
  std::int64_t end = window_start_ms + policy.window.count();
  if (now_ms >= end) return std::nullopt;
  double scale = 1.0 - policy.jitter + 2.0 * policy.jitter * std::clamp(random01, 0.0, 1.0);
  auto delay = static_cast<std::int64_t>(static_cast<double>(BaseDelay(policy, failed_attempts).count()) * scale);
  return std::min(now_ms + std::max<std::int64_t>(delay, 0), end);
}

}  // namespace gateway::webhooks
