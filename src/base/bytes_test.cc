#include "base/bytes.h"

#include <gtest/gtest.h>

namespace base {
namespace {

TEST(Hex, RoundTrip) {
  Bytes b{0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(ToHex(b), "0001abff");
  EXPECT_EQ(FromHex("0001ABff"), b);
}

TEST(Hex, RejectsOddLengthAndBadDigits) {
  EXPECT_FALSE(FromHex("abc").has_value());
  EXPECT_FALSE(FromHex("zz").has_value());
  EXPECT_EQ(FromHex(""), Bytes{});
}

}  // namespace
}  // namespace base
