#include "gateway/store/ids.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace gateway::store {
namespace {

bool Base32(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'); });
}

TEST(Ids, RandomIdsHaveTheirPrefixAndHundredRandomBits) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = NewId("ses_");
    ASSERT_EQ(id.size(), 24u);
    EXPECT_EQ(id.substr(0, 4), "ses_");
    EXPECT_TRUE(Base32(id.substr(4))) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

// Ordered ids sort as their times do (byte order, which is SQLite's BINARY collation), across
// every character position of the time, and stay unique within one millisecond.
TEST(Ids, OrderedIdsSortByTimeAndStayUniqueWithinAMillisecond) {
  std::vector<std::int64_t> times{0, 1, 31, 32, 1023, 1024, 1764130000000, 1764130000001, 1764130000031,
                                  1764130000032, 4102444800000, (std::int64_t{1} << 50) - 1};
  std::vector<std::string> ids;
  for (auto t : times) {
    auto id = NewOrderedId("msg_", t);
    ASSERT_EQ(id.size(), 30u) << id;
    EXPECT_EQ(id.substr(0, 4), "msg_");
    EXPECT_TRUE(Base32(id.substr(4))) << id;
    ids.push_back(id);
  }
  for (std::size_t i = 1; i < ids.size(); ++i) {
    EXPECT_LT(ids[i - 1].substr(0, 14), ids[i].substr(0, 14)) << times[i - 1] << " vs " << times[i];
    EXPECT_LT(ids[i - 1], ids[i]);
  }
  std::set<std::string> same_ms;
  for (int i = 0; i < 10000; ++i) same_ms.insert(NewOrderedId("evt_", 1764130000000));
  EXPECT_EQ(same_ms.size(), 10000u);
  EXPECT_LE(NewOrderedId("evt_").substr(0, 14), NewOrderedId("evt_").substr(0, 14));
}

}  // namespace
}  // namespace gateway::store
