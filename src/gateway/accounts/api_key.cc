#include "gateway/accounts/api_key.h"

#include <zlib.h>

#include <array>

#include "wa/crypto/crypto.h"

namespace gateway::accounts {

namespace {

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

std::string Checksum(std::string_view body) {
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
  std::string out(kApiKeyChecksumChars, '0');
  for (std::size_t i = kApiKeyChecksumChars; i-- > 0;) {
    out[i] = kBase62[crc % 62];
    crc /= 62;
  }
  return out;
}

base::Bytes HashOf(std::string_view secret) {
  auto digest = wa::crypto::Sha256(base::AsBytes(secret));
  return base::Bytes(digest.begin(), digest.end());
}

bool IsBase62(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

}  // namespace

NewApiKey GenerateApiKey() {
  std::string secret(kApiKeyPrefix);
  // Rejection sampling keeps every character uniform: bytes >= 248 (= 4 * 62) are dropped.
  while (secret.size() < kApiKeyPrefix.size() + kApiKeyRandomChars) {
    for (std::uint8_t b : wa::crypto::RandomBytes(48)) {
      if (b >= 248) continue;
      secret.push_back(kBase62[b % 62]);
      if (secret.size() == kApiKeyPrefix.size() + kApiKeyRandomChars) break;
    }
  }
  secret += Checksum(secret);
  NewApiKey key;
  key.prefix = secret.substr(0, kApiKeyDisplayChars);
  key.secret_hash = HashOf(secret);
  key.secret = std::move(secret);
  return key;
}

std::optional<base::Bytes> HashApiKey(std::string_view secret) {
  if (secret.size() != kApiKeyLength || secret.substr(0, kApiKeyPrefix.size()) != kApiKeyPrefix) {
    return std::nullopt;
  }
  for (char c : secret.substr(kApiKeyPrefix.size())) {
    if (!IsBase62(c)) return std::nullopt;
  }
  std::string_view body = secret.substr(0, kApiKeyLength - kApiKeyChecksumChars);
  if (Checksum(body) != secret.substr(body.size())) return std::nullopt;
  return HashOf(secret);
}

}  // namespace gateway::accounts
