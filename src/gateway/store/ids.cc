#include "gateway/store/ids.h"

#include "wa/crypto/crypto.h"

namespace gateway::store {

std::string NewId(std::string_view prefix) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  auto bytes = wa::crypto::RandomBytes(20);
  std::string id(prefix);
  for (auto b : bytes) id.push_back(kAlphabet[b & 31]);
  return id;
}

}  // namespace gateway::store
