#include "wa/media/transfer.h"

#include "wa/media/errors.h"

namespace wa::media {

namespace asio = boost::asio;

namespace {

constexpr std::size_t kMaxUploadAnswer = 64 * 1024;

}  // namespace

// (g++ 12: every argument of a co_await'ed call is a named local, never a lambda or braced
// temporary, which it may destroy twice.)
asio::awaitable<base::Result<UploadResult>> Upload(Transport& transport, const MediaConn& conn,
                                                   MediaType type, const FileHashes& hashes,
                                                   BodyFactory open) {
  if (Info(type).upload_path.empty()) co_return MakeError(Errc::kNoUploadPath);
  base::error_code last = MakeError(Errc::kNoHosts);
  for (const auto& host : conn.hosts) {
    if (host.max_content_length && hashes.enc_length > *host.max_content_length) {
      last = MakeError(Errc::kTooLarge);
      continue;
    }
    auto url = UploadUrl(host.hostname, type, hashes.file_enc_sha256, conn.auth);
    if (!url) co_return url.error();
    HttpRequest request;
    request.method = "POST";
    request.url = std::move(*url);
    request.headers = {{"Content-Type", "application/octet-stream"},
                       {"Origin", std::string(kOrigin)},
                       {"Referer", std::string(kOrigin) + "/"}};
    request.body_length = hashes.enc_length;
    std::string answer;
    BodySink sink = [&answer](int, base::ByteView chunk) -> base::Result<void> {
      if (answer.size() + chunk.size() > kMaxUploadAnswer) {
        return MakeError(Errc::kBadUploadResponse);
      }
      answer.append(base::AsChars(chunk));
      return {};
    };
    BodySource body = open();
    auto response = co_await transport.Send(std::move(request), std::move(body), std::move(sink));
    if (!response) {
      last = response.error();
      continue;
    }
    if (response->status != 200) {
      last = MakeError(Errc::kUploadRejected);
      continue;
    }
    auto parsed = ParseUploadResponse(answer);
    if (!parsed) {
      last = parsed.error();
      continue;
    }
    co_return std::move(*parsed);
  }
  co_return last;
}

asio::awaitable<base::Result<UploadedMedia>> EncryptAndUpload(Transport& transport,
                                                              const MediaConn& conn, MediaType type,
                                                              base::ByteView plaintext) {
  UploadedMedia out;
  out.media_key = NewMediaKey();
  auto keys = ExpandMediaKey(out.media_key, type);
  if (!keys) co_return keys.error();
  auto encrypted = std::make_shared<EncryptedFile>(Encrypt(plaintext, *keys));
  out.hashes = encrypted->hashes;
  BodyFactory open = [encrypted]() -> BodySource {
    auto offset = std::make_shared<std::size_t>(0);
    return [encrypted, offset](std::span<std::uint8_t> buffer) -> base::Result<std::size_t> {
      std::size_t n = std::min(buffer.size(), encrypted->data.size() - *offset);
      std::copy_n(encrypted->data.begin() + static_cast<std::ptrdiff_t>(*offset), n,
                  buffer.begin());
      *offset += n;
      return n;
    };
  };
  auto uploaded = co_await Upload(transport, conn, type, out.hashes, std::move(open));
  if (!uploaded) co_return uploaded.error();
  out.location = std::move(*uploaded);
  co_return out;
}

asio::awaitable<base::Result<FileHashes>> Download(Transport& transport, std::string url,
                                                   const MediaKeys& keys, Expected expected,
                                                   BodySink plaintext, std::uint64_t max_bytes) {
  Decryptor decryptor(keys, expected);
  base::Bytes buffer;
  std::uint64_t received = 0;
  BodySink sink = [&](int status, base::ByteView chunk) -> base::Result<void> {
    if (status != 200) return {};  // an error page: the status decides below
    received += chunk.size();
    if (received > max_bytes) return MakeError(Errc::kTooLarge);
    buffer.clear();
    if (auto r = decryptor.Update(chunk, buffer); !r) return r;
    if (buffer.empty()) return {};
    return plaintext(status, buffer);
  };
  HttpRequest request;
  request.method = "GET";
  request.url = std::move(url);
  request.headers = {{"Origin", std::string(kOrigin)}, {"Referer", std::string(kOrigin) + "/"}};
  BodySource none;
  auto response = co_await transport.Send(std::move(request), std::move(none), std::move(sink));
  if (!response) co_return response.error();
  if (response->status == 404 || response->status == 410) co_return MakeError(Errc::kMediaGone);
  if (response->status != 200) co_return MakeError(Errc::kDownloadFailed);
  buffer.clear();
  auto hashes = decryptor.Finish(buffer);
  if (!hashes) co_return hashes.error();
  if (!buffer.empty()) {
    if (auto r = plaintext(200, buffer); !r) co_return r.error();
  }
  co_return *hashes;
}

}  // namespace wa::media
