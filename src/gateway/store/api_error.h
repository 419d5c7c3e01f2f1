// The API's answer when the store fails: 503 store_unavailable with Retry-After: 1, and the
// cause in the log (never in the answer). `who` names the component in the log line.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

#include "base/http/problem.h"

namespace gateway::store {

inline base::http::ApiError StoreError(std::string_view who, const boost::system::error_code& ec) {
  spdlog::error("{}: store failed: {}", who, ec.message());
  return base::http::ApiError{base::http::beast_http::status::service_unavailable, "store_unavailable",
                              "the database did not answer; try again", 1};
}

}  // namespace gateway::store
