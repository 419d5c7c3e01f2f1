#include "wa/signal/address.h"

#include <gtest/gtest.h>

#include "wa/signal/errors.h"

namespace wa::signal {
namespace {

TEST(Address, NamingFollowsDomain) {
  EXPECT_EQ(Address::ForDevice("15551234567", Domain::kPn, 0)->ToString(), "15551234567.0");
  EXPECT_EQ(Address::ForDevice("15551234567", Domain::kPn, 3)->ToString(), "15551234567.3");
  EXPECT_EQ(Address::ForDevice("123456789012345", Domain::kLid, 7)->ToString(),
            "123456789012345_1.7");
  EXPECT_EQ(Address::ForDevice("1555", Domain::kHosted, 99)->ToString(), "1555_128.99");
  EXPECT_EQ(Address::ForDevice("1555", Domain::kHostedLid, 99)->ToString(), "1555_129.99");
  const Address lid = *Address::ForDevice("42", Domain::kLid, 5);
  EXPECT_EQ(lid.name(), "42_1");
  EXPECT_EQ(lid.device(), 5u);
}

TEST(Address, FromServerString) {
  EXPECT_EQ(Address::ForDevice("1", "s.whatsapp.net", 2)->ToString(), "1.2");
  EXPECT_EQ(Address::ForDevice("1", "c.us", 0)->ToString(), "1.0");
  EXPECT_EQ(Address::ForDevice("1", "lid", 2)->ToString(), "1_1.2");
  EXPECT_EQ(Address::ForDevice("1", "hosted", 2)->ToString(), "1_128.2");
  EXPECT_EQ(Address::ForDevice("1", "hosted.lid", 2)->ToString(), "1_129.2");
  EXPECT_EQ(Address::ForDevice("1", "g.us", 0).error(), Errc::kInvalidAddress);
  EXPECT_EQ(Address::ForDevice("1", "broadcast", 0).error(), Errc::kInvalidAddress);
  EXPECT_FALSE(DomainOfServer("newsletter").has_value());
}

TEST(Address, RejectsAmbiguousOrReservedForms) {
  EXPECT_EQ(Address::ForDevice("", Domain::kPn, 0).error(), Errc::kInvalidAddress);
  EXPECT_EQ(Address::ForDevice("1.2", Domain::kPn, 0).error(), Errc::kInvalidAddress);
  EXPECT_EQ(Address::ForDevice("1_1", Domain::kPn, 0).error(), Errc::kInvalidAddress);
  EXPECT_EQ(Address::ForDevice("1:2", Domain::kPn, 0).error(), Errc::kInvalidAddress);
  EXPECT_EQ(Address::ForDevice("1@s", Domain::kPn, 0).error(), Errc::kInvalidAddress);
  EXPECT_EQ(Address::ForDevice(std::string_view("1\0", 2), Domain::kPn, 0).error(),
            Errc::kInvalidAddress);
  // Device 99 is reserved for hosted devices (Baileys throws elsewhere).
  EXPECT_EQ(Address::ForDevice("1", Domain::kPn, 99).error(), Errc::kInvalidAddress);
  EXPECT_EQ(Address::ForDevice("1", Domain::kLid, 99).error(), Errc::kInvalidAddress);
  EXPECT_EQ(Address::ForDevice("1", Domain::kPn, 0x80000000u).error(), Errc::kInvalidAddress);
}

TEST(Address, ParseRoundTrip) {
  for (const char* text : {"15551234567.0", "123_1.7", "1_129.99"}) {
    const auto parsed = Address::Parse(text);
    ASSERT_TRUE(parsed.has_value()) << text;
    EXPECT_EQ(parsed->ToString(), text);
  }
  EXPECT_EQ(Address::Parse("123_1.7")->name(), "123_1");
  EXPECT_EQ(Address::Parse("123_1.7")->device(), 7u);
  for (const char* bad : {"", ".", "1.", ".1", "1", "1.x", "1.-1", "1.2147483648", "1.1 "}) {
    EXPECT_FALSE(Address::Parse(bad).has_value()) << bad;
  }
}

TEST(Address, OrderingGroupsDevicesOfOneName) {
  EXPECT_LT(Address("1", 5), Address("1", 6));
  EXPECT_LT(Address("1", 99), Address("2", 0));
  EXPECT_EQ(Address("1", 1), Address("1", 1));
  EXPECT_NE(Address("1", 1), Address("1_1", 1));
  EXPECT_NE(AddressHash()(Address("1", 1)), AddressHash()(Address("1", 2)));
}

TEST(Address, SenderKeyNameMatchesBaileys) {
  EXPECT_EQ(SenderKeyName("120363012345678901@g.us", Address("15551234567", 3)),
            "120363012345678901@g.us::15551234567::3");
  EXPECT_EQ(SenderKeyName("g@g.us", Address("9_1", 0)), "g@g.us::9_1::0");
}

}  // namespace
}  // namespace wa::signal
