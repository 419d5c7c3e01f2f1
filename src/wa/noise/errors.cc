#include "wa/noise/errors.h"

#include <string>

namespace wa::noise {
namespace {

class NoiseCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "wa.noise"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::kWrongState: return "handshake step out of order";
      case Errc::kMalformedHandshake: return "malformed handshake message";
      case Errc::kBadKeyLength: return "key is not 32 bytes";
      case Errc::kWeakKey: return "X25519 produced an all-zero secret";
      case Errc::kDecryptFailed: return "AES-GCM authentication failed";
      case Errc::kCertMalformed: return "malformed or incomplete certificate chain";
      case Errc::kCertBadSignatureLength: return "certificate signature is not 64 bytes";
      case Errc::kCertBadIntermediateSignature:
        return "intermediate certificate not signed by the trust root";
      case Errc::kCertBadIntermediateIssuer: return "unexpected intermediate issuer serial";
      case Errc::kCertBadIntermediateKey: return "intermediate certificate key is not 32 bytes";
      case Errc::kCertBadLeafSignature: return "leaf certificate not signed by the intermediate";
      case Errc::kCertBadLeafIssuer: return "leaf issuer serial does not match the intermediate";
      case Errc::kCertLeafKeyMismatch: return "leaf certificate key is not the server static key";
      case Errc::kCertNotYetValid: return "certificate not valid yet";
      case Errc::kCertExpired: return "certificate expired";
      case Errc::kCounterExhausted: return "transport counter exhausted";
      case Errc::kCipherFailed: return "transport cipher failed earlier";
      case Errc::kFrameTooLarge: return "frame too large";
      case Errc::kBadIntroHeader: return "bad intro header";
      case Errc::kInternal: return "crypto backend failure";
    }
    return "unknown wa.noise error";
  }
};

}  // namespace

const boost::system::error_category& Category() {
  static const NoiseCategory category;
  return category;
}

}  // namespace wa::noise
