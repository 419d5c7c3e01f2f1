// wa_sessions_bench: N wa::Clients in this process linked to one wasim, measured.
//
//   wa_sessions_bench --wasim build/release/src/bin/wasim --sessions 1000 --transport wss
//                     --store sqlite --messages 20 --idle-seconds 60 --json out.json
//
// Phases (each timed, per-session latencies summarised as p50/p90/p99):
//   phones  create N simulated phones through the control API, and the recipients' phones
//   link    per session: fresh credentials, Start, first QR -> POST .../scan, wait for Connected
//           (link = Start..Connected; login_after_pair = Paired..Connected, the 515 restart)
//   stop    every client stopped (the stores, with their 812 prekeys each, are kept)
//   login   a new Client per stored device: Start..Connected, a full reconnect and login
//   send    every session sends --messages texts to its recipient (a pool of --recipients
//           phones), one at a time per session, --send-concurrency sessions at once, each
//           SendText awaited until the server's ack. Two rounds, measured apart: the first
//           message of each session (device-list query, prekey bundles, new sessions with the
//           recipient and the account's own phone) and the others (existing sessions; still
//           pkmsg on the wire, since the recipients never reply). Then the recipients' inboxes
//           in wasim are matched against the acked ids (send_check.h): delivered = decrypted.
//   idle    S seconds with every session connected and pinging: this process's and wasim's RSS
//           and CPU over the window, disconnects seen (should be 0)
// Memory is read from /proc (VmRSS, VmHWM); per-session figures are given three ways: the whole
// process over the sessions (stores included), the stored state (every client stopped, stores
// open) and the connection alone (RSS with every session connected minus RSS with the same
// stores and every client stopped).
//
// Stores (--store): `memory`, a MemoryStateStore per session (every key in memory, the 812
// one-time prekeys included); `sqlite`, the gateway's store as wagate runs it: one database file
// (in --store-dir, default a temporary directory removed at the end), migrated, and one
// SessionState per session from one SessionStates (write-back cache, group commit, sealed rows).
//
// Clients run on --client-threads io_context threads (default 1: on two cores wasim takes the
// other); the driver (control API calls, timing) runs on the main thread.
#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "base/bytes.h"
#include "base/log.h"
#include "control_client.h"
#include "gateway/store/sqlite/session_state.h"
#include "gateway/store/sqlite/sqlite_store.h"
#include "proc_stats.h"
#include "send_check.h"
#include "wa/client/client.h"
#include "wa/client/config.h"
#include "wa/client/credentials.h"
#include "wa/client/events.h"
#include "wa/client/memory_state_store.h"
#include "wa/crypto/crypto.h"

namespace wa::bench {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Options {
  std::string wasim_binary;
  std::string control_url, chat_url, ca_file;  // an already running wasim
  int wasim_pid = -1;
  int sessions = 100;
  std::string transport = "wss";
  double idle_seconds = 60;
  double sample_every = 10;
  int concurrency = 64;
  int client_threads = 1;
  std::string phone_prefix = "1700";
  std::string store = "memory";
  std::string store_dir;  // sqlite: where the database goes; empty = a temporary directory
  int store_threads = 2;  // sqlite: the store's pool (wagate's default)
  int messages = 0;       // per session; 0 skips the send phase
  int recipients = 50;    // recipient phones shared by the sessions
  std::string recipient_prefix = "1701";
  int send_concurrency = 64;
  double step_timeout = 120;
  std::string json_path;
  std::string log_level = "warn";
};

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// One linked device: its stores outlive client instances; the rest is the current run's record,
// touched only on the driver thread (events are posted there).
struct Session {
  std::size_t index = 0;
  std::string phone;
  std::unique_ptr<client::StateStore> state;
  gateway::store::sqlite::SessionState* sql = nullptr;  // `state` as a SessionState (sqlite)
  std::unique_ptr<client::Client> client;
  std::unique_ptr<asio::steady_timer> wake;
  bool failed = false;  // left out of later phases

  std::optional<std::string> qr;
  std::optional<Clock::time_point> started, paired_at, connected_at;
  int connected = 0;
  int disconnects = 0;
  int qrs = 0;
  bool ended = false;
  std::string last_disconnect;

  void ResetRun() {
    qr.reset();
    started.reset();
    paired_at.reset();
    connected_at.reset();
    connected = disconnects = qrs = 0;
    ended = false;
    last_disconnect.clear();
  }
  bool up() const { return connected > 0 && !ended; }
};

void OnEvent(Session& s, const client::Event& e, Clock::time_point at) {
  if (auto* qr = std::get_if<client::Qr>(&e)) {
    ++s.qrs;
    if (!s.qr) s.qr = qr->code;
  } else if (std::holds_alternative<client::Paired>(e)) {
    s.paired_at = at;
  } else if (std::holds_alternative<client::Connected>(e)) {
    if (s.connected++ == 0) s.connected_at = at;
  } else if (auto* d = std::get_if<client::Disconnected>(&e)) {
    ++s.disconnects;
    s.last_disconnect = client::Describe(e);
    if (!d->will_retry) s.ended = true;
  }
  s.wake->cancel();
}

template <class Pred>
asio::awaitable<bool> WaitFor(Session& s, Pred pred, Clock::time_point deadline) {
  while (!pred()) {
    if (Clock::now() >= deadline) co_return false;
    s.wake->expires_at(deadline);
    co_await s.wake->async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_return true;
}

// Runs fn(0..n-1) with at most `concurrency` in flight; prints progress to stderr.
asio::awaitable<void> ForEach(const char* what, std::size_t n, int concurrency,
                              std::function<asio::awaitable<void>(std::size_t)> fn) {
  auto ex = co_await asio::this_coro::executor;
  std::size_t next = 0, finished = 0;
  std::size_t step = std::max<std::size_t>(n / 10, 1);
  auto start = Clock::now();
  std::exception_ptr error;
  asio::steady_timer done(ex, Clock::time_point::max());
  auto worker = [&]() -> asio::awaitable<void> {
    while (next < n) {
      std::size_t i = next++;
      co_await fn(i);
      if (++finished % step == 0 || finished == n) {
        std::fprintf(stderr, "  %s %zu/%zu (%.1f s)\n", what, finished, n,
                     Seconds(Clock::now() - start));
      }
    }
  };
  int running = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(concurrency), n));
  if (running == 0) co_return;
  for (int w = running; w > 0; --w) {
    asio::co_spawn(ex, worker(), [&](std::exception_ptr e) {
      if (e && !error) error = e;
      if (--running == 0) done.cancel();
    });
  }
  co_await done.async_wait(asio::as_tuple(asio::use_awaitable));
  if (error) std::rethrow_exception(error);
}

json::object DistJson(const std::vector<double>& values) {
  auto d = Summarize(values);
  auto r = [](double v) { return std::round(v * 100) / 100; };
  return {{"count", d.count}, {"min", r(d.min)}, {"p50", r(d.p50)}, {"p90", r(d.p90)},
          {"p99", r(d.p99)},  {"max", r(d.max)}, {"mean", r(d.mean)}};
}

// /proc/loadavg's first three fields: other work on the machine skews every figure here.
std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

json::object SampleJson(const std::optional<ProcSample>& s) {
  if (!s) return {};
  return {{"rss_kb", s->rss_kb}, {"hwm_kb", s->hwm_kb},
          {"cpu_seconds", std::round(s->cpu_seconds * 100) / 100}};
}

// Adds malloc's bytes in use (this process's heap, without what the allocator keeps free) to a
// reading of this process: unlike RSS, it does not depend on fragmentation or on malloc_trim.
json::object WithHeap(json::object sample) {
  sample["heap_kb"] = static_cast<std::int64_t>(mallinfo2().uordblks / 1024);
  return sample;
}

class Bench {
 public:
  Bench(Options options, asio::io_context& driver, asio::io_context& clients,
        WasimEndpoints wasim)
      : options_(std::move(options)),
        driver_(driver),
        clients_(clients),
        wasim_(std::move(wasim)),
        control_(driver.get_executor(), wasim_.control_url) {}
  ~Bench();
  Bench(const Bench&) = delete;
  Bench& operator=(const Bench&) = delete;

  asio::awaitable<int> Run();

 private:
  client::Config MakeConfig();
  client::EventSink Sink(Session* s);
  std::optional<ProcSample> Self() const { return ReadProc(::getpid()); }
  std::optional<ProcSample> Wasim() const {
    return wasim_.pid > 0 ? ReadProc(wasim_.pid) : std::nullopt;
  }
  asio::awaitable<json::value> Stats();
  void Fail(Session& s, const std::string& why) {
    s.failed = true;
    ++failures_[why];
  }
  std::size_t Up() const {
    std::size_t n = 0;
    for (auto& s : sessions_) n += !s->failed && s->up();
    return n;
  }
  asio::awaitable<void> StopAll(int concurrency);
  // sqlite: opens the database (migrated) and the SessionStates over it; false after printing why.
  bool OpenDatabase();
  // A fresh device's store for session `s` (memory or a SessionState holding new credentials).
  asio::awaitable<bool> NewState(Session& s);
  // sqlite: what the SessionStates' caches hold, summed; read only while every client is stopped
  // (a SessionState belongs to its client's strand while the client runs).
  json::object CacheJson() const;
  // The send phase; its JSON.
  asio::awaitable<json::object> Send();
  asio::awaitable<void> Sleep(std::chrono::duration<double> d) {
    asio::steady_timer t(driver_, std::chrono::duration_cast<Clock::duration>(d));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  Clock::time_point Deadline() const {
    return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(options_.step_timeout));
  }

  Options options_;
  asio::io_context& driver_;
  asio::io_context& clients_;
  WasimEndpoints wasim_;
  ControlClient control_;
  std::shared_ptr<asio::ssl::context> tls_;
  // sqlite: declared before sessions_ so that every SessionState goes before the SessionStates.
  std::string db_dir_;
  bool db_dir_owned_ = false;
  std::unique_ptr<gateway::store::sqlite::SqliteStore> db_;
  std::unique_ptr<gateway::store::sqlite::SessionStates> states_;
  std::vector<std::unique_ptr<Session>> sessions_;
  std::map<std::string, int> failures_;
};

Bench::~Bench() {
  sessions_.clear();
  states_.reset();
  db_.reset();
  if (db_dir_owned_) {
    std::error_code ec;
    std::filesystem::remove_all(db_dir_, ec);
  }
}

bool Bench::OpenDatabase() {
  if (options_.store_dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "wa-sessions-store-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) {
      std::perror("mkdtemp");
      return false;
    }
    db_dir_ = tmpl;
    db_dir_owned_ = true;
  } else {
    db_dir_ = options_.store_dir;
    std::error_code ec;
    std::filesystem::create_directories(db_dir_, ec);
  }
  // The same file name and pool as wagate's default configuration.
  std::string error;
  auto opened = gateway::store::sqlite::SqliteStore::Open(
      {.path = std::filesystem::path(db_dir_) / "wagate.db", .threads = options_.store_threads},
      &error);
  if (!opened) {
    std::fprintf(stderr, "store: %s\n", error.c_str());
    return false;
  }
  if (auto migrated = (*opened)->Migrate(&error); !migrated) {
    std::fprintf(stderr, "store: %s\n", error.c_str());
    return false;
  }
  db_ = std::move(*opened);
  auto master_key = wa::crypto::RandomBytes(32);
  states_ = std::make_unique<gateway::store::sqlite::SessionStates>(*db_, master_key);
  return true;
}

asio::awaitable<bool> Bench::NewState(Session& s) {
  if (!states_) {
    s.state = std::make_unique<client::MemoryStateStore>(client::Credentials::New());
    co_return true;
  }
  // As the gateway's session manager does for a new session: open, save new credentials, commit.
  std::string id = "bench-" + std::to_string(s.index);
  auto opened = co_await states_->Open(std::move(id));
  if (!opened) {
    Fail(s, "store_open");
    co_return false;
  }
  auto& state = **opened;
  auto saved = state.Save(client::Credentials::New());
  if (saved) saved = co_await state.Commit();
  if (!saved) {
    Fail(s, "store_save");
    co_return false;
  }
  s.sql = opened->get();
  s.state = std::move(*opened);
  co_return true;
}

json::object Bench::CacheJson() const {
  std::size_t records = 0, bytes = 0, sessions = 0;
  for (const auto& s : sessions_) {
    if (!s->sql) continue;
    ++sessions;
    records += s->sql->cached_records();
    bytes += s->sql->cached_bytes();
  }
  return {{"states", sessions}, {"records", records}, {"bytes", bytes},
          {"bytes_per_state", sessions ? static_cast<double>(bytes) / sessions : 0.0}};
}

client::Config Bench::MakeConfig() {
  client::Config config;
  bool tls = options_.transport == "wss";
  config.url = wasim_.chat_url;
  if (tls) {
    // The certificate names localhost and 127.0.0.1; the name exercises SNI as in production.
    const std::string plain = "ws://127.0.0.1";
    if (config.url.rfind(plain, 0) == 0) config.url.replace(0, plain.size(), "wss://localhost");
    config.tls_context = tls_;  // one context for all, as the gateway does
  }
  auto root = base::FromHex(wasim_.root_key_hex);
  if (root && root->size() == config.trust_root.size()) {
    std::copy(root->begin(), root->end(), config.trust_root.begin());
  }
  config.push_name = "bench";
  // Under a burst of thousands of handshakes on one core the defaults (20 s) are tight.
  config.timeouts.connect = 60s;
  return config;
}

client::EventSink Bench::Sink(Session* s) {
  return [s, ex = driver_.get_executor()](const client::Event& e) {
    auto at = Clock::now();
    asio::post(ex, [s, e, at] { OnEvent(*s, e, at); });
  };
}

asio::awaitable<json::value> Bench::Stats() {
  std::string target = "/v1/stats";
  auto r = co_await control_.Call(http::verb::get, std::move(target));
  co_return r.status == 200 ? r.Json() : json::value();
}

asio::awaitable<void> Bench::StopAll(int concurrency) {
  co_await ForEach("stop", sessions_.size(), concurrency,
                   [this](std::size_t i) -> asio::awaitable<void> {
                     auto& s = *sessions_[i];
                     if (s.client) {
                       co_await s.client->Stop();
                       s.client.reset();
                     }
                   });
}

asio::awaitable<json::object> Bench::Send() {
  const std::size_t n = sessions_.size();
  const std::size_t pool = options_.recipients > 0 ? static_cast<std::size_t>(options_.recipients) : n;
  const int k = options_.messages;
  std::vector<std::unordered_set<std::string>> acked_ids(pool);  // per recipient
  std::map<std::string, int> errors;
  auto stats0 = co_await Stats();
  // Inbox entries are stamped by wasim's clock; a second of slack for a clock read earlier there.
  const auto since_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count() -
                        1000;

  // One round: messages [first, last) of every connected session, one at a time per session.
  auto round = [&](const char* what, int first, int last) -> asio::awaitable<json::object> {
    std::vector<double> ms;
    std::size_t attempted = 0;
    auto self0 = Self();
    auto wasim0 = Wasim();
    auto t0 = Clock::now();
    std::function<asio::awaitable<void>(std::size_t)> send_one =
        [&](std::size_t i) -> asio::awaitable<void> {
      auto& s = *sessions_[i];
      if (s.failed || !s.up() || !s.client) co_return;
      std::size_t r = i % pool;
      for (int m = first; m < last; ++m) {
        client::SendTextRequest request;
        request.to = RecipientPhone(options_.recipient_prefix, i, pool);
        request.text = "bench message " + std::to_string(m + 1) + " of " + std::to_string(k) +
                       " from session " + std::to_string(i);
        ++attempted;
        auto start = Clock::now();
        auto sent = co_await s.client->SendText(std::move(request));
        if (!sent) {
          ++errors[sent.error().message()];
          continue;
        }
        ms.push_back(Ms(Clock::now() - start));
        acked_ids[r].insert(sent->id);
      }
    };
    co_await ForEach(what, n, options_.send_concurrency, send_one);
    double seconds = Seconds(Clock::now() - t0);
    auto self1 = Self();
    auto wasim1 = Wasim();
    json::object o{{"attempted", attempted},
                   {"acked", ms.size()},
                   {"seconds", seconds},
                   {"per_second", ms.size() / std::max(seconds, 1e-9)},
                   {"latency_ms", DistJson(ms)}};
    if (self0 && self1) {
      double cpu = self1->cpu_seconds - self0->cpu_seconds;
      o["cpu_seconds"] = std::round(cpu * 100) / 100;
      if (!ms.empty()) o["cpu_ms_per_send"] = std::round(cpu * 1000 / ms.size() * 1000) / 1000;
      if (cpu > 0) o["sends_per_cpu_second"] = std::round(ms.size() / cpu * 10) / 10;
      o["self_cpu_percent"] = CpuPercent(*self0, *self1, seconds);
    }
    if (wasim0 && wasim1) {
      o["wasim_cpu_seconds"] = std::round((wasim1->cpu_seconds - wasim0->cpu_seconds) * 100) / 100;
    }
    co_return o;
  };

  std::fprintf(stderr, "send: %d messages per session to %zu recipients, %d sessions at a time\n",
               k, pool, options_.send_concurrency);
  json::object out{{"messages_per_session", k},
                   {"recipients", pool},
                   {"concurrency", options_.send_concurrency}};
  out["first"] = co_await round("send first", 0, 1);
  if (k > 1) out["rest"] = co_await round("send rest", 1, k);
  {
    auto& f = out["first"].as_object();
    double acked = f["acked"].to_number<double>(), seconds = f["seconds"].to_number<double>();
    double cpu = f.contains("cpu_seconds") ? f["cpu_seconds"].to_number<double>() : 0;
    if (out.contains("rest")) {
      auto& r = out["rest"].as_object();
      acked += r["acked"].to_number<double>();
      seconds += r["seconds"].to_number<double>();
      cpu += r.contains("cpu_seconds") ? r["cpu_seconds"].to_number<double>() : 0;
    }
    out["all"] = {{"acked", acked},
                  {"seconds", seconds},
                  {"per_second", acked / std::max(seconds, 1e-9)},
                  {"cpu_seconds", cpu},
                  {"sends_per_cpu_second", cpu > 0 ? acked / cpu : 0.0}};
  }
  json::object errs;
  for (auto& [e, c] : errors) errs[e] = c;
  out["errors"] = std::move(errs);

  // Delivery: every acked id must show up, decrypted, in its recipient's inbox.
  std::size_t expected = 0;
  for (auto& ids : acked_ids) expected += ids.size();
  std::vector<std::optional<InboxCount>> counted(pool);
  std::size_t delivered = 0, foreign = 0;
  std::map<std::string, std::size_t> by_enc;
  auto verify_start = Clock::now();
  auto verify_deadline = verify_start + 60s;
  for (;;) {
    delivered = foreign = 0;
    by_enc.clear();
    for (std::size_t r = 0; r < pool; ++r) {
      if (acked_ids[r].empty()) continue;
      if (!counted[r] || counted[r]->matched < acked_ids[r].size()) {
        std::string target = "/v1/phones/" + RecipientPhone(options_.recipient_prefix, r, 0) +
                             "/messages?since=" + std::to_string(since_ms);
        auto answer = co_await control_.Call(http::verb::get, std::move(target));
        if (answer.status == 200) counted[r] = CountInbox(answer.Json(), acked_ids[r]);
      }
      if (!counted[r]) continue;
      delivered += counted[r]->matched;
      foreign += counted[r]->other;
      for (auto& [enc, c] : counted[r]->by_enc) by_enc[enc] += c;
    }
    if (delivered >= expected || Clock::now() >= verify_deadline) break;
    co_await Sleep(500ms);
  }
  json::object enc;
  for (auto& [e, c] : by_enc) enc[e] = c;
  out["delivery"] = {{"expected", expected},
                     {"delivered", delivered},
                     {"other_messages_in_inboxes", foreign},
                     {"by_enc", std::move(enc)},
                     {"seconds", Seconds(Clock::now() - verify_start)}};
  auto stats1 = co_await Stats();
  if (stats0.is_object() && stats1.is_object()) {
    json::object delta;
    auto diff = [&](const json::object& a, const json::object& b, const std::string& key,
                    const std::string& name) {
      auto* x = a.if_contains(key);
      auto* y = b.if_contains(key);
      if (x && y && x->is_number() && y->is_number()) {
        delta[name] = y->to_number<double>() - x->to_number<double>();
      }
    };
    const auto& a = stats0.as_object();
    const auto& b = stats1.as_object();
    for (const char* key : {"messages_routed", "receipts_routed", "bundles_served",
                            "usync_device_queries", "phone_decrypt_failures", "retry_receipts",
                            "undeliverable"}) {
      diff(a, b, key, key);
    }
    if (a.contains("enc") && b.contains("enc") && a.at("enc").is_object() &&
        b.at("enc").is_object()) {
      for (const char* key : {"pkmsg", "msg"}) {
        diff(a.at("enc").as_object(), b.at("enc").as_object(), key, std::string("enc_") + key);
      }
    }
    out["wasim_counters"] = std::move(delta);
  }
  co_return out;
}

asio::awaitable<int> Bench::Run() {
  const auto n = static_cast<std::size_t>(options_.sessions);
  json::object out;
  out["tool"] = "wa_sessions_bench";
  out["sessions"] = n;
  out["transport"] = options_.transport;
  out["concurrency"] = options_.concurrency;
  out["client_threads"] = options_.client_threads;
  out["idle_seconds"] = options_.idle_seconds;
  out["store"] = options_.store;
  out["messages_per_session"] = options_.messages;
  out["cores"] = std::thread::hardware_concurrency();
  out["load_average_start"] = LoadAverage();
  json::object phases, self_mem, wasim_mem;

  if (options_.transport == "wss") {
    auto tls = client::MakeTlsContext(wasim_.cert_path);
    if (!tls) {
      std::fprintf(stderr, "cannot load %s: %s\n", wasim_.cert_path.c_str(),
                   tls.error().message().c_str());
      co_return 1;
    }
    tls_ = *tls;
  }
  if (options_.store == "sqlite" && !OpenDatabase()) co_return 1;
  auto stats0 = co_await Stats();
  if (!stats0.is_object()) {
    std::fprintf(stderr, "wasim's control API does not answer at %s\n",
                 wasim_.control_url.c_str());
    co_return 1;
  }
  malloc_trim(0);
  auto self_start = Self();
  auto heap_start = mallinfo2().uordblks;
  auto wasim_start = Wasim();
  self_mem["start"] = WithHeap(SampleJson(self_start));
  wasim_mem["start"] = SampleJson(wasim_start);

  // phones
  sessions_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto s = std::make_unique<Session>();
    s->index = i;
    char digits[16];
    std::snprintf(digits, sizeof digits, "%07zu", i);
    s->phone = options_.phone_prefix + digits;
    s->wake = std::make_unique<asio::steady_timer>(driver_);
    sessions_.push_back(std::move(s));
  }
  std::fprintf(stderr, "phones: creating %zu\n", n);
  auto t0 = Clock::now();
  co_await ForEach("phones", n, options_.concurrency, [this](std::size_t i) -> asio::awaitable<void> {
    auto& s = *sessions_[i];
    json::object body{{"phone", s.phone}, {"name", "Bench " + std::to_string(i)}};
    std::string target = "/v1/phones";
    auto r = co_await control_.Call(http::verb::post, std::move(target), json::serialize(body));
    // 409: left by an earlier run against the same wasim; scanning links one more device.
    if (r.status != 201 && r.status != 409) Fail(s, "create_phone_" + std::to_string(r.status));
  });
  double phones_s = Seconds(Clock::now() - t0);
  phases["phones"] = {{"seconds", phones_s}, {"per_second", n / std::max(phones_s, 1e-9)}};
  if (options_.messages > 0) {
    std::size_t pool = options_.recipients > 0 ? static_cast<std::size_t>(options_.recipients) : n;
    int recipient_errors = 0;
    std::function<asio::awaitable<void>(std::size_t)> create =
        [&](std::size_t i) -> asio::awaitable<void> {
      json::object body{{"phone", RecipientPhone(options_.recipient_prefix, i, 0)},
                        {"name", "Recipient " + std::to_string(i)}};
      std::string target = "/v1/phones";
      auto r = co_await control_.Call(http::verb::post, std::move(target), json::serialize(body));
      if (r.status != 201 && r.status != 409) ++recipient_errors;
    };
    co_await ForEach("recipients", pool, options_.concurrency, create);
    if (recipient_errors > 0) {
      std::fprintf(stderr, "%d recipient phones could not be created\n", recipient_errors);
      co_return 1;
    }
  }
  wasim_mem["phones"] = SampleJson(Wasim());

  // link
  std::fprintf(stderr, "link: %zu sessions, %d at a time\n", n, options_.concurrency);
  std::vector<double> link_ms, scan_ms, pair_login_ms;
  std::map<std::string, int> scan_no_answer;
  t0 = Clock::now();
  co_await ForEach("link", n, options_.concurrency, [&](std::size_t i) -> asio::awaitable<void> {
    auto& s = *sessions_[i];
    if (s.failed) co_return;
    if (!co_await NewState(s)) co_return;
    s.ResetRun();
    s.client = std::make_unique<client::Client>(clients_.get_executor(), MakeConfig(), *s.state,
                                                Sink(&s));
    s.started = Clock::now();
    s.client->Start();
    auto deadline = Deadline();
    if (!co_await WaitFor(s, [&] { return s.qr || s.ended; }, deadline) || !s.qr) {
      Fail(s, "no_qr");
      co_return;
    }
    auto scan_start = Clock::now();
    // (Built outside the co_await: g++ 12 rejects string literals in a co_await expression.)
    std::string target = "/v1/phones/" + s.phone + "/scan";
    std::string scan_body = json::serialize(json::object{{"qr", *s.qr}});
    auto r = co_await control_.Call(http::verb::post, std::move(target), std::move(scan_body));
    if (r.status == 0) {
      // No answer is not proof that the scan failed: if it went through, the client connects.
      ++scan_no_answer[r.error];
    } else if (r.status != 200) {
      Fail(s, "scan_" + std::to_string(r.status));
      co_return;
    } else {
      scan_ms.push_back(Ms(Clock::now() - scan_start));
    }
    if (!co_await WaitFor(s, [&] { return s.connected > 0 || s.ended; }, deadline) ||
        !s.connected_at) {
      Fail(s, "link_not_connected");
      co_return;
    }
    link_ms.push_back(Ms(*s.connected_at - *s.started));
    if (s.paired_at) pair_login_ms.push_back(Ms(*s.connected_at - *s.paired_at));
  });
  double link_s = Seconds(Clock::now() - t0);
  std::size_t linked = Up();
  phases["link"] = {{"seconds", link_s},
                    {"linked", linked},
                    {"per_second", linked / std::max(link_s, 1e-9)},
                    {"link_ms", DistJson(link_ms)},
                    {"scan_ms", DistJson(scan_ms)},
                    {"login_after_pair_ms", DistJson(pair_login_ms)}};
  if (!scan_no_answer.empty()) {
    json::object o;
    for (auto& [k, v] : scan_no_answer) o[k] = v;
    phases["link"].as_object()["scan_no_answer"] = std::move(o);
  }
  self_mem["linked"] = WithHeap(SampleJson(Self()));
  wasim_mem["linked"] = SampleJson(Wasim());

  // stop
  std::fprintf(stderr, "stop: %zu clients\n", n);
  t0 = Clock::now();
  co_await StopAll(options_.concurrency);
  phases["stop"] = {{"seconds", Seconds(Clock::now() - t0)}};
  malloc_trim(0);
  auto self_stopped = Self();
  auto heap_stopped = mallinfo2().uordblks;
  self_mem["stopped"] = WithHeap(SampleJson(self_stopped));
  if (states_) out["store_cache_stopped"] = CacheJson();

  // login: a full reconnect with stored credentials
  std::fprintf(stderr, "login: %zu sessions, %d at a time\n", linked, options_.concurrency);
  std::vector<double> login_ms;
  int unexpected_qr = 0;
  t0 = Clock::now();
  co_await ForEach("login", n, options_.concurrency, [&](std::size_t i) -> asio::awaitable<void> {
    auto& s = *sessions_[i];
    if (s.failed) co_return;
    s.ResetRun();
    s.client = std::make_unique<client::Client>(clients_.get_executor(), MakeConfig(), *s.state,
                                                Sink(&s));
    s.started = Clock::now();
    s.client->Start();
    if (!co_await WaitFor(s, [&] { return s.connected > 0 || s.ended; }, Deadline()) ||
        !s.connected_at) {
      Fail(s, "login_not_connected");
      co_return;
    }
    if (s.qrs > 0) ++unexpected_qr;
    login_ms.push_back(Ms(*s.connected_at - *s.started));
  });
  double login_s = Seconds(Clock::now() - t0);
  co_await Sleep(2s);  // let post-login traffic settle before reading memory
  std::size_t up = Up();
  phases["login"] = {{"seconds", login_s},
                     {"connected", up},
                     {"per_second", up / std::max(login_s, 1e-9)},
                     {"showed_qr", unexpected_qr},
                     {"login_ms", DistJson(login_ms)}};
  auto self_connected = Self();
  auto heap_connected = mallinfo2().uordblks;
  self_mem["connected"] = WithHeap(SampleJson(self_connected));
  auto wasim_connected = Wasim();
  wasim_mem["connected"] = SampleJson(wasim_connected);

  if (options_.messages > 0) {
    phases["send"] = co_await Send();
    malloc_trim(0);
    self_mem["sent"] = WithHeap(SampleJson(Self()));
    wasim_mem["sent"] = SampleJson(Wasim());
  }

  // idle
  std::fprintf(stderr, "idle: %.0f s with %zu connected\n", options_.idle_seconds, up);
  int disconnects_before = 0;
  for (auto& s : sessions_) disconnects_before += s->disconnects;
  auto idle_start = Clock::now();
  auto self_idle0 = Self();
  auto wasim_idle0 = Wasim();
  json::array samples;
  double elapsed = 0;
  while (elapsed < options_.idle_seconds) {
    double step = std::min(options_.sample_every, options_.idle_seconds - elapsed);
    co_await Sleep(std::chrono::duration<double>(step));
    elapsed = Seconds(Clock::now() - idle_start);
    json::object sample{{"t", std::round(elapsed * 10) / 10}};
    if (auto s = Self()) sample["self_rss_kb"] = s->rss_kb;
    if (auto w = Wasim()) sample["wasim_rss_kb"] = w->rss_kb;
    samples.push_back(std::move(sample));
  }
  double idle_s = Seconds(Clock::now() - idle_start);
  auto self_idle1 = Self();
  auto heap_idle_end = mallinfo2().uordblks;
  auto wasim_idle1 = Wasim();
  int disconnects_after = 0;
  for (auto& s : sessions_) disconnects_after += s->disconnects;
  auto stats_idle = co_await Stats();
  json::object idle{{"seconds", idle_s},
                    {"connected_at_end", Up()},
                    {"disconnects", disconnects_after - disconnects_before},
                    {"samples", std::move(samples)}};
  if (self_idle0 && self_idle1) idle["self_cpu_percent"] = CpuPercent(*self_idle0, *self_idle1, idle_s);
  if (wasim_idle0 && wasim_idle1) {
    idle["wasim_cpu_percent"] = CpuPercent(*wasim_idle0, *wasim_idle1, idle_s);
  }
  if (stats_idle.is_object()) {
    auto& o = stats_idle.as_object();
    for (const char* k : {"connections", "logins", "pairings", "idle_closed", "frames_in", "frames_out"}) {
      if (o.contains(k)) idle["wasim_" + std::string(k)] = o.at(k);
    }
  }
  idle["load_average_end"] = LoadAverage();
  phases["idle"] = std::move(idle);
  self_mem["idle_end"] = WithHeap(SampleJson(self_idle1));
  wasim_mem["idle_end"] = SampleJson(wasim_idle1);

  // Per-session figures.
  auto per = [](std::int64_t from, std::int64_t to, std::size_t count) {
    return count ? std::round(static_cast<double>(to - from) / static_cast<double>(count) * 10) / 10
                 : 0.0;
  };
  json::object per_session;
  if (self_start && self_idle1) {
    per_session["self_total_kb"] = per(self_start->rss_kb, self_idle1->rss_kb, up);
  }
  if (self_stopped && self_connected) {
    per_session["self_connection_kb"] = per(self_stopped->rss_kb, self_connected->rss_kb, up);
    per_session["self_stores_kb"] = self_start ? per(self_start->rss_kb, self_stopped->rss_kb, up) : 0.0;
  }
  per_session["self_connection_heap_kb"] =
      per(static_cast<std::int64_t>(heap_stopped / 1024), static_cast<std::int64_t>(heap_connected / 1024), up);
  per_session["self_stores_heap_kb"] =
      per(static_cast<std::int64_t>(heap_start / 1024), static_cast<std::int64_t>(heap_stopped / 1024), up);
  per_session["self_total_heap_kb"] =
      per(static_cast<std::int64_t>(heap_start / 1024), static_cast<std::int64_t>(heap_idle_end / 1024), up);
  if (wasim_start && wasim_idle1) {
    per_session["wasim_kb"] = per(wasim_start->rss_kb, wasim_idle1->rss_kb, up);
  }
  out["phases"] = std::move(phases);
  out["memory"] = {{"self", std::move(self_mem)}, {"wasim", std::move(wasim_mem)},
                   {"per_session", std::move(per_session)}};
  json::object fails;
  for (auto& [k, v] : failures_) fails[k] = v;
  out["failures"] = std::move(fails);

  // shutdown
  std::fprintf(stderr, "shutdown: stopping %zu clients\n", n);
  t0 = Clock::now();
  co_await StopAll(options_.concurrency);
  out["shutdown_seconds"] = Seconds(Clock::now() - t0);
  if (states_) out["store_cache_end"] = CacheJson();

  std::string text = json::serialize(out);
  if (!options_.json_path.empty()) {
    std::ofstream f(options_.json_path);
    f << text << "\n";
  }
  std::printf("%s\n", text.c_str());
  co_return (up == n && disconnects_after == disconnects_before) ? 0 : 3;
}

int Main(int argc, char** argv) {
  CLI::App app{"wa_sessions_bench: N wa::Clients linked to one wasim; memory, login times, CPU"};
  Options o;
  app.add_option("--wasim", o.wasim_binary, "wasim binary to start (else --control and --chat-url)");
  app.add_option("--control", o.control_url, "control API of a running wasim, http://127.0.0.1:PORT");
  app.add_option("--chat-url", o.chat_url, "its chat endpoint, ws://127.0.0.1:PORT/ws/chat");
  app.add_option("--ca-file", o.ca_file, "its tls-cert.pem (for wss)");
  app.add_option("--wasim-pid", o.wasim_pid, "its pid, for its RSS and CPU");
  app.add_option("--sessions", o.sessions, "number of sessions")->check(CLI::Range(1, 1000000))->capture_default_str();
  app.add_option("--transport", o.transport, "ws or wss")->check(CLI::IsMember({"ws", "wss"}))->capture_default_str();
  app.add_option("--idle-seconds", o.idle_seconds, "idle window")->check(CLI::Range(0.0, 86400.0))->capture_default_str();
  app.add_option("--sample-seconds", o.sample_every, "RSS sample period in the idle window")->check(CLI::Range(0.1, 3600.0))->capture_default_str();
  app.add_option("--concurrency", o.concurrency, "sessions linking or logging in at once")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--client-threads", o.client_threads, "io_context threads for the clients")->check(CLI::Range(1, 64))->capture_default_str();
  app.add_option("--phone-prefix", o.phone_prefix, "phone numbers are this + 7 digits")->capture_default_str();
  app.add_option("--step-timeout", o.step_timeout, "seconds a session may take per phase")->capture_default_str();
  app.add_option("--store", o.store, "the sessions' state: memory, or sqlite (the gateway's store)")
      ->check(CLI::IsMember({"memory", "sqlite"}))
      ->capture_default_str();
  app.add_option("--store-dir", o.store_dir, "sqlite: the database's folder (default: a temporary one)");
  app.add_option("--store-threads", o.store_threads, "sqlite: the store's pool threads")->check(CLI::Range(1, 64))->capture_default_str();
  app.add_option("--messages", o.messages, "texts each session sends (0: no send phase)")->check(CLI::Range(0, 100000))->capture_default_str();
  app.add_option("--recipients", o.recipients, "recipient phones the sessions share (0: one per session)")->check(CLI::Range(0, 1000000))->capture_default_str();
  app.add_option("--recipient-prefix", o.recipient_prefix, "recipient numbers are this + 7 digits")->capture_default_str();
  app.add_option("--send-concurrency", o.send_concurrency, "sessions sending at once")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--json", o.json_path, "write the results here too");
  app.add_option("--log-level", o.log_level, "the clients' log level (trace ... off)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  base::InitLogging(o.log_level, base::LogFormat::kText);

  for (const std::string* prefix : {&o.phone_prefix, &o.recipient_prefix}) {
    if (prefix->empty() || prefix->size() > 8 || (*prefix)[0] == '0' ||
        prefix->find_first_not_of("0123456789") != std::string::npos) {
      std::fprintf(stderr, "--phone-prefix, --recipient-prefix: 1-8 digits, no leading 0\n");
      return 2;
    }
  }
  if (o.messages > 0 && o.recipient_prefix == o.phone_prefix) {
    std::fprintf(stderr, "--recipient-prefix must differ from --phone-prefix\n");
    return 2;
  }
  // Each session holds a socket here and one in wasim (which inherits this limit).
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 &&
      nofile.rlim_cur < static_cast<rlim_t>(o.sessions) + 256) {
    std::fprintf(stderr, "warning: file-descriptor limit %llu is below sessions + 256\n",
                 static_cast<unsigned long long>(nofile.rlim_cur));
  }

  std::unique_ptr<WasimProcess> owned;
  WasimEndpoints wasim;
  if (!o.wasim_binary.empty()) {
    std::string error;
    owned = WasimProcess::Start(o.wasim_binary, {}, &error);
    if (!owned) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return 1;
    }
    wasim = owned->endpoints();
  } else if (!o.control_url.empty() && !o.chat_url.empty()) {
    wasim.control_url = o.control_url;
    wasim.chat_url = o.chat_url;
    wasim.cert_path = o.ca_file;
    wasim.pid = o.wasim_pid;
  } else {
    std::fprintf(stderr, "give --wasim, or --control and --chat-url\n");
    return 2;
  }
  std::fprintf(stderr, "wasim: chat %s, control %s, pid %d\n", wasim.chat_url.c_str(),
               wasim.control_url.c_str(), static_cast<int>(wasim.pid));

  asio::io_context driver;
  if (wasim.root_key_hex.empty()) {
    ControlClient c(driver.get_executor(), wasim.control_url);
    asio::co_spawn(driver, c.Call(http::verb::get, "/v1/root-key"),
                   [&](std::exception_ptr, HttpResult r) {
                     auto v = r.Json();
                     if (v.is_object() && v.as_object().contains("public_key_hex")) {
                       wasim.root_key_hex = std::string(v.at("public_key_hex").as_string());
                     }
                   });
    driver.run();
    driver.restart();
    if (wasim.root_key_hex.empty()) {
      std::fprintf(stderr, "no root key from %s/v1/root-key\n", wasim.control_url.c_str());
      return 1;
    }
  }

  asio::io_context clients;
  auto guard = asio::make_work_guard(clients);
  std::vector<std::thread> threads;
  for (int i = 0; i < o.client_threads; ++i) threads.emplace_back([&clients] { clients.run(); });

  int rc = 1;
  {
    Bench bench(o, driver, clients, wasim);
    asio::co_spawn(driver, bench.Run(), [&](std::exception_ptr e, int r) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          std::fprintf(stderr, "benchmark failed: %s\n", ex.what());
        }
        rc = 1;
      } else {
        rc = r;
      }
    });
    driver.run();
    guard.reset();
    for (auto& t : threads) t.join();
  }
  return rc;
}

}  // namespace
}  // namespace wa::bench

int main(int argc, char** argv) { return wa::bench::Main(argc, argv); }
