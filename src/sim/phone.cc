#include "sim/phone.h"

#include <algorithm>
#include <chrono>

#include "base/clock.h"

namespace sim {

namespace {

// Served prekeys whose pkmsg never came stay in the store (a late pkmsg may still name them);
// beyond this many the oldest are forgotten.
constexpr std::size_t kHandedOutLimit = 200;

}  // namespace

PhoneClient::PhoneClient(const wa::crypto::KeyPair& identity)
    : registration_id_(wa::signal::GenerateRegistrationId()),
      store_(identity, registration_id_),
      protocol_(store_),
      signed_pre_key_(
          wa::signal::GenerateSignedPreKey(identity, 1, static_cast<std::uint64_t>(base::UnixMs()))) {
  // One-time prekeys are made on the first bundle request: most phones of a large simulated
  // network are never messaged first, and 50 key pairs cost ~2 ms and ~6 KB each time.
  (void)store_.StoreSignedPreKey(signed_pre_key_);
}

void PhoneClient::Refill() {
  for (auto& key : wa::signal::GeneratePreKeys(next_pre_key_id_, kPreKeyBatch)) {
    next_pre_key_id_ = wa::signal::NextPreKeyId(key.id);
    uploaded_.push_back(key.id);
    (void)store_.StorePreKey(key);
  }
}

wa::signal::PreKeyBundle PhoneClient::TakeBundle() {
  if (uploaded_.size() < kLowPreKeys) Refill();
  wa::signal::PreKeyBundle bundle;
  bundle.registration_id = registration_id_;
  bundle.device_id = 0;
  bundle.signed_pre_key_id = signed_pre_key_.id;
  bundle.signed_pre_key = signed_pre_key_.key_pair.public_key;
  bundle.signed_pre_key_signature = signed_pre_key_.signature;
  bundle.identity_key = store_.GetIdentityKeyPair()->public_key;
  while (!uploaded_.empty()) {
    std::uint32_t id = uploaded_.front();
    uploaded_.pop_front();
    auto key = store_.LoadPreKey(id);
    if (!key || !*key) continue;  // already used
    bundle.pre_key = wa::signal::PreKeyPublic{id, (*key)->key_pair.public_key};
    handed_out_.push_back(id);
    break;
  }
  while (handed_out_.size() > kHandedOutLimit) {
    (void)store_.RemovePreKey(handed_out_.front());
    handed_out_.pop_front();
  }
  return bundle;
}

wa::signal::PreKey PhoneClient::FreshPreKey() {
  auto keys = wa::signal::GeneratePreKeys(next_pre_key_id_, 1);
  next_pre_key_id_ = wa::signal::NextPreKeyId(keys[0].id);
  (void)store_.StorePreKey(keys[0]);
  handed_out_.push_back(keys[0].id);
  return keys[0];
}

namespace {

std::string InboxKey(std::string_view from, std::string_view id) {
  std::string key(from);
  key.push_back('\n');
  key.append(id);
  return key;
}

}  // namespace

bool PhoneClient::HasReceived(std::string_view from, std::string_view id) const {
  return inbox_keys_.count(InboxKey(from, id)) > 0;
}

bool PhoneClient::AddInbox(InboxEntry entry) {
  if (!inbox_keys_.insert(InboxKey(entry.from, entry.id)).second) {
    ++duplicates_;
    return false;
  }
  if (entry.received_ms == 0) entry.received_ms = base::UnixMs();
  inbox_.push_back(std::move(entry));
  while (inbox_.size() > kInboxLimit) {
    inbox_keys_.erase(InboxKey(inbox_.front().from, inbox_.front().id));
    inbox_.pop_front();
  }
  return true;
}

void PhoneClient::AddChatState(ChatStateEntry entry) {
  if (entry.timestamp_ms == 0) entry.timestamp_ms = base::UnixMs();
  chat_states_.push_back(std::move(entry));
  while (chat_states_.size() > kChatStateLimit) chat_states_.pop_front();
}

const InboxEntry* PhoneClient::FindInbox(std::string_view id) const {
  for (auto it = inbox_.rbegin(); it != inbox_.rend(); ++it) {
    if (it->id == id) return &*it;
  }
  return nullptr;
}

void PhoneClient::RememberSent(SentMessage sent) {
  sent_.push_back(std::move(sent));
  while (sent_.size() > kSentLimit) sent_.pop_front();
}

const SentMessage* PhoneClient::FindSent(std::string_view id) const {
  for (auto it = sent_.rbegin(); it != sent_.rend(); ++it) {
    if (it->id == id) return &*it;
  }
  return nullptr;
}

int PhoneClient::NextRetryCount(const std::string& id) {
  // Bounded like the inbox: a retry counter outlives its message by little.
  if (retries_.size() > kInboxLimit) retries_.clear();
  return ++retries_[id];
}

}  // namespace sim
