// The Signal protocol address of one device, {name, device}, named the way WhatsApp clients key
// their own Signal stores (02-messaging.md §0.1, Baileys jidToSignalProtocolAddress, whatsmeow
// JID.SignalAddressUser): a phone-number user U keeps name "U", the other AD domains append
// "_<domain byte>" — "U_1" (LID), "U_128" (hosted), "U_129" (hosted LID). The address never
// travels on the wire; it only has to be the same every time the same device is seen, and equal
// to Baileys' and whatsmeow's so stores stay comparable.
//
// Built from plain user/server/device values so this layer does not depend on wa::binary's Jid.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace wa::signal {

// The AD-JID domain byte (Baileys WAJIDDomains, whatsmeow RawAgent).
enum class Domain : std::uint8_t { kPn = 0, kLid = 1, kHosted = 128, kHostedLid = 129 };

// "s.whatsapp.net" (and the legacy "c.us") -> kPn, "lid" -> kLid, "hosted" -> kHosted,
// "hosted.lid" -> kHostedLid; nullopt for servers without Signal sessions (g.us, broadcast, ...).
std::optional<Domain> DomainOfServer(std::string_view server);

class Address {
 public:
  // Device id 99 is reserved for hosted devices (Baileys refuses it elsewhere).
  static constexpr std::uint32_t kHostedDevice = 99;

  Address() = default;
  // A raw {name, device} pair, taken as is (for store keys read back from disk).
  Address(std::string name, std::uint32_t device) : name_(std::move(name)), device_(device) {}

  // The address of device `device` of `user` on `domain`. Fails with kInvalidAddress for an
  // empty user, a user containing '.', ':', '@', '_' or NUL (they would make names ambiguous),
  // a device that does not fit libsignal's int32, or device 99 outside the hosted domains.
  static base::Result<Address> ForDevice(std::string_view user, Domain domain,
                                         std::uint32_t device);
  // Same, with the JID server string; kInvalidAddress for servers without Signal sessions.
  static base::Result<Address> ForDevice(std::string_view user, std::string_view server,
                                         std::uint32_t device);

  // Parses ToString()'s form "name.device" (the last '.' separates).
  static std::optional<Address> Parse(std::string_view text);

  const std::string& name() const { return name_; }
  std::uint32_t device() const { return device_; }

  // "name.device", libsignal's ProtocolAddress.toString() (Baileys' session key).
  std::string ToString() const;

  friend bool operator==(const Address&, const Address&) = default;
  friend auto operator<=>(const Address&, const Address&) = default;

 private:
  std::string name_;
  std::uint32_t device_ = 0;
};

// Baileys' SenderKeyName string "<group>::<name>::<device>", for stores that want one key.
std::string SenderKeyName(std::string_view group_id, const Address& sender);

struct AddressHash {
  std::size_t operator()(const Address& a) const noexcept {
    return std::hash<std::string>()(a.name()) * 31 + a.device();
  }
};

}  // namespace wa::signal
