// ClientPayload, the plaintext inside the Noise ClientFinish (01-connection.md §3): a
// registration request for a new device, a login request for a paired one. Byte-compatible with
// Baileys 7.0.0-rc14 generateRegistrationNode / generateLoginNode for the same configuration
// (vectors/client-payload.json), since both serialize fields in ascending number order.
#pragma once

#include <string>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/client/config.h"
#include "wa/client/credentials.h"

namespace wa::client {

// Registration: identity, registration id, signed prekey, build hash (MD5 of the version
// string) and DeviceProps.
base::Bytes BuildRegistrationPayload(const Credentials& credentials, const Config& config);
// Login as credentials.me; kNoCredentials when the device is not paired, kBadCredentials when
// `me` is not a phone-number device JID.
base::Result<base::Bytes> BuildLoginPayload(const Credentials& credentials, const Config& config);

// Serialized DeviceProps (os, version 10.15.7, platform type from the browser name, full-sync
// flag, Baileys' history sync config).
base::Bytes BuildDeviceProps(const Config& config);

// The companion platform id of the QR string and the pairing-code hello (Baileys
// getCompanionPlatformId): "1" Chrome ... "9" other; "Desktop" is "7" (Electron) or "8" (UWP on
// Windows).
std::string CompanionPlatformId(const Browser& browser);
// "<browser> (<os>)", the pairing-code hello's display name.
std::string CompanionPlatformDisplay(const Browser& browser);

}  // namespace wa::client
