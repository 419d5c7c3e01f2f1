#include "sim/message_wire.h"

#include <algorithm>
#include <chrono>

#include "base/check.h"
#include "wa/proto/adv.pb.h"

namespace sim::wire {

std::string MessageIdV2(std::string_view user, std::int64_t unix_seconds, base::ByteView random16) {
  WA_CHECK(random16.size() == 16);
  base::Bytes data(44, 0);
  auto seconds = static_cast<std::uint64_t>(unix_seconds);
  for (int i = 0; i < 8; ++i)
    data[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(seconds >> (56 - 8 * i));
  std::string who = std::string(user) + "@c.us";
  // Baileys writes the user into a 44-byte buffer at offset 8 and the random bytes at 28; a
  // longer user would be overwritten by them, so only the first 20 characters count.
  std::copy_n(who.begin(), std::min<std::size_t>(who.size(), 20), data.begin() + 8);
  std::copy(random16.begin(), random16.end(), data.begin() + 28);
  auto digest = wa::crypto::Sha256(data);
  std::string hex = base::ToHex(base::ByteView(digest.data(), 9));
  std::transform(hex.begin(), hex.end(), hex.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return "3EB0" + hex;
}

std::string NewMessageId(std::string_view user) {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  return MessageIdV2(user, now, wa::crypto::RandomBytes(16));
}

base::Bytes Pad(base::ByteView message, std::uint8_t random_byte) {
  auto n = static_cast<std::uint8_t>((random_byte & 0x0F) + 1);
  base::Bytes out(message.begin(), message.end());
  out.insert(out.end(), n, n);
  return out;
}

std::optional<base::ByteView> Unpad(base::ByteView padded) {
  if (padded.empty()) return std::nullopt;
  std::size_t n = padded.back();
  if (n == 0 || n > padded.size()) return std::nullopt;
  for (std::size_t i = padded.size() - n; i < padded.size(); ++i) {
    if (padded[i] != n) return std::nullopt;
  }
  return padded.first(padded.size() - n);
}

std::string ParticipantHashV2(const std::vector<wa::binary::Jid>& devices) {
  std::vector<std::string> parts;
  parts.reserve(devices.size());
  for (const auto& d : devices) {
    parts.push_back(d.user() + ".0:" + std::to_string(d.device()) + "@" + d.server());
  }
  std::sort(parts.begin(), parts.end());
  std::string joined;
  for (const auto& p : parts) joined += p;
  auto digest = wa::crypto::Sha256(base::AsBytes(joined));
  std::string b64 = base::ToBase64(base::ByteView(digest.data(), 6));  // 6 bytes: no padding
  return "2:" + b64;
}

base::Bytes SignedKeyIndexList(const wa::crypto::KeyPair& account, std::uint32_t raw_id,
                               std::uint64_t timestamp, std::uint32_t current_index,
                               const std::vector<std::uint32_t>& valid_indexes) {
  wa::proto::ADVKeyIndexList list;
  list.set_raw_id(raw_id);
  list.set_timestamp(timestamp);
  list.set_current_index(current_index);
  for (auto i : valid_indexes) list.add_valid_indexes(i);
  list.set_account_type(wa::proto::E2EE);
  std::string details = list.SerializeAsString();
  base::Bytes message{0x06, 0x02};
  message.insert(message.end(), details.begin(), details.end());
  auto signature = wa::crypto::Sign(account.private_key, message);
  wa::proto::ADVSignedKeyIndexList signed_list;
  signed_list.set_details(details);
  signed_list.set_account_signature(std::string(base::AsChars(signature)));
  std::string out = signed_list.SerializeAsString();
  return base::Bytes(out.begin(), out.end());
}

}  // namespace sim::wire
