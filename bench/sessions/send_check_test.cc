#include "send_check.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace wa::bench {
namespace {

TEST(CountInbox, MatchesExpectedIdsOnceAndSplitsByEncryption) {
  auto inbox = boost::json::parse(R"([
    {"id":"A","enc":"pkmsg"}, {"id":"B","enc":"msg"}, {"id":"C","enc":"msg"},
    {"id":"B","enc":"msg"}, {"id":"X","enc":"msg"}, {"id":"D"}])");
  auto count = CountInbox(inbox, {"A", "B", "C", "D", "E"});
  EXPECT_EQ(count.matched, 4u);  // E never arrived; B counted once
  EXPECT_EQ(count.other, 1u);    // X
  EXPECT_EQ(count.by_enc["pkmsg"], 1u);
  EXPECT_EQ(count.by_enc["msg"], 2u);
  EXPECT_EQ(count.by_enc["?"], 1u);  // D has no enc
}

TEST(CountInbox, CountsNothingInWhatIsNotAnInbox) {
  for (const char* text : {R"({"id":"A"})", "null", R"(["A", 1, {"id": 5}, {"enc":"msg"}])"}) {
    auto count = CountInbox(boost::json::parse(text), {"A"});
    EXPECT_EQ(count.matched, 0u) << text;
    EXPECT_EQ(count.other, 0u) << text;
    EXPECT_TRUE(count.by_enc.empty()) << text;
  }
}

TEST(RecipientPhone, SpreadsSessionsRoundRobinOverThePool) {
  EXPECT_EQ(RecipientPhone("1701", 0, 50), "17010000000");
  EXPECT_EQ(RecipientPhone("1701", 49, 50), "17010000049");
  EXPECT_EQ(RecipientPhone("1701", 50, 50), "17010000000");
  EXPECT_EQ(RecipientPhone("1701", 123, 1000), "17010000123");
  EXPECT_EQ(RecipientPhone("1701", 7, 0), "17010000007");  // no pool: one recipient per session
}

}  // namespace
}  // namespace wa::bench
