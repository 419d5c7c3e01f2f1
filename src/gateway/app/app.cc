#include "gateway/app/app.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/http/problem.h"
#include "base/http/server.h"
#include "gateway/accounts/service.h"
#include "gateway/api/account_routes.h"
#include "gateway/api/event_routes.h"
#include "gateway/api/message_routes.h"
#include "gateway/api/openapi.h"
#include "gateway/app/wasim_child.h"
#include "gateway/api/session_routes.h"
#include "gateway/api/webhook_routes.h"
#include "gateway/events/bus.h"
#include "gateway/notify/mailer.h"
#include "gateway/notify/notifier.h"
#include "gateway/sessions/manager.h"
#include "gateway/store/sqlite/session_state.h"
#include "gateway/store/sqlite/session_store.h"
#include "gateway/store/sqlite/account_store.h"
#include "gateway/store/sqlite/email_store.h"
#include "gateway/store/sqlite/event_store.h"
#include "gateway/store/sqlite/message_store.h"
#include "gateway/store/sqlite/sqlite_store.h"
#include "gateway/store/sqlite/webhook_store.h"
#include "gateway/webhooks/service.h"
#include "wa/crypto/crypto.h"

namespace gateway::app {

namespace asio = boost::asio;
namespace http = base::http;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

void Fail(const std::string& line) {
  std::fprintf(stderr, "wagate: %s\n", line.c_str());
  std::fflush(stderr);
}

// Creates the data dir if missing and proves it writable; nullopt on success, else the reason.
std::optional<std::string> PrepareDataDir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return "cannot create data dir '" + dir.string() + "': " + ec.message();
  if (!std::filesystem::is_directory(dir, ec)) return "data dir '" + dir.string() + "' is not a directory";
  auto probe = dir / (".write-probe-" + std::to_string(::getpid()));
  {
    std::ofstream f(probe);
    if (!f || !(f << "ok") || !f.flush()) {
      return "data dir '" + dir.string() + "' is not writable: " + std::strerror(errno);
    }
  }
  std::filesystem::remove(probe, ec);
  return std::nullopt;
}

// The master key encrypts secrets at rest. Given in configuration, or kept in
// <data_dir>/master.key (0600), created on first start.
std::optional<std::string> LoadMasterKey(const config::Config& config, base::Bytes* key) {
  if (!config.master_key_hex.empty()) {
    *key = *base::FromHex(config.master_key_hex);
    return std::nullopt;
  }
  auto path = config.data_dir / "master.key";
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    std::ifstream f(path);
    std::string hex;
    f >> hex;
    auto bytes = base::FromHex(hex);
    if (!f.good() && !f.eof()) return "cannot read " + path.string();
    if (!bytes || bytes->size() != 32) {
      return path.string() + " is damaged: expected 64 hex digits";
    }
    *key = std::move(*bytes);
    return std::nullopt;
  }
  *key = wa::crypto::RandomBytes(32);
  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!(f << base::ToHex(*key) << "\n") || !f.flush()) return "cannot write " + tmp.string();
  }
  ::chmod(tmp.c_str(), 0600);
  std::filesystem::rename(tmp, path, ec);
  if (ec) return "cannot create " + path.string() + ": " + ec.message();
  return std::nullopt;
}

std::string MasterKeyCheck(const base::Bytes& key) {
  auto mac = wa::crypto::HmacSha256(key, base::AsBytes("wagate master key check v1"));
  return base::ToHex(mac);
}

// Opens the database and applies pending migrations.
std::unique_ptr<store::sqlite::SqliteStore> OpenStore(const config::Config& config,
                                                      std::vector<int>* applied_out = nullptr) {
  std::string err;
  auto opened = store::sqlite::SqliteStore::Open(
      {.path = config.SqlitePath(), .threads = config.store_threads}, &err);
  if (!opened) {
    Fail(err);
    return nullptr;
  }
  auto applied = (*opened)->Migrate(&err);
  if (!applied) {
    Fail(err);
    return nullptr;
  }
  if (applied_out) *applied_out = *applied;
  return std::move(*opened);
}

sessions::ManagerOptions ManagerOptionsFrom(const config::Config& config) {
  sessions::ManagerOptions o;
  o.whatsapp = {config.whatsapp_url, config.whatsapp_root_key_hex, ""};
  if (!config.sandbox_chat_url.empty()) {
    o.sandbox = sessions::Endpoint{config.sandbox_chat_url, config.sandbox_root_key_hex,
                                   config.sandbox_ca_file};
  }
  o.sandbox_default = config.sandbox_default;
  o.history_sync = wa::client::ParseHistorySyncMode(config.history_sync).value_or(wa::client::HistorySyncMode::kOff);
  o.history_slots = std::make_shared<wa::client::HistorySlots>(config.history_downloads);
  return o;
}

outbox::Options OutboxOptionsFrom(const config::Config& config) {
  outbox::Options o;
  o.logged_out_grace = std::chrono::milliseconds(config.outbox_logged_out_grace_ms);
  o.retention = std::chrono::hours(24 * config.messages_retention_days);
  o.lookup_burst = config.lookups_per_hour;
  o.sweep_every = std::chrono::milliseconds(config.outbox_sweep_ms);
  return o;
}

}  // namespace

webhooks::ServiceOptions WebhookOptionsFrom(const config::Config& config) {
  webhooks::ServiceOptions o;
  o.timeout = std::chrono::milliseconds(config.webhooks_timeout_ms);
  o.retry.first_delay = std::chrono::milliseconds(config.webhooks_retry_first_delay_ms);
  o.retry.max_delay = std::chrono::milliseconds(config.webhooks_retry_max_delay_ms);
  o.retry.window = std::chrono::milliseconds(config.webhooks_retry_window_ms);
  o.disable_after = std::chrono::milliseconds(config.webhooks_disable_after_ms);
  o.per_endpoint_concurrency = config.webhooks_concurrency;
  o.poll_interval = std::chrono::milliseconds(config.webhooks_poll_interval_ms);
  o.ca_file = config.webhooks_ca_file;
  std::string err;
  // The configuration layer has validated the syntax already.
  if (auto allow = webhooks::Allowlist::Parse(config.webhooks_allow_private, &err)) o.allow = std::move(*allow);
  // The sandbox (serve --sandbox) is for trying things on one machine: loopback receivers.
  if (config.sandbox_default) {
    o.allow.AddCidr(asio::ip::make_address("127.0.0.0"), 8);
    o.allow.AddCidr(asio::ip::make_address("::1"), 128);
  }
  return o;
}

notify::SmtpOptions SmtpOptionsFrom(const config::Config& config) {
  notify::SmtpOptions o;
  o.url = config.email_smtp_url;
  o.username = config.email_username;
  o.password = config.email_password;
  o.starttls = config.email_starttls;
  o.ca_file = config.email_ca_file;
  o.timeout = std::chrono::milliseconds(config.email_timeout_ms);
  o.connect_timeout = std::min(o.timeout, std::chrono::milliseconds(10000));
  return o;
}

notify::NotifierOptions NotifierOptionsFrom(const config::Config& config) {
  notify::NotifierOptions o;
  // The configuration layer has checked the form.
  notify::ParseAddress(config.email_from, &o.from);
  o.public_url = config.email_public_url;
  o.disconnected_after = std::chrono::minutes(config.email_disconnected_after_minutes);
  o.retry_first = std::chrono::milliseconds(config.email_retry_first_delay_ms);
  o.retry_max = std::max(o.retry_first, std::chrono::milliseconds(std::chrono::hours(1)));
  return o;
}

http::Router MakeRouter(store::Store& store, accounts::AccountService& accounts,
                        sessions::SessionManager& sessions, outbox::Outbox& outbox,
                        webhooks::Service& hooks,
                        const config::Config& config, store::EventStore& event_log,
                        events::Bus& bus, base::metrics::Registry& metrics) {
  http::Router router;
  api::AddAccountRoutes(router, accounts, {.operator_token = config.operator_token});
  api::AddSessionRoutes(router, accounts, sessions, hooks);
  api::AddMessageRoutes(router, accounts, sessions, outbox);
  api::AddWebhookRoutes(router, accounts, hooks);
  api::StreamOptions streams;
  streams.push.heartbeat = std::chrono::milliseconds(config.stream_heartbeat_ms);
  api::AddEventRoutes(router, accounts, sessions, event_log, bus, streams);
  api::AddMetricsRoute(router, metrics, {.enabled = config.metrics_enabled, .token = config.metrics_token});
  api::AddOpenApiRoute(router);
  router.Add(bhttp::verb::get, "/healthz", [](http::Context& ctx) -> asio::awaitable<http::Response> {
    co_return http::Json(ctx.request, bhttp::status::ok, R"({"status":"ok"})");
  });
  router.Add(bhttp::verb::get, "/readyz",
             [&store](http::Context& ctx) -> asio::awaitable<http::Response> {
               if (ctx.draining) {
                 co_return http::Problem(ctx.request, bhttp::status::service_unavailable,
                                         "shutting_down", "the server is draining for shutdown");
               }
               auto health = co_await store.Check();
               if (!health) {
                 co_return http::Problem(ctx.request, bhttp::status::service_unavailable,
                                         "store_unavailable",
                                         "the store did not answer: " + health.error().message());
               }
               if (!health->migrations.UpToDate()) {
                 co_return http::Problem(
                     ctx.request, bhttp::status::service_unavailable, "migrations_pending",
                     "schema version " + std::to_string(health->migrations.current) + " of " +
                         std::to_string(health->migrations.latest));
               }
               boost::json::object body{
                   {"status", "ready"},
                   {"store",
                    {{"driver", health->driver},
                     {"schema_version", health->migrations.current},
                     {"instance_id", health->instance_id}}}};
               co_return http::Json(ctx.request, bhttp::status::ok, boost::json::serialize(body));
             });
  return router;
}

namespace {

}  // namespace

int Serve(const config::Config& config) {
  base::InitLogging(config.log_level, config.log_format);
  int threads = config.threads > 0 ? config.threads
                                   : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  asio::io_context ioc(threads);

  boost::system::error_code ec;
  auto address = asio::ip::make_address(config.listen_host, ec);
  tcp::endpoint at(address, config.listen_port);

  // Bind first, so that a busy port fails before anything is written to disk.
  auto acceptor = http::Bind(ioc, at);
  if (!acceptor) {
    Fail("cannot listen on " + at.address().to_string() + ":" + std::to_string(at.port()) + ": " +
         acceptor.error().message());
    return 1;
  }
  auto bound = acceptor->local_endpoint();
  if (auto err = PrepareDataDir(config.data_dir)) {
    Fail(*err);
    return 1;
  }
  base::Bytes master_key;
  if (auto err = LoadMasterKey(config, &master_key)) {
    Fail(*err);
    return 1;
  }
  // The sandbox's own wasim, started before any thread exists (fork) when no URL is given.
  std::optional<WasimChild> wasim;
  config::Config effective = config;
  if (!config.sandbox_wasim.empty() && config.sandbox_chat_url.empty()) {
    std::string err;
    wasim = WasimChild::Start(ResolveWasimBinary(config.sandbox_wasim), config.data_dir / "wasim",
                              std::chrono::seconds(15), &err);
    if (!wasim) {
      Fail("cannot start the sandbox's wasim: " + err);
      return 1;
    }
    const auto& e = wasim->endpoints();
    effective.sandbox_chat_url = e.chat_url;
    effective.sandbox_root_key_hex = e.root_key_hex;
    effective.sandbox_ca_file = e.cert_file;
    effective.sandbox_control_url = e.control_url;
  }
  auto store = OpenStore(config);
  if (!store) return 1;
  if (auto checked = store->VerifyMasterKeyCheck(MasterKeyCheck(master_key)); !checked) {
    Fail(checked.error() == store::Errc::kMasterKeyMismatch
             ? "the master key (security.master_key or " + (config.data_dir / "master.key").string() +
                   ") is not the one database " + config.SqlitePath().string() + " was created with"
             : "cannot record the master key check: " + checked.error().message());
    return 1;
  }
  store::sqlite::SqliteAccountStore account_rows(*store);
  // argon2id needs 64 MiB per hash: two at a time at most.
  base::BlockingPool hash_pool(2);
  accounts::AccountService accounts(account_rows, hash_pool, config);
  store::sqlite::SessionStates states(*store, master_key);
  store::sqlite::SqliteSessionStore session_rows(*store);
  store::sqlite::SqliteEventStore event_log(*store);
  store::sqlite::SqliteMessageStore message_rows(*store);
  // The message writer commits the session states' and webhook records' writes too; unset before
  // it is gone (scope exit runs in reverse order).
  store->SetGroupWriter(&message_rows);
  struct UnsetGroupWriter {
    store::sqlite::SqliteStore& store;
    ~UnsetGroupWriter() { store.SetGroupWriter(nullptr); }
  } unset_group_writer{*store};
  // Producers append to the event log, then publish here; webhook delivery only wakes on it.
  events::Bus bus;
  base::metrics::Registry metrics;
  auto process_metrics = base::metrics::AddProcessCollector(metrics);
  auto& events_total = metrics.Counter("wagate_events_total", "Events published, by type.");
  auto& messages_total = metrics.Counter("wagate_messages_total",
                                         "Message status changes (queued ... played, failed) and received messages.");
  int events_token = bus.Subscribe([&events_total, &messages_total](const store::EventRow& e) {
    events_total.Add({{"type", e.type}}).Increment();
    if (e.type == events::kMessageReceived) {
      messages_total.Add({{"status", "received"}}).Increment();
    } else if (e.type == events::kMessageStatus) {
      // The outbox writes this JSON itself (compact, "status" once at the top level): a search
      // is enough and keeps the bus listener cheap.
      auto at = e.data.find("\"status\":\"");
      if (at != std::string::npos) {
        at += 10;
        messages_total.Add({{"status", e.data.substr(at, e.data.find('"', at) - at)}}).Increment();
      }
    }
  });
  auto outbox_options = OutboxOptionsFrom(config);
  {
    // 0.25 ms steps to 5 ms (a p99 near the 5 ms target is readable), then coarser to a minute.
    std::vector<double> buckets;
    for (int i = 1; i <= 20; ++i) buckets.push_back(i / 4000.0);  // le="0.0045", not i * 0.00025
    for (double b : {0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0}) buckets.push_back(b);
    auto& dispatch = metrics.Histogram("wagate_outbox_dispatch_seconds",
                                       "From an accepted message's commit (its 202) to its stanza's frame written to the "
                                       "WhatsApp socket, pacing and queueing included.")
                         .Add({}, buckets);
    outbox_options.on_dispatched = [&dispatch](std::chrono::steady_clock::duration d) {
      dispatch.Observe(std::chrono::duration<double>(d).count());
    };
  }
  outbox::Outbox outbox(ioc, message_rows, session_rows, bus, std::move(outbox_options));
  auto manager_options = ManagerOptionsFrom(effective);
  manager_options.events = &event_log;
  manager_options.bus = &bus;
  manager_options.plugin = &outbox;
  sessions::SessionManager sessions(ioc, session_rows, states, std::move(manager_options));
  auto session_metrics = metrics.AddCollector(
      "wagate_sessions", "Running sessions by status.", base::metrics::Type::kGauge, [&sessions] {
        std::vector<base::metrics::Sample> out;
        for (const auto& [status, n] : sessions.CountByStatus()) {
          out.push_back({{{"status", status}}, static_cast<double>(n)});
        }
        return out;
      });
  auto queue_metrics = metrics.AddCollector(
      "wagate_outbox_queued", "Outgoing messages waiting (queued or sending), all sessions.",
      base::metrics::Type::kGauge, [&outbox] {
        return std::vector<base::metrics::Sample>{{{}, static_cast<double>(outbox.counters().queued)}};
      });
  auto queue_age_metrics = metrics.AddCollector(
      "wagate_outbox_oldest_queued_age_seconds", "Age of the oldest waiting outgoing message.",
      base::metrics::Type::kGauge, [&outbox] {
        auto c = outbox.counters();
        double age = 0;
        if (c.oldest_queued_ms > 0) {
          auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
          age = static_cast<double>(std::max<std::int64_t>(0, now - c.oldest_queued_ms)) / 1000.0;
        }
        return std::vector<base::metrics::Sample>{{{}, age}};
      });
  // Email alerts (disabled when email.smtp_url is empty). SMTP sends block: one pool thread.
  // Declared in this order so the pool is joined (a send in progress ends) before the mailer goes.
  store::sqlite::SqliteEmailStore email_rows(*store);
  std::unique_ptr<notify::Mailer> mailer;
  if (!config.email_smtp_url.empty()) mailer = std::make_unique<notify::Mailer>(SmtpOptionsFrom(config));
  base::BlockingPool smtp_pool(1);
  std::unique_ptr<notify::Notifier> notifier;
  if (mailer) {
    auto limit = [&config](const std::string& plan) -> std::int64_t {
      const auto* p = config.FindPlan(plan);
      return p ? p->messages_per_month : 0;
    };
    notifier = std::make_unique<notify::Notifier>(ioc, email_rows, account_rows, session_rows, message_rows,
                                                  *mailer, smtp_pool, limit, NotifierOptionsFrom(config));
  }
  int notify_token = notifier ? bus.Subscribe([n = notifier.get()](const store::EventRow& e) { n->OnEvent(e); }) : 0;
  store::sqlite::SqliteWebhookStore webhook_rows(*store, master_key);
  auto webhook_options = WebhookOptionsFrom(config);
  if (notifier) {
    webhook_options.on_disabled = [n = notifier.get()](const store::WebhookEndpointRow& e) { n->OnEndpointDisabled(e); };
  }
  // The fan-out also runs in the message store's group commit: a received message's deliveries
  // commit with it, ready to send (the worker's own fan-out takes every other event). It holds
  // a copy of the key: the writer thread may outlive webhook_rows by a batch at exit.
  // Once committed, the deliveries it made go straight to the webhook worker (Offer), which
  // then need not read them back; the worker is set in `offers` once it exists and unset before
  // it is gone (the writer thread outlives it).
  struct OfferSink {
    std::mutex mu;
    webhooks::Service* worker = nullptr;
  };
  auto offers = std::make_shared<OfferSink>();
  using AfterCommit = store::sqlite::SqliteMessageStore::AfterCommit;
  message_rows.SetTransactionHook([key = master_key, batch = webhook_options.fanout_batch, offers](sqlite3* db)
                                      -> base::Result<AfterCommit> {
    auto made = std::make_shared<std::vector<store::DueWebhookDelivery>>();
    auto fanned = store::sqlite::FanOutInTransaction(db, key, batch, base::UnixMs(), made.get());
    if (!fanned) return fanned.error();
    if (fanned->events == 0) return AfterCommit();
    return AfterCommit([offers, made, cursor = fanned->cursor] {
      std::lock_guard lock(offers->mu);
      if (offers->worker) offers->worker->Offer(std::move(*made), cursor);
    });
  });
  webhooks::Service hooks(ioc, webhook_rows, session_rows, std::move(webhook_options));
  {
    std::lock_guard lock(offers->mu);
    offers->worker = &hooks;
  }
  struct UnsetOffers {
    std::shared_ptr<OfferSink> sink;
    ~UnsetOffers() {
      std::lock_guard lock(sink->mu);
      sink->worker = nullptr;
    }
  } unset_offers{offers};
  // Events the writer fanned out were offered already: a wake-up only for the others.
  int hooks_token = bus.Subscribe([&hooks](const store::EventRow& e) { hooks.WakeFor(e.seq); });
  hooks.Start();
  if (notifier) notifier->Start();
  http::Server server(ioc, std::move(*acceptor),
                      MakeRouter(*store, accounts, sessions, outbox, hooks, config, event_log, bus, metrics),
                      {.max_body_bytes = config.max_body_bytes, .on_request = api::HttpMetrics(metrics)});
  outbox.Start();
  asio::co_spawn(ioc, sessions.StartAll(), asio::detached);

  // Keys' last-use times are written in batches.
  asio::steady_timer flush_timer(ioc);
  std::atomic<bool> stopping{false};
  asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
    while (!stopping.load()) {
      flush_timer.expires_after(std::chrono::seconds(5));
      boost::system::error_code wait_ec;
      co_await flush_timer.async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
      co_await accounts.FlushLastUsed();
    }
  }, asio::detached);

  // Handlers are in place before the URL is printed: a signal right after start is graceful.
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& sec, int signo) {
    if (sec) return;
    spdlog::info("received signal {}; draining (up to {} ms)", signo, config.shutdown_timeout_ms);
    // A second signal ends the process at once.
    signals.async_wait([](const boost::system::error_code& e2, int) {
      if (!e2) {
        base::FlushLogs();
        std::_Exit(130);
      }
    });
    asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
      bool drained = co_await server.Shutdown(std::chrono::milliseconds(config.shutdown_timeout_ms));
      stopping.store(true);
      co_await sessions.Shutdown();
      co_await outbox.Shutdown();
      bus.Unsubscribe(hooks_token);
      co_await hooks.Shutdown(std::chrono::seconds(2));
      if (notifier) {
        bus.Unsubscribe(notify_token);
        co_await notifier->Shutdown(std::chrono::seconds(2));
      }
      flush_timer.cancel();
      co_await accounts.FlushLastUsed();
      if (!drained) {
        spdlog::warn("shutdown timeout passed with requests still in flight; closing them");
      }
      spdlog::info("stopped");
      ioc.stop();
    }, asio::detached);
  });

  server.Start();
  std::string host = bound.address().is_v6() ? "[" + bound.address().to_string() + "]"
                                             : bound.address().to_string();
  std::printf("wagate listening on http://%s:%u\n", host.c_str(), unsigned(bound.port()));
  if (wasim) {
    std::printf("sandbox: wasim control API on %s (create a phone, then scan a session's QR with it)\n",
                wasim->endpoints().control_url.c_str());
  }
  std::fflush(stdout);
  spdlog::info("wagate {} serving on {}:{} (data dir {}, instance {})", WA_VERSION, host,
               bound.port(), config.data_dir.string(), store->instance_id());

  std::vector<std::thread> workers;
  for (int i = 1; i < threads; ++i) workers.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : workers) t.join();
  bus.Unsubscribe(events_token);
  base::FlushLogs();
  // The store is closed last, when this scope ends: everything declared after it (the message
  // writer, which holds a connection for its whole life, the state stores) is gone by then.
  return 0;
}

int Migrate(const config::Config& config) {
  base::InitLogging(config.log_level, config.log_format);
  if (auto err = PrepareDataDir(config.data_dir)) {
    Fail(*err);
    return 1;
  }
  std::vector<int> applied;
  auto store = OpenStore(config, &applied);
  if (!store) return 1;
  for (int v : applied) {
    for (const auto& m : store::SqliteMigrations()) {
      if (m.version == v) std::printf("applied migration %d (%s)\n", v, m.name);
    }
  }
  std::printf("database %s is at schema version %d\n", config.SqlitePath().c_str(),
              store->migrations().current);
  return 0;
}

int AdminSetSuspended(const config::Config& config, const std::string& account_id, bool suspended) {
  base::InitLogging("warn", config.log_format);
  auto store = OpenStore(config);
  if (!store) return 1;
  store::sqlite::SqliteAccountStore rows(*store);
  asio::io_context ioc;
  std::optional<base::Result<bool>> changed;
  asio::co_spawn(ioc, rows.SetSuspended(account_id, suspended),
                 [&](std::exception_ptr e, base::Result<bool> r) {
                   if (e) std::rethrow_exception(e);
                   changed = std::move(r);
                 });
  ioc.run();
  if (!*changed) {
    Fail("cannot update account " + account_id + ": " + changed->error().message());
    return 1;
  }
  if (!**changed) {
    Fail("no account with id " + account_id);
    return 1;
  }
  std::printf("account %s %s\n", account_id.c_str(), suspended ? "suspended" : "unsuspended");
  return 0;
}

}  // namespace gateway::app
