#include "wa/client/policy.h"

#include <charconv>

namespace wa::client {

namespace {

int ParseInt(std::string_view s, int fallback) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return fallback;
  return v;
}

Outcome ForCode(int code) {
  Outcome o;
  o.code = code;
  switch (code) {
    case 401: o.reason = DisconnectReason::kLoggedOut; break;
    case 402: o.reason = DisconnectReason::kTemporaryBan; break;
    case 403: o.reason = DisconnectReason::kForbidden; break;
    case 405: o.reason = DisconnectReason::kClientOutdated; break;
    case 406: o.reason = DisconnectReason::kBanned; break;
    case 408: o.reason = DisconnectReason::kConnectionLost; break;
    case 411: o.reason = DisconnectReason::kMultideviceMismatch; break;
    case 428: o.reason = DisconnectReason::kConnectionClosed; break;
    case 440: o.reason = DisconnectReason::kReplaced; break;
    case 503: o.reason = DisconnectReason::kServiceUnavailable; break;
    case 515: o.reason = DisconnectReason::kRestartRequired; break;
    default: o.reason = DisconnectReason::kBadSession; break;
  }
  return o;
}

}  // namespace

Action ActionFor(DisconnectReason reason) {
  switch (reason) {
    case DisconnectReason::kLoggedOut:
    case DisconnectReason::kForbidden:
    case DisconnectReason::kBanned:
      return Action::kWipeAndStop;
    case DisconnectReason::kRestartRequired:
      return Action::kReconnectNow;
    case DisconnectReason::kConnectionClosed:
    case DisconnectReason::kConnectionLost:
    case DisconnectReason::kTimedOut:
    case DisconnectReason::kNetworkError:
    case DisconnectReason::kHandshakeFailed:
    case DisconnectReason::kServiceUnavailable:
    case DisconnectReason::kBadSession:
      return Action::kReconnectLater;
    case DisconnectReason::kStopped:
    case DisconnectReason::kTemporaryBan:
    case DisconnectReason::kReplaced:
    case DisconnectReason::kClientOutdated:
    case DisconnectReason::kMultideviceMismatch:
    case DisconnectReason::kLoginFailed:
    case DisconnectReason::kQrTimeout:
    case DisconnectReason::kPairingFailed:
    case DisconnectReason::kStoreFailed:
    case DisconnectReason::kConfigError:
      return Action::kStop;
  }
  return Action::kStop;
}

Outcome FromStreamError(const binary::Node& node) {
  const binary::Node* first = node.children().empty() ? nullptr : &node.children()[0];
  if (auto code = node.GetAttr("code"); code && !code->empty()) {
    Outcome o = ForCode(ParseInt(*code, 500));
    // A 401 is a logout whatever its child says (Baileys ends with 401, the conventional
    // application rule deletes the credentials); whatsmeow only logs out on device_removed.
    return o;
  }
  if (first && first->tag == "conflict") {
    // "replaced" (another connection took over) or no type: 440. A device_removed conflict
    // without a code is still a removal.
    if (first->AttrOr("type") == "device_removed") return ForCode(401);
    return ForCode(440);
  }
  return ForCode(500);
}

Outcome FromFailure(const binary::Node& node) {
  int reason = ParseInt(node.AttrOr("reason"), 500);
  Outcome o;
  o.code = reason;
  o.on_connect = true;
  switch (reason) {
    case 401: o.reason = DisconnectReason::kLoggedOut; break;
    case 403: o.reason = DisconnectReason::kForbidden; break;
    case 406: o.reason = DisconnectReason::kBanned; break;
    case 405: o.reason = DisconnectReason::kClientOutdated; break;
    case 402:
      o.reason = DisconnectReason::kTemporaryBan;
      o.ban_code = ParseInt(node.AttrOr("code"), 0);
      o.ban_expire = std::chrono::seconds(ParseInt(node.AttrOr("expire"), 0));
      break;
    case 500: o.reason = DisconnectReason::kBadSession; break;
    case 503: o.reason = DisconnectReason::kServiceUnavailable; break;
    default: o.reason = DisconnectReason::kLoginFailed; break;
  }
  return o;
}

}  // namespace wa::client
