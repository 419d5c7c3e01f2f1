// libFuzzer target: Decode never crashes, and whatever decodes is stable: encoding it and
// decoding again gives the same node, and that node encodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "base/bytes.h"
#include "wa/binary/decoder.h"
#include "wa/binary/encoder.h"
#include "wa/binary/printer.h"

namespace {

[[noreturn]] void Die(const char* what, const wa::binary::Node& node) {
  std::fprintf(stderr, "%s\nnode: %s\n", what, wa::binary::ToXml(node).c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  wa::binary::DecodeOptions options;
  options.max_inflated_size = 1u << 20;  // keep inflation cheap under the fuzzer
  auto decoded = wa::binary::Decode(base::ByteView(data, size), options);
  if (!decoded) {
    if (decoded.error().offset > size && !decoded.error().inflated) std::abort();  // offset outside the input
    return 0;
  }
  base::Bytes once = wa::binary::Encode(*decoded);
  auto again = wa::binary::Decode(once);
  if (!again) {
    std::fprintf(stderr, "re-decode failed: %s\n", again.error().Message().c_str());
    Die("encoded node does not decode", *decoded);
  }
  if (!(*again == *decoded)) Die("decode(encode(node)) != node", *decoded);
  if (wa::binary::Encode(*again) != once) Die("encode is not stable", *decoded);
  return 0;
}
