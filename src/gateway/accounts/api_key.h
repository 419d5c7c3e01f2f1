// API key secrets: "wag_" + 32 base62 characters of randomness (190 bits) + 6 base62 characters
// of CRC32 over the rest, the form GitHub's tokens made common, so a secret scanner can tell a
// leaked key from a random string without asking us. Only a SHA-256 of the secret is stored:
// with this much entropy a slow password hash would add nothing but latency on every request.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"

namespace gateway::accounts {

inline constexpr std::string_view kApiKeyPrefix = "wag_";
inline constexpr std::size_t kApiKeyRandomChars = 32;
inline constexpr std::size_t kApiKeyChecksumChars = 6;
inline constexpr std::size_t kApiKeyLength =
    kApiKeyPrefix.size() + kApiKeyRandomChars + kApiKeyChecksumChars;
// How much of the secret is kept in clear to tell keys apart in lists ("wag_AbCd1234").
inline constexpr std::size_t kApiKeyDisplayChars = kApiKeyPrefix.size() + 8;

struct NewApiKey {
  std::string secret;       // shown to the user once
  std::string prefix;       // kept for display
  base::Bytes secret_hash;  // kept for lookup
};

NewApiKey GenerateApiKey();

// The stored hash of `secret` if it has our form and its checksum matches; nullopt otherwise
// (so a mistyped or foreign token is refused without a database read).
std::optional<base::Bytes> HashApiKey(std::string_view secret);

}  // namespace gateway::accounts
