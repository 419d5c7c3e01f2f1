// wasim's control API (docs/sandbox.md): HTTP JSON that tests, tools and the dashboard's sandbox
// use to create phones, scan QR codes, list and unlink devices, and read statistics.
#pragma once

#include "base/http/router.h"

namespace boost::json {
class object;
}

namespace sim {

class World;

base::http::Router MakeControlRouter(World& world);

// The messaging routes (control_api_messages.cc): phones send, read and list messages; routed
// messages can be looked up by id.
void AddMessagingRoutes(base::http::Router& router, World& world);
// Adds the messaging counters and queue depths to the /v1/stats object.
void AddMessagingStats(World& world, boost::json::object& stats);

}  // namespace sim
