#include "wa/binary/encoder.h"

#include <string>

#include <gtest/gtest.h>

#include "base/bytes.h"
#include "wa/binary/decoder.h"
#include "wa/binary/tags.h"
#include "wa/binary/tokens.gen.h"

namespace wa::binary {
namespace {

std::string EncodeAttr(const Value& v) { return base::ToHex(Encode(Node("a", {{"k", v}}))); }

// Expected bytes were produced by Baileys 7.0.0-rc14:
//   encodeBinaryNode({tag: 'a', attrs: {k: s}}).toString('hex')
// Every row is `00 f8 03 fc 01 61 fc 01 6b` (flags, list of 3, tag "a", key "k") + the value.
struct Case {
  const char* text;
  const char* value_hex;
};
constexpr Case kBaileysWriteString[] = {
    {"", "fc00"},                        // BINARY_8 of length 0
    {"iq", "19"},                        // single-byte token
    {"active", "ec01"},                  // double-byte token
    {"0", "2d"},                         // token before nibble
    {"123", "ff82123f"},                 // NIBBLE_8, odd length
    {"1.2-3", "ff831b2a3f"},             // nibble codes of '.' and '-'
    {"ABCDEF0", "fb84abcdef0f"},         // HEX_8 (upper case only)
    {"abcdef", "fc06616263646566"},      // lower-case hex is raw
    {"Zed", "fc035a6564"},               // raw
    {"@s.whatsapp.net", "fa0003"},       // JID_PAIR, empty user
    {"1@s.whatsapp.net", "fa5503"},      // user "1" is a token
    {"1:0@s.whatsapp.net", "f7000055"},  // AD_JID even for device 0
    {"1:12@lid", "f7010c55"},
    {"1:3@hosted", "f7800355"},
    {"1:4@hosted.lid", "f7810455"},
    {"1_128:5@s.whatsapp.net", "f7800555"},  // agent -> domain byte
    {"1_1@s.whatsapp.net", "fa5503"},        // no device: agent dropped
    // JS number coercion of the device (`+device`) and agent (`parseInt(agent)`), then & 0xff.
    {"1:x@s.whatsapp.net", "f7000055"},
    {"1: 7 @s.whatsapp.net", "f7000755"},
    {"1:0x1f@s.whatsapp.net", "f7001f55"},
    {"1:1e2@s.whatsapp.net", "f7006455"},
    {"1:-1@s.whatsapp.net", "f700ff55"},
    {"1:300@s.whatsapp.net", "f7002c55"},
    {"1:2.9@s.whatsapp.net", "f7000255"},
    {"1:Infinity@s.whatsapp.net", "f7000055"},
    {"1_abc:2@s.whatsapp.net", "f7000255"},
    {"1_0x81:2@x", "f7810255"},
    {"1_ 3z:2@x", "f7030255"},
    {"1_-2:2@x", "f7fe0255"},
    {"1:2:3@s.whatsapp.net", "f7000255"},  // only the first two ':' pieces count
    {"1_2_3:4@x", "f7020455"},
    {"a@", "fafc0161fc00"},
    {"@", "fa00fc00"},
    {"a:@lid", "fafc016176"},  // empty device part: JID_PAIR
    {"x@y@z", "fafc0178fafc0179fc017a"},  // the server "y@z" is a JID again
    {"5:3@g.us", "f70003ec79"},            // Baileys loses the server
    {"1:2@msgr", "f7000255"},              // ... and cannot write FB_JID from a string
    {"100:7@interop", "f70007ec33"},
    {"status@broadcast", "fa0b0d"},
};

TEST(Encoder, FollowsBaileysWriteString) {
  for (const Case& c : kBaileysWriteString) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(EncodeAttr(Value(c.text)), std::string("00f803fc0161fc016b") + c.value_hex);
  }
}

TEST(Encoder, RawLengthClasses) {
  // Baileys: < 256 BINARY_8, < 2^20 BINARY_20 (top 4 bits 0), else BINARY_32.
  auto header = [](std::size_t n) {
    base::Bytes b = Encode(Node("a", {}, base::Bytes(n, 0x41)));
    return base::ToHex(base::ByteView(b).subspan(0, 10));
  };
  EXPECT_EQ(header(255), "00f802fc0161fcff4141");
  EXPECT_EQ(header(256), "00f802fc0161fd000100");
  EXPECT_EQ(header((1 << 20) - 1), "00f802fc0161fd0fffff");
  EXPECT_EQ(header(1 << 20), "00f802fc0161fe001000");
  EXPECT_EQ(Encode(Node("a", {}, base::Bytes(1 << 20, 0x41))).size(), 7u + 4 + (1u << 20));
}

TEST(Encoder, ListSizeClasses) {
  auto header = [](std::size_t children) {
    Node n("a", {}, Node::Children(children, Node("b")));
    base::Bytes b = Encode(n);
    return base::ToHex(base::ByteView(b).subspan(6, 3));
  };
  EXPECT_EQ(header(0).substr(0, 2), "00");
  EXPECT_EQ(header(255), "f8fff8");
  EXPECT_EQ(header(256), "f90100");
  EXPECT_EQ(header(65535), "f9ffff");
  // A node's own list: 1 + 2 * attributes + content.
  Node many("a");
  for (int i = 0; i < 128; ++i) many.attrs.push_back({"k" + std::to_string(i), "v"});
  EXPECT_EQ(base::ToHex(base::ByteView(Encode(many)).subspan(0, 4)), "00f90101");
}

TEST(Encoder, PackedMaxLength) {
  std::string digits127(127, '7');
  std::string digits128(128, '7');
  EXPECT_EQ(EncodeAttr(Value(digits127)).substr(18, 4), "ffc0");  // 64 bytes, odd
  EXPECT_EQ(EncodeAttr(Value(digits128)).substr(18, 6), "fc8037");  // too long: raw
  std::string hex127(127, 'A');
  EXPECT_EQ(EncodeAttr(Value(hex127)).substr(18, 4), "fbc0");
}

TEST(Encoder, TypedJids) {
  EXPECT_EQ(EncodeAttr(Value(Jid::Server())), "00f803fc0161fc016bfa0003");
  EXPECT_EQ(EncodeAttr(Value(Jid::User("1", 12))), "00f803fc0161fc016bf7000c55");
  EXPECT_EQ(EncodeAttr(Value(Jid::Ad("1", 0, 0))), "00f803fc0161fc016bf7000055");
  EXPECT_EQ(EncodeAttr(Value(Jid::Lid("1", 3))), "00f803fc0161fc016bf7010355");
  EXPECT_EQ(EncodeAttr(Value(Jid::Ad("1", 5, 3))), "00f803fc0161fc016bf7050355");  // odd domain kept
  // FB_JID: user, device u16, server (msgr is token 204 = 0xcc).
  EXPECT_EQ(EncodeAttr(Value(Jid::Fb("1", 0x0102))), "00f803fc0161fc016bf6550102cc");
  // INTEROP_JID: user, device u16, integrator u16, server.
  EXPECT_EQ(EncodeAttr(Value(Jid::Interop("1", 1, 2))),
            "00f803fc0161fc016bf55500010002fc07696e7465726f70");
  // A part with '@' is a nested JID when it reads back unchanged (as Baileys nests "x@y@z"), else raw.
  EXPECT_EQ(EncodeAttr(Value(Jid::Pair("x", "y@z"))), "00f803fc0161fc016bfafc0178fafc0179fc017a");
  EXPECT_EQ(EncodeAttr(Value(Jid::Pair("x", "y:0@z"))), "00f803fc0161fc016bfafc0178fc05793a30407a");
  EXPECT_EQ(EncodeAttr(Value(Jid::Pair("x", "y:1@lid"))), "00f803fc0161fc016bfafc0178f70101fc0179");
}

TEST(Encoder, RawValuesStayRaw) {
  EXPECT_EQ(EncodeAttr(Value::Raw("123")), "00f803fc0161fc016bfc03313233");
  EXPECT_EQ(EncodeAttr(Value::Raw("iq")), "00f803fc0161fc016bfc026971");
}

// Tags and keys with '@' follow Baileys when its decoder would show them unchanged, else they
// are written raw (Baileys would write "1_5:3@x" as an AD_JID that reads back "1:3@s.whatsapp.net").
TEST(Encoder, TagsAndKeysWithAt) {
  EXPECT_EQ(base::ToHex(Encode(Node("a", {{"a@b", "Zed"}}))), "00f803fc0161fafc0161fc0162fc035a6564");
  EXPECT_EQ(base::ToHex(Encode(Node("x@y"))), "00f801fafc0178fc0179");
  EXPECT_EQ(base::ToHex(Encode(Node("1_5:3@x"))), "00f801fc07315f353a334078");
  EXPECT_EQ(base::ToHex(Encode(Node("x@"))), "00f801fc027840");  // empty server: undecodable as a JID
}

TEST(Encoder, PrototypeNamesAreNotTokens) {
  // Baileys writes these as byte 00 (its TOKEN_MAP is a plain object); they are raw strings.
  EXPECT_EQ(EncodeAttr(Value("constructor")).substr(18),
            "fc0b" + base::ToHex(base::AsBytes("constructor")));
  EXPECT_EQ(EncodeAttr(Value("__proto__")).substr(18), "fc09" + base::ToHex(base::AsBytes("__proto__")));
}

TEST(Encoder, ContentForms) {
  EXPECT_EQ(base::ToHex(Encode(Node("a"))), "00f801fc0161");
  EXPECT_EQ(base::ToHex(Encode(Node("a", {}, Node::Children{}))), "00f802fc016100");
  EXPECT_EQ(base::ToHex(Encode(Node("a", {}, base::Bytes{}))), "00f802fc0161fc00");
  EXPECT_EQ(base::ToHex(Encode(Node("a", {}, Value("0")))), "00f802fc01612d");  // token content
  EXPECT_EQ(base::ToHex(Encode(Node("a", {}, Value("")))), "00f802fc0161fc00");
}

TEST(Encoder, EncodeNodeAppends) {
  base::Bytes out{0xAA};
  EncodeNode(Node("iq"), out);
  EXPECT_EQ(base::ToHex(out), "aaf80119");
}

TEST(Tokens, EveryTokenFindsItself) {
  for (std::size_t i = 1; i < tokens::kSingleByteCount; ++i) {
    auto t = tokens::Find(tokens::kSingleByte[i]);
    ASSERT_TRUE(t.has_value()) << tokens::kSingleByte[i];
    EXPECT_EQ(t->dict, -1);
    EXPECT_EQ(t->index, i);
  }
  for (std::size_t d = 0; d < tokens::kDoubleByteDicts; ++d) {
    for (std::size_t i = 0; i < tokens::kDoubleByteSize; ++i) {
      auto t = tokens::Find(tokens::kDoubleByte[d][i]);
      ASSERT_TRUE(t.has_value()) << tokens::kDoubleByte[d][i];
      EXPECT_EQ(t->dict, static_cast<int>(d));
      EXPECT_EQ(t->index, i);
    }
  }
  EXPECT_FALSE(tokens::Find("").has_value());
  EXPECT_FALSE(tokens::Find("pair-success").has_value());
  EXPECT_FALSE(tokens::Find("i").has_value());
  EXPECT_FALSE(tokens::Find("iqq").has_value());
  EXPECT_FALSE(tokens::Find(std::string(200, 'x')).has_value());
}

// Every token is written as its token bytes, whichever strings' length, first or last byte it
// shares (the encoder screens strings by those before hashing).
TEST(Tokens, EveryTokenEncodesAsItsToken) {
  for (std::size_t i = 1; i < tokens::kSingleByteCount; ++i) {
    base::Bytes out;
    EncodeNode(Node(std::string(tokens::kSingleByte[i])), out);
    EXPECT_EQ(out, (base::Bytes{kList8, 1, static_cast<std::uint8_t>(i)})) << tokens::kSingleByte[i];
  }
  for (std::size_t d = 0; d < tokens::kDoubleByteDicts; ++d) {
    for (std::size_t i = 0; i < tokens::kDoubleByteSize; ++i) {
      base::Bytes out;
      EncodeNode(Node(std::string(tokens::kDoubleByte[d][i])), out);
      EXPECT_EQ(out, (base::Bytes{kList8, 1, static_cast<std::uint8_t>(kDictionary0 + d), static_cast<std::uint8_t>(i)}))
          << tokens::kDoubleByte[d][i];
    }
  }
}

TEST(Tokens, KnownIndices) {
  // 01-connection.md section 4.7.
  EXPECT_EQ(tokens::kSingleByte[3], "s.whatsapp.net");
  EXPECT_EQ(tokens::kSingleByte[25], "iq");
  EXPECT_EQ(tokens::kSingleByte[204], "msgr");
  EXPECT_EQ(tokens::kDoubleByte[0][1], "active");
  EXPECT_EQ(tokens::kDoubleByte[1][238], "pair-device");
  EXPECT_EQ(tokens::kDoubleByte[2][60], "failure");
}

}  // namespace
}  // namespace wa::binary
