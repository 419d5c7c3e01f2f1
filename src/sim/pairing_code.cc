#include "sim/pairing_code.h"

#include <algorithm>

namespace sim::pairing_code {

namespace crypto = wa::crypto;

namespace {

constexpr std::string_view kBundleInfo = "link_code_pairing_key_bundle_encryption_key";
constexpr std::string_view kAdvInfo = "adv_secret";

void Append(base::Bytes& out, base::ByteView part) { out.insert(out.end(), part.begin(), part.end()); }

crypto::Key32 ToKey(base::ByteView b) {
  crypto::Key32 k{};
  std::copy_n(b.begin(), k.size(), k.begin());
  return k;
}

}  // namespace

std::optional<std::string> Normalize(std::string_view typed) {
  std::string code;
  for (std::size_t i = 0; i < typed.size(); ++i) {
    char c = typed[i];
    if (c == '-' && i == 4 && typed.size() == kCodeLength + 1) continue;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (kAlphabet.find(c) == std::string_view::npos) return std::nullopt;
    code += c;
  }
  if (code.size() != kCodeLength) return std::nullopt;
  return code;
}

std::string Encode(base::ByteView five_bytes) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (auto b : five_bytes) {
    buffer = (buffer << 8 | b) & 0xfff;  // at most 12 live bits
    bits += 8;
    while (bits >= 5) {
      out += kAlphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (5 - bits)) & 31];
  return out;
}

base::Bytes CodeKey(std::string_view code, base::ByteView salt) {
  return crypto::Pbkdf2Sha256(base::AsBytes(code), salt, kPbkdf2Iterations, 32);
}

base::Bytes WrapKey(std::string_view code, base::ByteView salt, base::ByteView iv,
                    base::ByteView public_key) {
  auto key = CodeKey(code, salt);
  auto ct = crypto::AesCtr(key, iv, public_key);
  base::Bytes out;
  Append(out, salt);
  Append(out, iv);
  if (ct) Append(out, *ct);  // AesCtr fails only on key/iv sizes the caller controls
  return out;
}

base::Result<crypto::Key32> UnwrapKey(std::string_view code, base::ByteView wrapped) {
  if (wrapped.size() != kWrappedKeySize) return crypto::MakeError(crypto::Errc::kBadInputLength);
  auto key = CodeKey(code, wrapped.subspan(0, 32));
  auto plain = crypto::AesCtr(key, wrapped.subspan(32, 16), wrapped.subspan(48, 32));
  if (!plain) return plain.error();
  return ToKey(*plain);
}

base::Bytes BundleKey(base::ByteView ephemeral_shared, base::ByteView salt) {
  return crypto::Hkdf(ephemeral_shared, salt, base::AsBytes(kBundleInfo), 32);
}

base::Result<KeyBundle> OpenKeyBundle(base::ByteView ephemeral_shared, base::ByteView wrapped) {
  if (wrapped.size() != kWrappedBundleSize) {
    return crypto::MakeError(crypto::Errc::kBadInputLength);
  }
  auto key = BundleKey(ephemeral_shared, wrapped.subspan(0, 32));
  auto plain = crypto::AesGcmDecrypt(key, wrapped.subspan(32, 12), wrapped.subspan(44), {});
  if (!plain) return plain.error();
  if (plain->size() != 96) return crypto::MakeError(crypto::Errc::kBadInputLength);
  base::ByteView p(*plain);
  return KeyBundle{ToKey(p.subspan(0, 32)), ToKey(p.subspan(32, 32)), ToKey(p.subspan(64, 32))};
}

base::Result<base::Bytes> SealKeyBundle(base::ByteView ephemeral_shared, base::ByteView salt,
                                        base::ByteView iv, const KeyBundle& bundle) {
  base::Bytes plain;
  Append(plain, bundle.companion_identity);
  Append(plain, bundle.primary_identity);
  Append(plain, bundle.adv_random);
  auto ct = crypto::AesGcmEncrypt(BundleKey(ephemeral_shared, salt), iv, plain, {});
  if (!ct) return ct.error();
  base::Bytes out;
  Append(out, salt);
  Append(out, iv);
  Append(out, *ct);
  return out;
}

base::Bytes AdvSecret(base::ByteView ephemeral_shared, base::ByteView identity_shared,
                      base::ByteView adv_random) {
  base::Bytes ikm;
  Append(ikm, ephemeral_shared);
  Append(ikm, identity_shared);
  Append(ikm, adv_random);
  return crypto::Hkdf(ikm, {}, base::AsBytes(kAdvInfo), 32);
}

}  // namespace sim::pairing_code
