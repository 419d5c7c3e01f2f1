// What every /v1/sessions/{id}/... route starts with: the caller's authentication (Guard) and
// the key's session scope, so a session outside it answers 404 exactly like another account's.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <string>
#include <string_view>

#include "base/http/problem.h"
#include "base/http/types.h"
#include "gateway/accounts/service.h"
#include "gateway/api/auth.h"

namespace gateway::api {

// The raw value of `name` in a query string ("" when absent).
std::string QueryParam(std::string_view query, std::string_view name);

// Runs `body(ctx, caller, session_id)` for an authenticated caller allowed to see the session in
// the path's {id}; the caller's RateLimit-* headers go on the answer.
template <class Body>
boost::asio::awaitable<base::http::Response> WithSession(base::http::Context& ctx,
                                                         accounts::AccountService& accounts,
                                                         bool writes, Body body) {
  auto guard = co_await Guard(ctx, accounts, {.allow_cookie = true, .writes = writes});
  if (auto* res = std::get_if<base::http::Response>(&guard)) co_return std::move(*res);
  const Caller& caller = std::get<Caller>(guard);
  std::string id(ctx.Param("id"));
  if (!caller.principal.AllowsSession(id)) {
    auto res = base::http::Problem(ctx.request, base::http::beast_http::status::not_found, "not_found",
                                   "no such session");
    caller.Decorate(res);
    co_return res;
  }
  auto res = co_await body(ctx, caller, id);
  caller.Decorate(res);
  co_return res;
}

}  // namespace gateway::api
