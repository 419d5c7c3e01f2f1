#include "sim/message_wire.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "wa/proto/adv.pb.h"

namespace sim::wire {
namespace {

boost::json::object MessageVectors() {
  std::ifstream f(std::string(WA_SHARED_DIR) + "/protocol/vectors/message-proto.json");
  std::stringstream text;
  text << f.rdbuf();
  return boost::json::parse(text.str()).as_object();
}

base::Bytes Hex(const boost::json::value& v) {
  auto bytes = base::FromHex(std::string_view(v.as_string()));
  EXPECT_TRUE(bytes.has_value()) << v;
  return bytes.value_or(base::Bytes{});
}

TEST(WasimWire, MessageIdV2MatchesBaileys) {
  auto v = MessageVectors().at("message_id_v2").at("example").as_object();
  auto id = MessageIdV2(std::string_view(v.at("user").as_string()),
                        v.at("unix_seconds").to_number<std::int64_t>(), Hex(v.at("random_hex")));
  EXPECT_EQ(id, std::string_view(v.at("id").as_string()));
}

TEST(WasimWire, NewMessageIdsHaveTheV2FormAndDiffer) {
  auto a = NewMessageId("15550001111");
  auto b = NewMessageId("15550001111");
  EXPECT_EQ(a.size(), 22u);
  EXPECT_EQ(a.substr(0, 4), "3EB0");
  EXPECT_EQ(a.find_first_not_of("0123456789ABCDEF"), std::string::npos);
  EXPECT_NE(a, b);
}

TEST(WasimWire, PadMatchesTheVectorAndUnpadIsStrict) {
  auto v = MessageVectors().at("padding").as_object();
  auto random = Hex(v.at("example_random_byte_hex"));
  auto padded = Pad(Hex(v.at("unpadded_hex")), random.at(0));
  EXPECT_EQ(padded, Hex(v.at("padded_hex")));
  auto body = Unpad(padded);
  ASSERT_TRUE(body);
  EXPECT_EQ(base::Bytes(body->begin(), body->end()), Hex(v.at("unpadded_hex")));

  for (int r = 0; r < 256; ++r) {  // every pad length 1..16 round-trips
    auto p = Pad(base::Bytes{1, 2, 3}, static_cast<std::uint8_t>(r));
    ASSERT_EQ(p.size(), 3u + (r & 0x0F) + 1);
    ASSERT_TRUE(Unpad(p));
    EXPECT_EQ(Unpad(p)->size(), 3u);
  }
  EXPECT_FALSE(Unpad(base::Bytes{}));
  EXPECT_FALSE(Unpad(base::Bytes{1, 2, 0}));        // N = 0
  EXPECT_FALSE(Unpad(base::Bytes{1, 2, 3, 2, 3}));  // last 3 bytes are not all 3
  EXPECT_FALSE(Unpad(base::Bytes{5, 5}));           // N larger than the input
}

TEST(WasimWire, ParticipantHashMatchesTheWhatsmeowVector) {
  auto v = MessageVectors().at("participant_hash_v2").as_object();
  std::vector<wa::binary::Jid> devices;
  for (const auto& s : v.at("baileys_input").as_array()) {
    auto jid = wa::binary::Jid::Parse(std::string_view(s.as_string()));
    ASSERT_TRUE(jid) << s;
    devices.push_back(*jid);
  }
  EXPECT_EQ(ParticipantHashV2(devices), std::string_view(v.at("whatsmeow_output").as_string()));
}

TEST(WasimWire, KeyIndexListIsSignedByTheAccount) {
  auto account = wa::crypto::GenerateKeyPair();
  auto bytes = SignedKeyIndexList(account, 77, 1700000000, 3, {1, 3});
  wa::proto::ADVSignedKeyIndexList signed_list;
  ASSERT_TRUE(signed_list.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
  wa::proto::ADVKeyIndexList list;
  ASSERT_TRUE(list.ParseFromString(signed_list.details()));
  EXPECT_EQ(list.raw_id(), 77u);
  EXPECT_EQ(list.timestamp(), 1700000000u);
  EXPECT_EQ(list.current_index(), 3u);
  ASSERT_EQ(list.valid_indexes_size(), 2);
  EXPECT_EQ(list.valid_indexes(1), 3u);
  base::Bytes message{0x06, 0x02};
  message.insert(message.end(), signed_list.details().begin(), signed_list.details().end());
  EXPECT_TRUE(wa::crypto::Verify(account.public_key, message,
                                 base::AsBytes(signed_list.account_signature())));
}

}  // namespace
}  // namespace sim::wire
