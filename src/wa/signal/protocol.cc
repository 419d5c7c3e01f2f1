#include "wa/signal/protocol.h"

#include <group_cipher.h>
#include <group_session_builder.h>
#include <protocol.h>
#include <session_builder.h>
#include <session_cipher.h>
#include <session_pre_key.h>
#include <signal_protocol.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <memory>
#include <string>

#include "base/check.h"
#include "wa/crypto/signal_provider.h"

namespace wa::signal {

// State of one Protocol call, reachable from the store callbacks (through the Protocol, their
// user_data) and from libsignal's log function (through a thread-local: the libsignal context is
// shared, so its user_data cannot name a call).
struct Protocol::Call {
  Protocol* protocol = nullptr;
  // The first error a Store method returned; the callback reported SG_ERR_UNKNOWN to libsignal.
  base::error_code store_error;
  // The BeforeCommit hook and its error.
  const BeforeCommit* before_commit = nullptr;
  base::error_code hook_error;
  // libsignal-protocol-c saves the sender's identity while *building* the session from a pkmsg,
  // before the message's MAC has been checked, so a forged pkmsg would overwrite the stored
  // identity. During pkmsg decryption the save is staged here and committed only from the
  // decrypt callback, i.e. once the message authenticated.
  bool stage_identity = false;
  std::optional<std::pair<Address, Key32>> staged_identity;
  IdentityChange identity = IdentityChange::kUnchanged;
  std::optional<std::uint32_t> removed_pre_key;
  // libsignal folds "bad MAC", "too far in the future" and (for sender keys) "unknown key id"
  // and "bad signature" into SG_ERR_INVALID_MESSAGE; its log line for the first state tried
  // tells them apart.
  std::optional<Errc> log_reason;
};

namespace {

thread_local Protocol::Call* tls_call = nullptr;

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

void Log(int level, const char* message, std::size_t len, void*) {
  const std::string_view text(message, len);
  if (Protocol::Call* call = tls_call; call != nullptr && !call->log_reason) {
    if (StartsWith(text, "Over 2000 messages into the future")) {
      call->log_reason = Errc::kTooFarInFuture;
    } else if (text == "Bad MAC" || text == "Message mac not verified" ||
               StartsWith(text, "MAC length mismatch") || text == "Invalid signature!") {
      call->log_reason = Errc::kInvalidMac;
    } else if (StartsWith(text, "No keys for:")) {
      call->log_reason = Errc::kInvalidKeyId;
    } else if (StartsWith(text, "Unknown version")) {
      call->log_reason = Errc::kUnknownVersion;
    } else if (StartsWith(text, "Message version")) {
      // A version-2 WhisperMessage parses (only <= 1 is refused as legacy at parse time) and is
      // then refused against our version-3 session.
      call->log_reason = Errc::kLegacyVersion;
    }
  }
  if (level <= SG_LOG_WARNING) spdlog::trace("libsignal: {}", text);
}

// One libsignal context for the process: it only holds the provider table and the log function
// (no mutable state), so every Protocol on every thread can use it.
signal_context* Context() {
  static signal_context* const context = [] {
    crypto::SignalContextPtr owned = crypto::NewSignalContext();
    WA_CHECK(signal_context_set_log_function(owned.get(), Log) == 0);
    return owned.release();
  }();
  return context;
}

// RAII for libsignal's reference-counted objects and buffers.
template <class T>
struct Unref {
  void operator()(T* p) const {
    if (p != nullptr) signal_type_unref(reinterpret_cast<signal_type_base*>(p));
  }
};
template <class T>
using Ref = std::unique_ptr<T, Unref<T>>;

struct BufferFree {
  void operator()(signal_buffer* b) const { signal_buffer_bzero_free(b); }
};
using Buffer = std::unique_ptr<signal_buffer, BufferFree>;

ByteView View(const signal_buffer* b) {
  return {signal_buffer_const_data(b), signal_buffer_len(b)};
}
Bytes ToBytes(const signal_buffer* b) {
  const ByteView v = View(b);
  return Bytes(v.begin(), v.end());
}

// libsignal rejects a null pointer even for empty input.
const std::uint8_t kNothing[1] = {0};
const std::uint8_t* Ptr(ByteView v) { return v.empty() ? kNothing : v.data(); }

Ref<ec_public_key> DecodePublic(const Key32& key) {
  const SignalKey typed = ToSignalKey(key);
  ec_public_key* out = nullptr;
  WA_CHECK(curve_decode_point(&out, typed.data(), typed.size(), Context()) == 0);
  return Ref<ec_public_key>(out);
}

Ref<ec_key_pair> DecodePair(const crypto::KeyPair& pair) {
  Ref<ec_public_key> pub = DecodePublic(pair.public_key);
  ec_private_key* priv_raw = nullptr;
  WA_CHECK(curve_decode_private_point(&priv_raw, pair.private_key.data(), pair.private_key.size(),
                                     Context()) == 0);
  Ref<ec_private_key> priv(priv_raw);
  ec_key_pair* out = nullptr;
  WA_CHECK(ec_key_pair_create(&out, pub.get(), priv.get()) == 0);
  return Ref<ec_key_pair>(out);
}

// The raw 32-byte form of a libsignal key (public: strip 0x05; private: as is).
bool EncodePair(const ec_key_pair* pair, crypto::KeyPair& out) {
  signal_buffer* pub_raw = nullptr;
  signal_buffer* priv_raw = nullptr;
  if (ec_public_key_serialize(&pub_raw, ec_key_pair_get_public(pair)) != 0) return false;
  Buffer pub(pub_raw);
  if (ec_private_key_serialize(&priv_raw, ec_key_pair_get_private(pair)) != 0) return false;
  Buffer priv(priv_raw);
  auto key = FromSignalKey(View(pub.get()));
  if (!key || signal_buffer_len(priv.get()) != 32) return false;
  out.public_key = *key;
  std::memcpy(out.private_key.data(), signal_buffer_data(priv.get()), 32);
  return true;
}

// A C view of an Address; `name` must outlive it (libsignal keeps the pointer for the call and
// prints it with %s, so it must be NUL-terminated: std::string is).
signal_protocol_address CAddress(const Address& a) {
  return {a.name().c_str(), a.name().size(), static_cast<std::int32_t>(a.device())};
}

Address FromC(const signal_protocol_address* a) {
  return Address(std::string(a->name, a->name_len), static_cast<std::uint32_t>(a->device_id));
}

Protocol::Call& CallOf(void* user_data) {
  auto* protocol = static_cast<Protocol*>(user_data);
  WA_CHECK(tls_call != nullptr && tls_call->protocol == protocol);
  return *tls_call;
}

Store& StoreOf(void* user_data) { return static_cast<Protocol*>(user_data)->store(); }

// Records the first store failure and tells libsignal to stop.
int StoreFailed(void* user_data, const base::error_code& ec) {
  Protocol::Call& call = CallOf(user_data);
  if (!call.store_error) call.store_error = ec;
  return SG_ERR_UNKNOWN;
}

signal_buffer* NewBuffer(ByteView bytes) {
  signal_buffer* b = signal_buffer_create(Ptr(bytes), bytes.size());
  WA_CHECK(b != nullptr);
  return b;
}

// Saves a peer identity now, noting whether it is new or changed.
int CommitIdentity(void* user_data, const Address& address, const Key32& key) {
  Store& store = StoreOf(user_data);
  auto old = store.GetIdentity(address);
  if (!old) return StoreFailed(user_data, old.error());
  Protocol::Call& call = CallOf(user_data);
  if (old->has_value() && **old == key) return 0;
  call.identity = old->has_value() ? IdentityChange::kChanged : IdentityChange::kNew;
  auto saved = store.SaveIdentity(address, key);
  if (!saved) return StoreFailed(user_data, saved.error());
  return 0;
}

// The store callbacks (named apart from Protocol's members, which would hide them).
namespace cb {

// --- Session store callbacks ---

int LoadSession(signal_buffer** record, signal_buffer** user_record,
                const signal_protocol_address* address, void* user_data) {
  *user_record = nullptr;
  auto loaded = StoreOf(user_data).LoadSession(FromC(address));
  if (!loaded) return StoreFailed(user_data, loaded.error());
  if (!loaded->has_value()) return 0;
  *record = NewBuffer(**loaded);
  return 1;
}

int ListSessionDevices(signal_int_list** sessions, const char* name, std::size_t name_len,
                       void* user_data) {
  auto devices = StoreOf(user_data).ListSessionDevices(std::string_view(name, name_len));
  if (!devices) return StoreFailed(user_data, devices.error());
  signal_int_list* list = signal_int_list_alloc();
  WA_CHECK(list != nullptr);
  for (std::uint32_t d : *devices) {
    WA_CHECK(signal_int_list_push_back(list, static_cast<int>(d)) == 0);
  }
  *sessions = list;
  return static_cast<int>(devices->size());
}

int StoreSession(const signal_protocol_address* address, std::uint8_t* record,
                 std::size_t record_len, std::uint8_t*, std::size_t, void* user_data) {
  auto stored = StoreOf(user_data).StoreSession(FromC(address), ByteView(record, record_len));
  if (!stored) return StoreFailed(user_data, stored.error());
  return 0;
}

int ContainsSession(const signal_protocol_address* address, void* user_data) {
  auto found = StoreOf(user_data).ContainsSession(FromC(address));
  if (!found) return StoreFailed(user_data, found.error());
  return *found ? 1 : 0;
}

int DeleteSession(const signal_protocol_address* address, void* user_data) {
  auto deleted = StoreOf(user_data).DeleteSession(FromC(address));
  if (!deleted) return StoreFailed(user_data, deleted.error());
  return 1;
}

int DeleteAllSessions(const char* name, std::size_t name_len, void* user_data) {
  auto deleted = StoreOf(user_data).DeleteAllSessions(std::string_view(name, name_len));
  if (!deleted) return StoreFailed(user_data, deleted.error());
  return 0;
}

// --- Prekey store callbacks: the Store keeps keys, libsignal wants its serialized records ---

int LoadPreKey(signal_buffer** record, std::uint32_t id, void* user_data) {
  auto loaded = StoreOf(user_data).LoadPreKey(id);
  if (!loaded) return StoreFailed(user_data, loaded.error());
  if (!loaded->has_value()) return SG_ERR_INVALID_KEY_ID;
  Ref<ec_key_pair> pair = DecodePair((*loaded)->key_pair);
  session_pre_key* key_raw = nullptr;
  WA_CHECK(session_pre_key_create(&key_raw, id, pair.get()) == 0);
  Ref<session_pre_key> key(key_raw);
  WA_CHECK(session_pre_key_serialize(record, key.get()) == 0);
  return SG_SUCCESS;
}

int StorePreKey(std::uint32_t id, std::uint8_t* record, std::size_t record_len, void* user_data) {
  session_pre_key* key_raw = nullptr;
  if (session_pre_key_deserialize(&key_raw, record, record_len, Context()) != 0) {
    return SG_ERR_INVALID_PROTO_BUF;
  }
  Ref<session_pre_key> key(key_raw);
  PreKey out;
  out.id = id;
  if (!EncodePair(session_pre_key_get_key_pair(key.get()), out.key_pair)) return SG_ERR_INVALID_KEY;
  auto stored = StoreOf(user_data).StorePreKey(out);
  if (!stored) return StoreFailed(user_data, stored.error());
  return 0;
}

int ContainsPreKey(std::uint32_t id, void* user_data) {
  auto found = StoreOf(user_data).ContainsPreKey(id);
  if (!found) return StoreFailed(user_data, found.error());
  return *found ? 1 : 0;
}

int RemovePreKey(std::uint32_t id, void* user_data) {
  auto removed = StoreOf(user_data).RemovePreKey(id);
  if (!removed) return StoreFailed(user_data, removed.error());
  CallOf(user_data).removed_pre_key = id;
  return 0;
}

int LoadSignedPreKey(signal_buffer** record, std::uint32_t id, void* user_data) {
  auto loaded = StoreOf(user_data).LoadSignedPreKey(id);
  if (!loaded) return StoreFailed(user_data, loaded.error());
  if (!loaded->has_value()) return SG_ERR_INVALID_KEY_ID;
  const SignedPreKey& stored = **loaded;
  Ref<ec_key_pair> pair = DecodePair(stored.key_pair);
  session_signed_pre_key* key_raw = nullptr;
  WA_CHECK(session_signed_pre_key_create(&key_raw, id, stored.timestamp_ms, pair.get(),
                                         stored.signature.data(), stored.signature.size()) == 0);
  Ref<session_signed_pre_key> key(key_raw);
  WA_CHECK(session_signed_pre_key_serialize(record, key.get()) == 0);
  return SG_SUCCESS;
}

int StoreSignedPreKey(std::uint32_t id, std::uint8_t* record, std::size_t record_len,
                      void* user_data) {
  session_signed_pre_key* key_raw = nullptr;
  if (session_signed_pre_key_deserialize(&key_raw, record, record_len, Context()) != 0) {
    return SG_ERR_INVALID_PROTO_BUF;
  }
  Ref<session_signed_pre_key> key(key_raw);
  SignedPreKey out;
  out.id = id;
  out.timestamp_ms = session_signed_pre_key_get_timestamp(key.get());
  if (!EncodePair(session_signed_pre_key_get_key_pair(key.get()), out.key_pair) ||
      session_signed_pre_key_get_signature_len(key.get()) != out.signature.size()) {
    return SG_ERR_INVALID_KEY;
  }
  std::memcpy(out.signature.data(), session_signed_pre_key_get_signature(key.get()),
              out.signature.size());
  auto stored = StoreOf(user_data).StoreSignedPreKey(out);
  if (!stored) return StoreFailed(user_data, stored.error());
  return 0;
}

int ContainsSignedPreKey(std::uint32_t id, void* user_data) {
  auto found = StoreOf(user_data).ContainsSignedPreKey(id);
  if (!found) return StoreFailed(user_data, found.error());
  return *found ? 1 : 0;
}

int RemoveSignedPreKey(std::uint32_t id, void* user_data) {
  auto removed = StoreOf(user_data).RemoveSignedPreKey(id);
  if (!removed) return StoreFailed(user_data, removed.error());
  return 0;
}

// --- Identity store callbacks ---

int GetIdentityKeyPair(signal_buffer** public_data, signal_buffer** private_data,
                       void* user_data) {
  auto pair = StoreOf(user_data).GetIdentityKeyPair();
  if (!pair) return StoreFailed(user_data, pair.error());
  const SignalKey typed = ToSignalKey(pair->public_key);
  *public_data = NewBuffer(typed);
  *private_data = NewBuffer(pair->private_key);
  return 0;
}

int GetRegistrationId(void* user_data, std::uint32_t* registration_id) {
  auto id = StoreOf(user_data).GetRegistrationId();
  if (!id) return StoreFailed(user_data, id.error());
  *registration_id = *id;
  return 0;
}

int SaveIdentity(const signal_protocol_address* address, std::uint8_t* key_data,
                 std::size_t key_len, void* user_data) {
  // libsignal passes no key to mean "forget"; it never does so on the paths we use.
  if (key_data == nullptr) return 0;
  auto key = FromSignalKey(ByteView(key_data, key_len));
  if (!key) return SG_ERR_INVALID_KEY;
  Protocol::Call& call = CallOf(user_data);
  if (call.stage_identity) {
    call.staged_identity.emplace(FromC(address), *key);
    return 0;
  }
  return CommitIdentity(user_data, FromC(address), *key);
}

int IsTrustedIdentity(const signal_protocol_address* address, std::uint8_t* key_data,
                      std::size_t key_len, void* user_data) {
  auto key = FromSignalKey(ByteView(key_data, key_len));
  if (!key) return SG_ERR_INVALID_KEY;
  auto trusted = StoreOf(user_data).IsTrustedIdentity(FromC(address), *key);
  if (!trusted) return StoreFailed(user_data, trusted.error());
  return *trusted ? 1 : 0;
}

// --- Sender key store callbacks ---

int StoreSenderKey(const signal_protocol_sender_key_name* name, std::uint8_t* record,
                   std::size_t record_len, std::uint8_t*, std::size_t, void* user_data) {
  auto stored = StoreOf(user_data).StoreSenderKey(std::string_view(name->group_id,
                                                                   name->group_id_len),
                                                  FromC(&name->sender),
                                                  ByteView(record, record_len));
  if (!stored) return StoreFailed(user_data, stored.error());
  return 0;
}

int LoadSenderKey(signal_buffer** record, signal_buffer** user_record,
                  const signal_protocol_sender_key_name* name, void* user_data) {
  *user_record = nullptr;
  auto loaded = StoreOf(user_data).LoadSenderKey(
      std::string_view(name->group_id, name->group_id_len), FromC(&name->sender));
  if (!loaded) return StoreFailed(user_data, loaded.error());
  if (!loaded->has_value()) return 0;
  *record = NewBuffer(**loaded);
  return 1;
}

}  // namespace cb

// --- Decrypt callback: the message authenticated; nothing has been stored yet ---

int AfterDecrypt(signal_buffer* plaintext, void* decrypt_context) {
  auto& call = *static_cast<Protocol::Call*>(decrypt_context);
  if (call.staged_identity) {
    const auto [address, key] = *call.staged_identity;
    call.staged_identity.reset();
    const int rc = CommitIdentity(call.protocol, address, key);
    if (rc < 0) return rc;
  }
  if (call.before_commit != nullptr && *call.before_commit) {
    if (base::error_code ec = (*call.before_commit)(View(plaintext))) {
      call.hook_error = ec;
      return SG_ERR_UNKNOWN;
    }
  }
  return 0;
}

int AfterSessionDecrypt(session_cipher*, signal_buffer* plaintext, void* decrypt_context) {
  return AfterDecrypt(plaintext, decrypt_context);
}

int AfterGroupDecrypt(group_cipher*, signal_buffer* plaintext, void* decrypt_context) {
  return AfterDecrypt(plaintext, decrypt_context);
}

// Where a libsignal return code came from, for the codes whose meaning depends on it.
enum class Stage { kParse, kBundle, kCipher };

base::error_code MapError(int rc, const Protocol::Call& call, Stage stage) {
  if (call.hook_error) return call.hook_error;
  if (call.store_error) return call.store_error;
  switch (rc) {
    case SG_ERR_DUPLICATE_MESSAGE: return MakeError(Errc::kDuplicateMessage);
    case SG_ERR_INVALID_KEY_ID: return MakeError(Errc::kInvalidKeyId);
    case SG_ERR_INVALID_MAC: return MakeError(Errc::kInvalidMac);
    case SG_ERR_NO_SESSION: return MakeError(Errc::kNoSession);
    case SG_ERR_UNTRUSTED_IDENTITY: return MakeError(Errc::kUntrustedIdentity);
    case SG_ERR_LEGACY_MESSAGE: return MakeError(Errc::kLegacyVersion);
    case SG_ERR_INVALID_VERSION: return MakeError(Errc::kUnknownVersion);
    case SG_ERR_INVALID_KEY:
      return MakeError(stage == Stage::kBundle ? Errc::kInvalidKey : Errc::kInvalidMessage);
    case SG_ERR_INVALID_PROTO_BUF:
      // Incoming bytes are parsed before the cipher runs; inside it only stored records are.
      return MakeError(stage == Stage::kCipher ? Errc::kCorruptRecord : Errc::kInvalidMessage);
    case SG_ERR_INVAL:
      // The parsers refuse input too short to hold a version byte and MAC this way.
      return MakeError(stage == Stage::kParse ? Errc::kInvalidMessage : Errc::kInternal);
    case SG_ERR_INVALID_MESSAGE:
    case SG_ERR_STALE_KEY_EXCHANGE:
      return MakeError(call.log_reason.value_or(Errc::kInvalidMessage));
    default: return MakeError(Errc::kInternal);
  }
}

// Installs a call for the duration of one Protocol method. Calls nest across Protocols (a
// BeforeCommit hook may use another owner's Protocol) but never re-enter the same one: libsignal
// itself refuses that from inside its decrypt callback.
class CallScope {
 public:
  CallScope(Protocol* protocol, Protocol::Call*& slot) : slot_(slot), outer_(tls_call) {
    WA_CHECK(slot_ == nullptr);
    call_.protocol = protocol;
    slot_ = &call_;
    tls_call = &call_;
  }
  ~CallScope() {
    slot_ = nullptr;
    tls_call = outer_;
  }
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;
  Protocol::Call& call() { return call_; }

 private:
  Protocol::Call call_;
  Protocol::Call*& slot_;
  Protocol::Call* const outer_;
};

struct SessionCipherFree {
  void operator()(session_cipher* c) const { session_cipher_free(c); }
};
struct SessionBuilderFree {
  void operator()(session_builder* b) const { session_builder_free(b); }
};
struct GroupCipherFree {
  void operator()(group_cipher* c) const { group_cipher_free(c); }
};
struct GroupBuilderFree {
  void operator()(group_session_builder* b) const { group_session_builder_free(b); }
};

// A sender key name over strings that outlive it.
struct SenderKeyNameView {
  SenderKeyNameView(std::string_view group, const Address& sender)
      : group_id(group),
        name{group_id.c_str(), group_id.size(), CAddress(sender)} {}
  std::string group_id;  // NUL-terminated copy: libsignal prints it with %s
  signal_protocol_sender_key_name name;
};

}  // namespace

std::string_view EncType(MessageType type) {
  switch (type) {
    case MessageType::kPkMsg: return "pkmsg";
    case MessageType::kMsg: return "msg";
    case MessageType::kSkMsg: return "skmsg";
  }
  return "";
}

std::optional<MessageType> ParseEncType(std::string_view type) {
  if (type == "pkmsg") return MessageType::kPkMsg;
  if (type == "msg") return MessageType::kMsg;
  if (type == "skmsg") return MessageType::kSkMsg;
  return std::nullopt;
}

Protocol::Protocol(Store& store) : store_(store) {
  WA_CHECK(signal_protocol_store_context_create(&store_context_, Context()) == 0);
  const signal_protocol_session_store sessions = {
      .load_session_func = cb::LoadSession,
      .get_sub_device_sessions_func = cb::ListSessionDevices,
      .store_session_func = cb::StoreSession,
      .contains_session_func = cb::ContainsSession,
      .delete_session_func = cb::DeleteSession,
      .delete_all_sessions_func = cb::DeleteAllSessions,
      .destroy_func = nullptr,
      .user_data = this,
  };
  const signal_protocol_pre_key_store pre_keys = {
      .load_pre_key = cb::LoadPreKey,
      .store_pre_key = cb::StorePreKey,
      .contains_pre_key = cb::ContainsPreKey,
      .remove_pre_key = cb::RemovePreKey,
      .destroy_func = nullptr,
      .user_data = this,
  };
  const signal_protocol_signed_pre_key_store signed_pre_keys = {
      .load_signed_pre_key = cb::LoadSignedPreKey,
      .store_signed_pre_key = cb::StoreSignedPreKey,
      .contains_signed_pre_key = cb::ContainsSignedPreKey,
      .remove_signed_pre_key = cb::RemoveSignedPreKey,
      .destroy_func = nullptr,
      .user_data = this,
  };
  const signal_protocol_identity_key_store identities = {
      .get_identity_key_pair = cb::GetIdentityKeyPair,
      .get_local_registration_id = cb::GetRegistrationId,
      .save_identity = cb::SaveIdentity,
      .is_trusted_identity = cb::IsTrustedIdentity,
      .destroy_func = nullptr,
      .user_data = this,
  };
  const signal_protocol_sender_key_store sender_keys = {
      .store_sender_key = cb::StoreSenderKey,
      .load_sender_key = cb::LoadSenderKey,
      .destroy_func = nullptr,
      .user_data = this,
  };
  WA_CHECK(signal_protocol_store_context_set_session_store(store_context_, &sessions) == 0);
  WA_CHECK(signal_protocol_store_context_set_pre_key_store(store_context_, &pre_keys) == 0);
  WA_CHECK(signal_protocol_store_context_set_signed_pre_key_store(store_context_,
                                                                  &signed_pre_keys) == 0);
  WA_CHECK(signal_protocol_store_context_set_identity_key_store(store_context_, &identities) == 0);
  WA_CHECK(signal_protocol_store_context_set_sender_key_store(store_context_, &sender_keys) == 0);
}

Protocol::~Protocol() { signal_protocol_store_context_destroy(store_context_); }

base::Result<IdentityChange> Protocol::ProcessPreKeyBundle(const Address& address,
                                                           const PreKeyBundle& bundle) {
  if (bundle.pre_key && bundle.pre_key->id > kMaxWireKeyId) {
    return MakeError(Errc::kIdOutOfRange);
  }
  CallScope scope(this, call_);
  Ref<ec_public_key> identity = DecodePublic(bundle.identity_key);
  Ref<ec_public_key> signed_pre_key = DecodePublic(bundle.signed_pre_key);
  Ref<ec_public_key> pre_key;
  if (bundle.pre_key) pre_key = DecodePublic(bundle.pre_key->public_key);
  session_pre_key_bundle* c_bundle_raw = nullptr;
  int rc = session_pre_key_bundle_create(
      &c_bundle_raw, bundle.registration_id, static_cast<int>(bundle.device_id),
      bundle.pre_key ? bundle.pre_key->id : 0, pre_key.get(), bundle.signed_pre_key_id,
      signed_pre_key.get(), bundle.signed_pre_key_signature.data(),
      bundle.signed_pre_key_signature.size(), identity.get());
  if (rc != 0) return MapError(rc, scope.call(), Stage::kBundle);
  Ref<session_pre_key_bundle> c_bundle(c_bundle_raw);

  const signal_protocol_address c_address = CAddress(address);
  session_builder* builder_raw = nullptr;
  rc = session_builder_create(&builder_raw, store_context_, &c_address, Context());
  if (rc != 0) return MapError(rc, scope.call(), Stage::kBundle);
  std::unique_ptr<session_builder, SessionBuilderFree> builder(builder_raw);
  rc = session_builder_process_pre_key_bundle(builder.get(), c_bundle.get());
  if (rc < 0) return MapError(rc, scope.call(), Stage::kBundle);
  return scope.call().identity;
}

base::Result<EncryptedMessage> Protocol::Encrypt(const Address& address, ByteView plaintext) {
  CallScope scope(this, call_);
  // Without a record libsignal fails with SG_ERR_UNKNOWN (it encrypts with an empty state).
  auto present = store_.ContainsSession(address);
  if (!present) return present.error();
  if (!*present) return MakeError(Errc::kNoSession);

  const signal_protocol_address c_address = CAddress(address);
  session_cipher* cipher_raw = nullptr;
  int rc = session_cipher_create(&cipher_raw, store_context_, &c_address, Context());
  if (rc != 0) return MapError(rc, scope.call(), Stage::kCipher);
  std::unique_ptr<session_cipher, SessionCipherFree> cipher(cipher_raw);
  ciphertext_message* message_raw = nullptr;
  rc = session_cipher_encrypt(cipher.get(), Ptr(plaintext), plaintext.size(), &message_raw);
  if (rc < 0) return MapError(rc, scope.call(), Stage::kCipher);
  Ref<ciphertext_message> message(message_raw);
  EncryptedMessage out;
  switch (ciphertext_message_get_type(message.get())) {
    case CIPHERTEXT_PREKEY_TYPE: out.type = MessageType::kPkMsg; break;
    case CIPHERTEXT_SIGNAL_TYPE: out.type = MessageType::kMsg; break;
    default: return MakeError(Errc::kInternal);
  }
  out.ciphertext = ToBytes(ciphertext_message_get_serialized(message.get()));
  return out;
}

base::Result<DecryptedMessage> Protocol::Decrypt(const Address& address, MessageType type,
                                                 ByteView ciphertext,
                                                 const BeforeCommit& before_commit) {
  if (type == MessageType::kSkMsg) return MakeError(Errc::kInvalidArgument);
  CallScope scope(this, call_);
  Call& call = scope.call();
  call.before_commit = &before_commit;

  const signal_protocol_address c_address = CAddress(address);
  session_cipher* cipher_raw = nullptr;
  int rc = session_cipher_create(&cipher_raw, store_context_, &c_address, Context());
  if (rc != 0) return MapError(rc, call, Stage::kCipher);
  std::unique_ptr<session_cipher, SessionCipherFree> cipher(cipher_raw);
  session_cipher_set_decryption_callback(cipher.get(), AfterSessionDecrypt);

  signal_buffer* plaintext_raw = nullptr;
  if (type == MessageType::kPkMsg) {
    pre_key_signal_message* message_raw = nullptr;
    rc = pre_key_signal_message_deserialize(&message_raw, Ptr(ciphertext), ciphertext.size(),
                                            Context());
    if (rc != 0) return MapError(rc, call, Stage::kParse);
    if (message_raw == nullptr) return MakeError(Errc::kInvalidMessage);
    Ref<pre_key_signal_message> message(message_raw);
    call.stage_identity = true;
    rc = session_cipher_decrypt_pre_key_signal_message(cipher.get(), message.get(), &call,
                                                       &plaintext_raw);
  } else {
    signal_message* message_raw = nullptr;
    rc = signal_message_deserialize(&message_raw, Ptr(ciphertext), ciphertext.size(), Context());
    if (rc != 0) return MapError(rc, call, Stage::kParse);
    if (message_raw == nullptr) return MakeError(Errc::kInvalidMessage);
    Ref<signal_message> message(message_raw);
    rc = session_cipher_decrypt_signal_message(cipher.get(), message.get(), &call,
                                               &plaintext_raw);
  }
  if (rc < 0) return MapError(rc, call, Stage::kCipher);
  Buffer plaintext(plaintext_raw);
  DecryptedMessage out;
  out.plaintext = ToBytes(plaintext.get());
  out.consumed_pre_key_id = call.removed_pre_key;
  out.identity = call.identity;
  return out;
}

base::Result<bool> Protocol::HasSession(const Address& address) {
  return store_.ContainsSession(address);
}

base::Result<void> Protocol::DeleteSession(const Address& address) {
  return store_.DeleteSession(address);
}

base::Result<std::uint32_t> Protocol::RemoteRegistrationId(const Address& address) {
  CallScope scope(this, call_);
  auto present = store_.ContainsSession(address);
  if (!present) return present.error();
  if (!*present) return MakeError(Errc::kNoSession);
  const signal_protocol_address c_address = CAddress(address);
  session_cipher* cipher_raw = nullptr;
  int rc = session_cipher_create(&cipher_raw, store_context_, &c_address, Context());
  if (rc != 0) return MapError(rc, scope.call(), Stage::kCipher);
  std::unique_ptr<session_cipher, SessionCipherFree> cipher(cipher_raw);
  std::uint32_t id = 0;
  rc = session_cipher_get_remote_registration_id(cipher.get(), &id);
  if (rc < 0) return MapError(rc, scope.call(), Stage::kCipher);
  return id;
}

base::Result<Bytes> Protocol::CreateSenderKeyDistribution(std::string_view group_id,
                                                          const Address& self) {
  CallScope scope(this, call_);
  const SenderKeyNameView name(group_id, self);
  group_session_builder* builder_raw = nullptr;
  int rc = group_session_builder_create(&builder_raw, store_context_, Context());
  if (rc != 0) return MapError(rc, scope.call(), Stage::kCipher);
  std::unique_ptr<group_session_builder, GroupBuilderFree> builder(builder_raw);
  sender_key_distribution_message* message_raw = nullptr;
  rc = group_session_builder_create_session(builder.get(), &message_raw, &name.name);
  if (rc < 0) return MapError(rc, scope.call(), Stage::kCipher);
  Ref<sender_key_distribution_message> message(message_raw);
  return ToBytes(ciphertext_message_get_serialized(
      reinterpret_cast<const ciphertext_message*>(message.get())));
}

base::Result<void> Protocol::ProcessSenderKeyDistribution(std::string_view group_id,
                                                          const Address& sender, ByteView skdm) {
  CallScope scope(this, call_);
  sender_key_distribution_message* message_raw = nullptr;
  int rc = sender_key_distribution_message_deserialize(&message_raw, Ptr(skdm), skdm.size(),
                                                       Context());
  if (rc != 0) return MapError(rc, scope.call(), Stage::kParse);
  if (message_raw == nullptr) return MakeError(Errc::kInvalidMessage);
  Ref<sender_key_distribution_message> message(message_raw);
  const SenderKeyNameView name(group_id, sender);
  group_session_builder* builder_raw = nullptr;
  rc = group_session_builder_create(&builder_raw, store_context_, Context());
  if (rc != 0) return MapError(rc, scope.call(), Stage::kCipher);
  std::unique_ptr<group_session_builder, GroupBuilderFree> builder(builder_raw);
  rc = group_session_builder_process_session(builder.get(), &name.name, message.get());
  if (rc < 0) return MapError(rc, scope.call(), Stage::kCipher);
  return {};
}

base::Result<Bytes> Protocol::GroupEncrypt(std::string_view group_id, const Address& self,
                                           ByteView plaintext) {
  CallScope scope(this, call_);
  const SenderKeyNameView name(group_id, self);
  group_cipher* cipher_raw = nullptr;
  int rc = group_cipher_create(&cipher_raw, store_context_, &name.name, Context());
  if (rc != 0) return MapError(rc, scope.call(), Stage::kCipher);
  std::unique_ptr<group_cipher, GroupCipherFree> cipher(cipher_raw);
  ciphertext_message* message_raw = nullptr;
  rc = group_cipher_encrypt(cipher.get(), Ptr(plaintext), plaintext.size(), &message_raw);
  if (rc < 0) return MapError(rc, scope.call(), Stage::kCipher);
  Ref<ciphertext_message> message(message_raw);
  return ToBytes(ciphertext_message_get_serialized(message.get()));
}

base::Result<Bytes> Protocol::GroupDecrypt(std::string_view group_id, const Address& sender,
                                           ByteView skmsg, const BeforeCommit& before_commit) {
  CallScope scope(this, call_);
  Call& call = scope.call();
  call.before_commit = &before_commit;
  sender_key_message* message_raw = nullptr;
  int rc = sender_key_message_deserialize(&message_raw, Ptr(skmsg), skmsg.size(), Context());
  if (rc != 0) return MapError(rc, call, Stage::kParse);
  if (message_raw == nullptr) return MakeError(Errc::kInvalidMessage);
  Ref<sender_key_message> message(message_raw);
  const SenderKeyNameView name(group_id, sender);
  group_cipher* cipher_raw = nullptr;
  rc = group_cipher_create(&cipher_raw, store_context_, &name.name, Context());
  if (rc != 0) return MapError(rc, call, Stage::kCipher);
  std::unique_ptr<group_cipher, GroupCipherFree> cipher(cipher_raw);
  group_cipher_set_decryption_callback(cipher.get(), AfterGroupDecrypt);
  signal_buffer* plaintext_raw = nullptr;
  rc = group_cipher_decrypt(cipher.get(), message.get(), &call, &plaintext_raw);
  if (rc < 0) return MapError(rc, call, Stage::kCipher);
  Buffer plaintext(plaintext_raw);
  return ToBytes(plaintext.get());
}

base::Result<void> Protocol::DeleteSenderKey(std::string_view group_id, const Address& sender) {
  return store_.DeleteSenderKey(group_id, sender);
}

}  // namespace wa::signal
