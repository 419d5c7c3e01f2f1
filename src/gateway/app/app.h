// The wagate process: wires configuration, the store, the HTTP server and signal handling.
// bin/wagate/main.cc only parses the command line and calls these, so tests run this code.
#pragma once

#include <string>

#include "base/http/router.h"
#include "base/metrics/registry.h"
#include "gateway/accounts/service.h"
#include "gateway/config/config.h"
#include "gateway/events/bus.h"
#include "gateway/outbox/outbox.h"
#include "gateway/sessions/manager.h"
#include "gateway/store/events.h"
#include "gateway/store/store.h"
#include "gateway/webhooks/service.h"

namespace gateway::app {

// Every route of the API (tests compare it with the OpenAPI document).
base::http::Router MakeRouter(store::Store& store, accounts::AccountService& accounts,
                              sessions::SessionManager& sessions, outbox::Outbox& outbox,
                              webhooks::Service& hooks, const config::Config& config,
                              store::EventStore& event_log, events::Bus& bus,
                              base::metrics::Registry& metrics);

// The webhook worker's options from the configuration (sandbox mode allows loopback receivers).
webhooks::ServiceOptions WebhookOptionsFrom(const config::Config& config);

// Serves until SIGINT/SIGTERM, then drains and returns 0; start-up failures print one line on
// stderr and return non-zero.
int Serve(const config::Config& config);

// Applies pending migrations and reports them on stdout.
int Migrate(const config::Config& config);

// `wagate admin suspend|unsuspend <account id>`: the kill switch, written to the database. A
// running wagate refuses the account's keys within a second (its key cache lives 500 ms).
int AdminSetSuspended(const config::Config& config, const std::string& account_id, bool suspended);

}  // namespace gateway::app
