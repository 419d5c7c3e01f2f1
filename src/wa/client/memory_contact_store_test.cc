#include "wa/client/memory_contact_store.h"

#include <gtest/gtest.h>

#include "wa/client/memory_state_store.h"

namespace wa::client {
namespace {

SentMessageRecord Sent(std::string message, std::int64_t ms) {
  return SentMessageRecord{"15550002222@s.whatsapp.net", "text", std::move(message), ms};
}

TEST(SentMessageCodecTest, RoundTripsAndRefusesEveryTruncation) {
  SentMessageRecord record = Sent(std::string("\0\x01proto", 7), -1);
  std::string encoded = EncodeSentMessage(record);
  EXPECT_EQ(DecodeSentMessage(encoded), record);
  for (std::size_t n = 0; n < encoded.size(); ++n) {
    EXPECT_FALSE(DecodeSentMessage(std::string_view(encoded).substr(0, n))) << n;
  }
  EXPECT_FALSE(DecodeSentMessage(encoded + "x"));
  // A length far beyond the input.
  std::string huge = encoded;
  huge[8] = '\x7f';
  EXPECT_FALSE(DecodeSentMessage(huge));
}

TEST(MemoryContactStoreTest, LidPairsStayInverseWhenEitherSideMoves) {
  MemoryContactStore store;
  ASSERT_TRUE(store.PutLidMapping("100", "L1"));
  EXPECT_EQ(*store.GetLidOfPn("100"), "L1");
  EXPECT_EQ(*store.GetPnOfLid("L1"), "100");
  ASSERT_TRUE(store.PutLidMapping("100", "L2"));
  EXPECT_FALSE(store.GetPnOfLid("L1")->has_value());
  ASSERT_TRUE(store.PutLidMapping("200", "L2"));
  EXPECT_FALSE(store.GetLidOfPn("100")->has_value());
  EXPECT_EQ(*store.GetPnOfLid("L2"), "200");
}

TEST(MemoryContactStoreTest, DeviceListsArePutReadAndInvalidated) {
  MemoryContactStore store;
  DeviceList list{{0, 2}, 10, 20};
  EXPECT_FALSE(store.GetDeviceList("u@s.whatsapp.net")->has_value());
  ASSERT_TRUE(store.PutDeviceList("u@s.whatsapp.net", list));
  EXPECT_EQ(*store.GetDeviceList("u@s.whatsapp.net"), list);
  ASSERT_TRUE(store.InvalidateDeviceList("u@s.whatsapp.net"));
  EXPECT_FALSE(store.GetDeviceList("u@s.whatsapp.net")->has_value());
  ASSERT_TRUE(store.InvalidateDeviceList("never@s.whatsapp.net"));
}

TEST(MemoryContactStoreTest, SentMessagesKeepTheNewestWithinCountAndAge) {
  MemoryContactStore store(SentMessageBounds{3, 10'000});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(store.PutSentMessage("id" + std::to_string(i), Sent("m", i)));
  EXPECT_EQ(store.sent_messages(), 3u);
  EXPECT_FALSE(store.GetSentMessage("id1")->has_value());
  EXPECT_EQ(store.GetSentMessage("id4")->value().sent_ms, 4);
  ASSERT_TRUE(store.PutSentMessage("id2", Sent("again", 5)));  // the newest now
  ASSERT_TRUE(store.PutSentMessage("id5", Sent("m", 6)));
  EXPECT_FALSE(store.GetSentMessage("id3")->has_value());
  EXPECT_EQ(store.GetSentMessage("id2")->value().message, "again");
  ASSERT_TRUE(store.PutSentMessage("late", Sent("m", 6 + 11'000)));
  EXPECT_EQ(store.sent_messages(), 1u);
}

TEST(MemoryContactStoreTest, IsTheMemoryStateStoresContactStore) {
  MemoryStateStore state(Credentials::New());
  ASSERT_TRUE(state.contact_store().PutLidMapping("1", "2"));
  EXPECT_EQ(*state.memory_contact_store().GetPnOfLid("2"), "1");
}

}  // namespace
}  // namespace wa::client
