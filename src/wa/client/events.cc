#include "wa/client/events.h"

#include <type_traits>

namespace wa::client {

std::string_view ToString(DisconnectReason reason) {
  switch (reason) {
    case DisconnectReason::kStopped: return "stopped";
    case DisconnectReason::kLoggedOut: return "logged_out";
    case DisconnectReason::kForbidden: return "forbidden";
    case DisconnectReason::kBanned: return "banned";
    case DisconnectReason::kTemporaryBan: return "temporary_ban";
    case DisconnectReason::kReplaced: return "replaced";
    case DisconnectReason::kClientOutdated: return "client_outdated";
    case DisconnectReason::kMultideviceMismatch: return "multidevice_mismatch";
    case DisconnectReason::kRestartRequired: return "restart_required";
    case DisconnectReason::kConnectionClosed: return "connection_closed";
    case DisconnectReason::kConnectionLost: return "connection_lost";
    case DisconnectReason::kTimedOut: return "timed_out";
    case DisconnectReason::kNetworkError: return "network_error";
    case DisconnectReason::kHandshakeFailed: return "handshake_failed";
    case DisconnectReason::kServiceUnavailable: return "service_unavailable";
    case DisconnectReason::kBadSession: return "bad_session";
    case DisconnectReason::kLoginFailed: return "login_failed";
    case DisconnectReason::kQrTimeout: return "qr_timeout";
    case DisconnectReason::kPairingFailed: return "pairing_failed";
    case DisconnectReason::kStoreFailed: return "store_failed";
    case DisconnectReason::kConfigError: return "config_error";
  }
  return "unknown";
}

std::string_view ToString(ReceiptType type) {
  switch (type) {
    case ReceiptType::kDelivered: return "delivered";
    case ReceiptType::kInactive: return "inactive";
    case ReceiptType::kRead: return "read";
    case ReceiptType::kReadSelf: return "read-self";
    case ReceiptType::kPlayed: return "played";
    case ReceiptType::kSender: return "sender";
    case ReceiptType::kRetry: return "retry";
    case ReceiptType::kPeerMsg: return "peer_msg";
    case ReceiptType::kOther: return "other";
  }
  return "other";
}

std::string_view ToString(ChatStateKind kind) {
  switch (kind) {
    case ChatStateKind::kComposing: return "composing";
    case ChatStateKind::kRecording: return "recording";
    case ChatStateKind::kPaused: return "paused";
  }
  return "paused";
}

std::string_view ToString(HistoryChunk::Stage stage) {
  switch (stage) {
    case HistoryChunk::Stage::kStarted: return "started";
    case HistoryChunk::Stage::kProgress: return "progress";
    case HistoryChunk::Stage::kFinished: return "finished";
    case HistoryChunk::Stage::kFailed: return "failed";
    case HistoryChunk::Stage::kSkipped: return "skipped";
  }
  return "started";
}

std::string Describe(const Event& event) {
  return std::visit(
      [](const auto& e) -> std::string {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, Qr>) {
          return "Qr{" + std::to_string(e.expires_in.count()) + " ms}";
        } else if constexpr (std::is_same_v<T, QrTimeout>) {
          return "QrTimeout";
        } else if constexpr (std::is_same_v<T, PairingCode>) {
          return "PairingCode{" + e.code + "}";
        } else if constexpr (std::is_same_v<T, Paired>) {
          return "Paired{" + e.jid.ToString() + ", " + e.lid.ToString() + ", " + e.platform + "}";
        } else if constexpr (std::is_same_v<T, PairingFailed>) {
          return "PairingFailed{" + e.reason + "}";
        } else if constexpr (std::is_same_v<T, Connected>) {
          return "Connected";
        } else if constexpr (std::is_same_v<T, Disconnected>) {
          std::string s = "Disconnected{" + std::string(ToString(e.reason)) + ", " +
                          std::to_string(e.code);
          if (e.will_retry) s += ", retry in " + std::to_string(e.retry_in.count()) + " ms";
          return s + "}";
        } else if constexpr (std::is_same_v<T, LoggedOut>) {
          return "LoggedOut{" + std::string(ToString(e.reason)) + ", " + std::to_string(e.code) +
                 "}";
        } else if constexpr (std::is_same_v<T, StreamReplaced>) {
          return "StreamReplaced";
        } else if constexpr (std::is_same_v<T, TemporaryBan>) {
          return "TemporaryBan{" + std::to_string(e.code) + ", " +
                 std::to_string(e.expire.count()) + " s}";
        } else if constexpr (std::is_same_v<T, ClientOutdated>) {
          return "ClientOutdated";
        } else if constexpr (std::is_same_v<T, KeepAliveTimeout>) {
          return "KeepAliveTimeout{" + std::to_string(e.error_count) + "}";
        } else if constexpr (std::is_same_v<T, KeepAliveRestored>) {
          return "KeepAliveRestored";
        } else if constexpr (std::is_same_v<T, OfflineSyncCompleted>) {
          return "OfflineSyncCompleted{" + std::to_string(e.count) + "}";
        } else if constexpr (std::is_same_v<T, MessageAck>) {
          return "MessageAck{" + e.id + ", " + e.chat.ToString() +
                 (e.error ? ", error " + std::to_string(*e.error) : std::string()) + "}";
        } else if constexpr (std::is_same_v<T, Receipt>) {
          std::string s = "Receipt{" + std::string(ToString(e.type)) + ", " + e.chat.ToString() +
                          " from " + e.from.ToString() + ",";
          for (const auto& id : e.ids) s += " " + id;
          return s + "}";
        } else if constexpr (std::is_same_v<T, Message>) {
          return "Message{" + e.id + ", " + e.chat.ToString() + " from " + e.sender.ToString() +
                 (e.from_me ? " (me)" : "") + ", " + std::to_string(e.text.size()) + " chars}";
        } else if constexpr (std::is_same_v<T, ChatState>) {
          return "ChatState{" + e.chat.ToString() + ", " + std::string(ToString(e.state)) + "}";
        } else if constexpr (std::is_same_v<T, HistoryChunk>) {
          return "HistoryChunk{" + std::string(ToString(e.stage)) + ", " + e.sync_type + " #" +
                 std::to_string(e.chunk_order) + ", " + std::to_string(e.progress) + "%, " +
                 std::to_string(e.conversations) + " conversations, " +
                 std::to_string(e.messages) + " messages" +
                 (e.error.empty() ? std::string() : ", " + e.error) + "}";
        } else if constexpr (std::is_same_v<T, HistoryMessages>) {
          return "HistoryMessages{" + e.chat.ToString() + ", " +
                 std::to_string(e.messages.size()) + "}";
        } else if constexpr (std::is_same_v<T, HistoryPushNames>) {
          return "HistoryPushNames{" + std::to_string(e.names.size()) + "}";
        } else {
          static_assert(std::is_same_v<T, Presence>);
          return "Presence{" + e.from.ToString() + (e.available ? ", available}" : ", unavailable}");
        }
      },
      event);
}

}  // namespace wa::client
