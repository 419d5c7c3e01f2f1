// A ContactStore in memory, for tests and throwaway sessions; part of MemoryStateStore. Keeps
// sent messages within its SentMessageBounds like a database store would. Not thread-safe: one
// client's strand uses it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "wa/client/contact_store.h"

namespace wa::client {

class MemoryContactStore final : public ContactStore {
 public:
  explicit MemoryContactStore(SentMessageBounds bounds = {}) : bounds_(bounds) {}

  base::Result<void> PutLidMapping(std::string_view pn_user, std::string_view lid_user) override;
  base::Result<std::optional<std::string>> GetLidOfPn(std::string_view pn_user) override;
  base::Result<std::optional<std::string>> GetPnOfLid(std::string_view lid_user) override;
  base::Result<void> PutDeviceList(std::string_view user, const DeviceList& list) override;
  base::Result<std::optional<DeviceList>> GetDeviceList(std::string_view user) override;
  base::Result<void> InvalidateDeviceList(std::string_view user) override;
  base::Result<void> PutSentMessage(std::string_view id, const SentMessageRecord& record) override;
  base::Result<std::optional<SentMessageRecord>> GetSentMessage(std::string_view id) override;

  // Inspection for tests.
  std::size_t sent_messages() const { return sent_.size(); }
  std::size_t device_lists() const { return device_lists_.size(); }
  std::size_t device_list_puts() const { return device_list_puts_; }

 private:
  struct Sent {
    SentMessageRecord record;
    std::uint64_t order = 0;  // insertion order: the oldest go first beyond the count
  };

  SentMessageBounds bounds_;
  std::map<std::string, std::string, std::less<>> lid_of_pn_, pn_of_lid_;
  std::map<std::string, DeviceList, std::less<>> device_lists_;
  std::map<std::string, Sent, std::less<>> sent_;
  std::uint64_t next_order_ = 0;
  std::int64_t newest_ms_ = 0;
  std::size_t device_list_puts_ = 0;
};

}  // namespace wa::client
