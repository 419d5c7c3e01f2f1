// wasim's media host (shared/protocol/02-messaging.md §7.1, §7.4, §7.5): media_conn answers,
// uploads checked as the real host checks them, and a bounded in-memory blob store serving
// downloads by direct path.
//
// An upload must carry a media_conn auth wasim issued (and that has not expired) and a token equal
// to base64url(SHA-256(body)), in the path and, when present, in the query (Baileys' unpadded and
// whatsmeow's padded forms alike). What is stored is the encrypted file exactly as uploaded; wasim
// never sees a media key. Blobs live in memory, least recently used first out once their total
// passes the capacity: an evicted blob answers 404 like expired media.
//
// Single-threaded like the rest of wasim. Blobs are shared_ptrs so that a download in progress
// keeps its bytes even if the blob is evicted meanwhile.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/media/upload.h"

namespace sim {

struct MediaOptions {
  std::string host;  // what media_conn names and URLs use: "127.0.0.1:7443"
  std::uint64_t max_upload_bytes = std::uint64_t{64} << 20;
  std::uint64_t capacity_bytes = std::uint64_t{512} << 20;
  std::chrono::seconds conn_ttl{300};    // media_conn ttl (clients cache it this long)
  std::chrono::seconds auth_ttl{21600};  // how long an issued auth is accepted
};

struct MediaStats {
  std::uint64_t conns_issued = 0;
  std::uint64_t uploads = 0;
  std::uint64_t upload_bytes = 0;
  std::uint64_t uploads_rejected = 0;
  std::uint64_t downloads = 0;
  std::uint64_t download_bytes = 0;
  std::uint64_t download_misses = 0;
  std::uint64_t evictions = 0;
};

// Why an upload was refused: the HTTP status and a short code for the JSON answer.
struct MediaError {
  int status;
  std::string code;
  std::string message;
};

struct StoredMedia {
  std::string url;          // https://<host><direct_path>&mms3=true
  std::string direct_path;  // /v/t62.…/…_n.enc?ccb=…&oh=…&oe=…&_nc_sid=…
  std::string handle;       // newsletter uploads only
};

class MediaStore {
 public:
  explicit MediaStore(MediaOptions options);

  const MediaOptions& options() const { return options_; }
  const MediaStats& stats() const { return stats_; }
  std::size_t blob_count() const { return blobs_.size(); }
  std::uint64_t stored_bytes() const { return stored_bytes_; }

  // A media_conn answer with a fresh auth.
  wa::media::MediaConn IssueConn(std::chrono::steady_clock::time_point now);

  // An upload: `target` is the request target ("/mms/image/<token>?auth=…&token=…"), `body` the
  // encrypted file.
  base::Result<StoredMedia, MediaError> Upload(std::string_view target, std::string body,
                                               std::chrono::steady_clock::time_point now);

  // An upload refused before it reached Upload (a Content-Length over the limit).
  void CountRejected() { stats_.uploads_rejected++; }

  // The blob at a direct path or full URL (the query and any scheme and host are ignored);
  // null when unknown or evicted. Counts as a download when `count` is set.
  std::shared_ptr<const std::string> Find(std::string_view path_or_url, bool count = true);

 private:
  struct Blob {
    std::shared_ptr<const std::string> data;
    std::list<std::string>::iterator lru;
  };
  std::string NewDirectPath(std::string_view kind, std::chrono::steady_clock::time_point now);
  void EvictFor(std::uint64_t incoming);

  MediaOptions options_;
  MediaStats stats_;
  base::Bytes path_secret_;
  std::map<std::string, std::chrono::steady_clock::time_point, std::less<>> auths_;  // -> expiry
  std::map<std::string, Blob, std::less<>> blobs_;  // by path without query
  std::list<std::string> lru_;                      // most recently used first
  std::uint64_t stored_bytes_ = 0;
  std::uint64_t next_id_ = 1;
};

}  // namespace sim
