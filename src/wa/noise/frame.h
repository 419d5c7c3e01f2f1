// The frame layer under the Noise handshake and transport (01-connection.md §1.2-§1.4): every
// message is a 3-byte big-endian length and a payload; the client's first frame is preceded,
// once, by the intro header "WA 06 03" (optionally itself preceded by "ED 00 01", a 3-byte length
// and server-issued routing info). Frame boundaries are independent of WebSocket message
// boundaries, so the reader accepts arbitrary chunks.
//
// Pure code over bytes: no sockets, no clocks. Callers own the I/O and call Feed/Next from one
// strand.
// Spec: docs/protocol/noise-and-frames.md
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/noise/errors.h"

namespace wa::noise {

using base::Bytes;
using base::ByteView;

// "WA", protocol magic 6, token dictionary version 3. Also the Noise prologue.
inline constexpr std::array<std::uint8_t, 4> kWaHeader = {0x57, 0x41, 0x06, 0x03};
// "ED", 0x00, 0x01: the routing-info variant's prefix (Baileys; whatsmeow never sends it).
inline constexpr std::array<std::uint8_t, 4> kEdgeRoutingPrefix = {0x45, 0x44, 0x00, 0x01};

inline constexpr std::size_t kFrameLengthSize = 3;
// The largest payload a 24-bit length can describe.
inline constexpr std::size_t kMaxFrameSize = (std::size_t{1} << 24) - 1;
// Until the handshake completes only three small protobufs travel (client hello 36 bytes, server
// hello with the certificate chain ~350, client finish with the ClientPayload ~400-1000), so an
// unauthenticated peer gets a much tighter cap than the transport phase.
inline constexpr std::size_t kMaxHandshakeFrameSize = 64 * 1024;
// Routing info is an opaque server-issued token of a few dozen bytes; anything near this size is
// garbage, not a header.
inline constexpr std::size_t kMaxRoutingInfoSize = 4096;

// The intro header a client sends in front of its first frame: "WA 06 03", or the ED variant when
// `routing_info` is not empty. Fails with kFrameTooLarge above kMaxRoutingInfoSize.
base::Result<Bytes> MakeIntroHeader(ByteView routing_info = {});

// Appends `payload` with its 3-byte length to `out`; kFrameTooLarge above kMaxFrameSize.
base::Result<void> AppendFrame(Bytes& out, ByteView payload);
base::Result<Bytes> EncodeFrame(ByteView payload);

// Writes frames, putting the intro header (if any) in front of the first one only.
class FrameWriter {
 public:
  // Client side: pass MakeIntroHeader(...). Server side: no intro header.
  explicit FrameWriter(Bytes intro_header = {}) : intro_(std::move(intro_header)) {}

  base::Result<Bytes> Encode(ByteView payload);

 private:
  Bytes intro_;
};

// Why a byte stream was rejected: the rule broken, the stream offset (bytes since the reader was
// created) where the offending item starts, and the offending value (a declared length or byte).
struct FrameError {
  Errc code;
  std::uint64_t offset = 0;
  std::uint64_t value = 0;

  std::string Describe() const;
  friend bool operator==(const FrameError&, const FrameError&) = default;
};

struct FrameReaderOptions {
  // Server side: the stream starts with the client's intro header, which is checked and skipped
  // (its routing info kept). Client side: frames only.
  bool expect_intro = false;
  // Frames above this are rejected before any of their bytes are buffered past what has
  // arrived. Start at kMaxHandshakeFrameSize and raise it with SetMaxFrameSize once the
  // handshake is done.
  std::size_t max_frame_size = kMaxHandshakeFrameSize;
};

// Cuts frames out of a byte stream fed in arbitrary chunks. Usage: after each Feed(chunk), call
// Next() until it yields nullopt (or an error); a handler may call SetMaxFrameSize between two
// Next() calls, e.g. when the handshake completes in the middle of a coalesced chunk.
// Memory: the reader keeps only the bytes fed and not yet returned by Next, and never allocates
// from a declared length, so a lying length prefix costs nothing beyond the bytes that really
// arrive (and is rejected at its header when above the limit). Errors are sticky: after one,
// Feed and Next return it again.
class FrameReader {
 public:
  explicit FrameReader(FrameReaderOptions options = {});

  // The limit for frames whose header has not been accepted yet; clamped to kMaxFrameSize.
  void SetMaxFrameSize(std::size_t max_frame_size);
  std::size_t max_frame_size() const { return max_frame_size_; }

  // Buffers `chunk`, checks the intro header and the next frame's length as far as they have
  // arrived.
  base::Result<void, FrameError> Feed(ByteView chunk);

  // The next complete frame's payload, or nullopt when more bytes are needed.
  base::Result<std::optional<Bytes>, FrameError> Next();

  // Server side: whether the intro header has been read, and the routing info it carried
  // (empty for the plain "WA" header).
  bool intro_complete() const { return phase_ == Phase::kFrames; }
  const Bytes& routing_info() const { return routing_info_; }

  // Stream offset of the first byte not yet consumed, and how many bytes are buffered.
  std::uint64_t offset() const { return base_offset_ + pos_; }
  std::size_t buffered() const { return buf_.size() - pos_; }

 private:
  enum class Phase { kIntro, kFrames };

  base::Result<void, FrameError> Fail(Errc code, std::uint64_t offset, std::uint64_t value);
  // Consumes the intro header once complete; checks every byte of it that has arrived.
  base::Result<void, FrameError> ParseIntro();
  // Checks the next frame's length prefix if it has arrived.
  base::Result<void, FrameError> CheckHeader();
  void Compact();

  std::size_t max_frame_size_;
  Phase phase_;
  Bytes buf_;
  std::size_t pos_ = 0;             // first unconsumed byte of buf_
  std::uint64_t base_offset_ = 0;   // stream offset of buf_[0]
  Bytes routing_info_;
  std::optional<FrameError> error_;
};

// Found by argument-dependent lookup from result<T, FrameError>::value(); calling value() on an
// error is a bug, reported like Boost does for error_code.
[[noreturn]] void throw_exception_from_error(const FrameError& e,
                                             const boost::source_location& loc);

}  // namespace wa::noise
