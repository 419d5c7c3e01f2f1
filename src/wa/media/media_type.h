// The kinds of media a WhatsApp client encrypts and uploads (02-messaging.md §7.2, §7.4): for each
// its name (Baileys' media type key, also what the `mediatype` attribute of an <enc> carries), the
// HKDF info string its key expansion uses, the path prefix of its upload URL and the `mms-type` a
// download names.
//
// Where the references disagree, whatsmeow's choice is used and the other is noted: md-msg-hist
// uploads to /mms/md-msg-hist (Baileys: /mms/md-app-state), md-app-state to /mms/md-app-state
// (Baileys: none), link thumbnails to /mms/thumbnail-link (Baileys: /mms/image).
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace wa::media {

enum class MediaType {
  kImage,
  kVideo,
  kGif,  // a video played as a GIF (VideoMessage.gifPlayback)
  kPtv,  // a round video note (ptvMessage)
  kAudio,
  kPtt,  // a voice note (AudioMessage.ptt)
  kDocument,
  kSticker,
  kStickerPack,
  kThumbnailImage,
  kThumbnailVideo,
  kThumbnailDocument,
  kThumbnailLink,
  kHistory,   // md-msg-hist: history sync blobs
  kAppState,  // md-app-state: app state sync blobs
  kProduct,
  kProductCatalogImage,
  kPaymentBackground,
  kProfilePicture,  // ppic
  kBizCoverPhoto,
};

struct MediaTypeInfo {
  MediaType type;
  std::string_view name;         // "image", "ptt", "md-msg-hist", ...
  std::string_view hkdf_info;    // "WhatsApp Image Keys", ...
  std::string_view upload_path;  // "/mms/image"; empty: not uploaded by a client
  std::string_view mms_type;     // the download's mms-type: "image", "audio", ...
  bool encrypted;                // false for ppic and product-catalog-image (empty info value)
};

const MediaTypeInfo& Info(MediaType type);
// Every type, in enum order.
std::span<const MediaTypeInfo> AllMediaTypes();
// By name (Baileys' key, e.g. "thumbnail-link"); nullopt for an unknown name.
std::optional<MediaType> ParseMediaType(std::string_view name);

}  // namespace wa::media
