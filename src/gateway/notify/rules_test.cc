#include "gateway/notify/rules.h"

#include <gtest/gtest.h>

namespace gateway::notify {
namespace {

constexpr std::int64_t kMinute = 60 * 1000;
constexpr std::int64_t kT0 = 1735732800000;  // 2025-01-01 12:00 UTC

TEST(AlertRulesTest, LoggedOutIsAnAlertAtOnceKeyedByItsEvent) {
  AlertRules rules(std::chrono::minutes(10));
  auto a = rules.OnSessionStatus("acc_1", "ses_1", "logged_out", "logged_out", "evt_9", kT0);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, AlertKind::kLoggedOut);
  EXPECT_EQ(a->dedupe_key, "logged_out:ses_1:evt_9");
  EXPECT_FALSE(rules.OnSessionStatus("acc_1", "ses_1", "connected", "", "evt_10", kT0));
  EXPECT_FALSE(rules.OnSessionStatus("acc_1", "ses_1", "stopped", "", "evt_11", kT0));
  // The owner's own logout through the API is not an alert.
  EXPECT_FALSE(rules.OnSessionStatus("acc_1", "ses_1", "logged_out", "logout_requested", "evt_12", kT0));
}

TEST(AlertRulesTest, AnOutageIsOneAlertAfterTheDelayAndOnlyIfContinuous) {
  AlertRules rules(std::chrono::minutes(10));
  EXPECT_FALSE(rules.OnSessionStatus("acc_1", "ses_1", "disconnected", "connection_lost", "e1", kT0));
  EXPECT_EQ(rules.NextDue(), kT0 + 10 * kMinute);
  EXPECT_TRUE(rules.Due(kT0 + 10 * kMinute - 1).empty());
  // Further disconnected reports (each failed retry) keep the outage's start.
  rules.OnSessionStatus("acc_1", "ses_1", "disconnected", "timed_out", "e2", kT0 + 5 * kMinute);
  auto due = rules.Due(kT0 + 10 * kMinute);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].kind, AlertKind::kDisconnected);
  EXPECT_EQ(due[0].since_ms, kT0);
  EXPECT_EQ(due[0].reason, "timed_out");
  EXPECT_EQ(due[0].dedupe_key, "disconnected:ses_1:" + std::to_string(kT0));
  EXPECT_TRUE(rules.Due(kT0 + 60 * kMinute).empty());  // once per outage
  EXPECT_FALSE(rules.NextDue());

  // Reconnected before the delay: nothing; a new outage starts a new clock.
  rules.OnSessionStatus("acc_1", "ses_1", "connected", "", "e3", kT0 + 61 * kMinute);
  rules.OnSessionStatus("acc_1", "ses_1", "disconnected", "x", "e4", kT0 + 70 * kMinute);
  rules.OnSessionStatus("acc_1", "ses_1", "connected", "", "e5", kT0 + 75 * kMinute);
  EXPECT_TRUE(rules.Due(kT0 + 200 * kMinute).empty());
  rules.OnSessionStatus("acc_1", "ses_1", "disconnected", "x", "e6", kT0 + 300 * kMinute);
  due = rules.Due(kT0 + 310 * kMinute);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].dedupe_key, "disconnected:ses_1:" + std::to_string(kT0 + 300 * kMinute));
}

TEST(AlertRulesTest, OutagesOfSessionsAreIndependent) {
  AlertRules rules(std::chrono::minutes(10));
  rules.OnSessionStatus("acc_1", "ses_a", "disconnected", "", "e1", kT0);
  rules.OnSessionStatus("acc_2", "ses_b", "disconnected", "", "e2", kT0 + 3 * kMinute);
  EXPECT_EQ(rules.NextDue(), kT0 + 10 * kMinute);
  auto first = rules.Due(kT0 + 10 * kMinute);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].session_id, "ses_a");
  EXPECT_EQ(rules.NextDue(), kT0 + 13 * kMinute);
  rules.Forget("ses_b");
  EXPECT_TRUE(rules.Due(kT0 + 20 * kMinute).empty());
}

TEST(AlertRulesTest, QuotaThresholdsPerMonth) {
  AlertRules rules(std::chrono::minutes(10));
  std::int64_t month = MonthStartMs(kT0);
  EXPECT_EQ(month, 1735689600000);  // 2025-01-01 00:00 UTC
  EXPECT_EQ(MonthStartMs(kT0 + 31LL * 24 * 60 * kMinute), 1738368000000);  // February
  EXPECT_FALSE(rules.OnUsage("acc_1", 3, 5, month));
  auto a80 = rules.OnUsage("acc_1", 4, 5, month);
  ASSERT_TRUE(a80);
  EXPECT_EQ(a80->kind, AlertKind::kQuota80);
  EXPECT_EQ(a80->dedupe_key, "quota_80:acc_1:" + std::to_string(month));
  EXPECT_FALSE(rules.OnUsage("acc_1", 79, 100, month));
  EXPECT_EQ(rules.OnUsage("acc_1", 80, 100, month)->kind, AlertKind::kQuota80);
  auto a100 = rules.OnUsage("acc_1", 5, 5, month);
  ASSERT_TRUE(a100);
  EXPECT_EQ(a100->kind, AlertKind::kQuota100);
  EXPECT_EQ(a100->dedupe_key, "quota_100:acc_1:" + std::to_string(month));
  EXPECT_FALSE(rules.OnUsage("acc_1", 1000, 0, month));  // no limit
}

}  // namespace
}  // namespace gateway::notify
