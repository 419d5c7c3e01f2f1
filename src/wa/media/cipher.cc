#include "wa/media/cipher.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <climits>

#include "base/check.h"
#include "wa/media/errors.h"

namespace wa::media {
namespace {

constexpr std::size_t kBlock = 16;
// EVP takes int lengths: feed at most this much per call.
constexpr std::size_t kMaxPiece = std::size_t{1} << 30;

struct CipherDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
struct MacDeleter {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherDeleter>;
using MacCtx = std::unique_ptr<EVP_MAC_CTX, MacDeleter>;

// HMAC-SHA256 keyed with `key`, already fed with `iv`.
MacCtx NewHmac(const std::array<std::uint8_t, 32>& key, base::ByteView iv) {
  static EVP_MAC* const mac = [] {
    EVP_MAC* m = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    WA_CHECK(m != nullptr);
    return m;
  }();
  MacCtx ctx(EVP_MAC_CTX_new(mac));
  WA_CHECK(ctx != nullptr);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  WA_CHECK(EVP_MAC_init(ctx.get(), key.data(), key.size(), params) == 1);
  WA_CHECK(EVP_MAC_update(ctx.get(), iv.data(), iv.size()) == 1);
  return ctx;
}

void MacUpdate(EVP_MAC_CTX* ctx, base::ByteView data) {
  if (!data.empty()) WA_CHECK(EVP_MAC_update(ctx, data.data(), data.size()) == 1);
}

std::array<std::uint8_t, kMacSize> MacFinal(EVP_MAC_CTX* ctx) {
  std::uint8_t full[32];
  std::size_t len = 0;
  WA_CHECK(EVP_MAC_final(ctx, full, &len, sizeof(full)) == 1 && len == sizeof(full));
  std::array<std::uint8_t, kMacSize> out;
  std::copy_n(full, kMacSize, out.begin());
  return out;
}

CipherCtx NewCipher(const MediaKeys& keys, bool encrypt) {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  WA_CHECK(ctx != nullptr);
  WA_CHECK(EVP_CipherInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, keys.cipher_key.data(),
                             keys.iv.data(), encrypt ? 1 : 0) == 1);
  return ctx;
}

// Runs `data` through the cipher, appending the output to `out`; returns the output's view.
base::ByteView CipherUpdate(EVP_CIPHER_CTX* ctx, base::ByteView data, base::Bytes& out) {
  std::size_t start = out.size();
  while (!data.empty()) {
    std::size_t piece = std::min(data.size(), kMaxPiece);
    std::size_t at = out.size();
    out.resize(at + piece + kBlock);
    int n = 0;
    WA_CHECK(EVP_CipherUpdate(ctx, out.data() + at, &n, data.data(), static_cast<int>(piece)) == 1);
    out.resize(at + static_cast<std::size_t>(n));
    data = data.subspan(piece);
  }
  return base::ByteView(out).subspan(start);
}

}  // namespace

// --- Encryptor ------------------------------------------------------------------------------

struct Encryptor::State {
  CipherCtx cipher;
  MacCtx mac;
  crypto::Sha256Stream plain_hash;
  crypto::Sha256Stream enc_hash;
  std::uint64_t plain_length = 0;
  std::uint64_t enc_length = 0;
  bool spent = false;
};

Encryptor::Encryptor(const MediaKeys& keys) : state_(std::make_unique<State>()) {
  state_->cipher = NewCipher(keys, true);
  state_->mac = NewHmac(keys.mac_key, keys.iv);
}
Encryptor::~Encryptor() = default;
Encryptor::Encryptor(Encryptor&&) noexcept = default;
Encryptor& Encryptor::operator=(Encryptor&&) noexcept = default;

base::Result<void> Encryptor::Update(base::ByteView plaintext, base::Bytes& out) {
  State& s = *state_;
  if (s.spent) return MakeError(Errc::kSpent);
  s.plain_hash.Update(plaintext);
  s.plain_length += plaintext.size();
  base::ByteView produced = CipherUpdate(s.cipher.get(), plaintext, out);
  MacUpdate(s.mac.get(), produced);
  s.enc_hash.Update(produced);
  s.enc_length += produced.size();
  return {};
}

base::Result<FileHashes> Encryptor::Finish(base::Bytes& out) {
  State& s = *state_;
  if (s.spent) return MakeError(Errc::kSpent);
  s.spent = true;
  std::size_t at = out.size();
  out.resize(at + kBlock);
  int n = 0;
  WA_CHECK(EVP_EncryptFinal_ex(s.cipher.get(), out.data() + at, &n) == 1);
  out.resize(at + static_cast<std::size_t>(n));
  base::ByteView last = base::ByteView(out).subspan(at);
  MacUpdate(s.mac.get(), last);
  s.enc_hash.Update(last);
  FileHashes h;
  h.mac = MacFinal(s.mac.get());
  out.insert(out.end(), h.mac.begin(), h.mac.end());
  s.enc_hash.Update(h.mac);
  h.file_sha256 = s.plain_hash.Finish();
  h.file_enc_sha256 = s.enc_hash.Finish();
  h.file_length = s.plain_length;
  h.enc_length = s.enc_length + last.size() + kMacSize;
  return h;
}

// --- Decryptor ------------------------------------------------------------------------------

struct Decryptor::State {
  Expected expected;
  CipherCtx cipher;
  MacCtx mac;
  crypto::Sha256Stream plain_hash;
  crypto::Sha256Stream enc_hash;
  std::uint64_t plain_length = 0;
  std::uint64_t enc_length = 0;     // every byte received
  std::uint64_t cipher_length = 0;  // bytes released to the cipher (all but the held tail)
  // The last (at most) 10 bytes received: the MAC once the input ends.
  std::array<std::uint8_t, kMacSize> tail{};
  std::size_t tail_size = 0;
  bool spent = false;

  void Release(base::ByteView ciphertext, base::Bytes& out) {
    if (ciphertext.empty()) return;
    MacUpdate(mac.get(), ciphertext);
    cipher_length += ciphertext.size();
    base::ByteView produced = CipherUpdate(cipher.get(), ciphertext, out);
    plain_hash.Update(produced);
    plain_length += produced.size();
  }
};

Decryptor::Decryptor(const MediaKeys& keys, Expected expected) : state_(std::make_unique<State>()) {
  state_->expected = expected;
  state_->cipher = NewCipher(keys, false);
  state_->mac = NewHmac(keys.mac_key, keys.iv);
}
Decryptor::~Decryptor() = default;
Decryptor::Decryptor(Decryptor&&) noexcept = default;
Decryptor& Decryptor::operator=(Decryptor&&) noexcept = default;

base::Result<void> Decryptor::Update(base::ByteView encrypted, base::Bytes& out) {
  State& s = *state_;
  if (s.spent) return MakeError(Errc::kSpent);
  s.enc_hash.Update(encrypted);
  s.enc_length += encrypted.size();
  std::size_t total = s.tail_size + encrypted.size();
  if (total <= kMacSize) {
    std::copy(encrypted.begin(), encrypted.end(), s.tail.begin() + s.tail_size);
    s.tail_size = total;
    return {};
  }
  // Everything but the last 10 bytes is ciphertext: first what the tail held, then the input.
  std::size_t release = total - kMacSize;
  std::size_t from_tail = std::min(release, s.tail_size);
  if (from_tail > 0) {
    std::array<std::uint8_t, kMacSize> held = s.tail;
    s.Release(base::ByteView(held.data(), from_tail), out);
  }
  std::size_t from_input = release - from_tail;
  s.Release(encrypted.first(from_input), out);
  // The new tail: what is left of the old one, then the rest of the input.
  std::array<std::uint8_t, kMacSize> next{};
  std::size_t n = 0;
  for (std::size_t i = from_tail; i < s.tail_size; ++i) next[n++] = s.tail[i];
  for (std::size_t i = from_input; i < encrypted.size(); ++i) next[n++] = encrypted[i];
  s.tail = next;
  s.tail_size = n;
  return {};
}

base::Result<FileHashes> Decryptor::Finish(base::Bytes& out) {
  State& s = *state_;
  if (s.spent) return MakeError(Errc::kSpent);
  s.spent = true;
  FileHashes h;
  h.enc_length = s.enc_length;
  h.file_enc_sha256 = s.enc_hash.Finish();
  if (s.enc_length <= kMacSize) return MakeError(Errc::kTooShort);
  const Expected& e = s.expected;
  if (!e.file_enc_sha256.empty() &&
      !crypto::ConstantTimeEqual(e.file_enc_sha256, h.file_enc_sha256)) {
    return MakeError(Errc::kEncHashMismatch);
  }
  std::copy_n(s.tail.begin(), kMacSize, h.mac.begin());
  auto mac = MacFinal(s.mac.get());
  if (!crypto::ConstantTimeEqual(mac, h.mac)) return MakeError(Errc::kMacMismatch);
  if (s.cipher_length % kBlock != 0) return MakeError(Errc::kBadLength);
  std::size_t at = out.size();
  out.resize(at + kBlock);
  int n = 0;
  if (EVP_DecryptFinal_ex(s.cipher.get(), out.data() + at, &n) != 1) {
    out.resize(at);
    return MakeError(Errc::kBadPadding);
  }
  out.resize(at + static_cast<std::size_t>(n));
  base::ByteView last = base::ByteView(out).subspan(at);
  s.plain_hash.Update(last);
  s.plain_length += last.size();
  h.file_length = s.plain_length;
  h.file_sha256 = s.plain_hash.Finish();
  if (e.file_length && *e.file_length != h.file_length) return MakeError(Errc::kLengthMismatch);
  if (!e.file_sha256.empty() && !crypto::ConstantTimeEqual(e.file_sha256, h.file_sha256)) {
    return MakeError(Errc::kHashMismatch);
  }
  return h;
}

// --- one-shot -------------------------------------------------------------------------------

EncryptedFile Encrypt(base::ByteView plaintext, const MediaKeys& keys) {
  EncryptedFile f;
  f.data.reserve(plaintext.size() + kBlock + kMacSize);
  Encryptor enc(keys);
  (void)enc.Update(plaintext, f.data);  // cannot fail: fresh Encryptor
  f.hashes = *enc.Finish(f.data);
  return f;
}

base::Result<base::Bytes> Decrypt(base::ByteView enc_file, const MediaKeys& keys,
                                  const Expected& expected) {
  base::Bytes out;
  out.reserve(enc_file.size());
  Decryptor dec(keys, expected);
  (void)dec.Update(enc_file, out);
  auto done = dec.Finish(out);
  if (!done) {
    OPENSSL_cleanse(out.data(), out.size());
    return done.error();
  }
  return out;
}

}  // namespace wa::media
