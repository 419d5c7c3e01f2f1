// wa::client::Client restarted from the gateway's SQLite state (gateway::store::sqlite): what
// it learnt before the restart is not asked again and still answers. A peer's device list needs
// no new usync, the peer's LID is still known, and a retry receipt for a message sent before the
// restart (wasim's corrupt_next_message fault makes the phone send one, held back by a frame-loss
// fault until our device reconnects) is answered from the stored plaintext, so the phone
// decrypts the message.
#include <gtest/gtest.h>

#include <unistd.h>

#include <boost/asio/use_future.hpp>

#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <thread>

#include "gateway/store/sqlite/session_state.h"
#include "gateway/store/sqlite/sqlite_store.h"
#include "wa/client/client.h"
#include "wasim_fixture.h"

namespace wa::itest {
namespace {

using namespace std::chrono_literals;
namespace sqlite = gateway::store::sqlite;

class RestartTest : public WasimTest {
 protected:
  void SetUp() override {
    WasimTest::SetUp();
    if (HasFatalFailure()) return;
    dir_ = std::filesystem::temp_directory_path() /
           ("wa-client-restart-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    OpenState();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(state_->Save(Credentials::New()));
    ASSERT_TRUE(thread_.Await(state_->Commit()));
  }
  void TearDown() override {
    CloseState();
    std::filesystem::remove_all(dir_);
  }

  // A process start: the store, the factory and the session's state, from the file.
  void OpenState() {
    std::string err;
    auto opened = sqlite::SqliteStore::Open({.path = dir_ / "state.db", .threads = 2}, &err);
    ASSERT_TRUE(opened) << err;
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->Migrate(&err)) << err;
    states_ = std::make_unique<sqlite::SessionStates>(*store_, base::Bytes(32, 0x5a));
    auto state = thread_.Await(states_->Open("s1"));
    ASSERT_TRUE(state) << state.error().message();
    state_ = std::move(*state);
  }
  void CloseState() {
    state_.reset();
    states_.reset();
    store_.reset();
  }

  std::unique_ptr<Client> StartClient(Recorder& events) {
    auto c = std::make_unique<Client>(thread_.ioc().get_executor(), MakeConfig(false), *state_,
                                      events.Sink());
    c->Start();
    return c;
  }

  std::vector<json::object> Inbox(const std::string& phone) {
    auto r = wasim_->Control("GET", "/v1/phones/" + phone + "/messages");
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<json::object> out;
    auto v = r.Json();
    if (v.is_array()) {
      for (const auto& m : v.as_array()) out.push_back(m.as_object());
    }
    return out;
  }
  // Whether `phone` decrypted a message with this id and text within 30 s.
  bool WaitReceived(const std::string& phone, const std::string& id, const std::string& text) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      for (const auto& m : Inbox(phone)) {
        if (m.at("id").as_string() == id && m.at("text").as_string() == text) return true;
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  std::int64_t Stat(const char* name) { return Stats().at(name).as_int64(); }
  void Fault(const json::object& body) {
    auto r = wasim_->Control("POST", "/v1/faults", body);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  std::filesystem::path dir_;
  std::unique_ptr<sqlite::SqliteStore> store_;
  std::unique_ptr<sqlite::SessionStates> states_;
  std::unique_ptr<sqlite::SessionState> state_;
};

TEST_F(RestartTest, DevicesLidsAndSentMessagesOutliveTheClient) {
  const std::string phone = NewPhone(), peer = NewPhone();
  const std::string peer_lid(wasim_->Control("GET", "/v1/phones/" + peer).Json().at("lid").as_string());
  std::string before_id = client::NewMessageId(phone, 1700000000);
  {
    Recorder events;
    auto c = StartClient(events);
    ASSERT_FALSE(Scan(phone, events).empty());
    ASSERT_TRUE(events.Wait<client::Connected>()) << events.Log();

    // A running session with the peer, and its device list asked once.
    const auto queries = Stat("usync_device_queries");
    client::SendTextRequest hello;
    hello.to = peer;
    hello.text = "hello";
    auto sent = thread_.Await(c->SendText(hello));
    ASSERT_TRUE(sent) << sent.error().message();
    ASSERT_TRUE(WaitReceived(peer, sent->id, "hello"));
    EXPECT_EQ(Stat("usync_device_queries"), queries + 1);

    // The phone will not decrypt the next message, and its retry receipt (like every stanza
    // to us from now on) is lost on the way: wasim keeps it unacknowledged and delivers it to
    // our next connection.
    const auto retries = Stat("retry_receipts");
    Fault(json::object{{"corrupt_next_message", json::object{{"phone", peer}, {"device", 0}}}});
    Fault(json::object{{"frame_loss_probability", 1.0}});
    client::SendTextRequest request;
    request.to = peer;
    request.text = "sent before the restart";
    request.id = before_id;
    // Its ack is lost too: the send is left waiting and ends with the client.
    auto pending = asio::co_spawn(thread_.ioc(), c->SendText(request), asio::use_future);
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (Stat("retry_receipts") == retries && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
    ASSERT_EQ(Stat("retry_receipts"), retries + 1);
    thread_.Await(c->Stop());
    EXPECT_FALSE(pending.get());
    Fault(json::object{{"frame_loss_probability", 0.0}});
    EXPECT_TRUE(Inbox(peer).size() == 1u);  // "hello" only
  }

  // A process restart: nothing survives but the database file.
  CloseState();
  OpenState();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(*state_->GetLidOfPn(peer), peer_lid.substr(0, peer_lid.find('@')));
  EXPECT_TRUE(state_->GetDeviceList(peer + "@s.whatsapp.net")->has_value());

  Recorder events;
  auto c = StartClient(events);
  ASSERT_TRUE(events.Wait<client::Connected>()) << events.Log();
  // The retry receipt arrives from the offline queue and is answered from the stored plaintext.
  ASSERT_TRUE(WaitReceived(peer, before_id, "sent before the restart")) << events.Log();
  bool retried = false;
  for (const auto& r : events.All<client::Receipt>()) {
    retried |= r.type == client::ReceiptType::kRetry && r.ids[0] == before_id;
  }
  EXPECT_TRUE(retried) << events.Log();

  // The peer's device list comes from the store: no usync for this send.
  const auto queries = Stat("usync_device_queries");
  client::SendTextRequest after;
  after.to = peer;
  after.text = "after the restart";
  auto sent = thread_.Await(c->SendText(after));
  ASSERT_TRUE(sent) << sent.error().message();
  ASSERT_TRUE(WaitReceived(peer, sent->id, "after the restart"));
  EXPECT_EQ(Stat("usync_device_queries"), queries);

  // The peer's LID, learnt from the usync before the restart, names the sender of its message.
  auto r = wasim_->Control("POST", "/v1/phones/" + peer + "/messages",
                           json::object{{"to", phone}, {"text", "from the peer"}});
  ASSERT_EQ(r.status, 201) << r.body;
  auto got = events.Wait<client::Message>();
  ASSERT_TRUE(got) << events.Log();
  EXPECT_EQ(got->text, "from the peer");
  ASSERT_TRUE(got->sender_lid);
  EXPECT_EQ(got->sender_lid->ToString(), peer_lid);
  thread_.Await(c->Stop());
}

}  // namespace
}  // namespace wa::itest
