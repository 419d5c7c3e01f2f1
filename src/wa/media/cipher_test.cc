// Media crypto against Baileys' vectors (shared/protocol/vectors/media-crypto.json), streaming in
// arbitrary chunk sizes, and every verification failure.
#include "wa/media/cipher.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "wa/media/errors.h"
#include "wa/media/keys.h"
#include "wa/media/media_type.h"
#include "wa/media/upload.h"

namespace wa::media {
namespace {

using base::Bytes;
using base::ByteView;

const boost::json::object& Vectors() {
  static const boost::json::value root = [] {
    const std::string path = std::string(WA_SHARED_DIR) + "/protocol/vectors/media-crypto.json";
    std::ifstream in(path);
    EXPECT_TRUE(in.good()) << "cannot open " << path;
    std::stringstream text;
    text << in.rdbuf();
    return boost::json::parse(text.str());
  }();
  return root.as_object();
}

std::string Str(const boost::json::value& v) { return std::string(v.as_string()); }

Bytes Hex(const boost::json::value& v) {
  auto bytes = base::FromHex(v.as_string());
  EXPECT_TRUE(bytes.has_value()) << "bad hex in test data";
  return bytes.value_or(Bytes{});
}

template <class T>
Bytes B(const T& c) {
  return Bytes(c.begin(), c.end());
}

// The vectors' plaintexts (see their "format" section).
Bytes SmallPlaintext() {
  Bytes p(100);
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>(i);
  return p;
}
Bytes LargePlaintext() {
  Bytes p(20000);
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>((i * 7 + 3) % 256);
  return p;
}

MediaKeys KeysOf(const boost::json::object& v) {
  auto keys = ExpandMediaKey(Hex(v.at("media_key_hex")), Str(v.at("hkdf_info")));
  EXPECT_TRUE(keys.has_value());
  return *keys;
}

// Feeds `input` to `step` in pieces whose sizes a seeded generator picks from [1, max_piece].
template <class Step>
void InPieces(ByteView input, std::size_t max_piece, std::uint32_t seed, Step step) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> size(1, max_piece);
  std::size_t at = 0;
  while (at < input.size()) {
    std::size_t n = std::min(size(rng), input.size() - at);
    step(input.subspan(at, n));
    at += n;
  }
}

TEST(MediaVectors, EveryTypeIsKnownWithTheVectorsInfoStringAndPath) {
  const auto& vectors = Vectors().at("vectors").as_array();
  EXPECT_EQ(vectors.size(), AllMediaTypes().size());
  for (const auto& item : vectors) {
    const auto& v = item.as_object();
    std::string name = Str(v.at("media_type"));
    SCOPED_TRACE(name);
    auto type = ParseMediaType(name);
    ASSERT_TRUE(type.has_value());
    EXPECT_EQ(Info(*type).name, name);
    EXPECT_EQ(Info(*type).hkdf_info, Str(v.at("hkdf_info")));
    EXPECT_EQ(B(Info(*type).hkdf_info), Hex(v.at("hkdf_info_hex")));
    EXPECT_EQ(Info(*type).encrypted, Str(v.at("hkdf_info")) != "WhatsApp  Keys");
    if (auto* path = v.if_contains("upload_path"); path && !path->is_null()) {
      // One path, or "<Baileys'> (Baileys) or <whatsmeow's> (whatsmeow)": ours is among them.
      EXPECT_NE(Str(*path).find(Info(*type).upload_path), std::string::npos) << Str(*path);
      EXPECT_FALSE(Info(*type).upload_path.empty());
    }
  }
  EXPECT_FALSE(ParseMediaType("Image").has_value());
  EXPECT_FALSE(ParseMediaType("").has_value());
}

TEST(MediaVectors, KeyExpansion) {
  for (const auto& item : Vectors().at("vectors").as_array()) {
    const auto& v = item.as_object();
    SCOPED_TRACE(Str(v.at("media_type")));
    // The key is SHA-256 of its label, so the label pins the key too.
    Bytes key = Hex(v.at("media_key_hex"));
    EXPECT_EQ(B(crypto::Sha256(base::AsBytes(Str(v.at("media_key_label"))))), key);
    EXPECT_EQ(base::FromBase64(Str(v.at("media_key_b64"))), key);
    auto keys = ExpandMediaKey(key, *ParseMediaType(Str(v.at("media_type"))));
    ASSERT_TRUE(keys.has_value());
    EXPECT_EQ(B(keys->iv), Hex(v.at("iv_hex")));
    EXPECT_EQ(B(keys->cipher_key), Hex(v.at("cipher_key_hex")));
    EXPECT_EQ(B(keys->mac_key), Hex(v.at("mac_key_hex")));
    EXPECT_EQ(B(keys->ref_key), Hex(v.at("ref_key_hex")));
    Bytes expanded = Hex(v.at("expanded_112_hex"));
    Bytes joined = B(keys->iv);
    for (const auto* part : {&keys->cipher_key, &keys->mac_key, &keys->ref_key}) {
      joined.insert(joined.end(), part->begin(), part->end());
    }
    EXPECT_EQ(joined, expanded);
  }
}

TEST(MediaVectors, BadKeySizes) {
  Bytes short_key(31, 1), long_key(33, 1);
  EXPECT_EQ(ExpandMediaKey(short_key, MediaType::kImage).error(), Errc::kBadMediaKey);
  EXPECT_EQ(ExpandMediaKey(long_key, MediaType::kImage).error(), Errc::kBadMediaKey);
  EXPECT_EQ(MediaRetryKey(short_key).error(), Errc::kBadMediaKey);
}

TEST(MediaVectors, MediaRetryKey) {
  const auto& ex = Vectors().at("media_retry_example").as_object();
  EXPECT_EQ(Str(ex.at("info")), "WhatsApp Media Retry Notification");
  auto key = MediaRetryKey(Hex(ex.at("media_key_hex")));
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(B(*key), Hex(ex.at("retry_key_hex")));
}

void ExpectTokens(const boost::json::object& f, const FileHashes& h) {
  EXPECT_EQ(UploadToken(h.file_enc_sha256), Str(f.at("upload_token_b64url_nopad")));
  EXPECT_TRUE(TokenMatches(Str(f.at("upload_token_b64url_nopad")), h.file_enc_sha256));
  EXPECT_TRUE(TokenMatches(Str(f.at("upload_token_b64url_padded")), h.file_enc_sha256));
  EXPECT_EQ(base::FromBase64(Str(f.at("file_enc_sha256_b64"))), B(h.file_enc_sha256));
  EXPECT_EQ(base::FromBase64(Str(f.at("file_sha256_b64"))), B(h.file_sha256));
}

TEST(MediaVectors, SmallFileByteExact) {
  Bytes plain = SmallPlaintext();
  for (const auto& item : Vectors().at("vectors").as_array()) {
    const auto& v = item.as_object();
    SCOPED_TRACE(Str(v.at("media_type")));
    const auto& f = v.at("small").as_object();
    ASSERT_EQ(f.at("plaintext_len").as_int64(), 100);
    MediaKeys keys = KeysOf(v);
    EncryptedFile enc = Encrypt(plain, keys);
    EXPECT_EQ(enc.data, Hex(f.at("enc_file_hex")));
    EXPECT_EQ(enc.data.size(), static_cast<std::size_t>(f.at("enc_file_len").as_int64()));
    EXPECT_EQ(B(enc.hashes.mac), Hex(f.at("mac10_hex")));
    EXPECT_EQ(B(enc.hashes.file_sha256), Hex(f.at("file_sha256_hex")));
    EXPECT_EQ(B(enc.hashes.file_enc_sha256), Hex(f.at("file_enc_sha256_hex")));
    EXPECT_EQ(enc.hashes.file_length, static_cast<std::uint64_t>(f.at("file_length").as_int64()));
    EXPECT_EQ(enc.hashes.enc_length, enc.data.size());
    EXPECT_EQ(enc.data.size() - kMacSize,
              static_cast<std::size_t>(f.at("ciphertext_len").as_int64()));
    ExpectTokens(f, enc.hashes);

    // The vector's file decrypts, strictly verified, to the plaintext.
    Bytes enc_file = Hex(f.at("enc_file_hex"));
    Bytes enc_hash = Hex(f.at("file_enc_sha256_hex"));
    Bytes file_hash = Hex(f.at("file_sha256_hex"));
    auto back = Decrypt(enc_file, keys, {enc_hash, file_hash, 100});
    ASSERT_TRUE(back.has_value()) << back.error().message();
    EXPECT_EQ(*back, plain);
  }
}

TEST(MediaVectors, LargeFileEndsHashesAndMacInAnyChunking) {
  Bytes plain = LargePlaintext();
  std::uint32_t seed = 1;
  for (const auto& item : Vectors().at("vectors").as_array()) {
    const auto& v = item.as_object();
    SCOPED_TRACE(Str(v.at("media_type")));
    const auto& f = v.at("large").as_object();
    ASSERT_EQ(static_cast<std::size_t>(f.at("plaintext_len").as_int64()), plain.size());
    MediaKeys keys = KeysOf(v);
    Encryptor enc(keys);
    Bytes out;
    InPieces(plain, 4096, seed++, [&](ByteView piece) { ASSERT_TRUE(enc.Update(piece, out)); });
    auto h = enc.Finish(out);
    ASSERT_TRUE(h.has_value());
    std::size_t ct_len = static_cast<std::size_t>(f.at("ciphertext_len").as_int64());
    ASSERT_EQ(out.size(), ct_len + kMacSize);
    ASSERT_EQ(out.size(), static_cast<std::size_t>(f.at("enc_file_len").as_int64()));
    EXPECT_EQ(Bytes(out.begin(), out.begin() + 32), Hex(f.at("ciphertext_first32_hex")));
    EXPECT_EQ(Bytes(out.begin() + static_cast<long>(ct_len) - 32,
                    out.begin() + static_cast<long>(ct_len)),
              Hex(f.at("ciphertext_last32_hex")));
    EXPECT_EQ(Bytes(out.end() - kMacSize, out.end()), Hex(f.at("mac10_hex")));
    EXPECT_EQ(B(h->mac), Hex(f.at("mac10_hex")));
    EXPECT_EQ(B(h->file_sha256), Hex(f.at("file_sha256_hex")));
    EXPECT_EQ(B(h->file_enc_sha256), Hex(f.at("file_enc_sha256_hex")));
    EXPECT_EQ(h->file_length, plain.size());
    EXPECT_EQ(h->enc_length, out.size());
    ExpectTokens(f, *h);

    // And back, in other pieces, verified against the vector's hashes.
    Bytes enc_hash = Hex(f.at("file_enc_sha256_hex"));
    Bytes file_hash = Hex(f.at("file_sha256_hex"));
    Decryptor dec(keys, {enc_hash, file_hash, plain.size()});
    Bytes back;
    InPieces(out, 3000, seed++, [&](ByteView piece) { ASSERT_TRUE(dec.Update(piece, back)); });
    auto verified = dec.Finish(back);
    ASSERT_TRUE(verified.has_value()) << verified.error().message();
    EXPECT_EQ(back, plain);
    EXPECT_EQ(verified->file_enc_sha256, h->file_enc_sha256);
  }
}

TEST(MediaStreaming, ArbitraryChunksEqualOneShot) {
  auto keys = *ExpandMediaKey(Bytes(32, 7), MediaType::kDocument);
  std::mt19937 rng(42);
  for (std::size_t size : {0u, 1u, 15u, 16u, 17u, 31u, 32u, 33u, 1000u, 65537u}) {
    SCOPED_TRACE(size);
    Bytes plain(size);
    for (auto& b : plain) b = static_cast<std::uint8_t>(rng());
    EncryptedFile one = Encrypt(plain, keys);
    EXPECT_EQ(one.data.size(), (size / 16 + 1) * 16 + kMacSize);
    for (std::size_t max_piece : {1u, 2u, 10u, 11u, 16u, 100u, 70000u}) {
      Encryptor enc(keys);
      Bytes out;
      InPieces(plain, max_piece, static_cast<std::uint32_t>(size + max_piece),
               [&](ByteView p) { ASSERT_TRUE(enc.Update(p, out)); });
      // Empty updates change nothing.
      ASSERT_TRUE(enc.Update({}, out));
      auto h = enc.Finish(out);
      ASSERT_TRUE(h.has_value());
      EXPECT_EQ(out, one.data);
      EXPECT_EQ(h->file_enc_sha256, one.hashes.file_enc_sha256);
      EXPECT_EQ(h->file_sha256, one.hashes.file_sha256);

      Decryptor dec(keys, {one.hashes.file_enc_sha256, one.hashes.file_sha256, size});
      Bytes back;
      InPieces(one.data, max_piece, static_cast<std::uint32_t>(size * 3 + max_piece),
               [&](ByteView p) { ASSERT_TRUE(dec.Update(p, back)); });
      auto verified = dec.Finish(back);
      ASSERT_TRUE(verified.has_value()) << verified.error().message();
      EXPECT_EQ(back, plain);
    }
  }
}

TEST(MediaStreaming, EncryptionOutputPerChunkIsBounded) {
  // 8 MiB in 64 KiB pieces: each Update yields at most its input plus
  // one block, and the caller's buffer is all the plaintext or ciphertext there is.
  auto keys = *ExpandMediaKey(Bytes(32, 4), MediaType::kVideo);
  constexpr std::size_t kPiece = 64 * 1024, kPieces = 128;
  Bytes piece(kPiece);
  Encryptor enc(keys);
  crypto::Sha256Stream enc_file_hash;
  Bytes out;
  for (std::size_t i = 0; i < kPieces; ++i) {
    for (std::size_t j = 0; j < kPiece; ++j) piece[j] = static_cast<std::uint8_t>(i + j);
    out.clear();
    ASSERT_TRUE(enc.Update(piece, out));
    ASSERT_LE(out.size(), kPiece + 16);
    enc_file_hash.Update(out);
  }
  out.clear();
  auto h = enc.Finish(out);
  ASSERT_TRUE(h.has_value());
  ASSERT_LE(out.size(), 16 + kMacSize);
  enc_file_hash.Update(out);
  EXPECT_EQ(enc_file_hash.Finish(), h->file_enc_sha256);
  EXPECT_EQ(h->file_length, kPiece * kPieces);
  EXPECT_EQ(h->enc_length, kPiece * kPieces + 16 + kMacSize);
}

TEST(MediaStreaming, SpentCiphersRefuse) {
  auto keys = *ExpandMediaKey(Bytes(32, 1), MediaType::kImage);
  Bytes out;
  Encryptor enc(keys);
  ASSERT_TRUE(enc.Finish(out));
  EXPECT_EQ(enc.Update(out, out).error(), Errc::kSpent);
  EXPECT_EQ(enc.Finish(out).error(), Errc::kSpent);
  Decryptor dec(keys, {});
  Bytes plain;
  ASSERT_TRUE(dec.Update(out, plain));
  ASSERT_TRUE(dec.Finish(plain));
  EXPECT_TRUE(plain.empty());
  EXPECT_EQ(dec.Update(out, plain).error(), Errc::kSpent);
  EXPECT_EQ(dec.Finish(plain).error(), Errc::kSpent);
}

class MediaTamper : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_ = *ExpandMediaKey(Bytes(32, 9), MediaType::kImage);
    plain_.resize(1000);
    for (std::size_t i = 0; i < plain_.size(); ++i) plain_[i] = static_cast<std::uint8_t>(i * 13);
    file_ = Encrypt(plain_, keys_);
  }
  Expected Strict() const {
    return {file_.hashes.file_enc_sha256, file_.hashes.file_sha256, plain_.size()};
  }
  // Recomputes the MAC over iv || ciphertext so that only the later checks can object.
  Bytes WithValidMac(Bytes ciphertext) const {
    Bytes signed_part = B(keys_.iv);
    signed_part.insert(signed_part.end(), ciphertext.begin(), ciphertext.end());
    auto mac = crypto::HmacSha256(keys_.mac_key, signed_part);
    ciphertext.insert(ciphertext.end(), mac.begin(), mac.begin() + kMacSize);
    return ciphertext;
  }
  Bytes Ciphertext() const { return Bytes(file_.data.begin(), file_.data.end() - kMacSize); }

  MediaKeys keys_;
  Bytes plain_;
  EncryptedFile file_;
};

TEST_F(MediaTamper, IntactFilePasses) {
  auto back = Decrypt(file_.data, keys_, Strict());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, plain_);
  // Without expectations only the MAC and the padding are checked.
  EXPECT_TRUE(Decrypt(file_.data, keys_, {}).has_value());
}

TEST_F(MediaTamper, FlippedCiphertextBit) {
  for (std::size_t at : {std::size_t{0}, std::size_t{500}, file_.data.size() - kMacSize - 1}) {
    Bytes bad = file_.data;
    bad[at] ^= 0x01;
    EXPECT_EQ(Decrypt(bad, keys_, Strict()).error(), Errc::kEncHashMismatch);
    EXPECT_EQ(Decrypt(bad, keys_, {}).error(), Errc::kMacMismatch);
  }
}

TEST_F(MediaTamper, FlippedMacBit) {
  Bytes bad = file_.data;
  bad.back() ^= 0x80;
  EXPECT_EQ(Decrypt(bad, keys_, Strict()).error(), Errc::kEncHashMismatch);
  EXPECT_EQ(Decrypt(bad, keys_, {}).error(), Errc::kMacMismatch);
}

TEST_F(MediaTamper, WrongKeyOrWrongType) {
  auto other = *ExpandMediaKey(Bytes(32, 10), MediaType::kImage);
  EXPECT_EQ(Decrypt(file_.data, other, {}).error(), Errc::kMacMismatch);
  // Same media key, another type's info string: other keys altogether.
  auto video = *ExpandMediaKey(Bytes(32, 9), MediaType::kVideo);
  EXPECT_EQ(Decrypt(file_.data, video, Strict()).error(), Errc::kMacMismatch);
}

TEST_F(MediaTamper, TooShortAndTruncated) {
  Bytes ten(file_.data.begin(), file_.data.begin() + kMacSize);
  EXPECT_EQ(Decrypt(ten, keys_, {}).error(), Errc::kTooShort);
  EXPECT_EQ(Decrypt({}, keys_, {}).error(), Errc::kTooShort);
  Bytes cut(file_.data.begin(), file_.data.end() - 16);
  EXPECT_EQ(Decrypt(cut, keys_, {}).error(), Errc::kMacMismatch);
}

TEST_F(MediaTamper, NotWholeBlocksWithAValidMac) {
  Bytes ct = Ciphertext();
  ct.pop_back();
  EXPECT_EQ(Decrypt(WithValidMac(ct), keys_, {}).error(), Errc::kBadLength);
}

TEST_F(MediaTamper, BadPaddingWithAValidMac) {
  // A last block of zeros decrypts to garbage whose final byte is almost surely not a valid
  // padding length for this fixed key; the assertion below fails loudly if it ever is.
  Bytes ct = Ciphertext();
  std::fill(ct.end() - 16, ct.end(), 0);
  auto r = Decrypt(WithValidMac(ct), keys_, {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), Errc::kBadPadding);
}

TEST_F(MediaTamper, WrongLengthOrPlaintextHash) {
  Expected e = Strict();
  e.file_length = plain_.size() + 1;
  EXPECT_EQ(Decrypt(file_.data, keys_, e).error(), Errc::kLengthMismatch);
  Bytes other_hash = B(file_.hashes.file_sha256);
  other_hash[3] ^= 1;
  e = Strict();
  e.file_sha256 = other_hash;
  EXPECT_EQ(Decrypt(file_.data, keys_, e).error(), Errc::kHashMismatch);
  // A hash of the wrong size never matches.
  Bytes short_hash(31, 0);
  e = Strict();
  e.file_enc_sha256 = short_hash;
  EXPECT_EQ(Decrypt(file_.data, keys_, e).error(), Errc::kEncHashMismatch);
}

TEST_F(MediaTamper, StreamingVerdictComesAtFinish) {
  Bytes bad = file_.data;
  bad[100] ^= 4;
  Decryptor dec(keys_, {});
  Bytes out;
  InPieces(bad, 64, 5, [&](ByteView p) { ASSERT_TRUE(dec.Update(p, out)); });
  EXPECT_EQ(dec.Finish(out).error(), Errc::kMacMismatch);
}

}  // namespace
}  // namespace wa::media
