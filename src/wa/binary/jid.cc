#include "wa/binary/jid.h"

#include <charconv>

namespace wa::binary {

namespace {

class JidCategoryImpl : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "wa.jid"; }
  std::string message(int ev) const override {
    switch (static_cast<JidErrc>(ev)) {
      case JidErrc::kNoAt: return "JID has no '@'";
      case JidErrc::kEmptyServer: return "JID has an empty server";
      case JidErrc::kBadServer: return "JID server contains '@'";
      case JidErrc::kBadDevice: return "JID device is not a decimal number in range";
      case JidErrc::kBadAgent: return "JID agent is not a decimal byte or conflicts with the server";
      case JidErrc::kBadIntegrator: return "interop JID integrator is not a decimal number in range";
      case JidErrc::kDeviceNotAllowed: return "JID server has no device form";
    }
    return "unknown JID error";
  }
};

// Strict decimal: digits only, no sign, no leading '+', value <= max.
bool ParseDecimal(std::string_view s, unsigned max, unsigned& out) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size() || value > max) return false;
  out = value;
  return true;
}

bool IsAdServer(std::string_view server) {
  return server == kUserServer || DomainOfServer(server) >= 0;
}

void AppendNumber(std::string& out, unsigned value) {
  char buf[16];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, value);
  (void)ec;
  out.append(buf, ptr);
}

}  // namespace

const boost::system::error_category& JidCategory() {
  static const JidCategoryImpl category;
  return category;
}

std::string_view ServerOfDomain(std::uint8_t domain) {
  switch (domain) {
    case kDomainLid: return kLidServer;
    case kDomainHosted: return kHostedServer;
    case kDomainHostedLid: return kHostedLidServer;
    default: return kUserServer;
  }
}

int DomainOfServer(std::string_view server) {
  if (server == kLidServer) return kDomainLid;
  if (server == kHostedServer) return kDomainHosted;
  if (server == kHostedLidServer) return kDomainHostedLid;
  return -1;
}

Jid Jid::FromParts(Form form, std::string user, std::string server, std::uint8_t agent,
                   std::uint16_t device, std::uint16_t integrator) {
  Jid jid;
  jid.form_ = form;
  jid.user_ = std::move(user);
  jid.server_ = std::move(server);
  jid.agent_ = agent;
  jid.device_ = device;
  jid.integrator_ = integrator;
  return jid;
}

Jid Jid::Pair(std::string user, std::string server) {
  int domain = DomainOfServer(server);
  auto agent = static_cast<std::uint8_t>(domain < 0 ? 0 : domain);
  return FromParts(Form::kPair, std::move(user), std::move(server), agent, 0, 0);
}

Jid Jid::Ad(std::string user, std::uint8_t domain, std::uint8_t device) {
  return FromParts(Form::kAd, std::move(user), std::string(ServerOfDomain(domain)), domain, device, 0);
}

Jid Jid::Fb(std::string user, std::uint16_t device, std::string server) {
  return FromParts(Form::kFb, std::move(user), std::move(server), 0, device, 0);
}

Jid Jid::Interop(std::string user, std::uint16_t device, std::uint16_t integrator, std::string server) {
  return FromParts(Form::kInterop, std::move(user), std::move(server), 0, device, integrator);
}

Jid Jid::User(std::string user, std::uint8_t device) {
  if (device != 0) return Ad(std::move(user), kDomainWhatsApp, device);
  return Pair(std::move(user), std::string(kUserServer));
}

Jid Jid::Lid(std::string user, std::uint8_t device) {
  if (device != 0) return Ad(std::move(user), kDomainLid, device);
  return Pair(std::move(user), std::string(kLidServer));
}

Jid Jid::WithDevice(std::uint8_t device) const {
  if (server_ == kMessengerServer) return Fb(user_, device, server_);
  if (server_ == kInteropServer) return Interop(user_, device, integrator_, server_);
  return FromParts(Form::kAd, user_, server_, agent_, device, 0);
}

base::Result<Jid> Jid::Parse(std::string_view text) {
  std::size_t at = text.find('@');
  if (at == std::string_view::npos) return MakeError(JidErrc::kNoAt);
  std::string_view server = text.substr(at + 1);
  std::string_view left = text.substr(0, at);
  if (server.empty()) return MakeError(JidErrc::kEmptyServer);
  if (server.find('@') != std::string_view::npos) return MakeError(JidErrc::kBadServer);

  if (server == kMessengerServer || server == kInteropServer) {
    std::size_t colon = left.rfind(':');
    if (colon == std::string_view::npos) return Pair(std::string(left), std::string(server));
    unsigned device = 0;
    if (!ParseDecimal(left.substr(colon + 1), 0xFFFF, device)) return MakeError(JidErrc::kBadDevice);
    std::string_view user = left.substr(0, colon);
    if (server == kMessengerServer) {
      return Fb(std::string(user), static_cast<std::uint16_t>(device), std::string(server));
    }
    std::size_t dash = user.find('-');
    unsigned integrator = 0;
    if (dash == std::string_view::npos || !ParseDecimal(user.substr(0, dash), 0xFFFF, integrator)) {
      return MakeError(JidErrc::kBadIntegrator);
    }
    return Interop(std::string(user.substr(dash + 1)), static_cast<std::uint16_t>(device),
                   static_cast<std::uint16_t>(integrator), std::string(server));
  }

  std::size_t colon = left.find(':');
  std::string_view user_agent = left.substr(0, colon);
  bool has_device = colon != std::string_view::npos;
  unsigned device = 0;
  if (has_device && !ParseDecimal(left.substr(colon + 1), 0xFF, device)) {
    return MakeError(JidErrc::kBadDevice);
  }
  std::size_t underscore = user_agent.find('_');
  bool has_agent = underscore != std::string_view::npos;
  std::string_view user = user_agent.substr(0, underscore);
  int domain = DomainOfServer(server);
  unsigned agent = domain < 0 ? 0 : static_cast<unsigned>(domain);
  if (has_agent) {
    unsigned parsed = 0;
    if (!ParseDecimal(user_agent.substr(underscore + 1), 0xFF, parsed)) return MakeError(JidErrc::kBadAgent);
    if (domain >= 0 && parsed != agent) return MakeError(JidErrc::kBadAgent);
    agent = parsed;
  }
  if ((has_device || has_agent) && !IsAdServer(server)) return MakeError(JidErrc::kDeviceNotAllowed);
  Form form = has_device ? Form::kAd : Form::kPair;
  return FromParts(form, std::string(user), std::string(server), static_cast<std::uint8_t>(agent),
                   static_cast<std::uint16_t>(device), 0);
}

Jid::Layout Jid::AppendTo(std::string& out) const {
  Layout layout{};
  std::size_t start = out.size();
  switch (form_) {
    case Form::kPair:
      layout.user_offset = 0;
      out += user_;
      break;
    case Form::kAd:
      layout.user_offset = 0;
      out += user_;
      if (device_ != 0) {
        out += ':';
        AppendNumber(out, device_);
      }
      break;
    case Form::kFb:
      layout.user_offset = 0;
      out += user_;
      out += ':';
      AppendNumber(out, device_);
      break;
    case Form::kInterop:
      AppendNumber(out, integrator_);
      out += '-';
      layout.user_offset = out.size() - start;
      out += user_;
      out += ':';
      AppendNumber(out, device_);
      break;
  }
  out += '@';
  layout.server_offset = out.size() - start;
  out += server_;
  return layout;
}

std::string Jid::ToString() const {
  std::string out;
  out.reserve(user_.size() + server_.size() + 8);
  AppendTo(out);
  return out;
}

std::ostream& operator<<(std::ostream& os, const Jid& jid) { return os << jid.ToString(); }

}  // namespace wa::binary
