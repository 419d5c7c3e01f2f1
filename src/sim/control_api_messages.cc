// Messaging routes of the control API (docs/sandbox.md): a phone sends text, lists what it
// received, marks messages read; any routed message can be inspected by id (which devices got
// it, as pkmsg or msg); /v1/stats gains the routing counters and queue depths.
#include <boost/json.hpp>
#include <charconv>

#include "base/http/problem.h"
#include "sim/control_api.h"
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

// The value of `key` in a query string "a=1&b=2" (no percent-decoding: values here are numbers).
std::optional<std::string_view> QueryParam(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == key) {
      return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

json::value MediaJson(const std::optional<InboxMedia>& m) {
  if (!m) return nullptr;
  json::object out{{"type", m->type},
                   {"mime", m->mime},
                   {"size", m->size},
                   {"sha256", m->sha256.empty() ? json::value(nullptr) : json::value(m->sha256)}};
  if (!m->caption.empty()) out["caption"] = m->caption;
  if (!m->file_name.empty()) out["file_name"] = m->file_name;
  if (m->ptt) out["ptt"] = true;
  if (!m->error.empty()) out["error"] = m->error;
  return out;
}

json::object InboxJson(const InboxEntry& e) {
  return {{"id", e.id},
          {"from", e.from},
          {"from_device", e.from_device},
          {"chat", e.chat},
          {"from_me", e.from_me},
          {"type", e.type},
          {"text", e.text},
          {"media", MediaJson(e.media)},
          {"timestamp", e.received_ms},
          {"t", e.t},
          {"enc", e.enc}};
}

// "media": {"type", "url", "caption"?, "file_name"?, "mime"?, "ptt"?, "seconds"?}; nullopt after
// filling `error`.
std::optional<World::MediaSend> ParseMediaSend(const Context& ctx, const json::value& v,
                                               Response* error) {
  auto bad = [&](std::string code, std::string detail) {
    *error = base::http::Problem(ctx.request, bhttp::status::unprocessable_entity, code, detail);
    return std::nullopt;
  };
  if (!v.is_object()) return bad("invalid_media", "\"media\" must be an object");
  const auto& o = v.as_object();
  World::MediaSend m;
  auto str = [&o](std::string_view key, std::string* out) {
    auto* f = o.if_contains(key);
    if (!f) return true;
    if (!f->is_string()) return false;
    *out = std::string(f->as_string());
    return true;
  };
  for (const auto& [key, _] : o) {
    if (key != "type" && key != "url" && key != "caption" && key != "file_name" && key != "mime" &&
        key != "ptt" && key != "seconds") {
      return bad("invalid_media", "unknown field media." + std::string(key));
    }
  }
  if (!str("type", &m.type) || m.type.empty()) {
    return bad("invalid_media_type",
               "\"media.type\" must be image, video, ptv, audio, document or sticker");
  }
  if (!str("url", &m.url) || m.url.empty()) {
    return bad("invalid_media_url",
               "\"media.url\" (an http(s) URL on a loopback host) is required");
  }
  if (!str("caption", &m.caption) || !str("file_name", &m.file_name) || !str("mime", &m.mime)) {
    return bad("invalid_media", "media.caption, media.file_name and media.mime must be strings");
  }
  if (auto* ptt = o.if_contains("ptt")) {
    if (!ptt->is_bool()) return bad("invalid_media", "media.ptt must be a boolean");
    m.ptt = ptt->as_bool();
  }
  if (auto* seconds = o.if_contains("seconds")) {
    if (!seconds->is_int64() || seconds->as_int64() < 0 || seconds->as_int64() > 86400) {
      return bad("invalid_media", "media.seconds must be an integer 0-86400");
    }
    m.seconds = static_cast<std::uint32_t>(seconds->as_int64());
  }
  return m;
}

}  // namespace

void AddMessagingStats(World& world, json::object& stats) {
  const MessagingStats& m = world.messaging_stats();
  auto q = world.queue_depths();
  stats["messages_routed"] = m.messages_routed;
  stats["receipts_routed"] = m.receipts_routed;
  stats["notifications_sent"] = m.notifications_sent;
  stats["enc"] = json::object{{"pkmsg", m.enc_pkmsg}, {"msg", m.enc_msg}, {"skmsg", m.enc_skmsg}};
  stats["bundles_served"] = m.bundles_served;
  stats["undeliverable"] = m.undeliverable;
  stats["offline_dropped"] = m.offline_dropped;
  stats["presence_relayed"] = m.presence_relayed;
  stats["chatstates_relayed"] = m.chatstates_relayed;
  stats["phone_decrypt_failures"] = m.phone_decrypt_failures;
  stats["phone_duplicates"] = m.phone_duplicates;
  stats["retry_receipts"] = m.retry_receipts;
  stats["usync_device_queries"] = m.usync_device_queries;
  stats["usync_device_users"] = m.usync_device_users;
  const MediaStats& media = world.media().stats();
  stats["media"] = json::object{{"conns_issued", media.conns_issued},
                                {"uploads", media.uploads},
                                {"upload_bytes", media.upload_bytes},
                                {"uploads_rejected", media.uploads_rejected},
                                {"downloads", media.downloads},
                                {"download_bytes", media.download_bytes},
                                {"download_misses", media.download_misses},
                                {"evictions", media.evictions},
                                {"blobs", world.media().blob_count()},
                                {"stored_bytes", world.media().stored_bytes()},
                                {"capacity_bytes", world.media().options().capacity_bytes}};
  stats["queues"] = json::object{{"message", q.messages},
                                 {"receipt", q.receipts},
                                 {"notification", q.notifications},
                                 {"unacked", q.unacked}};
}

void AddMessagingRoutes(base::http::Router& r, World& world) {
  r.Add(
      bhttp::verb::post, "/v1/phones/{phone}/messages",
      [&world](Context& ctx) -> asio::awaitable<Response> {
        Response err;
        auto body = Body(ctx, &err);
        if (!body) co_return err;
        auto to = body->if_contains("to");
        auto text = body->if_contains("text");
        auto media = body->if_contains("media");
        if (!to || !to->is_string()) {
          co_return base::http::Problem(ctx.request, bhttp::status::unprocessable_entity,
                                        "invalid_recipient",
                                        "\"to\" (a phone number or user JID) is required");
        }
        if (media) {
          if (text) {
            co_return base::http::Problem(ctx.request, bhttp::status::unprocessable_entity,
                                          "invalid_media",
                                          "send either \"text\" or \"media\" (with "
                                          "media.caption), not both");
          }
          auto parsed = ParseMediaSend(ctx, *media, &err);
          if (!parsed) co_return err;
          auto sent = co_await world.SendMedia(std::string(ctx.Param("phone")),
                                               std::string(to->as_string()), std::move(*parsed));
          if (!sent) co_return Problem(ctx, sent.error());
          co_return Ok(ctx, bhttp::status::created, json::object{{"id", sent->id}, {"t", sent->t}});
        }
        if (!text || !text->is_string()) {
          co_return base::http::Problem(ctx.request, bhttp::status::unprocessable_entity,
                                        "invalid_text", "\"text\" (a string) is required");
        }
        auto sent = world.SendText(std::string(ctx.Param("phone")), std::string(to->as_string()),
                                   std::string(text->as_string()));
        if (!sent) co_return Problem(ctx, sent.error());
        co_return Ok(ctx, bhttp::status::created, json::object{{"id", sent->id}, {"t", sent->t}});
      });

  r.Add(bhttp::verb::get, "/v1/phones/{phone}/messages",
        [&world](Context& ctx) -> asio::awaitable<Response> {
          std::int64_t since = 0;
          if (auto text = QueryParam(ctx.query, "since")) {
            auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), since);
            if (ec != std::errc() || end != text->data() + text->size() || since < 0) {
              co_return base::http::Problem(ctx.request, bhttp::status::unprocessable_entity,
                                            "invalid_since",
                                            "\"since\" must be a unix time in milliseconds");
            }
          }
          auto inbox = world.Inbox(std::string(ctx.Param("phone")), since);
          if (!inbox) co_return Problem(ctx, inbox.error());
          json::array out;
          for (const auto& e : *inbox) out.push_back(InboxJson(e));
          co_return Ok(ctx, bhttp::status::ok, out);
        });

  r.Add(bhttp::verb::get, "/v1/phones/{phone}/chatstates",
        [&world](Context& ctx) -> asio::awaitable<Response> {
          auto states = world.ChatStates(std::string(ctx.Param("phone")));
          if (!states) co_return Problem(ctx, states.error());
          json::array out;
          for (const auto& s : *states) {
            out.push_back(json::object{{"from", s.from}, {"state", s.state}, {"timestamp", s.timestamp_ms}});
          }
          co_return Ok(ctx, bhttp::status::ok, out);
        });

  r.Add(bhttp::verb::post, "/v1/phones/{phone}/read",
        [&world](Context& ctx) -> asio::awaitable<Response> {
          Response err;
          auto body = Body(ctx, &err);
          if (!body) co_return err;
          auto ids = body->if_contains("ids");
          std::vector<std::string> list;
          bool valid = ids && ids->is_array();
          if (valid) {
            for (const auto& v : ids->as_array()) {
              if (!v.is_string() || v.as_string().empty()) {
                valid = false;
                break;
              }
              list.emplace_back(v.as_string());
            }
          }
          if (!valid) {
            co_return base::http::Problem(ctx.request, bhttp::status::unprocessable_entity,
                                          "invalid_ids",
                                          "\"ids\" must be an array of message id strings");
          }
          auto read = world.MarkRead(std::string(ctx.Param("phone")), list);
          if (!read) co_return Problem(ctx, read.error());
          co_return Ok(ctx, bhttp::status::ok, json::object{{"receipts", *read}});
        });

  // History sync (world_history.cc): seed synthetic conversations, see what was sent and which
  // hist_sync receipts came back.
  r.Add(bhttp::verb::post, "/v1/phones/{phone}/history",
        [&world](Context& ctx) -> asio::awaitable<Response> {
          Response err;
          auto body = Body(ctx, &err);
          if (!body) co_return err;
          HistorySeed seed;
          auto number = [&](std::string_view key, int& out) {
            auto v = body->if_contains(key);
            if (!v) return true;
            if (!v->is_int64() || v->as_int64() < 0 || v->as_int64() > 10'000'000) return false;
            out = static_cast<int>(v->as_int64());
            return true;
          };
          if (!number("conversations", seed.conversations) ||
              !number("messages", seed.messages) ||
              !number("chunk_conversations", seed.chunk_conversations)) {
            co_return base::http::Problem(ctx.request, bhttp::status::unprocessable_entity,
                                          "invalid_history_seed",
                                          "conversations, messages and chunk_conversations "
                                          "must be non-negative integers");
          }
          auto seeded = world.SeedHistory(std::string(ctx.Param("phone")), seed);
          if (!seeded) co_return Problem(ctx, seeded.error());
          co_return Ok(ctx, bhttp::status::ok,
                       json::object{{"conversations", seed.conversations},
                                    {"messages", seed.messages},
                                    {"chunk_conversations", seed.chunk_conversations}});
        });

  r.Add(bhttp::verb::get, "/v1/phones/{phone}/history",
        [&world](Context& ctx) -> asio::awaitable<Response> {
          auto phone = world.HistoryOf(std::string(ctx.Param("phone")));
          if (!phone) co_return Problem(ctx, phone.error());
          const Phone& p = **phone;
          json::array sent, receipts;
          for (const auto& n : p.history_sent) {
            sent.push_back(json::object{{"id", n.id},
                                        {"device", n.device},
                                        {"sync_type", n.sync_type},
                                        {"chunk_order", n.chunk_order},
                                        {"progress", n.progress},
                                        {"conversations", n.conversations},
                                        {"messages", n.messages},
                                        {"blob_bytes", n.blob_bytes}});
          }
          for (const auto& r : p.history_receipts) {
            receipts.push_back(json::object{{"id", r.id}, {"device", r.device}, {"t", r.t}});
          }
          co_return Ok(ctx, bhttp::status::ok,
                       json::object{{"seed",
                                     json::object{{"conversations", p.history_seed.conversations},
                                                  {"messages", p.history_seed.messages},
                                                  {"chunk_conversations",
                                                   p.history_seed.chunk_conversations}}},
                                    {"notifications", std::move(sent)},
                                    {"receipts", std::move(receipts)}});
        });

  r.Add(bhttp::verb::get, "/v1/messages/{id}", [&world](Context& ctx) -> asio::awaitable<Response> {
    const RoutedMessage* m = world.FindRouted(ctx.Param("id"));
    if (!m) {
      co_return base::http::Problem(ctx.request, bhttp::status::not_found, "message_not_found",
                                    "no recently routed message has this id");
    }
    json::array deliveries;
    for (const auto& d : m->deliveries) {
      deliveries.push_back(json::object{{"device", d.device}, {"enc", d.enc}});
    }
    co_return Ok(ctx, bhttp::status::ok,
                 json::object{{"id", m->id},
                              {"from", m->from},
                              {"to", m->to},
                              {"t", m->t},
                              {"deliveries", std::move(deliveries)}});
  });
}

}  // namespace sim
