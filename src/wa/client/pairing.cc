#include "wa/client/pairing.h"

#include "wa/proto/adv.pb.h"

namespace wa::client {

namespace {

constexpr std::string_view kQrPrefix = "https://wa.me/settings/linked_devices#";
constexpr std::string_view kLinkAlphabet = "123456789ABCDEFGHJKLMNPQRSTVWXYZ";
constexpr std::uint8_t kAccountSigPrefix[] = {6, 0};
constexpr std::uint8_t kDeviceSigPrefix[] = {6, 1};
constexpr std::uint8_t kHostedSigPrefix[] = {6, 5};

Bytes Concat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::string Str(ByteView b) { return std::string(base::AsChars(b)); }

Bytes Serialize(const google::protobuf::MessageLite& m) {
  Bytes out(m.ByteSizeLong());
  m.SerializeToArray(out.data(), static_cast<int>(out.size()));
  return out;
}

Bytes PairingKey(std::string_view code, ByteView salt) {
  return crypto::Pbkdf2Sha256(base::AsBytes(code), salt, kPairingCodeIterations, 32);
}

}  // namespace

std::string MakeQrString(std::string_view ref, const crypto::Key32& noise_public,
                         const crypto::Key32& identity_public, const crypto::Key32& adv_secret,
                         std::string_view platform_id) {
  std::string out(kQrPrefix);
  out += ref;
  out += ',';
  out += base::ToBase64(noise_public);
  out += ',';
  out += base::ToBase64(identity_public);
  out += ',';
  out += base::ToBase64(adv_secret);
  out += ',';
  out += platform_id;
  return out;
}

base::Result<VerifiedDeviceIdentity, PairError> VerifyDeviceIdentity(
    ByteView device_identity_hmac, const crypto::Key32& adv_secret,
    const crypto::KeyPair& identity) {
  wa::proto::ADVSignedDeviceIdentityHMAC container;
  if (!container.ParseFromArray(device_identity_hmac.data(),
                                static_cast<int>(device_identity_hmac.size())) ||
      !container.has_details() || !container.has_hmac()) {
    return PairError{500, "internal-error"};
  }
  VerifiedDeviceIdentity out;
  out.hosted = container.has_account_type() && container.account_type() == wa::proto::HOSTED;
  ByteView details = base::AsBytes(container.details());
  Bytes mac_input = out.hosted ? Concat({kHostedSigPrefix, details}) : Bytes(details.begin(), details.end());
  auto mac = crypto::HmacSha256(adv_secret, mac_input);
  if (!crypto::ConstantTimeEqual(mac, base::AsBytes(container.hmac()))) {
    return PairError{401, "hmac-mismatch"};
  }

  wa::proto::ADVSignedDeviceIdentity account;
  if (!account.ParseFromArray(details.data(), static_cast<int>(details.size())) ||
      !account.has_details()) {
    return PairError{500, "internal-error"};
  }
  wa::proto::ADVDeviceIdentity device;
  if (!device.ParseFromString(account.details())) return PairError{500, "internal-error"};
  if (account.account_signature_key().size() != 32 || account.account_signature().size() != 64) {
    return PairError{401, "signature-mismatch"};
  }
  ByteView device_details = base::AsBytes(account.details());
  ByteView account_key = base::AsBytes(account.account_signature_key());
  bool hosted_device = device.has_device_type() && device.device_type() == wa::proto::HOSTED;
  Bytes account_msg = Concat({hosted_device ? ByteView(kHostedSigPrefix) : ByteView(kAccountSigPrefix),
                              device_details, identity.public_key});
  // libsignal-grade XEdDSA verification (the sign bit travels in the signature), unlike Baileys
  // which signs its reply without looking at the result.
  if (!crypto::Verify(account_key, account_msg, base::AsBytes(account.account_signature()))) {
    return PairError{401, "signature-mismatch"};
  }

  Bytes device_msg = Concat({kDeviceSigPrefix, device_details, identity.public_key, account_key});
  auto signature = crypto::Sign(identity.private_key, device_msg);
  account.set_device_signature(Str(signature));
  std::copy(account_key.begin(), account_key.end(), out.account_signature_key.begin());
  out.account = Serialize(account);
  account.clear_account_signature_key();  // invalidates account_key
  out.reply = Serialize(account);
  out.key_index = device.key_index();
  return out;
}

std::string EncodeLinkingCode(ByteView bytes) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (auto b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += kLinkAlphabet[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1u << bits) - 1;
  }
  if (bits > 0) out += kLinkAlphabet[(acc << (5 - bits)) & 31];
  return out;
}

Bytes WrapLinkingKey(std::string_view code, ByteView salt, ByteView iv,
                     const crypto::Key32& public_key) {
  auto key = PairingKey(code, salt);
  auto ct = crypto::AesCtr(key, iv, public_key);
  return Concat({salt, iv, ct ? ByteView(*ct) : ByteView{}});
}

base::Result<crypto::Key32> UnwrapLinkingKey(std::string_view code, ByteView wrapped) {
  if (wrapped.size() != 80) return crypto::MakeError(crypto::Errc::kBadInputLength);
  auto key = PairingKey(code, wrapped.subspan(0, 32));
  auto plain = crypto::AesCtr(key, wrapped.subspan(32, 16), wrapped.subspan(48, 32));
  if (!plain) return plain.error();
  crypto::Key32 out{};
  std::copy(plain->begin(), plain->end(), out.begin());
  return out;
}

base::Result<CompanionFinish> MakeCompanionFinish(const crypto::Key32& companion_ephemeral_private,
                                                  const crypto::Key32& primary_ephemeral_public,
                                                  const crypto::KeyPair& companion_identity,
                                                  const crypto::Key32& primary_identity_public,
                                                  ByteView adv_random, ByteView bundle_salt,
                                                  ByteView bundle_iv) {
  auto eph_shared = crypto::SharedSecret(companion_ephemeral_private, primary_ephemeral_public);
  if (!eph_shared) return eph_shared.error();
  auto bundle_key = crypto::Hkdf(*eph_shared, bundle_salt,
                                 base::AsBytes("link_code_pairing_key_bundle_encryption_key"), 32);
  auto plaintext = Concat({companion_identity.public_key, primary_identity_public, adv_random});
  auto sealed = crypto::AesGcmEncrypt(bundle_key, bundle_iv, plaintext, {});
  if (!sealed) return sealed.error();
  auto identity_shared =
      crypto::SharedSecret(companion_identity.private_key, primary_identity_public);
  if (!identity_shared) return identity_shared.error();
  CompanionFinish out;
  out.wrapped_key_bundle = Concat({bundle_salt, bundle_iv, *sealed});
  auto adv = crypto::Hkdf(Concat({*eph_shared, *identity_shared, adv_random}), {},
                          base::AsBytes("adv_secret"), 32);
  std::copy(adv.begin(), adv.end(), out.adv_secret.begin());
  return out;
}

std::string NormalizePhone(std::string_view phone) {
  std::string digits;
  for (char c : phone) {
    if (c >= '0' && c <= '9') {
      digits += c;
    } else if (c != ' ' && c != '+' && c != '-' && c != '(' && c != ')') {
      return {};
    }
  }
  if (digits.size() <= 6 || digits.size() > 20 || digits.front() == '0') return {};
  return digits;
}

}  // namespace wa::client
