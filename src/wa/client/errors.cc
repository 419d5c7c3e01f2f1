#include "wa/client/errors.h"

#include <string>

namespace wa::client {

namespace {

class ClientCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "wa.client"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::kTimeout: return "timed out";
      case Errc::kCancelled: return "cancelled";
      case Errc::kDisconnected: return "disconnected";
      case Errc::kNotConnected: return "not connected";
      case Errc::kBadUrl: return "bad WebSocket URL";
      case Errc::kBadProxyUrl: return "bad proxy URL";
      case Errc::kProxyRefused: return "the proxy refused the connection";
      case Errc::kProxyAuthFailed: return "proxy authentication failed";
      case Errc::kProxyProtocol: return "malformed proxy answer";
      case Errc::kTlsSetup: return "TLS setup failed";
      case Errc::kUpgradeRejected: return "WebSocket upgrade rejected";
      case Errc::kProtocol: return "unexpected stanza";
      case Errc::kNoCredentials: return "no credentials in the device store";
      case Errc::kStoreMismatch: return "the Signal store does not hold the credentials' identity";
      case Errc::kWrongState: return "not possible in the current state";
      case Errc::kInvalidPhone: return "invalid phone number";
      case Errc::kPairingRejected: return "pairing data did not verify";
      case Errc::kBadCredentials: return "stored credentials do not decode";
      case Errc::kServerError: return "the server answered with an error";
      case Errc::kInvalidRecipient: return "not a phone number or user JID";
      case Errc::kMessageRejected: return "the server refused the message";
      case Errc::kNoDevices: return "no device to send to";
      case Errc::kEncryptionFailed: return "no recipient device could be encrypted for";
      case Errc::kHistoryCorrupt: return "the history sync blob is corrupt";
      case Errc::kHistoryTruncated: return "the history sync blob is truncated";
      case Errc::kHistoryTooLarge: return "the history sync blob is over the size limit";
    }
    return "unknown wa.client error";
  }
};

}  // namespace

const boost::system::error_category& Category() {
  static const ClientCategory category;
  return category;
}

}  // namespace wa::client
