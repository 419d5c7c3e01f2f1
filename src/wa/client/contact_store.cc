#include "wa/client/contact_store.h"

namespace wa::client {

namespace {

void PutU32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

// Reads big-endian integers and length-prefixed strings; any overrun sets `ok` to false.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  std::uint64_t Uint(std::size_t bytes) {
    if (in_.size() - at_ < bytes) {
      ok_ = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < bytes; ++i) v = v << 8 | static_cast<std::uint8_t>(in_[at_ + i]);
    at_ += bytes;
    return v;
  }
  std::string String() {
    std::uint64_t n = Uint(4);
    if (!ok_ || in_.size() - at_ < n) {
      ok_ = false;
      return {};
    }
    std::string s(in_.substr(at_, n));
    at_ += n;
    return s;
  }
  bool done() const { return ok_ && at_ == in_.size(); }

 private:
  std::string_view in_;
  std::size_t at_ = 0;
  bool ok_ = true;
};

}  // namespace

std::string EncodeSentMessage(const SentMessageRecord& record) {
  std::string out;
  out.reserve(20 + record.chat.size() + record.type.size() + record.message.size());
  auto ms = static_cast<std::uint64_t>(record.sent_ms);
  PutU32(out, static_cast<std::uint32_t>(ms >> 32));
  PutU32(out, static_cast<std::uint32_t>(ms));
  for (const std::string* s : {&record.chat, &record.type, &record.message}) {
    PutU32(out, static_cast<std::uint32_t>(s->size()));
    out += *s;
  }
  return out;
}

std::optional<SentMessageRecord> DecodeSentMessage(std::string_view encoded) {
  Reader r(encoded);
  SentMessageRecord record;
  record.sent_ms = static_cast<std::int64_t>(r.Uint(8));
  record.chat = r.String();
  record.type = r.String();
  record.message = r.String();
  if (!r.done()) return std::nullopt;
  return record;
}

}  // namespace wa::client
