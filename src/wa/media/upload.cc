#include "wa/media/upload.h"

#include <algorithm>
#include <boost/json.hpp>

#include "wa/binary/jid.h"
#include "wa/media/errors.h"

namespace wa::media {

using binary::Node;

// --- media_conn -----------------------------------------------------------------------------

Node MediaConnQuery(std::string id) {
  return Node(
      "iq",
      {{"id", std::move(id)}, {"xmlns", "w:m"}, {"type", "set"}, {"to", binary::Jid::Server()}},
      {Node("media_conn")});
}

base::Result<MediaConn> ParseMediaConn(const Node& iq_result) {
  const Node* mc = iq_result.tag == "media_conn" ? &iq_result : iq_result.Child("media_conn");
  if (!mc) return MakeError(Errc::kBadMediaConn);
  auto attrs = mc->Attrs();
  MediaConn out;
  out.auth = std::string(attrs.String("auth"));
  out.ttl = attrs.Int64("ttl");
  out.auth_ttl = attrs.Int64("auth_ttl");
  out.max_buckets = attrs.Int64("max_buckets");
  if (!attrs.ok() || out.auth.empty()) return MakeError(Errc::kBadMediaConn);
  for (const Node* host : mc->ChildrenByTag("host")) {
    auto h = host->Attrs();
    MediaHost entry;
    entry.hostname = std::string(h.String("hostname"));
    entry.max_content_length = h.OptionalUint64("maxContentLengthBytes");
    if (!h.ok() || entry.hostname.empty()) return MakeError(Errc::kBadMediaConn);
    out.hosts.push_back(std::move(entry));
  }
  if (out.hosts.empty()) return MakeError(Errc::kNoHosts);
  return out;
}

Node MediaConnElement(const MediaConn& conn) {
  Node::Children hosts;
  for (const auto& h : conn.hosts) {
    std::vector<binary::Attr> attrs{{"hostname", h.hostname}};
    if (h.max_content_length) {
      attrs.push_back({"maxContentLengthBytes", std::to_string(*h.max_content_length)});
    }
    hosts.emplace_back("host", std::move(attrs));
  }
  return Node("media_conn",
              {{"auth", conn.auth},
               {"ttl", std::to_string(conn.ttl)},
               {"auth_ttl", std::to_string(conn.auth_ttl)},
               {"max_buckets", std::to_string(conn.max_buckets)}},
              std::move(hosts));
}

// --- tokens and URLs -------------------------------------------------------------------------

std::string UploadToken(base::ByteView file_enc_sha256) {
  return base::ToBase64Url(file_enc_sha256);
}

bool TokenMatches(std::string_view token, base::ByteView file_enc_sha256) {
  std::string decoded;
  if (token.find('%') != std::string_view::npos) {
    auto d = PercentDecode(token);
    if (!d) return false;
    decoded = std::move(*d);
    token = decoded;
  }
  // base64url of 32 bytes is 43 characters plus one '=' of padding.
  if (token.size() == 44 && token.back() == '=') token.remove_suffix(1);
  return token == UploadToken(file_enc_sha256);
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.' || c == '!' || c == '~' || c == '*' || c == '\'' ||
                c == '(' || c == ')';
    if (keep) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> PercentDecode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    int hi = hex(text[i + 1]), lo = hex(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi << 4 | lo);
    i += 2;
  }
  return out;
}

std::optional<std::string> QueryValue(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == key) {
      if (eq == std::string_view::npos) return std::string();
      return PercentDecode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

namespace {

bool ValidHost(std::string_view host) {
  return !host.empty() && std::none_of(host.begin(), host.end(), [](unsigned char c) {
    return c <= ' ' || c == '/' || c == '?' || c == '#' || c == '@' || c >= 0x7f;
  });
}

bool ValidTarget(std::string_view target) {
  return !target.empty() && target.front() == '/' &&
         std::none_of(target.begin(), target.end(),
                      [](unsigned char c) { return c <= ' ' || c >= 0x7f; });
}

}  // namespace

base::Result<std::string> UploadUrl(std::string_view host, MediaType type,
                                    base::ByteView file_enc_sha256, std::string_view auth) {
  const auto& info = Info(type);
  if (info.upload_path.empty()) return MakeError(Errc::kNoUploadPath);
  if (!ValidHost(host)) return MakeError(Errc::kBadUrl);
  std::string token = UploadToken(file_enc_sha256);
  std::string url = "https://";
  url += host;
  url += info.upload_path;
  url += '/';
  url += token;
  url += "?auth=";
  url += PercentEncode(auth);
  url += "&token=";
  url += token;
  return url;
}

base::Result<std::string> DownloadUrl(std::string_view host, std::string_view direct_path) {
  if (!ValidHost(host) || !ValidTarget(direct_path)) return MakeError(Errc::kBadUrl);
  return "https://" + std::string(host) + std::string(direct_path);
}

base::Result<std::string> ChooseDownloadUrl(std::string_view url, std::string_view direct_path,
                                            std::string_view host) {
  if (!url.empty() && url.substr(0, 24) != "https://web.whatsapp.net") {
    auto parts = SplitUrl(url);
    if (parts && parts->scheme == "https") return std::string(url);
  }
  return DownloadUrl(host, direct_path);
}

base::Result<UrlParts> SplitUrl(std::string_view url) {
  UrlParts parts;
  if (url.substr(0, 8) == "https://") {
    parts.scheme = "https";
    url.remove_prefix(8);
  } else if (url.substr(0, 7) == "http://") {
    parts.scheme = "http";
    url.remove_prefix(7);
  } else {
    return MakeError(Errc::kBadUrl);
  }
  auto end = url.find_first_of("/?#");
  parts.host = std::string(url.substr(0, end));
  std::string_view rest = end == std::string_view::npos ? std::string_view{} : url.substr(end);
  if (auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  if (rest.empty() || rest.front() != '/') {
    parts.target = "/" + std::string(rest);
  } else {
    parts.target = std::string(rest);
  }
  if (!ValidHost(parts.host) || !ValidTarget(parts.target)) return MakeError(Errc::kBadUrl);
  return parts;
}

// --- the upload's answer ---------------------------------------------------------------------

base::Result<UploadResult> ParseUploadResponse(std::string_view body) {
  boost::system::error_code ec;
  auto value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) return MakeError(Errc::kBadUploadResponse);
  const auto& o = value.as_object();
  // fbid and ts may be numbers.
  auto field = [&o](std::string_view key, bool number_ok = false) -> std::string {
    auto* v = o.if_contains(key);
    if (!v) return {};
    if (v->is_string()) return std::string(v->as_string());
    if (number_ok && v->is_int64()) return std::to_string(v->as_int64());
    if (number_ok && v->is_uint64()) return std::to_string(v->as_uint64());
    return {};
  };
  UploadResult r{field("url"),       field("direct_path"), field("handle"),
                 field("meta_hmac"), field("fbid", true),  field("ts", true)};
  if (r.url.empty() && r.direct_path.empty()) return MakeError(Errc::kBadUploadResponse);
  return r;
}

// --- the media host's side -------------------------------------------------------------------

std::optional<UploadTarget> ParseUploadTarget(std::string_view target) {
  auto q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  auto slash = path.rfind('/');
  if (path.empty() || path.front() != '/' || slash == 0 || slash == std::string_view::npos ||
      slash + 1 == path.size()) {
    return std::nullopt;
  }
  UploadTarget out;
  out.prefix = std::string(path.substr(0, slash));
  out.kind = out.prefix.substr(out.prefix.rfind('/') + 1);
  auto token = PercentDecode(path.substr(slash + 1));
  if (!token || out.kind.empty()) return std::nullopt;
  out.path_token = std::move(*token);
  out.auth = QueryValue(query, "auth").value_or("");
  out.query_token = QueryValue(query, "token").value_or("");
  return out;
}

}  // namespace wa::media
