// Fuzzes FrameReader with hostile streams in hostile chunkings. Input layout: byte 0 picks the
// options (intro header expected or not, one of a few frame-size limits), byte 1 seeds the chunk
// sizes, the rest is the stream. Checks: the same frames and the same error (rule, offset,
// value) whether the stream arrives whole, in seeded chunks or byte by byte; every frame within
// the limit; every frame is exactly the bytes the stream held at its position.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>

#include "wa/noise/frame.h"

namespace {

using wa::noise::FrameError;
using wa::noise::FrameReader;
using wa::noise::FrameReaderOptions;

struct Outcome {
  std::vector<wa::noise::Bytes> frames;
  std::optional<FrameError> error;
  std::uint64_t offset = 0;
};

void Check(bool ok) {
  if (!ok) std::abort();
}

template <class NextChunk>
Outcome Run(const FrameReaderOptions& options, wa::noise::ByteView stream, NextChunk next_chunk) {
  Outcome out;
  FrameReader reader(options);
  std::size_t at = 0;
  while (at < stream.size() && !out.error) {
    const std::size_t n = std::min(next_chunk(), stream.size() - at);
    auto fed = reader.Feed(stream.subspan(at, n));
    at += n;
    if (!fed) {
      out.error = fed.error();
      break;
    }
    for (;;) {
      auto frame = reader.Next();
      if (!frame) {
        out.error = frame.error();
        break;
      }
      if (!*frame) break;
      Check((*frame)->size() <= reader.max_frame_size());
      out.frames.push_back(std::move(**frame));
    }
    Check(reader.buffered() <= at);
  }
  if (out.error) {
    Check(out.error->offset < at);  // the offending byte has arrived
    // Sticky.
    auto again = reader.Next();
    Check(!again && again.error() == *out.error);
  }
  out.offset = reader.offset();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static constexpr std::size_t kLimits[] = {0, 1, 16, 300, wa::noise::kMaxHandshakeFrameSize};
  const FrameReaderOptions options{.expect_intro = (data[0] & 1) != 0,
                                   .max_frame_size = kLimits[(data[0] >> 1) % 5]};
  std::uint32_t seed = data[1] * 2654435761u + 1;
  const wa::noise::ByteView stream(data + 2, size - 2);

  const Outcome whole = Run(options, stream, [&] { return stream.size(); });
  const Outcome bytewise = Run(options, stream, [] { return std::size_t{1}; });
  const Outcome chunked = Run(options, stream, [&] {
    seed = seed * 1103515245u + 12345u;
    return std::size_t{1} + (seed >> 16) % 64;
  });
  for (const Outcome* o : {&bytewise, &chunked}) {
    Check(o->frames == whole.frames);
    Check(o->error == whole.error);
  }

  // Without an error the frames are exactly the stream's bytes, in order, after the intro.
  if (!options.expect_intro && !whole.error) {
    std::size_t at = 0;
    for (const auto& f : whole.frames) {
      Check(at + 3 + f.size() <= stream.size());
      Check((std::size_t{stream[at]} << 16 | std::size_t{stream[at + 1]} << 8 | stream[at + 2]) ==
            f.size());
      Check(std::equal(f.begin(), f.end(), stream.begin() + static_cast<std::ptrdiff_t>(at + 3)));
      at += 3 + f.size();
    }
    Check(at == whole.offset);
  }
  return 0;
}
