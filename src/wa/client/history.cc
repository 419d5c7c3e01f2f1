#include "wa/client/history.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <string>

#include "wa/client/errors.h"
#include "wa/client/messages.h"
#include "wa/media/errors.h"
#include "wa/media/keys.h"
#include "wa/media/transfer.h"
#include "wa/media/upload.h"

namespace wa::client {

namespace pbio = google::protobuf::io;
using google::protobuf::internal::WireFormatLite;

std::string_view ToString(HistorySyncMode mode) {
  switch (mode) {
    case HistorySyncMode::kOff: return "off";
    case HistorySyncMode::kRecent: return "recent";
    case HistorySyncMode::kFull: return "full";
  }
  return "off";
}

std::optional<HistorySyncMode> ParseHistorySyncMode(std::string_view text) {
  if (text == "off") return HistorySyncMode::kOff;
  if (text == "recent") return HistorySyncMode::kRecent;
  if (text == "full") return HistorySyncMode::kFull;
  return std::nullopt;
}

bool WantsHistory(HistorySyncMode mode, int sync_type) {
  switch (mode) {
    case HistorySyncMode::kOff:
      return false;
    case HistorySyncMode::kRecent:
      return sync_type == proto::Message::INITIAL_BOOTSTRAP ||
             sync_type == proto::Message::RECENT || sync_type == proto::Message::PUSH_NAME ||
             sync_type == proto::Message::ON_DEMAND;
    case HistorySyncMode::kFull:
      return sync_type == proto::Message::INITIAL_BOOTSTRAP ||
             sync_type == proto::Message::RECENT || sync_type == proto::Message::PUSH_NAME ||
             sync_type == proto::Message::ON_DEMAND || sync_type == proto::Message::FULL ||
             sync_type == proto::Message::INITIAL_STATUS_V3;
  }
  return false;
}

std::string_view HistorySyncTypeName(int sync_type) {
  switch (sync_type) {
    case proto::Message::INITIAL_BOOTSTRAP: return "INITIAL_BOOTSTRAP";
    case proto::Message::INITIAL_STATUS_V3: return "INITIAL_STATUS_V3";
    case proto::Message::FULL: return "FULL";
    case proto::Message::RECENT: return "RECENT";
    case proto::Message::PUSH_NAME: return "PUSH_NAME";
    case proto::Message::NON_BLOCKING_DATA: return "NON_BLOCKING_DATA";
    case proto::Message::ON_DEMAND: return "ON_DEMAND";
    case proto::Message::NO_HISTORY: return "NO_HISTORY";
    case proto::Message::MESSAGE_ACCESS_STATUS: return "MESSAGE_ACCESS_STATUS";
    default: return "UNKNOWN";
  }
}

namespace {

// Inflates a zlib stream in 64 KB pieces as protobuf's reader pulls them: the whole output never
// exists at once. The state of the stream (ended cleanly, corrupt, input exhausted early) is kept
// for the parser to tell a clean end from a bad one.
class InflateStream final : public pbio::ZeroCopyInputStream {
 public:
  explicit InflateStream(base::ByteView input) {
    zs_.next_in = const_cast<Bytef*>(input.data());
    // The parser caps total bytes anyway; a >4 GB compressed blob is refused before this.
    zs_.avail_in = static_cast<uInt>(std::min<std::size_t>(input.size(), UINT_MAX));
    ok_ = inflateInit(&zs_) == Z_OK;
    if (!ok_) corrupt_ = true;
  }
  ~InflateStream() override {
    if (ok_) inflateEnd(&zs_);
  }

  bool Next(const void** data, int* size) override {
    if (backed_up_ > 0) {
      *data = buffer_.data() + (produced_ - backed_up_);
      *size = backed_up_;
      backed_up_ = 0;
      return true;
    }
    if (!ok_ || ended_ || corrupt_) return false;
    for (;;) {
      zs_.next_out = buffer_.data();
      zs_.avail_out = static_cast<uInt>(buffer_.size());
      int rc = inflate(&zs_, Z_NO_FLUSH);
      produced_ = static_cast<int>(buffer_.size() - zs_.avail_out);
      if (rc == Z_STREAM_END) {
        ended_ = true;
      } else if (rc == Z_BUF_ERROR && zs_.avail_in == 0) {
        truncated_ = true;  // needs more input than there is
      } else if (rc != Z_OK) {
        corrupt_ = true;
        return false;
      }
      if (produced_ > 0) {
        total_ += static_cast<std::uint64_t>(produced_);
        *data = buffer_.data();
        *size = produced_;
        return true;
      }
      if (ended_ || truncated_) return false;
    }
  }
  void BackUp(int count) override { backed_up_ = count; }
  bool Skip(int count) override {
    while (count > 0) {
      const void* data;
      int size;
      if (!Next(&data, &size)) return false;
      if (size > count) {
        BackUp(size - count);
        return true;
      }
      count -= size;
    }
    return true;
  }
  std::int64_t ByteCount() const override {
    return static_cast<std::int64_t>(total_) - backed_up_;
  }

  bool ended() const { return ended_; }
  bool corrupt() const { return corrupt_; }
  std::uint64_t total() const { return total_; }

 private:
  z_stream zs_{};
  bool ok_ = false;
  bool ended_ = false;
  bool corrupt_ = false;
  bool truncated_ = false;
  std::array<Bytef, 64 * 1024> buffer_{};
  int produced_ = 0;
  int backed_up_ = 0;
  std::uint64_t total_ = 0;
};

constexpr int kConversations = 2;
constexpr int kSyncType = 1;
constexpr int kChunkOrder = 5;
constexpr int kProgress = 6;
constexpr int kPushnames = 7;
constexpr int kLidMappings = 15;

}  // namespace

struct HistoryParser::State {
  explicit State(base::ByteView input) : inflate(input), coded(&inflate) {
    coded.SetTotalBytesLimit(INT_MAX);
  }
  InflateStream inflate;
  pbio::CodedInputStream coded;
  std::string item;  // reused for every item
};

HistoryParser::HistoryParser(base::ByteView compressed, HistoryLimits limits)
    : state_(std::make_unique<State>(compressed)), limits_(limits) {}

HistoryParser::~HistoryParser() = default;

std::uint64_t HistoryParser::inflated_bytes() const { return state_->inflate.total(); }

base::Result<std::optional<HistoryItem>> HistoryParser::Fail(base::error_code ec) {
  failed_ = ec;
  return ec;
}

base::error_code HistoryParser::EndError() const {
  if (state_->inflate.corrupt()) return MakeError(Errc::kHistoryCorrupt);
  if (!state_->inflate.ended()) return MakeError(Errc::kHistoryTruncated);
  return MakeError(Errc::kHistoryCorrupt);  // the inflated bytes are not a HistorySync
}

base::Result<std::optional<HistoryItem>> HistoryParser::Next() {
  if (failed_) return failed_;
  if (done_) return std::optional<HistoryItem>();
  auto& coded = state_->coded;
  for (;;) {
    std::uint32_t tag = coded.ReadTag();
    if (tag == 0) {
      // The end of the inflated bytes, or a read that failed: only a stream that inflated to its
      // end, with nothing after the last field, is a complete blob.
      if (state_->inflate.corrupt() || !state_->inflate.ended() ||
          !coded.ConsumedEntireMessage()) {
        return Fail(EndError());
      }
      done_ = true;
      return std::optional<HistoryItem>();
    }
    int field = static_cast<int>(WireFormatLite::GetTagFieldNumber(tag));
    auto wire = WireFormatLite::GetTagWireType(tag);
    if (wire == WireFormatLite::WIRETYPE_VARINT &&
        (field == kSyncType || field == kChunkOrder || field == kProgress)) {
      std::uint32_t value = 0;
      if (!coded.ReadVarint32(&value)) return Fail(EndError());
      if (field == kSyncType) sync_type_ = static_cast<int>(value);
      if (field == kChunkOrder) chunk_order_ = value;
      if (field == kProgress) progress_ = value;
      continue;
    }
    if (wire == WireFormatLite::WIRETYPE_LENGTH_DELIMITED &&
        (field == kConversations || field == kPushnames || field == kLidMappings)) {
      std::uint32_t length = 0;
      if (!coded.ReadVarint32(&length)) return Fail(EndError());
      std::size_t cap = field == kConversations ? limits_.max_conversation_bytes
                                                : limits_.max_small_item_bytes;
      if (length > cap) {
        // Skipping reads through the inflater without keeping anything.
        if (!coded.Skip(static_cast<int>(length))) return Fail(EndError());
        if (field == kConversations) skipped_++;
        continue;
      }
      state_->item.clear();
      if (!coded.ReadString(&state_->item, static_cast<int>(length))) return Fail(EndError());
      largest_item_ = std::max(largest_item_, state_->item.size());
      if (field == kConversations) {
        proto::Conversation conversation;
        if (!conversation.ParseFromString(state_->item)) {
          return Fail(MakeError(Errc::kHistoryCorrupt));
        }
        return std::optional<HistoryItem>(std::move(conversation));
      }
      if (field == kPushnames) {
        proto::Pushname pushname;
        if (!pushname.ParseFromString(state_->item)) return Fail(MakeError(Errc::kHistoryCorrupt));
        return std::optional<HistoryItem>(std::move(pushname));
      }
      proto::PhoneNumberToLIDMapping mapping;
      if (!mapping.ParseFromString(state_->item)) return Fail(MakeError(Errc::kHistoryCorrupt));
      return std::optional<HistoryItem>(std::move(mapping));
    }
    // Everything else (status messages, settings, stickers, call logs, ...) is skipped without
    // being kept; a malformed field is corruption.
    if (!WireFormatLite::SkipField(&coded, tag)) return Fail(EndError());
  }
}

boost::asio::awaitable<base::Result<base::Bytes>> DownloadHistoryBlob(
    media::Transport& transport, std::string host,
    const proto::Message::HistorySyncNotification& notification, std::uint64_t max_bytes) {
  if (notification.file_length() > max_bytes) co_return MakeError(Errc::kHistoryTooLarge);
  auto keys = media::ExpandMediaKey(base::AsBytes(notification.media_key()),
                                    media::MediaType::kHistory);
  if (!keys) co_return keys.error();
  auto url = media::DownloadUrl(host, notification.direct_path());
  if (!url) co_return url.error();
  media::Expected expected;
  expected.file_enc_sha256 = base::AsBytes(notification.file_enc_sha256());
  expected.file_sha256 = base::AsBytes(notification.file_sha256());
  if (notification.has_file_length()) expected.file_length = notification.file_length();
  base::Bytes blob;
  media::BodySink sink = [&blob, max_bytes](int, base::ByteView chunk) -> base::Result<void> {
    if (blob.size() + chunk.size() > max_bytes) return MakeError(Errc::kHistoryTooLarge);
    blob.insert(blob.end(), chunk.begin(), chunk.end());
    return {};
  };
  // The encrypted file is the plaintext padded to the next block plus the 10-byte MAC.
  std::uint64_t max_encrypted = max_bytes + 16 + media::kMacSize;
  auto done = co_await media::Download(transport, std::move(*url), *keys, expected,
                                       std::move(sink), max_encrypted);
  if (!done) co_return done.error();
  co_return blob;
}

std::optional<Message> HistoryMessage(const proto::WebMessageInfo& info, const binary::Jid& me) {
  const auto& key = info.key();
  if (key.id().empty()) return std::nullopt;
  auto chat = binary::Jid::Parse(key.remote_jid());
  if (!chat) return std::nullopt;
  Message out;
  out.id = key.id();
  out.chat = chat->ToNonAd();
  out.from_me = key.from_me();
  std::optional<binary::Jid> sender;
  if (out.from_me) {
    sender = me.ToNonAd();
  } else if (chat->IsGroup() || chat->IsBroadcast()) {
    const std::string& participant = !key.participant().empty() ? key.participant()
                                                                : info.participant();
    if (auto parsed = binary::Jid::Parse(participant)) sender = *parsed;
  } else {
    sender = out.chat;
  }
  if (!sender) return std::nullopt;
  out.sender = *sender;
  if (sender->IsUser()) out.sender_pn = sender->ToNonAd();
  if (sender->IsLid()) out.sender_lid = sender->ToNonAd();
  out.timestamp = static_cast<std::int64_t>(info.message_timestamp());
  out.push_name = info.push_name();
  if (info.has_message()) {
    auto text = ReadTextContent(info.message());
    out.text = std::move(text.text);
    out.quoted = std::move(text.extras.quoted);
    out.mentions = std::move(text.extras.mentions);
    std::string raw;
    info.message().SerializeToString(&raw);
    out.raw = base::ToBytes(raw);
  }
  return out;
}

base::Bytes ZlibCompress(base::ByteView data) {
  uLongf bound = compressBound(static_cast<uLong>(data.size()));
  base::Bytes out(bound);
  if (compress2(out.data(), &bound, data.data(), static_cast<uLong>(data.size()),
                Z_DEFAULT_COMPRESSION) != Z_OK) {
    return {};
  }
  out.resize(bound);
  return out;
}

HistorySlots::Permit HistorySlots::TryAcquire() {
  std::lock_guard lock(mu_);
  if (free_ <= 0) return Permit();
  free_--;
  used_++;
  peak_ = std::max(peak_, used_);
  return Permit(this);
}

void HistorySlots::Release() {
  std::lock_guard lock(mu_);
  free_++;
  used_--;
}

int HistorySlots::in_use() const {
  std::lock_guard lock(mu_);
  return used_;
}

int HistorySlots::peak() const {
  std::lock_guard lock(mu_);
  return peak_;
}

}  // namespace wa::client
