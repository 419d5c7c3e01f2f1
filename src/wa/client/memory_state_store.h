// A StateStore in memory, for tests and throwaway sessions: a wa::signal::MemoryStore, a
// MemoryDeviceStore and a MemoryContactStore, whose writes are "durable" at once, so Prefetch and Commit only count.
// Not thread-safe: one client's strand uses it.
#pragma once

#include <cstddef>

#include "wa/client/memory_contact_store.h"
#include "wa/client/memory_device_store.h"
#include "wa/client/state_store.h"
#include "wa/signal/memory_store.h"

namespace wa::client {

class MemoryStateStore final : public StateStore {
 public:
  // A device made from `credentials`: the Signal store answers with their identity and
  // registration id, and the device store holds them.
  explicit MemoryStateStore(const Credentials& credentials);

  signal::Store& signal_store() override { return signal_; }
  DeviceStore& device_store() override { return devices_; }
  ContactStore& contact_store() override { return contacts_; }
  boost::asio::awaitable<base::Result<void>> Prefetch(const PrefetchRequest& request) override;
  boost::asio::awaitable<base::Result<void>> Commit() override;

  // Inspection for tests.
  signal::MemoryStore& memory_signal_store() { return signal_; }
  MemoryDeviceStore& memory_device_store() { return devices_; }
  MemoryContactStore& memory_contact_store() { return contacts_; }
  std::size_t prefetches() const { return prefetches_; }
  std::size_t commits() const { return commits_; }

 private:
  signal::MemoryStore signal_;
  MemoryDeviceStore devices_;
  MemoryContactStore contacts_;
  std::size_t prefetches_ = 0;
  std::size_t commits_ = 0;
};

}  // namespace wa::client
