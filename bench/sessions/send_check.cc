#include "send_check.h"

#include <boost/json.hpp>

#include <cstdio>

namespace wa::bench {

namespace json = boost::json;

InboxCount CountInbox(const json::value& inbox, const std::unordered_set<std::string>& expected) {
  InboxCount count;
  const auto* entries = inbox.if_array();
  if (!entries) return count;
  std::unordered_set<std::string> seen;
  for (const auto& entry : *entries) {
    const auto* o = entry.if_object();
    if (!o) continue;
    const auto* id = o->if_contains("id");
    if (!id || !id->is_string()) continue;
    std::string key(id->as_string());
    if (!expected.contains(key)) {
      ++count.other;
      continue;
    }
    if (!seen.insert(key).second) continue;
    ++count.matched;
    const auto* enc = o->if_contains("enc");
    ++count.by_enc[enc && enc->is_string() ? std::string(enc->as_string()) : std::string("?")];
  }
  return count;
}

std::string RecipientPhone(const std::string& prefix, std::size_t session, std::size_t pool) {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%07zu", pool ? session % pool : session);
  return prefix + digits;
}

}  // namespace wa::bench
