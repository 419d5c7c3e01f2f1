// Media in the simulated network (02-messaging.md §7): the media_conn iq, and the phones' side —
// a phone sends a file it fetched from a loopback URL (encrypted, uploaded to wasim's media host
// through the same checks as a client's upload, then sent as an image/video/audio/document/
// sticker message), and a phone that receives a media message downloads the file from the media
// host and verifies it as whatsmeow does (its inbox shows the outcome).
#include <spdlog/spdlog.h>

#include "sim/fetch.h"
#include "sim/world.h"
#include "wa/media/cipher.h"
#include "wa/media/errors.h"
#include "wa/media/keys.h"
#include "wa/media/upload.h"
#include "wa/proto/message.pb.h"

namespace sim {

namespace asio = boost::asio;
using wa::binary::Node;
using wa::media::MediaType;

namespace {

constexpr std::chrono::seconds kFetchTimeout{30};

struct Kind {
  std::string_view name;
  MediaType type;
  std::string_view default_mime;  // Baileys' MIMETYPE_MAP, where it has one
  std::string_view mediatype;     // the <enc> attribute (Baileys' getMediaType)
};

constexpr Kind kKinds[] = {
    {"image", MediaType::kImage, "image/jpeg", "image"},
    {"video", MediaType::kVideo, "video/mp4", "video"},
    {"ptv", MediaType::kPtv, "video/mp4", ""},  // Baileys names no mediatype for ptvMessage
    {"audio", MediaType::kAudio, "audio/ogg; codecs=opus", "audio"},
    {"document", MediaType::kDocument, "application/octet-stream", "document"},
    {"sticker", MediaType::kSticker, "image/webp", "sticker"},
};

const Kind* FindKind(std::string_view name) {
  for (const auto& k : kKinds) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::string ErrorName(const boost::system::error_code& ec) {
  if (ec.category() != wa::media::Category()) return "download_failed";
  switch (static_cast<wa::media::Errc>(ec.value())) {
    case wa::media::Errc::kBadMediaKey:
      return "bad_media_key";
    case wa::media::Errc::kTooShort:
      return "too_short";
    case wa::media::Errc::kBadLength:
      return "bad_length";
    case wa::media::Errc::kEncHashMismatch:
      return "enc_hash_mismatch";
    case wa::media::Errc::kMacMismatch:
      return "mac_mismatch";
    case wa::media::Errc::kBadPadding:
      return "bad_padding";
    case wa::media::Errc::kLengthMismatch:
      return "length_mismatch";
    case wa::media::Errc::kHashMismatch:
      return "hash_mismatch";
    default:
      return "download_failed";
  }
}

// The fields of whichever media message `m` carries.
struct MediaFields {
  std::string_view kind;
  MediaType type;
  const std::string* url;
  const std::string* direct_path;
  const std::string* media_key;
  const std::string* file_sha256;
  const std::string* file_enc_sha256;
  std::optional<std::uint64_t> file_length;
  std::string mime, caption, file_name;
  bool ptt = false;
};

template <class M>
MediaFields Common(std::string_view kind, MediaType type, const M& m) {
  MediaFields f{kind,
                type,
                &m.url(),
                &m.direct_path(),
                &m.media_key(),
                &m.file_sha256(),
                &m.file_enc_sha256(),
                std::nullopt,
                m.mimetype(),
                {},
                {},
                false};
  if (m.has_file_length()) f.file_length = m.file_length();
  return f;
}

std::optional<MediaFields> Fields(const wa::proto::Message& m) {
  if (m.has_document_with_caption_message() &&
      m.document_with_caption_message().message().has_document_message()) {
    return Fields(m.document_with_caption_message().message());
  }
  if (m.has_image_message()) {
    auto f = Common("image", MediaType::kImage, m.image_message());
    f.caption = m.image_message().caption();
    return f;
  }
  if (m.has_video_message()) {
    const auto& v = m.video_message();
    auto f = Common("video", v.gif_playback() ? MediaType::kGif : MediaType::kVideo, v);
    f.caption = v.caption();
    return f;
  }
  if (m.has_ptv_message()) return Common("ptv", MediaType::kPtv, m.ptv_message());
  if (m.has_audio_message()) {
    const auto& a = m.audio_message();
    auto f = Common("audio", a.ptt() ? MediaType::kPtt : MediaType::kAudio, a);
    f.ptt = a.ptt();
    return f;
  }
  if (m.has_document_message()) {
    const auto& d = m.document_message();
    auto f = Common("document", MediaType::kDocument, d);
    f.caption = d.caption();
    f.file_name = d.file_name();
    return f;
  }
  if (m.has_sticker_message()) return Common("sticker", MediaType::kSticker, m.sticker_message());
  return std::nullopt;
}

template <class M>
void Fill(M* m, const std::string& mime, const StoredMedia& where, base::ByteView media_key,
          const wa::media::FileHashes& h, std::int64_t now) {
  m->set_url(where.url);
  m->set_direct_path(where.direct_path);
  m->set_mimetype(mime);
  m->set_media_key(std::string(base::AsChars(media_key)));
  m->set_file_sha256(std::string(base::AsChars(h.file_sha256)));
  m->set_file_enc_sha256(std::string(base::AsChars(h.file_enc_sha256)));
  m->set_file_length(h.file_length);
  m->set_media_key_timestamp(now);
}

}  // namespace

bool World::HandleMediaIq(Connection& conn, const Node& iq) {
  if (iq.AttrOr("xmlns") != "w:m" || iq.AttrOr("type") != "set" || !iq.Child("media_conn")) {
    return false;
  }
  ReplyResult(conn, iq,
              {wa::media::MediaConnElement(media_.IssueConn(std::chrono::steady_clock::now()))});
  return true;
}

asio::awaitable<ControlResult<World::SentInfo>> World::SendMedia(std::string number, std::string to,
                                                                 MediaSend media) {
  if (!FindPhone(number)) {
    co_return ControlError{404, "phone_not_found", "no simulated phone " + number};
  }
  auto peer = ResolveRecipient(to);
  if (!peer) co_return peer.error();
  const Kind* kind = FindKind(media.type);
  if (!kind) {
    co_return ControlError{422, "invalid_media_type",
                           "\"media.type\" must be image, video, ptv, audio, document or sticker"};
  }
  if (media.ptt && kind->type != MediaType::kAudio) {
    co_return ControlError{422, "invalid_media", "\"ptt\" applies to audio only"};
  }
  if (auto allowed = CheckLoopbackUrl(media.url); !allowed) {
    bool not_local = allowed.error().kind == FetchError::Kind::kNotLoopback;
    co_return ControlError{422, not_local ? "media_url_not_allowed" : "invalid_media_url",
                           allowed.error().detail};
  }
  const std::uint64_t limit = media_.options().max_upload_bytes;
  auto fetched = co_await FetchLoopback(ex_, media.url, limit, kFetchTimeout);
  if (!fetched) {
    const FetchError& e = fetched.error();
    if (e.kind == FetchError::Kind::kTooLarge) {
      co_return ControlError{413, "media_too_large", e.detail};
    }
    co_return ControlError{502, "media_fetch_failed", "fetching " + media.url + ": " + e.detail};
  }
  if (fetched->body.empty()) {
    co_return ControlError{422, "media_empty", media.url + " answered with an empty body"};
  }

  // Encrypt with a fresh key and upload through the media host's own checks (media_conn auth,
  // token), as a client's upload.
  MediaType type = media.ptt ? MediaType::kPtt : kind->type;
  base::Bytes media_key = wa::media::NewMediaKey();
  auto keys = wa::media::ExpandMediaKey(media_key, type);
  auto encrypted = wa::media::Encrypt(base::AsBytes(fetched->body), *keys);
  auto now = std::chrono::steady_clock::now();
  auto conn = media_.IssueConn(now);
  auto url = wa::media::UploadUrl(media_.options().host, type, encrypted.hashes.file_enc_sha256,
                                  conn.auth);
  auto parts = url ? wa::media::SplitUrl(*url) : base::Result<wa::media::UrlParts>(url.error());
  if (!parts) co_return ControlError{500, "internal_error", "cannot build the upload URL"};
  auto stored = media_.Upload(parts->target, std::string(base::AsChars(encrypted.data)), now);
  if (!stored) {
    co_return ControlError{stored.error().status == 413 ? 413 : 507, "media_upload_failed",
                           stored.error().message};
  }

  std::string mime = !media.mime.empty()              ? media.mime
                     : !fetched->content_type.empty() ? fetched->content_type
                                                      : std::string(kind->default_mime);
  if (media.ptt && media.mime.empty()) mime = "audio/ogg; codecs=opus";
  auto t = Now();
  wa::proto::Message message;
  switch (kind->type) {
    case MediaType::kImage: {
      auto* m = message.mutable_image_message();
      Fill(m, mime, *stored, media_key, encrypted.hashes, t);
      if (!media.caption.empty()) m->set_caption(media.caption);
      break;
    }
    case MediaType::kVideo:
    case MediaType::kPtv: {
      auto* m = kind->type == MediaType::kPtv ? message.mutable_ptv_message()
                                              : message.mutable_video_message();
      Fill(m, mime, *stored, media_key, encrypted.hashes, t);
      if (!media.caption.empty()) m->set_caption(media.caption);
      if (media.seconds) m->set_seconds(*media.seconds);
      break;
    }
    case MediaType::kAudio: {
      auto* m = message.mutable_audio_message();
      Fill(m, mime, *stored, media_key, encrypted.hashes, t);
      if (media.ptt) m->set_ptt(true);
      if (media.seconds) m->set_seconds(*media.seconds);
      break;
    }
    case MediaType::kDocument: {
      auto* m = message.mutable_document_message();
      Fill(m, mime, *stored, media_key, encrypted.hashes, t);
      m->set_file_name(media.file_name.empty() ? "file" : media.file_name);  // Baileys' default
      if (!media.caption.empty()) m->set_caption(media.caption);
      break;
    }
    default: {
      auto* m = message.mutable_sticker_message();
      Fill(m, mime, *stored, media_key, encrypted.hashes, t);
      m->set_sticker_sent_ts(t * 1000);
      break;
    }
  }
  // The phone and the recipient are never removed, but look them up again after the wait.
  Phone* phone = FindPhone(number);
  auto again = ResolveRecipient(to);
  if (!phone || !again) co_return ControlError{409, "conflict", "the phones changed meanwhile"};
  std::string_view mediatype = media.ptt ? std::string_view("ptt") : kind->mediatype;
  co_return PhoneSend(*phone, **again, message, "media", mediatype);
}

std::optional<InboxMedia> World::PhoneReceiveMedia(const wa::proto::Message& message) {
  auto fields = Fields(message);
  if (!fields) return std::nullopt;
  InboxMedia out;
  out.type = std::string(fields->kind);
  out.mime = fields->mime;
  out.size = fields->file_length.value_or(0);
  out.caption = fields->caption;
  out.file_name = fields->file_name;
  out.ptt = fields->ptt;

  // The phone downloads from wasim's media host: the message's url when it points there (any
  // other host is outside the simulated network), else the direct path.
  std::string where = *fields->direct_path;
  if (!fields->url->empty()) {
    auto parts = wa::media::SplitUrl(*fields->url);
    if (parts && parts->host == media_.options().host) {
      where = *fields->url;
    } else if (where.empty()) {
      out.error = "media_host_unknown";
      return out;
    }
  }
  auto blob = where.empty() ? nullptr : media_.Find(where);
  if (!blob) {
    out.error = "media_not_found";
    return out;
  }
  auto keys = wa::media::ExpandMediaKey(base::AsBytes(*fields->media_key), fields->type);
  if (!keys) {
    out.error = ErrorName(keys.error());
    return out;
  }
  // Streamed in pieces and hashed; the plaintext itself is not kept.
  wa::media::Decryptor decryptor(*keys, {base::AsBytes(*fields->file_enc_sha256),
                                         base::AsBytes(*fields->file_sha256), fields->file_length});
  base::Bytes scratch;
  base::ByteView data = base::AsBytes(*blob);
  constexpr std::size_t kPiece = 64 * 1024;
  for (std::size_t at = 0; at < data.size(); at += kPiece) {
    scratch.clear();
    (void)decryptor.Update(data.subspan(at, std::min(kPiece, data.size() - at)), scratch);
  }
  scratch.clear();
  auto hashes = decryptor.Finish(scratch);
  if (!hashes) {
    out.error = ErrorName(hashes.error());
    spdlog::info("media {}: verification failed: {}", where, hashes.error().message());
    return out;
  }
  out.sha256 = base::ToHex(hashes->file_sha256);
  if (!fields->file_length) out.size = hashes->file_length;
  return out;
}

}  // namespace sim
