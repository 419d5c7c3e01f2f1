#include "gateway/api/message_routes.h"

#include <openssl/sha.h>

#include <charconv>
#include <ctime>

#include "base/bytes.h"
#include "gateway/api/json.h"
#include "gateway/api/session_scope.h"
#include "gateway/store/message_json.h"

namespace gateway::api {

namespace asio = boost::asio;
namespace json = boost::json;
using verb = http::beast_http::verb;

namespace {

// A SHA-256 over what makes two sends the same request: the session, and the body as sent.
std::string RequestHash(const std::string& session_id, const std::string& body) {
  std::string material = session_id + "\n" + body;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(material.data()), material.size(), digest);
  return base::ToHex(base::ByteView(digest, sizeof digest));
}

bool ValidIdempotencyKey(const std::string& key) {
  if (key.empty() || key.size() > 255) return false;
  return std::all_of(key.begin(), key.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

json::object AcceptedJson(const store::MessageRow& m) {
  return json::object{{"id", m.id},
                      {"wa_id", m.wa_id},
                      {"session_id", m.session_id},
                      {"status", "queued"},
                      {"to", store::PeerJson(m.chat_jid, "", "", "")},
                      {"created_at", store::Rfc3339Ms(m.created_ms)}};
}

std::optional<int> ParseLimit(const std::string& text) {
  if (text.empty()) return 50;
  int limit = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
  if (ec != std::errc() || end != text.data() + text.size() || limit < 1 || limit > 200) return std::nullopt;
  return limit;
}

}  // namespace

std::optional<std::int64_t> ParseRfc3339(std::string_view t) {
  auto num = [&](std::size_t at, std::size_t len) -> std::optional<int> {
    if (at + len > t.size()) return std::nullopt;
    int v = 0;
    auto [end, ec] = std::from_chars(t.data() + at, t.data() + at + len, v);
    if (ec != std::errc() || end != t.data() + at + len) return std::nullopt;
    return v;
  };
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't') || t[13] != ':' || t[16] != ':') {
    return std::nullopt;
  }
  auto y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2), s = num(17, 2);
  if (!y || !mo || !d || !h || !mi || !s || *mo < 1 || *mo > 12 || *d < 1 || *d > 31 || *h > 23 || *mi > 59 || *s > 60) {
    return std::nullopt;
  }
  std::size_t i = 19;
  int ms = 0;
  if (i < t.size() && t[i] == '.') {
    std::size_t digits = 0;
    ++i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
      if (digits < 3) ms = ms * 10 + (t[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return std::nullopt;
    for (std::size_t k = digits; k < 3; ++k) ms *= 10;
  }
  int offset_min = 0;
  if (i < t.size() && (t[i] == 'Z' || t[i] == 'z') && i + 1 == t.size()) {
  } else if (i + 6 == t.size() && (t[i] == '+' || t[i] == '-') && t[i + 3] == ':') {
    auto oh = num(i + 1, 2), om = num(i + 4, 2);
    if (!oh || !om || *oh > 23 || *om > 59) return std::nullopt;
    offset_min = (*oh * 60 + *om) * (t[i] == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = *y - 1900;
  tm.tm_mon = *mo - 1;
  tm.tm_mday = *d;
  tm.tm_hour = *h;
  tm.tm_min = *mi;
  tm.tm_sec = *s;
  std::int64_t secs = timegm(&tm);
  return (secs - static_cast<std::int64_t>(offset_min) * 60) * 1000 + ms;
}

void AddMessageRoutes(http::Router& router, accounts::AccountService& accounts,
                      sessions::SessionManager& sessions, outbox::Outbox& outbox) {
  router.Add(verb::post, "/v1/sessions/{id}/messages", [&accounts, &sessions, &outbox](http::Context& ctx) {
    return WithSession(ctx, accounts, true, [&accounts, &sessions, &outbox](http::Context& ctx, const Caller& caller, std::string id) -> asio::awaitable<http::Response> {
      std::string key = Header(ctx.request, "Idempotency-Key");
      if (!key.empty() && !ValidIdempotencyKey(key)) {
        co_return http::Problem(ctx.request, status::unprocessable_entity, "invalid_idempotency_key",
                                "Idempotency-Key must be 1 to 255 printable ASCII characters");
      }
      auto parsed = ParseObject(ctx);
      if (auto* res = std::get_if<http::Response>(&parsed)) co_return std::move(*res);
      const auto& body = std::get<json::object>(parsed);
      Fields f(ctx.request, body);
      f.OnlyKnown({"to", "type", "text", "reply_to", "mentions", "expires_at"});
      outbox::SendRequest req;
      req.to = f.String("to", true, 256);
      req.type = f.String("type", false, 32);
      if (req.type.empty()) req.type = "text";
      req.text = f.String("text", true, 65536);
      req.reply_to = f.String("reply_to", false, 128);
      req.mentions = f.Strings("mentions", 256);
      std::string expires = f.String("expires_at", false, 64);
      if (auto bad = f.Done()) co_return std::move(*bad);
      if (!expires.empty()) {
        req.expires_ms = ParseRfc3339(expires);
        if (!req.expires_ms) {
          co_return http::Problem(ctx.request, status::unprocessable_entity, "invalid_expires_at",
                                  "expires_at must be an RFC 3339 time, e.g. 2026-11-25T20:00:00Z");
        }
      }
      auto running = sessions.Running(caller.principal.account_id, id);
      store::SessionRow row;
      if (running) {
        row = std::move(running->row);
      } else {
        auto view = co_await sessions.Get(caller.principal.account_id, id);
        if (!view) co_return http::Problem(ctx.request, view.error());
        row = std::move(view->row);
      }
      if (!key.empty()) {
        req.idempotency_key = key;
        req.request_hash = RequestHash(id, ctx.request.body());
      }
      req.monthly_limit = accounts.PlanOf(caller.principal)->messages_per_month;
      auto accepted = co_await outbox.Send(std::move(row), std::move(req));
      if (!accepted) co_return http::Problem(ctx.request, accepted.error());
      auto res = JsonResponse(ctx.request, status::accepted, AcceptedJson(accepted->message));
      res.set(http::beast_http::field::location, "/v1/sessions/" + id + "/messages/" + accepted->message.id);
      if (accepted->replayed) res.set("Idempotent-Replayed", "true");
      co_return res;
    });
  });

  router.Add(verb::get, "/v1/sessions/{id}/messages", [&accounts, &sessions, &outbox](http::Context& ctx) {
    return WithSession(ctx, accounts, false, [&sessions, &outbox](http::Context& ctx, const Caller& caller, std::string id) -> asio::awaitable<http::Response> {
      std::string direction = QueryParam(ctx.query, "direction");
      if (!direction.empty() && direction != "in" && direction != "out") {
        co_return http::Problem(ctx.request, status::unprocessable_entity, "invalid_direction",
                                "direction must be in or out");
      }
      auto limit = ParseLimit(QueryParam(ctx.query, "limit"));
      if (!limit) {
        co_return http::Problem(ctx.request, status::unprocessable_entity, "invalid_limit",
                                "limit must be an integer from 1 to 200");
      }
      std::string cursor = QueryParam(ctx.query, "cursor");
      std::int64_t before = 0;
      if (!cursor.empty()) {
        auto [end, ec] = std::from_chars(cursor.data(), cursor.data() + cursor.size(), before);
        if (ec != std::errc() || end != cursor.data() + cursor.size() || before <= 0) {
          co_return http::Problem(ctx.request, status::unprocessable_entity, "invalid_cursor",
                                  "cursor must be a next_cursor value of an earlier page");
        }
      }
      auto view = co_await sessions.Get(caller.principal.account_id, id);
      if (!view) co_return http::Problem(ctx.request, view.error());
      auto rows = co_await outbox.messages().ListMessages(caller.principal.account_id, id, direction,
                                                          before, *limit + 1);
      if (!rows) {
        co_return http::Problem(ctx.request, status::service_unavailable, "store_unavailable",
                                "the database did not answer; try again");
      }
      json::array data;
      for (int i = 0; i < static_cast<int>(rows->size()) && i < *limit; ++i) data.push_back(store::MessageJson((*rows)[i]));
      json::value next = nullptr;
      if (static_cast<int>(rows->size()) > *limit) next = std::to_string((*rows)[*limit - 1].n);
      co_return JsonResponse(ctx.request, status::ok, json::object{{"data", std::move(data)}, {"next_cursor", next}});
    });
  });

  router.Add(verb::get, "/v1/sessions/{id}/messages/{msg}", [&accounts, &sessions, &outbox](http::Context& ctx) {
    return WithSession(ctx, accounts, false, [&sessions, &outbox](http::Context& ctx, const Caller& caller, std::string id) -> asio::awaitable<http::Response> {
      auto view = co_await sessions.Get(caller.principal.account_id, id);
      if (!view) co_return http::Problem(ctx.request, view.error());
      std::string msg(ctx.Param("msg"));
      auto m = co_await outbox.Get(caller.principal.account_id, id, msg);
      if (!m) co_return http::Problem(ctx.request, m.error());
      co_return JsonResponse(ctx.request, status::ok, store::MessageJson(*m));
    });
  });

  router.Add(verb::delete_, "/v1/sessions/{id}/messages/{msg}", [&accounts, &sessions, &outbox](http::Context& ctx) {
    return WithSession(ctx, accounts, true, [&sessions, &outbox](http::Context& ctx, const Caller& caller, std::string id) -> asio::awaitable<http::Response> {
      auto view = co_await sessions.Get(caller.principal.account_id, id);
      if (!view) co_return http::Problem(ctx.request, view.error());
      std::string msg(ctx.Param("msg"));
      auto m = co_await outbox.Cancel(caller.principal.account_id, id, msg);
      if (!m) co_return http::Problem(ctx.request, m.error());
      co_return JsonResponse(ctx.request, status::ok, store::MessageJson(*m));
    });
  });

  router.Add(verb::get, "/v1/sessions/{id}/contacts/{phone}", [&accounts, &sessions, &outbox](http::Context& ctx) {
    return WithSession(ctx, accounts, false, [&sessions, &outbox](http::Context& ctx, const Caller& caller, std::string id) -> asio::awaitable<http::Response> {
      auto view = co_await sessions.Get(caller.principal.account_id, id);
      if (!view) co_return http::Problem(ctx.request, view.error());
      auto jid = outbox::RecipientJid(std::string(ctx.Param("phone")));
      if (!jid || jid->find("@s.whatsapp.net") == std::string::npos) {
        co_return http::Problem(ctx.request, status::unprocessable_entity, "invalid_phone",
                                "phone must be an international number, e.g. +15550001111");
      }
      std::string digits = jid->substr(0, jid->find('@'));
      // Only lookups that can reach WhatsApp draw on the budget.
      if (sessions.LiveStatus(id) != "connected") {
        co_return http::Problem(ctx.request, status::conflict, "not_connected",
                                "the session is not connected to WhatsApp");
      }
      if (auto budget = outbox.TakeLookup(id); !budget) co_return http::Problem(ctx.request, budget.error());
      std::vector<std::string> phones{digits};
      auto found = co_await sessions.Lookup(id, std::move(phones));
      if (!found) co_return http::Problem(ctx.request, found.error());
      bool exists = false;
      std::string wa_jid;
      for (const auto& c : *found) {
        if (c.exists) {
          exists = true;
          wa_jid = c.jid.ToString();
        }
      }
      co_return JsonResponse(ctx.request, status::ok,
                             json::object{{"phone", "+" + digits},
                                          {"on_whatsapp", exists},
                                          {"jid", exists ? json::value(wa_jid) : json::value(nullptr)}});
    });
  });

  router.Add(verb::get, "/v1/sessions/{id}/health", [&accounts, &sessions, &outbox](http::Context& ctx) {
    return WithSession(ctx, accounts, false, [&sessions, &outbox](http::Context& ctx, const Caller& caller, std::string id) -> asio::awaitable<http::Response> {
      auto view = co_await sessions.Get(caller.principal.account_id, id);
      if (!view) co_return http::Problem(ctx.request, view.error());
      auto h = co_await outbox.HealthOf(view->row);
      if (!h) co_return http::Problem(ctx.request, h.error());
      const auto& t = h->today;
      json::array reasons;
      for (const auto& r : h->reasons) reasons.emplace_back(r);
      json::object queue{{"depth", t.queued},
                         {"oldest_queued_at", t.oldest_queued_ms > 0 ? json::value(store::Rfc3339Ms(t.oldest_queued_ms)) : json::value(nullptr)}};
      json::object body{
          {"session_id", id},
          {"status", view->status},
          {"risk", h->risk},
          {"reasons", std::move(reasons)},
          {"today", json::object{{"sent", t.sent_since},
                                 {"first_contact", t.first_contacts_since},
                                 {"first_contact_share", t.sent_since > 0 ? static_cast<double>(t.first_contacts_since) / static_cast<double>(t.sent_since) : 0.0},
                                 {"received", t.received_since},
                                 {"failed", t.failed_since}}},
          {"limits", json::object{{"daily", h->daily_limit > 0 ? json::value(h->daily_limit) : json::value(nullptr)},
                                  {"first_contact_daily", h->first_contact_daily_limit > 0 ? json::value(h->first_contact_daily_limit) : json::value(nullptr)}}},
          {"queue", std::move(queue)}};
      co_return JsonResponse(ctx.request, status::ok, body);
    });
  });
}

}  // namespace gateway::api
