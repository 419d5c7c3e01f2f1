// Messages of a session: send (202, durable, Idempotency-Key), get with status history, list by
// direction with a cursor, cancel a queued one; contact lookups (on their own budget) and the
// session's sending health.
#pragma once

#include "base/http/router.h"
#include "gateway/accounts/service.h"
#include "gateway/outbox/outbox.h"
#include "gateway/sessions/manager.h"

namespace gateway::api {

void AddMessageRoutes(base::http::Router& router, accounts::AccountService& accounts,
                      sessions::SessionManager& sessions, outbox::Outbox& outbox);

// "2026-11-25T19:08:43Z", with optional fraction and a numeric offset -> unix ms.
std::optional<std::int64_t> ParseRfc3339(std::string_view text);

}  // namespace gateway::api
