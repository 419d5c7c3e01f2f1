// What the account routes accept as an email and a password. The rules are deliberately plain
// (ASCII domain, one @, no display names; passwords 10..256 bytes that are not trivially
// guessable) and the messages say exactly what is wrong.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace gateway::accounts {

struct Invalid {
  std::string code;    // stable: invalid_email, weak_password
  std::string detail;  // for people
};

// The email as stored (trimmed, lower-cased), or why it is refused.
std::variant<std::string, Invalid> NormalizeEmail(std::string_view email);

// nullopt when acceptable. `email` is the normalized email (a password equal to it, or to its
// local part, is refused).
std::optional<Invalid> CheckPassword(std::string_view password, std::string_view email);

inline constexpr std::size_t kMinPasswordBytes = 10;
inline constexpr std::size_t kMaxPasswordBytes = 256;

}  // namespace gateway::accounts
