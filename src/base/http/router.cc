#include "base/http/router.h"

namespace base::http {
namespace {

std::vector<std::string> Split(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    auto j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

// Percent-decodes one path segment ("%40" -> "@"); a malformed escape is kept as it is.
std::string DecodeSegment(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool MatchSegments(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
                   std::vector<std::pair<std::string, std::string>>* params) {
  if (pattern.size() != path.size()) return false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const auto& p = pattern[i];
    if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
      if (path[i].empty()) return false;
      if (params) params->emplace_back(p.substr(1, p.size() - 2), DecodeSegment(path[i]));
    } else if (p != path[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

void Router::Add(beast_http::verb method, std::string pattern, Handler handler) {
  auto segments = Split(pattern);
  routes_.push_back({method, std::move(pattern), std::move(segments), std::move(handler)});
}

Router::Match Router::Find(beast_http::verb method, std::string_view path) const {
  Match m;
  auto segments = Split(path);
  for (const auto& r : routes_) {
    if (!MatchSegments(r.segments, segments, nullptr)) continue;
    if (r.method == method || (method == beast_http::verb::head && r.method == beast_http::verb::get)) {
      m.handler = &r.handler;
      m.pattern = r.pattern;
      MatchSegments(r.segments, segments, &m.params);
      return m;
    }
    m.allowed.push_back(r.method);
  }
  return m;
}

}  // namespace base::http
