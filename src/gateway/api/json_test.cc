#include "gateway/api/json.h"

#include <gtest/gtest.h>

namespace gateway::api {
namespace {

http::Request WithBody(std::string body, std::string type = "application/json") {
  http::Request req{http::beast_http::verb::post, "/x", 11};
  if (!type.empty()) req.set(http::beast_http::field::content_type, type);
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

std::string CodeOf(const http::Response& res) {
  return std::string(boost::json::parse(res.body()).at("code").as_string());
}

TEST(Json, ParseObjectRefusesWhatIsNotAJsonObject) {
  struct Case {
    std::string body, type, code;
  } cases[] = {{"", "application/json", "invalid_json"},
               {"{", "application/json", "invalid_json"},
               {"[1]", "application/json", "invalid_json"},
               {"a=b", "application/x-www-form-urlencoded", "unsupported_media_type"}};
  for (const auto& c : cases) {
    auto req = WithBody(c.body, c.type);
    http::Context ctx{req, "r", "/x", "", {}, false, ""};
    auto parsed = ParseObject(ctx);
    ASSERT_TRUE(std::holds_alternative<http::Response>(parsed)) << c.body;
    EXPECT_EQ(CodeOf(std::get<http::Response>(parsed)), c.code) << c.body;
  }
  auto req = WithBody(R"({"a":1})", "application/json; charset=utf-8");
  http::Context ctx{req, "r", "/x", "", {}, false, ""};
  EXPECT_TRUE(std::holds_alternative<boost::json::object>(ParseObject(ctx)));
}

TEST(Json, FieldsReportTheFirstProblemWithItsField) {
  auto req = WithBody("{}");
  boost::json::object body{{"name", 5}, {"flag", true}, {"list", boost::json::array{"a", "b"}}};
  Fields f(req, body);
  EXPECT_TRUE(f.Bool("flag", false));
  EXPECT_EQ(f.Strings("list"), (std::vector<std::string>{"a", "b"}));
  f.String("name", true);
  f.String("missing", true);
  auto res = f.Done();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), status::unprocessable_entity);
  auto json = boost::json::parse(res->body());
  EXPECT_EQ(json.at("code").as_string(), "validation_failed");
  EXPECT_EQ(json.at("field").as_string(), "name");

  boost::json::object extra{{"name", "x"}, {"nmae", "typo"}};
  Fields g(req, extra);
  g.OnlyKnown({"name"});
  EXPECT_EQ(boost::json::parse(g.Done()->body()).at("field").as_string(), "nmae");
}

TEST(Json, CookiesAndTimes) {
  http::Request req{http::beast_http::verb::get, "/", 11};
  req.insert(http::beast_http::field::cookie, "a=1; wagate_session=tok; b=2");
  req.insert(http::beast_http::field::cookie, "c=3");
  EXPECT_EQ(Cookie(req, "wagate_session"), "tok");
  EXPECT_EQ(Cookie(req, "c"), "3");
  EXPECT_EQ(Cookie(req, "wagate"), "");
  EXPECT_EQ(Rfc3339(1764087600123), "2025-11-25T16:20:00.123Z");
  EXPECT_EQ(Rfc3339(0), "1970-01-01T00:00:00.000Z");
}

}  // namespace
}  // namespace gateway::api
