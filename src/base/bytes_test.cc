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

TEST(Base64, Rfc4648Vectors) {
  EXPECT_EQ(ToBase64(AsBytes("")), "");
  EXPECT_EQ(ToBase64(AsBytes("f")), "Zg==");
  EXPECT_EQ(ToBase64(AsBytes("fo")), "Zm8=");
  EXPECT_EQ(ToBase64(AsBytes("foobar")), "Zm9vYmFy");
  EXPECT_EQ(FromBase64("Zm9vYg=="), ToBytes("foob"));
  EXPECT_EQ(ToBase64Url(Bytes{0xfb, 0xff}), "-_8");
  EXPECT_EQ(FromBase64Url("-_8"), (Bytes{0xfb, 0xff}));
}

TEST(Base64, RejectsMalformedText) {
  EXPECT_FALSE(FromBase64("Zg=").has_value());
  EXPECT_FALSE(FromBase64("Z!==").has_value());
  EXPECT_FALSE(FromBase64("Zm9v YmFy").has_value());
  EXPECT_FALSE(FromBase64Url("Zg==").has_value());
}

}  // namespace
}  // namespace base
