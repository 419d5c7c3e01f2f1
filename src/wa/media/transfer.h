// Upload and download over an injected Transport (transport.h), as the reference clients do them:
//
// Upload   the encrypted file is POSTed to each media_conn host in turn (Baileys; whatsmeow uses
//          only the first) until one answers 200 with a url or direct_path. The token in the URL
//          names the file's SHA-256, so the file must be encrypted completely before the upload
//          starts: the caller keeps it somewhere (a temporary file) and hands a factory that
//          reads it from the start for each attempt.
// Download the file is fetched and decrypted in one streaming pass, verified as cipher.h says;
//          404 and 410 are kMediaGone (the sender must re-upload, 02-messaging.md §7.9).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <string>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/media/cipher.h"
#include "wa/media/keys.h"
#include "wa/media/transport.h"
#include "wa/media/upload.h"

namespace wa::media {

inline constexpr std::string_view kOrigin = "https://web.whatsapp.com";

// Opens the encrypted file for one upload attempt.
using BodyFactory = std::function<BodySource()>;

boost::asio::awaitable<base::Result<UploadResult>> Upload(Transport& transport,
                                                          const MediaConn& conn, MediaType type,
                                                          const FileHashes& hashes,
                                                          BodyFactory open);

// Encrypts `plaintext` (already in memory) with a fresh media key and uploads it.
struct UploadedMedia {
  UploadResult location;
  base::Bytes media_key;
  FileHashes hashes;
};
boost::asio::awaitable<base::Result<UploadedMedia>> EncryptAndUpload(Transport& transport,
                                                                     const MediaConn& conn,
                                                                     MediaType type,
                                                                     base::ByteView plaintext);

// GETs `url`, decrypts into `plaintext` and verifies against `expected`. At most `max_bytes` of
// encrypted file are accepted (kTooLarge beyond). On any error what reached `plaintext` must be
// discarded.
boost::asio::awaitable<base::Result<FileHashes>> Download(Transport& transport, std::string url,
                                                          const MediaKeys& keys, Expected expected,
                                                          BodySink plaintext,
                                                          std::uint64_t max_bytes);

}  // namespace wa::media
