// What a connection end means and what the client does next (01-connection.md §8, required-code
// summary of §8.3, mirroring Baileys' status codes and whatsmeow's reactions):
//   401/403/406 -> wipe credentials, LoggedOut, stop
//   515         -> reconnect at once
//   408/428/500/503 and network failures -> reconnect with backoff
//   411, 440 (replaced), 405 (outdated), 402 (temporary ban), other login failures -> stop
// Pure functions over stanzas, so the table is tested without a connection.
#pragma once

#include <chrono>
#include <string>

#include "wa/binary/node.h"
#include "wa/client/events.h"

namespace wa::client {

// How one connection ended.
struct Outcome {
  DisconnectReason reason = DisconnectReason::kConnectionClosed;
  int code = 428;
  // kTemporaryBan: the ban's reason code and duration.
  int ban_code = 0;
  std::chrono::seconds ban_expire{0};
  // kLoggedOut & co: refused at login (<failure>) rather than removed while connected.
  bool on_connect = false;
  // Free text for logs and PairingFailed.
  std::string detail;
};

enum class Action { kStop, kWipeAndStop, kReconnectNow, kReconnectLater };
Action ActionFor(DisconnectReason reason);

// <stream:error code=…>[<conflict type=…/>]</stream:error> (Baileys getErrorCodeFromStreamError:
// code attribute, else 440 for a conflict child, else 500).
Outcome FromStreamError(const binary::Node& node);
// <failure reason=… [code expire]/> (default 500, as Baileys).
Outcome FromFailure(const binary::Node& node);

}  // namespace wa::client
