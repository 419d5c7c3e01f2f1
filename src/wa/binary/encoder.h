// Binary node encoder, byte-exact with Baileys 7.0.0-rc14 encodeBinaryNode for nodes built from
// strings (01-connection.md section 4). Text Values follow Baileys' writeString decision order:
// "" -> BINARY_8 0; token; NIBBLE_8; HEX_8; contains '@' -> JID (Baileys' lax jidDecode, JS
// number coercion included); else raw BINARY_8/20/32. Typed JID Values are written in their form
// (JID_PAIR, AD_JID, FB_JID, INTEROP_JID).
//
// Where we differ from Baileys on purpose (only for strings that are never valid protocol):
// - Tags, attribute keys and the parts of typed JIDs that contain '@' are written as JIDs (as
//   Baileys does) only when Baileys' decoder would show them unchanged; otherwise raw. This keeps
//   decode -> encode -> decode stable for every input, and byte-exact for what Baileys writes
//   (e.g. its "a@b@c" = JID_PAIR a, JID_PAIR b c). The parts of an INTEROP_JID are always
//   plain strings (see decoder.h).
// - Baileys' TOKEN_MAP is a plain JS object, so it "finds" Object.prototype names
//   ("constructor", "toString", "__proto__", ...) and writes them as byte 00; we write them raw.
// Spec: docs/protocol/binary-nodes.md
#pragma once

#include "base/bytes.h"
#include "wa/binary/node.h"

namespace wa::binary {

// The frame plaintext: flags byte 0x00 then the node. Preconditions (checked, abort on violation,
// as Baileys would write a corrupt header): at most 65535 items per list, and every string and
// byte content shorter than 2^32 bytes.
base::Bytes Encode(const Node& node);

// Appends the node's bytes (no flags byte) to `out`.
void EncodeNode(const Node& node, base::Bytes& out);

}  // namespace wa::binary
