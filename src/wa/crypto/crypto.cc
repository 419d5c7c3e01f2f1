#include "wa/crypto/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <sodium.h>

#include <climits>
#include <cstring>
#include <memory>

#include "base/check.h"
#include "wa/crypto/signal_provider.h"

namespace wa::crypto {
namespace {

class CryptoCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "wa.crypto"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::kBadKeyLength: return "key or iv has the wrong length";
      case Errc::kAuthFailed: return "authentication failed";
      case Errc::kBadPadding: return "invalid PKCS#7 padding";
      case Errc::kWeakKey: return "X25519 produced the all-zero shared secret";
      case Errc::kBadInputLength: return "input has an invalid length";
      case Errc::kBackend: return "crypto backend failure";
    }
    return "unknown wa.crypto error";
  }
};

// OpenSSL and libsodium want a non-null pointer even for zero-length input.
const std::uint8_t kNothing[1] = {0};
const std::uint8_t* Ptr(ByteView v) { return v.empty() ? kNothing : v.data(); }

void EnsureSodium() {
  // sodium_init is itself idempotent and thread-safe; the static only avoids repeated calls.
  static const bool ready = sodium_init() >= 0;
  WA_CHECK(ready);
}

Key32 Clamp(Key32 k) {
  k[0] &= 248;
  k[31] &= 127;
  k[31] |= 64;
  return k;
}

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

CipherCtx NewCipherCtx() {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  WA_CHECK(ctx != nullptr);
  return ctx;
}

bool FitsInt(std::size_t n) { return n <= static_cast<std::size_t>(INT_MAX) - 64; }

signal_context* SharedSignalContext() {
  static const SignalContextPtr context = NewSignalContext();
  return context.get();
}

template <std::size_t N>
std::array<std::uint8_t, N> Digest(const EVP_MD* md, ByteView data) {
  std::array<std::uint8_t, N> out;
  unsigned len = 0;
  WA_CHECK(EVP_Digest(Ptr(data), data.size(), out.data(), &len, md, nullptr) == 1);
  WA_CHECK(len == N);
  return out;
}

template <std::size_t N>
std::array<std::uint8_t, N> Hmac(const EVP_MD* md, ByteView key, ByteView data) {
  std::array<std::uint8_t, N> out;
  unsigned len = 0;
  WA_CHECK(HMAC(md, Ptr(key), static_cast<int>(key.size()), Ptr(data), data.size(), out.data(),
                &len) != nullptr);
  WA_CHECK(len == N);
  return out;
}

}  // namespace

const boost::system::error_category& Category() {
  static const CryptoCategory category;
  return category;
}

void RandomBytes(std::span<std::uint8_t> out) {
  EnsureSodium();
  if (!out.empty()) randombytes_buf(out.data(), out.size());
}

Bytes RandomBytes(std::size_t n) {
  Bytes out(n);
  RandomBytes(std::span<std::uint8_t>(out));
  return out;
}

KeyPair GenerateKeyPair() {
  Key32 seed;
  RandomBytes(seed);
  KeyPair pair = KeyPairFromPrivate(seed);
  sodium_memzero(seed.data(), seed.size());
  return pair;
}

KeyPair KeyPairFromPrivate(const Key32& private_key) {
  EnsureSodium();
  KeyPair pair;
  pair.private_key = Clamp(private_key);
  WA_CHECK(crypto_scalarmult_base(pair.public_key.data(), pair.private_key.data()) == 0);
  return pair;
}

base::Result<Key32> SharedSecret(const Key32& private_key, ByteView public_key) {
  EnsureSodium();
  if (public_key.size() != crypto_scalarmult_BYTES) return MakeError(Errc::kBadKeyLength);
  Key32 out;
  // libsodium clamps the scalar itself and fails on an all-zero result (a low-order point).
  if (crypto_scalarmult(out.data(), private_key.data(), public_key.data()) != 0) {
    return MakeError(Errc::kWeakKey);
  }
  return out;
}

Signature Sign(const Key32& private_key, ByteView message) {
  Key32 clamped = Clamp(private_key);
  signal_context* context = SharedSignalContext();
  ec_private_key* key = nullptr;
  WA_CHECK(curve_decode_private_point(&key, clamped.data(), clamped.size(), context) == 0);
  sodium_memzero(clamped.data(), clamped.size());
  signal_buffer* buffer = nullptr;
  const int rc =
      curve_calculate_signature(context, &buffer, key, Ptr(message), message.size());
  SIGNAL_UNREF(key);
  WA_CHECK(rc == 0 && buffer != nullptr && signal_buffer_len(buffer) == 64);
  Signature signature;
  std::memcpy(signature.data(), signal_buffer_data(buffer), signature.size());
  signal_buffer_free(buffer);
  return signature;
}

bool Verify(ByteView public_key, ByteView message, ByteView signature) {
  if (public_key.size() != 32 || signature.size() != 64) return false;
  // curve_decode_point wants the Signal form: the 0x05 (DJB) type byte, then the key.
  std::uint8_t typed[33];
  typed[0] = 0x05;
  std::memcpy(typed + 1, public_key.data(), 32);
  ec_public_key* key = nullptr;
  if (curve_decode_point(&key, typed, sizeof(typed), nullptr) != 0 || key == nullptr) {
    return false;
  }
  const int rc = curve_verify_signature(key, Ptr(message), message.size(), signature.data(),
                                        signature.size());
  SIGNAL_UNREF(key);
  return rc == 1;
}

Digest32 Sha256(ByteView data) { return Digest<32>(EVP_sha256(), data); }

std::array<std::uint8_t, 64> Sha512(ByteView data) { return Digest<64>(EVP_sha512(), data); }

Digest32 HmacSha256(ByteView key, ByteView data) { return Hmac<32>(EVP_sha256(), key, data); }

std::array<std::uint8_t, 16> Md5(ByteView data) { return Digest<16>(EVP_md5(), data); }

std::array<std::uint8_t, 64> HmacSha512(ByteView key, ByteView data) {
  return Hmac<64>(EVP_sha512(), key, data);
}

Sha256Stream::Sha256Stream() : ctx_(EVP_MD_CTX_new()) {
  WA_CHECK(ctx_ != nullptr);
  WA_CHECK(EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) == 1);
}

Sha256Stream::~Sha256Stream() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256Stream::Update(ByteView data) {
  if (data.empty()) return;
  WA_CHECK(EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size()) == 1);
}

Digest32 Sha256Stream::Finish() {
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  Digest32 out;
  unsigned len = 0;
  WA_CHECK(EVP_DigestFinal_ex(ctx, out.data(), &len) == 1 && len == out.size());
  // Ready for a new message.
  WA_CHECK(EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1);
  return out;
}

Bytes Hkdf(ByteView ikm, ByteView salt, ByteView info, std::size_t length) {
  WA_CHECK(length <= 255 * 32);
  Bytes out(length);
  if (length == 0) return out;
  static EVP_KDF* const kdf = [] {
    EVP_KDF* k = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
    WA_CHECK(k != nullptr);
    return k;
  }();
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  WA_CHECK(ctx != nullptr);
  // RFC 5869: an absent salt means HashLen zero bytes. OpenSSL treats a zero-length salt
  // parameter as "not set", so pass the zeros explicitly (HMAC pads its key with zeros anyway).
  std::uint8_t zero_salt[32] = {};
  ByteView salt_used = salt.empty() ? ByteView(zero_salt, sizeof(zero_salt)) : salt;
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(Ptr(ikm)),
                                        ikm.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                        const_cast<std::uint8_t*>(salt_used.data()),
                                        salt_used.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<std::uint8_t*>(Ptr(info)),
                                        info.size()),
      OSSL_PARAM_construct_end(),
  };
  const int rc = EVP_KDF_derive(ctx, out.data(), out.size(), params);
  EVP_KDF_CTX_free(ctx);
  WA_CHECK(rc == 1);
  return out;
}

Bytes Pbkdf2Sha256(ByteView password, ByteView salt, unsigned iterations, std::size_t length) {
  WA_CHECK(iterations > 0 && FitsInt(length) && FitsInt(password.size()) && FitsInt(salt.size()));
  Bytes out(length);
  if (length == 0) return out;
  WA_CHECK(PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(Ptr(password)),
                             static_cast<int>(password.size()), Ptr(salt),
                             static_cast<int>(salt.size()), static_cast<int>(iterations),
                             EVP_sha256(), static_cast<int>(length), out.data()) == 1);
  return out;
}

namespace {

constexpr std::size_t kGcmIvLen = 12;
constexpr std::size_t kGcmTagLen = 16;
constexpr std::size_t kBlock = 16;

}  // namespace

base::Result<Bytes> AesGcmEncrypt(ByteView key, ByteView iv, ByteView plaintext, ByteView aad) {
  if (key.size() != 32 || iv.size() != kGcmIvLen) return MakeError(Errc::kBadKeyLength);
  if (!FitsInt(plaintext.size()) || !FitsInt(aad.size())) return MakeError(Errc::kBadInputLength);
  CipherCtx ctx = NewCipherCtx();
  Bytes out(plaintext.size() + kGcmTagLen);
  int n = 0;
  int fin = 0;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), iv.data()) != 1 ||
      (!aad.empty() &&
       EVP_EncryptUpdate(ctx.get(), nullptr, &n, aad.data(), static_cast<int>(aad.size())) != 1) ||
      (!plaintext.empty() && EVP_EncryptUpdate(ctx.get(), out.data(), &n, plaintext.data(),
                                               static_cast<int>(plaintext.size())) != 1) ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + plaintext.size(), &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kGcmTagLen,
                          out.data() + plaintext.size()) != 1) {
    return MakeError(Errc::kBackend);
  }
  return out;
}

base::Result<Bytes> AesGcmDecrypt(ByteView key, ByteView iv, ByteView ciphertext_and_tag,
                                  ByteView aad) {
  if (key.size() != 32 || iv.size() != kGcmIvLen) return MakeError(Errc::kBadKeyLength);
  if (ciphertext_and_tag.size() < kGcmTagLen || !FitsInt(ciphertext_and_tag.size()) ||
      !FitsInt(aad.size())) {
    return MakeError(Errc::kBadInputLength);
  }
  const std::size_t body = ciphertext_and_tag.size() - kGcmTagLen;
  // The tag is set from a copy: OpenSSL's ctrl takes a non-const pointer.
  std::uint8_t tag[kGcmTagLen];
  std::memcpy(tag, ciphertext_and_tag.data() + body, kGcmTagLen);
  CipherCtx ctx = NewCipherCtx();
  Bytes out(body);
  int n = 0;
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), iv.data()) != 1 ||
      (!aad.empty() &&
       EVP_DecryptUpdate(ctx.get(), nullptr, &n, aad.data(), static_cast<int>(aad.size())) != 1) ||
      (body != 0 && EVP_DecryptUpdate(ctx.get(), out.data(), &n, ciphertext_and_tag.data(),
                                      static_cast<int>(body)) != 1) ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTagLen, tag) != 1) {
    return MakeError(Errc::kBackend);
  }
  int fin = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + body, &fin) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return MakeError(Errc::kAuthFailed);
  }
  return out;
}

base::Result<Bytes> AesCbcEncrypt(ByteView key, ByteView iv, ByteView plaintext) {
  if (key.size() != 32 || iv.size() != kBlock) return MakeError(Errc::kBadKeyLength);
  if (!FitsInt(plaintext.size())) return MakeError(Errc::kBadInputLength);
  CipherCtx ctx = NewCipherCtx();
  Bytes out(plaintext.size() + kBlock);
  int n = 0;
  int fin = 0;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, key.data(), iv.data()) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data(), &n, Ptr(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + n, &fin) != 1) {
    return MakeError(Errc::kBackend);
  }
  out.resize(static_cast<std::size_t>(n + fin));
  return out;
}

base::Result<Bytes> AesCbcDecrypt(ByteView key, ByteView iv, ByteView ciphertext) {
  if (key.size() != 32 || iv.size() != kBlock) return MakeError(Errc::kBadKeyLength);
  if (ciphertext.empty() || ciphertext.size() % kBlock != 0 || !FitsInt(ciphertext.size())) {
    return MakeError(Errc::kBadInputLength);
  }
  CipherCtx ctx = NewCipherCtx();
  Bytes out(ciphertext.size() + kBlock);
  int n = 0;
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, key.data(), iv.data()) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out.data(), &n, ciphertext.data(),
                        static_cast<int>(ciphertext.size())) != 1) {
    return MakeError(Errc::kBackend);
  }
  int fin = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + n, &fin) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return MakeError(Errc::kBadPadding);
  }
  out.resize(static_cast<std::size_t>(n + fin));
  return out;
}

base::Result<Bytes> AesCtr(ByteView key, ByteView iv, ByteView data) {
  if (key.size() != 32 || iv.size() != kBlock) return MakeError(Errc::kBadKeyLength);
  if (!FitsInt(data.size())) return MakeError(Errc::kBadInputLength);
  CipherCtx ctx = NewCipherCtx();
  Bytes out(data.size());
  int n = 0;
  int fin = 0;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_ctr(), nullptr, key.data(), iv.data()) != 1 ||
      (!data.empty() && EVP_EncryptUpdate(ctx.get(), out.data(), &n, data.data(),
                                          static_cast<int>(data.size())) != 1) ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + n, &fin) != 1) {
    return MakeError(Errc::kBackend);
  }
  return out;
}

bool ConstantTimeEqual(ByteView a, ByteView b) {
  // Lengths are public (they are on the wire); only the contents are compared in constant time.
  if (a.size() != b.size()) return false;
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace wa::crypto
