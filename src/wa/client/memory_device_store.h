// A DeviceStore in memory, for tests and throwaway sessions. It keeps the encoded form
// (EncodeCredentials), so every Load goes through the same decoder a database store would use.
// Not thread-safe: one client's strand uses it (tests read it after the client stopped, or from
// the same strand).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "wa/client/store.h"

namespace wa::client {

class MemoryDeviceStore final : public DeviceStore {
 public:
  MemoryDeviceStore() = default;
  explicit MemoryDeviceStore(const Credentials& credentials);

  base::Result<std::optional<Credentials>> Load() override;
  base::Result<void> Save(const Credentials& credentials) override;
  base::Result<void> Wipe() override;

  // Inspection and fault injection for tests.
  bool empty() const { return !encoded_.has_value(); }
  std::size_t saves() const { return saves_; }
  std::size_t wipes() const { return wipes_; }
  // The next Save fails with this error (once).
  void FailNextSave(base::error_code ec) { fail_next_save_ = ec; }

 private:
  std::optional<std::string> encoded_;
  std::size_t saves_ = 0;
  std::size_t wipes_ = 0;
  base::error_code fail_next_save_;
};

}  // namespace wa::client
