// Builders for the stanzas the connection layer sends (01-connection.md §5-§8, 02-messaging.md
// §1.2-1.3, §4.6). Attribute order follows Baileys so that the encoded bytes equal the vectors in
// connection-nodes.json; iq builders leave `id` empty for SendIq to fill (SetAttr keeps its place).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "wa/binary/jid.h"
#include "wa/binary/node.h"
#include "wa/crypto/crypto.h"
#include "wa/signal/keys.h"

namespace wa::client::stanzas {

using binary::Jid;
using binary::Node;

// <iq to="@s.whatsapp.net" type="result" id=…/>: the answer to pair-device (and server pings).
Node IqResult(std::string_view id);
// <iq to type="error" id><error code text/></iq>: whatsmeow's answer to a bad pair-success.
Node IqError(std::string_view id, int code, std::string_view text);

// <iq id xmlns="encrypt" type="get" to><count/></iq>
Node PreKeyCount();
// <iq xmlns="encrypt" type="set" to id><registration/><type/><identity/><list>…</list><skey/></iq>
Node PreKeyUpload(std::uint32_t registration_id, const crypto::Key32& identity,
                  std::span<const signal::PreKey> pre_keys, const signal::SignedPreKey& signed_pre_key);
// <iq to type="get" xmlns="encrypt"><digest/></iq> (02-messaging.md §1.4)
Node Digest();
// <iq to type="set" xmlns="encrypt"><rotate><skey>…</skey></rotate></iq> (§1.5)
Node RotateSignedPreKey(const signal::SignedPreKey& signed_pre_key);
// <iq to xmlns="passive" type="set" id><active/></iq> (or <passive/>)
Node Passive(bool active);
// <iq id to type="get" xmlns="w:p"><ping/></iq>
Node Ping();
// <ib><unified_session id/></ib>
Node UnifiedSession(std::string_view id);
// (now + server offset + 3 days) mod 7 days, in milliseconds, as Baileys computes it.
std::string UnifiedSessionId(std::int64_t now_unix_ms, std::int64_t server_offset_ms);
// <ib><offline_batch count/></ib>: Baileys' answer to <offline_preview/>.
Node OfflineBatch(int count);
// <iq to type="result" id><pair-device-sign><device-identity key-index>…</device-identity>…
Node PairDeviceSign(std::string_view id, std::uint32_t key_index, base::ByteView signed_identity);
// <iq to type="set" id xmlns="md"><remove-companion-device jid reason="user_initiated"/></iq>
Node RemoveCompanionDevice(const Jid& me);
// Pairing code, companion_hello and companion_finish (01-connection.md §6).
Node LinkCodeCompanionHello(const Jid& phone, base::ByteView wrapped_ephemeral,
                            const crypto::Key32& noise_public, std::string_view platform_id,
                            std::string_view platform_display);
Node LinkCodeCompanionFinish(const Jid& phone, base::ByteView wrapped_key_bundle,
                             const crypto::Key32& identity_public, base::ByteView ref);
// <ack id to class [type] [participant] [recipient]/> for a received stanza (Baileys
// buildAckStanza without the message-only `from`).
Node Ack(const Node& stanza);

}  // namespace wa::client::stanzas
