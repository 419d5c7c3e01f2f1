#include "wa/noise/cert_chain.h"

#include <algorithm>
#include <climits>

#include "wa/noise/errors.h"
#include "wa/proto/handshake.pb.h"

namespace wa::noise {
namespace {

using Certificate = proto::CertChain::NoiseCertificate;
using ProtoDetails = proto::CertChain::NoiseCertificate::Details;

Bytes Serialize(const google::protobuf::MessageLite& m) {
  Bytes out(m.ByteSizeLong());
  m.SerializeWithCachedSizesToArray(out.data());
  return out;
}

bool Parse(google::protobuf::MessageLite& m, ByteView bytes) {
  return bytes.size() <= INT_MAX && m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

SignedCert Sign(const crypto::Key32& issuer_private, const CertDetails& details) {
  SignedCert cert{EncodeCertDetails(details), {}};
  const crypto::Signature sig = crypto::Sign(issuer_private, cert.details);
  cert.signature.assign(sig.begin(), sig.end());
  return cert;
}

base::Result<void> CheckValidity(const ProtoDetails& d, std::uint64_t now) {
  if (now < d.not_before()) return MakeError(Errc::kCertNotYetValid);
  if (now > d.not_after()) return MakeError(Errc::kCertExpired);
  return {};
}

CertDetails FromProto(const ProtoDetails& d) {
  CertDetails out;
  out.serial = d.serial();
  out.issuer_serial = d.issuer_serial();
  std::copy_n(d.key().begin(), std::min<std::size_t>(d.key().size(), 32), out.key.begin());
  out.not_before = d.not_before();
  out.not_after = d.not_after();
  return out;
}

}  // namespace

Bytes EncodeCertDetails(const CertDetails& details) {
  ProtoDetails d;
  d.set_serial(details.serial);
  d.set_issuer_serial(details.issuer_serial);
  d.set_key(details.key.data(), details.key.size());
  d.set_not_before(details.not_before);
  d.set_not_after(details.not_after);
  return Serialize(d);
}

Bytes EncodeCertChain(const SignedCert& leaf, const SignedCert& intermediate) {
  proto::CertChain chain;
  chain.mutable_leaf()->set_details(leaf.details.data(), leaf.details.size());
  chain.mutable_leaf()->set_signature(leaf.signature.data(), leaf.signature.size());
  chain.mutable_intermediate()->set_details(intermediate.details.data(),
                                            intermediate.details.size());
  chain.mutable_intermediate()->set_signature(intermediate.signature.data(),
                                              intermediate.signature.size());
  return Serialize(chain);
}

Bytes MakeCertChain(const crypto::KeyPair& root, const crypto::KeyPair& intermediate,
                    const crypto::Key32& server_static, const CertChainOptions& options) {
  const CertDetails intermediate_details{options.intermediate_serial, kRootSerial,
                                         intermediate.public_key, options.not_before,
                                         options.not_after};
  const CertDetails leaf_details{options.leaf_serial, options.intermediate_serial, server_static,
                                 options.not_before, options.not_after};
  return EncodeCertChain(Sign(intermediate.private_key, leaf_details),
                         Sign(root.private_key, intermediate_details));
}

base::Result<VerifiedCertChain> VerifyCertChain(ByteView cert_chain, ByteView server_static,
                                                const crypto::Key32& trust_root,
                                                std::uint64_t now_unix) {
  proto::CertChain chain;
  if (!Parse(chain, cert_chain)) return MakeError(Errc::kCertMalformed);
  if (!chain.has_leaf() || !chain.has_intermediate()) return MakeError(Errc::kCertMalformed);
  const Certificate& leaf = chain.leaf();
  const Certificate& inter = chain.intermediate();
  if (!leaf.has_details() || !leaf.has_signature() || !inter.has_details() ||
      !inter.has_signature()) {
    return MakeError(Errc::kCertMalformed);
  }
  if (inter.signature().size() != 64 || leaf.signature().size() != 64) {
    return MakeError(Errc::kCertBadSignatureLength);
  }

  if (!crypto::Verify(trust_root, base::AsBytes(inter.details()),
                      base::AsBytes(inter.signature()))) {
    return MakeError(Errc::kCertBadIntermediateSignature);
  }
  ProtoDetails inter_details;
  if (!Parse(inter_details, base::AsBytes(inter.details()))) {
    return MakeError(Errc::kCertMalformed);
  }
  if (inter_details.issuer_serial() != kRootSerial) {
    return MakeError(Errc::kCertBadIntermediateIssuer);
  }
  if (inter_details.key().size() != 32) return MakeError(Errc::kCertBadIntermediateKey);
  if (!crypto::Verify(base::AsBytes(inter_details.key()), base::AsBytes(leaf.details()),
                      base::AsBytes(leaf.signature()))) {
    return MakeError(Errc::kCertBadLeafSignature);
  }
  if (auto r = CheckValidity(inter_details, now_unix); !r) return r.error();

  ProtoDetails leaf_details;
  if (!Parse(leaf_details, base::AsBytes(leaf.details()))) {
    return MakeError(Errc::kCertMalformed);
  }
  if (leaf_details.issuer_serial() != inter_details.serial()) {
    return MakeError(Errc::kCertBadLeafIssuer);
  }
  if (!crypto::ConstantTimeEqual(base::AsBytes(leaf_details.key()), server_static)) {
    return MakeError(Errc::kCertLeafKeyMismatch);
  }
  if (auto r = CheckValidity(leaf_details, now_unix); !r) return r.error();

  return VerifiedCertChain{FromProto(inter_details), FromProto(leaf_details)};
}

}  // namespace wa::noise
