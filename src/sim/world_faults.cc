// The World's side of fault injection (faults.h) and the idle-connection sweep.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "sim/connection.h"
#include "sim/world.h"
#include "wa/signal/prekey_message.h"

namespace sim {

using wa::binary::Node;

std::vector<std::shared_ptr<Connection>> World::FaultTargets(const FaultTarget& target) const {
  std::vector<std::shared_ptr<Connection>> out;
  if (target.all) {
    for (const auto& [_, weak] : connections_) {
      if (auto c = weak.lock(); c && c->state() != Connection::State::kClosing) out.push_back(c);
    }
    return out;
  }
  auto phone = phones_.find(target.phone);
  if (phone == phones_.end()) return out;
  for (const auto& [device, companion] : phone->second.companions) {
    if (target.device && *target.device != device) continue;
    if (auto c = companion.connection.lock(); c && c->state() != Connection::State::kClosing) {
      out.push_back(c);
    }
  }
  return out;
}

ControlResult<World::FaultOutcome> World::ApplyFaults(const FaultRequest& request) {
  // Check every target before doing anything, so that a bad request changes nothing.
  for (const FaultTarget* t : {request.drop_connections ? &*request.drop_connections : nullptr,
                               request.stream_error ? &request.stream_error->target : nullptr,
                               request.corrupt_next_message ? &*request.corrupt_next_message
                                                            : nullptr}) {
    if (!t || t->all) continue;
    auto phone = phones_.find(t->phone);
    if (phone == phones_.end()) {
      return ControlError{404, "phone_not_found", "no simulated phone " + t->phone};
    }
    // Device 0 is the phone itself: a target only for message corruption.
    bool phone_itself = t == &*request.corrupt_next_message && t->device == 0;
    if (t->device && !phone_itself && !phone->second.companions.count(*t->device)) {
      return ControlError{404, "device_not_found",
                          "device " + std::to_string(*t->device) + " is not linked to " + t->phone};
    }
  }
  faults_.Apply(request, std::chrono::steady_clock::now());

  FaultOutcome out;
  if (request.corrupt_next_message) {
    const auto& t = *request.corrupt_next_message;
    corrupt_next_.insert({t.phone, *t.device});
  }
  out.corruptions_pending = corrupt_next_.size();
  if (request.stream_error) {
    const auto& e = *request.stream_error;
    std::vector<wa::binary::Attr> attrs;
    if (e.code) attrs.push_back({"code", std::to_string(*e.code)});
    Node stanza("stream:error", std::move(attrs));
    if (!e.conflict.empty()) stanza.content = Node::Children{Node("conflict", {{"type", e.conflict}})};
    for (const auto& conn : FaultTargets(e.target)) {
      if (conn->state() == Connection::State::kHandshake) continue;  // no cipher to send with
      conn->SendAndClose(stanza);
      out.stream_errors++;
    }
  }
  if (request.drop_connections) {
    for (const auto& conn : FaultTargets(*request.drop_connections)) {
      conn->Drop();
      out.dropped++;
      stats_.connections_dropped++;
    }
  }
  if (out.stream_errors || out.dropped) {
    spdlog::info("faults: sent {} stream errors, dropped {} connections", out.stream_errors,
                 out.dropped);
  }
  return out;
}

bool World::TakeCorruption(const std::string& phone, std::uint16_t device, Node& message) {
  auto it = corrupt_next_.find({phone, device});
  if (it == corrupt_next_.end()) return false;
  for (auto& child : *message.mutable_children()) {
    if (child.tag != "enc") continue;
    auto* bytes = std::get_if<base::Bytes>(&child.content);
    if (!bytes || bytes->empty()) continue;
    // The last byte of the MAC: a msg's own, or that of the message inside a pkmsg (the pkmsg's
    // own last byte is a key id that libsignal ignores once the session exists).
    std::size_t at = bytes->size() - 1;
    if (child.AttrOr("type") == "pkmsg") {
      if (auto inner = wa::signal::PreKeyMessageInnerMessage(*bytes); inner && inner->size > 0) {
        at = inner->offset + inner->size - 1;
      }
    }
    (*bytes)[at] ^= 0x01;
    corrupt_next_.erase(it);
    spdlog::info("faults: corrupted message {} to {} device {}", message.AttrOr("id"), phone, device);
    return true;
  }
  return false;
}

void World::StartIdleSweep() {
  if (options_.idle_timeout.count() <= 0) return;
  ArmIdleSweep();
}

void World::ArmIdleSweep() {
  // A quarter of the limit, so a silent connection goes within 1.25 x the limit.
  auto period = std::clamp(options_.idle_timeout / 4, std::chrono::milliseconds(10),
                           std::chrono::milliseconds(5000));
  idle_timer_.expires_after(period);
  idle_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: the World is going away
    CloseIdle(std::chrono::steady_clock::now());
    ArmIdleSweep();
  });
}

std::size_t World::CloseIdle(std::chrono::steady_clock::time_point now) {
  if (options_.idle_timeout.count() <= 0) return 0;
  std::size_t closed = 0;
  for (const auto& [id, weak] : connections_) {
    auto conn = weak.lock();
    if (!conn || conn->state() == Connection::State::kClosing) continue;
    if (now - conn->last_frame_at <= options_.idle_timeout) continue;
    spdlog::info("conn {} ({}): silent for more than {} ms; dropping it", id, conn->peer(),
                 options_.idle_timeout.count());
    conn->Drop();
    stats_.idle_closed++;
    closed++;
  }
  return closed;
}

}  // namespace sim
