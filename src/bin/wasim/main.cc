// wasim: a WhatsApp network simulator (docs/sandbox.md). Parses flags, hands over to sim::Run.
#include <CLI/CLI.hpp>

#include "sim/simulator.h"

int main(int argc, char** argv) {
  CLI::App app{"wasim: a WhatsApp network simulator (server side of the protocol, simulated phones)"};
  sim::SimulatorOptions options;
  std::string data_dir = options.data_dir.string();
  app.add_option("--host", options.host, "address to listen on")->capture_default_str();
  app.add_option("--port", options.port, "chat endpoint port (ws and wss); 0 picks a free one")
      ->capture_default_str();
  app.add_option("--control-port", options.control_port, "control API port; 0 picks a free one")
      ->capture_default_str();
  app.add_option("--data-dir", data_dir, "folder for the root key and the TLS certificate")
      ->capture_default_str();
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.add_option("--idle-timeout", options.idle_timeout_s,
                 "seconds a connection may stay silent before it is dropped; 0 disables")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  app.add_option("--fault-seed", options.fault_seed,
                 "initial seed of the fault-injection PRNG; 0 picks one (POST /v1/faults can "
                 "reseed)")
      ->capture_default_str();
  app.add_option("--media-host", options.media_host,
                 "host[:port] that media_conn and media URLs name (default: the listen address "
                 "and the chat port, which also serves media)");
  app.add_option("--media-max-upload", options.media_max_upload_mb,
                 "largest accepted media upload, MiB")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--media-store", options.media_store_mb,
                 "memory for stored media, MiB (least recently used blobs are dropped beyond)")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  options.data_dir = data_dir;
  return sim::Run(options);
}
