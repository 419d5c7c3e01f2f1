#include "wa/signal/prekey_message.h"

#include "wa/signal/errors.h"

namespace wa::signal {

namespace {

// A protobuf varint at data[*pos]; false when it runs past the end or over 10 bytes.
bool ReadVarint(base::ByteView data, std::size_t* pos, std::uint64_t* out) {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (*pos >= data.size()) return false;
    std::uint8_t b = data[(*pos)++];
    value |= static_cast<std::uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) {
      *out = value;
      return true;
    }
  }
  return false;
}

// Walks the protobuf after the version byte, reporting field 1's value and field 4's range.
struct Fields {
  std::optional<std::uint32_t> pre_key_id;
  std::optional<ByteRange> message;
};

base::Result<Fields> Walk(base::ByteView pkmsg) {
  if (pkmsg.empty()) return MakeError(Errc::kInvalidMessage);
  int version = pkmsg[0] >> 4;
  if (version < 3) return MakeError(Errc::kLegacyVersion);
  if (version > 3) return MakeError(Errc::kUnknownVersion);
  base::ByteView body = pkmsg.subspan(1);
  Fields fields;
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::uint64_t key = 0;
    if (!ReadVarint(body, &pos, &key)) return MakeError(Errc::kInvalidMessage);
    std::uint64_t field = key >> 3;
    switch (key & 7) {
      case 0: {  // varint
        std::uint64_t value = 0;
        if (!ReadVarint(body, &pos, &value)) return MakeError(Errc::kInvalidMessage);
        if (field == 1) {
          if (value > 0xFFFFFFFFu) return MakeError(Errc::kInvalidMessage);
          fields.pre_key_id = static_cast<std::uint32_t>(value);  // the last one wins, as in protobuf
        }
        break;
      }
      case 1:  // 64-bit
        if (body.size() - pos < 8) return MakeError(Errc::kInvalidMessage);
        pos += 8;
        break;
      case 2: {  // length-delimited
        std::uint64_t length = 0;
        if (!ReadVarint(body, &pos, &length) || length > body.size() - pos) {
          return MakeError(Errc::kInvalidMessage);
        }
        if (field == 4) fields.message = ByteRange{1 + pos, static_cast<std::size_t>(length)};
        pos += static_cast<std::size_t>(length);
        break;
      }
      case 5:  // 32-bit
        if (body.size() - pos < 4) return MakeError(Errc::kInvalidMessage);
        pos += 4;
        break;
      default: return MakeError(Errc::kInvalidMessage);
    }
    if (field == 0) return MakeError(Errc::kInvalidMessage);
  }
  return fields;
}

}  // namespace

base::Result<std::optional<std::uint32_t>> PreKeyMessagePreKeyId(base::ByteView pkmsg) {
  auto fields = Walk(pkmsg);
  if (!fields) return fields.error();
  return fields->pre_key_id;
}

base::Result<ByteRange> PreKeyMessageInnerMessage(base::ByteView pkmsg) {
  auto fields = Walk(pkmsg);
  if (!fields) return fields.error();
  if (!fields->message) return MakeError(Errc::kInvalidMessage);
  return *fields->message;
}

}  // namespace wa::signal
