// RFC 9457 problem details: every error answer of the API is application/problem+json with a
// stable machine-readable `code` (docs/api.md lists them).
#pragma once

#include <string_view>

#include "base/http/types.h"

namespace base::http {

Response Problem(const Request& req, beast_http::status status, std::string_view code,
                 std::string_view detail);

Response Json(const Request& req, beast_http::status status, std::string body);

}  // namespace base::http
