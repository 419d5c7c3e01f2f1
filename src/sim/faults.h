// Network faults that the control API injects into wasim (docs/sandbox.md, "Faults"): the
// request format of POST /v1/faults, and the persistent faults — lost and delayed stanzas towards
// clients, refused connections — with the seeded PRNG that decides them stanza by stanza. The
// one-shot actions of a request (dropping connections, sending a stream error) are carried out
// by the World. Single-threaded like the rest of wasim.
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include "base/result.h"

namespace sim {

// Which connections a one-shot fault hits: every open connection, or the logged-in connections
// of a phone's companions (all of them, or one device).
struct FaultTarget {
  bool all = false;
  std::string phone;
  std::optional<std::uint16_t> device;
};

struct StreamErrorFault {
  FaultTarget target;
  std::optional<int> code;  // <stream:error code="…">
  std::string conflict;     // <conflict type="…"/> child, e.g. "replaced"
};

// A parsed POST /v1/faults body; absent fields leave the current settings alone.
struct FaultRequest {
  std::optional<std::uint64_t> seed;
  std::optional<FaultTarget> drop_connections;
  std::optional<StreamErrorFault> stream_error;
  std::optional<double> frame_loss_probability;
  std::optional<std::chrono::milliseconds> frame_delay;
  std::optional<double> frame_delay_probability;
  std::optional<std::chrono::milliseconds> refuse_connections_for;
  // One-shot: the next <message> routed to this device (0 = the phone itself) gets its first
  // <enc> corrupted (the last byte of its MAC flipped, inside the embedded message of a pkmsg),
  // so that device cannot decrypt it and asks for a retry.
  std::optional<FaultTarget> corrupt_next_message;
};

// Parses and range-checks a request; the error text names the offending field. Unknown fields
// are errors too, so that a typo does not silently inject nothing.
base::Result<FaultRequest, std::string> ParseFaultRequest(const boost::json::object& body);

class Faults {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Faults(std::uint64_t seed);

  // What happens to one stanza on its way to a client. The PRNG is drawn only for active faults,
  // so a seed replays the same fates for the same traffic.
  struct Fate {
    bool lose = false;
    std::chrono::milliseconds delay{0};
  };
  Fate NextStanzaToClient();

  bool Refusing(Clock::time_point now) const { return now < refuse_until_; }

  // Applies the persistent part of a request (seed, loss, delay, refusal window).
  void Apply(const FaultRequest& request, Clock::time_point now);
  // Turns every persistent fault off (the PRNG keeps its state).
  void Clear();

  std::uint64_t seed() const { return seed_; }
  // {"frame_loss_probability": …, "frame_delay_ms": …, "frame_delay_probability": …,
  //  "refuse_connections_remaining_ms": …}, only the active ones.
  boost::json::object ActiveJson(Clock::time_point now) const;

 private:
  double Uniform();  // [0, 1)

  std::uint64_t seed_;
  std::mt19937_64 rng_;
  double loss_probability_ = 0;
  std::chrono::milliseconds delay_{0};
  double delay_probability_ = 0;
  Clock::time_point refuse_until_{};
};

}  // namespace sim
