// SessionState as a wa::client::ContactStore: LID pairs, usync device lists and sent messages
// are durable after Commit (and only then), sealed where they hold plaintext, bounded, prefetched
// and wiped with the rest of the session.
#include <gtest/gtest.h>

#include <string>

#include "gateway/store/sqlite/session_state.h"
#include "gateway/store/sqlite/session_state_test_util.h"

namespace gateway::store::sqlite {
namespace {

using testing::StateTest;
using wa::client::DeviceList;
using wa::client::PrefetchRequest;
using wa::client::SentMessageRecord;

SentMessageRecord Sent(std::string text, std::int64_t ms) {
  return SentMessageRecord{"15550002222@s.whatsapp.net", "text", std::move(text), ms};
}

long long Rows(StateTest& t, const std::string& table) {
  return t.Query("SELECT count(*) FROM " + table + " WHERE session_id = 's1'");
}

TEST_F(StateTest, ContactRecordsAreDurableAfterCommitOnly) {
  const DeviceList list{{0, 3, 7}, 1700000000, 1700000000123};
  const SentMessageRecord sent = Sent("plaintext that must not be on disk in clear", 1000);
  {
    auto state = Open("s1");
    ASSERT_TRUE(state);
    ASSERT_TRUE(state->PutLidMapping("15550002222", "987654321"));
    ASSERT_TRUE(state->PutDeviceList("15550002222@s.whatsapp.net", list));
    ASSERT_TRUE(state->PutSentMessage("3EB0AA", sent));
    ASSERT_TRUE(Commit(*state));
    // Written but never committed: lost, as in a crash.
    ASSERT_TRUE(state->PutLidMapping("15550003333", "111"));
    ASSERT_TRUE(state->PutSentMessage("3EB0BB", Sent("lost", 2000)));
  }
  EXPECT_EQ(FileBytes().find("plaintext that must not"), std::string::npos);
  Reopen();
  auto state = Open("s1");
  ASSERT_TRUE(state);
  PrefetchRequest prefetch;
  prefetch.lids_of_pns = {"15550002222", "15550003333"};
  prefetch.pns_of_lids = {"987654321", "111"};
  prefetch.device_lists = {"15550002222@s.whatsapp.net", "15550003333@s.whatsapp.net"};
  prefetch.sent_messages = {"3EB0AA", "3EB0BB"};
  ASSERT_TRUE(Prefetch(*state, prefetch));
  EXPECT_EQ(*state->GetLidOfPn("15550002222"), "987654321");
  EXPECT_EQ(*state->GetPnOfLid("987654321"), "15550002222");
  EXPECT_EQ(*state->GetDeviceList("15550002222@s.whatsapp.net"), list);
  EXPECT_EQ(*state->GetSentMessage("3EB0AA"), sent);
  EXPECT_FALSE(state->GetLidOfPn("15550003333")->has_value());
  EXPECT_FALSE(state->GetPnOfLid("111")->has_value());
  EXPECT_FALSE(state->GetDeviceList("15550003333@s.whatsapp.net")->has_value());
  EXPECT_FALSE(state->GetSentMessage("3EB0BB")->has_value());
  EXPECT_EQ(state->sync_reads(), 0u);  // everything came with the prefetch
  // Not prefetched: read through, and counted.
  EXPECT_FALSE(state->GetLidOfPn("15550004444")->has_value());
  EXPECT_EQ(state->sync_reads(), 1u);
}

TEST_F(StateTest, ALidPairReplacesTheEarlierPairsOfBothSides) {
  {
    auto state = Open("s1");
    ASSERT_TRUE(state);
    ASSERT_TRUE(state->PutLidMapping("100", "L1"));
    ASSERT_TRUE(Commit(*state));
    ASSERT_TRUE(state->PutLidMapping("100", "L2"));  // the number's LID changed
    EXPECT_FALSE(state->GetPnOfLid("L1")->has_value());
    ASSERT_TRUE(state->PutLidMapping("200", "L2"));  // the LID moved to another number
    EXPECT_FALSE(state->GetLidOfPn("100")->has_value());
    EXPECT_EQ(*state->GetPnOfLid("L2"), "200");
    ASSERT_TRUE(Commit(*state));
    const auto before = state->sync_reads();
    ASSERT_TRUE(state->PutLidMapping("200", "L2"));  // known: nothing to write
    EXPECT_FALSE(state->has_uncommitted());
    EXPECT_EQ(state->sync_reads(), before);
  }
  EXPECT_EQ(Rows(*this, "wa_lid_map"), 1);
  Reopen();
  auto state = Open("s1");
  ASSERT_TRUE(state);
  EXPECT_FALSE(state->GetLidOfPn("100")->has_value());
  EXPECT_FALSE(state->GetPnOfLid("L1")->has_value());
  EXPECT_EQ(*state->GetLidOfPn("200"), "L2");
  EXPECT_EQ(*state->GetPnOfLid("L2"), "200");
}

TEST_F(StateTest, AnInvalidatedDeviceListStaysGoneAfterARestart) {
  {
    auto state = Open("s1");
    ASSERT_TRUE(state);
    ASSERT_TRUE(state->PutDeviceList("u@s.whatsapp.net", DeviceList{{0, 1}, 5, 6}));
    ASSERT_TRUE(state->PutDeviceList("v@s.whatsapp.net", DeviceList{{0}, 5, 6}));
    ASSERT_TRUE(Commit(*state));
  }
  Reopen();
  {
    auto state = Open("s1");
    ASSERT_TRUE(state);
    ASSERT_TRUE(state->InvalidateDeviceList("u@s.whatsapp.net"));
    EXPECT_FALSE(state->GetDeviceList("u@s.whatsapp.net")->has_value());
    ASSERT_TRUE(Commit(*state));
  }
  EXPECT_EQ(Rows(*this, "wa_device_lists"), 1);
  Reopen();
  auto state = Open("s1");
  ASSERT_TRUE(state);
  EXPECT_FALSE(state->GetDeviceList("u@s.whatsapp.net")->has_value());
  EXPECT_EQ(state->GetDeviceList("v@s.whatsapp.net")->value().devices,
            std::vector<std::uint16_t>{0});
}

TEST_F(StateTest, SentMessagesKeepTheNewestWithinCountAndAge) {
  options_.sent_messages.max_count = 3;
  options_.sent_messages.max_age_ms = 10'000;
  Reopen();
  {
    auto state = Open("s1");
    ASSERT_TRUE(state);
    // Five puts in two commits: the oldest two go.
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(state->PutSentMessage("id" + std::to_string(i), Sent("m", 1000 + i)));
      if (i == 1) {
        ASSERT_TRUE(Commit(*state));
      }
    }
    ASSERT_TRUE(Commit(*state));
    EXPECT_EQ(Rows(*this, "wa_sent_messages"), 3);
    // Sent messages leave the cache once durable; they still read through.
    EXPECT_EQ(state->GetSentMessage("id4")->value().sent_ms, 1004);
    EXPECT_FALSE(state->GetSentMessage("id1")->has_value());
    EXPECT_TRUE(state->GetSentMessage("id2")->has_value());
    // A put again counts as the newest: id2 survives the next put, id3 does not.
    ASSERT_TRUE(state->PutSentMessage("id2", Sent("m again", 1005)));
    ASSERT_TRUE(state->PutSentMessage("id5", Sent("m", 1006)));
    ASSERT_TRUE(Commit(*state));
    EXPECT_FALSE(state->GetSentMessage("id3")->has_value());
    EXPECT_EQ(state->GetSentMessage("id2")->value().message, "m again");
    // Eleven seconds later everything before goes, whatever the count.
    ASSERT_TRUE(state->PutSentMessage("late", Sent("m", 1006 + 11'000)));
    ASSERT_TRUE(Commit(*state));
  }
  EXPECT_EQ(Rows(*this, "wa_sent_messages"), 1);
  Reopen();
  auto state = Open("s1");
  ASSERT_TRUE(state);
  EXPECT_TRUE(state->GetSentMessage("late")->has_value());
  EXPECT_FALSE(state->GetSentMessage("id5")->has_value());
}

TEST_F(StateTest, ASentMessageMovedToAnotherRowDoesNotOpen) {
  {
    auto state = Open("s1");
    ASSERT_TRUE(state);
    ASSERT_TRUE(state->PutSentMessage("a", Sent("secret a", 1)));
    ASSERT_TRUE(state->PutSentMessage("b", Sent("secret b", 2)));
    ASSERT_TRUE(Commit(*state));
  }
  ASSERT_EQ(Exec("UPDATE wa_sent_messages SET sealed = (SELECT sealed FROM wa_sent_messages"
                 " WHERE message_id = 'a') WHERE message_id = 'b'"),
            "");
  auto state = Open("s1");
  ASSERT_TRUE(state);
  EXPECT_TRUE(state->GetSentMessage("a")->has_value());
  EXPECT_EQ(state->GetSentMessage("b").error(), Errc::kUndecryptable);
}

TEST_F(StateTest, WipeAndDeleteRemoveTheContactRows) {
  for (const char* sid : {"s1", "s2"}) {
    auto state = Open(sid);
    ASSERT_TRUE(state);
    ASSERT_TRUE(state->PutLidMapping("100", "L1"));
    ASSERT_TRUE(state->PutDeviceList("u@s.whatsapp.net", DeviceList{{0}, 1, 2}));
    ASSERT_TRUE(state->PutSentMessage("a", Sent("x", 1)));
    ASSERT_TRUE(Commit(*state));
  }
  {
    auto state = Open("s1");
    ASSERT_TRUE(state);
    ASSERT_TRUE(state->Wipe());
    EXPECT_FALSE(state->GetLidOfPn("100")->has_value());
    EXPECT_FALSE(state->GetSentMessage("a")->has_value());
    ASSERT_TRUE(Commit(*state));
  }
  ASSERT_TRUE(Run(states_->Delete("s2")));
  for (const char* table : {"wa_lid_map", "wa_device_lists", "wa_sent_messages"}) {
    EXPECT_EQ(Query(std::string("SELECT count(*) FROM ") + table), 0) << table;
  }
}

}  // namespace
}  // namespace gateway::store::sqlite
