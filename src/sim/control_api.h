// wasim's control API (docs/sandbox.md): HTTP JSON that tests, tools and the dashboard's sandbox
// use to create phones, scan QR codes, list and unlink devices, and read statistics.
#pragma once

#include "base/http/router.h"

namespace sim {

class World;

base::http::Router MakeControlRouter(World& world);

}  // namespace sim
