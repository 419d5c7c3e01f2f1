#include "sim/tls.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>

namespace sim {
namespace {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;

bool AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

bool WritePem(const std::filesystem::path& path, bool private_key, EVP_PKEY* key, X509* cert) {
  auto tmp = path;
  tmp += ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) return false;
  if (private_key) ::fchmod(fileno(f), 0600);
  bool ok = private_key ? PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1
                        : PEM_write_X509(f, cert) == 1;
  ok = (std::fclose(f) == 0) && ok;
  std::error_code ec;
  if (ok) std::filesystem::rename(tmp, path, ec);
  return ok && !ec;
}

}  // namespace

std::optional<TlsFiles> EnsureCertificate(const std::filesystem::path& dir, std::string* error) {
  TlsFiles files{dir / "tls-cert.pem", dir / "tls-key.pem"};
  std::error_code ec;
  if (std::filesystem::exists(files.cert, ec) && std::filesystem::exists(files.key, ec)) {
    return files;
  }
  PkeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr cert(X509_new());
  if (!key || !cert) {
    *error = "cannot generate a TLS key";
    return std::nullopt;
  }
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(std::time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("wasim localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  // A self-signed leaf that is also its own CA, so clients can add it as a trusted root.
  if (!AddExtension(cert.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") ||
      !AddExtension(cert.get(), NID_basic_constraints, "critical,CA:TRUE") ||
      !AddExtension(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign") ||
      !AddExtension(cert.get(), NID_ext_key_usage, "serverAuth") ||
      X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    *error = "cannot build the TLS certificate";
    return std::nullopt;
  }
  if (!WritePem(files.key, true, key.get(), nullptr) ||
      !WritePem(files.cert, false, nullptr, cert.get())) {
    *error = "cannot write the TLS certificate into " + dir.string();
    return std::nullopt;
  }
  return files;
}

std::optional<boost::asio::ssl::context> MakeServerContext(const TlsFiles& files,
                                                           std::string* error) {
  boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_server);
  boost::system::error_code ec;
  ctx.set_options(boost::asio::ssl::context::default_workarounds |
                  boost::asio::ssl::context::no_sslv2 | boost::asio::ssl::context::no_sslv3 |
                  boost::asio::ssl::context::no_tlsv1 | boost::asio::ssl::context::no_tlsv1_1);
  ctx.use_certificate_chain_file(files.cert.string(), ec);
  if (!ec) ctx.use_private_key_file(files.key.string(), boost::asio::ssl::context::pem, ec);
  if (ec) {
    *error = "cannot load " + files.cert.string() + ": " + ec.message();
    return std::nullopt;
  }
  return ctx;
}

}  // namespace sim
