// History sync after linking: the phone sends a new companion HistorySyncNotifications whose
// blobs are a zlib-compressed HistorySync protobuf, media-encrypted (md-msg-hist). A blob can
// inflate to hundreds of megabytes when an account has years of chats, and a gateway may link many
// numbers at once, so nothing here holds a whole inflated blob or all of its conversations:
//
//   HistoryParser  inflates as it reads (zlib, no whole-output buffer) and hands out one top-level
//                  item at a time — a Conversation (parsed alone, at most max_conversation_bytes
//                  of it; a larger one is skipped and counted), a Pushname or a PN/LID mapping —
//                  so memory is one conversation plus zlib's window, whatever the blob's size.
//   HistorySlots   a process-wide bound on how many clients download and parse at once.
//
// Parsers never throw: corrupt and truncated input end in kHistoryCorrupt / kHistoryTruncated.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <variant>

#include <boost/asio/awaitable.hpp>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/binary/jid.h"
#include "wa/client/events.h"
#include "wa/media/transport.h"
#include "wa/proto/history.pb.h"
#include "wa/proto/message.pb.h"

namespace wa::client {

// How much history a client takes (Config::history_sync).
enum class HistorySyncMode {
  kOff,     // acknowledge the notifications (the phone must not resend), download nothing
  kRecent,  // INITIAL_BOOTSTRAP, RECENT, PUSH_NAME, ON_DEMAND: what Baileys takes by default
  kFull,    // also FULL (and INITIAL_STATUS_V3)
};
std::string_view ToString(HistorySyncMode mode);
std::optional<HistorySyncMode> ParseHistorySyncMode(std::string_view text);  // off|recent|full
// Whether `mode` downloads a notification of `sync_type` (proto::Message::HistorySyncType).
bool WantsHistory(HistorySyncMode mode, int sync_type);
// "INITIAL_BOOTSTRAP", "RECENT", "FULL", "PUSH_NAME", ... ("UNKNOWN" otherwise).
std::string_view HistorySyncTypeName(int sync_type);

struct HistoryLimits {
  // One conversation's serialized size; a larger one is skipped (counted, not an error).
  std::size_t max_conversation_bytes = std::size_t{8} << 20;
  // A Pushname or mapping entry (a few dozen bytes in practice).
  std::size_t max_small_item_bytes = 64 << 10;
};

using HistoryItem =
    std::variant<proto::Conversation, proto::Pushname, proto::PhoneNumberToLIDMapping>;

class HistoryParser {
 public:
  // `compressed` (zlib format, RFC 1950) must outlive the parser.
  HistoryParser(base::ByteView compressed, HistoryLimits limits = {});
  ~HistoryParser();
  HistoryParser(const HistoryParser&) = delete;
  HistoryParser& operator=(const HistoryParser&) = delete;

  // The next item, nullopt at the clean end of the blob; an error for a blob that does not
  // inflate, does not parse or ends early (after which Next keeps returning that error).
  base::Result<std::optional<HistoryItem>> Next();

  // Top-level fields, known once read (they may follow the conversations on the wire).
  std::optional<int> sync_type() const { return sync_type_; }
  std::optional<std::uint32_t> chunk_order() const { return chunk_order_; }
  std::optional<std::uint32_t> progress() const { return progress_; }
  std::uint64_t skipped_conversations() const { return skipped_; }
  std::uint64_t inflated_bytes() const;
  // The largest single buffer the parser held for one item (bytes): the memory bound tests check.
  std::size_t largest_item_bytes() const { return largest_item_; }

 private:
  struct State;
  base::Result<std::optional<HistoryItem>> Fail(base::error_code ec);
  base::error_code EndError() const;

  std::unique_ptr<State> state_;
  HistoryLimits limits_;
  base::error_code failed_;
  bool done_ = false;
  std::optional<int> sync_type_;
  std::optional<std::uint32_t> chunk_order_;
  std::optional<std::uint32_t> progress_;
  std::uint64_t skipped_ = 0;
  std::size_t largest_item_ = 0;
};

// Downloads the blob `notification` names from `host` (a media_conn host), decrypts it with the
// md-msg-hist keys and verifies it (file_enc_sha256, MAC, file_length, file_sha256) before
// returning the compressed bytes: nothing of an unverified blob is parsed. kHistoryTooLarge when
// the notification announces more than `max_bytes`; the media errors (kMediaGone, kMacMismatch,
// ...) otherwise.
boost::asio::awaitable<base::Result<base::Bytes>> DownloadHistoryBlob(
    media::Transport& transport, std::string host,
    const proto::Message::HistorySyncNotification& notification, std::uint64_t max_bytes);

// A history WebMessageInfo as a Message event value: chat from key.remote_jid, sender `me` for
// our own messages, key.participant (or participant) in groups, else the chat. nullopt when the
// key has no id or no parsable remote JID.
std::optional<Message> HistoryMessage(const proto::WebMessageInfo& info, const binary::Jid& me);

// zlib-format compression (wasim writes history blobs with it; tests build them).
base::Bytes ZlibCompress(base::ByteView data);

// A counting semaphore shared by clients (Config::history_slots): at most `slots` history
// downloads run at once in the process. Thread-safe; TryAcquire never blocks (a client that gets
// nothing waits on its own timer and tries again, so a stopping client is never stuck here).
class HistorySlots {
 public:
  explicit HistorySlots(int slots) : free_(slots) {}

  class Permit {
   public:
    Permit() = default;
    explicit Permit(HistorySlots* owner) : owner_(owner) {}
    Permit(Permit&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    Permit& operator=(Permit&& other) noexcept {
      if (this != &other) {
        Release();
        owner_ = std::exchange(other.owner_, nullptr);
      }
      return *this;
    }
    ~Permit() { Release(); }
    explicit operator bool() const { return owner_ != nullptr; }

   private:
    void Release() {
      if (owner_) owner_->Release();
      owner_ = nullptr;
    }
    HistorySlots* owner_ = nullptr;
  };

  Permit TryAcquire();
  int in_use() const;
  int peak() const;

 private:
  void Release();
  mutable std::mutex mu_;
  int free_;
  int used_ = 0;
  int peak_ = 0;
};

}  // namespace wa::client
