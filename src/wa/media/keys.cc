#include "wa/media/keys.h"

#include <algorithm>

#include "wa/crypto/crypto.h"
#include "wa/media/errors.h"

namespace wa::media {

base::Result<MediaKeys> ExpandMediaKey(base::ByteView media_key, std::string_view hkdf_info) {
  if (media_key.size() != kMediaKeySize) return MakeError(Errc::kBadMediaKey);
  base::Bytes expanded = crypto::Hkdf(media_key, {}, base::AsBytes(hkdf_info), 112);
  MediaKeys keys;
  auto at = expanded.begin();
  std::copy_n(at, 16, keys.iv.begin());
  std::copy_n(at + 16, 32, keys.cipher_key.begin());
  std::copy_n(at + 48, 32, keys.mac_key.begin());
  std::copy_n(at + 80, 32, keys.ref_key.begin());
  std::fill(expanded.begin(), expanded.end(), 0);
  return keys;
}

base::Result<MediaKeys> ExpandMediaKey(base::ByteView media_key, MediaType type) {
  return ExpandMediaKey(media_key, Info(type).hkdf_info);
}

base::Bytes NewMediaKey() { return crypto::RandomBytes(kMediaKeySize); }

base::Result<std::array<std::uint8_t, 32>> MediaRetryKey(base::ByteView media_key) {
  if (media_key.size() != kMediaKeySize) return MakeError(Errc::kBadMediaKey);
  base::Bytes key =
      crypto::Hkdf(media_key, {}, base::AsBytes("WhatsApp Media Retry Notification"), 32);
  std::array<std::uint8_t, 32> out{};
  std::copy(key.begin(), key.end(), out.begin());
  return out;
}

}  // namespace wa::media
