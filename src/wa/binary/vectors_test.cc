// Baileys 7.0.0-rc14 vectors: binary-nodes.json and connection-nodes.json.
#include <fstream>
#include <sstream>
#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "base/bytes.h"
#include "wa/binary/decoder.h"
#include "wa/binary/encoder.h"
#include "wa/binary/node_json.h"

namespace wa::binary {
namespace {

boost::json::value LoadVectors(const std::string& name) {
  std::ifstream in(std::string(WA_SHARED_DIR) + "/protocol/vectors/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return boost::json::parse(ss.str());
}

base::Bytes Hex(const boost::json::value& v) {
  auto bytes = base::FromHex(v.as_string());
  EXPECT_TRUE(bytes.has_value());
  return bytes.value_or(base::Bytes{});
}

// Encode the node: Baileys' bytes. Decode those bytes: what Baileys' decoder returned. Encode the
// decoded node: the same bytes again (the decoded node keeps the wire form of JIDs and strings).
void CheckEncodeVectors(const boost::json::array& vectors, std::size_t expected_count) {
  EXPECT_EQ(vectors.size(), expected_count);
  for (const auto& item : vectors) {
    const auto& v = item.as_object();
    SCOPED_TRACE(std::string(v.at("name").as_string()));
    auto node = NodeFromJson(v.at("node"));
    ASSERT_TRUE(node.has_value());
    base::Bytes expected = Hex(v.at("hex"));
    EXPECT_EQ(base::ToHex(Encode(*node)), base::ToHex(expected));

    auto decoded = Decode(expected);
    ASSERT_TRUE(decoded.has_value()) << decoded.error().Message();
    EXPECT_EQ(NodeToJson(*decoded), v.at("decoded_by_baileys"));
    EXPECT_EQ(base::ToHex(Encode(*decoded)), base::ToHex(expected));
  }
}

TEST(Vectors, BinaryNodesEncodeByteExact) {
  auto doc = LoadVectors("binary-nodes.json");
  CheckEncodeVectors(doc.at("vectors").as_array(), 5);
}

TEST(Vectors, ConnectionNodesEncodeByteExact) {
  auto doc = LoadVectors("connection-nodes.json");
  CheckEncodeVectors(doc.at("vectors").as_array(), 23);
}

// Byte strings Baileys' encoder never produces: decode to what Baileys shows, and stay the same
// node through encode -> decode.
TEST(Vectors, DecodeOnly) {
  auto doc = LoadVectors("binary-nodes.json");
  const auto& vectors = doc.at("decode_only").as_array();
  EXPECT_EQ(vectors.size(), 6u);
  for (const auto& item : vectors) {
    const auto& v = item.as_object();
    SCOPED_TRACE(std::string(v.at("name").as_string()));
    auto decoded = Decode(Hex(v.at("hex")));
    ASSERT_TRUE(decoded.has_value()) << decoded.error().Message();
    EXPECT_EQ(NodeToJson(*decoded), v.at("decoded_by_baileys"));
    auto again = Decode(Encode(*decoded));
    ASSERT_TRUE(again.has_value()) << again.error().Message();
    EXPECT_EQ(*again, *decoded);
  }
}

TEST(Vectors, DecodeOnlyJidsAreTyped) {
  auto doc = LoadVectors("binary-nodes.json");
  for (const auto& item : doc.at("decode_only").as_array()) {
    const auto& v = item.as_object();
    std::string name(v.at("name").as_string());
    auto decoded = Decode(Hex(v.at("hex")));
    ASSERT_TRUE(decoded.has_value());
    auto from = decoded->GetJid("from");
    if (name == "fb_jid") {
      ASSERT_TRUE(from.has_value());
      EXPECT_EQ(*from, Jid::Fb("100012345", 7));
    } else if (name == "interop_jid") {
      ASSERT_TRUE(from.has_value());
      EXPECT_EQ(*from, Jid::Interop("99887766", 1, 2));
    } else if (name == "ad_jid_hosted") {
      ASSERT_TRUE(from.has_value());
      EXPECT_EQ(*from, Jid::Ad("5511987654321", kDomainHosted, 5));
    } else if (name == "ad_jid_device0") {
      ASSERT_TRUE(from.has_value());
      EXPECT_EQ(*from, Jid::Ad("5511987654321", kDomainWhatsApp, 0));
      EXPECT_EQ(decoded->AttrOr("from"), "5511987654321@s.whatsapp.net");
    }
  }
}

// Device 0 written explicitly (":0") travels as AD_JID, reads back without ":0", and is written
// as AD_JID again.
TEST(Vectors, AdJidDeviceZeroKeepsItsWireForm) {
  auto doc = LoadVectors("binary-nodes.json");
  for (const auto& item : doc.at("vectors").as_array()) {
    const auto& v = item.as_object();
    if (v.at("name").as_string() != "nested_list_string_content") continue;
    auto decoded = Decode(Hex(v.at("hex")));
    ASSERT_TRUE(decoded.has_value());
    const Node* list = decoded->Child("usync")->Child("list");
    ASSERT_NE(list, nullptr);
    auto users = list->ChildrenByTag("user");
    ASSERT_EQ(users.size(), 2u);
    EXPECT_EQ(users[1]->AttrOr("jid"), "5511000000000@s.whatsapp.net");
    auto jid = users[1]->GetJid("jid");
    ASSERT_TRUE(jid.has_value());
    EXPECT_EQ(jid->form(), Jid::Form::kAd);
    EXPECT_EQ(jid->device(), 0);
    EXPECT_EQ(users[0]->GetJid("jid")->form(), Jid::Form::kPair);
    return;
  }
  FAIL() << "vector nested_list_string_content not found";
}

}  // namespace
}  // namespace wa::binary
