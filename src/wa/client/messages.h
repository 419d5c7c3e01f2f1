// The pure parts of 1:1 messaging (02-messaging.md §2-§4, §8): message ids, random padding,
// recipients, the usync device and contact queries, prekey-bundle fetches, retry-receipt key
// bundles, and building and reading text Messages. No I/O and no state: wa::client::Client does
// the sequencing; these are unit-tested against the reference's vectors.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/binary/jid.h"
#include "wa/binary/node.h"
#include "wa/client/events.h"
#include "wa/proto/message.pb.h"
#include "wa/signal/keys.h"

namespace wa::client {

using binary::Jid;
using binary::Node;

// --- ids and padding -----------------------------------------------------------------------

// Baileys' generateMessageIDV2: "3EB0" + 18 upper-case hex digits of SHA-256(8-byte BE seconds
// || own user + "@c.us" at offset 8 || zeros to offset 28 || 16 random bytes). `random` must be
// 16 bytes.
std::string MessageIdV2(std::string_view own_user, std::int64_t unix_seconds,
                        base::ByteView random);
// The same with fresh random bytes.
std::string NewMessageId(std::string_view own_user, std::int64_t unix_seconds);

// Baileys' writeRandomPadMax16: N = (random & 0x0F) + 1 bytes, each equal to N.
base::Bytes PadMessage(base::ByteView message, std::uint8_t random);
// Strict (whatsmeow): the last byte N must be 1..len and the last N bytes must all equal N.
// Returns the message without its padding; kProtocol otherwise.
base::Result<base::ByteView> UnpadMessage(base::ByteView padded);

// --- recipients ----------------------------------------------------------------------------

// "15550001111", "+1 555-000-1111" (NormalizePhone's digits) or a JID of a user
// ("…@s.whatsapp.net", "…@c.us", "…@lid"; a device part is dropped) -> the user JID.
// kInvalidRecipient for anything else (groups are not supported yet).
base::Result<Jid> ParseRecipient(std::string_view to);

// --- usync ---------------------------------------------------------------------------------

// <iq xmlns="usync" type="get" to><usync context="message" mode="query" sid last index>
//   <query><devices version="2"/><lid/></query><list><user jid/>…</list></usync></iq>
Node UsyncDevicesQuery(std::span<const Jid> users, std::string_view sid);

struct UsyncDevices {
  Jid user;                            // as the server echoed it (no device)
  std::vector<std::uint16_t> devices;  // ascending; non-zero ones only when they had key-index
  std::optional<Jid> lid;              // <lid val>, when the answer carried one
  std::int64_t key_index_ts = 0;       // <key-index-list ts>, 0 when absent
};
// Every <user> with a <devices> answer; a user whose <devices> holds an <error> is left out.
// kProtocol when the result has no <usync><list>.
base::Result<std::vector<UsyncDevices>> ParseUsyncDevices(const Node& result);

// <usync context="interactive" …><query><contact/></query><list><user><contact>+digits</contact>
// </user>…</list> for each phone (digits only).
Node UsyncContactQuery(std::span<const std::string> phones, std::string_view sid);

struct ContactStatus {
  std::string phone;  // the digits we asked about (from the echoed content, else by position)
  Jid jid;
  bool exists = false;  // <contact type="in">
};
base::Result<std::vector<ContactStatus>> ParseUsyncContacts(const Node& result,
                                                            std::span<const std::string> asked);

// --- prekey bundles ------------------------------------------------------------------------

// <iq xmlns="encrypt" type="get" to><key><user jid [reason="identity"]/>…</key></iq>
Node PreKeyBundleQuery(std::span<const Jid> devices, bool identity_reason);

struct FetchedBundle {
  Jid jid;  // the echoed device JID
  base::Result<signal::PreKeyBundle> bundle;
};
// One entry per <user> of the answer's <list>; a <user> with an <error> or a malformed key gets
// an error bundle. kProtocol when there is no <list>.
base::Result<std::vector<FetchedBundle>> ParsePreKeyBundles(const Node& result);

// The bundle made of a node's <registration>(optional)/<identity>/<skey>/<key> children (a
// bundle answer's <user>, or a retry receipt's <keys> with `registration` from the receipt).
base::Result<signal::PreKeyBundle> ParseBundle(const Node& holder,
                                               std::optional<std::uint32_t> registration_id,
                                               std::uint32_t device_id);

// --- messages ------------------------------------------------------------------------------

// What a text message says, apart from its text.
struct TextExtras {
  std::optional<QuotedMessage> quoted;
  std::vector<std::string> mentions;  // user JIDs
};

// Baileys 7's text: extendedTextMessage{text, contextInfo{stanzaId, participant,
// quotedMessage{conversation}, mentionedJid}} (no contextInfo without quote and mentions), plus
// messageContextInfo.messageSecret when `message_secret` is not empty.
proto::Message BuildTextMessage(std::string_view text, const TextExtras& extras,
                                base::ByteView message_secret);
// The DeviceSentMessage copy for our own other devices (§3.3).
proto::Message WrapDeviceSent(const proto::Message& message, const Jid& destination);

// conversation or extendedTextMessage.text, the quote and mentions of whichever context info
// the content carries (extended text first).
struct ReadText {
  std::string text;
  TextExtras extras;
};
ReadText ReadTextContent(const proto::Message& message);

// Receipt types by name ("" = delivered).
ReceiptType ParseReceiptType(std::string_view type);

}  // namespace wa::client
