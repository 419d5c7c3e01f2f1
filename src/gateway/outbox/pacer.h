// Anti-ban pacing rules for one session, as pure functions of its settings and the clock, so the
// dispatcher stays a loop and the rules are tested without time passing.
//
// Settings (a session's `speed` and `pacing` in the API):
//   - a uniformly random delay in [min_delay_ms, max_delay_ms] between two sends;
//   - typing simulation: "composing" for a time proportional to the text (capped, and never
//     longer than the delay, so the gap between messages stays within the delay range);
//   - a daily cap, and a cap on first-contact messages per day (chats that never wrote to us);
//   - warm-up: a newly linked number starts with a low daily cap that doubles each day;
//   - a minimum gap between two messages to the same recipient;
//   - quiet hours in the session's UTC offset, during which nothing is sent.
// Days run from midnight at the session's UTC offset.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include "base/http/problem.h"
#include "base/result.h"

namespace gateway::outbox {

struct QuietHours {
  int start_minute = 0;  // minutes after local midnight
  int end_minute = 0;    // exclusive; may be before start (overnight)
};

struct Pacing {
  int min_delay_ms = 3000;
  int max_delay_ms = 8000;
  bool typing = false;
  int typing_ms_per_char = 40;
  int typing_max_ms = 5000;
  std::int64_t daily_limit = 0;               // 0: none
  std::int64_t first_contact_daily_limit = 0;  // 0: none
  int recipient_gap_ms = 0;
  bool warmup = false;
  std::optional<QuietHours> quiet_hours;
  int utc_offset_minutes = 0;
};

// The `pacing` JSON object of the API and the store: {"typing", "first_contact_daily_limit",
// "recipient_gap_ms", "warmup", "quiet_hours": {"start": "22:00", "end": "07:00"},
// "utc_offset": "+01:00"}. Unknown keys or bad values -> 422 invalid_pacing naming the key.
base::Result<Pacing, base::http::ApiError> PacingFromJson(const boost::json::object& o, Pacing base);
boost::json::object PacingToJson(const Pacing& p);

// Warm-up caps by day since linking (day 0 = the day of linking); none from the 7th day on.
std::int64_t WarmupLimit(int day);

// The day's cap for a number linked at `linked_ms` (0: unknown -> no warm-up); 0 means none.
std::int64_t EffectiveDailyLimit(const Pacing& p, std::int64_t linked_ms, std::int64_t now_ms);

// Unix ms of the local midnight starting the day that contains `now_ms`, and of the next one.
std::int64_t DayStart(const Pacing& p, std::int64_t now_ms);
std::int64_t NextDayStart(const Pacing& p, std::int64_t now_ms);

// When quiet hours end, if `now_ms` is inside them; nullopt when sending is allowed now.
std::optional<std::int64_t> QuietUntil(const Pacing& p, std::int64_t now_ms);

// A delay drawn uniformly from [min_delay_ms, max_delay_ms].
int DrawDelay(const Pacing& p, std::mt19937_64& rng);

// How long to show "composing" before a text of `chars` characters, within `delay_ms`.
int TypingMs(const Pacing& p, std::size_t chars, int delay_ms);

}  // namespace gateway::outbox
