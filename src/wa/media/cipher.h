// Media file encryption and decryption (02-messaging.md §7.3, §7.6), streaming: a file goes
// through in chunks of any size and the state stays a few hundred bytes, so a 2 GB document needs
// no more memory than a sticker. The hashes a media message carries are computed in the same pass.
//
//   encFile       = AES-256-CBC(cipherKey, iv, plaintext, PKCS#7) || mac10
//   mac10         = HMAC-SHA256(macKey, iv || ciphertext)[0:10]
//   fileSha256    = SHA-256(plaintext)       fileEncSha256 = SHA-256(encFile)
//
// Decryption checks what whatsmeow checks, in its order: the file is longer than the MAC, its
// SHA-256 is fileEncSha256, the MAC matches (constant time), the padding is valid, the plaintext
// has fileLength bytes and its SHA-256 is fileSha256. Baileys checks none of these. Streaming
// means plaintext leaves the Decryptor before the verdict: a caller must discard what it got when
// Finish fails (write to a temporary file, rename on success).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/crypto/crypto.h"
#include "wa/media/keys.h"

namespace wa::media {

inline constexpr std::size_t kMacSize = 10;

// What a media message says about its file.
struct FileHashes {
  crypto::Digest32 file_sha256{};      // of the plaintext
  crypto::Digest32 file_enc_sha256{};  // of the encrypted file, MAC included
  std::uint64_t file_length = 0;       // plaintext bytes
  std::uint64_t enc_length = 0;        // encrypted file bytes (ciphertext + 10)
  std::array<std::uint8_t, kMacSize> mac{};
};

class Encryptor {
 public:
  explicit Encryptor(const MediaKeys& keys);
  ~Encryptor();
  Encryptor(Encryptor&&) noexcept;
  Encryptor& operator=(Encryptor&&) noexcept;

  // Encrypts the next `plaintext` bytes and appends the ciphertext produced so far to `out`
  // (whole AES blocks; the last partial block waits for more input or Finish). kSpent after
  // Finish.
  base::Result<void> Update(base::ByteView plaintext, base::Bytes& out);
  // Pads, appends the last block and the MAC to `out`, and returns the hashes. kSpent when
  // called twice.
  base::Result<FileHashes> Finish(base::Bytes& out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// What the receiver expects. An empty view or nullopt skips that check (whatsmeow also skips the
// hashes when a message lacks them); a non-empty hash of the wrong size never matches.
struct Expected {
  base::ByteView file_enc_sha256;
  base::ByteView file_sha256;
  std::optional<std::uint64_t> file_length;
};

class Decryptor {
 public:
  // `expected`'s views must outlive the Decryptor.
  Decryptor(const MediaKeys& keys, Expected expected);
  ~Decryptor();
  Decryptor(Decryptor&&) noexcept;
  Decryptor& operator=(Decryptor&&) noexcept;

  // Takes the next bytes of the encrypted file and appends the plaintext decrypted so far to
  // `out` (unverified until Finish). kSpent after Finish.
  base::Result<void> Update(base::ByteView encrypted, base::Bytes& out);
  // Verifies (see the file comment), appends the last plaintext bytes and returns the hashes of
  // what arrived. The first failing check's error: kTooShort, kEncHashMismatch, kMacMismatch,
  // kBadLength, kBadPadding, kLengthMismatch, kHashMismatch.
  base::Result<FileHashes> Finish(base::Bytes& out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// One-shot forms for files already in memory.
struct EncryptedFile {
  base::Bytes data;  // encFile
  FileHashes hashes;
};
EncryptedFile Encrypt(base::ByteView plaintext, const MediaKeys& keys);
base::Result<base::Bytes> Decrypt(base::ByteView enc_file, const MediaKeys& keys,
                                  const Expected& expected);

}  // namespace wa::media
