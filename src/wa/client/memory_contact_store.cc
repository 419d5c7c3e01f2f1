#include "wa/client/memory_contact_store.h"

#include <algorithm>
#include <vector>

namespace wa::client {

namespace {

template <class Map>
auto FindIn(Map& map, std::string_view key) {
  auto it = map.find(key);
  using V = std::decay_t<decltype(it->second)>;
  return it == map.end() ? std::optional<V>() : std::optional<V>(it->second);
}

}  // namespace

base::Result<void> MemoryContactStore::PutLidMapping(std::string_view pn_user,
                                                     std::string_view lid_user) {
  // A pair replaces the earlier pairs of both sides, so both maps stay inverse of each other.
  if (auto it = lid_of_pn_.find(pn_user); it != lid_of_pn_.end()) pn_of_lid_.erase(it->second);
  if (auto it = pn_of_lid_.find(lid_user); it != pn_of_lid_.end()) lid_of_pn_.erase(it->second);
  lid_of_pn_[std::string(pn_user)] = std::string(lid_user);
  pn_of_lid_[std::string(lid_user)] = std::string(pn_user);
  return {};
}

base::Result<std::optional<std::string>> MemoryContactStore::GetLidOfPn(std::string_view pn_user) {
  return FindIn(lid_of_pn_, pn_user);
}

base::Result<std::optional<std::string>> MemoryContactStore::GetPnOfLid(std::string_view lid_user) {
  return FindIn(pn_of_lid_, lid_user);
}

base::Result<void> MemoryContactStore::PutDeviceList(std::string_view user, const DeviceList& list) {
  device_lists_[std::string(user)] = list;
  ++device_list_puts_;
  return {};
}

base::Result<std::optional<DeviceList>> MemoryContactStore::GetDeviceList(std::string_view user) {
  return FindIn(device_lists_, user);
}

base::Result<void> MemoryContactStore::InvalidateDeviceList(std::string_view user) {
  if (auto it = device_lists_.find(user); it != device_lists_.end()) device_lists_.erase(it);
  return {};
}

base::Result<void> MemoryContactStore::PutSentMessage(std::string_view id,
                                                      const SentMessageRecord& record) {
  Sent& sent = sent_[std::string(id)];
  sent.record = record;
  sent.order = next_order_++;
  newest_ms_ = std::max(newest_ms_, record.sent_ms);
  std::erase_if(sent_, [&](const auto& entry) {
    return entry.second.record.sent_ms < newest_ms_ - bounds_.max_age_ms;
  });
  if (sent_.size() > bounds_.max_count) {
    std::vector<std::pair<std::uint64_t, std::string>> by_age;
    for (const auto& [key, s] : sent_) by_age.emplace_back(s.order, key);
    std::sort(by_age.begin(), by_age.end());
    for (std::size_t i = 0; i < by_age.size() - bounds_.max_count; ++i) sent_.erase(by_age[i].second);
  }
  return {};
}

base::Result<std::optional<SentMessageRecord>> MemoryContactStore::GetSentMessage(
    std::string_view id) {
  auto it = sent_.find(id);
  if (it == sent_.end()) return std::optional<SentMessageRecord>();
  return std::optional<SentMessageRecord>(it->second.record);
}

}  // namespace wa::client
