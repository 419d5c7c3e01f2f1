// /v1/auth/*, /v1/me, /v1/api-keys and the operator's /v1/admin/accounts/{id}/(un)suspend.
#pragma once

#include <string>

#include "base/http/router.h"
#include "gateway/accounts/service.h"

namespace gateway::api {

struct AccountRoutesOptions {
  // The operator API's bearer token; empty disables /v1/admin (403 operator_api_disabled).
  std::string operator_token;
  // Cookie lifetime, matching the service's web_session_ttl.
  std::chrono::seconds cookie_max_age{14 * 24 * 3600};
};

void AddAccountRoutes(base::http::Router& router, accounts::AccountService& accounts,
                      AccountRoutesOptions options);

}  // namespace gateway::api
