// How the sessions benchmark checks that its sends arrived: the recipients' inboxes in wasim
// (GET /v1/phones/{phone}/messages, what each simulated phone received and decrypted) are matched
// against the ids the senders got server acks for, so that a message the server accepted but the
// phone could not decrypt is not counted. Kept apart from the tool so that it is unit-tested.
#pragma once

#include <boost/json/value.hpp>

#include <cstddef>
#include <map>
#include <string>
#include <unordered_set>

namespace wa::bench {

struct InboxCount {
  std::size_t matched = 0;  // distinct entries whose id is one of the expected ids
  std::size_t other = 0;    // entries with ids not expected (another tool's, an earlier run's)
  std::map<std::string, std::size_t> by_enc;  // matched entries by "enc": pkmsg, msg, ...
};

// Counts one inbox answer (a JSON array of entries with "id" and "enc") against `expected`.
// An id seen twice counts once. Anything that is not an array of objects counts nothing.
InboxCount CountInbox(const boost::json::value& inbox,
                      const std::unordered_set<std::string>& expected);

// The recipient phone of session `session` when the sessions share `pool` recipients: spread
// round-robin so that each recipient hears from about sessions / pool senders.
std::string RecipientPhone(const std::string& prefix, std::size_t session, std::size_t pool);

}  // namespace wa::bench
