#include "wa/media/errors.h"

#include <string>

namespace wa::media {
namespace {

class MediaCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "wa.media"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::kBadMediaKey:
        return "media key is not 32 bytes";
      case Errc::kUnknownType:
        return "unknown media type";
      case Errc::kNoUploadPath:
        return "this media type has no upload path";
      case Errc::kSpent:
        return "the cipher was already finished";
      case Errc::kTooShort:
        return "encrypted file too short to hold the MAC";
      case Errc::kBadLength:
        return "ciphertext is not a whole number of AES blocks";
      case Errc::kEncHashMismatch:
        return "SHA-256 of the encrypted file does not match";
      case Errc::kMacMismatch:
        return "media MAC does not match";
      case Errc::kBadPadding:
        return "invalid padding after decryption (wrong key?)";
      case Errc::kLengthMismatch:
        return "decrypted file has the wrong length";
      case Errc::kHashMismatch:
        return "SHA-256 of the decrypted file does not match";
      case Errc::kBadUrl:
        return "unusable media URL or direct path";
      case Errc::kNoHosts:
        return "media_conn named no host";
      case Errc::kBadMediaConn:
        return "malformed media_conn answer";
      case Errc::kUploadRejected:
        return "the media host rejected the upload";
      case Errc::kBadUploadResponse:
        return "the upload answer has no url or direct_path";
      case Errc::kDownloadFailed:
        return "the media host answered the download with an error";
      case Errc::kMediaGone:
        return "the media is gone from the host (404/410)";
      case Errc::kTooLarge:
        return "media larger than the limit";
    }
    return "unknown wa.media error";
  }
};

}  // namespace

const boost::system::error_category& Category() {
  static const MediaCategory category;
  return category;
}

}  // namespace wa::media
