#include "sim/faults.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>

namespace sim {

namespace json = boost::json;

namespace {

using ParseResult = base::Result<FaultRequest, std::string>;

std::optional<double> Number(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.as_int64());
  if (v.is_uint64()) return static_cast<double>(v.as_uint64());
  if (v.is_double() && std::isfinite(v.as_double())) return v.as_double();
  return std::nullopt;
}

std::optional<std::int64_t> Integer(const json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v.as_uint64());
  }
  if (v.is_double() && std::isfinite(v.as_double()) && v.as_double() == std::floor(v.as_double()) &&
      std::abs(v.as_double()) < 9e15) {
    return static_cast<std::int64_t>(v.as_double());
  }
  return std::nullopt;
}

// Reads {"phone": "...", "device": N} (device optional) into `target`; `phone_required` is false
// for stream_error, where leaving the phone out means every connection.
std::optional<std::string> ParseTarget(const json::object& o, std::string_view field,
                                       bool phone_required, FaultTarget* target) {
  auto phone = o.find("phone");
  auto device = o.find("device");
  if (phone == o.end()) {
    if (phone_required) return std::string(field) + ".phone (a phone number) is required";
    if (device != o.end()) return std::string(field) + ".device needs " + std::string(field) + ".phone";
    target->all = true;
    return std::nullopt;
  }
  if (!phone->value().is_string() || phone->value().as_string().empty()) {
    return std::string(field) + ".phone must be a phone number string";
  }
  target->phone = std::string(phone->value().as_string());
  if (device != o.end()) {
    auto d = Integer(device->value());
    if (!d || *d < 0 || *d > 255) return std::string(field) + ".device must be an integer 0-255";
    target->device = static_cast<std::uint16_t>(*d);
  }
  return std::nullopt;
}

std::optional<std::string> CheckKeys(const json::object& o, std::string_view field,
                                     std::initializer_list<std::string_view> allowed) {
  for (const auto& kv : o) {
    if (std::find(allowed.begin(), allowed.end(), kv.key()) == allowed.end()) {
      return "unknown field " + std::string(field) + (field.empty() ? "" : ".") +
             std::string(kv.key());
    }
  }
  return std::nullopt;
}

bool ConflictTypeOk(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || c == '_';
  });
}

}  // namespace

base::Result<FaultRequest, std::string> ParseFaultRequest(const json::object& body) {
  if (auto bad = CheckKeys(body, "",
                           {"seed", "drop_connections", "stream_error", "frame_loss_probability",
                            "frame_delay_ms", "frame_delay_probability",
                            "refuse_connections_for_s", "corrupt_next_message"})) {
    return *bad;
  }
  if (body.empty()) return std::string("the body names no fault");
  FaultRequest r;
  if (auto it = body.find("seed"); it != body.end()) {
    if (it->value().is_uint64()) {
      r.seed = it->value().as_uint64();
    } else if (it->value().is_int64() && it->value().as_int64() >= 0) {
      r.seed = static_cast<std::uint64_t>(it->value().as_int64());
    } else {
      return std::string("seed must be a non-negative integer");
    }
  }
  if (auto it = body.find("drop_connections"); it != body.end()) {
    FaultTarget target;
    const auto& v = it->value();
    if (v.is_string() && v.as_string() == "all") {
      target.all = true;
    } else if (v.is_object()) {
      if (auto bad = CheckKeys(v.as_object(), "drop_connections", {"phone", "device"})) return *bad;
      if (auto bad = ParseTarget(v.as_object(), "drop_connections", true, &target)) return *bad;
    } else {
      return std::string("drop_connections must be \"all\" or {\"phone\", \"device\"}");
    }
    r.drop_connections = std::move(target);
  }
  if (auto it = body.find("corrupt_next_message"); it != body.end()) {
    if (!it->value().is_object()) {
      return std::string("corrupt_next_message must be an object {phone, device}");
    }
    const auto& o = it->value().as_object();
    if (auto bad = CheckKeys(o, "corrupt_next_message", {"phone", "device"})) return *bad;
    FaultTarget target;
    if (auto bad = ParseTarget(o, "corrupt_next_message", true, &target)) return *bad;
    if (!target.device) {
      return std::string("corrupt_next_message.device (0 for the phone) is required");
    }
    r.corrupt_next_message = std::move(target);
  }
  if (auto it = body.find("stream_error"); it != body.end()) {
    if (!it->value().is_object()) {
      return std::string("stream_error must be an object {phone, device, code, conflict}");
    }
    const auto& o = it->value().as_object();
    if (auto bad = CheckKeys(o, "stream_error", {"phone", "device", "code", "conflict"})) return *bad;
    StreamErrorFault fault;
    if (auto bad = ParseTarget(o, "stream_error", false, &fault.target)) return *bad;
    if (auto c = o.find("code"); c != o.end()) {
      auto code = Integer(c->value());
      if (!code || *code < 100 || *code > 999) {
        return std::string("stream_error.code must be an integer 100-999, e.g. 503 or 515");
      }
      fault.code = static_cast<int>(*code);
    }
    if (auto c = o.find("conflict"); c != o.end()) {
      if (!c->value().is_string() || !ConflictTypeOk(c->value().as_string())) {
        return std::string("stream_error.conflict must be a conflict type such as \"replaced\"");
      }
      fault.conflict = std::string(c->value().as_string());
    }
    if (!fault.code && fault.conflict.empty()) {
      return std::string("stream_error needs a code, a conflict, or both");
    }
    r.stream_error = std::move(fault);
  }
  auto probability = [&](std::string_view key, std::optional<double>* out) -> std::optional<std::string> {
    auto it = body.find(key);
    if (it == body.end()) return std::nullopt;
    auto p = Number(it->value());
    if (!p || *p < 0 || *p > 1) return std::string(key) + " must be a number from 0 to 1";
    *out = *p;
    return std::nullopt;
  };
  if (auto bad = probability("frame_loss_probability", &r.frame_loss_probability)) return *bad;
  if (auto bad = probability("frame_delay_probability", &r.frame_delay_probability)) return *bad;
  if (auto it = body.find("frame_delay_ms"); it != body.end()) {
    auto ms = Integer(it->value());
    if (!ms || *ms < 0 || *ms > 60000) return std::string("frame_delay_ms must be an integer 0-60000");
    r.frame_delay = std::chrono::milliseconds(*ms);
  }
  if (auto it = body.find("refuse_connections_for_s"); it != body.end()) {
    auto s = Number(it->value());
    if (!s || *s < 0 || *s > 3600) {
      return std::string("refuse_connections_for_s must be a number of seconds 0-3600");
    }
    r.refuse_connections_for = std::chrono::milliseconds(std::llround(*s * 1000));
  }
  return r;
}

Faults::Faults(std::uint64_t seed) : seed_(seed), rng_(seed) {}

double Faults::Uniform() {
  // 53 random bits: the same doubles on every standard library (uniform_real_distribution's
  // algorithm is implementation-defined).
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

Faults::Fate Faults::NextStanzaToClient() {
  Fate fate;
  if (loss_probability_ > 0 && Uniform() < loss_probability_) {
    fate.lose = true;
    return fate;
  }
  if (delay_.count() > 0 && delay_probability_ > 0 && Uniform() < delay_probability_) {
    fate.delay = delay_;
  }
  return fate;
}

void Faults::Apply(const FaultRequest& r, Clock::time_point now) {
  if (r.seed) {
    seed_ = *r.seed;
    rng_.seed(*r.seed);
  }
  if (r.frame_loss_probability) loss_probability_ = *r.frame_loss_probability;
  if (r.frame_delay) {
    delay_ = *r.frame_delay;
    // A delay without a probability applies to every stanza.
    if (!r.frame_delay_probability) delay_probability_ = 1;
  }
  if (r.frame_delay_probability) delay_probability_ = *r.frame_delay_probability;
  if (r.refuse_connections_for) refuse_until_ = now + *r.refuse_connections_for;
}

void Faults::Clear() {
  loss_probability_ = 0;
  delay_ = std::chrono::milliseconds(0);
  delay_probability_ = 0;
  refuse_until_ = {};
}

json::object Faults::ActiveJson(Clock::time_point now) const {
  json::object o;
  if (loss_probability_ > 0) o["frame_loss_probability"] = loss_probability_;
  if (delay_.count() > 0 && delay_probability_ > 0) {
    o["frame_delay_ms"] = delay_.count();
    o["frame_delay_probability"] = delay_probability_;
  }
  if (Refusing(now)) {
    o["refuse_connections_remaining_ms"] =
        std::chrono::duration_cast<std::chrono::milliseconds>(refuse_until_ - now).count();
  }
  return o;
}

}  // namespace sim
