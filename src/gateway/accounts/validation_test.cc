#include "gateway/accounts/validation.h"

#include <gtest/gtest.h>

namespace gateway::accounts {
namespace {

std::string Code(std::string_view email) {
  auto r = NormalizeEmail(email);
  if (auto* invalid = std::get_if<Invalid>(&r)) return invalid->code;
  return "ok:" + std::get<std::string>(r);
}

TEST(Validation, Emails) {
  EXPECT_EQ(Code("  Ada@Example.COM "), "ok:ada@example.com");
  EXPECT_EQ(Code("first.last+tag@mail.example.org"), "ok:first.last+tag@mail.example.org");
  for (const char* bad : {"", "ada", "ada@", "@example.com", "ada@example", "a@@example.com",
                          "a@b@example.com", ".ada@example.com", "ada.@example.com",
                          "a..b@example.com", "ada@exa_mple.com", "ada@-example.com",
                          "ada@example..com", "ad a@example.com", "ada@example.com."}) {
    EXPECT_EQ(Code(bad), "invalid_email") << bad;
  }
  EXPECT_EQ(Code(std::string(65, 'a') + "@example.com"), "invalid_email");
  EXPECT_EQ(Code("a@" + std::string(250, 'b') + ".com"), "invalid_email");
}

TEST(Validation, Passwords) {
  EXPECT_FALSE(CheckPassword("correct horse battery", "ada@example.com"));
  EXPECT_EQ(CheckPassword("short1!", "ada@example.com")->code, "weak_password");
  EXPECT_EQ(CheckPassword(std::string(300, 'x') + "abcde", "ada@example.com")->code, "weak_password");
  EXPECT_EQ(CheckPassword("aaaaaaaaaaaa", "ada@example.com")->code, "weak_password");
  EXPECT_EQ(CheckPassword("ababababab12", "ada@example.com")->code, "weak_password");
  EXPECT_EQ(CheckPassword("Password1234", "ada@example.com")->code, "weak_password");
  EXPECT_EQ(CheckPassword("ada@example.com", "ada@example.com")->code, "weak_password");
  EXPECT_EQ(CheckPassword("adalovelace", "adalovelace@example.com")->code, "weak_password");
}

}  // namespace
}  // namespace gateway::accounts
