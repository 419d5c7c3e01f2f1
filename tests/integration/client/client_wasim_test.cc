// wa::client::Client against real wasim processes over real sockets: QR linking through the
// control API's scan, login with stored credentials, unlink from the phone, reconnect after a
// dropped connection, conflict between two connections with the same credentials, logout,
// prekey upload as the server sees it, ws:// and wss://, HTTP CONNECT and SOCKS5 proxies, a
// wrong trust root, and the memory of many idle connected clients.
//
// The clients run on their own io_context thread, as in the gateway; the test thread drives
// wasim's control API with blocking HTTP calls and waits for events with deadlines.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <malloc.h>

#include <unistd.h>

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "test_proxy.h"
#include "wa/client/client.h"
#include "wa/client/errors.h"
#include "wa/client/memory_device_store.h"
#include "wa/client/memory_state_store.h"
#include "wa/signal/memory_store.h"
#include "wasim_fixture.h"
#include "wasim_process.h"

namespace wa::itest {
namespace {

using namespace std::chrono_literals;

TEST_F(WasimTest, LinksByQrRestartsWithStoredCredentialsAndIsUnlinked) {
  std::string phone = NewPhone();
  Device device(Credentials::New());
  ASSERT_TRUE(device.devices.Save(*device.devices.Load().value()));
  auto pairings_before = Stats().at("pairings").as_int64();

  Recorder events;
  auto c = MakeClient(device, events, MakeConfig());
  c->Start();
  std::string jid = Scan(phone, events);
  ASSERT_FALSE(jid.empty());
  auto paired = events.Wait<client::Paired>();
  ASSERT_TRUE(paired) << events.Log();
  EXPECT_EQ(paired->jid.ToString(), jid);
  EXPECT_EQ(paired->platform, "android");
  ASSERT_TRUE(events.Wait<client::Connected>()) << events.Log();
  EXPECT_EQ(Stats().at("pairings").as_int64(), pairings_before + 1);
  // First login: 812 prekeys uploaded, as the server counts them.
  EXPECT_EQ(PreKeysOnServer(*c), 812);
  EXPECT_EQ(device.signal.pre_key_count(), 812u);
  auto stored = device.devices.Load();
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->me->ToString(), jid);
  EXPECT_EQ((*stored)->next_pre_key_id, 813u);
  EXPECT_EQ((*stored)->first_unuploaded_pre_key_id, 813u);
  thread_.Await(c->Stop());
  c.reset();

  // A new client with the stored credentials logs in without a QR and uploads nothing.
  Recorder again;
  auto logins_before = Stats().at("logins").as_int64();
  auto c2 = MakeClient(device, again, MakeConfig());
  c2->Start();
  ASSERT_TRUE(again.Wait<client::Connected>()) << again.Log();
  EXPECT_EQ(again.Count<client::Qr>(), 0u);
  EXPECT_EQ(Stats().at("logins").as_int64(), logins_before + 1);
  EXPECT_EQ(PreKeysOnServer(*c2), 812);
  EXPECT_EQ(device.signal.pre_key_count(), 812u);
  auto devices = wasim_->Control("GET", "/v1/phones/" + phone + "/devices").Json();
  ASSERT_TRUE(devices.is_array());
  ASSERT_EQ(devices.as_array().size(), 1u);
  EXPECT_TRUE(devices.as_array()[0].at("connected").as_bool());

  // The phone unlinks it: LoggedOut, credentials wiped, no reconnect.
  auto r = wasim_->Control("DELETE", "/v1/phones/" + phone + "/devices/" + jid);
  EXPECT_EQ(r.status, 204) << r.body;
  auto out = again.Wait<client::LoggedOut>();
  ASSERT_TRUE(out) << again.Log();
  EXPECT_EQ(out->code, 401);
  EXPECT_FALSE(out->on_connect);
  auto last = again.Wait<client::Disconnected>(1);
  ASSERT_TRUE(last);
  EXPECT_FALSE(last->will_retry);
  EXPECT_TRUE(device.devices.empty());
  thread_.Await(c2->Stop());
  EXPECT_EQ(c2->state(), client::State::kStopped);
}


TEST_F(LinkedTest, ReconnectsAfterTheConnectionDrops) {
  Link(MakeConfig());
  Recorder events;
  auto c = MakeClient(*device_, events, MakeConfig());
  c->Start();
  ASSERT_TRUE(events.Wait<client::Connected>()) << events.Log();
  c->DropConnectionForTesting();
  auto drop = events.Wait<client::Disconnected>();
  ASSERT_TRUE(drop);
  EXPECT_TRUE(drop->will_retry);
  EXPECT_EQ(drop->reason, client::DisconnectReason::kConnectionClosed);
  ASSERT_TRUE(events.Wait<client::Connected>(2)) << events.Log();
  EXPECT_EQ(PreKeysOnServer(*c), 812);
  thread_.Await(c->Stop());
}

TEST_F(LinkedTest, ASecondConnectionReplacesTheFirst) {
  Link(MakeConfig());
  Recorder first_events, second_events;
  auto first = MakeClient(*device_, first_events, MakeConfig());
  first->Start();
  ASSERT_TRUE(first_events.Wait<client::Connected>()) << first_events.Log();

  // Same credentials, another store instance (another process would have its own copy).
  Device copy(*device_->devices.Load().value());
  auto second = MakeClient(copy, second_events, MakeConfig(false));
  second->Start();
  ASSERT_TRUE(second_events.Wait<client::Connected>()) << second_events.Log();
  ASSERT_TRUE(first_events.Wait<client::StreamReplaced>()) << first_events.Log();
  auto end = first_events.Wait<client::Disconnected>();
  ASSERT_TRUE(end);
  EXPECT_EQ(end->reason, client::DisconnectReason::kReplaced);
  EXPECT_EQ(end->code, 440);
  EXPECT_FALSE(end->will_retry);
  EXPECT_FALSE(device_->devices.empty());  // replaced is not logged out
  // The survivor stays connected: no fight.
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(second->state(), client::State::kConnected);
  EXPECT_EQ(second_events.Count<client::Disconnected>(), 0u);
  thread_.Await(first->Stop());
  thread_.Await(second->Stop());
}

TEST_F(LinkedTest, LogoutRemovesTheDevice) {
  Link(MakeConfig(false));
  Recorder events;
  auto c = MakeClient(*device_, events, MakeConfig(false));
  c->Start();
  ASSERT_TRUE(events.Wait<client::Connected>()) << events.Log();
  auto done = thread_.Await(c->Logout());
  // wasim queues the iq result and then aborts the connection, which drops the result
  // (World::HandleIq, remove-companion-device), so the confirmation may never arrive; the
  // client wipes either way and reports the missing confirmation as kDisconnected.
  if (!done) {
    EXPECT_EQ(done.error(), client::MakeError(client::Errc::kDisconnected)) << done.error().message();
  }
  ASSERT_TRUE(events.Wait<client::LoggedOut>()) << events.Log();
  EXPECT_TRUE(device_->devices.empty());
  auto devices = wasim_->Control("GET", "/v1/phones/" + phone_ + "/devices").Json();
  ASSERT_TRUE(devices.is_array());
  EXPECT_TRUE(devices.as_array().empty());
  thread_.Await(c->Stop());
}

TEST_F(LinkedTest, UnknownDeviceIsRefusedAtLogin) {
  Link(MakeConfig());
  ASSERT_EQ(wasim_->Control("DELETE", "/v1/phones/" + phone_ + "/devices/" + jid_).status, 204);
  Recorder events;
  auto c = MakeClient(*device_, events, MakeConfig());
  c->Start();
  auto out = events.Wait<client::LoggedOut>();
  ASSERT_TRUE(out) << events.Log();
  EXPECT_TRUE(out->on_connect);
  EXPECT_TRUE(device_->devices.empty());
  thread_.Await(c->Stop());
}

// wasim's pairing-code linking and fault injection arrived after the first version of this
// suite; these tests skip (and say so) against a wasim without them.
bool HasRoute(const Wasim& w, const std::string& method, const std::string& path) {
  auto r = w.Control(method, path, json::object{});
  return r.status != 404 || r.body.find("phone_not_found") != std::string::npos;
}

TEST_F(WasimTest, LinksByPairingCode) {
  std::string phone = NewPhone();
  if (!HasRoute(*wasim_, "POST", "/v1/phones/" + phone + "/pairing-code")) {
    GTEST_SKIP() << "this wasim has no POST /v1/phones/{phone}/pairing-code";
  }
  Device device(Credentials::New());
  ASSERT_TRUE(device.devices.Save(*device.devices.Load().value()));
  Recorder events;
  auto c = MakeClient(device, events, MakeConfig());
  c->Start();
  ASSERT_TRUE(events.Wait<client::Qr>()) << events.Log();
  auto code = thread_.Await(c->RequestPairingCode("+" + phone));
  ASSERT_TRUE(code) << code.error().message();
  EXPECT_EQ(code->size(), 8u);
  auto announced = events.Wait<client::PairingCode>();
  ASSERT_TRUE(announced);
  EXPECT_EQ(announced->code, *code);
  auto r = wasim_->Control("POST", "/v1/phones/" + phone + "/pairing-code", json::object{{"code", *code}});
  EXPECT_EQ(r.status, 200) << r.body;
  auto paired = events.Wait<client::Paired>();
  ASSERT_TRUE(paired) << events.Log();
  EXPECT_EQ(paired->jid.user(), phone);
  ASSERT_TRUE(events.Wait<client::Connected>()) << events.Log();
  EXPECT_EQ(PreKeysOnServer(*c), 812);
  thread_.Await(c->Stop());

  // A wrong code links nothing.
  std::string other = NewPhone();
  Device device2(Credentials::New());
  ASSERT_TRUE(device2.devices.Save(*device2.devices.Load().value()));
  Recorder events2;
  auto c2 = MakeClient(device2, events2, MakeConfig());
  c2->Start();
  ASSERT_TRUE(events2.Wait<client::Qr>());
  auto code2 = thread_.Await(c2->RequestPairingCode(other));
  ASSERT_TRUE(code2);
  std::string wrong = *code2;
  wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
  auto refused = wasim_->Control("POST", "/v1/phones/" + other + "/pairing-code", json::object{{"code", wrong}});
  EXPECT_NE(refused.status, 200) << refused.body;
  EXPECT_EQ(events2.Count<client::Paired>(), 0u);
  thread_.Await(c2->Stop());
  EXPECT_FALSE((*device2.devices.Load())->paired());
}

TEST_F(LinkedTest, ReconnectsAfterServerFaults) {
  if (!HasRoute(*wasim_, "GET", "/v1/faults")) {
    GTEST_SKIP() << "this wasim has no /v1/faults";
  }
  Link(MakeConfig());
  Recorder events;
  auto c = MakeClient(*device_, events, MakeConfig());
  c->Start();
  ASSERT_TRUE(events.Wait<client::Connected>()) << events.Log();

  // The server drops the connection.
  auto r = wasim_->Control("POST", "/v1/faults", json::object{{"drop_connections", json::object{{"phone", phone_}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(events.Wait<client::Connected>(2)) << events.Log();
  auto drop = events.Wait<client::Disconnected>(1);
  ASSERT_TRUE(drop);
  EXPECT_TRUE(drop->will_retry);

  // 503: service unavailable, reconnect with backoff.
  r = wasim_->Control("POST", "/v1/faults",
                      json::object{{"stream_error", json::object{{"phone", phone_}, {"code", 503}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(events.Wait<client::Connected>(3)) << events.Log();
  auto unavailable = events.Wait<client::Disconnected>(2);
  ASSERT_TRUE(unavailable);
  EXPECT_EQ(unavailable->reason, client::DisconnectReason::kServiceUnavailable);
  EXPECT_TRUE(unavailable->will_retry);

  // 515: restart at once.
  r = wasim_->Control("POST", "/v1/faults",
                      json::object{{"stream_error", json::object{{"phone", phone_}, {"code", 515}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(events.Wait<client::Connected>(4)) << events.Log();
  auto restart = events.Wait<client::Disconnected>(3);
  ASSERT_TRUE(restart);
  EXPECT_EQ(restart->reason, client::DisconnectReason::kRestartRequired);
  EXPECT_EQ(restart->retry_in, 0ms);

  // The server refuses connections for a while: the client keeps trying and gets back.
  r = wasim_->Control("POST", "/v1/faults", json::object{{"refuse_connections_for_s", 2}});
  ASSERT_EQ(r.status, 200) << r.body;
  r = wasim_->Control("POST", "/v1/faults", json::object{{"drop_connections", json::object{{"phone", phone_}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(events.Wait<client::Connected>(5, 30s)) << events.Log();
  EXPECT_EQ(wasim_->Control("DELETE", "/v1/faults").status, 204);
  thread_.Await(c->Stop());
}

TEST_F(WasimTest, ConnectsThroughProxies) {
  TestProxy http(TestProxy::Kind::kHttp, "u", "p w");
  TestProxy socks(TestProxy::Kind::kSocks5, "user", "secret");
  for (auto* proxy : {&http, &socks}) {
    std::string phone = NewPhone();
    Device device(Credentials::New());
    ASSERT_TRUE(device.devices.Save(*device.devices.Load().value()));
    auto config = MakeConfig();
    std::string scheme = proxy == &http ? "http" : "socks5";
    std::string auth = proxy == &http ? "u:p%20w@" : "user:secret@";
    config.proxy = *client::ParseProxyUrl(scheme + "://" + auth + "127.0.0.1:" + std::to_string(proxy->port()));
    Recorder events;
    auto c = MakeClient(device, events, config);
    c->Start();
    ASSERT_FALSE(Scan(phone, events).empty()) << scheme;
    ASSERT_TRUE(events.Wait<client::Connected>()) << scheme << "\n" << events.Log();
    EXPECT_GE(proxy->tunnels(), 2) << scheme;  // registration and login connections
    thread_.Await(c->Stop());
  }

  // Wrong credentials: the proxy refuses, the client keeps retrying with backoff.
  Device device(Credentials::New());
  ASSERT_TRUE(device.devices.Save(*device.devices.Load().value()));
  auto config = MakeConfig();
  config.proxy = *client::ParseProxyUrl("socks5://user:wrong@127.0.0.1:" + std::to_string(socks.port()));
  Recorder events;
  auto c = MakeClient(device, events, config);
  c->Start();
  auto refused = events.Wait<client::Disconnected>();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->reason, client::DisconnectReason::kNetworkError);
  EXPECT_TRUE(refused->will_retry);
  EXPECT_GE(socks.refused(), 1);
  thread_.Await(c->Stop());
}

TEST_F(WasimTest, RefusesAServerSignedByAnotherRoot) {
  Device device(Credentials::New());
  ASSERT_TRUE(device.devices.Save(*device.devices.Load().value()));
  auto config = MakeConfig();
  config.trust_root = noise::kWhatsAppRootPublicKey;  // not wasim's root
  Recorder events;
  auto c = MakeClient(device, events, config);
  c->Start();
  auto end = events.Wait<client::Disconnected>();
  ASSERT_TRUE(end);
  EXPECT_EQ(end->reason, client::DisconnectReason::kHandshakeFailed);
  EXPECT_EQ(events.Count<client::Qr>(), 0u);
  thread_.Await(c->Stop());

  // And a TLS certificate nobody vouches for.
  auto untrusted = MakeConfig();
  untrusted.ca_file.clear();
  Recorder tls_events;
  auto c2 = MakeClient(device, tls_events, untrusted);
  c2->Start();
  auto tls_end = tls_events.Wait<client::Disconnected>();
  ASSERT_TRUE(tls_end);
  EXPECT_EQ(tls_end->reason, client::DisconnectReason::kNetworkError);
  thread_.Await(c2->Stop());

  // A trusted certificate for another name (wasim's names localhost, 127.0.0.1 and ::1): reach
  // it through this machine's host name when that resolves to the loopback address.
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  asio::io_context ioc;
  boost::system::error_code ec;
  auto resolved = asio::ip::tcp::resolver(ioc).resolve(name, "0", ec);
  bool loopback = !ec && !resolved.empty() &&
                  resolved.begin()->endpoint().address() == asio::ip::make_address("127.0.0.1");
  if (!loopback || std::string(name) == "localhost") return;
  auto other_name = MakeConfig();
  other_name.url.replace(other_name.url.find("localhost"), 9, name);
  Recorder name_events;
  auto c3 = MakeClient(device, name_events, other_name);
  c3->Start();
  auto name_end = name_events.Wait<client::Disconnected>();
  ASSERT_TRUE(name_end);
  EXPECT_EQ(name_end->reason, client::DisconnectReason::kNetworkError) << other_name.url;
  EXPECT_EQ(name_events.Count<client::Qr>(), 0u);
  thread_.Await(c3->Stop());
}

std::size_t RssKb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
  }
  return 0;
}

// Memory of idle connected clients (thousands share a process). Phase 1 links N devices (QR
// scan, 812 prekeys each into in-memory Signal stores) and stops those clients; phase 2 starts
// N fresh clients on the stored credentials, waits until all are logged in and idle, and reports
// the RSS growth per client: the client object, its socket, TLS session, WebSocket, coroutines
// and buffers (the stores existed before and are not counted; the gateway keeps them in SQLite).
TEST_F(WasimTest, MemoryOfIdleConnectedClients) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "memory figures mean nothing under AddressSanitizer (redzones, quarantine)";
#endif
  int n = std::getenv("WA_CLIENT_MEMORY_CLIENTS") ? std::atoi(std::getenv("WA_CLIENT_MEMORY_CLIENTS")) : 200;
  const char* plain = std::getenv("WA_CLIENT_MEMORY_PLAIN");
  bool tls = !plain || !*plain;
  auto config = MakeConfig(tls);
  auto shared_tls = client::MakeTlsContext(config.ca_file);
  ASSERT_TRUE(shared_tls);
  config.tls_context = *shared_tls;  // one context for all, as the gateway does

  std::vector<std::unique_ptr<Device>> devices;
  {
    std::vector<std::unique_ptr<Recorder>> recorders;
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < n; ++i) {
      std::string phone = NewPhone();
      devices.push_back(std::make_unique<Device>(Credentials::New()));
      ASSERT_TRUE(devices.back()->devices.Save(*devices.back()->devices.Load().value()));
      recorders.push_back(std::make_unique<Recorder>());
      clients.push_back(MakeClient(*devices.back(), *recorders.back(), config));
      clients.back()->Start();
      ASSERT_FALSE(Scan(phone, *recorders.back()).empty());
    }
    for (std::size_t i = 0; i < clients.size(); ++i) {
      ASSERT_TRUE(recorders[i]->Wait<client::Connected>(1, 60s)) << i;
    }
    for (auto& c : clients) thread_.Await(c->Stop());
  }
  malloc_trim(0);
  std::size_t before = RssKb();
  std::size_t heap_before = mallinfo2().uordblks;

  std::vector<std::unique_ptr<Recorder>> recorders;
  std::vector<std::unique_ptr<Client>> clients;
  for (auto& d : devices) {
    recorders.push_back(std::make_unique<Recorder>());
    clients.push_back(MakeClient(*d, *recorders.back(), config));
    clients.back()->Start();
  }
  for (std::size_t i = 0; i < clients.size(); ++i) {
    ASSERT_TRUE(recorders[i]->Wait<client::Connected>(1, 60s)) << i;
  }
  std::this_thread::sleep_for(1s);  // idle: post-login traffic done
  std::size_t connected = RssKb();
  std::size_t heap_connected = mallinfo2().uordblks;
  double per_client = static_cast<double>(connected > before ? connected - before : 0) / n;
  double heap_per_client =
      static_cast<double>(heap_connected > heap_before ? heap_connected - heap_before : 0) / 1024 / n;
  std::printf("[ MEMORY ] %d idle logged-in clients over %s: RSS %zu KB -> %zu KB = %.1f KB per "
              "client; heap in use +%.1f KB per client (stores excluded)\n",
              n, tls ? "wss" : "ws", before, connected, per_client, heap_per_client);
  std::fflush(stdout);
  for (auto& c : clients) thread_.Await(c->Stop());
  // Ceilings that still catch a per-client thread stack or a retained 64 KB buffer. Over wss,
  // Asio's ssl::stream holds ~68 KB of its own per connection (two 17 KB record buffers and a
  // 2 x 17 KB BIO pair) on top of OpenSSL's session.
  double limit = tls ? 160.0 : 48.0;
  EXPECT_LT(per_client, limit);
  EXPECT_LT(heap_per_client, limit);
}

}  // namespace
}  // namespace wa::itest
