#include "sim/control_api.h"

#include <boost/json.hpp>

#include "base/bytes.h"
#include "base/http/problem.h"
#include "sim/world.h"

namespace sim {

namespace asio = boost::asio;
namespace json = boost::json;
namespace bhttp = boost::beast::http;
using base::http::Context;
using base::http::Response;

namespace {

Response Problem(const Context& ctx, const ControlError& e) {
  return base::http::Problem(ctx.request, static_cast<bhttp::status>(e.status), e.code, e.detail);
}

Response Ok(const Context& ctx, bhttp::status status, const json::value& body) {
  return base::http::Json(ctx.request, status, json::serialize(body));
}

// Parses the body as a JSON object; nullopt after filling `error`.
std::optional<json::object> Body(const Context& ctx, Response* error) {
  json::error_code ec;
  auto v = json::parse(ctx.request.body(), ec);
  if (ec || !v.is_object()) {
    *error = base::http::Problem(ctx.request, bhttp::status::bad_request, "invalid_json",
                                 "the body must be a JSON object");
    return std::nullopt;
  }
  return std::move(v.as_object());
}

std::optional<std::string> StringField(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return std::nullopt;
  return std::string(it->value().as_string());
}

json::object PhoneJson(const World::PhoneInfo& p) {
  return {{"phone", p.phone}, {"jid", p.jid}, {"lid", p.lid}, {"name", p.name}, {"duplicates", p.duplicates}};
}

}  // namespace

base::http::Router MakeControlRouter(World& world) {
  base::http::Router r;
  r.Add(bhttp::verb::get, "/v1/root-key", [&world](Context& ctx) -> asio::awaitable<Response> {
    co_return Ok(ctx, bhttp::status::ok,
                 json::object{{"public_key_hex", base::ToHex(world.noise_root().public_key)}});
  });

  r.Add(bhttp::verb::post, "/v1/phones", [&world](Context& ctx) -> asio::awaitable<Response> {
    Response err;
    auto body = Body(ctx, &err);
    if (!body) co_return err;
    auto phone = StringField(*body, "phone");
    if (!phone) {
      co_return base::http::Problem(ctx.request, bhttp::status::unprocessable_entity,
                                    "invalid_phone", "\"phone\" (a string of digits) is required");
    }
    auto created = world.CreatePhone(*phone, StringField(*body, "name").value_or(""));
    if (!created) co_return Problem(ctx, created.error());
    co_return Ok(ctx, bhttp::status::created, PhoneJson(*created));
  });

  r.Add(bhttp::verb::get, "/v1/phones/{phone}", [&world](Context& ctx) -> asio::awaitable<Response> {
    auto p = world.GetPhone(std::string(ctx.Param("phone")));
    if (!p) co_return Problem(ctx, p.error());
    co_return Ok(ctx, bhttp::status::ok, PhoneJson(*p));
  });

  r.Add(bhttp::verb::post, "/v1/phones/{phone}/scan",
        [&world](Context& ctx) -> asio::awaitable<Response> {
          Response err;
          auto body = Body(ctx, &err);
          if (!body) co_return err;
          auto qr = StringField(*body, "qr");
          if (!qr) {
            co_return base::http::Problem(ctx.request, bhttp::status::unprocessable_entity,
                                          "invalid_qr", "\"qr\" (the QR string) is required");
          }
          auto linked = co_await world.Scan(std::string(ctx.Param("phone")), *qr);
          if (!linked) co_return Problem(ctx, linked.error());
          co_return Ok(ctx, bhttp::status::ok, json::object{{"device_jid", *linked}});
        });

  r.Add(bhttp::verb::post, "/v1/phones/{phone}/pairing-code",
        [&world](Context& ctx) -> asio::awaitable<Response> {
          Response err;
          auto body = Body(ctx, &err);
          if (!body) co_return err;
          auto code = StringField(*body, "code");
          if (!code) {
            co_return base::http::Problem(ctx.request, bhttp::status::unprocessable_entity,
                                          "invalid_code",
                                          "\"code\" (the 8-character pairing code) is required");
          }
          auto linked = co_await world.EnterPairingCode(std::string(ctx.Param("phone")), *code);
          if (!linked) co_return Problem(ctx, linked.error());
          co_return Ok(ctx, bhttp::status::ok, json::object{{"device_jid", *linked}});
        });

  r.Add(bhttp::verb::get, "/v1/phones/{phone}/devices",
        [&world](Context& ctx) -> asio::awaitable<Response> {
          auto devices = world.Devices(std::string(ctx.Param("phone")));
          if (!devices) co_return Problem(ctx, devices.error());
          json::array out;
          for (const auto& d : *devices) {
            out.push_back(json::object{{"jid", d.jid},
                                       {"lid", d.lid},
                                       {"platform", d.platform},
                                       {"linked_at", d.linked_at},
                                       {"connected", d.connected}});
          }
          co_return Ok(ctx, bhttp::status::ok, out);
        });

  r.Add(bhttp::verb::delete_, "/v1/phones/{phone}/devices/{device}",
        [&world](Context& ctx) -> asio::awaitable<Response> {
          auto removed =
              world.Unlink(std::string(ctx.Param("phone")), std::string(ctx.Param("device")));
          if (!removed) co_return Problem(ctx, removed.error());
          Response res{bhttp::status::no_content, ctx.request.version()};
          res.prepare_payload();
          co_return res;
        });

  r.Add(bhttp::verb::get, "/v1/stats", [&world](Context& ctx) -> asio::awaitable<Response> {
    const Stats& s = world.stats();
    json::object out{{"connections", s.connections_open},
                     {"connections_total", s.connections_total},
                     {"handshakes", s.handshakes},
                     {"devices", world.device_count()},
                     {"frames_in", s.frames_in},
                     {"frames_out", s.frames_out},
                     {"stanzas_routed", s.stanzas_routed},
                     {"pairings", s.pairings},
                     {"logins", s.logins},
                     {"login_failures", s.login_failures},
                     {"offline_queue_depth", world.offline_queue_depth()},
                     {"frames_lost", s.frames_lost},
                     {"frames_delayed", s.frames_delayed},
                     {"connections_refused", s.connections_refused},
                     {"connections_dropped", s.connections_dropped},
                     {"idle_closed", s.idle_closed}};
    AddMessagingStats(world, out);  // control_api_messages.cc
    co_return Ok(ctx, bhttp::status::ok, out);
  });

  // Faults (docs/sandbox.md, "Faults").
  auto faults_json = [&world] {
    return json::object{{"seed", world.faults().seed()},
                        {"active", world.faults().ActiveJson(std::chrono::steady_clock::now())}};
  };
  r.Add(bhttp::verb::post, "/v1/faults",
        [&world, faults_json](Context& ctx) -> asio::awaitable<Response> {
          Response err;
          auto body = Body(ctx, &err);
          if (!body) co_return err;
          auto request = ParseFaultRequest(*body);
          if (!request) {
            co_return base::http::Problem(ctx.request, bhttp::status::unprocessable_entity,
                                          "invalid_faults", request.error());
          }
          auto outcome = world.ApplyFaults(*request);
          if (!outcome) co_return Problem(ctx, outcome.error());
          auto out = faults_json();
          out["dropped"] = outcome->dropped;
          out["stream_errors"] = outcome->stream_errors;
          out["corruptions_pending"] = outcome->corruptions_pending;
          co_return Ok(ctx, bhttp::status::ok, out);
        });
  r.Add(bhttp::verb::get, "/v1/faults", [faults_json](Context& ctx) -> asio::awaitable<Response> {
    co_return Ok(ctx, bhttp::status::ok, faults_json());
  });
  r.Add(bhttp::verb::delete_, "/v1/faults", [&world](Context& ctx) -> asio::awaitable<Response> {
    world.faults().Clear();
    Response res{bhttp::status::no_content, ctx.request.version()};
    res.prepare_payload();
    co_return res;
  });
  AddMessagingRoutes(r, world);
  return r;
}

}  // namespace sim
