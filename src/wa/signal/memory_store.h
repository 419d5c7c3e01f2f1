// An in-memory Store: for tests, and for wasim's simulated phones (the simulator keeps its
// phones in memory). Not thread-safe, like every Store: one owner's strand uses it.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>

#include "wa/signal/store.h"

namespace wa::signal {

class MemoryStore final : public Store {
 public:
  MemoryStore(const crypto::KeyPair& identity, std::uint32_t registration_id);
  // A fresh device: new identity and registration id, no prekeys.
  static MemoryStore Generate();

  base::Result<crypto::KeyPair> GetIdentityKeyPair() override;
  base::Result<std::uint32_t> GetRegistrationId() override;

  base::Result<std::optional<Key32>> GetIdentity(const Address& address) override;
  base::Result<void> SaveIdentity(const Address& address, const Key32& identity) override;

  base::Result<std::optional<Bytes>> LoadSession(const Address& address) override;
  base::Result<void> StoreSession(const Address& address, ByteView record) override;
  base::Result<bool> ContainsSession(const Address& address) override;
  base::Result<void> DeleteSession(const Address& address) override;
  base::Result<void> DeleteAllSessions(std::string_view name) override;
  base::Result<std::vector<std::uint32_t>> ListSessionDevices(std::string_view name) override;

  base::Result<std::optional<PreKey>> LoadPreKey(std::uint32_t id) override;
  base::Result<void> StorePreKey(const PreKey& key) override;
  base::Result<void> RemovePreKey(std::uint32_t id) override;
  base::Result<bool> ContainsPreKey(std::uint32_t id) override;

  base::Result<std::optional<SignedPreKey>> LoadSignedPreKey(std::uint32_t id) override;
  base::Result<void> StoreSignedPreKey(const SignedPreKey& key) override;
  base::Result<void> RemoveSignedPreKey(std::uint32_t id) override;
  base::Result<bool> ContainsSignedPreKey(std::uint32_t id) override;
  base::Result<std::vector<std::uint32_t>> ListSignedPreKeys() override;

  base::Result<std::optional<Bytes>> LoadSenderKey(std::string_view group_id,
                                                   const Address& sender) override;
  base::Result<void> StoreSenderKey(std::string_view group_id, const Address& sender,
                                    ByteView record) override;
  base::Result<void> DeleteSenderKey(std::string_view group_id, const Address& sender) override;

  // Inspection for tests and the simulator.
  std::size_t session_count() const { return sessions_.size(); }
  std::size_t pre_key_count() const { return pre_keys_.size(); }
  std::size_t sender_key_count() const { return sender_keys_.size(); }
  // Bytes held by session and sender-key records (payload only, no container overhead).
  std::size_t record_bytes() const;

 private:
  crypto::KeyPair identity_;
  std::uint32_t registration_id_;
  // Ordered so that one name's devices are adjacent (ListSessionDevices, DeleteAllSessions).
  std::map<Address, Bytes> sessions_;
  std::unordered_map<Address, Key32, AddressHash> identities_;
  std::map<std::uint32_t, PreKey> pre_keys_;
  std::map<std::uint32_t, SignedPreKey> signed_pre_keys_;
  std::map<std::pair<std::string, Address>, Bytes, std::less<>> sender_keys_;
};

}  // namespace wa::signal
