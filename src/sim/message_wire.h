// Pure helpers for the messaging layer of wasim (shared/protocol/02-messaging.md): message ids
// (§3.1), plaintext padding (§3.2), the participant hash carried by device notifications (§2.6)
// and the account's signed key-index list served with device lists (§2.2). No state, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "wa/binary/jid.h"
#include "wa/crypto/crypto.h"

namespace sim::wire {

// Baileys' generateMessageIDV2: "3EB0" + upper hex of SHA-256(8-byte BE unix seconds ‖
// user "@c.us" zero-filled to offset 28 ‖ 16 random bytes), first 18 digits: 22 characters.
// `random16` must be 16 bytes.
std::string MessageIdV2(std::string_view user, std::int64_t unix_seconds, base::ByteView random16);
// The same with the current time and fresh randomness.
std::string NewMessageId(std::string_view user);

// Appends N bytes of value N, N = (random_byte & 0x0F) + 1 (Baileys writeRandomPadMax16).
base::Bytes Pad(base::ByteView message, std::uint8_t random_byte);
// The protobuf inside a padded plaintext. Strict like whatsmeow: the last N bytes must all be N,
// with 1 <= N <= size; nullopt otherwise.
std::optional<base::ByteView> Unpad(base::ByteView padded);

// whatsmeow's participantListHashV2 as the reference describes it (vectors/message-proto.json):
// "<user>.0:<device>@<server>" per device, sorted, concatenated, SHA-256, "2:" + unpadded
// base64 of the first 6 bytes.
std::string ParticipantHashV2(const std::vector<wa::binary::Jid>& devices);

// ADVSignedKeyIndexList for an account: which key indexes (companions) are valid, signed with the
// account identity key over 06 02 ‖ details. Neither Baileys nor whatsmeow verifies it; its `ts`
// is `timestamp`.
base::Bytes SignedKeyIndexList(const wa::crypto::KeyPair& account, std::uint32_t raw_id,
                               std::uint64_t timestamp, std::uint32_t current_index,
                               const std::vector<std::uint32_t>& valid_indexes);

}  // namespace sim::wire
