#include "gateway/store/sealer.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <string>

#include "gateway/store/store.h"

namespace gateway::store {
namespace {

constexpr std::uint8_t kVersion = 0x01;
constexpr std::size_t kNonceSize = 12;
constexpr std::size_t kTagSize = 16;

}  // namespace

Sealer::Sealer(base::ByteView master_key, std::string_view scope) {
  if (master_key.size() != 32) std::abort();
  std::string info = "wagate at-rest v1";
  info.push_back('\0');
  info.append(scope);
  auto key = wa::crypto::Hkdf(master_key, {}, base::AsBytes(info), key_.size());
  std::copy(key.begin(), key.end(), key_.begin());
}

base::Bytes Sealer::Seal(base::ByteView plaintext, base::ByteView aad) const {
  std::array<std::uint8_t, kNonceSize> nonce;
  wa::crypto::RandomBytes(nonce);
  auto sealed = wa::crypto::AesGcmEncrypt(key_, nonce, plaintext, aad);
  // Only a wrong key or iv length makes OpenSSL's GCM fail, and both are fixed here.
  if (!sealed) std::abort();
  base::Bytes out;
  out.reserve(1 + kNonceSize + sealed->size());
  out.push_back(kVersion);
  out.insert(out.end(), nonce.begin(), nonce.end());
  out.insert(out.end(), sealed->begin(), sealed->end());
  return out;
}

base::Result<base::Bytes> Sealer::Open(base::ByteView sealed, base::ByteView aad) const {
  if (sealed.size() < 1 + kNonceSize + kTagSize || sealed[0] != kVersion) {
    return make_error_code(Errc::kUndecryptable);
  }
  auto plain = wa::crypto::AesGcmDecrypt(key_, sealed.subspan(1, kNonceSize),
                                         sealed.subspan(1 + kNonceSize), aad);
  if (!plain) return make_error_code(Errc::kUndecryptable);
  return std::move(*plain);
}

base::Bytes Aad(std::initializer_list<std::string_view> parts) {
  static constexpr std::string_view kLabel = "wagate sealed v1";
  base::Bytes out(kLabel.begin(), kLabel.end());
  for (std::string_view part : parts) {
    auto n = static_cast<std::uint32_t>(part.size());
    out.push_back(static_cast<std::uint8_t>(n >> 24));
    out.push_back(static_cast<std::uint8_t>(n >> 16));
    out.push_back(static_cast<std::uint8_t>(n >> 8));
    out.push_back(static_cast<std::uint8_t>(n));
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

}  // namespace gateway::store
