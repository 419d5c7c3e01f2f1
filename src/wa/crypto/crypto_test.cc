#include "wa/crypto/crypto.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <string>

namespace wa::crypto {
namespace {

using base::Bytes;
using base::ByteView;

boost::json::value LoadVector(const std::string& name) {
  const std::string path = std::string(WA_SHARED_DIR) + "/protocol/vectors/" + name;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream text;
  text << in.rdbuf();
  return boost::json::parse(text.str());
}

Bytes HexStr(std::string_view hex) {
  auto bytes = base::FromHex(hex);
  EXPECT_TRUE(bytes.has_value()) << "bad hex in test data: " << hex;
  return bytes.value_or(Bytes{});
}

Bytes Hex(const char* hex) { return HexStr(hex); }
Bytes Hex(const boost::json::value& v) { return HexStr(std::string_view(v.as_string())); }

Key32 Key(const boost::json::value& v) {
  Bytes b = Hex(v);
  Key32 k{};
  EXPECT_EQ(b.size(), k.size());
  std::copy_n(b.begin(), std::min(b.size(), k.size()), k.begin());
  return k;
}

template <class T>
Bytes B(const T& container) {
  return Bytes(container.begin(), container.end());
}

Bytes Cat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes Slice(ByteView b, std::size_t from, std::size_t len) {
  EXPECT_LE(from + len, b.size());
  return Bytes(b.begin() + from, b.begin() + from + len);
}

bool Contains(ByteView haystack, ByteView needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

// Noise IV: eight zero bytes, then the counter big-endian.
Bytes NoiseIv(std::uint32_t n) {
  Bytes iv(12, 0);
  iv[8] = static_cast<std::uint8_t>(n >> 24);
  iv[9] = static_cast<std::uint8_t>(n >> 16);
  iv[10] = static_cast<std::uint8_t>(n >> 8);
  iv[11] = static_cast<std::uint8_t>(n);
  return iv;
}

Key32 LabelKey(const std::string& label) { return Sha256(base::AsBytes(label)); }

// ---------------------------------------------------------------------------------------------
// Errors

TEST(CryptoErrors, CategoryNamesEveryCode) {
  EXPECT_STREQ(Category().name(), "wa.crypto");
  for (Errc e : {Errc::kBadKeyLength, Errc::kAuthFailed, Errc::kBadPadding, Errc::kWeakKey,
                 Errc::kBadInputLength, Errc::kBackend}) {
    boost::system::error_code ec = e;  // via is_error_code_enum / make_error_code
    EXPECT_EQ(&ec.category(), &Category());
    EXPECT_EQ(ec, MakeError(e));
    EXPECT_NE(ec.message(), Category().message(0));
  }
  EXPECT_NE(MakeError(Errc::kAuthFailed), MakeError(Errc::kBadPadding));
}

// ---------------------------------------------------------------------------------------------
// Hashes and MACs (FIPS 180-2 / RFC 4231 test case 2)

TEST(CryptoHash, KnownAnswers) {
  EXPECT_EQ(base::ToHex(Sha256(base::AsBytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(base::ToHex(Sha256({})),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(base::ToHex(Sha512(base::AsBytes("abc"))),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  const auto key = base::AsBytes("Jefe");
  const auto data = base::AsBytes("what do ya want for nothing?");
  EXPECT_EQ(base::ToHex(HmacSha256(key, data)),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(base::ToHex(HmacSha512(key, data)),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
            "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
  EXPECT_EQ(base::ToHex(Md5(base::AsBytes("abc"))), "900150983cd24fb0d6963f7d28e17f72");
  // An empty key is a valid HMAC key (zero-padded to the block size).
  EXPECT_EQ(base::ToHex(HmacSha256({}, {})),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(CryptoHash, StreamMatchesOneShotAndResets) {
  Bytes data(1000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 31 + 7);
  Sha256Stream stream;
  for (std::size_t off = 0; off < data.size(); off += 97) {
    stream.Update(ByteView(data).subspan(off, std::min<std::size_t>(97, data.size() - off)));
  }
  stream.Update({});
  EXPECT_EQ(stream.Finish(), Sha256(data));
  // After Finish the stream hashes a new message.
  stream.Update(base::AsBytes("abc"));
  EXPECT_EQ(stream.Finish(), Sha256(base::AsBytes("abc")));
  EXPECT_EQ(stream.Finish(), Sha256({}));
}

// ---------------------------------------------------------------------------------------------
// HKDF (RFC 5869 appendix A, SHA-256 cases) and PBKDF2 (RFC 7914 §11)

TEST(CryptoKdf, Rfc5869) {
  Bytes ikm(22, 0x0b);
  EXPECT_EQ(base::ToHex(Hkdf(ikm, Hex("000102030405060708090a0b0c"),
                             Hex("f0f1f2f3f4f5f6f7f8f9"), 42)),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
            "34007208d5b887185865");
  Bytes ikm2, salt2, info2;
  for (int i = 0; i < 80; ++i) {
    ikm2.push_back(static_cast<std::uint8_t>(i));
    salt2.push_back(static_cast<std::uint8_t>(0x60 + i));
    info2.push_back(static_cast<std::uint8_t>(0xb0 + i));
  }
  EXPECT_EQ(base::ToHex(Hkdf(ikm2, salt2, info2, 82)),
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
            "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
            "cc30c58179ec3e87c14c01d5c1f3434f1d87");
  // Case 3: no salt, no info.
  EXPECT_EQ(base::ToHex(Hkdf(ikm, {}, {}, 42)),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
            "9d201395faa4b61a96c8");
  EXPECT_TRUE(Hkdf(ikm, {}, {}, 0).empty());
  EXPECT_EQ(Hkdf(ikm, {}, {}, 255 * 32).size(), 255u * 32);
}

TEST(CryptoKdf, Pbkdf2Rfc7914) {
  EXPECT_EQ(base::ToHex(Pbkdf2Sha256(base::AsBytes("passwd"), base::AsBytes("salt"), 1, 64)),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
            "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
}

// ---------------------------------------------------------------------------------------------
// X25519 (RFC 7748 §6.1 and the vector keys)

TEST(CryptoX25519, Rfc7748) {
  Key32 alice = Key(boost::json::value("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  Key32 bob = Key(boost::json::value("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
  KeyPair a = KeyPairFromPrivate(alice);
  KeyPair b = KeyPairFromPrivate(bob);
  EXPECT_EQ(base::ToHex(a.public_key),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(base::ToHex(b.public_key),
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  auto ab = SharedSecret(alice, b.public_key);
  auto ba = SharedSecret(bob, a.public_key);
  ASSERT_TRUE(ab && ba);
  EXPECT_EQ(base::ToHex(*ab), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  EXPECT_EQ(*ab, *ba);
  // The private half comes back clamped.
  EXPECT_EQ(a.private_key[0] & 7, 0);
  EXPECT_EQ(a.private_key[31] & 0xc0, 0x40);
}

TEST(CryptoX25519, VectorKeysDeriveTheirPublics) {
  int checked = 0;
  for (const char* file : {"noise-handshake.json", "pairing.json"}) {
    const auto doc = LoadVector(file);
    for (const auto& [name, pair] : doc.at("keys").as_object()) {
      if (!pair.is_object()) continue;
      SCOPED_TRACE(std::string(file) + " " + std::string(name));
      KeyPair kp = KeyPairFromPrivate(Key(pair.at("private")));
      EXPECT_EQ(base::ToHex(kp.public_key), std::string_view(pair.at("public").as_string()));
      // noise-handshake.json's keys are clamp(SHA-256(label)), label = name with spaces
      // (pairing.json reuses some of them under other names).
      if (std::string_view(file) == "noise-handshake.json") {
        std::string label(name);
        std::replace(label.begin(), label.end(), '_', ' ');
        EXPECT_EQ(base::ToHex(KeyPairFromPrivate(LabelKey(label)).private_key),
                  base::ToHex(kp.private_key));
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 11);
}

TEST(CryptoX25519, RejectsBadLengthAndLowOrderPoints) {
  Key32 priv = LabelKey("x25519 errors");
  EXPECT_EQ(SharedSecret(priv, Bytes(31, 9)).error(), MakeError(Errc::kBadKeyLength));
  EXPECT_EQ(SharedSecret(priv, Bytes(33, 9)).error(), MakeError(Errc::kBadKeyLength));
  EXPECT_EQ(SharedSecret(priv, {}).error(), MakeError(Errc::kBadKeyLength));
  Bytes zero(32, 0);
  EXPECT_EQ(SharedSecret(priv, zero).error(), MakeError(Errc::kWeakKey));
  Bytes one(32, 0);
  one[0] = 1;  // a point of order 4
  EXPECT_EQ(SharedSecret(priv, one).error(), MakeError(Errc::kWeakKey));
}

TEST(CryptoX25519, GeneratedPairsAgree) {
  KeyPair a = GenerateKeyPair();
  KeyPair b = GenerateKeyPair();
  EXPECT_NE(a.private_key, b.private_key);
  EXPECT_EQ(KeyPairFromPrivate(a.private_key).public_key, a.public_key);
  auto ab = SharedSecret(a.private_key, b.public_key);
  auto ba = SharedSecret(b.private_key, a.public_key);
  ASSERT_TRUE(ab && ba);
  EXPECT_EQ(*ab, *ba);
}

// ---------------------------------------------------------------------------------------------
// XEdDSA

struct SignedVector {
  std::string name;
  Bytes key;
  Bytes message;
  Bytes signature;
};

std::vector<SignedVector> VectorSignatures() {
  const auto noise = LoadVector("noise-handshake.json");
  const auto pairing = LoadVector("pairing.json");
  const auto& keys = noise.at("keys");
  const auto& chain = noise.at("cert_chain");
  const auto& adv = pairing.at("adv");
  const auto& pkeys = pairing.at("keys");
  return {
      {"intermediate cert", Hex(keys.at("vector_test_root").at("public")),
       Hex(chain.at("intermediate_details")), Hex(chain.at("intermediate_signature"))},
      {"leaf cert", Hex(keys.at("vector_test_intermediate").at("public")),
       Hex(chain.at("leaf_details")), Hex(chain.at("leaf_signature"))},
      {"adv account", Hex(pkeys.at("primary_identity").at("public")),
       Hex(adv.at("account_signature_message")), Hex(adv.at("account_signature"))},
      {"adv device", Hex(pkeys.at("companion_identity").at("public")),
       Hex(adv.at("device_signature_message")), Hex(adv.at("reply_device_signature"))},
  };
}

TEST(CryptoXeddsa, VectorSignaturesVerify) {
  int with_sign_bit = 0;
  for (const auto& v : VectorSignatures()) {
    SCOPED_TRACE(v.name);
    ASSERT_EQ(v.signature.size(), 64u);
    EXPECT_TRUE(Verify(v.key, v.message, v.signature));
    if (v.signature[63] & 0x80) ++with_sign_bit;
  }
  // The sign-bit convention is exercised: some of these carry it set (01-connection.md).
  EXPECT_GE(with_sign_bit, 1);
}

TEST(CryptoXeddsa, TamperedSignaturesFail) {
  const auto vectors = VectorSignatures();
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.name);
    Bytes msg = v.message;
    msg[msg.size() / 2] ^= 0x01;
    EXPECT_FALSE(Verify(v.key, msg, v.signature));
    Bytes sig = v.signature;
    sig[5] ^= 0x20;  // in R
    EXPECT_FALSE(Verify(v.key, v.message, sig));
    sig = v.signature;
    sig[40] ^= 0x01;  // in S
    EXPECT_FALSE(Verify(v.key, v.message, sig));
    sig = v.signature;
    sig[63] ^= 0x80;  // the carried sign bit
    EXPECT_FALSE(Verify(v.key, v.message, sig));
    Bytes key = v.key;
    key[0] ^= 0x04;
    EXPECT_FALSE(Verify(key, v.message, v.signature));
    // Right key and message, wrong signer.
    const auto& other = &v == &vectors[0] ? vectors[1] : vectors[0];
    EXPECT_FALSE(Verify(other.key, v.message, v.signature));
    // Malformed lengths are a plain "no".
    EXPECT_FALSE(Verify(Slice(v.key, 0, 31), v.message, v.signature));
    EXPECT_FALSE(Verify(Cat({Bytes{0x05}, v.key}), v.message, v.signature));
    EXPECT_FALSE(Verify(v.key, v.message, Slice(v.signature, 0, 63)));
    EXPECT_FALSE(Verify(v.key, v.message, {}));
  }
}

TEST(CryptoXeddsa, SignVerifyRoundTrip) {
  // Keys from a fixed label sequence; only the signer's nonce is random.
  int sign_bits = 0;
  for (int i = 0; i < 32; ++i) {
    Key32 seed = LabelKey("xeddsa round trip " + std::to_string(i));
    KeyPair kp = KeyPairFromPrivate(seed);
    Bytes msg(static_cast<std::size_t>(i * 13), static_cast<std::uint8_t>(i));
    // Sign clamps: the raw seed and the clamped key give the same public key's signatures.
    Signature s1 = Sign(seed, msg);
    Signature s2 = Sign(kp.private_key, msg);
    EXPECT_TRUE(Verify(kp.public_key, msg, s1)) << i;
    EXPECT_TRUE(Verify(kp.public_key, msg, s2)) << i;
    msg.push_back(0);
    EXPECT_FALSE(Verify(kp.public_key, msg, s1)) << i;
    if (s1[63] & 0x80) ++sign_bits;
  }
  // Half of all Edwards keys are "negative"; 32 keys with none would mean the bit is lost.
  EXPECT_GT(sign_bits, 0);
  EXPECT_LT(sign_bits, 32);
}

TEST(CryptoXeddsa, LongMessagesAndGeneratedKeys) {
  KeyPair kp = GenerateKeyPair();
  Bytes msg(100000);
  for (std::size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<std::uint8_t>(i);
  Signature s = Sign(kp.private_key, msg);
  EXPECT_TRUE(Verify(kp.public_key, msg, s));
  msg.back() ^= 1;
  EXPECT_FALSE(Verify(kp.public_key, msg, s));
}

// ---------------------------------------------------------------------------------------------
// The Noise transcript of noise-handshake.json, step by step with these primitives.

TEST(CryptoNoiseVector, TranscriptHashesKeysAndFrames) {
  const auto doc = LoadVector("noise-handshake.json");
  const auto& keys = doc.at("keys");
  const auto& trace = doc.at("responder_trace").as_array();
  ASSERT_EQ(trace.size(), 11u);
  auto step = [&](std::size_t i, const char* field) { return Hex(trace[i].at(field)); };

  const Key32 ec_priv = Key(keys.at("vector_client_ephemeral").at("private"));
  const Bytes ec_pub = Hex(keys.at("vector_client_ephemeral").at("public"));
  const Key32 sc_priv = Key(keys.at("vector_client_noise_static").at("private"));
  const Bytes sc_pub = Hex(keys.at("vector_client_noise_static").at("public"));
  const Key32 es_priv = Key(keys.at("vector_server_ephemeral").at("private"));
  const Bytes es_pub = Hex(keys.at("vector_server_ephemeral").at("public"));
  const Key32 ss_priv = Key(keys.at("vector_server_static").at("private"));
  const Bytes ss_pub = Hex(keys.at("vector_server_static").at("public"));
  const Bytes server_hello = Hex(doc.at("handshake_messages").at("server_hello_proto"));
  const Bytes client_finish = Hex(doc.at("handshake_messages").at("client_finish_proto"));

  Bytes h = step(0, "h");
  Bytes ck = step(0, "ck");
  ASSERT_EQ(base::AsChars(h), std::string_view("Noise_XX_25519_AESGCM_SHA256\0\0\0\0", 32));
  auto mix_hash = [&](ByteView data) {
    Sha256Stream s;
    s.Update(h);
    s.Update(data);
    h = B(s.Finish());
  };
  Bytes k;
  auto mix_key = [&](ByteView ikm) {
    Bytes out = Hkdf(ikm, ck, {}, 64);
    ck = Slice(out, 0, 32);
    k = Slice(out, 32, 32);
  };
  auto dh = [](const Key32& priv, ByteView pub, const Key32& other_priv, ByteView other_pub) {
    auto a = SharedSecret(priv, pub);
    auto b = SharedSecret(other_priv, other_pub);
    EXPECT_TRUE(a && b);
    EXPECT_EQ(*a, *b);  // both sides agree
    return a ? B(*a) : Bytes{};
  };
  auto encrypt_and_hash = [&](ByteView plaintext, std::uint32_t n) {
    auto c = AesGcmEncrypt(k, NoiseIv(n), plaintext, h);
    EXPECT_TRUE(c);
    auto p = AesGcmDecrypt(k, NoiseIv(n), *c, h);
    EXPECT_TRUE(p && *p == B(plaintext));
    Bytes out = *c;
    mix_hash(out);
    return out;
  };

  mix_hash(Bytes{0x57, 0x41, 0x06, 0x03});
  EXPECT_EQ(h, step(1, "h"));
  mix_hash(ec_pub);
  EXPECT_EQ(h, step(2, "h"));
  mix_hash(es_pub);
  EXPECT_EQ(h, step(3, "h"));
  mix_key(dh(es_priv, ec_pub, ec_priv, es_pub));
  EXPECT_EQ(ck, step(4, "ck"));
  EXPECT_EQ(k, step(4, "k"));
  Bytes enc_server_static = encrypt_and_hash(ss_pub, 0);
  EXPECT_EQ(enc_server_static.size(), 48u);
  EXPECT_TRUE(Contains(server_hello, enc_server_static));
  EXPECT_EQ(h, step(5, "h"));
  mix_key(dh(ss_priv, ec_pub, ec_priv, ss_pub));
  EXPECT_EQ(ck, step(6, "ck"));
  EXPECT_EQ(k, step(6, "k"));
  Bytes enc_chain = encrypt_and_hash(Hex(doc.at("cert_chain").at("cert_chain_proto")), 0);
  EXPECT_TRUE(Contains(server_hello, enc_chain));
  EXPECT_EQ(h, step(7, "h"));
  Bytes enc_client_static = encrypt_and_hash(sc_pub, 1);
  EXPECT_TRUE(Contains(client_finish, enc_client_static));
  EXPECT_EQ(h, step(8, "h"));
  mix_key(dh(es_priv, sc_pub, sc_priv, es_pub));
  EXPECT_EQ(ck, step(9, "ck"));
  EXPECT_EQ(k, step(9, "k"));
  Bytes enc_payload =
      encrypt_and_hash(Hex(doc.at("client_payload_registration_plaintext")), 0);
  EXPECT_TRUE(Contains(client_finish, enc_payload));
  EXPECT_EQ(h, step(10, "h"));

  // Split.
  const auto& transport = doc.at("transport");
  Bytes split = Hkdf({}, ck, {}, 64);
  const Bytes write_key = Slice(split, 0, 32);
  const Bytes read_key = Slice(split, 32, 32);
  EXPECT_EQ(write_key, Hex(transport.at("client_write_key")));
  EXPECT_EQ(read_key, Hex(transport.at("client_read_key")));

  // Transport frames: 3-byte big-endian length, then AES-GCM with empty AAD.
  auto body = [&](const char* name) {
    Bytes frame = Hex(doc.at("wire").at(name));
    EXPECT_GE(frame.size(), 3u);
    std::size_t len = (std::size_t{frame[0]} << 16) | (std::size_t{frame[1]} << 8) | frame[2];
    EXPECT_EQ(len + 3, frame.size());
    return Slice(frame, 3, frame.size() - 3);
  };
  const Bytes frame4 = body("frame4_server_success_encrypted");
  auto p4 = AesGcmDecrypt(read_key, NoiseIv(0), frame4, {});
  ASSERT_TRUE(p4);
  EXPECT_EQ(*p4, Hex(transport.at("frame4_plaintext")));
  EXPECT_EQ(AesGcmEncrypt(read_key, NoiseIv(0), *p4, {}).value(), frame4);
  EXPECT_TRUE(AesGcmDecrypt(read_key, NoiseIv(1), body("frame5_server_iq_result_encrypted"), {}));
  auto p6 = AesGcmDecrypt(write_key, NoiseIv(0), body("frame6_client_ping_encrypted"), {});
  ASSERT_TRUE(p6);
  EXPECT_EQ(*p6, Hex(transport.at("frame6_plaintext")));

  // Authentication failures: wrong counter, wrong key, wrong AAD, flipped byte, flipped tag.
  const auto auth = MakeError(Errc::kAuthFailed);
  EXPECT_EQ(AesGcmDecrypt(read_key, NoiseIv(1), frame4, {}).error(), auth);
  EXPECT_EQ(AesGcmDecrypt(write_key, NoiseIv(0), frame4, {}).error(), auth);
  EXPECT_EQ(AesGcmDecrypt(read_key, NoiseIv(0), frame4, Bytes{0}).error(), auth);
  Bytes bad = frame4;
  bad[0] ^= 1;
  EXPECT_EQ(AesGcmDecrypt(read_key, NoiseIv(0), bad, {}).error(), auth);
  bad = frame4;
  bad.back() ^= 0x80;
  EXPECT_EQ(AesGcmDecrypt(read_key, NoiseIv(0), bad, {}).error(), auth);
}

// ---------------------------------------------------------------------------------------------
// AES-GCM (McGrew & Viega test cases 13 and 14) and its error paths

TEST(CryptoAesGcm, KnownAnswersAndErrors) {
  Bytes key(32, 0), iv(12, 0);
  auto empty = AesGcmEncrypt(key, iv, {}, {});
  ASSERT_TRUE(empty);
  EXPECT_EQ(base::ToHex(*empty), "530f8afbc74536b9a963b4f1c4cb738b");
  auto dec_empty = AesGcmDecrypt(key, iv, *empty, {});
  ASSERT_TRUE(dec_empty);
  EXPECT_TRUE(dec_empty->empty());
  auto block = AesGcmEncrypt(key, iv, Bytes(16, 0), {});
  ASSERT_TRUE(block);
  EXPECT_EQ(base::ToHex(*block),
            "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");

  const auto bad_key = MakeError(Errc::kBadKeyLength);
  EXPECT_EQ(AesGcmEncrypt(Bytes(31, 0), iv, {}, {}).error(), bad_key);
  EXPECT_EQ(AesGcmEncrypt(Bytes(16, 0), iv, {}, {}).error(), bad_key);
  EXPECT_EQ(AesGcmEncrypt(key, Bytes(16, 0), {}, {}).error(), bad_key);
  EXPECT_EQ(AesGcmDecrypt(key, Bytes(11, 0), *block, {}).error(), bad_key);
  EXPECT_EQ(AesGcmDecrypt(Bytes(33, 0), iv, *block, {}).error(), bad_key);
  EXPECT_EQ(AesGcmDecrypt(key, iv, Bytes(15, 0), {}).error(), MakeError(Errc::kBadInputLength));
  EXPECT_EQ(AesGcmDecrypt(key, iv, {}, {}).error(), MakeError(Errc::kBadInputLength));
}

// ---------------------------------------------------------------------------------------------
// AES-CBC

TEST(CryptoAesCbc, RoundTripsAndPadding) {
  Bytes key = B(LabelKey("cbc key"));
  Bytes iv = Slice(B(LabelKey("cbc iv")), 0, 16);
  for (std::size_t n : {0u, 1u, 15u, 16u, 17u, 100u}) {
    Bytes plain(n, 0xab);
    auto c = AesCbcEncrypt(key, iv, plain);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->size(), (n / 16 + 1) * 16) << n;  // PKCS#7 always adds 1..16 bytes
    auto p = AesCbcDecrypt(key, iv, *c);
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, plain);
  }
}

TEST(CryptoAesCbc, Errors) {
  Bytes key = B(LabelKey("cbc key"));
  Bytes iv = Slice(B(LabelKey("cbc iv")), 0, 16);
  const auto bad_key = MakeError(Errc::kBadKeyLength);
  EXPECT_EQ(AesCbcEncrypt(Slice(key, 0, 16), iv, {}).error(), bad_key);
  EXPECT_EQ(AesCbcEncrypt(key, Slice(iv, 0, 12), {}).error(), bad_key);
  EXPECT_EQ(AesCbcDecrypt(key, Bytes(17, 0), Bytes(16, 0)).error(), bad_key);
  EXPECT_EQ(AesCbcDecrypt(Bytes(31, 0), iv, Bytes(16, 0)).error(), bad_key);
  EXPECT_EQ(AesCbcDecrypt(key, iv, {}).error(), MakeError(Errc::kBadInputLength));
  EXPECT_EQ(AesCbcDecrypt(key, iv, Bytes(17, 0)).error(), MakeError(Errc::kBadInputLength));

  // Encrypting 16 bytes yields the data block and a full padding block; dropping the padding
  // block leaves a last byte that is not valid padding.
  auto cut = [&](Bytes plain_block) {
    auto c = AesCbcEncrypt(key, iv, plain_block);
    EXPECT_TRUE(c && c->size() == 32);
    return AesCbcDecrypt(key, iv, Slice(*c, 0, 16));
  };
  const auto bad_pad = MakeError(Errc::kBadPadding);
  EXPECT_EQ(cut(Bytes(16, 0x00)).error(), bad_pad);  // pad length 0
  EXPECT_EQ(cut(Bytes(16, 0x11)).error(), bad_pad);  // pad length 17 > block
  Bytes inconsistent(16, 0x07);
  inconsistent[12] = 0x06;  // claims 7 bytes of 0x07, one differs
  EXPECT_EQ(cut(inconsistent).error(), bad_pad);
  Bytes valid(16, 0x33);
  valid[15] = 0x01;  // "...01" is valid padding of one byte
  auto ok = cut(valid);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, Slice(valid, 0, 15));
}

// ---------------------------------------------------------------------------------------------
// AES-CTR (NIST SP 800-38A F.5.5, first two blocks) and errors

TEST(CryptoAesCtr, KnownAnswerAndErrors) {
  Bytes key = Hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
  Bytes iv = Hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
  Bytes plain = Hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
  auto c = AesCtr(key, iv, plain);
  ASSERT_TRUE(c);
  EXPECT_EQ(base::ToHex(*c),
            "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5");
  EXPECT_EQ(AesCtr(key, iv, *c).value(), plain);
  EXPECT_EQ(AesCtr(key, iv, Slice(plain, 0, 5)).value(), Slice(*c, 0, 5));  // no padding
  EXPECT_TRUE(AesCtr(key, iv, {}).value().empty());
  EXPECT_EQ(AesCtr(Slice(key, 0, 16), iv, plain).error(), MakeError(Errc::kBadKeyLength));
  EXPECT_EQ(AesCtr(key, Slice(iv, 0, 12), plain).error(), MakeError(Errc::kBadKeyLength));
}

// ---------------------------------------------------------------------------------------------
// Pairing (pairing.json): pairing-code wrap, key bundle, adv secret, ADV HMAC

TEST(CryptoPairingVector, PairCodeWrapsAndKeyBundle) {
  const auto doc = LoadVector("pairing.json");
  const auto& pc = doc.at("pair_code");
  const auto code = base::AsBytes(std::string_view(pc.at("code").as_string()));
  const Bytes companion_eph_pub = Hex(pc.at("companion_ephemeral").at("public"));
  const Bytes primary_eph_pub = Hex(pc.at("primary_ephemeral").at("public"));

  struct Wrap {
    const char* name;
    const Bytes& pub;
  };
  for (const Wrap& w : {Wrap{"companion_wrap", companion_eph_pub},
                        Wrap{"primary_wrap", primary_eph_pub}}) {
    SCOPED_TRACE(w.name);
    const auto& v = pc.at(w.name);
    const Bytes salt = Hex(v.at("salt"));
    const Bytes iv = Hex(v.at("iv"));
    const Bytes wrapped = Hex(v.at("wrapped"));
    ASSERT_EQ(wrapped.size(), 80u);
    const Bytes key = Pbkdf2Sha256(code, salt, 2 << 16, 32);
    EXPECT_EQ(key, Hex(v.at("pbkdf2_key")));
    auto ct = AesCtr(key, iv, w.pub);
    ASSERT_TRUE(ct);
    EXPECT_EQ(Cat({salt, iv, *ct}), wrapped);
    // The receiving side's view: unwrap from the 80 bytes alone.
    const Bytes unwrap_key = Pbkdf2Sha256(code, Slice(wrapped, 0, 32), 131072, 32);
    EXPECT_EQ(AesCtr(unwrap_key, Slice(wrapped, 32, 16), Slice(wrapped, 48, 32)).value(), w.pub);
  }

  const Key32 companion_eph = Key(pc.at("companion_ephemeral").at("private"));
  const Key32 primary_eph = Key(pc.at("primary_ephemeral").at("private"));
  auto eph_shared = SharedSecret(companion_eph, primary_eph_pub);
  ASSERT_TRUE(eph_shared);
  EXPECT_EQ(B(*eph_shared), Hex(pc.at("ephemeral_shared_secret")));
  EXPECT_EQ(SharedSecret(primary_eph, companion_eph_pub).value(), *eph_shared);

  const auto& kb = pc.at("key_bundle");
  const Bytes bundle_salt = Hex(kb.at("salt"));
  const Bytes bundle_iv = Hex(kb.at("iv"));
  const Bytes bundle_key = Hkdf(*eph_shared, bundle_salt,
                                base::AsBytes("link_code_pairing_key_bundle_encryption_key"), 32);
  EXPECT_EQ(bundle_key, Hex(kb.at("encryption_key")));
  const Bytes plaintext = Hex(kb.at("plaintext"));
  auto ct = AesGcmEncrypt(bundle_key, bundle_iv, plaintext, {});
  ASSERT_TRUE(ct);
  const Bytes wrapped = Hex(kb.at("wrapped"));
  EXPECT_EQ(wrapped.size(), 156u);
  EXPECT_EQ(Cat({bundle_salt, bundle_iv, *ct}), wrapped);
  EXPECT_EQ(AesGcmDecrypt(bundle_key, Slice(wrapped, 32, 12), Slice(wrapped, 44, 112), {}).value(),
            plaintext);

  const auto& keys = doc.at("keys");
  const Key32 companion_identity = Key(keys.at("companion_identity").at("private"));
  const Bytes primary_identity_pub = Hex(keys.at("primary_identity").at("public"));
  const Bytes adv_random = Hex(pc.at("adv_secret_random"));
  EXPECT_EQ(plaintext, Cat({Hex(keys.at("companion_identity").at("public")), primary_identity_pub,
                            adv_random}));
  auto identity_shared = SharedSecret(companion_identity, primary_identity_pub);
  ASSERT_TRUE(identity_shared);
  EXPECT_EQ(B(*identity_shared), Hex(pc.at("identity_shared_secret")));
  EXPECT_EQ(Hkdf(Cat({*eph_shared, *identity_shared, adv_random}), {},
                 base::AsBytes("adv_secret"), 32),
            Hex(pc.at("adv_secret")));
}

TEST(CryptoPairingVector, AdvHmac) {
  const auto doc = LoadVector("pairing.json");
  const auto& adv = doc.at("adv");
  const Bytes secret = Hex(doc.at("keys").at("adv_secret"));
  const Bytes details = Hex(adv.at("adv_signed_device_identity"));
  const Bytes expected = Hex(adv.at("hmac"));
  const Digest32 mac = HmacSha256(secret, details);
  EXPECT_TRUE(ConstantTimeEqual(mac, expected));
  Bytes tampered = details;
  tampered[3] ^= 1;
  EXPECT_FALSE(ConstantTimeEqual(HmacSha256(secret, tampered), expected));
}

// ---------------------------------------------------------------------------------------------
// Media (media-crypto.json): key expansion, AES-CBC, truncated HMAC, file hashes

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

TEST(CryptoMediaVector, EveryMediaType) {
  const auto doc = LoadVector("media-crypto.json");
  const auto& vectors = doc.at("vectors").as_array();
  ASSERT_EQ(vectors.size(), 20u);
  const Bytes small_plain = SmallPlaintext();
  const Bytes large_plain = LargePlaintext();
  for (const auto& v : vectors) {
    SCOPED_TRACE(std::string(v.at("media_type").as_string()));
    const Bytes media_key = B(Sha256(base::AsBytes(std::string_view(v.at("media_key_label").as_string()))));
    EXPECT_EQ(media_key, Hex(v.at("media_key_hex")));
    const auto info = base::AsBytes(std::string_view(v.at("hkdf_info").as_string()));
    const Bytes expanded = Hkdf(media_key, {}, info, 112);
    EXPECT_EQ(expanded, Hex(v.at("expanded_112_hex")));
    const Bytes iv = Slice(expanded, 0, 16);
    const Bytes cipher_key = Slice(expanded, 16, 32);
    const Bytes mac_key = Slice(expanded, 48, 32);
    EXPECT_EQ(iv, Hex(v.at("iv_hex")));
    EXPECT_EQ(cipher_key, Hex(v.at("cipher_key_hex")));
    EXPECT_EQ(mac_key, Hex(v.at("mac_key_hex")));
    EXPECT_EQ(Slice(expanded, 80, 32), Hex(v.at("ref_key_hex")));

    const auto& small = v.at("small");
    auto ct = AesCbcEncrypt(cipher_key, iv, small_plain);
    ASSERT_TRUE(ct);
    EXPECT_EQ(ct->size(), static_cast<std::size_t>(small.at("ciphertext_len").as_int64()));
    const Digest32 mac = HmacSha256(mac_key, Cat({iv, *ct}));
    EXPECT_EQ(Slice(mac, 0, 10), Hex(small.at("mac10_hex")));
    const Bytes enc_file = Cat({*ct, Slice(mac, 0, 10)});
    EXPECT_EQ(enc_file, Hex(small.at("enc_file_hex")));
    EXPECT_EQ(B(Sha256(small_plain)), Hex(small.at("file_sha256_hex")));
    EXPECT_EQ(B(Sha256(enc_file)), Hex(small.at("file_enc_sha256_hex")));
    EXPECT_EQ(AesCbcDecrypt(cipher_key, iv, *ct).value(), small_plain);

    const auto& large = v.at("large");
    auto lct = AesCbcEncrypt(cipher_key, iv, large_plain);
    ASSERT_TRUE(lct);
    ASSERT_EQ(lct->size(), static_cast<std::size_t>(large.at("ciphertext_len").as_int64()));
    EXPECT_EQ(Slice(*lct, 0, 32), Hex(large.at("ciphertext_first32_hex")));
    EXPECT_EQ(Slice(*lct, lct->size() - 32, 32), Hex(large.at("ciphertext_last32_hex")));
    const Digest32 lmac = HmacSha256(mac_key, Cat({iv, *lct}));
    EXPECT_EQ(Slice(lmac, 0, 10), Hex(large.at("mac10_hex")));
    EXPECT_EQ(B(Sha256(large_plain)), Hex(large.at("file_sha256_hex")));
    // The encrypted file hash, streamed as an uploader would.
    Sha256Stream stream;
    stream.Update(*lct);
    stream.Update(Slice(lmac, 0, 10));
    EXPECT_EQ(B(stream.Finish()), Hex(large.at("file_enc_sha256_hex")));
  }
  const auto& retry = doc.at("media_retry_example");
  EXPECT_EQ(Hkdf(Hex(retry.at("media_key_hex")), {},
                 base::AsBytes(std::string_view(retry.at("info").as_string())), 32),
            Hex(retry.at("retry_key_hex")));
}

// ---------------------------------------------------------------------------------------------
// Registration data (client-payload.json): build hash and signed prekey signature

TEST(CryptoClientPayloadVector, BuildHashAndSignedPrekeySignature) {
  const auto doc = LoadVector("client-payload.json");
  const auto& reg = doc.at("registration");
  const auto& version = doc.at("config").at("version").as_array();
  const std::string version_string = std::to_string(version[0].as_int64()) + "." +
                                     std::to_string(version[1].as_int64()) + "." +
                                     std::to_string(version[2].as_int64());
  EXPECT_EQ(B(Md5(base::AsBytes(version_string))), Hex(reg.at("build_hash")));
  const auto& in = reg.at("inputs");
  const Bytes signed_prekey = Cat({Bytes{0x05}, Hex(in.at("signed_prekey_public"))});
  const Bytes signature = Hex(in.at("signed_prekey_signature"));
  EXPECT_TRUE(Verify(Hex(in.at("identity_public")), signed_prekey, signature));
  // Without the type byte it is a different message.
  EXPECT_FALSE(Verify(Hex(in.at("identity_public")), Hex(in.at("signed_prekey_public")),
                      signature));
}

// ---------------------------------------------------------------------------------------------
// Misc

TEST(CryptoMisc, ConstantTimeEqual) {
  EXPECT_TRUE(ConstantTimeEqual({}, {}));
  EXPECT_TRUE(ConstantTimeEqual(Bytes{1, 2, 3}, Bytes{1, 2, 3}));
  EXPECT_FALSE(ConstantTimeEqual(Bytes{1, 2, 3}, Bytes{1, 2, 4}));
  EXPECT_FALSE(ConstantTimeEqual(Bytes{1, 2, 3}, Bytes{1, 2}));
  EXPECT_FALSE(ConstantTimeEqual(Bytes{0}, {}));
}

TEST(CryptoMisc, RandomBytes) {
  EXPECT_TRUE(RandomBytes(0).empty());
  Bytes a = RandomBytes(32);
  Bytes b = RandomBytes(32);
  ASSERT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);  // fails with probability 2^-256
  std::array<std::uint8_t, 16> buf{};
  RandomBytes(buf);
  EXPECT_NE(buf, (std::array<std::uint8_t, 16>{}));
}

}  // namespace
}  // namespace wa::crypto
