// Wall-clock time as the gateway stores and prints it: unix milliseconds.
#pragma once

#include <chrono>
#include <cstdint>

namespace base {

inline std::int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace base
