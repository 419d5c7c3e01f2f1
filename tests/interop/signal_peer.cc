// The C++ side of tests/interop/signal_interop.mjs: wa::signal endpoints driven over
// stdin/stdout, one JSON object per line each way, so the npm `libsignal` package (Baileys'
// Signal library) and Baileys' sender-key code can be checked against wa::signal.
//
//   signal_peer        (no arguments; exits 0 at end of input)
//
// Every request names a "party" (an independent device with its own MemoryStore and Protocol,
// created by "init") and an "op"; every answer is {"ok":true,...} or {"ok":false,"error":TEXT,
// "category":NAME,"code":N}. Keys, signatures, plaintexts and ciphertexts travel as lower-case
// hex; keys in bundles use the XMPP wire form (32-byte keys, no 0x05), as a server would serve
// them, so the Node side adds the 0x05 prefix the way Baileys' generateSignalPubKey does.
//
// Ops (besides "party"):
//   init {prekeys}                            -> {registrationId, identityKey}
//   bundle {}                                 -> {bundle}   (hands out the next one-time prekey)
//   process_bundle {address, bundle}          -> {identity}
//   encrypt {address, plaintext}              -> {type, ciphertext}
//   decrypt {address, type, ciphertext}       -> {plaintext, consumedPreKeyId, identity}
//   has_session {address}                     -> {value}
//   remote_registration_id {address}         -> {value}
//   pre_key_count {}                          -> {value}
//   skdm {group, address}                     -> {skdm}
//   process_skdm {group, address, skdm}       -> {}
//   group_encrypt {group, address, plaintext} -> {ciphertext}
//   group_decrypt {group, address, ciphertext}-> {plaintext}
// where address = {"name": "...", "device": N} and bundle = {registrationId, deviceId,
// identityKey, signedPreKey: {keyId, publicKey, signature}, preKey?: {keyId, publicKey}}.
#include <boost/json.hpp>

#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "base/bytes.h"
#include "wa/signal/keys.h"
#include "wa/signal/memory_store.h"
#include "wa/signal/protocol.h"

namespace {

namespace json = boost::json;
namespace signal = wa::signal;
using base::Bytes;

struct Party {
  explicit Party(std::size_t pre_keys)
      : store(signal::MemoryStore::Generate()), protocol(store) {
    signed_pre_key = signal::GenerateSignedPreKey(*store.GetIdentityKeyPair(), 1);
    (void)store.StoreSignedPreKey(signed_pre_key);
    if (pre_keys > 0) {
      for (const signal::PreKey& key : signal::GeneratePreKeys(1, pre_keys)) {
        (void)store.StorePreKey(key);
      }
    }
  }
  signal::MemoryStore store;
  signal::Protocol protocol;
  signal::SignedPreKey signed_pre_key;
  std::uint32_t next_pre_key = 1;
};

// What was wrong with the last malformed request (the error code alone says "invalid argument").
std::string g_problem;

boost::system::error_code BadRequest(std::string what) {
  g_problem = std::move(what);
  return make_error_code(boost::system::errc::invalid_argument);
}

base::Result<const json::value*> Field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return BadRequest("missing field " + std::string(key));
  return v;
}
base::Result<std::string> String(const json::object& o, std::string_view key) {
  const json::value* v = WA_TRY(Field(o, key));
  if (!v->is_string()) return BadRequest(std::string(key) + " is not a string");
  return std::string(v->get_string());
}
base::Result<std::uint32_t> Number(const json::object& o, std::string_view key) {
  const json::value* v = WA_TRY(Field(o, key));
  if (v->is_int64() && v->get_int64() >= 0 && v->get_int64() <= 0xFFFFFFFFll) {
    return static_cast<std::uint32_t>(v->get_int64());
  }
  if (v->is_uint64() && v->get_uint64() <= 0xFFFFFFFFull) {
    return static_cast<std::uint32_t>(v->get_uint64());
  }
  return BadRequest(std::string(key) + " is not a 32-bit unsigned number");
}
base::Result<Bytes> Hex(const json::object& o, std::string_view key) {
  auto bytes = base::FromHex(WA_TRY(String(o, key)));
  if (!bytes) return BadRequest(std::string(key) + " is not hex");
  return std::move(*bytes);
}
base::Result<const json::object*> Object(const json::object& o, std::string_view key) {
  const json::value* v = WA_TRY(Field(o, key));
  if (!v->is_object()) return BadRequest(std::string(key) + " is not an object");
  return &v->get_object();
}
json::string ToHexJson(base::ByteView b) { return json::string(base::ToHex(b)); }

base::Result<signal::Address> AddressOf(const json::object& o) {
  const json::object* a = WA_TRY(Object(o, "address"));
  return signal::Address(WA_TRY(String(*a, "name")), WA_TRY(Number(*a, "device")));
}

std::string_view IdentityName(signal::IdentityChange c) {
  switch (c) {
    case signal::IdentityChange::kUnchanged: return "unchanged";
    case signal::IdentityChange::kNew: return "new";
    case signal::IdentityChange::kChanged: return "changed";
  }
  return "?";
}

// Parses a bundle in the wire form, with the same length rules the stanza layer applies.
base::Result<signal::PreKeyBundle> BundleOf(const json::object& b) {
  signal::PreKeyBundle bundle;
  bundle.registration_id = WA_TRY(Number(b, "registrationId"));
  bundle.device_id = WA_TRY(Number(b, "deviceId"));
  bundle.identity_key = WA_TRY(signal::ParseWireKey(WA_TRY(Hex(b, "identityKey"))));
  const json::object* spk = WA_TRY(Object(b, "signedPreKey"));
  bundle.signed_pre_key_id = WA_TRY(Number(*spk, "keyId"));
  bundle.signed_pre_key = WA_TRY(signal::ParseWireKey(WA_TRY(Hex(*spk, "publicKey"))));
  bundle.signed_pre_key_signature =
      WA_TRY(signal::ParseWireSignature(WA_TRY(Hex(*spk, "signature"))));
  if (const json::value* pk = b.if_contains("preKey"); pk != nullptr && pk->is_object()) {
    const std::uint32_t id = WA_TRY(Number(pk->get_object(), "keyId"));
    bundle.pre_key = signal::PreKeyPublic{
        id, WA_TRY(signal::ParseWireKey(WA_TRY(Hex(pk->get_object(), "publicKey"))))};
  }
  return bundle;
}

base::Result<json::object> BundleJson(Party& p) {
  json::object b;
  b["registrationId"] = WA_TRY(p.store.GetRegistrationId());
  b["deviceId"] = 0;
  b["identityKey"] = ToHexJson(WA_TRY(p.store.GetIdentityKeyPair()).public_key);
  json::object spk;
  spk["keyId"] = p.signed_pre_key.id;
  spk["publicKey"] = ToHexJson(p.signed_pre_key.key_pair.public_key);
  spk["signature"] = ToHexJson(p.signed_pre_key.signature);
  b["signedPreKey"] = std::move(spk);
  if (auto key = WA_TRY(p.store.LoadPreKey(p.next_pre_key))) {
    json::object pk;
    pk["keyId"] = key->id;
    pk["publicKey"] = ToHexJson(key->key_pair.public_key);
    b["preKey"] = std::move(pk);
    ++p.next_pre_key;
  }
  return b;
}

class Peer {
 public:
  base::Result<json::object> Handle(const json::object& req) {
    const std::string op = WA_TRY(String(req, "op"));
    const std::string party_name = WA_TRY(String(req, "party"));
    json::object out;
    if (op == "init") {
      auto [it, inserted] = parties_.try_emplace(
          party_name, std::make_unique<Party>(WA_TRY(Number(req, "prekeys"))));
      if (!inserted) return BadRequest("party exists: " + party_name);
      out["registrationId"] = WA_TRY(it->second->store.GetRegistrationId());
      out["identityKey"] = ToHexJson(WA_TRY(it->second->store.GetIdentityKeyPair()).public_key);
      return out;
    }
    auto it = parties_.find(party_name);
    if (it == parties_.end()) return BadRequest("no party " + party_name);
    Party& p = *it->second;
    if (op == "bundle") {
      out["bundle"] = WA_TRY(BundleJson(p));
    } else if (op == "process_bundle") {
      const signal::PreKeyBundle bundle = WA_TRY(BundleOf(*WA_TRY(Object(req, "bundle"))));
      const auto change = WA_TRY(p.protocol.ProcessPreKeyBundle(WA_TRY(AddressOf(req)), bundle));
      out["identity"] = IdentityName(change);
    } else if (op == "encrypt") {
      const auto m =
          WA_TRY(p.protocol.Encrypt(WA_TRY(AddressOf(req)), WA_TRY(Hex(req, "plaintext"))));
      out["type"] = signal::EncType(m.type);
      out["ciphertext"] = ToHexJson(m.ciphertext);
    } else if (op == "decrypt") {
      const auto type = signal::ParseEncType(WA_TRY(String(req, "type")));
      if (!type) return BadRequest("bad type");
      const auto m = WA_TRY(
          p.protocol.Decrypt(WA_TRY(AddressOf(req)), *type, WA_TRY(Hex(req, "ciphertext"))));
      out["plaintext"] = ToHexJson(m.plaintext);
      if (m.consumed_pre_key_id) {
        out["consumedPreKeyId"] = *m.consumed_pre_key_id;
      } else {
        out["consumedPreKeyId"] = nullptr;
      }
      out["identity"] = IdentityName(m.identity);
    } else if (op == "has_session") {
      out["value"] = WA_TRY(p.protocol.HasSession(WA_TRY(AddressOf(req))));
    } else if (op == "remote_registration_id") {
      out["value"] = WA_TRY(p.protocol.RemoteRegistrationId(WA_TRY(AddressOf(req))));
    } else if (op == "pre_key_count") {
      out["value"] = p.store.pre_key_count();
    } else if (op == "skdm") {
      out["skdm"] = ToHexJson(WA_TRY(p.protocol.CreateSenderKeyDistribution(
          WA_TRY(String(req, "group")), WA_TRY(AddressOf(req)))));
    } else if (op == "process_skdm") {
      auto processed = p.protocol.ProcessSenderKeyDistribution(
          WA_TRY(String(req, "group")), WA_TRY(AddressOf(req)), WA_TRY(Hex(req, "skdm")));
      if (!processed) return processed.error();
    } else if (op == "group_encrypt") {
      out["ciphertext"] = ToHexJson(WA_TRY(p.protocol.GroupEncrypt(
          WA_TRY(String(req, "group")), WA_TRY(AddressOf(req)), WA_TRY(Hex(req, "plaintext")))));
    } else if (op == "group_decrypt") {
      out["plaintext"] = ToHexJson(WA_TRY(p.protocol.GroupDecrypt(
          WA_TRY(String(req, "group")), WA_TRY(AddressOf(req)), WA_TRY(Hex(req, "ciphertext")))));
    } else {
      return BadRequest("unknown op " + op);
    }
    return out;
  }

 private:
  std::map<std::string, std::unique_ptr<Party>> parties_;
};

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  Peer peer;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    json::object answer;
    boost::system::error_code parse_error;
    json::value request = json::parse(line, parse_error);
    if (parse_error || !request.is_object()) {
      answer["ok"] = false;
      answer["error"] = "request is not a JSON object";
    } else {
      g_problem.clear();
      auto handled = peer.Handle(request.get_object());
      if (handled) {
        answer = std::move(*handled);
        answer["ok"] = true;
      } else {
        answer["ok"] = false;
        answer["error"] = g_problem.empty() ? handled.error().message() : g_problem;
        answer["category"] = handled.error().category().name();
        answer["code"] = handled.error().value();
      }
    }
    if (const json::value* id = request.is_object() ? request.get_object().if_contains("id")
                                                    : nullptr) {
      answer["id"] = *id;
    }
    std::cout << json::serialize(answer) << '\n' << std::flush;
  }
  return 0;
}
