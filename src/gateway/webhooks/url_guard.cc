#include "gateway/webhooks/url_guard.h"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <array>
#include <charconv>

namespace gateway::webhooks {

namespace ip = boost::asio::ip;

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool InV4(std::uint32_t a, std::uint32_t net, int prefix) {
  std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  return (a & mask) == (net & mask);
}

constexpr std::uint32_t V4(int a, int b, int c, int d) {
  return (std::uint32_t(a) << 24) | (std::uint32_t(b) << 16) | (std::uint32_t(c) << 8) | std::uint32_t(d);
}

AddressClass ClassifyV4(std::uint32_t a) {
  if (InV4(a, V4(0, 0, 0, 0), 8)) return AddressClass::kUnspecified;
  if (InV4(a, V4(127, 0, 0, 0), 8)) return AddressClass::kLoopback;
  if (InV4(a, V4(10, 0, 0, 0), 8) || InV4(a, V4(172, 16, 0, 0), 12) || InV4(a, V4(192, 168, 0, 0), 16)) {
    return AddressClass::kPrivate;
  }
  if (InV4(a, V4(169, 254, 0, 0), 16)) return AddressClass::kLinkLocal;
  if (InV4(a, V4(100, 64, 0, 0), 10)) return AddressClass::kCgnat;
  if (InV4(a, V4(224, 0, 0, 0), 4)) return AddressClass::kMulticast;
  // IETF protocol assignments, TEST-NET-1/2/3, benchmarking, 6to4 relay anycast, class E and
  // broadcast.
  if (InV4(a, V4(192, 0, 0, 0), 24) || InV4(a, V4(192, 0, 2, 0), 24) ||
      InV4(a, V4(198, 51, 100, 0), 24) || InV4(a, V4(203, 0, 113, 0), 24) ||
      InV4(a, V4(198, 18, 0, 0), 15) || InV4(a, V4(192, 88, 99, 0), 24) || InV4(a, V4(240, 0, 0, 0), 4)) {
    return AddressClass::kReserved;
  }
  return AddressClass::kPublic;
}

std::uint32_t V4At(const ip::address_v6::bytes_type& b, int at) {
  return (std::uint32_t(b[at]) << 24) | (std::uint32_t(b[at + 1]) << 16) | (std::uint32_t(b[at + 2]) << 8) |
         std::uint32_t(b[at + 3]);
}

bool PrefixMatch(const ip::address_v6::bytes_type& a, const ip::address_v6::bytes_type& net, int prefix) {
  for (int i = 0; i < 16 && prefix > 0; ++i, prefix -= 8) {
    int bits = std::min(prefix, 8);
    std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((a[i] & mask) != (net[i] & mask)) return false;
  }
  return true;
}

ip::address_v6::bytes_type V6(std::string_view text) { return ip::make_address_v6(text).to_bytes(); }

AddressClass ClassifyV6(const ip::address_v6& a) {
  auto b = a.to_bytes();
  if (a.is_unspecified()) return AddressClass::kUnspecified;
  if (a.is_loopback()) return AddressClass::kLoopback;
  // IPv4 inside IPv6: mapped (::ffff:0:0/96), the deprecated compatible form (::/96), NAT64
  // (64:ff9b::/96) and 6to4 (2002::/16): judged by the IPv4 address they carry.
  if (a.is_v4_mapped() || PrefixMatch(b, V6("64:ff9b::"), 96)) return ClassifyV4(V4At(b, 12));
  if (PrefixMatch(b, V6("::"), 96)) return ClassifyV4(V4At(b, 12)) == AddressClass::kPublic
                                               ? AddressClass::kReserved : ClassifyV4(V4At(b, 12));
  if (PrefixMatch(b, V6("2002::"), 16)) {
    auto inner = ClassifyV4(V4At(b, 2));
    if (inner != AddressClass::kPublic) return inner;
  }
  if (PrefixMatch(b, V6("fc00::"), 7)) return AddressClass::kPrivate;
  if (PrefixMatch(b, V6("fe80::"), 10)) return AddressClass::kLinkLocal;
  if (PrefixMatch(b, V6("fec0::"), 10)) return AddressClass::kPrivate;  // deprecated site-local
  if (b[0] == 0xff) return AddressClass::kMulticast;
  // Documentation, discard-only, ORCHIDv2, Teredo (its embedded address is obfuscated).
  if (PrefixMatch(b, V6("2001:db8::"), 32) || PrefixMatch(b, V6("100::"), 64) ||
      PrefixMatch(b, V6("2001:20::"), 28) || PrefixMatch(b, V6("2001::"), 32) ||
      PrefixMatch(b, V6("3fff::"), 20)) {
    return AddressClass::kReserved;
  }
  return AddressClass::kPublic;
}

}  // namespace

AddressClass Classify(const ip::address& address) {
  if (address.is_v4()) return ClassifyV4(address.to_v4().to_uint());
  return ClassifyV6(address.to_v6());
}

const char* ToString(AddressClass c) {
  switch (c) {
    case AddressClass::kPublic: return "public";
    case AddressClass::kLoopback: return "loopback";
    case AddressClass::kPrivate: return "private";
    case AddressClass::kLinkLocal: return "link-local";
    case AddressClass::kUnspecified: return "unspecified";
    case AddressClass::kMulticast: return "multicast";
    case AddressClass::kCgnat: return "shared (CGNAT)";
    case AddressClass::kReserved: return "reserved";
  }
  return "reserved";
}

std::optional<Allowlist> Allowlist::Parse(std::string_view text, std::string* error) {
  Allowlist out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ',' || text[i] == ' ')) ++i;
    std::size_t j = i;
    while (j < text.size() && text[j] != ',' && text[j] != ' ') ++j;
    if (j == i) break;
    std::string_view entry = text.substr(i, j - i);
    i = j;
    auto slash = entry.find('/');
    boost::system::error_code ec;
    auto addr = ip::make_address(std::string(entry.substr(0, slash)), ec);
    if (!ec) {
      int max = addr.is_v4() ? 32 : 128;
      int prefix = max;
      if (slash != std::string_view::npos) {
        auto digits = entry.substr(slash + 1);
        auto [end, perr] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
        if (perr != std::errc() || end != digits.data() + digits.size() || digits.empty() || prefix < 0 ||
            prefix > max) {
          if (error) *error = "bad prefix length in '" + std::string(entry) + "'";
          return std::nullopt;
        }
      }
      out.AddCidr(addr, prefix);
      continue;
    }
    if (slash != std::string_view::npos) {
      if (error) *error = "'" + std::string(entry) + "' is not an address/prefix";
      return std::nullopt;
    }
    bool name_ok = std::all_of(entry.begin(), entry.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
    });
    if (!name_ok) {
      if (error) *error = "'" + std::string(entry) + "' is neither a CIDR block nor a host name";
      return std::nullopt;
    }
    out.hosts_.push_back(Lower(entry));
  }
  return out;
}

void Allowlist::AddCidr(const ip::address& network, int prefix) { cidrs_.push_back({network, prefix}); }

bool Allowlist::Allows(const ip::address& address) const {
  // An IPv4-mapped address matches IPv4 blocks.
  ip::address a = address;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = ip::make_address_v4(ip::v4_mapped, a.to_v6());
  for (const auto& c : cidrs_) {
    if (c.network.is_v4() && a.is_v4()) {
      if (InV4(a.to_v4().to_uint(), c.network.to_v4().to_uint(), c.prefix)) return true;
    } else if (c.network.is_v6() && a.is_v6()) {
      if (PrefixMatch(a.to_v6().to_bytes(), c.network.to_v6().to_bytes(), c.prefix)) return true;
    }
  }
  return false;
}

bool Allowlist::AllowsHost(std::string_view host) const {
  auto h = Lower(host);
  return std::find(hosts_.begin(), hosts_.end(), h) != hosts_.end();
}

bool AddressAllowed(const ip::address& address, std::string_view host, const Allowlist& allow) {
  return Classify(address) == AddressClass::kPublic || allow.Allows(address) || allow.AllowsHost(host);
}

base::Result<WebhookUrl, UrlError> ParseWebhookUrl(std::string_view url, const Allowlist& allow) {
  using Out = base::Result<WebhookUrl, UrlError>;
  auto fail = [](std::string code, std::string detail) {
    return Out(boost::system::in_place_error, UrlError{std::move(code), std::move(detail)});
  };
  if (url.empty()) return fail("invalid_url", "url is required");
  if (url.size() > 2048) return fail("invalid_url", "url is longer than 2048 characters");
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return fail("invalid_url", "url is not an absolute URL");
  const auto& u = *parsed;
  WebhookUrl out;
  std::string scheme = Lower(u.scheme());
  if (scheme != "http" && scheme != "https") return fail("invalid_url", "only http and https URLs are allowed");
  out.https = scheme == "https";
  if (!u.has_authority() || u.encoded_host().empty()) return fail("invalid_url", "url has no host");
  if (u.has_userinfo()) return fail("invalid_url", "url must not contain a user name or password");
  if (u.has_fragment()) return fail("invalid_url", "url must not contain a fragment");
  std::optional<ip::address> literal;
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
      literal = ip::address(ip::make_address_v4(u.host_ipv4_address().to_bytes()));
      out.host = literal->to_string();
      break;
    case boost::urls::host_type::ipv6:
      literal = ip::address(ip::make_address_v6(u.host_ipv6_address().to_bytes()));
      out.host = literal->to_string();
      break;
    case boost::urls::host_type::name: {
      out.host = Lower(u.host());
      bool ok = !out.host.empty() && std::all_of(out.host.begin(), out.host.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
      });
      if (!ok) return fail("invalid_url", "url's host is not a valid host name");
      break;
    }
    default:
      return fail("invalid_url", "url's host is not supported");
  }
  out.port = out.https ? 443 : 80;
  if (u.has_port()) {
    if (u.port().empty() || u.port_number() == 0) return fail("invalid_url", "url's port is not valid");
    out.port = u.port_number();
  }
  std::string target(u.encoded_path());
  if (target.empty()) target = "/";
  if (u.has_query()) target += "?" + std::string(u.encoded_query());
  out.target = std::move(target);
  out.host_header = u.host_type() == boost::urls::host_type::ipv6 ? "[" + out.host + "]" : out.host;
  if (u.has_port()) out.host_header += ":" + std::to_string(out.port);
  if (literal && !AddressAllowed(*literal, out.host, allow)) {
    return fail("url_not_allowed", std::string("url points to a ") + ToString(Classify(*literal)) +
                                       " address; the operator has not allowed it");
  }
  return out;
}

}  // namespace gateway::webhooks
