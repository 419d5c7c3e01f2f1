#include "base/http/problem.h"

#include <boost/json.hpp>

namespace base::http {

Response Problem(const Request& req, beast_http::status status, std::string_view code,
                 std::string_view detail) {
  boost::json::object body;
  body["type"] = "https://whatsappapi.dev/problems/" + std::string(code);
  body["title"] = std::string(beast_http::obsolete_reason(status));
  body["status"] = static_cast<int>(status);
  body["code"] = code;
  body["detail"] = detail;
  Response res{status, req.version()};
  res.set(beast_http::field::content_type, "application/problem+json");
  res.body() = boost::json::serialize(body);
  res.prepare_payload();
  return res;
}

Response Problem(const Request& req, const ApiError& error) {
  Response res = Problem(req, error.status, error.code, error.detail);
  if (error.retry_after_s > 0) res.set(beast_http::field::retry_after, std::to_string(error.retry_after_s));
  return res;
}

Response Json(const Request& req, beast_http::status status, std::string body) {
  Response res{status, req.version()};
  res.set(beast_http::field::content_type, "application/json");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

}  // namespace base::http
