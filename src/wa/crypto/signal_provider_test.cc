#include "wa/crypto/signal_provider.h"

#include <gtest/gtest.h>

#include "wa/crypto/crypto.h"

namespace wa::crypto {
namespace {

using base::Bytes;

// Takes ownership of a signal_buffer and returns its bytes.
Bytes Take(signal_buffer* buffer) {
  EXPECT_NE(buffer, nullptr);
  if (buffer == nullptr) return {};
  Bytes out(signal_buffer_data(buffer), signal_buffer_data(buffer) + signal_buffer_len(buffer));
  signal_buffer_free(buffer);
  return out;
}

Bytes Pattern(std::size_t n, unsigned seed) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * seed + 1);
  return b;
}

TEST(SignalProvider, HmacSha256MatchesOneShot) {
  const auto& p = SignalCryptoProvider();
  const Bytes key = Pattern(32, 3);
  const Bytes data = Pattern(200, 5);
  void* ctx = nullptr;
  ASSERT_EQ(p.hmac_sha256_init_func(&ctx, key.data(), key.size(), p.user_data), 0);
  ASSERT_EQ(p.hmac_sha256_update_func(ctx, data.data(), 77, p.user_data), 0);
  ASSERT_EQ(p.hmac_sha256_update_func(ctx, data.data() + 77, 0, p.user_data), 0);
  ASSERT_EQ(p.hmac_sha256_update_func(ctx, data.data() + 77, data.size() - 77, p.user_data), 0);
  signal_buffer* out = nullptr;
  ASSERT_EQ(p.hmac_sha256_final_func(ctx, &out, p.user_data), 0);
  p.hmac_sha256_cleanup_func(ctx, p.user_data);
  const Digest32 expected = HmacSha256(key, data);
  EXPECT_EQ(Take(out), Bytes(expected.begin(), expected.end()));
}

TEST(SignalProvider, Sha512IsReusableAfterFinal) {
  const auto& p = SignalCryptoProvider();
  const Bytes a = Pattern(300, 7);
  const Bytes b = Pattern(10, 11);
  void* ctx = nullptr;
  ASSERT_EQ(p.sha512_digest_init_func(&ctx, p.user_data), 0);
  ASSERT_EQ(p.sha512_digest_update_func(ctx, a.data(), a.size(), p.user_data), 0);
  signal_buffer* first = nullptr;
  ASSERT_EQ(p.sha512_digest_final_func(ctx, &first, p.user_data), 0);
  ASSERT_EQ(p.sha512_digest_update_func(ctx, b.data(), b.size(), p.user_data), 0);
  signal_buffer* second = nullptr;
  ASSERT_EQ(p.sha512_digest_final_func(ctx, &second, p.user_data), 0);
  p.sha512_digest_cleanup_func(ctx, p.user_data);
  const auto ha = Sha512(a);
  const auto hb = Sha512(b);
  EXPECT_EQ(Take(first), Bytes(ha.begin(), ha.end()));
  EXPECT_EQ(Take(second), Bytes(hb.begin(), hb.end()));
}

TEST(SignalProvider, CiphersMatchWaCrypto) {
  const auto& p = SignalCryptoProvider();
  const Bytes key = Pattern(32, 13);
  const Bytes iv = Pattern(16, 17);
  const Bytes plain = Pattern(45, 19);

  signal_buffer* out = nullptr;
  ASSERT_EQ(p.encrypt_func(&out, SG_CIPHER_AES_CBC_PKCS5, key.data(), key.size(), iv.data(),
                           iv.size(), plain.data(), plain.size(), p.user_data),
            0);
  const Bytes cbc = Take(out);
  EXPECT_EQ(cbc, AesCbcEncrypt(key, iv, plain).value());
  ASSERT_EQ(p.decrypt_func(&out, SG_CIPHER_AES_CBC_PKCS5, key.data(), key.size(), iv.data(),
                           iv.size(), cbc.data(), cbc.size(), p.user_data),
            0);
  EXPECT_EQ(Take(out), plain);

  ASSERT_EQ(p.encrypt_func(&out, SG_CIPHER_AES_CTR_NOPADDING, key.data(), key.size(), iv.data(),
                           iv.size(), plain.data(), plain.size(), p.user_data),
            0);
  const Bytes ctr = Take(out);
  EXPECT_EQ(ctr, AesCtr(key, iv, plain).value());
  ASSERT_EQ(p.decrypt_func(&out, SG_CIPHER_AES_CTR_NOPADDING, key.data(), key.size(), iv.data(),
                           iv.size(), ctr.data(), ctr.size(), p.user_data),
            0);
  EXPECT_EQ(Take(out), plain);
}

TEST(SignalProvider, CipherErrorsAreNegative) {
  const auto& p = SignalCryptoProvider();
  const Bytes key = Pattern(32, 13);
  const Bytes iv = Pattern(16, 17);
  const Bytes data = Pattern(32, 23);
  signal_buffer* out = nullptr;
  EXPECT_LT(p.encrypt_func(&out, 99, key.data(), key.size(), iv.data(), iv.size(), data.data(),
                           data.size(), p.user_data),
            0);
  EXPECT_LT(p.encrypt_func(&out, SG_CIPHER_AES_CBC_PKCS5, key.data(), 20, iv.data(), iv.size(),
                           data.data(), data.size(), p.user_data),
            0);
  EXPECT_LT(p.encrypt_func(&out, SG_CIPHER_AES_CBC_PKCS5, key.data(), key.size(), iv.data(), 12,
                           data.data(), data.size(), p.user_data),
            0);
  // Bad padding: the first block of the encryption of 16 zero bytes decrypts to 16 zero bytes,
  // whose last byte (0) is not a PKCS#7 pad length.
  const Bytes zeros(16, 0);
  const Bytes ct = AesCbcEncrypt(key, iv, zeros).value();
  EXPECT_LT(p.decrypt_func(&out, SG_CIPHER_AES_CBC_PKCS5, key.data(), key.size(), iv.data(),
                           iv.size(), ct.data(), 16, p.user_data),
            0);
  EXPECT_EQ(out, nullptr);
}

TEST(SignalProvider, RandomAndContext) {
  const auto& p = SignalCryptoProvider();
  Bytes a(32, 0), b(32, 0);
  ASSERT_EQ(p.random_func(a.data(), a.size(), p.user_data), 0);
  ASSERT_EQ(p.random_func(b.data(), b.size(), p.user_data), 0);
  EXPECT_NE(a, b);
  SignalContextPtr context = NewSignalContext();
  ASSERT_NE(context, nullptr);
  // The context signs through the provider's randomness; check the signature verifies.
  KeyPair kp = KeyPairFromPrivate(Sha256(base::AsBytes("signal provider context")));
  ec_private_key* key = nullptr;
  ASSERT_EQ(curve_decode_private_point(&key, kp.private_key.data(), 32, context.get()), 0);
  signal_buffer* sig = nullptr;
  const Bytes msg = Pattern(50, 29);
  ASSERT_EQ(curve_calculate_signature(context.get(), &sig, key, msg.data(), msg.size()), 0);
  SIGNAL_UNREF(key);
  const Bytes signature = Take(sig);
  EXPECT_TRUE(Verify(kp.public_key, msg, signature));
}

}  // namespace
}  // namespace wa::crypto
