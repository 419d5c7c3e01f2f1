#include "wa/client/memory_device_store.h"

namespace wa::client {

MemoryDeviceStore::MemoryDeviceStore(const Credentials& credentials)
    : encoded_(EncodeCredentials(credentials)) {}

base::Result<std::optional<Credentials>> MemoryDeviceStore::Load() {
  if (!encoded_) return std::optional<Credentials>();
  auto decoded = DecodeCredentials(*encoded_);
  if (!decoded) return decoded.error();
  return std::optional<Credentials>(std::move(*decoded));
}

base::Result<void> MemoryDeviceStore::Save(const Credentials& credentials) {
  if (fail_next_save_) {
    auto ec = fail_next_save_;
    fail_next_save_ = {};
    return ec;
  }
  encoded_ = EncodeCredentials(credentials);
  ++saves_;
  return {};
}

base::Result<void> MemoryDeviceStore::Wipe() {
  encoded_.reset();
  ++wipes_;
  return {};
}

}  // namespace wa::client
