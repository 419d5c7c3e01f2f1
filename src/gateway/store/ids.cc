#include "gateway/store/ids.h"

#include "base/clock.h"
#include "wa/crypto/crypto.h"

namespace gateway::store {

namespace {

constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
// The same 32 characters in ASCII order, for the time: ids compare as their times do.
constexpr char kOrdered[] = "234567abcdefghijklmnopqrstuvwxyz";

void AppendRandom(std::string& id, std::size_t n) {
  auto bytes = wa::crypto::RandomBytes(n);
  for (auto b : bytes) id.push_back(kAlphabet[b & 31]);
}

}  // namespace

std::string NewId(std::string_view prefix) {
  std::string id(prefix);
  AppendRandom(id, 20);
  return id;
}

std::string NewOrderedId(std::string_view prefix, std::int64_t unix_ms) {
  std::string id(prefix);
  auto t = static_cast<std::uint64_t>(unix_ms < 0 ? 0 : unix_ms);
  for (int shift = 45; shift >= 0; shift -= 5) id.push_back(kOrdered[(t >> shift) & 31]);
  AppendRandom(id, 16);
  return id;
}

std::string NewOrderedId(std::string_view prefix) { return NewOrderedId(prefix, base::UnixMs()); }

}  // namespace gateway::store
