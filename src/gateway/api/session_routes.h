// /v1/sessions: create, list, get, delete, start/stop/restart/logout, the QR code (JSON, SVG or
// PNG by Accept) and pairing codes.
#pragma once

#include "base/http/router.h"
#include "gateway/accounts/service.h"
#include "gateway/sessions/manager.h"
#include "gateway/webhooks/service.h"

namespace gateway::api {

// A session created with `webhook_url` gets a webhook endpoint of its own through `hooks`
// (its secret is in the 201, shown once), which takes the session's events.
void AddSessionRoutes(base::http::Router& router, accounts::AccountService& accounts,
                      sessions::SessionManager& sessions, webhooks::Service& hooks);

}  // namespace gateway::api
