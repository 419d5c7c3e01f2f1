// Maps (method, path pattern) to handlers. Patterns are literal segments and `{name}` segments
// that capture one path segment: "/v1/sessions/{id}/messages". A path that matches no pattern is
// 404; one that matches with another method is 405 with an Allow header.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/http/types.h"

namespace base::http {

class Router {
 public:
  void Add(beast_http::verb method, std::string pattern, Handler handler);

  struct Match {
    const Handler* handler = nullptr;  // null: not found or method not allowed
    std::string pattern;               // the matched pattern (metrics label)
    std::vector<std::pair<std::string, std::string>> params;
    std::vector<beast_http::verb> allowed;  // non-empty when only the method was wrong
  };
  Match Find(beast_http::verb method, std::string_view path) const;

  struct Route {
    beast_http::verb method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
  };
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace base::http
