// The server certificate chain carried in ServerHello.payload (01-connection.md §2.5): a root key
// signs an intermediate certificate, the intermediate's key signs a leaf, and the leaf's key is
// the server's Noise static key. Signatures are XEdDSA over the serialized Details bytes.
//
// The trust root is a parameter, never a global: production clients pass
// kWhatsAppRootPublicKey, tests and the simulator their own root.
// Spec: docs/protocol/noise-and-frames.md
#pragma once

#include <cstdint>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/crypto/crypto.h"

namespace wa::noise {

using base::Bytes;
using base::ByteView;

// WhatsApp's production root ("WhatsAppLongTerm1"): Baileys WA_CERT_DETAILS.PUBLIC_KEY,
// whatsmeow WACertPubKey.
inline constexpr crypto::Key32 kWhatsAppRootPublicKey = {
    0x14, 0x23, 0x75, 0x57, 0x4d, 0x0a, 0x58, 0x71, 0x66, 0xaa, 0xe7, 0x1e, 0xbe, 0x51, 0x64, 0x37,
    0xc4, 0xa2, 0x8b, 0x73, 0xe3, 0x69, 0x5c, 0x6c, 0xe1, 0xf7, 0xf9, 0x54, 0x5d, 0xa8, 0xee, 0x6b};
// The root's serial: every intermediate must name it as its issuer.
inline constexpr std::uint32_t kRootSerial = 0;

struct CertDetails {
  std::uint32_t serial = 0;
  std::uint32_t issuer_serial = 0;
  crypto::Key32 key{};
  std::uint64_t not_before = 0;  // unix seconds
  std::uint64_t not_after = 0;   // unix seconds
};

// One certificate as it travels: the exact Details bytes and the issuer's signature over them.
struct SignedCert {
  Bytes details;
  Bytes signature;
};

// Serialized CertChain.NoiseCertificate.Details, fields 1..5 in order, all present (proto2 emits
// issuer_serial = 0 too, as the references' encoders do).
Bytes EncodeCertDetails(const CertDetails& details);
// Serialized CertChain{leaf = 1, intermediate = 2}.
Bytes EncodeCertChain(const SignedCert& leaf, const SignedCert& intermediate);

struct CertChainOptions {
  std::uint32_t intermediate_serial = 1;
  std::uint32_t leaf_serial = 2;
  std::uint64_t not_before = 0;
  std::uint64_t not_after = 0;
};

// Responder side: root signs an intermediate (issuer kRootSerial) holding `intermediate`'s public
// key; the intermediate signs a leaf (issuer = intermediate serial) binding `server_static`.
Bytes MakeCertChain(const crypto::KeyPair& root, const crypto::KeyPair& intermediate,
                    const crypto::Key32& server_static, const CertChainOptions& options);

struct VerifiedCertChain {
  CertDetails intermediate;
  CertDetails leaf;
};

// Initiator side. Checks, in whatsmeow's order (the stricter reference; Baileys checks a subset):
// all four parts present; both signatures 64 bytes; root signed the intermediate; intermediate
// issuer serial == kRootSerial; intermediate key 32 bytes; intermediate signed the leaf;
// intermediate valid at `now_unix`; leaf issuer serial == intermediate serial; leaf key ==
// `server_static` (constant time); leaf valid at `now_unix`. Validity is inclusive:
// not_before <= now <= not_after.
base::Result<VerifiedCertChain> VerifyCertChain(ByteView cert_chain, ByteView server_static,
                                                const crypto::Key32& trust_root,
                                                std::uint64_t now_unix);

}  // namespace wa::noise
