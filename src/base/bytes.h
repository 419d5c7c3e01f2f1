// Byte buffers and views shared by every module, and hex conversion for logs, tests and config.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace base {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsChars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Lower-case hex.
std::string ToHex(ByteView bytes);
// Accepts upper and lower case; nullopt on odd length or a non-hex character.
std::optional<Bytes> FromHex(std::string_view hex);

// Standard Base64 with padding (RFC 4648 section 4), over libsodium. FromBase64 rejects
// characters outside the alphabet, bad padding and embedded whitespace.
std::string ToBase64(ByteView bytes);
std::optional<Bytes> FromBase64(std::string_view text);
// The URL-safe alphabet without padding (RFC 4648 section 5), as in JWTs and WhatsApp's ED query.
std::string ToBase64Url(ByteView bytes);
std::optional<Bytes> FromBase64Url(std::string_view text);

}  // namespace base
