#include "wa/media/media_type.h"

#include <array>

namespace wa::media {
namespace {

// "WhatsApp " + Baileys' MEDIA_HKDF_KEY_MAPPING value + " Keys" (the value is empty for ppic and
// product-catalog-image, hence the two spaces).
constexpr std::array<MediaTypeInfo, 20> kTypes{{
    {MediaType::kImage, "image", "WhatsApp Image Keys", "/mms/image", "image", true},
    {MediaType::kVideo, "video", "WhatsApp Video Keys", "/mms/video", "video", true},
    {MediaType::kGif, "gif", "WhatsApp Video Keys", "/mms/video", "video", true},
    {MediaType::kPtv, "ptv", "WhatsApp Video Keys", "/mms/video", "video", true},
    {MediaType::kAudio, "audio", "WhatsApp Audio Keys", "/mms/audio", "audio", true},
    {MediaType::kPtt, "ptt", "WhatsApp Audio Keys", "/mms/audio", "audio", true},
    {MediaType::kDocument, "document", "WhatsApp Document Keys", "/mms/document", "document", true},
    {MediaType::kSticker, "sticker", "WhatsApp Image Keys", "/mms/image", "image", true},
    {MediaType::kStickerPack, "sticker-pack", "WhatsApp Sticker Pack Keys", "/mms/sticker-pack",
     "sticker-pack", true},
    {MediaType::kThumbnailImage, "thumbnail-image", "WhatsApp Image Thumbnail Keys", "",
     "thumbnail-image", true},
    {MediaType::kThumbnailVideo, "thumbnail-video", "WhatsApp Video Thumbnail Keys", "",
     "thumbnail-video", true},
    {MediaType::kThumbnailDocument, "thumbnail-document", "WhatsApp Document Thumbnail Keys", "",
     "thumbnail-document", true},
    {MediaType::kThumbnailLink, "thumbnail-link", "WhatsApp Link Thumbnail Keys",
     "/mms/thumbnail-link", "thumbnail-link", true},
    {MediaType::kHistory, "md-msg-hist", "WhatsApp History Keys", "/mms/md-msg-hist", "md-msg-hist",
     true},
    {MediaType::kAppState, "md-app-state", "WhatsApp App State Keys", "/mms/md-app-state",
     "md-app-state", true},
    {MediaType::kProduct, "product", "WhatsApp Image Keys", "", "image", true},
    {MediaType::kProductCatalogImage, "product-catalog-image", "WhatsApp  Keys", "/product/image",
     "product-catalog-image", false},
    {MediaType::kPaymentBackground, "payment-bg-image", "WhatsApp Payment Background Keys", "",
     "payment-bg-image", true},
    {MediaType::kProfilePicture, "ppic", "WhatsApp  Keys", "", "ppic", false},
    {MediaType::kBizCoverPhoto, "biz-cover-photo", "WhatsApp Image Keys", "/pps/biz-cover-photo",
     "biz-cover-photo", true},
}};

constexpr bool InEnumOrder() {
  for (std::size_t i = 0; i < kTypes.size(); ++i) {
    if (static_cast<std::size_t>(kTypes[i].type) != i) return false;
  }
  return true;
}
static_assert(InEnumOrder(), "kTypes must list the types in enum order");

}  // namespace

const MediaTypeInfo& Info(MediaType type) { return kTypes[static_cast<std::size_t>(type)]; }

std::span<const MediaTypeInfo> AllMediaTypes() { return kTypes; }

std::optional<MediaType> ParseMediaType(std::string_view name) {
  for (const auto& t : kTypes) {
    if (t.name == name) return t.type;
  }
  return std::nullopt;
}

}  // namespace wa::media
