#include "gateway/accounts/password.h"

#include <sodium.h>

#include "base/bytes.h"

namespace gateway::accounts {

base::Result<std::string> HashPassword(std::string_view password) {
  if (sodium_init() < 0) return boost::system::errc::make_error_code(boost::system::errc::not_enough_memory);
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                            crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return boost::system::errc::make_error_code(boost::system::errc::not_enough_memory);
  }
  return std::string(out);
}

bool VerifyPassword(const std::string& stored_hash, std::string_view password) {
  if (sodium_init() < 0) return false;
  return crypto_pwhash_str_verify(stored_hash.c_str(), password.data(), password.size()) == 0;
}

const std::string& DummyPasswordHash() {
  static const std::string hash = [] {
    auto h = HashPassword(base::ToHex(base::Bytes(16, 0x5a)) + "-dummy");
    return h ? *h : std::string();
  }();
  return hash;
}

}  // namespace gateway::accounts
