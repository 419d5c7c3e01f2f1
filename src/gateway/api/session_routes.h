// /v1/sessions: create, list, get, delete, start/stop/restart/logout, the QR code (JSON, SVG or
// PNG by Accept) and pairing codes.
#pragma once

#include "base/http/router.h"
#include "gateway/accounts/service.h"
#include "gateway/sessions/manager.h"

namespace gateway::api {

void AddSessionRoutes(base::http::Router& router, accounts::AccountService& accounts,
                      sessions::SessionManager& sessions);

}  // namespace gateway::api
