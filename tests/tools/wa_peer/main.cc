// wa_peer: one wa::client::Client with the gateway's durable SQLite state, driven by JSON lines on
// stdin and reporting JSON lines on stdout. Test suites (tests/crash, tests/interop) run it as a
// separate process so that they can kill it at any moment and start it again on the same data dir.
//
// Durability contract the crash test relies on: a received message is written to stdout by the
// client's MessageHandler, with one write(2) on the unbuffered descriptor, before the handler
// returns success. The client commits the ratchet step and acknowledges the message only after
// that, so stdout is this peer's durable inbox: a SIGKILL can make the server deliver a message
// again (printed twice), never lose one. Everything the client commits lives in
// <data-dir>/peer.db, so a restarted process logs in without a scan and continues its sessions.
//
// Commands (one JSON object per line; an optional "ref" is echoed in the result):
//   {"cmd":"link"}                         start the client (shows QR codes when not paired)
//   {"cmd":"pair_code","phone":"1555..."}  ask for a pairing code (needs QR codes showing)
//   {"cmd":"send","to":"<phone|jid>","text":"...","id"?:"..."}
//   {"cmd":"read","chat":"<phone|jid>","sender"?:"...","ids":["..."]}
//   {"cmd":"chat_state","to":"...","state":"composing|recording|paused"}
//   {"cmd":"on_whatsapp","phones":["..."]}
//   {"cmd":"logout"} / {"cmd":"quit"}      (end of input and SIGTERM/SIGINT quit too)
// Events: ready, qr, pairing_code, paired, connected, disconnected, logged_out, message, ack,
// receipt, chat_state, presence, offline_sync, result (one per command), error.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "base/bytes.h"
#include "base/log.h"
#include "gateway/store/sqlite/session_state.h"
#include "gateway/store/sqlite/sqlite_store.h"
#include "wa/client/client.h"
#include "wa/client/credentials.h"
#include "wa/client/events.h"
#include "wa/crypto/crypto.h"

namespace wa_peer {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
namespace client = wa::client;
using gateway::store::sqlite::SessionState;
using gateway::store::sqlite::SessionStates;
using gateway::store::sqlite::SqliteStore;

struct Options {
  std::string data_dir;
  std::string chat_url;
  std::string root_key_hex;
  std::string ca_file;
  std::string master_key_hex;
  std::string session_id = "peer";
  std::string push_name = "wa_peer";
  std::string log_level = "warn";
  bool autostart = true;
};

// stdout as the peer's journal: every line goes out with write(2) on the raw descriptor (no
// stdio buffer that a SIGKILL could lose), whole, under a lock so that lines never interleave.
class Output {
 public:
  void Emit(const json::object& event) {
    std::string line = json::serialize(event);
    line += '\n';
    std::lock_guard lock(mu_);
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
      ssize_t n = ::write(STDOUT_FILENO, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;  // the reader is gone; nothing sensible to do
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }

 private:
  std::mutex mu_;
};

json::value JidOrNull(const std::optional<wa::binary::Jid>& jid) {
  if (!jid) return nullptr;
  return json::value(jid->ToString());
}

json::array Strings(const std::vector<std::string>& v) {
  json::array out;
  for (const auto& s : v) out.emplace_back(s);
  return out;
}

std::optional<std::string> GetString(const json::object& o, std::string_view key) {
  if (auto* v = o.if_contains(key); v && v->is_string()) return std::string(v->as_string());
  return std::nullopt;
}

std::vector<std::string> GetStrings(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  if (auto* v = o.if_contains(key); v && v->is_array()) {
    for (const auto& s : v->as_array()) {
      if (s.is_string()) out.emplace_back(s.as_string());
    }
  }
  return out;
}

json::object MessageJson(const client::Message& m) {
  json::object o{{"event", "message"},
                 {"id", m.id},
                 {"chat", m.chat.ToString()},
                 {"from", m.sender.ToString()},
                 {"sender_pn", JidOrNull(m.sender_pn)},
                 {"sender_lid", JidOrNull(m.sender_lid)},
                 {"from_me", m.from_me},
                 {"offline", m.offline},
                 {"t", m.timestamp},
                 {"push_name", m.push_name},
                 {"text", m.text}};
  if (m.quoted) {
    o["quoted"] = json::object{{"id", m.quoted->id},
                               {"participant", m.quoted->participant},
                               {"text", m.quoted->text}};
  }
  if (!m.mentions.empty()) o["mentions"] = Strings(m.mentions);
  return o;
}

// Events other than Message (printed by the handler) as JSON; nullopt for those not reported.
std::optional<json::object> EventJson(const client::Event& event) {
  using namespace wa::client;
  return std::visit(
      [](const auto& e) -> std::optional<json::object> {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, Qr>) {
          return json::object{{"event", "qr"}, {"code", e.code}};
        } else if constexpr (std::is_same_v<T, PairingCode>) {
          return json::object{{"event", "pairing_code"}, {"code", e.code}};
        } else if constexpr (std::is_same_v<T, Paired>) {
          return json::object{{"event", "paired"},
                              {"jid", e.jid.ToString()},
                              {"lid", e.lid.ToString()},
                              {"platform", e.platform}};
        } else if constexpr (std::is_same_v<T, Connected>) {
          return json::object{{"event", "connected"}};
        } else if constexpr (std::is_same_v<T, Disconnected>) {
          return json::object{{"event", "disconnected"},
                              {"reason", ToString(e.reason)},
                              {"code", e.code},
                              {"will_retry", e.will_retry}};
        } else if constexpr (std::is_same_v<T, LoggedOut>) {
          return json::object{{"event", "logged_out"}, {"reason", ToString(e.reason)}};
        } else if constexpr (std::is_same_v<T, QrTimeout>) {
          return json::object{{"event", "qr_timeout"}};
        } else if constexpr (std::is_same_v<T, PairingFailed>) {
          return json::object{{"event", "pairing_failed"}, {"reason", e.reason}};
        } else if constexpr (std::is_same_v<T, OfflineSyncCompleted>) {
          return json::object{{"event", "offline_sync"}, {"count", e.count}};
        } else if constexpr (std::is_same_v<T, MessageAck>) {
          json::object o{{"event", "ack"}, {"id", e.id}, {"chat", e.chat.ToString()}};
          o["error"] = e.error ? json::value(*e.error) : json::value(nullptr);
          return o;
        } else if constexpr (std::is_same_v<T, Receipt>) {
          return json::object{{"event", "receipt"},
                              {"ids", Strings(e.ids)},
                              {"chat", e.chat.ToString()},
                              {"from", e.from.ToString()},
                              {"type", ToString(e.type)},
                              {"type_text", e.type_text}};
        } else if constexpr (std::is_same_v<T, ChatState>) {
          return json::object{{"event", "chat_state"},
                              {"chat", e.chat.ToString()},
                              {"from", e.from.ToString()},
                              {"state", ToString(e.state)}};
        } else if constexpr (std::is_same_v<T, Presence>) {
          return json::object{
              {"event", "presence"}, {"from", e.from.ToString()}, {"available", e.available}};
        } else if constexpr (std::is_same_v<T, StreamReplaced>) {
          return json::object{{"event", "replaced"}};
        } else {
          return std::nullopt;  // Message (the handler printed it), keepalive noise, bans
        }
      },
      event);
}

class Peer {
 public:
  Peer(asio::io_context& ioc, Options options, Output& out)
      : ioc_(ioc), options_(std::move(options)), out_(out), quit_(ioc) {
    quit_.expires_at(std::chrono::steady_clock::time_point::max());
  }

  // Opens the store, starts the client when already paired, serves commands until quit.
  asio::awaitable<int> Run(std::function<void()> on_ready) {
    if (!OpenStore()) co_return 2;
    auto opened = co_await states_->Open(options_.session_id);
    if (!opened) {
      Error("open the session state: " + opened.error().message());
      co_return 2;
    }
    state_ = std::move(*opened);
    auto creds = state_->Load();
    if (!creds) {
      Error("load the credentials: " + creds.error().message());
      co_return 2;
    }
    bool paired = *creds && (*creds)->paired();
    json::object ready{{"event", "ready"}, {"paired", paired}};
    if (paired) ready["jid"] = (*creds)->me->ToString();
    out_.Emit(ready);
    if (paired && options_.autostart) {
      if (auto started = co_await StartClient(); !started) co_return 2;
    }
    on_ready();
    boost::system::error_code ec;
    co_await quit_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (client_) co_await client_->Stop();
    client_.reset();
    state_.reset();
    states_.reset();
    store_.reset();
    out_.Emit(json::object{{"event", "stopped"}});
    co_return 0;
  }

  void Quit() { quit_.cancel(); }

  // One command line (on the io_context's thread). Commands run concurrently.
  void Handle(const std::string& line) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) return;
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object() || !GetString(v.as_object(), "cmd")) {
      Error("not a command object: " + line);
      return;
    }
    asio::co_spawn(ioc_, Do(std::move(v.as_object())), asio::detached);
  }

 private:
  bool OpenStore() {
    std::error_code fs_ec;
    std::filesystem::create_directories(options_.data_dir, fs_ec);
    if (fs_ec) {
      Error("create " + options_.data_dir + ": " + fs_ec.message());
      return false;
    }
    auto key = MasterKey();
    if (!key) return false;
    std::string error_text;
    gateway::store::sqlite::Options o;
    o.path = std::filesystem::path(options_.data_dir) / "peer.db";
    auto store = SqliteStore::Open(o, &error_text);
    if (!store) {
      Error("open the database: " + error_text);
      return false;
    }
    store_ = std::move(*store);
    if (auto m = store_->Migrate(&error_text); !m) {
      Error("migrate the database: " + error_text);
      return false;
    }
    states_ = std::make_unique<SessionStates>(*store_, *key);
    return true;
  }

  // --master-key-hex, else the key kept in <data-dir>/master.key (made on first start).
  std::optional<base::Bytes> MasterKey() {
    std::string hex = options_.master_key_hex;
    auto path = std::filesystem::path(options_.data_dir) / "master.key";
    if (hex.empty()) {
      std::ifstream in(path);
      if (in) {
        std::getline(in, hex);
      } else {
        hex = base::ToHex(wa::crypto::RandomBytes(32));
        std::ofstream outf(path);
        outf << hex << "\n";
        outf.close();
        if (!outf) {
          Error("cannot write " + path.string());
          return std::nullopt;
        }
      }
    }
    auto key = base::FromHex(hex);
    if (!key || key->size() != 32) {
      Error("the master key must be 64 hex digits");
      return std::nullopt;
    }
    return std::move(*key);
  }

  client::Config MakeConfig() {
    client::Config config;
    if (!options_.chat_url.empty()) config.url = options_.chat_url;
    config.ca_file = options_.ca_file;
    if (!options_.root_key_hex.empty()) {
      auto root = base::FromHex(options_.root_key_hex);
      if (root && root->size() == config.trust_root.size()) {
        std::copy(root->begin(), root->end(), config.trust_root.begin());
      } else {
        Error("--root-key-hex must be 64 hex digits; keeping WhatsApp's root");
      }
    }
    // A test peer: quick to give up on a dead connection and quick to come back.
    config.timeouts.connect = std::chrono::seconds(10);
    config.timeouts.iq = std::chrono::seconds(10);
    config.backoff.initial = std::chrono::milliseconds(200);
    config.backoff.max = std::chrono::seconds(2);
    config.push_name = options_.push_name;
    config.sync_full_history = false;
    config.log_name = options_.session_id;
    return config;
  }

  // A new Client over the stored state (fresh credentials when there are none, e.g. after a
  // logout wiped them), started.
  asio::awaitable<base::Result<void>> StartClient() {
    auto creds = state_->Load();
    if (!creds) co_return creds.error();
    if (!*creds) {
      if (auto saved = state_->Save(client::Credentials::New()); !saved) co_return saved.error();
      if (auto committed = co_await state_->Commit(); !committed) co_return committed.error();
    }
    if (client_) co_await client_->Stop();
    client_ = std::make_unique<client::Client>(ioc_.get_executor(), MakeConfig(), *state_,
                                               [this](const client::Event& e) { OnEvent(e); });
    client_->SetMessageHandler(
        [this](const client::Message& m) -> asio::awaitable<base::Result<void>> {
          // Printed before success is returned: the client acknowledges only after this.
          out_.Emit(MessageJson(m));
          co_return base::Result<void>{};
        });
    client_->Start();
    co_return base::Result<void>{};
  }

  void OnEvent(const client::Event& event) {
    if (auto o = EventJson(event)) out_.Emit(*o);
  }

  void Error(const std::string& what) {
    spdlog::error("wa_peer: {}", what);
    out_.Emit(json::object{{"event", "error"}, {"error", what}});
  }

  asio::awaitable<void> Do(json::object cmd) {
    std::string name = *GetString(cmd, "cmd");
    json::object result{{"event", "result"}, {"cmd", name}};
    if (auto* ref = cmd.if_contains("ref")) result["ref"] = *ref;
    auto fail = [&](std::string why) {
      result["ok"] = false;
      result["error"] = std::move(why);
    };
    result["ok"] = true;

    if (name == "quit") {
      out_.Emit(result);
      Quit();
      co_return;
    }
    if (name == "link" || name == "start") {
      if (client_ && client_->state() != client::State::kStopped &&
          client_->state() != client::State::kIdle) {
        result["already_running"] = true;
      } else if (auto started = co_await StartClient(); !started) {
        fail(started.error().message());
      }
      out_.Emit(result);
      co_return;
    }
    if (!client_) {
      fail("not started (send link first)");
      out_.Emit(result);
      co_return;
    }
    if (name == "pair_code") {
      auto r = co_await client_->RequestPairingCode(GetString(cmd, "phone").value_or(""));
      if (r) result["code"] = *r; else fail(r.error().message());
    } else if (name == "send") {
      client::SendTextRequest request;
      request.to = GetString(cmd, "to").value_or("");
      request.text = GetString(cmd, "text").value_or("");
      request.id = GetString(cmd, "id").value_or("");
      request.mentions = GetStrings(cmd, "mentions");
      result["id"] = request.id;
      auto r = co_await client_->SendText(std::move(request));
      if (r) {
        result["id"] = r->id;
        result["t"] = r->timestamp;
      } else {
        fail(r.error().message());
      }
    } else if (name == "read") {
      auto r = co_await client_->MarkRead(GetString(cmd, "chat").value_or(""),
                                          GetString(cmd, "sender").value_or(""),
                                          GetStrings(cmd, "ids"));
      if (!r) fail(r.error().message());
    } else if (name == "chat_state") {
      std::string s = GetString(cmd, "state").value_or("composing");
      auto kind = s == "recording" ? client::ChatStateKind::kRecording
                  : s == "paused"  ? client::ChatStateKind::kPaused
                                   : client::ChatStateKind::kComposing;
      auto r = co_await client_->SendChatState(GetString(cmd, "to").value_or(""), kind);
      if (!r) fail(r.error().message());
    } else if (name == "on_whatsapp") {
      auto r = co_await client_->OnWhatsApp(GetStrings(cmd, "phones"));
      if (r) {
        json::array contacts;
        for (const auto& c : *r) {
          contacts.push_back(json::object{
              {"phone", c.phone}, {"jid", c.jid.ToString()}, {"exists", c.exists}});
        }
        result["contacts"] = std::move(contacts);
      } else {
        fail(r.error().message());
      }
    } else if (name == "logout") {
      auto r = co_await client_->Logout();
      if (!r) fail(r.error().message());
    } else if (name == "state") {
      result["state"] = static_cast<int>(client_->state());
    } else {
      fail("unknown command");
    }
    out_.Emit(result);
  }

  asio::io_context& ioc_;
  Options options_;
  Output& out_;
  asio::steady_timer quit_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<SessionStates> states_;
  std::unique_ptr<SessionState> state_;
  std::unique_ptr<client::Client> client_;
};

}  // namespace
}  // namespace wa_peer

int main(int argc, char** argv) {
  wa_peer::Options options;
  CLI::App app{"wa_peer: a wa::Client with durable state, driven by JSON lines on stdin"};
  app.add_option("--data-dir", options.data_dir, "folder for peer.db (and master.key)")->required();
  app.add_option("--chat-url", options.chat_url, "WebSocket URL (wasim's chat endpoint)");
  app.add_option("--root-key-hex", options.root_key_hex, "Noise root public key (wasim's)");
  app.add_option("--ca-file", options.ca_file, "extra CA certificate for wss:// (wasim's)");
  app.add_option("--master-key-hex", options.master_key_hex,
                 "32-byte key sealing the stored secrets (default: <data-dir>/master.key)");
  app.add_option("--session-id", options.session_id, "session id of the stored state");
  app.add_option("--push-name", options.push_name, "push name sent at login");
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn, error, off");
  bool no_autostart = false;
  app.add_flag("--no-autostart", no_autostart, "do not log in at start when paired");
  CLI11_PARSE(app, argc, argv);
  options.autostart = !no_autostart;

  base::InitLogging(options.log_level, base::LogFormat::kText);
  boost::asio::io_context ioc(1);
  wa_peer::Output out;
  wa_peer::Peer peer(ioc, options, out);

  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) peer.Quit();
  });

  // stdin is read on its own thread (blocking getline) and each line handed to the io_context;
  // end of input quits. The thread is detached: at exit it may still sit in getline.
  auto read_stdin = [&ioc, &peer] {
    std::thread([&ioc, &peer] {
      std::string line;
      while (std::getline(std::cin, line)) {
        boost::asio::post(ioc, [&peer, line] { peer.Handle(line); });
      }
      boost::asio::post(ioc, [&peer] { peer.Quit(); });
    }).detach();
  };

  int rc = 1;
  boost::asio::co_spawn(ioc, peer.Run(read_stdin), [&](std::exception_ptr e, int code) {
    rc = e ? 1 : code;
    signals.cancel();
    ioc.stop();
  });
  ioc.run();
  base::FlushLogs();
  // _exit skips static destructors (and stdio's flush-all, which would wait for stdin's lock)
  // while the reader thread may still sit in getline; nothing is buffered in stdio.
  ::_exit(rc);
}
