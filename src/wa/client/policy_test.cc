// The reaction table of 01-connection.md §8.3, over the encoded stanzas of
// vectors/connection-nodes.json.
#include "wa/client/policy.h"

#include <gtest/gtest.h>

#include "wa/client/test_util.h"

namespace wa::client {
namespace {

using binary::Node;

Node FromVector(const boost::json::value& file, std::string_view name) {
  return testing::DecodeHex(std::string_view(testing::ConnectionNode(file, name).at("hex").as_string()));
}

TEST(Policy, StreamErrorVectors) {
  auto file = testing::LoadVector("connection-nodes.json");
  auto restart = FromStreamError(FromVector(file, "stream_error_515"));
  EXPECT_EQ(restart.reason, DisconnectReason::kRestartRequired);
  EXPECT_EQ(restart.code, 515);
  EXPECT_EQ(ActionFor(restart.reason), Action::kReconnectNow);

  auto replaced = FromStreamError(FromVector(file, "stream_error_replaced"));
  EXPECT_EQ(replaced.reason, DisconnectReason::kReplaced);
  EXPECT_EQ(replaced.code, 440);
  EXPECT_EQ(ActionFor(replaced.reason), Action::kStop);

  auto removed = FromStreamError(FromVector(file, "stream_error_device_removed"));
  EXPECT_EQ(removed.reason, DisconnectReason::kLoggedOut);
  EXPECT_EQ(removed.code, 401);
  EXPECT_FALSE(removed.on_connect);
  EXPECT_EQ(ActionFor(removed.reason), Action::kWipeAndStop);

  auto failure = FromFailure(FromVector(file, "failure_401"));
  EXPECT_EQ(failure.reason, DisconnectReason::kLoggedOut);
  EXPECT_TRUE(failure.on_connect);
}

TEST(Policy, StreamErrorCodes) {
  EXPECT_EQ(FromStreamError(Node("stream:error", {{"code", "503"}})).reason,
            DisconnectReason::kServiceUnavailable);
  EXPECT_EQ(FromStreamError(Node("stream:error", {{"code", "516"}})).reason,
            DisconnectReason::kBadSession);
  EXPECT_EQ(FromStreamError(Node("stream:error")).code, 500);
  EXPECT_EQ(FromStreamError(Node("stream:error", {}, Node::Children{Node("conflict", {{"type", "device_removed"}})}))
                .reason,
            DisconnectReason::kLoggedOut);
  EXPECT_EQ(FromStreamError(Node("stream:error", {}, Node::Children{Node("ack")})).code, 500);
}

TEST(Policy, Failures) {
  auto ban = FromFailure(Node("failure", {{"reason", "402"}, {"code", "103"}, {"expire", "3600"}}));
  EXPECT_EQ(ban.reason, DisconnectReason::kTemporaryBan);
  EXPECT_EQ(ban.ban_code, 103);
  EXPECT_EQ(ban.ban_expire.count(), 3600);
  EXPECT_EQ(ActionFor(ban.reason), Action::kStop);
  EXPECT_EQ(FromFailure(Node("failure", {{"reason", "403"}})).reason, DisconnectReason::kForbidden);
  EXPECT_EQ(FromFailure(Node("failure", {{"reason", "406"}})).reason, DisconnectReason::kBanned);
  EXPECT_EQ(FromFailure(Node("failure", {{"reason", "405"}})).reason,
            DisconnectReason::kClientOutdated);
  EXPECT_EQ(FromFailure(Node("failure", {{"reason", "503"}})).reason,
            DisconnectReason::kServiceUnavailable);
  EXPECT_EQ(FromFailure(Node("failure", {{"reason", "409"}})).reason, DisconnectReason::kLoginFailed);
  EXPECT_EQ(FromFailure(Node("failure")).code, 500);
}

TEST(Policy, Actions) {
  for (auto r : {DisconnectReason::kLoggedOut, DisconnectReason::kForbidden, DisconnectReason::kBanned}) {
    EXPECT_EQ(ActionFor(r), Action::kWipeAndStop) << ToString(r);
  }
  for (auto r : {DisconnectReason::kConnectionLost, DisconnectReason::kConnectionClosed,
                 DisconnectReason::kBadSession, DisconnectReason::kServiceUnavailable,
                 DisconnectReason::kTimedOut, DisconnectReason::kNetworkError}) {
    EXPECT_EQ(ActionFor(r), Action::kReconnectLater) << ToString(r);
  }
  for (auto r : {DisconnectReason::kMultideviceMismatch, DisconnectReason::kReplaced,
                 DisconnectReason::kClientOutdated, DisconnectReason::kStopped,
                 DisconnectReason::kQrTimeout}) {
    EXPECT_EQ(ActionFor(r), Action::kStop) << ToString(r);
  }
}

}  // namespace
}  // namespace wa::client
