#include "wa/noise/frame.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <random>
#include <sstream>

namespace wa::noise {
namespace {

Bytes Hex(std::string_view s) {
  auto b = base::FromHex(s);
  EXPECT_TRUE(b.has_value()) << s;
  return b.value_or(Bytes{});
}

boost::json::value LoadVector(const char* name) {
  std::ifstream in(std::string(WA_SHARED_DIR) + "/protocol/vectors/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return boost::json::parse(ss.str());
}

Bytes Pattern(std::size_t n, std::uint8_t seed) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 7);
  return b;
}

// Feeds `stream` in the given chunk sizes (cycled), collecting every frame.
std::vector<Bytes> ReadAll(FrameReader& reader, ByteView stream,
                           const std::vector<std::size_t>& chunks) {
  std::vector<Bytes> frames;
  std::size_t at = 0;
  for (std::size_t i = 0; at < stream.size(); ++i) {
    const std::size_t n = std::min(chunks[i % chunks.size()], stream.size() - at);
    auto fed = reader.Feed(stream.subspan(at, n));
    EXPECT_TRUE(fed) << fed.error().Describe();
    at += n;
    for (;;) {
      auto next = reader.Next();
      EXPECT_TRUE(next) << next.error().Describe();
      if (!next || !*next) break;
      frames.push_back(std::move(**next));
    }
  }
  return frames;
}

TEST(FrameTest, EncodeAddsBigEndianLength) {
  EXPECT_EQ(EncodeFrame(Bytes{}).value(), Hex("000000"));
  EXPECT_EQ(EncodeFrame(Hex("abcd")).value(), Hex("000002abcd"));
  const Bytes big(0x012345, 0x11);
  const Bytes framed = EncodeFrame(big).value();
  ASSERT_EQ(framed.size(), big.size() + 3);
  EXPECT_EQ(Bytes(framed.begin(), framed.begin() + 3), Hex("012345"));
}

TEST(FrameTest, EncodeRejectsWhatTwentyFourBitsCannotSay) {
  const Bytes max(kMaxFrameSize, 0);
  EXPECT_TRUE(EncodeFrame(max));
  const Bytes over(kMaxFrameSize + 1, 0);
  auto r = EncodeFrame(over);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::kFrameTooLarge);
}

TEST(FrameTest, IntroHeaderMatchesBaileysVectors) {
  const auto v = LoadVector("connection-nodes.json").at("intro_header");
  const Bytes routing = Hex(v.at("routing_info_hex").as_string());
  const Bytes plain = Hex(v.at("first_message_plain_hex").as_string());
  const Bytes with_ed = Hex(v.at("first_message_with_ed_hex").as_string());
  // Both messages carry the same frame after their header.
  const Bytes frame(plain.begin() + 4, plain.end());
  const Bytes hello(frame.begin() + 3, frame.end());

  FrameWriter plain_writer(MakeIntroHeader().value());
  EXPECT_EQ(plain_writer.Encode(hello).value(), plain);
  FrameWriter ed_writer(MakeIntroHeader(routing).value());
  EXPECT_EQ(ed_writer.Encode(hello).value(), with_ed);
  // The header goes in front of the first frame only.
  EXPECT_EQ(ed_writer.Encode(hello).value(), frame);
}

TEST(FrameTest, IntroHeaderRoutingInfoLimit) {
  EXPECT_TRUE(MakeIntroHeader(Bytes(kMaxRoutingInfoSize, 1)));
  auto r = MakeIntroHeader(Bytes(kMaxRoutingInfoSize + 1, 1));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::kFrameTooLarge);
}

TEST(FrameTest, ServerReaderParsesBothIntroVariantsInAnyChunking) {
  const auto v = LoadVector("connection-nodes.json").at("intro_header");
  const Bytes routing = Hex(v.at("routing_info_hex").as_string());
  const Bytes plain = Hex(v.at("first_message_plain_hex").as_string());
  const Bytes with_ed = Hex(v.at("first_message_with_ed_hex").as_string());
  const Bytes hello(plain.begin() + 7, plain.end());

  for (const auto& [stream, expected_routing] :
       {std::pair{plain, Bytes{}}, std::pair{with_ed, routing}}) {
    for (std::size_t chunk : {std::size_t{1}, std::size_t{2}, std::size_t{5}, stream.size()}) {
      FrameReader reader({.expect_intro = true});
      auto frames = ReadAll(reader, stream, {chunk});
      ASSERT_EQ(frames.size(), 1u) << "chunk " << chunk;
      EXPECT_EQ(frames[0], hello);
      EXPECT_TRUE(reader.intro_complete());
      EXPECT_EQ(reader.routing_info(), expected_routing);
      EXPECT_EQ(reader.offset(), stream.size());
    }
  }
}

TEST(FrameTest, ServerReaderAcceptsEmptyRoutingInfo) {
  // Baileys sends the ED form for any routingInfo Buffer, even an empty one.
  Bytes stream = MakeIntroHeader().value();
  stream.insert(stream.begin(), {0x45, 0x44, 0x00, 0x01, 0x00, 0x00, 0x00});
  stream.insert(stream.end(), {0x00, 0x00, 0x01, 0x42});
  FrameReader reader({.expect_intro = true});
  auto frames = ReadAll(reader, stream, {1});
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0], Hex("42"));
  EXPECT_TRUE(reader.routing_info().empty());
}

struct BadIntro {
  const char* hex;
  std::uint64_t offset;
  std::uint64_t value;
};

TEST(FrameTest, ServerReaderRejectsWrongHeadersAtTheOffendingByte) {
  for (const BadIntro& c : {
           BadIntro{"57410503", 2, 5},                        // old magic 5
           BadIntro{"57410602", 3, 2},                        // other dictionary version
           BadIntro{"00000024", 0, 0},                        // a frame with no header at all
           BadIntro{"4544000200000157410603", 3, 2},          // ED with an unknown version
           BadIntro{"45440001000001aa57410503", 10, 5},       // ED, then a bad WA header
           BadIntro{"4545", 1, 0x45},                         // not "ED"
           BadIntro{"4544000100100157410603", 4, 0x001001},   // routing info over the cap
       }) {
    const Bytes stream = Hex(c.hex);
    // Whole and byte at a time: the error is the same, and found as soon as its byte arrives.
    for (bool bytewise : {false, true}) {
      FrameReader reader({.expect_intro = true});
      base::Result<void, FrameError> r;
      std::size_t fed = 0;
      if (bytewise) {
        for (; fed < stream.size() && r; ++fed) r = reader.Feed(ByteView(stream).subspan(fed, 1));
      } else {
        r = reader.Feed(stream);
        fed = stream.size();
      }
      ASSERT_FALSE(r) << c.hex;
      EXPECT_EQ(r.error(), (FrameError{Errc::kBadIntroHeader, c.offset, c.value})) << c.hex;
      if (bytewise) {
        EXPECT_LE(fed, c.offset + 1 + 3) << c.hex;  // not long after the byte
      }
      // Sticky.
      auto again = reader.Next();
      ASSERT_FALSE(again);
      EXPECT_EQ(again.error().code, Errc::kBadIntroHeader);
    }
  }
}

TEST(FrameTest, ReaderHandlesCoalescedSplitAndByteAtATimeInput) {
  std::vector<Bytes> payloads;
  Bytes stream;
  for (std::size_t n : {0, 1, 2, 3, 4, 100, 255, 256, 4096, 70000, 5, 0}) {
    payloads.push_back(Pattern(n, static_cast<std::uint8_t>(n)));
    ASSERT_TRUE(AppendFrame(stream, payloads.back()));
  }
  std::mt19937 rng(12345);
  std::vector<std::vector<std::size_t>> chunkings = {{1}, {2}, {3}, {7}, {stream.size()}};
  for (int i = 0; i < 10; ++i) {
    std::vector<std::size_t> random;
    for (int j = 0; j < 50; ++j) random.push_back(1 + rng() % 9000);
    chunkings.push_back(random);
  }
  for (const auto& chunks : chunkings) {
    FrameReader reader({.max_frame_size = kMaxFrameSize});
    EXPECT_EQ(ReadAll(reader, stream, chunks), payloads);
    EXPECT_EQ(reader.offset(), stream.size());
    EXPECT_EQ(reader.buffered(), 0u);
  }
}

TEST(FrameTest, OversizeFrameIsRejectedAtItsHeader) {
  Bytes stream;
  ASSERT_TRUE(AppendFrame(stream, Pattern(10, 1)));
  const std::uint64_t header_at = stream.size();
  stream.insert(stream.end(), {0x01, 0x00, 0x01});  // 65537 > kMaxHandshakeFrameSize

  FrameReader reader;
  // Only the three length bytes of the big frame exist: the error must not wait for its body.
  auto fed = reader.Feed(stream);
  // The first frame is still in front; the limit is checked when its header is next.
  ASSERT_TRUE(fed);
  auto first = reader.Next();
  ASSERT_TRUE(first && *first);
  EXPECT_EQ(**first, Pattern(10, 1));
  auto second = reader.Next();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), (FrameError{Errc::kFrameTooLarge, header_at, 65537}));
  EXPECT_EQ(reader.buffered(), 0u);  // nothing kept after the error
  auto again = reader.Feed(Bytes(100, 0));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), second.error());
}

TEST(FrameTest, OversizeDetectedByFeedWhenHeaderIsFirst) {
  FrameReader reader({.max_frame_size = 1000});
  EXPECT_TRUE(reader.Feed(Hex("0003")));
  auto r = reader.Feed(Hex("e9"));  // 1001
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), (FrameError{Errc::kFrameTooLarge, 0, 1001}));
}

TEST(FrameTest, LimitIsInclusiveAndCanBeRaisedBetweenFrames) {
  Bytes stream;
  ASSERT_TRUE(AppendFrame(stream, Pattern(1000, 3)));
  ASSERT_TRUE(AppendFrame(stream, Pattern(5000, 4)));
  FrameReader reader({.max_frame_size = 1000});
  ASSERT_TRUE(reader.Feed(stream));
  auto first = reader.Next();
  ASSERT_TRUE(first && *first);
  EXPECT_EQ(first->value().size(), 1000u);
  // As a client does when its handshake completes inside a coalesced chunk.
  reader.SetMaxFrameSize(kMaxFrameSize + 12345);
  EXPECT_EQ(reader.max_frame_size(), kMaxFrameSize);
  auto second = reader.Next();
  ASSERT_TRUE(second && *second);
  EXPECT_EQ(**second, Pattern(5000, 4));
}

TEST(FrameTest, PartialFrameIsNotAFrame) {
  FrameReader reader;
  ASSERT_TRUE(reader.Feed(Hex("000005aabbcc")));
  auto r = reader.Next();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(reader.buffered(), 6u);
  ASSERT_TRUE(reader.Feed(Hex("ddee00")));
  r = reader.Next();
  ASSERT_TRUE(r && *r);
  EXPECT_EQ(**r, Hex("aabbccddee"));
  r = reader.Next();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(reader.buffered(), 1u);
  EXPECT_EQ(reader.offset(), 8u);
}

}  // namespace
}  // namespace wa::noise
