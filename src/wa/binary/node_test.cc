#include "wa/binary/node.h"

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "wa/binary/printer.h"

namespace wa::binary {
namespace {

Node Sample() {
  return Node("iq",
              {{"id", "47123.1234-7"},
               {"from", Jid::User("5511987654321", 12)},
               {"to", "@s.whatsapp.net"},
               {"t", "1700000000"},
               {"neg", "-5"},
               {"big", "18446744073709551615"},
               {"flag", "true"},
               {"zero", "0"},
               {"bad", "x1"},
               {"type", "get"},
               {"type", "set"}},
              Node::Children{Node("ping"), Node("ref", {}, base::Bytes{1, 2}), Node("ref", {}, Value("abc")),
                             Node("user", {{"jid", Jid::Lid("1")}})});
}

TEST(Node, AttributeLookups) {
  Node n = Sample();
  EXPECT_EQ(n.GetAttr("id"), "47123.1234-7");
  EXPECT_EQ(n.GetAttr("missing"), std::nullopt);
  EXPECT_EQ(n.AttrOr("missing", "dflt"), "dflt");
  EXPECT_TRUE(n.HasAttr("to"));
  // The last occurrence wins (Baileys' object, whatsmeow's map).
  EXPECT_EQ(n.AttrOr("type"), "set");
  EXPECT_EQ(n.AttrOr("from"), "5511987654321:12@s.whatsapp.net");
}

TEST(Node, GetJidAcceptsTypedAndText) {
  Node n = Sample();
  EXPECT_EQ(n.GetJid("from"), Jid::User("5511987654321", 12));
  EXPECT_EQ(n.GetJid("to"), Jid::Server());  // a text attribute that parses
  EXPECT_EQ(n.GetJid("id"), std::nullopt);   // no '@'
  EXPECT_EQ(n.GetJid("missing"), std::nullopt);
}

TEST(Node, SetAttrReplacesTheLastOccurrence) {
  Node n = Sample();
  n.SetAttr("type", "result");
  EXPECT_EQ(n.attrs[9].value.text(), "get");
  EXPECT_EQ(n.attrs[10].value.text(), "result");
  n.SetAttr("new", Jid::Server());
  EXPECT_EQ(n.attrs.back().key, "new");
  EXPECT_TRUE(n.attrs.back().value.is_jid());
}

TEST(Node, Children) {
  Node n = Sample();
  ASSERT_TRUE(n.has_children());
  EXPECT_EQ(n.children().size(), 4u);
  ASSERT_NE(n.Child("ping"), nullptr);
  EXPECT_EQ(n.Child("nope"), nullptr);
  auto refs = n.ChildrenByTag("ref");
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0]->ContentText(), std::string_view("\x01\x02", 2));
  EXPECT_EQ(refs[1]->ContentText(), "abc");
  EXPECT_EQ(base::ToHex(*refs[1]->ContentBytes()), "616263");
  EXPECT_EQ(base::ToHex(*refs[0]->ContentBytes()), "0102");
  EXPECT_EQ(n.Child("ping")->ContentText(), std::nullopt);
  EXPECT_TRUE(Node("x").children().empty());
  Node m("x", {}, base::Bytes{1});
  m.mutable_children()->push_back(Node("y"));
  EXPECT_EQ(m.children().size(), 1u);
}

TEST(Node, Equality) {
  EXPECT_EQ(Sample(), Sample());
  Node other = Sample();
  other.attrs[0].value = "1";
  EXPECT_NE(other, Sample());
  // Raw is a wire hint: same text, same value.
  EXPECT_EQ(Value::Raw("abc"), Value("abc"));
  // A JID is not the same value as its text, nor as the same address in another wire form.
  EXPECT_NE(Value(Jid::Server()), Value("@s.whatsapp.net"));
  EXPECT_NE(Value(Jid::Ad("1", 0, 0)), Value(Jid::User("1")));
  EXPECT_EQ(Value(Jid::Ad("1", 0, 0)).text(), Value(Jid::User("1")).text());
  EXPECT_NE(Node("a", {}, base::Bytes{0x61}), Node("a", {}, Value("a")));
  EXPECT_NE(Node("a"), Node("a", {}, Node::Children{}));
}

TEST(Node, ValueJidParts) {
  Value v(Jid::Interop("99887766", 1, 2));
  EXPECT_EQ(v.text(), "2-99887766:1@interop");
  EXPECT_EQ(v.jid_user(), "99887766");
  EXPECT_EQ(v.jid_server(), "interop");
  EXPECT_EQ(v.jid(), Jid::Interop("99887766", 1, 2));
  EXPECT_EQ(Value("x@y").jid(), std::nullopt);
}

// Values keep texts up to kInlineCapacity bytes inline and longer ones on the heap; copies,
// moves and assignments between the two kinds keep the text and every JID fact.
TEST(Node, ValueStorageAcrossCopyMoveAndAssign) {
  const std::string at_limit(Value::kInlineCapacity, 'a');
  const std::string past_limit(Value::kInlineCapacity + 1, 'b');
  const Jid long_jid = Jid::Interop(std::string(60, '7'), 3, 65535);  // heap
  const Jid short_jid = Jid::User("5511987654321", 12);                // inline
  std::vector<Value> values = {Value(), Value(""), Value(at_limit), Value::Raw(past_limit),
                               Value(long_jid), Value(short_jid)};
  for (const Value& original : values) {
    SCOPED_TRACE(std::string(original.text()));
    Value copy(original);
    EXPECT_EQ(copy, original);
    EXPECT_EQ(copy.kind(), original.kind());
    EXPECT_EQ(copy.jid(), original.jid());
    Value moved(std::move(copy));
    EXPECT_EQ(moved, original);
    EXPECT_EQ(moved.jid(), original.jid());
    for (const Value& other : values) {
      Value target(other);
      target = original;
      EXPECT_EQ(target, original);
      EXPECT_EQ(target.kind(), original.kind());
      Value source(original);
      Value move_target(other);
      move_target = std::move(source);
      EXPECT_EQ(move_target, original);
      EXPECT_EQ(move_target.jid(), original.jid());
    }
    Value self(original);
    const Value& alias = self;
    self = alias;
    EXPECT_EQ(self, original);
  }
  EXPECT_EQ(Value(at_limit).text(), at_limit);
  EXPECT_EQ(Value::Raw(past_limit).text(), past_limit);
  EXPECT_EQ(Value(long_jid).jid_user(), std::string(60, '7'));
  EXPECT_EQ(Value(long_jid).text(), "65535-" + std::string(60, '7') + ":3@interop");
}

TEST(AttrReader, AccumulatesErrors) {
  Node n = Sample();
  AttrReader r = n.Attrs();
  EXPECT_EQ(r.String("id"), "47123.1234-7");
  EXPECT_EQ(r.GetJid("from"), Jid::User("5511987654321", 12));
  EXPECT_EQ(r.Int64("t"), 1700000000);
  EXPECT_EQ(r.Int64("neg"), -5);
  EXPECT_EQ(r.Uint64("big"), 18446744073709551615ull);
  EXPECT_TRUE(r.Bool("flag"));
  EXPECT_FALSE(r.Bool("zero"));
  EXPECT_EQ(r.OptionalString("missing"), std::nullopt);
  EXPECT_EQ(r.OptionalJid("missing"), std::nullopt);
  EXPECT_EQ(r.OptionalInt64("missing"), std::nullopt);
  EXPECT_TRUE(r.ok()) << r.ErrorText();

  EXPECT_EQ(r.String("nope"), "");
  EXPECT_EQ(r.Int64("bad"), 0);
  EXPECT_EQ(r.Int64("big"), 0);  // out of range for int64
  EXPECT_EQ(r.Uint64("neg"), 0u);
  EXPECT_FALSE(r.Bool("bad"));
  EXPECT_EQ(r.GetJid("id"), Jid());
  EXPECT_EQ(r.GetJid("absent"), Jid());
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.errors().size(), 7u);
  using Reason = AttrReader::Error::Reason;
  EXPECT_EQ(r.errors()[0].reason, Reason::kMissing);
  EXPECT_EQ(r.errors()[1].reason, Reason::kNotInteger);
  EXPECT_EQ(r.errors()[2].reason, Reason::kOutOfRange);
  EXPECT_EQ(r.errors()[3].reason, Reason::kNotInteger);
  EXPECT_EQ(r.errors()[4].reason, Reason::kNotBool);
  EXPECT_EQ(r.errors()[5].reason, Reason::kNotJid);
  EXPECT_EQ(r.errors()[6].reason, Reason::kMissing);
  EXPECT_EQ(r.errors()[1].key, "bad");
  EXPECT_EQ(r.errors()[1].value, "x1");
  EXPECT_EQ(r.ErrorText().rfind("missing attribute 'nope'; attribute 'bad' is not an integer: 'x1'; ", 0), 0u)
      << r.ErrorText();
}

TEST(Printer, Compact) {
  Node n("iq", {{"id", "1"}, {"type", "get"}}, Node::Children{Node("ping")});
  EXPECT_EQ(ToXml(n), "<iq id=\"1\" type=\"get\"><ping/></iq>");
  std::ostringstream os;
  os << n;
  EXPECT_EQ(os.str(), ToXml(n));
}

TEST(Printer, BytesTextAndEscaping) {
  EXPECT_EQ(ToXml(Node("ref", {}, base::Bytes{0xde, 0xad})), "<ref>dead</ref>");
  EXPECT_EQ(ToXml(Node("t", {{"a", "x\"<&>\n"}}, Value("hi"))), "<t a=\"x&quot;&lt;&amp;&gt;\\x0a\">hi</t>");
  EXPECT_EQ(ToXml(Node("j", {{"jid", Jid::User("1", 2)}})), "<j jid=\"1:2@s.whatsapp.net\"/>");
  EXPECT_EQ(ToXml(Node("e", {}, Node::Children{})), "<e></e>");
}

TEST(Printer, Truncates) {
  PrintOptions opt;
  opt.max_bytes = 2;
  opt.max_text = 3;
  EXPECT_EQ(ToXml(Node("b", {}, base::Bytes{1, 2, 3, 4}), opt), "<b>0102...(4 bytes)</b>");
  EXPECT_EQ(ToXml(Node("s", {{"k", "abcdef"}}), opt), "<s k=\"abc...(6 bytes)\"/>");
}

TEST(Printer, Indent) {
  PrintOptions opt;
  opt.indent = true;
  Node n("iq", {}, Node::Children{Node("a", {}, Node::Children{Node("b")}), Node("c", {}, Value("x"))});
  EXPECT_EQ(ToXml(n, opt), "<iq>\n  <a>\n    <b/>\n  </a>\n  <c>x</c>\n</iq>\n");
}

}  // namespace
}  // namespace wa::binary
