// Where a client keeps its Credentials between runs. wa owns the interface; the gateway
// implements it on its database (encrypted at rest), tests use MemoryDeviceStore.
//
// Calls are synchronous and come from the client's strand only, like wa::signal::Store's, so an
// implementation needs no locking unless it shares state between clients. They should be quick
// (a write-through to a local WAL database is fine): they run on a network thread.
//
// Durability: Save returns success only once the credentials would survive a crash. The client
// relies on it: it saves before it acknowledges the stanza that caused the change (pair-success
// is saved before pair-device-sign is sent; the prekey counters before the upload).
#pragma once

#include <optional>

#include "base/result.h"
#include "wa/client/credentials.h"

namespace wa::client {

class DeviceStore {
 public:
  virtual ~DeviceStore() = default;

  // nullopt when the device has no credentials (never created, or wiped).
  virtual base::Result<std::optional<Credentials>> Load() = 0;
  virtual base::Result<void> Save(const Credentials& credentials) = 0;
  // Forgets the device: its credentials and, where the implementation also backs the device's
  // wa::signal::Store, its Signal keys and sessions. Called after a logout (ours or the phone's);
  // a new link needs new Credentials and a new Signal store.
  virtual base::Result<void> Wipe() = 0;
};

}  // namespace wa::client
