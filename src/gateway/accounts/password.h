// Passwords: argon2id (libsodium's crypto_pwhash_str, interactive limits: 2 passes over 64 MiB),
// stored as libsodium's self-describing string so that stronger limits can come later and old
// hashes still verify. Both calls are slow on purpose (tens of milliseconds, 64 MiB): run them on
// a blocking pool, never on a network thread.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace gateway::accounts {

// Fails only when memory for the hash cannot be had.
base::Result<std::string> HashPassword(std::string_view password);
bool VerifyPassword(const std::string& stored_hash, std::string_view password);

// A hash of a random password, verified against when an email is unknown so that a login for an
// unknown email takes as long as one for a known email.
const std::string& DummyPasswordHash();

}  // namespace gateway::accounts
