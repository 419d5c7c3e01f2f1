#include "gateway/outbox/pacer.h"

#include <algorithm>
#include <charconv>

namespace gateway::outbox {

namespace json = boost::json;
using status = base::http::beast_http::status;

namespace {

constexpr std::int64_t kDayMs = 24 * 60 * 60 * 1000;

base::http::ApiError Bad(const std::string& detail) {
  return base::http::ApiError{status::unprocessable_entity, "invalid_pacing", detail};
}

// "HH:MM" -> minutes after midnight.
std::optional<int> ParseClock(const json::value& v) {
  if (!v.is_string()) return std::nullopt;
  std::string_view s = v.as_string();
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  int h = 0, m = 0;
  if (std::from_chars(s.data(), s.data() + 2, h).ptr != s.data() + 2) return std::nullopt;
  if (std::from_chars(s.data() + 3, s.data() + 5, m).ptr != s.data() + 5) return std::nullopt;
  if (h > 23 || m > 59) return std::nullopt;
  return h * 60 + m;
}

std::string Clock(int minutes) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d:%02d", (minutes / 60) % 100, minutes % 60);
  return buf;
}

// "+HH:MM" / "-HH:MM" -> minutes.
std::optional<int> ParseOffset(const json::value& v) {
  if (!v.is_string()) return std::nullopt;
  std::string_view s = v.as_string();
  if (s.size() != 6 || (s[0] != '+' && s[0] != '-')) return std::nullopt;
  auto clock = ParseClock(json::value(s.substr(1)));
  if (!clock || *clock > 14 * 60) return std::nullopt;
  return s[0] == '-' ? -*clock : *clock;
}

std::optional<std::int64_t> Int(const json::value& v, std::int64_t lo, std::int64_t hi) {
  if (!v.is_int64() && !v.is_uint64()) return std::nullopt;
  std::int64_t x = v.is_int64() ? v.as_int64() : static_cast<std::int64_t>(std::min<std::uint64_t>(v.as_uint64(), INT64_MAX));
  if (x < lo || x > hi) return std::nullopt;
  return x;
}

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

base::Result<Pacing, base::http::ApiError> PacingFromJson(const json::object& o, Pacing p) {
  for (const auto& [key, v] : o) {
    if (key == "typing") {
      if (!v.is_bool()) return Bad("pacing.typing must be true or false");
      p.typing = v.as_bool();
    } else if (key == "first_contact_daily_limit") {
      if (v.is_null()) { p.first_contact_daily_limit = 0; continue; }
      auto x = Int(v, 1, 1000000);
      if (!x) return Bad("pacing.first_contact_daily_limit must be an integer from 1 to 1000000, or null");
      p.first_contact_daily_limit = *x;
    } else if (key == "recipient_gap_ms") {
      auto x = Int(v, 0, 86400000);
      if (!x) return Bad("pacing.recipient_gap_ms must be an integer from 0 to 86400000");
      p.recipient_gap_ms = static_cast<int>(*x);
    } else if (key == "warmup") {
      if (!v.is_bool()) return Bad("pacing.warmup must be true or false");
      p.warmup = v.as_bool();
    } else if (key == "quiet_hours") {
      if (v.is_null()) { p.quiet_hours.reset(); continue; }
      const auto* q = v.if_object();
      const json::value* a = q ? q->if_contains("start") : nullptr;
      const json::value* b = q ? q->if_contains("end") : nullptr;
      auto start = a ? ParseClock(*a) : std::nullopt;
      auto end = b ? ParseClock(*b) : std::nullopt;
      if (!start || !end || *start == *end || q->size() != 2) {
        return Bad("pacing.quiet_hours must be {\"start\": \"HH:MM\", \"end\": \"HH:MM\"} with start != end");
      }
      p.quiet_hours = QuietHours{*start, *end};
    } else if (key == "utc_offset") {
      auto x = ParseOffset(v);
      if (!x) return Bad("pacing.utc_offset must be \"+HH:MM\" or \"-HH:MM\" (at most 14:00)");
      p.utc_offset_minutes = *x;
    } else {
      return Bad("unknown field pacing." + std::string(key));
    }
  }
  return p;
}

json::object PacingToJson(const Pacing& p) {
  json::object o;
  o["typing"] = p.typing;
  o["first_contact_daily_limit"] = p.first_contact_daily_limit > 0 ? json::value(p.first_contact_daily_limit) : json::value(nullptr);
  o["recipient_gap_ms"] = p.recipient_gap_ms;
  o["warmup"] = p.warmup;
  if (p.quiet_hours) {
    o["quiet_hours"] = json::object{{"start", Clock(p.quiet_hours->start_minute)}, {"end", Clock(p.quiet_hours->end_minute)}};
  } else {
    o["quiet_hours"] = nullptr;
  }
  int off = p.utc_offset_minutes;
  o["utc_offset"] = std::string(off < 0 ? "-" : "+") + Clock(off < 0 ? -off : off);
  return o;
}

std::int64_t WarmupLimit(int day) {
  static constexpr std::int64_t kCaps[] = {30, 60, 120, 250, 500, 1000, 2000};
  if (day < 0) day = 0;
  if (day >= 7) return 0;
  return kCaps[day];
}

std::int64_t DayStart(const Pacing& p, std::int64_t now_ms) {
  std::int64_t offset = static_cast<std::int64_t>(p.utc_offset_minutes) * 60000;
  return FloorDiv(now_ms + offset, kDayMs) * kDayMs - offset;
}

std::int64_t NextDayStart(const Pacing& p, std::int64_t now_ms) { return DayStart(p, now_ms) + kDayMs; }

std::int64_t EffectiveDailyLimit(const Pacing& p, std::int64_t linked_ms, std::int64_t now_ms) {
  std::int64_t cap = p.daily_limit;
  if (p.warmup && linked_ms > 0) {
    int day = static_cast<int>((DayStart(p, now_ms) - DayStart(p, linked_ms)) / kDayMs);
    std::int64_t warm = WarmupLimit(day);
    if (warm > 0) cap = cap > 0 ? std::min(cap, warm) : warm;
  }
  return cap;
}

std::optional<std::int64_t> QuietUntil(const Pacing& p, std::int64_t now_ms) {
  if (!p.quiet_hours) return std::nullopt;
  std::int64_t day = DayStart(p, now_ms);
  std::int64_t minute = (now_ms - day) / 60000;
  int a = p.quiet_hours->start_minute, b = p.quiet_hours->end_minute;
  bool quiet = a < b ? (minute >= a && minute < b) : (minute >= a || minute < b);
  if (!quiet) return std::nullopt;
  // The end is today when it is still ahead, else tomorrow (an overnight window).
  std::int64_t end = day + static_cast<std::int64_t>(b) * 60000;
  if (end <= now_ms) end += kDayMs;
  return end;
}

int DrawDelay(const Pacing& p, std::mt19937_64& rng) {
  if (p.max_delay_ms <= p.min_delay_ms) return p.min_delay_ms;
  std::uniform_int_distribution<int> d(p.min_delay_ms, p.max_delay_ms);
  return d(rng);
}

int TypingMs(const Pacing& p, std::size_t chars, int delay_ms) {
  if (!p.typing) return 0;
  std::int64_t t = static_cast<std::int64_t>(chars) * p.typing_ms_per_char;
  t = std::clamp<std::int64_t>(t, 300, p.typing_max_ms);
  return static_cast<int>(std::min<std::int64_t>(t, std::max(delay_ms, 0)));
}

}  // namespace gateway::outbox
