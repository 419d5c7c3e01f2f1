#include "gateway/webhooks/signer.h"

#include "base/bytes.h"
#include "wa/crypto/crypto.h"

namespace gateway::webhooks {

namespace {

std::optional<base::Bytes> KeyOf(std::string_view secret) {
  if (secret.substr(0, kSecretPrefix.size()) == kSecretPrefix) secret.remove_prefix(kSecretPrefix.size());
  auto key = base::FromBase64(secret);
  if (!key || key->empty()) return std::nullopt;
  return key;
}

}  // namespace

std::string NewSecret() {
  return std::string(kSecretPrefix) + base::ToBase64(wa::crypto::RandomBytes(32));
}

bool ValidSecret(std::string_view secret) {
  if (secret.substr(0, kSecretPrefix.size()) != kSecretPrefix) return false;
  auto key = KeyOf(secret);
  return key && key->size() >= 24 && key->size() <= 64;
}

std::optional<std::string> Sign(std::string_view secret, std::string_view id, std::int64_t timestamp_s,
                                std::string_view body) {
  auto key = KeyOf(secret);
  if (!key) return std::nullopt;
  std::string content;
  content.reserve(id.size() + body.size() + 24);
  content.append(id);
  content += '.';
  content += std::to_string(timestamp_s);
  content += '.';
  content.append(body);
  auto mac = wa::crypto::HmacSha256(*key, base::AsBytes(content));
  return "v1," + base::ToBase64(mac);
}

std::string SignatureHeader(const std::vector<std::string>& secrets, std::string_view id,
                            std::int64_t timestamp_s, std::string_view body) {
  std::string out;
  for (const auto& s : secrets) {
    auto sig = Sign(s, id, timestamp_s, body);
    if (!sig) continue;
    if (!out.empty()) out += ' ';
    out += *sig;
  }
  return out;
}

}  // namespace gateway::webhooks
