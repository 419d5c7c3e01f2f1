#include "wa/signal/address.h"

#include <charconv>
#include <limits>

#include "wa/signal/errors.h"

namespace wa::signal {

std::optional<Domain> DomainOfServer(std::string_view server) {
  if (server == "s.whatsapp.net" || server == "c.us") return Domain::kPn;
  if (server == "lid") return Domain::kLid;
  if (server == "hosted") return Domain::kHosted;
  if (server == "hosted.lid") return Domain::kHostedLid;
  return std::nullopt;
}

base::Result<Address> Address::ForDevice(std::string_view user, Domain domain,
                                         std::uint32_t device) {
  if (user.empty() || user.find_first_of(std::string_view(".:@_\0", 5)) != user.npos) {
    return MakeError(Errc::kInvalidAddress);
  }
  if (device > static_cast<std::uint32_t>(std::numeric_limits<std::int32_t>::max())) {
    return MakeError(Errc::kInvalidAddress);
  }
  const bool hosted = domain == Domain::kHosted || domain == Domain::kHostedLid;
  if (device == kHostedDevice && !hosted) return MakeError(Errc::kInvalidAddress);
  std::string name(user);
  if (domain != Domain::kPn) {
    name += '_';
    name += std::to_string(static_cast<unsigned>(domain));
  }
  return Address(std::move(name), device);
}

base::Result<Address> Address::ForDevice(std::string_view user, std::string_view server,
                                         std::uint32_t device) {
  const std::optional<Domain> domain = DomainOfServer(server);
  if (!domain) return MakeError(Errc::kInvalidAddress);
  return ForDevice(user, *domain, device);
}

std::optional<Address> Address::Parse(std::string_view text) {
  const std::size_t dot = text.rfind('.');
  if (dot == text.npos || dot == 0 || dot + 1 == text.size()) return std::nullopt;
  const std::string_view digits = text.substr(dot + 1);
  std::uint32_t device = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), device);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  if (device > static_cast<std::uint32_t>(std::numeric_limits<std::int32_t>::max())) {
    return std::nullopt;
  }
  return Address(std::string(text.substr(0, dot)), device);
}

std::string Address::ToString() const { return name_ + '.' + std::to_string(device_); }

std::string SenderKeyName(std::string_view group_id, const Address& sender) {
  std::string out(group_id);
  out += "::";
  out += sender.name();
  out += "::";
  out += std::to_string(sender.device());
  return out;
}

}  // namespace wa::signal
