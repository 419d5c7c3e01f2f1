// The API's JSON for messages, shared by the routes and by the events the store appends in the
// same transaction as a change (message.received carries the message object, message.status a
// summary), so a webhook and a GET describe a message the same way.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>

#include "gateway/store/messages.h"

namespace gateway::store {

// RFC 3339 UTC with milliseconds, e.g. "2026-11-25T19:08:43.120Z".
std::string Rfc3339Ms(std::int64_t unix_ms);

// {"user","jid","phone"?,"lid"?}: a party of a chat. `phone` is "+<digits>" for a phone-number JID.
boost::json::object PeerJson(const std::string& jid, const std::string& pn_jid,
                             const std::string& lid_jid, const std::string& push_name);

// The message object of GET /v1/sessions/{id}/messages/{msg} (history only when filled).
boost::json::object MessageJson(const MessageRow& m);

// The data of a message.status event for `m` at its current status.
std::string MessageStatusEventData(const MessageRow& m, std::int64_t at_ms);
// The data of a message.received event.
std::string MessageReceivedEventData(const MessageRow& m);

}  // namespace gateway::store
