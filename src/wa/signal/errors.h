// Error codes of the Signal layer. libsignal-protocol-c's SG_ERR_* values are mapped to these
// conditions (and refined where the library folds several causes into SG_ERR_INVALID_MESSAGE);
// errors of the caller's Store pass through unchanged, in the store's own category.
#pragma once

#include <boost/system/error_code.hpp>

namespace wa::signal {

enum class Errc {
  kNoSession = 1,      // no session with that address (a msg before any pkmsg; after a
                       // DeleteSession), or no sender key from that group member
  kInvalidMessage,     // malformed or truncated message, or one no session state accepts
  kInvalidMac,         // the MAC (msg/pkmsg) or signature (skmsg) does not verify: tampered,
                       // or encrypted for another session
  kDuplicateMessage,   // that counter/iteration was already decrypted (replay or redelivery)
  kTooFarInFuture,     // more than 2000 messages ahead of its chain (libsignal's limit)
  kUntrustedIdentity,  // the store's IsTrustedIdentity refused the peer's identity key
  kInvalidKeyId,       // a pkmsg names a one-time or signed prekey we do not hold (already used,
                       // never issued), or an skmsg a sender key id we do not hold
  kInvalidKey,         // a bundle's key is unusable or its signed-prekey signature is wrong
  kLegacyVersion,      // message version below 3
  kUnknownVersion,     // message version above 3
  kBadKeyLength,       // a wire key that is not 32 bytes (or a Signal key not 0x05 + 32 bytes)
  kBadSignatureLength, // a wire signature that is not 64 bytes
  kBadIdLength,        // a key id that is not 3 bytes, a registration id that is not 4
  kIdOutOfRange,       // a key id that does not fit its wire width
  kInvalidAddress,     // empty user, a reserved character in it, or device 99 off hosted domains
  kInvalidArgument,    // e.g. Decrypt asked to handle an skmsg
  kCorruptRecord,      // a session or sender-key record from the Store did not parse
  kInternal,           // libsignal failed internally (out of memory, ...): not the peer's fault
};

const boost::system::error_category& Category();
inline boost::system::error_code MakeError(Errc e) { return {static_cast<int>(e), Category()}; }

}  // namespace wa::signal

template <>
struct boost::system::is_error_code_enum<wa::signal::Errc> : std::true_type {};
namespace wa::signal {
inline boost::system::error_code make_error_code(Errc e) { return MakeError(e); }
}  // namespace wa::signal
