// Request bodies and response helpers shared by the API's handlers: a JSON object or a
// problem+json answer that says what is wrong (invalid_json 400, unsupported_media_type 415,
// validation_failed 422 naming the field).
#pragma once

#include <boost/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/http/problem.h"
#include "base/http/types.h"

namespace gateway::api {

namespace http = base::http;
using status = http::beast_http::status;

// The body as a JSON object, or the error answer to send.
std::variant<boost::json::object, http::Response> ParseObject(const http::Context& ctx);

// Typed field access that records the first problem; Done() gives the 422 answer if any.
class Fields {
 public:
  Fields(const http::Request& req, const boost::json::object& body) : req_(req), body_(body) {}

  // Required strings must be present and non-empty.
  std::string String(std::string_view name, bool required, std::size_t max_len = 4096);
  bool Bool(std::string_view name, bool fallback);
  std::vector<std::string> Strings(std::string_view name, std::size_t max_items = 1000);
  // Fields not among `known` are refused (a typo should not be silently ignored).
  void OnlyKnown(std::initializer_list<std::string_view> known);

  std::optional<http::Response> Done() const;

 private:
  void Fail(std::string_view name, std::string detail);

  const http::Request& req_;
  const boost::json::object& body_;
  std::optional<std::pair<std::string, std::string>> error_;  // field, detail
};

http::Response JsonResponse(const http::Request& req, status code, const boost::json::value& body);

// A header's value from the request ("" when absent).
std::string Header(const http::Request& req, std::string_view name);
// One cookie's value ("" when absent).
std::string Cookie(const http::Request& req, std::string_view name);

// RFC 3339 UTC with milliseconds, e.g. "2026-11-25T16:20:00.123Z".
std::string Rfc3339(std::int64_t unix_ms);

}  // namespace gateway::api
