// Error codes of the connection layer (wa::client). Timeouts, cancellation and disconnects are
// distinct values so that callers can tell "too slow" from "we stopped" from "the peer went away"
// (STYLE.md, Async). Errors of the layers below (noise, binary, asio, ssl, the stores) pass
// through in their own categories.
#pragma once

#include <boost/system/error_code.hpp>

namespace wa::client {

enum class Errc {
  kTimeout = 1,        // a deadline passed (connect, iq, write, keepalive)
  kCancelled,          // the operation was cancelled (Stop, Logout, shutdown)
  kDisconnected,       // the connection closed before the operation completed
  kNotConnected,       // no connection in the state the operation needs
  kBadUrl,             // the WebSocket URL is not ws:// or wss://host[:port][/path]
  kBadProxyUrl,        // the proxy URL is not http:// or socks5://[user:pass@]host:port
  kProxyRefused,       // the proxy answered the CONNECT request with an error
  kProxyAuthFailed,    // the proxy wants credentials we lack, or refused them
  kProxyProtocol,      // the proxy's answer was malformed
  kTlsSetup,           // the TLS context or CA file could not be loaded
  kUpgradeRejected,    // the HTTP upgrade to WebSocket was refused
  kProtocol,           // the server sent a stanza of the wrong shape for its place
  kNoCredentials,      // the device store holds no credentials
  kStoreMismatch,      // the Signal store's identity differs from the credentials'
  kWrongState,         // e.g. a pairing code asked for while logged in
  kInvalidPhone,       // a phone number that cannot be a WhatsApp account
  kPairingRejected,    // the pairing data did not verify (HMAC or signature)
  kBadCredentials,     // stored credentials that do not decode
  kServerError,        // the server answered an iq with an error
  kInvalidRecipient,   // not a phone number or user JID we can send to
  kMessageRejected,    // the server's ack carried an error: nobody received the message
  kNoDevices,          // neither the recipient nor our own account has a device to send to
  kEncryptionFailed,   // no recipient device could be encrypted for
  kHistoryCorrupt,     // a history sync blob that does not inflate or parse
  kHistoryTruncated,   // a history sync blob that ends in the middle
  kHistoryTooLarge,    // a history sync blob over the configured size limit
};

const boost::system::error_category& Category();
inline boost::system::error_code MakeError(Errc e) { return {static_cast<int>(e), Category()}; }

}  // namespace wa::client

template <>
struct boost::system::is_error_code_enum<wa::client::Errc> : std::true_type {};
namespace wa::client {
inline boost::system::error_code make_error_code(Errc e) { return MakeError(e); }
}  // namespace wa::client
