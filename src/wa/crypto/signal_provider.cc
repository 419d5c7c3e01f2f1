#include "wa/crypto/signal_provider.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstring>

#include "base/check.h"
#include "wa/crypto/crypto.h"

namespace wa::crypto {
namespace {

// HMAC contexts are created from one fetched EVP_MAC; fetching is the expensive part.
EVP_MAC* HmacAlgorithm() {
  static EVP_MAC* const mac = [] {
    EVP_MAC* m = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    WA_CHECK(m != nullptr);
    return m;
  }();
  return mac;
}

int Random(uint8_t* data, size_t len, void*) {
  RandomBytes(std::span<std::uint8_t>(data, len));
  return 0;
}

int HmacInit(void** context, const uint8_t* key, size_t key_len, void*) {
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(HmacAlgorithm());
  if (ctx == nullptr) return SG_ERR_NOMEM;
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  static const uint8_t kNoKey = 0;
  if (EVP_MAC_init(ctx, key_len ? key : &kNoKey, key_len, params) != 1) {
    EVP_MAC_CTX_free(ctx);
    return SG_ERR_UNKNOWN;
  }
  *context = ctx;
  return 0;
}

int HmacUpdate(void* context, const uint8_t* data, size_t len, void*) {
  if (len == 0) return 0;
  return EVP_MAC_update(static_cast<EVP_MAC_CTX*>(context), data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

int HmacFinal(void* context, signal_buffer** output, void*) {
  uint8_t md[EVP_MAX_MD_SIZE];
  size_t md_len = 0;
  if (EVP_MAC_final(static_cast<EVP_MAC_CTX*>(context), md, &md_len, sizeof(md)) != 1) {
    return SG_ERR_UNKNOWN;
  }
  signal_buffer* buffer = signal_buffer_create(md, md_len);
  if (buffer == nullptr) return SG_ERR_NOMEM;
  *output = buffer;
  return 0;
}

void HmacCleanup(void* context, void*) { EVP_MAC_CTX_free(static_cast<EVP_MAC_CTX*>(context)); }

int Sha512Init(void** context, void*) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return SG_ERR_NOMEM;
  if (EVP_DigestInit_ex(ctx, EVP_sha512(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    return SG_ERR_UNKNOWN;
  }
  *context = ctx;
  return 0;
}

int Sha512Update(void* context, const uint8_t* data, size_t len, void*) {
  if (len == 0) return 0;
  return EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(context), data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

// The library expects the context to be reusable after final.
int Sha512Final(void* context, signal_buffer** output, void*) {
  auto* ctx = static_cast<EVP_MD_CTX*>(context);
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned md_len = 0;
  if (EVP_DigestFinal_ex(ctx, md, &md_len) != 1) return SG_ERR_UNKNOWN;
  if (EVP_DigestInit_ex(ctx, EVP_sha512(), nullptr) != 1) return SG_ERR_UNKNOWN;
  signal_buffer* buffer = signal_buffer_create(md, md_len);
  if (buffer == nullptr) return SG_ERR_NOMEM;
  *output = buffer;
  return 0;
}

void Sha512Cleanup(void* context, void*) { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(context)); }

const EVP_CIPHER* PickCipher(int cipher, size_t key_len) {
  const bool cbc = cipher == SG_CIPHER_AES_CBC_PKCS5;
  if (!cbc && cipher != SG_CIPHER_AES_CTR_NOPADDING) return nullptr;
  switch (key_len) {
    case 16: return cbc ? EVP_aes_128_cbc() : EVP_aes_128_ctr();
    case 24: return cbc ? EVP_aes_192_cbc() : EVP_aes_192_ctr();
    case 32: return cbc ? EVP_aes_256_cbc() : EVP_aes_256_ctr();
    default: return nullptr;
  }
}

int Crypt(bool encrypt, signal_buffer** output, int cipher, const uint8_t* key, size_t key_len,
          const uint8_t* iv, size_t iv_len, const uint8_t* in, size_t in_len) {
  const EVP_CIPHER* evp = PickCipher(cipher, key_len);
  if (evp == nullptr || iv_len != 16 || in_len > 0x7fff0000) return SG_ERR_INVAL;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return SG_ERR_NOMEM;
  // Room for one more block of padding on encrypt.
  signal_buffer* buffer = signal_buffer_alloc(in_len + 16);
  int result = SG_ERR_UNKNOWN;
  int n1 = 0;
  int n2 = 0;
  static const uint8_t kEmpty = 0;
  if (buffer != nullptr &&
      EVP_CipherInit_ex(ctx, evp, nullptr, key, iv, encrypt ? 1 : 0) == 1 &&
      EVP_CipherUpdate(ctx, signal_buffer_data(buffer), &n1, in_len ? in : &kEmpty,
                       static_cast<int>(in_len)) == 1 &&
      EVP_CipherFinal_ex(ctx, signal_buffer_data(buffer) + n1, &n2) == 1) {
    // signal_buffer has no "shrink": copy the exact length out.
    signal_buffer* exact = signal_buffer_create(signal_buffer_data(buffer),
                                                static_cast<size_t>(n1 + n2));
    if (exact != nullptr) {
      *output = exact;
      result = 0;
    } else {
      result = SG_ERR_NOMEM;
    }
  }
  if (buffer != nullptr) signal_buffer_bzero_free(buffer);
  EVP_CIPHER_CTX_free(ctx);
  return result;
}

int Encrypt(signal_buffer** output, int cipher, const uint8_t* key, size_t key_len,
            const uint8_t* iv, size_t iv_len, const uint8_t* plaintext, size_t plaintext_len,
            void*) {
  return Crypt(true, output, cipher, key, key_len, iv, iv_len, plaintext, plaintext_len);
}

int Decrypt(signal_buffer** output, int cipher, const uint8_t* key, size_t key_len,
            const uint8_t* iv, size_t iv_len, const uint8_t* ciphertext, size_t ciphertext_len,
            void*) {
  return Crypt(false, output, cipher, key, key_len, iv, iv_len, ciphertext, ciphertext_len);
}

}  // namespace

const signal_crypto_provider& SignalCryptoProvider() {
  static const signal_crypto_provider provider = {
      .random_func = Random,
      .hmac_sha256_init_func = HmacInit,
      .hmac_sha256_update_func = HmacUpdate,
      .hmac_sha256_final_func = HmacFinal,
      .hmac_sha256_cleanup_func = HmacCleanup,
      .sha512_digest_init_func = Sha512Init,
      .sha512_digest_update_func = Sha512Update,
      .sha512_digest_final_func = Sha512Final,
      .sha512_digest_cleanup_func = Sha512Cleanup,
      .encrypt_func = Encrypt,
      .decrypt_func = Decrypt,
      .user_data = nullptr,
  };
  return provider;
}

SignalContextPtr NewSignalContext() {
  signal_context* context = nullptr;
  WA_CHECK(signal_context_create(&context, nullptr) == 0);
  SignalContextPtr owned(context);
  WA_CHECK(signal_context_set_crypto_provider(context, &SignalCryptoProvider()) == 0);
  return owned;
}

}  // namespace wa::crypto
