// RFC 9457 problem details: every error answer of the API is application/problem+json with a
// stable machine-readable `code` (docs/api.md lists them).
#pragma once

#include <string>
#include <string_view>

#include "base/http/types.h"

namespace base::http {

Response Problem(const Request& req, beast_http::status status, std::string_view code,
                 std::string_view detail);

// An error decided below the HTTP handlers (a service's refusal), answered as problem+json.
struct ApiError {
  beast_http::status status = beast_http::status::internal_server_error;
  std::string code;
  std::string detail;
  int retry_after_s = 0;  // > 0: a Retry-After header
};
Response Problem(const Request& req, const ApiError& error);

Response Json(const Request& req, beast_http::status status, std::string body);

}  // namespace base::http
