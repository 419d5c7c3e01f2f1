// JIDs: the addresses of users, devices, groups and servers in WhatsApp stanzas, as a value type.
//
// Textual form (Baileys' rendering, which is what every string accessor shows):
//   user@server                        JID_PAIR (phone user, group, broadcast, newsletter, server)
//   user[:device]@s.whatsapp.net|lid|hosted|hosted.lid      AD_JID (device 0 is not rendered)
//   user:device@msgr                   FB_JID
//   integrator-user:device@interop     INTEROP_JID
// The form a JID travels in is part of the value (form()), so that a JID decoded from AD_JID with
// device 0 — shown as "user@s.whatsapp.net" — is written back as AD_JID. Spec:
// shared/protocol/01-connection.md section 4.6.
// Spec: docs/protocol/binary-nodes.md
#pragma once

#include <compare>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include <boost/system/error_code.hpp>

#include "base/result.h"

namespace wa::binary {

// Well-known servers.
inline constexpr std::string_view kUserServer = "s.whatsapp.net";  // phone-number users
inline constexpr std::string_view kLegacyUserServer = "c.us";
inline constexpr std::string_view kGroupServer = "g.us";
inline constexpr std::string_view kBroadcastServer = "broadcast";
inline constexpr std::string_view kLidServer = "lid";
inline constexpr std::string_view kNewsletterServer = "newsletter";
inline constexpr std::string_view kHostedServer = "hosted";
inline constexpr std::string_view kHostedLidServer = "hosted.lid";
inline constexpr std::string_view kBotServer = "bot";
inline constexpr std::string_view kMessengerServer = "msgr";
inline constexpr std::string_view kInteropServer = "interop";

// AD_JID domain bytes (Baileys WAJIDDomains, whatsmeow RawAgent).
inline constexpr std::uint8_t kDomainWhatsApp = 0;
inline constexpr std::uint8_t kDomainLid = 1;
inline constexpr std::uint8_t kDomainHosted = 128;
inline constexpr std::uint8_t kDomainHostedLid = 129;

enum class JidErrc {
  kNoAt = 1,        // no '@'
  kEmptyServer,     // nothing after '@'
  kBadServer,       // a second '@' in the server
  kBadDevice,       // device is not a decimal number in range
  kBadAgent,        // agent is not a decimal number in 0..255, or conflicts with the server
  kBadIntegrator,   // interop integrator is not a decimal number in 0..65535
  kDeviceNotAllowed,  // a device or agent on a server that has no device form
};
const boost::system::error_category& JidCategory();
inline boost::system::error_code MakeError(JidErrc e) { return {static_cast<int>(e), JidCategory()}; }

class Jid {
 public:
  enum class Form : std::uint8_t { kPair, kAd, kFb, kInterop };

  Jid() = default;

  // user@server, JID_PAIR. An empty user addresses the server itself.
  static Jid Pair(std::string user, std::string server);
  // AD_JID: the server follows from the domain byte (0 -> s.whatsapp.net, 1 -> lid,
  // 128 -> hosted, 129 -> hosted.lid, anything else -> s.whatsapp.net keeping the byte).
  static Jid Ad(std::string user, std::uint8_t domain, std::uint8_t device);
  // user:device@server, FB_JID (server normally msgr).
  static Jid Fb(std::string user, std::uint16_t device, std::string server = std::string(kMessengerServer));
  // integrator-user:device@server, INTEROP_JID (server normally interop).
  static Jid Interop(std::string user, std::uint16_t device, std::uint16_t integrator,
                     std::string server = std::string(kInteropServer));

  // Every field as given, no checks (for decoders and tests; prefer the factories above).
  static Jid FromParts(Form form, std::string user, std::string server, std::uint8_t agent,
                       std::uint16_t device, std::uint16_t integrator);

  // The server JID "@s.whatsapp.net" as servers send it.
  static Jid Server() { return Pair("", std::string(kUserServer)); }
  // user@s.whatsapp.net, or user:device@s.whatsapp.net (AD) when device != 0.
  static Jid User(std::string user, std::uint8_t device = 0);
  // user@lid, or user:device@lid (AD) when device != 0.
  static Jid Lid(std::string user, std::uint8_t device = 0);

  // Parses the textual forms above. Picks the form Baileys' encoder would use for the same text
  // (AD_JID whenever a ":device" part is present, even ":0"), except that msgr and interop
  // device JIDs become FB_JID / INTEROP_JID (Baileys cannot encode those; whatsmeow does).
  // Stricter than Baileys' jidDecode: numbers must be decimal and in range.
  static base::Result<Jid> Parse(std::string_view text);

  const std::string& user() const { return user_; }
  const std::string& server() const { return server_; }
  Form form() const { return form_; }
  // The AD_JID domain byte: implied by lid/hosted/hosted.lid, else the raw agent (usually 0).
  std::uint8_t agent() const { return agent_; }
  std::uint16_t device() const { return device_; }
  std::uint16_t integrator() const { return integrator_; }

  bool empty() const { return user_.empty() && server_.empty(); }
  bool IsUser() const { return server_ == kUserServer && !user_.empty(); }  // phone-number user
  bool IsLid() const { return server_ == kLidServer; }
  bool IsHosted() const { return server_ == kHostedServer || server_ == kHostedLidServer; }
  bool IsGroup() const { return server_ == kGroupServer; }
  bool IsBroadcast() const { return server_ == kBroadcastServer; }
  bool IsStatusBroadcast() const { return IsBroadcast() && user_ == "status"; }
  bool IsNewsletter() const { return server_ == kNewsletterServer; }
  bool IsBot() const { return server_ == kBotServer; }
  bool IsServer() const { return user_.empty() && server_ == kUserServer; }  // "@s.whatsapp.net"
  // A device JID (AD/FB/INTEROP form), as opposed to a user/group/server address.
  bool IsDevice() const { return form_ != Form::kPair; }

  // user@server: no device, no agent (whatsmeow ToNonAD, Baileys jidNormalizedUser without the
  // c.us -> s.whatsapp.net mapping).
  Jid ToNonAd() const { return Pair(user_, server_); }
  // Same user and server, device `device`, AD form (s.whatsapp.net/lid/hosted only).
  Jid WithDevice(std::uint8_t device) const;

  // Baileys' rendering: see the header comment. Device 0 of an AD JID and the agent byte are not
  // shown (Baileys drops both), so Parse(ToString()) can differ in form() and agent().
  std::string ToString() const;
  // Appends ToString() to `out`; returns the offsets of user and server inside what it appended.
  struct Layout {
    std::size_t user_offset;
    std::size_t server_offset;
  };
  Layout AppendTo(std::string& out) const;

  // Equality is on every field, the form included.
  friend bool operator==(const Jid&, const Jid&) = default;
  friend auto operator<=>(const Jid&, const Jid&) = default;

 private:
  std::string user_;
  std::string server_;
  Form form_ = Form::kPair;
  std::uint8_t agent_ = 0;
  std::uint16_t device_ = 0;
  std::uint16_t integrator_ = 0;
};

std::ostream& operator<<(std::ostream& os, const Jid& jid);

// The server an AD_JID domain byte stands for (Baileys: unknown bytes mean s.whatsapp.net).
std::string_view ServerOfDomain(std::uint8_t domain);
// The domain byte a server implies (lid 1, hosted 128, hosted.lid 129), or -1 for any other.
int DomainOfServer(std::string_view server);

}  // namespace wa::binary

template <>
struct boost::system::is_error_code_enum<wa::binary::JidErrc> : std::true_type {};
namespace wa::binary {
inline boost::system::error_code make_error_code(JidErrc e) { return MakeError(e); }
}  // namespace wa::binary
