// wasim's TLS identity: a self-signed certificate for localhost, 127.0.0.1 and ::1, made at first
// start and kept in the data dir, so that clients can trust it (e.g. NODE_EXTRA_CA_CERTS).
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <filesystem>
#include <optional>
#include <string>

namespace sim {

struct TlsFiles {
  std::filesystem::path cert;  // PEM certificate (also the CA clients trust)
  std::filesystem::path key;   // PEM private key (mode 0600)
};

// Loads the pair from `dir`, or creates it (EC P-256, 10 years, SAN localhost/127.0.0.1/::1).
// nullopt with `error` set on failure.
std::optional<TlsFiles> EnsureCertificate(const std::filesystem::path& dir, std::string* error);

// A server context using the pair.
std::optional<boost::asio::ssl::context> MakeServerContext(const TlsFiles& files, std::string* error);

}  // namespace sim
