// History sync after linking, wa::client::Client against a real wasim process: the phone holds
// real conversations (messages exchanged with another phone before the link) and seeded synthetic
// ones; after linking, a client with history_sync = recent downloads every chunk over HTTPS from
// wasim's media host, verifies, inflates and parses it as a stream and reports conversations,
// messages and progress; wasim records a hist_sync receipt per notification. With history off the
// receipts still come back and nothing is downloaded.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "wa/client/client.h"
#include "wa/client/history.h"
#include "wasim_fixture.h"

namespace wa::itest {
namespace {

using namespace std::chrono_literals;
using client::HistoryChunk;

class HistoryTest : public WasimTest {
 protected:
  void PhoneSends(const std::string& from, const std::string& to, const std::string& text) {
    auto r = wasim_->Control("POST", "/v1/phones/" + from + "/messages",
                             json::object{{"to", to}, {"text", text}});
    ASSERT_EQ(r.status, 201) << r.body;
  }

  json::object History(const std::string& phone) {
    auto r = wasim_->Control("GET", "/v1/phones/" + phone + "/history");
    EXPECT_EQ(r.status, 200) << r.body;
    auto v = r.Json();
    return v.is_object() ? v.as_object() : json::object{};
  }

  // Polls until wasim holds a hist_sync receipt for every notification it sent (at least `n`).
  json::object WaitReceipts(const std::string& phone, std::size_t n) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    json::object h;
    while (std::chrono::steady_clock::now() < deadline) {
      h = History(phone);
      auto sent = h["notifications"].as_array().size();
      if (sent >= n && h["receipts"].as_array().size() >= sent) break;
      std::this_thread::sleep_for(20ms);
    }
    return h;
  }

  std::int64_t MediaDownloads() { return Stats().at("media").at("downloads").as_int64(); }
};

TEST_F(HistoryTest, RecentHistoryArrivesWithProgressAndEveryChunkIsReceipted) {
  std::string phone = NewPhone();
  std::string peer = NewPhone();
  PhoneSends(peer, phone, "hello from the peer 1");
  PhoneSends(peer, phone, "hello from the peer 2");
  PhoneSends(phone, peer, "answer from the phone");
  // Wait until the phone has decrypted the peer's messages (they are its history).
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto inbox = wasim_->Control("GET", "/v1/phones/" + phone + "/messages").Json();
    if (inbox.is_array() && inbox.as_array().size() >= 2) break;
    std::this_thread::sleep_for(20ms);
  }
  auto seeded = wasim_->Control(
      "POST", "/v1/phones/" + phone + "/history",
      json::object{{"conversations", 5}, {"messages", 7}, {"chunk_conversations", 2}});
  ASSERT_EQ(seeded.status, 200) << seeded.body;
  auto downloads_before = MediaDownloads();

  Device device(Credentials::New());
  ASSERT_TRUE(device.devices.Save(*device.devices.Load().value()));
  auto config = MakeConfig();
  config.history_sync = client::HistorySyncMode::kRecent;
  config.history_batch = 3;  // several batches per conversation
  auto slots = std::make_shared<client::HistorySlots>(1);
  config.history_slots = slots;
  Recorder events;
  auto c = MakeClient(device, events, config);
  c->Start();
  ASSERT_FALSE(Scan(phone, events).empty());

  // 1 real + 5 seeded conversations in chunks of 2: 3 chunks, then PUSH_NAME.
  auto h = WaitReceipts(phone, 4);
  ASSERT_EQ(h["notifications"].as_array().size(), 4u) << json::serialize(h);
  std::set<std::string> sent_ids, receipt_ids;
  for (const auto& n : h["notifications"].as_array()) sent_ids.insert(std::string(n.at("id").as_string()));
  for (const auto& r : h["receipts"].as_array()) receipt_ids.insert(std::string(r.at("id").as_string()));
  EXPECT_EQ(sent_ids, receipt_ids);

  auto finished = [&] {
    std::size_t n = 0;
    for (const auto& e : events.All<HistoryChunk>()) n += e.stage == HistoryChunk::Stage::kFinished;
    return n;
  };
  auto until = std::chrono::steady_clock::now() + 20s;
  while (finished() < 4 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(finished(), 4u) << events.Log();
  EXPECT_EQ(MediaDownloads(), downloads_before + 4);

  // Chunks: started before progress before finished; progress ends at 100.
  std::map<std::uint32_t, std::vector<HistoryChunk>> by_chunk;
  for (const auto& e : events.All<HistoryChunk>()) {
    EXPECT_NE(e.stage, HistoryChunk::Stage::kFailed) << e.error;
    if (e.sync_type != "PUSH_NAME") by_chunk[e.chunk_order].push_back(e);
  }
  ASSERT_EQ(by_chunk.size(), 3u);
  EXPECT_EQ(by_chunk[1].front().sync_type, "INITIAL_BOOTSTRAP");
  EXPECT_EQ(by_chunk[2].front().sync_type, "RECENT");
  EXPECT_EQ(by_chunk[1].front().stage, HistoryChunk::Stage::kStarted);
  EXPECT_EQ(by_chunk[1].back().stage, HistoryChunk::Stage::kFinished);
  EXPECT_EQ(by_chunk[1].back().conversations, 2u);
  EXPECT_LT(by_chunk[1].back().progress, 100u);
  EXPECT_EQ(by_chunk[3].back().progress, 100u);

  // Conversations and messages.
  std::map<std::string, std::vector<client::Message>> chats;
  for (const auto& batch : events.All<client::HistoryMessages>()) {
    EXPECT_LE(batch.messages.size(), 3u);
    auto& list = chats[batch.chat.ToString()];
    list.insert(list.end(), batch.messages.begin(), batch.messages.end());
  }
  EXPECT_EQ(chats.size(), 6u);
  std::size_t total = 0;
  for (const auto& [chat, list] : chats) total += list.size();
  EXPECT_EQ(total, 3u + 5 * 7);
  auto& real = chats[peer + "@s.whatsapp.net"];
  ASSERT_EQ(real.size(), 3u) << events.Log();
  int from_peer = 0, from_me = 0;
  for (const auto& m : real) {
    if (m.from_me) {
      from_me++;
      EXPECT_EQ(m.text, "answer from the phone");
      EXPECT_EQ(m.sender_pn->ToString(), phone + "@s.whatsapp.net");
    } else {
      from_peer++;
      EXPECT_EQ(m.text.rfind("hello from the peer", 0), 0u) << m.text;
      ASSERT_TRUE(m.sender_pn);
      EXPECT_EQ(m.sender_pn->ToString(), peer + "@s.whatsapp.net");
      ASSERT_TRUE(m.sender_lid);  // the conversation's lid_jid
      EXPECT_TRUE(m.sender_lid->IsLid());
      EXPECT_EQ(m.push_name, "Phone " + peer);
    }
    EXPECT_GT(m.timestamp, 0);
    EXPECT_FALSE(m.raw.empty());
  }
  EXPECT_EQ(from_peer, 2);
  EXPECT_EQ(from_me, 1);
  auto& seeded0 = chats["19990000000@s.whatsapp.net"];
  ASSERT_EQ(seeded0.size(), 7u);
  EXPECT_EQ(seeded0[0].text, "seed message 0 in chat 0");
  // The PUSH_NAME chunk names the peer.
  auto names = events.All<client::HistoryPushNames>();
  ASSERT_EQ(names.size(), 1u);
  ASSERT_EQ(names[0].names.size(), 1u);
  EXPECT_EQ(names[0].names[0].second, "Phone " + peer);
  EXPECT_LE(slots->peak(), 1);
  EXPECT_EQ(slots->in_use(), 0);
  thread_.Await(c->Stop());
}

TEST_F(HistoryTest, ClientsLinkingTogetherShareTheProcessWideSlots) {
  // Four numbers link at once, each with 3 seeded chats (3 chunks and PUSH_NAME): every chunk is
  // processed, never more than two at a time.
  constexpr int kClients = 4;
  auto slots = std::make_shared<client::HistorySlots>(2);
  std::vector<std::string> phones;
  std::vector<std::unique_ptr<Device>> devices;
  std::vector<std::unique_ptr<Recorder>> recorders;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kClients; ++i) {
    phones.push_back(NewPhone());
    auto r = wasim_->Control("POST", "/v1/phones/" + phones.back() + "/history",
                             json::object{{"conversations", 3}, {"messages", 40},
                                          {"chunk_conversations", 1}});
    ASSERT_EQ(r.status, 200) << r.body;
    devices.push_back(std::make_unique<Device>(Credentials::New()));
    ASSERT_TRUE(devices.back()->devices.Save(*devices.back()->devices.Load().value()));
    recorders.push_back(std::make_unique<Recorder>());
    auto config = MakeConfig();
    config.history_sync = client::HistorySyncMode::kRecent;
    config.history_slots = slots;
    clients.push_back(MakeClient(*devices.back(), *recorders.back(), config));
    clients.back()->Start();
  }
  for (int i = 0; i < kClients; ++i) ASSERT_FALSE(Scan(phones[i], *recorders[i]).empty());
  for (int i = 0; i < kClients; ++i) {
    auto until = std::chrono::steady_clock::now() + 30s;
    auto finished = [&] {
      std::size_t n = 0;
      for (const auto& e : recorders[i]->All<HistoryChunk>()) {
        n += e.stage == HistoryChunk::Stage::kFinished;
      }
      return n;
    };
    while (finished() < 4 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(20ms);
    }
    ASSERT_EQ(finished(), 4u) << recorders[i]->Log();
    std::size_t messages = 0;
    for (const auto& b : recorders[i]->All<client::HistoryMessages>()) messages += b.messages.size();
    EXPECT_EQ(messages, 3u * 40);
  }
  EXPECT_GE(slots->peak(), 1);
  EXPECT_LE(slots->peak(), 2);
  EXPECT_EQ(slots->in_use(), 0);
  for (auto& c : clients) thread_.Await(c->Stop());
}

TEST_F(HistoryTest, NoDownloadStartsWhileEverySlotIsTaken) {
  std::string phone = NewPhone();
  auto seeded = wasim_->Control("POST", "/v1/phones/" + phone + "/history",
                                json::object{{"conversations", 2}, {"messages", 5},
                                             {"chunk_conversations", 1}});
  ASSERT_EQ(seeded.status, 200) << seeded.body;
  auto slots = std::make_shared<client::HistorySlots>(1);
  auto held = slots->TryAcquire();  // another session's download, as far as this client knows
  ASSERT_TRUE(held);
  auto downloads_before = MediaDownloads();
  Device device(Credentials::New());
  ASSERT_TRUE(device.devices.Save(*device.devices.Load().value()));
  auto config = MakeConfig();
  config.history_sync = client::HistorySyncMode::kRecent;
  config.history_slots = slots;
  config.history_slot_poll = std::chrono::milliseconds(10);
  Recorder events;
  auto c = MakeClient(device, events, config);
  c->Start();
  ASSERT_FALSE(Scan(phone, events).empty());
  // Every notification arrived and was receipted, and none could start.
  WaitReceipts(phone, 3);
  EXPECT_EQ(events.Count<HistoryChunk>(), 0u) << events.Log();
  EXPECT_EQ(MediaDownloads(), downloads_before);
  held = client::HistorySlots::Permit();  // released
  auto until = std::chrono::steady_clock::now() + 20s;
  auto finished = [&] {
    std::size_t n = 0;
    for (const auto& e : events.All<HistoryChunk>()) n += e.stage == HistoryChunk::Stage::kFinished;
    return n;
  };
  while (finished() < 3 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(finished(), 3u) << events.Log();
  EXPECT_EQ(MediaDownloads(), downloads_before + 3);
  EXPECT_EQ(slots->peak(), 1);
  thread_.Await(c->Stop());
}

TEST_F(HistoryTest, HistoryOffAcknowledgesEveryChunkAndDownloadsNothing) {
  std::string phone = NewPhone();
  auto seeded = wasim_->Control("POST", "/v1/phones/" + phone + "/history",
                                json::object{{"conversations", 3}, {"messages", 2},
                                             {"chunk_conversations", 1}});
  ASSERT_EQ(seeded.status, 200) << seeded.body;
  auto downloads_before = MediaDownloads();
  Device device(Credentials::New());
  ASSERT_TRUE(device.devices.Save(*device.devices.Load().value()));
  Recorder events;
  auto c = MakeClient(device, events, MakeConfig());  // history_sync defaults to off
  c->Start();
  ASSERT_FALSE(Scan(phone, events).empty());
  auto h = WaitReceipts(phone, 4);  // 3 chunks of 1 conversation and PUSH_NAME
  ASSERT_EQ(h["notifications"].as_array().size(), 4u) << json::serialize(h);
  EXPECT_EQ(h["receipts"].as_array().size(), 4u);
  ASSERT_TRUE(events.WaitCount<HistoryChunk>(4, 10s)) << events.Log();
  for (const auto& e : events.All<HistoryChunk>()) {
    EXPECT_EQ(e.stage, HistoryChunk::Stage::kSkipped) << client::Describe(e);
  }
  EXPECT_EQ(events.Count<client::HistoryMessages>(), 0u);
  EXPECT_EQ(MediaDownloads(), downloads_before);
  thread_.Await(c->Stop());
}

}  // namespace
}  // namespace wa::itest
