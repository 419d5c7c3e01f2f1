#include "sim/media_http.h"

#include <boost/json.hpp>
#include <charconv>

namespace sim {

namespace {

bool Starts(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

MediaReply Json(unsigned status, const boost::json::object& body) {
  MediaReply r;
  r.status = status;
  r.content_type = "application/json";
  r.text = boost::json::serialize(body);
  return r;
}

MediaReply Text(unsigned status, std::string text) {
  MediaReply r;
  r.status = status;
  r.content_type = "text/plain";
  r.text = std::move(text);
  return r;
}

std::optional<std::uint64_t> Number(std::string_view s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// A single "bytes=a-b", "bytes=a-" or "bytes=-n" range of a `size`-byte blob as [first, last].
// nullopt: serve the whole blob (no usable Range); {1, 0}: unsatisfiable.
std::optional<std::pair<std::uint64_t, std::uint64_t>> ParseRange(std::string_view header,
                                                                  std::uint64_t size) {
  if (!Starts(header, "bytes=")) return std::nullopt;
  header.remove_prefix(6);
  if (header.find(',') != std::string_view::npos) return std::nullopt;  // multipart: not offered
  auto dash = header.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto a = header.substr(0, dash), b = header.substr(dash + 1);
  std::pair<std::uint64_t, std::uint64_t> unsatisfiable{1, 0};
  if (a.empty()) {  // the last n bytes
    auto n = Number(b);
    if (!n) return std::nullopt;
    if (*n == 0 || size == 0) return unsatisfiable;
    return std::pair{size - std::min(*n, size), size - 1};
  }
  auto first = Number(a);
  if (!first) return std::nullopt;
  std::uint64_t last = size == 0 ? 0 : size - 1;
  if (!b.empty()) {
    auto l = Number(b);
    if (!l || *l < *first) return std::nullopt;
    last = std::min(*l, last);
  }
  if (*first >= size) return unsatisfiable;
  return std::pair{*first, last};
}

}  // namespace

bool IsMediaPath(std::string_view path) {
  for (std::string_view prefix : {"/mms/", "/v/", "/product/", "/pps/", "/newsletter/"}) {
    if (Starts(path, prefix)) return true;
  }
  return false;
}

MediaReply HandleMediaRequest(MediaStore& store, MediaRequest request,
                              std::chrono::steady_clock::time_point now) {
  std::string_view path = request.target.substr(0, request.target.find('?'));
  if (Starts(path, "/v/")) {
    if (request.method != "GET" && request.method != "HEAD") {
      MediaReply r = Text(405, "media downloads are GET or HEAD\n");
      r.headers.emplace_back("Allow", "GET, HEAD");
      return r;
    }
    auto blob = store.Find(request.target, request.method == "GET");
    if (!blob) return Text(404, "no such media (unknown, or evicted from wasim's store)\n");
    MediaReply r;
    r.content_type = "application/octet-stream";  // the encrypted file: no media type applies
    r.headers.emplace_back("Accept-Ranges", "bytes");
    r.blob = std::move(blob);
    r.length = r.blob->size();
    if (!request.range.empty()) {
      if (auto range = ParseRange(request.range, r.blob->size())) {
        if (range->first > range->second) {
          MediaReply bad = Text(416, "range not satisfiable\n");
          bad.headers.emplace_back("Content-Range", "bytes */" + std::to_string(r.blob->size()));
          return bad;
        }
        r.status = 206;
        r.offset = range->first;
        r.length = range->second - range->first + 1;
        r.headers.emplace_back("Content-Range", "bytes " + std::to_string(range->first) + "-" +
                                                    std::to_string(range->second) + "/" +
                                                    std::to_string(r.blob->size()));
      }
    }
    return r;
  }
  if (request.method != "POST") {
    MediaReply r = Text(405, "media uploads are POST\n");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  auto stored = store.Upload(request.target, std::move(request.body), now);
  if (!stored) {
    const MediaError& e = stored.error();
    return Json(static_cast<unsigned>(e.status),
                {{"status", "error"}, {"code", e.code}, {"message", e.message}});
  }
  boost::json::object answer{{"url", stored->url}, {"direct_path", stored->direct_path}};
  if (!stored->handle.empty()) answer["handle"] = stored->handle;
  return Json(200, answer);
}

}  // namespace sim
