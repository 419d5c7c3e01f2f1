#include "wa/client/client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <charconv>
#include <map>
#include <span>
#include <vector>

#include "base/task_group.h"
#include "wa/client/errors.h"
#include "wa/client/pairing.h"
#include "wa/client/payload.h"
#include "wa/client/policy.h"
#include "wa/client/stanzas.h"
#include "wa/noise/errors.h"
#include "wa/noise/frame.h"

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
    if (auto committed = co_await store_.Commit(); !committed) co_return committed.error();
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
                                                        milliseconds timeout) {
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
    if (auto sent = c->channel->Send(iq); !sent) co_return IqError{IqError::Kind::kDisconnected};
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
    if (auto committed = co_await self->store_.Commit(); !committed) {
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
    } else {
      spdlog::debug("{}: notification type {} left for the layers above", name_, type);
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
    if (auto committed = co_await self->store_.Commit(); !committed) {
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
    if (auto committed = co_await store_.Commit(); !committed) {
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
  EventSink sink_;
  std::shared_ptr<Connector> connector_;
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

State Client::state() const { return impl_->state_.load(); }

asio::awaitable<std::optional<Credentials>> Client::GetCredentials() {
  co_return co_await asio::co_spawn(impl_->ex_, CredentialsOn(impl_), asio::use_awaitable);
}

void Client::DropConnectionForTesting() {
  asio::post(impl_->ex_, [impl = impl_] { impl->DropConnection(); });
}

}  // namespace wa::client
