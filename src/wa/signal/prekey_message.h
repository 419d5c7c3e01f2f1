// Reads the one-time prekey id out of a pkmsg (PreKeyWhisperMessage) without decrypting it, so
// that a receiver can prefetch that prekey from its store before the decryption step touches it
// (wa::client::StateStore::Prefetch). Wire form (02-messaging.md §1.7): one version byte (0x33
// for v3), then a protobuf whose field 1 (varint) is the preKeyId; the field is absent when the
// sender's X3DH ran without a one-time prekey.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "base/bytes.h"
#include "base/result.h"

namespace wa::signal {

// nullopt when the message names no one-time prekey. kInvalidMessage when the protobuf is
// malformed (bad varint, truncated field, unsupported wire type), kLegacyVersion /
// kUnknownVersion for a version other than 3. Never reads past `pkmsg`.
base::Result<std::optional<std::uint32_t>> PreKeyMessagePreKeyId(base::ByteView pkmsg);

// Where the embedded WhisperMessage (field 4, whose last 8 bytes are its MAC) lies in `pkmsg`:
// {offset, size}. Same errors as above, and kInvalidMessage when the field is missing. (Tests
// and the simulator use it to damage exactly the MAC.)
struct ByteRange {
  std::size_t offset = 0;
  std::size_t size = 0;
};
base::Result<ByteRange> PreKeyMessageInnerMessage(base::ByteView pkmsg);

}  // namespace wa::signal
