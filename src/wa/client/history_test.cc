// The streaming history parser on generated blobs (complete, truncated at every kind of place,
// corrupt, oversized conversations, many conversations under a small cap), the md-msg-hist
// download and verification through the in-memory media host, the WebMessageInfo -> Message
// mapping, the sync modes and the process-wide slots.
#include "wa/client/history.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "wa/client/errors.h"
#include "wa/media/errors.h"
#include "wa/media/transfer.h"
#include "wa/testing/fake_media_host.h"

namespace wa::client {
namespace {

namespace asio = boost::asio;
using base::Bytes;

template <class T>
T RunTask(asio::awaitable<T> task) {
  asio::io_context ioc;
  std::optional<T> out;
  asio::co_spawn(ioc, std::move(task), [&](std::exception_ptr e, T value) {
    if (e) std::rethrow_exception(e);
    out.emplace(std::move(value));
  });
  ioc.run();
  return std::move(*out);
}

// A HistorySync with `conversations` chats of `messages` text messages each (chat i is
// "1555000<i>@s.whatsapp.net"), two push names and a PN/LID mapping; the header fields come after
// the conversations, as they may on the wire.
proto::HistorySync MakeSync(int conversations, int messages, std::size_t text_size = 20) {
  proto::HistorySync sync;
  for (int i = 0; i < conversations; ++i) {
    auto* c = sync.add_conversations();
    c->set_id("1555000" + std::to_string(i) + "@s.whatsapp.net");
    c->set_name("Chat " + std::to_string(i));
    for (int m = 0; m < messages; ++m) {
      auto* info = c->add_messages()->mutable_message();
      info->mutable_key()->set_remote_jid(c->id());
      info->mutable_key()->set_from_me(m % 2 == 1);
      info->mutable_key()->set_id("ID" + std::to_string(i) + "_" + std::to_string(m));
      std::string text = "message " + std::to_string(m) + " ";
      text.resize(std::max(text.size(), text_size), 'x');
      info->mutable_message()->set_conversation(text);
      info->set_message_timestamp(1700000000 + static_cast<std::uint64_t>(m));
    }
  }
  auto* p = sync.add_pushnames();
  p->set_id("15550001@s.whatsapp.net");
  p->set_pushname("Alice");
  p = sync.add_pushnames();
  p->set_id("15550002@s.whatsapp.net");
  p->set_pushname("Bob");
  auto* mapping = sync.add_phone_number_to_lid_mappings();
  mapping->set_pn_jid("15550001@s.whatsapp.net");
  mapping->set_lid_jid("123456789012345@lid");
  sync.set_sync_type(proto::Message::RECENT);
  sync.set_chunk_order(3);
  sync.set_progress(42);
  return sync;
}

Bytes Compress(const proto::HistorySync& sync) {
  std::string plain;
  sync.SerializeToString(&plain);
  return ZlibCompress(base::AsBytes(plain));
}

struct Parsed {
  std::vector<proto::Conversation> conversations;
  std::vector<proto::Pushname> pushnames;
  std::vector<proto::PhoneNumberToLIDMapping> mappings;
  base::error_code error;
};

Parsed ParseAll(HistoryParser& parser) {
  Parsed out;
  for (int guard = 0; guard < 1'000'000; ++guard) {
    auto item = parser.Next();
    if (!item) {
      out.error = item.error();
      // Errors are sticky.
      auto again = parser.Next();
      EXPECT_FALSE(again.has_value());
      return out;
    }
    if (!*item) return out;
    if (auto* c = std::get_if<proto::Conversation>(&**item)) out.conversations.push_back(*c);
    if (auto* p = std::get_if<proto::Pushname>(&**item)) out.pushnames.push_back(*p);
    if (auto* m = std::get_if<proto::PhoneNumberToLIDMapping>(&**item)) out.mappings.push_back(*m);
  }
  ADD_FAILURE() << "the parser did not end";
  return out;
}

TEST(HistoryParser, ReadsEveryItemAndTheHeader) {
  auto sync = MakeSync(5, 4);
  Bytes blob = Compress(sync);
  HistoryParser parser(blob);
  auto parsed = ParseAll(parser);
  ASSERT_FALSE(parsed.error) << parsed.error.message();
  ASSERT_EQ(parsed.conversations.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(parsed.conversations[i].SerializeAsString(), sync.conversations(i).SerializeAsString());
  }
  ASSERT_EQ(parsed.pushnames.size(), 2u);
  EXPECT_EQ(parsed.pushnames[1].pushname(), "Bob");
  ASSERT_EQ(parsed.mappings.size(), 1u);
  EXPECT_EQ(parsed.mappings[0].lid_jid(), "123456789012345@lid");
  EXPECT_EQ(parser.sync_type(), proto::Message::RECENT);
  EXPECT_EQ(parser.chunk_order(), 3u);
  EXPECT_EQ(parser.progress(), 42u);
  EXPECT_EQ(parser.skipped_conversations(), 0u);
  EXPECT_EQ(parser.inflated_bytes(), sync.ByteSizeLong());
  // After the end, the end again.
  auto more = parser.Next();
  ASSERT_TRUE(more.has_value());
  EXPECT_FALSE(*more);
}

TEST(HistoryParser, AnEmptyHistorySyncIsComplete) {
  proto::HistorySync sync;
  Bytes blob = Compress(sync);
  HistoryParser parser(blob);
  auto parsed = ParseAll(parser);
  EXPECT_FALSE(parsed.error);
  EXPECT_TRUE(parsed.conversations.empty());
}

TEST(HistoryParser, EveryTruncationIsAnErrorNeverACrash) {
  Bytes blob = Compress(MakeSync(6, 5));
  ASSERT_GT(blob.size(), 100u);
  for (std::size_t cut = 0; cut < blob.size(); cut += (cut < 64 ? 1 : 7)) {
    Bytes part(blob.begin(), blob.begin() + static_cast<long>(cut));
    HistoryParser parser(part);
    auto parsed = ParseAll(parser);
    ASSERT_TRUE(parsed.error) << "cut at " << cut;
    EXPECT_TRUE(parsed.error == Errc::kHistoryTruncated || parsed.error == Errc::kHistoryCorrupt)
        << parsed.error.message();
  }
  // Cut after the zlib header, well inside the data: truncated, not corrupt.
  Bytes half(blob.begin(), blob.begin() + static_cast<long>(blob.size() / 2));
  HistoryParser parser(half);
  EXPECT_EQ(ParseAll(parser).error, Errc::kHistoryTruncated);
}

TEST(HistoryParser, CorruptBlobsAreErrors) {
  Bytes blob = Compress(MakeSync(6, 5));
  // Damaged compressed bytes: zlib's checks or the protobuf reader catch them.
  int errors = 0;
  for (std::size_t at = 2; at < blob.size(); at += 5) {
    Bytes bad = blob;
    bad[at] ^= 0x5a;
    HistoryParser parser(bad);
    errors += ParseAll(parser).error ? 1 : 0;
  }
  EXPECT_GT(errors, 0);
  // Not zlib at all.
  Bytes noise(200, 0xAB);
  HistoryParser p1(noise);
  EXPECT_EQ(ParseAll(p1).error, Errc::kHistoryCorrupt);
  // Valid zlib around bytes that are not a HistorySync: a conversation whose length runs past
  // the end, and a conversation that is not a Conversation.
  Bytes runs_past = ZlibCompress(Bytes{0x12, 0x7f, 0x0a, 0x01, 0x41});
  HistoryParser p2(runs_past);
  EXPECT_TRUE(ParseAll(p2).error);
  Bytes not_conversation = ZlibCompress(Bytes{0x12, 0x02, 0x0a, 0x7f});
  HistoryParser p3(not_conversation);
  EXPECT_EQ(ParseAll(p3).error, Errc::kHistoryCorrupt);
  // No bytes at all.
  Bytes empty;
  HistoryParser p4(empty);
  EXPECT_TRUE(ParseAll(p4).error);
}

TEST(HistoryParser, ManyConversationsUnderASmallCapKeepMemoryToOneConversation) {
  // 3,000 conversations of ~2 KB and one of ~300 KB: with a 16 KB cap the big one is skipped
  // and counted, and no buffer the parser holds ever exceeds the cap, while the whole blob
  // inflates to more than 6 MB.
  proto::HistorySync sync = MakeSync(3000, 10, 200);
  auto* big = sync.add_conversations();
  big->set_id("15559999@s.whatsapp.net");
  for (int m = 0; m < 1500; ++m) {
    auto* info = big->add_messages()->mutable_message();
    info->mutable_key()->set_remote_jid(big->id());
    info->mutable_key()->set_id("BIG" + std::to_string(m));
    info->mutable_message()->set_conversation(std::string(200, 'y'));
  }
  Bytes blob = Compress(sync);
  HistoryLimits limits;
  limits.max_conversation_bytes = 16 << 10;
  HistoryParser parser(blob, limits);
  std::size_t conversations = 0, messages = 0;
  for (;;) {
    auto item = parser.Next();
    ASSERT_TRUE(item.has_value()) << item.error().message();
    if (!*item) break;
    if (auto* c = std::get_if<proto::Conversation>(&**item)) {
      conversations++;
      messages += static_cast<std::size_t>(c->messages_size());
    }
  }
  EXPECT_EQ(conversations, 3000u);
  EXPECT_EQ(messages, 30000u);
  EXPECT_EQ(parser.skipped_conversations(), 1u);
  EXPECT_LE(parser.largest_item_bytes(), limits.max_conversation_bytes);
  EXPECT_GT(parser.inflated_bytes(), 6u << 20);
  EXPECT_LT(blob.size(), parser.inflated_bytes());
}

TEST(HistoryDownload, DownloadsVerifiesAndRefusesTamperedOrOversizedBlobs) {
  testing::FakeMediaHost host("sesame");
  media::MediaConn conn{"sesame", 300, 21600, 12, {{"mmg.example", std::nullopt}}};
  auto sync = MakeSync(3, 3);
  Bytes blob = Compress(sync);
  auto up = RunTask(media::EncryptAndUpload(host, conn, media::MediaType::kHistory, blob));
  ASSERT_TRUE(up.has_value()) << up.error().message();
  proto::Message::HistorySyncNotification n;
  n.set_media_key(std::string(base::AsChars(up->media_key)));
  n.set_file_sha256(std::string(base::AsChars(base::ByteView(up->hashes.file_sha256))));
  n.set_file_enc_sha256(std::string(base::AsChars(base::ByteView(up->hashes.file_enc_sha256))));
  n.set_file_length(up->hashes.file_length);
  n.set_direct_path(up->location.direct_path);

  auto got = RunTask(DownloadHistoryBlob(host, "mmg.example", n, 1 << 20));
  ASSERT_TRUE(got.has_value()) << got.error().message();
  EXPECT_EQ(*got, blob);

  auto small = RunTask(DownloadHistoryBlob(host, "mmg.example", n, 16));
  EXPECT_EQ(small.error(), Errc::kHistoryTooLarge);

  auto path = up->location.direct_path.substr(0, up->location.direct_path.find('?'));
  host.blobs[path][20] ^= 1;
  auto tampered = RunTask(DownloadHistoryBlob(host, "mmg.example", n, 1 << 20));
  ASSERT_FALSE(tampered.has_value());
  EXPECT_EQ(tampered.error(), media::Errc::kEncHashMismatch);

  host.blobs.clear();
  auto gone = RunTask(DownloadHistoryBlob(host, "mmg.example", n, 1 << 20));
  EXPECT_EQ(gone.error(), media::Errc::kMediaGone);
}

TEST(HistoryMessage, MapsKeysToChatsAndSenders) {
  auto me = *binary::Jid::Parse("15550000000:3@s.whatsapp.net");
  proto::WebMessageInfo info;
  info.mutable_key()->set_remote_jid("15551112222@s.whatsapp.net");
  info.mutable_key()->set_id("ABC");
  info.mutable_message()->set_conversation("hi");
  info.set_message_timestamp(1700000000);
  info.set_push_name("Peer");
  auto in = HistoryMessage(info, me);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->chat.ToString(), "15551112222@s.whatsapp.net");
  EXPECT_EQ(in->sender.ToString(), "15551112222@s.whatsapp.net");
  EXPECT_EQ(in->sender_pn->ToString(), "15551112222@s.whatsapp.net");
  EXPECT_FALSE(in->from_me);
  EXPECT_EQ(in->text, "hi");
  EXPECT_EQ(in->timestamp, 1700000000);
  EXPECT_EQ(in->push_name, "Peer");
  EXPECT_FALSE(in->raw.empty());

  info.mutable_key()->set_from_me(true);
  auto out = HistoryMessage(info, me);
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->from_me);
  EXPECT_EQ(out->sender.ToString(), "15550000000@s.whatsapp.net");

  info.mutable_key()->set_from_me(false);
  info.mutable_key()->set_remote_jid("120363000000000000@g.us");
  info.mutable_key()->set_participant("111111111111111@lid");
  auto group = HistoryMessage(info, me);
  ASSERT_TRUE(group);
  EXPECT_EQ(group->sender.ToString(), "111111111111111@lid");
  EXPECT_EQ(group->sender_lid->ToString(), "111111111111111@lid");
  EXPECT_FALSE(group->sender_pn);

  info.mutable_key()->set_id("");
  EXPECT_FALSE(HistoryMessage(info, me));
}

TEST(HistoryMode, ModesPickSyncTypes) {
  EXPECT_FALSE(WantsHistory(HistorySyncMode::kOff, proto::Message::INITIAL_BOOTSTRAP));
  EXPECT_TRUE(WantsHistory(HistorySyncMode::kRecent, proto::Message::INITIAL_BOOTSTRAP));
  EXPECT_TRUE(WantsHistory(HistorySyncMode::kRecent, proto::Message::PUSH_NAME));
  EXPECT_FALSE(WantsHistory(HistorySyncMode::kRecent, proto::Message::FULL));
  EXPECT_TRUE(WantsHistory(HistorySyncMode::kFull, proto::Message::FULL));
  EXPECT_FALSE(WantsHistory(HistorySyncMode::kFull, proto::Message::NO_HISTORY));
  for (auto mode : {HistorySyncMode::kOff, HistorySyncMode::kRecent, HistorySyncMode::kFull}) {
    EXPECT_EQ(ParseHistorySyncMode(ToString(mode)), mode);
  }
  EXPECT_FALSE(ParseHistorySyncMode("all"));
  EXPECT_EQ(HistorySyncTypeName(proto::Message::INITIAL_BOOTSTRAP), "INITIAL_BOOTSTRAP");
  EXPECT_EQ(HistorySyncTypeName(99), "UNKNOWN");
}

TEST(HistorySlots, AtMostTheConfiguredNumberAtOnce) {
  HistorySlots slots(2);
  auto a = slots.TryAcquire();
  auto b = slots.TryAcquire();
  EXPECT_TRUE(a);
  EXPECT_TRUE(b);
  EXPECT_FALSE(slots.TryAcquire());
  EXPECT_EQ(slots.in_use(), 2);
  {
    auto moved = std::move(a);
    EXPECT_FALSE(a);
  }
  EXPECT_EQ(slots.in_use(), 1);
  auto c = slots.TryAcquire();
  EXPECT_TRUE(c);
  EXPECT_EQ(slots.peak(), 2);
}

}  // namespace
}  // namespace wa::client
