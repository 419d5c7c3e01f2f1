// Cross-implementation check of the binary node codec against Baileys (run by
// binary_crosscheck.sh as ctest interop.binary_crosscheck).
//
//   binary_crosscheck check FILE
//     FILE from binary_gen.mjs: JSON lines {node, hex[, decoded]} with Baileys' bytes. For each:
//     encode(node) == hex; decode(hex) shows what Baileys' decoder showed (decoded, else node);
//     encode(decode(hex)) == hex. Prints the first mismatches of each kind and the counts;
//     exit 1 on any mismatch.
//   binary_crosscheck gen --seed S --count N --out FILE
//     Random nodes built in C++ (text, raw and typed-JID values of every form), encoded here.
//     Writes {node, hex, decoded, baileys_encodable}: node as Baileys would show it, decoded =
//     our decoder's view of hex, baileys_encodable = Baileys' encoder given the node's strings
//     must produce hex exactly (false when a typed JID or raw value has no string spelling
//     Baileys would encode the same way). binary_verify.mjs checks the file with Baileys.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "base/bytes.h"
#include "wa/binary/decoder.h"
#include "wa/binary/encoder.h"
#include "wa/binary/node_json.h"
#include "wa/binary/tokens.gen.h"

namespace wa::binary {
namespace {

int Usage() {
  std::cerr << "usage: binary_crosscheck check FILE\n"
               "       binary_crosscheck gen --seed S --count N --out FILE\n";
  return 2;
}

std::string Clip(std::string s, std::size_t n = 400) {
  if (s.size() > n) s = s.substr(0, n) + "...";
  return s;
}

// ---- check

struct Tally {
  const char* what;
  std::size_t failures = 0;
  void Fail(std::size_t line, const std::string& detail) {
    if (++failures <= 5) std::cerr << "line " << line << ": " << what << ": " << Clip(detail, 600) << "\n";
  }
};

int Check(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "cannot open " << path << "\n";
    return 2;
  }
  Tally bad_line{"unreadable line"};
  Tally encode{"encode(node) != Baileys' bytes"};
  Tally decode{"decode(Baileys' bytes) failed"};
  Tally view{"decoded node != what Baileys' decoder showed"};
  Tally reencode{"encode(decode(bytes)) != bytes"};
  std::string line;
  std::size_t count = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++count;
    boost::system::error_code ec;
    boost::json::value doc = boost::json::parse(line, ec);
    const boost::json::object* obj = ec ? nullptr : doc.if_object();
    std::optional<Node> node = obj && obj->contains("node") ? NodeFromJson(obj->at("node")) : std::nullopt;
    std::optional<base::Bytes> bytes;
    if (obj && obj->contains("hex") && obj->at("hex").is_string()) bytes = base::FromHex(obj->at("hex").get_string());
    if (!node || !bytes) {
      bad_line.Fail(count, Clip(line));
      continue;
    }
    const boost::json::value& expected_view = obj->contains("decoded") ? obj->at("decoded") : obj->at("node");

    base::Bytes ours = Encode(*node);
    if (ours != *bytes) {
      encode.Fail(count, "node " + boost::json::serialize(obj->at("node")) + "\n  baileys " +
                             Clip(base::ToHex(*bytes)) + "\n  ours    " + Clip(base::ToHex(ours)));
    }
    auto decoded = Decode(*bytes);
    if (!decoded) {
      decode.Fail(count, decoded.error().Message() + " in " + Clip(base::ToHex(*bytes)));
      continue;
    }
    boost::json::value our_view = NodeToJson(*decoded);
    if (our_view != expected_view) {
      view.Fail(count, "baileys " + boost::json::serialize(expected_view) + "\n  ours    " +
                           boost::json::serialize(our_view));
    }
    base::Bytes again = Encode(*decoded);
    if (again != *bytes) {
      reencode.Fail(count, "baileys " + Clip(base::ToHex(*bytes)) + "\n  ours    " + Clip(base::ToHex(again)));
    }
  }
  std::size_t total = 0;
  for (const Tally* t : {&bad_line, &encode, &decode, &view, &reencode}) {
    if (t->failures) std::cerr << t->failures << " x " << t->what << "\n";
    total += t->failures;
  }
  std::cerr << "binary_crosscheck check: " << count << " nodes, " << total << " mismatches\n";
  return total == 0 && count > 0 ? 0 : 1;
}

// ---- gen

// splitmix64: seeded, the same everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::size_t Int(std::size_t n) { return static_cast<std::size_t>(Next() % n); }
  std::size_t Range(std::size_t lo, std::size_t hi) { return lo + Int(hi - lo + 1); }
  bool Chance(double p) { return static_cast<double>(Next() >> 11) / 9007199254740992.0 < p; }
  template <class T>
  const T& Pick(const std::vector<T>& v) { return v[Int(v.size())]; }

 private:
  std::uint64_t state_;
};

const std::vector<std::string> kProtoNames = {
    "constructor", "__defineGetter__", "__defineSetter__", "hasOwnProperty", "__lookupGetter__",
    "__lookupSetter__", "isPrototypeOf", "propertyIsEnumerable", "toString", "valueOf", "__proto__",
    "toLocaleString"};

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}

  Node RootNode() { return MakeNode(0, true); }

 private:
  std::string FromAlphabet(std::string_view alphabet, std::size_t len) {
    std::string s;
    s.reserve(len);
    for (std::size_t i = 0; i < len; ++i) s += alphabet[rng_.Int(alphabet.size())];
    return s;
  }
  std::string Digits(std::size_t n) { return FromAlphabet("0123456789", n); }
  std::string Phone() { return std::to_string(rng_.Range(1, 9)) + Digits(rng_.Range(7, 14)); }
  std::string LidUser() { return std::to_string(rng_.Range(1, 9)) + Digits(14); }
  std::string Token() {
    if (rng_.Chance(0.6)) return std::string(tokens::kSingleByte[rng_.Range(1, tokens::kSingleByteCount - 1)]);
    return std::string(tokens::kDoubleByte[rng_.Int(tokens::kDoubleByteDicts)][rng_.Int(tokens::kDoubleByteSize)]);
  }
  std::size_t PackedLength() {
    if (rng_.Chance(0.8)) return rng_.Range(1, 24);
    return rng_.Chance(0.8) ? rng_.Range(25, 127) : rng_.Range(128, 140);
  }
  std::string FreeString() {
    static const std::vector<std::string> kUtf8 = {"é", "ñ", "ß", "Ω", "ж", "中", "文", "😀", "👍🏽", "\xc2\xa0"};
    std::size_t len = rng_.Chance(0.9) ? rng_.Range(1, 30) : rng_.Range(200, 400);
    std::string s;
    while (s.size() < len) {
      if (rng_.Chance(0.15)) {
        s += rng_.Pick(kUtf8);
      } else {
        s += FromAlphabet("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.:,;!?()/#$%&*+=~'\"", 1);
      }
    }
    return s;
  }
  bool Safe(const std::string& s) {
    if (s.find('@') != std::string::npos) return false;
    for (const auto& p : kProtoNames) {
      if (s == p) return false;
    }
    return true;
  }

  // JIDs as typed values, every form.
  Jid TypedJid() {
    auto dev = [&] { return static_cast<std::uint8_t>(rng_.Range(0, 99)); };
    switch (rng_.Int(12)) {
      case 0: return Jid::User(Phone());
      case 1: return Jid::User(Phone(), static_cast<std::uint8_t>(rng_.Range(1, 255)));
      case 2: return Jid::Ad(Phone(), kDomainWhatsApp, 0);  // :0 kept on the wire
      case 3: return Jid::Lid(LidUser(), dev());
      case 4: return Jid::Ad(LidUser(), kDomainLid, dev());
      case 5: return Jid::Ad(Phone(), kDomainHosted, dev());
      case 6: return Jid::Ad(LidUser(), kDomainHostedLid, dev());
      case 7: return Jid::Ad(Phone(), static_cast<std::uint8_t>(rng_.Range(2, 127)), dev());  // odd domain
      case 8: return Jid::Fb(Digits(15), static_cast<std::uint16_t>(rng_.Int(65536)));
      case 9:
        return Jid::Interop(Digits(10), static_cast<std::uint16_t>(rng_.Int(65536)),
                            static_cast<std::uint16_t>(rng_.Int(65536)));
      case 10: return Jid::Server();
      default: {
        static const std::vector<std::string> kServers = {"g.us", "broadcast", "newsletter", "c.us", "bot",
                                                          "lid", "hosted", "msgr", "interop", "s.whatsapp.net"};
        std::string user = rng_.Chance(0.8) ? Digits(rng_.Range(1, 18)) : FromAlphabet("abcABC", rng_.Range(1, 5));
        return Jid::Pair(user, rng_.Pick(kServers));
      }
    }
  }

  // JID text whose Baileys rendering is the text itself.
  std::string JidText() {
    switch (rng_.Int(8)) {
      case 0: return Phone() + "@s.whatsapp.net";
      case 1: return Phone() + ":" + std::to_string(rng_.Range(1, 255)) + "@s.whatsapp.net";
      case 2: return LidUser() + "@lid";
      case 3: return LidUser() + ":" + std::to_string(rng_.Range(1, 99)) + "@lid";
      case 4: return Phone() + ":" + std::to_string(rng_.Range(1, 99)) + "@hosted";
      case 5: return "1203630" + Digits(11) + "@g.us";
      case 6: return "status@broadcast";
      default: return "@s.whatsapp.net";
    }
  }

  Value MakeValue() {
    double k = static_cast<double>(rng_.Int(1000)) / 1000.0;
    if (k < 0.18) return Value(Token());
    if (k < 0.3) return Value(FromAlphabet("0123456789-.", PackedLength()));
    if (k < 0.38) return Value(FromAlphabet("0123456789ABCDEF", PackedLength()));
    if (k < 0.42) return Value(FromAlphabet("0123456789abcdef", rng_.Range(1, 40)));
    if (k < 0.44) return Value("");
    if (k < 0.54) return Value(JidText());
    if (k < 0.74) return Value(TypedJid());
    if (k < 0.8) {
      // Raw: strings Baileys would tokenize, pack or read as a JID, kept raw.
      switch (rng_.Int(4)) {
        case 0: return Value::Raw(Token());
        case 1: return Value::Raw(Digits(rng_.Range(1, 20)));
        case 2: return Value::Raw("a@b");
        default: return Value::Raw(FreeString());
      }
    }
    for (;;) {
      std::string s = FreeString();
      if (Safe(s)) return Value(s);
    }
  }
  Value SafeValue() {
    for (;;) {
      Value v = MakeValue();
      bool bad = false;
      for (const auto& p : kProtoNames) bad = bad || v.text() == p;
      if (!bad) return v;
    }
  }

  std::string Tag() {
    for (;;) {
      std::string t = rng_.Chance(0.7) ? Token() : rng_.Chance(0.3) ? Digits(rng_.Range(1, 6)) : FreeString();
      if (!t.empty() && Safe(t)) return t;
    }
  }
  std::string Key() {
    for (;;) {
      std::string k = rng_.Chance(0.8) ? Token() : FreeString();
      bool integer_like = !k.empty() && k.find_first_not_of("0123456789") == std::string::npos &&
                          (k == "0" || k[0] != '0');
      if (Safe(k) && !integer_like) return k;
    }
  }
  base::Bytes MakeBytes(bool allow_huge) {
    std::size_t len;
    double k = static_cast<double>(rng_.Int(100000)) / 100000.0;
    if (allow_huge && k < 0.0004) {
      len = (1u << 20) + rng_.Int(64);
    } else if (k < 0.7) {
      len = rng_.Int(41);
    } else if (k < 0.9) {
      len = rng_.Range(200, 300);
    } else {
      len = rng_.Range(256, 5000);
    }
    base::Bytes b(len);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng_.Next());
    return b;
  }

  void AddAttrs(Node& node, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      std::string k = Key();
      if (node.HasAttr(k)) continue;
      node.attrs.push_back(Attr{std::move(k), SafeValue()});
    }
  }

  Node MakeNode(int depth, bool root) {
    Node node(Tag());
    AddAttrs(node, rng_.Chance(0.002) ? rng_.Range(150, 170) : rng_.Int(7));
    double k = static_cast<double>(rng_.Int(1000)) / 1000.0;
    if (depth < 5 && k < 0.35) {
      bool big = rng_.Chance(0.003);
      std::size_t count = big ? rng_.Range(256, 270) : rng_.Int(5);
      Node::Children children;
      for (std::size_t i = 0; i < count; ++i) {
        if (big) {
          Node leaf(Tag());
          AddAttrs(leaf, rng_.Int(2));
          children.push_back(std::move(leaf));
        } else {
          children.push_back(MakeNode(depth + 1, false));
        }
      }
      node.content = std::move(children);
    } else if (k < 0.6) {
      node.content = MakeBytes(root);
    } else if (k < 0.75) {
      node.content = SafeValue();
    }
    return node;
  }

  Rng rng_;
};

int Gen(std::uint64_t seed, std::size_t count, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  if (!out) {
    std::cerr << "cannot write " << path << "\n";
    return 2;
  }
  Generator gen(seed);
  std::size_t encodable = 0;
  for (std::size_t i = 0; i < count; ++i) {
    Node node = gen.RootNode();
    base::Bytes bytes = Encode(node);
    auto decoded = Decode(bytes);
    if (!decoded) {
      std::cerr << "own bytes do not decode: " << decoded.error().Message() << "\n";
      return 1;
    }
    if (Encode(*decoded) != bytes) {
      std::cerr << "encode(decode(encode(node))) differs\n";
      return 1;
    }
    boost::json::value node_json = NodeToJson(node);
    auto as_strings = NodeFromJson(node_json);
    bool baileys_encodable = as_strings && Encode(*as_strings) == bytes;
    encodable += baileys_encodable ? 1 : 0;
    boost::json::object line;
    line["node"] = std::move(node_json);
    line["hex"] = base::ToHex(bytes);
    line["decoded"] = NodeToJson(*decoded);
    line["baileys_encodable"] = baileys_encodable;
    out << boost::json::serialize(line) << "\n";
  }
  std::cerr << "binary_crosscheck gen: " << count << " nodes (seed " << seed << ", " << encodable
            << " spelled as strings Baileys encodes identically) -> " << path << "\n";
  return out.good() ? 0 : 1;
}

}  // namespace
}  // namespace wa::binary

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 2 && args[0] == "check") return wa::binary::Check(args[1]);
  if (args.size() == 7 && args[0] == "gen") {
    std::uint64_t seed = 0;
    std::size_t count = 0;
    std::string out;
    for (std::size_t i = 1; i + 1 < args.size(); i += 2) {
      if (args[i] == "--seed") {
        seed = std::stoull(args[i + 1]);
      } else if (args[i] == "--count") {
        count = std::stoull(args[i + 1]);
      } else if (args[i] == "--out") {
        out = args[i + 1];
      } else {
        return wa::binary::Usage();
      }
    }
    if (out.empty()) return wa::binary::Usage();
    return wa::binary::Gen(seed, count, out);
  }
  return wa::binary::Usage();
}
