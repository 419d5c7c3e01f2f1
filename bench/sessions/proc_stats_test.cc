#include "proc_stats.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <vector>

namespace wa::bench {
namespace {

TEST(ParseStatus, ReadsRssAndPeak) {
  auto s = ParseStatus("Name:\twasim\nVmPeak:\t  999 kB\nVmHWM:\t   2048 kB\nVmRSS:\t   1536 kB\n");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->rss_kb, 1536);
  EXPECT_EQ(s->hwm_kb, 2048);
}

TEST(ParseStatus, MissingFieldIsNoSample) {
  EXPECT_FALSE(ParseStatus("VmRSS:\t 12 kB\n"));
  // A longer key with the same prefix is not the field.
  EXPECT_FALSE(ParseStatus("VmRSSx:\t 12 kB\nVmHWM:\t 13 kB\n"));
}

TEST(ParseStatCpuTicks, SumsUtimeAndStimeAfterTheCommand) {
  // A command name with a space and a parenthesis must not shift the fields.
  std::string stat = "4242 (a) b) S 1 4242 4242 0 -1 4194304 100 0 0 0 700 35 0 0 20 0 1 0 5 1000 50";
  auto ticks = ParseStatCpuTicks(stat);
  ASSERT_TRUE(ticks);
  EXPECT_EQ(*ticks, 735u);
}

TEST(ParseStatCpuTicks, TruncatedIsNoSample) {
  EXPECT_FALSE(ParseStatCpuTicks("4242 (x) S 1 2 3"));
  EXPECT_FALSE(ParseStatCpuTicks("no parenthesis"));
}

TEST(ReadProc, ReadsThisProcess) {
  auto s = ReadProc(::getpid());
  ASSERT_TRUE(s);
  EXPECT_GT(s->rss_kb, 0);
  EXPECT_GE(s->hwm_kb, s->rss_kb);
}

TEST(CpuPercent, IsShareOfOneCore) {
  ProcSample a, b;
  a.cpu_seconds = 1.0;
  b.cpu_seconds = 4.0;
  EXPECT_DOUBLE_EQ(CpuPercent(a, b, 60.0), 5.0);
  EXPECT_DOUBLE_EQ(CpuPercent(a, b, 0.0), 0.0);
}

TEST(Summarize, NearestRankPercentiles) {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);  // unsorted input
  auto d = Summarize(v);
  EXPECT_EQ(d.count, 100u);
  EXPECT_EQ(d.min, 1);
  EXPECT_EQ(d.p50, 50);
  EXPECT_EQ(d.p90, 90);
  EXPECT_EQ(d.p99, 99);
  EXPECT_EQ(d.max, 100);
  EXPECT_DOUBLE_EQ(d.mean, 50.5);
  auto one = Summarize({7});
  EXPECT_EQ(one.p50, 7);
  EXPECT_EQ(one.p99, 7);
  EXPECT_EQ(Summarize({}).count, 0u);
}

}  // namespace
}  // namespace wa::bench
