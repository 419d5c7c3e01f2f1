// The companion device's own state that is not a Signal session: the keys created with the
// device, what pairing taught it (who it is, the account's signed statement) and small counters.
// The gateway keeps one Credentials per linked number, encrypted at rest.
//
// Who owns what (with wa::signal::Store, which the client receives too):
// - Credentials are the record of the identity key pair, the registration id and the current
//   signed prekey. The Signal store must answer GetIdentityKeyPair/GetRegistrationId with the
//   same values (the owner builds it from these Credentials; the client checks at Start) and
//   holds a copy of the signed prekey (written by the client when missing).
// - One-time prekeys live only in the Signal store. next_pre_key_id / first_unuploaded_pre_key_id
//   here say which ids were generated and which of those the server acknowledged.
// - Peer identities and sessions live only in the Signal store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/binary/jid.h"
#include "wa/crypto/crypto.h"
#include "wa/signal/keys.h"

namespace wa::client {

struct Credentials {
  crypto::KeyPair noise_key;        // Noise static key, also in the QR code
  crypto::KeyPair identity_key;     // Signal identity (signs the signed prekey, ADV)
  std::uint32_t registration_id = 0;
  signal::SignedPreKey signed_pre_key;
  crypto::Key32 adv_secret{};       // QR linking; replaced by the pairing-code derivation

  // Set by pairing (pair-success). `me` is the PN device JID (user:device@s.whatsapp.net); its
  // presence is what makes the device "paired" (login instead of registration).
  std::optional<binary::Jid> me;
  std::optional<binary::Jid> lid;   // user:device@lid
  // ADVSignedDeviceIdentity as received, with the account signature key and our device
  // signature: later sent as <device-identity> in pkmsg stanzas.
  base::Bytes account;
  std::string platform;             // the primary's platform name ("android", "smba", ...)
  std::string business_name;        // <biz name> of business accounts
  std::string push_name;

  base::Bytes routing_info;         // <ib><edge_routing>: sent in the ED intro header
  std::uint32_t next_pre_key_id = 1;              // next one-time prekey id to generate
  std::uint32_t first_unuploaded_pre_key_id = 1;  // ids before this one reached the server
  std::int64_t server_time_offset_ms = 0;         // server clock - local clock, from `t`

  // Fresh keys for a new device: noise and identity key pairs, a registration id, signed prekey
  // id 1 and a random ADV secret (Baileys initAuthCreds).
  static Credentials New();

  bool paired() const { return me.has_value(); }

  friend bool operator==(const Credentials&, const Credentials&);
};

// A stable, versioned text form (JSON; keys hex) for stores that keep credentials as one blob.
std::string EncodeCredentials(const Credentials& credentials);
// Rejects anything malformed (not JSON, unknown version, wrong key lengths, bad JIDs) with
// kBadCredentials; never throws.
base::Result<Credentials> DecodeCredentials(std::string_view text);

}  // namespace wa::client
