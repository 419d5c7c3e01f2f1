// The OpenAPI 3.1 document of the HTTP API (openapi.json beside this file, embedded at build
// time), served at /v1/openapi.json. Tests keep it true: every route of the router is in it and
// every answer of the integration suites validates against it.
#pragma once

#include <string_view>

#include "base/http/router.h"

namespace gateway::api {

std::string_view OpenApiDocument();
void AddOpenApiRoute(base::http::Router& router);

}  // namespace gateway::api
