#include "base/http/router.h"

#include <gtest/gtest.h>

namespace base::http {
namespace {

Handler Noop() {
  return [](Context& ctx) -> boost::asio::awaitable<Response> { co_return Response{beast_http::status::ok, ctx.request.version()}; };
}

TEST(Router, MatchesLiteralAndParameterSegments) {
  Router r;
  r.Add(beast_http::verb::get, "/v1/sessions", Noop());
  r.Add(beast_http::verb::get, "/v1/sessions/{id}/messages/{msg}", Noop());
  auto m = r.Find(beast_http::verb::get, "/v1/sessions/s1/messages/m2");
  ASSERT_TRUE(m.handler);
  EXPECT_EQ(m.pattern, "/v1/sessions/{id}/messages/{msg}");
  ASSERT_EQ(m.params.size(), 2u);
  EXPECT_EQ(m.params[0], (std::pair<std::string, std::string>{"id", "s1"}));
  EXPECT_EQ(m.params[1], (std::pair<std::string, std::string>{"msg", "m2"}));
  EXPECT_TRUE(r.Find(beast_http::verb::get, "/v1/sessions/").handler);  // trailing slash
}

TEST(Router, DistinguishesNotFoundFromMethodNotAllowed) {
  Router r;
  r.Add(beast_http::verb::get, "/healthz", Noop());
  r.Add(beast_http::verb::post, "/healthz", Noop());
  auto missing = r.Find(beast_http::verb::get, "/nope");
  EXPECT_FALSE(missing.handler);
  EXPECT_TRUE(missing.allowed.empty());
  auto wrong = r.Find(beast_http::verb::delete_, "/healthz");
  EXPECT_FALSE(wrong.handler);
  EXPECT_EQ(wrong.allowed.size(), 2u);
  EXPECT_TRUE(r.Find(beast_http::verb::head, "/healthz").handler);  // HEAD served by GET
}

TEST(Router, ParametersArePercentDecoded) {
  Router r;
  r.Add(beast_http::verb::get, "/d/{jid}", Noop());
  auto m = r.Find(beast_http::verb::get, "/d/1555%3A2%40s.whatsapp.net");
  ASSERT_TRUE(m.handler);
  EXPECT_EQ(m.params[0].second, "1555:2@s.whatsapp.net");
  EXPECT_EQ(r.Find(beast_http::verb::get, "/d/a%4").params[0].second, "a%4");
}

TEST(Router, ParametersNeverMatchAcrossSegmentsOrEmpty) {
  Router r;
  r.Add(beast_http::verb::get, "/a/{id}", Noop());
  EXPECT_FALSE(r.Find(beast_http::verb::get, "/a/b/c").handler);
  EXPECT_FALSE(r.Find(beast_http::verb::get, "/a").handler);
}

}  // namespace
}  // namespace base::http
