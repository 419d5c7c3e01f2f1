// The SSRF guard for customer webhook URLs: http(s) only, and no delivery to private, loopback,
// link-local, unspecified, multicast, CGNAT or otherwise reserved addresses (also when they hide
// inside IPv4-mapped, NAT64 or 6to4 IPv6 forms) unless the operator's allowlist names them.
// The check runs when a URL is saved and again on every address a delivery connects to, so a
// name that later resolves to a private address (DNS rebinding) is still refused.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace gateway::webhooks {

enum class AddressClass {
  kPublic,
  kLoopback,     // 127/8, ::1
  kPrivate,      // 10/8, 172.16/12, 192.168/16, fc00::/7
  kLinkLocal,    // 169.254/16, fe80::/10
  kUnspecified,  // 0.0.0.0/8, ::
  kMulticast,    // 224/4, ff00::/8
  kCgnat,        // 100.64/10
  kReserved,     // broadcast, 240/4, documentation, benchmarking, IETF protocol assignments, ...
};
AddressClass Classify(const boost::asio::ip::address& address);
const char* ToString(AddressClass c);

// Operator exceptions: CIDR blocks ("10.0.0.0/8", "::1/128", a bare address) and host names
// (matched case-insensitively against the URL's host; any address they resolve to is allowed).
class Allowlist {
 public:
  // Comma- or space-separated entries; nullopt (with `error`) on a malformed one.
  static std::optional<Allowlist> Parse(std::string_view text, std::string* error);
  void AddCidr(const boost::asio::ip::address& network, int prefix);
  bool Allows(const boost::asio::ip::address& address) const;
  bool AllowsHost(std::string_view host) const;
  bool empty() const { return cidrs_.empty() && hosts_.empty(); }

 private:
  struct Cidr {
    boost::asio::ip::address network;
    int prefix;
  };
  std::vector<Cidr> cidrs_;
  std::vector<std::string> hosts_;
};

// Whether a delivery may connect to `address` of a URL whose host is `host`.
bool AddressAllowed(const boost::asio::ip::address& address, std::string_view host,
                    const Allowlist& allow);

struct WebhookUrl {
  bool https = false;
  std::string host;    // without brackets; lower-case
  std::uint16_t port = 0;
  std::string target;  // path and query, at least "/"
  std::string host_header;  // host[:port] as sent in Host
};

struct UrlError {
  std::string code;    // invalid_url | url_not_allowed
  std::string detail;
};

// Syntax only: http(s), a host, no user info, no fragment, at most 2048 characters. A literal
// IP host is classified here too (url_not_allowed); names are checked after resolving.
base::Result<WebhookUrl, UrlError> ParseWebhookUrl(std::string_view url, const Allowlist& allow);

}  // namespace gateway::webhooks
