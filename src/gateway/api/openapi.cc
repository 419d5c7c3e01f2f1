#include "gateway/api/openapi.h"

#include "gateway/api/json.h"
#include "gateway/api/openapi_json.h"

namespace gateway::api {

std::string_view OpenApiDocument() { return kOpenApiJson; }

void AddOpenApiRoute(base::http::Router& router) {
  router.Add(http::beast_http::verb::get, "/v1/openapi.json",
             [](http::Context& ctx) -> boost::asio::awaitable<http::Response> {
               co_return http::Json(ctx.request, status::ok, std::string(OpenApiDocument()));
             });
}

}  // namespace gateway::api
