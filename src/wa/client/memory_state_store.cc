#include "wa/client/memory_state_store.h"

namespace wa::client {

MemoryStateStore::MemoryStateStore(const Credentials& credentials)
    : signal_(credentials.identity_key, credentials.registration_id), devices_(credentials) {}

boost::asio::awaitable<base::Result<void>> MemoryStateStore::Prefetch(const PrefetchRequest&) {
  ++prefetches_;
  co_return base::Result<void>();
}

boost::asio::awaitable<base::Result<void>> MemoryStateStore::Commit() {
  ++commits_;
  co_return base::Result<void>();
}

}  // namespace wa::client
