// Error codes of wa::media: what went wrong with a media key, an encrypted file, an upload or a
// download. Verification failures are distinct values so that a caller can tell a damaged or
// tampered file (kEncHashMismatch, kMacMismatch) from a wrong key (kBadPadding) and from a file
// that decrypts but is not the one the message described (kLengthMismatch, kHashMismatch).
// Errors of the transport pass through in their own categories.
#pragma once

#include <boost/system/error_code.hpp>

namespace wa::media {

enum class Errc {
  kBadMediaKey = 1,    // a media key that is not 32 bytes
  kUnknownType,        // a media type name that is not in the table (media_type.h)
  kNoUploadPath,       // the media type has no upload path (thumbnails, ppic, ...)
  kSpent,              // Update or Finish after Finish
  kTooShort,           // an encrypted file of at most 10 bytes (no room for the MAC)
  kBadLength,          // ciphertext that is not a whole number of AES blocks
  kEncHashMismatch,    // SHA-256 of the encrypted file differs from fileEncSha256
  kMacMismatch,        // the 10-byte HMAC-SHA256 over iv || ciphertext does not match
  kBadPadding,         // AES-CBC decrypted to invalid PKCS#7 padding (wrong key or iv)
  kLengthMismatch,     // the plaintext is not fileLength bytes long
  kHashMismatch,       // SHA-256 of the plaintext differs from fileSha256
  kBadUrl,             // a URL or direct path that cannot be used (scheme, host, path)
  kNoHosts,            // media_conn named no host
  kBadMediaConn,       // a media_conn answer without auth, ttl, auth_ttl or max_buckets
  kUploadRejected,     // the media host answered the upload with an error status
  kBadUploadResponse,  // the upload answer is not JSON with url or direct_path
  kDownloadFailed,     // the media host answered the download with an error status
  kMediaGone,          // the media host answered 404 or 410: expired, ask the sender to re-upload
  kTooLarge,           // more bytes than the configured limit
};

const boost::system::error_category& Category();
inline boost::system::error_code MakeError(Errc e) { return {static_cast<int>(e), Category()}; }

}  // namespace wa::media

template <>
struct boost::system::is_error_code_enum<wa::media::Errc> : std::true_type {};
namespace wa::media {
inline boost::system::error_code make_error_code(Errc e) { return MakeError(e); }
}  // namespace wa::media
