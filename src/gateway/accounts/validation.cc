#include "gateway/accounts/validation.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>

namespace gateway::accounts {

namespace {

bool LocalChar(unsigned char c) {
  return std::isalnum(c) || std::string_view("!#$%&'*+-/=?^_`{|}~.").find(static_cast<char>(c)) !=
                                std::string_view::npos;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Passwords that lead every leaked-password list; longer than 10 characters yet worthless.
constexpr std::array<std::string_view, 16> kCommon = {
    "1234567890",   "12345678910",  "123456789012", "0123456789",  "password123", "password1234",
    "qwertyuiop",   "1q2w3e4r5t",   "qwerty12345",  "iloveyou123", "abcdefghij",  "passw0rd123",
    "1111111111",   "welcome1234",  "administrator", "letmein1234"};

}  // namespace

std::variant<std::string, Invalid> NormalizeEmail(std::string_view email) {
  while (!email.empty() && std::isspace(static_cast<unsigned char>(email.front()))) email.remove_prefix(1);
  while (!email.empty() && std::isspace(static_cast<unsigned char>(email.back()))) email.remove_suffix(1);
  auto bad = [](std::string detail) { return Invalid{"invalid_email", std::move(detail)}; };
  if (email.empty()) return bad("email is required");
  if (email.size() > 254) return bad("email is longer than 254 characters");
  auto at = email.find('@');
  if (at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos) {
    return bad("email must contain exactly one @");
  }
  std::string_view local = email.substr(0, at);
  std::string_view domain = email.substr(at + 1);
  if (local.empty() || local.size() > 64) return bad("the part before @ must be 1 to 64 characters");
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return bad("the part before @ has a misplaced dot");
  }
  for (unsigned char c : local) {
    if (!LocalChar(c)) return bad("the part before @ contains a character that is not allowed");
  }
  if (domain.find('.') == std::string_view::npos) return bad("the domain must contain a dot");
  std::size_t start = 0;
  while (start <= domain.size()) {
    std::size_t dot = domain.find('.', start);
    if (dot == std::string_view::npos) dot = domain.size();
    std::string_view label = domain.substr(start, dot - start);
    if (label.empty() || label.size() > 63) return bad("the domain has an empty or too long label");
    if (label.front() == '-' || label.back() == '-') return bad("a domain label starts or ends with -");
    for (unsigned char c : label) {
      if (!std::isalnum(c) && c != '-') return bad("the domain contains a character that is not allowed");
    }
    start = dot + 1;
  }
  return Lower(email);
}

std::optional<Invalid> CheckPassword(std::string_view password, std::string_view email) {
  auto weak = [](std::string detail) { return Invalid{"weak_password", std::move(detail)}; };
  if (password.size() < kMinPasswordBytes) {
    return weak("password must be at least " + std::to_string(kMinPasswordBytes) + " characters");
  }
  if (password.size() > kMaxPasswordBytes) {
    return weak("password must be at most " + std::to_string(kMaxPasswordBytes) + " bytes");
  }
  std::set<char> distinct(password.begin(), password.end());
  if (distinct.size() < 5) return weak("password must contain at least 5 different characters");
  std::string lower = Lower(password);
  for (auto common : kCommon) {
    if (lower == common) return weak("password is one of the most common passwords");
  }
  std::string_view local = email.substr(0, email.find('@'));
  if (lower == email || (!local.empty() && lower == local)) {
    return weak("password must not be the email address");
  }
  return std::nullopt;
}

}  // namespace gateway::accounts
