// The key store behind one Signal owner (a wa::Client's linked device, or a simulated phone).
// wa owns this interface; the gateway implements it over its database, wasim uses MemoryStore.
//
// Calls are synchronous because libsignal-protocol-c calls them synchronously from inside
// encrypt/decrypt. They come from the owner's strand only (one Protocol per store), so an
// implementation needs no locking of its own unless it shares state between owners.
//
// Durability: when a write returns success it must be durable before the caller acknowledges
// the stanza that caused it. The caller sequences that: it acks only after Protocol's call
// returned (and its BeforeCommit hook, if any, ran), so a write-through implementation is
// enough; a write-behind one must flush before returning. One Protocol call may make several
// writes (pkmsg decrypt: peer identity, then session, then prekey removal), not atomically as a
// group. A crash before the session write leaves the message decryptable on redelivery; after
// it, redelivery reports kDuplicateMessage — so a caller that must not lose the plaintext
// persists it in Decrypt's BeforeCommit hook, which runs before the session write.
//
// Failures: any method may fail with the implementation's own error_code (disk, database). The
// Protocol call in progress then fails with that same code and commits nothing further.
//
// Keys are raw 32-byte X25519 keys (no 0x05 prefix). Sessions and sender keys are opaque
// libsignal records: store and return the bytes unchanged.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/crypto/crypto.h"
#include "wa/signal/address.h"
#include "wa/signal/keys.h"

namespace wa::signal {

class Store {
 public:
  virtual ~Store() = default;

  // --- Own identity (fixed for the device's lifetime) ---
  virtual base::Result<crypto::KeyPair> GetIdentityKeyPair() = 0;
  virtual base::Result<std::uint32_t> GetRegistrationId() = 0;

  // --- Peer identities ---
  // WhatsApp trusts on first use and, when a peer's key changes, reports the change (Protocol
  // returns IdentityChange::kChanged) rather than blocking: Baileys' isTrustedIdentity is
  // `() => true`, whatsmeow's store trusts every key. Override IsTrustedIdentity only to block.
  virtual base::Result<std::optional<Key32>> GetIdentity(const Address& address) = 0;
  virtual base::Result<void> SaveIdentity(const Address& address, const Key32& identity) = 0;
  virtual base::Result<bool> IsTrustedIdentity(const Address& address, const Key32& identity);

  // --- Sessions, one opaque record per address ---
  virtual base::Result<std::optional<Bytes>> LoadSession(const Address& address) = 0;
  virtual base::Result<void> StoreSession(const Address& address, ByteView record) = 0;
  virtual base::Result<bool> ContainsSession(const Address& address);  // default: LoadSession
  virtual base::Result<void> DeleteSession(const Address& address) = 0;
  // Every device of one name (a user on one domain).
  virtual base::Result<void> DeleteAllSessions(std::string_view name) = 0;
  // Device ids with a session under `name`, ascending.
  virtual base::Result<std::vector<std::uint32_t>> ListSessionDevices(std::string_view name) = 0;

  // --- One-time prekeys ---
  virtual base::Result<std::optional<PreKey>> LoadPreKey(std::uint32_t id) = 0;
  virtual base::Result<void> StorePreKey(const PreKey& key) = 0;
  virtual base::Result<void> RemovePreKey(std::uint32_t id) = 0;
  virtual base::Result<bool> ContainsPreKey(std::uint32_t id);  // default: LoadPreKey

  // --- Signed prekeys (keep old ones for a while after rotating: late pkmsgs name them) ---
  virtual base::Result<std::optional<SignedPreKey>> LoadSignedPreKey(std::uint32_t id) = 0;
  virtual base::Result<void> StoreSignedPreKey(const SignedPreKey& key) = 0;
  virtual base::Result<void> RemoveSignedPreKey(std::uint32_t id) = 0;
  virtual base::Result<bool> ContainsSignedPreKey(std::uint32_t id);  // default: LoadSignedPreKey
  virtual base::Result<std::vector<std::uint32_t>> ListSignedPreKeys() = 0;  // ascending

  // --- Sender keys, by (group, sender device); opaque records ---
  virtual base::Result<std::optional<Bytes>> LoadSenderKey(std::string_view group_id,
                                                           const Address& sender) = 0;
  virtual base::Result<void> StoreSenderKey(std::string_view group_id, const Address& sender,
                                            ByteView record) = 0;
  virtual base::Result<void> DeleteSenderKey(std::string_view group_id,
                                             const Address& sender) = 0;
};

}  // namespace wa::signal
