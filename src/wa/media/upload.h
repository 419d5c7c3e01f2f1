// The HTTP side of media (02-messaging.md §7.1, §7.4, §7.5), for both ends: the client builds the
// media_conn query, reads its answer, builds upload and download URLs and reads the upload's JSON
// answer; a media host (wasim, test fakes) parses an upload target and checks its token.
//
//   upload:   POST https://<host><upload path>/<token>?auth=<auth, URI-encoded>&token=<token>
//   token:    base64url(fileEncSha256); Baileys strips the '=' padding, whatsmeow keeps it
//             (query-encoded as %3D): hosts accept both.
//   answer:   {"url": "https://<host>/v/…", "direct_path": "/v/…", …}
//   download: GET https://<host><direct path>  (or the message's url)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/binary/node.h"
#include "wa/media/media_type.h"

namespace wa::media {

// --- media_conn (§7.1) ----------------------------------------------------------------------

struct MediaHost {
  std::string hostname;  // may carry a port: "127.0.0.1:7443"
  std::optional<std::uint64_t> max_content_length;
};

struct MediaConn {
  std::string auth;
  std::int64_t ttl = 0;  // seconds the answer may be cached
  std::int64_t auth_ttl = 0;
  std::int64_t max_buckets = 0;
  std::vector<MediaHost> hosts;
};

// <iq xmlns="w:m" type="set" to="s.whatsapp.net" id><media_conn/></iq>
binary::Node MediaConnQuery(std::string id);
// The <media_conn> inside an iq result. Strict like whatsmeow: auth, ttl, auth_ttl and
// max_buckets must be present (integers where numbers), and at least one host with a hostname.
base::Result<MediaConn> ParseMediaConn(const binary::Node& iq_result);
// The <media_conn> element a server answers with (every attribute whatsmeow requires).
binary::Node MediaConnElement(const MediaConn& conn);

// --- tokens and URLs -------------------------------------------------------------------------

// base64url(fileEncSha256) without padding.
std::string UploadToken(base::ByteView file_enc_sha256);
// Whether `token` (URI-decoded or not) is base64url(`file_enc_sha256`) with or without '='
// padding.
bool TokenMatches(std::string_view token, base::ByteView file_enc_sha256);

// JavaScript's encodeURIComponent: everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ) as %XX.
std::string PercentEncode(std::string_view text);
// %XX decoding ('+' stays '+'); nullopt on a malformed escape.
std::optional<std::string> PercentDecode(std::string_view text);
// The first value of `key` in a query string "a=1&b=2", percent-decoded; nullopt when absent
// or malformed.
std::optional<std::string> QueryValue(std::string_view query, std::string_view key);

// https://<host><upload path>/<token>?auth=…&token=… (kNoUploadPath for types without one,
// kBadUrl for an empty host).
base::Result<std::string> UploadUrl(std::string_view host, MediaType type,
                                    base::ByteView file_enc_sha256, std::string_view auth);
// https://<host><direct path> (kBadUrl unless the direct path starts with '/').
base::Result<std::string> DownloadUrl(std::string_view host, std::string_view direct_path);
// What a receiver fetches for a message (whatsmeow's choice): its `url` when it is https and not
// on web.whatsapp.net, else `host` + `direct_path`. kBadUrl when neither is usable.
base::Result<std::string> ChooseDownloadUrl(std::string_view url, std::string_view direct_path,
                                            std::string_view host);

// The parts of an https URL: host (with its port, if any) and target (path and query).
struct UrlParts {
  std::string scheme;  // "https" or "http"
  std::string host;    // "mmg.whatsapp.net", "127.0.0.1:7443", "[::1]:80"
  std::string target;  // "/v/t62…?ccb=…"; "/" when the URL has no path
};
base::Result<UrlParts> SplitUrl(std::string_view url);

// --- the upload's answer ---------------------------------------------------------------------

struct UploadResult {
  std::string url;
  std::string direct_path;
  std::string handle;     // newsletter (unencrypted) uploads
  std::string meta_hmac;  // Baileys reads these when present
  std::string fbid;
  std::string ts;
};
// kBadUploadResponse unless `body` is a JSON object with a non-empty url or direct_path.
base::Result<UploadResult> ParseUploadResponse(std::string_view body);

// --- the media host's side -------------------------------------------------------------------

// An upload request target "/mms/<kind>/<token>?auth=…&token=…" taken apart. The path's kind is
// any segment (wasim accepts any /mms/<type>/<token>, 02 §7.4).
struct UploadTarget {
  std::string prefix;       // "/mms/image", "/product/image", …
  std::string kind;         // the last segment of the prefix: "image", "md-msg-hist", …
  std::string path_token;   // URI-decoded
  std::string query_token;  // URI-decoded; empty when absent
  std::string auth;         // URI-decoded; empty when absent
};
std::optional<UploadTarget> ParseUploadTarget(std::string_view target);

}  // namespace wa::media
