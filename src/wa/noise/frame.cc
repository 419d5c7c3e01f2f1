#include "wa/noise/frame.h"

#include <algorithm>
#include <stdexcept>

namespace wa::noise {
namespace {

void PutLength24(Bytes& out, std::size_t n) {
  out.push_back(static_cast<std::uint8_t>(n >> 16));
  out.push_back(static_cast<std::uint8_t>(n >> 8));
  out.push_back(static_cast<std::uint8_t>(n));
}

std::size_t GetLength24(const std::uint8_t* p) {
  return std::size_t{p[0]} << 16 | std::size_t{p[1]} << 8 | std::size_t{p[2]};
}

// A buffer that held a big transport frame keeps its capacity; release it once idle so that
// thousands of idle sessions do not each pin their largest frame.
constexpr std::size_t kIdleCapacity = 2 * kMaxHandshakeFrameSize;

}  // namespace

base::Result<Bytes> MakeIntroHeader(ByteView routing_info) {
  if (routing_info.empty()) return Bytes(kWaHeader.begin(), kWaHeader.end());
  if (routing_info.size() > kMaxRoutingInfoSize) return MakeError(Errc::kFrameTooLarge);
  Bytes out(kEdgeRoutingPrefix.begin(), kEdgeRoutingPrefix.end());
  PutLength24(out, routing_info.size());
  out.insert(out.end(), routing_info.begin(), routing_info.end());
  out.insert(out.end(), kWaHeader.begin(), kWaHeader.end());
  return out;
}

base::Result<void> AppendFrame(Bytes& out, ByteView payload) {
  if (payload.size() > kMaxFrameSize) return MakeError(Errc::kFrameTooLarge);
  out.reserve(out.size() + kFrameLengthSize + payload.size());
  PutLength24(out, payload.size());
  out.insert(out.end(), payload.begin(), payload.end());
  return {};
}

base::Result<Bytes> EncodeFrame(ByteView payload) {
  Bytes out;
  if (auto r = AppendFrame(out, payload); !r) return r.error();
  return out;
}

base::Result<Bytes> FrameWriter::Encode(ByteView payload) {
  if (payload.size() > kMaxFrameSize) return MakeError(Errc::kFrameTooLarge);
  Bytes out;
  out.reserve(intro_.size() + kFrameLengthSize + payload.size());
  out.insert(out.end(), intro_.begin(), intro_.end());
  if (auto r = AppendFrame(out, payload); !r) return r.error();
  intro_.clear();
  intro_.shrink_to_fit();
  return out;
}

std::string FrameError::Describe() const {
  return Category().message(static_cast<int>(code)) + " at stream offset " +
         std::to_string(offset) + " (value " + std::to_string(value) + ")";
}

void throw_exception_from_error(const FrameError& e, const boost::source_location&) {
  throw std::logic_error("result<T, FrameError>::value() on an error: " + e.Describe());
}

FrameReader::FrameReader(FrameReaderOptions options)
    : max_frame_size_(std::min(options.max_frame_size, kMaxFrameSize)),
      phase_(options.expect_intro ? Phase::kIntro : Phase::kFrames) {}

void FrameReader::SetMaxFrameSize(std::size_t max_frame_size) {
  max_frame_size_ = std::min(max_frame_size, kMaxFrameSize);
}

base::Result<void, FrameError> FrameReader::Fail(Errc code, std::uint64_t offset,
                                                 std::uint64_t value) {
  error_ = FrameError{code, offset, value};
  // Nothing after a broken rule is meaningful; drop it.
  buf_.clear();
  buf_.shrink_to_fit();
  pos_ = 0;
  return *error_;
}

base::Result<void, FrameError> FrameReader::ParseIntro() {
  const std::uint8_t* in = buf_.data() + pos_;
  const std::size_t n = buffered();
  const std::uint64_t at = offset();
  if (n == 0) return {};

  std::size_t wa_at = 0;  // where "WA 06 03" starts
  if (in[0] == kEdgeRoutingPrefix[0]) {
    for (std::size_t i = 0; i < std::min(n, kEdgeRoutingPrefix.size()); ++i) {
      if (in[i] != kEdgeRoutingPrefix[i]) return Fail(Errc::kBadIntroHeader, at + i, in[i]);
    }
    if (n < kEdgeRoutingPrefix.size() + kFrameLengthSize) return {};
    const std::size_t len = GetLength24(in + kEdgeRoutingPrefix.size());
    if (len > kMaxRoutingInfoSize) {
      return Fail(Errc::kBadIntroHeader, at + kEdgeRoutingPrefix.size(), len);
    }
    wa_at = kEdgeRoutingPrefix.size() + kFrameLengthSize + len;
  }
  for (std::size_t i = 0; i < kWaHeader.size() && wa_at + i < n; ++i) {
    if (in[wa_at + i] != kWaHeader[i]) {
      return Fail(Errc::kBadIntroHeader, at + wa_at + i, in[wa_at + i]);
    }
  }
  if (n < wa_at + kWaHeader.size()) return {};
  if (wa_at > 0) {
    routing_info_.assign(in + kEdgeRoutingPrefix.size() + kFrameLengthSize, in + wa_at);
  }
  pos_ += wa_at + kWaHeader.size();
  phase_ = Phase::kFrames;
  return {};
}

base::Result<void, FrameError> FrameReader::CheckHeader() {
  if (phase_ != Phase::kFrames || buffered() < kFrameLengthSize) return {};
  const std::size_t len = GetLength24(buf_.data() + pos_);
  if (len > max_frame_size_) return Fail(Errc::kFrameTooLarge, offset(), len);
  return {};
}

void FrameReader::Compact() {
  if (pos_ == buf_.size()) {
    base_offset_ += pos_;
    pos_ = 0;
    buf_.clear();
    if (buf_.capacity() > kIdleCapacity) buf_.shrink_to_fit();
  } else if (pos_ >= 4096 && pos_ * 2 >= buf_.size()) {
    // Moving the tail is cheaper than the consumed prefix it frees; amortised O(1) per byte.
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
    base_offset_ += pos_;
    pos_ = 0;
  }
}

base::Result<void, FrameError> FrameReader::Feed(ByteView chunk) {
  if (error_) return *error_;
  Compact();
  buf_.insert(buf_.end(), chunk.begin(), chunk.end());
  if (phase_ == Phase::kIntro) {
    if (auto r = ParseIntro(); !r) return r;
  }
  return CheckHeader();
}

base::Result<std::optional<Bytes>, FrameError> FrameReader::Next() {
  if (error_) return *error_;
  if (phase_ == Phase::kIntro) {
    if (auto r = ParseIntro(); !r) return r.error();
    if (phase_ == Phase::kIntro) return std::optional<Bytes>();
  }
  if (auto r = CheckHeader(); !r) return r.error();
  if (buffered() < kFrameLengthSize) return std::optional<Bytes>();
  const std::size_t len = GetLength24(buf_.data() + pos_);
  if (buffered() < kFrameLengthSize + len) return std::optional<Bytes>();
  const auto begin = buf_.begin() + static_cast<std::ptrdiff_t>(pos_ + kFrameLengthSize);
  std::optional<Bytes> frame(std::in_place, begin, begin + static_cast<std::ptrdiff_t>(len));
  pos_ += kFrameLengthSize + len;
  Compact();
  return frame;
}

}  // namespace wa::noise
