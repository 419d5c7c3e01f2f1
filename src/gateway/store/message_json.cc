#include "gateway/store/message_json.h"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <ctime>

namespace gateway::store {

namespace json = boost::json;

std::string Rfc3339Ms(std::int64_t unix_ms) {
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(unix_ms % 1000));
  return out;
}

namespace {

std::string UserOf(const std::string& jid) { return jid.substr(0, jid.find_first_of("@:")); }

bool IsPhoneJid(const std::string& jid) {
  return jid.size() > 15 && jid.compare(jid.size() - 15, 15, "@s.whatsapp.net") == 0;
}

bool IsLidJid(const std::string& jid) {
  return jid.size() > 4 && jid.compare(jid.size() - 4, 4, "@lid") == 0;
}

}  // namespace

json::object PeerJson(const std::string& jid, const std::string& pn_jid, const std::string& lid_jid,
                      const std::string& push_name) {
  json::object o;
  o["jid"] = jid;
  std::string pn = !pn_jid.empty() ? pn_jid : (IsPhoneJid(jid) ? jid : "");
  std::string lid = !lid_jid.empty() ? lid_jid : (IsLidJid(jid) ? jid : "");
  if (!pn.empty()) o["phone"] = "+" + UserOf(pn);
  if (!lid.empty()) o["lid"] = lid;
  if (!push_name.empty()) o["push_name"] = push_name;
  return o;
}

json::object MessageJson(const MessageRow& m) {
  json::object o;
  o["id"] = m.id;
  o["wa_id"] = m.wa_id;
  o["session_id"] = m.session_id;
  o["direction"] = m.direction;
  o["type"] = m.type;
  o["text"] = m.text;
  if (m.direction == "out") {
    o["to"] = PeerJson(m.chat_jid, "", "", "");
    o["chat"] = PeerJson(m.chat_jid, "", "", "");
  } else {
    bool direct = m.chat_jid == m.sender_pn || m.chat_jid == m.sender_lid;
    o["chat"] = direct ? PeerJson(m.chat_jid, m.sender_pn, m.sender_lid, "") : PeerJson(m.chat_jid, "", "", "");
    o["from"] = PeerJson(m.sender_pn.empty() && m.sender_lid.empty() ? m.chat_jid : (m.sender_pn.empty() ? m.sender_lid : m.sender_pn),
                         m.sender_pn, m.sender_lid, m.push_name);
  }
  if (!m.quoted_id.empty()) {
    json::object q{{"wa_id", m.quoted_id}};
    if (!m.quoted_participant.empty()) q["participant"] = m.quoted_participant;
    if (!m.quoted_text.empty()) q["text"] = m.quoted_text;
    o["reply_to"] = std::move(q);
  } else {
    o["reply_to"] = nullptr;
  }
  json::array mentions;
  for (const auto& j : m.mentions) mentions.emplace_back(j);
  o["mentions"] = std::move(mentions);
  o["status"] = m.status;
  o["source"] = m.source;
  if (!m.error_code.empty()) {
    o["error"] = json::object{{"code", m.error_code}, {"detail", m.error_detail}};
  } else {
    o["error"] = nullptr;
  }
  o["created_at"] = Rfc3339Ms(m.created_ms);
  o["updated_at"] = Rfc3339Ms(m.updated_ms);
  if (m.wa_timestamp > 0) o["timestamp"] = Rfc3339Ms(m.wa_timestamp * 1000);
  if (m.expires_ms) o["expires_at"] = Rfc3339Ms(*m.expires_ms);
  if (m.direction == "out") {
    o["attempts"] = m.attempts;
    o["first_contact"] = m.first_contact;
  }
  if (!m.history.empty()) {
    json::array h;
    for (const auto& c : m.history) h.push_back(json::object{{"status", c.status}, {"at", Rfc3339Ms(c.at_ms)}});
    o["history"] = std::move(h);
  }
  return o;
}

std::string MessageStatusEventData(const MessageRow& m, std::int64_t at_ms) {
  json::object o;
  o["session_id"] = m.session_id;
  o["message_id"] = m.id;
  o["wa_id"] = m.wa_id;
  o["to"] = PeerJson(m.chat_jid, "", "", "");
  o["status"] = m.status;
  o["timestamp"] = Rfc3339Ms(at_ms);
  if (!m.error_code.empty()) {
    o["error"] = json::object{{"code", m.error_code}, {"detail", m.error_detail}};
  } else {
    o["error"] = nullptr;
  }
  return json::serialize(o);
}

std::string MessageReceivedEventData(const MessageRow& m) {
  json::object o;
  o["session_id"] = m.session_id;
  o["message"] = MessageJson(m);
  return json::serialize(o);
}

}  // namespace gateway::store
