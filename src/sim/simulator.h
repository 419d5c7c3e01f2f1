// The wasim process: keys and certificates in the data dir, the chat endpoint, the control API,
// signal handling. bin/wasim/main.cc parses flags and calls Run, so tests run this code.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace sim {

struct SimulatorOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7443;          // chat endpoint: ws and wss on the same port
  std::uint16_t control_port = 7777;  // control API (HTTP JSON)
  std::filesystem::path data_dir = "wasim-data";
  std::string log_level = "info";
  double idle_timeout_s = 90;   // drop connections silent this long; 0 disables
  std::uint64_t fault_seed = 0;  // initial seed of the fault PRNG (0: pick one at random)
  // The media host lives on the chat port. Its name in media_conn and media URLs: empty means
  // "<listen address>:<chat port>" (127.0.0.1 when listening on every address).
  std::string media_host;
  std::uint64_t media_max_upload_mb = 64;  // per upload
  std::uint64_t media_store_mb = 512;      // all stored blobs together (LRU beyond)
};

// Serves until SIGINT/SIGTERM; returns the exit code. Start-up failures print one line on
// stderr.
int Run(const SimulatorOptions& options);

}  // namespace sim
