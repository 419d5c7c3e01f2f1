// How a simulated phone gets the file it is told to send (POST /v1/phones/{phone}/messages with
// "media"): an HTTP(S) GET to a loopback address only — 127.0.0.0/8, ::1 or "localhost", never a
// name that would need DNS — so that the simulator reaches nothing outside the machine. TLS is
// not verified (the peer is local by construction). The body is capped; no redirects.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <string>

#include "base/result.h"

namespace sim {

struct FetchedFile {
  std::string body;
  std::string content_type;  // as the server said, may be empty
};

struct FetchError {
  enum class Kind {
    kBadUrl,       // not http(s)://host[:port]/path
    kNotLoopback,  // the host is not a loopback address
    kFailed,       // connect, TLS, read or time-out failure, or a status other than 200
    kTooLarge,     // longer than the cap
  };
  Kind kind;
  std::string detail;
};

boost::asio::awaitable<base::Result<FetchedFile, FetchError>> FetchLoopback(
    boost::asio::any_io_executor ex, std::string url, std::uint64_t max_bytes,
    std::chrono::seconds timeout);

// The check FetchLoopback makes first, for callers that refuse early: whether `url` is
// http(s) to a loopback host (error kind kBadUrl or kNotLoopback).
base::Result<void, FetchError> CheckLoopbackUrl(std::string_view url);

}  // namespace sim
