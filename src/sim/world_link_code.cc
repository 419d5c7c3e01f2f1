// Linking by pairing code (01-connection.md §6): the server's answers to companion_hello and
// companion_finish, and the simulated phone's side of the exchange. The end of the exchange —
// pair-success, pair-device-sign, 515 — is the QR path's World::LinkCompanion.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "sim/connection.h"
#include "sim/pairing_code.h"
#include "sim/world.h"

namespace sim {

namespace asio = boost::asio;
namespace crypto = wa::crypto;
using wa::binary::Jid;
using wa::binary::Node;

// One try of the phone's user: the code typed, the phone's ephemeral secret with the companion,
// and the control call waiting for companion_finish.
struct CodeAttempt {
  crypto::Key32 ephemeral_shared{};
  asio::steady_timer done;
  std::optional<ControlResult<base::Bytes>> outcome;  // the ADV secret, or why not

  explicit CodeAttempt(asio::any_io_executor ex) : done(ex) {}
  void Finish(ControlResult<base::Bytes> r) {
    if (outcome) return;
    outcome = std::move(r);
    done.cancel();
  }
};

// A registration connection that sent companion_hello: the companion asks to be linked to
// `phone` and waits for that phone's user to type its code.
struct World::CodeLink {
  std::uint64_t order = 0;  // the latest hello for a number is the one the phone shows
  std::string phone;
  std::string ref;  // our link_code_pairing_ref
  base::Bytes wrapped_companion_ephemeral;
  std::string platform_display;
  std::shared_ptr<CodeAttempt> attempt;  // set while a typed code is being checked
};

namespace {

// The phone's half of primary_hello, computed on the KDF thread. (Not base::BlockingPool::Run:
// with g++ 12 a by-value capture in the function it runs is destroyed twice.)
struct PhoneHelloJob {
  struct Hello {
    crypto::Key32 ephemeral_shared;
    base::Bytes wrapped_primary;
  };
  PhoneHelloJob(asio::any_io_executor ex, std::string c, base::Bytes w)
      : done(ex, std::chrono::steady_clock::time_point::max()),
        code(std::move(c)),
        wrapped(std::move(w)) {}

  void Compute() {
    auto companion_pub = pairing_code::UnwrapKey(code, wrapped);
    if (!companion_pub) return;
    auto primary = crypto::GenerateKeyPair();
    Hello out;
    auto shared = crypto::SharedSecret(primary.private_key, *companion_pub);
    if (shared) {
      out.ephemeral_shared = *shared;
    } else {
      // A wrong code unwrapped to a low-order point: no secret the companion could share, so
      // the bundle will not open, exactly as for any other wrong code.
      crypto::RandomBytes(out.ephemeral_shared);
    }
    out.wrapped_primary = pairing_code::WrapKey(code, crypto::RandomBytes(32),
                                                crypto::RandomBytes(16), primary.public_key);
    hello = std::move(out);
  }

  asio::steady_timer done;
  std::string code;
  base::Bytes wrapped;
  std::optional<Hello> hello;
};

std::optional<base::ByteView> ChildBytes(const Node& parent, std::string_view tag) {
  const Node* child = parent.Child(tag);
  return child ? child->ContentBytes() : std::nullopt;
}

}  // namespace

void World::HandleLinkCodeReg(Connection& conn, const Node& iq) {
  const Node& reg = *iq.Child("link_code_companion_reg");
  auto stage = reg.AttrOr("stage");
  // The real server answers malformed requests with 400 bad-request (seen by Baileys and
  // whatsmeow users); wasim uses it for every request it cannot take.
  auto bad_request = [&](std::string_view why) {
    spdlog::info("conn {}: link_code_companion_reg {} refused: {}", conn.id(), stage, why);
    ReplyError(conn, iq, 400, "bad-request");
  };
  if (conn.state() != Connection::State::kUnpaired) {
    bad_request("the connection is not an unpaired registration");
    return;
  }

  if (stage == "companion_hello") {
    auto jid = reg.GetJid("jid");
    auto wrapped = ChildBytes(reg, "link_code_pairing_wrapped_companion_ephemeral_pub");
    auto auth_key = ChildBytes(reg, "companion_server_auth_key_pub");
    const Node* platform_id = reg.Child("companion_platform_id");
    const Node* display = reg.Child("companion_platform_display");
    if (!jid || jid->server() != wa::binary::kUserServer || jid->device() != 0 || !wrapped ||
        wrapped->size() != pairing_code::kWrappedKeySize || !auth_key || !platform_id ||
        !platform_id->ContentText() || !display || !display->ContentText()) {
      bad_request("missing or malformed jid, wrapped ephemeral, auth key or platform");
      return;
    }
    if (!crypto::ConstantTimeEqual(*auth_key, conn.client_static())) {
      bad_request("companion_server_auth_key_pub is not the connection's Noise static key");
      return;
    }
    std::string number(jid->user());
    if (!FindPhone(number)) {
      // Unverified: what the real server answers for a number without an account. 404
      // item-not-found is the closest iq error; Baileys does not wait for the answer.
      spdlog::info("conn {}: companion_hello for {}: no such phone", conn.id(), number);
      ReplyError(conn, iq, 404, "item-not-found");
      return;
    }
    ForgetCodeLink(conn);  // a new hello (new code) replaces an earlier one
    auto link = std::make_shared<CodeLink>();
    link->order = next_code_link_++;
    link->phone = number;
    link->ref = "2@" + base::ToBase64(crypto::RandomBytes(24));
    link->wrapped_companion_ephemeral.assign(wrapped->begin(), wrapped->end());
    link->platform_display = std::string(*display->ContentText());
    code_links_[conn.id()] = link;
    spdlog::info("conn {}: companion '{}' waits for a pairing code on phone {}", conn.id(),
                 link->platform_display, number);
    ReplyResult(conn, iq,
                {Node("link_code_companion_reg", {},
                      {Node("link_code_pairing_ref", {}, base::ToBytes(link->ref))})});
    return;
  }

  if (stage == "companion_finish") {
    auto it = code_links_.find(conn.id());
    auto link = it == code_links_.end() ? nullptr : it->second;
    auto attempt = link ? link->attempt : nullptr;
    if (!attempt || attempt->outcome) {
      bad_request("no primary_hello is waiting for an answer");
      return;
    }
    auto ref = ChildBytes(reg, "link_code_pairing_ref");
    auto identity = ChildBytes(reg, "companion_identity_public");
    auto wrapped = ChildBytes(reg, "link_code_pairing_wrapped_key_bundle");
    auto registered_identity = base::AsBytes(conn.payload().device_pairing_data().e_ident());
    if (!ref || base::AsChars(*ref) != link->ref || !identity ||
        !crypto::ConstantTimeEqual(*identity, registered_identity) || !wrapped) {
      bad_request("wrong ref, or an identity other than the registered one");
      attempt->Finish(ControlError{409, "pairing_rejected",
                                   "companion_finish named another ref or identity key"});
      return;
    }
    Phone* phone = FindPhone(link->phone);
    auto bundle = pairing_code::OpenKeyBundle(attempt->ephemeral_shared, *wrapped);
    if (!bundle && bundle.error() == crypto::MakeError(crypto::Errc::kAuthFailed)) {
      // The two sides derived different ephemeral secrets: the typed code was not the
      // companion's. The phone tells its user; the companion gets an error and may be sent
      // another code (whether the real server answers the companion at all is unverified).
      ReplyError(conn, iq, 401, "not-authorized");
      attempt->Finish(ControlError{422, "wrong_code",
                                   "the companion's key bundle does not decrypt: the code is not "
                                   "the one the companion shows"});
      return;
    }
    if (!bundle || !phone ||
        !crypto::ConstantTimeEqual(bundle->companion_identity, registered_identity) ||
        !crypto::ConstantTimeEqual(bundle->primary_identity, phone->identity.public_key)) {
      bad_request("the key bundle is malformed or names other identity keys");
      attempt->Finish(ControlError{409, "pairing_rejected",
                                   "the companion's key bundle names other identity keys"});
      return;
    }
    auto identity_shared =
        crypto::SharedSecret(phone->identity.private_key, bundle->companion_identity);
    if (!identity_shared) {
      bad_request("the companion identity key is a low-order point");
      attempt->Finish(ControlError{409, "pairing_rejected", "unusable companion identity key"});
      return;
    }
    auto adv_secret = pairing_code::AdvSecret(attempt->ephemeral_shared, *identity_shared,
                                              bundle->adv_random);
    ReplyResult(conn, iq);
    code_links_.erase(conn.id());
    attempt->Finish(std::move(adv_secret));
    return;
  }
  bad_request("unknown stage");
}

void World::ForgetCodeLink(Connection& conn) {
  auto it = code_links_.find(conn.id());
  if (it == code_links_.end()) return;
  if (it->second->attempt) {
    it->second->attempt->Finish(ControlError{
        409, "companion_disconnected", "the companion disconnected or restarted the pairing"});
  }
  code_links_.erase(it);
}

asio::awaitable<ControlResult<std::string>> World::EnterPairingCode(std::string number,
                                                                    std::string typed) {
  Phone* phone = FindPhone(number);
  if (!phone) co_return ControlError{404, "phone_not_found", "no simulated phone " + number};
  auto code = pairing_code::Normalize(typed);
  if (!code) {
    co_return ControlError{422, "invalid_code",
                           "a pairing code is 8 characters of 123456789ABCDEFGHJKLMNPQRSTVWXYZ, "
                           "optionally written XXXX-XXXX"};
  }
  // The companion that most recently asked to link with this number (the phone shows the latest
  // request) and is still waiting.
  std::shared_ptr<CodeLink> link;
  std::shared_ptr<Connection> conn;
  for (const auto& [id, l] : code_links_) {
    auto c = FindConnection(id);
    if (l->phone != number || !c || c->state() != Connection::State::kUnpaired) continue;
    if (!link || l->order > link->order) {
      link = l;
      conn = c;
    }
  }
  if (!link) {
    co_return ControlError{404, "no_waiting_companion",
                           "no connected companion has asked for a pairing code for " + number};
  }
  if (link->attempt) {
    co_return ControlError{409, "pairing_in_progress",
                           "a code for this companion is already being checked"};
  }
  auto attempt = std::make_shared<CodeAttempt>(ex_);
  link->attempt = attempt;

  // Unwrap the companion's ephemeral with the typed code, make and wrap the phone's own: two
  // PBKDF2 runs, done on the KDF thread so that wasim's one thread keeps serving.
  auto job = std::make_shared<PhoneHelloJob>(ex_, *code, link->wrapped_companion_ephemeral);
  asio::post(kdf_pool_.executor(), [job] {
    job->Compute();
    // Waking the timer is the World thread's business; the post orders `hello` before it.
    asio::post(job->done.get_executor(), [job] { job->done.cancel(); });
  });
  auto [kdf_ec] = co_await job->done.async_wait(asio::as_tuple(asio::use_awaitable));
  (void)kdf_ec;
  auto& hello = job->hello;
  auto release = [&] {
    if (link->attempt == attempt) link->attempt = nullptr;
  };
  if (attempt->outcome) co_return attempt->outcome->error();  // disconnected meanwhile
  if (conn->state() != Connection::State::kUnpaired) {
    release();
    co_return ControlError{409, "companion_not_pairable",
                           "the companion is no longer waiting to be linked"};
  }
  if (!hello) {
    release();
    co_return ControlError{409, "pairing_rejected", "the companion's wrapped key is malformed"};
  }
  attempt->ephemeral_shared = hello->ephemeral_shared;
  phone = FindPhone(number);
  conn->Send(Node(
      "notification",
      {{"from", Jid::Server()}, {"type", "link_code_companion_reg"}, {"id", NextIqId()},
       {"t", std::to_string(Now())}},
      {Node("link_code_companion_reg", {{"stage", "primary_hello"}},
            {Node("link_code_pairing_ref", {}, base::ToBytes(link->ref)),
             Node("link_code_pairing_wrapped_primary_ephemeral_pub", {}, hello->wrapped_primary),
             Node("primary_identity_pub", {},
                  base::Bytes(phone->identity.public_key.begin(),
                              phone->identity.public_key.end()))})}));

  attempt->done.expires_after(options_.code_finish_timeout);
  auto [ec] = co_await attempt->done.async_wait(asio::as_tuple(asio::use_awaitable));
  (void)ec;
  if (!attempt->outcome) {
    release();
    co_return ControlError{504, "pairing_timeout",
                           "the companion did not answer primary_hello (companion_finish) in time"};
  }
  if (!*attempt->outcome) {
    release();  // the companion may be sent another code
    co_return attempt->outcome->error();
  }
  co_return co_await LinkCompanion(std::move(conn), std::move(number),
                                   std::move(**attempt->outcome));
}

}  // namespace sim
