// The authentication every API route starts with: an API key (`Authorization: Bearer`) or the
// dashboard's cookie (with its CSRF token on unsafe methods); read-only keys refused on unsafe
// methods; the per-key request budget with its RateLimit-* headers. A handler calls Guard and
// either gets the caller or the finished error answer.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <variant>

#include "base/http/types.h"
#include "gateway/accounts/service.h"

namespace gateway::api {

inline constexpr const char* kSessionCookie = "wagate_session";
inline constexpr const char* kCsrfCookie = "wagate_csrf";
inline constexpr const char* kCsrfHeader = "X-CSRF-Token";

struct Caller {
  accounts::Principal principal;
  // Set on every answer to this request (RateLimit-*).
  std::vector<std::pair<std::string, std::string>> headers;

  void Decorate(base::http::Response& res) const;
};

struct GuardOptions {
  bool allow_cookie = true;  // the dashboard may call this route
  bool writes = false;       // an unsafe method: read-only keys and cookie calls without CSRF fail
};

boost::asio::awaitable<std::variant<Caller, base::http::Response>> Guard(
    base::http::Context& ctx, accounts::AccountService& accounts, GuardOptions options);

}  // namespace gateway::api
