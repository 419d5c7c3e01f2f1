#include "wa/signal/memory_store.h"

namespace wa::signal {

MemoryStore::MemoryStore(const crypto::KeyPair& identity, std::uint32_t registration_id)
    : identity_(identity), registration_id_(registration_id) {}

MemoryStore MemoryStore::Generate() {
  return MemoryStore(GenerateIdentityKeyPair(), GenerateRegistrationId());
}

base::Result<crypto::KeyPair> MemoryStore::GetIdentityKeyPair() { return identity_; }
base::Result<std::uint32_t> MemoryStore::GetRegistrationId() { return registration_id_; }

base::Result<std::optional<Key32>> MemoryStore::GetIdentity(const Address& address) {
  auto it = identities_.find(address);
  if (it == identities_.end()) return std::optional<Key32>();
  return std::optional<Key32>(it->second);
}

base::Result<void> MemoryStore::SaveIdentity(const Address& address, const Key32& identity) {
  identities_[address] = identity;
  return {};
}

base::Result<std::optional<Bytes>> MemoryStore::LoadSession(const Address& address) {
  auto it = sessions_.find(address);
  if (it == sessions_.end()) return std::optional<Bytes>();
  return std::optional<Bytes>(it->second);
}

base::Result<void> MemoryStore::StoreSession(const Address& address, ByteView record) {
  Bytes& slot = sessions_[address];
  slot.assign(record.begin(), record.end());
  slot.shrink_to_fit();
  return {};
}

base::Result<bool> MemoryStore::ContainsSession(const Address& address) {
  return sessions_.count(address) != 0;
}

base::Result<void> MemoryStore::DeleteSession(const Address& address) {
  sessions_.erase(address);
  return {};
}

base::Result<void> MemoryStore::DeleteAllSessions(std::string_view name) {
  auto it = sessions_.lower_bound(Address(std::string(name), 0));
  while (it != sessions_.end() && it->first.name() == name) it = sessions_.erase(it);
  return {};
}

base::Result<std::vector<std::uint32_t>> MemoryStore::ListSessionDevices(std::string_view name) {
  std::vector<std::uint32_t> devices;
  for (auto it = sessions_.lower_bound(Address(std::string(name), 0));
       it != sessions_.end() && it->first.name() == name; ++it) {
    devices.push_back(it->first.device());
  }
  return devices;
}

base::Result<std::optional<PreKey>> MemoryStore::LoadPreKey(std::uint32_t id) {
  auto it = pre_keys_.find(id);
  if (it == pre_keys_.end()) return std::optional<PreKey>();
  return std::optional<PreKey>(it->second);
}

base::Result<void> MemoryStore::StorePreKey(const PreKey& key) {
  pre_keys_[key.id] = key;
  return {};
}

base::Result<void> MemoryStore::RemovePreKey(std::uint32_t id) {
  pre_keys_.erase(id);
  return {};
}

base::Result<bool> MemoryStore::ContainsPreKey(std::uint32_t id) {
  return pre_keys_.count(id) != 0;
}

base::Result<std::optional<SignedPreKey>> MemoryStore::LoadSignedPreKey(std::uint32_t id) {
  auto it = signed_pre_keys_.find(id);
  if (it == signed_pre_keys_.end()) return std::optional<SignedPreKey>();
  return std::optional<SignedPreKey>(it->second);
}

base::Result<void> MemoryStore::StoreSignedPreKey(const SignedPreKey& key) {
  signed_pre_keys_[key.id] = key;
  return {};
}

base::Result<void> MemoryStore::RemoveSignedPreKey(std::uint32_t id) {
  signed_pre_keys_.erase(id);
  return {};
}

base::Result<bool> MemoryStore::ContainsSignedPreKey(std::uint32_t id) {
  return signed_pre_keys_.count(id) != 0;
}

base::Result<std::vector<std::uint32_t>> MemoryStore::ListSignedPreKeys() {
  std::vector<std::uint32_t> ids;
  ids.reserve(signed_pre_keys_.size());
  for (const auto& [id, key] : signed_pre_keys_) ids.push_back(id);
  return ids;
}

base::Result<std::optional<Bytes>> MemoryStore::LoadSenderKey(std::string_view group_id,
                                                              const Address& sender) {
  auto it = sender_keys_.find(std::make_pair(std::string(group_id), sender));
  if (it == sender_keys_.end()) return std::optional<Bytes>();
  return std::optional<Bytes>(it->second);
}

base::Result<void> MemoryStore::StoreSenderKey(std::string_view group_id, const Address& sender,
                                               ByteView record) {
  Bytes& slot = sender_keys_[std::make_pair(std::string(group_id), sender)];
  slot.assign(record.begin(), record.end());
  slot.shrink_to_fit();
  return {};
}

base::Result<void> MemoryStore::DeleteSenderKey(std::string_view group_id,
                                                const Address& sender) {
  sender_keys_.erase(std::make_pair(std::string(group_id), sender));
  return {};
}

std::size_t MemoryStore::record_bytes() const {
  std::size_t n = 0;
  for (const auto& [address, record] : sessions_) n += record.size();
  for (const auto& [key, record] : sender_keys_) n += record.size();
  return n;
}

}  // namespace wa::signal
