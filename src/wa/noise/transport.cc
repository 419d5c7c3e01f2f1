#include "wa/noise/transport.h"

#include "wa/noise/errors.h"
#include "wa/noise/symmetric_state.h"

namespace wa::noise {

base::Result<Bytes> CipherState::Encrypt(ByteView plaintext) {
  if (failed_) return MakeError(Errc::kCipherFailed);
  if (counter_ >= kMaxFrames) return MakeError(Errc::kCounterExhausted);
  auto c = crypto::AesGcmEncrypt(key_, CounterIv(static_cast<std::uint32_t>(counter_)),
                                 plaintext, {});
  if (!c) return MakeError(Errc::kInternal);
  ++counter_;
  return std::move(*c);
}

base::Result<Bytes> CipherState::Decrypt(ByteView ciphertext) {
  if (failed_) return MakeError(Errc::kCipherFailed);
  if (counter_ >= kMaxFrames) return MakeError(Errc::kCounterExhausted);
  auto p = crypto::AesGcmDecrypt(key_, CounterIv(static_cast<std::uint32_t>(counter_)),
                                 ciphertext, {});
  if (!p) {
    failed_ = true;
    if (p.error() == crypto::Errc::kAuthFailed || p.error() == crypto::Errc::kBadInputLength) {
      return MakeError(Errc::kDecryptFailed);
    }
    return MakeError(Errc::kInternal);
  }
  ++counter_;
  return std::move(*p);
}

}  // namespace wa::noise
