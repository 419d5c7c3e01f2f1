#include "wa/client/client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <charconv>
#include <deque>
#include <map>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/task_group.h"
#include "wa/client/errors.h"
#include "wa/client/history.h"
#include "wa/client/media_http.h"
#include "wa/client/messages.h"
#include "wa/client/pairing.h"
#include "wa/client/payload.h"
#include "wa/client/policy.h"
#include "wa/client/stanzas.h"
#include "wa/noise/errors.h"
#include "wa/noise/frame.h"
#include "wa/signal/prekey_message.h"
#include "wa/media/upload.h"
#include "wa/signal/protocol.h"

namespace wa::client {

namespace asio = boost::asio;
using binary::Jid;
using binary::Node;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// --- IqError -----------------------------------------------------------------------------

base::error_code IqError::ToErrorCode() const {
  switch (kind) {
    case Kind::kTimeout: return MakeError(Errc::kTimeout);
    case Kind::kDisconnected: return MakeError(Errc::kDisconnected);
    case Kind::kCancelled: return MakeError(Errc::kCancelled);
    case Kind::kNotConnected: return MakeError(Errc::kNotConnected);
    case Kind::kServer: return MakeError(Errc::kServerError);
  }
  return MakeError(Errc::kServerError);
}

std::string IqError::Describe() const {
  if (kind == Kind::kServer) return "server error " + std::to_string(code) + " " + text;
  return ToErrorCode().message();
}

namespace {

// Stanza ids as Baileys makes them: two random 16-bit numbers per connection, then a counter
// ("47123.1234-7"), which packs into a NIBBLE_8 string.
class IdGenerator {
 public:
  IdGenerator() {
    std::uint8_t b[4];
    crypto::RandomBytes(b);
    prefix_ = std::to_string(b[0] << 8 | b[1]) + "." + std::to_string(b[2] << 8 | b[3]) + "-";
  }
  std::string Next() { return prefix_ + std::to_string(counter_++); }

 private:
  std::string prefix_;
  std::uint64_t counter_ = 1;
};

double Random01() {
  std::uint64_t v = 0;
  crypto::RandomBytes({reinterpret_cast<std::uint8_t*>(&v), sizeof v});
  return static_cast<double>(v >> 11) * (1.0 / 9007199254740992.0);
}

std::int64_t NowUnixMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int ParseInt(std::string_view s, int fallback) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return fallback;
  return v;
}

// A set of recent keys that forgets the oldest beyond its capacity.
class RecentSet {
 public:
  explicit RecentSet(std::size_t capacity) : capacity_(capacity) {}
  bool Contains(const std::string& key) const { return keys_.contains(key); }
  void Insert(const std::string& key) {
    if (!keys_.insert(key).second) return;
    order_.push_back(key);
    if (order_.size() > capacity_) {
      keys_.erase(order_.front());
      order_.pop_front();
    }
  }

 private:
  std::size_t capacity_;
  std::unordered_set<std::string> keys_;
  std::deque<std::string> order_;
};

// A map that forgets its oldest entries beyond its capacity.
template <class V>
class RecentMap {
 public:
  explicit RecentMap(std::size_t capacity) : capacity_(capacity) {}
  V* Find(const std::string& key) {
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : &it->second;
  }
  V& operator[](const std::string& key) {
    auto [it, inserted] = map_.try_emplace(key);
    if (inserted) {
      order_.push_back(key);
      if (order_.size() > capacity_) {
        map_.erase(order_.front());
        order_.pop_front();
        it = map_.find(key);
      }
    }
    return it->second;
  }

 private:
  std::size_t capacity_;
  std::unordered_map<std::string, V> map_;
  std::deque<std::string> order_;
};

// A message we sent, kept to answer retry receipts by re-encrypting it.
struct SentRecord {
  Jid chat;
  std::string type;
  std::string message;  // the serialized wa::proto::Message
};

// Bounds of the in-memory messaging state.
constexpr std::size_t kRecentSent = 1024;
// Sent plaintexts kept in memory for retry receipts: only the last few, since a retry receipt
// usually follows its message within a second; older ones are read back from the ContactStore,
// which keeps them within its own bounds (1024 by default). Holding 1024 here too cost a busy
// session up to about 400 KB in every process, even with the SQLite store, which drops them from
// memory once committed (docs/benchmarks.md, sessions: 8 KB per session after 20 sends).
constexpr std::size_t kRecentSentInMemory = 16;
constexpr std::size_t kRecentReceived = 4096;
constexpr int kMaxRetries = 5;  // retry receipts per message, re-sends per (message, device)

struct Waiter {
  explicit Waiter(asio::any_io_executor ex) : timer(std::move(ex)) {}
  asio::steady_timer timer;
  std::optional<Node> response;
  bool disconnected = false;
};

}  // namespace

// One connection's state; dropped when the connection ends. Tasks working for it hold a
// shared_ptr and end when `closing` is set (every wait they make is a Waiter or a sleeper that
// the teardown cancels).
struct Conn {
  std::shared_ptr<Channel> channel;
  IdGenerator ids;
  std::map<std::string, Waiter*, std::less<>> waiters;
  std::vector<asio::steady_timer*> sleepers;
  base::TaskGroup tasks{"wa-client-conn"};
  bool closing = false;
  std::optional<Outcome> end;
  Clock::time_point last_frame = Clock::now();
  bool logged_in = false;
  bool offline_seen = false;
  bool pair_device_seen = false;
  bool paired = false;
  bool uploading = false;
  int ping_failures = 0;
  std::string logout_id;
  struct Link {
    Jid phone;
    crypto::KeyPair ephemeral;
    std::string code;
    base::Bytes ref;
  };
  std::optional<Link> link;
  // Incoming message, receipt and device-notification stanzas, handled one at a time in order
  // (each may await the store and iqs before its ack), with the time each was read.
  struct Inbound {
    Node node;
    std::int64_t read_unix_ms = 0;
  };
  std::deque<Inbound> inbox;
  // Unix ms when the read loop got the stanza being dispatched (Message::received_ms).
  std::int64_t read_unix_ms = 0;
  bool inbox_running = false;
  // History sync notifications, downloaded and parsed one at a time (history.h); what is queued
  // when the connection ends is dropped (its hist_sync receipt was sent, as the references do).
  std::deque<proto::Message::HistorySyncNotification> history;
  bool history_running = false;
  std::optional<media::MediaConn> media_conn;
};

class Client::Impl : public std::enable_shared_from_this<Client::Impl> {
 public:
  Impl(asio::any_io_executor executor, Config config, StateStore& store, EventSink sink,
       std::shared_ptr<Connector> connector)
      : ex_(asio::make_strand(executor)),
        config_(std::move(config)),
        store_(store),
        devices_(store.device_store()),
        signal_(store.signal_store()),
        contacts_(store.contact_store()),
        protocol_(signal_),
        sink_(std::move(sink)),
        connector_(std::move(connector)),
        backoff_timer_(ex_),
        name_(config_.log_name.empty() ? "wa.client" : config_.log_name) {
    if (!connector_) {
      auto made = MakeNetworkConnector(ex_, config_);
      if (made) {
        connector_ = std::move(*made);
      } else {
        config_error_ = made.error();
      }
    }
  }

  asio::any_io_executor ex_;
  std::atomic<State> state_{State::kIdle};

  void Start() {
    if (running_) return;
    running_ = true;
    stop_requested_ = false;
    logout_requested_ = false;
    tasks_.Spawn(ex_, Run(shared_from_this()));
  }

  asio::awaitable<void> DoStop() {
    stop_requested_ = true;
    backoff_timer_.cancel();
    if (connect_abort_) connect_abort_->Abort();
    if (auto c = current_) Finish(*c, Outcome{DisconnectReason::kStopped, 0});
    bool done = co_await tasks_.WaitEmpty(config_.timeouts.close + milliseconds(2000));
    if (!done) {
      spdlog::warn("{}: stop did not complete in time; dropping the connection", name_);
      if (auto c = current_; c && c->channel) c->channel->Abort(MakeError(Errc::kCancelled));
      co_await tasks_.WaitEmpty(milliseconds(5000));
    }
  }

  asio::awaitable<base::Result<void>> DoLogout() {
    auto c = current_;
    if (!c || !c->logged_in || c->end || !creds_ || !creds_->me) {
      co_return MakeError(Errc::kNotConnected);
    }
    Node iq = stanzas::RemoveCompanionDevice(*creds_->me);
    std::string id = c->ids.Next();
    iq.SetAttr("id", id);
    c->logout_id = id;
    // From here on the intent is recorded: however this connection ends, the run loop wipes
    // the credentials instead of reconnecting (Baileys ends with 401 whatever the answer).
    logout_requested_ = true;
    auto r = co_await SendIqOn(c, std::move(iq), config_.timeouts.iq);
    // Dispatch ended the connection when the result arrived; otherwise end it here.
    Finish(*c, Outcome{DisconnectReason::kLoggedOut, 401, 0, {}, false, "logout"});
    co_await tasks_.WaitEmpty(config_.timeouts.close + milliseconds(2000));
    if (!r) co_return r.error().ToErrorCode();
    co_return base::Result<void>{};
  }

  asio::awaitable<base::Result<std::string>> DoRequestPairingCode(std::string phone) {
    auto c = current_;
    if (!c || c->end || !c->pair_device_seen || c->paired || !creds_ || creds_->paired()) {
      co_return MakeError(Errc::kWrongState);
    }
    std::string digits = NormalizePhone(phone);
    if (digits.empty()) co_return MakeError(Errc::kInvalidPhone);
    std::uint8_t raw[5];
    crypto::RandomBytes(raw);
    Conn::Link link{Jid::User(digits), crypto::GenerateKeyPair(), EncodeLinkingCode(raw), {}};
    auto salt = crypto::RandomBytes(32);
    auto iv = crypto::RandomBytes(16);
    // PBKDF2 with 131072 iterations: tens of milliseconds on this strand, once per link.
    auto wrapped = WrapLinkingKey(link.code, salt, iv, link.ephemeral.public_key);
    Node hello = stanzas::LinkCodeCompanionHello(
        link.phone, wrapped, creds_->noise_key.public_key, CompanionPlatformId(config_.browser),
        CompanionPlatformDisplay(config_.browser));
    c->link = link;
    auto r = co_await SendIqOn(c, std::move(hello), config_.timeouts.iq);
    if (!r) {
      spdlog::info("{}: pairing code request failed: {}", name_, r.error().Describe());
      co_return r.error().ToErrorCode();
    }
    const Node* reg = r->Child("link_code_companion_reg");
    const Node* ref_node = reg ? reg->Child("link_code_pairing_ref") : nullptr;
    auto ref = ref_node ? ref_node->ContentBytes() : std::nullopt;
    if (!ref || ref->empty()) co_return MakeError(Errc::kProtocol);
    if (c->link) c->link->ref.assign(ref->begin(), ref->end());
    Emit(PairingCode{link.code});
    co_return link.code;
  }

  asio::awaitable<base::Result<Node, IqError>> DoSendIq(Node iq, milliseconds timeout) {
    auto c = current_;
    if (!c || !c->channel || c->end) co_return IqError{IqError::Kind::kNotConnected};
    co_return co_await SendIqOn(c, std::move(iq), timeout);
  }

  base::Result<void> DoSendNode(const Node& node) {
    auto c = current_;
    if (!c || !c->channel || c->end) return MakeError(Errc::kNotConnected);
    return c->channel->Send(node);
  }

  // A new signed prekey (id + 1): kept in the Signal store next to the old one (late pkmsgs
  // still name it), sent to the server, and recorded in the credentials once the server took it.
  asio::awaitable<base::Result<void>> DoRotateSignedPreKey() {
    auto c = current_;
    if (!c || !c->logged_in || c->end || !creds_) co_return MakeError(Errc::kNotConnected);
    std::uint32_t id = creds_->signed_pre_key.id % signal::kMaxWireKeyId + 1;
    signal::SignedPreKey key = signal::GenerateSignedPreKey(
        creds_->identity_key, id, static_cast<std::uint64_t>(NowUnixMs()));
    if (auto stored = signal_.StoreSignedPreKey(key); !stored) co_return stored.error();
    // The private key is durable before the server can hand its public half to anyone.
    if (auto committed = co_await store_.CommitDurable(); !committed) co_return committed.error();
    auto r = co_await SendIqOn(c, stanzas::RotateSignedPreKey(key), config_.timeouts.iq);
    if (!r) co_return r.error().ToErrorCode();
    Credentials updated = *creds_;
    updated.signed_pre_key = key;
    if (auto saved = devices_.Save(updated); !saved) co_return saved.error();
    creds_ = std::move(updated);
    if (auto committed = co_await store_.Commit(); !committed) co_return committed.error();
    co_return base::Result<void>{};
  }

  void DropConnection() {
    if (auto c = current_; c && c->channel) c->channel->Abort(MakeError(Errc::kDisconnected));
  }

  std::optional<Credentials> credentials() const { return creds_; }
  const Config& config() const { return config_; }

 private:
  using Handler = void (Impl::*)(const std::shared_ptr<Conn>&, const Node&);
  struct HandlerEntry {
    std::string_view tag;
    Handler handler;
  };
  // Incoming stanzas by tag (responses to our iqs are matched by id before this table). The
  // messaging layer adds message, receipt, call and the other notification types here.
  static std::span<const HandlerEntry> Handlers();

  void Emit(Event event) {
    spdlog::debug("{}: event {}", name_, Describe(event));
    if (sink_) sink_(event);
  }

  // --- the run loop ------------------------------------------------------------------------

  static asio::awaitable<void> Run(std::shared_ptr<Impl> self) { co_await self->RunLoop(); }

  asio::awaitable<void> RunLoop() {
    if (auto ok = Prepare(); !ok) {
      DisconnectReason reason = ok.error() == MakeError(Errc::kBadUrl) ||
                                        ok.error() == MakeError(Errc::kTlsSetup)
                                    ? DisconnectReason::kConfigError
                                    : DisconnectReason::kStoreFailed;
      spdlog::error("{}: cannot start: {}", name_, ok.error().message());
      Emit(Disconnected{reason, 0, false, milliseconds(0)});
      state_ = State::kStopped;
      running_ = false;
      co_return;
    }
    for (;;) {
      if (stop_requested_) {
        Emit(Disconnected{DisconnectReason::kStopped, 0, false, milliseconds(0)});
        break;
      }
      Outcome out = co_await RunConnection();
      Action action = ActionFor(out.reason);
      if (logout_requested_) {
        out = Outcome{DisconnectReason::kLoggedOut, 401, 0, {}, false, "logout"};
        action = Action::kWipeAndStop;
      } else if (stop_requested_ && action != Action::kWipeAndStop) {
        out = Outcome{DisconnectReason::kStopped, 0};
        action = Action::kStop;
      }
      spdlog::info("{}: connection ended: {} ({}){}{}", name_, ToString(out.reason), out.code,
                   out.detail.empty() ? "" : ": ", out.detail);
      if (action == Action::kWipeAndStop) {
        if (auto wiped = devices_.Wipe(); !wiped) {
          spdlog::error("{}: wiping the credentials failed: {}", name_, wiped.error().message());
        } else if (auto committed = co_await store_.Commit(); !committed) {
          spdlog::error("{}: committing the wipe failed: {}", name_, committed.error().message());
        }
        creds_.reset();
        Emit(LoggedOut{out.reason, out.code, out.on_connect});
        Emit(Disconnected{out.reason, out.code, false, milliseconds(0)});
        break;
      }
      if (action == Action::kStop) {
        switch (out.reason) {
          case DisconnectReason::kReplaced: Emit(StreamReplaced{}); break;
          case DisconnectReason::kTemporaryBan:
            Emit(TemporaryBan{out.ban_code, out.ban_expire});
            break;
          case DisconnectReason::kClientOutdated: Emit(ClientOutdated{}); break;
          case DisconnectReason::kQrTimeout: Emit(QrTimeout{}); break;
          case DisconnectReason::kPairingFailed: Emit(PairingFailed{out.detail}); break;
          default: break;
        }
        Emit(Disconnected{out.reason, out.code, false, milliseconds(0)});
        break;
      }
      if (action == Action::kReconnectNow) {
        Emit(Disconnected{out.reason, out.code, true, milliseconds(0)});
        continue;
      }
      ++failures_;
      milliseconds delay = BackoffDelay(config_.backoff, failures_, Random01());
      Emit(Disconnected{out.reason, out.code, true, delay});
      state_ = State::kWaiting;
      backoff_timer_.expires_after(delay);
      auto [ec] = co_await backoff_timer_.async_wait(kTuple);
      (void)ec;
    }
    state_ = State::kStopped;
    running_ = false;
  }

  // Loads the credentials and checks that the Signal store holds the same identity.
  base::Result<void> Prepare() {
    if (config_error_) return config_error_;
    auto loaded = devices_.Load();
    if (!loaded) return loaded.error();
    if (!*loaded) return MakeError(Errc::kNoCredentials);
    creds_ = std::move(**loaded);
    auto identity = signal_.GetIdentityKeyPair();
    if (!identity) return identity.error();
    auto registration = signal_.GetRegistrationId();
    if (!registration) return registration.error();
    if (identity->public_key != creds_->identity_key.public_key ||
        *registration != creds_->registration_id) {
      return MakeError(Errc::kStoreMismatch);
    }
    auto has_spk = signal_.ContainsSignedPreKey(creds_->signed_pre_key.id);
    if (!has_spk) return has_spk.error();
    if (!*has_spk) {
      if (auto stored = signal_.StoreSignedPreKey(creds_->signed_pre_key); !stored) {
        return stored.error();
      }
    }
    return {};
  }

  asio::awaitable<Outcome> RunConnection() {
    state_ = State::kConnecting;
    auto c = std::make_shared<Conn>();
    base::Bytes payload;
    if (creds_->paired()) {
      auto login = BuildLoginPayload(*creds_, config_);
      if (!login) co_return Outcome{DisconnectReason::kStoreFailed, 0, 0, {}, false, "bad me JID"};
      payload = std::move(*login);
    } else {
      payload = BuildRegistrationPayload(*creds_, config_);
    }
    connect_abort_ = std::make_shared<ConnectAbort>();
    // A named request: GCC 12 destroys braced temporaries inside a co_await expression twice.
    ConnectRequest request;
    request.client_payload = std::move(payload);
    request.noise_key = creds_->noise_key;
    request.routing_info = creds_->routing_info;
    request.timeout = config_.timeouts.connect;
    request.abort = connect_abort_;
    auto channel = co_await connector_->Connect(std::move(request));
    connect_abort_.reset();
    if (!channel) {
      base::error_code ec = channel.error();
      Outcome out{DisconnectReason::kNetworkError, 408};
      if (ec == MakeError(Errc::kCancelled) || stop_requested_) {
        out = Outcome{DisconnectReason::kStopped, 0};
      } else if (ec == MakeError(Errc::kTimeout)) {
        out = Outcome{DisconnectReason::kTimedOut, 408};
      } else if (ec.category() == noise::Category()) {
        out = Outcome{DisconnectReason::kHandshakeFailed, 400};
      }
      out.detail = ec.message();
      co_return out;
    }
    c->channel = std::move(*channel);
    c->last_frame = Clock::now();
    current_ = c;
    if (stop_requested_) Finish(*c, Outcome{DisconnectReason::kStopped, 0});
    c->tasks.Spawn(ex_, KeepAlive(shared_from_this(), c));

    for (;;) {
      auto node = co_await c->channel->Read();
      if (!node) {
        if (!c->end) {
          base::error_code ec = node.error();
          if (ec == MakeError(Errc::kTimeout)) {
            c->end = Outcome{DisconnectReason::kConnectionLost, 408};
          } else if (ec == MakeError(Errc::kCancelled)) {
            c->end = Outcome{DisconnectReason::kStopped, 0};
          } else {
            c->end = Outcome{DisconnectReason::kConnectionClosed, 428};
          }
          c->end->detail = ec.message();
        }
        break;
      }
      c->last_frame = Clock::now();
      c->read_unix_ms = NowUnixMs();
      if (!c->end) Dispatch(c, *node);
    }

    c->closing = true;
    for (auto& [id, waiter] : c->waiters) {
      waiter->disconnected = true;
      waiter->timer.cancel();
    }
    WakeSleepers(*c);
    c->channel->Abort(MakeError(Errc::kDisconnected));
    if (!co_await c->tasks.WaitEmpty(config_.timeouts.close + milliseconds(1000))) {
      spdlog::warn("{}: {} connection tasks still running after the close", name_, c->tasks.Live());
    }
    if (current_ == c) current_.reset();
    if (c->logged_in) failures_ = 0;
    co_return *c->end;
  }

  // Decides how the connection ends (the first decision wins) and closes it: gracefully unless
  // the connection is dead.
  void Finish(Conn& c, Outcome outcome, bool graceful = true) {
    if (c.end) return;
    c.end = std::move(outcome);
    if (!c.channel) return;
    if (graceful) {
      c.channel->Close();
    } else {
      c.channel->Abort(MakeError(Errc::kTimeout));
    }
  }

  void WakeSleepers(Conn& c) {
    for (auto* t : c.sleepers) t->cancel();
  }

  // Waits `d` unless the connection closes (false) or something wakes every sleeper (callers
  // re-check their condition).
  asio::awaitable<bool> Sleep(Conn& c, Clock::duration d) {
    if (c.closing || c.end) co_return false;
    asio::steady_timer timer(ex_);
    timer.expires_after(d);
    c.sleepers.push_back(&timer);
    auto [ec] = co_await timer.async_wait(kTuple);
    (void)ec;
    std::erase(c.sleepers, &timer);
    co_return !c.closing && !c.end;
  }

  asio::awaitable<base::Result<Node, IqError>> SendIqOn(std::shared_ptr<Conn> c, Node iq,
                                                        milliseconds timeout,
                                                        Channel::WriteDone on_written = nullptr) {
    if (c->closing || c->end) co_return IqError{IqError::Kind::kDisconnected};
    std::string id(iq.AttrOr("id"));
    if (id.empty()) {
      id = c->ids.Next();
      iq.SetAttr("id", id);
    }
    Waiter waiter(ex_);
    waiter.timer.expires_after(timeout);
    if (!c->waiters.emplace(id, &waiter).second) co_return IqError{IqError::Kind::kCancelled};
    struct Remove {
      Conn& c;
      const std::string& id;
      ~Remove() { c.waiters.erase(id); }
    } remove{*c, id};
    if (auto sent = c->channel->SendTracked(iq, std::move(on_written)); !sent) {
      co_return IqError{IqError::Kind::kDisconnected};
    }
    auto [ec] = co_await waiter.timer.async_wait(kTuple);
    if (waiter.response) {
      if (waiter.response->AttrOr("type") == "error") {
        IqError err{IqError::Kind::kServer};
        if (const Node* e = waiter.response->Child("error")) {
          err.code = ParseInt(e->AttrOr("code"), 0);
          err.text = std::string(e->AttrOr("text"));
        }
        err.node = std::move(*waiter.response);
        co_return err;
      }
      co_return std::move(*waiter.response);
    }
    if (waiter.disconnected) co_return IqError{IqError::Kind::kDisconnected};
    if (!ec) co_return IqError{IqError::Kind::kTimeout};
    co_return IqError{IqError::Kind::kCancelled};
  }

  void Send(Conn& c, const Node& node) {
    if (auto sent = c.channel->Send(node); !sent) {
      spdlog::debug("{}: <{}> not sent: {}", name_, node.tag, sent.error().message());
    }
  }

  // --- incoming stanzas --------------------------------------------------------------------

  void Dispatch(const std::shared_ptr<Conn>& c, const Node& node) {
    if (node.tag == "iq" || node.tag == "ack") {
      std::string_view type = node.AttrOr("type");
      if (node.tag == "ack" || type == "result" || type == "error") {
        std::string_view id = node.AttrOr("id");
        // The server's acks of our receipts carry the message's id: not an answer we wait for.
        if (node.tag == "ack" && node.AttrOr("class") != "message") return;
        if (!c->logout_id.empty() && id == c->logout_id && type == "result") {
          Finish(*c, Outcome{DisconnectReason::kLoggedOut, 401, 0, {}, false, "logout"});
        }
        if (auto it = c->waiters.find(id); it != c->waiters.end()) {
          it->second->response = node;
          it->second->timer.cancel();
        }
        return;
      }
    }
    for (const auto& entry : Handlers()) {
      if (entry.tag == node.tag) {
        (this->*entry.handler)(c, node);
        return;
      }
    }
    spdlog::debug("{}: <{}> left for the layers above", name_, node.tag);
  }

  void OnIq(const std::shared_ptr<Conn>& c, const Node& node) {
    auto from = node.GetJid("from");
    if (!from || !from->IsServer() || node.children().empty()) return;
    std::string_view type = node.AttrOr("type");
    std::string_view child = node.children()[0].tag;
    if (type == "set" && child == "pair-device") {
      OnPairDevice(c, node);
    } else if (type == "set" && child == "pair-success") {
      OnPairSuccess(c, node);
    } else if (type == "get" && child == "ping") {
      // A server-initiated ping (urn:xmpp:ping): answering costs nothing.
      Send(*c, stanzas::IqResult(node.AttrOr("id")));
    } else {
      spdlog::debug("{}: unhandled server iq <{}>", name_, child);
    }
  }

  void OnPairDevice(const std::shared_ptr<Conn>& c, const Node& node) {
    Send(*c, stanzas::IqResult(node.AttrOr("id")));
    if (creds_->paired() || c->pair_device_seen) return;
    std::vector<std::string> refs;
    for (const Node* ref : node.children()[0].ChildrenByTag("ref")) {
      if (auto text = ref->ContentText(); text && !text->empty()) refs.emplace_back(*text);
    }
    if (refs.empty()) {
      Finish(*c, Outcome{DisconnectReason::kBadSession, 500, 0, {}, false, "pair-device without refs"});
      return;
    }
    c->pair_device_seen = true;
    state_ = State::kPairing;
    c->tasks.Spawn(ex_, QrLoop(shared_from_this(), c, std::move(refs)));
  }

  static asio::awaitable<void> QrLoop(std::shared_ptr<Impl> self, std::shared_ptr<Conn> c,
                                      std::vector<std::string> refs) {
    std::string platform = CompanionPlatformId(self->config_.browser);
    for (std::size_t i = 0; i < refs.size(); ++i) {
      if (c->closing || c->end || c->paired) co_return;
      milliseconds ttl = i == 0 ? self->config_.first_qr_ttl : self->config_.next_qr_ttl;
      self->Emit(Qr{MakeQrString(refs[i], self->creds_->noise_key.public_key,
                                 self->creds_->identity_key.public_key, self->creds_->adv_secret,
                                 platform),
                    ttl});
      auto until = Clock::now() + ttl;
      while (Clock::now() < until) {
        if (!co_await self->Sleep(*c, until - Clock::now())) co_return;
        if (c->paired) co_return;
      }
    }
    if (!c->paired) self->Finish(*c, Outcome{DisconnectReason::kQrTimeout, 408, 0, {}, false, "QR refs ran out"});
  }

  void OnPairSuccess(const std::shared_ptr<Conn>& c, const Node& node) {
    std::string id(node.AttrOr("id"));
    const Node& success = node.children()[0];
    const Node* identity_node = success.Child("device-identity");
    const Node* device = success.Child("device");
    auto identity_bytes = identity_node ? identity_node->ContentBytes() : std::nullopt;
    auto jid = device ? device->GetJid("jid") : std::nullopt;
    auto lid = device ? device->GetJid("lid") : std::nullopt;
    auto refuse = [&](int code, std::string_view text, DisconnectReason reason, std::string why) {
      Send(*c, stanzas::IqError(id, code, text));
      Finish(*c, Outcome{reason, code, 0, {}, false, std::move(why)});
    };
    if (creds_->paired()) return;
    if (!identity_bytes || !jid || !jid->IsUser() || jid->device() == 0 || jid->device() > 255) {
      refuse(500, "internal-error", DisconnectReason::kPairingFailed,
             "pair-success lacks device-identity or a device JID");
      return;
    }
    UpdateServerOffset(node);
    auto verified = VerifyDeviceIdentity(*identity_bytes, creds_->adv_secret, creds_->identity_key);
    if (!verified) {
      refuse(verified.error().code, verified.error().text, DisconnectReason::kPairingFailed,
             verified.error().text);
      return;
    }
    Credentials updated = *creds_;
    auto device_id = static_cast<std::uint8_t>(jid->device());
    updated.me = Jid::User(jid->user(), device_id);
    if (lid && lid->IsLid()) updated.lid = Jid::Lid(lid->user(), device_id);
    updated.account = verified->account;
    if (const Node* platform = success.Child("platform")) {
      updated.platform = std::string(platform->AttrOr("name"));
    }
    if (const Node* biz = success.Child("biz")) {
      updated.business_name = std::string(biz->AttrOr("name"));
    }
    // Saved before the reply: once the phone sees pair-device-sign the device is linked, and a
    // crash must not lose what makes us that device.
    if (auto saved = devices_.Save(updated); !saved) {
      refuse(500, "internal-error", DisconnectReason::kStoreFailed,
             "saving the credentials failed: " + saved.error().message());
      return;
    }
    creds_ = std::move(updated);
    TrustPrimaryIdentity(verified->account_signature_key);
    c->paired = true;
    WakeSleepers(*c);
    c->tasks.Spawn(ex_, ConfirmPairing(shared_from_this(), c, std::move(id), verified->key_index,
                                       std::move(verified->reply)));
  }

  // The reply to pair-success goes out only once the credentials are committed.
  static asio::awaitable<void> ConfirmPairing(std::shared_ptr<Impl> self, std::shared_ptr<Conn> c,
                                              std::string id, std::uint32_t key_index,
                                              base::Bytes reply) {
    if (auto committed = co_await self->store_.CommitDurable(); !committed) {
      self->Send(*c, stanzas::IqError(id, 500, "internal-error"));
      self->Finish(*c, Outcome{DisconnectReason::kStoreFailed, 500, 0, {}, false,
                               "committing the credentials failed: " + committed.error().message()});
      co_return;
    }
    if (c->closing || c->end) co_return;
    self->Send(*c, stanzas::PairDeviceSign(id, key_index, reply));
    self->SendUnifiedSession(*c);
    spdlog::info("{}: paired as {}", self->name_, self->creds_->me->ToString());
    self->Emit(Paired{*self->creds_->me, self->creds_->lid.value_or(Jid()), self->creds_->platform,
                      self->creds_->business_name});
  }

  // The primary's identity key, as both references store it: Signal device 0 of the account
  // (under the LID like whatsmeow, and the PN too).
  void TrustPrimaryIdentity(const crypto::Key32& key) {
    auto save = [&](std::string_view user, signal::Domain domain) {
      auto address = signal::Address::ForDevice(user, domain, 0);
      if (!address) return;
      if (auto ok = signal_.SaveIdentity(*address, key); !ok) {
        spdlog::warn("{}: storing the primary's identity failed: {}", name_, ok.error().message());
      }
    };
    if (creds_->lid) save(creds_->lid->user(), signal::Domain::kLid);
    if (creds_->me) save(creds_->me->user(), signal::Domain::kPn);
  }

  void OnSuccess(const std::shared_ptr<Conn>& c, const Node& node) {
    if (!creds_->paired()) {
      spdlog::warn("{}: <success> on a registration connection ignored", name_);
      return;
    }
    UpdateServerOffset(node);
    if (auto lid = node.GetJid("lid"); lid && lid->IsLid()) {
      if (!creds_->lid || creds_->lid->user() != lid->user()) {
        if (creds_->lid) {
          spdlog::warn("{}: the server's LID {} differs from the stored {}", name_,
                       lid->ToString(), creds_->lid->ToString());
        }
        creds_->lid = Jid::Lid(lid->user(), static_cast<std::uint8_t>(creds_->me->device()));
      }
    }
    if (auto saved = devices_.Save(*creds_); !saved) {
      Finish(*c, Outcome{DisconnectReason::kStoreFailed, 0, 0, {}, false, saved.error().message()});
      return;
    }
    c->logged_in = true;
    failures_ = 0;
    state_ = State::kLoggingIn;
    SendUnifiedSession(*c);
    c->tasks.Spawn(ex_, PostLogin(shared_from_this(), c));
  }

  void OnFailure(const std::shared_ptr<Conn>& c, const Node& node) {
    Outcome out = FromFailure(node);
    out.detail = "login failure " + std::string(node.AttrOr("reason"));
    Finish(*c, std::move(out));
  }

  void OnStreamError(const std::shared_ptr<Conn>& c, const Node& node) {
    Outcome out = FromStreamError(node);
    out.detail = "stream error";
    if (!node.children().empty()) out.detail += " <" + node.children()[0].tag + ">";
    Finish(*c, std::move(out));
  }

  void OnStreamEnd(const std::shared_ptr<Conn>& c, const Node&) {
    Finish(*c, Outcome{DisconnectReason::kConnectionClosed, 428, 0, {}, false, "xmlstreamend"});
  }

  void OnIb(const std::shared_ptr<Conn>& c, const Node& node) {
    for (const Node& child : node.children()) {
      if (child.tag == "offline") {
        c->offline_seen = true;
        Emit(OfflineSyncCompleted{ParseInt(child.AttrOr("count"), 0)});
        WakeSleepers(*c);
      } else if (child.tag == "offline_preview") {
        Send(*c, stanzas::OfflineBatch(100));
      } else if (child.tag == "edge_routing") {
        const Node* info = child.Child("routing_info");
        auto bytes = info ? info->ContentBytes() : std::nullopt;
        if (bytes && !bytes->empty() && bytes->size() <= noise::kMaxRoutingInfoSize) {
          creds_->routing_info.assign(bytes->begin(), bytes->end());
          if (auto saved = devices_.Save(*creds_); !saved) {
            spdlog::warn("{}: saving routing info failed: {}", name_, saved.error().message());
          }
        }
      } else if (child.tag == "downgrade_webclient") {
        Finish(*c, Outcome{DisconnectReason::kMultideviceMismatch, 411, 0, {}, false,
                           "downgrade_webclient"});
      } else {
        spdlog::debug("{}: <ib><{}> ignored", name_, child.tag);
      }
    }
  }

  void OnNotification(const std::shared_ptr<Conn>& c, const Node& node) {
    std::string_view type = node.AttrOr("type");
    if (type == "link_code_companion_reg") {
      c->tasks.Spawn(ex_, HandleLinkCode(shared_from_this(), c, node));
    } else if (type == "encrypt") {
      // Prekey-low notification (02-messaging.md §1.3).
      Send(*c, stanzas::Ack(node));
      if (const Node* count = node.Child("count")) {
        int value = ParseInt(count->AttrOr("value"), -1);
        if (value >= 0 && static_cast<std::uint32_t>(value) < config_.prekeys.min_on_server &&
            c->logged_in) {
          c->tasks.Spawn(ex_, UploadTask(shared_from_this(), c, config_.prekeys.top_up));
        }
      }
    } else if (type == "devices") {
      OnInbound(c, node);
    } else {
      // Acknowledged all the same, or the server would deliver it again on every connection.
      spdlog::debug("{}: notification type {} acknowledged, not handled", name_, type);
      Send(*c, stanzas::Ack(node));
    }
  }

  static asio::awaitable<void> HandleLinkCode(std::shared_ptr<Impl> self, std::shared_ptr<Conn> c,
                                              Node node) {
    const Node* reg = node.Child("link_code_companion_reg");
    auto child_bytes = [&](std::string_view tag) -> std::optional<base::ByteView> {
      const Node* n = reg ? reg->Child(tag) : nullptr;
      return n ? n->ContentBytes() : std::nullopt;
    };
    auto ref = child_bytes("link_code_pairing_ref");
    auto wrapped = child_bytes("link_code_pairing_wrapped_primary_ephemeral_pub");
    auto primary_identity = child_bytes("primary_identity_pub");
    std::string problem;
    if (!reg || reg->AttrOr("stage") != "primary_hello") {
      problem = "not a primary_hello";
    } else if (!c->link || c->link->ref.empty()) {
      problem = "no pairing code was requested on this connection";
    } else if (!ref || !std::equal(ref->begin(), ref->end(), c->link->ref.begin(), c->link->ref.end())) {
      problem = "pairing ref mismatch";
    } else if (!wrapped || wrapped->size() != 80 || !primary_identity ||
               primary_identity->size() != 32) {
      problem = "malformed primary_hello";
    }
    if (!problem.empty()) {
      spdlog::warn("{}: link code notification ignored: {}", self->name_, problem);
      self->Send(*c, stanzas::Ack(node));
      co_return;
    }
    auto primary_ephemeral = UnwrapLinkingKey(c->link->code, *wrapped);
    crypto::Key32 primary_identity_key;
    std::copy(primary_identity->begin(), primary_identity->end(), primary_identity_key.begin());
    auto adv_random = crypto::RandomBytes(32);
    auto salt = crypto::RandomBytes(32);
    auto iv = crypto::RandomBytes(12);
    auto finish = primary_ephemeral
                      ? MakeCompanionFinish(c->link->ephemeral.private_key, *primary_ephemeral,
                                            self->creds_->identity_key, primary_identity_key,
                                            adv_random, salt, iv)
                      : base::Result<CompanionFinish>(primary_ephemeral.error());
    self->Send(*c, stanzas::Ack(node));
    if (!finish) {
      spdlog::warn("{}: link code computation failed: {}", self->name_, finish.error().message());
      co_return;
    }
    // The ADV secret that authenticates the coming pair-success; saved with it.
    self->creds_->adv_secret = finish->adv_secret;
    auto r = co_await self->SendIqOn(
        c,
        stanzas::LinkCodeCompanionFinish(c->link->phone, finish->wrapped_key_bundle,
                                         self->creds_->identity_key.public_key, c->link->ref),
        self->config_.timeouts.iq);
    if (!r) spdlog::warn("{}: companion_finish failed: {}", self->name_, r.error().Describe());
  }

  // --- after login ---------------------------------------------------------------------------

  static asio::awaitable<void> PostLogin(std::shared_ptr<Impl> self, std::shared_ptr<Conn> c) {
    if (auto committed = co_await self->store_.CommitDurable(); !committed) {
      self->Finish(*c, Outcome{DisconnectReason::kStoreFailed, 0, 0, {}, false,
                               committed.error().message()});
      co_return;
    }
    co_await self->UploadPreKeysIfNeeded(c);
    if (c->closing || c->end) co_return;
    auto active = co_await self->SendIqOn(c, stanzas::Passive(true), self->config_.timeouts.iq);
    if (!active) spdlog::warn("{}: passive/active iq failed: {}", self->name_, active.error().Describe());
    if (self->config_.prekeys.check_digest && !c->closing && !c->end) {
      auto digest = co_await self->SendIqOn(c, stanzas::Digest(), self->config_.timeouts.iq);
      if (digest && !digest->Child("digest")) {
        // The server does not know our key bundle: upload again (Baileys).
        spdlog::warn("{}: the server has no key-bundle digest; uploading prekeys", self->name_);
        co_await self->UploadPreKeys(c, self->config_.prekeys.top_up);
      } else if (!digest) {
        spdlog::warn("{}: digest iq failed: {}", self->name_, digest.error().Describe());
      }
    }
    // Connected means caught up: wait for the end of the offline backlog.
    auto until = Clock::now() + self->config_.timeouts.offline_backlog;
    while (!c->offline_seen && Clock::now() < until) {
      if (!co_await self->Sleep(*c, until - Clock::now())) co_return;
    }
    if (c->closing || c->end) co_return;
    if (!c->offline_seen) spdlog::warn("{}: no <ib><offline/> after login", self->name_);
    self->state_ = State::kConnected;
    self->Emit(Connected{});
  }

  asio::awaitable<void> UploadPreKeysIfNeeded(std::shared_ptr<Conn> c) {
    auto r = co_await SendIqOn(c, stanzas::PreKeyCount(), config_.timeouts.iq);
    if (!r) {
      spdlog::warn("{}: prekey count failed: {}", name_, r.error().Describe());
      co_return;
    }
    const Node* count_node = r->Child("count");
    int count = count_node ? ParseInt(count_node->AttrOr("value"), -1) : -1;
    if (count < 0) {
      spdlog::warn("{}: prekey count answer has no count", name_);
      co_return;
    }
    std::uint32_t want = 0;
    if (count == 0) {
      want = config_.prekeys.initial_upload;
    } else if (static_cast<std::uint32_t>(count) < config_.prekeys.min_on_server) {
      want = config_.prekeys.top_up;
    }
    spdlog::debug("{}: server holds {} prekeys; uploading {}", name_, count, want);
    if (want > 0) co_await UploadPreKeys(c, want);
  }

  static asio::awaitable<void> UploadTask(std::shared_ptr<Impl> self, std::shared_ptr<Conn> c,
                                          std::uint32_t count) {
    co_await self->UploadPreKeys(c, count);
  }

  // Uploads `count` one-time prekeys: first those generated earlier but never acknowledged,
  // then new ones. Keys are in the Signal store and the counters saved before the upload, so a
  // crash never reuses an id; first_unuploaded moves only when the server confirmed.
  asio::awaitable<void> UploadPreKeys(std::shared_ptr<Conn> c, std::uint32_t count) {
    if (c->uploading || count == 0) co_return;
    c->uploading = true;
    struct Reset {
      Conn& c;
      ~Reset() { c.uploading = false; }
    } reset{*c};
    std::vector<signal::PreKey> keys;
    keys.reserve(count);
    std::uint32_t id = creds_->first_unuploaded_pre_key_id;
    const std::uint32_t next = creds_->next_pre_key_id;
    bool fresh = id == next;
    for (std::uint32_t i = 0; i < count; ++i) {
      if (id == next) fresh = true;
      std::optional<signal::PreKey> key;
      if (!fresh) {
        auto loaded = signal_.LoadPreKey(id);
        if (!loaded) {
          Finish(*c, Outcome{DisconnectReason::kStoreFailed, 0, 0, {}, false, loaded.error().message()});
          co_return;
        }
        key = std::move(*loaded);
      }
      if (!key) {
        key = signal::PreKey{id, crypto::GenerateKeyPair()};
        if (auto stored = signal_.StorePreKey(*key); !stored) {
          Finish(*c, Outcome{DisconnectReason::kStoreFailed, 0, 0, {}, false, stored.error().message()});
          co_return;
        }
      }
      keys.push_back(*key);
      id = signal::NextPreKeyId(id);
    }
    if (fresh) {
      Credentials updated = *creds_;
      updated.next_pre_key_id = id;
      if (auto saved = devices_.Save(updated); !saved) {
        Finish(*c, Outcome{DisconnectReason::kStoreFailed, 0, 0, {}, false, saved.error().message()});
        co_return;
      }
      creds_ = std::move(updated);
    }
    // The private keys are durable before the server can hand their public halves out.
    if (auto committed = co_await store_.CommitDurable(); !committed) {
      Finish(*c, Outcome{DisconnectReason::kStoreFailed, 0, 0, {}, false, committed.error().message()});
      co_return;
    }
    Node upload = stanzas::PreKeyUpload(creds_->registration_id,
                                        creds_->identity_key.public_key, keys,
                                        creds_->signed_pre_key);
    keys.clear();
    keys.shrink_to_fit();
    milliseconds timeout = std::min(config_.timeouts.iq, milliseconds(30'000));
    for (int attempt = 0;; ++attempt) {
      upload.SetAttr("id", "");
      auto r = co_await SendIqOn(c, upload, timeout);
      if (r) {
        creds_->first_unuploaded_pre_key_id = id;
        if (auto saved = devices_.Save(*creds_); !saved) {
          spdlog::warn("{}: saving the prekey counter failed: {}", name_, saved.error().message());
        } else if (auto committed = co_await store_.Commit(); !committed) {
          spdlog::warn("{}: committing the prekey counter failed: {}", name_,
                       committed.error().message());
        }
        spdlog::info("{}: uploaded {} prekeys", name_, count);
        co_return;
      }
      spdlog::warn("{}: prekey upload failed: {}", name_, r.error().Describe());
      if (attempt >= 3 || r.error().kind == IqError::Kind::kDisconnected ||
          r.error().kind == IqError::Kind::kCancelled) {
        co_return;
      }
      // Baileys' retry schedule: 1 s, 2 s, 4 s.
      if (!co_await Sleep(*c, milliseconds(std::min(1000 << attempt, 10'000)))) co_return;
    }
  }

  // --- keepalive -----------------------------------------------------------------------------

  milliseconds KeepAliveInterval() const {
    auto lo = config_.timeouts.keepalive_min.count();
    auto hi = std::max(config_.timeouts.keepalive_max.count(), lo);
    return milliseconds(lo + static_cast<std::int64_t>(Random01() * static_cast<double>(hi - lo)));
  }

  // Pings at random intervals and ends the connection when no frame arrived within
  // keepalive_max + grace, or when a write stalls for longer than the send timeout.
  static asio::awaitable<void> KeepAlive(std::shared_ptr<Impl> self, std::shared_ptr<Conn> c) {
    const auto& t = self->config_.timeouts;
    auto next_ping = Clock::now() + self->KeepAliveInterval();
    while (!c->closing && !c->end) {
      auto now = Clock::now();
      auto dead_at = c->last_frame + t.keepalive_max + t.keepalive_grace;
      if (now >= dead_at) {
        self->Finish(*c, Outcome{DisconnectReason::kConnectionLost, 408, 0, {}, false,
                                 "no frame within the keepalive window"},
                     false);
        co_return;
      }
      auto write_started = c->channel->write_started();
      if (write_started && now - *write_started >= t.send) {
        self->Finish(*c, Outcome{DisconnectReason::kConnectionLost, 408, 0, {}, false,
                                 "a write stalled"},
                     false);
        co_return;
      }
      if (now >= next_ping) {
        c->tasks.Spawn(self->ex_, Ping(self, c));
        next_ping = now + self->KeepAliveInterval();
      }
      auto wake = std::min(next_ping, dead_at);
      if (write_started) wake = std::min(wake, *write_started + t.send);
      if (!co_await self->Sleep(*c, wake - now)) co_return;
    }
  }

  static asio::awaitable<void> Ping(std::shared_ptr<Impl> self, std::shared_ptr<Conn> c) {
    auto r = co_await self->SendIqOn(c, stanzas::Ping(), self->config_.timeouts.ping);
    if (r) {
      if (c->ping_failures > 0) {
        c->ping_failures = 0;
        self->Emit(KeepAliveRestored{});
      }
    } else if (r.error().kind == IqError::Kind::kTimeout) {
      ++c->ping_failures;
      self->Emit(KeepAliveTimeout{c->ping_failures});
    }
  }

  // --- messaging: common ---------------------------------------------------------------------

 public:
  void SetMessageHandler(MessageHandler handler) { message_handler_ = std::move(handler); }
  void SetHistoryHandler(HistoryHandler handler) { history_handler_ = std::move(handler); }

 private:
  // The logged-in connection, or null.
  std::shared_ptr<Conn> LiveConnection() const {
    auto c = current_;
    if (!c || !c->logged_in || c->end || c->closing || !creds_ || !creds_->me) return nullptr;
    return c;
  }

  bool IsMe(const Jid& jid) const {
    if (!creds_ || !creds_->me) return false;
    if (jid.IsUser()) return jid.user() == creds_->me->user();
    if (jid.IsLid()) return creds_->lid && jid.user() == creds_->lid->user();
    return false;
  }

  static base::Result<signal::Address> AddressOf(const Jid& device) {
    return signal::Address::ForDevice(device.user(), device.server(), device.device());
  }

  // PN <-> LID pairs live in the ContactStore (durable with the next Commit). A pair already
  // known is not written again: every message from a LID sender repeats it.
  void LearnLid(const Jid& pn_user, const Jid& lid_user) {
    if (!pn_user.IsUser() || !lid_user.IsLid() || lid_user.user().empty()) return;
    auto known = contacts_.GetLidOfPn(pn_user.user());
    if (known && *known == lid_user.user()) return;
    if (auto put = contacts_.PutLidMapping(pn_user.user(), lid_user.user()); !put) {
      spdlog::warn("{}: cannot record the LID of {}: {}", name_, pn_user.ToString(),
                   put.error().message());
    }
  }

  std::optional<Jid> LidOf(const Jid& user) {
    if (user.IsLid()) return user.ToNonAd();
    if (!user.IsUser()) return std::nullopt;
    auto lid = contacts_.GetLidOfPn(user.user());
    if (!lid || !*lid) return std::nullopt;
    return Jid::Lid(**lid);
  }

  std::optional<Jid> PnOf(const Jid& user) {
    if (user.IsUser()) return user.ToNonAd();
    if (!user.IsLid()) return std::nullopt;
    auto pn = contacts_.GetPnOfLid(user.user());
    if (!pn || !*pn) return std::nullopt;
    return Jid::User(**pn);
  }

  void InvalidateDevices(const Jid& user) {
    if (auto r = contacts_.InvalidateDeviceList(user.ToNonAd().ToString()); !r) {
      spdlog::warn("{}: cannot forget the devices of {}: {}", name_, user.ToString(),
                   r.error().message());
    }
  }

  // <ack class="message"> as Baileys' buildAckStanza: the stanza's attributes, our device JID,
  // and the nack code when there is one.
  Node MessageAckStanza(const Node& message, int error = 0) const {
    Node ack = stanzas::Ack(message);
    if (creds_ && creds_->me) ack.SetAttr("from", *creds_->me);
    if (error != 0) ack.SetAttr("error", std::to_string(error));
    return ack;
  }

  // Prefetch is an optimisation: a failure only means the synchronous reads go to the database.
  asio::awaitable<void> PrefetchFor(const PrefetchRequest& request) {
    auto r = co_await store_.Prefetch(request);
    if (!r) spdlog::debug("{}: prefetch failed: {}", name_, r.error().message());
  }

  // The device lists of `users`, from the ContactStore or one usync query for the missing
  // ones (whose answers are stored, durable with the send's Commit).
  asio::awaitable<base::Result<std::map<std::string, std::vector<std::uint16_t>>>> GetDevices(
      std::shared_ptr<Conn> c, std::vector<Jid> users) {
    PrefetchRequest prefetch;
    for (const Jid& user : users) prefetch.device_lists.push_back(user.ToString());
    co_await PrefetchFor(prefetch);
    std::map<std::string, std::vector<std::uint16_t>> out;
    std::vector<Jid> missing;
    for (const Jid& user : users) {
      std::string key = user.ToString();
      auto cached = contacts_.GetDeviceList(key);
      if (cached && *cached) {
        out[key] = std::move((*cached)->devices);
      } else if (std::find(missing.begin(), missing.end(), user) == missing.end()) {
        missing.push_back(user);
      }
    }
    if (missing.empty()) co_return out;
    Node query = UsyncDevicesQuery(missing, c->ids.Next());
    auto r = co_await SendIqOn(c, std::move(query), config_.timeouts.iq);
    if (!r) co_return r.error().ToErrorCode();
    auto parsed = ParseUsyncDevices(*r);
    if (!parsed) co_return parsed.error();
    PrefetchRequest learnt;
    for (const auto& entry : *parsed) {
      if (!entry.lid) continue;
      learnt.lids_of_pns.push_back(entry.user.user());
      learnt.pns_of_lids.push_back(entry.lid->user());
    }
    co_await PrefetchFor(learnt);
    for (auto& entry : *parsed) {
      if (entry.lid) LearnLid(entry.user, *entry.lid);
      std::string key = entry.user.ToString();
      DeviceList list{entry.devices, entry.key_index_ts, NowUnixMs()};
      if (auto put = contacts_.PutDeviceList(key, list); !put) {
        spdlog::warn("{}: cannot store the devices of {}: {}", name_, key, put.error().message());
      }
      out[key] = std::move(entry.devices);
    }
    co_return out;
  }

  // Builds sessions for `devices` that have none (all of them when `force`: a fresh session
  // replaces the current one, which libsignal archives), from one prekey-bundle query (with
  // reason="identity" when forced, as Baileys' assertSessions). Devices whose bundle could not be
  // had keep what they had (the caller skips those without a session).
  asio::awaitable<void> EnsureSessions(std::shared_ptr<Conn> c, std::vector<Jid> devices,
                                       bool force) {
    std::vector<Jid> missing;
    for (const Jid& device : devices) {
      auto address = AddressOf(device);
      if (!address) continue;
      auto has = protocol_.HasSession(*address);
      if (force || (has && !*has)) missing.push_back(device);
    }
    if (missing.empty()) co_return;
    Node query = PreKeyBundleQuery(missing, force);
    auto r = co_await SendIqOn(c, std::move(query), config_.timeouts.iq);
    if (!r) {
      spdlog::warn("{}: prekey bundle fetch failed: {}", name_, r.error().Describe());
      co_return;
    }
    auto bundles = ParsePreKeyBundles(*r);
    if (!bundles) {
      spdlog::warn("{}: malformed prekey bundle answer", name_);
      co_return;
    }
    for (const auto& fetched : *bundles) {
      auto address = AddressOf(fetched.jid);
      if (!address || !fetched.bundle) {
        spdlog::info("{}: no bundle for {}", name_, fetched.jid.ToString());
        continue;
      }
      if (auto built = protocol_.ProcessPreKeyBundle(*address, *fetched.bundle); !built) {
        spdlog::warn("{}: bundle of {} refused: {}", name_, fetched.jid.ToString(),
                     built.error().message());
      }
    }
  }

  struct Encrypted {
    Node to;
    bool pkmsg = false;
  };

  base::Result<Encrypted> EncryptFor(const Jid& device, base::ByteView message) {
    auto address = AddressOf(device);
    if (!address) return address.error();
    std::uint8_t random[1];
    crypto::RandomBytes(random);
    base::Bytes padded = PadMessage(message, random[0]);
    auto enc = protocol_.Encrypt(*address, padded);
    if (!enc) return enc.error();
    Encrypted out;
    out.pkmsg = enc->type == signal::MessageType::kPkMsg;
    out.to = Node("enc", {{"v", "2"}, {"type", std::string(signal::EncType(enc->type))}},
                  std::move(enc->ciphertext));
    return out;
  }

  // --- messaging: sending ----------------------------------------------------------------------

 public:
  asio::awaitable<base::Result<SentMessage>> DoSendText(SendTextRequest request) {
    auto c = LiveConnection();
    if (!c) co_return MakeError(Errc::kNotConnected);
    auto to = ParseRecipient(request.to);
    if (!to) co_return to.error();
    TextExtras extras;
    extras.quoted = std::move(request.quoted);
    if (extras.quoted && !extras.quoted->participant.empty()) {
      auto participant = ParseRecipient(extras.quoted->participant);
      if (!participant) co_return participant.error();
      extras.quoted->participant = participant->ToString();
    }
    for (const auto& mention : request.mentions) {
      auto jid = ParseRecipient(mention);
      if (!jid) co_return jid.error();
      extras.mentions.push_back(jid->ToString());
    }
    std::string id = request.id.empty() ? NewMessageId(creds_->me->user(), NowUnixMs() / 1000)
                                        : std::move(request.id);
    auto secret = crypto::RandomBytes(32);
    proto::Message message = BuildTextMessage(request.text, extras, secret);
    // Named arguments: GCC 12 mishandles temporaries built inside a co_await expression.
    std::string type = "text";
    Jid recipient = *to;
    Channel::WriteDone on_written = std::move(request.on_written);
    co_return co_await SendMessage(c, std::move(recipient), std::move(id), std::move(message),
                                   std::move(type), std::move(on_written));
  }

  asio::awaitable<base::Result<std::vector<ContactStatus>>> DoOnWhatsApp(
      std::vector<std::string> phones) {
    auto c = LiveConnection();
    if (!c) co_return MakeError(Errc::kNotConnected);
    std::vector<std::string> digits;
    for (const auto& phone : phones) {
      std::string d = NormalizePhone(phone);
      if (d.empty()) co_return MakeError(Errc::kInvalidPhone);
      digits.push_back(std::move(d));
    }
    if (digits.empty()) co_return std::vector<ContactStatus>{};
    Node query = UsyncContactQuery(digits, c->ids.Next());
    auto r = co_await SendIqOn(c, std::move(query), config_.timeouts.iq);
    if (!r) co_return r.error().ToErrorCode();
    co_return ParseUsyncContacts(*r, digits);
  }

  base::Result<void> DoSendChatState(const std::string& to, ChatStateKind state) {
    auto c = LiveConnection();
    if (!c) return MakeError(Errc::kNotConnected);
    auto jid = ParseRecipient(to);
    if (!jid) return jid.error();
    // From our device JID in the chat's addressing (LID when writing to a LID).
    Jid from = jid->IsLid() && creds_->lid ? *creds_->lid : *creds_->me;
    Node child = state == ChatStateKind::kPaused ? Node("paused") : Node("composing");
    if (state == ChatStateKind::kRecording) child.SetAttr("media", "audio");
    return c->channel->Send(
        Node("chatstate", {{"from", from}, {"to", *jid}}, Node::Children{std::move(child)}));
  }

  base::Result<void> DoMarkRead(const std::string& chat, const std::string& sender,
                                const std::vector<std::string>& ids) {
    auto c = LiveConnection();
    if (!c) return MakeError(Errc::kNotConnected);
    if (ids.empty()) return {};
    auto chat_jid = Jid::Parse(chat);
    if (!chat_jid || chat_jid->user().empty()) {
      auto user = ParseRecipient(chat);
      if (!user) return user.error();
      chat_jid = *user;
    }
    Node receipt("receipt", {{"id", ids[0]}, {"to", chat_jid->ToNonAd()}, {"type", "read"},
                             {"t", std::to_string(NowUnixMs() / 1000)}});
    // The author is named only in groups (Baileys' readMessages, whatsmeow's MarkRead).
    if (!sender.empty() && (chat_jid->IsGroup() || chat_jid->IsBroadcast())) {
      auto author = Jid::Parse(sender);
      if (!author) return MakeError(Errc::kInvalidRecipient);
      receipt.SetAttr("participant", *author);
    }
    if (ids.size() > 1) {
      Node::Children items;
      for (std::size_t i = 1; i < ids.size(); ++i) items.push_back(Node("item", {{"id", ids[i]}}));
      receipt.content = Node::Children{Node("list", {}, std::move(items))};
    }
    return c->channel->Send(receipt);
  }

 private:
  // Fans `message` out to every device of `to` and our own other devices (the latter get the
  // DeviceSentMessage copy), then waits for the server's ack.
  asio::awaitable<base::Result<SentMessage>> SendMessage(std::shared_ptr<Conn> c, Jid to,
                                                          std::string id, proto::Message message,
                                                          std::string type,
                                                          Channel::WriteDone on_written = nullptr) {
    Jid me = to.IsLid() && creds_->lid ? creds_->lid->ToNonAd() : creds_->me->ToNonAd();
    std::uint16_t my_device = creds_->me->device();
    std::vector<Jid> users{to, me};
    auto devices = co_await GetDevices(c, users);
    if (!devices) co_return devices.error();
    std::vector<Jid> peers, own;
    for (std::uint16_t d : (*devices)[to.ToString()]) {
      peers.push_back(to.WithDevice(static_cast<std::uint8_t>(d)));
    }
    if (!IsMe(to)) {
      for (std::uint16_t d : (*devices)[me.ToString()]) {
        if (d != my_device) own.push_back(me.WithDevice(static_cast<std::uint8_t>(d)));
      }
    }
    if (peers.empty()) co_return MakeError(Errc::kNoDevices);
    std::vector<Jid> all = peers;
    all.insert(all.end(), own.begin(), own.end());

    PrefetchRequest prefetch;
    for (const Jid& device : all) {
      if (auto address = AddressOf(device)) prefetch.addresses.push_back(*address);
    }
    co_await PrefetchFor(prefetch);
    co_await EnsureSessions(c, all, false);

    std::string plain, copy;
    message.SerializeToString(&plain);
    WrapDeviceSent(message, to).SerializeToString(&copy);
    Node::Children participants;
    bool any_pkmsg = false;
    for (const Jid& device : all) {
      bool is_own = std::find(own.begin(), own.end(), device) != own.end();
      auto enc = EncryptFor(device, base::ToBytes(is_own ? copy : plain));
      if (!enc) {
        spdlog::info("{}: not encrypting {} for {}: {}", name_, id, device.ToString(),
                     enc.error().message());
        continue;
      }
      any_pkmsg |= enc->pkmsg;
      participants.push_back(Node("to", {{"jid", device}}, Node::Children{std::move(enc->to)}));
    }
    if (participants.empty()) co_return MakeError(Errc::kEncryptionFailed);
    // The plaintext is kept for retry receipts, also across restarts: it is committed with the
    // ratchet steps, before the ciphertexts leave.
    if (auto put = contacts_.PutSentMessage(id, SentMessageRecord{to.ToString(), type, plain,
                                                                  NowUnixMs()});
        !put) {
      spdlog::warn("{}: cannot keep {} for retries: {}", name_, id, put.error().message());
    }
    if (auto committed = co_await store_.Commit(); !committed) co_return committed.error();
    Node stanza("message", {{"id", id}, {"to", to}, {"type", type}},
                Node::Children{Node("participants", {}, std::move(participants))});
    if (any_pkmsg) stanza.mutable_children()->push_back(Node("device-identity", {}, creds_->account));
    sent_[id] = SentRecord{to, type, std::move(plain)};
    if (c->closing || c->end) co_return MakeError(Errc::kDisconnected);
    auto ack = co_await SendIqOn(c, std::move(stanza), config_.timeouts.iq, std::move(on_written));
    if (!ack) co_return ack.error().ToErrorCode();
    if (auto error = ack->GetAttr("error")) {
      int code = ParseInt(*error, -1);
      Emit(MessageAck{id, to, code});
      // A refusal may mean our device lists are stale (479): ask again next time.
      InvalidateDevices(to);
      InvalidateDevices(me);
      if (auto committed = co_await store_.Commit(); !committed) {
        spdlog::warn("{}: commit after a refused send failed: {}", name_,
                     committed.error().message());
      }
      co_return MakeError(Errc::kMessageRejected);
    }
    std::int64_t t = 0;
    if (auto text = ack->GetAttr("t")) {
      std::from_chars(text->data(), text->data() + text->size(), t);
    }
    Emit(MessageAck{id, to, std::nullopt});
    co_return SentMessage{id, t};
  }

  // --- messaging: receiving --------------------------------------------------------------------

  void OnInbound(const std::shared_ptr<Conn>& c, const Node& node) {
    c->inbox.push_back(Conn::Inbound{node, c->read_unix_ms});
    if (c->inbox_running) return;
    c->inbox_running = true;
    c->tasks.Spawn(ex_, InboxWorker(shared_from_this(), c));
  }

  static asio::awaitable<void> InboxWorker(std::shared_ptr<Impl> self, std::shared_ptr<Conn> c) {
    while (!c->inbox.empty() && !c->closing && !c->end) {
      if (c->inbox.front().node.tag == "message") {
        // Every message waiting at the front, in order: they share one store write and one
        // commit of their ratchet steps (HandleMessages).
        std::vector<Conn::Inbound> batch;
        while (!c->inbox.empty() && c->inbox.front().node.tag == "message" &&
               batch.size() < kMessageBatch) {
          batch.push_back(std::move(c->inbox.front()));
          c->inbox.pop_front();
        }
        auto handle = self->HandleMessages(c, std::move(batch));
        co_await std::move(handle);
        continue;
      }
      Conn::Inbound in = std::move(c->inbox.front());
      c->inbox.pop_front();
      const Node& node = in.node;
      if (node.tag == "receipt") {
        co_await self->HandleReceipt(c, node);
      } else if (node.tag == "notification") {
        co_await self->HandleDevicesNotification(c, node);
      }
    }
    c->inbox_running = false;
  }

  // One <enc> decrypted without writing anything: BeforeCommit keeps the plaintext and stops
  // the call before the ratchet moves. The real decryption runs once the owner has the message.
  base::Result<base::Bytes> DecryptDry(signal::MessageType type, const std::string& group,
                                       const signal::Address& address, base::ByteView bytes) {
    base::Bytes plain;
    const base::error_code stop = MakeError(Errc::kCancelled);
    signal::BeforeCommit keep = [&plain, &stop](base::ByteView p) {
      plain.assign(p.begin(), p.end());
      return stop;
    };
    if (type == signal::MessageType::kSkMsg) {
      auto r = protocol_.GroupDecrypt(group, address, bytes, keep);
      if (r) return std::move(*r);  // cannot happen: the hook always stops
      if (r.error() == stop) return plain;
      return r.error();
    }
    auto r = protocol_.Decrypt(address, type, bytes, keep);
    if (r) return std::move(r->plaintext);
    if (r.error() == stop) return plain;
    return r.error();
  }

  base::error_code DecryptForReal(signal::MessageType type, const std::string& group,
                                  const signal::Address& address, base::ByteView bytes) {
    if (type == signal::MessageType::kSkMsg) {
      auto r = protocol_.GroupDecrypt(group, address, bytes);
      return r ? base::error_code() : r.error();
    }
    auto r = protocol_.Decrypt(address, type, bytes);
    return r ? base::error_code() : r.error();
  }

  // Messages handled together (InboxWorker): at most this many per store write.
  static constexpr std::size_t kMessageBatch = 64;

  // One <enc> of a message, decrypted in pass 1 (bytes point into the stanza).
  struct Part {
    signal::MessageType type;
    base::ByteView bytes;
  };

  // A message decrypted without moving any ratchet, waiting for its owner and pass 2.
  struct Prepared {
    std::string id;
    std::string group_id;
    signal::Address address;
    std::vector<Part> parts;
    Node receipt;
    bool history = false;  // our phone's history sync notification
    proto::Message::HistorySyncNotification history_notification;
    Message event;
    std::string key;  // received_ key
    bool deliver = false;
    bool refused = false;  // the owner's handler failed: not acknowledged, ratchet untouched
  };

  // Pass 1 for each message of `batch`, then the owner's handler for all of them at once (so
  // their store writes share one transaction), then pass 2 (the ratchet steps) for each and one
  // commit, then the receipts and events in arrival order. A message whose handler fails is not
  // acknowledged and its ratchet does not move: the server delivers it again (a later message
  // of the same chain keeps its skipped key).
  asio::awaitable<void> HandleMessages(std::shared_ptr<Conn> c, std::vector<Conn::Inbound> batch) {
    std::vector<Prepared> ready;
    ready.reserve(batch.size());
    std::unordered_set<std::string> keys;
    for (const Conn::Inbound& in : batch) {
      auto prepare = PrepareMessage(c, in.node, in.read_unix_ms);
      auto prepared = co_await std::move(prepare);
      if (!prepared) continue;
      // A redelivery of a message of this same batch: decrypted twice, delivered once.
      prepared->deliver = prepared->deliver && keys.insert(prepared->key).second;
      ready.push_back(std::move(*prepared));
    }
    if (ready.empty()) co_return;
    if (message_handler_) {
      auto handle = RunMessageHandlers(ready);
      co_await std::move(handle);
    }
    bool any = false;
    for (const Prepared& p : ready) {
      if (p.refused) continue;
      any = true;
      for (const Part& part : p.parts) {
        if (auto ec = DecryptForReal(part.type, p.group_id, p.address, part.bytes)) {
          spdlog::error("{}: decrypting {} again failed: {}", name_, p.id, ec.message());
        }
      }
    }
    if (!any) co_return;
    // The owner has the messages (its handler succeeded): their events go out now, in order.
    std::vector<Acknowledgement> acks;
    for (Prepared& p : ready) {
      if (p.refused) continue;
      acks.push_back(Acknowledgement{p.id, std::move(p.receipt), p.history,
                                     std::move(p.history_notification)});
      if (!p.deliver) continue;
      received_.Insert(p.key);
      Emit(std::move(p.event));
    }
    // The ratchet steps commit while the next messages are handled: only the receipts wait for
    // that commit. Later batches see the steps in memory, and their own commits carry them too.
    c->tasks.Spawn(ex_, Acknowledge(shared_from_this(), c, std::move(acks)));
  }

  struct Acknowledgement {
    std::string id;
    Node receipt;
    bool history = false;
    proto::Message::HistorySyncNotification history_notification;
  };

  // Receipts once the ratchet steps of their messages are durable. Without that commit the
  // stanzas stay unacknowledged: the server delivers them again, and a later Commit that
  // succeeds makes those redeliveries duplicates (the owner does not get them twice).
  static asio::awaitable<void> Acknowledge(std::shared_ptr<Impl> self, std::shared_ptr<Conn> c,
                                           std::vector<Acknowledgement> acks) {
    auto committed = co_await self->store_.Commit();
    if (!committed) {
      spdlog::error("{}: commit failed; {} message(s) stay unacknowledged: {}", self->name_,
                    acks.size(), committed.error().message());
      co_return;
    }
    for (Acknowledgement& a : acks) {
      self->Send(*c, a.receipt);
      if (a.history) self->OnHistoryNotification(c, a.id, a.history_notification);
    }
  }

  // The owner's handler for every message of the batch that is new to it, concurrently.
  asio::awaitable<void> RunMessageHandlers(std::vector<Prepared>& ready) {
    auto ex = co_await asio::this_coro::executor;
    using Op = decltype(asio::co_spawn(ex, message_handler_(ready.front().event), asio::deferred));
    std::vector<Op> ops;
    std::vector<Prepared*> owners;
    for (Prepared& p : ready) {
      if (!p.deliver) continue;
      ops.push_back(asio::co_spawn(ex, message_handler_(p.event), asio::deferred));
      owners.push_back(&p);
    }
    if (ops.empty()) co_return;
    auto group = asio::experimental::make_parallel_group(std::move(ops));
    auto waited = group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    auto [order, errors, results] = co_await std::move(waited);
    for (std::size_t i = 0; i < owners.size(); ++i) {
      if (errors[i] || !results[i]) {
        // Not acknowledged, nothing committed: the server delivers it again.
        std::string why = errors[i] ? "an exception" : results[i].error().message();
        spdlog::warn("{}: the message handler refused {}: {}", name_, owners[i]->id, why);
        owners[i]->refused = true;
      }
    }
  }

  // Pass 1 of one message: everything up to its owner, without moving a ratchet. Messages that
  // need no owner (placeholders, failures answered with a retry receipt, redeliveries) are
  // answered here and yield nothing.
  asio::awaitable<std::optional<Prepared>> PrepareMessage(std::shared_ptr<Conn> c, const Node& node,
                                                          std::int64_t read_unix_ms) {
    std::string id(node.AttrOr("id"));
    auto from = node.GetJid("from");
    if (id.empty() || !from) {
      Send(*c, MessageAckStanza(node, 488));
      co_return std::nullopt;
    }
    bool group = from->IsGroup() || from->IsBroadcast();
    std::optional<Jid> author = group ? node.GetJid("participant") : from;
    auto recipient = node.GetJid("recipient");
    if (!author || author->user().empty()) {
      Send(*c, MessageAckStanza(node, 488));
      co_return std::nullopt;
    }
    bool from_me = IsMe(*author);
    Jid chat = group ? from->ToNonAd()
                     : (from_me && recipient ? recipient->ToNonAd() : from->ToNonAd());
    // PN <-> LID pairs the stanza teaches (02-messaging.md §2.4), learnt once their current
    // values are prefetched.
    std::vector<std::pair<Jid, Jid>> pairs;
    for (std::string_view key : {"sender_lid", "participant_lid"}) {
      if (auto lid = node.GetJid(key); lid && author->IsUser()) {
        pairs.emplace_back(author->ToNonAd(), lid->ToNonAd());
      }
    }
    for (std::string_view key : {"sender_pn", "participant_pn"}) {
      if (auto pn = node.GetJid(key); pn && author->IsLid()) {
        pairs.emplace_back(pn->ToNonAd(), author->ToNonAd());
      }
    }
    auto learn = [&] {
      for (const auto& [pn, lid] : pairs) LearnLid(pn, lid);
    };
    auto address = AddressOf(*author);
    auto encs = node.ChildrenByTag("enc");
    if (!address || encs.empty()) {
      // Nothing we can decrypt (a placeholder, or a sender we cannot address): seen, acked.
      learn();
      Send(*c, MessageAckStanza(node));
      co_return std::nullopt;
    }
    std::string group_id = chat.ToString();

    PrefetchRequest prefetch;
    prefetch.addresses.push_back(*address);
    for (const auto& [pn, lid] : pairs) {
      prefetch.lids_of_pns.push_back(pn.user());
      prefetch.pns_of_lids.push_back(lid.user());
    }
    if (author->IsUser()) prefetch.lids_of_pns.push_back(author->user());
    if (author->IsLid()) prefetch.pns_of_lids.push_back(author->user());
    for (const Node* enc : encs) {
      auto bytes = enc->ContentBytes();
      if (!bytes) continue;
      if (enc->AttrOr("type") == "pkmsg") {
        if (auto pre_key = signal::PreKeyMessagePreKeyId(*bytes); pre_key && *pre_key) {
          prefetch.pre_key_ids.push_back(**pre_key);
        }
      } else if (enc->AttrOr("type") == "skmsg") {
        prefetch.sender_keys.push_back(SenderKeyId{group_id, *address});
      }
    }
    co_await PrefetchFor(prefetch);
    learn();

    // Pass 1: decrypt without moving any ratchet.
    std::vector<Part> parts;
    proto::Message content;
    bool duplicate = false;
    base::error_code failure;
    bool state_written = false;
    for (const Node* enc : encs) {
      auto type = signal::ParseEncType(enc->AttrOr("type"));
      auto bytes = enc->ContentBytes();
      if (!type || !bytes) continue;  // msmsg and other kinds we do not read
      auto plain = DecryptDry(*type, group_id, *address, *bytes);
      if (!plain) {
        if (plain.error() == signal::Errc::kDuplicateMessage) {
          duplicate = true;
        } else {
          failure = plain.error();
          spdlog::info("{}: cannot decrypt {} {} from {}: {}", name_, enc->AttrOr("type"), id,
                       author->ToString(), plain.error().message());
        }
        continue;
      }
      auto body = UnpadMessage(*plain);
      proto::Message part;
      if (!body || !part.ParseFromArray(body->data(), static_cast<int>(body->size()))) {
        failure = MakeError(Errc::kProtocol);
        spdlog::info("{}: message {} from {} is not a padded Message", name_, id,
                     author->ToString());
        continue;
      }
      if (part.has_sender_key_distribution_message() && group) {
        // Installing a sender key is idempotent, so it may happen before the owner has the
        // message: a redelivery installs it again.
        const auto& skdm = part.sender_key_distribution_message();
        auto bytes_skdm = base::ToBytes(skdm.axolotl_sender_key_distribution_message());
        auto installed = protocol_.ProcessSenderKeyDistribution(group_id, *address, bytes_skdm);
        if (!installed) {
          spdlog::info("{}: sender key from {} refused: {}", name_, author->ToString(),
                       installed.error().message());
        }
        state_written = true;
        part.clear_sender_key_distribution_message();
      }
      if (part.has_device_sent_message()) {
        if (from_me && part.device_sent_message().has_destination_jid()) {
          if (auto dest = Jid::Parse(part.device_sent_message().destination_jid())) {
            chat = dest->ToNonAd();
          }
        }
        proto::Message inner = part.device_sent_message().message();
        if (part.has_message_context_info() && !inner.has_message_context_info()) {
          *inner.mutable_message_context_info() = part.message_context_info();
        }
        part = std::move(inner);
      }
      content.MergeFrom(part);
      parts.push_back(Part{*type, *bytes});
    }

    if (parts.empty() && !duplicate && failure) {
      co_await SendRetryReceipt(c, node, *author);
      co_return std::nullopt;
    }
    Node receipt("receipt", {{"id", id}, {"to", *from}});
    if (auto participant = node.GetJid("participant")) receipt.SetAttr("participant", *participant);
    bool peer = node.AttrOr("category") == "peer";
    if (peer) {
      receipt.SetAttr("type", "peer_msg");
    } else if (from_me) {
      receipt.SetAttr("type", "sender");
      if (recipient) receipt.SetAttr("recipient", *recipient);
    }
    if (parts.empty()) {
      // A redelivery whose ratchet step is already committed: acknowledged, nothing new.
      if (state_written) co_await store_.Commit();
      Send(*c, duplicate ? receipt : MessageAckStanza(node));
      co_return std::nullopt;
    }

    Prepared p;
    p.id = id;
    p.group_id = std::move(group_id);
    p.address = *address;
    p.parts = std::move(parts);
    p.receipt = std::move(receipt);
    if (peer && from_me && content.has_protocol_message() &&
        content.protocol_message().has_history_sync_notification()) {
      p.history = true;
      p.history_notification = content.protocol_message().history_sync_notification();
    }
    Message& event = p.event;
    event.id = id;
    event.chat = chat;
    event.sender = *author;
    event.sender_pn = PnOf(*author);
    event.sender_lid = LidOf(*author);
    event.from_me = from_me;
    event.offline = node.HasAttr("offline");
    event.received_ms = read_unix_ms;
    event.timestamp = ParseInt(node.AttrOr("t"), 0);
    event.push_name = std::string(node.AttrOr("notify"));
    auto text = ReadTextContent(content);
    event.text = std::move(text.text);
    event.quoted = std::move(text.extras.quoted);
    event.mentions = std::move(text.extras.mentions);
    std::string raw;
    content.SerializeToString(&raw);
    event.raw = base::ToBytes(raw);
    p.key = chat.ToString() + "|" + id;
    p.deliver = !peer && !received_.Contains(p.key);
    co_return p;
  }

  // --- history sync (history.h) ----------------------------------------------------------------

  // Our phone's HistorySyncNotification (a peer message): acknowledged with a hist_sync receipt
  // whatever the mode, so that the phone does not send it again; downloaded only when wanted.
  void OnHistoryNotification(const std::shared_ptr<Conn>& c, const std::string& id,
                             const proto::Message::HistorySyncNotification& notification) {
    if (creds_ && creds_->me) {
      Send(*c, Node("receipt",
                    {{"id", id}, {"to", creds_->me->ToNonAd()}, {"type", "hist_sync"}}));
    }
    int type = notification.sync_type();
    if (!WantsHistory(config_.history_sync, type)) {
      HistoryChunk skipped;
      skipped.stage = HistoryChunk::Stage::kSkipped;
      skipped.sync_type = std::string(HistorySyncTypeName(type));
      skipped.chunk_order = notification.chunk_order();
      skipped.progress = notification.progress();
      Emit(std::move(skipped));
      return;
    }
    c->history.push_back(notification);
    if (c->history_running) return;
    c->history_running = true;
    c->tasks.Spawn(ex_, HistoryWorker(shared_from_this(), c));
  }

  static asio::awaitable<void> HistoryWorker(std::shared_ptr<Impl> self, std::shared_ptr<Conn> c) {
    while (!c->history.empty() && !c->closing && !c->end) {
      auto notification = std::move(c->history.front());
      c->history.pop_front();
      co_await self->ProcessHistory(c, std::move(notification));
    }
    c->history_running = false;
  }

  std::shared_ptr<media::Transport> MediaTransport() {
    if (media_transport_) return media_transport_;
    if (config_.media_transport) return media_transport_ = config_.media_transport;
    std::shared_ptr<asio::ssl::context> tls = config_.tls_context;
    if (!tls) {
      auto made = MakeTlsContext(config_.ca_file);
      if (!made) return nullptr;
      tls = std::move(*made);
    }
    return media_transport_ = MakeHttpMediaTransport(ex_, std::move(tls), config_.media_timeout);
  }

  asio::awaitable<void> ProcessHistory(std::shared_ptr<Conn> c,
                                       proto::Message::HistorySyncNotification notification) {
    HistoryChunk chunk;
    chunk.sync_type = std::string(HistorySyncTypeName(notification.sync_type()));
    chunk.chunk_order = notification.chunk_order();
    chunk.progress = notification.progress();
    auto fail = [&](const std::string& why) {
      spdlog::info("{}: history chunk {} #{} failed: {}", name_, chunk.sync_type,
                   chunk.chunk_order, why);
      chunk.stage = HistoryChunk::Stage::kFailed;
      chunk.error = why;
      Emit(chunk);
    };

    // A process-wide slot first, so that many sessions linking together download one by one.
    HistorySlots::Permit permit;
    if (config_.history_slots) {
      asio::steady_timer wait(ex_);
      while (!(permit = config_.history_slots->TryAcquire())) {
        if (c->closing || c->end) co_return;
        wait.expires_after(config_.history_slot_poll);
        c->sleepers.push_back(&wait);
        co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
        std::erase(c->sleepers, &wait);
      }
    }
    if (c->closing || c->end) co_return;
    chunk.stage = HistoryChunk::Stage::kStarted;
    Emit(chunk);

    if (!c->media_conn) {
      Node query = media::MediaConnQuery(c->ids.Next());
      auto answer = co_await SendIqOn(c, std::move(query), config_.timeouts.iq);
      if (!answer) co_return fail("media_conn: " + answer.error().Describe());
      auto conn = media::ParseMediaConn(*answer);
      if (!conn) co_return fail("media_conn: " + conn.error().message());
      c->media_conn = std::move(*conn);
    }
    auto transport = MediaTransport();
    if (!transport) co_return fail("no TLS context for media downloads");
    if (c->media_conn->hosts.empty()) co_return fail("media_conn names no host");
    // Hosts in media_conn's order until one serves the blob.
    base::Result<base::Bytes> blob = MakeError(Errc::kHistoryCorrupt);
    for (const auto& host : c->media_conn->hosts) {
      blob = co_await DownloadHistoryBlob(*transport, host.hostname, notification,
                                          config_.history_max_blob_bytes);
      if (blob || blob.error() == Errc::kHistoryTooLarge) break;
      if (c->closing || c->end) co_return;
    }
    if (c->closing || c->end) co_return;
    if (!blob) co_return fail(blob.error().message());

    const Jid me = creds_ && creds_->me ? creds_->me->ToNonAd() : Jid();
    HistoryParser parser(*blob, config_.history_limits);
    HistoryPushNames names;
    for (;;) {
      if (c->closing || c->end) co_return;
      auto item = parser.Next();
      if (!item) co_return fail(item.error().message());
      if (!*item) break;
      if (auto* conversation = std::get_if<proto::Conversation>(&**item)) {
        co_await EmitConversation(chunk, me, *conversation);
        chunk.conversations++;
        chunk.skipped_conversations = parser.skipped_conversations();
        chunk.stage = HistoryChunk::Stage::kProgress;
        Emit(chunk);
        // Let the rest of this strand's work (other stanzas, pings) run between conversations.
        co_await asio::post(ex_, asio::use_awaitable);
      } else if (auto* pushname = std::get_if<proto::Pushname>(&**item)) {
        if (auto jid = Jid::Parse(pushname->id()); jid && !pushname->pushname().empty()) {
          names.names.emplace_back(jid->ToNonAd(), pushname->pushname());
        }
        if (names.names.size() >= config_.history_batch) {
          Emit(std::move(names));
          names = HistoryPushNames{};
        }
      } else if (auto* mapping = std::get_if<proto::PhoneNumberToLIDMapping>(&**item)) {
        auto pn = Jid::Parse(mapping->pn_jid());
        auto lid = Jid::Parse(mapping->lid_jid());
        if (pn && lid) LearnLid(pn->ToNonAd(), lid->ToNonAd());
      }
    }
    if (!names.names.empty()) Emit(std::move(names));
    if (c->closing || c->end) co_return;
    // PN <-> LID pairs learnt from the chunk.
    if (auto committed = co_await store_.Commit(); !committed) {
      spdlog::warn("{}: commit after a history chunk failed: {}", name_,
                   committed.error().message());
    }
    chunk.skipped_conversations = parser.skipped_conversations();
    chunk.stage = HistoryChunk::Stage::kFinished;
    Emit(chunk);
  }

  asio::awaitable<void> EmitConversation(HistoryChunk& chunk, const Jid& me,
                                         const proto::Conversation& conversation) {
    auto chat = Jid::Parse(conversation.id());
    if (!chat) co_return;
    HistoryMessages batch;
    batch.sync_type = chunk.sync_type;
    batch.chunk_order = chunk.chunk_order;
    batch.chat = chat->ToNonAd();
    batch.chat_name = !conversation.name().empty() ? conversation.name()
                                                   : conversation.display_name();
    if (auto pn = Jid::Parse(conversation.pn_jid())) batch.chat_pn = pn->ToNonAd();
    if (auto lid = Jid::Parse(conversation.lid_jid())) batch.chat_lid = lid->ToNonAd();
    if (batch.chat.IsUser()) batch.chat_pn = batch.chat;
    if (batch.chat.IsLid()) batch.chat_lid = batch.chat;
    if (batch.chat_pn && batch.chat_lid) LearnLid(*batch.chat_pn, *batch.chat_lid);
    auto take = [&] {
      std::vector<Message> messages;
      std::swap(messages, batch.messages);
      HistoryMessages out = batch;  // the header, without messages
      out.messages = std::move(messages);
      return out;
    };
    for (const auto& item : conversation.messages()) {
      auto message = HistoryMessage(item.message(), me);
      if (!message) continue;
      // A 1:1 peer's PN and LID as far as we know them (the conversation says, or we learnt).
      if (!message->from_me && !message->sender_pn) message->sender_pn = PnOf(message->sender);
      if (!message->from_me && !message->sender_lid) message->sender_lid = LidOf(message->sender);
      if (message->from_me) {
        message->sender_pn = me;
        if (creds_ && creds_->lid) message->sender_lid = creds_->lid->ToNonAd();
      }
      batch.messages.push_back(std::move(*message));
      chunk.messages++;
      if (batch.messages.size() >= config_.history_batch) {
        HistoryMessages out = take();
        co_await DeliverHistory(std::move(out));
      }
    }
    if (!batch.messages.empty()) {
      HistoryMessages out = take();
      co_await DeliverHistory(std::move(out));
    }
  }

  asio::awaitable<void> DeliverHistory(HistoryMessages batch) {
    if (history_handler_) {
      auto handled_task = history_handler_(batch);
      auto handled = co_await std::move(handled_task);
      if (!handled) {
        spdlog::warn("{}: the history handler refused {} messages of {}: {}", name_,
                     batch.messages.size(), batch.chat.ToString(), handled.error().message());
      }
    }
    Emit(std::move(batch));
  }

  // The retry receipt of Baileys' sendRetryRequest, then a nack (500) of the stanza.
  asio::awaitable<void> SendRetryReceipt(std::shared_ptr<Conn> c, const Node& node, Jid author) {
    std::string id(node.AttrOr("id"));
    int& asked = retries_asked_[author.ToString() + "|" + id];
    // A re-sent message says which attempt it was: continue from there (whatsmeow).
    for (const Node* enc : node.ChildrenByTag("enc")) {
      asked = std::max(asked, ParseInt(enc->AttrOr("count"), 0));
    }
    int count = ++asked;
    if (count > kMaxRetries) {
      spdlog::warn("{}: giving up on {} from {} after {} retries", name_, id, author.ToString(),
                   kMaxRetries);
      Send(*c, MessageAckStanza(node, 500));
      co_return;
    }
    Node receipt("receipt", {{"id", id}, {"type", "retry"}, {"to", *node.GetJid("from")}});
    if (auto recipient = node.GetJid("recipient")) receipt.SetAttr("recipient", *recipient);
    if (auto participant = node.GetJid("participant")) receipt.SetAttr("participant", *participant);
    auto reg = signal::EncodeRegistrationId(creds_->registration_id);
    Node::Children children{
        Node("retry", {{"count", std::to_string(count)},
                       {"id", id},
                       {"t", std::string(node.AttrOr("t"))},
                       {"v", "1"},
                       {"error", "0"}}),
        Node("registration", {}, base::Bytes(reg.begin(), reg.end()))};
    if (count > 1 || node.ChildrenByTag("enc").empty()) {
      // A fresh one-time prekey for the sender to build a new session with; kept (not uploaded)
      // so that the pkmsg it answers with decrypts.
      signal::PreKey key{creds_->next_pre_key_id, crypto::GenerateKeyPair()};
      if (auto stored = signal_.StorePreKey(key); !stored) {
        spdlog::error("{}: storing a retry prekey failed: {}", name_, stored.error().message());
        co_return;
      }
      Credentials updated = *creds_;
      updated.next_pre_key_id = signal::NextPreKeyId(key.id);
      if (updated.first_unuploaded_pre_key_id == key.id) {
        updated.first_unuploaded_pre_key_id = updated.next_pre_key_id;
      }
      if (auto saved = devices_.Save(updated); !saved) {
        spdlog::error("{}: saving the prekey counter failed: {}", name_, saved.error().message());
        co_return;
      }
      creds_ = std::move(updated);
      auto kid = signal::EncodeKeyId(key.id);
      auto sid = signal::EncodeKeyId(creds_->signed_pre_key.id);
      const auto& spk = creds_->signed_pre_key;
      children.push_back(Node(
          "keys", {},
          Node::Children{
              Node("type", {}, base::Bytes{signal::kKeyType}),
              Node("identity", {},
                   base::Bytes(creds_->identity_key.public_key.begin(),
                               creds_->identity_key.public_key.end())),
              Node("key", {},
                   Node::Children{Node("id", {}, base::Bytes(kid->begin(), kid->end())),
                                  Node("value", {},
                                       base::Bytes(key.key_pair.public_key.begin(),
                                                   key.key_pair.public_key.end()))}),
              Node("skey", {},
                   Node::Children{Node("id", {}, base::Bytes(sid->begin(), sid->end())),
                                  Node("value", {},
                                       base::Bytes(spk.key_pair.public_key.begin(),
                                                   spk.key_pair.public_key.end())),
                                  Node("signature", {},
                                       base::Bytes(spk.signature.begin(), spk.signature.end()))}),
              Node("device-identity", {}, creds_->account)}));
    }
    receipt.content = std::move(children);
    // Its keys (a new prekey among them) are on disk before the receipt hands them out.
    if (auto committed = co_await store_.CommitDurable(); !committed) {
      spdlog::error("{}: commit failed before a retry receipt: {}", name_,
                    committed.error().message());
      co_return;
    }
    if (c->closing || c->end) co_return;
    Send(*c, receipt);
    Send(*c, MessageAckStanza(node, 500));
  }

  asio::awaitable<void> HandleReceipt(std::shared_ptr<Conn> c, const Node& node) {
    auto from = node.GetJid("from");
    std::string_view type = node.AttrOr("type");
    bool ack = true;
    if (from && type == "retry") ack = co_await Resend(c, node, *from);
    if (!ack || c->closing || c->end) co_return;
    Send(*c, stanzas::Ack(node));
    if (!from) co_return;
    Receipt receipt;
    receipt.ids.emplace_back(node.AttrOr("id"));
    if (const Node* list = node.Child("list")) {
      for (const Node* item : list->ChildrenByTag("item")) receipt.ids.emplace_back(item->AttrOr("id"));
    }
    auto recipient = node.GetJid("recipient");
    receipt.chat = recipient ? recipient->ToNonAd() : from->ToNonAd();
    receipt.from = node.GetJid("participant").value_or(*from);
    receipt.type = ParseReceiptType(type);
    receipt.type_text = std::string(type);
    receipt.timestamp = ParseInt(node.AttrOr("t"), 0);
    Emit(std::move(receipt));
  }

  // A sent message from the ContactStore (nullopt when it is not there or unreadable).
  asio::awaitable<std::optional<SentRecord>> StoredSent(std::string id) {
    PrefetchRequest prefetch;
    prefetch.sent_messages.push_back(id);
    co_await PrefetchFor(prefetch);
    auto stored = contacts_.GetSentMessage(id);
    if (!stored) {
      spdlog::warn("{}: cannot read sent message {}: {}", name_, id, stored.error().message());
      co_return std::nullopt;
    }
    if (!*stored) co_return std::nullopt;
    auto chat = Jid::Parse((*stored)->chat);
    if (!chat) co_return std::nullopt;
    co_return SentRecord{*chat, std::move((*stored)->type), std::move((*stored)->message)};
  }

  // A peer could not decrypt a message we sent: encrypt it again for that device only, on a
  // fresh session when the receipt carries keys (or the old one looks wrong), §3.6. False when
  // the receipt must not be acknowledged (the store could not commit).
  asio::awaitable<bool> Resend(std::shared_ptr<Conn> c, const Node& receipt, Jid device) {
    std::string id(receipt.AttrOr("id"));
    const Node* retry = receipt.Child("retry");
    std::optional<SentRecord> record;
    if (const SentRecord* sent = sent_.Find(id)) {
      record = *sent;  // a copy: the map may drop it while we wait
    } else if (retry) {
      // Sent before a restart (or long ago): the store keeps it within its bounds.
      record = co_await StoredSent(id);
    }
    if (!record || !retry) {
      spdlog::info("{}: retry receipt for {} that we do not hold", name_, id);
      co_return true;
    }
    int& resent = resends_[id + "|" + device.ToString()];
    if (++resent > kMaxRetries) co_return true;
    int count = ParseInt(retry->AttrOr("count"), 1);
    auto address = AddressOf(device);
    if (!address) co_return true;
    PrefetchRequest prefetch;
    prefetch.addresses.push_back(*address);
    co_await PrefetchFor(prefetch);

    std::optional<std::uint32_t> registration;
    if (const Node* r = receipt.Child("registration"); r && r->ContentBytes()) {
      if (auto parsed = signal::ParseRegistrationId(*r->ContentBytes())) registration = *parsed;
    }
    bool rebuilt = false;
    if (const Node* keys = receipt.Child("keys")) {
      auto bundle = ParseBundle(*keys, registration, device.device());
      if (bundle) {
        auto built = protocol_.ProcessPreKeyBundle(*address, *bundle);
        rebuilt = built.has_value();
        if (!built) spdlog::info("{}: retry bundle refused: {}", name_, built.error().message());
      }
    }
    if (!rebuilt) {
      // Without keys Baileys always starts over from a freshly fetched bundle (assertSessions
      // with force); a registration id that changed means the old session is dead for sure.
      auto current = protocol_.RemoteRegistrationId(*address);
      if (current && registration && *registration != *current) {
        (void)protocol_.DeleteSession(*address);
      }
      std::vector<Jid> one{device};
      co_await EnsureSessions(c, one, true);
    }
    bool own = IsMe(device);
    std::string payload = record->message;
    if (own) {
      proto::Message inner;
      inner.ParseFromString(record->message);
      WrapDeviceSent(inner, record->chat).SerializeToString(&payload);
    }
    auto enc = EncryptFor(device, base::ToBytes(payload));
    // Whatever happened to the session is durable before the receipt is acknowledged.
    if (auto committed = co_await store_.Commit(); !committed) {
      spdlog::error("{}: commit failed after a retry receipt: {}", name_, committed.error().message());
      co_return false;  // unacknowledged: the server delivers the receipt again
    }
    if (!enc) {
      spdlog::info("{}: cannot re-encrypt {} for {}: {}", name_, id, device.ToString(),
                   enc.error().message());
      co_return true;
    }
    if (c->closing || c->end) co_return true;
    enc->to.SetAttr("count", std::to_string(count));
    Node stanza("message",
                {{"id", id}, {"to", device}, {"type", record->type}, {"device_fanout", "false"}},
                Node::Children{std::move(enc->to)});
    if (own) stanza.SetAttr("recipient", record->chat);
    if (enc->pkmsg) stanza.mutable_children()->push_back(Node("device-identity", {}, creds_->account));
    Send(*c, stanza);
    co_return true;
  }

  // A user's device list changed: forget the stored list (the next send asks again) and, for
  // removed devices, their sessions (Baileys). Both are durable before the ack, so a restart
  // does not bring the old list back.
  asio::awaitable<void> HandleDevicesNotification(std::shared_ptr<Conn> c, const Node& node) {
    if (auto from = node.GetJid("from")) {
      InvalidateDevices(*from);
      if (auto lid = node.GetJid("lid")) {
        InvalidateDevices(*lid);
        LearnLid(from->ToNonAd(), lid->ToNonAd());
      }
      for (const Node* remove : node.ChildrenByTag("remove")) {
        for (const Node* device : remove->ChildrenByTag("device")) {
          auto jid = device->GetJid("jid");
          auto address = jid ? AddressOf(*jid) : base::Result<signal::Address>(MakeError(Errc::kProtocol));
          if (address && jid->device() != 0) (void)protocol_.DeleteSession(*address);
        }
      }
      if (auto committed = co_await store_.Commit(); !committed) co_return;
    }
    if (c->closing || c->end) co_return;
    Send(*c, stanzas::Ack(node));
  }

  void OnChatState(const std::shared_ptr<Conn>&, const Node& node) {
    auto from = node.GetJid("from");
    if (!from || node.children().empty()) return;
    ChatState event;
    event.chat = from->ToNonAd();
    event.from = node.GetJid("participant").value_or(*from);
    const Node& child = node.children()[0];
    if (child.tag == "composing") {
      event.state = child.AttrOr("media") == "audio" ? ChatStateKind::kRecording
                                                    : ChatStateKind::kComposing;
    } else {
      event.state = ChatStateKind::kPaused;
    }
    Emit(std::move(event));
  }

  void OnPresence(const std::shared_ptr<Conn>&, const Node& node) {
    auto from = node.GetJid("from");
    if (!from) return;
    Presence event;
    event.from = node.GetJid("participant").value_or(*from);
    event.available = node.AttrOr("type") != "unavailable";
    if (auto last = node.GetAttr("last")) {
      std::int64_t v = 0;
      auto [p, ec] = std::from_chars(last->data(), last->data() + last->size(), v);
      if (ec == std::errc() && p == last->data() + last->size() && v > 0) event.last_seen = v;
    }
    Emit(std::move(event));
  }

  // --- small helpers -------------------------------------------------------------------------

  void UpdateServerOffset(const Node& node) {
    auto t = node.GetAttr("t");
    if (!t) return;
    std::int64_t seconds = 0;
    auto [p, ec] = std::from_chars(t->data(), t->data() + t->size(), seconds);
    if (ec != std::errc() || seconds <= 0) return;
    creds_->server_time_offset_ms = seconds * 1000 - NowUnixMs();
  }

  void SendUnifiedSession(Conn& c) {
    Send(c, stanzas::UnifiedSession(
                stanzas::UnifiedSessionId(NowUnixMs(), creds_->server_time_offset_ms)));
  }

  Config config_;
  StateStore& store_;
  DeviceStore& devices_;
  signal::Store& signal_;
  ContactStore& contacts_;
  signal::Protocol protocol_;
  MessageHandler message_handler_;
  HistoryHandler history_handler_;
  // Messaging state kept across connections in memory: the latest sent messages (a retry for an
  // older one reads the ContactStore), received (chat, id) for dedupe, retry counters. Device
  // lists and PN <-> LID pairs are the ContactStore's.
  RecentMap<SentRecord> sent_{kRecentSentInMemory};
  RecentSet received_{kRecentReceived};
  RecentMap<int> retries_asked_{kRecentReceived};
  RecentMap<int> resends_{kRecentSent};
  EventSink sink_;
  std::shared_ptr<Connector> connector_;
  std::shared_ptr<media::Transport> media_transport_;
  base::error_code config_error_;
  asio::steady_timer backoff_timer_;
  std::string name_;
  base::TaskGroup tasks_{"wa-client"};
  std::optional<Credentials> creds_;
  std::shared_ptr<Conn> current_;
  std::shared_ptr<ConnectAbort> connect_abort_;
  int failures_ = 0;
  bool running_ = false;
  bool stop_requested_ = false;
  bool logout_requested_ = false;
};

std::span<const Client::Impl::HandlerEntry> Client::Impl::Handlers() {
  static const HandlerEntry kHandlers[] = {
      {"iq", &Impl::OnIq},
      {"success", &Impl::OnSuccess},
      {"failure", &Impl::OnFailure},
      {"stream:error", &Impl::OnStreamError},
      {"xmlstreamend", &Impl::OnStreamEnd},
      {"ib", &Impl::OnIb},
      {"notification", &Impl::OnNotification},
      {"message", &Impl::OnInbound},
      {"receipt", &Impl::OnInbound},
      {"chatstate", &Impl::OnChatState},
      {"presence", &Impl::OnPresence},
  };
  return kHandlers;
}

// --- Client ----------------------------------------------------------------------------------

Client::Client(asio::any_io_executor executor, Config config, StateStore& store, EventSink sink,
               std::shared_ptr<Connector> connector)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(config), store, std::move(sink),
                                   std::move(connector))) {}

Client::~Client() = default;

void Client::Start() {
  asio::post(impl_->ex_, [impl = impl_] { impl->Start(); });
}

// The public awaitables hop onto the strand through these plain functions rather than coroutine
// lambdas: GCC 12 mishandles the captures of a lambda coroutine handed to co_spawn.
namespace {

asio::awaitable<void> StopOn(std::shared_ptr<Client::Impl> impl) { co_await impl->DoStop(); }

asio::awaitable<base::Result<void>> LogoutOn(std::shared_ptr<Client::Impl> impl) {
  co_return co_await impl->DoLogout();
}

asio::awaitable<base::Result<std::string>> PairingCodeOn(std::shared_ptr<Client::Impl> impl,
                                                         std::string phone) {
  co_return co_await impl->DoRequestPairingCode(std::move(phone));
}

asio::awaitable<base::Result<Node, IqError>> SendIqOnStrand(std::shared_ptr<Client::Impl> impl,
                                                            Node iq, milliseconds timeout) {
  co_return co_await impl->DoSendIq(std::move(iq), timeout);
}

asio::awaitable<base::Result<void>> SendNodeOnStrand(std::shared_ptr<Client::Impl> impl, Node node) {
  co_return impl->DoSendNode(node);
}

asio::awaitable<base::Result<void>> RotateOn(std::shared_ptr<Client::Impl> impl) {
  co_return co_await impl->DoRotateSignedPreKey();
}

asio::awaitable<std::optional<Credentials>> CredentialsOn(std::shared_ptr<Client::Impl> impl) {
  co_return impl->credentials();
}

asio::awaitable<base::Result<SentMessage>> SendTextOn(std::shared_ptr<Client::Impl> impl,
                                                      SendTextRequest request) {
  co_return co_await impl->DoSendText(std::move(request));
}

asio::awaitable<base::Result<std::vector<ContactStatus>>> OnWhatsAppOn(
    std::shared_ptr<Client::Impl> impl, std::vector<std::string> phones) {
  co_return co_await impl->DoOnWhatsApp(std::move(phones));
}

asio::awaitable<base::Result<void>> ChatStateOn(std::shared_ptr<Client::Impl> impl, std::string to,
                                                ChatStateKind state) {
  co_return impl->DoSendChatState(to, state);
}

asio::awaitable<base::Result<void>> MarkReadOn(std::shared_ptr<Client::Impl> impl, std::string chat,
                                               std::string sender, std::vector<std::string> ids) {
  co_return impl->DoMarkRead(chat, sender, ids);
}

}  // namespace

asio::awaitable<void> Client::Stop() {
  co_await asio::co_spawn(impl_->ex_, StopOn(impl_), asio::use_awaitable);
}

asio::awaitable<base::Result<void>> Client::Logout() {
  co_return co_await asio::co_spawn(impl_->ex_, LogoutOn(impl_), asio::use_awaitable);
}

asio::awaitable<base::Result<std::string>> Client::RequestPairingCode(std::string phone) {
  co_return co_await asio::co_spawn(impl_->ex_, PairingCodeOn(impl_, std::move(phone)),
                                    asio::use_awaitable);
}

asio::awaitable<base::Result<Node, IqError>> Client::SendIq(Node iq,
                                                          std::optional<milliseconds> timeout) {
  milliseconds t = timeout.value_or(impl_->config().timeouts.iq);
  co_return co_await asio::co_spawn(impl_->ex_, SendIqOnStrand(impl_, std::move(iq), t),
                                    asio::use_awaitable);
}

asio::awaitable<base::Result<void>> Client::RotateSignedPreKey() {
  co_return co_await asio::co_spawn(impl_->ex_, RotateOn(impl_), asio::use_awaitable);
}

asio::awaitable<base::Result<void>> Client::SendNode(Node node) {
  co_return co_await asio::co_spawn(impl_->ex_, SendNodeOnStrand(impl_, std::move(node)),
                                    asio::use_awaitable);
}

void Client::SetMessageHandler(MessageHandler handler) {
  impl_->SetMessageHandler(std::move(handler));
}

void Client::SetHistoryHandler(HistoryHandler handler) {
  impl_->SetHistoryHandler(std::move(handler));
}

asio::awaitable<base::Result<SentMessage>> Client::SendText(SendTextRequest request) {
  co_return co_await asio::co_spawn(impl_->ex_, SendTextOn(impl_, std::move(request)),
                                    asio::use_awaitable);
}

asio::awaitable<base::Result<std::vector<ContactStatus>>> Client::OnWhatsApp(
    std::vector<std::string> phones) {
  co_return co_await asio::co_spawn(impl_->ex_, OnWhatsAppOn(impl_, std::move(phones)),
                                    asio::use_awaitable);
}

asio::awaitable<base::Result<void>> Client::SendChatState(std::string to, ChatStateKind state) {
  co_return co_await asio::co_spawn(impl_->ex_, ChatStateOn(impl_, std::move(to), state),
                                    asio::use_awaitable);
}

asio::awaitable<base::Result<void>> Client::MarkRead(std::string chat, std::string sender,
                                                     std::vector<std::string> ids) {
  co_return co_await asio::co_spawn(
      impl_->ex_, MarkReadOn(impl_, std::move(chat), std::move(sender), std::move(ids)),
      asio::use_awaitable);
}

State Client::state() const { return impl_->state_.load(); }

asio::awaitable<std::optional<Credentials>> Client::GetCredentials() {
  co_return co_await asio::co_spawn(impl_->ex_, CredentialsOn(impl_), asio::use_awaitable);
}

void Client::DropConnectionForTesting() {
  asio::post(impl_->ex_, [impl = impl_] { impl->DropConnection(); });
}

}  // namespace wa::client
