// Tag bytes of the binary node format (01-connection.md section 4.3; Baileys TAGS, whatsmeow token).
// Spec: docs/protocol/binary-nodes.md
#pragma once

#include <cstddef>
#include <cstdint>

namespace wa::binary {

inline constexpr std::uint8_t kListEmpty = 0;
// 1..235: single-byte tokens.
inline constexpr std::uint8_t kDictionary0 = 236;  // 236..239: double-byte token, index byte follows
inline constexpr std::uint8_t kDictionary3 = 239;
// 240..244: unused, invalid.
inline constexpr std::uint8_t kInteropJid = 245;
inline constexpr std::uint8_t kFbJid = 246;
inline constexpr std::uint8_t kAdJid = 247;
inline constexpr std::uint8_t kList8 = 248;
inline constexpr std::uint8_t kList16 = 249;
inline constexpr std::uint8_t kJidPair = 250;
inline constexpr std::uint8_t kHex8 = 251;
inline constexpr std::uint8_t kBinary8 = 252;
inline constexpr std::uint8_t kBinary20 = 253;
inline constexpr std::uint8_t kBinary32 = 254;
inline constexpr std::uint8_t kNibble8 = 255;

inline constexpr std::size_t kPackedMax = 127;  // characters in a NIBBLE_8 / HEX_8 string

// Frame flags byte.
inline constexpr std::uint8_t kFlagCompressed = 0x02;

}  // namespace wa::binary
