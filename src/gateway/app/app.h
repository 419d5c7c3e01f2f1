// The wagate process: wires configuration, the store, the HTTP server and signal handling.
// bin/wagate/main.cc only parses the command line and calls these, so tests run this code.
#pragma once

#include "gateway/config/config.h"

namespace gateway::app {

// Serves until SIGINT/SIGTERM, then drains and returns 0; start-up failures print one line on
// stderr and return non-zero.
int Serve(const config::Config& config);

// Applies pending migrations and reports them on stdout.
int Migrate(const config::Config& config);

}  // namespace gateway::app
