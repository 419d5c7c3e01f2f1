// Standard Webhooks signatures (docs/webhooks.md; the spec's facts in
// shared/reference/payments-and-email.md §3): secrets are "whsec_" + base64 of 32 random bytes;
// the HMAC-SHA256 key is the base64-decoded part, the signed content "{id}.{timestamp}.{body}",
// and the header a space-separated list of "v1,<base64 MAC>" (one per valid secret, so a
// receiver still holding the old secret verifies during a rotation).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gateway::webhooks {

inline constexpr std::string_view kSecretPrefix = "whsec_";

// A new random secret.
std::string NewSecret();
// Whether `secret` is "whsec_" + base64 of 24..64 bytes.
bool ValidSecret(std::string_view secret);

// "v1,<base64>" for one secret; nullopt when the secret is malformed.
std::optional<std::string> Sign(std::string_view secret, std::string_view id,
                                std::int64_t timestamp_s, std::string_view body);
// The webhook-signature header value for every secret given (malformed ones skipped).
std::string SignatureHeader(const std::vector<std::string>& secrets, std::string_view id,
                            std::int64_t timestamp_s, std::string_view body);

}  // namespace gateway::webhooks
