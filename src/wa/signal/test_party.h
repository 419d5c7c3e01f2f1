// Test helper (not part of the library): one Signal device with an in-memory store, a signed
// prekey and a stock of one-time prekeys, able to produce the bundle a server would serve.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "base/bytes.h"
#include "wa/signal/memory_store.h"
#include "wa/signal/protocol.h"

namespace wa::signal::testing {

class Party {
 public:
  explicit Party(std::string_view user, std::uint32_t device = 0, std::size_t pre_keys = 10)
      : address(*Address::ForDevice(user, Domain::kPn, device)),
        store(MemoryStore::Generate()),
        protocol(store) {
    signed_pre_key = GenerateSignedPreKey(*store.GetIdentityKeyPair(), 1);
    EXPECT_TRUE(store.StoreSignedPreKey(signed_pre_key).has_value());
    if (pre_keys > 0) {
      for (const PreKey& key : GeneratePreKeys(1, pre_keys)) {
        EXPECT_TRUE(store.StorePreKey(key).has_value());
      }
    }
  }
  Party(const Party&) = delete;
  Party& operator=(const Party&) = delete;

  // What the server would serve: the next one-time prekey not yet handed out (if asked for and
  // still in stock), the signed prekey and the identity.
  PreKeyBundle Bundle(bool with_pre_key = true) {
    PreKeyBundle bundle;
    bundle.registration_id = *store.GetRegistrationId();
    bundle.device_id = address.device();
    if (with_pre_key) {
      auto key = store.LoadPreKey(next_pre_key);
      if (key && key->has_value()) {
        bundle.pre_key = PreKeyPublic{(*key)->id, (*key)->key_pair.public_key};
        ++next_pre_key;
      }
    }
    bundle.signed_pre_key_id = signed_pre_key.id;
    bundle.signed_pre_key = signed_pre_key.key_pair.public_key;
    bundle.signed_pre_key_signature = signed_pre_key.signature;
    bundle.identity_key = store.GetIdentityKeyPair()->public_key;
    return bundle;
  }

  Address address;
  MemoryStore store;
  Protocol protocol;
  SignedPreKey signed_pre_key;
  std::uint32_t next_pre_key = 1;
};

// Forwards every call to a MemoryStore; tests override what they want to break.
class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(MemoryStore& inner) : inner_(inner) {}

  base::Result<crypto::KeyPair> GetIdentityKeyPair() override { return inner_.GetIdentityKeyPair(); }
  base::Result<std::uint32_t> GetRegistrationId() override { return inner_.GetRegistrationId(); }
  base::Result<std::optional<Key32>> GetIdentity(const Address& a) override {
    return inner_.GetIdentity(a);
  }
  base::Result<void> SaveIdentity(const Address& a, const Key32& k) override {
    return inner_.SaveIdentity(a, k);
  }
  base::Result<bool> IsTrustedIdentity(const Address& a, const Key32& k) override {
    return inner_.IsTrustedIdentity(a, k);
  }
  base::Result<std::optional<Bytes>> LoadSession(const Address& a) override {
    return inner_.LoadSession(a);
  }
  base::Result<void> StoreSession(const Address& a, ByteView r) override {
    return inner_.StoreSession(a, r);
  }
  base::Result<void> DeleteSession(const Address& a) override { return inner_.DeleteSession(a); }
  base::Result<void> DeleteAllSessions(std::string_view n) override {
    return inner_.DeleteAllSessions(n);
  }
  base::Result<std::vector<std::uint32_t>> ListSessionDevices(std::string_view n) override {
    return inner_.ListSessionDevices(n);
  }
  base::Result<std::optional<PreKey>> LoadPreKey(std::uint32_t id) override {
    return inner_.LoadPreKey(id);
  }
  base::Result<void> StorePreKey(const PreKey& k) override { return inner_.StorePreKey(k); }
  base::Result<void> RemovePreKey(std::uint32_t id) override { return inner_.RemovePreKey(id); }
  base::Result<std::optional<SignedPreKey>> LoadSignedPreKey(std::uint32_t id) override {
    return inner_.LoadSignedPreKey(id);
  }
  base::Result<void> StoreSignedPreKey(const SignedPreKey& k) override {
    return inner_.StoreSignedPreKey(k);
  }
  base::Result<void> RemoveSignedPreKey(std::uint32_t id) override {
    return inner_.RemoveSignedPreKey(id);
  }
  base::Result<std::vector<std::uint32_t>> ListSignedPreKeys() override {
    return inner_.ListSignedPreKeys();
  }
  base::Result<std::optional<Bytes>> LoadSenderKey(std::string_view g, const Address& a) override {
    return inner_.LoadSenderKey(g, a);
  }
  base::Result<void> StoreSenderKey(std::string_view g, const Address& a, ByteView r) override {
    return inner_.StoreSenderKey(g, a, r);
  }
  base::Result<void> DeleteSenderKey(std::string_view g, const Address& a) override {
    return inner_.DeleteSenderKey(g, a);
  }

 private:
  MemoryStore& inner_;
};

inline Bytes Text(std::string_view s) { return base::ToBytes(s); }
inline std::string AsString(const Bytes& b) { return std::string(base::AsChars(b)); }

}  // namespace wa::signal::testing
