#include "wa/binary/decoder.h"

#include <zlib.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <charconv>
#include <cstring>
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

// Packed strings are decoded eight bytes at a time with SSE2 (RenderPacked8 below), else a byte
// (two characters) at a time from tables: what each byte reads as, and for NIBBLE_8 whether it
// may stand in the middle (no flag), only last in an odd length (kPadLow: low nibble 15,
// dropped), or nowhere (kBad: nibble 12..14, or 15 high). The flags also find a bad nibble's
// offset on either path.
constexpr std::uint8_t kBad = 1;
constexpr std::uint8_t kPadLow = 2;

struct PackedTables {
  char nibble[256][2];
  char hex[256][2];
  std::uint8_t nibble_flags[256];
};

constexpr PackedTables MakePackedTables() {
  constexpr char kNibbleChars[17] = "0123456789-.????";
  constexpr char kHexChars[17] = "0123456789ABCDEF";
  PackedTables t{};
  for (int b = 0; b < 256; ++b) {
    int hi = b >> 4;
    int lo = b & 0x0F;
    t.nibble[b][0] = kNibbleChars[hi];
    t.nibble[b][1] = kNibbleChars[lo];
    t.hex[b][0] = kHexChars[hi];
    t.hex[b][1] = kHexChars[lo];
    std::uint8_t flags = 0;
    if (hi > 11 || (lo > 11 && lo < 15)) flags |= kBad;
    if (lo == 15) flags |= kPadLow;
    t.nibble_flags[b] = flags;
  }
  return t;
}

constexpr PackedTables kPacked = MakePackedTables();

#if defined(__SSE2__)
// Renders 8 packed bytes as 16 characters (high nibble first) and returns a bit per character
// whose nibble is above 11 (invalid in NIBBLE_8 unless it is the pad).
inline unsigned RenderPacked8(const std::uint8_t* src, char* dst, bool hex) {
  const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(src));
  const __m128i low4 = _mm_set1_epi8(0x0F);
  const __m128i nibbles = _mm_unpacklo_epi8(_mm_and_si128(_mm_srli_epi16(bytes, 4), low4),
                                            _mm_and_si128(bytes, low4));
  // Digits are '0' + n. Above 9: NIBBLE_8 has '-' and '.' ('0' + n - 13), HEX_8 'A'..'F'
  // ('0' + n + 7).
  const __m128i over9 = _mm_cmpgt_epi8(nibbles, _mm_set1_epi8(9));
  const __m128i adjust = _mm_and_si128(over9, _mm_set1_epi8(static_cast<char>(hex ? 7 : -13)));
  const __m128i chars = _mm_add_epi8(_mm_add_epi8(nibbles, _mm_set1_epi8('0')), adjust);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), chars);
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpgt_epi8(nibbles, _mm_set1_epi8(11))));
}
#endif

}  // namespace

// The decoder sets a Value's text and facts directly: no temporary string, no move.
namespace detail {
struct ValueAccess {
  // `v` is freshly constructed (empty).
  static void SetText(Value& v, std::string_view text) {
    if (text.size() <= Value::kInlineCapacity) {
      CopyInline(v.inline_, text.data(), text.size());
      v.size_ = static_cast<std::uint32_t>(text.size());
    } else {
      v.SetText(text);
    }
  }

  // Copies n <= kInlineCapacity bytes with a few fixed-size (overlapping) moves instead of a
  // call to memcpy; reads only [src, src + n).
  static void CopyInline(char* dst, const char* src, std::size_t n) {
    static_assert(Value::kInlineCapacity <= 48);
    if (n >= 16) {
      std::memcpy(dst, src, 16);
      if (n > 32) std::memcpy(dst + 16, src + 16, 16);
      std::memcpy(dst + n - 16, src + n - 16, 16);
    } else if (n >= 8) {
      std::memcpy(dst, src, 8);
      std::memcpy(dst + n - 8, src + n - 8, 8);
    } else if (n >= 4) {
      std::memcpy(dst, src, 4);
      std::memcpy(dst + n - 4, src + n - 4, 4);
    } else if (n > 0) {
      dst[0] = src[0];
      dst[n / 2] = src[n / 2];
      dst[n - 1] = src[n - 1];
    }
  }
  static void MarkRaw(Value& v) { v.kind_ = Value::Kind::kRaw; }
  static void MarkJid(Value& v, const Value::JidParts& parts) { v.SetJidParts(parts); }
};
}  // namespace detail

namespace {

// One pass over the input with a cursor. Every read checks the bytes it needs once, against
// end_; every declared length or count is checked against what remains before anything is
// allocated for it. Errors are cold paths that record the code and the offset.
class Reader {
 public:
  Reader(base::ByteView data, std::size_t base, bool inflated, const DecodeOptions& options,
         std::string& scratch)
      : begin_(data.data()),
        p_(data.data()),
        end_(data.data() + data.size()),
        base_(base),
        inflated_(inflated),
        options_(options),
        scratch_(scratch) {}

  bool ReadRoot(Node& node) {
    if (!ReadNode(node, 1)) return false;
    if (p_ != end_ && !options_.allow_trailing_bytes) return Fail(DecodeErrc::kTrailingBytes, p_);
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

  [[gnu::cold, gnu::noinline]] bool Fail(DecodeErrc code, const std::uint8_t* at) {
    error_ = DecodeError{code, base_ + static_cast<std::size_t>(at - begin_), inflated_};
    return false;
  }

  std::size_t Remaining() const { return static_cast<std::size_t>(end_ - p_); }

  bool ReadByte(std::uint8_t& b) {
    if (p_ == end_) [[unlikely]] return Fail(DecodeErrc::kTruncated, p_);
    b = *p_++;
    return true;
  }

  // A big-endian unsigned integer of N bytes.
  template <std::size_t N>
  bool ReadUint(std::size_t& out) {
    if (Remaining() < N) [[unlikely]] return Fail(DecodeErrc::kTruncated, p_);
    std::size_t v = 0;
    for (std::size_t i = 0; i < N; ++i) v = v << 8 | p_[i];
    p_ += N;
    out = v;
    return true;
  }

  bool ReadListSize(std::uint8_t tag, const std::uint8_t* tag_at, std::size_t& n) {
    switch (tag) {
      case kListEmpty: n = 0; return true;
      case kList8: return ReadUint<1>(n);
      case kList16: return ReadUint<2>(n);
      default: return Fail(DecodeErrc::kNotAList, tag_at);
    }
  }

  // The length of a BINARY_8/20/32 item, checked against the remaining input.
  bool ReadBinaryLength(std::uint8_t tag, const std::uint8_t* tag_at, std::size_t& n) {
    bool ok = tag == kBinary8 ? ReadUint<1>(n) : tag == kBinary20 ? ReadUint<3>(n) : ReadUint<4>(n);
    if (!ok) return false;
    if (tag == kBinary20) n &= 0xFFFFF;  // the top 4 bits of the 3 bytes are not part of the length
    if (n > Remaining()) [[unlikely]] return Fail(DecodeErrc::kLengthExceedsInput, tag_at);
    return true;
  }

  // A NIBBLE_8 or HEX_8 string after its tag byte, rendered into packed_.
  bool ReadPacked(std::uint8_t tag, const std::uint8_t* tag_at, std::string_view& out) {
    std::uint8_t header = 0;
    if (!ReadByte(header)) return false;
    const std::size_t n = header & 0x7F;
    const bool odd = (header & 0x80) != 0;
    if (n == 0 || 2 * n - (odd ? 1 : 0) > kPackedMax) [[unlikely]] return Fail(DecodeErrc::kBadPacked, tag_at);
    if (n > Remaining()) [[unlikely]] return Fail(DecodeErrc::kLengthExceedsInput, tag_at);
    const std::uint8_t* in = p_;
    // 12..14 are never valid in NIBBLE_8; 15 (pad) only as the dropped last nibble of an odd
    // length. `full` bytes are checked in the loop, an odd last byte after it.
    const bool hex = tag == kHex8;
    const std::size_t full = odd ? n - 1 : n;
    bool bad = false;
#if defined(__SSE2__)
    // Eight bytes at a time. A block may reach past the string (never past the input): the
    // extra characters land beyond the length in packed_, which holds 8 blocks, and their
    // nibbles are not checked.
    for (std::size_t i = 0; i < n; i += 8) {
      const std::uint8_t* block = in + i;
      std::uint8_t tail[8] = {};
      if (static_cast<std::size_t>(end_ - block) < 8) [[unlikely]] {
        for (std::size_t k = 0; k < n - i; ++k) tail[k] = block[k];
        block = tail;
      }
      const unsigned over11 = RenderPacked8(block, packed_ + 2 * i, hex);
      const std::size_t checked = full > i ? 2 * (full - i) : 0;  // characters of full bytes here
      bad |= (checked >= 16 ? over11 : over11 & ((1u << checked) - 1)) != 0;
    }
    if (hex) bad = false;
#else
    if (hex) {
      for (std::size_t i = 0; i < n; ++i) std::memcpy(packed_ + 2 * i, kPacked.hex[in[i]], 2);
    } else {
      for (std::size_t i = 0; i < n; ++i) std::memcpy(packed_ + 2 * i, kPacked.nibble[in[i]], 2);
      for (std::size_t i = 0; i < full; ++i) bad |= (kPacked.nibble_flags[in[i]] != 0);
    }
#endif
    if (!hex && odd) bad |= (kPacked.nibble_flags[in[full]] & kBad) != 0;
    if (bad) [[unlikely]] {
      std::size_t i = 0;
      while (i < full && kPacked.nibble_flags[in[i]] == 0) ++i;
      return Fail(DecodeErrc::kBadNibble, in + i);
    }
    p_ += n;
    out = std::string_view(packed_, 2 * n - (odd ? 1 : 0));
    return true;
  }

  // The index byte after DICTIONARY_0..3.
  bool ReadDoubleByteToken(std::uint8_t tag, std::string_view& out) {
    const std::uint8_t* index_at = p_;
    std::uint8_t index = 0;
    if (!ReadByte(index)) return false;
    std::size_t dict = tag - kDictionary0;
    bool in_range = dict < tokens::kDoubleByteDicts;
    if constexpr (tokens::kDoubleByteSize < 256) in_range = in_range && index < tokens::kDoubleByteSize;
    if (!in_range) return Fail(DecodeErrc::kInvalidToken, index_at);
    out = tokens::kDoubleByte[dict][index];
    return true;
  }

  // Reads the item after a tag byte that has been read, and appends its text to `dst` (the text
  // Baileys shows; JIDs rendered). `jid_depth` counts JIDs inside JIDs.
  bool AppendString(std::uint8_t tag, const std::uint8_t* tag_at, int jid_depth, std::string& dst,
                    StringInfo* info) {
    if (tag >= 1 && tag < tokens::kSingleByteCount) [[likely]] {
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
        std::string_view token;
        if (!ReadDoubleByteToken(tag, token)) return false;
        dst += token;
        return true;
      }
      case kBinary8:
      case kBinary20:
      case kBinary32: {
        std::size_t n = 0;
        if (!ReadBinaryLength(tag, tag_at, n)) return false;
        dst.append(reinterpret_cast<const char*>(p_), n);
        p_ += n;
        if (info) info->raw = true;
        return true;
      }
      case kNibble8:
      case kHex8: {
        std::string_view text;
        if (!ReadPacked(tag, tag_at, text)) return false;
        dst += text;
        return true;
      }
      case kJidPair:
      case kAdJid:
      case kFbJid:
      case kInteropJid:
        if (jid_depth >= options_.max_depth) return Fail(DecodeErrc::kTooDeep, tag_at);
        return AppendJid(tag, tag_at, jid_depth + 1, dst, info);
      default:
        // 240..244, LIST_8 and LIST_16 (a list where a string must be), and any single-byte
        // index beyond the dictionary.
        if (tag < kDictionary0) return Fail(DecodeErrc::kInvalidToken, tag_at);
        return Fail(DecodeErrc::kInvalidTag, tag_at);
    }
  }

  static bool IsJidTag(std::uint8_t tag) {
    return tag == kJidPair || tag == kAdJid || tag == kFbJid || tag == kInteropJid;
  }

  // A string item (tag byte included) appended to `dst`. `allow_jid` false: it must not be a
  // JID itself (the parts of an INTEROP_JID).
  bool AppendItem(int jid_depth, std::string& dst, StringInfo* info, bool allow_jid = true) {
    const std::uint8_t* tag_at = p_;
    std::uint8_t tag = 0;
    if (!ReadByte(tag)) return false;
    if (!allow_jid && IsJidTag(tag)) return Fail(DecodeErrc::kBadJid, tag_at);
    return AppendString(tag, tag_at, jid_depth, dst, info);
  }

  bool AppendJid(std::uint8_t tag, const std::uint8_t* tag_at, int jid_depth, std::string& dst,
                 StringInfo* info) {
    const std::size_t start = dst.size();
    Value::JidParts parts{};
    parts.user_offset = 0;
    switch (tag) {
      case kJidPair: {
        parts.form = Jid::Form::kPair;
        if (!AppendItem(jid_depth, dst, nullptr)) return false;
        parts.user_size = dst.size() - start;
        dst += '@';
        parts.server_offset = dst.size() - start;
        if (!AppendItem(jid_depth, dst, nullptr)) return false;
        std::string_view server = std::string_view(dst).substr(start + parts.server_offset);
        if (server.empty()) return Fail(DecodeErrc::kBadJid, tag_at);
        int domain = DomainOfServer(server);
        parts.agent = static_cast<std::uint8_t>(domain < 0 ? 0 : domain);
        break;
      }
      case kAdJid: {
        parts.form = Jid::Form::kAd;
        std::size_t domain = 0;
        std::size_t device = 0;
        if (!ReadUint<1>(domain) || !ReadUint<1>(device)) return false;
        if (!AppendItem(jid_depth, dst, nullptr)) return false;
        parts.user_size = dst.size() - start;
        parts.agent = static_cast<std::uint8_t>(domain);
        parts.device = static_cast<std::uint16_t>(device);
        if (device != 0) {
          dst += ':';
          AppendNumber(dst, parts.device);
        }
        dst += '@';
        parts.server_offset = dst.size() - start;
        dst += ServerOfDomain(parts.agent);
        break;
      }
      case kFbJid: {
        parts.form = Jid::Form::kFb;
        if (!AppendItem(jid_depth, dst, nullptr)) return false;
        parts.user_size = dst.size() - start;
        std::size_t device = 0;
        if (!ReadUint<2>(device)) return false;
        parts.device = static_cast<std::uint16_t>(device);
        dst += ':';
        AppendNumber(dst, parts.device);
        dst += '@';
        parts.server_offset = dst.size() - start;
        if (!AppendItem(jid_depth, dst, nullptr)) return false;
        break;
      }
      default: {  // kInteropJid: rendered integrator-user:device@server
        // User and server must be plain strings here (Baileys would read JIDs too): the server
        // is read on trial (below), and trial reads of nested JIDs would backtrack
        // exponentially.
        parts.form = Jid::Form::kInterop;
        if (!AppendItem(jid_depth, dst, nullptr, false)) return false;
        parts.user_size = dst.size() - start;
        std::size_t device = 0;
        std::size_t integrator = 0;
        if (!ReadUint<2>(device) || !ReadUint<2>(integrator)) return false;
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
        const std::uint8_t* before = p_;
        if (p_ != end_ && IsJidTag(*p_)) return Fail(DecodeErrc::kBadJid, p_);
        std::size_t size_before = dst.size();
        if (!AppendItem(jid_depth, dst, nullptr, false)) {
          p_ = before;
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

  // A string item after its tag byte, as a view of the token tables, of the input, or of
  // packed_ or scratch_ (packed strings and JIDs, which must be rendered); valid until the next
  // read.
  bool ReadString(std::uint8_t tag, const std::uint8_t* tag_at, std::string_view& out, StringInfo* info) {
    if (tag >= 1 && tag < tokens::kSingleByteCount) [[likely]] {
      out = tokens::kSingleByte[tag];
      return true;
    }
    switch (tag) {
      case kBinary8:
      case kBinary20:
      case kBinary32: {
        std::size_t n = 0;
        if (!ReadBinaryLength(tag, tag_at, n)) return false;
        out = std::string_view(reinterpret_cast<const char*>(p_), n);
        p_ += n;
        if (info) info->raw = true;
        return true;
      }
      case kNibble8:
      case kHex8:
        return ReadPacked(tag, tag_at, out);
      case kDictionary0:
      case kDictionary0 + 1:
      case kDictionary0 + 2:
      case kDictionary3:
        return ReadDoubleByteToken(tag, out);
      default:  // JIDs (rendered), LIST_EMPTY ("") and invalid tags
        scratch_.clear();
        if (!AppendString(tag, tag_at, 0, scratch_, info)) return false;
        out = scratch_;
        return true;
    }
  }

  // A string item into a Value, keeping its wire form (raw, JID or text). Single-byte tokens
  // and BINARY_8 strings (most values) are handled here; the rest out of line.
  bool ReadValueAfterTag(std::uint8_t tag, const std::uint8_t* tag_at, Value& out) {
    if (tag >= 1 && tag < tokens::kSingleByteCount) [[likely]] {
      detail::ValueAccess::SetText(out, tokens::kSingleByte[tag]);
      return true;
    }
    if (tag == kBinary8) {
      if (p_ == end_) [[unlikely]] return Fail(DecodeErrc::kTruncated, p_);
      const std::size_t n = *p_;
      if (n >= Remaining()) [[unlikely]] return Fail(DecodeErrc::kLengthExceedsInput, tag_at);
      detail::ValueAccess::SetText(out, std::string_view(reinterpret_cast<const char*>(p_ + 1), n));
      detail::ValueAccess::MarkRaw(out);
      p_ += 1 + n;
      return true;
    }
    return ReadValueSlow(tag, tag_at, out);
  }

  [[gnu::noinline]] bool ReadValueSlow(std::uint8_t tag, const std::uint8_t* tag_at, Value& out) {
    StringInfo info;
    std::string_view text;
    if (!ReadString(tag, tag_at, text, &info)) return false;
    detail::ValueAccess::SetText(out, text);
    if (info.jid) {
      detail::ValueAccess::MarkJid(out, info.parts);
    } else if (info.raw) {
      detail::ValueAccess::MarkRaw(out);
    }
    return true;
  }

  // A tag or attribute key into `out`, which is empty: append rather than assign, which takes
  // libstdc++'s simpler path. Single-byte tokens (most tags and keys) are handled here.
  bool ReadPlain(std::string& out) {
    if (p_ == end_) [[unlikely]] return Fail(DecodeErrc::kTruncated, p_);
    const std::uint8_t* tag_at = p_;
    const std::uint8_t tag = *p_++;
    if (tag >= 1 && tag < tokens::kSingleByteCount) [[likely]] {
      out.append(tokens::kSingleByte[tag]);
      return true;
    }
    std::string_view text;
    if (!ReadString(tag, tag_at, text, nullptr)) return false;
    out.append(text);
    return true;
  }

  bool ReadNode(Node& node, int depth) {
    const std::uint8_t* list_at = p_;
    if (depth > options_.max_depth) [[unlikely]] return Fail(DecodeErrc::kTooDeep, list_at);
    std::uint8_t list_tag = 0;
    std::size_t size = 0;
    if (!ReadByte(list_tag) || !ReadListSize(list_tag, list_at, size)) return false;
    if (size == 0) [[unlikely]] return Fail(DecodeErrc::kEmptyNode, list_at);

    const std::uint8_t* tag_at = p_;
    if (!ReadPlain(node.tag)) return false;
    if (node.tag.empty()) [[unlikely]] return Fail(DecodeErrc::kEmptyTag, tag_at);

    // Every key and value takes at least one byte, and so does content: refuse counts the input
    // cannot hold before reserving anything.
    const std::size_t attr_count = (size - 1) / 2;
    const bool has_content = size % 2 == 0;
    if (2 * attr_count + (has_content ? 1 : 0) > Remaining()) [[unlikely]] {
      return Fail(DecodeErrc::kLengthExceedsInput, list_at);
    }
    // reserve, not resize: a hostile count costs address space, never touched memory.
    if (attr_count != 0) {
      node.attrs.reserve(attr_count);
      for (std::size_t i = 0; i < attr_count; ++i) {
        Attr& attr = node.attrs.emplace_back();
        if (!ReadPlain(attr.key)) return false;
        const std::uint8_t* value_at = p_;
        std::uint8_t value_tag = 0;
        if (!ReadByte(value_tag) || !ReadValueAfterTag(value_tag, value_at, attr.value)) return false;
      }
    }
    if (!has_content) return true;

    const std::uint8_t* content_at = p_;
    std::uint8_t content_tag = 0;
    if (!ReadByte(content_tag)) return false;
    switch (content_tag) {
      case kListEmpty:
      case kList8:
      case kList16: {
        std::size_t count = 0;
        if (!ReadListSize(content_tag, content_at, count)) return false;
        // A child node is at least 3 bytes (list header, size, tag).
        if (count > Remaining() / 3) [[unlikely]] return Fail(DecodeErrc::kLengthExceedsInput, content_at);
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
        if (!ReadBinaryLength(content_tag, content_at, n)) return false;
        node.content.emplace<base::Bytes>(p_, p_ + n);
        p_ += n;
        return true;
      }
      default:
        return ReadValueAfterTag(content_tag, content_at, node.content.emplace<Value>());
    }
  }

  const std::uint8_t* begin_;
  const std::uint8_t* p_;
  const std::uint8_t* end_;
  std::size_t base_;
  bool inflated_;
  const DecodeOptions& options_;
  DecodeError error_;
  std::string& scratch_;  // rendered JIDs, reused across items
  char packed_[kPackedMax + 1];  // a rendered packed string: 64 bytes give 128 digits before the pad goes
};

base::Result<Node, DecodeError> DecodeAt(base::ByteView data, std::size_t base, bool inflated,
                                         const DecodeOptions& options) {
  // The JID rendering buffer outlives the call, so that decoding a stream of stanzas does not
  // allocate one per stanza; a huge one (a hostile multi-megabyte JID) is not kept.
  static thread_local std::string scratch;
  struct Trim {
    ~Trim() {
      if (scratch.capacity() > 4096) std::string().swap(scratch);
    }
  } trim;
  Reader reader(data, base, inflated, options, scratch);
  base::Result<Node, DecodeError> result;  // the node is read in place, not moved in afterwards
  if (!reader.ReadRoot(*result)) result = reader.error();
  return result;
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
