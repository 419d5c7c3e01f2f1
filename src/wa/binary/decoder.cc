#include "wa/binary/decoder.h"

#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <stdexcept>

#include "wa/binary/tags.h"
#include "wa/binary/tokens.gen.h"

namespace wa::binary {

namespace {

class DecodeCategoryImpl : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "wa.binary.decode"; }
  std::string message(int ev) const override { return std::string(ToString(static_cast<DecodeErrc>(ev))); }
};

void AppendNumber(std::string& out, unsigned value) {
  char buf[16];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, value);
  (void)ec;
  out.append(buf, ptr);
}

class Reader {
 public:
  Reader(base::ByteView data, std::size_t base, bool inflated, const DecodeOptions& options)
      : data_(data.data()), size_(data.size()), base_(base), inflated_(inflated), options_(options) {}

  bool ReadRoot(Node& node) {
    if (!ReadNode(node, 1)) return false;
    if (pos_ != size_ && !options_.allow_trailing_bytes) return Fail(DecodeErrc::kTrailingBytes, pos_);
    return true;
  }

  const DecodeError& error() const { return error_; }

 private:
  // Facts about a string item, for the caller that keeps its wire form.
  struct StringInfo {
    bool raw = false;
    bool jid = false;
    Value::JidParts parts{};
  };

  bool Fail(DecodeErrc code, std::size_t at) {
    error_ = DecodeError{code, base_ + at, inflated_};
    return false;
  }

  std::size_t Remaining() const { return size_ - pos_; }

  bool ReadByte(std::uint8_t& b) {
    if (pos_ >= size_) return Fail(DecodeErrc::kTruncated, pos_);
    b = data_[pos_++];
    return true;
  }

  bool ReadUint(std::size_t n, std::size_t& out) {
    if (Remaining() < n) return Fail(DecodeErrc::kTruncated, pos_);
    std::size_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = v << 8 | data_[pos_ + i];
    pos_ += n;
    out = v;
    return true;
  }

  bool ReadListSize(std::uint8_t tag, std::size_t tag_pos, std::size_t& n) {
    switch (tag) {
      case kListEmpty: n = 0; return true;
      case kList8: return ReadUint(1, n);
      case kList16: return ReadUint(2, n);
      default: return Fail(DecodeErrc::kNotAList, tag_pos);
    }
  }

  // The length of a BINARY_8/20/32 item, checked against the remaining input.
  bool ReadBinaryLength(std::uint8_t tag, std::size_t tag_pos, std::size_t& n) {
    bool ok = tag == kBinary8 ? ReadUint(1, n) : tag == kBinary20 ? ReadUint(3, n) : ReadUint(4, n);
    if (!ok) return false;
    if (tag == kBinary20) n &= 0xFFFFF;  // the top 4 bits of the 3 bytes are not part of the length
    if (n > Remaining()) return Fail(DecodeErrc::kLengthExceedsInput, tag_pos);
    return true;
  }

  bool ReadPacked(std::uint8_t tag, std::size_t tag_pos, std::string& dst) {
    std::uint8_t header = 0;
    if (!ReadByte(header)) return false;
    std::size_t n = header & 0x7F;
    bool odd = (header & 0x80) != 0;
    if (n == 0 || 2 * n - (odd ? 1 : 0) > kPackedMax) return Fail(DecodeErrc::kBadPacked, tag_pos);
    if (n > Remaining()) return Fail(DecodeErrc::kLengthExceedsInput, tag_pos);
    static constexpr char kNibbles[16] = {'0', '1', '2', '3', '4', '5', '6', '7',
                                          '8', '9', '-', '.', 0,   0,   0,   0};
    static constexpr char kHex[16] = {'0', '1', '2', '3', '4', '5', '6', '7',
                                      '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'};
    std::size_t start = dst.size();
    dst.resize(start + 2 * n);
    char* out = dst.data() + start;
    for (std::size_t i = 0; i < n; ++i) {
      std::uint8_t b = data_[pos_ + i];
      std::uint8_t hi = b >> 4;
      std::uint8_t lo = b & 0x0F;
      if (tag == kHex8) {
        out[2 * i] = kHex[hi];
        out[2 * i + 1] = kHex[lo];
        continue;
      }
      // 12..14 are never valid; 15 (pad) only as the dropped last nibble of an odd length.
      bool pad_allowed = odd && i + 1 == n;
      if (hi > 11 || (lo > 11 && !(lo == 15 && pad_allowed))) {
        return Fail(DecodeErrc::kBadNibble, pos_ + i);
      }
      out[2 * i] = kNibbles[hi];
      out[2 * i + 1] = kNibbles[lo];
    }
    pos_ += n;
    if (odd) dst.pop_back();
    return true;
  }

  // Reads the item after a tag byte that has been read, and appends its text to `dst` (the text
  // Baileys shows; JIDs rendered). `jid_depth` counts JIDs inside JIDs.
  bool AppendString(std::uint8_t tag, std::size_t tag_pos, int jid_depth, std::string& dst,
                    StringInfo* info) {
    if (tag >= 1 && tag < tokens::kSingleByteCount) {
      dst += tokens::kSingleByte[tag];
      return true;
    }
    switch (tag) {
      case kListEmpty:
        return true;
      case kDictionary0:
      case kDictionary0 + 1:
      case kDictionary0 + 2:
      case kDictionary3: {
        std::size_t index_pos = pos_;
        std::uint8_t index = 0;
        if (!ReadByte(index)) return false;
        std::size_t dict = tag - kDictionary0;
        bool in_range = dict < tokens::kDoubleByteDicts;
        if constexpr (tokens::kDoubleByteSize < 256) in_range = in_range && index < tokens::kDoubleByteSize;
        if (!in_range) return Fail(DecodeErrc::kInvalidToken, index_pos);
        dst += tokens::kDoubleByte[dict][index];
        return true;
      }
      case kBinary8:
      case kBinary20:
      case kBinary32: {
        std::size_t n = 0;
        if (!ReadBinaryLength(tag, tag_pos, n)) return false;
        dst.append(reinterpret_cast<const char*>(data_ + pos_), n);
        pos_ += n;
        if (info) info->raw = true;
        return true;
      }
      case kNibble8:
      case kHex8:
        return ReadPacked(tag, tag_pos, dst);
      case kJidPair:
      case kAdJid:
      case kFbJid:
      case kInteropJid:
        if (jid_depth >= options_.max_depth) return Fail(DecodeErrc::kTooDeep, tag_pos);
        return AppendJid(tag, tag_pos, jid_depth + 1, dst, info);
      default:
        // 240..244, LIST_8 and LIST_16 (a list where a string must be), and any single-byte
        // index beyond the dictionary.
        if (tag < kDictionary0) return Fail(DecodeErrc::kInvalidToken, tag_pos);
        return Fail(DecodeErrc::kInvalidTag, tag_pos);
    }
  }

  static bool IsJidTag(std::uint8_t tag) {
    return tag == kJidPair || tag == kAdJid || tag == kFbJid || tag == kInteropJid;
  }

  // A string inside a JID. `allow_jid` false: it must not be a JID itself.
  bool AppendNested(int jid_depth, std::string& dst, bool allow_jid = true) {
    std::size_t tag_pos = pos_;
    std::uint8_t tag = 0;
    if (!ReadByte(tag)) return false;
    if (!allow_jid && IsJidTag(tag)) return Fail(DecodeErrc::kBadJid, tag_pos);
    return AppendString(tag, tag_pos, jid_depth, dst, nullptr);
  }

  bool AppendJid(std::uint8_t tag, std::size_t tag_pos, int jid_depth, std::string& dst, StringInfo* info) {
    const std::size_t start = dst.size();
    Value::JidParts parts{};
    parts.user_offset = 0;
    switch (tag) {
      case kJidPair: {
        parts.form = Jid::Form::kPair;
        if (!AppendNested(jid_depth, dst)) return false;
        parts.user_size = dst.size() - start;
        dst += '@';
        parts.server_offset = dst.size() - start;
        if (!AppendNested(jid_depth, dst)) return false;
        std::string_view server = std::string_view(dst).substr(start + parts.server_offset);
        if (server.empty()) return Fail(DecodeErrc::kBadJid, tag_pos);
        int domain = DomainOfServer(server);
        parts.agent = static_cast<std::uint8_t>(domain < 0 ? 0 : domain);
        break;
      }
      case kAdJid: {
        parts.form = Jid::Form::kAd;
        std::uint8_t domain = 0;
        std::uint8_t device = 0;
        if (!ReadByte(domain) || !ReadByte(device)) return false;
        if (!AppendNested(jid_depth, dst)) return false;
        parts.user_size = dst.size() - start;
        parts.agent = domain;
        parts.device = device;
        if (device != 0) {
          dst += ':';
          AppendNumber(dst, device);
        }
        dst += '@';
        parts.server_offset = dst.size() - start;
        dst += ServerOfDomain(domain);
        break;
      }
      case kFbJid: {
        parts.form = Jid::Form::kFb;
        if (!AppendNested(jid_depth, dst)) return false;
        parts.user_size = dst.size() - start;
        std::size_t device = 0;
        if (!ReadUint(2, device)) return false;
        parts.device = static_cast<std::uint16_t>(device);
        dst += ':';
        AppendNumber(dst, parts.device);
        dst += '@';
        parts.server_offset = dst.size() - start;
        if (!AppendNested(jid_depth, dst)) return false;
        break;
      }
      default: {  // kInteropJid: rendered integrator-user:device@server
        // User and server must be plain strings here (Baileys would read JIDs too): the server
        // is read on trial (below), and trial reads of nested JIDs would backtrack
        // exponentially.
        parts.form = Jid::Form::kInterop;
        if (!AppendNested(jid_depth, dst, false)) return false;
        parts.user_size = dst.size() - start;
        std::size_t device = 0;
        std::size_t integrator = 0;
        if (!ReadUint(2, device) || !ReadUint(2, integrator)) return false;
        parts.device = static_cast<std::uint16_t>(device);
        parts.integrator = static_cast<std::uint16_t>(integrator);
        std::string prefix;
        AppendNumber(prefix, parts.integrator);
        prefix += '-';
        dst.insert(start, prefix);
        parts.user_offset = prefix.size();
        dst += ':';
        AppendNumber(dst, parts.device);
        dst += '@';
        parts.server_offset = dst.size() - start;
        // Baileys: if the server does not read (input ended, or not a string), it is "interop"
        // and the bytes stay unread.
        std::size_t before = pos_;
        if (pos_ < size_ && IsJidTag(data_[pos_])) return Fail(DecodeErrc::kBadJid, pos_);
        std::size_t size_before = dst.size();
        if (!AppendNested(jid_depth, dst, false)) {
          pos_ = before;
          dst.resize(size_before);
          dst += kInteropServer;
        }
        break;
      }
    }
    if (info) {
      info->jid = true;
      info->parts = parts;
    }
    return true;
  }

  bool ReadValueAfterTag(std::uint8_t tag, std::size_t tag_pos, Value& out) {
    std::string text;
    StringInfo info;
    if (!AppendString(tag, tag_pos, 0, text, &info)) return false;
    if (info.jid) {
      out = Value::FromRenderedJid(std::move(text), info.parts);
    } else if (info.raw) {
      out = Value::Raw(std::move(text));
    } else {
      out = Value(std::move(text));
    }
    return true;
  }

  bool ReadPlain(std::string& out) { return AppendNested(0, out); }

  bool ReadNode(Node& node, int depth) {
    const std::size_t list_pos = pos_;
    if (depth > options_.max_depth) return Fail(DecodeErrc::kTooDeep, list_pos);
    std::uint8_t list_tag = 0;
    std::size_t size = 0;
    if (!ReadByte(list_tag) || !ReadListSize(list_tag, list_pos, size)) return false;
    if (size == 0) return Fail(DecodeErrc::kEmptyNode, list_pos);

    const std::size_t tag_pos = pos_;
    if (!ReadPlain(node.tag)) return false;
    if (node.tag.empty()) return Fail(DecodeErrc::kEmptyTag, tag_pos);

    // Every key and value takes at least one byte, and so does content: refuse counts the input
    // cannot hold before reserving anything.
    const std::size_t attr_count = (size - 1) / 2;
    const bool has_content = size % 2 == 0;
    if (2 * attr_count + (has_content ? 1 : 0) > Remaining()) {
      return Fail(DecodeErrc::kLengthExceedsInput, list_pos);
    }
    node.attrs.reserve(attr_count);
    for (std::size_t i = 0; i < attr_count; ++i) {
      Attr& attr = node.attrs.emplace_back();
      if (!ReadPlain(attr.key)) return false;
      std::size_t value_pos = pos_;
      std::uint8_t value_tag = 0;
      if (!ReadByte(value_tag) || !ReadValueAfterTag(value_tag, value_pos, attr.value)) return false;
    }
    if (!has_content) return true;

    const std::size_t content_pos = pos_;
    std::uint8_t content_tag = 0;
    if (!ReadByte(content_tag)) return false;
    switch (content_tag) {
      case kListEmpty:
      case kList8:
      case kList16: {
        std::size_t count = 0;
        if (!ReadListSize(content_tag, content_pos, count)) return false;
        // A child node is at least 3 bytes (list header, size, tag).
        if (count > Remaining() / 3) return Fail(DecodeErrc::kLengthExceedsInput, content_pos);
        Node::Children& children = node.content.emplace<Node::Children>();
        children.reserve(count);
        for (std::size_t i = 0; i < count; ++i) {
          if (!ReadNode(children.emplace_back(), depth + 1)) return false;
        }
        return true;
      }
      case kBinary8:
      case kBinary20:
      case kBinary32: {
        std::size_t n = 0;
        if (!ReadBinaryLength(content_tag, content_pos, n)) return false;
        node.content.emplace<base::Bytes>(data_ + pos_, data_ + pos_ + n);
        pos_ += n;
        return true;
      }
      default:
        return ReadValueAfterTag(content_tag, content_pos, node.content.emplace<Value>());
    }
  }

  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
  std::size_t base_;
  bool inflated_;
  const DecodeOptions& options_;
  DecodeError error_;
};

base::Result<Node, DecodeError> DecodeAt(base::ByteView data, std::size_t base, bool inflated,
                                         const DecodeOptions& options) {
  Reader reader(data, base, inflated, options);
  Node node;
  if (!reader.ReadRoot(node)) return reader.error();
  return node;
}

// Inflates a zlib stream (RFC 1950) into at most `cap` bytes. Like Node's zlib, bytes after the
// end of the stream are ignored.
base::Result<base::Bytes, DecodeError> Inflate(base::ByteView in, std::size_t cap) {
  constexpr std::size_t kFrameOffset = 1;  // the stream starts after the flags byte
  if (in.size() > std::numeric_limits<uInt>::max()) return DecodeError{DecodeErrc::kBadZlib, kFrameOffset, false};
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) return DecodeError{DecodeErrc::kBadZlib, kFrameOffset, false};
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  // One byte beyond the cap tells "exactly cap" from "more than cap".
  const std::size_t limit = cap + 1;
  base::Bytes out(std::min(limit, std::max<std::size_t>(256, in.size() * 4)));
  std::size_t produced = 0;
  DecodeError error{DecodeErrc::kBadZlib, kFrameOffset, false};
  bool ok = false;
  for (;;) {
    std::size_t room = std::min<std::size_t>(out.size() - produced, std::numeric_limits<uInt>::max());
    zs.next_out = out.data() + produced;
    zs.avail_out = static_cast<uInt>(room);
    int ret = inflate(&zs, Z_NO_FLUSH);
    produced += room - zs.avail_out;
    if (produced > cap) {
      error = DecodeError{DecodeErrc::kInflatedTooLarge, kFrameOffset + zs.total_in, false};
      break;
    }
    if (ret == Z_STREAM_END) {
      ok = true;
      break;
    }
    if (ret != Z_OK && ret != Z_BUF_ERROR) {
      error.offset = kFrameOffset + zs.total_in;
      break;
    }
    if (zs.avail_out == 0) {
      out.resize(std::min(limit, out.size() * 2));
      continue;
    }
    // Room left but no progress possible: the stream was cut short.
    if (zs.avail_in == 0 || ret == Z_BUF_ERROR) {
      error.offset = kFrameOffset + zs.total_in;
      break;
    }
  }
  inflateEnd(&zs);
  if (!ok) return error;
  out.resize(produced);
  return out;
}

}  // namespace

const boost::system::error_category& DecodeCategory() {
  static const DecodeCategoryImpl category;
  return category;
}

std::string_view ToString(DecodeErrc e) {
  switch (e) {
    case DecodeErrc::kTruncated: return "truncated input";
    case DecodeErrc::kLengthExceedsInput: return "declared length exceeds the remaining input";
    case DecodeErrc::kInvalidTag: return "invalid tag byte";
    case DecodeErrc::kNotAList: return "node does not start with a list header";
    case DecodeErrc::kEmptyNode: return "node list size is 0";
    case DecodeErrc::kEmptyTag: return "node tag is empty";
    case DecodeErrc::kInvalidToken: return "token index out of range";
    case DecodeErrc::kBadNibble: return "invalid nibble in packed string";
    case DecodeErrc::kBadPacked: return "packed string empty or longer than 127 characters";
    case DecodeErrc::kBadJid: return "malformed JID (empty server, or a JID inside an INTEROP_JID)";
    case DecodeErrc::kTooDeep: return "nesting too deep";
    case DecodeErrc::kTrailingBytes: return "bytes left after the node";
    case DecodeErrc::kBadZlib: return "compressed frame does not inflate";
    case DecodeErrc::kInflatedTooLarge: return "compressed frame inflates past the limit";
  }
  return "unknown decode error";
}

std::string DecodeError::Message() const {
  std::string out(ToString(code));
  out += inflated ? " at inflated offset " : " at offset ";
  out += std::to_string(offset);
  return out;
}

void throw_exception_from_error(const DecodeError& e, const boost::source_location&) {
  throw std::runtime_error(e.Message());
}

base::Result<Node, DecodeError> Decode(base::ByteView frame, const DecodeOptions& options) {
  if (frame.empty()) return DecodeError{DecodeErrc::kTruncated, 0, false};
  if ((frame[0] & kFlagCompressed) == 0) return DecodeAt(frame.subspan(1), 1, false, options);
  auto inflated = Inflate(frame.subspan(1), options.max_inflated_size);
  if (!inflated) return inflated.error();
  return DecodeAt(*inflated, 0, true, options);
}

base::Result<Node, DecodeError> DecodeNode(base::ByteView data, const DecodeOptions& options) {
  return DecodeAt(data, 0, false, options);
}

}  // namespace wa::binary
