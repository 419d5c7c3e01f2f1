// Binary node decoder for frames from an untrusted peer (01-connection.md section 4). Reads what
// Baileys 7.0.0-rc14 decodeBinaryNode reads and gives the same texts; never throws, checks every
// length against the remaining input before allocating, caps nesting depth and inflated size.
//
// Stricter than Baileys (which accepts these): bytes left after the node (whatsmeow rejects them
// too); a NIBBLE_8 pad nibble (15) anywhere but the last place of an odd-length string; packed
// strings that are empty or longer than 127 characters; a JID as the user or server of an
// INTEROP_JID (Baileys reads that server on trial and falls back to "interop", and trial reads
// of nested JIDs take exponential time: a 500-byte frame can hang Baileys). No encoder produces
// any of these, and rejecting them keeps decode -> encode -> decode stable for every input that
// decodes.
// Spec: docs/protocol/binary-nodes.md
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/assert/source_location.hpp>
#include <boost/system/error_code.hpp>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/binary/node.h"

namespace wa::binary {

enum class DecodeErrc {
  kTruncated = 1,        // input ended inside a tag byte, size field or JID header
  kLengthExceedsInput,   // a declared length/count needs more bytes than remain
  kInvalidTag,           // tag byte 240..244, or a tag not allowed where it stands
  kNotAList,             // a node does not start with LIST_EMPTY/LIST_8/LIST_16
  kEmptyNode,            // node list size 0
  kEmptyTag,             // node tag is the empty string
  kInvalidToken,         // token index outside the dictionaries
  kBadNibble,            // nibble 12..14, or a pad nibble in a wrong place
  kBadPacked,            // packed string empty or longer than 127 characters
  kBadJid,               // JID_PAIR with an empty server; a JID inside an INTEROP_JID
  kTooDeep,              // nesting (nodes and JIDs inside JIDs) deeper than the limit
  kTrailingBytes,        // bytes left after the node
  kBadZlib,              // compressed frame that does not inflate
  kInflatedTooLarge,     // compressed frame inflates past the limit
};
const boost::system::error_category& DecodeCategory();
inline boost::system::error_code MakeError(DecodeErrc e) {
  return {static_cast<int>(e), DecodeCategory()};
}
std::string_view ToString(DecodeErrc e);

struct DecodeError {
  DecodeErrc code = DecodeErrc::kTruncated;
  // Where the rule was broken: for an uncompressed frame, the index in the frame (the flags byte
  // is 0); for a compressed one (inflated == true), the index in the inflated node bytes, except
  // kBadZlib/kInflatedTooLarge which point into the frame.
  std::size_t offset = 0;
  bool inflated = false;

  std::string Message() const;  // "truncated input at offset 7"
  boost::system::error_code ToErrorCode() const { return MakeError(code); }
  friend bool operator==(const DecodeError&, const DecodeError&) = default;
};

struct DecodeOptions {
  // Frames are at most 2^24 bytes (3-byte frame length); inflating past this is refused.
  std::size_t max_inflated_size = 16u << 20;
  // Node nesting limit; real stanzas nest fewer than 10 levels.
  int max_depth = 64;
  // Baileys ignores bytes after the node; whatsmeow and we reject them unless this is set.
  bool allow_trailing_bytes = false;
};

// A frame plaintext: flags byte, then the node (zlib-deflated when flags & 0x02).
base::Result<Node, DecodeError> Decode(base::ByteView frame, const DecodeOptions& options = {});
// Node bytes without the flags byte; offsets are relative to `data`.
base::Result<Node, DecodeError> DecodeNode(base::ByteView data, const DecodeOptions& options = {});

// boost::system::result::value() on an error throws through this (a bug, never control flow).
[[noreturn]] void throw_exception_from_error(const DecodeError& e, const boost::source_location& loc);

}  // namespace wa::binary

template <>
struct boost::system::is_error_code_enum<wa::binary::DecodeErrc> : std::true_type {};
namespace wa::binary {
inline boost::system::error_code make_error_code(DecodeErrc e) { return MakeError(e); }
}  // namespace wa::binary
