#include "wa/noise/symmetric_state.h"

#include <algorithm>

#include "wa/noise/errors.h"

namespace wa::noise {
namespace {

// Crypto failures that come from the peer's bytes keep their meaning; anything else is ours.
boost::system::error_code FromCrypto(const boost::system::error_code& ec) {
  if (ec == crypto::Errc::kAuthFailed || ec == crypto::Errc::kBadInputLength) {
    return MakeError(Errc::kDecryptFailed);
  }
  if (ec == crypto::Errc::kWeakKey) return MakeError(Errc::kWeakKey);
  if (ec == crypto::Errc::kBadKeyLength) return MakeError(Errc::kBadKeyLength);
  return MakeError(Errc::kInternal);
}

}  // namespace

std::array<std::uint8_t, 12> CounterIv(std::uint32_t n) {
  return {0, 0, 0, 0, 0, 0, 0, 0, static_cast<std::uint8_t>(n >> 24),
          static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8),
          static_cast<std::uint8_t>(n)};
}

SymmetricState::SymmetricState() {
  static_assert(kNoiseProtocolName.size() == 32);
  std::copy(kNoiseProtocolName.begin(), kNoiseProtocolName.end(), h_.begin());
  ck_ = h_;
}

void SymmetricState::MixHash(ByteView data) {
  crypto::Sha256Stream s;
  s.Update(h_);
  s.Update(data);
  h_ = s.Finish();
}

void SymmetricState::MixKey(ByteView input_key_material) {
  const Bytes out = crypto::Hkdf(input_key_material, ck_, {}, 64);
  std::copy_n(out.begin(), 32, ck_.begin());
  std::copy_n(out.begin() + 32, 32, k_.begin());
  has_key_ = true;
  n_ = 0;
}

base::Result<void> SymmetricState::MixDh(const crypto::Key32& private_key, ByteView public_key) {
  if (public_key.size() != 32) return MakeError(Errc::kBadKeyLength);
  auto shared = crypto::SharedSecret(private_key, public_key);
  if (!shared) return FromCrypto(shared.error());
  MixKey(*shared);
  return {};
}

base::Result<Bytes> SymmetricState::EncryptAndHash(ByteView plaintext) {
  if (!has_key_) return MakeError(Errc::kWrongState);
  auto c = crypto::AesGcmEncrypt(k_, CounterIv(n_), plaintext, h_);
  if (!c) return FromCrypto(c.error());
  ++n_;
  MixHash(*c);
  return std::move(*c);
}

base::Result<Bytes> SymmetricState::DecryptAndHash(ByteView ciphertext) {
  if (!has_key_) return MakeError(Errc::kWrongState);
  auto p = crypto::AesGcmDecrypt(k_, CounterIv(n_), ciphertext, h_);
  if (!p) return FromCrypto(p.error());
  ++n_;
  MixHash(ciphertext);
  return std::move(*p);
}

std::pair<crypto::Key32, crypto::Key32> SymmetricState::Split() const {
  const Bytes out = crypto::Hkdf({}, ck_, {}, 64);
  std::pair<crypto::Key32, crypto::Key32> keys;
  std::copy_n(out.begin(), 32, keys.first.begin());
  std::copy_n(out.begin() + 32, 32, keys.second.begin());
  return keys;
}

}  // namespace wa::noise
