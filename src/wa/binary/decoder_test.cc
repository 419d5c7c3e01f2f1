#include "wa/binary/decoder.h"

#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "base/bytes.h"
#include "wa/binary/encoder.h"
#include "wa/binary/node_json.h"
#include "wa/binary/tags.h"

namespace wa::binary {
namespace {

base::Bytes FromHex(std::string_view hex) {
  std::string clean;
  for (char c : hex) {
    if (c != ' ') clean += c;
  }
  auto b = base::FromHex(clean);
  EXPECT_TRUE(b.has_value()) << hex;
  return b.value_or(base::Bytes{});
}

void ExpectError(std::string_view hex, DecodeErrc code, std::size_t offset,
                 const DecodeOptions& options = {}) {
  SCOPED_TRACE(hex);
  auto r = Decode(FromHex(hex), options);
  ASSERT_FALSE(r.has_value()) << "decoded to " << *r;
  EXPECT_EQ(r.error().code, code) << r.error().Message();
  EXPECT_EQ(r.error().offset, offset) << r.error().Message();
}

Node MustDecode(std::string_view hex, const DecodeOptions& options = {}) {
  auto r = Decode(FromHex(hex), options);
  EXPECT_TRUE(r.has_value()) << hex << ": " << (r ? "" : r.error().Message());
  return r ? *r : Node();
}

base::Bytes Deflate(base::ByteView in) {
  uLongf size = compressBound(static_cast<uLong>(in.size()));
  base::Bytes out(size);
  EXPECT_EQ(compress2(out.data(), &size, in.data(), static_cast<uLong>(in.size()), 9), Z_OK);
  out.resize(size);
  return out;
}

base::Bytes CompressedFrame(const Node& node) {
  base::Bytes plain = Encode(node);
  base::Bytes frame{kFlagCompressed};
  base::Bytes z = Deflate(base::ByteView(plain).subspan(1));
  frame.insert(frame.end(), z.begin(), z.end());
  return frame;
}

TEST(Decoder, Truncated) {
  ExpectError("", DecodeErrc::kTruncated, 0);
  ExpectError("00", DecodeErrc::kTruncated, 1);
  ExpectError("00 f8", DecodeErrc::kTruncated, 2);
  ExpectError("00 f9 00", DecodeErrc::kTruncated, 2);
  ExpectError("00 f8 01", DecodeErrc::kTruncated, 3);        // no tag
  ExpectError("00 f8 01 ec", DecodeErrc::kTruncated, 4);     // no dictionary index
  ExpectError("00 f8 03 19 08 fc", DecodeErrc::kTruncated, 6);  // attribute value cut
  ExpectError("00 f8 03 19 08", DecodeErrc::kLengthExceedsInput, 1);  // no room for the value
  ExpectError("00 f8 01 fd 00", DecodeErrc::kTruncated, 4);  // BINARY_20 length cut
  ExpectError("00 f8 01 ff", DecodeErrc::kTruncated, 4);     // packed header missing
  ExpectError("00 f8 03 19 06 f7 00", DecodeErrc::kTruncated, 7);  // AD_JID device missing
  ExpectError("00 f8 03 19 06 f6 55 00", DecodeErrc::kTruncated, 7);  // FB_JID device cut
}

TEST(Decoder, LengthExceedsInputIsCheckedBeforeAllocating) {
  ExpectError("00 f8 01 fc 05 61", DecodeErrc::kLengthExceedsInput, 3);
  ExpectError("00 f8 01 fe ff ff ff ff 61", DecodeErrc::kLengthExceedsInput, 3);  // 4 GiB claimed
  ExpectError("00 f8 02 19 fe 7f ff ff ff", DecodeErrc::kLengthExceedsInput, 4);  // bytes content
  ExpectError("00 f8 02 19 fd 0f ff ff 00", DecodeErrc::kLengthExceedsInput, 4);
  ExpectError("00 f8 01 ff 05 12", DecodeErrc::kLengthExceedsInput, 3);           // packed
  ExpectError("00 f9 ff ff 19 08 08", DecodeErrc::kLengthExceedsInput, 1);        // 32767 attributes
  ExpectError("00 f8 02 19 f9 ff ff f8 01 19", DecodeErrc::kLengthExceedsInput, 4);  // 65535 children
}

TEST(Decoder, BinaryTwentyIgnoresTopBits) {
  // The top 4 bits of BINARY_20's 3 bytes are not length bits (Baileys masks them).
  Node n = MustDecode("00 f8 02 19 fd f0 00 01 41");
  ASSERT_NE(n.bytes(), nullptr);
  EXPECT_EQ(base::ToHex(*n.bytes()), "41");
}

TEST(Decoder, NotAList) {
  ExpectError("00 19", DecodeErrc::kNotAList, 1);
  ExpectError("00 fc 01 61", DecodeErrc::kNotAList, 1);
  ExpectError("00 f8 02 19 f8 01 19 19 19", DecodeErrc::kNotAList, 6);  // child is not a list
}

TEST(Decoder, EmptyNodeAndEmptyTag) {
  ExpectError("00 00", DecodeErrc::kEmptyNode, 1);
  ExpectError("00 f8 00", DecodeErrc::kEmptyNode, 1);
  ExpectError("00 f9 00 00", DecodeErrc::kEmptyNode, 1);
  ExpectError("00 f8 02 19 f8 01 f8 00 00", DecodeErrc::kEmptyNode, 6);  // an empty child
  ExpectError("00 f8 01 00", DecodeErrc::kEmptyTag, 3);
  ExpectError("00 f8 01 fc 00", DecodeErrc::kEmptyTag, 3);
}

TEST(Decoder, InvalidTagBytes) {
  for (int b = 240; b <= 244; ++b) {
    char hex[3];
    std::snprintf(hex, sizeof hex, "%02x", b);
    ExpectError(std::string("00 f8 01 ") + hex, DecodeErrc::kInvalidTag, 3);           // tag
    ExpectError(std::string("00 f8 03 19 08 ") + hex, DecodeErrc::kInvalidTag, 5);     // value
    ExpectError(std::string("00 f8 02 19 ") + hex, DecodeErrc::kInvalidTag, 4);        // content
    ExpectError(std::string("00 f8 03 19 06 fa ") + hex, DecodeErrc::kInvalidTag, 6);  // JID user
  }
  ExpectError("00 f8 01 f8", DecodeErrc::kInvalidTag, 3);  // a list where a string must be
  ExpectError("00 f8 03 19 f9 00 01", DecodeErrc::kInvalidTag, 4);
}

TEST(Decoder, EveryTokenIndexIsValid) {
  // With DICT_VERSION 3 every byte 1..235 and every double-byte index 0..255 is a token, so
  // "token index out of range" cannot occur; check that each decodes.
  for (int b = 1; b <= 235; ++b) {
    base::Bytes frame{0x00, 0xf8, 0x01, static_cast<std::uint8_t>(b)};
    EXPECT_TRUE(Decode(frame).has_value()) << b;
  }
  for (int d = 0; d < 4; ++d) {
    for (int i = 0; i < 256; ++i) {
      base::Bytes frame{0x00, 0xf8, 0x01, static_cast<std::uint8_t>(0xec + d), static_cast<std::uint8_t>(i)};
      EXPECT_TRUE(Decode(frame).has_value()) << d << "," << i;
    }
  }
}

TEST(Decoder, PackedStrings) {
  EXPECT_EQ(MustDecode("00 f8 02 19 ff 81 1f").ContentText(), "1");
  EXPECT_EQ(MustDecode("00 f8 02 19 ff 06 47 12 3b 12 34 a7").ContentText(), "47123.1234-7");
  EXPECT_EQ(MustDecode("00 f8 02 19 fb 02 3e b0").ContentText(), "3EB0");
  EXPECT_EQ(MustDecode("00 f8 02 19 fb 81 af").ContentText(), "A");   // odd: last nibble dropped
  EXPECT_EQ(MustDecode("00 f8 02 19 ff 81 12").ContentText(), "1");   // Baileys drops any last nibble
  // 127 characters is the most.
  std::string max = "00 f8 02 19 ff c0";
  for (int i = 0; i < 63; ++i) max += " 12";
  max += " 3f";
  EXPECT_EQ(MustDecode(max).ContentText()->size(), 127u);
}

TEST(Decoder, BadNibbles) {
  ExpectError("00 f8 02 19 ff 01 1c", DecodeErrc::kBadNibble, 6);     // 12
  ExpectError("00 f8 02 19 ff 01 d1", DecodeErrc::kBadNibble, 6);     // 13 high
  ExpectError("00 f8 02 19 ff 02 11 e1", DecodeErrc::kBadNibble, 7);  // 14
  ExpectError("00 f8 02 19 ff 81 1e", DecodeErrc::kBadNibble, 6);     // 14 even when dropped
  // The pad nibble (15) only as the dropped last nibble of an odd length (Baileys would give
  // a NUL character).
  ExpectError("00 f8 02 19 ff 01 1f", DecodeErrc::kBadNibble, 6);
  ExpectError("00 f8 02 19 ff 82 f1 23", DecodeErrc::kBadNibble, 6);
  ExpectError("00 f8 02 19 ff 82 1f 23", DecodeErrc::kBadNibble, 6);
}

// Packed strings of every length, as the node's last item (the input ends with them) and as an
// attribute value with more bytes after it, each with a bad nibble in every place in turn. The
// expected texts and offsets come from the nibble rules, one nibble at a time.
TEST(Decoder, PackedEveryLengthAndPlace) {
  std::mt19937 rng(7);
  const std::string nibble_chars = "0123456789-.";
  const std::string hex_chars = "0123456789ABCDEF";
  for (std::uint8_t tag : {kNibble8, kHex8}) {
    const bool hex = tag == kHex8;
    for (std::size_t chars = 1; chars <= kPackedMax; ++chars) {
      const std::size_t n = (chars + 1) / 2;
      const bool odd = chars % 2 == 1;
      std::vector<std::uint8_t> nibbles;
      std::string text;
      for (std::size_t i = 0; i < 2 * n; ++i) {
        std::uint8_t v = static_cast<std::uint8_t>(rng() % (hex ? 16 : 12));
        if (i == 2 * n - 1 && odd) v = hex ? static_cast<std::uint8_t>(rng() % 16) : 15;
        nibbles.push_back(v);
        if (i < chars) text += (hex ? hex_chars : nibble_chars)[v];
      }
      auto packed = [&](const std::vector<std::uint8_t>& nib) {
        base::Bytes out{tag, static_cast<std::uint8_t>(n | (odd ? 0x80 : 0))};
        for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<std::uint8_t>(nib[2 * i] << 4 | nib[2 * i + 1]));
        return out;
      };
      for (bool at_end : {true, false}) {
        SCOPED_TRACE(::testing::Message() << (hex ? "hex " : "nibble ") << chars << (at_end ? " at end" : " inside"));
        // <node tag=0x19 0x06=packed>, then for "inside" 12 bytes of BINARY_8 content.
        auto frame = [&](const std::vector<std::uint8_t>& nib) {
          base::Bytes f{0x00, kList8, static_cast<std::uint8_t>(at_end ? 3 : 4), 0x19, 0x06};
          base::Bytes p = packed(nib);
          f.insert(f.end(), p.begin(), p.end());
          if (!at_end) {
            f.insert(f.end(), {kBinary8, 12});
            f.insert(f.end(), 12, 0xEE);
          }
          return f;
        };
        auto ok = Decode(frame(nibbles));
        ASSERT_TRUE(ok.has_value()) << ok.error().Message();
        EXPECT_EQ(ok->AttrOr("from"), text);
        if (hex) continue;
        constexpr std::size_t kFirstPackedByte = 7;
        for (std::size_t i = 0; i < 2 * n; ++i) {
          const bool last = i == 2 * n - 1;
          for (std::uint8_t v : {12, 13, 14, 15}) {
            if (last && odd && v == 15) continue;  // the pad where it belongs
            std::vector<std::uint8_t> bad = nibbles;
            bad[i] = v;
            auto r = Decode(frame(bad));
            ASSERT_FALSE(r.has_value()) << "nibble " << i << " = " << int{v};
            EXPECT_EQ(r.error().code, DecodeErrc::kBadNibble);
            EXPECT_EQ(r.error().offset, kFirstPackedByte + i / 2) << "nibble " << i;
          }
        }
      }
    }
  }
}

TEST(Decoder, BadPacked) {
  ExpectError("00 f8 02 19 ff 00", DecodeErrc::kBadPacked, 4);
  ExpectError("00 f8 02 19 fb 80", DecodeErrc::kBadPacked, 4);
  ExpectError("00 f8 02 19 ff 40", DecodeErrc::kBadPacked, 4);  // 128 characters
  ExpectError("00 f8 02 19 fb 7f", DecodeErrc::kBadPacked, 4);
}

TEST(Decoder, Jids) {
  // JID_PAIR with an empty server (Baileys: "invalid jid pair").
  ExpectError("00 f8 03 19 06 fa 55 00", DecodeErrc::kBadJid, 5);
  ExpectError("00 f8 03 19 06 fa 55 fc 00", DecodeErrc::kBadJid, 5);
  Node n = MustDecode("00 f8 03 19 06 fa 00 03");
  EXPECT_EQ(n.AttrOr("from"), "@s.whatsapp.net");
  EXPECT_EQ(n.GetJid("from"), Jid::Server());
  // AD_JID with an unknown domain byte: s.whatsapp.net, byte kept for re-encoding.
  n = MustDecode("00 f8 03 19 06 f7 05 02 55");
  EXPECT_EQ(n.AttrOr("from"), "1:2@s.whatsapp.net");
  EXPECT_EQ(n.GetJid("from")->agent(), 5);
  EXPECT_EQ(base::ToHex(Encode(n)), "00f80319" "06f7050255");
  // A JID inside a JID (Baileys writes "x@y@z" so) reads as text.
  n = MustDecode("00 f8 03 19 06 fa fc 01 78 fa fc 01 79 fc 01 7a");
  EXPECT_EQ(n.AttrOr("from"), "x@y@z");
  EXPECT_EQ(n.GetJid("from")->server(), "y@z");
}

TEST(Decoder, InteropWithoutServerFallsBack) {
  // Baileys: when the server does not read, it is "interop" and nothing is consumed.
  Node n = MustDecode("00 f8 02 19 f5 55 00 01 00 02");
  EXPECT_EQ(n.ContentText(), "2-1:1@interop");
  ASSERT_NE(n.text(), nullptr);
  EXPECT_EQ(n.text()->jid(), Jid::Interop("1", 1, 2));
  // A byte that is not a string stays unread: here it is then left over.
  ExpectError("00 f8 02 19 f5 55 00 01 00 02 f0", DecodeErrc::kTrailingBytes, 10);
}

// Baileys reads a JID as the user or server of an INTEROP_JID, and the server on trial; nested
// trial reads take exponential time (a 548-byte frame found by the fuzzer keeps Baileys busy for
// minutes). We refuse JIDs there.
TEST(Decoder, InteropPartsArePlainStrings) {
  ExpectError("00 f8 02 19 f5 f5 55 00 01 00 02", DecodeErrc::kBadJid, 5);
  ExpectError("00 f8 02 19 f5 55 00 01 00 02 fa 00 03", DecodeErrc::kBadJid, 10);
  std::string nested = "00 f8 02 19";
  for (int i = 0; i < 60; ++i) nested += " f5";
  ExpectError(nested, DecodeErrc::kBadJid, 5);
  // The fuzzer's frame: interop JIDs nested in other JIDs, each with a trial server read.
  base::Bytes frame{0x00, 0xf8, 0x02, 0x19};
  for (int i = 0; i < 60; ++i) frame.insert(frame.end(), {0xfa, 0xf5, 0x55, 0x00, 0x01, 0x00, 0x02});
  frame.push_back(0xf0);
  EXPECT_FALSE(Decode(frame).has_value());
}

TEST(Decoder, TagsAndKeysFlattenJids) {
  Node n = MustDecode("00 f8 03 fa 55 03 fa 00 03 19");
  EXPECT_EQ(n.tag, "1@s.whatsapp.net");
  ASSERT_EQ(n.attrs.size(), 1u);
  EXPECT_EQ(n.attrs[0].key, "@s.whatsapp.net");
  EXPECT_EQ(n.attrs[0].value.text(), "iq");
}

// Text with '@' in a tag or key: written back as a JID only if it reads back unchanged.
TEST(Decoder, TagsAndKeysWithAtAreStable) {
  // Raw key "1_5:3@x": as a JID it would read "1:3@s.whatsapp.net", so it stays raw.
  base::Bytes raw_key = FromHex("00 f8 03 19 fc 07 31 5f 35 3a 33 40 78 19");
  Node n = MustDecode(base::ToHex(raw_key));
  EXPECT_EQ(n.attrs[0].key, "1_5:3@x");
  EXPECT_EQ(Encode(n), raw_key);
  // Key written as a nested JID by Baileys ("a@b@c"): written back the same way.
  base::Bytes jid_key = FromHex("00 f8 03 19 fa fc 01 61 fa fc 01 62 ee 25 19");  // "c" is token (2, 37)
  n = MustDecode(base::ToHex(jid_key));
  EXPECT_EQ(n.attrs[0].key, "a@b@c");
  EXPECT_EQ(Encode(n), jid_key);
}

TEST(Decoder, TrailingBytes) {
  ExpectError("00 f8 01 19 00", DecodeErrc::kTrailingBytes, 4);
  DecodeOptions lenient;
  lenient.allow_trailing_bytes = true;
  EXPECT_EQ(MustDecode("00 f8 01 19 00 ff", lenient).tag, "iq");
}

TEST(Decoder, RawStringsKeepTheirForm) {
  // "123" as a raw string (Baileys would nibble-pack it) is written back raw.
  Node n = MustDecode("00 f8 03 19 08 fc 03 31 32 33");
  EXPECT_EQ(n.AttrOr("id"), "123");
  EXPECT_EQ(n.attrs[0].value.kind(), Value::Kind::kRaw);
  EXPECT_EQ(base::ToHex(Encode(n)), "00f8031908fc03313233");
  EXPECT_EQ(n, Node("iq", {{"id", "123"}}));  // raw is a wire hint, not part of the value
}

Node Chain(int depth) {
  Node root("iq");
  Node* cur = &root;
  for (int i = 1; i < depth; ++i) {
    cur->content = Node::Children{Node("iq")};
    cur = &std::get<Node::Children>(cur->content)[0];
  }
  return root;
}

TEST(Decoder, NestingDepthIsCapped) {
  DecodeOptions options;
  EXPECT_EQ(options.max_depth, 64);
  EXPECT_TRUE(Decode(Encode(Chain(64))).has_value());
  auto r = Decode(Encode(Chain(65)));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, DecodeErrc::kTooDeep);
  // Each level is f8 02 19 f8 01: the 65th node starts at 1 + 5 * 64.
  EXPECT_EQ(r.error().offset, 1u + 5 * 64);
  options.max_depth = 3;
  EXPECT_TRUE(Decode(Encode(Chain(3)), options).has_value());
  EXPECT_EQ(Decode(Encode(Chain(4)), options).error().code, DecodeErrc::kTooDeep);
}

TEST(Decoder, HostileNestingFailsFast) {
  // 200000 nested list headers: rejected at the depth limit without deep recursion.
  base::Bytes frame{0x00};
  for (int i = 0; i < 200000; ++i) {
    frame.insert(frame.end(), {0xf8, 0x02, 0x19, 0xf8, 0x01});
  }
  auto r = Decode(frame);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, DecodeErrc::kTooDeep);
  // JIDs nested in JIDs count too.
  base::Bytes jids{0x00, 0xf8, 0x02, 0x19};
  for (int i = 0; i < 100000; ++i) jids.push_back(0xfa);
  r = Decode(jids);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, DecodeErrc::kTooDeep);
  EXPECT_EQ(r.error().offset, 4u + 64);
}

TEST(Decoder, Compressed) {
  Node ping("iq", {{"id", "47123.1234-7"}, {"to", Jid::Server()}, {"type", "get"}, {"xmlns", "w:p"}},
            Node::Children{Node("ping")});
  auto r = Decode(CompressedFrame(ping));
  ASSERT_TRUE(r.has_value()) << r.error().Message();
  EXPECT_EQ(*r, ping);
  // Any flags value with bit 1 set means compressed; other bits are ignored.
  base::Bytes frame = CompressedFrame(ping);
  frame[0] = 0xFF;
  EXPECT_TRUE(Decode(frame).has_value());
  frame = Encode(ping);
  frame[0] = 0xFD;
  EXPECT_TRUE(Decode(frame).has_value());
  // Bytes after the zlib stream are ignored, as Node's inflate does.
  frame = CompressedFrame(ping);
  frame.push_back(0x12);
  EXPECT_TRUE(Decode(frame).has_value());
}

TEST(Decoder, CompressedErrors) {
  auto r = Decode(FromHex("02 00 01 02 03"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, DecodeErrc::kBadZlib);
  EXPECT_FALSE(r.error().inflated);
  base::Bytes frame = CompressedFrame(Node("iq", {}, base::Bytes(1000, 7)));
  frame.resize(frame.size() - 6);  // cut the stream
  EXPECT_EQ(Decode(frame).error().code, DecodeErrc::kBadZlib);
  EXPECT_EQ(Decode(FromHex("02")).error().code, DecodeErrc::kBadZlib);
  // An error inside the inflated bytes is reported at its inflated offset.
  base::Bytes bad{0xf8, 0x02, 0x19, 0xf0};
  base::Bytes z = Deflate(bad);
  frame = {kFlagCompressed};
  frame.insert(frame.end(), z.begin(), z.end());
  r = Decode(frame);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, DecodeErrc::kInvalidTag);
  EXPECT_EQ(r.error().offset, 3u);
  EXPECT_TRUE(r.error().inflated);
}

TEST(Decoder, ZipBombIsCapped) {
  // 64 MiB of zeros deflate to about 64 KiB; the default cap is 16 MiB.
  Node bomb("iq", {}, base::Bytes(64u << 20, 0));
  base::Bytes frame = CompressedFrame(bomb);
  EXPECT_LT(frame.size(), 200u * 1024);
  auto r = Decode(frame);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, DecodeErrc::kInflatedTooLarge);
  EXPECT_FALSE(r.error().inflated);
  // Exactly at the cap is fine, one byte more is not.
  Node small("iq", {}, base::Bytes(1000, 0));
  std::size_t inflated_size = Encode(small).size() - 1;
  DecodeOptions options;
  options.max_inflated_size = inflated_size;
  EXPECT_TRUE(Decode(CompressedFrame(small), options).has_value());
  options.max_inflated_size = inflated_size - 1;
  EXPECT_EQ(Decode(CompressedFrame(small), options).error().code, DecodeErrc::kInflatedTooLarge);
}

TEST(Decoder, ErrorCodeAndMessage) {
  DecodeError e{DecodeErrc::kBadNibble, 7, false};
  EXPECT_EQ(e.Message(), "invalid nibble in packed string at offset 7");
  boost::system::error_code ec = e.ToErrorCode();
  EXPECT_EQ(ec, DecodeErrc::kBadNibble);
  EXPECT_EQ(ec.message(), "invalid nibble in packed string");
  DecodeError i{DecodeErrc::kTruncated, 3, true};
  EXPECT_EQ(i.Message(), "truncated input at inflated offset 3");
}

boost::json::array AllVectorHex() {
  boost::json::array out;
  for (const char* file : {"binary-nodes.json", "connection-nodes.json"}) {
    std::ifstream in(std::string(WA_SHARED_DIR) + "/protocol/vectors/" + file);
    std::stringstream ss;
    ss << in.rdbuf();
    auto doc = boost::json::parse(ss.str()).as_object();
    for (const char* key : {"vectors", "decode_only"}) {
      if (!doc.contains(key)) continue;
      for (const auto& v : doc.at(key).as_array()) out.push_back(v.at("hex"));
    }
  }
  return out;
}

// Every proper prefix of a valid frame fails cleanly, with an offset inside the prefix. Frames
// with an INTEROP_JID are left out: by Baileys' rule a missing server reads as "interop", so
// their prefixes can decode (InteropWithoutServerFallsBack covers that).
TEST(Decoder, EveryPrefixOfEveryVectorFails) {
  auto all = AllVectorHex();
  ASSERT_GE(all.size(), 30u);
  for (const auto& hex : all) {
    base::Bytes frame = FromHex(hex.as_string());
    if (frame[0] & kFlagCompressed) continue;
    auto full = Decode(frame);
    auto from = full ? full->GetJid("from") : std::nullopt;
    if (from && from->form() == Jid::Form::kInterop) continue;
    for (std::size_t n = 0; n < frame.size(); ++n) {
      auto r = Decode(base::ByteView(frame).subspan(0, n));
      ASSERT_FALSE(r.has_value()) << hex.as_string() << " prefix " << n;
      EXPECT_TRUE(r.error().code == DecodeErrc::kTruncated ||
                  r.error().code == DecodeErrc::kLengthExceedsInput)
          << hex.as_string() << " prefix " << n << ": " << r.error().Message();
      EXPECT_LE(r.error().offset, n);
    }
  }
}

// Seeded mutations of the vectors: whatever decodes must survive encode -> decode unchanged and
// re-encode to the same bytes (the fuzz target's property, run deterministically).
TEST(Decoder, MutatedVectorsAreStable) {
  auto all = AllVectorHex();
  std::mt19937 rng(12345);
  int decoded = 0;
  for (int round = 0; round < 20000; ++round) {
    base::Bytes frame = FromHex(all[rng() % all.size()].as_string());
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !frame.empty(); ++e) {
      std::size_t at = rng() % frame.size();
      switch (rng() % 3) {
        case 0: frame[at] = static_cast<std::uint8_t>(rng()); break;
        case 1: frame.erase(frame.begin() + static_cast<std::ptrdiff_t>(at)); break;
        default: frame.insert(frame.begin() + static_cast<std::ptrdiff_t>(at), static_cast<std::uint8_t>(rng()));
      }
    }
    auto r = Decode(frame);
    if (!r) continue;
    ++decoded;
    base::Bytes once = Encode(*r);
    auto again = Decode(once);
    ASSERT_TRUE(again.has_value()) << base::ToHex(frame) << ": " << again.error().Message();
    ASSERT_EQ(*again, *r) << base::ToHex(frame);
    ASSERT_EQ(base::ToHex(Encode(*again)), base::ToHex(once));
  }
  EXPECT_GT(decoded, 1000);
}

TEST(Decoder, RoundTripBuiltNodes) {
  Node n("message",
         {{"id", "3EB0C0FFEE0123456789AB"},
          {"from", Jid::User("5511987654321", 12)},
          {"participant", Jid::Lid("123456789012345", 3)},
          {"recipient", Jid::Fb("100012345", 7)},
          {"interop", Jid::Interop("99887766", 1, 2)},
          {"hosted", Jid::Ad("55", kDomainHostedLid, 0)},
          {"t", "1700000000"},
          {"notify", ""},
          {"name", Value::Raw("Zed")}},
         Node::Children{Node("enc", {{"v", "2"}, {"type", "pkmsg"}}, base::Bytes(300, 0xAB)),
                        Node("body", {}, Value("0")), Node("to", {}, Value(Jid::Pair("120363", "g.us")))});
  base::Bytes bytes = Encode(n);
  auto r = Decode(bytes);
  ASSERT_TRUE(r.has_value()) << r.error().Message();
  EXPECT_EQ(*r, n);
  EXPECT_EQ(Encode(*r), bytes);
}

// Texts on both sides of Value's inline capacity, as attribute values and as content, and a
// long rendered JID followed by short ones (the rendering buffer is reused between items and
// between calls, and must not leak one item's text into the next).
TEST(Decoder, ValuesAroundTheInlineCapacity) {
  const std::size_t limit = Value::kInlineCapacity;
  std::vector<Node> nodes;
  for (std::size_t size : {limit - 1, limit, limit + 1, 3 * limit}) {
    std::string text(size, 'q');
    nodes.push_back(Node("a", {{"raw", Value::Raw(text)}, {"k" + text, "v"}}, base::ToBytes(text)));
    std::string user(size, '9');
    nodes.push_back(Node("b", {{"jid", Jid::User(user, 7)}, {"pair", Jid::Pair(user, "g.us")}},
                         Value(Jid::Interop(user, 1, 2))));
  }
  nodes.push_back(Node("c", {{"a", Jid::Fb(std::string(5000, '1'), 9)}, {"b", Jid::User("1", 2)}},
                       Value(Jid::Lid("2"))));
  for (const Node& node : nodes) {
    base::Bytes bytes = Encode(node);
    auto r = Decode(bytes);
    ASSERT_TRUE(r.has_value()) << node << ": " << r.error().Message();
    EXPECT_EQ(*r, node);
    EXPECT_EQ(Encode(*r), bytes);
  }
  // The long rendered JID above does not linger in the next call's short one.
  auto small = Decode(Encode(Node("d", {{"to", Jid::User("3")}})));
  ASSERT_TRUE(small.has_value());
  EXPECT_EQ(small->AttrOr("to"), "3@s.whatsapp.net");
}

}  // namespace
}  // namespace wa::binary
