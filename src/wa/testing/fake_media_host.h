// An in-memory wa::media::Transport playing one or more media hosts for unit tests: it checks an
// upload's auth and token against the body's SHA-256 as a media host does (400 on a mismatch),
// stores the blob, answers with url and direct_path, and serves GETs by path (query ignored, 404
// when unknown). Bodies move in small chunks so that streaming code sees many pieces.
// Header-only; single-threaded.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <map>
#include <set>
#include <string>

#include "wa/crypto/crypto.h"
#include "wa/media/transport.h"
#include "wa/media/upload.h"

namespace wa::testing {

class FakeMediaHost final : public media::Transport {
 public:
  explicit FakeMediaHost(std::string auth) : auth_(std::move(auth)) {}

  // Hosts that answer 500 to everything.
  std::set<std::string> failing_hosts;
  // Size of the pieces bodies are read and delivered in.
  std::size_t chunk = 7;
  // Blobs by direct path (without query); tests may damage or remove them.
  std::map<std::string, base::Bytes> blobs;
  // Requests seen: "POST host/target".
  std::vector<std::string> log;

  boost::asio::awaitable<base::Result<media::HttpResponse>> Send(media::HttpRequest request,
                                                                 media::BodySource body,
                                                                 media::BodySink sink) override {
    auto parts = media::SplitUrl(request.url);
    if (!parts) co_return parts.error();
    log.push_back(request.method + " " + parts->host + parts->target);
    base::Bytes received;
    if (body) {
      base::Bytes piece(chunk);
      for (;;) {
        auto n = body(piece);
        if (!n) co_return n.error();
        if (*n == 0) break;
        received.insert(received.end(), piece.begin(), piece.begin() + static_cast<long>(*n));
      }
    }
    media::HttpResponse response;
    std::string answer;
    if (failing_hosts.count(parts->host)) {
      response.status = 500;
      answer = "{\"error\":\"unavailable\"}";
    } else if (request.method == "POST") {
      auto target = media::ParseUploadTarget(parts->target);
      auto digest = crypto::Sha256(received);
      if (!target || target->auth != auth_) {
        response.status = 401;
        answer = "{\"error\":\"bad auth\"}";
      } else if (!media::TokenMatches(target->path_token, digest) ||
                 (!target->query_token.empty() &&
                  !media::TokenMatches(target->query_token, digest))) {
        response.status = 400;
        answer = "{\"error\":\"token mismatch\"}";
      } else {
        std::string path = "/v/t62.7118-24/" + std::to_string(++next_) + ".enc";
        std::string direct = path + "?ccb=11-4&oh=test&_nc_sid=5e03e0";
        blobs[path] = std::move(received);
        response.status = 200;
        answer = "{\"url\":\"https://" + parts->host + direct + "&mms3=true\",\"direct_path\":\"" +
                 direct + "\"}";
      }
    } else {
      auto path = parts->target.substr(0, parts->target.find('?'));
      auto it = blobs.find(path);
      if (it == blobs.end()) {
        response.status = 404;
        answer = "not found";
      } else {
        response.status = 200;
        for (std::size_t at = 0; at < it->second.size(); at += chunk) {
          auto n = std::min(chunk, it->second.size() - at);
          if (auto r = sink(200, base::ByteView(it->second).subspan(at, n)); !r)
            co_return r.error();
        }
        co_return response;
      }
    }
    if (sink) {
      if (auto r = sink(response.status, base::AsBytes(answer)); !r) co_return r.error();
    }
    co_return response;
  }

 private:
  std::string auth_;
  int next_ = 0;
};

}  // namespace wa::testing
