// At-rest encryption of stored secrets (ARCHITECTURE.md, principle 6): AES-256-GCM under a key
// derived from the master key, one random 12-byte nonce per value, stored with it.
//
// Sealed form: 0x01 (format version) || nonce (12) || ciphertext || tag (16).
//
// Keys: each scope (a session id) gets its own key, HKDF-SHA256(master key, info = "wagate
// at-rest v1" || 0x00 || scope). Random 96-bit nonces stay safe for about 2^32 values per key;
// a busy session re-seals its ratchet on every message, so one key for the whole process could
// reach that in a year or two, while one per session cannot.
//
// The associated data binds a value to where it is stored (table, session, row key), so a value
// copied to another row, or another session's row, fails to open. Build it with Aad().
#pragma once

#include <initializer_list>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/crypto/crypto.h"

namespace gateway::store {

class Sealer {
 public:
  static constexpr std::size_t kOverhead = 1 + 12 + 16;

  // The key for `scope` under `master_key`, which must be 32 bytes (checked: aborts otherwise;
  // the application validates the key at start-up).
  Sealer(base::ByteView master_key, std::string_view scope);

  base::Bytes Seal(base::ByteView plaintext, base::ByteView aad) const;
  // kUndecryptable when the value is malformed, was sealed under another key or with other AAD.
  base::Result<base::Bytes> Open(base::ByteView sealed, base::ByteView aad) const;

 private:
  wa::crypto::Key32 key_;
};

// Unambiguous associated data from parts: each part is written as its 4-byte big-endian length
// followed by its bytes, after a fixed label.
base::Bytes Aad(std::initializer_list<std::string_view> parts);

}  // namespace gateway::store
