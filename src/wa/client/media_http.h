// The engine's own wa::media::Transport: one HTTP/1.1 request per connection over TCP, TLS for
// https (the client's TLS context: system CAs plus the configured CA file, so wasim's
// self-signed media host works like mmg.whatsapp.net), bodies streamed both ways in 16 KB pieces.
// A whole request, body included, must finish within `timeout`. No proxy: media traffic goes
// direct (the chat connection's proxy settings are not applied here).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <memory>

#include "wa/media/transport.h"

namespace wa::client {

std::shared_ptr<media::Transport> MakeHttpMediaTransport(
    boost::asio::any_io_executor executor, std::shared_ptr<boost::asio::ssl::context> tls,
    std::chrono::milliseconds timeout);

}  // namespace wa::client
