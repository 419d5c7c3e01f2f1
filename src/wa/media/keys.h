// Media key expansion (02-messaging.md §7.2): a 32-byte random media key, sent inside the
// end-to-end encrypted message, expands with HKDF-SHA256 (no salt, the media type's info string,
// 112 bytes) into the AES-CBC iv and key, the HMAC key and a ref key neither reference client
// uses. Also the key of media retry notifications (§7.9).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/media/media_type.h"

namespace wa::media {

inline constexpr std::size_t kMediaKeySize = 32;

struct MediaKeys {
  std::array<std::uint8_t, 16> iv;
  std::array<std::uint8_t, 32> cipher_key;
  std::array<std::uint8_t, 32> mac_key;
  std::array<std::uint8_t, 32> ref_key;
};

// kBadMediaKey unless `media_key` is 32 bytes.
base::Result<MediaKeys> ExpandMediaKey(base::ByteView media_key, MediaType type);
// The same with an explicit info string ("WhatsApp <X> Keys").
base::Result<MediaKeys> ExpandMediaKey(base::ByteView media_key, std::string_view hkdf_info);

// A fresh random media key (libsodium's CSPRNG).
base::Bytes NewMediaKey();

// HKDF-SHA256(media key, info "WhatsApp Media Retry Notification", 32 bytes): the AES-GCM key of
// a media re-upload request and its answer.
base::Result<std::array<std::uint8_t, 32>> MediaRetryKey(base::ByteView media_key);

}  // namespace wa::media
