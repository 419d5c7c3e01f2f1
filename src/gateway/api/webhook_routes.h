// /v1/webhooks: endpoints (the secret shown once), rotation, a signed test, deliveries with their
// attempts and replay; /v1/sessions/{id}/webhook-stats: a session's event and delivery counters.
#pragma once

#include "base/http/router.h"
#include "gateway/accounts/service.h"
#include "gateway/webhooks/service.h"

namespace gateway::api {

void AddWebhookRoutes(base::http::Router& router, accounts::AccountService& accounts,
                      webhooks::Service& webhooks);

}  // namespace gateway::api
