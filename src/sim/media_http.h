// The HTTP side of wasim's media host, served on the chat port next to the WebSocket upgrade
// (chat_server.cc): POST /mms/<type>/<token>?auth=…&token=… stores an upload (media_store.h) and
// answers {"url", "direct_path"} as the real host does; GET and HEAD /v/… serve a stored blob by
// its direct path (the query — ccb, oh, oe, _nc_sid, mms3, whatsmeow's hash, mms-type, __wa-mms —
// is ignored), with single-range Range support. Free of sockets so that tests call it directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/media_store.h"

namespace sim {

struct MediaRequest {
  std::string_view method;  // "GET", "HEAD", "POST", ...
  std::string_view target;  // path and query
  std::string_view range;   // the Range header, empty when absent
  std::string body;         // POST body
};

struct MediaReply {
  unsigned status = 200;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type/Length
  std::string text;                                          // a small body (JSON, messages)
  std::shared_ptr<const std::string> blob;                   // or a stored blob ...
  std::size_t offset = 0;  // ... of which bytes [offset, offset + length)
  std::size_t length = 0;
  std::size_t body_size() const { return blob ? length : text.size(); }
};

// Whether wasim's media host serves `path` (upload or download prefixes).
bool IsMediaPath(std::string_view path);

MediaReply HandleMediaRequest(MediaStore& store, MediaRequest request,
                              std::chrono::steady_clock::time_point now);

}  // namespace sim
