#include "sim/media_store.h"

#include <cstdio>

#include "wa/crypto/crypto.h"

namespace sim {

namespace {

constexpr std::size_t kMaxAuths = 10000;

bool Starts(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The path part of a direct path or URL, without scheme, host and query.
std::string_view PathOf(std::string_view path_or_url) {
  if (Starts(path_or_url, "https://") || Starts(path_or_url, "http://")) {
    auto scheme_end = path_or_url.find("//") + 2;
    auto slash = path_or_url.find('/', scheme_end);
    if (slash == std::string_view::npos) return {};
    path_or_url.remove_prefix(slash);
  }
  return path_or_url.substr(0, path_or_url.find('?'));
}

// The object class segment of a direct path per upload kind, as seen in real media URLs
// (t62.7118-24 images, t62.7117-24 audio, …); cosmetic, clients treat direct paths as opaque.
std::string_view ObjectClass(std::string_view kind) {
  if (kind == "image") return "t62.7118-24";
  if (kind == "video") return "t62.7161-24";
  if (kind == "audio") return "t62.7117-24";
  if (kind == "document") return "t62.7119-24";
  if (kind == "md-msg-hist" || kind == "md-app-state") return "t62.36145-24";
  return "t62.7120-24";
}

}  // namespace

MediaStore::MediaStore(MediaOptions options)
    : options_(std::move(options)), path_secret_(wa::crypto::RandomBytes(32)) {}

wa::media::MediaConn MediaStore::IssueConn(std::chrono::steady_clock::time_point now) {
  for (auto it = auths_.begin(); it != auths_.end();) {
    it = it->second < now ? auths_.erase(it) : std::next(it);
  }
  while (auths_.size() >= kMaxAuths) auths_.erase(auths_.begin());
  // Standard base64 (with '+', '/' and '='), so that clients must URI-encode it as they do for
  // the real service.
  std::string auth = base::ToBase64(wa::crypto::RandomBytes(33));
  auths_[auth] = now + options_.auth_ttl;
  stats_.conns_issued++;
  wa::media::MediaConn conn;
  conn.auth = std::move(auth);
  conn.ttl = options_.conn_ttl.count();
  conn.auth_ttl = options_.auth_ttl.count();
  conn.max_buckets = 12;
  conn.hosts.push_back({options_.host, options_.max_upload_bytes});
  return conn;
}

std::string MediaStore::NewDirectPath(std::string_view kind,
                                      std::chrono::steady_clock::time_point now) {
  auto random = wa::crypto::RandomBytes(16);
  std::uint64_t a = 0, b = 0;
  for (int i = 0; i < 8; ++i) a = a << 8 | random[static_cast<std::size_t>(i)];
  for (int i = 8; i < 16; ++i) b = b << 8 | random[static_cast<std::size_t>(i)];
  char name[96];
  std::snprintf(name, sizeof(name), "%08llu_%015llu_%019llu_n.enc",
                static_cast<unsigned long long>(next_id_++ % 100000000),
                static_cast<unsigned long long>(a % 1000000000000000ull),
                static_cast<unsigned long long>(b % 10000000000000000000ull));
  std::string path = "/v/" + std::string(ObjectClass(kind)) + "/" + name;
  // oh: a MAC of the path (unchecked, as clients treat it as opaque); oe: the expiry, hex seconds.
  auto oh = wa::crypto::HmacSha256(path_secret_, base::AsBytes(path));
  auto expiry = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch() + options_.auth_ttl)
                    .count();
  (void)now;
  char oe[17];
  std::snprintf(oe, sizeof(oe), "%08llX", static_cast<unsigned long long>(expiry));
  return path + "?ccb=11-4&oh=01_" + base::ToBase64Url(base::ByteView(oh).first(24)) + "&oe=" + oe +
         "&_nc_sid=5e03e0";
}

void MediaStore::EvictFor(std::uint64_t incoming) {
  while (!lru_.empty() && stored_bytes_ + incoming > options_.capacity_bytes) {
    auto it = blobs_.find(lru_.back());
    stored_bytes_ -= it->second.data->size();
    blobs_.erase(it);
    lru_.pop_back();
    stats_.evictions++;
  }
}

base::Result<StoredMedia, MediaError> MediaStore::Upload(
    std::string_view target, std::string body, std::chrono::steady_clock::time_point now) {
  auto reject = [this](int status, std::string code, std::string message) {
    stats_.uploads_rejected++;
    return MediaError{status, std::move(code), std::move(message)};
  };
  auto parsed = wa::media::ParseUploadTarget(target);
  if (!parsed) {
    return reject(400, "bad_request", "expected /mms/<type>/<token>?auth=…&token=…");
  }
  bool newsletter = Starts(parsed->prefix, "/newsletter/");
  if (!Starts(parsed->prefix, "/mms/") && !Starts(parsed->prefix, "/product/") &&
      !Starts(parsed->prefix, "/pps/") && !newsletter) {
    return reject(404, "not_found", "no upload endpoint " + parsed->prefix);
  }
  auto auth = auths_.find(parsed->auth);
  if (parsed->auth.empty() || auth == auths_.end() || auth->second < now) {
    return reject(401, "unauthorized", "auth is not a current media_conn auth");
  }
  if (body.empty()) return reject(400, "empty_body", "the upload has no body");
  if (body.size() > options_.max_upload_bytes || body.size() > options_.capacity_bytes) {
    return reject(413, "too_large",
                  "uploads are limited to " + std::to_string(options_.max_upload_bytes) + " bytes");
  }
  auto digest = wa::crypto::Sha256(base::AsBytes(body));
  if (!wa::media::TokenMatches(parsed->path_token, digest) ||
      (!parsed->query_token.empty() && !wa::media::TokenMatches(parsed->query_token, digest))) {
    return reject(400, "token_mismatch", "the token is not base64url(SHA-256(body))");
  }
  EvictFor(body.size());
  StoredMedia out;
  out.direct_path = NewDirectPath(parsed->kind, now);
  out.url = "https://" + options_.host + out.direct_path + "&mms3=true";
  if (newsletter) out.handle = base::ToHex(wa::crypto::RandomBytes(16));
  std::string path(PathOf(out.direct_path));
  stats_.uploads++;
  stats_.upload_bytes += body.size();
  stored_bytes_ += body.size();
  lru_.push_front(path);
  blobs_[path] = Blob{std::make_shared<const std::string>(std::move(body)), lru_.begin()};
  return out;
}

std::shared_ptr<const std::string> MediaStore::Find(std::string_view path_or_url, bool count) {
  auto it = blobs_.find(PathOf(path_or_url));
  if (it == blobs_.end()) {
    if (count) stats_.download_misses++;
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  if (count) {
    stats_.downloads++;
    stats_.download_bytes += it->second.data->size();
  }
  return it->second.data;
}

}  // namespace sim
