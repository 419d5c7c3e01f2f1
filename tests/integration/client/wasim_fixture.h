// Fixtures shared by the wa::Client-against-wasim tests: an event recorder, the client thread, a
// device's stores, and the wasim process started once per test suite (WasimTest), optionally with
// a device linked to a fresh phone (LinkedTest).
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "wa/client/client.h"
#include "wa/client/memory_device_store.h"
#include "wa/client/memory_state_store.h"
#include "wa/signal/memory_store.h"
#include "wasim_process.h"

namespace wa::itest {

namespace asio = boost::asio;
namespace json = boost::json;
using client::Client;
using client::Credentials;
using client::Event;

// Collects one client's events (delivered on the client thread) for the test thread.
class Recorder {
 public:
  client::EventSink Sink() {
    return [this](const Event& e) {
      std::lock_guard lock(mu_);
      events_.push_back(e);
      cv_.notify_all();
    };
  }
  // The n-th (1-based) event of type T, waiting up to `timeout`.
  template <class T>
  std::optional<T> Wait(std::size_t n = 1, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lock(mu_);
    std::optional<T> found;
    cv_.wait_for(lock, timeout, [&] {
      std::size_t seen = 0;
      for (const auto& e : events_) {
        if (auto* t = std::get_if<T>(&e); t && ++seen == n) {
          found = *t;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  // Every event of type T so far, in order.
  template <class T>
  std::vector<T> All() {
    std::lock_guard lock(mu_);
    std::vector<T> out;
    for (const auto& e : events_) {
      if (auto* t = std::get_if<T>(&e)) out.push_back(*t);
    }
    return out;
  }
  // Waits until at least n events of type T arrived, or `timeout`; true when they did.
  template <class T>
  bool WaitCount(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      std::size_t seen = 0;
      for (const auto& e : events_) seen += std::holds_alternative<T>(e);
      return seen >= n;
    });
  }
  template <class T>
  std::size_t Count() {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& e : events_) n += std::holds_alternative<T>(e);
    return n;
  }
  std::string Log() {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& e : events_) out += client::Describe(e) + "\n";
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
};

// The thread all clients of a test run on.
class ClientThread {
 public:
  ClientThread() : guard_(ioc_.get_executor()), thread_([this] { ioc_.run(); }) {}
  ~ClientThread() {
    guard_.reset();
    ioc_.stop();
    thread_.join();
  }
  asio::io_context& ioc() { return ioc_; }
  template <class T>
  T Await(asio::awaitable<T> task) {
    return asio::co_spawn(ioc_, std::move(task), asio::use_future).get();
  }
  void Await(asio::awaitable<void> task) { asio::co_spawn(ioc_, std::move(task), asio::use_future).get(); }

 private:
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

// One linked device's state that outlives client instances: credentials and Signal keys.
struct Device {
  explicit Device(const Credentials& c)
      : state(c),
        devices(state.memory_device_store()),
        signal(state.memory_signal_store()),
        identity(c.identity_key) {}
  client::MemoryStateStore state;
  client::MemoryDeviceStore& devices;
  signal::MemoryStore& signal;
  crypto::KeyPair identity;
};

class WasimTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    wasim_ = Wasim::Start(&error).release();
    if (!wasim_) start_error_ = new std::string(error);
  }
  static void TearDownTestSuite() {
    delete wasim_;
    wasim_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(wasim_, nullptr) << (start_error_ ? *start_error_ : "");
    ASSERT_TRUE(wasim_->alive());
  }

  client::Config MakeConfig(bool tls = true) {
    client::Config config;
    config.url = tls ? wasim_->tls_chat_url() : wasim_->chat_url();
    config.ca_file = wasim_->cert_path();
    auto root = base::FromHex(wasim_->root_key_hex());
    std::copy(root->begin(), root->end(), config.trust_root.begin());
    config.timeouts.connect = std::chrono::seconds(10);
    config.timeouts.iq = std::chrono::seconds(10);
    config.backoff.initial = std::chrono::milliseconds(100);
    config.backoff.max = std::chrono::seconds(1);
    config.push_name = "itest";
    return config;
  }

  std::string NewPhone() {
    static int counter = 0;
    std::string phone = "1555" + std::to_string(1000000 + (::getpid() % 1000) * 100 + counter++);
    auto r = wasim_->Control("POST", "/v1/phones", json::object{{"phone", phone}, {"name", "Phone " + phone}});
    EXPECT_EQ(r.status, 201) << r.body;
    return phone;
  }

  // Scans the client's first QR with the phone; returns the linked device JID.
  std::string Scan(const std::string& phone, Recorder& events) {
    auto qr = events.Wait<client::Qr>();
    EXPECT_TRUE(qr) << events.Log();
    if (!qr) return {};
    auto r = wasim_->Control("POST", "/v1/phones/" + phone + "/scan", json::object{{"qr", qr->code}});
    EXPECT_EQ(r.status, 200) << r.body;
    auto v = r.Json();
    return v.is_object() && v.as_object().contains("device_jid")
               ? std::string(v.at("device_jid").as_string())
               : std::string();
  }

  std::unique_ptr<Client> MakeClient(Device& d, Recorder& r, client::Config config) {
    return std::make_unique<Client>(thread_.ioc().get_executor(), std::move(config), d.state,
                                    r.Sink());
  }

  int PreKeysOnServer(Client& c) {
    binary::Node iq("iq", {{"id", ""}, {"xmlns", "encrypt"}, {"type", "get"}, {"to", "@s.whatsapp.net"}},
                    binary::Node::Children{binary::Node("count")});
    auto r = thread_.Await(c.SendIq(iq));
    if (!r || !r->Child("count")) return -1;
    return std::stoi(std::string(r->Child("count")->AttrOr("value", "-1")));
  }

  json::value Stats() { return wasim_->Control("GET", "/v1/stats").Json(); }

  inline static Wasim* wasim_ = nullptr;
  inline static std::string* start_error_ = nullptr;
  ClientThread thread_;
};


class LinkedTest : public WasimTest {
 protected:
  // A device linked to a fresh phone, its first client stopped.
  void Link(client::Config config) {
    phone_ = NewPhone();
    device_ = std::make_unique<Device>(Credentials::New());
    ASSERT_TRUE(device_->devices.Save(Credentials(*device_->devices.Load().value())));
    Recorder events;
    auto c = MakeClient(*device_, events, config);
    c->Start();
    jid_ = Scan(phone_, events);
    ASSERT_TRUE(events.Wait<client::Connected>()) << events.Log();
    thread_.Await(c->Stop());
  }
  std::string phone_, jid_;
  std::unique_ptr<Device> device_;
};

}  // namespace wa::itest
