#include "wa/binary/encoder.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "base/check.h"
#include "wa/binary/tags.h"
#include "wa/binary/tokens.gen.h"

namespace wa::binary {

namespace {

// ---- JavaScript number coercion, as Baileys' jidDecode applies it to the parts of a JID string:
// the device is `+device` (ToNumber) and the agent `parseInt(agent)`; the byte written is then
// `value & 0xff` (ToInt32). Needed only to stay byte-exact on odd strings such as "1:x@s.whatsapp.net".

// Length of the JS white-space or line-terminator character (UTF-8) starting at s[i], or 0.
std::size_t JsSpaceAt(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) -> unsigned { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0x100; };
  unsigned c0 = b(0);
  if (c0 == 0x09 || c0 == 0x0A || c0 == 0x0B || c0 == 0x0C || c0 == 0x0D || c0 == 0x20) return 1;
  if (c0 == 0xC2 && b(1) == 0xA0) return 2;                                        // U+00A0
  if (c0 == 0xE1 && b(1) == 0x9A && b(2) == 0x80) return 3;                        // U+1680
  if (c0 == 0xE2 && b(1) == 0x80 && (b(2) <= 0x8A || b(2) == 0xA8 || b(2) == 0xA9 || b(2) == 0xAF) &&
      b(2) >= 0x80) {
    return 3;  // U+2000..U+200A, U+2028, U+2029, U+202F
  }
  if (c0 == 0xE2 && b(1) == 0x81 && b(2) == 0x9F) return 3;  // U+205F
  if (c0 == 0xE3 && b(1) == 0x80 && b(2) == 0x80) return 3;  // U+3000
  if (c0 == 0xEF && b(1) == 0xBB && b(2) == 0xBF) return 3;  // U+FEFF
  return 0;
}

std::string_view JsTrimStart(std::string_view s) {
  std::size_t i = 0;
  while (std::size_t n = JsSpaceAt(s, i)) i += n;
  return s.substr(i);
}

std::string_view JsTrim(std::string_view s) {
  s = JsTrimStart(s);
  // Trailing: white space is at most 3 bytes long; test the candidates ending at s.size().
  for (bool again = true; again && !s.empty();) {
    again = false;
    for (std::size_t len = 1; len <= 3 && len <= s.size(); ++len) {
      if (JsSpaceAt(s, s.size() - len) == len) {
        s.remove_suffix(len);
        again = true;
        break;
      }
    }
  }
  return s;
}

int DigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 99;
}

double ParseRadix(std::string_view digits, int radix) {
  if (radix == 10) return std::strtod(std::string(digits).c_str(), nullptr);
  double v = 0;
  for (char c : digits) v = v * radix + DigitValue(c);
  return v;
}

// ToNumber(string).
double JsToNumber(std::string_view s) {
  const double nan = std::nan("");
  s = JsTrim(s);
  if (s.empty()) return 0;
  if (s.size() > 2 && s[0] == '0') {
    int radix = 0;
    if (s[1] == 'x' || s[1] == 'X') radix = 16;
    if (s[1] == 'o' || s[1] == 'O') radix = 8;
    if (s[1] == 'b' || s[1] == 'B') radix = 2;
    if (radix != 0) {
      std::string_view digits = s.substr(2);
      for (char c : digits) {
        if (DigitValue(c) >= radix) return nan;
      }
      return ParseRadix(digits, radix);
    }
  }
  std::size_t i = 0;
  bool negative = false;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    i = 1;
  }
  if (s.substr(i) == "Infinity") return negative ? -HUGE_VAL : HUGE_VAL;
  std::size_t mantissa_digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++mantissa_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++mantissa_digits;
  }
  if (mantissa_digits == 0) return nan;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    std::size_t exp_digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++exp_digits;
    if (exp_digits == 0) return nan;
  }
  if (i != s.size()) return nan;
  return std::strtod(std::string(s).c_str(), nullptr);
}

// parseInt(string) with no radix.
double JsParseInt(std::string_view s) {
  s = JsTrimStart(s);
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  int radix = 10;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    radix = 16;
    s.remove_prefix(2);
  }
  std::size_t n = 0;
  while (n < s.size() && DigitValue(s[n]) < radix) ++n;
  if (n == 0) return std::nan("");
  double v = ParseRadix(s.substr(0, n), radix);
  return negative ? -v : v;
}

// `value & 0xff` in JS (ToInt32, then the low byte); NaN and infinities give 0.
std::uint8_t JsLowByte(double v) {
  if (!std::isfinite(v)) return 0;
  double m = std::fmod(std::trunc(v), 256.0);
  if (m < 0) m += 256.0;
  return static_cast<std::uint8_t>(m);
}

// ---- Tokens. Most strings that are not tokens are told apart by their length with their first
// and last bytes, before the perfect hash (two passes of a byte-at-a-time hash) has to run.

struct TokenFilter {
  std::uint64_t first[tokens::kMaxTokenLength + 1][4];  // bit b: some token of this length starts with b
  std::uint64_t last[tokens::kMaxTokenLength + 1][4];   // ... ends with b
};

constexpr TokenFilter MakeTokenFilter() {
  TokenFilter f{};
  auto add = [&f](std::string_view t) {
    if (t.empty() || t.size() > tokens::kMaxTokenLength) return;
    auto a = static_cast<std::uint8_t>(t.front());
    auto z = static_cast<std::uint8_t>(t.back());
    f.first[t.size()][a >> 6] |= std::uint64_t{1} << (a & 63);
    f.last[t.size()][z >> 6] |= std::uint64_t{1} << (z & 63);
  };
  for (std::string_view t : tokens::kSingleByte) add(t);
  for (const auto& dict : tokens::kDoubleByte) {
    for (std::string_view t : dict) add(t);
  }
  return f;
}

constexpr TokenFilter kTokenFilter = MakeTokenFilter();

std::optional<tokens::TokenRef> FindToken(std::string_view s) {
  if (s.empty() || s.size() > tokens::kMaxTokenLength) return std::nullopt;
  auto a = static_cast<std::uint8_t>(s.front());
  auto z = static_cast<std::uint8_t>(s.back());
  if (!(kTokenFilter.first[s.size()][a >> 6] >> (a & 63) & 1) ||
      !(kTokenFilter.last[s.size()][z >> 6] >> (z & 63) & 1)) {
    return std::nullopt;
  }
  return tokens::Find(s);
}

// ---- Packing.

bool IsNibbleChar(char c) { return (c >= '0' && c <= '9') || c == '-' || c == '.'; }
bool IsHexChar(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

template <bool (*Pred)(char)>
bool AllPackable(std::string_view s) {
  if (s.empty() || s.size() > kPackedMax) return false;
  for (char c : s) {
    if (!Pred(c)) return false;
  }
  return true;
}

std::uint8_t NibbleCode(char c) {
  if (c == '-') return 10;
  if (c == '.') return 11;
  return static_cast<std::uint8_t>(c - '0');
}

std::uint8_t HexCode(char c) {
  return static_cast<std::uint8_t>(c <= '9' ? c - '0' : c - 'A' + 10);
}

// Baileys' jidDecode followed by writeJid: how a string with '@' is written.
struct LaxJid {
  bool ad = false;  // AD_JID (a non-empty ":device" part), else JID_PAIR
  std::uint8_t domain = 0;
  std::uint8_t device = 0;
  std::string_view user;
  std::string_view server;  // JID_PAIR only; written with writeString again

  static std::optional<LaxJid> Split(std::string_view s) {
    std::size_t at = s.find('@');
    if (at == std::string_view::npos) return std::nullopt;
    LaxJid jid;
    // Split at the first '@'; the user part at ':' then '_', keeping the first two pieces of each.
    jid.server = s.substr(at + 1);
    std::string_view combined = s.substr(0, at);
    std::size_t colon = combined.find(':');
    std::string_view user_agent = combined.substr(0, colon);
    std::string_view device;
    if (colon != std::string_view::npos) {
      device = combined.substr(colon + 1);
      device = device.substr(0, device.find(':'));
    }
    std::size_t underscore = user_agent.find('_');
    jid.user = user_agent.substr(0, underscore);
    jid.ad = !device.empty();
    if (jid.ad) {
      int server_domain = DomainOfServer(jid.server);
      if (server_domain >= 0) {
        jid.domain = static_cast<std::uint8_t>(server_domain);
      } else if (underscore != std::string_view::npos) {
        std::string_view agent = user_agent.substr(underscore + 1);
        agent = agent.substr(0, agent.find('_'));
        if (!agent.empty()) jid.domain = JsLowByte(JsParseInt(agent));
      }
      jid.device = JsLowByte(JsToNumber(device));
    }
    return jid;
  }

  // Whether Baileys' decoder shows writeString(s) as s itself (and can decode it at all). Tokens,
  // packed and raw strings read back as themselves; a JID reads back rendered. More than
  // kMaxNesting JIDs inside JIDs count as no, so our decoder's depth limit is never reached.
  static bool RendersAsItself(std::string_view s) {
    constexpr int kMaxNesting = 16;
    std::string_view rest = s;
    std::size_t matched = 0;  // prefix of s reproduced so far
    for (int level = 0; level <= kMaxNesting; ++level) {
      auto jid = Split(rest);
      if (!jid) return true;  // no '@' left: token, packed or raw, reads back as itself
      std::string rendered(jid->user);
      if (jid->ad) {
        if (jid->device != 0) {
          rendered += ':';
          rendered += std::to_string(jid->device);
        }
        rendered += '@';
        rendered += ServerOfDomain(jid->domain);
        return s.substr(matched) == rendered;
      }
      if (jid->server.empty()) return false;  // Baileys: "invalid jid pair"
      rendered += '@';
      if (s.substr(matched, rendered.size()) != rendered) return false;
      matched += rendered.size();
      rest = jid->server;
    }
    return false;
  }
};

class Writer {
 public:
  explicit Writer(base::Bytes& out) : out_(out) {}

  void WriteNode(const Node& node) {
    std::size_t size = 1 + 2 * node.attrs.size() + (node.has_content() ? 1 : 0);
    ListStart(size);
    Part(node.tag);
    for (const Attr& attr : node.attrs) {
      Part(attr.key);
      WriteValue(attr.value);
    }
    if (const auto* children = std::get_if<Node::Children>(&node.content)) {
      ListStart(children->size());
      for (const Node& child : *children) WriteNode(child);
    } else if (const auto* bytes = std::get_if<base::Bytes>(&node.content)) {
      ByteLength(bytes->size());
      out_.insert(out_.end(), bytes->begin(), bytes->end());
    } else if (const auto* value = std::get_if<Value>(&node.content)) {
      WriteValue(*value);
    }
  }

 private:
  void Byte(std::uint8_t b) { out_.push_back(b); }

  void ListStart(std::size_t n) {
    WA_CHECK(n <= 0xFFFF);
    if (n == 0) {
      Byte(kListEmpty);
    } else if (n < 256) {
      Byte(kList8);
      Byte(static_cast<std::uint8_t>(n));
    } else {
      Byte(kList16);
      Byte(static_cast<std::uint8_t>(n >> 8));
      Byte(static_cast<std::uint8_t>(n));
    }
  }

  void ByteLength(std::size_t n) {
    WA_CHECK(n <= 0xFFFFFFFFu);
    if (n >= (1u << 20)) {
      Byte(kBinary32);
      Byte(static_cast<std::uint8_t>(n >> 24));
      Byte(static_cast<std::uint8_t>(n >> 16));
      Byte(static_cast<std::uint8_t>(n >> 8));
      Byte(static_cast<std::uint8_t>(n));
    } else if (n >= 256) {
      Byte(kBinary20);
      Byte(static_cast<std::uint8_t>((n >> 16) & 0x0F));
      Byte(static_cast<std::uint8_t>(n >> 8));
      Byte(static_cast<std::uint8_t>(n));
    } else {
      Byte(kBinary8);
      Byte(static_cast<std::uint8_t>(n));
    }
  }

  void Raw(std::string_view s) {
    ByteLength(s.size());
    const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
    out_.insert(out_.end(), p, p + s.size());
  }

  void Packed(std::string_view s, std::uint8_t tag, std::uint8_t (*code)(char)) {
    Byte(tag);
    std::size_t pairs = s.size() / 2;
    bool odd = s.size() % 2 != 0;
    Byte(static_cast<std::uint8_t>((pairs + (odd ? 1 : 0)) | (odd ? 0x80 : 0)));
    for (std::size_t i = 0; i < pairs; ++i) {
      Byte(static_cast<std::uint8_t>(code(s[2 * i]) << 4 | code(s[2 * i + 1])));
    }
    if (odd) Byte(static_cast<std::uint8_t>(code(s.back()) << 4 | 0x0F));
  }

  // Steps 2-5 of writeString: empty, token, nibble, hex. True if `s` was written.
  bool TryCompact(std::string_view s) {
    if (s.empty()) {
      Byte(kBinary8);
      Byte(0);
      return true;
    }
    if (auto token = FindToken(s)) {
      if (token->dict >= 0) Byte(static_cast<std::uint8_t>(kDictionary0 + token->dict));
      Byte(token->index);
      return true;
    }
    if (AllPackable<IsNibbleChar>(s)) {
      Packed(s, kNibble8, NibbleCode);
      return true;
    }
    if (AllPackable<IsHexChar>(s)) {
      Packed(s, kHex8, HexCode);
      return true;
    }
    return false;
  }

  // writeString without the JID branch: tags, keys and the parts of typed JIDs.
  void Plain(std::string_view s) {
    if (!TryCompact(s)) Raw(s);
  }

  // Baileys' writeString. The JID_PAIR branch ends by writing the server with writeString again
  // (a server may itself contain '@'); that tail call is a loop here, so no input can recurse deep.
  void String(std::string_view s) {
    for (;;) {
      if (TryCompact(s)) return;
      auto jid = LaxJid::Split(s);
      if (!jid) {
        Raw(s);
        return;
      }
      if (jid->ad) {
        Byte(kAdJid);
        Byte(jid->domain);
        Byte(jid->device);
        String(jid->user);  // no '@' in a user: no further JID
        return;
      }
      Byte(kJidPair);
      if (jid->user.empty()) {
        Byte(kListEmpty);
      } else {
        String(jid->user);
      }
      s = jid->server;
    }
  }

  // Tags, keys and the parts of typed JIDs (not INTEROP_JID's, which must be plain strings, see
  // the decoder): writeString, except that a string with '@' goes the
  // JID way only if Baileys' decoder would show it unchanged; otherwise it is written raw. So a
  // JID Baileys nested into a JID part is rewritten byte for byte, and whatever we decode
  // encodes to bytes that decode to the same text.
  void Part(std::string_view s) {
    if (s.find('@') != std::string_view::npos && LaxJid::RendersAsItself(s)) {
      String(s);
    } else {
      Plain(s);
    }
  }

  void TypedJid(const Value& v) {
    std::string_view user = v.jid_user();
    std::string_view server = v.jid_server();
    switch (v.jid_form()) {
      case Jid::Form::kPair:
        Byte(kJidPair);
        if (user.empty()) {
          Byte(kListEmpty);
        } else {
          Part(user);
        }
        Part(server);
        return;
      case Jid::Form::kAd: {
        int server_domain = DomainOfServer(server);
        Byte(kAdJid);
        Byte(server_domain >= 0 ? static_cast<std::uint8_t>(server_domain) : v.jid_agent());
        Byte(static_cast<std::uint8_t>(v.jid_device()));
        Part(user);
        return;
      }
      case Jid::Form::kFb:
        Byte(kFbJid);
        Part(user);
        Byte(static_cast<std::uint8_t>(v.jid_device() >> 8));
        Byte(static_cast<std::uint8_t>(v.jid_device()));
        Part(server);
        return;
      case Jid::Form::kInterop:
        Byte(kInteropJid);
        Plain(user);
        Byte(static_cast<std::uint8_t>(v.jid_device() >> 8));
        Byte(static_cast<std::uint8_t>(v.jid_device()));
        Byte(static_cast<std::uint8_t>(v.jid_integrator() >> 8));
        Byte(static_cast<std::uint8_t>(v.jid_integrator()));
        Plain(server);
        return;
    }
  }

  void WriteValue(const Value& v) {
    switch (v.kind()) {
      case Value::Kind::kText: String(v.text()); return;
      case Value::Kind::kRaw: Raw(v.text()); return;
      case Value::Kind::kJid: TypedJid(v); return;
    }
  }

  base::Bytes& out_;
};

// About the encoded size, rounded up (strings as raw with the longest header), so that Encode
// usually allocates once.
std::size_t SizeEstimate(const Node& node) {
  std::size_t n = 3 + 5 + node.tag.size();
  for (const Attr& attr : node.attrs) n += 16 + attr.key.size() + attr.value.text().size();
  if (const auto* children = std::get_if<Node::Children>(&node.content)) {
    n += 3;
    for (const Node& child : *children) n += SizeEstimate(child);
  } else if (const auto* bytes = std::get_if<base::Bytes>(&node.content)) {
    n += 5 + bytes->size();
  } else if (const auto* value = std::get_if<Value>(&node.content)) {
    n += 11 + value->text().size();
  }
  return n;
}

}  // namespace

void EncodeNode(const Node& node, base::Bytes& out) { Writer(out).WriteNode(node); }

base::Bytes Encode(const Node& node) {
  base::Bytes out;
  out.reserve(1 + SizeEstimate(node));
  out.push_back(0);
  EncodeNode(node, out);
  return out;
}

}  // namespace wa::binary
