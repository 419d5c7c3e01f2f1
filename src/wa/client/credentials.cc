#include "wa/client/credentials.h"

#include <boost/json.hpp>

#include "wa/client/errors.h"

namespace wa::client {

namespace json = boost::json;

namespace {

constexpr int kVersion = 1;

std::string Hex(base::ByteView b) { return base::ToHex(b); }

json::object KeyPairJson(const crypto::KeyPair& kp) {
  return {{"private", Hex(kp.private_key)}, {"public", Hex(kp.public_key)}};
}

// Reads fields of one object and remembers whether any was missing or malformed.
class Reader {
 public:
  explicit Reader(const json::object* o) : o_(o), ok_(o != nullptr) {}
  bool ok() const { return ok_; }

  const json::value* Find(std::string_view key) {
    if (!o_) return nullptr;
    auto it = o_->find(key);
    return it == o_->end() ? nullptr : &it->value();
  }
  std::string String(std::string_view key, bool required = true) {
    const json::value* v = Find(key);
    if (!v) {
      if (required) ok_ = false;
      return {};
    }
    if (!v->is_string()) {
      ok_ = false;
      return {};
    }
    return std::string(v->as_string());
  }
  base::Bytes Bytes(std::string_view key, std::size_t exact = 0, bool required = true) {
    auto s = String(key, required);
    auto b = base::FromHex(s);
    if (!b || (exact && b->size() != exact)) {
      if (required || !s.empty()) ok_ = false;
      return {};
    }
    return *b;
  }
  crypto::Key32 Key(std::string_view key) {
    crypto::Key32 out{};
    auto b = Bytes(key, 32);
    if (b.size() == 32) std::copy(b.begin(), b.end(), out.begin());
    return out;
  }
  std::int64_t Int(std::string_view key, std::int64_t min, std::int64_t max) {
    const json::value* v = Find(key);
    if (!v || !(v->is_int64() || v->is_uint64())) {
      ok_ = false;
      return 0;
    }
    std::int64_t n = v->is_int64() ? v->as_int64() : static_cast<std::int64_t>(v->as_uint64());
    if (v->is_uint64() && v->as_uint64() > static_cast<std::uint64_t>(INT64_MAX)) ok_ = false;
    if (n < min || n > max) ok_ = false;
    return n;
  }
  crypto::KeyPair Pair(std::string_view key) {
    const json::value* v = Find(key);
    Reader sub(v && v->is_object() ? &v->as_object() : nullptr);
    crypto::KeyPair kp{sub.Key("private"), sub.Key("public")};
    if (!sub.ok()) ok_ = false;
    return kp;
  }
  std::optional<binary::Jid> Jid(std::string_view key) {
    auto s = String(key, false);
    if (s.empty()) return std::nullopt;
    auto jid = binary::Jid::Parse(s);
    if (!jid) {
      ok_ = false;
      return std::nullopt;
    }
    return *jid;
  }

 private:
  const json::object* o_;
  bool ok_;
};

}  // namespace

Credentials Credentials::New() {
  Credentials c;
  c.noise_key = crypto::GenerateKeyPair();
  c.identity_key = signal::GenerateIdentityKeyPair();
  c.registration_id = signal::GenerateRegistrationId();
  c.signed_pre_key = signal::GenerateSignedPreKey(c.identity_key, 1);
  crypto::RandomBytes(c.adv_secret);
  return c;
}

bool operator==(const Credentials& a, const Credentials& b) {
  auto same_pair = [](const crypto::KeyPair& x, const crypto::KeyPair& y) {
    return x.private_key == y.private_key && x.public_key == y.public_key;
  };
  const auto& sa = a.signed_pre_key;
  const auto& sb = b.signed_pre_key;
  return same_pair(a.noise_key, b.noise_key) && same_pair(a.identity_key, b.identity_key) &&
         a.registration_id == b.registration_id && sa.id == sb.id &&
         same_pair(sa.key_pair, sb.key_pair) && sa.signature == sb.signature &&
         sa.timestamp_ms == sb.timestamp_ms && a.adv_secret == b.adv_secret && a.me == b.me &&
         a.lid == b.lid && a.account == b.account && a.platform == b.platform &&
         a.business_name == b.business_name && a.push_name == b.push_name &&
         a.routing_info == b.routing_info && a.next_pre_key_id == b.next_pre_key_id &&
         a.first_unuploaded_pre_key_id == b.first_unuploaded_pre_key_id &&
         a.server_time_offset_ms == b.server_time_offset_ms;
}

std::string EncodeCredentials(const Credentials& c) {
  json::object o;
  o["version"] = kVersion;
  o["noise_key"] = KeyPairJson(c.noise_key);
  o["identity_key"] = KeyPairJson(c.identity_key);
  o["registration_id"] = c.registration_id;
  o["signed_pre_key"] = json::object{{"id", c.signed_pre_key.id},
                                     {"key_pair", KeyPairJson(c.signed_pre_key.key_pair)},
                                     {"signature", Hex(c.signed_pre_key.signature)},
                                     {"timestamp_ms", c.signed_pre_key.timestamp_ms}};
  o["adv_secret"] = Hex(c.adv_secret);
  // Jids are kept in their text form; Parse gives back the AD form for "user:device@server".
  if (c.me) o["me"] = c.me->ToString();
  if (c.lid) o["lid"] = c.lid->ToString();
  o["account"] = Hex(c.account);
  o["platform"] = c.platform;
  o["business_name"] = c.business_name;
  o["push_name"] = c.push_name;
  o["routing_info"] = Hex(c.routing_info);
  o["next_pre_key_id"] = c.next_pre_key_id;
  o["first_unuploaded_pre_key_id"] = c.first_unuploaded_pre_key_id;
  o["server_time_offset_ms"] = c.server_time_offset_ms;
  return json::serialize(o);
}

base::Result<Credentials> DecodeCredentials(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return MakeError(Errc::kBadCredentials);
  Reader r(&v.as_object());
  if (r.Int("version", kVersion, kVersion) != kVersion || !r.ok()) {
    return MakeError(Errc::kBadCredentials);
  }
  Credentials c;
  c.noise_key = r.Pair("noise_key");
  c.identity_key = r.Pair("identity_key");
  c.registration_id = static_cast<std::uint32_t>(r.Int("registration_id", 0, UINT32_MAX));
  {
    const json::value* spk = r.Find("signed_pre_key");
    Reader s(spk && spk->is_object() ? &spk->as_object() : nullptr);
    c.signed_pre_key.id = static_cast<std::uint32_t>(s.Int("id", 0, signal::kMaxWireKeyId));
    c.signed_pre_key.key_pair = s.Pair("key_pair");
    auto sig = s.Bytes("signature", 64);
    if (sig.size() == 64) std::copy(sig.begin(), sig.end(), c.signed_pre_key.signature.begin());
    c.signed_pre_key.timestamp_ms =
        static_cast<std::uint64_t>(s.Int("timestamp_ms", 0, INT64_MAX));
    if (!s.ok()) return MakeError(Errc::kBadCredentials);
  }
  c.adv_secret = r.Key("adv_secret");
  c.me = r.Jid("me");
  c.lid = r.Jid("lid");
  c.account = r.Bytes("account", 0, false);
  c.platform = r.String("platform", false);
  c.business_name = r.String("business_name", false);
  c.push_name = r.String("push_name", false);
  c.routing_info = r.Bytes("routing_info", 0, false);
  c.next_pre_key_id = static_cast<std::uint32_t>(r.Int("next_pre_key_id", 1, signal::kMaxWireKeyId));
  c.first_unuploaded_pre_key_id =
      static_cast<std::uint32_t>(r.Int("first_unuploaded_pre_key_id", 1, signal::kMaxWireKeyId));
  c.server_time_offset_ms = r.Int("server_time_offset_ms", INT64_MIN, INT64_MAX);
  if (!r.ok()) return MakeError(Errc::kBadCredentials);
  return c;
}

}  // namespace wa::client
