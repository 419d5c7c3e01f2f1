#include "gateway/api/json.h"

#include <ctime>

#include "gateway/store/message_json.h"

namespace gateway::api {

std::variant<boost::json::object, http::Response> ParseObject(const http::Context& ctx) {
  const auto& req = ctx.request;
  std::string type = Header(req, "Content-Type");
  auto semi = type.find(';');
  std::string mime = type.substr(0, semi);
  while (!mime.empty() && mime.back() == ' ') mime.pop_back();
  if (!req.body().empty() && !mime.empty() && mime != "application/json") {
    return http::Problem(req, status::unsupported_media_type, "unsupported_media_type",
                         "send the body as application/json");
  }
  if (req.body().empty()) {
    return http::Problem(req, status::bad_request, "invalid_json", "the body must be a JSON object");
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(req.body(), ec);
  if (ec) {
    return http::Problem(req, status::bad_request, "invalid_json",
                         "the body is not valid JSON: " + ec.message());
  }
  if (!v.is_object()) {
    return http::Problem(req, status::bad_request, "invalid_json", "the body must be a JSON object");
  }
  return std::move(v.as_object());
}

void Fields::Fail(std::string_view name, std::string detail) {
  if (!error_) error_.emplace(std::string(name), std::move(detail));
}

std::string Fields::String(std::string_view name, bool required, std::size_t max_len) {
  const auto* v = body_.if_contains(name);
  if (!v || v->is_null()) {
    if (required) Fail(name, std::string(name) + " is required");
    return {};
  }
  if (!v->is_string()) {
    Fail(name, std::string(name) + " must be a string");
    return {};
  }
  std::string s(v->as_string());
  if (required && s.empty()) Fail(name, std::string(name) + " must not be empty");
  if (s.size() > max_len) {
    Fail(name, std::string(name) + " is longer than " + std::to_string(max_len) + " bytes");
  }
  return s;
}

bool Fields::Bool(std::string_view name, bool fallback) {
  const auto* v = body_.if_contains(name);
  if (!v || v->is_null()) return fallback;
  if (!v->is_bool()) {
    Fail(name, std::string(name) + " must be true or false");
    return fallback;
  }
  return v->as_bool();
}

std::vector<std::string> Fields::Strings(std::string_view name, std::size_t max_items) {
  std::vector<std::string> out;
  const auto* v = body_.if_contains(name);
  if (!v || v->is_null()) return out;
  if (!v->is_array()) {
    Fail(name, std::string(name) + " must be an array of strings");
    return out;
  }
  if (v->as_array().size() > max_items) {
    Fail(name, std::string(name) + " has more than " + std::to_string(max_items) + " items");
    return out;
  }
  for (const auto& item : v->as_array()) {
    if (!item.is_string()) {
      Fail(name, std::string(name) + " must be an array of strings");
      return {};
    }
    out.emplace_back(item.as_string());
  }
  return out;
}

void Fields::OnlyKnown(std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : body_) {
    bool ok = false;
    for (auto k : known) ok = ok || k == key;
    if (!ok) Fail(key, "unknown field " + std::string(key));
  }
}

std::optional<http::Response> Fields::Done() const {
  if (!error_) return std::nullopt;
  auto res = http::Problem(req_, status::unprocessable_entity, "validation_failed", error_->second);
  // The offending field, for clients that highlight it.
  boost::json::value body = boost::json::parse(res.body());
  body.as_object()["field"] = error_->first;
  res.body() = boost::json::serialize(body);
  res.prepare_payload();
  return res;
}

http::Response JsonResponse(const http::Request& req, status code, const boost::json::value& body) {
  return http::Json(req, code, boost::json::serialize(body));
}

std::string Header(const http::Request& req, std::string_view name) {
  auto it = req.find(boost::beast::string_view(name.data(), name.size()));
  return it == req.end() ? std::string() : std::string(it->value());
}

std::string Cookie(const http::Request& req, std::string_view name) {
  auto [first, last] = req.equal_range(http::beast_http::field::cookie);
  for (auto it = first; it != last; ++it) {
    std::string_view all(it->value().data(), it->value().size());
    while (!all.empty()) {
      auto semi = all.find(';');
      std::string_view pair = all.substr(0, semi);
      all = semi == std::string_view::npos ? std::string_view() : all.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      auto eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
        return std::string(pair.substr(eq + 1));
      }
    }
  }
  return {};
}

std::string Rfc3339(std::int64_t unix_ms) { return store::Rfc3339Ms(unix_ms); }

}  // namespace gateway::api
