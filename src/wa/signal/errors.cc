#include "wa/signal/errors.h"

#include <string>

namespace wa::signal {
namespace {

class SignalCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "wa.signal"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::kNoSession: return "no session";
      case Errc::kInvalidMessage: return "invalid message";
      case Errc::kInvalidMac: return "MAC or signature does not verify";
      case Errc::kDuplicateMessage: return "duplicate message";
      case Errc::kTooFarInFuture: return "message too far in the future";
      case Errc::kUntrustedIdentity: return "untrusted identity";
      case Errc::kInvalidKeyId: return "no key with that id";
      case Errc::kInvalidKey: return "invalid key or signed prekey signature";
      case Errc::kLegacyVersion: return "legacy message version";
      case Errc::kUnknownVersion: return "unknown message version";
      case Errc::kBadKeyLength: return "key has the wrong length";
      case Errc::kBadSignatureLength: return "signature is not 64 bytes";
      case Errc::kBadIdLength: return "id has the wrong length";
      case Errc::kIdOutOfRange: return "id out of range";
      case Errc::kInvalidAddress: return "invalid address";
      case Errc::kInvalidArgument: return "invalid argument";
      case Errc::kCorruptRecord: return "stored record does not parse";
      case Errc::kInternal: return "libsignal internal failure";
    }
    return "unknown wa.signal error";
  }
};

}  // namespace

const boost::system::error_category& Category() {
  static const SignalCategory category;
  return category;
}

}  // namespace wa::signal
