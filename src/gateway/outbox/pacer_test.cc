#include "gateway/outbox/pacer.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <set>

#include "gateway/outbox/outbox.h"

namespace gateway::outbox {
namespace {

namespace json = boost::json;

constexpr std::int64_t kMin = 60000;
constexpr std::int64_t kHour = 60 * kMin;
constexpr std::int64_t kDay = 24 * kHour;
// 2026-11-25T00:00:00Z
constexpr std::int64_t kMidnight = 1795564800000;

TEST(PacerTest, DelaysAreUniformWithinTheRangeAndNotConstant) {
  Pacing p;
  p.min_delay_ms = 200;
  p.max_delay_ms = 400;
  std::mt19937_64 rng(7);
  std::set<int> seen;
  for (int i = 0; i < 2000; ++i) {
    int d = DrawDelay(p, rng);
    ASSERT_GE(d, 200);
    ASSERT_LE(d, 400);
    seen.insert(d);
  }
  EXPECT_GT(seen.size(), 150u);
  EXPECT_TRUE(seen.count(200) || seen.count(201));
  p.max_delay_ms = p.min_delay_ms = 0;
  EXPECT_EQ(DrawDelay(p, rng), 0);
}

TEST(PacerTest, TypingIsProportionalCappedAndFitsTheDelay) {
  Pacing p;
  EXPECT_EQ(TypingMs(p, 100, 5000), 0);  // off by default
  p.typing = true;
  EXPECT_EQ(TypingMs(p, 20, 10000), 800);
  EXPECT_EQ(TypingMs(p, 1, 10000), 300);      // a floor, so it can be seen
  EXPECT_EQ(TypingMs(p, 100000, 10000), 5000); // the cap
  EXPECT_EQ(TypingMs(p, 100, 1200), 1200);     // never longer than the delay
}

TEST(PacerTest, DaysStartAtLocalMidnight) {
  Pacing p;
  EXPECT_EQ(DayStart(p, kMidnight + 5 * kHour), kMidnight);
  EXPECT_EQ(NextDayStart(p, kMidnight + 5 * kHour), kMidnight + kDay);
  p.utc_offset_minutes = 120;  // 02:00 local at 00:00 UTC: the local day began at 22:00 UTC
  EXPECT_EQ(DayStart(p, kMidnight + kHour), kMidnight - 2 * kHour);
  p.utc_offset_minutes = -300;  // 19:00 local the day before
  EXPECT_EQ(DayStart(p, kMidnight + kHour), kMidnight - kDay + 5 * kHour);
}

TEST(PacerTest, QuietHoursHoldOvernightAndSameDayWindows) {
  Pacing p;
  EXPECT_FALSE(QuietUntil(p, kMidnight));
  p.quiet_hours = QuietHours{22 * 60, 7 * 60};
  EXPECT_EQ(QuietUntil(p, kMidnight + 23 * kHour), kMidnight + kDay + 7 * kHour);
  EXPECT_EQ(QuietUntil(p, kMidnight + 3 * kHour), kMidnight + 7 * kHour);
  EXPECT_FALSE(QuietUntil(p, kMidnight + 7 * kHour));
  EXPECT_FALSE(QuietUntil(p, kMidnight + 12 * kHour));
  p.quiet_hours = QuietHours{12 * 60, 13 * 60};
  EXPECT_EQ(QuietUntil(p, kMidnight + 12 * kHour + 30 * kMin), kMidnight + 13 * kHour);
  EXPECT_FALSE(QuietUntil(p, kMidnight + 13 * kHour));
  p.utc_offset_minutes = 60;  // 12:30 local is 11:30 UTC
  EXPECT_EQ(QuietUntil(p, kMidnight + 11 * kHour + 30 * kMin), kMidnight + 12 * kHour);
}

TEST(PacerTest, WarmupStartsLowAndDoublesUntilTheDailyLimitRules) {
  Pacing p;
  std::int64_t linked = kMidnight + 10 * kHour;
  EXPECT_EQ(EffectiveDailyLimit(p, linked, linked), 0);
  p.warmup = true;
  EXPECT_EQ(EffectiveDailyLimit(p, linked, linked + kHour), 30);
  EXPECT_EQ(EffectiveDailyLimit(p, linked, linked + kDay), 60);
  EXPECT_EQ(EffectiveDailyLimit(p, linked, linked + 2 * kDay), 120);
  EXPECT_EQ(EffectiveDailyLimit(p, linked, linked + 7 * kDay), 0);
  EXPECT_EQ(EffectiveDailyLimit(p, 0, linked), 0);  // never linked: nothing to warm up
  p.daily_limit = 100;
  EXPECT_EQ(EffectiveDailyLimit(p, linked, linked), 30);
  EXPECT_EQ(EffectiveDailyLimit(p, linked, linked + 2 * kDay), 100);
  EXPECT_EQ(EffectiveDailyLimit(p, linked, linked + 30 * kDay), 100);
}

TEST(PacerTest, JsonRoundTripsAndRejectsBadValuesByName) {
  auto parsed = PacingFromJson(json::parse(R"({"typing":true,"first_contact_daily_limit":20,
      "recipient_gap_ms":60000,"warmup":true,"quiet_hours":{"start":"22:00","end":"07:30"},
      "utc_offset":"-03:00"})").as_object(), Pacing{});
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->typing);
  EXPECT_EQ(parsed->first_contact_daily_limit, 20);
  EXPECT_EQ(parsed->recipient_gap_ms, 60000);
  EXPECT_EQ(parsed->quiet_hours->end_minute, 7 * 60 + 30);
  EXPECT_EQ(parsed->utc_offset_minutes, -180);
  auto back = PacingToJson(*parsed);
  EXPECT_EQ(back.at("utc_offset").as_string(), "-03:00");
  EXPECT_EQ(back.at("quiet_hours").at("start").as_string(), "22:00");
  auto again = PacingFromJson(back, Pacing{});
  ASSERT_TRUE(again);
  EXPECT_EQ(json::serialize(PacingToJson(*again)), json::serialize(back));

  for (const char* bad : {R"({"typing":1})", R"({"quiet_hours":{"start":"25:00","end":"01:00"}})",
                          R"({"quiet_hours":{"start":"01:00","end":"01:00"}})", R"({"utc_offset":"+15:00"})",
                          R"({"recipient_gap_ms":-1})", R"({"speed":1})", R"({"first_contact_daily_limit":0})"}) {
    auto r = PacingFromJson(json::parse(bad).as_object(), Pacing{});
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "invalid_pacing") << bad;
  }
}

TEST(RecipientTest, PhonesAndUserJidsAreNormalisedAndTheRestRefused) {
  EXPECT_EQ(*RecipientJid("+1 (555) 000-1111"), "15550001111@s.whatsapp.net");
  EXPECT_EQ(*RecipientJid("4915112345678"), "4915112345678@s.whatsapp.net");
  EXPECT_EQ(*RecipientJid("15550001111@s.whatsapp.net"), "15550001111@s.whatsapp.net");
  EXPECT_EQ(*RecipientJid("15550001111:3@s.whatsapp.net"), "15550001111@s.whatsapp.net");
  EXPECT_EQ(*RecipientJid("123456789012345@lid"), "123456789012345@lid");
  for (const char* bad : {"", "+", "12345", "1234567890123456", "05550001111", "+1 555 abc",
                          "1+5550001111", "x@s.whatsapp.net", "15550001111@example.com"}) {
    auto r = RecipientJid(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "invalid_recipient") << bad;
  }
  EXPECT_EQ(RecipientJid("120363000000000000@g.us").error().code, "groups_unsupported");
}

}  // namespace
}  // namespace gateway::outbox
