#include "wa/signal/store.h"

namespace wa::signal {

base::Result<bool> Store::IsTrustedIdentity(const Address&, const Key32&) { return true; }

base::Result<bool> Store::ContainsSession(const Address& address) {
  auto record = LoadSession(address);
  if (!record) return {boost::system::in_place_error, record.error()};
  return record->has_value();
}

base::Result<bool> Store::ContainsPreKey(std::uint32_t id) {
  auto key = LoadPreKey(id);
  if (!key) return {boost::system::in_place_error, key.error()};
  return key->has_value();
}

base::Result<bool> Store::ContainsSignedPreKey(std::uint32_t id) {
  auto key = LoadSignedPreKey(id);
  if (!key) return {boost::system::in_place_error, key.error()};
  return key->has_value();
}

}  // namespace wa::signal
